import Diffusion
import Foundation
import Imaging
import Tensor

/// The engine thread's state: the loaded pipeline and LoRA stack. Only the engine thread touches it.
final class EngineWorker {
    let configuration: EngineConfiguration
    unowned let engine: Engine
    /// Set to the model's precision once it is loaded.
    private(set) var compute: Compute
    var pipeline: SDXLPipeline?
    var modelRef = ModelReference(name: "", hash: nil)
    var targets: LoRATargetSpace?
    var parameters: [String: Tensor] = [:]
    let stack = LoRAStack()
    /// UI LoRA id → stack entry id, path and metadata reference.
    var loaded: [Int: (entry: Int, path: String, ref: LoRAReference)] = [:]
    var outputCounter: Int?

    init(configuration: EngineConfiguration, engine: Engine) {
        self.configuration = configuration
        self.engine = engine
        compute = Compute(threads: configuration.threads)
    }

    func run() {
        load()
        while let command = engine.nextCommand() {
            switch command {
            case .generate(let spec): generate(spec)
            case .cancel: break   // the id bookkeeping in `Engine.send` already did it
            case .syncLoRAs(let slots): sync(slots)
            }
        }
    }

    // MARK: - Model

    func load() {
        let c = configuration
        engine.post(.modelLoading("reading weights"))
        do {
            let p: SDXLPipeline
            if c.tinyArchitecture {
                p = try SDXLPipeline.load(path: c.modelPath, tokenizer: c.tokenizer, config: .tiny, width: 64, height: 64, compute)
            } else {
                p = try SDXLPipeline.load(path: c.modelPath, tokenizer: c.tokenizer, compute)
            }
            if let cache = c.hashCachePath {
                engine.post(.modelLoading("hashing"))
                let hash = try? FileHashCache(storePath: cache).shortHash(of: SDXLPipeline.identifyingFile(path: c.modelPath))
                modelRef = ModelReference(name: ModelReference.displayName(path: c.modelPath), hash: hash)
            } else {
                modelRef = ModelReference(name: ModelReference.displayName(path: c.modelPath), hash: nil)
            }
            parameters = LoRAStack.parameters(unet: p.unet, textEncoder: p.conditioner.clipL, textEncoder2: p.conditioner.clipG)
            targets = LoRATargetSpace(parameters: parameters, unetConfig: p.config.unet)
            // Runtime adapters: strength changes act on adapter scales, no weight is rewritten.
            let layers = LoRAStack.layers(unet: p.unet, textEncoder: p.conditioner.clipL, textEncoder2: p.conditioner.clipG)
            // Without runtime support the stack merges deltas before each run instead (see `generate`).
            _ = try? stack.attach(to: layers)
            compute = compute.with(precision: c.precision ?? p.automaticPrecision)
            // With runtime adapters no base weight is ever rewritten: full-size weights can stay f16 between uses,
            // and bf16 layers can keep their packed panels.
            if stack.isAttached {
                if p.prefersHalfWeights { p.keepWeightsInHalf() }
                if compute.usesBF16 { p.freezeWeights() }
            }
            pipeline = p
            engine.post(.modelReady(name: modelRef.name, sizeMultiple: p.config.sizeMultiple, tiny: c.tinyArchitecture))
        } catch {
            engine.post(.modelFailed("\(error)"))
        }
    }

    // MARK: - LoRAs

    /// Loads new LoRAs, drops removed ones and sets every strength and switch.
    func sync(_ slots: [LoRASlot]) {
        guard let targets else { return }
        let wanted = Set(slots.map(\.id))
        for (id, l) in loaded where !wanted.contains(id) {
            stack.remove(l.entry)
            loaded[id] = nil
        }
        for slot in slots {
            if let l = loaded[slot.id], l.path == slot.path {
                stack.setStrength(Float(slot.strength), for: l.entry)
                stack.setEnabled(slot.enabled, for: l.entry)
                loaded[slot.id]?.ref.strength = slot.strength
                continue
            }
            do {
                let network = try LoRANetwork.load(path: slot.path, targets: targets)
                let entry = stack.add(network, strength: Float(slot.strength), enabled: slot.enabled)
                if let why = stack.attachFailures[entry] {
                    stack.remove(entry)
                    engine.post(.loraFailed(id: slot.id, message: "\(slot.path): \(why)"))
                    continue
                }
                let hash = configuration.hashCachePath.flatMap { try? FileHashCache(storePath: $0).shortHash(of: slot.path) }
                let ref = LoRAReference(name: ModelReference.displayName(path: slot.path), hash: hash, strength: slot.strength)
                loaded[slot.id] = (entry, slot.path, ref)
                engine.post(.loraReady(id: slot.id, modules: network.matchedModuleCount, matchedKeys: network.matchedKeyCount,
                                       unmatchedKeys: network.unmatchedKeys.count))
            } catch {
                engine.post(.loraFailed(id: slot.id, message: "\(error)"))
            }
        }
    }

