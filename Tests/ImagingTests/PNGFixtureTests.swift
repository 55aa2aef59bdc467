import Foundation
import TestSupport
import XCTest
@testable import Imaging

/// Decodes the files written by tools/reference/png_fixtures.py (stdlib encoder and Pillow) and
/// compares with the expected RGB8 and text computed there from the source samples.
final class PNGFixtureTests: XCTestCase {
    struct Expected {
        let width: Int
        let height: Int
        let rgb: [UInt8]
        let text: [String: String]
    }

    static func expected() throws -> [String: Expected] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("expected.json", target: "ImagingTests")))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        var out: [String: Expected] = [:]
        for (name, e) in object {
            let hex = Array(try XCTUnwrap(e["rgb"] as? String).utf8)
            var rgb = [UInt8]()
            for i in stride(from: 0, to: hex.count, by: 2) { rgb.append(UInt8(String(decoding: hex[i..<(i + 2)], as: UTF8.self), radix: 16)!) }
            out[name] = Expected(width: try XCTUnwrap(e["width"] as? Int), height: try XCTUnwrap(e["height"] as? Int),
                                 rgb: rgb, text: try XCTUnwrap(e["text"] as? [String: String]))
        }
        return out
    }

    func testAllFixturesDecodeExactly() throws {
        let expected = try Self.expected()
        XCTAssertGreaterThanOrEqual(expected.count, 30)
        for (name, e) in expected.sorted(by: { $0.key < $1.key }) {
            let path = Fixtures.path(name, target: "ImagingTests")
            let (image, text) = try PNG.read(path)
            XCTAssertEqual(image.width, e.width, name)
            XCTAssertEqual(image.height, e.height, name)
            XCTAssertEqual(text, e.text, name)
            let diffs = zip(image.pixels, e.rgb).enumerated().filter { $0.element.0 != $0.element.1 }
            XCTAssertEqual(image.pixels.count, e.rgb.count, name)
            XCTAssertTrue(diffs.isEmpty, "\(name): \(diffs.count) bytes differ, first at \(diffs.first.map { "\($0.offset): \($0.element)" } ?? "")")
        }
    }

    func testCoverage() throws {
        // The fixture set must keep covering every colour type, depth and interlacing.
        let names = Set(try Self.expected().keys)
        for name in ["gray1.png", "gray2.png", "gray4.png", "gray16.png", "gray8_trns.png", "graya8.png", "graya16.png",
                     "rgb16.png", "rgb8_trns.png", "rgba8.png", "rgba16.png", "palette1.png", "palette8_trns.png",
                     "rgb8_interlaced.png", "rgba16_interlaced.png", "gray1_interlaced.png", "palette4_interlaced.png",
                     "text_chunks.png", "pil_rgb_parameters.png", "pil_palette_alpha.png", "pil_la.png", "pil_gray16.png"] {
            XCTAssertTrue(names.contains(name), name)
        }
    }

    func testPillowA1111StyleMetadata() throws {
        let decoded = try PNG.readDetailed(Fixtures.path("pil_rgb_parameters.png", target: "ImagingTests"))
        XCTAssertEqual(decoded.chunks.map(\.key), ["parameters", "sumi"])
        XCTAssertEqual(decoded.chunks.map(\.encoding), [.latin1, .utf8])
        XCTAssertTrue(decoded.text["parameters"]!.hasPrefix("a cat in a hat, masterpiece\nNegative prompt: blurry\nSteps: 4"))
        let json = try JSONSerialization.jsonObject(with: Data(decoded.text["sumi"]!.utf8)) as? [String: Any]
        XCTAssertEqual(json?["prompt"] as? String, "猫と帽子 🐈")
        XCTAssertEqual(json?["seed"] as? Int, 42)
    }

    func testTextChunkKindsAndOrder() throws {
        let decoded = try PNG.readDetailed(Fixtures.path("text_chunks.png", target: "ImagingTests"))
        XCTAssertEqual(decoded.chunks.map(\.key), ["parameters", "Comment", "sumi", "Repeated", "Description", "Repeated"])
        XCTAssertEqual(decoded.chunks.map(\.encoding), [.latin1, .latin1, .utf8, .latin1, .utf8, .latin1])
        XCTAssertEqual(decoded.text["Repeated"], "second")  // last wins
        XCTAssertEqual(decoded.text["Comment"]?.hasPrefix("compressed Latin-1: æøå"), true)
        XCTAssertEqual(decoded.text["Description"], "compressed iTXt — über 東京")
    }

    func testReencodeRoundTripsEveryFixture() throws {
        for name in try Self.expected().keys {
            let original = try PNG.readDetailed(Fixtures.path(name, target: "ImagingTests"))
            let again = try PNG.decodeDetailed(PNG.encode(original.image, chunks: original.chunks))
            XCTAssertEqual(again.image, original.image, name)
            XCTAssertEqual(again.text, original.text, name)
        }
    }
}
