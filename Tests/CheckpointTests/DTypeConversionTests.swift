import XCTest
import Foundation
import CKernels
import Checkpoint
import TestSupport

/// The f32 value `x` becomes after rounding to f16 (nearest, ties to even), computed independently
/// of the C kernels: scale to an integer count of the f16 quantum in Double and round that.
func naiveF16Round(_ x: Float) -> Float {
    if x.isNaN || x.isInfinite || x == 0 { return x }
    let a = Double(abs(x))
    let e = max(Int(a.exponent), -14)             // f16 subnormals share the 2^-14 binade's quantum
    let q = Double(sign: .plus, exponent: e - 10, significand: 1)
    let r = (a / q).rounded(.toNearestOrEven) * q
    let v = r > 65504 ? Double.infinity : r
    return Float(x < 0 ? -v : v)
}

/// The f32 value `x` becomes after rounding to bf16 (nearest, ties to even), computed in Double.
func naiveBF16Round(_ x: Float) -> Float {
    if x.isNaN || x.isInfinite || x == 0 { return x }
    let a = Double(abs(x))
    let e = max(Int(a.exponent), -126)
    let q = Double(sign: .plus, exponent: e - 7, significand: 1)
    let r = (a / q).rounded(.toNearestOrEven) * q
    let v = r > Double(Float(bitPattern: 0x7F7F_0000)) ? Double.infinity : r
    return Float(x < 0 ? -v : v)
}

/// f16 bits decoded in Double arithmetic (independent of the C kernel).
func naiveF16Decode(_ h: UInt16) -> Float {
    let sign: Float = h & 0x8000 != 0 ? -1 : 1
    let e = Int(h >> 10 & 0x1F), m = Double(h & 0x3FF)
    if e == 31 { return m == 0 ? sign * .infinity : .nan }
    let v = e == 0 ? m * 0x1p-24 : (1 + m / 1024) * Double(sign: .plus, exponent: e - 15, significand: 1)
    return sign * Float(v)
}

