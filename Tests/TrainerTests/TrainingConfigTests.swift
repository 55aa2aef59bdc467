import Checkpoint
import Diffusion
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Trainer

/// Config parsing, overrides and one-line errors; the single-file export read back by the pipeline loader.
final class TrainingConfigTests: XCTestCase {
    func testParsesEverySectionAndArchitectureOverrides() throws {
        let c = try TrainingConfig.parse(toml: """
            [model]
            architecture = "tiny"
            init_seed = 5
            [model.unet]
            block_channels = [16, 32]
            layers_per_block = 1
            attention = [false, true]
            transformer_depth = [0, 2]
            heads = [0, 4]
            [model.clip_l]
            layers = 2
            [data]
            shards = "data/s-{0..3}.tar"
            resolution = 128
            bucket_step = 32
            batch_size = 8
            crop = "random"
            negative_tags = ["bad"]
            [train]
            steps = 300
            mode = "lora"
            caption_dropout = 0.1
            caption_tag_dropout = 0.5
            keep_tokens = 1
            min_timestep = 500
            max_timestep = 900
            min_snr_gamma = 5
            debiased_estimation = true
            noise_offset = 0.05
            max_grad_norm = 0
            [optimizer]
            type = "adamw8bit"
            lr = 2e-4
            betas = [0.8, 0.99]
            weight_decay = 0
            [schedule]
            warmup_steps = 10
            decay = "cosine"
            min_lr = 1e-6
            [[schedule.stages]]
            name = "fast"
            steps = 100
            lr = 1e-3
            [[schedule.stages]]
            steps = 50
            lr = 5e-4
            [lora]
            rank = 16
            [output]
            dir = "runs/x"
            export = ["lora"]
            [output.metadata]
            author = "me"
            """, file: "/cfg/run.toml")
        XCTAssertEqual(c.model.architecture, "tiny")
        XCTAssertEqual(c.model.initSeed, 5)
        XCTAssertEqual(c.resolve(c.data.shards), "/cfg/data/s-{0..3}.tar")
        XCTAssertEqual(c.data.batchSize, 8)
        XCTAssertEqual(c.data.crop, "random")
        XCTAssertEqual(c.train.mode, "lora")
        XCTAssertEqual(c.train.maxGradNorm, 0)
        XCTAssertEqual(c.train.captionTagDropout, 0.5)
        XCTAssertEqual(c.train.keepTokens, 1)
        XCTAssertEqual(c.train.minTimestep, 500)
        XCTAssertEqual(c.train.maxTimestep, 900)
        XCTAssertEqual(c.train.minSNRGamma, 5)
        XCTAssertTrue(c.train.debiasedEstimation)
        XCTAssertEqual(c.optimizer.kind, .adamw8bit)
        XCTAssertEqual(c.optimizer.beta1, 0.8)
        XCTAssertEqual(c.schedule.lr, 2e-4)
        XCTAssertEqual(c.schedule.totalSteps, 300)
        XCTAssertEqual(c.schedule.stages, [.init(name: "fast", steps: 100, lr: 1e-3), .init(name: "stage2", steps: 50, lr: 5e-4)])
        XCTAssertEqual(c.schedule.decay, .cosine)
        XCTAssertEqual(c.lora.rank, 16)
        XCTAssertEqual(c.lora.alpha, 16, "alpha defaults to the rank")
        XCTAssertEqual(c.output.metadata, ["author": "me"])
        let mc = try ArchitectureOverrides.modelConfig(c)
        XCTAssertEqual(mc.unet.blockChannels, [16, 32])
        XCTAssertEqual(mc.unet.transformerDepth, [0, 2])
        XCTAssertEqual(mc.unet.crossAttentionDim, mc.clipL.width + mc.clipG.width)
        XCTAssertEqual(mc.clipL.layers, 2)
        XCTAssertEqual(mc.vae, SDXLModelConfig.tiny.vae)
        // The trajectory hash ignores the step count and output settings, not the learning rate.
        var d = c
        d.train.steps = 999; d.output.dir = "elsewhere"; d.output.checkpointEvery = 7
        XCTAssertEqual(d.trajectoryHash, c.trajectoryHash)
        d.schedule.lr = 1e-4
        XCTAssertNotEqual(d.trajectoryHash, c.trajectoryHash)
    }

