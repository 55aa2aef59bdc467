/// One terminal cell.
public struct Cell: Hashable, Sendable {
    /// The grapheme shown; a space for blank cells and for the right half of a wide grapheme.
    public var char: Character
    /// Foreground colour.
    public var fg: CellColor
    /// Background colour.
    public var bg: CellColor
    /// Attributes.
    public var attrs: Attributes
    /// Cells the grapheme takes: 1, 2 for the left half of a wide grapheme, 0 for its right half.
    public var width: UInt8

    /// A cell.
    public init(_ char: Character = " ", fg: CellColor = .role(.text), bg: CellColor = .role(.background),
                attrs: Attributes = [], width: UInt8 = 1) {
        self.char = char
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
        self.width = width
    }

    /// A blank cell on the theme background.
    public static let blank = Cell()

    /// Whether this is the right half of a wide grapheme (nothing is drawn for it).
    public var isContinuation: Bool { width == 0 }
}

/// How text is painted: colours and attributes. A nil background keeps the cell's existing one, so
/// text can be written onto panels, selections and status bars without knowing their colour.
public struct Style: Hashable, Sendable {
    /// Foreground colour.
    public var fg: CellColor
    /// Background colour, or nil to keep what is there.
    public var bg: CellColor?
    /// Attributes.
    public var attrs: Attributes

    /// A style.
    public init(fg: CellColor = .role(.text), bg: CellColor? = nil, attrs: Attributes = []) {
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
    }

    /// A style with foreground `role`.
    public static func role(_ role: Role, bg: Role? = nil, attrs: Attributes = []) -> Style {
        Style(fg: .role(role), bg: bg.map { .role($0) }, attrs: attrs)
    }
}

/// A composed screen: a grid of cells. Rendering builds a `Frame`; a `TerminalBackend` rasterises it.
/// All drawing clips to the frame (and to an optional clip rectangle), so widgets never crash on a
/// terminal that is too small.
public struct Frame: Hashable, Sendable {
    /// The frame's size.
    public let size: Size
    /// Cells, row-major.
    public private(set) var cells: [Cell]

    /// A blank frame.
    public init(size: Size, fill: Cell = .blank) {
        self.size = size
        cells = [Cell](repeating: fill, count: size.width * size.height)
    }

    /// A blank frame of `width`×`height`.
    public init(width: Int, height: Int) { self.init(size: Size(width: width, height: height)) }

    /// The whole frame as a rectangle.
    public var bounds: Rect { Rect(size: size) }

    /// The cell at (`col`, `row`); must be inside the frame.
    public subscript(col: Int, row: Int) -> Cell {
        get {
            precondition(bounds.contains(col: col, row: row), "Frame: cell (\(col), \(row)) outside \(size.width)x\(size.height)")
            return cells[row * size.width + col]
        }
        set {
            precondition(bounds.contains(col: col, row: row), "Frame: cell (\(col), \(row)) outside \(size.width)x\(size.height)")
            cells[row * size.width + col] = newValue
        }
    }

    /// Writes one cell, keeping wide graphemes consistent: overwriting half of a wide grapheme blanks
    /// the other half. Out-of-frame writes are ignored.
    public mutating func set(col: Int, row: Int, _ cell: Cell) {
        guard bounds.contains(col: col, row: row) else { return }
        let i = row * size.width + col
        let old = cells[i]
        if old.width == 2, col + 1 < size.width { cells[i + 1] = blanked(cells[i + 1]) }
        if old.width == 0, col > 0 { cells[i - 1] = blanked(cells[i - 1]) }
        cells[i] = cell
    }

    private func blanked(_ c: Cell) -> Cell { Cell(" ", fg: c.fg, bg: c.bg, attrs: c.attrs) }

    /// Paints `rect` with `char` in `style` (a nil background keeps the existing one).
    public mutating func fill(_ rect: Rect, char: Character = " ", style: Style = Style()) {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return }
        for row in r.y..<r.maxY {
            for col in r.x..<r.maxX {
                set(col: col, row: row, Cell(char, fg: style.fg, bg: style.bg ?? self[col, row].bg, attrs: style.attrs))
            }
        }
    }

    /// Changes only the colours/attributes of `rect` (e.g. to highlight a selected row).
    public mutating func restyle(_ rect: Rect, fg: CellColor? = nil, bg: CellColor? = nil, attrs: Attributes? = nil) {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return }
        for row in r.y..<r.maxY {
            for col in r.x..<r.maxX {
                let i = row * size.width + col
                if let fg { cells[i].fg = fg }
                if let bg { cells[i].bg = bg }
                if let attrs { cells[i].attrs = attrs }
            }
        }
    }

    /// Writes `text` on one row starting at (`col`, `row`), clipped to `clip` (default: the frame).
    /// Wide graphemes take two cells; one that would straddle the clip edge is replaced by a space.
    /// Control characters (including newlines) are skipped. Returns the cells advanced.
    @discardableResult
    public mutating func text(_ text: String, col: Int, row: Int, style: Style = Style(), clip: Rect? = nil) -> Int {
        let c = (clip ?? bounds).intersection(bounds)
        guard row >= c.y, row < c.maxY else { return DisplayWidth.of(text) }
        var x = col
        for ch in text {
            let w = DisplayWidth.of(ch)
            if w == 0 { continue }
            if x >= c.maxX { break }
            if x >= c.x {
                let bg = style.bg ?? self[x, row].bg
                if w == 2 && x + 1 >= c.maxX {
                    set(col: x, row: row, Cell(" ", fg: style.fg, bg: bg, attrs: style.attrs))
                } else {
                    set(col: x, row: row, Cell(ch, fg: style.fg, bg: bg, attrs: style.attrs, width: UInt8(w)))
                    if w == 2 {
                        let bg2 = style.bg ?? self[x + 1, row].bg
                        set(col: x + 1, row: row, Cell(" ", fg: style.fg, bg: bg2, attrs: style.attrs, width: 0))
                    }
                }
            } else if w == 2 && x + 1 == c.x {
                // Left half clipped away: show the visible half as a space.
                set(col: c.x, row: row, Cell(" ", fg: style.fg, bg: style.bg ?? self[c.x, row].bg, attrs: style.attrs))
            }
            x += w
        }
        return x - col
    }

    /// Writes `text` inside `rect`'s first row, truncated with `…`, aligned as asked.
    public mutating func text(_ text: String, in rect: Rect, align: Alignment = .left, style: Style = Style()) {
        guard !rect.isEmpty else { return }
        let t = DisplayWidth.truncate(text, to: rect.width)
        let w = DisplayWidth.of(t)
        let col: Int
        switch align {
        case .left: col = rect.x
        case .center: col = rect.x + (rect.width - w) / 2
        case .right: col = rect.maxX - w
        }
        self.text(t, col: col, row: rect.y, style: style, clip: rect)
    }

    /// The text of one row (wide graphemes once, continuation cells skipped).
    public func rowText(_ row: Int) -> String {
        var s = ""
        for col in 0..<size.width where !self[col, row].isContinuation { s.append(self[col, row].char) }
        return s
    }
}

/// Horizontal text alignment.
public enum Alignment: Sendable {
    /// Flush left.
    case left
    /// Centred.
    case center
    /// Flush right.
    case right
}
