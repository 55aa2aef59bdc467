import XCTest
@testable import TerminalUI

/// Every widget in every shipped theme, as text snapshots with the style layer.
final class WidgetSnapshotTests: XCTestCase {
    func each(_ name: String, width: Int, height: Int, _ draw: (inout Frame, Theme) -> Void) {
        for theme in shippedThemes() {
            var f = Frame(width: width, height: height)
            draw(&f, theme)
            assertSnapshot(f, named: "\(name)-\(theme.name)", theme: theme)
        }
    }

    func testTextInput() {
        var e = TextEditorState(text: "a watercolour fox in a snowy 墨 forest, soft light\nnegative: blurry")
        e.apply(.wordLeft)
        each("text-input", width: 24, height: 6) { f, theme in
            let inner = f.panel(f.bounds, title: "Prompt", focused: true, theme: theme)
            TextInput.render(e, into: &f, rect: inner, theme: theme, focused: true)
        }
        each("text-input-placeholder", width: 24, height: 3) { f, theme in
            let inner = f.panel(f.bounds, title: "Prompt", focused: false, theme: theme)
            TextInput.render(TextEditorState(), into: &f, rect: inner, theme: theme, focused: false, placeholder: "describe an image…")
        }
    }

    func testTextInputScrollsToCursor() {
        var e = TextEditorState(text: "one\ntwo\nthree\nfour\nfive")
        var f = Frame(width: 8, height: 2)
        TextInput.render(e, into: &f, rect: f.bounds, theme: .dark, focused: true)
        XCTAssertEqual([f.rowText(0), f.rowText(1)], ["four    ", "five    "])
        e.apply(.up); e.apply(.up); e.apply(.up); e.apply(.up)
        f = Frame(width: 8, height: 2)
        TextInput.render(e, into: &f, rect: f.bounds, theme: .dark, focused: true)
        XCTAssertEqual(f.rowText(0), "one     ")
        // A full line with the cursor at its end wraps the cursor onto a fresh row.
        let full = TextEditorState(text: "abcdefgh")
        f = Frame(width: 8, height: 2)
        TextInput.render(full, into: &f, rect: f.bounds, theme: .dark, focused: true)
        XCTAssertEqual(f[0, 1].attrs, [.reverse])
    }

    func testList() {
        var s = ListState(count: 12, selected: 0)
        s.move(7)
        s.scrollToSelection(height: 5)
        XCTAssertEqual(s.offset, 3)
        s.move(-1)
        XCTAssertEqual(s.visibleOffset(height: 5), 3, "moving inside the page does not scroll")
        s.move(-10)
        XCTAssertEqual(s.selected, 0)
        XCTAssertEqual(s.visibleOffset(height: 5), 0)
        s.last()
        s.scrollToSelection(height: 5)
        XCTAssertEqual(s.index(atRow: 0, height: 5), 7)
        XCTAssertNil(s.index(atRow: 5, height: 5))
        s.setCount(3)
        XCTAssertEqual(s.selected, 2)
        let items = (1...12).map { "image \($0) · seed \(1000 + $0)" }
        var shown = ListState(count: items.count, selected: 6)
        shown.scrollToSelection(height: 5)
        each("list", width: 26, height: 7) { f, theme in
            let inner = f.panel(f.bounds, title: "Gallery", focused: true, theme: theme)
            ListView.render(items, state: shown, into: &f, rect: inner, theme: theme, focused: true)
        }
    }

    func testSlider() {
        var s = SliderState(label: "style", value: 0.5)
        s.step(1)
        XCTAssertEqual(s.value, 0.55, accuracy: 1e-12)
        s.step(2, coarse: true)
        XCTAssertEqual(s.value, 1.05, accuracy: 1e-12)
        s.step(10, coarse: true)
        XCTAssertEqual(s.value, 2)
        s.step(-100)
        XCTAssertEqual(s.value, -2)
        for _ in 0..<40 { s.step(1) }
        XCTAssertEqual(s.valueText, " 0.00", "fine steps land exactly on zero")
        s.set(-0.75)
        XCTAssertEqual(s.valueText, "-0.75")
        each("slider", width: 30, height: 3) { f, theme in
            Slider.render(SliderState(label: "style", value: 0.75), into: &f, rect: Rect(x: 0, y: 0, width: 30, height: 1), theme: theme, focused: true)
            Slider.render(SliderState(label: "detail", value: -1.5), into: &f, rect: Rect(x: 0, y: 1, width: 30, height: 1), theme: theme, focused: false)
            Slider.render(SliderState(label: "off"), into: &f, rect: Rect(x: 0, y: 2, width: 30, height: 1), theme: theme, focused: false)
        }
    }

