import Foundation
import CKernels

/// Pointwise activations, forward and backward, matching PyTorch:
/// `gelu` = `F.gelu` (exact erf), `geluTanh` = `F.gelu(approximate="tanh")`, `quickGelu` = x·σ(1.702x)
/// (CLIP), `silu` = x·σ(x), `softplus` = `F.softplus` (beta 1, threshold 20: exactly x above 20).
///
/// The kernels (activations.c) use polynomial exp / normal-CDF approximations (≲ 4e-7 relative)
/// so the loops vectorize; `reference` keeps the textbook formulas on Foundation's exp/erf/tanh.
public enum Activation: Int32, CaseIterable, Sendable {
    /// One of the five functions; raw values are the kernel's `kind` codes (activations.h).
    case gelu = 0, geluTanh, quickGelu, silu, softplus

    /// Elements per parallel task.
    static let grain = 16_384

    /// y = f(x), any shape.
    public static func forward(_ kind: Activation, _ x: Tensor, _ c: Compute) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, py = out.data
        c.parallelFor(x.count, grain: grain) { r in
            sumi_activation_forward(kind.rawValue, px, py, r.lowerBound, r.upperBound)
        }
        return out
    }

    /// dInput = dOut · f'(x). dOut and x have the same shape.
    public static func backward(_ kind: Activation, _ dOut: Tensor, x: Tensor, _ c: Compute) -> Tensor {
        precondition(dOut.shape == x.shape, "\(kind) backward: dOut \(dOut.shape) vs input \(x.shape)")
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, pd = dOut.data, po = out.data
        c.parallelFor(x.count, grain: grain) { r in
            sumi_activation_backward(kind.rawValue, px, pd, po, r.lowerBound, r.upperBound)
        }
        return out
    }

    // MARK: - Naive reference (double precision, Foundation math)

    /// f(v) by its defining formula.
    public static func referenceValue(_ kind: Activation, _ v: Double) -> Double {
        switch kind {
        // erfc, not 1 + erf: the latter cancels to 0 in double below x ≈ −8.
        case .gelu: return 0.5 * v * erfc(-v / 2.0.squareRoot())
        case .geluTanh:
            // ½(1 + tanh u) = 1/(1 + e^(−2u)) except it cancels for u ≪ 0; use the tanh form where it is exact enough.
            let u = (2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)
            return u > -1 ? 0.5 * v * (1 + tanh(u)) : v / (1 + exp(-2 * u))
        case .quickGelu: return v / (1 + exp(-1.702 * v))
        case .silu: return v / (1 + exp(-v))
        case .softplus: return v > 20 ? v : log1p(exp(v))
        }
    }

    /// f'(v) by its defining formula.
    public static func referenceDerivative(_ kind: Activation, _ v: Double) -> Double {
        switch kind {
        case .gelu:
            return 0.5 * erfc(-v / 2.0.squareRoot()) + v * exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
        case .geluTanh:
            let k = (2 / Double.pi).squareRoot(), t = tanh(k * (v + 0.044715 * v * v * v))
            return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)
        case .quickGelu:
            let s = 1 / (1 + exp(-1.702 * v))
            return s + 1.702 * v * s * (1 - s)
        case .silu:
            let s = 1 / (1 + exp(-v))
            return s * (1 + v * (1 - s))
        case .softplus: return v > 20 ? 1 : 1 / (1 + exp(-v))
        }
    }

    /// Plain-loop forward in double.
    public static func reference(_ kind: Activation, _ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, values: x.scalars.map { Float(referenceValue(kind, Double($0))) })
    }

    /// Plain-loop backward in double.
    public static func referenceBackward(_ kind: Activation, _ dOut: Tensor, x: Tensor) -> Tensor {
        Tensor(shape: x.shape, values: zip(dOut.scalars, x.scalars).map {
            Float(Double($0) * referenceDerivative(kind, Double($1)))
        })
    }
}

