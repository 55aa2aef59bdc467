/// Dimension permutation (a copying transpose), e.g. `[B, T, N, D] → [B, N, T, D]` head splits
/// and NCHW ↔ NHWC.
///
/// After coalescing, either the input's contiguous dimension stays last (the copy is a loop of
/// contiguous row copies) or the permutation is a batch of 2-D transposes, done in cache tiles.
public enum Permute {
    /// Tile edge for the 2-D transpose path (a 32×32 fp32 tile is 4 KB per side).
    static let tile = 32

    /// The permutation with negative entries resolved; checks it is one.
    static func normalized(_ dims: [Int], rank: Int) -> [Int] {
        let p = dims.map { $0 < 0 ? $0 + rank : $0 }
        precondition(p.count == rank && p.sorted() == Array(0..<rank), "permute: \(dims) is not a permutation of rank \(rank)")
        return p
    }

    /// x: any shape; dims: a permutation → shape dims.map { x.shape[$0] }.
    public static func forward(_ x: Tensor, _ dims: [Int], _ c: Compute) -> Tensor {
        let perm = normalized(dims, rank: x.rank)
        let outShape = perm.map { x.shape[$0] }
        let out = Tensor(uninitialized: outShape)
        guard out.count > 1 else { out.data.update(from: x.data, count: out.count); return out }
        let inStrides = Broadcast.contiguousStrides(x.shape)
        let (d, st) = Broadcast.coalesce(outShape, [Broadcast.contiguousStrides(outShape), perm.map { inStrides[$0] }])
        let so = st[0], si = st[1], px = x.data, po = out.data
        let last = d.count - 1
        if si[last] == 1 {
            // Rows stay contiguous in the input: copy them whole.
            let inner = d[last], outer = Array(d.dropLast())
            c.parallelFor(out.count / inner, grain: max(1, elementwiseGrain / inner)) { rows in
                var cursor = RowCursor(dims: outer, sa: Array(so.dropLast()), sb: Array(si.dropLast()), row: rows.lowerBound)
                for row in rows {
                    (po + cursor.offA).update(from: px + cursor.offB, count: inner)
                    cursor.next()
                }
            }
            return out
        }
        // Batched 2-D transpose between output dim p (contiguous in the input) and the last output dim.
        let p = si.firstIndex(of: 1)!
        let rowsP = d[p], cols = d[last], inColStride = si[last], outRowStride = so[p]
        let others = d.indices.filter { $0 != p && $0 != last }
        let oDims = others.map { d[$0] }, oOut = others.map { so[$0] }, oIn = others.map { si[$0] }
        let tilesP = (rowsP + tile - 1) / tile
        let tasks = oDims.product * tilesP
        c.parallelFor(tasks, grain: max(1, elementwiseGrain / (tile * cols))) { r in
            for task in r {
                let cursor = RowCursor(dims: oDims, sa: oOut, sb: oIn, row: task / tilesP)
                let i0 = (task % tilesP) * tile, i1 = min(rowsP, i0 + tile)
                let ob = po + cursor.offA, ib = px + cursor.offB
                var j0 = 0
                while j0 < cols {
                    let j1 = min(cols, j0 + tile)
                    for i in i0..<i1 {
                        let dst = ob + i * outRowStride, src = ib + i
                        for j in j0..<j1 { dst[j] = src[j * inColStride] }
                    }
                    j0 = j1
                }
            }
        }
        return out
    }

    /// Gradient of `forward`: dOut permuted by the inverse permutation. dOut: the output shape.
    public static func backward(_ dOut: Tensor, _ dims: [Int], _ c: Compute) -> Tensor {
        let perm = normalized(dims, rank: dOut.rank)
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return forward(dOut, inverse, c)
    }

