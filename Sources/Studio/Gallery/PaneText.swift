import Foundation
import TerminalUI

/// Text helpers shared by the gallery, dashboard and file picker panes.
enum PaneText {
    /// `text` wrapped to `width` cells (breaking after spaces where possible, anywhere in over-long words), at most
    /// `maxLines` lines; the last kept line ends in `…` when text was cut. Newlines start new lines.
    static func wrap(_ text: String, width: Int, maxLines: Int = .max) -> [String] {
        guard width > 0, maxLines > 0 else { return [] }
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = "", lineWidth = 0
            for word in paragraph.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
                let w = DisplayWidth.of(word)
                let sep = line.isEmpty ? 0 : 1
                if lineWidth + sep + w <= width {
                    line += (sep == 1 ? " " : "") + word
                    lineWidth += sep + w
                    continue
                }
                if !line.isEmpty { lines.append(line) }
                var rest = word
                while DisplayWidth.of(rest) > width {
                    let (head, _) = DisplayWidth.prefix(rest, fitting: width)
                    guard !head.isEmpty else { break }
                    lines.append(head)
                    rest = String(rest.dropFirst(head.count))
                }
                line = rest
                lineWidth = DisplayWidth.of(rest)
            }
            lines.append(line)
        }
        guard lines.count > maxLines else { return lines }
        var kept = Array(lines.prefix(maxLines))
        kept[maxLines - 1] = DisplayWidth.prefix(kept[maxLines - 1], fitting: width - 1).0 + "…"
        return kept
    }

    /// Bytes as `812 B`, `4.2 KB`, `6.94 GB` (powers of 1024, as file managers show).
    static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(n) B" }
        return String(format: v < 10 ? "%.2f %@" : (v < 100 ? "%.1f %@" : "%.0f %@"), v, units[u])
    }

    /// Compact number: up to 4 significant digits, scientific for very small or large magnitudes.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.2e", v) }
        var s = String(format: "%.4g", v)
        if s.contains(".") && !s.contains("e") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// `label value` pairs drawn on one row: labels dim, values in text colour; returns the cells used.
    @discardableResult
    static func field(_ label: String, _ value: String, into frame: inout Frame, col: Int, row: Int, clip: Rect,
                      valueRole: Role = .text) -> Int {
        var x = col
        x += frame.text(label + " ", col: x, row: row, style: .role(.dim), clip: clip)
        x += frame.text(value, col: x, row: row, style: .role(valueRole), clip: clip)
        return x - col
    }
}
