import XCTest
import Tensor
import TestSupport

final class NormTests: XCTestCase {
    let c = Compute(threads: 2)

    // MARK: - Group norm

    func testGroupNormMatchesTorch() throws {
        let fx = try Fixtures.ops("group_norm")
        XCTAssertEqual(fx.cases.count, 7)
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let w = try fx.optionalInput(name, "weight", requiresGrad: true)
            let b = try fx.optionalInput(name, "bias", requiresGrad: true)
            let groups = try XCTUnwrap(fx.int(name, "groups")), eps = try XCTUnwrap(fx.float(name, "eps"))
            let y = fx.bool(name, "silu")
                ? c.groupNormSiLU(x, groups: groups, weight: w, bias: b, eps: eps)
                : c.groupNorm(x, groups: groups, weight: w, bias: b, eps: eps)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
            if let w { assertClose(w.grad, try fx.grad(name, "weight"), rtol: 1e-5, "\(name) dW") }
            if let b { assertClose(b.grad, try fx.grad(name, "bias"), rtol: 1e-5, "\(name) db") }
        }
    }

    func testGroupNormFiniteDifferences() {
        for silu in [false, true] {
            let x = randomTensor([2, 6, 3, 5], seed: 1, scale: 2), w = randomTensor([6], seed: 2), b = randomTensor([6], seed: 3)
            assertGradientsMatchFiniteDifferences([x, w, b]) { c, t in
                silu ? c.groupNormSiLU(t[0], groups: 3, weight: t[1], bias: t[2])
                     : c.groupNorm(t[0], groups: 3, weight: t[1], bias: t[2])
            }
        }
        let x = randomTensor([1, 4, 9], seed: 4, scale: 2)
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.groupNorm(t[0], groups: 2, weight: nil, bias: nil) }
    }

    func testGroupNormFastMatchesNaive() {
        let shapes: [([Int], Int)] = [([3, 10, 7, 9], 5), ([2, 4, 33], 4), ([2, 6], 3), ([1, 12, 1, 1], 12), ([2, 64, 17, 19], 32)]
        for (i, (shape, groups)) in shapes.enumerated() {
            let ch = shape[1]
            let x = randomTensor(shape, seed: UInt64(10 + i), scale: 3)
            let w = randomTensor([ch], seed: 20), b = randomTensor([ch], seed: 21)
            let dy = randomTensor(shape, seed: 22)
            for silu in [false, true] {
                for affine in [true, false] {
                    let (wt, bt) = affine ? (w, b) : (nil, nil)
                    let label = "\(shape) g\(groups) silu \(silu) affine \(affine)"
                    let (y, cache) = GroupNorm.forward(x, groups: groups, weight: wt, bias: bt, silu: silu, c)
                    assertClose(y, GroupNorm.reference(x, groups: groups, weight: wt, bias: bt, silu: silu), rtol: 1e-6, label)
                    let g = GroupNorm.backward(dy, x: x, groups: groups, weight: wt, bias: bt, cache: cache, silu: silu, c)
                    let r = GroupNorm.referenceBackward(dy, x: x, groups: groups, weight: wt, bias: bt, silu: silu)
                    // dx = rstd·(w·dy − …) cancels to ~0 for groups of 1–2 elements, so measure its error
                    // against the size of its terms, rstd·|w|·|dy|.
                    let terms = Double(cache.rstd.max()!) * (wt.map(maxAbs) ?? 1) * maxAbs(dy)
                    assertAbsClose(g.dInput!, r.dInput, tolerance: 2e-6 * max(maxAbs(r.dInput), terms), "\(label) dx")
                    if affine {
                        assertClose(g.dWeight, r.dWeight, rtol: 2e-6, "\(label) dW")
                        assertClose(g.dBias, r.dBias, rtol: 2e-6, "\(label) db")
                        // Parameter grads alone (frozen input): the silu path then skips its stash.
                        let p = GroupNorm.backward(dy, x: x, groups: groups, weight: wt, bias: bt, cache: cache,
                                                   silu: silu, needInput: false, c)
                        XCTAssertNil(p.dInput)
                        assertBitEqual(p.dWeight!, g.dWeight!, "\(label) dW only")
                    }
                }
            }
        }
    }

    /// 20 channels × 128×128 in one group (VAE decoder scale) and a large mean: statistics must hold.
    func testGroupNormLargeGroupsKeepPrecision() {
        let shape = [1, 40, 128, 128]
        let x = randomTensor(shape, seed: 5, scale: 1)
        for i in 0..<x.count { x.data[i] = x.data[i] * 0.25 + 12 }
        let (y, _) = GroupNorm.forward(x, groups: 2, weight: nil, bias: nil, c)
        assertClose(y, GroupNorm.reference(x, groups: 2, weight: nil, bias: nil), rtol: 2e-6)
    }

    private func maxAbs(_ t: Tensor) -> Double { t.buffer.reduce(0) { max($0, Double(abs($1))) } }

    private func assertAbsClose(_ a: Tensor, _ e: Tensor, tolerance: Double, _ label: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, e.shape, label, file: file, line: line)
        var worst = 0.0
        for i in 0..<min(a.count, e.count) { worst = max(worst, abs(Double(a.data[i]) - Double(e.data[i]))) }
        XCTAssertLessThanOrEqual(worst, tolerance, label, file: file, line: line)
    }

    // MARK: - Layer norm

    func testLayerNormMatchesTorch() throws {
        let fx = try Fixtures.ops("layer_norm")
        XCTAssertEqual(fx.cases, ["affine", "noaffine", "offset"])
        for name in fx.cases {
            let x = try fx.input(name, "x", requiresGrad: true)
            let w = try fx.optionalInput(name, "weight", requiresGrad: true)
            let b = try fx.optionalInput(name, "bias", requiresGrad: true)
            let y = c.layerNorm(x, weight: w, bias: b, eps: try XCTUnwrap(fx.float(name, "eps")))
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
            if let w { assertClose(w.grad, try fx.grad(name, "weight"), rtol: 1e-5, "\(name) dW") }
            if let b { assertClose(b.grad, try fx.grad(name, "bias"), rtol: 1e-5, "\(name) db") }
        }
    }

    func testLayerNormFiniteDifferences() {
        let x = randomTensor([3, 2, 7], seed: 1, scale: 2), w = randomTensor([7], seed: 2), b = randomTensor([7], seed: 3)
        assertGradientsMatchFiniteDifferences([x, w, b]) { c, t in c.layerNorm(t[0], weight: t[1], bias: t[2]) }
        let x2 = randomTensor([4, 5], seed: 4, scale: 2)
        assertGradientsMatchFiniteDifferences([x2]) { c, t in c.layerNorm(t[0], weight: nil, bias: nil) }
    }

    func testLayerNormFastMatchesNaive() {
        // Enough rows (257 × 129) that the backward splits over both threads' column accumulators.
        for (i, shape) in [[5, 3, 129], [257, 129], [1, 2048], [7, 1]].enumerated() {
            let d = shape.last!
            let x = randomTensor(shape, seed: UInt64(30 + i), scale: 3)
            if i == 1 { for j in 0..<x.count { x.data[j] += 40 } }
            let w = randomTensor([d], seed: 40), b = randomTensor([d], seed: 41), dy = randomTensor(shape, seed: 42)
            for affine in [true, false] {
                let (wt, bt) = affine ? (w, b) : (nil, nil)
                let label = "\(shape) affine \(affine)"
                let (y, cache) = LayerNorm.forward(x, weight: wt, bias: bt, c)
                assertClose(y, LayerNorm.reference(x, weight: wt, bias: bt), rtol: 1e-6, label)
                let g = LayerNorm.backward(dy, x: x, weight: wt, bias: bt, cache: cache, c)
                let r = LayerNorm.referenceBackward(dy, x: x, weight: wt, bias: bt)
                if d > 1 { assertClose(g.dInput, r.dInput, rtol: 2e-6, "\(label) dx") }
                if affine {
                    assertClose(g.dWeight, r.dWeight, rtol: 2e-6, "\(label) dW")
                    assertClose(g.dBias, r.dBias, rtol: 2e-6, "\(label) db")
                }
            }
        }
    }

    func testInferenceRecordsNoGraph() {
        let w = randomTensor([6], seed: 2); w.requiresGrad = true
        XCTAssertNil(c.inference.groupNorm(randomTensor([1, 6, 2]), groups: 3, weight: w, bias: nil).node)
        XCTAssertNotNil(c.groupNormSiLU(randomTensor([1, 6, 2]), groups: 3, weight: w, bias: nil).node)
        XCTAssertNil(c.inference.layerNorm(randomTensor([2, 6]), weight: w, bias: nil).node)
    }
}
