import Checkpoint
import Diffusion
import Foundation
import Imaging
import Tensor

/// A training run assembled from a `TrainingConfig`: the four SDXL models (loaded from a checkpoint or initialised
/// from scratch), the objective, the dataset, the loop (with metrics file, checkpoints and a sampler), and the
/// exports at the end. The command line (`sumi train`) and the studio both drive it.
///
/// Run directory layout (`output.dir`): `checkpoints/step-…/` + `checkpoints/latest`, `metrics.jsonl`,
/// `samples/step-…-<i>.png`, and the exports `model.safetensors` / `lora.safetensors`.
public final class TrainingSession {
    /// The configuration (after command-line overrides).
    public let config: TrainingConfig
    /// The architecture.
    public let modelConfig: SDXLModelConfig
    /// Tokenizer and the frozen text encoders.
    public let conditioner: SDXLConditioner
    /// The denoiser.
    public let unet: UNet
    /// The autoencoder.
    public let vae: AutoencoderKL
    /// The LoRA being trained (`train.mode = "lora"`), attached to the UNet's layers.
    public let lora: TrainableLoRA?
    /// The objective: `DenoisingObjective` (train.objective = "denoise") or `AutoencoderObjective` ("autoencoder").
    public let objective: TrainingObjective
    /// The loop.
    public let loop: TrainingLoop
    /// `output.dir`.
    public let runDirectory: String

    /// Builds everything (loads or initialises the models; nothing trains yet). `searchRoots` are the folders in
    /// which `models/tokenizer/clip-merges.txt` is looked for when the config names no tokenizer. `log` receives
    /// one-line progress notes.
    public init(config: TrainingConfig, compute: Compute, searchRoots: [String] = [],
                log: (String) -> Void = { _ in }) throws {
        self.config = config
        try config.validate()
        let mc = try ArchitectureOverrides.modelConfig(config)
        modelConfig = mc
        runDirectory = config.output.dir
        let tokenizer = try CLIPTokenizer(mergesPath: try Self.locateTokenizer(config, searchRoots: searchRoots))

        let clipL: CLIPTextModel, clipG: CLIPTextModel
        if let ckpt = config.model.checkpoint {
            let path = config.resolve(ckpt)
            log("loading \(path)")
            let p = try SDXLPipeline.load(path: path, tokenizer: tokenizer, config: mc, width: config.data.resolution,
                                          height: config.data.resolution, compute)
            (clipL, clipG, unet, vae) = (p.conditioner.clipL, p.conditioner.clipG, p.unet, p.vae)
        } else {
            log("initialising \(config.model.architecture) models from seed \(config.model.initSeed)")
            clipL = CLIPTextModel(mc.clipL); clipG = CLIPTextModel(mc.clipG)
            unet = UNet(config: mc.unet); vae = AutoencoderKL(mc.vae)
            for (k, m) in [unet, vae, clipL, clipG].enumerated() as EnumeratedSequence<[Module]> {
                var rng = TorchGenerator(seed: TrainingLoop.stepSeed(config.model.initSeed, 1_000_000 + k))
                ModelInitializer.initialize(m, rng: &rng)
            }
        }
        if let vaePath = config.model.vae {
            let path = config.resolve(vaePath)
            let file = try SafeTensorsFile(path: path)
            guard let found = AutoencoderKL.detectLayout(in: file) else {
                throw TrainingError.invalidConfig(file: config.sourcePath, key: "model.vae", reason: "\(path) holds no VAE")
            }
            try vae.load(from: file, layout: found.layout, prefix: found.prefix)
        }
        conditioner = SDXLConditioner(tokenizer: tokenizer, clipL: clipL, clipG: clipG)

        var options = DenoisingObjective.Options()
        options.captionDropout = config.train.captionDropout
        options.noiseOffset = Float(config.train.noiseOffset)
        options.captionTagDropout = config.train.captionTagDropout
        options.keepTokens = config.train.keepTokens
        options.minTimestep = config.train.minTimestep
        options.maxTimestep = config.train.maxTimestep
        options.minSNRGamma = Float(config.train.minSNRGamma)
        options.debiasedEstimation = config.train.debiasedEstimation
        options.gradientCheckpointing = config.train.gradientCheckpointing
        options.samplePosterior = config.train.samplePosterior
        if config.train.mode == "lora" {
            let l = config.lora
            let patterns = l.targets ?? TrainableLoRA.dmd2Targets
            let paths = unet.adaptableLayers().keys.map { String($0.dropLast(".weight".count)) }
            guard paths.contains(where: { p in patterns.contains { p == $0 || p.hasSuffix("." + $0) } }) else {
                throw TrainingError.invalidConfig(file: config.sourcePath, key: "lora.targets",
                                                  reason: "no UNet layer matches \(patterns)")
            }
            lora = TrainableLoRA(model: unet, component: .unet, rank: l.rank, alpha: Float(l.alpha),
                                 targets: patterns, seed: l.seed)
        } else {
            lora = nil
        }
        if config.train.objective == "autoencoder" {
            var ae = AutoencoderObjective.Options()
            ae.cropSize = config.train.autoencoderCrop
            ae.klWeight = Float(config.train.klWeight)
            ae.gradientCheckpointing = config.train.gradientCheckpointing
            objective = AutoencoderObjective(vae: vae, options: ae)
        } else {
            objective = DenoisingObjective(unet: unet, conditioner: conditioner, vae: vae, options: options,
                                           adapterParameters: lora?.parameters, encodeThreads: max(1, compute.threads / 2))
        }

        var settings = TrainingLoopSettings(totalSteps: config.train.steps, lr: config.schedule.lr)
        settings.seed = config.train.seed
        settings.optimizer = config.optimizer
        settings.schedule = config.schedule
        settings.schedule.totalSteps = config.train.steps
        settings.gradientAccumulation = config.train.gradientAccumulation
        settings.maxGradNorm = config.train.maxGradNorm > 0 ? config.train.maxGradNorm : nil
        settings.checkpointDirectory = (runDirectory as NSString).appendingPathComponent("checkpoints")
        settings.checkpointEvery = config.output.checkpointEvery
        settings.keepCheckpoints = config.output.keepCheckpoints
        settings.metricsPath = (runDirectory as NSString).appendingPathComponent("metrics.jsonl")
        settings.sampleEvery = config.output.sampleEvery
        settings.configHash = config.trajectoryHash
        settings.metadata = config.output.metadata
        loop = try TrainingLoop(objectives: [objective], settings: settings, data: try Self.dataset(config, mc), compute: compute)
        if !config.output.samplePrompts.isEmpty {
            let pipeline = SDXLPipeline(config: mc, tokenizer: tokenizer, clipL: clipL, clipG: clipG, unet: unet, vae: vae)
            let dir = (runDirectory as NSString).appendingPathComponent("samples")
            loop.sampler = { [config] step in try Self.sample(pipeline, config: config, step: step, directory: dir, compute) }
        }
    }

