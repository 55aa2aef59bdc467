import Tensor

/// Cheap step previews: a fixed per-pixel linear map from the 4 latent channels to RGB, no network.
///
/// The SDXL factors are ComfyUI's latent2rgb previewer factors (comfyanonymous/ComfyUI
/// `comfy/latent_formats.py`, class `SDXL`, `latent_rgb_factors` + `latent_rgb_factors_bias`; applied in
/// `latent_preview.py` `Latent2RGBPreviewer` as `F.linear(x0, factorsᵀ, bias)` on model-space latents).
/// ComfyUI rounds preview bytes; we use `RGBImage(decoded:)`'s truncation for one rule everywhere (±1 level).
public struct LatentPreview: Sendable {
    /// factors[latentChannel][rgb]: 4 rows of (R, G, B).
    public let factors: [[Float]]
    /// RGB offset added after the projection.
    public let bias: [Float]

    /// A previewer with `factors` [latent channels][3] and `bias` [3].
    public init(factors: [[Float]], bias: [Float]) {
        precondition(factors.allSatisfy { $0.count == 3 } && bias.count == 3, "LatentPreview: factors must be [C][3], bias [3]")
        self.factors = factors
        self.bias = bias
    }

    /// SDXL (also fine for SDXL fine-tunes such as Animagine XL).
    public static let sdxl = LatentPreview(
        factors: [
            //  R        G        B
            [0.3651, 0.4232, 0.4341],
            [-0.2533, -0.0042, 0.1068],
            [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.2188],
        ],
        bias: [0.1084, -0.0175, -0.0011])

    /// The approximate image in about [−1, 1] at latent resolution.
    /// latents: [B, C, h, w] model-space latents (what the sampler holds) → [3, h, w] for image `batchIndex`.
    public func rgb(_ latents: Tensor, batchIndex: Int = 0) -> Tensor {
        precondition(latents.rank == 4 && latents.dim(1) == factors.count && batchIndex < latents.dim(0),
                     "LatentPreview: latents \(latents.shape) must be [B, \(factors.count), h, w] (batch index \(batchIndex))")
        let (ch, plane) = (latents.dim(1), latents.dim(2) * latents.dim(3))
        let out = Tensor(uninitialized: [3, latents.dim(2), latents.dim(3)])
        let src = latents.data + batchIndex * ch * plane, dst = out.data
        for o in 0..<3 {
            let d = dst + o * plane
            d.update(repeating: bias[o], count: plane)
            for k in 0..<ch {
                let s = src + k * plane, f = factors[k][o]
                for i in 0..<plane { d[i] += f * s[i] }
            }
        }
        return out
    }

    /// The preview as an 8-bit image at latent resolution (upscale for display as the UI needs).
    /// latents: [B, C, h, w] model-space latents.
    public func image(_ latents: Tensor, batchIndex: Int = 0) -> RGBImage {
        RGBImage(decoded: rgb(latents, batchIndex: batchIndex))
    }
}
