import XCTest
import Foundation
import Tensor
import TestSupport

final class AttentionTests: XCTestCase {
    let c = Compute(threads: 2)

    func testForwardAndBackwardMatchTorch() throws {
        let fx = try Fixtures.ops("attention")
        XCTAssertEqual(fx.cases, ["causal_self", "causal_tall", "causal_wide", "cross", "scaled", "self"])
        for name in fx.cases {
            let q = try fx.input(name, "q", requiresGrad: true)
            let k = try fx.input(name, "k", requiresGrad: true)
            let v = try fx.input(name, "v", requiresGrad: true)
            let y = c.attention(q, k, v, scale: fx.float(name, "scale"), causal: fx.bool(name, "causal"))
            assertClose(y, try fx.output(name), rtol: 1e-5, name)
            y.backward(seed: try fx.dout(name), compute: c)
            assertClose(q.grad, try fx.grad(name, "q"), rtol: 1e-5, "\(name) dq")
            assertClose(k.grad, try fx.grad(name, "k"), rtol: 1e-5, "\(name) dk")
            assertClose(v.grad, try fx.grad(name, "v"), rtol: 1e-5, "\(name) dv")
        }
    }

    func testFiniteDifferences() {
        let q = randomTensor([1, 2, 5, 4], seed: 1), k = randomTensor([1, 2, 6, 4], seed: 2)
        let v = randomTensor([1, 2, 6, 4], seed: 3)
        assertGradientsMatchFiniteDifferences([q, k, v]) { c, t in c.attention(t[0], t[1], t[2]) }
        // Self-attention with one tensor as q, k and v: the three gradients must add up.
        let x = randomTensor([1, 1, 7, 3], seed: 4)
        assertGradientsMatchFiniteDifferences([x]) { c, t in c.attention(t[0], t[0], t[0], scale: 0.8) }
        assertGradientsMatchFiniteDifferences([q, k, v]) { c, t in c.attention(t[0], t[1], t[2], causal: true) }
    }

    func testCausalChunkedMatchesNaive() {
        // Blocks that start before, on and after the diagonal; Tq < Tk, Tq > Tk; one-row blocks.
        for (b, n, tq, tk, d, block) in [(2, 3, 10, 10, 5, 3), (1, 2, 17, 17, 8, 16), (1, 1, 9, 33, 7, 1),
                                         (1, 1, 40, 23, 16, 7), (1, 3, 7, 5, 3, 3), (3, 1, 77, 77, 4, 77)] {
            let q = randomTensor([b, n, tq, d], seed: 21, scale: 2), k = randomTensor([b, n, tk, d], seed: 22, scale: 2)
            let v = randomTensor([b, n, tk, d], seed: 23), dOut = randomTensor([b, n, tq, d], seed: 24)
            let tag = "causal \([b, n, tq, tk, d]) block \(block)"
            let (out, lse) = Attention.forward(q, k, v, causal: true, saveLogSumExp: true, blockRows: block, c)
            let ref = Attention.naiveForward(q, k, v, causal: true)
            assertClose(out, ref.out, rtol: 1e-5, tag)
            let g = Attention.backward(dOut, q: q, k: k, v: v, out: out, logSumExp: lse!, causal: true, blockRows: block, c)
            let r = Attention.naiveBackward(dOut, q: q, k: k, v: v, probs: ref.probs)
            assertClose(g.dQ, r.dQ, rtol: 1e-5, "\(tag) dq")
            assertClose(g.dK, r.dK, rtol: 1e-5, "\(tag) dk")
            assertClose(g.dV, r.dV, rtol: 1e-5, "\(tag) dv")
            assertClose(Attention.forward(q, k, v, causal: true, saveLogSumExp: false, c).out, ref.out, rtol: 1e-5, tag)
            // The first query sees only the first key: its output is that key's value row.
            for h in 0..<(b * n) {
                for t in 0..<d { XCTAssertEqual(out.data[h * tq * d + t], v.data[h * tk * d + t], accuracy: 1e-6, tag) }
            }
        }
    }

