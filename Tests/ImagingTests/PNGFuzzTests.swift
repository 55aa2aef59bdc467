import Foundation
import TestSupport
import XCTest
@testable import Imaging

/// Damaged files must give a typed, one-line error (or decode to some valid image), never crash.
final class PNGFuzzTests: XCTestCase {
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// Recomputes every chunk CRC, so mutations reach the chunk parsers and zlib instead of
    /// stopping at the CRC check.
    static func repairCRCs(_ bytes: inout [UInt8]) {
        var i = 8
        while i + 12 <= bytes.count {
            let n = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard n >= 0, i + 12 + n <= bytes.count else { return }
            let crc = crc32(bytes[(i + 4)..<(i + 8 + n)])
            for k in 0..<4 { bytes[i + 8 + n + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(k))) }
            i += 12 + n
        }
    }

    /// Samples: our own encoder's output plus interlaced, palette, 16-bit and text-heavy fixtures.
    func samples() throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = [("encoded.png", try PNG.encode(RGBImageTests.pattern(width: 11, height: 7),
                                                                       text: [(key: "parameters", value: "steps 4"), (key: "sumi", value: "{\"é\":1}")]))]
        for name in ["rgb8_interlaced.png", "palette8_trns.png", "rgba16.png", "text_chunks.png", "gray1_interlaced.png", "pil_la.png"] {
            out.append((name, try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name, target: "ImagingTests"))))))
        }
        return out
    }

    /// Decodes and checks the outcome; returns the error kind for statistics.
    @discardableResult
    func check(_ bytes: [UInt8], _ label: String) -> String {
        do {
            let decoded = try PNG.decodeDetailed(bytes, source: label)
            XCTAssertEqual(decoded.image.pixels.count, decoded.image.width * decoded.image.height * 3, label)
            return "ok"
        } catch let error as ImagingError {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertTrue(text.hasPrefix(label + ": "), text)
            switch error {
            case .truncated: return "truncated"
            case .corrupt: return "corrupt"
            case .notPNG: return "notPNG"
            default: XCTFail("unexpected error kind: \(text)"); return "other"
            }
        } catch {
            XCTFail("untyped error \(error)")
            return "other"
        }
    }

    func testEveryTruncationIsReported() throws {
        for (name, bytes) in try samples() {
            for length in 0..<bytes.count {
                let kind = check(Array(bytes.prefix(length)), "\(name)[..<\(length)]")
                // Any cut after the signature is a truncation (IEND is required); shorter is not a PNG.
                XCTAssertEqual(kind, length == 0 ? "notPNG" : "truncated", "\(name) cut at \(length)")
            }
        }
    }

    func testRandomBitFlips() throws {
        var rng = SplitMix64(seed: 0x5EED)
        var counts: [String: Int] = [:]
        let samples = try samples()
        for round in 0..<1400 {
            let (name, original) = samples[round % samples.count]
            var bytes = original
            let flips = 1 + Int(rng.next() % 4)
            for _ in 0..<flips {
                let at = Int(rng.next() % UInt64(bytes.count))
                bytes[at] ^= UInt8(1) << UInt8(rng.next() % 8)
            }
            // Half of the rounds fix the CRCs so the damage reaches libpng's parsers and zlib.
            if round % 2 == 1 { Self.repairCRCs(&bytes) }
            counts[check(bytes, "\(name)#\(round)"), default: 0] += 1
        }
        XCTAssertEqual(counts.values.reduce(0, +), 1400)
        XCTAssertGreaterThan(counts["corrupt", default: 0], 100, "\(counts)")
        print("PNG bit-flip outcomes: \(counts.sorted { $0.key < $1.key })")
    }

    func testRandomByteOverwritesAndSplices() throws {
        var rng = SplitMix64(seed: 42)
        let samples = try samples()
        for round in 0..<600 {
            let (name, original) = samples[round % samples.count]
            var bytes = original
            switch round % 3 {
            case 0:  // random bytes over a random span
                let start = Int(rng.next() % UInt64(bytes.count))
                let end = min(bytes.count, start + 1 + Int(rng.next() % 16))
                for i in start..<end { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // delete a span
                let start = 8 + Int(rng.next() % UInt64(bytes.count - 8))
                let end = min(bytes.count, start + 1 + Int(rng.next() % 32))
                bytes.removeSubrange(start..<end)
            default:  // duplicate a span in place (repeated chunks, bogus lengths)
                let start = 8 + Int(rng.next() % UInt64(bytes.count - 8))
                let end = min(bytes.count, start + 1 + Int(rng.next() % 64))
                bytes.insert(contentsOf: bytes[start..<end], at: start)
            }
            if round % 2 == 0 { Self.repairCRCs(&bytes) }
            check(bytes, "\(name)@\(round)")
        }
    }

    func testHugeDeclaredSizeIsRefusedWithoutAllocating() throws {
        var bytes = try PNG.encode(RGBImage(width: 4, height: 4))
        // IHDR width/height at offsets 16 and 20: claim 60000 x 60000.
        for (offset, value) in [(16, UInt32(60000)), (20, UInt32(60000))] {
            for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(k))) }
        }
        Self.repairCRCs(&bytes)
        XCTAssertThrowsError(try PNG.decode(bytes, source: "huge.png")) { error in
            guard case ImagingError.corrupt(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("60000x60000"), reason)
        }
    }
}
