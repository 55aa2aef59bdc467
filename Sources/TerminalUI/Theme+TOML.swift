import Foundation
import Imaging
import TOMLKit

// Theme files (themes/*.toml):
//
//   name = "dark"
//   [style]
//   border = "rounded"            # rounded | light | heavy
//   focus = ["bold"]              # extra attributes: bold, dim, reverse, underline
//   selection = []
//   [colors]
//   background = "#1a1b26"        # one "#rrggbb" per role, snake_case role names
//   border_focused = "#7aa2f7"
//   plot1 = "#7aa2f7"             # … plot6
//
// Roles left out inherit the built-in dark colour; unknown keys are errors so typos do not pass silently.

extension Role {
    /// The role's key in theme files (`border_focused`, `status_text`, `plot1`).
    public var tomlKey: String {
        var out = ""
        for ch in rawValue {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}

extension Theme {
    /// Loads a theme file; errors name the file, line and key.
    public static func load(path: String) throws -> Theme {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ThemeError.unreadable(file: path, reason: error.localizedDescription)
        }
        return try parse(toml: text, file: path)
    }

    /// Loads a theme file, or returns the built-in dark theme and the error that made it fall back.
    public static func loadOrDefault(path: String) -> (theme: Theme, error: ThemeError?) {
        do { return (try load(path: path), nil) } catch let e as ThemeError { return (.dark, e) } catch {
            return (.dark, .unreadable(file: path, reason: "\(error)"))
        }
    }

    /// Parses theme TOML. `file` is only used in error messages.
    public static func parse(toml text: String, file: String) throws -> Theme {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ThemeError.syntax(file: file, line: e.source.begin.line, column: e.source.begin.column,
                                    message: e.description)
        }
        let lines = KeyLines(text: text)
        func invalid(_ section: String?, _ key: String, _ message: String) -> ThemeError {
            let full = section.map { "\($0).\(key)" } ?? key
            return .invalidValue(file: file, line: lines.line(section: section, key: key), key: full, message: message)
        }

        var name = (file as NSString).lastPathComponent
        if name.hasSuffix(".toml") { name = String(name.dropLast(5)) }
        var colors: [Role: RGBPixel] = [:]
        var border = BorderStyle.rounded
        var focus: Attributes = [], selection: Attributes = []

        for key in table.keys {
            guard let value = table[key] else { continue }
            switch key {
            case "name":
                guard let s = value.string else { throw invalid(nil, key, "expected a string") }
                name = s
            case "colors":
                guard let t = value.table else { throw invalid(nil, key, "expected a table [colors]") }
                let byKey = Dictionary(uniqueKeysWithValues: Role.allCases.map { ($0.tomlKey, $0) })
                for k in t.keys {
                    guard let role = byKey[k] else {
                        throw invalid("colors", k, "unknown colour role (known: \(Role.allCases.map(\.tomlKey).joined(separator: ", ")))")
                    }
                    guard let s = t[k]?.string else { throw invalid("colors", k, "expected a \"#rrggbb\" string") }
                    guard let c = RGBPixel(hex: s) else { throw invalid("colors", k, "'\(s)' is not a \"#rrggbb\" colour") }
                    colors[role] = c
                }
            case "style":
                guard let t = value.table else { throw invalid(nil, key, "expected a table [style]") }
                for k in t.keys {
                    switch k {
                    case "border":
                        guard let s = t[k]?.string, let b = BorderStyle(rawValue: s) else {
                            throw invalid("style", k, "expected \"rounded\", \"light\" or \"heavy\"")
                        }
                        border = b
                    case "focus", "selection":
                        guard let a = t[k]?.array else { throw invalid("style", k, "expected an array of attribute names") }
                        var attrs: Attributes = []
                        for item in a {
                            guard let s = item.string, let one = Attributes(name: s) else {
                                throw invalid("style", k, "attributes are \"bold\", \"dim\", \"reverse\", \"underline\"")
                            }
                            attrs.insert(one)
                        }
                        if k == "focus" { focus = attrs } else { selection = attrs }
                    default:
                        throw invalid("style", k, "unknown style key (known: border, focus, selection)")
                    }
                }
            default:
                throw invalid(nil, key, "unknown key (known: name, [style], [colors])")
            }
        }
        return Theme(name: name, colors: colors, border: border, focusAttributes: focus, selectionAttributes: selection)
    }
}

extension Attributes {
    /// `bold`, `dim`, `reverse`, `underline`.
    init?(name: String) {
        switch name {
        case "bold": self = .bold
        case "dim": self = .dim
        case "reverse": self = .reverse
        case "underline": self = .underline
        default: return nil
        }
    }
}

/// Finds the line a key is defined on. TOMLKit reports positions for syntax errors only, so value
/// errors locate their key by scanning the text (good enough for flat theme files).
struct KeyLines {
    let lines: [Substring]
    init(text: String) { lines = text.split(separator: "\n", omittingEmptySubsequences: false) }

    /// 1-based line of `key` inside `[section]` (top level when nil); the section header line, or 1, when not found.
    func line(section: String?, key: String) -> Int {
        var current: String? = nil
        var headerLine = 1
        for (i, raw) in lines.enumerated() {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("[") {
                current = l.dropFirst().prefix { $0 != "]" }.trimmingCharacters(in: .whitespaces)
                if current == section { headerLine = i + 1 }
                continue
            }
            guard current == section, let eq = l.firstIndex(of: "=") else { continue }
            let k = l[..<eq].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if k == key { return i + 1 }
        }
        return headerLine
    }
}
