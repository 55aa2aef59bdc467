import Diffusion
import Foundation
import Tensor

/// Trains an `AutoencoderKL` to reconstruct images: MSE between the decoded posterior sample and the input,
/// plus a small KL term towards N(0, 1) (the KL-f8 recipe of latent diffusion without its perceptual and GAN
/// terms, which a flat-coloured emoji dataset does not need). Random square crops (`cropSize`) make steps
/// cheaper; the model is fully convolutional, so it still decodes whole images.
public final class AutoencoderObjective: TrainingObjective {
    /// Knobs of the objective.
    public struct Options: Equatable, Sendable {
        /// Side of the random crop trained on (nil: whole images).
        public var cropSize: Int? = 64
        /// Weight of the per-element KL term.
        public var klWeight: Float = 1e-4
        /// Recompute each VAE level in backward instead of keeping its activations.
        public var gradientCheckpointing = false
        public init() {}
    }

    public let name = "autoencoder"
    /// The model trained.
    public let vae: AutoencoderKL
    /// The knobs.
    public let options: Options

    public init(vae: AutoencoderKL, options: Options = Options()) {
        self.vae = vae
        self.options = options
        vae.gradientCheckpointing = options.gradientCheckpointing
    }

    public var trainableParameters: [(String, Tensor)] { vae.namedParameters }

    /// The loader hands over pixels unchanged: the objective trains on images, not latents.
    public var batchEncoder: LatentBatchLoader.Encoder { { $0 } }

    // batch.latents: the pixels [B, 3, H, W] in [−1, 1].
    public func losses(_ batch: TrainingBatch, step: Int, rng: inout TorchGenerator, _ c: Compute) throws -> [(String, Tensor)] {
        var pixels = batch.latents
        let h = pixels.dim(2), w = pixels.dim(3), factor = vae.config.downsampleFactor
        if let crop = options.cropSize, crop < h || crop < w {
            let side = max(factor, min(crop, h, w) / factor * factor)
            let top = Int(rng.nextUInt32() % UInt32(h - side + 1)), left = Int(rng.nextUInt32() % UInt32(w - side + 1))
            pixels = c.slice(c.slice(pixels, dim: 2, start: top, length: side), dim: 3, start: left, length: side).detached()
        }
        let posterior = vae.encode(pixels, c)
        let noise = rng.randn(posterior.mean.shape)
        let reconstruction = vae.decode(posterior.sample(noise: noise, c), c)
        let mse = c.mse(reconstruction, pixels)
        let kl = posterior.klPerElement(c)
        return [("mse", mse), ("kl", c.scale(kl, by: options.klWeight))]
    }

    /// The latent scaling factor that gives unit-variance model-space latents (what latent diffusion does for
    /// its VAEs): 1 / std of the posterior means of `images` ([B, 3, H, W] in [−1, 1]).
    public func scalingFactor(for images: [Tensor], _ c: Compute) -> Float {
        var sum = 0.0, sumSq = 0.0, n = 0.0
        for batch in images {
            let mean = vae.encode(batch, c).mean
            for i in 0..<mean.count { let v = Double(mean.data[i]); sum += v; sumSq += v * v }
            n += Double(mean.count)
        }
        let variance = max(sumSq / n - (sum / n) * (sum / n), 1e-12)
        return Float(1 / variance.squareRoot())
    }
}
