import XCTest
import Tensor
import TestSupport

/// Winograd F(2×2, 3×3) convs against the direct-loop reference, and when `conv2d` chooses them.
final class ConvWinogradTests: XCTestCase {
    let c = Compute(threads: 2).inference

    /// Odd and even sizes (partial tiles on the right and bottom edges), one-pixel-wide maps, with and without
    /// bias, batches, and chunks that split tile rows (tiny chunk budgets).
    func testMatchesNaiveOnOddShapes() {
        var seed: UInt64 = 500
        for (cin, cout, h, w) in [(5, 9, 13, 11), (3, 16, 8, 8), (16, 12, 1, 7), (7, 10, 6, 1), (32, 24, 33, 34), (1, 9, 2, 2), (9, 10, 70, 45)] {
            for chunkBytes in [16 << 20, 16 * 4 * 32 * 16, 1] {
                seed += 1
                let x = randomTensor([2, cin, h, w], seed: seed), wt = randomTensor([cout, cin, 3, 3], seed: seed + 1000)
                for bias in [randomTensor([cout], seed: seed + 2000), nil] {
                    let want = Conv2d.naiveForward(x, weight: wt, bias: bias, stride: 1, padding: 1)
                    for tile in Conv2d.WinogradTile.allCases {
                        let got = Conv2d.forwardWinograd(x, weight: wt, bias: bias, tile: tile, chunkBytes: chunkBytes, c)
                        assertClose(got, want, rtol: 1e-5, "F\(tile.rawValue) \(cin)→\(cout) \(h)×\(w) chunk \(chunkBytes) bias \(bias != nil)")
                    }
                }
            }
        }
    }

    /// The bf16 variant (transformed operands rounded to bfloat16, fp32 accumulation) stays within bf16 accuracy,
    /// and packs its panels once on a frozen weight.
    func testBF16MatchesNaiveWithinBF16Accuracy() throws {
        let bf16 = c.with(precision: .bf16)
        try XCTSkipUnless(bf16.usesBF16, "no AVX512-BF16 on this CPU")
        let x = randomTensor([1, 24, 17, 20], seed: 7), wt = randomTensor([20, 24, 3, 3], seed: 8), b = randomTensor([20], seed: 9)
        wt.storage.freeze()
        XCTAssertFalse(bf16.conv2dUsesPackedWeight(wt, stride: 1, padding: 1))
        let got = bf16.conv2d(x, weight: wt, bias: b, stride: 1, padding: 1)
        XCTAssertTrue(bf16.conv2dUsesPackedWeight(wt, stride: 1, padding: 1))
        XCTAssertFalse(bf16.with(winogradConvs: false).conv2dUsesPackedWeight(wt, stride: 1, padding: 1))
        let want = Conv2d.naiveForward(x, weight: wt, bias: b, stride: 1, padding: 1)
        assertClose(got, want, rtol: 2e-2)
        assertClose(bf16.conv2d(x, weight: wt, bias: b, stride: 1, padding: 1), got, rtol: 0)
    }

    /// `conv2d` takes Winograd for inference on 3×3 / stride 1 / padding 1 with enough tiles (fp32: F(4) from 64×64
    /// outputs, F(2) from 32×32) and never while recording gradients, for other geometries, for ≤ 8 outputs or when
    /// switched off; bf16 takes F(2) (its cached panels) except on big maps of few channels with the weight at hand.
    func testDispatch() {
        func tile(_ hw: Int, _ w: Tensor, stride: Int = 1, padding: Int = 1, _ ctx: Compute? = nil) -> Int? {
            Conv2d.winogradTile(Tensor(zeros: [1, w.dim(1), hw, hw]), weight: w, stride: stride, padding: padding, ctx ?? c)?.rawValue
        }
        let w3 = Tensor(zeros: [16, 4, 3, 3]), w1 = Tensor(zeros: [16, 4, 1, 1]), few = Tensor(zeros: [3, 4, 3, 3])
        XCTAssertEqual(tile(64, w3), 4)
        XCTAssertEqual(tile(32, w3), 2)
        XCTAssertNil(tile(16, w3))
        XCTAssertNil(tile(64, w3, Compute(threads: 2)))
        XCTAssertNil(tile(64, w3, stride: 2))
        XCTAssertNil(tile(64, w3, padding: 0))
        XCTAssertNil(tile(64, w1))
        XCTAssertNil(tile(64, few))
        XCTAssertNil(tile(64, w3, c.with(winogradConvs: false)))
        let bf16 = c.with(precision: .bf16)
        if bf16.usesBF16 {
            XCTAssertEqual(tile(8, w3, bf16), 2)
            XCTAssertEqual(tile(128, w3, bf16), 4)
            XCTAssertEqual(tile(128, Tensor(zeros: [512, 4, 3, 3]), bf16), 2)
        }
        // Through conv2d the result is the reference's either way.
        for hw in [32, 64] {
            let x = randomTensor([1, 6, hw, hw], seed: 3), wt = randomTensor([12, 6, 3, 3], seed: 4)
            assertClose(c.conv2d(x, weight: wt, stride: 1, padding: 1),
                        Conv2d.naiveForward(x, weight: wt, bias: nil, stride: 1, padding: 1), rtol: 1e-5)
        }
    }