    func testChunkedMatchesNaiveOnRaggedBlocks() {
        // Tq ≠ Tk, Tq not a multiple of the block, D odd, a block of one row, several heads; with two
        // workers, 9 jobs (3 heads × 3 blocks) and the single-head cases split a head between workers.
        for (b, n, tq, tk, d, block) in [(2, 3, 10, 13, 5, 3), (1, 2, 17, 4, 8, 16), (1, 1, 9, 33, 7, 1),
                                         (1, 1, 40, 40, 16, 7), (1, 3, 7, 5, 3, 3), (3, 1, 2, 3, 2, 1)] {
            let q = randomTensor([b, n, tq, d], seed: 5, scale: 2), k = randomTensor([b, n, tk, d], seed: 6, scale: 2)
            let v = randomTensor([b, n, tk, d], seed: 7), dOut = randomTensor([b, n, tq, d], seed: 8)
            let tag = "\([b, n, tq, tk, d]) block \(block)"
            let (out, lse) = Attention.forward(q, k, v, saveLogSumExp: true, blockRows: block, c)
            let ref = Attention.naiveForward(q, k, v)
            assertClose(out, ref.out, rtol: 1e-5, tag)
            let g = Attention.backward(dOut, q: q, k: k, v: v, out: out, logSumExp: lse!, blockRows: block, c)
            let r = Attention.naiveBackward(dOut, q: q, k: k, v: v, probs: ref.probs)
            assertClose(g.dQ, r.dQ, rtol: 1e-5, "\(tag) dq")
            assertClose(g.dK, r.dK, rtol: 1e-5, "\(tag) dk")
            assertClose(g.dV, r.dV, rtol: 1e-5, "\(tag) dv")
            // The unblocked default path agrees too, and the saved log-sum-exp does not change the output.
            assertClose(Attention.forward(q, k, v, saveLogSumExp: false, c).out, ref.out, rtol: 1e-5, tag)
        }
    }

    func testInferenceRecordsNoGraph() {
        let q = randomTensor([1, 1, 3, 2]); q.requiresGrad = true
        let kv = randomTensor([1, 1, 4, 2])
        XCTAssertNil(c.inference.attention(q, kv, kv).node)
        XCTAssertNotNil(c.attention(q, kv, kv).node)
    }

    /// 16,384 tokens × 512 channels, one head: the full score matrix alone would be 1 GiB.
    func testLongSequenceStaysWithinMemoryBound() throws {
        let t = 16_384, d = 512
        let q = randomTensor([1, 1, t, d], seed: 9), k = randomTensor([1, 1, t, d], seed: 10)
        let v = randomTensor([1, 1, t, d], seed: 11)
        resetPeakRSS()
        let before = try XCTUnwrap(peakRSSBytes())
        let out = c.inference.attention(q, k, v)
        let delta = try XCTUnwrap(peakRSSBytes()) - before
        print("attention \(t)x\(d): VmHWM delta \(delta >> 20) MiB")
        XCTAssertLessThan(delta, 1 << 30)
        XCTAssertEqual(out.shape, [1, 1, t, d])
        XCTAssertTrue(out.data[0].isFinite && out.data[out.count - 1].isFinite)
    }

    /// Prints GFLOP/s for 4,096 tokens × 10 heads × 64 against plain sgemm; runs only with SUMI_BENCH=1.
    func testReportThroughput() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["SUMI_BENCH"] == "1", "set SUMI_BENCH=1 to measure")
        let m = 2048
        let a = randomTensor([1, m, m], seed: 1), b = randomTensor([1, m, m], seed: 2)
        _ = BatchedMatMul.forward(a, b, c)
        let gemmSeconds = bestOf(3) { _ = BatchedMatMul.forward(a, b, c) }
        let gemmRate = 2 * pow(Double(m), 3) / gemmSeconds / 1e9
        let (n, t, d) = (10, 4096, 64)
        let x = randomTensor([1, n, t, d], seed: 3)
        let attnSeconds = bestOf(3) { _ = Attention.forward(x, x, x, saveLogSumExp: false, c) }
        let flops = 4 * Double(n) * Double(t) * Double(t) * Double(d)
        let attnRate = flops / attnSeconds / 1e9
        let out = Attention.forward(x, x, x, saveLogSumExp: true, c)
        let bwdSeconds = bestOf(2) {
            _ = Attention.backward(x, q: x, k: x, v: x, out: out.out, logSumExp: out.logSumExp!, c)
        }
        print(String(format: "sgemm %.1f GFLOP/s; attention fwd %.3f s = %.1f GFLOP/s (%.0f%% of sgemm); bwd %.3f s = %.1f GFLOP/s",
                     gemmRate, attnSeconds, attnRate, 100 * attnRate / gemmRate, bwdSeconds, 2 * flops / bwdSeconds / 1e9))
    }
}

private func bestOf(_ runs: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
}

/// Peak resident set size (VmHWM) of this process in bytes.
private func peakRSSBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        return kb.map { $0 * 1024 }
    }
    return nil
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0) so earlier tests' peaks do not hide this one's.
private func resetPeakRSS() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}
