/// CLIP's pre-split of cleaned text into words, a hand-written scanner equivalent to `re.findall` with OpenAI
/// CLIP's pattern (compiled with IGNORECASE):
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`.
///
/// At each position the alternatives are tried in that order; whitespace matches nothing and is skipped. So
/// letters run together, every number character is its own word, other symbols run together (`!!'` then `s`),
/// and a contraction only starts a match (`'stop` → `'s`, `top`).
enum CLIPPreTokenizer {
    /// One pre-tokenized word.
    enum Word: Equatable {
        /// `<|startoftext|>` typed in the text.
        case startOfText
        /// `<|endoftext|>` typed in the text.
        case endOfText
        /// Ordinary word: a range of the cleaned scalars.
        case text(Range<Int>)
    }

    private static let startOfText = Array("<|startoftext|>".unicodeScalars)
    private static let endOfText = Array("<|endoftext|>".unicodeScalars)
    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map {
        Array($0.unicodeScalars)
    }

    /// Splits cleaned text (see `CLIPTextCleaner`) into words.
    static func split(_ s: [Unicode.Scalar]) -> [Word] {
        var words: [Word] = []
        var i = 0
        while i < s.count {
            // A case-folded spelling (`ſ` for `s`) still matches the pattern but is not in CLIP's special-token
            // cache, so it is BPE'd as ordinary text.
            if let exact = foldedPrefix(s, i, startOfText) {
                words.append(exact ? .startOfText : .text(i..<(i + startOfText.count))); i += startOfText.count
                continue
            }
            if let exact = foldedPrefix(s, i, endOfText) {
                words.append(exact ? .endOfText : .text(i..<(i + endOfText.count))); i += endOfText.count
                continue
            }
            if s[i] == "'", let n = contractionLength(s, i + 1) {
                words.append(.text(i..<(i + 1 + n))); i += 1 + n; continue
            }
            let c = s[i]
            if isLetter(c) {
                var j = i + 1
                while j < s.count && isLetter(s[j]) { j += 1 }
                words.append(.text(i..<j)); i = j
            } else if isNumber(c) {
                words.append(.text(i..<(i + 1))); i += 1
            } else if !isSpace(c) {
                var j = i + 1
                while j < s.count && !isSpace(s[j]) && !isLetter(s[j]) && !isNumber(s[j]) { j += 1 }
                words.append(.text(i..<j)); i = j
            } else {
                i += 1
            }
        }
        return words
    }

    /// Whether `p` matches at `i` under IGNORECASE (nil: no match; true: spelled exactly). Text is already
    /// lowercase, so the only extra lowercase match is the long s U+017F, which case-folds to `s`.
    private static func foldedPrefix(_ s: [Unicode.Scalar], _ i: Int, _ p: [Unicode.Scalar]) -> Bool? {
        guard i + p.count <= s.count else { return nil }
        var exact = true
        for k in 0..<p.count where s[i + k] != p[k] {
            guard p[k] == "s" && s[i + k] == "\u{17F}" else { return nil }
            exact = false
        }
        return exact
    }

    /// Length of the contraction letters after an apostrophe at `i - 1`, if any.
    private static func contractionLength(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        contractions.first { foldedPrefix(s, i, $0) != nil }?.count
    }

    /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return (c.value | 0x20) >= 97 && (c.value | 0x20) <= 122 }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}`: general category Nd, Nl or No.
    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c.value >= 48 && c.value <= 57 }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s` of the `regex` module (Python's `str.isspace` minus U+001C…U+001F).
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        CLIPTextCleaner.isPythonSpace(c) && !(0x1C...0x1F).contains(c.value)
    }
}
