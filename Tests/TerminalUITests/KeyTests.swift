import XCTest
import CNcursesw
@testable import TerminalUI

final class KeyTests: XCTestCase {
    func key(_ s: String) -> [InputEvent] { InputDecoder.decode(s) }

    func testControlCodesAndPlainKeys() {
        XCTAssertEqual(key("a"), [.key(.char("a"))])
        XCTAssertEqual(key("K"), [.key(.char("K"))])
        XCTAssertEqual(key("墨"), [.key(.char("墨"))])
        XCTAssertEqual(key("\u{13}"), [.key(.ctrl("s"))])
        XCTAssertEqual(key("\u{01}"), [.key(.ctrl("a"))])
        XCTAssertEqual(key("\r"), [.key(.enter)])
        XCTAssertEqual(key("\t"), [.key(.tab)])
        XCTAssertEqual(key("\u{7f}"), [.key(.backspace)])
        XCTAssertEqual(key("\u{1b}"), [.key(.escape)])
        XCTAssertEqual(key("hj"), [.key(.char("h")), .key(.char("j"))])
    }

    func testEscapeSequences() {
        XCTAssertEqual(key("\u{1b}[A"), [.key(.up)])
        XCTAssertEqual(key("\u{1b}OB"), [.key(.down)])
        XCTAssertEqual(key("\u{1b}[1;5C"), [.key(Key(.right, [.ctrl]))])
        XCTAssertEqual(key("\u{1b}[1;3D"), [.key(Key(.left, [.alt]))])
        XCTAssertEqual(key("\u{1b}[1;2A"), [.key(Key(.up, [.shift]))])
        XCTAssertEqual(key("\u{1b}[3~"), [.key(Key(.delete))])
        XCTAssertEqual(key("\u{1b}[5~\u{1b}[6~"), [.key(Key(.pageUp)), .key(Key(.pageDown))])
        XCTAssertEqual(key("\u{1b}[H\u{1b}[F"), [.key(Key(.home)), .key(Key(.end))])
        XCTAssertEqual(key("\u{1b}OP"), [.key(.f(1))])
        XCTAssertEqual(key("\u{1b}[15~"), [.key(.f(5))])
        XCTAssertEqual(key("\u{1b}[24;5~"), [.key(Key(.function(12), [.ctrl]))])
        XCTAssertEqual(key("\u{1b}[Z"), [.key(Key(.tab, [.shift]))])
        XCTAssertEqual(key("\u{1b}x"), [.key(.alt("x"))])
        XCTAssertEqual(key("\u{1b}\u{13}"), [.key(Key(.char("s"), [.ctrl, .alt]))])
        XCTAssertEqual(key("\u{1b}\u{1b}[A"), [.key(Key(.up, [.alt]))])
        XCTAssertEqual(key("\u{1b}[A\u{1b}[B"), [.key(.up), .key(.down)])
        XCTAssertEqual(key("\u{1b}[99~"), [])
    }

    func testMouseAndPaste() {
        XCTAssertEqual(key("\u{1b}[<0;11;5M"), [.mouse(MouseEvent(button: .left, col: 10, row: 4))])
        XCTAssertEqual(key("\u{1b}[<0;11;5m"), [.mouse(MouseEvent(button: .left, pressed: false, col: 10, row: 4))])
        XCTAssertEqual(key("\u{1b}[<64;1;1M"), [.mouse(MouseEvent(button: .wheelUp, col: 0, row: 0))])
        XCTAssertEqual(key("\u{1b}[<81;3;2M"), [.mouse(MouseEvent(button: .wheelDown, col: 2, row: 1, modifiers: [.ctrl]))])
        XCTAssertEqual(key("\u{1b}[<35;3;2M"), [], "motion is ignored")
        XCTAssertEqual(key("\u{1b}[M !!"), [.mouse(MouseEvent(button: .left, col: 0, row: 0))])
        XCTAssertEqual(key("\u{1b}[200~a cat\r\non the moon\rx\u{1b}[201~q"), [.paste("a cat\non the moon\nx"), .key(.char("q"))])
        XCTAssertEqual(key("\u{1b}[200~unterminated"), [.paste("unterminated")])
    }

