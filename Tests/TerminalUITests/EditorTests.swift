import XCTest
@testable import TerminalUI

final class EditorTests: XCTestCase {
    func typed(_ s: String, into e: inout TextEditorState) { for ch in s { e.apply(.insert(String(ch))) } }

    func testTypingMovingAndDeleting() {
        var e = TextEditorState()
        typed("a cat", into: &e)
        XCTAssertEqual(e.text, "a cat")
        XCTAssertEqual(e.cursor, TextPosition(row: 0, col: 5))
        e.apply(.left); e.apply(.left); e.apply(.left)
        typed("big ", into: &e)
        XCTAssertEqual(e.text, "a big cat")
        e.apply(.lineEnd)
        e.apply(.backspace)
        XCTAssertEqual(e.text, "a big ca")
        e.apply(.lineStart)
        e.apply(.deleteForward)
        XCTAssertEqual(e.text, " big ca")
        e.apply(.backspace)  // at 0,0: nothing
        XCTAssertEqual(e.text, " big ca")
        e.apply(.deleteToLineEnd)
        XCTAssertEqual(e.text, "")
    }

    func testWordJumpsAndWordDelete() {
        var e = TextEditorState(text: "portrait of a fox, oil painting")
        e.apply(.wordLeft)
        XCTAssertEqual(e.cursor.col, 23)
        e.apply(.wordLeft); e.apply(.wordLeft)
        XCTAssertEqual(e.cursor.col, 14)  // "fox"
        e.apply(.wordRight)
        XCTAssertEqual(e.cursor.col, 17)
        e.apply(.deleteWordBackward)
        XCTAssertEqual(e.text, "portrait of a , oil painting")
        e.apply(.lineStart)
        e.apply(.wordLeft)  // nothing before
        XCTAssertEqual(e.cursor, TextPosition(row: 0, col: 0))
        e.apply(.wordRight)
        XCTAssertEqual(e.cursor.col, 8)
    }

    func testMultiLineAndVerticalMovement() {
        var e = TextEditorState(text: "first line\nab\nthird line")
        XCTAssertEqual(e.cursor, TextPosition(row: 2, col: 10))
        e.apply(.up)
        XCTAssertEqual(e.cursor, TextPosition(row: 1, col: 2))
        e.apply(.up)
        XCTAssertEqual(e.cursor, TextPosition(row: 0, col: 10), "preferred column survives a short line")
        e.apply(.right)
        XCTAssertEqual(e.cursor, TextPosition(row: 1, col: 0))
        e.apply(.left)
        XCTAssertEqual(e.cursor, TextPosition(row: 0, col: 10))
        e.apply(.deleteForward)
        XCTAssertEqual(e.text, "first lineab\nthird line")
        e.apply(.newline)
        XCTAssertEqual(e.text, "first line\nab\nthird line")
        XCTAssertEqual(e.cursor, TextPosition(row: 1, col: 0))
        e.apply(.backspace)
        XCTAssertEqual(e.lines.count, 2)
    }

    func testPasteIsOneUndoStep() {
        var e = TextEditorState(text: "x")
        e.apply(.insert("a\r\nb\nc"))
        XCTAssertEqual(e.text, "xa\nb\nc")
        XCTAssertEqual(e.cursor, TextPosition(row: 2, col: 1))
        e.apply(.undo)
        XCTAssertEqual(e.text, "x")
        e.apply(.redo)
        XCTAssertEqual(e.text, "xa\nb\nc")
    }

    func testUndoRedoCoalescesTyping() {
        var e = TextEditorState()
        typed("hello", into: &e)
        e.apply(.insert(" "))
        typed("world", into: &e)
        e.apply(.backspace); e.apply(.backspace)
        XCTAssertEqual(e.text, "hello wor")
        e.apply(.undo)
        XCTAssertEqual(e.text, "hello world", "the deletion run is one step")
        e.apply(.undo)
        XCTAssertEqual(e.text, "hello ", "the typed word is one step")
        e.apply(.undo)
        XCTAssertEqual(e.text, "hello")
        e.apply(.undo)
        XCTAssertEqual(e.text, "")
        XCTAssertFalse(e.canUndo)
        e.apply(.redo); e.apply(.redo)
        XCTAssertEqual(e.text, "hello ")
        typed("!", into: &e)
        XCTAssertFalse(e.canRedo, "a new edit clears redo")
        e.apply(.clear)
        XCTAssertEqual(e.text, "")
        e.apply(.undo)
        XCTAssertEqual(e.text, "hello !")
    }

    func testHistory() {
        var e = TextEditorState(history: ["a red fox"])
        typed("a blue", into: &e)
        XCTAssertEqual(e.submit(), "a blue")
        XCTAssertEqual(e.history, ["a red fox", "a blue"])
        XCTAssertEqual(e.text, "")
        typed("draft", into: &e)
        e.apply(.up)
        XCTAssertEqual(e.text, "a blue")
        e.apply(.historyPrevious)
        XCTAssertEqual(e.text, "a red fox")
        e.apply(.historyPrevious)
        XCTAssertEqual(e.text, "a red fox", "stops at the oldest")
        e.apply(.down)
        XCTAssertEqual(e.text, "a blue")
        e.apply(.down)
        XCTAssertEqual(e.text, "draft", "back to the draft")
        XCTAssertNil(e.historyIndex)
        _ = e.submit()
        _ = e.submit()  // blank: not recorded
        XCTAssertEqual(e.history, ["a red fox", "a blue", "draft"])
    }

    func testKeyMapping() {
        var e = TextEditorState()
        XCTAssertTrue(e.handle(.char("Q")))
        XCTAssertTrue(e.handle(Key(.enter, [.alt])))
        XCTAssertTrue(e.handle(.char("墨")))
        XCTAssertFalse(e.handle(.enter), "plain Enter belongs to the app (submit)")
        XCTAssertFalse(e.handle(.escape))
        XCTAssertEqual(e.text, "Q\n墨")
        XCTAssertTrue(e.handle(.ctrl("z")))
        XCTAssertEqual(e.text, "Q\n")
        XCTAssertEqual(EditorAction.forKey(Key(.left, [.ctrl])), .wordLeft)
        XCTAssertEqual(EditorAction.forKey(.ctrl("w")), .deleteWordBackward)
        XCTAssertEqual(EditorAction.forKey(.ctrl("u")), .deleteToLineStart)
    }
}
