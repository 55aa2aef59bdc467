/// Renders a `TextEditorState`: soft-wrapped lines, a block cursor when focused, a dim placeholder
/// when empty, and vertical scrolling that keeps the cursor in view.
public enum TextInput {
    /// One visual (wrapped) row: which logical line, and the grapheme range it shows.
    struct VisualRow: Equatable {
        var line: Int
        var start: Int
        var end: Int
    }

    /// Draws `state` into `rect`. `roles` (optional) colours each grapheme: one role per character of each
    /// line (syntax highlighting); lines or characters it does not cover use `text`.
    public static func render(_ state: TextEditorState, into frame: inout Frame, rect: Rect, theme: Theme,
                              focused: Bool, placeholder: String = "", roles: [[Role]]? = nil) {
        guard !rect.isEmpty else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        if state.isEmpty && !placeholder.isEmpty {
            frame.text(placeholder, in: rect, style: .role(.dim))
        }
        let rows = wrap(state.lines, width: rect.width, cursor: state.cursor)
        let cursorRow = rows.lastIndex { $0.line == state.cursor.row && $0.start <= state.cursor.col } ?? 0
        let top = max(0, cursorRow - rect.height + 1)
        for (i, vr) in rows.enumerated() where i >= top && i < top + rect.height {
            let row = rect.y + i - top
            if let lineRoles = roles.flatMap({ vr.line < $0.count ? $0[vr.line] : nil }) {
                var x = rect.x
                for i in vr.start..<vr.end {
                    let role = i < lineRoles.count ? lineRoles[i] : .text
                    x += frame.text(String(state.lines[vr.line][i]), col: x, row: row, style: .role(role), clip: rect)
                }
            } else {
                let s = String(state.lines[vr.line][vr.start..<vr.end])
                if !s.isEmpty { frame.text(s, col: rect.x, row: row, style: .role(.text), clip: rect) }
            }
            if focused && i == cursorRow {
                let col = min(rect.maxX - 1, rect.x + DisplayWidth.of(String(state.lines[vr.line][vr.start..<state.cursor.col])))
                let x = frame[col, row].isContinuation ? col - 1 : col
                frame.restyle(Rect(x: x, y: row, width: max(1, Int(frame[x, row].width)), height: 1),
                              fg: .role(.text), attrs: [.reverse])
            }
        }
    }

    /// Wraps lines to `width` cells by display width, breaking after the last space of a row when
    /// there is one (words longer than a row break anywhere). A line whose last row is exactly full
    /// and holds the cursor at its end gets an empty extra row, so the cursor has a cell to sit in.
    static func wrap(_ lines: [[Character]], width: Int, cursor: TextPosition) -> [VisualRow] {
        var out: [VisualRow] = []
        for (li, line) in lines.enumerated() {
            var start = 0, used = 0
            for (ci, ch) in line.enumerated() {
                let w = DisplayWidth.of(ch)
                if used + w > width && ci > start {
                    if ch == " " {
                        // The space hangs past the edge, so the next row starts with a word.
                        out.append(VisualRow(line: li, start: start, end: ci + 1))
                        start = ci + 1
                        used = 0
                        continue
                    }
                    var end = ci
                    if let space = line[start..<ci].lastIndex(of: " ") { end = space + 1 }
                    out.append(VisualRow(line: li, start: start, end: end))
                    start = end
                    used = line[start..<ci].reduce(0) { $0 + DisplayWidth.of($1) }
                }
                used += w
            }
            out.append(VisualRow(line: li, start: start, end: line.count))
            if used >= width && cursor.row == li && cursor.col == line.count && width > 0 {
                out.append(VisualRow(line: li, start: line.count, end: line.count))
            }
        }
        return out
    }
}
