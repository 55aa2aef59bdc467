/// Terminal display width of characters. A small table instead of `wcwidth` because `wcwidth`
/// depends on the process locale (it returns -1 for every non-ASCII character under "C", which is
/// what tests run with) and on the libc version; this gives the same answer everywhere.
public enum DisplayWidth {
    /// Cells taken by one grapheme: 0 for controls, 2 for east-asian wide/fullwidth and emoji, else 1.
    public static func of(_ ch: Character) -> Int {
        let scalars = ch.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if first.value < 0x20 || (first.value >= 0x7f && first.value < 0xa0) { return 0 }
        // Emoji sequences (ZWJ, keycaps, flags) and text symbols forced to emoji presentation.
        if scalars.count > 1 && scalars.contains(where: { $0.value == 0xfe0f || $0.value == 0x200d }) { return 2 }
        if (0x1f1e6...0x1f1ff).contains(first.value) { return 2 }  // regional indicators (flags)
        if first.properties.isEmojiPresentation { return 2 }
        return isWide(first.value) ? 2 : 1
    }

    /// Cells taken by a string.
    public static func of(_ s: String) -> Int { s.reduce(0) { $0 + of($1) } }

    /// East Asian Wide (W) and Fullwidth (F) blocks.
    static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115f, 0x231a...0x231b, 0x2329...0x232a, 0x2e80...0x303e, 0x3041...0x33ff,
             0x3400...0x4dbf, 0x4e00...0x9fff, 0xa000...0xa4cf, 0xa960...0xa97f, 0xac00...0xd7a3,
             0xf900...0xfaff, 0xfe10...0xfe19, 0xfe30...0xfe6f, 0xff00...0xff60, 0xffe0...0xffe6,
             0x1f300...0x1f64f, 0x1f900...0x1f9ff, 0x20000...0x2fffd, 0x30000...0x3fffd:
            return true
        default:
            return false
        }
    }

    /// The longest prefix of `s` that fits in `width` cells, and its width.
    public static func prefix(_ s: String, fitting width: Int) -> (String, Int) {
        var out = "", used = 0
        for ch in s {
            let w = of(ch)
            if used + w > width { break }
            out.append(ch)
            used += w
        }
        return (out, used)
    }

    /// `s` cut to `width` cells with a trailing `…` when it does not fit.
    public static func truncate(_ s: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        if of(s) <= width { return s }
        return prefix(s, fitting: width - 1).0 + "…"
    }
}
