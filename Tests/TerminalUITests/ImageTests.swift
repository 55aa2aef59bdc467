import XCTest
import Imaging
@testable import TerminalUI

final class ImageTests: XCTestCase {
    /// A fixed 12×12 test card: four coloured quadrants with a white diagonal.
    static let card: RGBImage = {
        var img = RGBImage(width: 12, height: 12)
        let colors: [RGBPixel] = [RGBPixel(r: 230, g: 40, b: 40), RGBPixel(r: 40, g: 200, b: 60),
                                  RGBPixel(r: 40, g: 80, b: 230), RGBPixel(r: 240, g: 200, b: 40)]
        for y in 0..<12 {
            for x in 0..<12 { img[x, y] = x == y ? .white : colors[(y / 6) * 2 + x / 6] }
        }
        return img
    }()

    func testHalfBlock() {
        XCTAssertEqual(HalfBlock.fittedPixels(imageWidth: 12, imageHeight: 12, cols: 20, rows: 6).width, 12)
        XCTAssertEqual(HalfBlock.fittedPixels(imageWidth: 100, imageHeight: 50, cols: 20, rows: 20).width, 20)
        XCTAssertEqual(HalfBlock.fittedPixels(imageWidth: 100, imageHeight: 50, cols: 20, rows: 20).height, 10)
        var f = Frame(width: 14, height: 8)
        HalfBlock.render(Self.card, into: &f, rect: Rect(x: 1, y: 1, width: 12, height: 6))
        XCTAssertEqual(f[1, 1], Cell("▀", fg: .rgb(.white), bg: .rgb(RGBPixel(r: 230, g: 40, b: 40))))
        assertSnapshot(f, named: "halfblock-truecolor")
        var g = Frame(width: 8, height: 4)
        HalfBlock.render(Self.card, into: &g, rect: g.bounds, colorMode: .palette256)
        for c in g.cells where c.char == "▀" {
            guard case let .rgb(p) = c.fg else { return XCTFail("expected rgb") }
            XCTAssertEqual(XtermPalette.color(XtermPalette.nearest256(p)), p, "quantised to a palette entry")
        }
        assertSnapshot(g, named: "halfblock-256")
    }

    /// libsixel with fixed settings (no diffusion, fixed median cut) is deterministic, so the bytes are compared exactly.
    func testSixelEncoderBytes() throws {
        let a = try SixelEncoder.encode(Self.card)
        let b = try SixelEncoder.encode(Self.card)
        XCTAssertEqual(a, b)
        XCTAssertEqual(Array(a.prefix(2)), [0x1b, UInt8(ascii: "P")])
        XCTAssertEqual(Array(a.suffix(2)), [0x1b, UInt8(ascii: "\\")])
        let text = String(decoding: a, as: UTF8.self).replacingOccurrences(of: "\u{1b}", with: "\\e")
            .replacingOccurrences(of: "-", with: "-\n")
        assertSnapshot(text: text + "\n", named: "sixel-card-12x12")
        XCTAssertThrowsError(try SixelEncoder.encode(RGBImage(width: 0, height: 0)))
    }

    func testSixelPlacement() {
        // 24 rows, image in rows 2..<24 → at most 21 rows (one text row stays free below).
        let p = SixelPlacement.fit(imageWidth: 512, imageHeight: 512, in: Rect(x: 10, y: 2, width: 60, height: 22),
                                   cellWidth: 6, cellHeight: 13, screenRows: 24)!
        XCTAssertEqual(p.pixelHeight % 6, 0)
        XCTAssertEqual(p.pixelHeight, 270)  // 21 * 13 = 273 → 270
        XCTAssertEqual(p.pixelWidth, 270)
        XCTAssertEqual(p.cells, Rect(x: 10 + (60 - 45) / 2, y: 2, width: 45, height: 21))
        XCTAssertLessThanOrEqual(p.cells.maxY, 23)
        XCTAssertEqual(String(decoding: p.sequence(sixel: Array("S".utf8)), as: UTF8.self), "\u{1b}7\u{1b}[3;18HS\u{1b}8")
        XCTAssertNil(SixelPlacement.fit(imageWidth: 10, imageHeight: 10, in: Rect(x: 0, y: 23, width: 10, height: 1),
                                        cellWidth: 6, cellHeight: 13, screenRows: 24))
    }

    func testSixelOverlayWritesOnlyOnChange() {
        var o = SixelOverlay()
        let req = [ImageRequest(image: Self.card, rect: Rect(x: 0, y: 0, width: 4, height: 3))]
        let first = o.update(req, cellWidth: 6, cellHeight: 12, screenRows: 10)
        XCTAssertEqual(first.repaint, [])
        XCTAssertFalse(first.bytes.isEmpty)
        XCTAssertEqual(o.update(req, cellWidth: 6, cellHeight: 12, screenRows: 10).bytes, [], "unchanged: nothing written")
        let moved = [ImageRequest(image: Self.card, rect: Rect(x: 5, y: 0, width: 4, height: 3))]
        let m = o.update(moved, cellWidth: 6, cellHeight: 12, screenRows: 10)
        XCTAssertEqual(m.repaint.count, 1, "the old position is repainted")
        XCTAssertFalse(m.bytes.isEmpty)
        o.invalidate()
        XCTAssertFalse(o.update(moved, cellWidth: 6, cellHeight: 12, screenRows: 10).bytes.isEmpty, "rewritten after invalidate")
        XCTAssertEqual(o.update([], cellWidth: 6, cellHeight: 12, screenRows: 10).repaint.count, 1)
    }

