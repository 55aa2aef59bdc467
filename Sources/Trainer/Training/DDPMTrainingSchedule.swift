import Foundation
import Tensor

/// The DDPM forward process SD / SDXL were trained with, as diffusers' `DDPMScheduler(beta_schedule=
/// "scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)` builds it
/// (huggingface/diffusers `schedulers/scheduling_ddpm.py`): βᵢ = linspace(√β₀, √β₁, T)ᵢ² in float32,
/// ᾱᵢ = Πₖ≤ᵢ(1 − βₖ) (ATen's CPU cumprod accumulates in double and rounds each output to float32), and
/// `addNoise` = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε in float32, like `add_noise`.
///
/// The sampler side (`DiscreteSchedule`) derives σ from the same betas in float64; this is the training side,
/// which must reproduce the trainer's float32 table.
public struct DDPMTrainingSchedule: Sendable, Equatable {
    /// ᾱ per timestep (float32), index 0 = least noise.
    public let alphasCumprod: [Float]

    /// The scaled-linear schedule.
    public init(betaStart: Double = 0.00085, betaEnd: Double = 0.012, timesteps: Int = 1000) {
        precondition(timesteps >= 2, "DDPMTrainingSchedule: need at least 2 timesteps, got \(timesteps)")
        let roots = Self.linspace32(Float(betaStart.squareRoot()), Float(betaEnd.squareRoot()), timesteps)
        var acc = 1.0
        alphasCumprod = roots.map { r in
            let alpha: Float = 1 - r * r
            acc *= Double(alpha)
            return Float(acc)
        }
    }

    /// SDXL's schedule.
    public static let sdxl = DDPMTrainingSchedule()

    /// Number of training timesteps.
    public var count: Int { alphasCumprod.count }

    /// Signal-to-noise ratio ᾱₜ / (1 − ᾱₜ) at a timestep.
    public func snr(_ t: Int) -> Float { alphasCumprod[t] / (1 - alphasCumprod[t]) }

    /// kohya's ε-prediction loss weight at a timestep: min-SNR-γ (`min(SNR, γ)/SNR`, Hang et al. 2023; γ 0 = off)
    /// times debiased estimation (`1/√min(SNR, 1000)`), both as `library/custom_train_functions.py` applies them.
    public func lossWeight(_ t: Int, minSNRGamma: Float, debiased: Bool) -> Float {
        let snr = snr(t)
        var w: Float = 1
        if minSNRGamma > 0 { w *= min(snr, minSNRGamma) / snr }
        if debiased { w *= 1 / min(snr, 1000).squareRoot() }
        return w
    }

    /// √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε per batch item (no autograd: both inputs are data).
    /// x0, noise: [B, ...] → [B, ...]; timesteps: B integers in 0..<count.
    public func addNoise(_ x0: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        precondition(x0.shape == noise.shape && x0.rank >= 1 && x0.dim(0) == timesteps.count,
                     "addNoise: x0 \(x0.shape), noise \(noise.shape), \(timesteps.count) timesteps")
        let out = Tensor(uninitialized: x0.shape)
        let per = x0.count / max(timesteps.count, 1)
        for (b, t) in timesteps.enumerated() {
            precondition(t >= 0 && t < count, "addNoise: timestep \(t) outside 0..<\(count)")
            let abar = alphasCumprod[t]
            let a = abar.squareRoot(), s = (1 - abar).squareRoot()
            let px = x0.data + b * per, pn = noise.data + b * per, po = out.data + b * per
            for i in 0..<per { po[i] = a * px[i] + s * pn[i] }
        }
        return out
    }

    /// `torch.linspace(start, end, n, dtype=float32)` bit for bit (float32 step, one fused multiply–add per value,
    /// first half up from `start`, second half down from `end`).
    static func linspace32(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
        if n == 1 { return [start] }
        let step = (end - start) / Float(n - 1)
        return (0..<n).map { i in
            i < n / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - 1 - i))
        }
    }
}
