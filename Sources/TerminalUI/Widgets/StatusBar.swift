/// One segment of the status bar.
public struct StatusItem: Hashable, Sendable {
    /// Text.
    public var text: String
    /// Colour role of the text (`statusText`, `warning`, `error`, `accent`).
    public var role: Role
    /// Bold.
    public var bold: Bool

    /// A segment.
    public init(_ text: String, role: Role = .statusText, bold: Bool = false) {
        self.text = text
        self.role = role
        self.bold = bold
    }
}

/// The one-row status bar: segments on the left and right separated by ` │ `; the right side gives
/// way when the row is too short.
public enum StatusBar {
    /// Draws the bar into `rect`'s first row.
    public static func render(left: [StatusItem], right: [StatusItem] = [], into frame: inout Frame, rect: Rect, theme: Theme) {
        guard !rect.isEmpty else { return }
        let row = Rect(x: rect.x, y: rect.y, width: rect.width, height: 1)
        frame.fill(row, style: Style(fg: .role(.statusText), bg: .role(.status)))
        let sep = " │ "
        func width(_ items: [StatusItem]) -> Int {
            items.reduce(0) { $0 + DisplayWidth.of($1.text) } + max(0, items.count - 1) * 3 + 2
        }
        let rightWidth = right.isEmpty || width(left) + width(right) > rect.width ? 0 : width(right)
        func draw(_ items: [StatusItem], from col: Int, limit: Int) {
            var x = col + 1
            let clip = Rect(x: col, y: rect.y, width: limit, height: 1)
            for (i, item) in items.enumerated() {
                if i > 0 { x += frame.text(sep, col: x, row: rect.y, style: .role(.dim, bg: .status), clip: clip) }
                x += frame.text(item.text, col: x, row: rect.y, style: .role(item.role, bg: .status, attrs: item.bold ? [.bold] : []), clip: clip)
            }
        }
        draw(left, from: rect.x, limit: rect.width - rightWidth)
        if rightWidth > 0 { draw(right, from: rect.maxX - rightWidth, limit: rightWidth) }
    }
}
