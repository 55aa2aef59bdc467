import Foundation
import CKernels

/// Layer normalisation over the last dimension, `F.layer_norm(x, [D], weight, bias, eps)`.
///
/// Each row of D values is normalised by its own mean and biased variance (accumulated in double),
/// then scaled and shifted per column.
public enum LayerNorm {
    /// Per-row statistics saved for the backward.
    public struct Cache {
        /// Mean of each row, [rows].
        public let mean: [Float]
        /// 1/√(var + eps) of each row, [rows].
        public let rstd: [Float]
    }

    /// x: [..., D], weight/bias: [D] (optional). Returns y (same shape) and the row statistics.
    public static func forward(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                               _ c: Compute) -> (Tensor, Cache) {
        precondition(x.rank >= 1, "LayerNorm: input \(x.shape) has no last dimension")
        let d = x.dim(-1), rows = d == 0 ? 0 : x.count / d
        if let weight { precondition(weight.shape == [d], "LayerNorm: weight \(weight.shape) for input \(x.shape)") }
        if let bias { precondition(bias.shape == [d], "LayerNorm: bias \(bias.shape) for input \(x.shape)") }
        let out = Tensor(uninitialized: x.shape)
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        mean.withUnsafeMutableBufferPointer { pm in
            rstd.withUnsafeMutableBufferPointer { pr in
                let px = x.data, py = out.data, pw = weight?.data, pb = bias?.data
                let m = pm.baseAddress!, r = pr.baseAddress!
                c.parallelFor(rows, grain: max(1, 16_384 / max(d, 1))) { range in
                    sumi_layer_norm_forward(px, py, pw, pb, d, eps, m, r, range.lowerBound, range.upperBound)
                }
            }
        }
        return (out, Cache(mean: mean, rstd: rstd))
    }

    /// Gradients of `forward`. dOut: [..., D]. Returns dInput (same shape), dWeight [D], dBias [D];
    /// each nil when not requested (dWeight/dBias also when the op had no weight/bias).
    public static func backward(_ dOut: Tensor, x: Tensor, weight: Tensor?, bias: Tensor?, cache: Cache,
                                needInput: Bool = true, needWeight: Bool = true, needBias: Bool = true,
                                _ c: Compute) -> (dInput: Tensor?, dWeight: Tensor?, dBias: Tensor?) {
        precondition(dOut.shape == x.shape, "LayerNorm backward: dOut \(dOut.shape) vs input \(x.shape)")
        let d = x.dim(-1), rows = d == 0 ? 0 : x.count / d
        let wantW = needWeight && weight != nil, wantB = needBias && bias != nil
        let dX = needInput ? Tensor(uninitialized: x.shape) : nil
        // Column sums for dWeight/dBias go into one double accumulator per task, summed afterwards.
        let tasks = max(1, min(c.threads, rows * d / 16_384, rows))
        var accW = [Double](repeating: 0, count: wantW ? tasks * d : 0)
        var accB = [Double](repeating: 0, count: wantB ? tasks * d : 0)
        cache.mean.withUnsafeBufferPointer { pm in cache.rstd.withUnsafeBufferPointer { pr in
            accW.withUnsafeMutableBufferPointer { aw in accB.withUnsafeMutableBufferPointer { ab in
                let px = x.data, pd = dOut.data, po = dX?.data, pw = weight?.data
                let perTask = (rows + tasks - 1) / tasks
                c.parallelFor(tasks, grain: 1) { range in
                    for t in range {
                        let lo = t * perTask, hi = min(rows, lo + perTask)
                        guard lo < hi else { continue }
                        sumi_layer_norm_backward(px, pd, po, pw, d, pm.baseAddress!, pr.baseAddress!,
                                                 wantW ? aw.baseAddress! + t * d : nil,
                                                 wantB ? ab.baseAddress! + t * d : nil, lo, hi)
                    }
                }
            } }
        } }
        func columnSums(_ acc: [Double]) -> Tensor {
            let g = Tensor(uninitialized: [d])
            for j in 0..<d {
                var s = 0.0
                for t in 0..<tasks { s += acc[t * d + j] }
                g.data[j] = Float(s)
            }
            return g
        }
        return (dX, wantW ? columnSums(accW) : nil, wantB ? columnSums(accB) : nil)
    }

