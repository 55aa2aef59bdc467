import Foundation

/// CLIP's text clean-up: `whitespace_clean(basic_clean(text)).lower()` from OpenAI CLIP `simple_tokenizer.py`
/// (open_clip `tokenizer.py`), i.e. `ftfy.fix_text`, `html.unescape` twice, strip, whitespace collapse, lowercase.
///
/// Works on Unicode scalars because Python strings are code-point sequences. Implemented part of ftfy 6
/// `fix_text` (default config, run per line to a fixed point like ftfy): HTML entity unescaping (skipped from the
/// first line containing `<` on), C1 controls read as Windows-1252, Latin ligatures, full/halfwidth forms,
/// curly quotes, line breaks, ANSI terminal escapes, control characters, NFC. Not implemented: ftfy's mojibake
/// repair (`fix_encoding`: text such as `cafÃ©` stays as typed). Named entities: the HTML 4 set (plus `apos`,
/// ftfy's all-caps spellings and Python's no-semicolon legacy forms) rather than all 2 231 of HTML5; numeric
/// references follow Python's `html.unescape` exactly. Lowercasing is Python's `str.lower` (full mappings and
/// the final-sigma rule).
enum CLIPTextCleaner {
    typealias Scalars = [Unicode.Scalar]

    /// The cleaned text, ready for `CLIPPreTokenizer`.
    static func clean(_ text: String) -> Scalars {
        var s = ftfy(Array(text.unicodeScalars))
        s = htmlUnescape(htmlUnescape(s))
        return lowercase(collapseWhitespace(s))
    }

    // MARK: ftfy subset

    static func ftfy(_ s: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(s.count)
        var unescape = true  // ftfy "auto": off from the first line that contains `<`, for the rest of the text
        var start = 0
        while start < s.count {
            var end = start
            while end < s.count && s[end] != "\n" { end += 1 }
            if end < s.count { end += 1 }
            let segment = Array(s[start..<end])
            if unescape && segment.contains("<") { unescape = false }
            out.append(contentsOf: fixSegment(segment, unescapeHTML: unescape))
            start = end
        }
        return out
    }

    private static func fixSegment(_ segment: Scalars, unescapeHTML: Bool) -> Scalars {
        var t = segment
        while true {
            let original = t
            if unescapeHTML { t = ftfyUnescape(t) }
            t = t.map { (0x80...0x9F).contains($0.value) ? cp1252[Int($0.value - 0x80)] : $0 }
            t = t.flatMap { ligatures[$0.value].map { Array($0.unicodeScalars) } ?? [$0] }
            t = t.flatMap(widthFix)
            t = t.map { c -> Unicode.Scalar in
                switch c.value {
                case 0x02BC, 0x2018...0x201B: return "'"
                case 0x201C...0x201F: return "\""
                default: return c
                }
            }
            t = fixLineBreaks(t)
            t = removeTerminalEscapes(t)
            t = t.filter { !isRemovedControl($0.value) }
            t = nfc(t)
            if t == original { return t }
        }
    }

    /// NFC through the standard library's own normalizer (`_nfcCodeUnits`, public though underscored).
    /// Foundation's `precomposedStringWithCanonicalMapping` on Linux is avoided: it composes a supplementary
    /// character by its low 16 bits (U+E0067 TAG G + U+0301 became U+01F5 `ǵ`).
    static func nfc(_ s: Scalars) -> Scalars {
        if s.allSatisfy({ $0.value < 0x300 }) { return s }  // nothing below U+0300 composes or decomposes
        let utf8 = String(String.UnicodeScalarView(s))._nfcCodeUnits
        return Array(String(decoding: utf8, as: UTF8.self).unicodeScalars)
    }

