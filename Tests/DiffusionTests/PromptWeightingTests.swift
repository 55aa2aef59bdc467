import Foundation
import TestSupport
import XCTest
@testable import Diffusion

final class PromptWeightingTests: XCTestCase {
    var tok: CLIPTokenizer { TokenizerData.tokenizer }

    /// Hand-written expectations (tools/reference/tokenizer_fixtures.py `WEIGHTING_CASES`) for both syntaxes.
    func testFixtureSegments() throws {
        let root = try TokenizerData.json("prompt_weighting.json")
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let syntax = try XCTUnwrap(PromptSyntax(rawValue: try XCTUnwrap(c["syntax"] as? String)))
            let expected = try XCTUnwrap(c["segments"] as? [[Any]]).map {
                PromptSegment(text: $0[0] as! String, weight: ($0[1] as! NSNumber).floatValue)
            }
            let got = PromptWeighting.parse(text, syntax: syntax)
            let same = got.count == expected.count && zip(got, expected).allSatisfy {
                $0.text == $1.text && abs($0.weight - $1.weight) <= 1e-6 * max(1, abs($1.weight))
            }
            XCTAssert(same, "\(syntax) \(text.debugDescription): expected \(expected) got \(got)")
        }
    }

    func testTupleView() {
        let s = PromptWeighting.segments("a (b:1.5)", syntax: .comfy)
        XCTAssertEqual(s.map(\.text), ["a ", "b"])
        XCTAssertEqual(s.map(\.weight), [1, 1.5])
    }

    func testPythonFloat() {
        func f(_ s: String) -> Double? { PromptWeighting.pythonFloat(Array(s.unicodeScalars)) }
        XCTAssertEqual(f(" 1.25 "), 1.25)
        XCTAssertEqual(f(".5"), 0.5)
        XCTAssertEqual(f("5."), 5)
        XCTAssertEqual(f("1_0"), 10)
        XCTAssertEqual(f("-1e-1"), -0.1)
        XCTAssertEqual(f("+inf"), .infinity)
        XCTAssertEqual(f("\u{FF11}.\u{FF15}"), 1.5)
        for bad in ["", ".", "abc", "0x10", "1e", "1_", "_1", "1.2.3", "nan(1)", "1 2"] { XCTAssertNil(f(bad), bad) }
    }

    // MARK: chunks

    private func content(_ chunk: TokenizedPrompt.Chunk) -> [Int32] { Array(chunk.ids[1..<chunk.eosIndex]) }

    func testEmptyPromptIsOneChunk() {
        for syntax in PromptSyntax.allCases {
            for pad in [tok.eos, CLIPTokenizer.bigGPad] {
                let p = TokenizedPrompt("", syntax: syntax, tokenizer: tok, padID: pad)
                XCTAssertEqual(p.chunks.count, 1)
                XCTAssertEqual(p.chunks[0].ids, [tok.bos, tok.eos] + [Int32](repeating: pad, count: 75))
                XCTAssertEqual(p.chunks[0].weights, [Float](repeating: 1, count: 77))
                XCTAssertEqual(p.chunks[0].eosIndex, 1)
                XCTAssertFalse(p.hasWeights)
            }
        }
    }

    func testWeightsPerToken() {
        let p = TokenizedPrompt("a (cat:1.5), [dog]", syntax: .comfy, tokenizer: tok, padID: 0)
        let c = p.chunks[0]
        let a = tok.encode("a"), cat = tok.encode("cat"), rest = tok.encode(", [dog]")
        XCTAssertEqual(content(c), a + cat + rest)
        XCTAssertEqual(Array(c.weights[0..<c.eosIndex + 2]),
                       [1] + [Float](repeating: 1, count: a.count) + [Float](repeating: 1.5, count: cat.count)
                           + [Float](repeating: 1, count: rest.count) + [1, 1])
        XCTAssertEqual(c.ids[c.eosIndex + 1], 0)
        XCTAssert(p.hasWeights)

        let q = TokenizedPrompt("a (cat:1.5), [dog]", syntax: .a1111, tokenizer: tok, padID: tok.eos)
        let d = q.chunks[0]
        XCTAssertEqual(content(d), a + cat + tok.encode(",") + tok.encode("dog"))
        XCTAssertEqual(d.weights.last!, 1)
        XCTAssertEqual(d.weights[d.eosIndex - 1], Float(1 / 1.1))
        XCTAssert(d.ids[d.eosIndex...].allSatisfy { $0 == tok.eos })
    }

    func testLongPromptSplitsInto75TokenChunks() {
        let word = tok.encode("word")
        XCTAssertEqual(word.count, 1)
        for syntax in PromptSyntax.allCases {
            let p = TokenizedPrompt(String(repeating: "word ", count: 160), syntax: syntax, tokenizer: tok, padID: 0)
            XCTAssertEqual(p.chunks.map(\.eosIndex), [76, 76, 11], "\(syntax)")
            XCTAssertEqual(p.chunks.map { content($0).count }, [75, 75, 10])
            for c in p.chunks {
                XCTAssertEqual(c.ids.count, 77); XCTAssertEqual(c.weights.count, 77)
                XCTAssertEqual(c.ids[0], tok.bos); XCTAssertEqual(c.ids[c.eosIndex], tok.eos)
            }
        }
    }

    /// ComfyUI moves a short segment that does not fit to the next chunk whole.
    func testComfyMovesShortGroupWhole() {
        let text = String(repeating: "a ", count: 74) + "(cat dog:1.2)"
        let p = TokenizedPrompt(text, syntax: .comfy, tokenizer: tok, padID: tok.eos)
        XCTAssertEqual(p.chunks.count, 2)
        XCTAssertEqual(p.chunks[0].eosIndex, 75)
        XCTAssertEqual(content(p.chunks[1]), tok.encode("cat dog"))
        XCTAssertEqual(Array(p.chunks[1].weights[1...2]), [1.2, 1.2])
        // A1111 packs token by token instead.
        let q = TokenizedPrompt(text, syntax: .a1111, tokenizer: tok, padID: tok.eos)
        XCTAssertEqual(q.chunks.map(\.eosIndex), [76, 2])
    }

    /// A1111 moves the tokens after a recent comma to the next chunk; ComfyUI splits at exactly 75.
    func testA1111CommaBacktrack() {
        let x = tok.encode("x"), y = tok.encode("y"), comma = tok.encode(",")
        XCTAssertEqual([x.count, y.count, comma.count], [1, 1, 1])
        let text = String(repeating: "x ", count: 70) + ", " + String(repeating: "y ", count: 10)
        let a = TokenizedPrompt(text, syntax: .a1111, tokenizer: tok, padID: 0)
        XCTAssertEqual(a.chunks.count, 2)
        XCTAssertEqual(content(a.chunks[0]), [Int32](repeating: x[0], count: 70) + comma)
        XCTAssertEqual(content(a.chunks[1]), [Int32](repeating: y[0], count: 10))
        let c = TokenizedPrompt(text, syntax: .comfy, tokenizer: tok, padID: 0)
        XCTAssertEqual(c.chunks.map { content($0).count }, [75, 6])
    }

    func testBreakForcesNewChunk() {
        for syntax in PromptSyntax.allCases {
            let p = TokenizedPrompt("a cat BREAK a dog", syntax: syntax, tokenizer: tok, padID: 0)
            XCTAssertEqual(p.chunks.count, 2)
            XCTAssertEqual(content(p.chunks[0]), tok.encode("a cat"))
            XCTAssertEqual(content(p.chunks[1]), tok.encode("a dog"))
            XCTAssertEqual(TokenizedPrompt("BREAK a", syntax: syntax, tokenizer: tok, padID: 0).chunks.count, 2)
            XCTAssertEqual(TokenizedPrompt("a BREAK", syntax: syntax, tokenizer: tok, padID: 0).chunks.count, 1)
            XCTAssertEqual(TokenizedPrompt("a break b", syntax: syntax, tokenizer: tok, padID: 0).chunks.count, 1)
            let w = TokenizedPrompt("(a BREAK b:1.3)", syntax: syntax, tokenizer: tok, padID: 0)
            XCTAssertEqual(w.chunks.count, 2)
            XCTAssertEqual(w.chunks[1].weights[1], 1.3)
        }
    }

    /// Both encoders get the same chunking; only the padding differs.
    func testPaddingPerEncoder() {
        let text = "1girl, solo, (masterpiece:1.2), " + String(repeating: "very detailed, ", count: 30)
        let l = TokenizedPrompt(text, syntax: .comfy, tokenizer: tok, padID: tok.eos)
        let g = TokenizedPrompt(text, syntax: .comfy, tokenizer: tok, padID: CLIPTokenizer.bigGPad)
        XCTAssertEqual(l.chunks.count, g.chunks.count)
        for (a, b) in zip(l.chunks, g.chunks) {
            XCTAssertEqual(a.eosIndex, b.eosIndex)
            XCTAssertEqual(Array(a.ids[...a.eosIndex]), Array(b.ids[...b.eosIndex]))
            XCTAssert(a.ids[(a.eosIndex + 1)...].allSatisfy { $0 == tok.eos })
            XCTAssert(b.ids[(b.eosIndex + 1)...].allSatisfy { $0 == 0 })
            XCTAssertEqual(a.weights, b.weights)
        }
    }
}