final class DTypeConversionTests: XCTestCase {
    func convert16(_ bits: [UInt16], f16: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                if f16 { sumi_f16_to_f32(s.baseAddress, d.baseAddress, bits.count) }
                else { sumi_bf16_to_f32(s.baseAddress, d.baseAddress, bits.count) }
            }
        }
        return out
    }

    func narrow(_ xs: [Float], f16: Bool) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                if f16 { sumi_f32_to_f16(s.baseAddress, d.baseAddress, xs.count) }
                else { sumi_f32_to_bf16(s.baseAddress, d.baseAddress, xs.count) }
            }
        }
        return out
    }

    /// Interesting f32 inputs: specials, binade edges of both formats, exact ties and their neighbours,
    /// plus random bit patterns across the whole range.
    func probeValues() -> [Float] {
        var xs: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude,
                           .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                           65504, 65519.996, 65520, 65536, -65520, 0x1p-14, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26,
                           0x1.ffcp-15, 0x1.ff8p-15]
        for k in 0..<200 {
            // ties for f16 (11 significant bits) and bf16 (8) around many binades, with ±1 ulp neighbours.
            let e = k - 100
            for frac in [0x1.002p0, 0x1.006p0, 0x1.01p0, 0x1.03p0, 0x1.ffep0, 0x1.ffp0] as [Float] {
                let t = frac * Float(sign: .plus, exponent: e, significand: 1)
                xs += [t, t.nextUp, t.nextDown, -t]
            }
        }
        var rng = SplitMix64(seed: 99)
        for _ in 0..<200_000 { xs.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        return xs
    }

    func testEveryF16PatternWidensExactly() {
        let all = (0...UInt16.max).map { $0 }
        let got = convert16(all, f16: true)
        for (i, h) in all.enumerated() {
            let want = naiveF16Decode(h)
            if want.isNaN {
                XCTAssertTrue(got[i].isNaN, "0x\(String(h, radix: 16))")
                XCTAssertEqual(got[i].sign, h & 0x8000 != 0 ? .minus : .plus)
                continue
            }
            XCTAssertEqual(got[i].bitPattern, want.bitPattern, "0x\(String(h, radix: 16)): \(got[i]) vs \(want)")
            #if !(os(macOS) && arch(x86_64))
            XCTAssertEqual(got[i].bitPattern, Float(Float16(bitPattern: h)).bitPattern)
            #endif
        }
    }

    func testEveryBF16PatternWidensExactly() {
        let all = (0...UInt16.max).map { $0 }
        let got = convert16(all, f16: false)
        for (i, h) in all.enumerated() { XCTAssertEqual(got[i].bitPattern, UInt32(h) << 16) }
    }

    func testF32ToF16RoundsToNearestEven() {
        let xs = probeValues()
        let got = narrow(xs, f16: true)
        var failures = 0
        for (i, x) in xs.enumerated() where failures < 10 {
            let back = naiveF16Decode(got[i])
            if x.isNaN {
                if !back.isNaN { failures += 1; XCTFail("NaN became \(back)") }
                continue
            }
            let want = naiveF16Round(x)
            if back.bitPattern != want.bitPattern {
                failures += 1
                XCTFail("f16(\(x) = 0x\(String(x.bitPattern, radix: 16))) = \(back), expected \(want)")
            }
            #if !(os(macOS) && arch(x86_64))
            if got[i] != Float16(x).bitPattern {
                failures += 1
                XCTFail("f16(\(x)) bits 0x\(String(got[i], radix: 16)) vs Swift Float16 0x\(String(Float16(x).bitPattern, radix: 16))")
            }
            #endif
        }
    }

    func testF32ToBF16RoundsToNearestEven() {
        let xs = probeValues()
        let got = narrow(xs, f16: false)
        var failures = 0
        for (i, x) in xs.enumerated() where failures < 10 {
            let back = Float(bitPattern: UInt32(got[i]) << 16)
            if x.isNaN {
                if !back.isNaN { failures += 1; XCTFail("NaN 0x\(String(x.bitPattern, radix: 16)) became \(back)") }
                continue
            }
            let want = naiveBF16Round(x)
            if back.bitPattern != want.bitPattern {
                failures += 1
                XCTFail("bf16(\(x) = 0x\(String(x.bitPattern, radix: 16))) = \(back), expected \(want)")
            }
        }
    }

    func testExplicitTiesAndEdges() {
        // f16: ties go to the even neighbour, in the normal and the subnormal range; overflow to inf.
        let f16Cases: [(Float, Float)] = [
            (1 + 0x1p-11, 1), (1 + 3 * 0x1p-11, 1 + 0x1p-9), (0x1p-25, 0), (0x1.8p-25, 0x1p-24), (0x1.8p-24, 0x1p-23), (0x1.4p-24, 0x1p-24),
            (65519.99, 65504), (65520, .infinity), (-65520, -.infinity), (0x1p-14 - 0x1p-25, 0x1p-14),
        ]
        for (x, want) in f16Cases {
            XCTAssertEqual(naiveF16Decode(narrow([x], f16: true)[0]), want, "f16(\(x))")
            XCTAssertEqual(naiveF16Round(x), want, "naive f16(\(x))")
        }
        let bf16Cases: [(Float, Float)] = [
            (1 + 0x1p-8, 1), (1 + 3 * 0x1p-8, 1 + 0x1p-6), (.greatestFiniteMagnitude, .infinity),
            (Float(bitPattern: 0x0000_8000), 0), (Float(bitPattern: 0x0001_8000), Float(bitPattern: 0x0002_0000)),
        ]
        for (x, want) in bf16Cases {
            XCTAssertEqual(Float(bitPattern: UInt32(narrow([x], f16: false)[0]) << 16), want, "bf16(\(x))")
            XCTAssertEqual(naiveBF16Round(x), want, "naive bf16(\(x))")
        }
        // NaN stays NaN (signalling payloads too) instead of rounding into infinity.
        let snan = Float(bitPattern: 0x7F80_0001)
        XCTAssertTrue(naiveF16Decode(narrow([snan], f16: true)[0]).isNaN)
        XCTAssertTrue(Float(bitPattern: UInt32(narrow([snan], f16: false)[0]) << 16).isNaN)
    }

    func testF16RoundTripIsIdentityOnEveryNonNaNPattern() {
        let all = (0...UInt16.max).filter { $0 & 0x7C00 != 0x7C00 || $0 & 0x3FF == 0 }
        XCTAssertEqual(narrow(convert16(all, f16: true), f16: true), all)
    }

    func testKernelsAgreeAtEveryLengthAndOffset() {
        // Odd lengths and offsets exercise the vector bodies and scalar tails of every clone.
        let xs = probeValues().prefix(300).map { $0 }
        let ref16 = narrow(xs, f16: true), refB = narrow(xs, f16: false)
        for start in 0..<9 {
            for n in [0, 1, 7, 15, 16, 17, 31, 33, 64, 100, 255] where start + n <= xs.count {
                let slice = Array(xs[start..<(start + n)])
                XCTAssertEqual(narrow(slice, f16: true), Array(ref16[start..<(start + n)]))
                XCTAssertEqual(narrow(slice, f16: false), Array(refB[start..<(start + n)]))
                let w16 = convert16(Array(ref16[start..<(start + n)]), f16: true)
                XCTAssertEqual(w16.map(\.bitPattern), ref16[start..<(start + n)].map { naiveF16DecodeBits($0) })
            }
        }
    }

    private func naiveF16DecodeBits(_ h: UInt16) -> UInt32 {
        let v = naiveF16Decode(h)
        return v.isNaN ? convert16([h], f16: true)[0].bitPattern : v.bitPattern
    }
}
