import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// LoRA format recognition: synthetic files built from the key patterns of each format (docs §1d), plus
/// two files written by peft/diffusers (tools/reference/models/layout_fixtures.py).
final class LoRAInfoTests: XCTestCase {
    /// Writes real (tiny) tensors: `alphas` become scalar tensors holding the value.
    private func write(_ shapes: [(String, [Int])], alphas: [(String, Float)] = [], dtype: DType = .f16,
                       metadata: [String: String] = [:]) throws -> SafeTensorsFile {
        let dir = try LayoutFixtures.tempDir(self)
        let path = dir + "/lora.safetensors"
        var ts = shapes.map { (name: $0.0, tensor: Tensor(shape: $0.1, repeating: 0.01)) }
        ts += alphas.map { (name: $0.0, tensor: Tensor(shape: [], values: [$0.1])) }
        try SafeTensorsWriter.write(ts, dtype: dtype, metadata: metadata, to: path)
        return try SafeTensorsFile(path: path)
    }

    private func kohya(_ module: String, down: [Int], up: [Int]) -> [(String, [Int])] {
        [(module + ".lora_down.weight", down), (module + ".lora_up.weight", up)]
    }

    func testKohyaOverLDMPathsWithTextEncoders() throws {
        let u = "lora_unet_input_blocks_4_1_transformer_blocks_0_"
        var shapes = kohya(u + "attn1_to_q", down: [8, 640], up: [640, 8])
        shapes += kohya(u + "attn2_to_k", down: [8, 2048], up: [640, 8])
        shapes += kohya("lora_unet_output_blocks_2_1_proj_in", down: [8, 1280], up: [1280, 8])
        shapes += kohya("lora_te1_text_model_encoder_layers_5_self_attn_q_proj", down: [8, 768], up: [768, 8])
        shapes += kohya("lora_te2_text_model_encoder_layers_30_mlp_fc1", down: [8, 1280], up: [5120, 8])
        let alphas = [u + "attn1_to_q", u + "attn2_to_k", "lora_unet_output_blocks_2_1_proj_in",
                      "lora_te1_text_model_encoder_layers_5_self_attn_q_proj",
                      "lora_te2_text_model_encoder_layers_30_mlp_fc1"].map { ($0 + ".alpha", Float(4)) }
        let meta = ["ss_network_dim": "8", "ss_network_alpha": "4.0", "ss_base_model_version": "sdxl_base_v1-0",
                    "ss_network_module": "networks.lora", "ss_learning_rate": "1e-4"]
        let f = try write(shapes, alphas: alphas, metadata: meta)
        let info = try XCTUnwrap(try LoRAInfo.analyze(f))
        XCTAssertEqual(info.format, .kohyaLDM)
        XCTAssertEqual(info.moduleCount, 5)
        XCTAssertEqual(info.modulesPerTarget, ["unet": 3, "te1": 1, "te2": 1])
        XCTAssertEqual(info.unetPaths, "ldm")
        XCTAssertEqual(info.rankCounts, [8: 5])
        XCTAssertEqual(info.alphas, [4])
        XCTAssertEqual(info.scales, [0.5])
        XCTAssertEqual(info.modulesWithoutAlpha, 0)
        XCTAssertFalse(info.hasConv)
        XCTAssertEqual(info.moduleTypes, ["to_q": 1, "to_k": 1, "proj_in": 1, "q_proj": 1, "mlp.fc1": 1])
        XCTAssertEqual(info.baseModel, "sdxl_base_v1-0")
        XCTAssertEqual(info.trainingMetadata["ss_network_dim"], "8")
        XCTAssertNil(info.trainingMetadata["ss_learning_rate"])
        XCTAssertEqual(info.unrecognisedKeys, 0)
    }

