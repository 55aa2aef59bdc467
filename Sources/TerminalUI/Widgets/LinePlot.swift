import Foundation

/// One line of a plot.
public struct PlotSeries: Hashable, Sendable {
    /// Legend name.
    public var name: String
    /// Values at steps `x0, x0+1, …` (non-finite values leave a gap).
    public var values: [Double]
    /// Step of the first value (training losses often start after a warm-up).
    public var firstStep: Int

    /// A series.
    public init(name: String, values: [Double], firstStep: Int = 0) {
        self.name = name
        self.values = values
        self.firstStep = firstStep
    }
}

/// Plot options.
public struct PlotOptions: Hashable, Sendable {
    /// Exponential-moving-average weight, 0 (off) …< 1 (TensorBoard's "smoothing", debiased).
    public var smoothing: Double
    /// Also draw the raw values, in the dim role, under the smoothed line.
    public var showRaw: Bool
    /// Fixed y range; nil fits the data.
    public var yRange: ClosedRange<Double>?
    /// Show the legend in the top-right corner.
    public var legend: Bool

    /// Options.
    public init(smoothing: Double = 0, showRaw: Bool = false, yRange: ClosedRange<Double>? = nil, legend: Bool = true) {
        self.smoothing = smoothing
        self.showRaw = showRaw
        self.yRange = yRange
        self.legend = legend
    }
}

/// A braille line plot with a y axis (three labelled ticks), an x axis (steps), and up to six
/// series in the theme's plot colours. Each cell holds 2×4 dots, so a 40×10 pane gives 80×40 dots.
public enum LinePlot {
    /// Draws `series` into `rect`.
    public static func render(_ series: [PlotSeries], options: PlotOptions = PlotOptions(), into frame: inout Frame,
                              rect: Rect, theme: Theme) {
        guard rect.width >= 8, rect.height >= 3 else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        let drawn = series.map { s in options.smoothing > 0 ? smooth(s.values, weight: options.smoothing) : s.values }
        var lo = Double.infinity, hi = -Double.infinity
        for vs in drawn + (options.showRaw ? series.map(\.values) : []) {
            for v in vs where v.isFinite {
                lo = min(lo, v)
                hi = max(hi, v)
            }
        }
        if let r = options.yRange { lo = r.lowerBound; hi = r.upperBound }
        if !lo.isFinite {
            frame.text("no data", in: rect.centered(width: 7, height: 1), style: .role(.dim))
            return
        }
        if hi - lo < 1e-12 { lo -= 0.5; hi += 0.5 }
        let x0 = series.map(\.firstStep).min() ?? 0
        let x1 = max(x0 + 1, series.map { $0.firstStep + $0.values.count - 1 }.max() ?? x0 + 1)

        // Axes: y labels on the left, x labels on the bottom row.
        let labels = [hi, (hi + lo) / 2, lo].map(format)
        let labelWidth = labels.map(\.count).max() ?? 1
        let plot = Rect(x: rect.x + labelWidth + 1, y: rect.y, width: rect.width - labelWidth - 1, height: rect.height - 2)
        guard plot.width >= 2, plot.height >= 1 else { return }
        let axisRow = plot.maxY
        frame.vline(col: plot.x - 1, row: plot.y, length: plot.height, char: "│", style: .role(.dim))
        frame.hline(col: plot.x, row: axisRow, length: plot.width, char: "─", style: .role(.dim))
        frame.text("└", col: plot.x - 1, row: axisRow, style: .role(.dim))
        let tickRows = [plot.y, plot.y + (plot.height - 1) / 2, plot.maxY - 1]
        for (label, row) in zip(labels, tickRows) {
            frame.text(label, in: Rect(x: rect.x, y: row, width: labelWidth, height: 1), align: .right, style: .role(.dim))
            frame.text("┤", col: plot.x - 1, row: row, style: .role(.dim))
        }
        let xTicks = [x0, (x0 + x1) / 2, x1]
        for (k, step) in xTicks.enumerated() {
            let col = plot.x + Int((Double(step - x0) / Double(x1 - x0) * Double(plot.width - 1)).rounded())
            frame.text("┬", col: col, row: axisRow, style: .role(.dim))
            let t = String(step)
            let start = k == 0 ? col : (k == 2 ? col - t.count + 1 : col - t.count / 2)
            frame.text(t, col: max(rect.x, min(start, rect.maxX - t.count)), row: axisRow + 1, style: .role(.dim), clip: rect)
        }

        // Dots: one bit grid per series so colours stay per series; later series win a shared cell.
        let dw = plot.width * 2, dh = plot.height * 4
        var bits = [UInt8](repeating: 0, count: plot.width * plot.height)
        var owner = [Role?](repeating: nil, count: plot.width * plot.height)
        func dotY(_ v: Double) -> Int { Int(((hi - v) / (hi - lo) * Double(dh - 1)).rounded()) }
        func dotX(_ step: Int) -> Int { Int((Double(step - x0) / Double(x1 - x0) * Double(dw - 1)).rounded()) }
        func plotLine(_ values: [Double], first: Int, role: Role) {
            var prev: (Int, Int)? = nil
            for (i, v) in values.enumerated() {
                guard v.isFinite else { prev = nil; continue }
                let p = (dotX(first + i), dotY(v))
                for (x, y) in line(from: prev ?? p, to: p) where x >= 0 && x < dw && y >= 0 && y < dh {
                    let cell = (y / 4) * plot.width + x / 2
                    bits[cell] |= brailleBit(dx: x % 2, dy: y % 4)
                    owner[cell] = role
                }
                prev = p
            }
        }
        if options.showRaw && options.smoothing > 0 {
            for s in series { plotLine(s.values, first: s.firstStep, role: .dim) }
        }
        for (i, s) in series.enumerated() { plotLine(drawn[i], first: s.firstStep, role: .plot(i)) }
        for row in 0..<plot.height {
            for col in 0..<plot.width {
                let i = row * plot.width + col
                guard bits[i] != 0, let role = owner[i] else { continue }
                let ch = Character(Unicode.Scalar(0x2800 + UInt32(bits[i]))!)
                frame.set(col: plot.x + col, row: plot.y + row, Cell(ch, fg: .role(role), bg: .role(.background)))
            }
        }
        if options.legend && !series.isEmpty {
            let parts = series.enumerated().map { ("■ " + $1.name, Role.plot($0)) }
            let total = parts.reduce(0) { $0 + DisplayWidth.of($1.0) + 1 } - 1
            var x = max(plot.x, plot.maxX - total)
            for (text, role) in parts {
                x += frame.text(text, col: x, row: plot.y, style: .role(role), clip: plot) + 1
            }
        }
    }

