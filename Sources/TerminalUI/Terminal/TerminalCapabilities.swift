/// What the terminal can do, as far as the UI cares: sixel graphics and the cell size in pixels.
public struct TerminalCapabilities: Hashable, Sendable {
    /// Whether DA1 listed feature 4 (sixel), or the environment suggested it when nothing answered.
    public var sixel: Bool
    /// Sixel colour registers (XTSMGRAPHICS), or nil when the terminal did not say (use 256).
    public var colorRegisters: Int?
    /// Cell width in pixels.
    public var cellWidth: Int
    /// Cell height in pixels.
    public var cellHeight: Int
    /// Where the cell size came from: `CSI 16 t`, `CSI 14 t`, `TIOCGWINSZ`, `XTSMGRAPHICS` or `default`.
    public var cellSizeSource: String
    /// XTVERSION reply (`XTerm(379)`, `tmux 3.3a`), if any.
    public var terminalVersion: String?
    /// Whether the terminal answered DA1 at all (false: timed out, detection is a guess).
    public var answered: Bool

    /// Capabilities.
    public init(sixel: Bool, colorRegisters: Int? = nil, cellWidth: Int = 10, cellHeight: Int = 20,
                cellSizeSource: String = "default", terminalVersion: String? = nil, answered: Bool = false) {
        self.sixel = sixel
        self.colorRegisters = colorRegisters
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
        self.cellSizeSource = cellSizeSource
        self.terminalVersion = terminalVersion
        self.answered = answered
    }

    /// What to assume without asking (tests, `--images=blocks`): no sixel, 10×20 cells.
    public static let unknown = TerminalCapabilities(sixel: false)

    /// The queries, in one write, DA1 last: terminals answer in order, so the DA1 reply marks the end.
    /// XTVERSION, XTSMGRAPHICS colour registers and geometry, cell size (16 t), text area (14 t), DA1.
    public static let query: [UInt8] = Array("\u{1b}[>0q\u{1b}[?1;1;0S\u{1b}[?2;1;0S\u{1b}[16t\u{1b}[14t\u{1b}[c".utf8)

    /// Whether `bytes` already hold the DA1 reply (`CSI ? … c`), i.e. reading can stop.
    public static func hasDA1Reply(_ bytes: [UInt8]) -> Bool { TerminalReplies.parse(bytes).da1 != nil }

    /// Combines the replies with the window size from `TIOCGWINSZ` (`rows`, `cols`, pixel size, 0 when
    /// unknown) and, only when the terminal never answered, the environment as a hint.
    public static func resolve(replies: TerminalReplies, rows: Int, cols: Int, pixelWidth: Int, pixelHeight: Int,
                               environment: [String: String]) -> TerminalCapabilities {
        var caps = TerminalCapabilities(sixel: false)
        if let da1 = replies.da1 {
            caps.answered = true
            caps.sixel = da1.dropFirst().contains(4)
        } else {
            caps.sixel = environmentSuggestsSixel(environment)
        }
        caps.colorRegisters = replies.colorRegisters
        caps.terminalVersion = replies.version
        if let c = replies.cellPixels, c.width > 0, c.height > 0 {
            (caps.cellWidth, caps.cellHeight, caps.cellSizeSource) = (c.width, c.height, "CSI 16 t")
        } else if let t = replies.textAreaPixels, t.width > 0, t.height > 0, rows > 0, cols > 0, t.width >= cols, t.height >= rows {
            (caps.cellWidth, caps.cellHeight, caps.cellSizeSource) = (t.width / cols, t.height / rows, "CSI 14 t")
        } else if pixelWidth >= cols, pixelHeight >= rows, rows > 0, cols > 0 {
            (caps.cellWidth, caps.cellHeight, caps.cellSizeSource) = (pixelWidth / cols, pixelHeight / rows, "TIOCGWINSZ")
        } else if let g = replies.graphicsPixels, rows > 0, cols > 0, g.width >= cols, g.height >= rows {
            (caps.cellWidth, caps.cellHeight, caps.cellSizeSource) = (g.width / cols, g.height / rows, "XTSMGRAPHICS")
        }
        return caps
    }