    /// DMD2's export: kohya names over diffusers paths, 3×3 conv LoRA, time_emb_proj, fp16 alpha 8 at rank 64.
    func testKohyaOverDiffusersPathsDMD2Style() throws {
        let r = 64
        let mods: [(String, [Int], [Int])] = [
            ("lora_unet_down_blocks_0_resnets_0_conv1", [r, 320, 3, 3], [320, r, 1, 1]),
            ("lora_unet_down_blocks_0_resnets_0_conv2", [r, 320, 3, 3], [320, r, 1, 1]),
            ("lora_unet_down_blocks_0_resnets_0_time_emb_proj", [r, 1280], [320, r]),
            ("lora_unet_down_blocks_1_resnets_0_conv_shortcut", [r, 320, 1, 1], [640, r, 1, 1]),
            ("lora_unet_down_blocks_0_downsamplers_0_conv", [r, 320, 3, 3], [320, r, 1, 1]),
            ("lora_unet_up_blocks_0_upsamplers_0_conv", [r, 1280, 3, 3], [1280, r, 1, 1]),
            ("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0", [r, 1280], [1280, r]),
            ("lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj", [r, 1280], [10240, r]),
            ("lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2", [r, 5120], [1280, r]),
        ]
        let f = try write(mods.flatMap { kohya($0.0, down: $0.1, up: $0.2) }, alphas: mods.map { ($0.0 + ".alpha", 8) })
        let info = try XCTUnwrap(try LoRAInfo.analyze(f))
        XCTAssertEqual(info.format, .kohyaDiffusers)
        XCTAssertEqual(info.unetPaths, "diffusers")
        XCTAssertEqual(info.rankCounts, [64: 9])
        XCTAssertEqual(info.alphas, [8])
        XCTAssertEqual(info.scales, [0.125])
        XCTAssertEqual(info.convModules, 4)
        XCTAssertEqual(info.moduleTypes, ["conv1": 1, "conv2": 1, "time_emb_proj": 1, "conv_shortcut": 1, "downsample": 1,
                                          "upsample": 1, "to_out.0": 1, "ff.net.0.proj": 1, "ff.net.2": 1])
        XCTAssertEqual(info.modulesPerTarget, ["unet": 9])

        let layout = try CheckpointLayout.detect(file: f)
        XCTAssertEqual(layout.kind, .lora)
        let text = InspectReport.render(layout)
        XCTAssertTrue(text.contains("  format:  kohya (diffusers UNet paths)"), text)
        XCTAssertTrue(text.contains("  rank:    64\n"), text)
        XCTAssertTrue(text.contains("  alpha:   8.0\n"), text)
        XCTAssertTrue(text.contains("  scale:   0.125 (alpha/rank"), text)
        XCTAssertTrue(text.contains("  conv:    yes, 4 k×k conv modules"), text)
        XCTAssertTrue(text.contains("time_emb_proj ×1"), text)
        print(text)

        let json = InspectReport.json([InspectReport.entry(layout, memory: MemoryEstimate(layout: layout), availableBytes: nil)])
        let arr = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        let lora = try XCTUnwrap(arr.first?["lora"] as? [String: Any])
        XCTAssertEqual(lora["format"] as? String, "kohya (diffusers UNet paths)")
        XCTAssertEqual((lora["min_rank"] as? NSNumber)?.intValue, 64)
        XCTAssertEqual((lora["scales"] as? [NSNumber])?.map(\.floatValue), [0.125])
        XCTAssertEqual((lora["conv_modules"] as? NSNumber)?.intValue, 4)
        XCTAssertEqual(arr.first?["kind"] as? String, "lora")
    }

    func testLDMResnetNamesMapToDiffusersTypesAndMixedRanks() throws {
        var shapes = kohya("lora_unet_input_blocks_1_0_in_layers_2", down: [4, 320, 3, 3], up: [320, 4, 1, 1])
        shapes += kohya("lora_unet_input_blocks_1_0_out_layers_3", down: [16, 320, 3, 3], up: [320, 16, 1, 1])
        shapes += kohya("lora_unet_input_blocks_1_0_emb_layers_1", down: [16, 1280], up: [320, 16])
        shapes += kohya("lora_unet_input_blocks_3_0_op", down: [16, 320, 3, 3], up: [320, 16, 1, 1])
        shapes += kohya("lora_unet_output_blocks_2_2_conv", down: [16, 1280, 3, 3], up: [1280, 16, 1, 1])
        let f = try write(shapes, alphas: [("lora_unet_input_blocks_1_0_in_layers_2.alpha", 1)])
        let info = try XCTUnwrap(try LoRAInfo.analyze(f))
        XCTAssertEqual(info.format, .kohyaLDM)
        XCTAssertEqual(info.rankCounts, [4: 1, 16: 4])
        XCTAssertEqual(info.minRank, 4)
        XCTAssertEqual(info.maxRank, 16)
        XCTAssertEqual(info.modulesWithoutAlpha, 4)
        XCTAssertEqual(info.scales, [0.25])
        XCTAssertEqual(info.moduleTypes, ["conv1": 1, "conv2": 1, "time_emb_proj": 1, "downsample": 1, "upsample": 1])
        let text = InspectReport.render(try CheckpointLayout.detect(file: f))
        XCTAssertTrue(text.contains("  rank:    4–16 (mixed: 1× 4, 4× 16)"), text)
        XCTAssertTrue(text.contains("(4 modules without alpha)"), text)
    }

