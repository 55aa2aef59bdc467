/// Fully connected layer y = x · Wᵀ + b, with weights `[out, in]` as in PyTorch.
///
/// Exemplar of the op convention: `forward` and `backward` sit side by side on the enum; the
/// `Compute` extension at the bottom wires them into autograd.
public enum Linear {
    /// x: [..., in], weight: [out, in], bias: [out] → [..., out]
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ c: Compute) -> Tensor {
        let inF = weight.dim(1), outF = weight.dim(0)
        precondition(x.dim(-1) == inF, "Linear: input \(x.shape) vs weight \(weight.shape)")
        if let bias { precondition(bias.shape == [outF], "Linear: bias \(bias.shape) for weight \(weight.shape)") }
        let rows = x.count / inF
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
        if let bias {
            // Pre-fill rows with the bias, then accumulate the product into them (beta = 1).
            let pb = bias.data, po = out.data
            c.parallelFor(rows, grain: 64) { r in
                for i in r { (po + i * outF).update(from: pb, count: outF) }
            }
        }
        if c.usesBF16 {
            // Weight packed once per frozen storage; activations every call.
            let pw = weight.storage.derived(bf16PanelKey(weight)) {
                BF16GEMM.packB(weight.data, ldb: inF, trans: true, k: inF, n: outF, c)
            }
            BF16GEMM.gemm(BF16GEMM.packA(x.data, lda: inF, m: rows, k: inF, c), pw, c: out.data, ldc: outF,
                          accumulate: bias != nil, c)
            return out
        }
        BLAS.gemm(transB: true, m: rows, n: outF, k: inF, a: x.data, b: weight.data,
                  beta: bias == nil ? 0 : 1, c: out.data)
        return out
    }

    /// The name of a weight's cached bf16 panel (see `Storage.derived`).
    static func bf16PanelKey(_ weight: Tensor) -> String { "bf16.linear.\(weight.dim(0))x\(weight.dim(1))" }

    /// Gradients of `forward`. dOut: [..., out]. Returns dInput [..., in], dWeight [out, in], dBias [out].
    public static func backward(_ dOut: Tensor, x: Tensor, weight: Tensor, hasBias: Bool,
                                needInput: Bool = true, needWeight: Bool = true,
                                _ c: Compute) -> (dInput: Tensor?, dWeight: Tensor?, dBias: Tensor?) {
        let inF = weight.dim(1), outF = weight.dim(0)
        let rows = x.count / inF
        var dX: Tensor? = nil, dW: Tensor? = nil, dB: Tensor? = nil
        if needInput {
            let g = Tensor(uninitialized: x.shape)
            BLAS.gemm(m: rows, n: inF, k: outF, a: dOut.data, b: weight.data, c: g.data)
            dX = g
        }
        if needWeight {
            let g = Tensor(uninitialized: weight.shape)
            BLAS.gemm(transA: true, m: outF, n: inF, k: rows, a: dOut.data, b: x.data, c: g.data)
            dW = g
        }
        if hasBias {
            let g = Tensor(zeros: [outF])
            let pg = g.data, pd = dOut.data
            for r in 0..<rows { let row = pd + r * outF; for j in 0..<outF { pg[j] += row[j] } }
            dB = g
        }
        return (dX, dW, dB)
    }
}

extension Compute {
    /// y = x · Wᵀ + b. x: [..., in], weight: [out, in], bias: [out].
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let y = profiled("linear \(weight.dim(1))→\(weight.dim(0)) ×\(x.count / max(weight.dim(1), 1))",
                         flops: 2 * Double(x.count) * Double(weight.dim(0))) {
            Linear.forward(x, weight: weight, bias: bias, self)
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return record("linear", y, inputs: inputs) { dOut in
            let g = Linear.backward(dOut, x: x, weight: weight, hasBias: bias?.requiresGrad ?? false,
                                    needInput: x.requiresGrad, needWeight: weight.requiresGrad, self)
            return bias == nil ? [g.dInput, g.dWeight] : [g.dInput, g.dWeight, g.dBias]
        }
    }

    /// Whether `linear` with this weight reads only its cached bf16 panel, not the fp32 values: a half-resident
    /// weight then need not be expanded (`Storage.withResident`) for the call. False when anything records.
    public func linearUsesPackedWeight(_ weight: Tensor) -> Bool {
        usesBF16 && !recordsGradients && weight.storage.hasDerived(Linear.bf16PanelKey(weight))
    }
}
