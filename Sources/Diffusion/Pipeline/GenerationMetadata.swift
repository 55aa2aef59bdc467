import Checkpoint
import Foundation
import Imaging
import Tensor

/// The model an image came from.
public struct ModelReference: Codable, Equatable, Sendable {
    /// File (or folder) name without extension.
    public var name: String
    /// First 10 hex digits of the SHA-256 of the model file (for a diffusers folder: of its UNet weights).
    public var hash: String?

    /// A reference.
    public init(name: String, hash: String?) {
        self.name = name
        self.hash = hash
    }

    /// The name A1111 shows for the model at `path`: the last path component without `.safetensors`.
    public static func displayName(path: String) -> String {
        let last = (path as NSString).lastPathComponent
        return last.hasSuffix(".safetensors") ? String(last.dropLast(".safetensors".count)) : last
    }
}

/// What an image records about how it was made: A1111's `parameters` text (read by A1111, Civitai and most
/// image browsers) plus a `sumi` JSON chunk with every field spelled out.
public struct GenerationMetadata: Codable, Equatable, Sendable {
    public var prompt: String
    public var negativePrompt: String
    public var seed: UInt64
    public var sampler: String
    public var scheduler: String
    public var steps: Int
    public var cfg: Double
    public var width: Int
    public var height: Int
    /// img2img strength; nil for txt2img.
    public var denoise: Double?
    public var batchSize: Int
    public var batchIndex: Int
    /// Emphasis syntax the prompts were parsed with (`comfy` or `a1111`).
    public var syntax: String
    public var model: ModelReference
    public var loras: [LoRAReference]
    /// Program and version that made the image.
    public var generator: String

    /// The metadata of image `batchIndex` of `request` made with `model`.
    public init(request: GenerationRequest, model: ModelReference, batchIndex: Int = 0, generator: String = "sumi") {
        prompt = request.prompt
        negativePrompt = request.negativePrompt
        seed = request.seed
        sampler = request.sampler.comfyName
        scheduler = request.scheduler.comfyName
        steps = request.steps
        cfg = request.cfg
        width = request.width
        height = request.height
        denoise = request.initImage == nil ? nil : request.denoise
        batchSize = request.batch
        self.batchIndex = batchIndex
        syntax = request.syntax.rawValue
        self.model = model
        loras = request.loras
        self.generator = generator
    }

    private enum CodingKeys: String, CodingKey {
        case prompt, negativePrompt = "negative_prompt", seed, sampler, scheduler, steps, cfg, width, height, denoise
        case batchSize = "batch_size", batchIndex = "batch_index", syntax, model, loras, generator
    }

    /// A1111's `parameters` text: the prompt, `Negative prompt: …` (when not empty), then one line of
    /// `Key: value` pairs (sampler and schedule under ComfyUI's names).
    public var a1111Parameters: String {
        var fields: [(String, String)] = [
            ("Steps", "\(steps)"), ("Sampler", sampler), ("Schedule type", scheduler), ("CFG scale", Self.number(cfg)),
            ("Seed", "\(seed)"), ("Size", "\(width)x\(height)"),
        ]
        if let hash = model.hash { fields.append(("Model hash", hash)) }
        fields.append(("Model", model.name))
        if let denoise { fields.append(("Denoising strength", Self.number(denoise))) }
        if batchSize > 1 { fields += [("Batch size", "\(batchSize)"), ("Batch pos", "\(batchIndex)")] }
        if !loras.isEmpty {
            fields.append(("Lora hashes", loras.map { "\($0.name): \($0.hash ?? "unknown")" }.joined(separator: ", ")))
        }
        fields.append(("Version", generator))
        var text = prompt
        if !negativePrompt.isEmpty { text += "\nNegative prompt: " + negativePrompt }
        return text + "\n" + fields.map { "\($0.0): \(Self.quote($0.1))" }.joined(separator: ", ")
    }

    /// The `sumi` chunk: this value as JSON with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// PNG text chunks: `parameters` (tEXt when ASCII, else iTXt, as A1111/Pillow) and `sumi` (iTXt).
    public var pngChunks: [PNGTextChunk] {
        [PNGTextChunk(key: "parameters", value: a1111Parameters), PNGTextChunk(key: "sumi", value: json, encoding: .utf8)]
    }

    /// Reads the `sumi` chunk back from PNG text chunks.
    public static func decode(pngText: [String: String]) -> GenerationMetadata? {
        pngText["sumi"].flatMap { try? JSONDecoder().decode(GenerationMetadata.self, from: Data($0.utf8)) }
    }

    /// 1 → "1", 3.5 → "3.5" (A1111 prints Python floats; integral values without the ".0" read better).
    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }

    /// A1111's `quote`: values with a comma, colon or newline are written as JSON strings.
    static func quote(_ s: String) -> String {
        guard s.contains(",") || s.contains(":") || s.contains("\n") else { return s }
        let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data()
        let array = String(decoding: data, as: UTF8.self)   // ["…"]
        return String(array.dropFirst().dropLast())
    }
}

/// Writing a generation's files.
public enum GenerationOutput {
    /// Where image `index` of `count` goes: `path` itself for a single image, else `name-1.png`, `name-2.png`, ….
    public static func imagePath(_ path: String, index: Int, count: Int) -> String {
        guard count > 1 else { return path }
        let ext = (path as NSString).pathExtension
        let stem = ext.isEmpty ? path : String(path.dropLast(ext.count + 1))
        return "\(stem)-\(index + 1).\(ext.isEmpty ? "png" : ext)"
    }

    /// Writes every image of `result` as PNG with its metadata (atomically); returns the paths written.
    @discardableResult
    public static func writeImages(_ result: GenerationResult, model: ModelReference, to path: String,
                                   generator: String = "sumi") throws -> [String] {
        var written: [String] = []
        for (i, image) in result.images.enumerated() {
            let meta = GenerationMetadata(request: result.request, model: model, batchIndex: i, generator: generator)
            let p = imagePath(path, index: i, count: result.images.count)
            try PNG.write(image, chunks: meta.pngChunks, to: p)
            written.append(p)
        }
        return written
    }

    /// Writes a model-space latent as safetensors with one F32 tensor `latent` [B, 4, h, w] (atomically).
    public static func writeLatent(_ latent: Tensor, to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensorsWriter.write([(name: "latent", tensor: latent)], metadata: metadata, to: path)
    }

    /// Reads a noise (or latent) tensor from safetensors: the tensor named `key`, or the file's only tensor.
    /// Errors name the file.
    public static func readTensor(_ path: String, key: String = "noise") throws -> Tensor {
        let file = try SafeTensorsFile(path: path)   // `CheckpointError` descriptions start with the path
        let names = file.names
        guard let name = names.contains(key) ? key : (names.count == 1 ? names[0] : nil) else {
            throw PipelineError.invalidInput(path: path, reason: "no tensor `\(key)` and not exactly one tensor (\(names.count) found)")
        }
        return try file.tensor(name)
    }
}

extension GenerationOutput {
    /// Reads an init image (PNG). Errors name the file.
    public static func readImage(_ path: String) throws -> RGBImage {
        try PNG.read(path).image   // `ImagingError` descriptions start with the path
    }
}
