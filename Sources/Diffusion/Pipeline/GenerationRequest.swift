import Foundation
import Tensor

/// A LoRA applied to a generation, as recorded in image metadata.
public struct LoRAReference: Codable, Equatable, Sendable {
    /// File name without extension (what A1111 and ComfyUI show).
    public var name: String
    /// First 10 hex digits of the file's SHA-256 (A1111's short hash), when known.
    public var hash: String?
    /// Strength multiplier.
    public var strength: Double

    /// A reference.
    public init(name: String, hash: String? = nil, strength: Double) {
        self.name = name
        self.hash = hash
        self.strength = strength
    }
}

/// Everything that decides a generated image (given the model).
public struct GenerationRequest: Sendable {
    /// The prompt.
    public var prompt: String
    /// The negative prompt; used only when `cfg` ≠ 1. Empty is encoded as an empty prompt (ComfyUI), not zeroed.
    public var negativePrompt: String = ""
    /// Emphasis syntax of both prompts.
    public var syntax: PromptSyntax = .comfy
    /// Seed of the initial noise (`torch.manual_seed(seed); randn([B, 4, h, w])`, only its low 32 bits count, as
    /// in torch) and of the per-step noise (a fresh generator with the same seed, as ComfyUI on the CPU).
    public var seed: UInt64
    /// Sampler steps (at `denoise` < 1, the steps actually run).
    public var steps: Int = 4
    /// Sampling algorithm.
    public var sampler: Sampler = .lcm
    /// σ schedule.
    public var scheduler: Scheduler = .simple
    /// Classifier-free guidance scale; 1 skips the negative pass.
    public var cfg: Double = 1
    /// Image width in pixels (a multiple of `SDXLModelConfig.sizeMultiple`).
    public var width: Int = 1024
    /// Image height in pixels.
    public var height: Int = 1024
    /// Images generated together (one noise tensor of batch `batch`, like ComfyUI's batch size).
    public var batch: Int = 1
    /// Explicit initial noise [batch, 4, h, w] (standard normal) instead of the seed's; step noise still uses `seed`.
    public var noise: Tensor? = nil
    /// img2img start image (resized to width × height when its size differs).
    public var initImage: RGBImage? = nil
    /// img2img strength in (0, 1] (ComfyUI KSampler `denoise`); 1 with an init image still starts from it at σ_max.
    public var denoise: Double = 1
    /// Decode with `AutoencoderKL.decodeTiled` (bounded memory at large sizes; same result up to rounding).
    public var vaeTiling: Bool = false
    /// LoRAs in effect, for the metadata only (applying them is the model's business).
    public var loras: [LoRAReference] = []

    /// A request with the DMD2 defaults (lcm, simple, 4 steps, CFG 1, 1024²).
    public init(prompt: String, seed: UInt64) {
        self.prompt = prompt
        self.seed = seed
    }

    /// Checks sizes and counts against `config`; throws `PipelineError.invalidRequest` with a one-line reason.
    public func validate(for config: SDXLModelConfig) throws {
        let m = config.sizeMultiple
        func fail(_ s: String) -> PipelineError { .invalidRequest(s) }
        guard width > 0, height > 0, width % m == 0, height % m == 0 else {
            throw fail("size \(width)x\(height) must be positive multiples of \(m)")
        }
        guard steps >= 1 else { throw fail("steps must be at least 1, got \(steps)") }
        guard batch >= 1 else { throw fail("batch must be at least 1, got \(batch)") }
        guard cfg.isFinite, cfg > 0 else { throw fail("cfg must be a positive number, got \(cfg)") }
        guard denoise.isFinite, denoise > 0, denoise <= 1 else { throw fail("denoise must be in (0, 1], got \(denoise)") }
        if denoise < 1 && initImage == nil { throw fail("denoise \(denoise) < 1 needs an init image") }
        if let noise, noise.shape != latentShape(config) {
            throw fail("noise has shape \(noise.shape), this request needs \(latentShape(config))")
        }
    }

    /// Shape of the latent (and of the noise): [batch, 4, height / f, width / f].
    public func latentShape(_ config: SDXLModelConfig) -> [Int] {
        [batch, config.vae.latentChannels, height / config.latentFactor, width / config.latentFactor]
    }
}

/// One finished sampling step, as reported to a progress callback.
public struct GenerationProgress {
    /// Steps finished (1…count).
    public let step: Int
    /// Steps in the run.
    public let count: Int
    /// σ the step started from.
    public let sigma: Float
    /// The model's clean-latent prediction at this step (model space): feed it to `LatentPreview`. [B, 4, h, w]
    public let denoised: Tensor
    /// Seconds since sampling started.
    public let elapsed: Double

    /// Steps per second so far.
    public var stepsPerSecond: Double { elapsed > 0 ? Double(step) / elapsed : 0 }
}

/// What a generation produced.
public struct GenerationResult {
    /// The request, as run.
    public let request: GenerationRequest
    /// Final latent in model space (the sampler's result, before ÷ scaling factor). [B, 4, h, w]
    public let latent: Tensor
    /// The VAE's output in about [−1, 1] (unclamped). [B, 3, H, W]
    public let decoded: Tensor
    /// The images, one per batch item.
    public let images: [RGBImage]
    /// Seconds spent encoding prompts (and the init image), sampling and decoding.
    public let timings: (encode: Double, sample: Double, decode: Double)
}

/// Errors from building or running a pipeline; each description is one line naming the file where there is one.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint is not something this pipeline runs.
    case unsupportedCheckpoint(path: String, kind: String)
    /// A part of the pipeline is missing from the checkpoint.
    case missingComponent(path: String, component: String)
    /// A request value is out of range.
    case invalidRequest(String)
    /// An input file is unusable.
    case invalidInput(path: String, reason: String)
    /// The machine cannot hold the models; the message names the file, the need and what is available.
    case insufficientMemory(String)
    /// The progress callback asked to stop.
    case cancelled
    /// A model's weights were freed after an earlier one-shot run (`SDXLPipeline.discardTextEncoders` / `discardUNet`).
    case discardedWeights(String)

    /// One line.
    public var description: String {
        switch self {
        case let .unsupportedCheckpoint(p, k): return "\(p): \(k) — expected an SDXL single-file checkpoint or diffusers folder"
        case let .missingComponent(p, c): return "\(p): no \(c) in this checkpoint"
        case let .invalidRequest(r): return "invalid request: \(r)"
        case let .invalidInput(p, r): return "\(p): \(r)"
        case let .insufficientMemory(m): return m
        case .cancelled: return "generation cancelled"
        case let .discardedWeights(m): return "the weights of the \(m) were freed after an earlier generation; load the model again"
        }
    }
}
