import Foundation
import TerminalUI

/// Where the dashboard's parts go: a progress header, the loss plot (with learning-rate and grad-norm plots below
/// it when tall enough), a side column of latest values, files and the newest sample (when wide enough), a footer.
struct DashboardLayout {
    var header: Rect
    var loss: Rect
    var lr: Rect
    var gradNorm: Rect
    var side: Rect
    var thumbnail: Rect
    var footer: Rect

    static let sideWidth = 30

    init(rect: Rect) {
        let zero = Rect(x: rect.x, y: rect.y, width: 0, height: 0)
        var body = rect
        (header, body) = body.splitTop(min(1, body.height))
        if body.height >= 8 { (body, footer) = body.splitBottom(1) } else { footer = zero }
        var plots = body
        if body.width >= 84 {
            let cols = body.split(.horizontal, [.min(0), .fixed(1), .fixed(Self.sideWidth)])
            plots = cols[0]
            side = cols[2]
        } else {
            side = zero
        }
        if plots.height >= 16 {
            let rows = plots.split(.vertical, [.ratio(3, 5), .min(0)])
            loss = rows[0]
            let bottom = rows[1].split(.horizontal, [.ratio(1, 2), .fixed(1), .min(0)])
            lr = bottom[0]
            gradNorm = bottom[2]
        } else {
            loss = plots
            lr = zero
            gradNorm = zero
        }
        let thumbRows = side.height - 14
        thumbnail = thumbRows >= 5 ? Rect(x: side.x, y: side.maxY - thumbRows, width: side.width, height: thumbRows) : zero
    }
}

extension DashboardState {
    /// Draws the dashboard into `rect` (content only: the caller draws the pane border). Pure.
    public func render(into frame: inout Frame, rect: Rect, theme: Theme, focused: Bool = true) {
        guard !rect.isEmpty else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        let layout = DashboardLayout(rect: rect)
        renderHeader(into: &frame, rect: layout.header)
        guard let steps = visibleSteps else {
            frame.text("waiting for training metrics…", in: layout.loss.centered(width: 29, height: 1), style: .role(.dim))
            renderFooter(into: &frame, rect: layout.footer)
            return
        }
        let markers = history.stages
        plot("loss" + (smoothing ? " (EMA \(PaneText.number(smoothingWeight)))" : ""), lossLines, steps: steps,
             log: logScale, markers: markers, into: &frame, rect: layout.loss, theme: theme)
        plot("learning rate", [.init(name: "", points: history.lr, role: .plot(4))], steps: steps, log: false,
             markers: markers, into: &frame, rect: layout.lr, theme: theme)
        plot("grad norm", [.init(name: "", points: history.gradNorm, role: .plot(5))], steps: steps, log: logScale,
             markers: markers, into: &frame, rect: layout.gradNorm, theme: theme)
        if !layout.side.isEmpty {
            frame.vline(col: layout.side.x - 1, row: layout.side.y, length: layout.side.height, style: .role(.border))
            renderSide(into: &frame, rect: layout.side, thumbnail: layout.thumbnail)
        }
        renderFooter(into: &frame, rect: layout.footer)
    }

    private func plot(_ title: String, _ lines: [MetricsPlot.Line], steps: ClosedRange<Int>, log: Bool, markers: [StageMarker],
                      into frame: inout Frame, rect: Rect, theme: Theme) {
        guard rect.height >= 4 else { return }
        let (head, body) = rect.splitTop(1)
        frame.text(title + (log ? " · log" : ""), in: head, style: .role(.accent, attrs: [.bold]))
        MetricsPlot.render(lines, xRange: steps, logScale: log, markers: markers, into: &frame, rect: body, theme: theme)
    }

