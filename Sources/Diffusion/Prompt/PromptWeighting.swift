/// Which front-end's emphasis syntax a prompt is written in.
public enum PromptSyntax: String, Sendable, CaseIterable {
    /// ComfyUI (`comfy/sd1_clip.py` `token_weights`): only parentheses are special. `(x)` ×1.1 per level,
    /// `(x:w)` *sets* the weight to w (it does not multiply the enclosing one), `\(` `\)` are literal
    /// parentheses, `[x]` is literal text, unbalanced brackets leave the text literal.
    case comfy
    /// AUTOMATIC1111 (`modules/prompt_parser.py` `parse_prompt_attention`): `(x)` ×1.1, `[x]` ÷1.1, `(x:w)`
    /// multiplies by w, all nested multiplicatively; `\(` `\)` `\[` `\]` `\\` escape; an unclosed bracket
    /// still applies to the rest of the prompt; runs of equal weight are merged.
    case a1111
}

/// A run of prompt text with one emphasis weight, or a forced chunk break.
public struct PromptSegment: Equatable, Sendable, CustomStringConvertible {
    /// The text, escapes resolved.
    public var text: String
    /// Emphasis multiplier (1 = neutral); -1 only for `chunkBreak`.
    public var weight: Float

    /// A segment.
    public init(text: String, weight: Float) { self.text = text; self.weight = weight }

    /// The `BREAK` keyword: the next text starts a new 75-token chunk (A1111's own ("BREAK", -1) marker).
    public static let chunkBreak = PromptSegment(text: "BREAK", weight: -1)
    /// Whether this is `chunkBreak`.
    public var isBreak: Bool { self == .chunkBreak }

    /// `("text", weight)`, for test messages.
    public var description: String { "(\(text.debugDescription), \(weight))" }
}

/// Parsers for `(word:1.2)`-style emphasis.
///
/// `BREAK` (uppercase, a whole word; surrounding whitespace is dropped) yields `PromptSegment.chunkBreak` in both
/// syntaxes. A1111 does this; ComfyUI has no BREAK, so it is an extension there. Unlike A1111, a BREAK inside
/// brackets is still a break (A1111 would multiply its -1 marker into a weighted literal "BREAK").
public enum PromptWeighting {
    /// Splits `text` into weighted segments.
    public static func parse(_ text: String, syntax: PromptSyntax) -> [PromptSegment] {
        switch syntax {
        case .comfy: return parseComfy(text)
        case .a1111: return parseA1111(text)
        }
    }

    /// `parse` as `(text, weight)` pairs (a break is `("BREAK", -1)`).
    public static func segments(_ text: String, syntax: PromptSyntax) -> [(text: String, weight: Float)] {
        parse(text, syntax: syntax).map { ($0.text, $0.weight) }
    }

    typealias Scalars = [Unicode.Scalar]

    // MARK: ComfyUI

    // Escaped parentheses become two-scalar placeholders (as ComfyUI's `escape_important` does) so the
    // bracket matcher never sees them.
    private static let escapedClose: Scalars = ["\u{0}", "\u{1}"]
    private static let escapedOpen: Scalars = ["\u{0}", "\u{2}"]

    static func parseComfy(_ text: String) -> [PromptSegment] {
        var s = replace(Array(text.unicodeScalars), ["\\", ")"], escapedClose)
        s = replace(s, ["\\", "("], escapedOpen)
        var out: [PromptSegment] = []
        for (piece, weight) in comfyWeights(s, 1.0) {
            let unescaped = replace(replace(piece, escapedClose, [")"]), escapedOpen, ["("])
            for (k, part) in splitBreaks(unescaped).enumerated() {
                if k > 0 { out.append(.chunkBreak) }
                if !part.isEmpty { out.append(PromptSegment(text: string(part), weight: Float(weight))) }
            }
        }
        return out
    }

