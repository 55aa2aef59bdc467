import Checkpoint
import Foundation
import Tensor

// Loading a pipeline from a single-file SDXL checkpoint or a diffusers folder. Which tensors belong to which
// model is decided by `CheckpointLayout` (names only); each model's own `load` maps the names strictly.
extension SDXLPipeline {
    /// Loads all four models from a single-file SDXL checkpoint (`model.diffusion_model.`,
    /// `conditioner.embedders.{0,1}.…`, `first_stage_model.`) or a diffusers folder (`unet/`, `text_encoder/`,
    /// `text_encoder_2/`, `vae/`, one safetensors file each; the `.fp16.` variant is used when it is the only one).
    /// `config` gives the architectures; nil reads them from a diffusers folder's config.json files (so folders of
    /// any SDXL-structured size load as they are, like the embedded emoji model) and uses `.sdxl` for single files.
    /// Errors name the file.
    /// Before allocating anything, the memory the models need (fp32 weights plus a working set for
    /// `width`×`height`) is compared with MemAvailable; a machine that cannot hold them gets a one-line refusal
    /// instead of being driven into swap or the OOM killer. `available` overrides /proc/meminfo (tests, or
    /// `nil` there to skip the check where the kernel does not report it).
    public static func load(path: String, tokenizer: CLIPTokenizer, config requested: SDXLModelConfig? = nil,
                            width: Int = 1024, height: Int = 1024,
                            available: Int? = MemInfo.read().availableBytes,
                            _ c: Compute) throws -> SDXLPipeline {
        let layout = try CheckpointLayout.detect(path: path)
        let config = try requested ?? architecture(of: layout)
        if let available {
            let estimate = MemoryEstimate(layout: layout, width: width, height: height)
            if case let .refuse(message) = estimate.verdict(available: available, label: path) {
                throw PipelineError.insufficientMemory(message)
            }
        }
        let clipL = CLIPTextModel(config.clipL), clipG = CLIPTextModel(config.clipG)
        let unet = UNet(config: config.unet), vae = AutoencoderKL(config.vae)
        switch layout.kind {
        case .sdxlSingleFile:
            for (prefix, part) in [("model.diffusion_model.", "UNet"), ("conditioner.embedders.0.transformer.", "CLIP-L text encoder"),
                                   ("conditioner.embedders.1.model.", "OpenCLIP-bigG text encoder"), ("first_stage_model.", "VAE")]
            where !layout.components.contains(where: { $0.prefix == prefix }) {
                throw PipelineError.missingComponent(path: path, component: "\(part) (`\(prefix)…`)")
            }
            let file = try SafeTensorsFile(path: path)
            try clipL.load(from: file, layout: .sdxlSingleFileL, compute: c)
            try clipG.load(from: file, layout: .sdxlSingleFileG, compute: c)
            try unet.load(from: file, layout: .singleFile)
            try vae.load(from: file, prefix: AutoencoderKL.singleFilePrefix)
        case .diffusersFolder:
            func file(_ folder: String) throws -> SafeTensorsFile {
                let dir = (path as NSString).appendingPathComponent(folder)
                guard let component = layout.components.first(where: { ($0.files.first as NSString?)?.deletingLastPathComponent == dir }) else {
                    throw PipelineError.missingComponent(path: path, component: "\(folder)/")
                }
                guard component.files.count == 1 else {
                    throw PipelineError.invalidInput(path: dir, reason: "sharded weights (\(component.files.count) files) are not supported yet")
                }
                return try SafeTensorsFile(path: component.files[0])
            }
            try clipL.load(from: file("text_encoder"), layout: .diffusers, compute: c)
            try clipG.load(from: file("text_encoder_2"), layout: .diffusers, compute: c)
            try unet.load(from: file("unet"), layout: .diffusers)
            try vae.load(from: file("vae"))   // diffusers or legacy attention names, detected
        default:
            throw PipelineError.unsupportedCheckpoint(path: path, kind: layout.kind.label)
        }
        return SDXLPipeline(config: config, tokenizer: tokenizer, clipL: clipL, clipG: clipG, unet: unet, vae: vae)
    }

    /// The architecture of a checkpoint: a diffusers folder's own config.json files, `.sdxl` for anything else.
    public static func architecture(path: String) throws -> SDXLModelConfig {
        try architecture(of: CheckpointLayout.detect(path: path))
    }

    static func architecture(of layout: CheckpointLayout) throws -> SDXLModelConfig {
        if case .diffusersFolder = layout.kind { return try SDXLModelConfig.read(diffusersFolder: layout.path) }
        return .sdxl
    }

    /// The file whose hash identifies the model at `path` in image metadata: the file itself, or for a diffusers
    /// folder its UNet weights (the part fine-tunes change).
    public static func identifyingFile(path: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return path }
        let unet = (path as NSString).appendingPathComponent("unet")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: unet)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }.sorted { a, b in
                // Full-precision weights first, as the loader prefers them.
                (a.contains(".fp16.") ? 1 : 0, a) < (b.contains(".fp16.") ? 1 : 0, b)
            }
        return names.first.map { (unet as NSString).appendingPathComponent($0) } ?? path
    }
}
