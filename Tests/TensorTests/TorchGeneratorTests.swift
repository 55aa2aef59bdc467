import XCTest
import Tensor
import Checkpoint
import CKernels
import TestSupport

final class TorchGeneratorTests: XCTestCase {
    /// `torch.manual_seed(s)` then several `torch.randn(shape)` draws from the same generator, bit for
    /// bit: shapes with and without a ragged 16-tail, a 65,536-value SDXL latent, sizes below the
    /// 16-element threshold (double Box–Muller with its cached sample), seeds ≥ 2³².
    func testRandnMatchesTorchBitForBit() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("rng.safetensors"))
        let cases = Set(file.names.map { String($0.split(separator: ".")[0]) }).sorted()
        XCTAssertGreaterThanOrEqual(cases.count, 14)
        var checked = 0
        for c in cases {
            let meta = try XCTUnwrap(file.metadata[c]).data(using: .utf8)!
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: meta) as? [String: Any])
            let seed = (obj["seed"] as! NSNumber).uint64Value
            let shapes = (obj["shapes"] as! [[NSNumber]]).map { $0.map { $0.intValue } }
            var g = TorchGenerator(seed: seed)
            for (k, shape) in shapes.enumerated() {
                let expected = try file.tensor("\(c).draw\(k)")
                let actual = g.randn(shape)
                // Count every differing value (not just the first) so a regression shows its size.
                let bad = (0..<min(actual.count, expected.count)).filter {
                    actual.data[$0].bitPattern != expected.data[$0].bitPattern
                }
                XCTAssertEqual(bad.count, 0, "\(c) draw \(k) seed \(seed) \(shape): \(bad.count) of "
                               + "\(expected.count) values differ, first at \(bad.first ?? -1)")
                assertBitEqual(actual, expected, "\(c) draw \(k) seed \(seed) \(shape)")
                checked += expected.count
            }
        }
        XCTAssertGreaterThan(checked, 65_536)
    }

    /// The range kernel (dispatched to the AVX-512/AVX2 clone here) equals the single-block entry
    /// point (built for baseline x86-64, where `fmaf` is libm's), for any split of the range.
    func testBlockRangeMatchesSingleBlocks() {
        var g = TorchGenerator(seed: 3)
        let blocks = 37
        var uniforms = [Float](repeating: 0, count: 16 * blocks)
        for i in uniforms.indices { uniforms[i] = g.uniformFloatForTesting() }
        uniforms[5] = 0      // u1 = 1 − 0 = 1: radius 0, checks the −0 → +0 of the final fma
        uniforms[16 + 9] = 0 // θ = 0
        var ranged = uniforms, single = uniforms
        ranged.withUnsafeMutableBufferPointer { p in
            sumi_torch_normal_fill16_blocks(p.baseAddress!, 0, 11)
            sumi_torch_normal_fill16_blocks(p.baseAddress!, 11, 12)
            sumi_torch_normal_fill16_blocks(p.baseAddress!, 12, blocks)
        }
        single.withUnsafeMutableBufferPointer { p in
            for b in 0..<blocks { sumi_torch_normal_fill16(p.baseAddress! + 16 * b) }
        }
        XCTAssertEqual(ranged.map(\.bitPattern), single.map(\.bitPattern))
        XCTAssertEqual(ranged[5].bitPattern, 0, "radius 0 must give +0 like PyTorch's fmadd")
        XCTAssertFalse(ranged.contains { !$0.isFinite })
    }

    /// The Cephes approximations stay within a few ulp of libm over the ranges the fill uses
    /// (1 − u in (2⁻²⁴, 1], θ in [0, 2π)); guards against a mistyped coefficient that the
    /// bit-exact fixture would only catch as "differs".
    func testPolynomialsTrackLibm() {
        var worstLog: Float = 0, worstTrig: Float = 0
        for i in 1...100_000 {
            let u = Float(i) / 100_000
            let l = sumi_torch_logf(u)
            worstLog = max(worstLog, abs(l - logf(u)) / max(Float.ulpOfOne * abs(logf(u)), .leastNormalMagnitude))
            let theta = Float(2 * Double.pi) * Float(i - 1) / 100_000
            var s: Float = 0, c: Float = 0
            sumi_torch_sincosf(theta, &s, &c)
            worstTrig = max(worstTrig, abs(s - sinf(theta)) / Float.ulpOfOne, abs(c - cosf(theta)) / Float.ulpOfOne)
        }
        XCTAssertLessThan(worstLog, 4, "log error in ulps")
        XCTAssertLessThan(worstTrig, 4, "sin/cos absolute error in units of 2⁻²³")
        XCTAssertTrue(sumi_torch_logf(0).isNaN)
        XCTAssertEqual(sumi_torch_logf(1), 0)
    }

    func testKnownMT19937Output() {
        // The reference MT19937 (seed 5489) produces 3499211612 first.
        var g = TorchGenerator(seed: 5489)
        XCTAssertEqual(g.nextUInt32(), 3_499_211_612)
    }

    func testSeedAliasesModulo2To32() {
        var a = TorchGenerator(seed: 42), b = TorchGenerator(seed: (1 << 32) + 42)
        XCTAssertEqual(a.randn([64]).scalars, b.randn([64]).scalars)
    }
}

private extension TorchGenerator {
    /// The 24-bit uniform that feeds the float path (the generator's own is internal).
    mutating func uniformFloatForTesting() -> Float {
        Float(nextUInt32() & 0xFF_FFFF) * (1.0 / 16_777_216)
    }
}
