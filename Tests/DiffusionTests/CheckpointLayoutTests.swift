import Checkpoint
import Foundation
import TestSupport
import XCTest
@testable import Diffusion

/// Real SDXL key/shape lists (tools/reference/models/layout_fixtures.py) turned into sparse safetensors files.
enum LayoutFixtures {
    typealias Entry = (name: String, shape: [Int])

    /// `sdxl_keys.json`, parsed once.
    static let root: [String: Any] = {
        let path = Fixtures.path("layout/sdxl_keys.json", target: "DiffusionTests")
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            fatalError("cannot read \(path); run tools/reference/models/layout_fixtures.py")
        }
        return obj
    }()

    static func entries(_ raw: Any?) -> [Entry] {
        (raw as? [[Any]] ?? []).map { ($0[0] as! String, ($0[1] as! [NSNumber]).map(\.intValue)) }
    }
    /// The single-file (SGM/LDM) naming of the whole SDXL checkpoint.
    static var singleFile: [Entry] { entries(root["single_file"]) }
    /// One diffusers component ("unet", "vae", "text_encoder", "text_encoder_2").
    static func diffusers(_ part: String) -> [Entry] { entries((root["diffusers"] as? [String: Any])?[part]) }
    /// Reference parameter counts.
    static func params(_ key: String) -> Int { ((root["params"] as? [String: Any])?[key] as? NSNumber)?.intValue ?? -1 }
    static func singleFileParams(_ prefix: String) -> Int {
        (((root["params"] as? [String: Any])?["single_file"] as? [String: Any])?[prefix] as? NSNumber)?.intValue ?? -1
    }

    /// Writes a header for `entries` and extends the file to its full length without writing data,
    /// so a 14 GB checkpoint costs a few hundred KB of disk.
    static func writeSparse(_ entries: [Entry], dtype: DType = .f16, metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for e in entries {
            let n = e.shape.reduce(1, *) * dtype.size
            header[e.name] = ["dtype": dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + n]] as [String: Any]
            offset += n
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        FileManager.default.createFile(atPath: path, contents: data)
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        XCTAssertEqual(ftruncate(fd, off_t(data.count + offset)), 0, "ftruncate \(path)")
    }

    /// A fresh temporary directory (removed by the caller's `addTeardownBlock`).
    static func tempDir(_ test: XCTestCase) throws -> String {
        let dir = NSTemporaryDirectory() + "sumi-layout-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    static func strip(_ prefix: String, _ es: [Entry]) -> [Entry] {
        es.filter { $0.name.hasPrefix(prefix) }.map { (String($0.name.dropFirst(prefix.count)), $0.shape) }
    }
}

final class CheckpointLayoutTests: XCTestCase {
    typealias L = LayoutFixtures

