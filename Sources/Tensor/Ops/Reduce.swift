import CKernels

/// Sums and means, over everything or along one dimension, plus the "sum back to an operand's
/// shape" reduction that broadcasting ops need in backward.
///
/// Full reductions return a rank-0 tensor (shape `[]`, one element), like `torch.sum(x)`.
/// All sums accumulate in Double and use a split of the work that does not depend on the thread
/// count, so results are bit-reproducible across machines.
public enum Reduce {
    /// Elements per partial sum of a full reduction (fixed, for reproducibility).
    static let fullChunk = 1 << 16

    /// Σ x over all elements, in Double.
    public static func sumAll(_ x: Tensor, _ c: Compute) -> Double {
        let n = x.count, chunks = (n + fullChunk - 1) / fullChunk
        guard chunks > 1 else { return sumi_sum_f64(x.data, 0, n) }
        var partial = [Double](repeating: 0, count: chunks)
        let px = x.data
        partial.withUnsafeMutableBufferPointer { p in
            let pp = p.baseAddress!
            c.parallelFor(chunks, grain: 1) { r in
                for k in r { pp[k] = sumi_sum_f64(px, k * fullChunk, min(n, (k + 1) * fullChunk)) }
            }
        }
        return partial.reduce(0, +)
    }

    /// Sums along `dim` (negative counts from the end). x: [..., n, ...] → [..., 1, ...] with
    /// `keepDim`, else the dimension is removed. `scale` multiplies the result (1/n for a mean).
    public static func sum(_ x: Tensor, dim: Int, keepDim: Bool, scale: Float = 1, _ c: Compute) -> Tensor {
        let d = normalize(dim, rank: x.rank)
        let outer = x.shape[..<d].product, n = x.shape[d], inner = x.shape[(d + 1)...].product
        var outShape = x.shape
        if keepDim { outShape[d] = 1 } else { outShape.remove(at: d) }
        let out = Tensor(uninitialized: outShape)
        sumAxis(x.data, outer: outer, n: n, inner: inner, into: out.data, c)
        if scale != 1 { let po = out.data; for i in 0..<out.count { po[i] *= scale } }
        return out
    }

    /// Gradient of `sum(x, dim:)`: dOut broadcast back along `dim`, times `scale`.
    /// dOut: x's shape with `dim` removed or kept as 1 → x's shape.
    public static func sumBackward(_ dOut: Tensor, inputShape: [Int], dim: Int, scale: Float = 1,
                                   _ c: Compute) -> Tensor {
        let d = normalize(dim, rank: inputShape.count)
        let outer = inputShape[..<d].product, n = inputShape[d], inner = inputShape[(d + 1)...].product
        precondition(dOut.count == outer * inner, "sum backward: dOut \(dOut.shape) for input \(inputShape) dim \(dim)")
        let dx = Tensor(uninitialized: inputShape)
        let pg = dOut.data, pd = dx.data
        c.parallelFor(outer * n, grain: max(1, elementwiseGrain / max(inner, 1))) { rows in
            for row in rows {
                let src = pg + (row / n) * inner, dst = pd + row * inner
                if scale == 1 { dst.update(from: src, count: inner) } else {
                    for j in 0..<inner { dst[j] = src[j] * scale }
                }
            }
        }
        return dx
    }

    /// dst[o, j] = Σ_k src[o, k, j] for a contiguous [outer, n, inner] block.
    static func sumAxis(_ src: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int,
                        into dst: UnsafeMutablePointer<Float>, _ c: Compute) {
        guard outer * inner > 0 else { return }
        if inner == 1 {
            c.parallelFor(outer, grain: max(1, elementwiseGrain / max(n, 1))) { r in
                sumi_sum_rows(src, n, dst, r.lowerBound, r.upperBound)
            }
        } else if outer >= c.threads {
            c.parallelFor(outer, grain: max(1, elementwiseGrain / max(n * inner, 1))) { r in
                for o in r { sumi_sum_cols(src + o * n * inner, n, inner, dst + o * inner, 0, inner) }
            }
        } else {
            // Few outer blocks: split each block's columns across threads instead.
            for o in 0..<outer {
                c.parallelFor(inner, grain: max(64, elementwiseGrain / max(n, 1))) { r in
                    sumi_sum_cols(src + o * n * inner, n, inner, dst + o * inner, r.lowerBound, r.upperBound)
                }
            }
        }
    }

