import Diffusion
import Foundation
import XCTest
@testable import Studio
@testable import TerminalUI

/// Settings persistence, prompt highlighting and token counting.
final class StudioSettingsTests: XCTestCase {
    func testSettingsRoundTripThroughTOML() throws {
        let dir = PaneSnapshot.tempDir(self)
        let path = StudioSettings.path(configHome: dir)
        XCTAssertEqual(try StudioSettings.load(path: path), StudioSettings(), "no file: defaults")
        var s = StudioFixtures.state()
        s.sampler.seed = 4_000_000_000
        s.prompt = TextEditorState(text: "a \"quoted\" fox\nsecond line", history: ["older"])
        let settings = StudioSettings(state: s)
        try settings.save(path: path)
        XCTAssertTrue(path.hasSuffix("sumi/studio.toml"))
        let back = try StudioSettings.load(path: path)
        XCTAssertEqual(back, settings)
        var restored = AppState(size: s.size)
        back.apply(to: &restored)
        XCTAssertEqual(restored.prompt.text, s.prompt.text)
        XCTAssertEqual(restored.prompt.history, ["older"])
        XCTAssertEqual(restored.negative.text, s.negative.text)
        XCTAssertEqual(restored.sampler, s.sampler)
        XCTAssertEqual(restored.loras.map(\.slot), s.loras.map(\.slot))
        XCTAssertEqual(restored.loras.map(\.status), [.loading, .loading, .loading])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["studio.toml"], "the temporary file was renamed away")
    }

    func testPartialSettingsKeepDefaults() throws {
        let dir = PaneSnapshot.tempDir(self)
        let path = (dir as NSString).appendingPathComponent("s.toml")
        try "prompt = \"hi\"\n[sampler]\nsteps = 8\n[[loras]]\npath = \"x.safetensors\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        var state = AppState(size: Size(width: 80, height: 24))
        try StudioSettings.load(path: path).apply(to: &state)
        XCTAssertEqual(state.prompt.text, "hi")
        XCTAssertEqual(state.sampler.steps, 8)
        XCTAssertEqual(state.sampler.sampler, .lcm)
        XCTAssertEqual(state.loras.map(\.strength), [1])
        XCTAssertEqual(state.loras.map(\.enabled), [true])
    }

    func testBrokenSettingsNameTheFileAndKey() throws {
        let dir = PaneSnapshot.tempDir(self)
        let path = (dir as NSString).appendingPathComponent("s.toml")
        for (text, expected) in [
            ("[sampler]\nsampler = \"warp\"\n", "key 'sampler.sampler': unknown value 'warp'"),
            ("[sampler]\nsteps = \"many\"\n", "key 'sampler.steps'"),
            ("prompt = \n", "\(path):1"),
        ] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try StudioSettings.load(path: path)) { e in
                let d = "\(e)"
                XCTAssertTrue(d.hasPrefix(path), d)
                XCTAssertTrue(d.contains(expected), "\(d) should contain \(expected)")
            }
        }
    }

    func testHighlighterMarksEmphasisSyntax() {
        let line = Array("a (b:1.2), [c] BREAK \\(d\\)")
        let roles = PromptHighlighter.roles([line])[0]
        func at(_ s: String) -> Role { roles[line.firstIndex(of: Character(s))!] }
        XCTAssertEqual(at("a"), .text)
        XCTAssertEqual(at("("), .accent)
        XCTAssertEqual(at("b"), .plot2)
        XCTAssertEqual(Array(roles[4...7]), [.warning, .warning, .warning, .warning], ":1.2")
        XCTAssertEqual(at(","), .dim)
        XCTAssertEqual(at("c"), .plot6)
        XCTAssertEqual(at("R"), .error)
        XCTAssertEqual(at("\\"), .dim)
        XCTAssertEqual(at("d"), .text, "escaped parentheses do not open a group")
        // Groups continue across lines.
        let two = PromptHighlighter.roles([Array("(x"), Array("y)")])
        XCTAssertEqual(two[1][0], .plot2)
    }

    func testTokenCountsPerEncoderWindow() throws {
        let merges = PaneSnapshot.repoRoot.appendingPathComponent("models/tokenizer/clip-merges.txt").path
        let tokenizer = try CLIPTokenizer(mergesPath: merges)
        let short = TokenCounter.count("a photo of a cat", tokenizer: tokenizer)
        XCTAssertEqual(short, TokenCount(clipL: [5], clipG: [5]))
        XCTAssertEqual(TokenCount.text(short.clipL), "5/75")
        let long = TokenCounter.count(Array(repeating: "cat", count: 80).joined(separator: " "), tokenizer: tokenizer)
        XCTAssertEqual(long.clipL.reduce(0, +), 80)
        XCTAssertEqual(long.clipL.count, 2)
        XCTAssertEqual(TokenCount.text(long.clipG), "80/150")
        XCTAssertEqual(TokenCounter.count("", tokenizer: tokenizer).clipL, [0])
        XCTAssertEqual(TokenCounter.count("(cat:1.3)", tokenizer: tokenizer).clipL, [1], "weights are not tokens")
    }
}