    func testCapabilityReplies() {
        let xterm = "\u{1b}P>|XTerm(379)\u{1b}\\\u{1b}[?1;0;256S\u{1b}[?2;0;480;312S\u{1b}[6;13;6t\u{1b}[4;312;480t\u{1b}[?63;1;2;4;6;9;15;16;22;28c"
        let r = TerminalReplies.parse(Array(xterm.utf8))
        XCTAssertEqual(r.da1, [63, 1, 2, 4, 6, 9, 15, 16, 22, 28])
        XCTAssertEqual(r.version, "XTerm(379)")
        XCTAssertEqual(r.colorRegisters, 256)
        XCTAssertEqual(r.cellPixels, PixelSize(width: 6, height: 13))
        XCTAssertEqual(r.textAreaPixels, PixelSize(width: 480, height: 312))
        XCTAssertEqual(r.graphicsPixels, PixelSize(width: 480, height: 312))
        let caps = TerminalCapabilities.resolve(replies: r, rows: 24, cols: 80, pixelWidth: 484, pixelHeight: 316, environment: [:])
        XCTAssertTrue(caps.sixel)
        XCTAssertEqual([caps.cellWidth, caps.cellHeight], [6, 13])
        XCTAssertEqual(caps.cellSizeSource, "CSI 16 t")

        // xterm without allowWindowOps: no 16t/14t, TIOCGWINSZ includes the 2px border → floor-divide.
        let vt420 = TerminalReplies.parse(Array("\u{1b}[?1;3S\u{1b}[?64;1;2;6;9;15;16;17;18;21;22;28c".utf8))
        let c2 = TerminalCapabilities.resolve(replies: vt420, rows: 24, cols: 80, pixelWidth: 484, pixelHeight: 316, environment: [:])
        XCTAssertFalse(c2.sixel, "the conformance level 64 is not feature 4")
        XCTAssertNil(vt420.colorRegisters, "status 3 = failure")
        XCTAssertEqual([c2.cellWidth, c2.cellHeight], [6, 13])
        XCTAssertEqual(c2.cellSizeSource, "TIOCGWINSZ")

        // tmux answers DA1 itself without 4; no pixel size at all → default.
        let tmux = TerminalReplies.parse(Array("\u{1b}[?1;2c".utf8))
        let c3 = TerminalCapabilities.resolve(replies: tmux, rows: 30, cols: 100, pixelWidth: 0, pixelHeight: 0, environment: ["TERM_PROGRAM": "WezTerm"])
        XCTAssertFalse(c3.sixel, "an answer beats the environment")
        XCTAssertEqual(c3.cellSizeSource, "default")
        XCTAssertTrue(TerminalCapabilities.hasDA1Reply(Array("junk\u{1b}[?1;2c".utf8)))
        XCTAssertFalse(TerminalCapabilities.hasDA1Reply(Array("\u{1b}[6;13;6t".utf8)))

        // No answer: environment hints only.
        let none = TerminalReplies()
        XCTAssertTrue(TerminalCapabilities.resolve(replies: none, rows: 0, cols: 0, pixelWidth: 0, pixelHeight: 0,
                                                   environment: ["TERM": "foot"]).sixel)
        XCTAssertFalse(TerminalCapabilities.resolve(replies: none, rows: 0, cols: 0, pixelWidth: 0, pixelHeight: 0,
                                                    environment: ["TERM": "foot", "TMUX": "/tmp/x"]).sixel)
        XCTAssertEqual(ImageMode.auto.resolved(sixelSupported: true), .sixel)
        XCTAssertEqual(ImageMode.auto.resolved(sixelSupported: false), .blocks)
        XCTAssertEqual(ImageMode.sixel.resolved(sixelSupported: false), .sixel)
    }

    /// The session loop over a memory terminal: keys in, frames out, images as half-blocks or sixel.
    func testSessionLoop() {
        let term = MemoryTerminal(size: Size(width: 20, height: 8))
        term.type("ab\u{1b}[A")
        let session = TerminalSession(backend: term)
        var seen: [InputEvent?] = []
        session.run { event, size in
            seen.append(event)
            if seen.count > 4 { return nil }
            var f = Frame(size: size)
            f.text("events \(seen.compactMap { $0 }.count)", col: 0, row: 0)
            return Screen(frame: f, theme: .dark, images: [ImageRequest(image: Self.card, rect: Rect(x: 0, y: 1, width: 6, height: 3))])
        }
        XCTAssertEqual(seen, [nil, .key(.char("a")), .key(.char("b")), .key(.up), nil])
        XCTAssertEqual(term.frames.count, 4)
        XCTAssertEqual(term.lastFrame?[0, 1].char, "▀", "blocks mode draws into the frame")
        XCTAssertEqual(term.lastRuns.map(\.row), [0], "only the changed counter row is re-sent")

        let sixelTerm = MemoryTerminal(size: Size(width: 20, height: 8))
        let s2 = TerminalSession(backend: sixelTerm, capabilities: TerminalCapabilities(sixel: true, cellWidth: 6, cellHeight: 12))
        var n = 0
        s2.run { _, size in
            n += 1
            if n > 3 { return nil }
            return Screen(frame: Frame(size: size), theme: .dark, images: [ImageRequest(image: Self.card, rect: Rect(x: 0, y: 1, width: 6, height: 3))])
        }
        XCTAssertEqual(sixelTerm.rawWrites.count, 1, "the image is written once while it does not change")
        XCTAssertEqual(sixelTerm.lastFrame?[0, 1].char, " ")
    }
}