    private func renderHeader(into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        guard let r = history.latestStep ?? history.latest else {
            frame.text("training dashboard · waiting for metrics", in: rect, style: .role(.dim))
            return
        }
        var x = rect.x
        let count = r.totalSteps > 0 ? "step \(r.step)/\(r.totalSteps)" : "step \(r.step)"
        x += frame.text(count + " ", col: x, row: rect.y, style: .role(.text, attrs: [.bold]), clip: rect)
        var tail: [(String, Role)] = []
        if let end = history.endMessage { tail.append((end, .accent)) }
        if let stage = history.stages.last?.stage { tail.append((stage, .accent)) }
        if let s = r.itPerS { tail.append((s >= 1 ? String(format: "%.2f it/s", s) : String(format: "%.2f s/it", 1 / s), .text)) }
        if history.endMessage == nil, let eta = r.etaSeconds { tail.append(("ETA " + ProgressInfo.clock(eta), .text)) }
        let tailText = tail.map(\.0).joined(separator: " · ")
        let fraction = r.totalSteps > 0 ? min(1, Double(r.step) / Double(r.totalSteps)) : 0
        let pct = String(format: " %3d%% ", Int((fraction * 100).rounded(.down)))
        let barWidth = rect.maxX - x - DisplayWidth.of(pct) - DisplayWidth.of(tailText)
        if barWidth >= 8 {
            frame.horizontalBar(Rect(x: x, y: rect.y, width: barWidth, height: 1), fraction: fraction, track: "─")
            x += barWidth
            x += frame.text(pct, col: x, row: rect.y, style: .role(.dim), clip: rect)
        }
        for (i, (t, role)) in tail.enumerated() {
            if i > 0 { x += frame.text(" · ", col: x, row: rect.y, style: .role(.dim), clip: rect) }
            x += frame.text(t, col: x, row: rect.y, style: .role(role), clip: rect)
        }
    }

    private func renderSide(into frame: inout Frame, rect: Rect, thumbnail: Rect) {
        var row = rect.y
        let limit = thumbnail.isEmpty ? rect.maxY : thumbnail.y
        func heading(_ s: String) {
            guard row < limit else { return }
            frame.text(s, in: Rect(x: rect.x, y: row, width: rect.width, height: 1), style: .role(.accent, attrs: [.bold]))
            row += 1
        }
        func value(_ label: String, _ v: String, _ role: Role = .text) {
            guard row < limit else { return }
            let labelWidth = 10
            frame.text(label, in: Rect(x: rect.x, y: row, width: labelWidth, height: 1), style: .role(role == .text ? .dim : role))
            frame.text(v, in: Rect(x: rect.x + labelWidth, y: row, width: rect.width - labelWidth, height: 1), style: .role(.text))
            row += 1
        }
        heading("Latest")
        for (i, name) in history.lossNames.enumerated() {
            let pts = history.losses[name] ?? []
            guard let last = pts.last else { continue }
            var v = PaneText.number(last.value)
            if smoothing, let s = MetricsPlot.smoothed(pts, weight: smoothingWeight).last {
                v += " (\(PaneText.number(s.value)))"
            }
            value(hiddenSeries.contains(name) ? "\(i + 1) ·\(name)" : "\(i + 1) \(name)", v, Role.plot(i))
        }
        if let r = history.latestStep {
            value("lr", PaneText.number(r.lr))
            if let g = r.gradNorm { value("grad norm", PaneText.number(g)) }
        }
        if let e = history.elapsed { value("elapsed", ProgressInfo.clock(e)) }
        if row < limit { row += 1 }
        if !history.checkpoints.isEmpty {
            heading("Checkpoints")
            for c in history.checkpoints.suffix(3).reversed() { value("\(c.step)", (c.path as NSString).lastPathComponent) }
        }
        if !history.samples.isEmpty {
            heading("Samples")
            for s in history.samples.suffix(3).reversed() { value("\(s.step)", (s.path as NSString).lastPathComponent) }
        }
        guard !thumbnail.isEmpty, let newest = newestSample else { return }
        switch thumbnailPath == newest ? thumbnailSlot : nil {
        case .image(let img)?: HalfBlock.render(img, into: &frame, rect: thumbnail)
        case .failed(let reason)?:
            for (k, l) in PaneText.wrap(reason, width: thumbnail.width, maxLines: thumbnail.height).enumerated() {
                frame.text(l, col: thumbnail.x, row: thumbnail.y + k, style: .role(.error), clip: thumbnail)
            }
        case nil:
            frame.text("loading sample…", in: thumbnail.centered(width: 15, height: 1), style: .role(.dim))
        }
    }

    private func renderFooter(into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        if let m = message {
            frame.text(m.text, in: rect, style: .role(m.isError ? .error : .dim))
            return
        }
        let parts = [
            "s smooth " + (smoothing ? PaneText.number(smoothingWeight) : "off"), "l log " + (logScale ? "on" : "off"),
            "z " + window.label, "\(history.recordCount) records",
        ]
        frame.text(parts.joined(separator: " · "), in: rect, style: .role(.dim))
    }
}
