import ArgumentParser
import Diffusion
import Foundation
import Tensor

/// `sumi generate`: one txt2img / img2img generation from the command line, saved as PNG with A1111-style
/// `parameters` and a `sumi` JSON chunk. Settings come from the flags, then the preset, then DMD2 defaults.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images from a prompt (txt2img, or img2img with --init-image) and save them as PNG.",
        discussion: """
            Reproduces ComfyUI's KSampler on the CPU: the same seed, sampler, scheduler, steps and CFG give ComfyUI's \
            latent. Defaults (no --preset): lcm + simple, 4 steps, CFG 1, 1024x1024 (DMD2). Presets are read from \
            models/presets/NAME.toml; flags override them.
            """)

    @Option(help: "SDXL single-file checkpoint (.safetensors) or diffusers folder (default: the embedded emoji model, models/sumi-emoji, with its `emoji` preset).", completion: .file())
    var model: String?
    @Option(name: .customLong("lora"), help: "LoRA as PATH:STRENGTH (repeatable).")
    var loras: [String] = []
    @Option(name: .customLong("lora-mode"), help: """
        How LoRAs are applied: `merged` (default; deltas added to the weights once, no per-step cost — right for a \
        one-shot run) or `runtime` (unmerged adapters in the forward pass: no merge, base weights untouched, \
        two extra skinny GEMMs per adapted layer and step — what the studio uses so strength changes are instant).
        """)
    var loraMode: String = "merged"
    @Option(help: "The prompt; (word:1.2) emphasis as in ComfyUI.")
    var prompt: String?
    @Option(help: "Negative prompt (used when --cfg is not 1).")
    var negative: String?
    @Option(help: "Seed (default: random, printed).")
    var seed: UInt64?
    @Option(help: "Sampling steps.")
    var steps: Int?
    @Option(help: "Sampler: \(Sampler.allCases.map(\.comfyName).joined(separator: ", ")).")
    var sampler: String?
    @Option(help: "Scheduler: \(Scheduler.allCases.map(\.comfyName).joined(separator: ", ")).")
    var scheduler: String?
    @Option(help: "Classifier-free guidance scale (1 = no negative pass).")
    var cfg: Double?
    @Option(help: "Width in pixels (multiple of 32).")
    var width: Int?
    @Option(help: "Height in pixels (multiple of 32).")
    var height: Int?
    @Option(help: "Output PNG (with --batch N: FILE-1.png … FILE-N.png).", completion: .file())
    var out: String
    @Option(name: .customLong("latent-out"), help: "Also save the final model-space latent (safetensors, key `latent`).")
    var latentOut: String?
    @Option(help: "Initial noise from a safetensors file (key `noise` or its only tensor, [batch, 4, H/8, W/8]).")
    var noise: String?
    @Option(name: .customLong("init-image"), help: "img2img start image (PNG; resized to the output size).")
    var initImage: String?
    @Option(help: "img2img strength in (0, 1] (ComfyUI denoise).")
    var denoise: Double?
    @Option(help: "Images per run (one shared noise tensor, as ComfyUI's batch size).")
    var batch: Int?
    @Option(help: "Preset name (models/presets/NAME.toml) or path to a .toml file.")
    var preset: String?
    @Option(help: "Emphasis syntax of the prompts: comfy or a1111.")
    var syntax: String?
    @Option(help: "CLIP merges file (default: the model folder's tokenizer/merges.txt, else models/tokenizer/clip-merges.txt).")
    var tokenizer: String?
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Flag(name: .customLong("vae-tiling"), help: "Decode in tiles (bounded memory for large images).")
    var vaeTiling = false
    @Flag(name: .customLong("half-weights"), inversion: .prefixedNo,
          help: "Keep UNet and text-encoder weights as f16 between uses: half the resident memory, and no slower (each layer expands into a reused buffer). Default: on for full-size models (over 1 G UNet parameters), off for small ones; the VAE stays fp32.")
    var halfWeights: Bool?
    @Option(help: "Matrix-product precision: auto (bf16 for full-size models on CPUs with AVX512-BF16 when there is room for its cached weight panels, about 2.5 bytes per UNet parameter; fp32 otherwise), fp32, or bf16 (AVX512-BF16 GEMM with fp32 accumulation). Measured on SDXL, 4 steps at 1024²: within 4.9e-3 of fp32, 119 s vs 167 s, 12.3 vs 7.1 GiB peak (BENCHMARKS.md).")
    var precision = "auto"
    @Flag(name: .customLong("no-model-hash"), help: "Skip hashing the model file for the metadata.")
    var noModelHash = false
    @Option(help: .hidden)   // `tiny` runs the test fixtures' tiny architecture; `auto` reads a diffusers folder's configs
    var architecture: String = "auto"

    func run() throws {
        do {
            try generate()
        } catch let error as CleanExit {
            throw error
        } catch {
            FileHandle.standardError.write(Data("sumi generate: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func generate() throws {
        var presetValues = try loadPreset()
        var chosenModel = model ?? presetValues.model
        if chosenModel == nil, let embedded = EmbeddedModelLocation.find() {
            // The embedded model generates with its own preset unless another one was chosen.
            chosenModel = embedded
            if preset == nil { presetValues = try loadPreset(named: "emoji") }
        }
        let modelPath = try unwrap(chosenModel, "--model is required (or a preset with `model`); the embedded model (\(EmbeddedModelLocation.relative)) was not found")
        let loraSpecs = try (loras.isEmpty ? presetValues.loras : loras).map(LoRASpec.init)
        let promptText = try unwrap(prompt ?? presetValues.prompt, "--prompt is required")
        var request = GenerationRequest(prompt: promptText, seed: seed ?? UInt64.random(in: 0..<(1 << 32)))
        request.negativePrompt = negative ?? presetValues.negative ?? ""
        request.steps = steps ?? presetValues.steps ?? request.steps
        request.sampler = try parse(sampler ?? presetValues.sampler, Sampler.self, "sampler") ?? request.sampler
        request.scheduler = try parse(scheduler ?? presetValues.scheduler, Scheduler.self, "scheduler") ?? request.scheduler
        request.syntax = try parse(syntax ?? presetValues.syntax, PromptSyntax.self, "syntax") ?? request.syntax
        request.cfg = cfg ?? presetValues.cfg ?? request.cfg
        request.width = width ?? presetValues.width ?? request.width
        request.height = height ?? presetValues.height ?? request.height
        request.batch = batch ?? presetValues.batch ?? request.batch
        request.denoise = denoise ?? presetValues.denoise ?? request.denoise
        request.vaeTiling = vaeTiling
        if let initImage { request.initImage = try GenerationOutput.readImage(initImage) }
        if let noise { request.noise = try GenerationOutput.readTensor(noise, key: "noise") }
        let config: SDXLModelConfig
        switch architecture {
        case "auto": config = try SDXLPipeline.architecture(path: modelPath)
        case "sdxl": config = .sdxl
        case "tiny": config = .tiny
        default: throw GenerateError("unknown architecture `\(architecture)` (auto, sdxl or tiny)")
        }
        do { try request.validate(for: config) } catch let e as PipelineError {
            // Name the file that supplied a bad noise tensor.
            if let noise, case let .invalidRequest(r) = e, r.hasPrefix("noise") { throw GenerateError("\(noise): \(r)") }
            throw e
        }

        guard precision == "auto" || Precision(rawValue: precision) != nil else {
            throw GenerateError("--precision \(precision): expected auto, fp32 or bf16")
        }
        var c = Compute(threads: threads)
        let log = StatusLine()
        log.line("seed \(request.seed)")
        let merges = try ResourceLocator.merges(modelPath: modelPath, explicit: tokenizer)
        let clipTokenizer = try CLIPTokenizer(mergesPath: merges)
        var t0 = Date()
        log.line("loading \(modelPath)")
        let pipeline = try SDXLPipeline.load(path: modelPath, tokenizer: clipTokenizer, config: config,
                                             width: request.width, height: request.height, c)
        log.line(String(format: "loaded in %.1f s", Date().timeIntervalSince(t0)))
        let hash = noModelHash ? nil : try modelHash(modelPath, log)
        let modelRef = ModelReference(name: ModelReference.displayName(path: modelPath), hash: hash)
        request.loras = try applyLoRAs(loraSpecs, to: pipeline, config: config, log, c)
        if halfWeights ?? pipeline.prefersHalfWeights {
            // After the LoRA merge, so deltas are added in fp32 and then rounded once (as ComfyUI casts merged weights).
            pipeline.keepWeightsInHalf()
        }
        c = c.with(precision: Precision(rawValue: precision) ?? pipeline.automaticPrecision)
        // The weights no longer change (LoRAs are merged): let each bf16 layer keep its packed panels.
        if c.usesBF16 { pipeline.freezeWeights() }
        log.line("precision \(c.usesBF16 ? "bf16" : "fp32")")

        t0 = Date()
        let job = try pipeline.prepare(request, c)
        log.line(String(format: "prompts encoded in %.1f s", job.encodeSeconds))
        // One image and done: free each model as soon as this run has finished with it, so the UNet never sits
        // beside the text encoders' weights nor the decode's activations (full-size SDXL at 1024², f16 weights: 9.6 → 6.9 GiB peak).
        pipeline.discardTextEncoders()
        let bar = ProgressBar(total: job.run.stepCount, status: log)
        let sampleStart = Date()
        while let step = job.run.next() {
            bar.update(step: step.index + 1, elapsed: Date().timeIntervalSince(sampleStart), sigma: step.sigma)
        }
        let sampleSeconds = Date().timeIntervalSince(sampleStart)
        bar.finish()
        pipeline.discardUNet()
        log.line("decoding")
        let result = pipeline.finish(job, sampleSeconds: sampleSeconds, c)
        let generator = "sumi \(Sumi.configuration.version)"
        for file in [out] + (latentOut.map { [$0] } ?? []) {
            let dir = (file as NSString).deletingLastPathComponent
            if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        }
        let paths = try GenerationOutput.writeImages(result, model: modelRef, to: out, generator: generator)
        paths.forEach { print($0) }
        if let latentOut {
            let meta = GenerationMetadata(request: request, model: modelRef, generator: generator)
            try GenerationOutput.writeLatent(result.latent, to: latentOut, metadata: ["sumi": meta.json])
            print(latentOut)
        }
        log.line(String(format: "done in %.1f s (encode %.1f s, sample %.1f s, decode %.1f s)",
                        Date().timeIntervalSince(t0), result.timings.encode, result.timings.sample, result.timings.decode))
    }

    private func loadPreset(named name: String? = nil) throws -> GenerationPreset {
        guard let preset = name ?? preset else { return GenerationPreset() }
        let dirs = ResourceLocator.candidates("models/presets")
        guard let path = GenerationPreset.locate(preset, in: dirs) else {
            throw GenerateError("preset `\(preset)` not found (looked in \(dirs.joined(separator: ", ")))")
        }
        return try GenerationPreset(path: path)
    }


    private func modelHash(_ modelPath: String, _ log: StatusLine) throws -> String {
        let cache = FileHashCache(storePath: hashCachePath)
        let t0 = Date()
        let hash = try cache.shortHash(of: SDXLPipeline.identifyingFile(path: modelPath))
        let seconds = Date().timeIntervalSince(t0)
        if seconds > 1 { log.line(String(format: "model hash %@ (%.1f s, cached from now on)", hash, seconds)) }
        return hash
    }

    /// Loads each LoRA, lists keys that match nothing (never dropped silently), merges the stack into the
    /// loaded weights (or attaches it as runtime adapters with `--lora-mode runtime`), and returns the references
    /// recorded in the image metadata. Rule: one-shot generation merges — a merge of a rank-64 SDXL LoRA costs a few
    /// seconds once, while unmerged adapters cost extra GEMMs at every step (see BENCHMARKS.md "LoRA strength
    /// change"); runtime adapters pay off only when strengths change between generations (the studio).
    private func applyLoRAs(_ specs: [LoRASpec], to pipeline: SDXLPipeline, config: SDXLModelConfig,
                            _ log: StatusLine, _ c: Compute) throws -> [LoRAReference] {
        guard !specs.isEmpty else { return [] }
        guard ["merged", "runtime"].contains(loraMode) else { throw GenerateError("unknown --lora-mode `\(loraMode)` (merged or runtime)") }
        let parameters = LoRAStack.parameters(unet: pipeline.unet, textEncoder: pipeline.conditioner.clipL,
                                              textEncoder2: pipeline.conditioner.clipG)
        let targets = LoRATargetSpace(parameters: parameters, unetConfig: config.unet)
        let stack = LoRAStack()
        var refs: [LoRAReference] = []
        for spec in specs {
            let network = try LoRANetwork.load(path: spec.path, targets: targets)
            let name = ModelReference.displayName(path: spec.path)
            log.line("LoRA \(name): \(network.matchedModuleCount) modules at strength \(spec.strength)")
            if !network.unmatchedKeys.isEmpty {
                let shown = network.unmatchedKeys.prefix(8).joined(separator: ", ")
                log.line("warning: \(spec.path): \(network.unmatchedKeys.count) key(s) match nothing: \(shown)"
                         + (network.unmatchedKeys.count > 8 ? ", …" : ""))
            }
            _ = stack.add(network, strength: Float(spec.strength))
            let hash = noModelHash ? nil : try FileHashCache(storePath: hashCachePath).shortHash(of: spec.path)
            refs.append(LoRAReference(name: name, hash: hash, strength: spec.strength))
        }
        if loraMode == "runtime" {
            let count = try stack.attach(to: LoRAStack.layers(unet: pipeline.unet, textEncoder: pipeline.conditioner.clipL,
                                                              textEncoder2: pipeline.conditioner.clipG))
            log.line("LoRAs attached as \(count) runtime adapters")
            return refs
        }
        let report = try stack.apply(to: parameters, compute: c)
        log.line(String(format: "LoRAs merged into %d weights in %.1f s", report.weightsUpdated, report.seconds))
        return refs
    }

    private var hashCachePath: String {
        let home = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"]
            ?? ((ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()) as NSString).appendingPathComponent(".cache")
        return (home as NSString).appendingPathComponent("sumi/hashes.json")
    }

    private func unwrap<T>(_ value: T?, _ message: String) throws -> T {
        guard let value else { throw GenerateError(message) }
        return value
    }

    private func parse<T: RawRepresentable & CaseIterable>(_ name: String?, _: T.Type, _ what: String) throws -> T?
    where T.RawValue == String {
        guard let name else { return nil }
        guard let v = T(rawValue: name) else {
            throw GenerateError("unknown \(what) `\(name)` (one of: \(T.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return v
    }
}

/// A one-line error of the generate command.
struct GenerateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `PATH:STRENGTH` (strength 1 when there is no numeric suffix).
struct LoRASpec {
    let path: String
    let strength: Double

    init(_ spec: String) throws {
        if let colon = spec.lastIndex(of: ":"), let s = Double(spec[spec.index(after: colon)...]) {
            path = String(spec[..<colon])
            strength = s
        } else {
            path = spec
            strength = 1
        }
        guard FileManager.default.fileExists(atPath: path) else { throw GenerateError("\(path): no such LoRA file") }
    }
}

/// Finds data folders of the repository (presets, tokenizer) from the working directory or the executable.
enum ResourceLocator {
    /// `relative` under the working directory and under each ancestor of the executable (a build lives at
    /// `<repo>/.build/<triple>/release/sumi`), existing folders first.
    static func candidates(_ relative: String) -> [String] {
        var roots = [FileManager.default.currentDirectoryPath]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            roots.append(dir.path)
            dir.deleteLastPathComponent()
        }
        var seen = Set<String>()
        let all = roots.map { ($0 as NSString).appendingPathComponent(relative) }.filter { seen.insert($0).inserted }
        return all.filter { FileManager.default.fileExists(atPath: $0) } + all.filter { !FileManager.default.fileExists(atPath: $0) }
    }
    /// The CLIP merges file: `explicit` (checked), else the model folder's `tokenizer/merges.txt`, else the
    /// repository's `models/tokenizer/clip-merges.txt`.
    static func merges(modelPath: String, explicit: String?) throws -> String {
        if let explicit {
            guard FileManager.default.fileExists(atPath: explicit) else { throw GenerateError("\(explicit): no such file") }
            return explicit
        }
        let inFolder = (modelPath as NSString).appendingPathComponent("tokenizer/merges.txt")
        if FileManager.default.fileExists(atPath: inFolder) { return inFolder }
        let candidates = candidates("models/tokenizer").map { ($0 as NSString).appendingPathComponent("clip-merges.txt") }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw GenerateError("CLIP merges file not found (pass --tokenizer; looked for \(candidates.joined(separator: ", ")))")
        }
        return found
    }
}

/// Status messages on stderr (stdout carries only the written paths).
final class StatusLine {
    let isTerminal = isatty(STDERR_FILENO) != 0

    func line(_ s: String) { write(s + "\n") }
    func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}

/// A sampling progress bar with steps per second; redrawn in place on a terminal, one line per step otherwise.
struct ProgressBar {
    let total: Int
    let status: StatusLine
    let width = 24

    func update(step: Int, elapsed: Double, sigma: Float) {
        let filled = total > 0 ? width * step / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let rate = elapsed > 0 ? Double(step) / elapsed : 0
        let speed = rate >= 1 || rate == 0 ? String(format: "%.2f it/s", rate) : String(format: "%.1f s/it", 1 / rate)
        let text = String(format: "sampling %@ %d/%d  %@  σ %.3f", bar, step, total, speed, sigma)
        if status.isTerminal { status.write("\r\u{1B}[2K" + text) } else { status.line(text) }
    }

    func finish() {
        if status.isTerminal { status.write("\n") }
    }
}
