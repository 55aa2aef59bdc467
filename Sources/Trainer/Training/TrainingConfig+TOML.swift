import Foundation
import TOMLKit

// The config file format is documented in docs/TRAINING.md; every key read here is listed there. Unknown keys and
// wrong types are errors naming the file and the dotted key, so a typo never silently trains with a default.

extension TrainingConfig {
    /// Reads a config file.
    public static func load(path: String) throws -> TrainingConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TrainingError.invalidConfig(file: path, key: "-", reason: "cannot read the file")
        }
        return try parse(toml: text, file: path)
    }

    /// Parses config TOML; `file` names the source in errors and anchors relative paths.
    public static func parse(toml text: String, file: String) throws -> TrainingConfig {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw TrainingError.invalidConfig(file: file, key: "line \(e.source.begin.line)", reason: "TOML syntax: \(e.description)")
        }
        var c = TrainingConfig()
        c.sourcePath = file
        let top = Section(root, path: "", file: file)
        if let m = try top.section("model") {
            c.model.architecture = try m.string("architecture") ?? c.model.architecture
            c.model.checkpoint = try m.string("checkpoint")
            c.model.vae = try m.string("vae")
            c.model.tokenizer = try m.string("tokenizer")
            c.model.initSeed = try m.seed("init_seed") ?? 0
            for part in ["unet", "vae_config", "clip_l", "clip_g"] {
                guard let s = try m.section(part) else { continue }
                var values: [String: [Int]] = [:]
                for k in s.table.keys {
                    if let v = try? s.int(k) { values[k] = [v] } else { values[k] = try s.ints(k) ?? [] }
                    try s.checkOverride(part, k)
                }
                c.model.overrides[part] = values
            }
            try m.finish()
        }
        if let d = try top.section("data") {
            c.data.shards = try d.string("shards") ?? ""
            c.data.resolution = try d.positive("resolution") ?? c.data.resolution
            c.data.bucketStep = try d.positive("bucket_step") ?? c.data.bucketStep
            c.data.minBucketSide = try d.positive("min_bucket_side")
            c.data.maxBucketSide = try d.positive("max_bucket_side")
            c.data.batchSize = try d.positive("batch_size") ?? c.data.batchSize
            c.data.shuffleBuffer = try d.positive("shuffle_buffer") ?? c.data.shuffleBuffer
            c.data.seed = try d.seed("seed") ?? 0
            c.data.epochs = try d.positive("epochs")
            c.data.randomFlip = try d.bool("random_flip") ?? false
            c.data.cacheLatents = try d.bool("cache_latents") ?? false
            if c.data.cacheLatents && c.data.randomFlip {
                throw d.bad("cache_latents", "cannot be combined with random_flip (a cached latent would keep one orientation)")
            }
            c.data.crop = try d.choice("crop", ["center", "random"]) ?? "center"
            c.data.minImageSide = try d.positive("min_image_side")
            c.data.negativeTags = try d.strings("negative_tags")
            try d.finish()
        }
        if let t = try top.section("train") {
            c.train.objective = try t.choice("objective", ["denoise", "autoencoder"]) ?? c.train.objective
            c.train.autoencoderCrop = try t.positive("autoencoder_crop") ?? c.train.autoencoderCrop
            c.train.klWeight = try t.nonNegative("kl_weight") ?? c.train.klWeight
            c.train.steps = try t.positive("steps") ?? c.train.steps
            c.train.seed = try t.seed("seed") ?? 0
            c.train.mode = try t.choice("mode", ["full", "lora"]) ?? "full"
            c.train.gradientAccumulation = try t.positive("gradient_accumulation") ?? 1
            c.train.gradientCheckpointing = try t.bool("gradient_checkpointing") ?? false
            c.train.maxGradNorm = try t.nonNegative("max_grad_norm") ?? c.train.maxGradNorm
            c.train.captionDropout = try t.fraction("caption_dropout") ?? 0
            c.train.captionTagDropout = try t.fraction("caption_tag_dropout") ?? 0
            c.train.keepTokens = try t.nonNegativeInt("keep_tokens") ?? 0
            c.train.minTimestep = try t.nonNegativeInt("min_timestep") ?? 0
            c.train.maxTimestep = try t.positive("max_timestep")
            if c.train.minTimestep >= (c.train.maxTimestep ?? 1000) || (c.train.maxTimestep ?? 0) > 1000 {
                throw t.bad("min_timestep", "timesteps \(c.train.minTimestep)..<\(c.train.maxTimestep ?? 1000) must be a non-empty range within 0..<1000")
            }
            c.train.minSNRGamma = try t.nonNegative("min_snr_gamma") ?? 0
            c.train.debiasedEstimation = try t.bool("debiased_estimation") ?? false
            c.train.noiseOffset = try t.nonNegative("noise_offset") ?? 0
            c.train.samplePosterior = try t.bool("sample_posterior") ?? false
            try t.finish()
        }
        if let o = try top.section("optimizer") {
            c.optimizer.kind = OptimizerSettings.Kind(rawValue: try o.choice("type", OptimizerSettings.Kind.allCases.map(\.rawValue)) ?? "adamw")!
            c.schedule.lr = try o.nonNegative("lr") ?? c.schedule.lr
            if let b = try o.doubles("betas") {
                guard b.count == 2, b.allSatisfy({ $0 >= 0 && $0 < 1 }) else { throw o.bad("betas", "expected two numbers in [0, 1)") }
                c.optimizer.beta1 = b[0]; c.optimizer.beta2 = b[1]
            }
            c.optimizer.eps = try o.nonNegative("eps") ?? c.optimizer.eps
            c.optimizer.weightDecay = try o.nonNegative("weight_decay") ?? c.optimizer.weightDecay
            try o.finish()
        }
        if let s = try top.section("schedule") {
            c.schedule.warmupSteps = try s.int("warmup_steps") ?? 0
            if c.schedule.warmupSteps < 0 { throw s.bad("warmup_steps", "must not be negative") }
            c.schedule.decay = LRSchedule.Decay(rawValue: try s.choice("decay", LRSchedule.Decay.allCases.map(\.rawValue)) ?? "constant")!
            c.schedule.minLR = try s.nonNegative("min_lr") ?? 0
            if let stages = try s.tables("stages") {
                c.schedule.stages = try stages.map { st in
                    defer { try? st.finish() }
                    guard let steps = try st.positive("steps") else { throw st.bad("steps", "required") }
                    guard let lr = try st.nonNegative("lr") else { throw st.bad("lr", "required") }
                    let stage = LRSchedule.Stage(name: try st.string("name") ?? "stage\(st.index + 1)", steps: steps, lr: lr)
                    try st.finish()
                    return stage
                }
            }
            try s.finish()
        }
        if let l = try top.section("lora") {
            c.lora.rank = try l.positive("rank") ?? c.lora.rank
            c.lora.alpha = try l.nonNegative("alpha") ?? Double(c.lora.rank)
            c.lora.targets = try l.strings("targets")
            c.lora.seed = try l.seed("seed") ?? 0
            try l.finish()
        }
        if let o = try top.section("output") {
            c.output.dir = try o.string("dir") ?? c.output.dir
            c.output.checkpointEvery = try o.int("checkpoint_every") ?? c.output.checkpointEvery
            c.output.keepCheckpoints = try o.int("keep_checkpoints") ?? c.output.keepCheckpoints
            c.output.sampleEvery = try o.int("sample_every") ?? 0
            c.output.samplePrompts = try o.strings("sample_prompts") ?? []
            c.output.sampleSteps = try o.positive("sample_steps") ?? c.output.sampleSteps
            c.output.sampleSeed = try o.seed("sample_seed") ?? 0
            c.output.sampleSampler = try o.string("sample_sampler") ?? c.output.sampleSampler
            c.output.sampleScheduler = try o.string("sample_scheduler") ?? c.output.sampleScheduler
            c.output.sampleCFG = try o.nonNegative("sample_cfg") ?? 1
            c.output.sampleSize = try o.positive("sample_size")
            for e in try o.strings("export") ?? [] where !["full", "lora", "diffusers"].contains(e) {
                throw o.bad("export", "unknown export \"\(e)\" (full, lora, diffusers)")
            }
            c.output.export = try o.strings("export") ?? []
            if let m = try o.section("metadata") {
                for k in m.table.keys { c.output.metadata[k] = try m.string(k) }
            }
            for k in ["checkpoint_every", "keep_checkpoints", "sample_every"] where (try o.int(k) ?? 0) < 0 {
                throw o.bad(k, "must not be negative")
            }
            try o.finish(also: ["metadata"])
        }
        try top.finish(also: [])
        c.schedule.totalSteps = c.train.steps
        try c.validate()
        return c
    }

    /// Cross-field checks (after command-line overrides too).
    public func validate() throws {
        func bad(_ key: String, _ reason: String) -> TrainingError { .invalidConfig(file: sourcePath, key: key, reason: reason) }
        if data.shards.isEmpty { throw bad("data.shards", "required (a shard path or brace pattern)") }
        if !["denoise", "autoencoder"].contains(train.objective) {
            throw bad("train.objective", "unknown objective \"\(train.objective)\" (denoise, autoencoder)")
        }
        if train.objective == "autoencoder" && train.mode != "full" { throw bad("train.mode", "the autoencoder objective trains the whole VAE (mode = \"full\")") }
        if !["sdxl", "tiny"].contains(model.architecture) {
            let folder = resolve(model.architecture)
            guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("model_index.json")) else {
                throw bad("model.architecture", "\"\(model.architecture)\" is neither sdxl, tiny nor a diffusers folder (no \(folder)/model_index.json)")
            }
        }
        if let p = schedule.problem { throw bad("schedule", p) }
        if output.sampleEvery > 0 && output.samplePrompts.isEmpty { throw bad("output.sample_prompts", "required when sample_every > 0") }
        if output.export.contains("lora") && train.mode != "lora" { throw bad("output.export", "\"lora\" needs train.mode = \"lora\"") }
    }
}