    /// ftfy's `unescape_html`: `&name;` from the entity table, `&#…;` only when Python decodes all of it.
    private static func ftfyUnescape(_ s: Scalars) -> Scalars {
        guard s.contains("&") else { return s }
        var out: Scalars = []
        var i = 0
        while i < s.count {
            guard s[i] == "&" else { out.append(s[i]); i += 1; continue }
            let hash = i + 1 < s.count && s[i + 1] == "#"
            let bodyStart = i + (hash ? 2 : 1)
            var j = bodyStart
            while j < s.count && j - bodyStart <= 24 && isASCIIAlnum(s[j]) { j += 1 }
            let len = j - bodyStart
            guard len >= 1 && len <= 24 && j < s.count && s[j] == ";" else { out.append(s[i]); i += 1; continue }
            let body = String(String.UnicodeScalarView(s[bodyStart..<j]))
            var replacement: Scalars?
            if !hash {
                replacement = Entities.shared.ftfy[body]
            } else if let r = numericReference(Array(s[bodyStart..<j])), !r.contains(";") {
                replacement = r
            }
            if let replacement { out.append(contentsOf: replacement) } else { out.append(contentsOf: s[i...j]) }
            i = j + 1
        }
        return out
    }

    /// Python `html.unescape` (one pass).
    static func htmlUnescape(_ s: Scalars) -> Scalars {
        guard s.contains("&") else { return s }
        var out: Scalars = []
        var i = 0
        while i < s.count {
            guard s[i] == "&", i + 1 < s.count else { out.append(s[i]); i += 1; continue }
            if s[i + 1] == "#" {
                let hex = i + 2 < s.count && (s[i + 2] == "x" || s[i + 2] == "X")
                let start = i + (hex ? 3 : 2)
                var j = start
                while j < s.count && (hex ? isASCIIHex(s[j]) : isASCIIDigit(s[j])) { j += 1 }
                guard j > start else { out.append(s[i]); i += 1; continue }
                out.append(contentsOf: numericReference(Array(s[(i + 2)..<j]))!)
                i = j < s.count && s[j] == ";" ? j + 1 : j
                continue
            }
            var j = i + 1
            while j < s.count && j - i - 1 < 32 && !"\t\n\u{0C} <&#;".unicodeScalars.contains(s[j]) { j += 1 }
            guard j > i + 1 else { out.append(s[i]); i += 1; continue }
            let semicolon = j < s.count && s[j] == ";"
            let name = Array(s[(i + 1)..<j])
            let end = semicolon ? j + 1 : j
            let nameString = String(String.UnicodeScalarView(name))
            let table = Entities.shared
            if let r = semicolon ? table.semicolon[nameString] : table.legacy[nameString] {
                out.append(contentsOf: r); i = end; continue
            }
            // Longest legacy prefix (at least two characters), the rest kept: `&ampx` → `&x`.
            let full = name + (semicolon ? [";"] : [])
            var matched = false
            if full.count > 2 {
                for x in stride(from: full.count - 1, through: 2, by: -1) {
                    if let r = table.legacy[String(String.UnicodeScalarView(full[0..<x]))] {
                        out.append(contentsOf: r); out.append(contentsOf: full[x...]); matched = true; break
                    }
                }
            }
            if !matched { out.append("&"); out.append(contentsOf: full) }
            i = end
        }
        return out
    }

    /// Python's numeric character reference rule; `body` is `123` or `x7B` (no `&#`, no `;`).
    /// Returns nil when `body` is not all digits.
    private static func numericReference(_ body: Scalars) -> Scalars? {
        let hex = body.first == "x" || body.first == "X"
        let digits = hex ? Array(body.dropFirst()) : body
        guard !digits.isEmpty, digits.allSatisfy({ hex ? isASCIIHex($0) : isASCIIDigit($0) }) else { return nil }
        var num: UInt64 = 0
        for d in digits {
            let v = UInt64(hex ? Int(String(Character(d)), radix: 16)! : Int(d.value - 48))
            num = min(num * (hex ? 16 : 10) + v, 0x1_0000_0000)  // saturate: anything > 0x10FFFF is the same
        }
        if num == 0 { return ["\u{FFFD}"] }
        if num == 0x0D { return ["\r"] }
        if (0x80...0x9F).contains(num) { return [cp1252[Int(num - 0x80)]] }
        if (0xD800...0xDFFF).contains(num) || num > 0x10FFFF { return ["\u{FFFD}"] }
        let invalid = (0x1...0x8).contains(num) || num == 0xB || (0xE...0x1F).contains(num) || num == 0x7F
            || (0xFDD0...0xFDEF).contains(num) || (num & 0xFFFE) == 0xFFFE
        return invalid ? [] : [Unicode.Scalar(UInt32(num))!]
    }