    // MARK: - Generation

    func generate(_ spec: GenerationSpec) {
        guard let pipeline else {
            engine.post(.failed(runID: spec.runID, message: "the model is not loaded"))
            return
        }
        if engine.isCancelled(spec.runID) {
            engine.post(.cancelled(runID: spec.runID))
            return
        }
        sync(spec.loras)
        let start = Date()
        do {
            if !stack.isAttached && stack.hasPendingChanges { try stack.apply(to: parameters, compute: compute) }
            let refs = spec.loras.compactMap { slot -> LoRAReference? in
                guard slot.enabled, slot.strength != 0, var ref = loaded[slot.id]?.ref else { return nil }
                ref.strength = slot.strength
                return ref
            }
            for (i, seed) in spec.seeds.enumerated() {
                var request = GenerationRequest(prompt: spec.prompt, seed: seed)
                request.negativePrompt = spec.negative
                request.sampler = spec.settings.sampler
                request.scheduler = spec.settings.scheduler
                request.steps = spec.settings.steps
                request.cfg = spec.settings.cfg
                request.width = spec.settings.width
                request.height = spec.settings.height
                request.loras = refs
                engine.post(.started(runID: spec.runID, image: i, imageCount: spec.seeds.count, steps: request.steps, seed: seed))
                let job = try pipeline.prepare(request, compute)
                let sampleStart = Date()
                while let step = job.run.next() {
                    if engine.isCancelled(spec.runID) {
                        engine.post(.cancelled(runID: spec.runID))
                        return
                    }
                    let preview = LatentPreview.sdxl.image(step.denoised)
                    engine.post(.step(runID: spec.runID, step: step.index + 1, steps: step.count,
                                      elapsed: Date().timeIntervalSince(sampleStart), preview: preview))
                }
                if engine.isCancelled(spec.runID) {
                    engine.post(.cancelled(runID: spec.runID))
                    return
                }
                engine.post(.phase(runID: spec.runID, "decoding"))
                let result = pipeline.finish(job, sampleSeconds: Date().timeIntervalSince(sampleStart), compute)
                engine.post(.phase(runID: spec.runID, "saving"))
                let path = try nextOutputPath(seed: seed)
                try GenerationOutput.writeImages(result, model: modelRef, to: path, generator: configuration.generator)
                engine.post(.imageDone(runID: spec.runID, image: result.images[0], path: path, seed: seed))
            }
            engine.post(.finished(runID: spec.runID, seconds: Date().timeIntervalSince(start)))
        } catch {
            engine.post(.failed(runID: spec.runID, message: "\(error)"))
        }
    }

    /// `outputs/00012-42.png`: the next number after the highest one already in the folder, then the seed.
    func nextOutputPath(seed: UInt64) throws -> String {
        let dir = configuration.outputDirectory
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StudioError.write(path: dir, reason: error.localizedDescription)
        }
        if outputCounter == nil {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            outputCounter = names.compactMap { name -> Int? in
                guard name.hasSuffix(".png"), let dash = name.firstIndex(of: "-") else { return nil }
                return Int(name[..<dash])
            }.max() ?? 0
        }
        outputCounter! += 1
        var path: String
        repeat {
            path = (dir as NSString).appendingPathComponent(String(format: "%05d-%llu.png", outputCounter!, seed))
            if FileManager.default.fileExists(atPath: path) { outputCounter! += 1 } else { break }
        } while true
        return path
    }
}