/// GEGLU as in diffusers' `GEGLU` after its projection: x [..., 2H] splits into value a = x[..., :H]
/// and gate = x[..., H:]; y = a · gelu(gate) (exact erf gelu).
public enum GEGLU {
    /// x: [..., 2H] → [..., H].
    public static func forward(_ x: Tensor, _ c: Compute) -> Tensor {
        let (rows, h) = geometry(x)
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [h])
        let px = x.data, py = out.data
        c.parallelFor(rows, grain: max(1, Activation.grain / max(h, 1))) { r in
            sumi_geglu_forward(px, py, h, r.lowerBound, r.upperBound)
        }
        return out
    }

    /// dOut: [..., H] → dInput [..., 2H] (value half, then gate half).
    public static func backward(_ dOut: Tensor, x: Tensor, _ c: Compute) -> Tensor {
        let (rows, h) = geometry(x)
        precondition(dOut.shape == Array(x.shape.dropLast()) + [h], "GEGLU backward: dOut \(dOut.shape) for input \(x.shape)")
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, pd = dOut.data, po = out.data
        c.parallelFor(rows, grain: max(1, Activation.grain / max(h, 1))) { r in
            sumi_geglu_backward(px, pd, po, h, r.lowerBound, r.upperBound)
        }
        return out
    }

    /// Plain-loop forward in double.
    public static func reference(_ x: Tensor) -> Tensor {
        let (rows, h) = geometry(x)
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [h])
        for r in 0..<rows {
            for j in 0..<h {
                let a = Double(x.data[r * 2 * h + j]), g = Double(x.data[r * 2 * h + h + j])
                out.data[r * h + j] = Float(a * Activation.referenceValue(.gelu, g))
            }
        }
        return out
    }

    /// Plain-loop backward in double.
    public static func referenceBackward(_ dOut: Tensor, x: Tensor) -> Tensor {
        let (rows, h) = geometry(x)
        let out = Tensor(uninitialized: x.shape)
        for r in 0..<rows {
            for j in 0..<h {
                let a = Double(x.data[r * 2 * h + j]), g = Double(x.data[r * 2 * h + h + j])
                let d = Double(dOut.data[r * h + j])
                out.data[r * 2 * h + j] = Float(d * Activation.referenceValue(.gelu, g))
                out.data[r * 2 * h + h + j] = Float(d * a * Activation.referenceDerivative(.gelu, g))
            }
        }
        return out
    }

    private static func geometry(_ x: Tensor) -> (rows: Int, hidden: Int) {
        precondition(x.rank >= 1 && x.dim(-1) % 2 == 0, "GEGLU: last dimension of \(x.shape) must be even")
        let h = x.dim(-1) / 2
        return (h == 0 ? 0 : x.count / (2 * h), h)
    }
}

extension Compute {
    /// f(x) for any `Activation`, recorded for autograd.
    public func activation(_ kind: Activation, _ x: Tensor) -> Tensor {
        let y = profiled("\(kind) \(shapeLabel(x.shape))", bytes: 8 * Double(x.count)) {
            Activation.forward(kind, x, self)
        }
        return record("\(kind)", y, inputs: [x]) { dOut in [Activation.backward(kind, dOut, x: x, self)] }
    }

    /// GELU with the exact erf, `F.gelu(x)`.
    public func gelu(_ x: Tensor) -> Tensor { activation(.gelu, x) }
    /// GELU, tanh approximation, `F.gelu(x, approximate="tanh")`.
    public func geluTanh(_ x: Tensor) -> Tensor { activation(.geluTanh, x) }
    /// x·σ(1.702x), CLIP's quick GELU.
    public func quickGelu(_ x: Tensor) -> Tensor { activation(.quickGelu, x) }
    /// x·σ(x).
    public func silu(_ x: Tensor) -> Tensor { activation(.silu, x) }
    /// log(1 + eˣ), and x itself above 20 (torch's default beta 1, threshold 20).
    public func softplus(_ x: Tensor) -> Tensor { activation(.softplus, x) }

    /// a · gelu(gate) with x = [a | gate] along the last dim. x: [..., 2H] → [..., H].
    public func geglu(_ x: Tensor) -> Tensor {
        let y = profiled("geglu \(shapeLabel(x.shape))", bytes: 6 * Double(x.count)) { GEGLU.forward(x, self) }
        return record("geglu", y, inputs: [x]) { dOut in [GEGLU.backward(dOut, x: x, self)] }
    }
}