    func testPEFTBareFileFromPeft() throws {
        let f = try SafeTensorsFile(path: Fixtures.path("layout/peft_unet.safetensors", target: "DiffusionTests"))
        let expected = try expectedJSON()["peft_unet"] as? [String: Any]
        let info = try XCTUnwrap(try LoRAInfo.analyze(f))
        XCTAssertEqual(info.format, .peft)
        XCTAssertEqual(info.moduleCount, (expected?["modules"] as? NSNumber)?.intValue)
        XCTAssertEqual(info.rankCounts, [4: info.moduleCount])
        XCTAssertEqual(info.alphas, [])
        XCTAssertEqual(info.modulesWithoutAlpha, info.moduleCount)
        XCTAssertEqual(info.unetPaths, "diffusers")
        XCTAssertEqual(info.modulesPerTarget, ["unet": info.moduleCount])
        XCTAssertEqual(Set(info.moduleTypes.keys), Set((expected?["targets"] as? [String]) ?? []))
        let text = InspectReport.render(try CheckpointLayout.detect(file: f))
        XCTAssertTrue(text.contains("  alpha:   not stored"), text)
    }

    func testPEFTPrefixedFileFromDiffusersPipeline() throws {
        let f = try SafeTensorsFile(path: Fixtures.path("layout/peft_pipeline.safetensors", target: "DiffusionTests"))
        let e = try XCTUnwrap(try expectedJSON()["peft_pipeline"] as? [String: Any])
        func n(_ k: String) -> Int? { (e[k] as? NSNumber)?.intValue }
        let info = try XCTUnwrap(try LoRAInfo.analyze(f))
        XCTAssertEqual(info.format, .peftPrefixed)
        XCTAssertEqual(info.moduleCount, n("modules"))
        XCTAssertEqual(info.modulesPerTarget, ["unet": n("unet_modules")!, "te1": n("te1_modules")!, "te2": n("te2_modules")!])
        XCTAssertEqual(info.minRank, 2)
        XCTAssertEqual(info.maxRank, 4)
        XCTAssertEqual(Set(info.moduleTypes.keys), ["to_q", "to_k", "to_v", "to_out.0", "q_proj", "k_proj", "v_proj", "out_proj"])
    }

    func testLyCORISFormats() throws {
        // LoCon with a Tucker core on a 3×3 conv.
        let m = "lora_unet_down_blocks_0_resnets_0_conv1"
        let locon = try write([(m + ".lora_down.weight", [8, 320, 1, 1]), (m + ".lora_mid.weight", [8, 8, 3, 3]),
                               (m + ".lora_up.weight", [320, 8, 1, 1])], alphas: [(m + ".alpha", 4)])
        let l = try XCTUnwrap(try LoRAInfo.analyze(locon))
        XCTAssertEqual(l.format, .loconTucker)
        XCTAssertEqual(l.rankCounts, [8: 1])
        XCTAssertEqual(l.convModules, 1)
        XCTAssertEqual(l.scales, [0.5])

        let q = "lycoris_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q"
        let loha = try write([(q + ".hada_w1_a", [640, 6]), (q + ".hada_w1_b", [6, 640]),
                              (q + ".hada_w2_a", [640, 6]), (q + ".hada_w2_b", [6, 640])], alphas: [(q + ".alpha", 3)])
        let h = try XCTUnwrap(try LoRAInfo.analyze(loha))
        XCTAssertEqual(h.format, .loha)
        XCTAssertEqual(h.rankCounts, [6: 1])
        XCTAssertEqual(h.scales, [0.5])
        XCTAssertEqual(h.modulesPerTarget, ["unet": 1])
        XCTAssertEqual(h.moduleTypes, ["to_q": 1])

        let k = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_k"
        let k2 = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_v"
        let lokr = try write([(k + ".lokr_w1", [8, 8]), (k + ".lokr_w2_a", [80, 4]), (k + ".lokr_w2_b", [4, 80]),
                              (k2 + ".lokr_w1", [8, 8]), (k2 + ".lokr_w2", [80, 80])],
                             alphas: [(k + ".alpha", 4)])
        let kr = try XCTUnwrap(try LoRAInfo.analyze(lokr))
        XCTAssertEqual(kr.format, .lokr)
        XCTAssertEqual(kr.moduleCount, 2)
        XCTAssertEqual(kr.rankCounts, [4: 1], "the full-rank LoKr module has no rank")
        XCTAssertEqual(kr.unetPaths, "ldm")
    }

    func testNonLoRAFilesAreNotAdapters() throws {
        let f = try write([("model.diffusion_model.out.2.weight", [4, 320, 3, 3]), ("alpha", [])])
        XCTAssertNil(try LoRAInfo.analyze(f))
    }

    private func expectedJSON() throws -> [String: Any] {
        let path = Fixtures.path("layout/peft_expected.json", target: "DiffusionTests")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
