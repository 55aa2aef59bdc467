import Foundation
import TerminalUI

/// A braille line plot of training metrics against their real step numbers, with y and x axes, optional
/// log-scale y, and vertical stage markers. TerminalUI's `LinePlot` draws series at consecutive steps and cannot
/// mark stages or label a log axis, so the dashboard draws its own in the same style (dim axes, `┤` / `┬` ticks,
/// legend top-right, series in the theme's plot colours). Series are downsampled to at most one point per braille
/// dot column, so a plot costs O(points) however long the run.
public enum MetricsPlot {
    /// One line.
    public struct Line: Equatable, Sendable {
        /// Legend name (empty: not in the legend).
        public var name: String
        /// Points, in step order.
        public var points: [MetricPoint]
        /// Colour role.
        public var role: Role

        /// A line.
        public init(name: String, points: [MetricPoint], role: Role) {
            self.name = name
            self.points = points
            self.role = role
        }
    }

    /// Draws `lines` over steps `xRange` into `rect`, with `markers` as vertical lines (the marker at the range's
    /// first step is not drawn: it is the start, not a change).
    public static func render(_ lines: [Line], xRange: ClosedRange<Int>, logScale: Bool = false, markers: [StageMarker] = [],
                              into frame: inout Frame, rect: Rect, theme: Theme) {
        guard rect.width >= 10, rect.height >= 3 else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        func y(_ v: Double) -> Double? {
            guard v.isFinite else { return nil }
            if logScale { return v > 0 ? log10(v) : nil }
            return v
        }
        var lo = Double.infinity, hi = -Double.infinity
        for l in lines {
            for p in l.points where xRange.contains(p.step) {
                if let t = y(p.value) { lo = min(lo, t); hi = max(hi, t) }
            }
        }
        if !lo.isFinite {
            frame.text(logScale && lines.contains(where: { !$0.points.isEmpty }) ? "no positive values" : "no data",
                       in: rect.centered(width: 18, height: 1), align: .center, style: .role(.dim))
            return
        }
        if hi - lo < 1e-12 { let pad = max(abs(hi) * 0.05, logScale ? 0.1 : 0.5); lo -= pad; hi += pad }
        let x0 = xRange.lowerBound, x1 = max(xRange.lowerBound + 1, xRange.upperBound)

        let values = [hi, (hi + lo) / 2, lo].map { logScale ? pow(10, $0) : $0 }
        let labels = values.map(PaneText.number)
        let labelWidth = labels.map { DisplayWidth.of($0) }.max() ?? 1
        let plot = Rect(x: rect.x + labelWidth + 1, y: rect.y, width: rect.width - labelWidth - 1, height: rect.height - 2)
        guard plot.width >= 2, plot.height >= 1 else { return }
        let axisRow = plot.maxY
        frame.vline(col: plot.x - 1, row: plot.y, length: plot.height, char: "│", style: .role(.dim))
        frame.hline(col: plot.x, row: axisRow, length: plot.width, char: "─", style: .role(.dim))
        frame.text("└", col: plot.x - 1, row: axisRow, style: .role(.dim))
        for (label, row) in zip(labels, [plot.y, plot.y + (plot.height - 1) / 2, plot.maxY - 1]) {
            frame.text(label, in: Rect(x: rect.x, y: row, width: labelWidth, height: 1), align: .right, style: .role(.dim))
            frame.text("┤", col: plot.x - 1, row: row, style: .role(.dim))
        }
        func column(_ step: Int) -> Int { plot.x + Int((Double(step - x0) / Double(x1 - x0) * Double(plot.width - 1)).rounded()) }
        for (k, step) in [x0, (x0 + x1) / 2, x1].enumerated() {
            let col = column(step)
            frame.text("┬", col: col, row: axisRow, style: .role(.dim))
            let t = String(step), w = t.count
            let start = k == 0 ? col : (k == 2 ? col - w + 1 : col - w / 2)
            frame.text(t, col: max(rect.x, min(start, rect.maxX - w)), row: axisRow + 1, style: .role(.dim), clip: rect)
        }

        // Stage markers under the data: a dotted rule (names go on after the data, where there is room).
        let shownMarkers = markers.filter { $0.step > x0 && $0.step <= x1 }
        for m in shownMarkers {
            frame.vline(col: column(m.step), row: plot.y, length: plot.height, char: "┊", style: .role(.border))
        }

        // Dots: one bit grid; a cell takes the colour of the last line drawn through it.
        let dw = plot.width * 2, dh = plot.height * 4
        var bits = [UInt8](repeating: 0, count: plot.width * plot.height)
        var owner = [Role?](repeating: nil, count: plot.width * plot.height)
        for l in lines {
            var prev: (Int, Int)? = nil
            for p in downsample(l.points, range: x0...x1, buckets: dw) {
                guard let t = y(p.value) else { prev = nil; continue }
                let dx = Int(((p.step - Double(x0)) / Double(x1 - x0) * Double(dw - 1)).rounded())
                let dy = Int(((hi - t) / (hi - lo) * Double(dh - 1)).rounded())
                for (x, yy) in LinePlot.line(from: prev ?? (dx, dy), to: (dx, dy)) where x >= 0 && x < dw && yy >= 0 && yy < dh {
                    let cell = (yy / 4) * plot.width + x / 2
                    bits[cell] |= LinePlot.brailleBit(dx: x % 2, dy: yy % 4)
                    owner[cell] = l.role
                }
                prev = (dx, dy)
            }
        }
        for row in 0..<plot.height {
            for col in 0..<plot.width {
                let i = row * plot.width + col
                guard bits[i] != 0, let role = owner[i] else { continue }
                let ch = Character(Unicode.Scalar(0x2800 + UInt32(bits[i]))!)
                frame.set(col: plot.x + col, row: plot.y + row, Cell(ch, fg: .role(role), bg: .role(.background)))
            }
        }
        // Stage names right of their rule, in the top (else bottom) row, only over cells without dots.
        for m in shownMarkers {
            let col = column(m.step) + 1, w = DisplayWidth.of(m.stage)
            guard col + w <= plot.maxX else { continue }
            for row in [plot.y, plot.maxY - 1] {
                let free = (col..<(col + w)).allSatisfy { bits[(row - plot.y) * plot.width + $0 - plot.x] == 0 }
                if free {
                    frame.text(m.stage, col: col, row: row, style: .role(.dim), clip: plot)
                    break
                }
            }
        }
        let named = lines.filter { !$0.name.isEmpty }
        if !named.isEmpty {
            let parts = named.map { ("■ " + $0.name, $0.role) }
            let total = parts.reduce(0) { $0 + DisplayWidth.of($1.0) + 1 } - 1
            var x = max(plot.x, plot.maxX - total)
            // The legend clears its row segment so rules and dots do not run through it.
            frame.fill(Rect(x: x, y: plot.y, width: plot.maxX - x, height: 1), style: Style(bg: .role(.background)))
            for (text, role) in parts { x += frame.text(text, col: x, row: plot.y, style: .role(role), clip: plot) + 1 }
        }
    }

