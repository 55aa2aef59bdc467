import Foundation

/// A position in an editor: line index and grapheme index within the line.
public struct TextPosition: Hashable, Sendable, Comparable {
    /// Line (0-based).
    public var row: Int
    /// Grapheme index in the line (0…count).
    public var col: Int
    /// A position.
    public init(row: Int, col: Int) {
        self.row = row
        self.col = col
    }
    /// Reading order.
    public static func < (a: TextPosition, b: TextPosition) -> Bool { (a.row, a.col) < (b.row, b.col) }
}

/// An editing command. Key handling maps keys to these; tests drive them directly.
public enum EditorAction: Hashable, Sendable {
    /// Inserts text at the cursor (typed characters or a paste; newlines split lines).
    case insert(String)
    /// Splits the line at the cursor.
    case newline
    /// Deletes the grapheme before the cursor (joins lines at column 0).
    case backspace
    /// Deletes the grapheme after the cursor (joins lines at the end).
    case deleteForward
    /// Cursor one grapheme left (to the previous line's end at column 0).
    case left
    /// Cursor one grapheme right.
    case right
    /// Cursor one line up, keeping the column; on the first line, the previous history entry.
    case up
    /// Cursor one line down; on the last line, the next history entry.
    case down
    /// Start of the previous word.
    case wordLeft
    /// End of the next word.
    case wordRight
    /// Start of the line.
    case lineStart
    /// End of the line.
    case lineEnd
    /// Deletes back to the start of the previous word.
    case deleteWordBackward
    /// Deletes to the end of the line.
    case deleteToLineEnd
    /// Deletes to the start of the line.
    case deleteToLineStart
    /// Undoes the last edit.
    case undo
    /// Redoes the last undone edit.
    case redo
    /// Replaces the text with the previous history entry.
    case historyPrevious
    /// Replaces the text with the next history entry (or the draft that was being typed).
    case historyNext
    /// Empties the editor (undoable).
    case clear

    /// The editor's own keys; nil for keys it does not handle (Enter, Tab, Escape… belong to the app).
    public static func forKey(_ key: Key) -> EditorAction? {
        let m = key.modifiers
        switch key.code {
        case .char(let c) where m.isEmpty || m == [.shift]: return .insert(String(c))
        case .char("a") where m == [.ctrl]: return .lineStart
        case .char("e") where m == [.ctrl]: return .lineEnd
        case .char("b") where m == [.ctrl]: return .left
        case .char("f") where m == [.ctrl]: return .right
        case .char("b") where m == [.alt]: return .wordLeft
        case .char("f") where m == [.alt]: return .wordRight
        case .char("d") where m == [.ctrl]: return .deleteForward
        case .char("w") where m == [.ctrl]: return .deleteWordBackward
        case .char("k") where m == [.ctrl]: return .deleteToLineEnd
        case .char("u") where m == [.ctrl]: return .deleteToLineStart
        case .char("z") where m == [.ctrl]: return .undo
        case .char("y") where m == [.ctrl]: return .redo
        case .char("z") where m == [.ctrl, .shift]: return .redo
        case .left where m.contains(.ctrl) || m.contains(.alt): return .wordLeft
        case .right where m.contains(.ctrl) || m.contains(.alt): return .wordRight
        case .left where m.isEmpty: return .left
        case .right where m.isEmpty: return .right
        case .up where m.isEmpty: return .up
        case .down where m.isEmpty: return .down
        case .home: return .lineStart
        case .end: return .lineEnd
        case .backspace where m.contains(.alt) || m.contains(.ctrl): return .deleteWordBackward
        case .backspace: return .backspace
        case .delete: return .deleteForward
        case .enter where m.contains(.alt) || m.contains(.shift): return .newline
        default: return nil
        }
    }
}

/// A multi-line text editor's state: lines, cursor, undo/redo and prompt history. A pure value:
/// `apply` is the only way to change it, which keeps every behaviour unit-testable.
public struct TextEditorState: Hashable, Sendable {
    struct Snapshot: Hashable, Sendable {
        var lines: [[Character]]
        var cursor: TextPosition
    }
    enum EditKind: Hashable, Sendable { case typing, deleting, other }

