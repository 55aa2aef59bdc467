import XCTest
import Imaging
@testable import TerminalUI

final class FrameTests: XCTestCase {
    func testDisplayWidth() {
        XCTAssertEqual(DisplayWidth.of("a"), 1)
        XCTAssertEqual(DisplayWidth.of("é"), 1)
        XCTAssertEqual(DisplayWidth.of("墨"), 2)
        XCTAssertEqual(DisplayWidth.of("ｱ"), 1)  // halfwidth katakana
        XCTAssertEqual(DisplayWidth.of("Ａ"), 2)  // fullwidth A
        XCTAssertEqual(DisplayWidth.of("🎨"), 2)
        XCTAssertEqual(DisplayWidth.of("👩‍🎨"), 2)
        XCTAssertEqual(DisplayWidth.of("❤️"), 2)
        XCTAssertEqual(DisplayWidth.of("🇯🇵"), 2)
        XCTAssertEqual(DisplayWidth.of("─"), 1)
        XCTAssertEqual(DisplayWidth.of("⠿"), 1)
        XCTAssertEqual(DisplayWidth.of("墨 ink"), 6)
        XCTAssertEqual(DisplayWidth.truncate("hello world", to: 6), "hello…")
        XCTAssertEqual(DisplayWidth.truncate("墨墨墨", to: 4), "墨…")
        XCTAssertEqual(DisplayWidth.truncate("abc", to: 3), "abc")
    }

    func testTextClipsAndHandlesWideGraphemes() {
        var f = Frame(width: 6, height: 2)
        XCTAssertEqual(f.text("ab墨c", col: 0, row: 0), 5)
        XCTAssertEqual(f.rowText(0), "ab墨c ")
        XCTAssertEqual(f[2, 0].width, 2)
        XCTAssertTrue(f[3, 0].isContinuation)
        // A wide grapheme that would straddle the clip edge becomes a space.
        f.text("xyz墨", col: 2, row: 1, clip: Rect(x: 0, y: 0, width: 6, height: 2))
        XCTAssertEqual(f.rowText(1), "  xyz ")
        // Overwriting half of a wide grapheme blanks the other half.
        f.text("Q", col: 3, row: 0)
        XCTAssertEqual(f.rowText(0), "ab Qc ")
        XCTAssertFalse(f[3, 0].isContinuation)
        // Negative start: left half clipped off shows as a space.
        var g = Frame(width: 4, height: 1)
        g.text("墨ab", col: -1, row: 0)
        XCTAssertEqual(g.rowText(0), " ab ")
        // Out of range rows and columns are ignored.
        g.text("zz", col: 10, row: 0)
        g.text("zz", col: 0, row: 5)
        XCTAssertEqual(g.rowText(0), " ab ")
    }

    func testBoxesAndBars() {
        var f = Frame(width: 16, height: 5)
        let inner = f.box(Rect(x: 0, y: 0, width: 16, height: 5), border: .rounded, title: "Prompt")
        XCTAssertEqual(inner, Rect(x: 1, y: 1, width: 14, height: 3))
        f.horizontalBar(Rect(x: 1, y: 1, width: 14, height: 1), fraction: 0.5)
        f.verticalBar(Rect(x: 1, y: 2, width: 1, height: 2), fraction: 0.75)
        var g = Frame(width: 10, height: 3)
        g.box(g.bounds, border: .heavy, title: "a very long title")
        var h = Frame(width: 10, height: 3)
        h.box(h.bounds, border: .light)
        var text = f.snapshotText() + g.snapshotText() + h.snapshotText()
        var tiny = Frame(width: 1, height: 1)
        text += "tiny box inner: \(tiny.box(tiny.bounds, border: .light))\n"
        assertSnapshot(text: text, named: "frame-boxes-bars")
    }

    func testLayoutSplits() {
        XCTAssertEqual(Constraint.solve([.fixed(3), .min(5), .fixed(1)], total: 24), [3, 20, 1])
        XCTAssertEqual(Constraint.solve([.ratio(1, 3), .min(0)], total: 30), [10, 20])
        XCTAssertEqual(Constraint.solve([.ratio(1, 2), .ratio(1, 2)], total: 7), [3, 3])
        XCTAssertEqual(Constraint.solve([.min(2), .min(2)], total: 9), [5, 4])
        // Too small: ratios shrink first, then mins, then fixed (from the end).
        XCTAssertEqual(Constraint.solve([.fixed(3), .min(10), .ratio(1, 2), .fixed(1)], total: 12), [3, 8, 0, 1])
        XCTAssertEqual(Constraint.solve([.fixed(3), .min(10), .fixed(1)], total: 3), [3, 0, 0])
        XCTAssertEqual(Constraint.solve([.fixed(3), .min(0)], total: 0), [0, 0])
        let r = Rect(x: 2, y: 1, width: 40, height: 20)
        let cols = r.split(.horizontal, [.ratio(1, 4), .min(10)])
        XCTAssertEqual(cols, [Rect(x: 2, y: 1, width: 10, height: 20), Rect(x: 12, y: 1, width: 30, height: 20)])
        let (top, rest) = r.splitTop(3)
        XCTAssertEqual(top, Rect(x: 2, y: 1, width: 40, height: 3))
        XCTAssertEqual(rest, Rect(x: 2, y: 4, width: 40, height: 17))
        XCTAssertEqual(r.centered(width: 10, height: 4), Rect(x: 17, y: 9, width: 10, height: 4))
        XCTAssertEqual(r.inset(1), Rect(x: 3, y: 2, width: 38, height: 18))
        XCTAssertEqual(Rect(x: 0, y: 0, width: 1, height: 1).inset(2).size, Size(width: 0, height: 0))
        XCTAssertEqual(r.intersection(Rect(x: 30, y: 0, width: 100, height: 5)), Rect(x: 30, y: 1, width: 12, height: 4))
    }