    /// TensorBoard-style smoothing: an EMA debiased for the first values; non-finite values pass through.
    public static func smooth(_ values: [Double], weight: Double) -> [Double] {
        let w = min(max(0, weight), 0.999)
        var last = 0.0, n = 0
        return values.map { v in
            guard v.isFinite else { return v }
            last = last * w + (1 - w) * v
            n += 1
            return last / (1 - pow(w, Double(n)))
        }
    }

    /// Compact tick label: up to 4 significant digits, scientific for very small or large magnitudes.
    static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.1e", v) }
        var s = String(format: "%.4g", v)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// The dot bit for column `dx` (0/1) and row `dy` (0…3) in a braille cell (U+2800 + bits).
    public static func brailleBit(dx: Int, dy: Int) -> UInt8 {
        let left: [UInt8] = [0x01, 0x02, 0x04, 0x40], right: [UInt8] = [0x08, 0x10, 0x20, 0x80]
        return dx == 0 ? left[dy] : right[dy]
    }

    /// The dots of a straight segment (Bresenham), both ends included.
    public static func line(from a: (Int, Int), to b: (Int, Int)) -> [(Int, Int)] {
        var (x, y) = a
        let dx = abs(b.0 - x), dy = -abs(b.1 - y)
        let sx = x < b.0 ? 1 : -1, sy = y < b.1 ? 1 : -1
        var err = dx + dy
        var out: [(Int, Int)] = []
        while true {
            out.append((x, y))
            if x == b.0 && y == b.1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
        return out
    }
}