    /// ComfyUI's `parse_parentheses`: top-level pieces, a piece being a balanced `( … )` group or plain text.
    /// A stray `)` drives the depth negative, after which brackets are just text, as in ComfyUI.
    private static func comfyPieces(_ s: Scalars) -> [Scalars] {
        var result: [Scalars] = []
        var current: Scalars = []
        var depth = 0
        for c in s {
            if c == "(" {
                if depth == 0 {
                    if !current.isEmpty { result.append(current) }
                    current = ["("]
                } else { current.append(c) }
                depth += 1
            } else if c == ")" {
                depth -= 1
                if depth == 0 { result.append(current + [")"]); current = [] } else { current.append(c) }
            } else { current.append(c) }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// ComfyUI's `token_weights`.
    private static func comfyWeights(_ s: Scalars, _ weight: Double) -> [(Scalars, Double)] {
        var out: [(Scalars, Double)] = []
        for piece in comfyPieces(s) {
            guard piece.count >= 2, piece.first == "(", piece.last == ")" else { out.append((piece, weight)); continue }
            var inner = Array(piece.dropFirst().dropLast())
            var w = weight * 1.1
            if let colon = inner.lastIndex(of: ":"), colon > 0, let v = pythonFloat(Array(inner[(colon + 1)...])) {
                w = v
                inner = Array(inner[..<colon])
            }
            out.append(contentsOf: comfyWeights(inner, w))
        }
        return out
    }

    // MARK: A1111

    static func parseA1111(_ text: String) -> [PromptSegment] {
        let s = Array(text.unicodeScalars)
        var res: [(text: Scalars, weight: Double, isBreak: Bool)] = []
        var round: [Int] = [], square: [Int] = []
        func multiply(from start: Int, _ m: Double) {
            for p in start..<res.count where !res[p].isBreak { res[p].weight *= m }
        }
        func appendText(_ t: Scalars) {
            for (k, part) in splitBreaks(t).enumerated() {
                if k > 0 { res.append(([], -1, true)) }
                res.append((part, 1, false))
            }
        }
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                // `\(` `\)` `\[` `\]` `\\` keep the second character; a lone backslash disappears.
                if i + 1 < s.count, "()[]\\".unicodeScalars.contains(s[i + 1]) {
                    res.append(([s[i + 1]], 1, false)); i += 2
                } else { res.append(([], 1, false)); i += 1 }
            } else if c == "(" {
                round.append(res.count); i += 1
            } else if c == "[" {
                square.append(res.count); i += 1
            } else if c == ":" {
                if let (w, end) = a1111Weight(s, i) {
                    if let start = round.popLast() { multiply(from: start, w) } else { appendText(Array(s[i..<end])) }
                    i = end
                } else { appendText([":"]); i += 1 }
            } else if c == ")" {
                if let start = round.popLast() { multiply(from: start, 1.1) } else { appendText([")"]) }
                i += 1
            } else if c == "]" {
                if let start = square.popLast() { multiply(from: start, 1 / 1.1) } else { appendText(["]"]) }
                i += 1
            } else {
                var j = i
                while j < s.count && !"\\()[]:".unicodeScalars.contains(s[j]) { j += 1 }
                appendText(Array(s[i..<j])); i = j
            }
        }
        for start in round { multiply(from: start, 1.1) }
        for start in square { multiply(from: start, 1 / 1.1) }
        if res.isEmpty { res = [([], 1, false)] }
        var merged: [(text: Scalars, weight: Double, isBreak: Bool)] = []
        for r in res {
            if let last = merged.last, !last.isBreak, !r.isBreak, last.weight == r.weight {
                merged[merged.count - 1].text += r.text
            } else { merged.append(r) }
        }
        return merged.map { $0.isBreak ? .chunkBreak : PromptSegment(text: string($0.text), weight: Float($0.weight)) }
    }

    /// `:\s*([+-]?[.\d]+)\s*\)` at `i`: the weight and the index after `)`. A number Python's `float` rejects
    /// (`1.2.3`, where A1111 raises) is treated as no match, leaving `:` literal.
    private static func a1111Weight(_ s: Scalars, _ i: Int) -> (Double, Int)? {
        var j = i + 1
        while j < s.count && CLIPTextCleaner.isPythonSpace(s[j]) { j += 1 }
        let numberStart = j
        if j < s.count && (s[j] == "+" || s[j] == "-") { j += 1 }
        let digitsStart = j
        while j < s.count && (s[j] == "." || s[j].properties.numericType == .decimal) { j += 1 }
        guard j > digitsStart else { return nil }
        let number = Array(s[numberStart..<j])
        while j < s.count && CLIPTextCleaner.isPythonSpace(s[j]) { j += 1 }
        guard j < s.count && s[j] == ")", let w = pythonFloat(number) else { return nil }
        return (w, j + 1)
    }

