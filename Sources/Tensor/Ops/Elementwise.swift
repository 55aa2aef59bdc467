/// One binary float function, specialised into the kernels at compile time.
protocol BinaryFunction { static func apply(_ a: Float, _ b: Float) -> Float }
enum AddFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum MulFunction: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }

/// Elements per parallel work item: large enough to amortise a thread hand-off on
/// memory-bound loops.
let elementwiseGrain = 1 << 15

/// Broadcasting `a + b`, `a − b`, `a · b` (NumPy/PyTorch rules, see `Broadcast`).
///
/// Backward sums the gradient over the broadcast dimensions back to each operand's shape. When an
/// operand already has the output's shape its gradient is `dOut` itself (or a view of it), not a
/// copy: backward functions treat their `dOut` as read-only.
public enum Elementwise {
    /// Which arithmetic operation.
    public enum Op: String, Sendable { case add, sub, mul }

    /// a ⊕ b. a, b: broadcast-compatible shapes → the broadcast shape.
    public static func forward(_ op: Op, _ a: Tensor, _ b: Tensor, _ c: Compute) -> Tensor {
        switch op {
        case .add: return binary(AddFunction.self, a, b, c)
        case .sub: return binary(SubFunction.self, a, b, c)
        case .mul: return binary(MulFunction.self, a, b, c)
        }
    }

    /// Gradients of `forward`. dOut: the broadcast shape. Returns dA (a's shape) and dB (b's shape).
    public static func backward(_ op: Op, _ dOut: Tensor, a: Tensor, b: Tensor,
                                needA: Bool = true, needB: Bool = true,
                                _ c: Compute) -> (dA: Tensor?, dB: Tensor?) {
        switch op {
        case .add:
            return (needA ? Reduce.sumToShape(dOut, a.shape, c) : nil,
                    needB ? Reduce.sumToShape(dOut, b.shape, c) : nil)
        case .sub:
            return (needA ? Reduce.sumToShape(dOut, a.shape, c) : nil,
                    needB ? Affine.forward(Reduce.sumToShape(dOut, b.shape, c), scale: -1, shift: 0, c) : nil)
        case .mul:
            return (needA ? Reduce.sumToShape(binary(MulFunction.self, dOut, b, c), a.shape, c) : nil,
                    needB ? Reduce.sumToShape(binary(MulFunction.self, dOut, a, c), b.shape, c) : nil)
        }
    }

    /// Coalesced broadcast kernel: an outer loop over rows, a contiguous inner loop in which each
    /// operand is either contiguous or one repeated scalar.
    static func binary<F: BinaryFunction>(_: F.Type, _ a: Tensor, _ b: Tensor, _ c: Compute) -> Tensor {
        let outShape = a.shape == b.shape ? a.shape : Broadcast.shape(a.shape, b.shape)
        let out = Tensor(uninitialized: outShape)
        let count = out.count
        guard count > 0 else { return out }
        let pa = a.data, pb = b.data, po = out.data
        if a.count == count && b.count == count {
            // Equal element counts under broadcasting means only size-1 dims differ: same layout.
            c.parallelFor(count, grain: elementwiseGrain) { r in
                for i in r { po[i] = F.apply(pa[i], pb[i]) }
            }
            return out
        }
        let (dims, st) = Broadcast.coalesce(outShape, [Broadcast.strides(a.shape, as: outShape),
                                                       Broadcast.strides(b.shape, as: outShape)])
        // After coalescing an operand's inner stride is 1 (contiguous) or 0 (broadcast scalar).
        let inner = dims.last!, ia = st[0].last!, ib = st[1].last!
        let outer = Array(dims.dropLast()), sa = Array(st[0].dropLast()), sb = Array(st[1].dropLast())
        c.parallelFor(count / inner, grain: max(1, elementwiseGrain / inner)) { rows in
            var cursor = RowCursor(dims: outer, sa: sa, sb: sb, row: rows.lowerBound)
            for row in rows {
                let ra = pa + cursor.offA, rb = pb + cursor.offB, ro = po + row * inner
                if ia != 0 && ib != 0 {
                    for j in 0..<inner { ro[j] = F.apply(ra[j], rb[j]) }
                } else if ia != 0 {  // ib == 0
                    let s = rb[0]
                    for j in 0..<inner { ro[j] = F.apply(ra[j], s) }
                } else {  // ia == 0; ib == 0 only when inner == 1
                    let s = ra[0]
                    for j in 0..<inner { ro[j] = F.apply(s, rb[j]) }
                }
                cursor.next()
            }
        }
        return out
    }

