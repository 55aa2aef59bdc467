import Foundation
import Tensor

/// The encoder's diagonal Gaussian over VAE-space latents (diffusers `DiagonalGaussianDistribution`).
public struct LatentDistribution {
    /// Mean. [B, 4, h, w]
    public let mean: Tensor
    /// Log-variance, clamped to [−30, 20] as diffusers does. [B, 4, h, w]
    public let logvar: Tensor

    /// Wraps the encoder's moments; `rawLogvar` is clamped here (differentiably).
    public init(mean: Tensor, rawLogvar: Tensor, _ c: Compute) {
        self.mean = mean
        self.logvar = c.clampLogvar(rawLogvar)
    }

    /// The distribution's mode (= mean), what pipelines use for img2img and training latents.
    public var mode: Tensor { mean }

    /// mean + exp(logvar / 2) · noise. noise: [B, 4, h, w] standard normal.
    public func sample(noise: Tensor, _ c: Compute) -> Tensor {
        precondition(noise.shape == mean.shape, "LatentDistribution.sample: noise \(noise.shape) vs mean \(mean.shape)")
        return c.add(mean, c.mul(c.halfExp(logvar), noise))
    }

    /// KL divergence to the standard normal, averaged over elements (diffusers `DiagonalGaussianDistribution.kl`
    /// sums instead; a mean keeps the weight independent of the latent size): mean(½ (μ² + σ² − 1 − log σ²)).
    public func klPerElement(_ c: Compute) -> Tensor {
        let sigma = c.halfExp(logvar)
        let terms = c.sub(c.add(c.mul(mean, mean), c.mul(sigma, sigma)), c.addScalar(logvar, 1))
        return c.scale(c.mean(terms), by: 0.5)
    }
}

/// clamp(x, −30, 20): the log-variance guard of diffusers' `DiagonalGaussianDistribution`.
/// Gradient passes where the input lies inside the range (as `torch.clamp`'s, which includes the bounds).
enum ClampLogvar {
    static let range: ClosedRange<Float> = -30...20

    /// x: any shape → same shape.
    static func forward(_ x: Tensor, _ c: Compute) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, po = out.data
        c.parallelFor(x.count, grain: 1 << 15) { r in
            for i in r { po[i] = min(max(px[i], range.lowerBound), range.upperBound) }
        }
        return out
    }

    /// dInput = dOut where lo ≤ x ≤ hi, else 0.
    static func backward(_ dOut: Tensor, x: Tensor, _ c: Compute) -> Tensor {
        let dx = Tensor(uninitialized: x.shape)
        let px = x.data, pd = dOut.data, po = dx.data
        c.parallelFor(x.count, grain: 1 << 15) { r in
            for i in r { po[i] = range.contains(px[i]) ? pd[i] : 0 }
        }
        return dx
    }
}

/// y = exp(x / 2): the standard deviation from a log-variance.
enum HalfExp {
    /// x: any shape → same shape.
    static func forward(_ x: Tensor, _ c: Compute) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, po = out.data
        c.parallelFor(x.count, grain: 1 << 15) { r in
            for i in r { po[i] = Foundation.exp(0.5 * px[i]) }
        }
        return out
    }

    /// dInput = dOut · y / 2.
    static func backward(_ dOut: Tensor, y: Tensor, _ c: Compute) -> Tensor {
        let dx = Tensor(uninitialized: y.shape)
        let py = y.data, pd = dOut.data, po = dx.data
        c.parallelFor(y.count, grain: 1 << 15) { r in
            for i in r { po[i] = 0.5 * pd[i] * py[i] }
        }
        return dx
    }
}

extension Compute {
    /// clamp(x, −30, 20) (the VAE's log-variance guard).
    func clampLogvar(_ x: Tensor) -> Tensor {
        record("clampLogvar", ClampLogvar.forward(x, self), inputs: [x]) { dOut in [ClampLogvar.backward(dOut, x: x, self)] }
    }

    /// exp(x / 2).
    func halfExp(_ x: Tensor) -> Tensor {
        let y = HalfExp.forward(x, self)
        let saved = y.detached()
        return record("halfExp", y, inputs: [x]) { dOut in [HalfExp.backward(dOut, y: saved, self)] }
    }
}
