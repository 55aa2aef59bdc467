import XCTest
import Tensor
import TestSupport

final class LinearTests: XCTestCase {
    let c = Compute(threads: 2)

    func testForwardAndBackwardMatchTorch() throws {
        let fx = try Fixtures.ops("linear")
        XCTAssertEqual(fx.cases, ["bias", "nobias"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let w = try fx.input(name, "weight", requiresGrad: true)
            let b = try fx.optionalInput(name, "bias", requiresGrad: true)
            let y = c.linear(x, weight: w, bias: b)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
            assertClose(w.grad, try fx.grad(name, "weight"), rtol: 1e-5, "\(name) dW")
            if let b { assertClose(b.grad, try fx.grad(name, "bias"), rtol: 1e-5, "\(name) db") }
        }
    }

    func testFiniteDifferences() {
        let x = randomTensor([4, 5], seed: 1), w = randomTensor([3, 5], seed: 2), b = randomTensor([3], seed: 3)
        assertGradientsMatchFiniteDifferences([x, w, b]) { c, t in c.linear(t[0], weight: t[1], bias: t[2]) }
    }

    func testInferenceRecordsNoGraph() {
        let w = randomTensor([3, 5], seed: 2); w.requiresGrad = true
        let y = c.inference.linear(randomTensor([2, 5]), weight: w)
        XCTAssertNil(y.node)
        XCTAssertNotNil(c.linear(randomTensor([2, 5]), weight: w).node)
    }
}
