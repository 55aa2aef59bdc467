import XCTest
import Tensor
import TestSupport

final class ActivationTests: XCTestCase {
    let c = Compute(threads: 2)

    static let families: [(String, Activation)] = [
        ("gelu", .gelu), ("gelu_tanh", .geluTanh), ("quick_gelu", .quickGelu), ("silu", .silu), ("softplus", .softplus),
    ]

    func testMatchTorch() throws {
        for (family, kind) in Self.families {
            let fx = try Fixtures.ops(family)
            XCTAssertEqual(fx.cases.count, kind == .softplus ? 3 : 2, family)
            for name in fx.cases {
                let x = try fx.input(name, "x", requiresGrad: true)
                let y = c.activation(kind, x)
                assertClose(y, try fx.output(name), rtol: 1e-5, "\(family) \(name)")
                y.backward(seed: try fx.dout(name), compute: c)
                assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(family) \(name) dx")
            }
        }
    }

    func testGEGLUMatchesTorch() throws {
        let fx = try Fixtures.ops("geglu")
        XCTAssertEqual(fx.cases, ["random", "sweep"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let y = c.geglu(x)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
        }
    }

    func testNamedMethodsMatchKinds() {
        let x = randomTensor([3, 7], seed: 3, scale: 4)
        let pairs: [(Tensor, Activation)] = [(c.gelu(x), .gelu), (c.geluTanh(x), .geluTanh), (c.quickGelu(x), .quickGelu),
                                             (c.silu(x), .silu), (c.softplus(x), .softplus)]
        for (y, kind) in pairs { assertBitEqual(y, Activation.forward(kind, x, c), "\(kind)") }
    }

    func testFiniteDifferences() {
        for (_, kind) in Self.families {
            let x = randomTensor([5, 7], seed: 1, scale: 4)
            assertGradientsMatchFiniteDifferences([x], eps: 1e-2) { c, t in c.activation(kind, t[0]) }
        }
        // Softplus across its threshold (keep the probes away from the kink at 20).
        let wide = Tensor(shape: [9], values: [-30, -5, 0.5, 3, 15, 19.5, 20.5, 25, 40])
        assertGradientsMatchFiniteDifferences([wide], eps: 1e-2) { c, t in c.softplus(t[0]) }
        let g = randomTensor([3, 10], seed: 2, scale: 3)
        assertGradientsMatchFiniteDifferences([g]) { c, t in c.geglu(t[0]) }
    }

    /// Fast kernels vs double-precision textbook formulas on an odd-sized sweep (crossing every
    /// branch of the polynomial approximations) plus extremes where exp under/overflows.
    func testFastMatchesNaive() {
        let n = 100_003
        var values = (0..<n).map { i in Float(-12 + 24 * Double(i) / Double(n - 1)) }
        values += [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.75, -0.75, 0.7500001, -0.7499999, 19.999, 20, 20.001,
                   -40, 40, -87.5, 88.5, -100, 100, -1e4, 1e4]
        let x = Tensor(shape: [values.count], values: values)
        let dy = randomTensor([values.count], seed: 9)
        for kind in Activation.allCases {
            let y = Activation.forward(kind, x, c), ref = Activation.reference(kind, x)
            // geluTanh's tail is e^(2u) with 2u ≈ −27 at x = −6: the float argument alone is off by
            // ~27·ulp, so that kind gets a looser bound there.
            assertPointwiseClose(y, ref, floor: 1e-12, tolerance: kind == .geluTanh ? 5e-6 : 2e-6, "\(kind) forward")
            let g = Activation.backward(kind, dy, x: x, c), gref = Activation.referenceBackward(kind, dy, x: x)
            assertPointwiseClose(g, gref, floor: 0.05, "\(kind) backward")
        }
        let xg = randomTensor([37, 2 * 53], seed: 11, scale: 6), dyg = randomTensor([37, 53], seed: 12)
        assertPointwiseClose(GEGLU.forward(xg, c), GEGLU.reference(xg), floor: 1e-12, "geglu forward")
        assertPointwiseClose(GEGLU.backward(dyg, x: xg, c), GEGLU.referenceBackward(dyg, x: xg), floor: 0.05, "geglu backward")
    }

    /// |a − e| ≤ tolerance·(|e| + floor): relative per element, except below `floor`: far-tail results
    /// (e^(−64) for geluTanh at x = −9) inherit |argument|·ulp from the float argument itself, and
    /// derivatives cross zero (gelu' at x ≈ −0.75).
    private func assertPointwiseClose(_ a: Tensor, _ e: Tensor, floor: Double, tolerance: Double = 2e-6, _ label: String,
                                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, e.shape, label, file: file, line: line)
        var worst = 0.0, at = 0
        for i in 0..<e.count {
            let ev = Double(e.data[i]), av = Double(a.data[i])
            let err = abs(av - ev) / (abs(ev) + floor)
            if !(err <= worst) { worst = err.isNaN ? .infinity : err; at = i }
        }
        // 2e-6, not 1e-6: quickGelu's 1.702·x rounds in float, which alone costs |1.702x|·6e-8 relative.
        XCTAssertLessThanOrEqual(worst, tolerance, "\(label): worst \(worst) at [\(at)] \(a.data[at]) vs \(e.data[at])",
                                 file: file, line: line)
    }
}
