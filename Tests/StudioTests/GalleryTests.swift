import Diffusion
import Foundation
import Imaging
import XCTest
@testable import Studio
@testable import TerminalUI

/// Gallery: metadata read back from PNGs, scanning, reducer, mouse and snapshots.
final class GalleryTests: XCTestCase {
    /// Metadata as `sumi generate` writes it (GenerationOutput.writeImages: `PNG.write(image, chunks: meta.pngChunks)`).
    func sampleMetadata() -> GenerationMetadata {
        var request = GenerationRequest(prompt: "a watercolour fox, (snow:1.2), 墨", seed: 123_456_789)
        request.negativePrompt = "blurry, lowres"
        request.sampler = .eulerAncestral
        request.scheduler = .karras
        request.steps = 6
        request.cfg = 2.5
        request.width = 832
        request.height = 1216
        request.loras = [LoRAReference(name: "ink", hash: "0a1b2c3d4e", strength: 0.8),
                         LoRAReference(name: "dmd2", hash: nil, strength: -1.25)]
        return GenerationMetadata(request: request, model: ModelReference(name: "sdxl-base", hash: "31e35c80fc"),
                                  generator: "sumi test")
    }

    func writePNG(_ path: String, chunks: [PNGTextChunk], modified: Date? = nil) throws {
        try PNG.write(PaneSnapshot.testImage(), chunks: chunks, to: path)
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path) }
    }

    func testMetadataRoundTripThroughPNG() throws {
        let dir = PaneSnapshot.tempDir(self)
        let meta = sampleMetadata()
        let path = dir + "/fox.png"
        try writePNG(path, chunks: meta.pngChunks)
        let entry = GalleryEntry.read(path: path)
        XCTAssertNil(entry.error)
        XCTAssertEqual(entry.pixelSize, Size(width: 12, height: 8))
        let recipe = try XCTUnwrap(entry.recipe)
        XCTAssertEqual(recipe, ImageRecipe(metadata: meta))
        XCTAssertEqual(recipe.source, .sumiJSON)
        XCTAssertEqual(recipe.prompt, meta.prompt)
        XCTAssertEqual(recipe.negativePrompt, "blurry, lowres")
        XCTAssertEqual(recipe.seed, 123_456_789)
        XCTAssertEqual(recipe.samplerValue, .eulerAncestral)
        XCTAssertEqual(recipe.schedulerValue, .karras)
        XCTAssertEqual([recipe.steps, recipe.width, recipe.height], [6, 832, 1216])
        XCTAssertEqual(recipe.cfg, 2.5)
        XCTAssertEqual(recipe.model, ModelReference(name: "sdxl-base", hash: "31e35c80fc"))
        XCTAssertEqual(recipe.loras, meta.loras)
        // The request the app restores reproduces the original's settings.
        let r = recipe.request()
        XCTAssertEqual(r.sampler, .eulerAncestral)
        XCTAssertEqual(r.scheduler, .karras)
        XCTAssertEqual(r.loras, meta.loras)
        XCTAssertEqual(r.negativePrompt, meta.negativePrompt)
        // The cheap chunk walk agrees with libpng's full decode.
        XCTAssertEqual(try PNGMetadataReader.read(path: path).text, try PNG.read(path).text)
    }

    func testFallsBackToA1111Parameters() throws {
        let dir = PaneSnapshot.tempDir(self)
        let meta = sampleMetadata()
        let path = dir + "/a1111.png"
        try writePNG(path, chunks: [PNGTextChunk(key: "parameters", value: meta.a1111Parameters)])
        let recipe = try XCTUnwrap(GalleryEntry.read(path: path).recipe)
        XCTAssertEqual(recipe.source, .a1111)
        XCTAssertEqual(recipe.prompt, meta.prompt)
        XCTAssertEqual(recipe.negativePrompt, meta.negativePrompt)
        XCTAssertEqual(recipe.seed, meta.seed)
        XCTAssertEqual(recipe.sampler, "euler_ancestral")
        XCTAssertEqual(recipe.scheduler, "karras")
        XCTAssertEqual(recipe.steps, 6)
        XCTAssertEqual(recipe.cfg, 2.5)
        XCTAssertEqual([recipe.width, recipe.height], [832, 1216])
        XCTAssertEqual(recipe.model, meta.model)
        XCTAssertEqual(recipe.generator, "sumi test")
        // A1111 text carries LoRA hashes but not strengths (they live in prompt tags, which sumi does not write).
        XCTAssertEqual(recipe.loras.map(\.name), ["ink", "dmd2"])
        XCTAssertEqual(recipe.loras.map(\.hash), ["0a1b2c3d4e", nil])
        // A broken JSON chunk also falls back.
        let broken = dir + "/broken-json.png"
        try writePNG(broken, chunks: [PNGTextChunk(key: "parameters", value: meta.a1111Parameters),
                                      PNGTextChunk(key: "sumi", value: "{\"prompt\": 3", encoding: .utf8)])
        XCTAssertEqual(GalleryEntry.read(path: broken).recipe?.source, .a1111)
    }

    func testParsesForeignA1111Text() throws {
        let text = """
            masterpiece, fox <lora:ink:0.7>, forest, <lora:detail>
            Negative prompt: blurry,
            lowres
            Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234, Size: 832x1216, Model hash: 31e35c80fc, \
            Model: sd_xl_base_1.0, Denoising strength: 0.45, Lora hashes: "ink: 0a1b2c3d4e5f, detail: 99aa", Version: v1.6.0
            """
        let r = try XCTUnwrap(ImageRecipe(a1111: text))
        XCTAssertEqual(r.prompt, "masterpiece, fox, forest")
        XCTAssertEqual(r.negativePrompt, "blurry,\nlowres")
        XCTAssertEqual(r.sampler, "dpmpp_2m")
        XCTAssertEqual(r.scheduler, "karras")
        XCTAssertEqual(r.cfg, 6.5)
        XCTAssertEqual(r.seed, 1234)
        XCTAssertEqual(r.denoise, 0.45)
        XCTAssertEqual(r.syntax, "a1111")
        XCTAssertEqual(r.loras, [LoRAReference(name: "ink", hash: "0a1b2c3d4e5f", strength: 0.7),
                                 LoRAReference(name: "detail", hash: "99aa", strength: 1)])
        XCTAssertEqual(r.model, ModelReference(name: "sd_xl_base_1.0", hash: "31e35c80fc"))
        // Explicit schedule type wins; missing fields take the documented defaults.
        let r2 = try XCTUnwrap(ImageRecipe(a1111: "cat\nSteps: 8, Sampler: Euler a, Schedule type: SGM Uniform, Seed: 7"))
        XCTAssertEqual([r2.sampler, r2.scheduler], ["euler_ancestral", "sgm_uniform"])
        XCTAssertEqual([r2.width, r2.height], [1024, 1024])
        XCTAssertEqual(r2.cfg, 7)
        XCTAssertNil(r2.model)
        // Not parameters at all.
        XCTAssertNil(ImageRecipe(a1111: "just a caption"))
        XCTAssertNil(ImageRecipe(a1111: "x\nSteps: 8, Sampler: Euler, Seed: \"unterminated"))
        XCTAssertNil(ImageRecipe(a1111: "x\nSteps: many, Sampler: Euler, Seed: 1"))
    }

    func testScanListsNewestFirstAndSurvivesBadFiles() throws {
        let dir = PaneSnapshot.tempDir(self)
        let meta = sampleMetadata()
        let t0 = Date(timeIntervalSince1970: 1_750_000_000)
        try writePNG(dir + "/old.png", chunks: meta.pngChunks, modified: t0)
        try writePNG(dir + "/new.png", chunks: meta.pngChunks, modified: t0.addingTimeInterval(60))
        try writePNG(dir + "/plain.png", chunks: [], modified: t0.addingTimeInterval(30))
        let good = try Data(contentsOf: URL(fileURLWithPath: dir + "/old.png"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: dir + "/truncated.png"))
        try Data("not a png at all".utf8).write(to: URL(fileURLWithPath: dir + "/garbage.png"))
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.png"))
        try FileManager.default.createDirectory(atPath: dir + "/2025-01", withIntermediateDirectories: true)
        try writePNG(dir + "/2025-01/nested.png", chunks: meta.pngChunks, modified: t0.addingTimeInterval(-60))
        try FileManager.default.createDirectory(atPath: dir + "/.trash", withIntermediateDirectories: true)
        try writePNG(dir + "/.trash/deleted.png", chunks: meta.pngChunks)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        for f in ["truncated.png", "garbage.png", "empty.png"] {
            try FileManager.default.setAttributes([.modificationDate: t0.addingTimeInterval(-3600)], ofItemAtPath: dir + "/" + f)
        }

        let (entries, error) = GalleryScanner.scan(folder: dir)
        XCTAssertNil(error)
        XCTAssertEqual(entries.map(\.displayName),
                       ["new.png", "plain.png", "old.png", "2025-01/nested.png", "truncated.png", "garbage.png", "empty.png"])
        let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.displayName, $0) })
        XCTAssertNil(byName["plain.png"]!.error)
        XCTAssertNil(byName["plain.png"]!.recipe)
        XCTAssertTrue(byName["truncated.png"]!.error!.contains("truncated.png"), byName["truncated.png"]!.error!)
        XCTAssertTrue(byName["garbage.png"]!.error!.hasSuffix("garbage.png: not a PNG file"))
        XCTAssertTrue(byName["empty.png"]!.error!.hasSuffix("empty.png: not a PNG file"))
        XCTAssertNotNil(byName["2025-01/nested.png"]!.recipe)
        // A missing folder is an empty gallery, a file is an error.
        XCTAssertEqual(GalleryScanner.scan(folder: dir + "/nope").entries.count, 0)
        XCTAssertNotNil(GalleryScanner.scan(folder: dir + "/notes.txt").error)

        var g = GalleryState.scanned(folder: dir)
        XCTAssertEqual(g.thumbnailRequest, dir + "/new.png")
        g.loadThumbnailIfNeeded()
        guard case .image(let thumb)? = g.thumbnails[dir + "/new.png"] else { return XCTFail("no thumbnail") }
        XCTAssertEqual([thumb.width, thumb.height], [12, 8])
        XCTAssertNil(g.thumbnailRequest)
        // An unreadable image asks for no thumbnail; rendering it never crashes.
        while g.selectedEntry?.displayName != "garbage.png" { _ = g.handle(.down) }
        XCTAssertNil(g.thumbnailRequest)
        var f = Frame(width: 70, height: 16)
        g.render(into: &f, rect: f.bounds, theme: .dark)
        XCTAssertTrue((0..<16).map(f.rowText).joined().contains("⚠ unreadable"))
    }

    func testThumbnailScaling() {
        let big = RGBImage(width: 1024, height: 512, fill: .white)
        let t = Thumbnail.scaled(big)
        XCTAssertEqual([t.width, t.height], [96, 48])
        XCTAssertEqual(Thumbnail.scaled(PaneSnapshot.testImage()).width, 12, "small images are not enlarged")
    }

    func testKeysOpenDeleteReveal() throws {
        let dir = PaneSnapshot.tempDir(self)
        let meta = sampleMetadata()
        let t0 = Date(timeIntervalSince1970: 1_750_000_000)
        try writePNG(dir + "/a.png", chunks: meta.pngChunks, modified: t0.addingTimeInterval(20))
        try writePNG(dir + "/b.png", chunks: [], modified: t0.addingTimeInterval(10))
        try writePNG(dir + "/c.png", chunks: meta.pngChunks, modified: t0)
        var g = GalleryState.scanned(folder: dir)
        XCTAssertEqual(GalleryState.keyTable.problems(), [])
        XCTAssertEqual(g.entries.map(\.displayName), ["a.png", "b.png", "c.png"])

        XCTAssertEqual(g.handle(.enter), .restore(ImageRecipe(metadata: meta)))
        XCTAssertEqual(g.handle(.char("j")), .handled)
        // b.png has no metadata: open is disabled with a reason.
        XCTAssertEqual(g.handle(.enter), .handled)
        XCTAssertEqual(g.message?.isError, true)
        XCTAssertTrue(g.message!.text.contains("b.png"))
        XCTAssertEqual(g.handle(.char("y")), .reveal(dir + "/b.png"))
        XCTAssertEqual(g.message, PaneMessage(dir + "/b.png"))
        XCTAssertEqual(g.handle(.char("x")), .ignored, "unbound keys go to the app")

        // Delete asks first; n keeps the file, any other key is swallowed while asking.
        XCTAssertEqual(g.handle(.char("d")), .handled)
        XCTAssertEqual(g.pendingDelete, dir + "/b.png")
        XCTAssertEqual(g.handle(.char("q")), .handled)
        XCTAssertEqual(g.handle(.char("n")), .handled)
        XCTAssertNil(g.pendingDelete)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/b.png"))
        // y moves it to .trash and keeps the selection at the same row.
        _ = g.handle(Key(.delete))
        let out = g.handle(.char("y"))
        XCTAssertEqual(out, .deleted(path: dir + "/b.png", trashedTo: dir + "/.trash/b.png"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/b.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/.trash/b.png"))
        XCTAssertEqual(g.entries.map(\.displayName), ["a.png", "c.png"])
        XCTAssertEqual(g.selectedEntry?.displayName, "c.png")
        // A second file of the same name in the trash gets a suffix.
        try writePNG(dir + "/b.png", chunks: [])
        g.add(path: dir + "/b.png")
        XCTAssertEqual(g.selectedEntry?.displayName, "b.png", "a new image is selected")
        _ = g.handle(.char("d"))
        XCTAssertEqual(g.handle(.enter), .deleted(path: dir + "/b.png", trashedTo: dir + "/.trash/b-1.png"))
        // Navigation keys clamp.
        _ = g.handle(.char("G"))
        XCTAssertEqual(g.selectedEntry?.displayName, "c.png")
        _ = g.handle(Key(.home))
        XCTAssertEqual(g.selectedEntry?.displayName, "a.png")
        _ = g.handle(.up)
        XCTAssertEqual(g.list.selected, 0)
    }

    func testMouse() {
        var g = GalleryState(folder: "/out", entries: fixedEntries())
        let rect = Rect(x: 2, y: 1, width: 80, height: 20)
        XCTAssertEqual(g.handle(MouseEvent(button: .left, col: 5, row: 3), rect: rect), .handled)
        XCTAssertEqual(g.list.selected, 2)
        // A second click on the selected row opens it (this entry is unreadable: open reports why).
        XCTAssertEqual(g.handle(MouseEvent(button: .left, col: 5, row: 3), rect: rect), .handled)
        XCTAssertEqual(g.message?.isError, true)
        XCTAssertEqual(g.handle(MouseEvent(button: .wheelUp, col: 5, row: 3), rect: rect), .handled)
        XCTAssertEqual(g.list.selected, 0)
        XCTAssertEqual(g.handle(MouseEvent(button: .left, col: 5, row: 1), rect: rect), .restore(g.entries[0].recipe!))
        XCTAssertEqual(g.handle(MouseEvent(button: .left, col: 0, row: 0), rect: rect), .ignored)
    }

    /// Entries with fixed paths and dates, for snapshots.
    func fixedEntries() -> [GalleryEntry] {
        let t0 = Date(timeIntervalSince1970: 1_750_000_000)   // 2025-06-15 15:06:40 UTC
        let meta = sampleMetadata()
        var plain = ImageRecipe(metadata: meta)
        plain.loras = []
        plain.negativePrompt = ""
        plain.prompt = "portrait of an old fisherman, dramatic light"
        plain.source = .a1111
        return [
            GalleryEntry(path: "/out/fox.png", modified: t0, byteCount: 1_482_113, pixelSize: Size(width: 832, height: 1216),
                         recipe: ImageRecipe(metadata: meta)),
            GalleryEntry(path: "/out/2025-06/fisherman.png", displayName: "2025-06/fisherman.png", modified: t0 - 3600,
                         byteCount: 1_200_000, pixelSize: Size(width: 1024, height: 1024), recipe: plain),
            GalleryEntry(path: "/out/broken.png", modified: t0 - 7200, byteCount: 4096,
                         error: "/out/broken.png: truncated PNG (IDAT chunk runs past the end of the file)"),
            GalleryEntry(path: "/out/screenshot.png", modified: t0 - 86400, byteCount: 52_000, pixelSize: Size(width: 640, height: 480)),
        ]
    }

    func testSnapshots() {
        var g = GalleryState(folder: "/out", entries: fixedEntries())
        g.timeZone = TimeZone(identifier: "UTC")!
        g.setThumbnail(.image(PaneSnapshot.testImage(width: 16, height: 24)), for: "/out/fox.png")
        PaneSnapshot.each("gallery-wide", width: 80, height: 20) { f, theme in
            g.render(into: &f, rect: f.bounds, theme: theme, focused: true)
        }
        // Narrow: list above details, the unreadable entry selected, unfocused.
        var n = g
        _ = n.handle(.down)
        _ = n.handle(.down)
        PaneSnapshot.each("gallery-narrow", width: 40, height: 16) { f, theme in
            let inner = f.panel(f.bounds, title: "Gallery", focused: false, theme: theme)
            n.render(into: &f, rect: inner, theme: theme, focused: false)
        }
        // Asking before a delete; the A1111-sourced entry selected.
        var d = g
        _ = d.handle(.down)
        _ = d.handle(.char("d"))
        var f = Frame(width: 80, height: 12)
        d.render(into: &f, rect: f.bounds, theme: .dark)
        PaneSnapshot.assert(f, named: "gallery-confirm-delete", theme: .dark)
        // Empty folder.
        f = Frame(width: 40, height: 5)
        GalleryState(folder: "/out").render(into: &f, rect: f.bounds, theme: .dark)
        XCTAssertEqual(f.rowText(0).trimmingCharacters(in: .whitespaces), "no images in /out")
    }
}
