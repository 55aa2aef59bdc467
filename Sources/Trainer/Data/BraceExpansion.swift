/// Shell-style brace expansion of shard patterns, following the rules of the Python `braceexpand`
/// package that WebDataset uses (webdataset/shardlists.py):
/// - `{a,b,c}` lists, nested braces, and several braces in one pattern (the cartesian product, the
///   leftmost brace varying slowest): `s{0,1}-{a,b}` → s0-a, s0-b, s1-a, s1-b;
/// - integer ranges `{000..123}` (zero padding kept: when either end has a leading zero, every
///   number is padded to the longer end's width), descending ranges and steps `{0..10..2}`;
/// - single-character ranges `{a..e}`;
/// - `{x}` with neither a comma nor a range stays literal, as in bash; `\{`, `\}`, `\,` are literal;
/// - several patterns joined with `::` expand one after another.
/// Unbalanced braces are an error rather than silently literal, since a typo in a dataset path
/// should not train on the wrong shards.
public enum BraceExpansion {
    /// Every string `pattern` expands to, in order.
    public static func expand(_ pattern: String) throws -> [String] {
        let parts = pattern.components(separatedBy: "::").filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw DataError.invalidPattern(pattern: pattern, reason: "empty") }
        var out: [String] = []
        for part in parts {
            out += try expandOne(Array(part), whole: pattern).map(unescape)
        }
        return out
    }

    private static func expandOne(_ s: [Character], whole: String) throws -> [String] {
        // Find the first unescaped top-level "{" and its matching "}".
        var i = 0
        var open: Int?
        var depth = 0
        var close: Int?
        while i < s.count {
            let c = s[i]
            if c == "\\" { i += 2; continue }
            if c == "{" {
                if depth == 0 { open = i }
                depth += 1
            } else if c == "}" {
                guard depth > 0 else { throw DataError.invalidPattern(pattern: whole, reason: "unmatched '}'") }
                depth -= 1
                if depth == 0 { close = i; break }
            }
            i += 1
        }
        guard depth == 0 else { throw DataError.invalidPattern(pattern: whole, reason: "unmatched '{'") }
        guard let o = open, let c = close else { return [String(s)] }

        let prefix = String(s[..<o])
        let body = Array(s[(o + 1)..<c])
        let suffixes = try expandOne(Array(s[(c + 1)...]), whole: whole)
        let alternatives: [String]
        let items = splitTopLevel(body)
        if items.count > 1 {
            alternatives = try items.flatMap { try expandOne($0, whole: whole) }
        } else if let range = try range(String(body), whole: whole) {
            alternatives = range
        } else {
            // Literal braces: keep them, but still expand braces nested inside.
            alternatives = try expandOne(body, whole: whole).map { "{" + $0 + "}" }
        }
        var out: [String] = []
        for a in alternatives {
            for sfx in suffixes { out.append(prefix + a + sfx) }
        }
        return out
    }

    /// Splits on commas outside nested braces (escaped commas do not split).
    private static func splitTopLevel(_ s: [Character]) -> [[Character]] {
        var parts: [[Character]] = [[]]
        var depth = 0
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\", i + 1 < s.count {
                parts[parts.count - 1] += [c, s[i + 1]]
                i += 2
                continue
            }
            if c == "{" { depth += 1 }
            if c == "}" { depth -= 1 }
            if c == ",", depth == 0 { parts.append([]) } else { parts[parts.count - 1].append(c) }
            i += 1
        }
        return parts
    }

    /// `start..end` or `start..end..step` with integers or single characters; nil if not a range.
    private static func range(_ body: String, whole: String) throws -> [String]? {
        let f = body.components(separatedBy: "..")
        guard f.count == 2 || f.count == 3 else { return nil }
        var step = 1
        if f.count == 3 {
            guard let s = Int(f[2]) else { return nil }
            step = s == 0 ? 1 : abs(s)
        }
        if let a = Int(f[0]), let b = Int(f[1]) {
            let padded = [f[0], f[1]].contains { $0.count > 1 && ($0.hasPrefix("0") || $0.hasPrefix("-0")) }
            let width = padded ? max(f[0].count, f[1].count) : 0
            guard abs(b - a) / step < 1_000_000 else {
                throw DataError.invalidPattern(pattern: whole, reason: "range {\(body)} is too long")
            }
            let values = a <= b ? Array(stride(from: a, through: b, by: step)) : Array(stride(from: a, through: b, by: -step))
            return values.map { pad($0, width) }
        }
        if f[0].count == 1, f[1].count == 1, let a = f[0].unicodeScalars.first, let b = f[1].unicodeScalars.first {
            let (lo, hi) = (Int(a.value), Int(b.value))
            let values = lo <= hi ? Array(stride(from: lo, through: hi, by: step)) : Array(stride(from: lo, through: hi, by: -step))
            return values.compactMap { Unicode.Scalar($0).map { String(Character($0)) } }
        }
        return nil
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let digits = String(abs(v))
        let sign = v < 0 ? "-" : ""
        let zeros = max(0, width - sign.count - digits.count)
        return sign + String(repeating: "0", count: zeros) + digits
    }

    private static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = ""
        var escaped = false
        for c in s {
            if !escaped, c == "\\" { escaped = true; continue }
            if escaped, !"{},".contains(c) { out.append("\\") }
            escaped = false
            out.append(c)
        }
        if escaped { out.append("\\") }
        return out
    }
}