    /// The webdataset configuration of `config.data` (buckets sized for the model's size multiple).
    public static func dataset(_ config: TrainingConfig, _ mc: SDXLModelConfig) throws -> WebDatasetConfig {
        let d = config.data
        func bad(_ key: String, _ r: String) -> TrainingError { .invalidConfig(file: config.sourcePath, key: "data.\(key)", reason: r) }
        var w: WebDatasetConfig
        do { w = try WebDatasetConfig(pattern: config.resolve(d.shards)) } catch { throw bad("shards", "\(error)") }
        guard d.bucketStep % mc.sizeMultiple == 0 else {
            throw bad("bucket_step", "\(d.bucketStep) must be a multiple of \(mc.sizeMultiple) (the model's size multiple)")
        }
        let minSide = d.minBucketSide ?? max(d.bucketStep, d.resolution / 4 / d.bucketStep * d.bucketStep)
        let maxSide = d.maxBucketSide ?? d.resolution * 2
        guard minSide % d.bucketStep == 0, maxSide >= minSide, d.resolution >= minSide else {
            throw bad("min_bucket_side", "bucket sides \(minSide)…\(maxSide) must be multiples of \(d.bucketStep) around \(d.resolution)")
        }
        w.buckets = BucketList.kohya(area: d.resolution * d.resolution, minSide: minSide, maxSide: maxSide, step: d.bucketStep)
        w.batchSize = d.batchSize
        w.seed = d.seed
        w.epochs = d.epochs
        w.shuffleBufferSize = d.shuffleBuffer
        w.shuffleInitial = max(1, min(w.shuffleInitial, d.shuffleBuffer / 4))
        w.randomFlip = d.randomFlip
        w.cacheLatents = d.cacheLatents
        w.cropMode = d.crop == "random" ? .random : .center
        w.minimumImageSide = d.minImageSide ?? min(w.minimumImageSide, minSide)
        if let tags = d.negativeTags { w.tagFilter = TagFilter(negativeTags: tags) }
        do { try w.validate() } catch { throw bad("shards", "\(error)") }
        return w
    }

    /// Resumes from the run's latest checkpoint; false when there is none.
    public func resume() throws -> Bool { try loop.resumeLatest() }