    func testFrameDiffEmitsOnlyChangedCells() {
        var a = Frame(width: 10, height: 3)
        a.text("hello", col: 0, row: 0)
        XCTAssertEqual(FrameDiff.runs(from: nil, to: a).count, 3, "first frame: every row")
        var b = a
        b.text("J", col: 0, row: 0)
        b.text("!", col: 9, row: 2)
        b.text("x", col: 4, row: 1)
        b.text("y", col: 6, row: 1)
        let runs = FrameDiff.runs(from: a, to: b)
        XCTAssertEqual(runs.map { [$0.row, $0.col, $0.cells.count] }, [[0, 0, 1], [1, 4, 1], [1, 6, 1], [2, 9, 1]])
        XCTAssertEqual(FrameDiff.cellCount(runs), 4)
        XCTAssertEqual(FrameDiff.runs(from: b, to: b), [])
        // A colour-only change is a change.
        var c = b
        c.restyle(Rect(x: 2, y: 2, width: 2, height: 1), fg: .role(.accent))
        XCTAssertEqual(FrameDiff.runs(from: b, to: c).map { [$0.row, $0.col, $0.cells.count] }, [[2, 2, 2]])
        // Wide graphemes: runs never split a wide grapheme.
        var w1 = Frame(width: 6, height: 1)
        w1.text("a墨b", col: 0, row: 0)
        var w2 = w1
        w2.text("画", col: 1, row: 0)
        let wr = FrameDiff.runs(from: w1, to: w2)
        XCTAssertEqual(wr.map { [$0.col, $0.cells.count] }, [[1, 2]])
        // Size change: full repaint.
        XCTAssertEqual(FrameDiff.runs(from: a, to: Frame(width: 11, height: 3)).count, 3)
    }

    func testMemoryTerminalRecordsOnlyChanges() {
        let term = MemoryTerminal(size: Size(width: 8, height: 2))
        var f = Frame(size: term.size)
        f.text("abc", col: 0, row: 0)
        term.present(f, theme: .dark)
        XCTAssertEqual(FrameDiff.cellCount(term.lastRuns), 16)
        f.text("Z", col: 1, row: 1)
        term.present(f, theme: .dark)
        XCTAssertEqual(term.lastRuns, [CellRun(row: 1, col: 1, cells: [f[1, 1]])])
        term.present(f, theme: .dark)
        XCTAssertEqual(term.lastRuns, [])
        term.invalidate(Rect(x: 0, y: 0, width: 2, height: 1))
        term.present(f, theme: .dark)
        XCTAssertEqual(term.lastRuns.map { [$0.row, $0.col, $0.cells.count] }, [[0, 0, 2]])
        var light = Theme.dark
        light.name = "other"
        term.present(f, theme: light)
        XCTAssertEqual(FrameDiff.cellCount(term.lastRuns), 16, "theme change repaints everything")
        XCTAssertEqual(term.frames.count, 5)
    }

    func testColorPairAllocator() {
        var a = ColorPairAllocator(limit: 3)
        let k1 = ColorPairAllocator.Key(fg: 1, bg: 2), k2 = ColorPairAllocator.Key(fg: 3, bg: 4)
        XCTAssertEqual(a.pair(for: k1, fgRGB: (255, 0, 0), bgRGB: (0, 0, 0)).pair, 1)
        XCTAssertTrue(a.pair(for: k2, fgRGB: (0, 0, 255), bgRGB: (0, 0, 0)).isNew)
        XCTAssertFalse(a.pair(for: k1, fgRGB: (255, 0, 0), bgRGB: (0, 0, 0)).isNew)
        // Full: the nearest existing pair is reused.
        let sub = a.pair(for: .init(fg: 9, bg: 9), fgRGB: (250, 10, 10), bgRGB: (0, 0, 0))
        XCTAssertEqual(sub.pair, 1)
        XCTAssertFalse(sub.isNew)
    }
}
