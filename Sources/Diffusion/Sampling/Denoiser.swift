import Foundation
import Tensor

/// Anything that predicts the clean latent from a noisy one: D(x, σ) ≈ x₀ for x = x₀ + σ·n.
///
/// Samplers work in σ-space (x is the un-scaled "variance exploding" latent) and only ever see this
/// interface, so they run without a UNet; `EpsDenoiser` adapts an ε-prediction model to it.
public protocol Denoiser {
    /// The denoised prediction for `x` at noise level `sigma`; `step` is the sampling step index.
    // x: [B, C, H, W] → [B, C, H, W]
    func denoise(_ x: Tensor, sigma: Float, step: Int) -> Tensor
}

/// Wraps an ε-prediction model (SD / SDXL UNet) into a `Denoiser`, with classifier-free guidance,
/// exactly as ComfyUI does it (comfyanonymous/ComfyUI `comfy/model_sampling.py` `EPS`,
/// `ModelSamplingDiscrete.timestep`; `comfy/samplers.py` `sampling_function` / `cfg_function`):
///
/// - the model sees x / √(σ² + 1) and the *integer* timestep whose log σ is nearest to log σ;
/// - D = x − σ·ε̂ for the conditional and the unconditional prediction separately, and the guided
///   result is D_u + (D_c − D_u)·cfg (guidance in denoised space, which equals guidance on ε);
/// - when cfg is 1 the unconditional model is not called at all (ComfyUI's cfg-1 optimisation).
public struct EpsDenoiser: Denoiser {
    /// An ε-prediction: the model input (x already divided by √(σ²+1)) and the timestep → ε̂.
    public typealias EpsModel = (_ scaledX: Tensor, _ timestep: Float) -> Tensor

    /// The training schedule that maps σ to the model's timestep.
    public let schedule: DiscreteSchedule
    /// Guidance scale; 1 means no guidance (the unconditional model is skipped).
    public let cfgScale: Double
    /// ε̂ with the prompt's conditioning.
    public let cond: EpsModel
    /// ε̂ with the negative / empty conditioning; may be nil only when `cfgScale` is 1.
    public let uncond: EpsModel?

    /// A guided denoiser. `uncond` is required unless `cfgScale` is 1.
    public init(schedule: DiscreteSchedule = .sdxl, cfgScale: Double = 1,
                cond: @escaping EpsModel, uncond: EpsModel? = nil) {
        precondition(uncond != nil || Self.isUnitScale(cfgScale), "cfg scale \(cfgScale) needs an unconditional model")
        self.schedule = schedule
        self.cfgScale = cfgScale
        self.cond = cond
        self.uncond = uncond
    }

    /// Whether the unconditional pass is skipped (`math.isclose(cfg, 1.0)` in ComfyUI).
    public var skipsUncond: Bool { Self.isUnitScale(cfgScale) }

    static func isUnitScale(_ s: Double) -> Bool { abs(s - 1) <= 1e-9 * max(abs(s), 1) }

    /// The model input for `x` at `sigma`: x / √(σ² + 1) (ComfyUI `EPS.calculate_input`, σ_data = 1).
    // x: [B, C, H, W]
    public static func scaledInput(_ x: Tensor, sigma: Float) -> Tensor {
        let scale = (sigma * sigma + 1).squareRoot()
        return SamplingMath.map(x) { $0 / scale }
    }

    public func denoise(_ x: Tensor, sigma: Float, step: Int) -> Tensor {
        let scaled = Self.scaledInput(x, sigma: sigma)
        let t = Float(schedule.timestep(nearestTo: sigma))
        let condD = Self.denoised(x, eps: cond(scaled, t), sigma: sigma)
        guard !skipsUncond, let uncond else { return condD }
        let uncondD = Self.denoised(x, eps: uncond(scaled, t), sigma: sigma)
        let scale = Float(cfgScale)
        return SamplingMath.zip(uncondD, condD) { u, c in u + (c - u) * scale }
    }

    /// D = x − ε̂·σ (ComfyUI `EPS.calculate_denoised`).
    static func denoised(_ x: Tensor, eps: Tensor, sigma: Float) -> Tensor {
        precondition(eps.shape == x.shape, "ε̂ \(eps.shape) must have the latent's shape \(x.shape)")
        return SamplingMath.zip(x, eps) { x, e in x - e * sigma }
    }
}
