import Imaging

/// A semantic colour role. Widgets paint with roles; the theme decides the actual colour when a
/// frame is rasterised, so one frame renders in any theme.
public enum Role: String, CaseIterable, Hashable, Sendable {
    /// Screen background.
    case background
    /// Unfocused pane borders.
    case border
    /// The focused pane's border.
    case borderFocused
    /// Ordinary text.
    case text
    /// Secondary text (hints, disabled entries, axes).
    case dim
    /// Highlights: titles, the slider knob, the selected tab.
    case accent
    /// Background of the selected list row.
    case selection
    /// Status bar background.
    case status
    /// Status bar text.
    case statusText
    /// Warnings.
    case warning
    /// Errors.
    case error
    /// Plot series 1…6.
    case plot1, plot2, plot3, plot4, plot5, plot6

    /// The plot role for series `index` (0-based, cycling through the six plot colours).
    public static func plot(_ index: Int) -> Role {
        let all: [Role] = [.plot1, .plot2, .plot3, .plot4, .plot5, .plot6]
        return all[((index % 6) + 6) % 6]
    }

    /// One letter per role for the style layer of text snapshots.
    public var snapshotLetter: Character {
        switch self {
        case .background: return "k"
        case .border: return "b"
        case .borderFocused: return "B"
        case .text: return "t"
        case .dim: return "d"
        case .accent: return "a"
        case .selection: return "s"
        case .status: return "S"
        case .statusText: return "T"
        case .warning: return "w"
        case .error: return "e"
        case .plot1: return "1"
        case .plot2: return "2"
        case .plot3: return "3"
        case .plot4: return "4"
        case .plot5: return "5"
        case .plot6: return "6"
        }
    }
}

/// The colour of a cell's foreground or background: a theme role, or an explicit RGB value
/// (half-block images carry their own pixels).
public enum CellColor: Hashable, Sendable {
    /// A semantic role resolved by the theme.
    case role(Role)
    /// An exact colour.
    case rgb(RGBPixel)
}

/// Text attributes of a cell, as a bit set.
public struct Attributes: OptionSet, Hashable, Sendable {
    /// The raw bits.
    public let rawValue: UInt8
    /// Creates attributes from raw bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Bold.
    public static let bold = Attributes(rawValue: 1)
    /// Dim (faint).
    public static let dim = Attributes(rawValue: 2)
    /// Reverse video.
    public static let reverse = Attributes(rawValue: 4)
    /// Underline.
    public static let underline = Attributes(rawValue: 8)
}

extension RGBPixel {
    /// Parses `#rrggbb` (case-insensitive); nil for anything else.
    public init?(hex: String) {
        let s = hex.utf8
        guard s.count == 7, s.first == UInt8(ascii: "#"), let v = UInt32(hex.dropFirst(), radix: 16) else { return nil }
        self.init(r: UInt8(v >> 16 & 0xff), g: UInt8(v >> 8 & 0xff), b: UInt8(v & 0xff))
    }

    /// `#rrggbb`, lower case.
    public var hexString: String {
        let digits = Array("0123456789abcdef")
        var s = "#"
        for c in [r, g, b] { s.append(digits[Int(c >> 4)]); s.append(digits[Int(c & 15)]) }
        return s
    }
}

/// How many colours the terminal can show, which decides how RGB colours are sent.
public enum ColorMode: Hashable, Sendable {
    /// 24-bit colour: the colour number is 0xRRGGBB (ncurses' `xterm-direct`).
    case direct
    /// The xterm 256-colour palette.
    case palette256
    /// The 16 ANSI colours.
    case ansi16
    /// No colour at all: attributes only.
    case monochrome

    /// Picks the mode from ncurses' `COLORS`.
    public init(colorCount: Int) {
        if colorCount >= 1 << 24 { self = .direct }
        else if colorCount >= 256 { self = .palette256 }
        else if colorCount >= 8 { self = .ansi16 }
        else { self = .monochrome }
    }

    /// The colour number to hand to the terminal for `rgb` (nil in monochrome).
    public func colorNumber(for rgb: RGBPixel) -> Int? {
        switch self {
        case .direct: return Int(rgb.r) << 16 | Int(rgb.g) << 8 | Int(rgb.b)
        case .palette256: return XtermPalette.nearest256(rgb)
        case .ansi16: return XtermPalette.nearest16(rgb)
        case .monochrome: return nil
        }
    }

    /// `rgb` as the terminal will actually show it (identity for `.direct`).
    public func quantize(_ rgb: RGBPixel) -> RGBPixel {
        switch self {
        case .direct, .monochrome: return rgb
        case .palette256: return XtermPalette.color(XtermPalette.nearest256(rgb))
        case .ansi16: return XtermPalette.color(XtermPalette.nearest16(rgb))
        }
    }
}

/// The standard xterm palette: 16 system colours, a 6×6×6 cube (16…231) and 24 greys (232…255).
public enum XtermPalette {
    /// The six channel levels of the colour cube.
    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]
    /// xterm's default 16 system colours.
    static let system: [RGBPixel] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ].map { RGBPixel(r: UInt8($0.0), g: UInt8($0.1), b: UInt8($0.2)) }

    /// The RGB value of palette entry `index` (0…255).
    public static func color(_ index: Int) -> RGBPixel {
        precondition(index >= 0 && index < 256, "XtermPalette.color: index \(index) outside 0..<256")
        if index < 16 { return system[index] }
        if index < 232 {
            let i = index - 16
            return RGBPixel(r: UInt8(cubeLevels[i / 36]), g: UInt8(cubeLevels[i / 6 % 6]), b: UInt8(cubeLevels[i % 6]))
        }
        let v = UInt8(8 + 10 * (index - 232))
        return RGBPixel(r: v, g: v, b: v)
    }

    /// The nearest entry among 16…255. System colours are skipped on purpose: users redefine them,
    /// while the cube and grey ramp are the same in every terminal.
    public static func nearest256(_ c: RGBPixel) -> Int {
        // Closest cube level per channel, then compare with the closest grey; exact search is not needed
        // because the cube is separable.
        func level(_ v: UInt8) -> Int {
            var best = 0
            for (i, l) in cubeLevels.enumerated() where abs(l - Int(v)) < abs(cubeLevels[best] - Int(v)) { best = i }
            return best
        }
        let cube = 16 + 36 * level(c.r) + 6 * level(c.g) + level(c.b)
        let mean = (Int(c.r) + Int(c.g) + Int(c.b)) / 3
        let greyIndex = 232 + min(23, max(0, (mean - 3) / 10))
        return distance(color(greyIndex), c) < distance(color(cube), c) ? greyIndex : cube
    }

    /// The nearest of the 16 system colours.
    public static func nearest16(_ c: RGBPixel) -> Int {
        var best = 0
        for i in 1..<16 where distance(system[i], c) < distance(system[best], c) { best = i }
        return best
    }

    /// Squared distance with rough perceptual weights (green counts most).
    static func distance(_ a: RGBPixel, _ b: RGBPixel) -> Int {
        let dr = Int(a.r) - Int(b.r), dg = Int(a.g) - Int(b.g), db = Int(a.b) - Int(b.b)
        return 2 * dr * dr + 4 * dg * dg + 3 * db * db
    }
}
