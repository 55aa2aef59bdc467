import Foundation

/// The discrete DDPM noise schedule of SD / SDXL in σ-space ("variance exploding" view), as
/// ComfyUI's `ModelSamplingDiscrete` builds it (comfyanonymous/ComfyUI `comfy/model_sampling.py`,
/// `comfy/ldm/modules/diffusionmodules/util.py` `make_beta_schedule("linear")`).
///
/// βᵢ = (√β₀ + (√β₁ − √β₀)·i/(T−1))², ᾱᵢ = Πₖ≤ᵢ(1 − βₖ), σᵢ = √((1 − ᾱᵢ)/ᾱᵢ), all in float64, then the
/// table and its logarithm are stored as float32 (ComfyUI's `sigmas` / `log_sigmas` buffers). The
/// table is ascending: index 0 is σ_min, index T−1 is σ_max.
public struct DiscreteSchedule: Sendable, Equatable {
    /// σ per training timestep, ascending (float32, as ComfyUI stores it).
    public let sigmas: [Float]
    /// log σ per timestep, computed in float64 and then rounded (ComfyUI's `log_sigmas`).
    public let logSigmas: [Float]

    /// Builds the "scaled linear" schedule: betas linear in √β from `betaStart` to `betaEnd`.
    public init(betaStart: Double = 0.00085, betaEnd: Double = 0.012, timesteps: Int = 1000) {
        precondition(timesteps >= 2, "need at least 2 timesteps, got \(timesteps)")
        let roots = Self.linspace64(betaStart.squareRoot(), betaEnd.squareRoot(), timesteps)
        var cumulative = 1.0
        var sig = [Float](), logs = [Float]()
        sig.reserveCapacity(timesteps); logs.reserveCapacity(timesteps)
        for r in roots {
            cumulative *= 1 - r * r
            let s = ((1 - cumulative) / cumulative).squareRoot()
            sig.append(Float(s)); logs.append(Float(Foundation.log(s)))
        }
        sigmas = sig; logSigmas = logs
    }

    /// SDXL (and SD 1.x): 1000 steps, β from 0.00085 to 0.012.
    public static let sdxl = DiscreteSchedule()

    /// Number of training timesteps.
    public var count: Int { sigmas.count }
    /// Smallest σ (timestep 0).
    public var sigmaMin: Float { sigmas[0] }
    /// Largest σ (timestep T−1), where txt2img starts.
    public var sigmaMax: Float { sigmas[sigmas.count - 1] }

    /// σ at a possibly fractional timestep: linear interpolation of log σ between the neighbouring
    /// integer timesteps, in float32 like ComfyUI's `ModelSamplingDiscrete.sigma` (t is clamped).
    public func sigma(_ t: Float) -> Float {
        let tc = min(max(t, 0), Float(count - 1))
        let lowF = tc.rounded(.down)
        let low = Int(lowF), high = Int(tc.rounded(.up))
        let w = tc - lowF
        let logSigma = (1 - w) * logSigmas[low] + w * logSigmas[high]
        return Foundation.exp(logSigma)
    }

    /// The integer timestep whose log σ is nearest to log `sigma` (first one on a tie), as ComfyUI's
    /// `ModelSamplingDiscrete.timestep` picks the timestep it feeds the UNet.
    public func timestep(nearestTo sigma: Float) -> Int {
        let target = Foundation.log(sigma)
        var best = 0, bestDistance = Float.infinity
        for (i, l) in logSigmas.enumerated() {
            let d = abs(target - l)
            if d < bestDistance { best = i; bestDistance = d }
        }
        return best
    }

    /// `torch.linspace(start, end, n, dtype=float64)` bit for bit: the first half counts up from
    /// `start`, the second half down from `end`, each value one fused multiply–add (ATen's CPU kernel
    /// is built with FMA contraction; plain multiply-then-add differs in ~15 % of the last bits).
    static func linspace64(_ start: Double, _ end: Double, _ n: Int) -> [Double] {
        if n <= 0 { return [] }
        if n == 1 { return [start] }
        let step = (end - start) / Double(n - 1)
        return (0..<n).map { i in
            i < n / 2 ? start.addingProduct(step, Double(i)) : end.addingProduct(-step, Double(n - 1 - i))
        }
    }

    /// `torch.linspace(start, end, n)` in float32, bit for bit (float32 step, fused multiply–adds).
    static func linspace32(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
        if n <= 0 { return [] }
        if n == 1 { return [start] }
        let step = (end - start) / Float(n - 1)
        return (0..<n).map { i in
            i < n / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - 1 - i))
        }
    }
}
