import Foundation
import XCTest
@testable import TerminalUI

/// Drives the real ncurses backend. Skipped unless SUMI_TUI_LIVE=1 (it needs a terminal: run the test
/// binary inside tmux or term-shot, type keys, then `q`). Prints the detected capabilities on exit.
final class LiveTerminalTests: XCTestCase {
    func testLiveSession() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["SUMI_TUI_LIVE"] == "1" else { throw XCTSkip("set SUMI_TUI_LIVE=1 and run inside a terminal") }
        let mode = ImageMode(rawValue: env["SUMI_TUI_IMAGES"] ?? "auto") ?? .auto
        let session = TerminalSession(options: SessionOptions(imageMode: mode, environment: env))
        session.start()
        defer { session.stop() }
        var editor = TextEditorState()
        var log: [String] = []
        let deadline = Date().addingTimeInterval(Double(env["SUMI_TUI_SECONDS"] ?? "20") ?? 20)
        session.run { event, size in
            if Date() > deadline { return nil }
            if case .key(let k)? = event {
                if k == .ctrl("q") { return nil }
                if !editor.handle(k) { log.append(k.description) }
            }
            if case .paste(let p)? = event { editor.apply(.insert(p)) }
            if case .mouse(let m)? = event { log.append("mouse \(m.button) \(m.col),\(m.row)") }
            var f = Frame(size: size)
            let (main, status) = f.bounds.splitBottom(1)
            let cols = main.split(.horizontal, [.ratio(1, 2), .min(10)])
            let inner = f.panel(cols[0], title: "Prompt", focused: true, theme: .dark)
            TextInput.render(editor, into: &f, rect: inner, theme: .dark, focused: true, placeholder: "type; ctrl+q quits")
            let right = f.panel(cols[1], title: "Image", focused: false, theme: .dark)
            StatusBar.render(left: [StatusItem("live test", role: .accent), StatusItem("keys: \(log.suffix(3).joined(separator: " "))")],
                             right: [StatusItem("\(session.imageMode.rawValue) \(session.capabilities.cellWidth)x\(session.capabilities.cellHeight)")],
                             into: &f, rect: status, theme: .dark)
            return Screen(frame: f, theme: .dark, images: [ImageRequest(image: ImageTests.card, rect: right)])
        }
        session.stop()
        print("LIVE caps: \(session.capabilities) text: \(editor.text.debugDescription) log: \(log)")
    }
}
