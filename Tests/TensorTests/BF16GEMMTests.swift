import XCTest
import Tensor
import TestSupport

/// The bf16 GEMM (AVX512-BF16, fp32 accumulation) against plain loops on bf16-rounded operands, and the
/// bf16 linear / conv paths against fp32.
final class BF16GEMMTests: XCTestCase {
    let c = Compute(threads: 2)
    var bf: Compute { c.inference.with(precision: .bf16) }

    override func setUpWithError() throws {
        try XCTSkipUnless(BF16GEMM.isSupported, "no AVX512-BF16 on this CPU")
    }

    /// Packed kernel == double-accumulated reference on the same rounded operands, on odd shapes that
    /// exercise partial panels (m % 12, n % 32), odd K, several K blocks (K > 256) and both B layouts.
    func testPackedGEMMMatchesReference() {
        let shapes = [(1, 1, 1), (13, 37, 15), (25, 65, 300), (12, 32, 2), (7, 100, 513), (40, 3, 9)]
        for (i, (m, n, k)) in shapes.enumerated() {
            for transB in [false, true] {
                for accumulate in [false, true] {
                    let a = randomTensor([m, k], seed: UInt64(10 + i)), b = randomTensor(transB ? [n, k] : [k, n], seed: UInt64(20 + i))
                    let start = randomTensor([m, n], seed: UInt64(30 + i))
                    let expected = start.copy(), actual = start.copy()
                    BF16GEMM.naive(m: m, n: n, k: k, a: a.data, b: b.data, transB: transB, c: expected.data, accumulate: accumulate)
                    let pa = BF16GEMM.packA(a.data, lda: k, m: m, k: k, c)
                    let pb = BF16GEMM.packB(b.data, ldb: transB ? k : n, trans: transB, k: k, n: n, c)
                    BF16GEMM.gemm(pa, pb, c: actual.data, ldc: n, accumulate: accumulate, c)
                    assertClose(actual, expected, rtol: 2e-6, "m \(m) n \(n) k \(k) transB \(transB) acc \(accumulate)")
                }
            }
        }
    }

    /// Writes stay inside the [m, n] window of a wider C (ldc > n): neighbours are untouched.
    func testRespectsLeadingDimension() {
        let (m, n, k, ldc) = (14, 33, 20, 50)
        let a = randomTensor([m, k], seed: 1), b = randomTensor([k, n], seed: 2)
        let out = Tensor(shape: [m, ldc], repeating: 7)
        BF16GEMM.gemm(BF16GEMM.packA(a.data, lda: k, m: m, k: k, c), BF16GEMM.packB(b.data, ldb: n, trans: false, k: k, n: n, c),
                      c: out.data, ldc: ldc, accumulate: false, c)
        let ref = Tensor(zeros: [m, n])
        BF16GEMM.naive(m: m, n: n, k: k, a: a.data, b: b.data, transB: false, c: ref.data, accumulate: false)
        for i in 0..<m {
            for j in 0..<ldc {
                let v = out.data[i * ldc + j]
                if j < n { XCTAssertEqual(v, ref.data[i * n + j], accuracy: 1e-5 * 8) } else { XCTAssertEqual(v, 7) }
            }
        }
    }

    /// bf16 linear: equal to fp32 linear when the operands are already bf16 values; within bf16
    /// rounding (relative ~2⁻⁸ per operand) of fp32 on arbitrary values.
    func testLinearAgainstFP32() {
        let x = randomTensor([3, 29, 70], seed: 3), w = randomTensor([45, 70], seed: 4), b = randomTensor([45], seed: 5)
        let xr = BF16GEMM.rounded(x), wr = BF16GEMM.rounded(w)
        assertClose(bf.linear(xr, weight: wr, bias: b), c.inference.linear(xr, weight: wr, bias: b), rtol: 1e-5, "rounded inputs")
        let exact = c.inference.linear(x, weight: w, bias: b)
        let got = bf.linear(x, weight: w, bias: b)
        assertClose(got, exact, rtol: 2e-2, "fp32 inputs")
        XCTAssertGreaterThan(closeness(got, exact, rtol: 1).maxRelative, 0, "bf16 path must actually round")
    }