    /// The lines (never empty; an empty editor has one empty line).
    public private(set) var lines: [[Character]] = [[]]
    /// The cursor.
    public private(set) var cursor = TextPosition(row: 0, col: 0)
    /// Earlier submitted texts, oldest first.
    public private(set) var history: [String]
    /// Which history entry is shown while browsing (nil when editing the draft).
    public private(set) var historyIndex: Int?

    var preferredCol: Int?
    var undoStack: [Snapshot] = []
    var redoStack: [Snapshot] = []
    var lastEdit: EditKind?
    var draft: String = ""
    static let undoLimit = 200

    /// An editor holding `text`, cursor at its end.
    public init(text: String = "", history: [String] = []) {
        self.history = history
        setText(text)
    }

    /// The whole text, lines joined with `\n`.
    public var text: String { lines.map { String($0) }.joined(separator: "\n") }
    /// Whether there is no text.
    public var isEmpty: Bool { lines.count == 1 && lines[0].isEmpty }
    /// Whether `undo` would do something.
    public var canUndo: Bool { !undoStack.isEmpty }
    /// Whether `redo` would do something.
    public var canRedo: Bool { !redoStack.isEmpty }

    /// Handles a key with the editor's default bindings; returns false when the key is not the editor's.
    @discardableResult
    public mutating func handle(_ key: Key) -> Bool {
        guard let a = EditorAction.forKey(key) else { return false }
        apply(a)
        return true
    }

    /// Returns the text, records it in history (unless blank or equal to the last entry) and clears the
    /// editor and its undo stack.
    public mutating func submit() -> String {
        let t = text
        if !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, history.last != t { history.append(t) }
        historyIndex = nil
        draft = ""
        undoStack.removeAll()
        redoStack.removeAll()
        lastEdit = nil
        setText("")
        return t
    }

    /// Applies one editing command.
    public mutating func apply(_ action: EditorAction) {
        switch action {
        case .insert(let s): edit(s.count == 1 && !s.contains(where: \.isWhitespace) ? .typing : .other) { $0.insertText(s) }
        case .newline: edit(.other) { $0.insertText("\n") }
        case .backspace:
            guard cursor != TextPosition(row: 0, col: 0) else { return }
            edit(.deleting) { e in
                let end = e.cursor
                e.moveLeft()
                e.delete(from: e.cursor, to: end)
            }
        case .deleteForward:
            guard cursor != endPosition else { return }
            edit(.deleting) { e in
                var probe = e
                probe.moveRight()
                e.delete(from: e.cursor, to: probe.cursor)
            }
        case .deleteWordBackward:
            guard cursor != TextPosition(row: 0, col: 0) else { return }
            edit(.other) { e in
                let end = e.cursor
                e.moveWordLeft()
                e.delete(from: e.cursor, to: end)
            }
        case .deleteToLineEnd:
            let end = TextPosition(row: cursor.row, col: lines[cursor.row].count)
            if end == cursor {
                guard cursor.row + 1 < lines.count else { return }
                edit(.other) { e in e.delete(from: e.cursor, to: TextPosition(row: e.cursor.row + 1, col: 0)) }
            } else {
                edit(.other) { e in e.delete(from: e.cursor, to: end) }
            }
        case .deleteToLineStart:
            guard cursor.col > 0 else { return }
            edit(.other) { e in e.delete(from: TextPosition(row: e.cursor.row, col: 0), to: e.cursor) }
        case .clear:
            guard !isEmpty else { return }
            edit(.other) { $0.setText("") }
        case .left: move { $0.moveLeft() }
        case .right: move { $0.moveRight() }
        case .wordLeft: move { $0.moveWordLeft() }
        case .wordRight: move { $0.moveWordRight() }
        case .lineStart: move { $0.cursor.col = 0 }
        case .lineEnd: move { $0.cursor.col = $0.lines[$0.cursor.row].count }
        case .up:
            if cursor.row == 0 { apply(.historyPrevious); return }
            moveVertically(-1)
        case .down:
            if cursor.row == lines.count - 1 { apply(.historyNext); return }
            moveVertically(1)
        case .undo:
            guard let s = undoStack.popLast() else { return }
            redoStack.append(snapshot)
            restore(s)
        case .redo:
            guard let s = redoStack.popLast() else { return }
            undoStack.append(snapshot)
            restore(s)
        case .historyPrevious:
            guard !history.isEmpty else { return }
            let i: Int
            if let h = historyIndex { i = max(0, h - 1) } else { draft = text; i = history.count - 1 }
            showHistory(i)
        case .historyNext:
            guard let h = historyIndex else { return }
            if h + 1 < history.count { showHistory(h + 1) } else {
                historyIndex = nil
                replaceAll(draft)
            }
        }
    }