    /// Weak hints for terminals that did not answer (terminal-sixel-notes §1).
    static func environmentSuggestsSixel(_ env: [String: String]) -> Bool {
        if env["TMUX"] != nil || env["STY"] != nil { return false }
        if let p = env["TERM_PROGRAM"], ["WezTerm", "iTerm.app", "mintty", "contour"].contains(p) { return true }
        if let t = env["TERM"], ["foot", "mlterm", "yaft", "contour"].contains(where: { t.hasPrefix($0) }) { return true }
        return false
    }
}

/// The parsed replies to `TerminalCapabilities.query`.
public struct TerminalReplies: Hashable, Sendable {
    /// DA1 parameters (`CSI ? 63 ; 1 ; 2 ; 4 c` → [63, 1, 2, 4]).
    public var da1: [Int]?
    /// Cell size from `CSI 6 ; h ; w t`.
    public var cellPixels: PixelSize?
    /// Text area from `CSI 4 ; h ; w t`.
    public var textAreaPixels: PixelSize?
    /// Sixel graphics area from XTSMGRAPHICS `CSI ? 2 ; 0 ; w ; h S`.
    public var graphicsPixels: PixelSize?
    /// Colour registers from XTSMGRAPHICS `CSI ? 1 ; 0 ; n S`.
    public var colorRegisters: Int?
    /// XTVERSION text from `DCS > | text ST`.
    public var version: String?

    /// Nothing answered.
    public init() {}

    /// Parses whatever the terminal sent back (replies may arrive in any mix; unknown ones are skipped).
    public static func parse(_ bytes: [UInt8]) -> TerminalReplies {
        var r = TerminalReplies()
        var i = 0
        while i < bytes.count {
            guard bytes[i] == 0x1b, i + 1 < bytes.count else { i += 1; continue }
            if bytes[i + 1] == UInt8(ascii: "[") {
                var j = i + 2
                var marker: UInt8? = nil
                if j < bytes.count, [UInt8(ascii: "?"), UInt8(ascii: ">")].contains(bytes[j]) { marker = bytes[j]; j += 1 }
                var params: [Int] = [], cur = 0, any = false
                while j < bytes.count, (bytes[j] >= 0x30 && bytes[j] <= 0x39) || bytes[j] == 0x3b {
                    if bytes[j] == 0x3b { params.append(cur); cur = 0; any = false } else { cur = cur * 10 + Int(bytes[j] - 0x30); any = true }
                    j += 1
                }
                if any || !params.isEmpty { params.append(cur) }
                guard j < bytes.count else { break }
                let final = bytes[j]
                if marker == UInt8(ascii: "?") && final == UInt8(ascii: "c") { r.da1 = params }
                if marker == nil && final == UInt8(ascii: "t") && params.count == 3 {
                    if params[0] == 6 { r.cellPixels = PixelSize(width: params[2], height: params[1]) }
                    if params[0] == 4 { r.textAreaPixels = PixelSize(width: params[2], height: params[1]) }
                }
                if marker == UInt8(ascii: "?") && final == UInt8(ascii: "S") && params.count >= 3 && params[1] == 0 {
                    if params[0] == 1 { r.colorRegisters = params[2] }
                    if params[0] == 2 && params.count >= 4 { r.graphicsPixels = PixelSize(width: params[2], height: params[3]) }
                }
                i = j + 1
            } else if bytes[i + 1] == UInt8(ascii: "P") {
                // DCS … ST (ESC \); XTVERSION is `DCS > | text ST`.
                var j = i + 2
                while j + 1 < bytes.count, !(bytes[j] == 0x1b && bytes[j + 1] == UInt8(ascii: "\\")) { j += 1 }
                let body = Array(bytes[(i + 2)..<min(j, bytes.count)])
                if body.count >= 2, body[0] == UInt8(ascii: ">"), body[1] == UInt8(ascii: "|") {
                    r.version = String(decoding: body.dropFirst(2), as: UTF8.self)
                }
                i = j + 2
            } else {
                i += 1
            }
        }
        return r
    }
}

/// A size in pixels.
public struct PixelSize: Hashable, Sendable {
    /// Width.
    public var width: Int
    /// Height.
    public var height: Int
    /// A size.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}
