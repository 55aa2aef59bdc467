import XCTest
import Tensor
import TestSupport

final class MatMulTests: XCTestCase {
    let c = Compute(threads: 2)

    func testForwardAndBackwardMatchTorch() throws {
        let fx = try Fixtures.ops("bmm")
        XCTAssertEqual(fx.cases, ["plain", "single", "transB"])
        for name in fx.cases {
            let a = try fx.input(name, "a", requiresGrad: true)
            let b = try fx.input(name, "b", requiresGrad: true)
            let y = c.bmm(a, b, transB: fx.bool(name, "transB"))
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(a.grad, try fx.grad(name, "a"), rtol: 1e-5, "\(name) da")
            assertClose(b.grad, try fx.grad(name, "b"), rtol: 1e-5, "\(name) db")
        }
    }

    func testFiniteDifferences() {
        for transB in [false, true] {
            let a = randomTensor([2, 3, 5], seed: 1)
            let b = randomTensor(transB ? [2, 4, 5] : [2, 5, 4], seed: 2)
            assertGradientsMatchFiniteDifferences([a, b]) { c, t in c.bmm(t[0], t[1], transB: transB) }
        }
    }

    func testBLASMatchesNaiveOnOddShapes() {
        for (batch, m, k, n) in [(1, 1, 1, 1), (3, 7, 13, 5), (2, 33, 17, 65)] {
            for transB in [false, true] {
                let a = randomTensor([batch, m, k], seed: 3)
                let b = randomTensor(transB ? [batch, n, k] : [batch, k, n], seed: 4)
                assertClose(BatchedMatMul.forward(a, b, transB: transB, c),
                            BatchedMatMul.naiveForward(a, b, transB: transB), rtol: 1e-5, "\(batch)x\(m)x\(k)x\(n) \(transB)")
            }
        }
    }

    func testInferenceRecordsNoGraph() {
        let a = randomTensor([1, 2, 3]); a.requiresGrad = true
        XCTAssertNil(c.inference.bmm(a, randomTensor([1, 3, 2])).node)
        XCTAssertNotNil(c.bmm(a, randomTensor([1, 3, 2])).node)
    }
}
