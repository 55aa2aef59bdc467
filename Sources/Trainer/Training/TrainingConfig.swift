import Diffusion
import Foundation

/// A training run as the config file (`sumi train --config FILE.toml`, see docs/TRAINING.md) describes it.
/// Values, with defaults; `TrainingConfig+TOML.swift` reads them, the command line overrides them.
public struct TrainingConfig: Equatable, Codable, Sendable {
    /// `[model]`: which architecture, from which weights.
    public struct Model: Equatable, Codable, Sendable {
        /// "sdxl", "tiny" (`SDXLModelConfig.sdxl` / `.tiny`) or a diffusers folder whose config.json files give the
        /// architecture (relative to the config file); refined by the override tables.
        public var architecture = "sdxl"
        /// Single-file checkpoint or diffusers folder with all four models; nil trains from scratch.
        public var checkpoint: String?
        /// A VAE file that replaces the checkpoint's (or the random) VAE.
        public var vae: String?
        /// CLIP merges file (default: the repository's `models/tokenizer/clip-merges.txt`).
        public var tokenizer: String?
        /// Seed of the from-scratch initialisation.
        public var initSeed: UInt64 = 0
        /// `[model.unet]`, `[model.vae]`, `[model.clip_l]`, `[model.clip_g]`: integer-list / integer overrides.
        public var overrides: [String: [String: [Int]]] = [:]
        public init() {}
    }
    /// `[data]`: the webdataset and its buckets.
    public struct DataSection: Equatable, Codable, Sendable {
        /// Shard pattern with braces (`data/emoji-{000..003}.tar`), relative to the config file.
        public var shards = ""
        /// Bucket area = resolution².
        public var resolution = 1024
        /// Bucket side step in pixels.
        public var bucketStep = 64
        /// Smallest / largest bucket side (default resolution/4 and resolution·2).
        public var minBucketSide: Int?
        public var maxBucketSide: Int?
        public var batchSize = 1
        public var shuffleBuffer = 256
        public var seed: UInt64 = 0
        /// Passes over the data; nil repeats until the step count.
        public var epochs: Int?
        public var randomFlip = false
        /// How latents are obtained, not what is trained: left out of the encoding (`CodingKeys`), so it does not
        /// change `trajectoryHash` and a run can be resumed with or without it.
        public var cacheLatents = false
        /// "center" or "random".
        public var crop = "center"
        /// Smaller images are dropped.
        public var minImageSide: Int?
        /// Replaces the default negative-tag set.
        public var negativeTags: [String]?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case shards, resolution, bucketStep, minBucketSide, maxBucketSide, batchSize, shuffleBuffer, seed, epochs,
                 randomFlip, crop, minImageSide, negativeTags
        }
    }
    /// `[train]`: objective and step settings.
    public struct Train: Equatable, Codable, Sendable {
        public var objective = "denoise"
        public var steps = 1000
        public var seed: UInt64 = 0
        /// "full" or "lora".
        public var mode = "full"
        public var gradientAccumulation = 1
        public var gradientCheckpointing = false
        /// 0 disables clipping.
        public var maxGradNorm = 1.0
        public var captionDropout = 0.0
        public var captionTagDropout = 0.0
        public var keepTokens = 0
        public var minTimestep = 0
        /// nil: 1000.
        public var maxTimestep: Int?
        /// 0 = off.
        public var minSNRGamma = 0.0
        public var debiasedEstimation = false
        public var noiseOffset = 0.0
        public var samplePosterior = false
        /// Autoencoder objective: side of the random crop trained on (nil: whole images).
        public var autoencoderCrop: Int? = 64
        /// Autoencoder objective: weight of the per-element KL term.
        public var klWeight = 1e-4
        public init() {}
    }
    /// `[lora]`.
    public struct LoRA: Equatable, Codable, Sendable {
        public var rank = 8
        public var alpha = 8.0
        /// Module name patterns; nil = the default (DMD2) list.
        public var targets: [String]?
        public var seed: UInt64 = 0
        public init() {}
    }
    /// `[output]`: where results go and how often.
    public struct Output: Equatable, Codable, Sendable {
        /// Run directory (checkpoints/, samples/, metrics.jsonl, exports), relative to the working directory.
        public var dir = "runs/train"
        public var checkpointEvery = 500
        public var keepCheckpoints = 3
        public var sampleEvery = 0
        public var samplePrompts: [String] = []
        public var sampleSteps = 20
        public var sampleSeed: UInt64 = 0
        public var sampleSampler = "euler"
        public var sampleScheduler = "normal"
        public var sampleCFG = 1.0
        public var sampleSize: Int?
        /// What to write at the end: "full" (single-file model), "lora" (kohya LoRA), "diffusers" (a diffusers
        /// folder `model/` with config.json files; after autoencoder training its VAE scaling factor is measured).
        public var export: [String] = []
        /// Extra header metadata for exports and checkpoints.
        public var metadata: [String: String] = [:]
        public init() {}
    }

    public var model = Model()
    public var data = DataSection()
    public var train = Train()
    public var optimizer = OptimizerSettings()
    /// `[optimizer] lr` and `[schedule]`; `schedule.totalSteps` follows `train.steps`.
    public var schedule = LRSchedule(lr: 1e-4, totalSteps: 1000)
    public var lora = LoRA()
    public var output = Output()
    /// The file this came from (error messages, relative paths).
    public var sourcePath = "<config>"

    public init() {}

    /// Hash of everything that shapes the run's trajectory (not the step count, output or cadence settings), so a
    /// checkpoint is only resumed by the configuration that wrote it.
    public var trajectoryHash: String {
        struct Key: Encodable {
            let model: Model, data: DataSection, train: Train, optimizer: OptimizerSettings, lora: LoRA
            let warmup: Int, stages: [LRSchedule.Stage], lr: Double, decay: String, minLR: Double
        }
        var t = train
        t.steps = 0
        let key = Key(model: model, data: data, train: t, optimizer: optimizer, lora: lora, warmup: schedule.warmupSteps,
                      stages: schedule.stages, lr: schedule.lr, decay: schedule.decay.rawValue, minLR: schedule.minLR)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(key)) ?? Data()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(format: "%016llx", h)
    }

    /// A path from the config file, resolved against the file's directory when relative.
    public func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/"), sourcePath != "<config>" else { return path }
        let dir = (sourcePath as NSString).deletingLastPathComponent
        return dir.isEmpty ? path : (dir as NSString).appendingPathComponent(path)
    }
}
