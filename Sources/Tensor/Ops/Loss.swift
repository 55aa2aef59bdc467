import CKernels

/// Mean squared error, mean((a − b)²), as in `F.mse_loss(a, b)` with reduction "mean".
public enum MSE {
    /// a, b: same shape → the loss, accumulated in Double with a thread-count-independent split.
    public static func forward(_ a: Tensor, _ b: Tensor, _ c: Compute) -> Double {
        precondition(a.shape == b.shape, "mse: \(a.shape) vs \(b.shape)")
        let n = a.count, chunk = Reduce.fullChunk, chunks = (n + chunk - 1) / chunk
        guard n > 0 else { return 0 }
        var partial = [Double](repeating: 0, count: chunks)
        let pa = a.data, pb = b.data
        partial.withUnsafeMutableBufferPointer { p in
            let pp = p.baseAddress!
            c.parallelFor(chunks, grain: 1) { r in
                for k in r { pp[k] = sumi_sqdiff_sum_f64(pa, pb, k * chunk, min(n, (k + 1) * chunk)) }
            }
        }
        return partial.reduce(0, +) / Double(n)
    }

    /// Gradients for upstream scalar `dLoss`: dA = 2·dLoss·(a − b)/n, dB = −dA.
    public static func backward(_ dLoss: Float, a: Tensor, b: Tensor, needA: Bool = true, needB: Bool = true,
                                _ c: Compute) -> (dA: Tensor?, dB: Tensor?) {
        let k = Float(2 * Double(dLoss) / Double(max(a.count, 1)))
        let pa = a.data, pb = b.data
        var dA: Tensor? = nil, dB: Tensor? = nil
        if needA {
            let g = Tensor(uninitialized: a.shape), pg = g.data
            c.parallelFor(a.count, grain: elementwiseGrain) { r in for i in r { pg[i] = k * (pa[i] - pb[i]) } }
            dA = g
        }
        if needB {
            let g = Tensor(uninitialized: b.shape), pg = g.data
            c.parallelFor(b.count, grain: elementwiseGrain) { r in for i in r { pg[i] = k * (pb[i] - pa[i]) } }
            dB = g
        }
        return (dA, dB)
    }
}

extension Compute {
    /// mean((a − b)²) → shape `[]`. a, b: same shape. Gradients flow to both.
    public func mse(_ a: Tensor, _ b: Tensor) -> Tensor {
        let y = Tensor(shape: [], values: [Float(MSE.forward(a, b, self))])
        return record("mse", y, inputs: [a, b]) { dOut in
            let g = MSE.backward(dOut.data[0], a: a, b: b, needA: a.requiresGrad, needB: b.requiresGrad, self)
            return [g.dA, g.dB]
        }
    }
}

/// Per-sample weighted mean squared error, `(w · mse(a, b, reduction="none").mean(dims 1…)).mean()` — how kohya's
/// trainers apply min-SNR and debiased-estimation weights. With all weights 1 it equals `MSE`.
public enum WeightedMSE {
    /// a, b: same shape [B, …]; weights: B values → the loss (Double, thread-count-independent split per sample).
    public static func forward(_ a: Tensor, _ b: Tensor, weights: [Float], _ c: Compute) -> Double {
        check(a, b, weights)
        let batch = weights.count, per = a.count / max(batch, 1)
        guard per > 0 else { return 0 }
        var partial = [Double](repeating: 0, count: batch)
        let pa = a.data, pb = b.data
        partial.withUnsafeMutableBufferPointer { p in
            let pp = p.baseAddress!
            c.parallelFor(batch, grain: 1) { r in
                for s in r { pp[s] = sumi_sqdiff_sum_f64(pa, pb, s * per, (s + 1) * per) / Double(per) }
            }
        }
        return zip(partial, weights).reduce(0) { $0 + $1.0 * Double($1.1) } / Double(batch)
    }

    /// dA = 2·dLoss·w_b·(a − b)/(B·per), dB = −dA.
    public static func backward(_ dLoss: Float, a: Tensor, b: Tensor, weights: [Float], needA: Bool = true,
                                needB: Bool = true, _ c: Compute) -> (dA: Tensor?, dB: Tensor?) {
        check(a, b, weights)
        let per = a.count / max(weights.count, 1)
        let ks = weights.map { Float(2 * Double(dLoss) * Double($0) / Double(max(a.count, 1))) }
        let pa = a.data, pb = b.data
        func grad(_ sign: Float) -> Tensor {
            let g = Tensor(uninitialized: a.shape), pg = g.data
            c.parallelFor(a.count, grain: elementwiseGrain) { r in
                for i in r { pg[i] = sign * ks[i / per] * (pa[i] - pb[i]) }
            }
            return g
        }
        return (needA ? grad(1) : nil, needB ? grad(-1) : nil)
    }

    private static func check(_ a: Tensor, _ b: Tensor, _ weights: [Float]) {
        precondition(a.shape == b.shape && a.rank >= 1 && a.dim(0) == weights.count,
                     "weighted mse: \(a.shape) vs \(b.shape) with \(weights.count) weights")
    }
}

extension Compute {
    /// Per-sample weighted mean squared error → shape `[]` (see `WeightedMSE`). a, b: [B, …]; weights: B values.
    public func mse(_ a: Tensor, _ b: Tensor, sampleWeights: [Float]) -> Tensor {
        let y = Tensor(shape: [], values: [Float(WeightedMSE.forward(a, b, weights: sampleWeights, self))])
        return record("weighted_mse", y, inputs: [a, b]) { dOut in
            let g = WeightedMSE.backward(dOut.data[0], a: a, b: b, weights: sampleWeights,
                                         needA: a.requiresGrad, needB: b.requiresGrad, self)
            return [g.dA, g.dB]
        }
    }
}