    // MARK: shared helpers

    /// Python `float(str)`: surrounding whitespace, sign, decimal/exponent forms, `inf`/`infinity`/`nan`,
    /// underscores between digits, any Unicode decimal digits. Nil where Python raises.
    static func pythonFloat(_ raw: Scalars) -> Double? {
        var s = raw[...]
        while let f = s.first, CLIPTextCleaner.isPythonSpace(f) { s.removeFirst() }
        while let l = s.last, CLIPTextCleaner.isPythonSpace(l) { s.removeLast() }
        let chars = Array(s)
        var t: [UInt8] = []
        for (k, c) in chars.enumerated() {
            if let d = digitValue(c) {
                t.append(48 + UInt8(d))
            } else if c == "_" {
                guard k > 0, k + 1 < chars.count, digitValue(chars[k - 1]) != nil, digitValue(chars[k + 1]) != nil
                else { return nil }
            } else if c.isASCII {
                t.append(UInt8(c.value) | (c.properties.isAlphabetic ? 0x20 : 0))  // lowercase letters
            } else { return nil }
        }
        var sign = 1.0
        if let f = t.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
            if f == UInt8(ascii: "-") { sign = -1 }
            t.removeFirst()
        }
        switch String(decoding: t, as: UTF8.self) {
        case "inf", "infinity": return sign * .infinity
        case "nan": return .nan
        default: break
        }
        // digits [. digits] | . digits, then optional e[+-]digits — Swift's own parser also takes hex and `nan(…)`.
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        var i = 0, mantissaDigits = 0
        while i < t.count && isDigit(t[i]) { i += 1; mantissaDigits += 1 }
        if i < t.count && t[i] == UInt8(ascii: ".") {
            i += 1
            while i < t.count && isDigit(t[i]) { i += 1; mantissaDigits += 1 }
        }
        guard mantissaDigits > 0 else { return nil }
        if i < t.count && t[i] == UInt8(ascii: "e") {
            i += 1
            if i < t.count && (t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-")) { i += 1 }
            let expStart = i
            while i < t.count && isDigit(t[i]) { i += 1 }
            guard i > expStart else { return nil }
        }
        guard i == t.count, let v = Double(String(decoding: t, as: UTF8.self)) else { return nil }
        return sign * v
    }

    private static func digitValue(_ c: Unicode.Scalar) -> Int? {
        if c.value >= 48 && c.value <= 57 { return Int(c.value - 48) }
        guard c.properties.numericType == .decimal, let v = c.properties.numericValue else { return nil }
        return Int(v)
    }

    /// Python `re.split(r"\s*\bBREAK\b\s*", text)`.
    static func splitBreaks(_ s: Scalars) -> [Scalars] {
        let keyword: Scalars = ["B", "R", "E", "A", "K"]
        func isWord(_ c: Unicode.Scalar) -> Bool {
            c == "_" || CLIPPreTokenizer.isLetter(c) || CLIPPreTokenizer.isNumber(c)
        }
        var parts: [Scalars] = []
        var partStart = 0
        var i = 0
        while i + keyword.count <= s.count {
            let matches = Array(s[i..<(i + keyword.count)]) == keyword
                && (i == 0 || !isWord(s[i - 1])) && (i + keyword.count == s.count || !isWord(s[i + keyword.count]))
            guard matches else { i += 1; continue }
            var start = i
            while start > partStart && CLIPTextCleaner.isPythonSpace(s[start - 1]) { start -= 1 }
            var end = i + keyword.count
            while end < s.count && CLIPTextCleaner.isPythonSpace(s[end]) { end += 1 }
            parts.append(Array(s[partStart..<start]))
            partStart = end
            i = end
        }
        parts.append(Array(s[partStart...]))
        return parts
    }

    private static func replace(_ s: Scalars, _ pattern: Scalars, _ with: Scalars) -> Scalars {
        var out: Scalars = []
        var i = 0
        while i < s.count {
            if i + pattern.count <= s.count && Array(s[i..<(i + pattern.count)]) == pattern {
                out.append(contentsOf: with); i += pattern.count
            } else { out.append(s[i]); i += 1 }
        }
        return out
    }

    private static func string(_ s: Scalars) -> String { String(String.UnicodeScalarView(s)) }
}
