import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Architecture from a diffusers folder's config.json files, and pipelines written back as diffusers folders.
final class ModelConfigTests: XCTestCase {
    private func temporaryFolder() throws -> String {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("sumi-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The diffusers-written fixture folder (tools/reference/models/pipeline_fixtures.py) reads as `.tiny`.
    func testReadsDiffusersWrittenConfigs() throws {
        let config = try SDXLModelConfig.read(diffusersFolder: PipelineFixtures.folder)
        XCTAssertEqual(config.clipL, SDXLModelConfig.tiny.clipL)
        XCTAssertEqual(config.clipG, SDXLModelConfig.tiny.clipG)
        XCTAssertEqual(config.vae, SDXLModelConfig.tiny.vae)
        XCTAssertEqual(config.unet, SDXLModelConfig.tiny.unet)
        XCTAssertEqual(try SDXLPipeline.architecture(path: PipelineFixtures.folder), config)
        XCTAssertEqual(try SDXLPipeline.architecture(path: PipelineFixtures.singleFile), .sdxl)
    }

    /// Writing and reading back gives the same architecture, for the tiny config and SDXL itself.
    func testConfigRoundTrip() throws {
        for config in [SDXLModelConfig.tiny, .sdxl] {
            let dir = try temporaryFolder()
            try config.writeDiffusersConfigs(to: dir)
            let back = try SDXLModelConfig.read(diffusersFolder: dir)
            XCTAssertEqual(back.clipL, config.clipL)
            XCTAssertEqual(back.clipG, config.clipG)
            XCTAssertEqual(back.vae, config.vae)
            XCTAssertEqual(back.unet.blockChannels, config.unet.blockChannels)
            XCTAssertEqual(back.unet.transformerDepth, config.unet.transformerDepth)
            XCTAssertEqual(back.unet.pooledDim, config.unet.pooledDim)
            XCTAssertEqual(back.unet.crossAttentionDim, config.unet.crossAttentionDim)
            XCTAssertEqual(zip(back.unet.heads, config.unet.attention).map { $1 ? $0 : 0 },
                           zip(config.unet.heads, config.unet.attention).map { $1 ? $0 : 0 })
        }
    }

    /// Bad configs name the file and the key.
    func testBadConfigNamesFileAndKey() throws {
        let dir = try temporaryFolder()
        try SDXLModelConfig.tiny.writeDiffusersConfigs(to: dir)
        let unetConfig = (dir as NSString).appendingPathComponent("unet/config.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: unetConfig))) as? [String: Any])
        json["down_block_types"] = ["DownBlock2D", "SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: unetConfig))
        XCTAssertThrowsError(try SDXLModelConfig.read(diffusersFolder: dir)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(unetConfig) && text.contains("down_block_types") && text.contains("SimpleCrossAttnDownBlock2D"), text)
        }
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: unetConfig))
        XCTAssertThrowsError(try SDXLModelConfig.read(diffusersFolder: dir)) { error in
            XCTAssertEqual("\(error)", "\(unetConfig): not a JSON object")
        }
        let te2 = (dir as NSString).appendingPathComponent("text_encoder_2/config.json")
        try SDXLModelConfig.tiny.writeDiffusersConfigs(to: dir)
        var clip = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: te2))) as? [String: Any])
        clip["projection_dim"] = 23
        try JSONSerialization.data(withJSONObject: clip).write(to: URL(fileURLWithPath: te2))
        XCTAssertThrowsError(try SDXLModelConfig.read(diffusersFolder: dir)) { error in
            XCTAssertTrue("\(error)".contains("projection_dim 23"), "\(error)")
        }
    }

    /// A pipeline saved as a diffusers folder loads back (architecture from its configs) with the same weights:
    /// bit-identical in f32, within f16 rounding in f16.
    func testSaveDiffusersFolderRoundTrip() throws {
        let c = Compute(threads: 2)
        let original = try SDXLPipeline.load(path: PipelineFixtures.singleFile, tokenizer: TokenizerData.tokenizer, config: .tiny, c)
        let dir = (try temporaryFolder() as NSString).appendingPathComponent("model")
        for dtype in [DType.f32, .f16] {
            try original.saveDiffusersFolder(to: dir, dtype: dtype)
            let loaded = try SDXLPipeline.load(path: dir, tokenizer: TokenizerData.tokenizer, c)
            XCTAssertEqual(loaded.config.vae, original.config.vae)
            let pairs: [(Module, Module)] = [(original.unet, loaded.unet), (original.vae, loaded.vae),
                                             (original.conditioner.clipL, loaded.conditioner.clipL),
                                             (original.conditioner.clipG, loaded.conditioner.clipG)]
            for (a, b) in pairs {
                let bByName = Dictionary(uniqueKeysWithValues: b.namedParameters)
                for (name, t) in a.namedParameters {
                    let u = try XCTUnwrap(bByName[name], name)
                    if dtype == .f32 { assertBitEqual(u, t, name) } else { assertClose(u, t, rtol: 1e-3, name) }
                }
            }
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (dir as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["model"], "temporary folders left behind")
    }
}
