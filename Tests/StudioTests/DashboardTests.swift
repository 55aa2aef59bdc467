import Foundation
import XCTest
@testable import Studio
@testable import TerminalUI
import Trainer

/// Dashboard: metrics ingestion (in process and from a followed file), downsampling, reducer and snapshots.
final class DashboardTests: XCTestCase {
    /// A deterministic run: two loss terms, warm-up → main → decay stages, samples and checkpoints.
    static func run(steps: Int = 3000, total: Int = 4000, every: Int = 1) -> [MetricsRecord] {
        var out = [MetricsRecord(step: 0, totalSteps: total, stage: "warmup", losses: [:], lr: 0, time: 1_750_000_000,
                                 event: .start)]
        for step in stride(from: every, through: steps, by: every) {
            let s = Double(step)
            let stage = step <= 300 ? "warmup" : (step <= 2500 ? "main" : "decay")
            let lr = step <= 300 ? 1e-4 * s / 300 : (step <= 2500 ? 1e-4 : 1e-4 * (1 - (s - 2500) / 1500))
            let mse = 0.05 + 0.4 * exp(-s / 600) + 0.02 * sin(s * 0.37)
            let dm = 1.2 * exp(-s / 1500) + 0.1 + 0.05 * cos(s * 0.11)
            out.append(MetricsRecord(step: step, totalSteps: total, stage: stage, losses: ["mse": mse, "dm": dm], lr: lr,
                                     gradNorm: 0.5 + 0.3 * abs(sin(s * 0.05)), itPerS: 1.92, etaSeconds: Double(total - step) / 1.92,
                                     time: 1_750_000_000 + s / 1.92))
            if step % 1000 == 0 {
                out.append(MetricsRecord(step: step, totalSteps: total, stage: stage, losses: [:], lr: lr,
                                         samples: ["samples/step-\(step).png"], time: 1_750_000_000 + s / 1.92, event: .sample))
            }
            if step % 1500 == 0 {
                out.append(MetricsRecord(step: step, totalSteps: total, stage: stage, losses: [:], lr: lr,
                                         time: 1_750_000_000 + s / 1.92, event: .checkpoint,
                                         message: "run/checkpoints/step-\(step).safetensors"))
            }
        }
        return out
    }

    func testHistoryFromRecords() {
        var d = DashboardState()
        d.ingest(Self.run(steps: 3000, every: 10))
        let h = d.history
        XCTAssertEqual(h.lossNames, ["dm", "mse"])
        XCTAssertEqual(h.losses["mse"]?.count, 300)
        XCTAssertEqual(h.lr.count, 300)
        XCTAssertEqual(h.stepRange, 10...3000)
        XCTAssertEqual(h.stages, [StageMarker(step: 0, stage: "warmup"), StageMarker(step: 310, stage: "main"),
                                  StageMarker(step: 2510, stage: "decay")])
        XCTAssertEqual(h.samples.map(\.path), ["samples/step-1000.png", "samples/step-2000.png", "samples/step-3000.png"])
        XCTAssertEqual(h.checkpoints, [MetricsFileEvent(step: 1500, path: "run/checkpoints/step-1500.safetensors"),
                                       MetricsFileEvent(step: 3000, path: "run/checkpoints/step-3000.safetensors")])
        XCTAssertEqual(h.latestStep?.step, 3000)
        XCTAssertEqual(h.elapsed!, 3000 / 1.92, accuracy: 1e-6)
        // A new run (start record) clears the old one.
        d.ingest(MetricsRecord(step: 0, totalSteps: 10, stage: "a", losses: [:], lr: 0, time: 0, event: .start))
        XCTAssertEqual(d.history.recordCount, 1)
        XCTAssertNil(d.history.stepRange)
        d.ingest(MetricsRecord(step: 10, totalSteps: 10, stage: "a", losses: [:], lr: 0, time: 1, event: .end, message: "done"))
        XCTAssertEqual(d.history.endMessage, "done")
    }

