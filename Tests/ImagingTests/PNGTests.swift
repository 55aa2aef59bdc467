import Foundation
import TestSupport
import XCTest
@testable import Imaging

/// Raw chunk listing, independent of libpng, to check what the encoder actually wrote.
func pngChunks(_ bytes: [UInt8]) -> [(type: String, data: [UInt8])] {
    var out: [(String, [UInt8])] = []
    var i = 8
    while i + 12 <= bytes.count {
        let n = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        guard i + 12 + n <= bytes.count else { break }
        let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
        out.append((type, Array(bytes[(i + 8)..<(i + 8 + n)])))
        i += 12 + n
    }
    return out
}

final class PNGTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "sumi-png-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    static let parameters = "a cat in a hat, masterpiece\nNegative prompt: blurry\nSteps: 4, Sampler: Euler, CFG scale: 1.0, Seed: 42, Size: 7x5"
    static let json = #"{"prompt":"猫と帽子 🐈 café — ünïcödé","seed":42,"lora":[{"name":"Ω","strength":0.8}]}"#

    func testRoundTripWithUnicodeMetadata() throws {
        let image = RGBImageTests.pattern(width: 7, height: 5)
        let path = directory + "/round trip ü.png"
        try PNG.write(image, chunks: [PNGTextChunk(key: "parameters", value: Self.parameters, encoding: .latin1),
                                      PNGTextChunk(key: "sumi", value: Self.json, encoding: .utf8)], to: path)
        let (read, text) = try PNG.read(path)
        XCTAssertEqual(read, image)
        XCTAssertEqual(text, ["parameters": Self.parameters, "sumi": Self.json])

        let detailed = try PNG.readDetailed(path)
        XCTAssertEqual(detailed.chunks.map(\.key), ["parameters", "sumi"])
        XCTAssertEqual(detailed.chunks.map(\.encoding), [.latin1, .utf8])
    }

    func testChunkTypesAndPlacement() throws {
        let image = RGBImageTests.pattern(width: 3, height: 2)
        let bytes = try PNG.encode(image, text: [(key: "parameters", value: Self.parameters), (key: "sumi", value: Self.json)])
        let chunks = pngChunks(bytes)
        XCTAssertEqual(chunks.first?.type, "IHDR")
        XCTAssertEqual(chunks.last?.type, "IEND")
        // A1111-style: exactly one tEXt "parameters" holding the raw text; JSON in iTXt "sumi"; both before IDAT.
        let texts = chunks.filter { $0.type == "tEXt" }
        XCTAssertEqual(texts.count, 1)
        XCTAssertEqual(texts.first?.data, Array("parameters".utf8) + [0] + Array(Self.parameters.utf8))
        let itxt = chunks.filter { $0.type == "iTXt" }
        XCTAssertEqual(itxt.count, 1)
        XCTAssertEqual(Array(itxt[0].data.prefix(5)), Array("sumi\0".utf8))
        XCTAssertTrue(itxt[0].data.suffix(Self.json.utf8.count).elementsEqual(Self.json.utf8))
        let idat = chunks.firstIndex { $0.type == "IDAT" }!
        XCTAssertLessThan(chunks.lastIndex { $0.type == "iTXt" || $0.type == "tEXt" }!, idat)
        // IHDR: 3x2, 8-bit RGB, no interlace.
        XCTAssertEqual(chunks[0].data, [0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0])
    }

    func testLatin1TextAndEncodingRules() throws {
        let image = RGBImage(width: 1, height: 1)
        let bytes = try PNG.encode(image, chunks: [
            PNGTextChunk(key: "Comment", value: "café", encoding: .latin1),
            PNGTextChunk(key: "Auto", value: "naïve"),            // non-ASCII: automatic picks iTXt
            PNGTextChunk(key: "Plain", value: "ascii only"),      // ASCII: tEXt
            PNGTextChunk(key: "Clé", value: "ok", encoding: .utf8), // Latin-1 keyword in iTXt
        ])
        XCTAssertEqual(pngChunks(bytes).filter { $0.type == "tEXt" || $0.type == "iTXt" }.map(\.type),
                       ["tEXt", "iTXt", "tEXt", "iTXt"])
        XCTAssertEqual(pngChunks(bytes).first { $0.type == "tEXt" }?.data, Array("Comment".utf8) + [0, 0x63, 0x61, 0x66, 0xE9])
        let decoded = try PNG.decode(bytes)
        XCTAssertEqual(decoded.text, ["Comment": "café", "Auto": "naïve", "Plain": "ascii only", "Clé": "ok"])
    }

    func testInvalidTextIsRejected() {
        let image = RGBImage(width: 1, height: 1)
        let bad: [PNGTextChunk] = [
            PNGTextChunk(key: "", value: "x"),
            PNGTextChunk(key: String(repeating: "k", count: 80), value: "x"),
            PNGTextChunk(key: " lead", value: "x"),
            PNGTextChunk(key: "trail ", value: "x"),
            PNGTextChunk(key: "two  spaces", value: "x"),
            PNGTextChunk(key: "tab\tkey", value: "x"),
            PNGTextChunk(key: "猫", value: "x"),
            PNGTextChunk(key: "nul", value: "a\u{0}b"),
            PNGTextChunk(key: "latin", value: "猫", encoding: .latin1),
        ]
        for chunk in bad {
            XCTAssertThrowsError(try PNG.encode(image, chunks: [chunk]), "\(chunk)") { error in
                guard case ImagingError.invalidText = error else { return XCTFail("\(error)") }
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        XCTAssertNoThrow(try PNG.encode(image, chunks: [PNGTextChunk(key: String(repeating: "k", count: 79), value: "")]))
        XCTAssertThrowsError(try PNG.encode(RGBImage(width: 0, height: 3))) { error in
            guard case ImagingError.invalidImage = error else { return XCTFail("\(error)") }
        }
    }

    func testEncodeMatchesWriteAndDecodesLargerImage() throws {
        let image = RGBImageTests.pattern(width: 301, height: 67, seed: 3)
        let path = directory + "/a.png"
        try PNG.write(image, text: [(key: "k", value: "v")], to: path)
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(onDisk, try PNG.encode(image, text: [(key: "k", value: "v")]))
        XCTAssertEqual(try PNG.decode(onDisk).image, image)
    }

    func testAtomicWriteLeavesNoTemporaryFile() throws {
        let path = directory + "/out.png"
        try PNG.write(RGBImage(width: 2, height: 2, fill: .white), to: path)
        try PNG.write(RGBImage(width: 3, height: 1, fill: .black), text: [(key: "sumi", value: "{}")], to: path)  // overwrite
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["out.png"])
        let (image, text) = try PNG.read(path)
        XCTAssertEqual(image, RGBImage(width: 3, height: 1))
        XCTAssertEqual(text, ["sumi": "{}"])

        // A failed write (missing directory) leaves nothing behind and names the file.
        let missing = directory + "/no/such/dir/x.png"
        XCTAssertThrowsError(try PNG.write(image, to: missing)) { error in
            XCTAssertEqual(error as? ImagingError, .unwritable(path: missing, reason: "No such file or directory"))
        }
        // Renaming onto a directory fails after the temporary file was written: it must be removed.
        let dirTarget = directory + "/target.png"
        try FileManager.default.createDirectory(atPath: dirTarget + "/inner", withIntermediateDirectories: true)
        XCTAssertThrowsError(try PNG.write(image, to: dirTarget)) { error in
            guard case ImagingError.unwritable(let p, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, dirTarget)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["out.png", "target.png"])
    }

    func testReadErrorsAreTypedAndNameTheFile() throws {
        let missing = directory + "/missing.png"
        XCTAssertThrowsError(try PNG.read(missing)) { XCTAssertEqual($0 as? ImagingError, .fileNotFound(path: missing)) }

        let text = directory + "/notes.png"
        try Data("hello, not a png".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try PNG.read(text)) { XCTAssertEqual($0 as? ImagingError, .notPNG(path: text)) }

        let empty = directory + "/empty.png"
        try Data().write(to: URL(fileURLWithPath: empty))
        XCTAssertThrowsError(try PNG.read(empty)) { XCTAssertEqual($0 as? ImagingError, .notPNG(path: empty)) }

        XCTAssertThrowsError(try PNG.read(directory)) { error in
            XCTAssertEqual(error as? ImagingError, .unreadable(path: self.directory, reason: "is a directory"))
        }

        let good = try PNG.encode(RGBImageTests.pattern(width: 5, height: 4))
        let cut = directory + "/cut.png"
        try Data(good.prefix(good.count - 20)).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try PNG.read(cut)) { error in
            guard case ImagingError.truncated(let p, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, cut)
            XCTAssertEqual("\(error)", "\(cut): truncated PNG (unexpected end of data)")
        }

        var flipped = good
        flipped[20] ^= 0x10  // inside IHDR: CRC mismatch on a critical chunk
        XCTAssertThrowsError(try PNG.decode(flipped, source: "flipped.png")) { error in
            guard case ImagingError.corrupt(let p, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, "flipped.png")
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue("\(error)".hasPrefix("flipped.png: corrupt PNG ("), "\(error)")
        }
    }

    func testLibpngVersion() {
        XCTAssertTrue(PNG.libpngVersion.hasPrefix("1.6"), PNG.libpngVersion)
    }
}
