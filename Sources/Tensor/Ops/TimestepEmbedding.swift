import Foundation

/// Sinusoidal timestep embedding, as diffusers' `get_timestep_embedding(t, dim,
/// flip_sin_to_cos=True, downscale_freq_shift=0)` (source: huggingface/diffusers,
/// src/diffusers/models/embeddings.py): cos of every frequency first, then sin — the SDXL/ComfyUI
/// convention. Frequencies are exp(−ln(maxPeriod) · i / (dim/2)) for i in 0..<dim/2.
///
/// The steps round to Float exactly where diffusers' float32 computation does (exponent, frequency,
/// argument), and only sin/cos are evaluated in Double; so the result follows the reference's float32
/// behaviour (at t ≈ 1000 an argument rounding of one ulp already moves sin by ~6e-5).
public enum TimestepEmbedding {
    /// t: N timesteps → [N, dim]. An odd `dim` gets a zero last column (diffusers pads).
    public static func forward(_ t: [Float], dim: Int, maxPeriod: Float = 10000) -> Tensor {
        precondition(dim >= 2, "timestep embedding dim must be ≥ 2, got \(dim)")
        let half = dim / 2
        let logPeriod = Float(log(Double(maxPeriod)))
        let freqs: [Float] = (0..<half).map { i in
            let exponent = (-logPeriod * Float(i)) / Float(half)
            return Float(exp(Double(exponent)))
        }
        let out = Tensor(zeros: [t.count, dim])
        let po = out.data
        for (n, step) in t.enumerated() {
            let row = po + n * dim
            for i in 0..<half {
                let arg = Double(step * freqs[i])
                row[i] = Float(cos(arg))
                row[half + i] = Float(sin(arg))
            }
        }
        return out
    }
}

extension Compute {
    /// Sinusoidal embedding of timesteps t → [N, dim] (cos half first; see `TimestepEmbedding`).
    /// Not differentiable: the inputs are plain numbers.
    public func timestepEmbedding(_ t: [Float], dim: Int, maxPeriod: Float = 10000) -> Tensor {
        TimestepEmbedding.forward(t, dim: dim, maxPeriod: maxPeriod)
    }
}
