import Checkpoint
import Foundation
import Tensor

// Writing a pipeline as a diffusers folder: the layout `StableDiffusionXLPipeline.save_pretrained` produces
// (model_index.json; unet/, vae/ with diffusion_pytorch_model.safetensors; text_encoder/, text_encoder_2/ with
// model.safetensors; a config.json in each), so diffusers, ComfyUI's diffusers loader and Sumi all read it.
extension SDXLPipeline {
    /// Writes the four models and their configs to `folder` with weights in `dtype` (f16 halves the size).
    /// The folder appears whole or not at all: everything is written to a sibling temporary folder that then
    /// replaces `folder` (an existing folder is moved aside first and removed after the swap).
    public func saveDiffusersFolder(to folder: String, dtype: DType = .f16, metadata: [String: String] = [:]) throws {
        try Self.saveDiffusersFolder(config: config, clipL: conditioner.clipL, clipG: conditioner.clipG, unet: unet,
                                     vae: vae, to: folder, dtype: dtype, metadata: metadata)
    }

    /// `saveDiffusersFolder` from loose parts (a trainer's models before a pipeline exists).
    public static func saveDiffusersFolder(config: SDXLModelConfig, clipL: CLIPTextModel, clipG: CLIPTextModel,
                                           unet: UNet, vae: AutoencoderKL, to folder: String, dtype: DType = .f16,
                                           metadata: [String: String] = [:]) throws {
        let fm = FileManager.default
        let folder = (folder as NSString).standardizingPath
        let parent = (folder as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: parent.isEmpty ? "." : parent, withIntermediateDirectories: true)
        let tmp = folder + ".tmp-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        try config.writeDiffusersConfigs(to: tmp)
        let parts: [(String, Module)] = [("unet/diffusion_pytorch_model.safetensors", unet),
                                        ("vae/diffusion_pytorch_model.safetensors", vae),
                                        ("text_encoder/model.safetensors", clipL),
                                        ("text_encoder_2/model.safetensors", clipG)]
        var meta = metadata
        meta["format"] = "pt"
        for (relative, module) in parts {
            let tensors = module.namedParameters.map { name, t in (name: name, tensor: t.storage.withResident { t.copy() }) }
            try SafeTensorsWriter.write(tensors, dtype: dtype, metadata: meta, to: (tmp as NSString).appendingPathComponent(relative))
        }
        let old = folder + ".old-\(getpid())"
        if fm.fileExists(atPath: folder) { try fm.moveItem(atPath: folder, toPath: old) }
        do {
            try fm.moveItem(atPath: tmp, toPath: folder)
        } catch {
            if fm.fileExists(atPath: old) { try? fm.moveItem(atPath: old, toPath: folder) }
            throw PipelineError.invalidInput(path: folder, reason: "cannot move the new model into place: \(error.localizedDescription)")
        }
        try? fm.removeItem(atPath: old)
    }
}
