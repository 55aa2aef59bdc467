import XCTest
import Tensor
import TestSupport

final class CheckpointingTests: XCTestCase {
    let c = Compute(threads: 2)

    /// linear → square (a nonlinearity built from existing ops) → linear.
    func mlp(_ c: Compute, _ x: Tensor, _ w1: Tensor, _ b1: Tensor, _ w2: Tensor) -> Tensor {
        let h = c.linear(x, weight: w1, bias: b1)
        return c.linear(c.mul(h, h), weight: w2)
    }

    func params() -> (Tensor, Tensor, Tensor) {
        let w1 = randomTensor([9, 5], seed: 2, scale: 0.5), b1 = randomTensor([9], seed: 3)
        let w2 = randomTensor([4, 9], seed: 4, scale: 0.5)
        for t in [w1, b1, w2] { t.requiresGrad = true }
        return (w1, b1, w2)
    }

    func testGradientsMatchWithoutCheckpointing() {
        let (w1, b1, w2) = params()
        let x = randomTensor([3, 7, 5], seed: 1); x.requiresGrad = true
        let dOut = randomTensor([3, 7, 4], seed: 9)

        let plain = mlp(c, x, w1, b1, w2)
        plain.backward(seed: dOut, compute: c)
        let expected = [x.grad!, w1.grad!, b1.grad!, w2.grad!].map { $0.copy() }
        for t in [x, w1, b1, w2] { t.grad = nil }

        let ckpt = c.checkpoint([x]) { c, t in self.mlp(c, t[0], w1, b1, w2) }
        assertBitEqual(ckpt, plain, "forward")
        // No chain inside: one node whose inputs are exactly the block inputs.
        XCTAssertEqual(ckpt.node?.op, "checkpoint")
        XCTAssertEqual(ckpt.node?.inputs.count, 1)
        XCTAssertTrue(ckpt.node?.inputs.first === x)
        ckpt.backward(seed: dOut, compute: c)
        for (got, want) in zip([x.grad, w1.grad, b1.grad, w2.grad], expected) {
            XCTAssertNotNil(got)
            if let got { assertBitEqual(got, want) }
        }
    }

    func testParametersGetGradsWhenInputNeedsNone() {
        let (w1, b1, w2) = params()
        let x = randomTensor([6, 5], seed: 1)   // data: no grad
        let dOut = randomTensor([6, 4], seed: 9)
        mlp(c, x, w1, b1, w2).backward(seed: dOut, compute: c)
        let expected = [w1.grad!, b1.grad!, w2.grad!].map { $0.copy() }
        for t in [w1, b1, w2] { t.grad = nil }
        let y = c.checkpoint([x]) { c, t in self.mlp(c, t[0], w1, b1, w2) }
        XCTAssertNotNil(y.node)
        y.backward(seed: dOut, compute: c)
        for (got, want) in zip([w1.grad, b1.grad, w2.grad], expected) { assertClose(got, want, rtol: 0) }
        XCTAssertNil(x.grad)
    }

    func testNestedInGraphAndAccumulates() {
        // Two checkpointed blocks in sequence plus an ordinary op; grads accumulate over two backwards.
        let (w1, b1, w2) = params()
        let w3 = randomTensor([5, 4], seed: 5); w3.requiresGrad = true
        let x = randomTensor([2, 5], seed: 1); x.requiresGrad = true
        func net(_ c: Compute, ckpt: Bool) -> Tensor {
            let block: (Compute, [Tensor]) -> Tensor = { c, t in self.mlp(c, t[0], w1, b1, w2) }
            let h = ckpt ? c.checkpoint([x], block) : block(c, [x])
            let h2 = c.linear(h, weight: w3)
            return ckpt ? c.checkpoint([h2], block) : block(c, [h2])
        }
        for _ in 0..<2 { net(c, ckpt: false).backward(compute: c) }
        let expected = [x, w1, b1, w2, w3].map { $0.grad!.copy() }
        for t in [x, w1, b1, w2, w3] { t.grad = nil }
        for _ in 0..<2 { net(c, ckpt: true).backward(compute: c) }
        for (t, want) in zip([x, w1, b1, w2, w3], expected) { assertClose(t.grad, want, rtol: 1e-6) }
    }

    func testInferenceRecordsNothing() {
        let (w1, b1, w2) = params()
        let y = c.inference.checkpoint([randomTensor([2, 5])]) { c, t in self.mlp(c, t[0], w1, b1, w2) }
        XCTAssertNil(y.node)
    }

    func testFiniteDifferences() {
        let (w1, b1, w2) = params()
        let x = randomTensor([3, 5], seed: 1)
        assertGradientsMatchFiniteDifferences([x, w1]) { c, t in
            c.checkpoint([t[0]]) { c, u in self.mlp(c, u[0], t[1], b1, w2) }
        }
    }
}