    // MARK: - Naive reference (plain loops in double; tests compare the fast path against it)

    /// Straightforward double-precision layer norm (two-pass variance).
    public static func reference(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let d = x.dim(-1), out = Tensor(uninitialized: x.shape)
        for row in 0..<(x.count / max(d, 1)) {
            let (m, rs) = referenceStats(x, row: row, d: d, eps: eps)
            for j in 0..<d {
                let xhat = (Double(x.data[row * d + j]) - m) * rs
                out.data[row * d + j] = Float(xhat * Double(weight?.data[j] ?? 1) + Double(bias?.data[j] ?? 0))
            }
        }
        return out
    }

    /// Double-precision gradients of `reference`: (dInput, dWeight, dBias) with nil for absent parameters.
    public static func referenceBackward(_ dOut: Tensor, x: Tensor, weight: Tensor?, bias: Tensor?,
                                         eps: Float = 1e-5) -> (dInput: Tensor, dWeight: Tensor?, dBias: Tensor?) {
        let d = x.dim(-1), dX = Tensor(uninitialized: x.shape)
        var dW = [Double](repeating: 0, count: d), dB = dW
        for row in 0..<(x.count / max(d, 1)) {
            let (m, rs) = referenceStats(x, row: row, d: d, eps: eps)
            var xhat = [Double](repeating: 0, count: d), g = xhat
            for j in 0..<d {
                let dy = Double(dOut.data[row * d + j])
                xhat[j] = (Double(x.data[row * d + j]) - m) * rs
                g[j] = dy * Double(weight?.data[j] ?? 1)
                dW[j] += dy * xhat[j]
                dB[j] += dy
            }
            let meanG = g.reduce(0, +) / Double(d)
            let meanGX = zip(g, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(d)
            for j in 0..<d { dX.data[row * d + j] = Float(rs * (g[j] - meanG - xhat[j] * meanGX)) }
        }
        return (dX, weight == nil ? nil : Tensor(shape: [d], values: dW.map { Float($0) }),
                bias == nil ? nil : Tensor(shape: [d], values: dB.map { Float($0) }))
    }

    private static func referenceStats(_ x: Tensor, row: Int, d: Int, eps: Float) -> (Double, Double) {
        var m = 0.0
        for j in 0..<d { m += Double(x.data[row * d + j]) }
        m /= Double(d)
        var v = 0.0
        for j in 0..<d { let t = Double(x.data[row * d + j]) - m; v += t * t }
        return (m, 1 / (v / Double(d) + Double(eps)).squareRoot())
    }
}

extension Compute {
    /// Layer norm over the last dimension. x: [..., D], weight/bias: [D] or nil.
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let (y, cache) = profiled("layer_norm \(shapeLabel(x.shape))", bytes: 8 * Double(x.count)) {
            LayerNorm.forward(x, weight: weight, bias: bias, eps: eps, self)
        }
        let inputs = [x] + [weight, bias].compactMap { $0 }
        return record("layerNorm", y, inputs: inputs) { dOut in
            let g = LayerNorm.backward(dOut, x: x, weight: weight, bias: bias, cache: cache,
                                       needInput: x.requiresGrad, needWeight: weight?.requiresGrad ?? false,
                                       needBias: bias?.requiresGrad ?? false, self)
            var grads: [Tensor?] = [g.dInput]
            if weight != nil { grads.append(g.dWeight) }
            if bias != nil { grads.append(g.dBias) }
            return grads
        }
    }
}
