import XCTest
import Tensor
import TestSupport

/// Conv fast paths added for speed, each against the direct-loop reference on odd shapes.
final class ConvFastPathTests: XCTestCase {
    let c = Compute(threads: 2).inference

    /// ≤ 8 output channels use the register-blocked few-rows kernel (3×3 with im2col blocks, strided, 1×1),
    /// with and without bias, on pixel counts that leave partial 32-wide tiles.
    func testFewOutputChannelsMatchNaive() {
        var seed: UInt64 = 100
        for outC in [1, 3, 4, 8] {
            for (k, stride, pad, h, w) in [(3, 1, 1, 13, 11), (3, 2, 1, 9, 10), (1, 1, 0, 7, 9), (3, 1, 0, 35, 3)] {
                seed += 1
                let x = randomTensor([2, 5, h, w], seed: seed), wt = randomTensor([outC, 5, k, k], seed: seed + 1000)
                for bias in [randomTensor([outC], seed: seed + 2000), nil] {
                    let got = Conv2d.forward(x, weight: wt, bias: bias, stride: stride, padding: pad, blockBytes: 600, c)
                    let want = Conv2d.naiveForward(x, weight: wt, bias: bias, stride: stride, padding: pad)
                    assertClose(got, want, rtol: 1e-5, "outC \(outC) k \(k) s \(stride) p \(pad) \(h)×\(w) bias \(bias != nil)")
                }
            }
        }
    }
}
