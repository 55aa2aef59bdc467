import XCTest
@testable import Studio
@testable import TerminalUI

/// Every pane the studio itself draws, in every shipped theme, from the pure render functions.
final class StudioPaneSnapshotTests: XCTestCase {
    func testPromptPanes() {
        let s = StudioFixtures.state()
        PaneSnapshot.each("studio-prompt", width: 48, height: 5) { f, theme in
            GeneratePanes.prompt(s, pane: .prompt, focused: true, into: &f, rect: f.bounds, theme: theme)
        }
        PaneSnapshot.each("studio-negative", width: 48, height: 4) { f, theme in
            GeneratePanes.prompt(s, pane: .negative, focused: false, into: &f, rect: f.bounds, theme: theme)
        }
    }

    func testLoRAPane() {
        var s = StudioFixtures.state()
        s.focus = .loras
        s.loraSelection = 1
        PaneSnapshot.each("studio-loras", width: 60, height: 5) { f, theme in
            GeneratePanes.loras(s, focused: true, into: &f, rect: f.bounds, theme: theme)
        }
        // Typing a strength replaces the selected row's slider with the entry field.
        s.entry = ValueEntry(target: .loraStrength(id: 2), editor: TextEditorState(text: "-0.3"))
        PaneSnapshot.each("studio-loras-entry", width: 60, height: 5) { f, theme in
            GeneratePanes.loras(s, focused: true, into: &f, rect: f.bounds, theme: theme)
        }
        var empty = StudioFixtures.state()
        empty.loras = []
        PaneSnapshot.each("studio-loras-empty", width: 40, height: 3) { f, theme in
            GeneratePanes.loras(empty, focused: true, into: &f, rect: f.bounds, theme: theme)
        }
    }

    func testSamplerPane() {
        var s = StudioFixtures.state()
        s.focus = .sampler
        for (name, width) in [("studio-sampler-wide", 50), ("studio-sampler-narrow", 30)] {
            let size = Size(width: width < 40 ? 60 : 110, height: 30)
            let layout = StudioLayout(size: size, loraCount: 3)
            let rect = layout.rect(.sampler)
            PaneSnapshot.each(name, width: rect.width, height: rect.height) { f, theme in
                var full = Frame(size: size)
                GeneratePanes.sampler(s, layout: layout, focused: true, into: &full, theme: theme)
                for row in 0..<rect.height { for col in 0..<rect.width { f.set(col: col, row: row, full[rect.x + col, rect.y + row]) } }
            }
        }
    }

    func testPreviewPane() {
        let size = Size(width: 100, height: 30)
        for (name, state) in [("studio-preview-running", StudioFixtures.running()), ("studio-preview-finished", StudioFixtures.finished()),
                              ("studio-preview-empty", StudioFixtures.state())] {
            let layout = StudioLayout(size: size, loraCount: state.loras.count)
            PaneSnapshot.each(name, width: size.width, height: size.height) { f, theme in
                PreviewPane.render(state, layout: layout, focused: state.focus == .preview, into: &f, theme: theme)
                for r in StudioView.images(state, size: size) { HalfBlock.render(r.image, into: &f, rect: r.rect, colorMode: .palette256) }
            }
        }
    }

    func testWholeScreen() {
        PaneSnapshot.each("studio-screen", width: 100, height: 30) { f, theme in
            f = StudioView.composed(StudioFixtures.running(), theme: theme, size: f.size, colorMode: .palette256)
        }
        PaneSnapshot.each("studio-screen-narrow", width: 60, height: 36) { f, theme in
            f = StudioView.composed(StudioFixtures.finished(), theme: theme, size: f.size, colorMode: .palette256)
        }
    }

    func testOverlaysAndSmallTerminal() {
        var help = StudioFixtures.state()
        help.focus = .loras
        help.showHelp = true
        PaneSnapshot.each("studio-help", width: 90, height: 30) { f, theme in
            f = StudioView.render(help, theme: theme, size: f.size)
        }
        PaneSnapshot.each("studio-too-small", width: 30, height: 8) { f, theme in
            f = StudioView.render(StudioFixtures.state(), theme: theme, size: f.size)
        }
    }

    /// The image area always leaves a text row below it (sixel images on the last row scroll the terminal).
    func testImageRectLeavesRowsBelow() {
        for (w, h) in [(100, 30), (80, 24), (80, 18), (60, 36), (60, 26), (200, 60)] {
            let s = StudioFixtures.running()
            for r in StudioView.images(s, size: Size(width: w, height: h)) {
                XCTAssertLessThanOrEqual(r.rect.maxY, h - 1, "\(w)x\(h)")
                XCTAssertGreaterThan(r.rect.height, 0)
            }
        }
    }

    /// Every layout keeps panes inside the screen and apart from each other.
    func testLayoutsFitAndDoNotOverlap() {
        for w in stride(from: 40, through: 220, by: 5) {
            for h in stride(from: 10, through: 70, by: 2) {
                for loras in [0, 3, 9] {
                    let l = StudioLayout(size: Size(width: w, height: h), loraCount: loras)
                    XCTAssertEqual(l.tooSmall, w < 60 || h < 18 || (w < 80 && h < 26), "\(w)x\(h)")
                    if l.tooSmall { continue }
                    XCTAssertGreaterThanOrEqual(l.preview.image.height, 2, "\(w)x\(h): room for an image")
                    let rects = Pane.allCases.map { l.rect($0) }
                    for (i, a) in rects.enumerated() {
                        XCTAssertTrue(a.maxX <= w && a.maxY <= h - 1 && a.y >= 1, "\(w)x\(h) \(Pane.allCases[i]) \(a)")
                        for b in rects[(i + 1)...] where !a.isEmpty && !b.isEmpty {
                            XCTAssertTrue(a.intersection(b).isEmpty, "\(w)x\(h): \(a) overlaps \(b)")
                        }
                    }
                }
            }
        }
    }
}