    private static func fixLineBreaks(_ s: Scalars) -> Scalars {
        var out: Scalars = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\r" && i + 1 < s.count && s[i + 1] == "\n" { out.append("\n"); i += 2; continue }
            out.append(["\r", "\u{2028}", "\u{2029}", "\u{85}"].contains(c) ? "\n" : c)
            i += 1
        }
        return out
    }

    /// Removes `ESC [ (digits | ;)* letter` (ftfy's `ANSI_RE`; `\d` is any decimal digit as in Python `re`).
    private static func removeTerminalEscapes(_ s: Scalars) -> Scalars {
        guard s.contains("\u{1B}") else { return s }
        var out: Scalars = []
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}" && i + 1 < s.count && s[i + 1] == "[" {
                var j = i + 2
                while j < s.count && (s[j] == ";" || s[j].properties.generalCategory == .decimalNumber) { j += 1 }
                if j < s.count && s[j].isASCII && s[j].properties.isAlphabetic { i = j + 1; continue }
            }
            out.append(s[i]); i += 1
        }
        return out
    }

    private static func isRemovedControl(_ v: UInt32) -> Bool {
        v <= 0x08 || v == 0x0B || (0x0E...0x1F).contains(v) || v == 0x7F || (0x206A...0x206F).contains(v)
            || v == 0xFEFF || (0xFFF9...0xFFFC).contains(v)
    }

    /// ftfy's `fix_character_width`: U+3000 → space, U+FF01…U+FFEF → their NFKC form.
    private static func widthFix(_ c: Unicode.Scalar) -> Scalars {
        if c.value == 0x3000 { return [" "] }
        guard (0xFF01...0xFFEF).contains(c.value) else { return [c] }
        return Array(String(Character(c)).precomposedStringWithCompatibilityMapping.unicodeScalars)
    }

    private static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz", 0x1C4: "D\u{17D}",
        0x1C5: "D\u{17E}", 0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj", 0x1CA: "NJ", 0x1CB: "Nj",
        0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{17F}t",
        0xFB06: "st",
    ]

    /// Bytes 0x80…0x9F in Windows-1252, undefined ones kept (ftfy's "sloppy" codec; also Python's table for
    /// numeric references).
    static let cp1252: Scalars = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D,
        0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A,
        0x153, 0x9D, 0x17E, 0x178,
    ].map { Unicode.Scalar(UInt32($0))! }

    // MARK: whitespace and case

    /// Python `str.isspace`.
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default: return false
        }
    }

    /// `" ".join(text.split())`.
    static func collapseWhitespace(_ s: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(s.count)
        var pendingSpace = false
        for c in s {
            if isPythonSpace(c) { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(c)
        }
        return out
    }

    /// Python `str.lower`: full lowercase mappings, with U+03A3 → final ς after a cased letter not followed by one
    /// (case-ignorable characters skipped both ways).
    static func lowercase(_ s: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.isASCII {
                out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c)
            } else if c.value == 0x03A3 {
                out.append(isFinalSigma(s, i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    private static func isFinalSigma(_ s: Scalars, _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count && s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }

    private static func isASCIIDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
    private static func isASCIIHex(_ c: Unicode.Scalar) -> Bool {
        isASCIIDigit(c) || (c.value >= 65 && c.value <= 70) || (c.value >= 97 && c.value <= 102)
    }
    private static func isASCIIAlnum(_ c: Unicode.Scalar) -> Bool {
        isASCIIDigit(c) || (c.value >= 65 && c.value <= 90) || (c.value >= 97 && c.value <= 122)
    }
}

/// The entity tables parsed from `HTMLEntities.table` (once, on first use).
struct Entities: Sendable {
    /// `name` → replacement for `&name;` as Python's `html.unescape` knows it.
    var semicolon: [String: [Unicode.Scalar]] = [:]
    /// Legacy names `html.unescape` also accepts without `;`.
    var legacy: [String: [Unicode.Scalar]] = [:]
    /// ftfy's table: `semicolon` plus its all-caps spellings.
    var ftfy: [String: [Unicode.Scalar]] = [:]

    static let shared = Entities()

    private init() {
        for line in HTMLEntities.table.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 3 else { continue }
            let name = String(f[1])
            let value = f[2...].map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
            switch f[0] {
            case "S": semicolon[name] = value; ftfy[name] = value
            case "L": legacy[name] = value
            default: ftfy[name] = value
            }
        }
    }
}
