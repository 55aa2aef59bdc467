import XCTest
import Tensor
import TestSupport

/// The bf16 attention forward against the fp64 reference, on ragged shapes (partial 12-row and 32-column
/// panels, odd D and Tk, one-row blocks, heads split between workers), and when `attention` takes it.
final class AttentionBF16Tests: XCTestCase {
    let c = Compute(threads: 2).inference.with(precision: .bf16)

    func testMatchesNaiveWithinBF16Accuracy() throws {
        try XCTSkipUnless(c.usesBF16, "no AVX512-BF16 on this CPU")
        for (b, n, tq, tk, d, block) in [(2, 3, 10, 13, 5, 3), (1, 2, 17, 77, 64, 16), (1, 1, 9, 33, 7, 1),
                                         (1, 1, 40, 40, 16, 7), (1, 3, 130, 65, 40, 25), (3, 1, 2, 3, 2, 1)] {
            let q = randomTensor([b, n, tq, d], seed: 15, scale: 2), k = randomTensor([b, n, tk, d], seed: 16, scale: 2)
            let v = randomTensor([b, n, tk, d], seed: 17)
            let ref = Attention.naiveForward(q, k, v, scale: 0.3).out
            let got = Attention.forwardBF16(q, k, v, scale: 0.3, blockRows: block, c)
            assertClose(got, ref, rtol: 2e-2, "\([b, n, tq, tk, d]) block \(block)")
            // bf16 really is in use: the result is not the fp32 one to fp32 accuracy.
            XCTAssertGreaterThan(maxRelativeDifference(got, ref), 1e-5)
        }
    }

    func testDispatch() throws {
        try XCTSkipUnless(c.usesBF16, "no AVX512-BF16 on this CPU")
        let q = randomTensor([1, 2, 20, 8], seed: 1), k = randomTensor([1, 2, 12, 8], seed: 2), v = randomTensor([1, 2, 12, 8], seed: 3)
        let fp32 = Attention.forward(q, k, v, saveLogSumExp: false, c.with(precision: .fp32)).out
        assertBitEqual(c.attention(q, k, v), Attention.forwardBF16(q, k, v, c))
        assertBitEqual(c.attention(q, k, v, causal: true), Attention.forward(q, k, v, causal: true, saveLogSumExp: false, c).out)
        assertBitEqual(c.with(precision: .fp32).attention(q, k, v), fp32)
    }

    /// max |a − b| / max |b|.
    func maxRelativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
        var diff: Float = 0, scale: Float = 0
        for i in 0..<a.count { diff = max(diff, abs(a.data[i] - b.data[i])); scale = max(scale, abs(b.data[i])) }
        return diff / max(scale, 1e-30)
    }
}
