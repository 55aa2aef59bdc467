/// A row of tabs: ` Generate │ Train │ Gallery `, the selected one highlighted.
public enum Tabs {
    /// Draws `titles` with `selected` highlighted into `rect`'s first row.
    public static func render(_ titles: [String], selected: Int, into frame: inout Frame, rect: Rect, theme: Theme) {
        guard !rect.isEmpty else { return }
        let row = Rect(x: rect.x, y: rect.y, width: rect.width, height: 1)
        frame.fill(row, style: Style(bg: .role(.background)))
        var x = rect.x
        for (i, t) in titles.enumerated() {
            if i > 0 { x += frame.text("│", col: x, row: rect.y, style: .role(.border), clip: row) }
            let style: Style = i == selected
                ? .role(.accent, bg: .selection, attrs: theme.focusAttributes.union(.bold))
                : .role(.dim)
            x += frame.text(" \(t) ", col: x, row: rect.y, style: style, clip: row)
        }
    }

    /// The tab index under column `col` (for mouse clicks), or nil.
    public static func index(atColumn col: Int, titles: [String], rect: Rect) -> Int? {
        var x = rect.x
        for (i, t) in titles.enumerated() {
            if i > 0 { x += 1 }
            let w = DisplayWidth.of(t) + 2
            if col >= x && col < x + w { return i }
            x += w
        }
        return nil
    }
}