    /// Writes the exports `output.export` asks for; returns their paths.
    public func export(_ c: Compute) throws -> [String] {
        var paths: [String] = []
        var meta = config.output.metadata
        meta["sumi.training.steps"] = String(loop.step)
        meta["sumi.training.config_hash"] = config.trajectoryHash
        meta["sumi.training.architecture"] = config.model.architecture
        if config.output.export.contains("diffusers") {
            var mc = modelConfig
            if let ae = objective as? AutoencoderObjective {
                mc.vae.scalingFactor = try calibrateScalingFactor(ae, c)
            }
            let path = (runDirectory as NSString).appendingPathComponent("model")
            try SDXLPipeline.saveDiffusersFolder(config: mc, clipL: conditioner.clipL, clipG: conditioner.clipG, unet: unet,
                                                 vae: vae, to: path, metadata: meta)
            paths.append(path)
        }
        if config.output.export.contains("full") {
            let path = (runDirectory as NSString).appendingPathComponent("model.safetensors")
            try ModelExport.writeSingleFile(path: path, unet: unet, vae: vae, clipL: conditioner.clipL, clipG: conditioner.clipG,
                                            metadata: meta)
            paths.append(path)
        }
        if config.output.export.contains("lora"), let lora {
            let path = (runDirectory as NSString).appendingPathComponent("lora.safetensors")
            try lora.exportKohya(path: path, metadata: meta)
            paths.append(path)
        }
        return paths
    }

    /// The VAE scaling factor that makes model-space latents unit-variance, measured over the first (up to) 512
    /// images of the dataset in its own order (whole images, posterior means).
    func calibrateScalingFactor(_ objective: AutoencoderObjective, _ c: Compute) throws -> Float {
        var data = try Self.dataset(config, modelConfig)
        data.epochs = 1
        data.emitPartialBatches = true
        let loader = try LatentBatchLoader(config: data, encode: { $0 })
        defer { loader.stop() }
        var batches: [Tensor] = [], count = 0
        while count < 512, let batch = try loader.next() {
            batches.append(batch.latents)
            count += batch.latents.dim(0)
        }
        guard !batches.isEmpty else {
            throw TrainingError.invalidConfig(file: config.sourcePath, key: "data.shards", reason: "no images to measure the VAE scaling factor on")
        }
        return objective.scalingFactor(for: batches, c.inference)
    }

    /// One image per sample prompt at `step`; returns the written paths.
    static func sample(_ pipeline: SDXLPipeline, config: TrainingConfig, step: Int, directory: String,
                       _ c: Compute) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let o = config.output
        var paths: [String] = []
        for (i, prompt) in o.samplePrompts.enumerated() {
            var r = GenerationRequest(prompt: prompt, seed: o.sampleSeed &+ UInt64(i))
            r.steps = o.sampleSteps
            r.cfg = o.sampleCFG
            r.width = o.sampleSize ?? config.data.resolution
            r.height = r.width
            guard let s = Sampler(rawValue: o.sampleSampler) else {
                throw TrainingError.invalidConfig(file: config.sourcePath, key: "output.sample_sampler", reason: "unknown sampler \(o.sampleSampler)")
            }
            guard let sch = Scheduler(rawValue: o.sampleScheduler) else {
                throw TrainingError.invalidConfig(file: config.sourcePath, key: "output.sample_scheduler", reason: "unknown scheduler \(o.sampleScheduler)")
            }
            r.sampler = s
            r.scheduler = sch
            let result = try pipeline.generate(r, c)
            let path = (directory as NSString).appendingPathComponent(String(format: "step-%08d-%d.png", step, i))
            try PNG.write(result.images[0], text: [(key: "parameters", value: "\(prompt)\nStep: \(step), Seed: \(r.seed)")], to: path)
            paths.append(path)
        }
        return paths
    }

    /// The merges file: the config's, else `models/tokenizer/clip-merges.txt` next to the config file, in the
    /// working directory or under one of `searchRoots`.
    static func locateTokenizer(_ config: TrainingConfig, searchRoots: [String]) throws -> String {
        if let t = config.model.tokenizer {
            let p = config.resolve(t)
            guard FileManager.default.fileExists(atPath: p) else {
                throw TrainingError.invalidConfig(file: config.sourcePath, key: "model.tokenizer", reason: "\(p): no such file")
            }
            return p
        }
        let rel = "models/tokenizer/clip-merges.txt"
        var roots = [FileManager.default.currentDirectoryPath] + searchRoots
        if config.sourcePath != "<config>" {
            var dir = (config.sourcePath as NSString).deletingLastPathComponent
            for _ in 0..<4 { roots.append(dir.isEmpty ? "." : dir); dir = (dir as NSString).deletingLastPathComponent }
        }
        let candidates = roots.map { ($0 as NSString).appendingPathComponent(rel) }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw TrainingError.invalidConfig(file: config.sourcePath, key: "model.tokenizer",
                                              reason: "CLIP merges file not found (looked for \(candidates.joined(separator: ", ")))")
        }
        return found
    }
}
