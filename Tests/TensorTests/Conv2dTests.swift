import XCTest
import Tensor
import TestSupport

final class Conv2dTests: XCTestCase {
    let c = Compute(threads: 2)

    func testForwardAndBackwardMatchTorch() throws {
        let fx = try Fixtures.ops("conv2d")
        XCTAssertEqual(fx.cases.count, 7)
        for name in fx.cases {
            let stride = fx.int(name, "stride") ?? 1, padding = fx.int(name, "padding") ?? 0
            let x = try fx.input(name, "x", requiresGrad: true)
            let w = try fx.input(name, "weight", requiresGrad: true)
            let b = try fx.optionalInput(name, "bias", requiresGrad: true)
            let y = c.conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(x.grad, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
            assertClose(w.grad, try fx.grad(name, "weight"), rtol: 1e-5, "\(name) dW")
            if let b { assertClose(b.grad, try fx.grad(name, "bias"), rtol: 1e-5, "\(name) db") }
        }
    }

    /// The naive reference agrees with torch too, so fast == naive below is meaningful.
    func testNaiveMatchesTorch() throws {
        let fx = try Fixtures.ops("conv2d")
        for name in fx.cases {
            let stride = fx.int(name, "stride") ?? 1, padding = fx.int(name, "padding") ?? 0
            let x = try fx.input(name, "x"), w = try fx.input(name, "weight"), b = try fx.optionalInput(name, "bias")
            assertClose(Conv2d.naiveForward(x, weight: w, bias: b, stride: stride, padding: padding),
                        try fx.output(name), rtol: 1e-5, name)
            let g = Conv2d.naiveBackward(try fx.dout(name), x: x, weight: w, stride: stride, padding: padding)
            assertClose(g.dInput, try fx.grad(name, "x"), rtol: 1e-5, "\(name) dx")
            assertClose(g.dWeight, try fx.grad(name, "weight"), rtol: 1e-5, "\(name) dW")
            if b != nil { assertClose(g.dBias, try fx.grad(name, "bias"), rtol: 1e-5, "\(name) db") }
        }
    }

    /// Fast (im2col + GEMM, blocked) vs direct loops on odd shapes, with the block budget shrunk so
    /// every case runs many ragged blocks, including blocks that start and end mid-row.
    func testFastMatchesNaive() {
        // (B, C, H, W), (O, kh, kw), stride, padding
        let cases: [([Int], [Int], Int, Int)] = [
            ([2, 3, 7, 9], [5, 1, 1], 1, 0),
            ([2, 3, 7, 9], [5, 1, 1], 2, 1),
            ([2, 3, 7, 9], [5, 3, 3], 1, 1),
            ([2, 3, 7, 9], [5, 3, 3], 2, 1),
            ([2, 3, 7, 9], [5, 3, 3], 1, 0),
            ([1, 4, 10, 9], [3, 3, 3], 2, 0),
            ([2, 3, 13, 11], [5, 4, 4], 4, 0),
            ([1, 2, 6, 5], [3, 5, 5], 1, 2),
            ([1, 3, 5, 6], [2, 2, 3], 3, 1),
        ]
        for (i, (xs, ws, stride, padding)) in cases.enumerated() {
            let x = randomTensor(xs, seed: UInt64(3 * i + 1))
            let w = randomTensor([ws[0], xs[1], ws[1], ws[2]], seed: UInt64(3 * i + 2))
            let b = randomTensor([ws[0]], seed: UInt64(3 * i + 3))
            let label = "x \(xs) w \(w.shape) s\(stride) p\(padding)"
            let ref = Conv2d.naiveForward(x, weight: w, bias: b, stride: stride, padding: padding)
            let dy = randomTensor(ref.shape, seed: UInt64(100 + i))
            let refG = Conv2d.naiveBackward(dy, x: x, weight: w, stride: stride, padding: padding)
            // Whole-image block, then blocks of 5 and 1 pixel(s) (K floats each).
            for blockBytes in [Conv2d.defaultBlockBytes, 5 * 4 * w.count / ws[0], 4 * w.count / ws[0]] {
                let y = Conv2d.forward(x, weight: w, bias: b, stride: stride, padding: padding, blockBytes: blockBytes, c)
                assertClose(y, ref, rtol: 1e-5, "\(label) block \(blockBytes)")
                let yNoBias = Conv2d.forward(x, weight: w, bias: nil, stride: stride, padding: padding, blockBytes: blockBytes, c)
                let refNoBias = Conv2d.naiveForward(x, weight: w, bias: nil, stride: stride, padding: padding)
                assertClose(yNoBias, refNoBias, rtol: 1e-5, "\(label) nobias block \(blockBytes)")
                let g = Conv2d.backward(dy, x: x, weight: w, hasBias: true, stride: stride, padding: padding,
                                        blockBytes: blockBytes, c)
                assertClose(g.dInput, refG.dInput, rtol: 1e-5, "\(label) dx block \(blockBytes)")
                assertClose(g.dWeight, refG.dWeight, rtol: 1e-5, "\(label) dW block \(blockBytes)")
                assertClose(g.dBias, refG.dBias, rtol: 1e-5, "\(label) db block \(blockBytes)")
                // Each gradient alone (the other path skips its im2col / col2im).
                let gx = Conv2d.backward(dy, x: x, weight: w, hasBias: false, stride: stride, padding: padding,
                                         needWeight: false, blockBytes: blockBytes, c)
                XCTAssertNil(gx.dWeight); XCTAssertNil(gx.dBias)
                assertClose(gx.dInput, refG.dInput, rtol: 1e-5, "\(label) dx only")
                let gw = Conv2d.backward(dy, x: x, weight: w, hasBias: false, stride: stride, padding: padding,
                                         needInput: false, blockBytes: blockBytes, c)
                XCTAssertNil(gw.dInput)
                assertClose(gw.dWeight, refG.dWeight, rtol: 1e-5, "\(label) dW only")
            }
        }
    }

    /// Batches of small images go through the grouped path (several images per im2col + GEMM), including a
    /// ragged last group; pointwise and strided convs too. Same results as the direct loops.
    func testGroupedSmallImagesMatchNaive() {
        let cases: [([Int], [Int], Int, Int)] = [
            ([5, 6, 4, 4], [7, 3, 3], 1, 1),
            ([5, 6, 8, 8], [9, 1, 1], 1, 0),
            ([3, 4, 8, 8], [4, 3, 3], 2, 1),
            ([7, 8, 5, 5], [12, 3, 3], 1, 1),
        ]
        for (i, (xs, ws, stride, padding)) in cases.enumerated() {
            let x = randomTensor(xs, seed: UInt64(40 + i)), w = randomTensor([ws[0], xs[1], ws[1], ws[2]], seed: UInt64(50 + i))
            let b = randomTensor([ws[0]], seed: UInt64(60 + i))
            let ref = Conv2d.naiveForward(x, weight: w, bias: b, stride: stride, padding: padding)
            let dy = randomTensor(ref.shape, seed: UInt64(70 + i))
            let refG = Conv2d.naiveBackward(dy, x: x, weight: w, stride: stride, padding: padding)
            let k = w.count / ws[0], pixels = ref.dim(2) * ref.dim(3)
            // Whole batch in one group, then groups of two images (the last one ragged when B is odd).
            for blockBytes in [Conv2d.defaultBlockBytes, 2 * pixels * k * 4] {
                let group = Conv2d.groupSize(batch: xs[0], pixels: pixels, k: k, blockBytes: blockBytes)
                XCTAssertGreaterThan(group, 1, "case \(i) takes the grouped path")
                let label = "case \(i) group \(group)"
                assertClose(Conv2d.forward(x, weight: w, bias: b, stride: stride, padding: padding, blockBytes: blockBytes, c),
                            ref, rtol: 1e-5, label)
                assertClose(Conv2d.forward(x, weight: w, bias: nil, stride: stride, padding: padding, blockBytes: blockBytes, c),
                            Conv2d.naiveForward(x, weight: w, bias: nil, stride: stride, padding: padding), rtol: 1e-5, label)
                let g = Conv2d.backward(dy, x: x, weight: w, hasBias: true, stride: stride, padding: padding,
                                        blockBytes: blockBytes, c)
                assertClose(g.dInput, refG.dInput, rtol: 1e-5, "\(label) dx")
                assertClose(g.dWeight, refG.dWeight, rtol: 1e-5, "\(label) dW")
                assertClose(g.dBias, refG.dBias, rtol: 1e-5, "\(label) db")
                let gw = Conv2d.backward(dy, x: x, weight: w, hasBias: false, stride: stride, padding: padding,
                                         needInput: false, blockBytes: blockBytes, c)
                XCTAssertNil(gw.dInput)
                assertClose(gw.dWeight, refG.dWeight, rtol: 1e-5, "\(label) dW only")
            }
        }
    }

    /// A shape large enough that im2col and col2im split rows/channels across both threads.
    func testFastMatchesNaiveMultithreaded() {
        let x = randomTensor([1, 32, 19, 23], seed: 5), w = randomTensor([7, 32, 3, 3], seed: 6, scale: 0.2)
        let b = randomTensor([7], seed: 8)
        let ref = Conv2d.naiveForward(x, weight: w, bias: b, stride: 1, padding: 1)
        let dy = randomTensor(ref.shape, seed: 9)
        let refG = Conv2d.naiveBackward(dy, x: x, weight: w, stride: 1, padding: 1)
        for blockBytes in [Conv2d.defaultBlockBytes, 4 * 288 * 37] {
            assertClose(Conv2d.forward(x, weight: w, bias: b, padding: 1, blockBytes: blockBytes, c), ref, rtol: 1e-5)
            let g = Conv2d.backward(dy, x: x, weight: w, hasBias: true, padding: 1, blockBytes: blockBytes, c)
            assertClose(g.dInput, refG.dInput, rtol: 1e-5)
            assertClose(g.dWeight, refG.dWeight, rtol: 1e-5)
            assertClose(g.dBias, refG.dBias, rtol: 1e-5)
        }
    }

    func testFiniteDifferences() {
        let configs: [(k: Int, stride: Int, padding: Int)] = [(1, 1, 0), (3, 1, 1), (3, 2, 1), (4, 4, 0)]
        for (i, cfg) in configs.enumerated() {
            let x = randomTensor([2, 2, 8, 7], seed: UInt64(10 + i))
            let w = randomTensor([3, 2, cfg.k, cfg.k], seed: UInt64(20 + i), scale: 0.5)
            let b = randomTensor([3], seed: UInt64(30 + i))
            assertGradientsMatchFiniteDifferences([x, w, b]) { c, t in
                c.conv2d(t[0], weight: t[1], bias: t[2], stride: cfg.stride, padding: cfg.padding)
            }
        }
    }

    func testOutputSizeAndInferenceRecordsNoGraph() {
        XCTAssertEqual(Conv2d.outputSize(7, kernel: 3, stride: 2, padding: 1), 4)
        XCTAssertEqual(Conv2d.outputSize(10, kernel: 3, stride: 2, padding: 0), 4)
        XCTAssertEqual(Conv2d.outputSize(11, kernel: 4, stride: 4, padding: 0), 2)
        let w = randomTensor([3, 2, 3, 3], seed: 2); w.requiresGrad = true
        let x = randomTensor([1, 2, 5, 5])
        XCTAssertNil(c.inference.conv2d(x, weight: w, padding: 1).node)
        let y = c.conv2d(x, weight: w, padding: 1)
        XCTAssertEqual(y.shape, [1, 3, 5, 5])
        XCTAssertNotNil(y.node)
    }
}
