import XCTest
import Tensor
import TestSupport

final class ShapeTests: XCTestCase {
    let c = Compute(threads: 2)

    func testPermuteMatchesTorch() throws {
        let fx = try Fixtures.ops("permute")
        XCTAssertEqual(fx.cases, ["general", "heads", "nchw", "nhwc"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let y = c.permute(x, try XCTUnwrap(fx.ints(name, "dims")))
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
        }
    }

    func testConcatMatchesTorch() throws {
        let fx = try Fixtures.ops("concat")
        XCTAssertEqual(fx.cases, ["dim0", "dim1", "dimlast"])
        for name in fx.cases {
            let n = try XCTUnwrap(fx.int(name, "n"))
            let xs = try (0..<n).map { try fx.input(name, "x\($0)", requiresGrad: true) }
            let y = c.concat(xs, dim: try XCTUnwrap(fx.int(name, "dim")))
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            for (i, x) in xs.enumerated() { assertClose(x.grad, try fx.grad(name, "x\(i)"), rtol: 1e-5, "\(name) dx\(i)") }
        }
    }

    func testSplitMatchesTorch() throws {
        let fx = try Fixtures.ops("split")
        XCTAssertEqual(fx.cases, ["dim0", "dim1", "dimlast"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let ys = c.split(x, sizes: try XCTUnwrap(fx.ints(name, "sizes")), dim: try XCTUnwrap(fx.int(name, "dim")))
            // One loss over every piece, so the graph joins at x the way torch's does.
            let loss = ys.enumerated().map { i, y in c.sum(c.mul(y, try! fx.dout(name, i))) }.reduce(nil as Tensor?) { acc, t in
                acc.map { c.add($0, t) } ?? t
            }!
            for (i, y) in ys.enumerated() { assertClose(y, try fx.output(name, i), rtol: 1e-5, "\(name) out \(i)") }
            loss.backward(compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
        }
    }

    func testSplitPartiallyUsed() {
        let x = randomTensor([2, 7, 3], seed: 1); x.requiresGrad = true
        let parts = c.split(x, sizes: [2, 4, 1], dim: 1)
        c.sum(c.scale(parts[1], by: 2)).backward(compute: c)
        let g = try! XCTUnwrap(x.grad)
        for b in 0..<2 { for t in 0..<7 { for k in 0..<3 {
            XCTAssertEqual(g.data[(b * 7 + t) * 3 + k], (2..<6).contains(t) ? 2 : 0, "[\(b), \(t), \(k)]")
        } } }
        // Two of three pieces used: the unused range stays zero.
        let w = randomTensor([5, 4], seed: 2); w.requiresGrad = true
        let p = c.chunk(w, 3, dim: 0)
        XCTAssertEqual(p.map(\.shape), [[2, 4], [2, 4], [1, 4]])
        c.sum(c.add(c.sum(p[0]), c.scale(c.sum(p[2]), by: 3))).backward(compute: c)
        XCTAssertEqual(w.grad?.scalars, [Float](repeating: 1, count: 8) + [Float](repeating: 0, count: 8) + [3, 3, 3, 3])
    }

    func testSliceMatchesTorch() throws {
        let fx = try Fixtures.ops("slice")
        XCTAssertEqual(fx.cases, ["dim0", "dim1", "dimlast"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let y = c.slice(x, dim: try XCTUnwrap(fx.int(name, "dim")), start: try XCTUnwrap(fx.int(name, "start")),
                            length: try XCTUnwrap(fx.int(name, "length")))
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
        }
    }

    func testPermuteFastMatchesNaive() {
        func permutations(_ n: Int) -> [[Int]] {
            n == 0 ? [[]] : permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
        }
        let x4 = randomTensor([3, 5, 7, 11], seed: 1)
        for p in permutations(4) { assertBitEqual(c.permute(x4, p), Permute.naiveForward(x4, p), "\(p)") }
        let x5 = randomTensor([2, 1, 3, 4, 5], seed: 2)
        for p in permutations(5) { assertBitEqual(c.permute(x5, p), Permute.naiveForward(x5, p), "\(p)") }
        // Above the parallel grain and with partial tiles: NCHW ↔ NHWC and a head split.
        let big = randomTensor([2, 33, 40, 37], seed: 3)
        for p in [[0, 2, 3, 1], [0, 3, 1, 2], [0, 2, 1, 3], [3, 2, 1, 0]] {
            assertBitEqual(c.permute(big, p), Permute.naiveForward(big, p), "\(p)")
        }
        let scalar = Tensor(shape: [1, 1], values: [4])
        XCTAssertEqual(c.permute(scalar, [1, 0]).scalars, [4])
    }

    func testTransposeReshapeChunk() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let t = c.transpose(x, 0, -1)
        XCTAssertEqual(t.shape, [3, 2])
        XCTAssertEqual(t.scalars, [1, 4, 2, 5, 3, 6])
        let r = c.reshape(x, [3, -1])
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertTrue(r.storage === x.storage, "reshape must not copy")
        XCTAssertEqual(c.chunk(x, 2, dim: 1).map(\.scalars), [[1, 2, 4, 5], [3, 6]])
        XCTAssertEqual(c.chunk(x, 3, dim: 0).count, 2)
        XCTAssertEqual(c.slice(x, dim: 1, start: -1, length: 1).scalars, [3, 6])
    }

    func testFiniteDifferences() {
        let x = randomTensor([2, 3, 4, 5], seed: 1)
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.reshape(t[0], [6, -1]) }
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.permute(t[0], [0, 2, 3, 1]) }
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.permute(t[0], [0, 2, 1, 3]) }
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.transpose(t[0], 1, 3) }
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.slice(t[0], dim: 2, start: 1, length: 2) }
        assertGradientsMatchFiniteDifferences([x]) { c, t in
            let p = c.split(t[0], sizes: [1, 3, 1], dim: -1)
            return c.add(c.mul(p[0], p[2]), c.sum(p[1], dim: -1, keepDim: true))
        }
        let y = randomTensor([2, 1, 4, 5], seed: 2), z = randomTensor([2, 2, 4, 5], seed: 3)
        assertGradientsMatchFiniteDifferences([x, y, z]) { c, t in c.concat(t, dim: 1) }
        assertGradientsMatchFiniteDifferences([x, x]) { c, t in c.concat(t, dim: -1) }
    }
}
