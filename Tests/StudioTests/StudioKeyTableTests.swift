import XCTest
@testable import Studio
@testable import TerminalUI

/// The key table is sound and resolves keys per context, with reasons for what is unavailable.
final class StudioKeyTableTests: XCTestCase {
    func testTableHasNoProblems() {
        XCTAssertEqual(StudioKeys.table.problems(), [])
    }

    func testVimAndArrowKeysBothWork() {
        var s = StudioFixtures.state()
        s.focus = .loras
        for (keys, action) in [([Key.down, .char("j")], StudioAction.loraDown), ([.up, .char("k")], .loraUp),
                               ([.left, .char("h")], .strengthDown), ([.right, .char("l")], .strengthUp),
                               ([Key(.right, [.shift]), .char("L")], .strengthUpCoarse)] {
            for k in keys { XCTAssertEqual(resolve(k, s), .perform(action), "\(k)") }
        }
        s.focus = .sampler
        XCTAssertEqual(resolve(.char("j"), s), .perform(.fieldDown))
        XCTAssertEqual(resolve(.down, s), .perform(.fieldDown))
    }

    func testEditorsKeepPrintableKeys() {
        var s = StudioFixtures.state()
        s.focus = .prompt
        for ch in "jkhlqg?ad0 =" { XCTAssertEqual(resolve(.char(ch), s), .unbound, "'\(ch)' must be text in the prompt") }
        XCTAssertEqual(resolve(.enter, s), .perform(.generate))
        XCTAssertEqual(resolve(.ctrl("g"), s), .perform(.generate))
        XCTAssertEqual(resolve(.tab, s), .perform(.nextPane))
    }

    func testDisabledReasons() {
        var s = StudioFixtures.state()
        s.model = .loading("reading weights")
        XCTAssertEqual(resolve(.ctrl("g"), s), .disabled(.generate, reason: "the model is still loading"))
        XCTAssertEqual(resolve(.escape, s), .disabled(.cancel, reason: "nothing is running"))
        s.focus = .loras
        s.loraSelection = 0
        XCTAssertEqual(resolve(.char("K"), s), .disabled(.moveLoRAUp, reason: "already first"))
        s.loras = []
        XCTAssertEqual(resolve(.char("l"), s), .disabled(.strengthUp, reason: "no LoRA in the stack (a adds one)"))
        s.focus = .sampler
        s.samplerField = .sampler
        XCTAssertEqual(resolve(.enter, s), .disabled(.typeValue, reason: "sampler is chosen from a list (←/→)"))
    }

    func testOverlaysTakeKeysFirst() {
        var s = StudioFixtures.running()
        s.showHelp = true
        XCTAssertEqual(resolve(.escape, s), .perform(.closeHelp), "esc closes help before it cancels the job")
        s.showHelp = false
        XCTAssertEqual(resolve(.escape, s), .perform(.cancel))
        s.entry = ValueEntry(target: .sampler(.steps), editor: TextEditorState(text: "8"))
        XCTAssertEqual(resolve(.enter, s), .perform(.commitEntry))
        XCTAssertEqual(resolve(.escape, s), .perform(.cancelEntry))
        XCTAssertEqual(resolve(.ctrl("c"), s), .perform(.interrupt), "ctrl+c works everywhere")
    }

    func testHelpListsEditorKeysAndReasons() {
        var s = StudioFixtures.state()
        s.model = .loading("x")
        let entries = StudioKeys.helpEntries(s)
        XCTAssertTrue(entries.contains { $0.keys == "ctrl+z/ctrl+y" && $0.context == "prompt" })
        XCTAssertTrue(entries.contains { $0.keys == "ctrl+g/F5" && $0.disabledReason == "the model is still loading" })
        XCTAssertFalse(entries.contains { $0.context == "loras" }, "only the focused pane's keys and the global ones")
    }

    func testStatusBarHintsComeFromTheTable() {
        var s = StudioFixtures.state()
        s.focus = .loras
        let hints = StudioView.hints(s, context: "loras")
        XCTAssertEqual(hints.first, "→ strength +0.05")
        XCTAssertTrue(hints.contains("a add a LoRA"))
    }

    private func resolve(_ k: Key, _ s: AppState) -> KeyResolution<StudioAction> {
        StudioKeys.table.resolve(k, contexts: StudioKeys.contexts(s), state: s)
    }
}