    func testNcursesKeyCodes() {
        XCTAssertEqual(NcursesKeys.key(code: KEY_UP, name: nil), .up)
        XCTAssertEqual(NcursesKeys.key(code: KEY_BTAB, name: nil), Key(.tab, [.shift]))
        XCTAssertEqual(NcursesKeys.key(code: KEY_SLEFT, name: nil), Key(.left, [.shift]))
        XCTAssertEqual(NcursesKeys.key(code: KEY_DC, name: nil), Key(.delete))
        XCTAssertEqual(NcursesKeys.key(code: KEY_BACKSPACE, name: nil), .backspace)
        XCTAssertEqual(NcursesKeys.key(code: KEY_F0 + 5, name: nil), .f(5))
        XCTAssertEqual(NcursesKeys.key(code: KEY_F0 + 14, name: nil), Key(.function(2), [.shift]))
        XCTAssertEqual(NcursesKeys.key(code: KEY_F0 + 25, name: nil), Key(.function(1), [.ctrl]))
        XCTAssertEqual(NcursesKeys.key(code: 600, name: "kUP5"), Key(.up, [.ctrl]))
        XCTAssertEqual(NcursesKeys.key(code: 601, name: "kLFT3"), Key(.left, [.alt]))
        XCTAssertEqual(NcursesKeys.key(code: 602, name: "kDC6"), Key(.delete, [.ctrl, .shift]))
        XCTAssertNil(NcursesKeys.key(code: 603, name: "kxIN"))
        XCTAssertEqual(NcursesKeys.mouse(bstate: sumi_button1_pressed(), col: 3, row: 4), MouseEvent(button: .left, col: 3, row: 4))
        XCTAssertEqual(NcursesKeys.mouse(bstate: sumi_button4_pressed(), col: 0, row: 0)?.button, .wheelUp)
        XCTAssertEqual(NcursesKeys.mouse(bstate: sumi_button5_pressed() | sumi_button_ctrl(), col: 0, row: 0)?.modifiers, [.ctrl])
    }

    func testKeyTextRoundTrip() {
        let keys: [Key] = [.ctrl("s"), .alt("x"), Key(.tab, [.shift]), .up, .f(5), .char(" "), .char("?"), Key(.pageDown),
                           Key(.left, [.ctrl]), .enter, .escape]
        for k in keys { XCTAssertEqual(Key(parsing: k.description), k, k.description) }
        XCTAssertEqual(Key.ctrl("s").description, "ctrl+s")
        XCTAssertEqual(Key(parsing: "ctrl+S"), .ctrl("s"))
        XCTAssertEqual(Key(parsing: "up"), .up)
        XCTAssertNil(Key(parsing: "hyper+x"))
        XCTAssertNil(Key(parsing: "ab"))
    }

    // A small app-like table to exercise the key-table machinery.
    enum Action: CaseIterable { case quit, help, generate, up, down, cancel }
    struct AppState { var busy: Bool }

    var table: KeyTable<Action, AppState> {
        KeyTable([
            KeyBinding(.ctrl("q"), action: .quit, help: "quit"),
            KeyBinding(.f(1), .char("?"), action: .help, help: "show keys"),
            KeyBinding(.ctrl("g"), action: .generate, help: "generate",
                       whyDisabled: { $0.busy ? "a job is running" : nil }),
            KeyBinding(.up, .char("k"), action: .up, help: "previous image", context: "gallery"),
            KeyBinding(.down, .char("j"), action: .down, help: "next image", context: "gallery"),
            KeyBinding(.escape, action: .cancel, help: "cancel the job", whyDisabled: { $0.busy ? nil : "nothing to cancel" }),
        ])
    }

    func testKeyTableIsSound() {
        XCTAssertEqual(table.problems(), [])
        var broken = table
        broken.bindings.append(KeyBinding(.char("k"), action: .quit, help: " ", context: "gallery"))
        broken.bindings.removeAll { $0.action == .cancel }
        XCTAssertEqual(broken.problems(), ["quit: empty help", "k bound twice in context 'gallery': up and quit", "cancel: no key binding"])
    }

    func testKeyTableResolution() {
        let idle = AppState(busy: false), busy = AppState(busy: true)
        XCTAssertEqual(table.resolve(.ctrl("g"), contexts: ["gallery", "global"], state: idle), .perform(.generate))
        XCTAssertEqual(table.resolve(.ctrl("g"), contexts: ["global"], state: busy), .disabled(.generate, reason: "a job is running"))
        XCTAssertEqual(table.resolve(.char("k"), contexts: ["gallery", "global"], state: idle), .perform(.up))
        XCTAssertEqual(table.resolve(.char("k"), contexts: ["prompt", "global"], state: idle), .unbound)
        XCTAssertEqual(table.key(for: .help), .f(1))
        let entries = table.helpEntries(contexts: ["gallery", "global"], state: idle)
        XCTAssertEqual(entries.first, HelpEntry(keys: "↑/k", help: "previous image", context: "gallery"))
        XCTAssertEqual(entries.last?.disabledReason, "nothing to cancel")
        var frame = Frame(width: 50, height: 14)
        for theme in shippedThemes() {
            frame = Frame(width: 50, height: 14)
            HelpOverlay.render(entries, into: &frame, area: frame.bounds, theme: theme)
            assertSnapshot(frame, named: "help-overlay-\(theme.name)", theme: theme)
        }
    }
}