    /// Sums `g` over the dimensions along which `shape` was broadcast to `g.shape`, giving a
    /// tensor of `shape`. Returns `g` (or a view of it) when nothing needs summing.
    /// g: broadcast shape; shape: an operand shape broadcastable to it.
    public static func sumToShape(_ g: Tensor, _ shape: [Int], _ c: Compute) -> Tensor {
        if g.shape == shape { return g }
        if shape.product == g.count {
            _ = Broadcast.strides(shape, as: g.shape)  // validates broadcastability
            return g.viewing(as: shape)
        }
        // Coalescing leaves alternating runs of kept (stride ≠ 0) and summed (stride 0) dims;
        // each summed run is one [outer, n, inner] pass, which parallelises without write conflicts.
        var (dims, st) = Broadcast.coalesce(g.shape, [Broadcast.strides(shape, as: g.shape)])
        var current = g
        for i in dims.indices where st[0][i] == 0 {
            let outer = dims[..<i].product, n = dims[i], inner = dims[(i + 1)...].product
            let next = Tensor(uninitialized: [outer * inner])
            sumAxis(current.data, outer: outer, n: n, inner: inner, into: next.data, c)
            dims[i] = 1
            current = next
        }
        return current.viewing(as: shape)
    }

    /// Reference for `sumToShape`: accumulates every element of `g` into its target, in Double.
    public static func naiveSumToShape(_ g: Tensor, _ shape: [Int]) -> Tensor {
        let st = Broadcast.strides(shape, as: g.shape)
        var acc = [Double](repeating: 0, count: shape.product)
        for i in 0..<g.count {
            var rem = i, o = 0
            for d in stride(from: g.rank - 1, through: 0, by: -1) {
                o += (rem % g.shape[d]) * st[d]; rem /= g.shape[d]
            }
            acc[o] += Double(g.data[i])
        }
        return Tensor(shape: shape, values: acc.map { Float($0) })
    }

    /// Reference for `sum(_:dim:keepDim:)`: plain loops in Double.
    public static func naiveSum(_ x: Tensor, dim: Int, keepDim: Bool) -> Tensor {
        let d = normalize(dim, rank: x.rank)
        let outer = x.shape[..<d].product, n = x.shape[d], inner = x.shape[(d + 1)...].product
        var outShape = x.shape
        if keepDim { outShape[d] = 1 } else { outShape.remove(at: d) }
        var values = [Float](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for j in 0..<inner {
                var s = 0.0
                for k in 0..<n { s += Double(x.data[(o * n + k) * inner + j]) }
                values[o * inner + j] = Float(s)
            }
        }
        return Tensor(shape: outShape, values: values)
    }

    /// A dimension index in 0..<rank (negative counts from the end).
    static func normalize(_ dim: Int, rank: Int) -> Int {
        let d = dim < 0 ? dim + rank : dim
        precondition(d >= 0 && d < rank, "dim \(dim) out of range for rank \(rank)")
        return d
    }
}

extension Compute {
    /// Σ over all elements → shape `[]` (rank 0, one element).
    public func sum(_ x: Tensor) -> Tensor { fullReduction(x, mean: false) }

    /// Mean over all elements → shape `[]` (rank 0, one element).
    public func mean(_ x: Tensor) -> Tensor { fullReduction(x, mean: true) }

    private func fullReduction(_ x: Tensor, mean: Bool) -> Tensor {
        let s = Reduce.sumAll(x, self)
        let n = x.count
        let y = Tensor(shape: [], values: [Float(mean ? s / Double(max(n, 1)) : s)])
        return record(mean ? "mean" : "sum", y, inputs: [x]) { dOut in
            let g = mean ? Float(Double(dOut.data[0]) / Double(max(n, 1))) : dOut.data[0]
            return [Tensor(shape: x.shape, repeating: g)]
        }
    }

    /// Σ along `dim`. x: [..., n, ...] → the dimension dropped, or kept as 1 with `keepDim`.
    public func sum(_ x: Tensor, dim: Int, keepDim: Bool = false) -> Tensor {
        dimReduction(x, dim: dim, keepDim: keepDim, mean: false)
    }

    /// Mean along `dim`. x: [..., n, ...] → the dimension dropped, or kept as 1 with `keepDim`.
    public func mean(_ x: Tensor, dim: Int, keepDim: Bool = false) -> Tensor {
        dimReduction(x, dim: dim, keepDim: keepDim, mean: true)
    }

    private func dimReduction(_ x: Tensor, dim: Int, keepDim: Bool, mean: Bool) -> Tensor {
        let n = x.shape[Reduce.normalize(dim, rank: x.rank)]
        let scale: Float = mean ? Float(1 / Double(max(n, 1))) : 1
        let y = Reduce.sum(x, dim: dim, keepDim: keepDim, scale: scale, self)
        let shape = x.shape
        return record(mean ? "mean" : "sum", y, inputs: [x]) { dOut in
            [Reduce.sumBackward(dOut, inputShape: shape, dim: dim, scale: scale, self)]
        }
    }
}
