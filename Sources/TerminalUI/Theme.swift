import Imaging

/// A colour theme: one RGB colour per semantic role, plus the few style choices that are a matter of
/// taste rather than colour (border shape, whether focus and selection also use attributes).
/// Themes are values passed to `render`; there is no current-theme global.
public struct Theme: Equatable, Sendable {
    /// The theme's name (`dark`, `light`, …).
    public var name: String
    /// Colour of each role; every role has an entry.
    public var colors: [Role: RGBPixel]
    /// Border shape of panes.
    public var border: BorderStyle
    /// Extra attributes on the focused border and the selected tab (bold in high contrast).
    public var focusAttributes: Attributes
    /// Extra attributes on the selected list row.
    public var selectionAttributes: Attributes

    /// A theme from its parts; roles missing from `colors` take the built-in dark theme's colour.
    public init(name: String, colors: [Role: RGBPixel], border: BorderStyle = .rounded,
                focusAttributes: Attributes = [], selectionAttributes: Attributes = []) {
        self.name = name
        var all = colors
        for role in Role.allCases where all[role] == nil { all[role] = Theme.darkColors[role] }
        self.colors = all
        self.border = border
        self.focusAttributes = focusAttributes
        self.selectionAttributes = selectionAttributes
    }

    /// The colour of `role`.
    public subscript(role: Role) -> RGBPixel { colors[role] ?? .white }

    /// Resolves a cell colour to RGB.
    public func resolve(_ color: CellColor) -> RGBPixel {
        switch color {
        case .role(let r): return self[r]
        case .rgb(let c): return c
        }
    }

    static let darkColors: [Role: RGBPixel] = ([
        .background: "#1a1b26", .border: "#414868", .borderFocused: "#7aa2f7", .text: "#c0caf5", .dim: "#737aa2",
        .accent: "#bb9af7", .selection: "#2e3c64", .status: "#24283b", .statusText: "#a9b1d6", .warning: "#e0af68",
        .error: "#f7768e", .plot1: "#7aa2f7", .plot2: "#9ece6a", .plot3: "#e0af68", .plot4: "#f7768e",
        .plot5: "#bb9af7", .plot6: "#7dcfff",
    ] as [Role: String]).mapValues { RGBPixel(hex: $0)! }

    /// The built-in default; `themes/dark.toml` holds the same values (a test keeps them in step).
    public static let dark = Theme(name: "dark", colors: darkColors, border: .rounded)
}

/// Why a theme file could not be used. Every case names the file; content errors name the line
/// and, where there is one, the key.
public enum ThemeError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid TOML.
    case syntax(file: String, line: Int, column: Int, message: String)
    /// A key is unknown or its value is not usable.
    case invalidValue(file: String, line: Int, key: String, message: String)

    /// One line for humans: `themes/x.toml:7: key 'accent': …`.
    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read theme: \(reason)"
        case let .syntax(file, line, column, message): return "\(file):\(line):\(column): TOML syntax error: \(message)"
        case let .invalidValue(file, line, key, message): return "\(file):\(line): key '\(key)': \(message)"
        }
    }

    /// The file the error is about.
    public var file: String {
        switch self {
        case let .unreadable(f, _), let .syntax(f, _, _, _), let .invalidValue(f, _, _, _): return f
        }
    }
}
