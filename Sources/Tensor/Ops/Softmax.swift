import Foundation
import CKernels

/// Softmax over the last dimension, as `torch.softmax(x, dim=-1)`.
///
/// Subtracts the row maximum before exponentiating, so rows with large magnitudes neither overflow
/// nor lose the small entries. The exp is the vectorized polynomial in CKernels/attention.c.
public enum Softmax {
    /// x: [..., D] → same shape, each row of D summing to one.
    public static func forward(_ x: Tensor, _ c: Compute) -> Tensor {
        precondition(x.rank >= 1, "Softmax: input must have at least one dimension, got \(x.shape)")
        let cols = x.dim(-1), rows = cols == 0 ? 0 : x.count / cols
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, po = out.data
        c.parallelFor(rows, grain: max(1, 16384 / max(cols, 1))) { r in
            sumi_softmax_rows(px, po, cols, r.lowerBound, r.upperBound)
        }
        return out
    }

    /// Gradient of `forward` from its output y: dx = y ⊙ (dy − Σ dy ⊙ y) per row. dOut, y: [..., D].
    public static func backward(_ dOut: Tensor, y: Tensor, _ c: Compute) -> Tensor {
        precondition(dOut.shape == y.shape, "Softmax.backward: dOut \(dOut.shape) vs y \(y.shape)")
        let cols = y.dim(-1), rows = cols == 0 ? 0 : y.count / cols
        let dx = Tensor(uninitialized: y.shape)
        let py = y.data, pd = dOut.data, pg = dx.data
        c.parallelFor(rows, grain: max(1, 16384 / max(cols, 1))) { r in
            sumi_softmax_backward_rows(py, pd, pg, cols, r.lowerBound, r.upperBound)
        }
        return dx
    }

    /// Plain-loop reference of `forward` using libm exp in Double (for tests).
    public static func naiveForward(_ x: Tensor) -> Tensor {
        let cols = x.dim(-1), rows = cols == 0 ? 0 : x.count / cols
        let out = Tensor(uninitialized: x.shape)
        for r in 0..<rows {
            let row = x.data + r * cols, o = out.data + r * cols
            var m = -Float.infinity
            for j in 0..<cols { m = max(m, row[j]) }
            var s = 0.0
            for j in 0..<cols { s += exp(Double(row[j] - m)) }
            for j in 0..<cols { o[j] = Float(exp(Double(row[j] - m)) / s) }
        }
        return out
    }
}

extension Compute {
    /// Softmax over the last dimension. x: [..., D].
    public func softmax(_ x: Tensor) -> Tensor {
        let y = profiled("softmax \(shapeLabel(x.shape))", bytes: 8 * Double(x.count)) { Softmax.forward(x, self) }
        // Backward needs y but must not hold the graph node through it (that would be a cycle).
        let saved = y.detached()
        return record("softmax", y, inputs: [x]) { dOut in [Softmax.backward(dOut, y: saved, self)] }
    }
}
