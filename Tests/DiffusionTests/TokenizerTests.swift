import Foundation
import TestSupport
import XCTest
@testable import Diffusion

/// The merges file and fixture JSON, found by source path like every other fixture.
enum TokenizerData {
    static let mergesPath = Fixtures.testsRoot.deletingLastPathComponent()
        .appendingPathComponent("models/tokenizer/clip-merges.txt").path

    /// Loaded once per test process: every test shares the same immutable tokenizer.
    static let tokenizer: CLIPTokenizer = {
        do { return try CLIPTokenizer(mergesPath: mergesPath) } catch { fatalError("\(error)") }
    }()

    static func json(_ name: String) throws -> [String: Any] {
        let path = Fixtures.path("tokenizer/\(name)", target: "DiffusionTests")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

final class TokenizerTests: XCTestCase {
    var tok: CLIPTokenizer { TokenizerData.tokenizer }

    func testVocabularyLayout() {
        XCTAssertEqual(tok.mergeCount, 48_894)
        XCTAssertEqual(tok.vocabularySize, 49_408)
        XCTAssertEqual(tok.bos, CLIPTokenizer.standardBOS)
        XCTAssertEqual(tok.eos, CLIPTokenizer.standardEOS)
    }

    /// Every non-excluded fixture prompt gives open_clip's ids exactly.
    func testFixturePromptsMatchOpenCLIP() throws {
        let root = try TokenizerData.json("clip_prompts.json")
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 200)
        var matched = 0, excluded = 0, failures: [String] = []
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            if c["excluded"] != nil { excluded += 1; continue }
            let expected = try XCTUnwrap(c["ids"] as? [NSNumber]).map { $0.int32Value }
            let got = tok.encode(text)
            if got == expected { matched += 1 } else {
                failures.append("\(text.debugDescription): expected \(expected.prefix(24)) got \(got.prefix(24))")
            }
        }
        print("tokenizer fixtures: \(matched) matched, \(excluded) excluded, \(failures.count) failed")
        XCTAssert(failures.isEmpty, failures.prefix(10).joined(separator: "\n"))
    }

    func testSimpleIDs() {
        XCTAssertEqual(tok.encode("a photo of a cat, 1girl"), [320, 1125, 539, 320, 2368, 267, 272, 1611])
        XCTAssertEqual(tok.encode(""), [])
        // Special tokens typed in the text, as OpenAI CLIP and transformers treat them.
        XCTAssertEqual(tok.encode("a<|endoftext|>"), [320, 49407])
        XCTAssertEqual(tok.encode("<|startoftext|> cat"), [49406, 2368])
    }

    func testDecodeRoundTrip() {
        XCTAssertEqual(tok.decode(tok.encode("A Photo of 2 cats, café!")), "a photo of 2 cats , café ! ")
    }

    func testCacheGivesSameResult() {
        let a = tok.encode("supercalifragilistic supercalifragilistic")
        XCTAssertEqual(Array(a[..<(a.count / 2)]), Array(a[(a.count / 2)...]))
    }

    func testWindowPaddingPerEncoder() {
        let ids = tok.encode("a cat")
        let l = tok.window(ids, padID: tok.eos)
        let g = tok.window(ids, padID: CLIPTokenizer.bigGPad)
        XCTAssertEqual(l.count, 77)
        XCTAssertEqual(Array(l.prefix(4)), [49406, 320, 2368, 49407])
        XCTAssert(l[4...].allSatisfy { $0 == 49407 })
        XCTAssertEqual(Array(g.prefix(4)), [49406, 320, 2368, 49407])
        XCTAssert(g[4...].allSatisfy { $0 == 0 })
        // Over-long input is cut to 75 tokens (single-window form).
        let long = tok.window([Int32](repeating: 320, count: 100), padID: 0)
        XCTAssertEqual(long.count, 77)
        XCTAssertEqual(long[76], 49407)
        XCTAssertEqual(tok.encodeWindow("", padID: 0), [49406, 49407] + [Int32](repeating: 0, count: 75))
    }

    func testMissingAndMalformedFiles() throws {
        XCTAssertThrowsError(try CLIPTokenizer(mergesPath: "/nonexistent/merges.txt")) { error in
            XCTAssert("\(error)".contains("/nonexistent/merges.txt"), "\(error)")
        }
        let dir = FileManager.default.temporaryDirectory
        let bad = dir.appendingPathComponent("sumi-bad-merges-\(getpid()).txt")
        try "#version: 0.2\ni n\nthis line has three\n".write(to: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bad) }
        XCTAssertThrowsError(try CLIPTokenizer(mergesPath: bad.path)) { error in
            XCTAssertEqual(error as? TokenizerError, .malformed(path: bad.path, line: 3, reason: "expected `left right`"))
        }
        let unknown = dir.appendingPathComponent("sumi-unknown-merges-\(getpid()).txt")
        try "#version: 0.2\nin g\n".write(to: unknown, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: unknown) }
        XCTAssertThrowsError(try CLIPTokenizer(mergesPath: unknown.path))
    }

    /// A tiny merges file defines a tiny vocabulary with the same layout.
    func testTinyMergesFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-tiny-merges-\(getpid()).txt")
        try "#version: 0.2\na b\nab c</w>\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let t = try CLIPTokenizer(mergesPath: url.path)
        XCTAssertEqual(t.vocabularySize, 516)
        XCTAssertEqual(t.bos, 514)
        XCTAssertEqual(t.encode("abc"), [513])
        XCTAssertEqual(t.encode("ab"), [64, 65 + 256])  // a, b</w>: the merge is `a b`, not `a b</w>`
        XCTAssertEqual(t.encode("abab"), [512, 64, 65 + 256])
    }

    func testCleanerPieces() {
        func clean(_ s: String) -> String { String(String.UnicodeScalarView(CLIPTextCleaner.clean(s))) }
        XCTAssertEqual(clean("  A\t\tB \n C  "), "a b c")
        XCTAssertEqual(clean("ΟΔΟΣ ΣΑΣ"), "οδος σας")
        XCTAssertEqual(clean("&amp;amp;amp;"), "&")
        XCTAssertEqual(clean("x &ampy"), "x &y")
        XCTAssertEqual(clean("it\u{2019}s \u{FB01}ne \u{FF21}"), "it's fine a")
        XCTAssertEqual(clean("e\u{301}"), "\u{E9}")
        XCTAssertEqual(clean("\u{1B}[1;31mred\u{1B}[0m"), "red")
    }
}