    /// bf16 conv (im2col blocks and the 1×1 path) vs the naive fp32 conv on rounded operands.
    func testConvMatchesNaiveOnRoundedInputs() {
        let cases: [(cin: Int, cout: Int, k: Int, stride: Int, pad: Int, h: Int, w: Int)] = [
            (3, 5, 3, 1, 1, 9, 11), (7, 13, 3, 2, 1, 10, 7), (6, 33, 1, 1, 0, 5, 13), (4, 4, 3, 1, 0, 6, 6)]
        for (i, t) in cases.enumerated() {
            let x = BF16GEMM.rounded(randomTensor([2, t.cin, t.h, t.w], seed: UInt64(40 + i)))
            let w = BF16GEMM.rounded(randomTensor([t.cout, t.cin, t.k, t.k], seed: UInt64(50 + i)))
            let b = randomTensor([t.cout], seed: UInt64(60 + i))
            let expected = Conv2d.naiveForward(x, weight: w, bias: b, stride: t.stride, padding: t.pad)
            // A tiny block budget forces several pixel blocks per image.
            let got = Conv2d.forward(x, weight: w, bias: b, stride: t.stride, padding: t.pad, blockBytes: 512, bf)
            assertClose(got, expected, rtol: 1e-5, "case \(i)")
            let noBias = Conv2d.forward(x, weight: w, bias: nil, stride: t.stride, padding: t.pad, bf)
            assertClose(noBias, Conv2d.naiveForward(x, weight: w, bias: nil, stride: t.stride, padding: t.pad), rtol: 1e-5, "case \(i) no bias")
        }
    }

    /// A frozen weight's packed form is reused; unfreezing drops it so new values are seen.
    func testFrozenCacheFollowsUnfreeze() {
        let x = BF16GEMM.rounded(randomTensor([5, 16], seed: 6)), w = BF16GEMM.rounded(randomTensor([8, 16], seed: 7))
        w.storage.freeze()
        let first = bf.linear(x, weight: w)
        XCTAssertGreaterThan(w.storage.derivedBytes { ($0 as? BF16GEMM.Packed)?.bytes ?? 0 }, 0)
        w.storage.unfreeze()
        XCTAssertEqual(w.storage.derivedBytes { ($0 as? BF16GEMM.Packed)?.bytes ?? 0 }, 0)
        for i in 0..<w.count { w.data[i] *= 2 }
        assertClose(bf.linear(x, weight: w), c.inference.scale(first, by: 2), rtol: 1e-5)
    }
}

/// The op profiler charges each outermost op once, with its FLOPs.
final class OpProfilerTests: XCTestCase {
    func testChargesOutermostOpsWithFlops() {
        let profiler = OpProfiler()
        let c = Compute(threads: 2).inference.with(profiler: profiler)
        let x = randomTensor([1, 3, 8, 8], seed: 1), w = randomTensor([4, 3, 3, 3], seed: 2)
        _ = c.conv2d(x, weight: w, padding: 1)
        _ = c.conv2d(x, weight: w, padding: 1)
        _ = c.groupNormSiLU(x, groups: 1, weight: nil, bias: nil)
        let entries = Dictionary(uniqueKeysWithValues: profiler.sortedEntries.map { ($0.label, $0.entry) })
        let conv = entries["conv3x3 3→4 @8×8"]
        XCTAssertEqual(conv?.calls, 2)
        XCTAssertEqual(conv?.flops, 2 * 2 * Double(4 * 3 * 9 * 64))
        XCTAssertEqual(entries["group_norm_silu 1×3×8×8"]?.calls, 1)
        XCTAssertEqual(profiler.byKind.map(\.kind).sorted(), ["conv3x3", "group_norm_silu"])
    }
}