    /// Reference for `forward`: one multi-index per output element.
    public static func naiveForward(_ op: Op, _ a: Tensor, _ b: Tensor) -> Tensor {
        let outShape = Broadcast.shape(a.shape, b.shape)
        let out = Tensor(uninitialized: outShape)
        let sa = Broadcast.strides(a.shape, as: outShape), sb = Broadcast.strides(b.shape, as: outShape)
        for i in 0..<out.count {
            var rem = i, oa = 0, ob = 0
            for d in stride(from: outShape.count - 1, through: 0, by: -1) {
                let k = rem % outShape[d]; rem /= outShape[d]
                oa += k * sa[d]; ob += k * sb[d]
            }
            let x = a.data[oa], y = b.data[ob]
            switch op {
            case .add: out.data[i] = x + y
            case .sub: out.data[i] = x - y
            case .mul: out.data[i] = x * y
            }
        }
        return out
    }
}

/// y = scale · x + shift with scalar constants (covers `scale`, `addScalar`, `neg`).
public enum Affine {
    /// x: any shape → same shape.
    public static func forward(_ x: Tensor, scale: Float, shift: Float, _ c: Compute) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, po = out.data
        c.parallelFor(x.count, grain: elementwiseGrain) { r in
            for i in r { po[i] = scale * px[i] + shift }
        }
        return out
    }

    /// dInput = scale · dOut (`dOut` itself when scale is 1).
    public static func backward(_ dOut: Tensor, scale: Float, _ c: Compute) -> Tensor {
        scale == 1 ? dOut : forward(dOut, scale: scale, shift: 0, c)
    }
}

extension Compute {
    /// a + b with broadcasting. a, b: broadcast-compatible shapes.
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.add, a, b) }
    /// a − b with broadcasting. a, b: broadcast-compatible shapes.
    public func sub(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.sub, a, b) }
    /// a · b (elementwise) with broadcasting. a, b: broadcast-compatible shapes.
    public func mul(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.mul, a, b) }

    private func binary(_ op: Elementwise.Op, _ a: Tensor, _ b: Tensor) -> Tensor {
        let y = profiled("\(op.rawValue) \(shapeLabel(a.shape)) \(shapeLabel(b.shape))",
                         bytes: 4 * Double(a.count + b.count + max(a.count, b.count))) {
            Elementwise.forward(op, a, b, self)
        }
        return record(op.rawValue, y, inputs: [a, b]) { dOut in
            let g = Elementwise.backward(op, dOut, a: a, b: b, needA: a.requiresGrad, needB: b.requiresGrad, self)
            return [g.dA, g.dB]
        }
    }

    /// x · s.
    public func scale(_ x: Tensor, by s: Float) -> Tensor { affine(x, scale: s, shift: 0, "scale") }
    /// x + s.
    public func addScalar(_ x: Tensor, _ s: Float) -> Tensor { affine(x, scale: 1, shift: s, "addScalar") }
    /// −x.
    public func neg(_ x: Tensor) -> Tensor { affine(x, scale: -1, shift: 0, "neg") }

    private func affine(_ x: Tensor, scale: Float, shift: Float, _ name: String) -> Tensor {
        let y = profiled("\(name) \(shapeLabel(x.shape))", bytes: 8 * Double(x.count)) {
            Affine.forward(x, scale: scale, shift: shift, self)
        }
        return record(name, y, inputs: [x]) { dOut in [Affine.backward(dOut, scale: scale, self)] }
    }
}
