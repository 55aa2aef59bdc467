import Checkpoint
import Diffusion
import Foundation
import Tensor

/// Writes a trained model as one single-file SDXL checkpoint (the layout `SDXLPipeline.load` and ComfyUI read):
/// UNet under `model.diffusion_model.` with LDM names (`UNet.ldmName`), VAE under `first_stage_model.` with LDM
/// names (`AutoencoderKL.ldmName`), CLIP-L under `conditioner.embedders.0.transformer.` with Hugging Face names,
/// bigG under `conditioner.embedders.1.model.` with open_clip names (q | k | v packed into `attn.in_proj_*`,
/// `text_projection` stored transposed) — the inverse of `CLIPTextModel+Weights.swift`'s table.
public enum ModelExport {
    /// The single-file tensors of the given parts (nil parts are left out), in a stable order.
    public static func singleFileTensors(unet: UNet, vae: AutoencoderKL?, clipL: CLIPTextModel?,
                                         clipG: CLIPTextModel?) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = unet.namedParameters.map { name, t in
            guard let ldm = UNet.ldmName(name, config: unet.config) else {
                preconditionFailure("UNet parameter \(name) has no single-file name")
            }
            return (UNet.singleFilePrefix + ldm, t)
        }
        if let vae {
            out += vae.namedParameters.map {
                (AutoencoderKL.singleFilePrefix + AutoencoderKL.ldmName($0.0, levels: vae.config.levels), $0.1)
            }
        }
        if let clipL {
            let prefix = CLIPTextWeightLayout.sdxlSingleFileL.prefix
            out += clipL.namedParameters.map { (prefix + $0.0, $0.1) }
        }
        if let clipG { out += openCLIPTensors(clipG, prefix: CLIPTextWeightLayout.sdxlSingleFileG.prefix) }
        return out
    }

    /// Writes the single file (fp32 or f16) atomically, with `metadata` in its header.
    public static func writeSingleFile(path: String, unet: UNet, vae: AutoencoderKL?, clipL: CLIPTextModel?,
                                       clipG: CLIPTextModel?, dtype: DType = .f32, metadata: [String: String] = [:]) throws {
        let tensors = singleFileTensors(unet: unet, vae: vae, clipL: clipL, clipG: clipG)
        try SafeTensorsWriter.write(tensors.map { (name: $0.0, tensor: $0.1) }, dtype: dtype, metadata: metadata, to: path)
    }

    /// A bigG encoder's tensors under open_clip names.
    static func openCLIPTensors(_ model: CLIPTextModel, prefix: String) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        let params = Dictionary(model.namedParameters.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        func p(_ name: String) -> Tensor { params[name]! }
        out.append((prefix + "token_embedding.weight", p("text_model.embeddings.token_embedding.weight")))
        out.append((prefix + "positional_embedding", p("text_model.embeddings.position_embedding.weight")))
        out.append((prefix + "ln_final.weight", p("text_model.final_layer_norm.weight")))
        out.append((prefix + "ln_final.bias", p("text_model.final_layer_norm.bias")))
        if let proj = params["text_projection.weight"] {
            let (rows, cols) = (proj.dim(0), proj.dim(1))
            let t = Tensor(uninitialized: [cols, rows])
            for r in 0..<rows { for k in 0..<cols { t.data[k * rows + r] = proj.data[r * cols + k] } }
            out.append((prefix + "text_projection", t))
        }
        for i in 0..<model.config.layers {
            let src = "text_model.encoder.layers.\(i).", dst = prefix + "transformer.resblocks.\(i)."
            for (hf, oc) in [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("self_attn.out_proj", "attn.out_proj"),
                             ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")] {
                for leaf in ["weight", "bias"] { out.append((dst + "\(oc).\(leaf)", p(src + "\(hf).\(leaf)"))) }
            }
            for leaf in ["weight", "bias"] {
                let parts = ["q_proj", "k_proj", "v_proj"].map { p(src + "self_attn.\($0).\(leaf)") }
                let packed = Tensor(uninitialized: [3 * parts[0].dim(0)] + parts[0].shape.dropFirst())
                for (j, t) in parts.enumerated() { (packed.data + j * t.count).update(from: t.data, count: t.count) }
                out.append((dst + "attn.in_proj_\(leaf)", packed))
            }
        }
        return out
    }
}
