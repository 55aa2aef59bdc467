import Foundation
import Imaging
import TestSupport
import XCTest
@testable import Trainer

final class ImageDecoderTests: XCTestCase {
    private func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name, target: "TrainerTests"))))
    }

    /// libjpeg-turbo vs Pillow's decode of the same files (both use libjpeg-turbo's IDCT by
    /// default, but upsampling and CMYK maths may differ slightly): max abs difference <= 3.
    func testJPEGMatchesPillow() throws {
        let expected = try JSONSerialization.jsonObject(
            with: Data(try fixture("jpeg.json"))) as! [String: [String: Any]]
        for (name, e) in expected.sorted(by: { $0.key < $1.key }) {
            let bytes = try fixture(name)
            XCTAssertEqual(ImageDecoder.format(of: bytes), .jpeg)
            let d = try ImageDecoder.decode(bytes)
            XCTAssertEqual(d.image.width, e["width"] as? Int, name)
            XCTAssertEqual(d.image.height, e["height"] as? Int, name)
            XCTAssertEqual(d.originalWidth, d.image.width)
            let hex = e["rgb"] as! String
            var want = [UInt8]()
            var it = hex.makeIterator()
            while let a = it.next(), let b = it.next() { want.append(UInt8(String([a, b]), radix: 16)!) }
            XCTAssertEqual(want.count, d.image.pixels.count)
            let maxDiff = zip(want, d.image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(maxDiff, 3, name)
            print("jpeg \(name): max |libjpeg - Pillow| = \(maxDiff)")
        }
    }

    func testJPEGScaledDecodeKeepsOriginalSize() throws {
        let bytes = try fixture("rgb.jpg")  // 37x23
        XCTAssertEqual(try ImageDecoder.size(of: bytes).width, 37)
        let half = try ImageDecoder.decodeJPEG(bytes, scaleDenominator: 2)
        XCTAssertEqual([half.image.width, half.image.height, half.originalWidth, half.originalHeight], [19, 12, 37, 23])
        // 1/8 gives 5x3 (too small), 1/4 gives exactly 10x6: the smallest decode that covers 10x6.
        let auto = try ImageDecoder.decode(bytes, minimumWidth: 10, minimumHeight: 6)
        XCTAssertEqual([auto.image.width, auto.image.height], [10, 6])
        let full = try ImageDecoder.decode(bytes, minimumWidth: 37, minimumHeight: 23)
        XCTAssertEqual([full.image.width, full.image.height], [37, 23])
    }

    func testCorruptTruncatedAndUnsupportedInputs() throws {
        let bytes = try fixture("rgb.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(Array(bytes.prefix(bytes.count / 2)))) { e in
            XCTAssertEqual(e as? ImageDecodeError, .truncated)
        }
        var bad = bytes
        for i in stride(from: 2, to: 40, by: 1) { bad[i] = 0xFF }
        XCTAssertThrowsError(try ImageDecoder.decode(bad))
        XCTAssertThrowsError(try ImageDecoder.decode(Array(bytes.prefix(3))))
        XCTAssertThrowsError(try ImageDecoder.decode(Array("RIFF....WEBP".utf8))) { e in
            XCTAssertEqual(e as? ImageDecodeError, .unsupportedFormat)
        }
        XCTAssertThrowsError(try ImageDecoder.decode(bytes, maxPixels: 100)) { e in
            XCTAssertEqual(e as? ImageDecodeError, .tooLarge(width: 37, height: 23))
        }
        // Every truncation and many bit flips of a JPEG: errors, never a crash.
        var rng = DataRNG(seed: 3)
        for n in stride(from: 0, to: bytes.count, by: 7) { _ = try? ImageDecoder.decode(Array(bytes.prefix(n))) }
        for _ in 0..<200 {
            var b = bytes
            for _ in 0..<(1 + rng.below(6)) { b[rng.below(b.count)] ^= UInt8(1 << rng.below(8)) }
            _ = try? ImageDecoder.decode(b)
        }
    }

    func testPNGDecodeAndSize() throws {
        let bytes = TestData.png(40, 30, seed: 3)
        XCTAssertEqual(ImageDecoder.format(of: bytes), .png)
        XCTAssertEqual(try ImageDecoder.size(of: bytes).width, 40)
        let d = try ImageDecoder.decode(bytes, minimumWidth: 5, minimumHeight: 5)
        XCTAssertEqual([d.image.width, d.image.height], [40, 30])
        XCTAssertEqual(d.image[1, 2], RGBPixel(r: UInt8((3 * 37 + 5) & 255), g: UInt8((3 * 91 + 14) & 255), b: 39))
    }
}
