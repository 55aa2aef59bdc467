import Foundation

/// Named generation settings (`models/presets/<name>.toml`): values used where the command line gives none.
///
/// The format is the small subset of TOML the presets need, parsed here without a TOML library:
/// `key = value` lines with `#` comments, values being "basic strings" (escapes `\" \\ \n \t`), integers,
/// floats, `true`/`false`, or one-line arrays of strings. Unknown keys and malformed lines are errors naming the
/// file and line, so a typo never silently falls back to a default.
public struct GenerationPreset: Equatable, Sendable {
    /// One-line description.
    public var description: String?
    /// Model path.
    public var model: String?
    /// Default prompt, used when the command line gives none.
    public var prompt: String?
    /// Negative prompt.
    public var negative: String?
    /// ComfyUI sampler name.
    public var sampler: String?
    /// ComfyUI scheduler name.
    public var scheduler: String?
    public var steps: Int?
    public var cfg: Double?
    public var width: Int?
    public var height: Int?
    public var batch: Int?
    public var denoise: Double?
    /// Emphasis syntax: "comfy" or "a1111".
    public var syntax: String?
    /// LoRAs as `PATH:STRENGTH` strings (same form as `--lora`).
    public var loras: [String] = []

    /// Keys a preset may set.
    public static let keys = ["description", "model", "prompt", "negative", "sampler", "scheduler", "steps", "cfg",
                              "width", "height", "batch", "denoise", "syntax", "loras"]

    /// An empty preset.
    public init() {}

    /// Reads a preset file.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError.invalidInput(path: path, reason: "cannot read preset")
        }
        try self.init(text: String(decoding: data, as: UTF8.self), source: path)
    }

    /// Parses preset text; `source` names it in errors.
    public init(text: String, source: String = "<preset>") throws {
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            func fail(_ reason: String) -> PipelineError { .invalidInput(path: "\(source):\(n + 1)", reason: reason) }
            let line = Self.stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let eq = line.firstIndex(of: "=") else { throw fail("expected `key = value`") }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = try Self.value(line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces), fail)
            func string() throws -> String {
                guard case let .string(s) = value else { throw fail("`\(key)` must be a string") }
                return s
            }
            func number() throws -> Double {
                guard case let .number(x) = value else { throw fail("`\(key)` must be a number") }
                return x
            }
            func integer() throws -> Int {
                let x = try number()
                guard x == x.rounded(), abs(x) < 1e9 else { throw fail("`\(key)` must be an integer") }
                return Int(x)
            }
            switch key {
            case "description": description = try string()
            case "model": model = try string()
            case "prompt": prompt = try string()
            case "negative": negative = try string()
            case "sampler": sampler = try string()
            case "scheduler": scheduler = try string()
            case "syntax": syntax = try string()
            case "steps": steps = try integer()
            case "width": width = try integer()
            case "height": height = try integer()
            case "batch": batch = try integer()
            case "cfg": cfg = try number()
            case "denoise": denoise = try number()
            case "loras":
                guard case let .strings(s) = value else { throw fail("`loras` must be an array of strings") }
                loras = s
            default:
                throw fail("unknown key `\(key)` (known: \(Self.keys.joined(separator: ", ")))")
            }
        }
    }

    /// The preset file for `name`: `name` itself when it is a path to a file, else `<dir>/<name>.toml` in the
    /// first directory that has it; nil when none does.
    public static func locate(_ name: String, in directories: [String]) -> String? {
        let fm = FileManager.default
        if name.contains("/") || name.hasSuffix(".toml") { return fm.fileExists(atPath: name) ? name : nil }
        return directories.map { ($0 as NSString).appendingPathComponent(name + ".toml") }.first { fm.fileExists(atPath: $0) }
    }

    enum Value { case string(String), number(Double), bool(Bool), strings([String]) }

    /// Drops a `#` comment that is not inside a string.
    static func stripComment(_ line: String) -> String {
        var inString = false, escaped = false
        for (i, ch) in line.enumerated() {
            if escaped { escaped = false; continue }
            if ch == "\\" && inString { escaped = true; continue }
            if ch == "\"" { inString.toggle() }
            if ch == "#" && !inString { return String(line.prefix(i)) }
        }
        return line
    }

    static func value(_ s: String, _ fail: (String) -> PipelineError) throws -> Value {
        if s.hasPrefix("\"") {
            var rest = Substring(s)
            let str = try parseString(&rest, fail)
            guard rest.trimmingCharacters(in: .whitespaces).isEmpty else { throw fail("text after the string") }
            return .string(str)
        }
        if s.hasPrefix("[") {
            guard s.hasSuffix("]") else { throw fail("arrays must be on one line") }
            var rest = s.dropFirst().dropLast()[...]
            var items: [String] = []
            while true {
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.isEmpty { break }
                items.append(try parseString(&rest, fail))
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.isEmpty { break }
                guard rest.first == "," else { throw fail("expected `,` between array items") }
                rest = rest.dropFirst()
            }
            return .strings(items)
        }
        if s == "true" || s == "false" { return .bool(s == "true") }
        if let x = Double(s.replacingOccurrences(of: "_", with: "")), x.isFinite { return .number(x) }
        throw fail("cannot read value `\(s)` (strings need double quotes)")
    }

    /// A basic string at the start of `s` (which is advanced past it).
    static func parseString(_ s: inout Substring, _ fail: (String) -> PipelineError) throws -> String {
        guard s.first == "\"" else { throw fail("expected a string") }
        s = s.dropFirst()
        var out = ""
        while let ch = s.first {
            s = s.dropFirst()
            if ch == "\"" { return out }
            if ch == "\\" {
                guard let e = s.first else { break }
                s = s.dropFirst()
                switch e {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: throw fail("unsupported escape `\\\(e)`")
                }
            } else { out.append(ch) }
        }
        throw fail("unterminated string")
    }
}
