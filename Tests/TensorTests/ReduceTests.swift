import XCTest
import Tensor
import TestSupport

final class ReduceTests: XCTestCase {
    let c = Compute(threads: 2)

    private func checkReduceFamily(_ family: String, all: (Compute, Tensor) -> Tensor,
                                   dim: (Compute, Tensor, Int, Bool) -> Tensor) throws {
        let fx = try Fixtures.ops(family)
        XCTAssertEqual(fx.cases.count, 6)
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let y = fx.int(name, "dim").map { dim(c, x, $0, fx.bool(name, "keepdim")) } ?? all(c, x)
            assertClose(y, try fx.output(name), rtol: 1e-5, "\(family) \(name)")
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(family) \(name) dx")
        }
    }

    func testSumMatchesTorch() throws {
        try checkReduceFamily("sum", all: { $0.sum($1) }, dim: { $0.sum($1, dim: $2, keepDim: $3) })
    }

    func testMeanMatchesTorch() throws {
        try checkReduceFamily("mean", all: { $0.mean($1) }, dim: { $0.mean($1, dim: $2, keepDim: $3) })
    }

    func testFullReductionIsRankZero() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(c.sum(x).shape, [])
        XCTAssertEqual(c.sum(x).scalars, [21])
        XCTAssertEqual(c.mean(x).scalars, [3.5])
        XCTAssertEqual(c.sum(x, dim: 1).scalars, [6, 15])
        XCTAssertEqual(c.mean(x, dim: 0, keepDim: true).shape, [1, 3])
    }

    func testFastMatchesNaive() {
        let shapes: [[Int]] = [[7], [3, 5, 7], [2, 3, 4, 9], [1, 1, 5], [3, 70001], [70001, 3], [2, 300, 257], [1, 2, 40000]]
        for (k, shape) in shapes.enumerated() {
            let x = randomTensor(shape, seed: UInt64(k + 1))
            for d in 0..<shape.count {
                for keep in [false, true] {
                    assertClose(Reduce.sum(x, dim: d, keepDim: keep, c), Reduce.naiveSum(x, dim: d, keepDim: keep),
                                rtol: 1e-6, "\(shape) dim \(d)")
                }
            }
            var s = 0.0
            for v in x.buffer { s += Double(v) }
            XCTAssertEqual(Reduce.sumAll(x, c), s, accuracy: 1e-9 * Double(x.count), "\(shape)")
        }
        // The split of work does not depend on the thread count.
        let big = randomTensor([3, 70001], seed: 3)
        XCTAssertEqual(Reduce.sumAll(big, Compute(threads: 1)), Reduce.sumAll(big, Compute(threads: 2)))
    }

    func testFiniteDifferences() {
        let x = randomTensor([3, 4, 5], seed: 2)
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.sum(t[0]) }
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.mean(t[0]) }
        for d in [0, 1, -1] {
            assertGradientsMatchFiniteDifferences([x]) { c, t in c.sum(t[0], dim: d) }
            assertGradientsMatchFiniteDifferences([x]) { c, t in c.mean(t[0], dim: d, keepDim: true) }
        }
        let a = randomTensor([2, 3, 5], seed: 4), b = randomTensor([2, 3, 5], seed: 5)
        assertGradientsMatchFiniteDifferences([a, b]) { c, t in c.mse(t[0], t[1]) }
    }

    func testMSEMatchesTorch() throws {
        let fx = try Fixtures.ops("mse")
        XCTAssertEqual(fx.cases, ["flat", "nchw"])
        for name in fx.cases {
            let a = try fx.input(name, "a", requiresGrad: true), b = try fx.input(name, "b", requiresGrad: true)
            let y = c.mse(a, b)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(a.grad, try fx.grad(name, "a"), rtol: 1e-5, "\(name) da")
            assertClose(b.grad, try fx.grad(name, "b"), rtol: 1e-5, "\(name) db")
        }
    }

    func testMSEOnlyOneSideTrainable() {
        let a = randomTensor([10], seed: 1), b = randomTensor([10], seed: 2)
        a.requiresGrad = true
        c.mse(a, b).backward(compute: c)
        let expected = Tensor(shape: [10], values: zip(a.scalars, b.scalars).map { 2 * ($0 - $1) / 10 })
        assertClose(a.grad, expected, rtol: 1e-6)
        XCTAssertNil(b.grad)
    }
}
