import Checkpoint
import Foundation
import Tensor
import XCTest
@testable import Studio
@testable import TerminalUI

/// File picker: listing and filtering a temp folder tree, navigation, picking, LoRA summaries, mouse, snapshots.
final class FilePickerTests: XCTestCase {
    /// <tmp>/models/{loras/{ink.safetensors, Detail-XL.SAFETENSORS, notes.txt, .hidden.safetensors, styles/},
    /// checkpoints/sdxl-base.safetensors, broken.safetensors, empty/}, and <tmp>/user/mine.safetensors.
    func makeTree() throws -> (models: String, user: String) {
        let tmp = PaneSnapshot.tempDir(self)
        let models = tmp + "/models", user = tmp + "/user"
        let fm = FileManager.default
        for d in [models + "/loras/styles", models + "/checkpoints", models + "/empty", user] {
            try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        let m = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
        let k = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"
        try SafeTensorsWriter.write([
            (m + ".lora_down.weight", Tensor(shape: [4, 320], repeating: 0.01)),
            (m + ".lora_up.weight", Tensor(shape: [320, 4], repeating: 0.02)),
            (m + ".alpha", Tensor(shape: [], values: [2])),
            (k + ".lora_down.weight", Tensor(shape: [8, 768], repeating: 0.01)),
            (k + ".lora_up.weight", Tensor(shape: [768, 8], repeating: 0.02)),
            (k + ".alpha", Tensor(shape: [], values: [8])),
        ], metadata: ["ss_network_dim": "8"], to: models + "/loras/ink.safetensors")
        try SafeTensorsWriter.write([
            ("model.diffusion_model.input_blocks.0.0.weight", Tensor(shape: [8, 4, 3, 3], repeating: 0.5)),
            ("first_stage_model.decoder.conv_in.bias", Tensor(shape: [8], repeating: 0)),
        ], to: models + "/checkpoints/sdxl-base.safetensors")
        try fm.copyItem(atPath: models + "/loras/ink.safetensors", toPath: models + "/loras/Detail-XL.SAFETENSORS")
        try fm.copyItem(atPath: models + "/loras/ink.safetensors", toPath: models + "/loras/.hidden.safetensors")
        try fm.copyItem(atPath: models + "/loras/ink.safetensors", toPath: user + "/mine.safetensors")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: models + "/loras/notes.txt"))
        try Data(repeating: 0xFF, count: 3000).write(to: URL(fileURLWithPath: models + "/broken.safetensors"))
        return (models, user)
    }

    func names(_ p: FilePickerState) -> [String] { p.visible.map(\.name) }

    func testListsFoldersThenMatchingFiles() throws {
        let (models, _) = try makeTree()
        var p = FilePickerState(roots: [models])
        XCTAssertEqual(FilePickerState.keyTable.problems(), [])
        XCTAssertEqual(p.location, "models/")
        XCTAssertEqual(names(p), ["checkpoints", "empty", "loras", "broken.safetensors"])
        XCTAssertEqual(p.visible.last?.byteCount, 3000)
        XCTAssertEqual(p.highlighted?.name, "checkpoints")
        // Into loras: hidden and non-matching files are left out; the extension matches in any case.
        _ = p.handle(.down); _ = p.handle(.down)
        XCTAssertEqual(p.handle(.enter), .handled)
        XCTAssertEqual(p.location, "models/loras/")
        XCTAssertEqual(names(p), ["styles", "Detail-XL.SAFETENSORS", "ink.safetensors"])
        // Other extensions on request.
        let txt = FilePickerState(roots: [models + "/loras"], extensions: [".TXT"])
        XCTAssertEqual(txt.visible.map(\.name), ["styles", "notes.txt"])
    }

    func testTypeToFilter() throws {
        let (models, _) = try makeTree()
        var p = FilePickerState(roots: [models + "/loras"])
        for c in "INK" { XCTAssertEqual(p.handle(.char(c)), .handled) }
        XCTAssertEqual(p.filter, "INK")
        XCTAssertEqual(names(p), ["ink.safetensors"], "filtering ignores case")
        XCTAssertEqual(p.handle(.enter), .picked(models + "/loras/ink.safetensors"))
        _ = p.handle(.backspace); _ = p.handle(.backspace); _ = p.handle(.backspace)
        XCTAssertEqual(names(p).count, 3)
        // Several terms must all match; j/k are text here, not navigation.
        for c in "de xl" { _ = p.handle(.char(c)) }
        XCTAssertEqual(names(p), ["Detail-XL.SAFETENSORS"])
        _ = p.handle(.char("k"))
        XCTAssertEqual(names(p), [])
        XCTAssertEqual(p.handle(.enter), .handled)
        XCTAssertEqual(p.message?.text, "nothing matches")
        // Esc clears the filter first, then closes.
        XCTAssertEqual(p.handle(.escape), .handled)
        XCTAssertEqual(p.filter, "")
        XCTAssertEqual(p.handle(.escape), .cancelled)
        XCTAssertEqual(p.handle(.ctrl("x")), .ignored)
        XCTAssertTrue(FilePickerState.matches("Detail-XL.safetensors", filter: "xl  DET"))
    }

    func testNavigationStaysInsideRoots() throws {
        let (models, user) = try makeTree()
        var p = FilePickerState(roots: [models])
        XCTAssertFalse(p.canGoUp)
        XCTAssertEqual(p.handle(.left), .handled)
        XCTAssertEqual(p.message?.text, "already at the top")
        XCTAssertEqual(p.location, "models/")
        _ = p.handle(.right)                      // into checkpoints
        XCTAssertEqual(p.location, "models/checkpoints/")
        XCTAssertEqual(p.handle(.enter), .picked(models + "/checkpoints/sdxl-base.safetensors"))
        _ = p.handle(.backspace)                  // empty filter: up, landing on the folder we left
        XCTAssertEqual(p.location, "models/")
        XCTAssertEqual(p.highlighted?.name, "checkpoints")
        _ = p.handle(.down)
        _ = p.handle(.right)                      // empty/
        XCTAssertEqual(p.visible, [])
        var f = Frame(width: 50, height: 4)
        p.render(into: &f, rect: f.bounds, theme: .dark)
        XCTAssertEqual(f.rowText(1).trimmingCharacters(in: .whitespaces), "no folders or .safetensors files here")
        p.open(folder: "/etc")
        XCTAssertEqual(p.message?.isError, true)
        XCTAssertEqual(p.location, "models/empty/")

        // Several roots: the top lists them; up from a root returns there.
        var two = FilePickerState(roots: [models, user])
        XCTAssertEqual(two.location, "roots")
        XCTAssertEqual(names(two), [models, user])
        _ = two.handle(.down)
        _ = two.handle(.enter)
        XCTAssertEqual(two.location, "user/")
        XCTAssertEqual(names(two), ["mine.safetensors"])
        _ = two.handle(.left)
        XCTAssertEqual(two.location, "roots")
        XCTAssertEqual(two.highlighted?.path, user)
    }

    func testLoRASummary() throws {
        let (models, _) = try makeTree()
        var p = FilePickerState(roots: [models])
        _ = p.handle(Key(.end))
        XCTAssertEqual(p.highlighted?.name, "broken.safetensors")
        let broken = try XCTUnwrap(p.summaries[models + "/broken.safetensors"])
        XCTAssertTrue(broken.isError)
        XCTAssertTrue(broken.text.contains("broken.safetensors"), broken.text)
        p.open(folder: models + "/loras")
        _ = p.handle(.down); _ = p.handle(.down)
        XCTAssertEqual(p.highlighted?.name, "ink.safetensors")
        XCTAssertEqual(p.summaries[models + "/loras/ink.safetensors"]?.text,
                       "LoRA · kohya (diffusers UNet paths) · 2 modules (unet 1, te1 1) · rank 4–8 · α 2, 8")
        p.open(folder: models + "/checkpoints")
        XCTAssertEqual(p.summaries[models + "/checkpoints/sdxl-base.safetensors"]?.text, "not a LoRA · 2 tensors")
        var off = FilePickerState(roots: [models + "/checkpoints"], showLoRAInfo: false)
        _ = off.handle(.down)
        XCTAssertEqual(off.summaries, [:])
    }

    func testMouse() throws {
        let (models, _) = try makeTree()
        var p = FilePickerState(roots: [models])
        let rect = Rect(x: 1, y: 1, width: 50, height: 10)   // header row 1, list rows 2…9, footer row 10
        XCTAssertEqual(p.handle(MouseEvent(button: .left, col: 5, row: 5), rect: rect), .handled)
        XCTAssertEqual(p.highlighted?.name, "broken.safetensors")
        XCTAssertEqual(p.handle(MouseEvent(button: .left, col: 5, row: 5), rect: rect), .picked(models + "/broken.safetensors"))
        XCTAssertEqual(p.handle(MouseEvent(button: .wheelUp, col: 5, row: 5), rect: rect), .handled)
        XCTAssertEqual(p.highlighted?.name, "checkpoints")
        XCTAssertEqual(p.handle(MouseEvent(button: .left, col: 5, row: 2), rect: rect), .handled)
        XCTAssertEqual(p.location, "models/checkpoints/")
        XCTAssertEqual(p.handle(MouseEvent(button: .left, col: 60, row: 5), rect: rect), .ignored)
    }

    func testSnapshots() throws {
        let (models, _) = try makeTree()
        var p = FilePickerState(roots: [models])
        p.open(folder: models + "/loras")
        _ = p.handle(.down); _ = p.handle(.down)   // ink.safetensors with its summary
        PaneSnapshot.each("filepicker-wide", width: 72, height: 9) { f, theme in
            let inner = f.panel(f.bounds, title: "Add LoRA", focused: true, theme: theme)
            p.render(into: &f, rect: inner, theme: theme, focused: true)
        }
        var q = FilePickerState(roots: [models])
        for c in "s" { _ = q.handle(.char(c)) }
        PaneSnapshot.each("filepicker-narrow", width: 30, height: 7) { f, theme in
            q.render(into: &f, rect: f.bounds, theme: theme, focused: false)
        }
    }
}
