import Foundation
import Tensor

/// The sampling algorithms, under ComfyUI's names. Update rules follow comfyanonymous/ComfyUI
/// `comfy/k_diffusion/sampling.py` (`sample_lcm`, `sample_euler`, `sample_euler_ancestral`,
/// `sample_dpmpp_2m`, `sample_dpmpp_2m_sde`) with ComfyUI's default options, evaluated in float32
/// in the same order of operations. In σ-space with D the denoised prediction and d = (x − D)/σ:
public enum Sampler: String, CaseIterable, Sendable {
    /// x ← D, then x ← D + σ_{i+1}·ε with fresh noise while σ_{i+1} > 0 (no consistency-boundary
    /// scalings: ComfyUI applies them only through its `ModelSamplingDiscrete(lcm)` node). With the
    /// `simple` scheduler at 4 steps this is DMD2's sampler.
    case lcm
    /// Euler: x ← x + d·(σ_{i+1} − σ_i).
    case euler
    /// Euler ancestral (η = 1, s_noise = 1): step to σ_down, then add σ_up·ε.
    case eulerAncestral = "euler_ancestral"
    /// DPM-Solver++(2M): second-order multistep in log σ, deterministic.
    case dpmpp2m = "dpmpp_2m"
    /// DPM-Solver++(2M) SDE (midpoint, η = 1, s_noise = 1). ComfyUI draws its noise from a
    /// `torchsde` Brownian tree seeded with the seed; this engine uses the `NoiseSource` instead
    /// (fresh Gaussians from a seeded torch generator by default). Each step's increment is an
    /// independent N(0, 1) either way, so the distribution of results is the same, but images for
    /// a given seed differ from ComfyUI's for this sampler.
    case dpmpp2mSDE = "dpmpp_2m_sde"
    /// ComfyUI's `ddim` is `euler` (its extra inpainting-noise option only matters for inpainting).
    case ddim

    /// The ComfyUI name (`"euler_ancestral"` etc.).
    public var comfyName: String { rawValue }

    /// Whether the sampler draws per-step noise (so the result depends on the noise source).
    public var isStochastic: Bool {
        switch self {
        case .lcm, .eulerAncestral, .dpmpp2mSDE: return true
        case .euler, .dpmpp2m, .ddim: return false
        }
    }
}

/// What multistep samplers carry from one step to the next.
struct SamplerState {
    var oldDenoised: Tensor? = nil
    /// DPM++ 2M SDE's previous log-σ step h.
    var hLast: Float? = nil
}

extension Sampler {
    /// One update from σ_i = sigmas[i] to σ_{i+1}, given the denoised prediction at (x, σ_i).
    /// `noise` is called only when the step adds noise, with (σ_i, σ_{i+1}).
    // x, denoised: [B, C, H, W]
    func step(x: Tensor, denoised: Tensor, sigmas: [Float], index i: Int, state: inout SamplerState,
              noise: (Float, Float) -> Tensor) -> Tensor {
        let sigma = sigmas[i], next = sigmas[i + 1]
        switch self {
        case .lcm:
            guard next > 0 else { return denoised }
            let n = noise(sigma, next)
            return SamplingMath.zip(n, denoised) { n, d in n * next + d }

        case .euler, .ddim:
            let dt = next - sigma
            return SamplingMath.zip(x, denoised) { x, d in x + ((x - d) / sigma) * dt }

        case .eulerAncestral:
            let (down, up) = Self.ancestralStep(from: sigma, to: next)
            guard down != 0 else { return denoised }
            let dt = down - sigma
            let n = noise(sigma, next)
            return SamplingMath.zip3(x, denoised, n) { x, d, n in (x + ((x - d) / sigma) * dt) + n * up }

        case .dpmpp2m:
            // t = −log σ; σ is recovered as exp(−t) as k-diffusion does, to stay within float rounding.
            let t = -Foundation.log(sigma), tNext = -Foundation.log(next)
            let h = tNext - t
            let ratio = Foundation.exp(-tNext) / Foundation.exp(-t)
            let phi = Foundation.expm1(-h)
            defer { state.oldDenoised = denoised }
            guard let old = state.oldDenoised, next != 0 else {
                return SamplingMath.zip(x, denoised) { x, d in ratio * x - phi * d }
            }
            let hLast = t - (-Foundation.log(sigmas[i - 1]))
            let r = hLast / h
            let cOld = 1 / (2 * r), cNew = 1 + 1 / (2 * r)
            return SamplingMath.zip3(x, denoised, old) { x, d, o in ratio * x - phi * (cNew * d - cOld * o) }

        case .dpmpp2mSDE:
            let eta: Float = 1
            defer { state.oldDenoised = denoised }
            guard next != 0 else { return denoised }
            let lambdaS = -Foundation.log(sigma), lambdaT = -Foundation.log(next)
            let h = lambdaT - lambdaS
            let hEta = h * (eta + 1)
            let alphaT = next * Foundation.exp(lambdaT)
            let decay = next / sigma * Foundation.exp(-h * eta)
            let gain = alphaT * -Foundation.expm1(-hEta)
            var out = SamplingMath.zip(x, denoised) { x, d in decay * x + gain * d }
            if let old = state.oldDenoised, let hLast = state.hLast {
                // Midpoint correction.
                let c = 0.5 * alphaT * -Foundation.expm1(-hEta) * (1 / (hLast / h))
                out = SamplingMath.zip3(out, denoised, old) { x, d, o in x + c * (d - o) }
            }
            state.hLast = h
            let q = (-Foundation.expm1(-2 * h * eta)).squareRoot()
            let n = noise(sigma, next)
            return SamplingMath.zip(out, n) { x, n in x + (n * next) * q }
        }
    }

    /// k-diffusion's `get_ancestral_step` with η = 1: (σ_down, σ_up) with σ_down² + σ_up² = σ_to².
    static func ancestralStep(from: Float, to: Float) -> (down: Float, up: Float) {
        let up = min(to, (to * to * (from * from - to * to) / (from * from)).squareRoot())
        let down = (to * to - up * up).squareRoot()
        return (down, up)
    }
}
