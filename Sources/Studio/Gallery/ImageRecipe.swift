import Diffusion
import Foundation

/// How an image was made, as read back from its PNG: everything the studio needs to restore the prompt, sampler
/// and LoRA settings. Read from the `sumi` JSON chunk when present (exact), else from A1111's `parameters` text
/// (what A1111, Forge and most web UIs write; see `ImageRecipe+A1111.swift`).
public struct ImageRecipe: Equatable, Sendable {
    /// Which chunk the recipe came from.
    public enum Source: String, Equatable, Sendable {
        /// The `sumi` JSON chunk (`GenerationMetadata`): every field exact.
        case sumiJSON = "sumi"
        /// A1111's `parameters` text: fields it lacks take documented defaults.
        case a1111 = "parameters"
    }

    /// The prompt (A1111 `<lora:…>` tags removed; they are in `loras`).
    public var prompt: String
    /// The negative prompt.
    public var negativePrompt: String
    /// Seed.
    public var seed: UInt64
    /// Sampler under its ComfyUI name (`euler_ancestral`); A1111 names are mapped when known, else kept verbatim.
    public var sampler: String
    /// Scheduler under its ComfyUI name (`karras`).
    public var scheduler: String
    /// Sampling steps.
    public var steps: Int
    /// Classifier-free guidance scale.
    public var cfg: Double
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// The model, when recorded.
    public var model: ModelReference?
    /// LoRAs with their strengths.
    public var loras: [LoRAReference]
    /// img2img strength; nil for txt2img.
    public var denoise: Double?
    /// Prompt emphasis syntax (`comfy` / `a1111`); A1111 text implies `a1111`.
    public var syntax: String
    /// Program that made the image, when recorded.
    public var generator: String?
    /// Where the values came from.
    public var source: Source

    /// A recipe from its fields.
    public init(prompt: String, negativePrompt: String = "", seed: UInt64, sampler: String, scheduler: String, steps: Int,
                cfg: Double, width: Int, height: Int, model: ModelReference? = nil, loras: [LoRAReference] = [],
                denoise: Double? = nil, syntax: String = PromptSyntax.comfy.rawValue, generator: String? = nil,
                source: Source) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.seed = seed
        self.sampler = sampler
        self.scheduler = scheduler
        self.steps = steps
        self.cfg = cfg
        self.width = width
        self.height = height
        self.model = model
        self.loras = loras
        self.denoise = denoise
        self.syntax = syntax
        self.generator = generator
        self.source = source
    }

    /// The recipe of a `sumi` JSON chunk.
    public init(metadata m: GenerationMetadata) {
        self.init(prompt: m.prompt, negativePrompt: m.negativePrompt, seed: m.seed, sampler: m.sampler,
                  scheduler: m.scheduler, steps: m.steps, cfg: m.cfg, width: m.width, height: m.height, model: m.model,
                  loras: m.loras, denoise: m.denoise, syntax: m.syntax, generator: m.generator, source: .sumiJSON)
    }

    /// The recipe in PNG text chunks: the `sumi` JSON chunk when it decodes, else the A1111 `parameters` text;
    /// nil when neither is there or usable.
    public static func from(pngText text: [String: String]) -> ImageRecipe? {
        if let meta = GenerationMetadata.decode(pngText: text) { return ImageRecipe(metadata: meta) }
        return text["parameters"].flatMap(ImageRecipe.init(a1111:))
    }

    /// The sampler as sumi's enum, when sumi implements it.
    public var samplerValue: Sampler? { Sampler(rawValue: sampler) }
    /// The scheduler as sumi's enum, when sumi implements it.
    public var schedulerValue: Scheduler? { Scheduler(rawValue: scheduler) }
    /// The prompt syntax as sumi's enum (comfy when unknown).
    public var syntaxValue: PromptSyntax { PromptSyntax(rawValue: syntax) ?? .comfy }

    /// A request that reproduces the image (given the same model and LoRAs). A sampler or scheduler sumi does not
    /// implement keeps the request's default (`lcm` / `simple`); check `samplerValue` / `schedulerValue` to warn.
    public func request() -> GenerationRequest {
        var r = GenerationRequest(prompt: prompt, seed: seed)
        r.negativePrompt = negativePrompt
        r.syntax = syntaxValue
        r.steps = steps
        if let s = samplerValue { r.sampler = s }
        if let s = schedulerValue { r.scheduler = s }
        r.cfg = cfg
        r.width = width
        r.height = height
        r.loras = loras
        return r
    }

    /// One line for lists: `seed 42 · lcm/simple · 4 steps · cfg 1 · 1024×1024`.
    public var summary: String {
        "seed \(seed) · \(sampler)/\(scheduler) · \(steps) steps · cfg \(Self.number(cfg)) · \(width)×\(height)"
    }

    /// 1 → "1", 3.5 → "3.5".
    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}