    func testErrorsNameFileAndKey() throws {
        func error(_ toml: String) -> String {
            do { _ = try TrainingConfig.parse(toml: toml, file: "bad.toml"); return "no error" } catch { return "\(error)" }
        }
        let shards = "[data]\nshards = \"x.tar\"\n"
        XCTAssertEqual(error(shards + "[train]\nstep = 3"), "bad.toml: train.step: unknown key")
        XCTAssertEqual(error(shards + "[train]\nsteps = \"many\""), "bad.toml: train.steps: expected an integer")
        XCTAssertEqual(error(shards + "[train]\nsteps = 0"), "bad.toml: train.steps: 0 must be positive")
        XCTAssertEqual(error(shards + "[optimizer]\ntype = \"sgd\""), "bad.toml: optimizer.type: \"sgd\" is not one of adamw, adamw8bit")
        XCTAssertEqual(error(shards + "[optimizer]\nbetas = [0.9]"), "bad.toml: optimizer.betas: expected two numbers in [0, 1)")
        XCTAssertEqual(error(shards + "[train]\ncaption_dropout = 1.5"), "bad.toml: train.caption_dropout: 1.5 must be between 0 and 1")
        var cached = try TrainingConfig.parse(toml: shards + "cache_latents = true", file: "/c.toml")
        XCTAssertTrue(cached.data.cacheLatents)
        XCTAssertEqual(cached.trajectoryHash, try TrainingConfig.parse(toml: shards, file: "/c.toml").trajectoryHash,
                       "caching latents does not change what is trained, so resume accepts either")
        cached.data.batchSize += 1
        XCTAssertNotEqual(cached.trajectoryHash, try TrainingConfig.parse(toml: shards, file: "/c.toml").trajectoryHash)
        XCTAssertEqual(error(shards + "cache_latents = true\nrandom_flip = true"),
                       "bad.toml: data.cache_latents: cannot be combined with random_flip (a cached latent would keep one orientation)")
        XCTAssertEqual(error(shards + "[train]\nkeep_tokens = -1"), "bad.toml: train.keep_tokens: -1 must not be negative")
        XCTAssertEqual(error(shards + "[train]\nmin_timestep = 900\nmax_timestep = 500"),
                       "bad.toml: train.min_timestep: timesteps 900..<500 must be a non-empty range within 0..<1000")
        XCTAssertEqual(error(shards + "[[schedule.stages]]\nlr = 1e-4"), "bad.toml: schedule.stages[0].steps: required")
        XCTAssertEqual(error(shards + "[model.unet]\nwidth = 3"), "bad.toml: model.unet.width: unknown key (known: addition_time_embed_dim, attention, block_channels, heads, layers_per_block, norm_groups, transformer_depth)")
        XCTAssertEqual(error("[train]\nsteps = 3"), "bad.toml: data.shards: required (a shard path or brace pattern)")
        XCTAssertEqual(error(shards + "[output]\nexport = [\"lora\"]"), "bad.toml: output.export: \"lora\" needs train.mode = \"lora\"")
        XCTAssertEqual(error("colour = 1\n" + shards), "bad.toml: colour: unknown key")
        XCTAssertEqual(error(shards + "colour = 1"), "bad.toml: data.colour: unknown key")
        XCTAssertTrue(error("[train\nsteps = 3").hasPrefix("bad.toml: line 1: TOML syntax"), error("[train\nsteps = 3"))
        XCTAssertEqual(error(shards + "[model]\narchitecture = \"sdxl\"\n[model.unet]\nblock_channels = [320, 640]"),
                       "no error", "parsing accepts it; the architecture check below refuses it")
        var c = TrainingConfig()
        c.sourcePath = "bad.toml"
        c.model.overrides = ["unet": ["block_channels": [320, 640]]]
        XCTAssertThrowsError(try ArchitectureOverrides.modelConfig(c)) { e in
            XCTAssertEqual("\(e)", "bad.toml: model.unet.block_channels: block_channels, attention, transformer_depth and heads need one entry per level (2)")
        }
        XCTAssertEqual("\(TrainingError.noCheckpoint(directory: "runs/x"))", "runs/x: no checkpoint to resume (no `latest` file)")
    }

    func testSingleFileExportLoadsBackIntoThePipeline() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mc = SDXLModelConfig.tiny
        let unet = UNet(config: mc.unet), vae = AutoencoderKL(mc.vae)
        let l = CLIPTextModel(mc.clipL), g = CLIPTextModel(mc.clipG)
        for (k, m) in ([unet, vae, l, g] as [Module]).enumerated() {
            var rng = TorchGenerator(seed: UInt64(k))
            ModelInitializer.initialize(m, rng: &rng)
        }
        let path = dir + "/model.safetensors"
        try ModelExport.writeSingleFile(path: path, unet: unet, vae: vae, clipL: l, clipG: g, metadata: ["sumi.test": "1"])
        XCTAssertEqual(try SafeTensorsFile(path: path).metadata["sumi.test"], "1")
        let tokenizer = try CLIPTokenizer(mergesPath: TrainingResumeTests.merges)
        let p = try SDXLPipeline.load(path: path, tokenizer: tokenizer, config: mc, available: nil, Compute(threads: 2))
        let pairs: [(Module, Module)] = [(unet, p.unet), (vae, p.vae), (l, p.conditioner.clipL), (g, p.conditioner.clipG)]
        for (a, b) in pairs {
            XCTAssertEqual(a.namedParameters.map(\.0), b.namedParameters.map(\.0))
            for ((n, x), (_, y)) in zip(a.namedParameters, b.namedParameters) { assertBitEqual(y, x, n) }
        }
    }
}