/// One TOML table being read: typed getters that throw errors naming file and dotted key, and a check that
/// every key was understood.
struct Section {
    let table: TOMLTable
    let path: String
    let file: String
    var index = 0
    private let used = Box()
    final class Box { var keys = Set<String>() }

    init(_ table: TOMLTable, path: String, file: String, index: Int = 0) {
        self.table = table; self.path = path; self.file = file; self.index = index
    }

    func full(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func bad(_ key: String, _ reason: String) -> TrainingError { .invalidConfig(file: file, key: full(key), reason: reason) }

    private func value(_ key: String) -> TOMLValueConvertible? {
        used.keys.insert(key)
        return table[key]
    }

    func section(_ key: String) throws -> Section? {
        guard let v = value(key) else { return nil }
        guard let t = v.table else { throw bad(key, "expected a table [\(full(key))]") }
        return Section(t, path: full(key), file: file)
    }
    func tables(_ key: String) throws -> [Section]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw bad(key, "expected an array of tables [[\(full(key))]]") }
        return try a.enumerated().map { i, e in
            guard let t = e.table else { throw bad(key, "item \(i + 1) is not a table") }
            return Section(t, path: "\(full(key))[\(i)]", file: file, index: i)
        }
    }
    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw bad(key, "expected a string") }
        return s
    }
    func choice(_ key: String, _ options: [String]) throws -> String? {
        guard let s = try string(key) else { return nil }
        guard options.contains(s) else { throw bad(key, "\"\(s)\" is not one of \(options.joined(separator: ", "))") }
        return s
    }
    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.int else { throw bad(key, "expected an integer") }
        return i
    }
    func positive(_ key: String) throws -> Int? {
        guard let i = try int(key) else { return nil }
        guard i > 0 else { throw bad(key, "\(i) must be positive") }
        return i
    }
    func nonNegativeInt(_ key: String) throws -> Int? {
        guard let i = try int(key) else { return nil }
        guard i >= 0 else { throw bad(key, "\(i) must not be negative") }
        return i
    }
    func seed(_ key: String) throws -> UInt64? {
        guard let i = try int(key) else { return nil }
        guard i >= 0 else { throw bad(key, "\(i) must not be negative") }
        return UInt64(i)
    }
    func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        if let d = v.double { return d }
        if let i = v.int { return Double(i) }
        throw bad(key, "expected a number")
    }
    func nonNegative(_ key: String) throws -> Double? {
        guard let d = try double(key) else { return nil }
        guard d >= 0, d.isFinite else { throw bad(key, "\(d) must be a non-negative number") }
        return d
    }
    func fraction(_ key: String) throws -> Double? {
        guard let d = try double(key) else { return nil }
        guard d >= 0, d <= 1 else { throw bad(key, "\(d) must be between 0 and 1") }
        return d
    }
    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw bad(key, "expected true or false") }
        return b
    }
    func strings(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw bad(key, "expected an array of strings") }
        return try a.map { e in
            guard let s = e.string else { throw bad(key, "expected an array of strings") }
            return s
        }
    }
    func ints(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw bad(key, "expected an integer or an array of integers") }
        return try a.map { e in
            if let i = e.int { return i }
            if let b = e.bool { return b ? 1 : 0 }
            throw bad(key, "expected an array of integers")
        }
    }
    func doubles(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw bad(key, "expected an array of numbers") }
        return try a.map { e in
            if let d = e.double { return d }
            if let i = e.int { return Double(i) }
            throw bad(key, "expected an array of numbers")
        }
    }
    /// Architecture override keys per part (see `TrainingConfig.modelConfig()`).
    func checkOverride(_ part: String, _ key: String) throws {
        guard let known = ArchitectureOverrides.keys[part], known.contains(key) else {
            throw bad(key, "unknown key (known: \((ArchitectureOverrides.keys[part] ?? []).sorted().joined(separator: ", ")))")
        }
    }
    /// Throws for any key no getter asked for.
    func finish(also: [String] = []) throws {
        for k in table.keys.sorted() where !used.keys.contains(k) && !also.contains(k) {
            throw bad(k, "unknown key")
        }
    }
}