    /// `points` inside `range` reduced to at most `buckets` points: the steps are cut into equal buckets and each
    /// non-empty bucket gives the mean step and mean value of its points (a bucket holding a non-finite value
    /// gives that value, so divergence stays visible as a gap). With fewer points than buckets they are returned
    /// as they are. Steps are returned as `Double` because a mean step need not be whole.
    public static func downsample(_ points: [MetricPoint], range: ClosedRange<Int>, buckets: Int) -> [(step: Double, value: Double)] {
        let inside = points.filter { range.contains($0.step) }
        guard buckets > 0, inside.count > buckets else { return inside.map { (Double($0.step), $0.value) } }
        let span = Double(range.upperBound - range.lowerBound + 1)
        var sumStep = [Double](repeating: 0, count: buckets), sum = [Double](repeating: 0, count: buckets)
        var count = [Int](repeating: 0, count: buckets)
        var bad = [Double?](repeating: nil, count: buckets)
        for p in inside {
            let b = min(buckets - 1, Int(Double(p.step - range.lowerBound) / span * Double(buckets)))
            sumStep[b] += Double(p.step)
            count[b] += 1
            if p.value.isFinite { sum[b] += p.value } else { bad[b] = p.value }
        }
        var out: [(step: Double, value: Double)] = []
        out.reserveCapacity(buckets)
        for b in 0..<buckets where count[b] > 0 {
            out.append((sumStep[b] / Double(count[b]), bad[b] ?? sum[b] / Double(count[b])))
        }
        return out
    }

    /// TensorBoard's debiased EMA over the values (steps unchanged); non-finite values pass through.
    public static func smoothed(_ points: [MetricPoint], weight: Double) -> [MetricPoint] {
        guard weight > 0 else { return points }
        let v = LinePlot.smooth(points.map(\.value), weight: weight)
        return zip(points, v).map { MetricPoint(step: $0.step, value: $1) }
    }
}
