import XCTest
import Foundation
import Tensor
import TestSupport
import CKernels

final class SoftmaxTests: XCTestCase {
    let c = Compute(threads: 2)

    func testForwardAndBackwardMatchTorch() throws {
        let fx = try Fixtures.ops("softmax")
        XCTAssertEqual(fx.cases, ["large", "small", "wide"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let y = c.softmax(x)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
        }
    }

    func testFiniteDifferences() {
        let x = randomTensor([3, 2, 9], seed: 5, scale: 2)
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.softmax(t[0]) }
    }

    func testFastMatchesNaiveOnOddShapes() {
        // Widths below, at and above the kernel's 16-lane blocks, and many rows (several threads).
        for shape in [[1, 1], [7, 15], [5, 16], [3, 33], [301, 129]] {
            let x = randomTensor(shape, seed: 6, scale: 8)
            let y = Softmax.forward(x, c)
            assertClose(y, Softmax.naiveForward(x), rtol: 1e-6, "\(shape)")
            for r in 0..<shape[0] {
                var s: Float = 0
                for j in 0..<shape[1] { s += y.data[r * shape[1] + j] }
                XCTAssertEqual(s, 1, accuracy: 1e-5)
            }
        }
    }

    func testLargeLogitsStayFinite() {
        let x = Tensor(shape: [2, 3], values: [1e4, 1e4 - 1, -1e4, -3e4, -3e4 + 2, -3e4])
        let y = Softmax.forward(x, c)
        XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite })
        assertClose(y, Softmax.naiveForward(x), rtol: 1e-6)
    }

    func testPolynomialExpMatchesLibm() {
        // Dense sweep of the range softmax uses (x ≤ 0) plus positive values, relative to Double exp.
        let xs = (0..<200_001).map { Float(-87 + Double($0) * (175.0 / 200_000)) }
        var ys = [Float](repeating: 0, count: xs.count)
        sumi_exp(xs, &ys, xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) - Foundation.exp(Double(x))) / Foundation.exp(Double(x))) }
        XCTAssertLessThan(worst, 3e-7)
        var below: Float = 0, inf = -Float.infinity
        sumi_exp(&inf, &below, 1)
        XCTAssertEqual(below, 0)
    }
}
