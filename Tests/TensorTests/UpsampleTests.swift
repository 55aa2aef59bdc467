import XCTest
import Tensor
import TestSupport

final class UpsampleTests: XCTestCase {
    let c = Compute(threads: 2)

    func testForwardAndBackwardMatchTorch() throws {
        let fx = try Fixtures.ops("upsample")
        XCTAssertEqual(fx.cases, ["odd", "single"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let y = c.upsampleNearest2x(x)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
        }
    }

    func testFastMatchesNaive() {
        // The large shape splits rows across both threads.
        for shape in [[2, 3, 5, 7], [1, 1, 1, 1], [1, 8, 33, 65]] {
            let x = randomTensor(shape, seed: 3)
            let y = UpsampleNearest2x.forward(x, c)
            assertBitEqual(y, UpsampleNearest2x.naiveForward(x))
            let dy = randomTensor(y.shape, seed: 4)
            assertClose(UpsampleNearest2x.backward(dy, c), UpsampleNearest2x.naiveBackward(dy), rtol: 1e-6)
        }
    }

    func testFiniteDifferences() {
        let x = randomTensor([2, 2, 3, 5], seed: 1)
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.upsampleNearest2x(t[0]) }
    }
}