    func testSingleFileSDXLIsRecognisedWithReferenceParameterCounts() throws {
        let dir = try L.tempDir(self)
        let path = dir + "/animagine.safetensors"
        try L.writeSparse(L.singleFile, to: path)
        let layout = try CheckpointLayout.detect(path: path)

        XCTAssertEqual(layout.kind, .sdxlSingleFile)
        XCTAssertEqual(layout.components.map(\.role), [.unet, .clipL, .clipG, .vae])
        XCTAssertEqual(layout.components.map(\.naming), [.ldm, .transformers, .openCLIP, .ldm])
        XCTAssertEqual(layout.otherTensorCount, 0)
        XCTAssertEqual(layout.notes, [])
        let prefixes = ["model.diffusion_model.", "conditioner.embedders.0.transformer.",
                        "conditioner.embedders.1.model.", "first_stage_model."]
        for (c, p) in zip(layout.components, prefixes) {
            XCTAssertEqual(c.prefix, p)
            XCTAssertEqual(c.parameterCount, L.singleFileParams(p), p)
            XCTAssertEqual(c.bytes, 2 * c.parameterCount, p)
            XCTAssertEqual(c.dtypeCounts, [.f16: c.tensorCount], p)
        }
        let unet = try XCTUnwrap(layout.component(.unet))
        XCTAssertEqual(unet.parameterCount, 2_567_463_684)
        XCTAssertEqual(L.params("unet"), 2_567_463_684)
        XCTAssertEqual(InspectReport.count(unet.parameterCount), "2.567 G")
        XCTAssertEqual(unet.detail, "SDXL: 320 ch, context 2048, ADM 2816, 70 transformer blocks")
        // bigG in open_clip naming carries logit_scale on top of the HF model's parameters.
        XCTAssertEqual(layout.component(.clipG)?.parameterCount, L.params("text_encoder_2") + 1)
        XCTAssertEqual(layout.component(.clipL)?.parameterCount, L.params("text_encoder"))
        XCTAssertEqual(layout.component(.clipG)?.detail, "32 layers × 1280, packed qkv, with projection")
        XCTAssertEqual(layout.component(.clipL)?.detail, "12 layers × 768")
        XCTAssertEqual(layout.component(.vae)?.detail, "latent 4 ch, base 128 ch")
        XCTAssertEqual(layout.dtypeCounts, [.f16: L.singleFile.count])
        XCTAssertEqual(layout.fileBytes, 8 + 2 * layout.parameterCount + headerLength(path))
    }

    func testSingleFileExtrasAndMissingParts() throws {
        let dir = try L.tempDir(self)
        let path = dir + "/unet_only.safetensors"
        var es = L.singleFile.filter { $0.name.hasPrefix("model.diffusion_model.") }
        es.append(("model.diffusion_model.position_ids_dummy.position_ids", [1, 77]))
        es.append(("denoiser.sigmas", [1000]))
        try L.writeSparse(es, to: path)
        let layout = try CheckpointLayout.detect(path: path)
        XCTAssertEqual(layout.kind, .sdxlSingleFile)
        XCTAssertEqual(layout.components.map(\.role), [.unet])
        XCTAssertEqual(layout.component(.unet)?.parameterCount, L.params("unet"), "position_ids is a buffer")
        XCTAssertEqual(layout.otherTensorCount, 1)
        XCTAssertEqual(layout.otherTensorExamples, ["denoiser.sigmas"])
        XCTAssertEqual(layout.notes, ["not in this file: CLIP-L text, CLIP-bigG text, VAE"])
    }

