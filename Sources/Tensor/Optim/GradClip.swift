/// Scales the gradients of `params` so that their global L2 norm is at most `maxNorm`, like
/// `torch.nn.utils.clip_grad_norm_` (norm type 2): with N = ‖(g₁, g₂, …)‖₂, every gradient is
/// multiplied by min(1, maxNorm / (N + 1e-6)). Parameters without a gradient are ignored.
/// Returns N, the norm before clipping (non-finite when a gradient holds NaN/Inf; then, as in
/// PyTorch without `error_if_nonfinite`, the gradients are scaled by a NaN-derived factor or left alone).
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Float, compute: Compute = Compute(threads: 1, setsBLASThreads: false)) -> Float {
    let grads = params.compactMap { $0.grad }
    // Sum of squares per chunk in Double: a 2.5 B-element sum in Float would lose the small terms.
    var total = 0.0
    for g in grads {
        let chunks = max(1, min(compute.threads, g.count >> 16))
        var partial = [Double](repeating: 0, count: chunks)
        let per = (g.count + chunks - 1) / chunks, pg = g.data
        partial.withUnsafeMutableBufferPointer { out in
            let po = out.baseAddress!
            compute.parallelFor(chunks, grain: 1) { r in
                for c in r {
                    var s = 0.0
                    for i in (c * per)..<min(g.count, (c + 1) * per) { let x = Double(pg[i]); s += x * x }
                    po[c] = s
                }
            }
        }
        total += partial.reduce(0, +)
    }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for g in grads {
            let pg = g.data
            compute.parallelFor(g.count, grain: 1 << 15) { r in for i in r { pg[i] *= coef } }
        }
    }
    return norm
}