    func testFollowsFileWithPartialLastLineAndRestart() throws {
        let dir = PaneSnapshot.tempDir(self)
        let path = dir + "/metrics.jsonl"
        let records = Self.run(steps: 40, every: 10)   // start + 4 steps
        let lines = records.map { $0.jsonLine() }
        // Three complete lines, a malformed one, and half of the next: only complete, valid lines count.
        let partial = String(lines[3].prefix(lines[3].count / 2))
        try (lines[0..<3].joined(separator: "\n") + "\n{\"step\": oops}\n" + partial).write(toFile: path, atomically: false, encoding: .utf8)
        let follower = MetricsFileFollower(path: path)
        var d = DashboardState()
        XCTAssertTrue(d.poll(follower))
        XCTAssertEqual(d.history.recordCount, 3)
        XCTAssertEqual(d.history.stepRange, 10...20)
        XCTAssertFalse(d.poll(follower), "nothing new until the line is finished")
        // The writer finishes the line and adds one more.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data((String(lines[3].dropFirst(partial.count)) + "\n" + lines[4] + "\n").utf8))
        try handle.close()
        XCTAssertTrue(d.poll(follower))
        XCTAssertEqual(d.history.recordCount, 5)
        XCTAssertEqual(d.history.stepRange, 10...40)
        XCTAssertEqual(d.history.losses["mse"]?.map(\.step), [10, 20, 30, 40])

        // The file is truncated and rewritten by a new run: read again from the top; its start record resets.
        let rerun = [MetricsRecord(step: 0, totalSteps: 5, stage: "s", losses: [:], lr: 0, time: 5, event: .start),
                     MetricsRecord(step: 1, totalSteps: 5, stage: "s", losses: ["l": 2], lr: 1e-3, time: 6)]
        try (rerun.map { $0.jsonLine() }.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertTrue(d.poll(follower))
        XCTAssertEqual(d.history.recordCount, 2)
        XCTAssertEqual(d.history.lossNames, ["l"])
        XCTAssertEqual(d.history.stepRange, 1...1)

        // A file that is cut mid-line for good (the writer died) keeps its complete lines.
        let cut = dir + "/cut.jsonl"
        try (lines[0] + "\n" + lines[1] + "\n" + String(lines[2].prefix(17))).write(toFile: cut, atomically: false, encoding: .utf8)
        var e = DashboardState()
        e.poll(MetricsFileFollower(path: cut))
        XCTAssertEqual(e.history.recordCount, 2)
        // A missing file is simply empty (the trainer has not started yet).
        XCTAssertFalse(e.poll(MetricsFileFollower(path: dir + "/none.jsonl")))
    }

    func testDownsampleAndSmoothing() {
        let pts = (0..<10_000).map { MetricPoint(step: $0, value: Double($0 % 2)) }
        let ds = MetricsPlot.downsample(pts, range: 0...9999, buckets: 100)
        XCTAssertEqual(ds.count, 100)
        XCTAssertEqual(ds[0].step, 49.5, accuracy: 1e-9)
        XCTAssertEqual(ds[0].value, 0.5, accuracy: 1e-12, "bucket mean")
        // Windowing and a non-finite value (a diverged step stays visible as a gap).
        var bad = pts
        bad[5000].value = .nan
        let w = MetricsPlot.downsample(bad, range: 4000...5999, buckets: 20)
        XCTAssertEqual(w.count, 20)
        XCTAssertEqual(w.filter { $0.value.isNaN }.count, 1)
        XCTAssertEqual(MetricsPlot.downsample(Array(pts.prefix(5)), range: 0...100, buckets: 50).count, 5, "few points stay as they are")
        // EMA: debiased, so a constant stays constant.
        let c = MetricsPlot.smoothed((0..<50).map { MetricPoint(step: $0, value: 3) }, weight: 0.9)
        XCTAssertTrue(c.allSatisfy { abs($0.value - 3) < 1e-12 })
        XCTAssertEqual(MetricsPlot.smoothed(pts, weight: 0), pts)
    }

    func testKeysAndMouse() {
        XCTAssertEqual(DashboardState.keyTable.problems(), [])
        var d = DashboardState()
        XCTAssertEqual(d.handle(.char("o")), .handled)
        XCTAssertEqual(d.message?.text, "no sample images yet")
        d.ingest(Self.run(steps: 2000, every: 50))
        d.sampleBase = "/runs/a"
        XCTAssertEqual(d.handle(.enter), .openImage("/runs/a/samples/step-2000.png"))
        XCTAssertEqual(d.thumbnailRequest, "/runs/a/samples/step-2000.png")
        d.loadThumbnailIfNeeded()
        guard case .failed(let why)? = d.thumbnailSlot else { return XCTFail("expected a failed thumbnail") }
        XCTAssertTrue(why.contains("/runs/a/samples/step-2000.png"), why)
        XCTAssertNil(d.thumbnailRequest, "a failure is remembered, not retried every frame")
        XCTAssertEqual(d.handle(.char("s")), .handled)
        XCTAssertFalse(d.smoothing)
        XCTAssertEqual(d.handle(.char("+")), .handled)
        XCTAssertEqual(d.message?.isError, true, "smoothing strength is disabled while smoothing is off")
        _ = d.handle(.char("s"))
        _ = d.handle(.char("+"))
        XCTAssertEqual(d.smoothingWeight, 0.95)
        _ = d.handle(.char("-")); _ = d.handle(.char("-"))
        XCTAssertEqual(d.smoothingWeight, 0.85)
        _ = d.handle(.char("l"))
        XCTAssertTrue(d.logScale)
        _ = d.handle(.char("z"))
        XCTAssertEqual(d.window, .last1000)
        XCTAssertEqual(d.visibleSteps, 1000...2000)
        _ = d.handle(.char("1"))
        XCTAssertEqual(d.hiddenSeries, ["dm"])
        XCTAssertEqual(d.lossLines.map(\.name), ["", "mse"])
        _ = d.handle(.char("3"))
        XCTAssertEqual(d.message?.text, "no loss term 3")
        XCTAssertEqual(d.handle(.char("q")), .ignored)
        let rect = Rect(x: 0, y: 0, width: 100, height: 30)
        XCTAssertEqual(d.handle(MouseEvent(button: .wheelUp, col: 10, row: 10), rect: rect), .handled)
        XCTAssertEqual(d.window, .last200)
        XCTAssertEqual(d.handle(MouseEvent(button: .wheelDown, col: 10, row: 10), rect: rect), .handled)
        XCTAssertEqual(d.window, .last1000)
        let thumb = DashboardLayout(rect: rect).thumbnail
        XCTAssertFalse(thumb.isEmpty)
        XCTAssertEqual(d.handle(MouseEvent(button: .left, col: thumb.x + 1, row: thumb.y + 1), rect: rect),
                       .openImage("/runs/a/samples/step-2000.png"))
        XCTAssertEqual(d.handle(MouseEvent(button: .left, col: 200, row: 1), rect: rect), .ignored)
    }

    func testManyRecordsRender() {
        // 20 000 steps of two terms: plotted at one point per dot column, curves still drawn end to end.
        var d = DashboardState()
        d.ingest(Self.run(steps: 20_000, total: 20_000))
        var f = Frame(width: 100, height: 30)
        d.render(into: &f, rect: f.bounds, theme: .dark)
        let layout = DashboardLayout(rect: f.bounds)
        var braille = 0
        for row in layout.loss.y..<layout.loss.maxY {
            for col in layout.loss.x..<layout.loss.maxX where ("\u{2801}"..."\u{28FF}").contains(f[col, row].char) { braille += 1 }
        }
        XCTAssertGreaterThan(braille, layout.loss.width)
    }

    func testSnapshots() {
        var d = DashboardState()
        d.ingest(Self.run(steps: 3000, every: 5))
        d.setThumbnail(.image(PaneSnapshot.testImage(width: 30, height: 30)), for: "samples/step-3000.png")
        PaneSnapshot.each("dashboard-wide", width: 100, height: 32) { f, theme in
            d.render(into: &f, rect: f.bounds, theme: theme)
        }
        PaneSnapshot.each("dashboard-narrow", width: 60, height: 14) { f, theme in
            let inner = f.panel(f.bounds, title: "Training", focused: true, theme: theme)
            d.render(into: &f, rect: inner, theme: theme)
        }
        var log = d
        log.logScale = true
        log.smoothing = false
        log.window = .last1000
        var f = Frame(width: 100, height: 32)
        log.render(into: &f, rect: f.bounds, theme: .dark)
        PaneSnapshot.assert(f, named: "dashboard-log-window", theme: .dark)
        f = Frame(width: 60, height: 10)
        DashboardState().render(into: &f, rect: f.bounds, theme: .dark)
        PaneSnapshot.assert(f, named: "dashboard-waiting", theme: .dark)
    }
}