    /// Reference for `forward`: one multi-index per output element.
    public static func naiveForward(_ x: Tensor, _ dims: [Int]) -> Tensor {
        let perm = normalized(dims, rank: x.rank)
        let outShape = perm.map { x.shape[$0] }
        let out = Tensor(uninitialized: outShape)
        let inStrides = Broadcast.contiguousStrides(x.shape)
        for i in 0..<out.count {
            var rem = i, src = 0
            for k in stride(from: outShape.count - 1, through: 0, by: -1) {
                src += (rem % outShape[k]) * inStrides[perm[k]]; rem /= outShape[k]
            }
            out.data[i] = x.data[src]
        }
        return out
    }
}

/// Copies `rows` blocks of `len` floats between two strided row layouts (the kernel of concat
/// and slice, which are both "rows of a [outer, n·inner] view").
func copyRows(from src: UnsafePointer<Float>, stride srcStride: Int, to dst: UnsafeMutablePointer<Float>,
              stride dstStride: Int, rows: Int, len: Int, _ c: Compute) {
    guard len > 0 else { return }
    c.parallelFor(rows, grain: max(1, elementwiseGrain / len)) { r in
        for row in r { (dst + row * dstStride).update(from: src + row * srcStride, count: len) }
    }
}

/// `torch.cat(xs, dim)`.
public enum Concat {
    /// xs: equal shapes except along `dim` → sizes along `dim` added.
    public static func forward(_ xs: [Tensor], dim: Int, _ c: Compute) -> Tensor {
        precondition(!xs.isEmpty, "concat of no tensors")
        let rank = xs[0].rank, d = Reduce.normalize(dim, rank: rank)
        for x in xs {
            precondition(x.rank == rank && x.shape[..<d] == xs[0].shape[..<d] && x.shape[(d + 1)...] == xs[0].shape[(d + 1)...],
                         "concat along \(dim): \(xs.map { $0.shape })")
        }
        var outShape = xs[0].shape
        outShape[d] = xs.reduce(0) { $0 + $1.shape[d] }
        let out = Tensor(uninitialized: outShape)
        let outer = outShape[..<d].product, inner = outShape[(d + 1)...].product
        let rowLen = outShape[d] * inner
        var offset = 0
        for x in xs {
            let len = x.shape[d] * inner
            copyRows(from: x.data, stride: len, to: out.data + offset, stride: rowLen, rows: outer, len: len, c)
            offset += len
        }
        return out
    }

    /// Gradients: the slices of dOut that each input produced (nil where `need` is false).
    public static func backward(_ dOut: Tensor, shapes: [[Int]], dim: Int, need: [Bool], _ c: Compute) -> [Tensor?] {
        let d = Reduce.normalize(dim, rank: dOut.rank)
        var start = 0
        return shapes.indices.map { i in
            defer { start += shapes[i][d] }
            return need[i] ? Slice.forward(dOut, dim: d, start: start, length: shapes[i][d], c) : nil
        }
    }
}

/// `x.narrow(dim, start, length)`: a copied range along one dimension.
public enum Slice {
    /// x: [..., n, ...] → [..., length, ...] holding indices start..<start+length (start < 0 counts from the end).
    public static func forward(_ x: Tensor, dim: Int, start: Int, length: Int, _ c: Compute) -> Tensor {
        let d = Reduce.normalize(dim, rank: x.rank), n = x.shape[d], s = start < 0 ? start + n : start
        precondition(s >= 0 && length >= 0 && s + length <= n, "slice \(start)..+\(length) of dim \(dim) in \(x.shape)")
        var outShape = x.shape
        outShape[d] = length
        let out = Tensor(uninitialized: outShape)
        let outer = x.shape[..<d].product, inner = x.shape[(d + 1)...].product
        copyRows(from: x.data + s * inner, stride: n * inner, to: out.data, stride: length * inner,
                 rows: outer, len: length * inner, c)
        return out
    }

    /// Gradient: dOut placed at its range in a zero tensor of the input's shape.
    public static func backward(_ dOut: Tensor, inputShape: [Int], dim: Int, start: Int, _ c: Compute) -> Tensor {
        let d = Reduce.normalize(dim, rank: inputShape.count), n = inputShape[d], s = start < 0 ? start + n : start
        let dx = Tensor(zeros: inputShape)
        let outer = inputShape[..<d].product, inner = inputShape[(d + 1)...].product
        copyRows(from: dOut.data, stride: dOut.shape[d] * inner, to: dx.data + s * inner, stride: n * inner,
                 rows: outer, len: dOut.shape[d] * inner, c)
        return dx
    }
}