    func testDiffusersFolderPrefersFullPrecisionFiles() throws {
        let dir = try L.tempDir(self)
        let index = #"{"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.19.0","#
            + #""scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],"#
            + #""text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],"#
            + #""unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"], "image_encoder": [null, null]}"#
        FileManager.default.createFile(atPath: dir + "/model_index.json", contents: Data(index.utf8))
        for part in ["unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "scheduler"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + part, withIntermediateDirectories: true)
        }
        try L.writeSparse(L.diffusers("unet"), dtype: .f32, to: dir + "/unet/diffusion_pytorch_model.safetensors")
        try L.writeSparse(L.diffusers("unet"), dtype: .f16, to: dir + "/unet/diffusion_pytorch_model.fp16.safetensors")
        try L.writeSparse(L.diffusers("vae"), dtype: .f32, to: dir + "/vae/diffusion_pytorch_model.safetensors")
        try L.writeSparse(L.diffusers("text_encoder"), dtype: .f16, to: dir + "/text_encoder/model.fp16.safetensors")
        // Sharded bigG, full precision: both shards are read.
        let te2 = L.diffusers("text_encoder_2")
        try L.writeSparse(Array(te2.prefix(200)), dtype: .f32, to: dir + "/text_encoder_2/model-00001-of-00002.safetensors")
        try L.writeSparse(Array(te2.dropFirst(200)), dtype: .f32, to: dir + "/text_encoder_2/model-00002-of-00002.safetensors")

        let layout = try CheckpointLayout.detect(path: dir)
        XCTAssertEqual(layout.kind, .diffusersFolder(pipeline: "StableDiffusionXLPipeline"))
        XCTAssertEqual(layout.components.map(\.role), [.unet, .clipL, .clipG, .vae])
        XCTAssertEqual(layout.components.map(\.naming), [.diffusers, .transformers, .transformers, .diffusers])
        let unet = try XCTUnwrap(layout.component(.unet))
        XCTAssertEqual(unet.files, [dir + "/unet/diffusion_pytorch_model.safetensors"])
        XCTAssertEqual(unet.parameterCount, 2_567_463_684)
        XCTAssertEqual(unet.dtypeCounts, [.f32: L.params("unet_keys")])
        XCTAssertEqual(unet.detail, "SDXL: 320 ch, context 2048, ADM 2816, 70 transformer blocks")
        XCTAssertEqual(layout.component(.clipL)?.parameterCount, L.params("text_encoder"))
        XCTAssertEqual(layout.component(.clipL)?.dtypeCounts, [.f16: L.params("text_encoder_keys")])
        XCTAssertEqual(layout.component(.clipG)?.parameterCount, L.params("text_encoder_2"))
        XCTAssertEqual(layout.component(.clipG)?.files.count, 2)
        XCTAssertEqual(layout.component(.clipG)?.detail, "32 layers × 1280, with projection")
        XCTAssertEqual(layout.component(.vae)?.parameterCount, L.params("vae"))
        XCTAssertEqual(layout.notes, ["text_encoder: only the fp16 variant is present; using it"])
        XCTAssertEqual(layout.parameterCount,
                       L.params("unet") + L.params("vae") + L.params("text_encoder") + L.params("text_encoder_2"))
    }

    func testDiffusersFolderMissingPartsAreOneLineErrors() throws {
        let dir = try L.tempDir(self)
        let index = #"{"_class_name": "StableDiffusionXLPipeline", "unet": ["diffusers", "UNet2DConditionModel"],"#
            + #""vae": ["diffusers", "AutoencoderKL"]}"#
        FileManager.default.createFile(atPath: dir + "/model_index.json", contents: Data(index.utf8))
        try FileManager.default.createDirectory(atPath: dir + "/unet", withIntermediateDirectories: true)
        try L.writeSparse(Array(L.diffusers("unet").prefix(10)), to: dir + "/unet/diffusion_pytorch_model.safetensors")
        XCTAssertThrowsError(try CheckpointLayout.detect(path: dir)) { e in
            XCTAssertEqual("\(e)", "\(dir)/vae: missing (named in model_index.json)")
        }
        try FileManager.default.createDirectory(atPath: dir + "/vae", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/vae/diffusion_pytorch_model.bin", contents: Data([1, 2, 3]))
        XCTAssertThrowsError(try CheckpointLayout.detect(path: dir)) { e in
            XCTAssertEqual("\(e)", "\(dir)/vae: no *.safetensors weights (only .bin, which is not read)")
        }
        let empty = dir + "/nothing"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try CheckpointLayout.detect(path: empty)) { e in
            XCTAssertTrue("\(e)".hasPrefix(empty + ": not a diffusers folder"), "\(e)")
        }
        XCTAssertThrowsError(try CheckpointLayout.detect(path: dir + "/absent.safetensors")) { e in
            XCTAssertEqual("\(e)", "\(dir)/absent.safetensors: no such file or folder")
        }
    }

