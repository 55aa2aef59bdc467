import Foundation

/// Progress of a job: steps done of a total, and the elapsed time, from which the rate and ETA
/// follow. The clock is read by the caller, so rendering stays pure.
public struct ProgressInfo: Hashable, Sendable {
    /// Label before the bar (`denoise`, `epoch 2`).
    public var label: String
    /// Steps done.
    public var completed: Int
    /// Total steps (0 when unknown).
    public var total: Int
    /// Seconds since the job started.
    public var elapsed: Double

    /// Progress.
    public init(label: String, completed: Int, total: Int, elapsed: Double) {
        self.label = label
        self.completed = completed
        self.total = total
        self.elapsed = elapsed
    }

    /// Fraction done, 0…1.
    public var fraction: Double { total > 0 ? min(1, max(0, Double(completed) / Double(total))) : 0 }

    /// Steps per second, or nil before the first step.
    public var rate: Double? { completed > 0 && elapsed > 0 ? Double(completed) / elapsed : nil }

    /// Seconds left, or nil when unknown.
    public var eta: Double? {
        guard let r = rate, total > 0 else { return nil }
        return Double(max(0, total - completed)) / r
    }

    /// `3.21 it/s`, or `4.52 s/it` when slower than one step per second (as tqdm shows it).
    public var rateText: String {
        guard let r = rate else { return "-- it/s" }
        return r >= 1 ? String(format: "%.2f it/s", r) : String(format: "%.2f s/it", 1 / r)
    }

    /// `ETA 1:05` (or `ETA 1:02:03`, `ETA --:--`).
    public var etaText: String { "ETA " + (eta.map(Self.clock) ?? "--:--") }

    /// Seconds as `m:ss` or `h:mm:ss`.
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Draws `label 12/50 ████▌──── 3.21 it/s ETA 0:12` on one row; the text parts drop out on narrow panes.
public enum ProgressBar {
    /// Draws `info` into `rect`'s first row.
    public static func render(_ info: ProgressInfo, into frame: inout Frame, rect: Rect, theme: Theme) {
        guard !rect.isEmpty else { return }
        let row = Rect(x: rect.x, y: rect.y, width: rect.width, height: 1)
        frame.fill(row, style: Style(bg: .role(.background)))
        let count = info.total > 0 ? "\(info.completed)/\(info.total)" : "\(info.completed)"
        var left = info.label.isEmpty ? count : "\(info.label) \(count)"
        var right = "\(info.rateText) \(info.etaText)"
        // Drop the pieces that do not fit, keeping at least 10 cells of bar.
        if DisplayWidth.of(left) + DisplayWidth.of(right) + 14 > rect.width { right = info.etaText }
        if DisplayWidth.of(left) + DisplayWidth.of(right) + 14 > rect.width { right = "" }
        if DisplayWidth.of(left) + 12 > rect.width { left = count }
        if DisplayWidth.of(left) + 8 > rect.width { left = "" }
        var x = rect.x
        if !left.isEmpty { x += frame.text(left + " ", col: x, row: rect.y, style: .role(.text), clip: row) }
        let rightWidth = right.isEmpty ? 0 : DisplayWidth.of(right) + 1
        let barWidth = rect.maxX - x - rightWidth
        if barWidth > 0 {
            frame.horizontalBar(Rect(x: x, y: rect.y, width: barWidth, height: 1), fraction: info.fraction, track: "─")
        }
        if !right.isEmpty {
            frame.text(right, in: Rect(x: rect.maxX - rightWidth + 1, y: rect.y, width: rightWidth - 1, height: 1),
                       align: .right, style: .role(.dim))
        }
    }
}