extension Compute {
    /// The same values in a new shape (no copy). One entry may be −1 (inferred).
    public func reshape(_ x: Tensor, _ shape: [Int]) -> Tensor {
        var shape = shape
        if let k = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != k }.map(\.element).product
            precondition(known > 0 && x.count % known == 0, "reshape \(x.shape) to \(shape)")
            shape[k] = x.count / known
        }
        precondition(shape.product == x.count, "reshape \(x.shape) to \(shape)")
        let inputShape = x.shape
        return record("reshape", x.viewing(as: shape), inputs: [x]) { dOut in [dOut.viewing(as: inputShape)] }
    }

    /// Reorders dimensions (copying): output dim i is input dim dims[i].
    public func permute(_ x: Tensor, _ dims: [Int]) -> Tensor {
        record("permute", profiled("permute \(shapeLabel(x.shape)) \(dims)", bytes: 8 * Double(x.count)) {
            Permute.forward(x, dims, self)
        }, inputs: [x]) { dOut in [Permute.backward(dOut, dims, self)] }
    }

    /// Swaps two dimensions (copying).
    public func transpose(_ x: Tensor, _ d0: Int, _ d1: Int) -> Tensor {
        var dims = Array(0..<x.rank)
        dims.swapAt(Reduce.normalize(d0, rank: x.rank), Reduce.normalize(d1, rank: x.rank))
        return permute(x, dims)
    }

    /// Joins tensors along `dim`. xs: equal shapes except along `dim`.
    public func concat(_ xs: [Tensor], dim: Int) -> Tensor {
        let shapes = xs.map(\.shape)
        let y = profiled("concat \(shapes.map(shapeLabel).joined(separator: " "))",
                         bytes: 8 * Double(xs.map(\.count).reduce(0, +))) { Concat.forward(xs, dim: dim, self) }
        return record("concat", y, inputs: xs) { dOut in
            Concat.backward(dOut, shapes: shapes, dim: dim, need: xs.map(\.requiresGrad), self)
        }
    }

    /// `x.narrow(dim, start, length)` (copied).
    public func slice(_ x: Tensor, dim: Int, start: Int, length: Int) -> Tensor {
        let shape = x.shape
        let y = profiled("slice \(shapeLabel(shape))") { Slice.forward(x, dim: dim, start: start, length: length, self) }
        return record("slice", y, inputs: [x]) { dOut in
            [Slice.backward(dOut, inputShape: shape, dim: dim, start: start, self)]
        }
    }

    /// Splits along `dim` into pieces of the given sizes (which must add up to the dimension).
    /// Each piece is its own `slice` node, so unused pieces simply contribute no gradient.
    public func split(_ x: Tensor, sizes: [Int], dim: Int) -> [Tensor] {
        let d = Reduce.normalize(dim, rank: x.rank)
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == x.shape[d],
                     "split \(x.shape) along \(dim) into \(sizes)")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(x, dim: d, start: start, length: n)
        }
    }

    /// `torch.chunk`: pieces of ceil(size / n) along `dim`, the last one smaller; may return
    /// fewer than n pieces (e.g. size 5 in 4 chunks gives sizes 2, 2, 1).
    public func chunk(_ x: Tensor, _ n: Int, dim: Int) -> [Tensor] {
        precondition(n > 0, "chunk count must be positive, got \(n)")
        let size = x.shape[Reduce.normalize(dim, rank: x.rank)]
        let piece = max(1, (size + n - 1) / n)
        let sizes = stride(from: 0, to: size, by: piece).map { min(piece, size - $0) }
        return split(x, sizes: sizes.isEmpty ? [0] : sizes, dim: dim)
    }
}