    func testNotASafetensorsFileIsOneLineNamingTheFile() throws {
        let dir = try L.tempDir(self)
        let path = dir + "/model.ckpt"
        FileManager.default.createFile(atPath: path, contents: Data("PK\u{3}\u{4} this is a zip pickle".utf8))
        XCTAssertThrowsError(try CheckpointLayout.detect(path: path)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix(path + ": not a valid safetensors file"), s)
            XCTAssertFalse(s.contains("\n"))
        }
    }

    func testBareComponentFiles() throws {
        let dir = try L.tempDir(self)
        let ldmUNet = L.strip("model.diffusion_model.", L.singleFile)
        let openCLIP = L.strip("conditioner.embedders.1.model.", L.singleFile)
        let ldmVAE = L.strip("first_stage_model.", L.singleFile)
        let cases: [(String, [L.Entry], CheckpointLayout.Role, CheckpointLayout.Naming, Int)] = [
            ("unet", L.diffusers("unet"), .unet, .diffusers, L.params("unet")),
            ("vae", L.diffusers("vae"), .vae, .diffusers, L.params("vae")),
            ("clip_l", L.diffusers("text_encoder"), .clipL, .transformers, L.params("text_encoder")),
            ("clip_g", L.diffusers("text_encoder_2"), .clipG, .transformers, L.params("text_encoder_2")),
            ("ldm_unet", ldmUNet, .unet, .ldm, L.params("unet")),
            ("ldm_vae", ldmVAE, .vae, .ldm, L.params("vae")),
            ("openclip_g", openCLIP, .clipG, .openCLIP, L.params("text_encoder_2") + 1),
            ("comfy_unet", ldmUNet.map { ("diffusion_model." + $0.name, $0.shape) }, .unet, .ldm, L.params("unet")),
        ]
        for (name, es, role, naming, params) in cases {
            let path = "\(dir)/\(name).safetensors"
            try L.writeSparse(es, to: path)
            let layout = try CheckpointLayout.detect(path: path)
            XCTAssertEqual(layout.kind, .component(role), name)
            XCTAssertEqual(layout.components.count, 1, name)
            XCTAssertEqual(layout.components.first?.naming, naming, name)
            XCTAssertEqual(layout.components.first?.parameterCount, params, name)
            XCTAssertEqual(layout.otherTensorCount, 0, name)
        }
        // A component folder (e.g. `…/unet` on its own) is read like a bare file.
        let folder = dir + "/unet_folder"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try L.writeSparse(L.diffusers("unet"), to: folder + "/diffusion_pytorch_model.fp16.safetensors")
        let layout = try CheckpointLayout.detect(path: folder)
        XCTAssertEqual(layout.kind, .component(.unet))
        XCTAssertEqual(layout.notes, ["only the fp16 variant is present; using it"])
    }

    func testSD1AndUnknownFiles() throws {
        let dir = try L.tempDir(self)
        let sd1: [L.Entry] = [
            ("model.diffusion_model.input_blocks.0.0.weight", [320, 4, 3, 3]),
            ("model.diffusion_model.time_embed.0.weight", [1280, 320]),
            ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", [49408, 768]),
            ("cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight", [3072, 768]),
            ("first_stage_model.decoder.conv_in.weight", [512, 4, 3, 3]),
        ]
        try L.writeSparse(sd1, to: dir + "/sd15.safetensors")
        let layout = try CheckpointLayout.detect(path: dir + "/sd15.safetensors")
        XCTAssertEqual(layout.kind, .sd1SingleFile)
        XCTAssertEqual(layout.components.map(\.role), [.unet, .clipL, .vae])
        XCTAssertTrue(layout.notes.first?.contains("SDXL-family models only") ?? false, "\(layout.notes)")

        try L.writeSparse([("weird.thing", [3]), ("another", [2, 2])], to: dir + "/odd.safetensors")
        let odd = try CheckpointLayout.detect(path: dir + "/odd.safetensors")
        XCTAssertEqual(odd.kind, .unknown)
        XCTAssertEqual(odd.otherTensorCount, 2)
        XCTAssertTrue(InspectReport.render(odd).contains("layout:  unknown"))
    }

    func testReportTextAndJSON() throws {
        let dir = try L.tempDir(self)
        let path = dir + "/sdxl.safetensors"
        try L.writeSparse(L.singleFile, to: path)
        let layout = try CheckpointLayout.detect(path: path)
        let mem = MemoryEstimate(layout: layout, width: 1024, height: 1024)
        let text = InspectReport.render(layout, memory: mem, availableBytes: 8 << 30)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], path)
        XCTAssertEqual(lines[1], "  layout:  single-file SDXL checkpoint")
        XCTAssertTrue(lines.contains { $0.hasPrefix("  UNet") && $0.contains("2.567 G params") && $0.contains("F16 1680") },
                      text)
        XCTAssertTrue(text.contains("CLIP-L text") && text.contains("123.1 M params"), text)
        XCTAssertTrue(text.contains("CLIP-bigG text") && text.contains("694.7 M params"), text)
        XCTAssertTrue(text.contains("VAE") && text.contains("83.65 M params"), text)
        XCTAssertTrue(text.contains("total           3.469 G params"), text)
        XCTAssertTrue(text.contains("warning: sdxl.safetensors: needs ~16.4 GiB, 8.0 GiB available"), text)
        print(text)

        let json = InspectReport.json([InspectReport.entry(layout, memory: mem, availableBytes: 8 << 30),
                                       InspectReport.entry(path: "/x.bin", error: CheckpointLayoutError.notFound(path: "/x.bin"))])
        let arr = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        XCTAssertEqual(arr.count, 2)
        XCTAssertEqual(arr[0]["kind"] as? String, "sdxl_single_file")
        XCTAssertEqual((arr[0]["parameters"] as? NSNumber)?.intValue, layout.parameterCount)
        let comps = try XCTUnwrap(arr[0]["components"] as? [[String: Any]])
        XCTAssertEqual(comps.map { $0["role"] as? String }, ["unet", "clip_l", "clip_g", "vae"])
        XCTAssertEqual((comps[0]["parameters"] as? NSNumber)?.intValue, 2_567_463_684)
        XCTAssertEqual(arr[0]["refusal"] as? String, "sdxl.safetensors: needs ~16.4 GiB, 8.0 GiB available")
        XCTAssertEqual(arr[1]["error"] as? String, "/x.bin: no such file or folder")
    }

    func testMemoryDecisionAndMeminfo() {
        let m = MemoryEstimate(parameterCount: 1_000_000_000, width: 512, height: 512)
        XCTAssertEqual(m.weightBytesF32, 4_000_000_000)
        XCTAssertEqual(m.weightBytesF16, 2_000_000_000)
        XCTAssertEqual(m.workingSetBytes, (512 << 20) + 4 * 128 * 512 * 512 * 4 + 4096 * 4096 * 4)
        XCTAssertEqual(MemoryEstimate.decide(needed: 10 << 30, available: 12 << 30, label: "a"), .fits(spareBytes: 2 << 30))
        XCTAssertEqual(MemoryEstimate.decide(needed: 15 << 30 + 200 << 20, available: 7 << 30 + 800 << 20, label: "model.safetensors"),
                       .refuse(message: "model.safetensors: needs ~15.2 GiB, 7.8 GiB available"))
        XCTAssertEqual(m.verdict(available: m.neededBytes(halfWeights: true), label: "x", halfWeights: true), .fits(spareBytes: 0))

        let text = "MemTotal:       24576000 kB\nMemFree:        1000 kB\nMemAvailable:   20000000 kB\nHugePages_Total:       0\n"
        XCTAssertEqual(MemInfo.parse(text), MemInfo(totalBytes: 24_576_000 * 1024, availableBytes: 20_000_000 * 1024))
        XCTAssertEqual(MemInfo.parse("garbage"), MemInfo())
        let live = MemInfo.read()
        if FileManager.default.fileExists(atPath: "/proc/meminfo") {
            XCTAssertNotNil(live.availableBytes)
            XCTAssertGreaterThan(live.totalBytes ?? 0, 0)
        }
    }

    private func headerLength(_ path: String) -> Int {
        (try? SafeTensorsFile(path: path).headerLength) ?? -1
    }
}
