/// Border shapes for boxes.
public enum BorderStyle: String, CaseIterable, Sendable {
    /// ╭─╮ │ ╰─╯
    case rounded
    /// ┌─┐ │ └─┘
    case light
    /// ┏━┓ ┃ ┗━┛
    case heavy

    /// Glyphs: top-left, top-right, bottom-left, bottom-right, horizontal, vertical.
    public var glyphs: (tl: Character, tr: Character, bl: Character, br: Character, h: Character, v: Character) {
        switch self {
        case .rounded: return ("╭", "╮", "╰", "╯", "─", "│")
        case .light: return ("┌", "┐", "└", "┘", "─", "│")
        case .heavy: return ("┏", "┓", "┗", "┛", "━", "┃")
        }
    }
}

extension Frame {
    /// Draws a border around `rect` with an optional title in the top edge (`╭─ Title ─╮`), and
    /// returns the inner rectangle. Rectangles smaller than 2×2 draw nothing and return empty.
    @discardableResult
    public mutating func box(_ rect: Rect, border: BorderStyle, title: String? = nil, style: Style = .role(.border),
                             titleStyle: Style? = nil) -> Rect {
        guard rect.width >= 2, rect.height >= 2 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
        let g = border.glyphs
        func cell(_ ch: Character, _ col: Int, _ row: Int) {
            set(col: col, row: row, Cell(ch, fg: style.fg, bg: style.bg ?? cellBackground(col, row), attrs: style.attrs))
        }
        for col in (rect.x + 1)..<(rect.maxX - 1) {
            cell(g.h, col, rect.y)
            cell(g.h, col, rect.maxY - 1)
        }
        for row in (rect.y + 1)..<(rect.maxY - 1) {
            cell(g.v, rect.x, row)
            cell(g.v, rect.maxX - 1, row)
        }
        cell(g.tl, rect.x, rect.y)
        cell(g.tr, rect.maxX - 1, rect.y)
        cell(g.bl, rect.x, rect.maxY - 1)
        cell(g.br, rect.maxX - 1, rect.maxY - 1)
        if let title, !title.isEmpty, rect.width > 4 {
            // `╭─ Title ─╮`; on very narrow boxes the leading rule goes first.
            let lead = rect.width > 6 ? 2 : 1
            let t = DisplayWidth.truncate(title, to: rect.width - 2 - lead - 1)
            let ts = titleStyle ?? Style(fg: style.fg, bg: style.bg, attrs: style.attrs.union(.bold))
            text(" " + t + " ", col: rect.x + lead, row: rect.y, style: ts, clip: Rect(x: rect.x + 1, y: rect.y, width: rect.width - 2, height: 1))
        }
        return rect.inset(1)
    }

    /// A box styled from `theme`: focused panes use `borderFocused` and the theme's focus attributes.
    @discardableResult
    public mutating func panel(_ rect: Rect, title: String? = nil, focused: Bool, theme: Theme) -> Rect {
        let style = focused ? Style.role(.borderFocused, attrs: theme.focusAttributes) : Style.role(.border)
        let titleStyle = focused ? Style.role(.accent, attrs: theme.focusAttributes.union(.bold)) : Style.role(.text)
        return box(rect, border: theme.border, title: title, style: style, titleStyle: titleStyle)
    }

    /// A horizontal line of `length` cells from (`col`, `row`).
    public mutating func hline(col: Int, row: Int, length: Int, char: Character = "─", style: Style = .role(.border)) {
        fill(Rect(x: col, y: row, width: length, height: 1), char: char, style: style)
    }

    /// A vertical line of `length` cells from (`col`, `row`).
    public mutating func vline(col: Int, row: Int, length: Int, char: Character = "│", style: Style = .role(.border)) {
        fill(Rect(x: col, y: row, width: 1, height: length), char: char, style: style)
    }

    /// A horizontal bar filling `fraction` (0…1) of `rect`'s first row with eighth-block precision;
    /// the rest shows `track` in the dim role.
    public mutating func horizontalBar(_ rect: Rect, fraction: Double, style: Style = .role(.accent), track: Character = " ") {
        guard !rect.isEmpty else { return }
        let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let eighths = Int((f * Double(rect.width * 8)).rounded(.down))
        let partial: [Character] = [" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        for i in 0..<rect.width {
            let filled = eighths - i * 8
            let ch: Character = filled >= 8 ? "█" : (filled > 0 ? partial[filled] : track)
            let st = filled > 0 ? style : Style.role(.dim, attrs: [])
            set(col: rect.x + i, row: rect.y, Cell(ch, fg: st.fg, bg: st.bg ?? cellBackground(rect.x + i, rect.y), attrs: st.attrs))
        }
    }

    /// A vertical bar rising from the bottom of `rect`'s first column, eighth-block precision.
    public mutating func verticalBar(_ rect: Rect, fraction: Double, style: Style = .role(.accent)) {
        guard !rect.isEmpty else { return }
        let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let eighths = Int((f * Double(rect.height * 8)).rounded(.down))
        let partial: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇"]
        for i in 0..<rect.height {
            let filled = eighths - i * 8
            let ch: Character = filled >= 8 ? "█" : (filled > 0 ? partial[filled] : " ")
            let row = rect.maxY - 1 - i
            set(col: rect.x, row: row, Cell(ch, fg: style.fg, bg: style.bg ?? cellBackground(rect.x, row), attrs: style.attrs))
        }
    }

    func cellBackground(_ col: Int, _ row: Int) -> CellColor {
        bounds.contains(col: col, row: row) ? self[col, row].bg : .role(.background)
    }
}
