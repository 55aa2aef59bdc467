import Checkpoint
import Tensor

/// How a UNet checkpoint names its tensors.
public enum UNetLayout: Sendable {
    /// diffusers `unet/diffusion_pytorch_model.safetensors` names (`down_blocks.1.attentions.0.proj_in.weight`).
    case diffusers
    /// Single-file (LDM/SGM) names under `model.diffusion_model.` (`input_blocks.4.1.proj_in.weight`).
    case singleFile
}

// Diffusers ↔ LDM names for any config with the SDXL structure, n = layersPerBlock:
// - conv_in ↔ input_blocks.0.0; time_embedding.linear_1/2 ↔ time_embed.0/2; add_embedding.linear_1/2 ↔
//   label_emb.0.0/0.2; conv_norm_out ↔ out.0; conv_out ↔ out.2
// - down_blocks.i.resnets.j / attentions.j ↔ input_blocks.(i(n+1)+j+1).0 / .1
// - down_blocks.i.downsamplers.0.conv ↔ input_blocks.((i+1)(n+1)).0.op
// - mid_block.resnets.j ↔ middle_block.(2j); mid_block.attentions.0 ↔ middle_block.1
// - up_blocks.i.resnets.j / attentions.j ↔ output_blocks.(i(n+1)+j).0 / .1   (j = 0...n)
// - up_blocks.i.upsamplers.0.conv ↔ output_blocks.(i(n+1)+n).2.conv when that level has attention, else .1.conv
// - ResNet internals: norm1 ↔ in_layers.0, conv1 ↔ in_layers.2, time_emb_proj ↔ emb_layers.1,
//   norm2 ↔ out_layers.0, conv2 ↔ out_layers.3, conv_shortcut ↔ skip_connection; transformer internals identical.
// Sources: Comfy comfy/utils.py `unet_to_diffusers`; huggingface/diffusers
// src/diffusers/loaders/single_file_utils.py `convert_ldm_unet_checkpoint`.
extension UNet {
    /// Key prefix of the UNet inside a single-file SDXL checkpoint.
    public static let singleFilePrefix = "model.diffusion_model."

    private static let resnetLDM = [
        "norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
        "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection",
    ]
    private static let globalLDM = [
        "conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
        "conv_norm_out": "out.0", "conv_out": "out.2",
    ]

    /// The single-file (LDM) name of a diffusers UNet parameter name, without `singleFilePrefix`;
    /// nil for a name that is not part of this structure.
    public static func ldmName(_ name: String, config: UNetConfig) -> String? {
        let p = name.split(separator: ".").map(String.init)
        guard p.count >= 2 else { return nil }
        let n = config.layersPerBlock
        let head = p.dropLast().joined(separator: "."), leaf = p.last!
        if let g = globalLDM[head] { return "\(g).\(leaf)" }
        func resnet(_ rest: ArraySlice<String>) -> String? {
            guard let first = rest.first, let m = resnetLDM[first] else { return nil }
            return ([m] + rest.dropFirst()).joined(separator: ".")
        }
        func tail(_ rest: ArraySlice<String>) -> String { rest.joined(separator: ".") }
        switch p[0] {
        case "down_blocks", "up_blocks":
            guard p.count >= 4, let i = Int(p[1]), i >= 0, i < config.levels else { return nil }
            let isDown = p[0] == "down_blocks"
            let kind = p[2]
            if kind == "downsamplers" || kind == "upsamplers" {
                guard isDown == (kind == "downsamplers"), i < config.levels - 1, p[3] == "0", p.count == 6, p[4] == "conv" else { return nil }
                if isDown { return "input_blocks.\((i + 1) * (n + 1)).0.op.\(leaf)" }
                let attention = config.attention[config.levels - 1 - i]
                return "output_blocks.\(i * (n + 1) + n).\(attention ? 2 : 1).conv.\(leaf)"
            }
            guard let j = Int(p[3]), j >= 0, j < (isDown ? n : n + 1) else { return nil }
            let block = isDown ? "input_blocks.\(i * (n + 1) + j + 1)" : "output_blocks.\(i * (n + 1) + j)"
            if kind == "resnets" { return resnet(p[4...]).map { "\(block).0.\($0)" } }
            if kind == "attentions" { return "\(block).1.\(tail(p[4...]))" }
            return nil
        case "mid_block":
            guard p.count >= 4, let j = Int(p[2]) else { return nil }
            if p[1] == "resnets", j < 2 { return resnet(p[3...]).map { "middle_block.\(2 * j).\($0)" } }
            if p[1] == "attentions", j == 0 { return "middle_block.1.\(tail(p[3...]))" }
            return nil
        default:
            return nil
        }
    }

    /// Loads every parameter from `file` (strict: a missing, unexpected or mis-shaped tensor throws
    /// `LoadError` naming the key). `prefix` defaults to "" for diffusers files and
    /// `model.diffusion_model.` for single files, whose other sub-models (text encoders, VAE) are ignored.
    public func load(from file: SafeTensorsFile, layout: UNetLayout, prefix: String? = nil) throws {
        switch layout {
        case .diffusers:
            try ParameterLoader.load(self, from: file, prefix: prefix ?? "")
        case .singleFile:
            let config = self.config
            try ParameterLoader.load(self, from: file, prefix: prefix ?? Self.singleFilePrefix, sourceName: { name in
                guard let mapped = Self.ldmName(name, config: config) else {
                    preconditionFailure("UNet parameter \(name) has no single-file name")
                }
                return mapped
            })
        }
    }

    /// A UNet of `config` with weights from `file`.
    public static func load(from file: SafeTensorsFile, layout: UNetLayout, config: UNetConfig = .sdxl,
                            prefix: String? = nil) throws -> UNet {
        let unet = UNet(config: config)
        try unet.load(from: file, layout: layout, prefix: prefix)
        return unet
    }
}