    func testProgressBar() {
        let p = ProgressInfo(label: "denoise", completed: 3, total: 8, elapsed: 1.5)
        XCTAssertEqual(p.rateText, "2.00 it/s")
        XCTAssertEqual(p.etaText, "ETA 0:03")
        XCTAssertEqual(ProgressInfo(label: "", completed: 1, total: 4, elapsed: 4.5).rateText, "4.50 s/it")
        XCTAssertEqual(ProgressInfo(label: "", completed: 0, total: 4, elapsed: 0).etaText, "ETA --:--")
        XCTAssertEqual(ProgressInfo.clock(3725), "1:02:05")
        each("progress", width: 44, height: 3) { f, theme in
            ProgressBar.render(p, into: &f, rect: Rect(x: 0, y: 0, width: 44, height: 1), theme: theme)
            ProgressBar.render(ProgressInfo(label: "epoch 2", completed: 900, total: 1000, elapsed: 2000),
                               into: &f, rect: Rect(x: 0, y: 1, width: 44, height: 1), theme: theme)
            ProgressBar.render(p, into: &f, rect: Rect(x: 0, y: 2, width: 22, height: 1), theme: theme)
        }
    }

    func testStatusBarAndTabs() {
        each("status-tabs", width: 48, height: 3) { f, theme in
            Tabs.render(["Generate", "Train", "Gallery"], selected: 1, into: &f, rect: Rect(x: 0, y: 0, width: 48, height: 1), theme: theme)
            StatusBar.render(left: [StatusItem("sumi-tiny", role: .accent, bold: true), StatusItem("seed 42"), StatusItem("OOM risk", role: .warning)],
                             right: [StatusItem("F1 help")], into: &f, rect: Rect(x: 0, y: 1, width: 48, height: 1), theme: theme)
            StatusBar.render(left: [StatusItem("error: checkpoint missing", role: .error)], right: [StatusItem("F1 help")],
                             into: &f, rect: Rect(x: 0, y: 2, width: 30, height: 1), theme: theme)
        }
        XCTAssertEqual(Tabs.index(atColumn: 12, titles: ["Generate", "Train"], rect: Rect(x: 0, y: 0, width: 40, height: 1)), 1)
        XCTAssertEqual(Tabs.index(atColumn: 3, titles: ["Generate", "Train"], rect: Rect(x: 0, y: 0, width: 40, height: 1)), 0)
        XCTAssertNil(Tabs.index(atColumn: 30, titles: ["Generate", "Train"], rect: Rect(x: 0, y: 0, width: 40, height: 1)))
    }

    func testLinePlot() {
        let loss: [Double] = (0..<60).map { (i: Int) -> Double in
            let t = Double(i)
            let decay: Double = 1.2 * exp(-t / 18)
            return decay + 0.08 * sin(t * 1.7) + 0.1
        }
        let lr: [Double] = (0..<60).map { (i: Int) -> Double in i < 10 ? Double(i) / 10 : 1.0 - Double(i - 10) / 60 }
        each("plot", width: 44, height: 12) { f, theme in
            let inner = f.panel(f.bounds, title: "Training", focused: false, theme: theme)
            LinePlot.render([PlotSeries(name: "loss", values: loss), PlotSeries(name: "lr", values: lr)],
                            options: PlotOptions(smoothing: 0.6), into: &f, rect: inner, theme: theme)
        }
        let smoothed = LinePlot.smooth([1, 1, 1, .nan, 1], weight: 0.9)
        XCTAssertEqual(smoothed[0], 1, accuracy: 1e-12, "debiased: first value unchanged")
        XCTAssertEqual(smoothed[4], 1, accuracy: 1e-12)
        XCTAssertTrue(smoothed[3].isNaN)
        XCTAssertEqual(LinePlot.format(0.12345), "0.1235")
        XCTAssertEqual(LinePlot.format(2.0), "2")
        XCTAssertEqual(LinePlot.format(1e-5), "1.0e-05")
        XCTAssertEqual(LinePlot.line(from: (0, 0), to: (3, 1)).count, 4)
        var empty = Frame(width: 20, height: 5)
        LinePlot.render([PlotSeries(name: "x", values: [])], into: &empty, rect: empty.bounds, theme: .dark)
        XCTAssertTrue(empty.rowText(2).contains("no data"))
        var flat = Frame(width: 20, height: 5)
        LinePlot.render([PlotSeries(name: "x", values: [3, 3, 3], firstStep: 5)], into: &flat, rect: flat.bounds, theme: .dark)
        assertSnapshot(flat, named: "plot-flat")
    }
}