    // MARK: - Internals

    var snapshot: Snapshot { Snapshot(lines: lines, cursor: cursor) }
    var endPosition: TextPosition { TextPosition(row: lines.count - 1, col: lines[lines.count - 1].count) }

    mutating func restore(_ s: Snapshot) {
        lines = s.lines
        cursor = s.cursor
        preferredCol = nil
        lastEdit = nil
    }

    /// Records an undo step (typing and deleting runs coalesce into one step) and runs the edit.
    mutating func edit(_ kind: EditKind, _ body: (inout TextEditorState) -> Void) {
        let before = snapshot
        if kind == .other || kind != lastEdit {
            undoStack.append(before)
            if undoStack.count > Self.undoLimit { undoStack.removeFirst() }
        }
        redoStack.removeAll()
        body(&self)
        lastEdit = kind
        preferredCol = nil
    }

    mutating func move(_ body: (inout TextEditorState) -> Void) {
        body(&self)
        preferredCol = nil
        lastEdit = nil
    }

    mutating func showHistory(_ i: Int) {
        historyIndex = i
        replaceAll(history[i])
    }

    /// Replaces the text as one undoable step (history browsing).
    mutating func replaceAll(_ s: String) {
        guard s != text else { return }
        edit(.other) { $0.setText(s) }
    }

    mutating func setText(_ s: String) {
        lines = s.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
        if lines.isEmpty { lines = [[]] }
        cursor = endPosition
    }

    mutating func insertText(_ s: String) {
        let normalized = s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        let parts = normalized.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.filter { !$0.isNewline }) }
        let line = lines[cursor.row]
        let head = Array(line[..<cursor.col]), tail = Array(line[cursor.col...])
        if parts.count == 1 {
            lines[cursor.row] = head + parts[0] + tail
            cursor.col += parts[0].count
            return
        }
        var newLines = [head + parts[0]]
        newLines += parts[1..<(parts.count - 1)]
        newLines.append(parts[parts.count - 1] + tail)
        lines.replaceSubrange(cursor.row...cursor.row, with: newLines)
        cursor = TextPosition(row: cursor.row + parts.count - 1, col: parts[parts.count - 1].count)
    }

    mutating func delete(from a: TextPosition, to b: TextPosition) {
        guard a < b else { return }
        let head = Array(lines[a.row][..<a.col]), tail = Array(lines[b.row][b.col...])
        lines.replaceSubrange(a.row...b.row, with: [head + tail])
        cursor = a
    }

    mutating func moveLeft() {
        if cursor.col > 0 { cursor.col -= 1 } else if cursor.row > 0 {
            cursor.row -= 1
            cursor.col = lines[cursor.row].count
        }
    }

    mutating func moveRight() {
        if cursor.col < lines[cursor.row].count { cursor.col += 1 } else if cursor.row + 1 < lines.count {
            cursor.row += 1
            cursor.col = 0
        }
    }

    static func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }

    mutating func moveWordLeft() {
        if cursor.col == 0 { moveLeft(); return }
        let line = lines[cursor.row]
        var c = cursor.col
        while c > 0 && !Self.isWordChar(line[c - 1]) { c -= 1 }
        while c > 0 && Self.isWordChar(line[c - 1]) { c -= 1 }
        cursor.col = c
    }

    mutating func moveWordRight() {
        let line = lines[cursor.row]
        if cursor.col == line.count { moveRight(); return }
        var c = cursor.col
        while c < line.count && !Self.isWordChar(line[c]) { c += 1 }
        while c < line.count && Self.isWordChar(line[c]) { c += 1 }
        cursor.col = c
    }

    mutating func moveVertically(_ delta: Int) {
        let want = preferredCol ?? cursor.col
        cursor.row += delta
        cursor.col = min(want, lines[cursor.row].count)
        preferredCol = want
        lastEdit = nil
    }
}
