import Foundation
import Tensor

/// Element-wise float32 helpers for the sampler updates. Samplers never mutate a tensor they were
/// given (the denoiser's output may be yielded to a preview while the run continues), so every
/// helper returns a new tensor. No autograd: sampling is inference only.
enum SamplingMath {
    /// f applied to every element.
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let src = a.data, dst = out.data
        for i in 0..<a.count { dst[i] = f(src[i]) }
        return out
    }

    /// f applied to matching elements of two equally shaped tensors.
    static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape) differ")
        let out = Tensor(uninitialized: a.shape)
        let pa = a.data, pb = b.data, dst = out.data
        for i in 0..<a.count { dst[i] = f(pa[i], pb[i]) }
        return out
    }

    /// f applied to matching elements of three equally shaped tensors.
    static func zip3(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape && a.shape == c.shape, "shapes \(a.shape), \(b.shape), \(c.shape) differ")
        let out = Tensor(uninitialized: a.shape)
        let pa = a.data, pb = b.data, pc = c.data, dst = out.data
        for i in 0..<a.count { dst[i] = f(pa[i], pb[i], pc[i]) }
        return out
    }
}
