import Foundation
import Tensor

/// One finished step of a `SamplingRun`, for previews and progress.
public struct SamplingStep {
    /// Step index, 0-based.
    public let index: Int
    /// Number of steps in the run.
    public let count: Int
    /// σ the step started from.
    public let sigma: Float
    /// σ the step went to (0 after the last step).
    public let sigmaNext: Float
    /// The latent after the step, at σ_next; after the last step this is the result.
    // [B, C, H, W]
    public let x: Tensor
    /// The denoiser's prediction of the clean latent at (x_before, σ): the best preview.
    // [B, C, H, W]
    public let denoised: Tensor
}

/// A steppable denoising loop: each `next()` makes one denoiser call and one sampler update, so a
/// UI can preview `denoised` and stop whenever it likes (cancelling is just not calling `next()`).
/// A class, so that `for step in run { … }` advances this run (and `run.x` is the result afterwards)
/// rather than a copy.
///
/// Start and noise follow ComfyUI's `KSAMPLER.sample` (comfyanonymous/ComfyUI `comfy/samplers.py`,
/// `comfy/model_sampling.py` `EPS.noise_scaling`): when σ₀ is σ_max (txt2img) the start is
/// noise·√(1 + σ₀²), otherwise noise·σ₀; the latent (img2img, model space) is added to either. An
/// empty σ list (denoise 0) does nothing and leaves the latent as the result.
public final class SamplingRun: Sequence, IteratorProtocol {
    /// The algorithm.
    public let sampler: Sampler
    /// The σ list being walked (descending, usually ending in 0).
    public let sigmas: [Float]
    /// The current latent: the start before the first step, the result after the last.
    // [B, C, H, W]
    public private(set) var x: Tensor
    /// Index of the next step to run.
    public private(set) var stepIndex = 0

    private let denoiser: any Denoiser
    private var stepNoise: any NoiseSource
    private var state = SamplerState()

    /// A run with explicit initial noise (standard normal, the latent's shape) and step-noise source.
    /// `latent` is the img2img start in model space (nil = zeros, i.e. txt2img).
    // noise, latent: [B, C, H, W]
    public init(sampler: Sampler, sigmas: [Float], denoiser: any Denoiser, noise: Tensor, latent: Tensor? = nil,
                stepNoise: any NoiseSource, schedule: DiscreteSchedule = .sdxl) {
        if let latent { precondition(latent.shape == noise.shape, "latent \(latent.shape) vs noise \(noise.shape)") }
        self.sampler = sampler
        self.sigmas = sigmas
        self.denoiser = denoiser
        self.stepNoise = stepNoise
        if sigmas.isEmpty {
            x = latent?.copy() ?? Tensor(zeros: noise.shape)
        } else {
            let sigma0 = sigmas[0]
            let factor = Self.startsFromPureNoise(sigma0, schedule: schedule) ? (1 + sigma0 * sigma0).squareRoot() : sigma0
            let base = latent ?? Tensor(zeros: noise.shape)
            x = SamplingMath.zip(noise, base) { n, l in n * factor + l }
        }
    }

    /// A run seeded like ComfyUI on the CPU: initial noise = `torch.manual_seed(seed); randn(shape)`
    /// and per-step noise from a fresh generator with the same seed (`TorchNoiseSource`).
    public convenience init(sampler: Sampler, sigmas: [Float], denoiser: any Denoiser, shape: [Int], seed: UInt64,
                latent: Tensor? = nil, schedule: DiscreteSchedule = .sdxl) {
        var generator = TorchGenerator(seed: seed)
        self.init(sampler: sampler, sigmas: sigmas, denoiser: denoiser, noise: generator.randn(shape), latent: latent,
                  stepNoise: TorchNoiseSource(seed: seed), schedule: schedule)
    }

    /// ComfyUI's `max_denoise`: σ₀ within 1e-5 relative of σ_max, or above it.
    public static func startsFromPureNoise(_ sigma0: Float, schedule: DiscreteSchedule) -> Bool {
        let a = Double(schedule.sigmaMax), b = Double(sigma0)
        return abs(a - b) <= 1e-5 * Swift.max(abs(a), abs(b)) || b > a
    }

    /// Number of steps (denoiser calls) in the run.
    public var stepCount: Int { Swift.max(sigmas.count - 1, 0) }
    /// Whether every step has run.
    public var isFinished: Bool { stepIndex >= stepCount }

    /// Runs the next step and returns it, or nil when the run is finished.
    public func next() -> SamplingStep? {
        guard !isFinished else { return nil }
        let i = stepIndex
        let denoised = denoiser.denoise(x, sigma: sigmas[i], step: i)
        precondition(denoised.shape == x.shape, "denoiser returned \(denoised.shape) for \(x.shape)")
        let shape = x.shape
        x = sampler.step(x: x, denoised: denoised, sigmas: sigmas, index: i, state: &state) { s, sn in
            stepNoise.noise(shape: shape, sigma: s, sigmaNext: sn)
        }
        stepIndex += 1
        return SamplingStep(index: i, count: stepCount, sigma: sigmas[i], sigmaNext: sigmas[i + 1], x: x, denoised: denoised)
    }

    /// Runs all remaining steps and returns the result.
    public func run() -> Tensor {
        while next() != nil {}
        return x
    }
}