    /// The prologues: conv(silu(groupNorm(x))) and conv(upsample2x(x)) read through the input transform equal the
    /// plain sequence of ops (both tile sizes, odd sizes, a batch with per-image statistics).
    func testProloguesMatchThePlainOps() {
        let x = randomTensor([2, 8, 13, 18], seed: 31, scale: 3), wt = randomTensor([10, 8, 3, 3], seed: 32)
        let b = randomTensor([10], seed: 33), gw = randomTensor([8], seed: 34), gb = randomTensor([8], seed: 35)
        let normed = c.groupNormSiLU(x, groups: 4, weight: gw, bias: gb, eps: 1e-6)
        let a = GroupNorm.affine(x, groups: 4, weight: gw, bias: gb, eps: 1e-6, c)
        let upsampled = c.upsampleNearest2x(x)
        for tile in Conv2d.WinogradTile.allCases {
            let fused = Conv2d.forwardWinograd(x, weight: wt, bias: b, tile: tile,
                                               prologue: .init(alpha: a.alpha, beta: a.beta, silu: true), c)
            assertClose(fused, Conv2d.naiveForward(normed, weight: wt, bias: b, stride: 1, padding: 1), rtol: 1e-5, "gn-silu F\(tile.rawValue)")
            let up = Conv2d.forwardWinograd(x, weight: wt, bias: b, tile: tile, prologue: .init(upsample2x: true), c)
            XCTAssertEqual(up.shape, [2, 10, 26, 36])
            assertClose(up, Conv2d.naiveForward(upsampled, weight: wt, bias: b, stride: 1, padding: 1), rtol: 1e-5, "upsample F\(tile.rawValue)")
        }
        // Through Compute: fused at inference on a big enough map, the plain ops otherwise; the same values.
        let big = randomTensor([1, 8, 40, 40], seed: 36, scale: 2)
        let want = Conv2d.naiveForward(c.groupNormSiLU(big, groups: 4, weight: gw, bias: gb, eps: 1e-6), weight: wt, bias: b,
                                       stride: 1, padding: 1)
        for ctx in [c, Compute(threads: 2)] {
            assertClose(ctx.groupNormSiLUConv2d(big, groups: 4, normWeight: gw, normBias: gb, eps: 1e-6, weight: wt, bias: b,
                                                padding: 1), want, rtol: 1e-5)
            assertClose(ctx.upsampleNearest2xConv2d(big, weight: wt, bias: b, padding: 1),
                        Conv2d.naiveForward(c.upsampleNearest2x(big), weight: wt, bias: b, stride: 1, padding: 1), rtol: 1e-5)
            // A caller-supplied affine (the tiled VAE decoder's shared statistics): Winograd on the big map, the
            // materialised silu(affine) + conv on the small one — both equal to the group norm they encode.
            let ab = GroupNorm.affine(big, groups: 4, weight: gw, bias: gb, eps: 1e-6, c)
            assertClose(ctx.affineSiLU(big, alpha: ab.alpha, beta: ab.beta),
                        c.groupNormSiLU(big, groups: 4, weight: gw, bias: gb, eps: 1e-6), rtol: 1e-6)
            assertClose(ctx.affineSiLUConv2d(big, alpha: ab.alpha, beta: ab.beta, weight: wt, bias: b, padding: 1), want, rtol: 1e-5)
            assertClose(ctx.affineSiLUConv2d(x, alpha: a.alpha, beta: a.beta, weight: wt, bias: b, padding: 1),
                        Conv2d.naiveForward(normed, weight: wt, bias: b, stride: 1, padding: 1), rtol: 1e-5)
        }
    }
}
