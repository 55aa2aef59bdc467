/// NumPy/PyTorch broadcasting: shapes align on the right and size-1 dimensions stretch.
///
/// Binary kernels do not special-case every model layout. Instead `coalesce` drops size-1
/// dimensions and merges neighbours that every operand walks contiguously, so the common cases
/// reduce to a short outer loop around one contiguous inner loop:
/// same shape → one flat run; `[B, C, H, W] ⊕ [1, C, 1, 1]` → `[B·C]` rows of `H·W` with a
/// per-row scalar; `[..., D] ⊕ [D]` → rows of `D` against one vector; scalar-shaped → one run.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            precondition(da == db || da == 1 || db == 1, "cannot broadcast \(a) with \(b)")
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// Element strides for reading a contiguous tensor of `shape` as `outShape`: 0 along the
    /// dimensions that broadcast (and the missing leading ones).
    static func strides(_ shape: [Int], as outShape: [Int]) -> [Int] {
        precondition(shape.count <= outShape.count, "cannot broadcast \(shape) to \(outShape)")
        let pad = outShape.count - shape.count
        var strides = [Int](repeating: 0, count: outShape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let d = shape[i]
            precondition(d == outShape[pad + i] || d == 1, "cannot broadcast \(shape) to \(outShape)")
            strides[pad + i] = d == 1 ? 0 : s
            s *= d
        }
        return strides
    }

    /// Row-major strides of a contiguous tensor.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
        return strides
    }

    /// Drops size-1 dimensions and merges dimension i into i+1 wherever every operand's stride
    /// satisfies `stride[i] == stride[i+1] · dims[i+1]` (0 strides merge with 0 strides).
    /// Returns at least one dimension.
    static func coalesce(_ dims: [Int], _ strides: [[Int]]) -> (dims: [Int], strides: [[Int]]) {
        var outDims: [Int] = []
        var outStrides = [[Int]](repeating: [], count: strides.count)
        for i in 0..<dims.count where dims[i] != 1 {
            if let last = outDims.last,
               strides.indices.allSatisfy({ k in outStrides[k].last! == strides[k][i] * dims[i] }) {
                outDims[outDims.count - 1] = last * dims[i]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][i] }
            } else {
                outDims.append(dims[i])
                for k in strides.indices { outStrides[k].append(strides[k][i]) }
            }
        }
        if outDims.isEmpty { return ([1], strides.map { _ in [0] }) }
        return (outDims, outStrides)
    }
}

/// Walks the outer (all but the last) dimensions of a coalesced iteration space for two
/// operands, keeping their element offsets. Rows are visited in row-major order.
struct RowCursor {
    private let dims: [Int]
    private let sa: [Int], sb: [Int]
    private var index: [Int]
    /// Element offsets of the current row in the two operands.
    private(set) var offA = 0, offB = 0

    /// dims/sa/sb: the outer dimensions and the operands' strides along them; starts at `row`.
    init(dims: [Int], sa: [Int], sb: [Int], row: Int) {
        self.dims = dims; self.sa = sa; self.sb = sb
        index = [Int](repeating: 0, count: dims.count)
        var r = row
        for d in stride(from: dims.count - 1, through: 0, by: -1) {
            index[d] = r % dims[d]; r /= dims[d]
            offA += index[d] * sa[d]; offB += index[d] * sb[d]
        }
    }

    /// Moves to the next row.
    mutating func next() {
        var d = dims.count - 1
        while d >= 0 {
            index[d] += 1
            offA += sa[d]; offB += sb[d]
            if index[d] < dims[d] { return }
            offA -= sa[d] * dims[d]; offB -= sb[d] * dims[d]
            index[d] = 0
            d -= 1
        }
    }
}
