import Checkpoint
import Tensor

/// How a VAE's tensors are named in a file.
public enum VAEWeightLayout: Sendable, Equatable {
    /// diffusers `AutoencoderKL` names (`vae/diffusion_pytorch_model.safetensors`).
    case diffusers
    /// diffusers names with the pre-0.14 mid-attention names `query`, `key`, `value`, `proj_attn`.
    case diffusersLegacyAttention
    /// LDM / SGM names (`encoder.down.0.block.0…`, `mid.attn_1.q` as 1×1 convs), as in single-file
    /// checkpoints under `first_stage_model.` and in standalone `sdxl_vae.safetensors` files (no prefix).
    case ldm
}

// Every checkpoint key of the VAE lives in this file.
// LDM ↔ diffusers map after huggingface/diffusers `scripts/convert_vae_pt_to_diffusers.py` /
// `loaders/single_file_utils.py` (`convert_ldm_vae_checkpoint`) and Stability-AI/generative-models
// `sgm/modules/diffusionmodules/model.py` (Encoder / Decoder names).
extension AutoencoderKL {
    /// The prefix of the VAE in single-file SD / SDXL checkpoints.
    public static let singleFilePrefix = "first_stage_model."

    /// Finds the layout and prefix of the VAE tensors in `file`, or nil when it holds no known VAE.
    public static func detectLayout(in file: SafeTensorsFile) -> (layout: VAEWeightLayout, prefix: String)? {
        for prefix in [singleFilePrefix, "", "vae."] {
            if file.info(prefix + "encoder.down.0.block.0.conv1.weight") != nil { return (.ldm, prefix) }
            if file.info(prefix + "encoder.mid_block.attentions.0.to_q.weight") != nil { return (.diffusers, prefix) }
            if file.info(prefix + "encoder.mid_block.attentions.0.query.weight") != nil {
                return (.diffusersLegacyAttention, prefix)
            }
        }
        return nil
    }

    /// Loads every parameter from `file`, strictly: a missing or mis-shaped tensor, or an unused tensor under
    /// the prefix, throws `LoadError` naming the key. Layout and prefix are detected unless given. Tensors under
    /// `<prefix>loss.` (the discriminator some LDM training checkpoints carry) are ignored.
    public func load(from file: SafeTensorsFile, layout: VAEWeightLayout? = nil, prefix: String? = nil) throws {
        let detected = AutoencoderKL.detectLayout(in: file)
        guard let layout = layout ?? detected?.layout else {
            throw LoadError.missingKey(file: file.path, key: (prefix ?? "") + "encoder.conv_in.weight")
        }
        let prefix = prefix ?? detected?.prefix ?? ""
        let levels = config.levels
        try ParameterLoader.load(self, from: file, prefix: prefix,
                                 sourceName: { AutoencoderKL.sourceName($0, layout: layout, levels: levels) },
                                 ignoring: { $0.hasPrefix(prefix + "loss.") })
    }

    /// The key of diffusers parameter `name` in `layout` (without any file prefix).
    public static func sourceName(_ name: String, layout: VAEWeightLayout, levels: Int) -> String {
        switch layout {
        case .diffusers: return name
        case .diffusersLegacyAttention: return legacyAttentionName(name)
        case .ldm: return ldmName(name, levels: levels)
        }
    }

    /// diffusers `…attentions.0.to_q.weight` → `…attentions.0.query.weight` (to_k → key, to_v → value,
    /// to_out.0 → proj_attn); other names unchanged.
    public static func legacyAttentionName(_ name: String) -> String {
        for (new, old) in [("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")] {
            let marker = ".attentions.0.\(new)."
            if let r = name.range(of: marker) { return name.replacingCharacters(in: r, with: ".attentions.0.\(old).") }
        }
        return name
    }

    /// diffusers name → LDM name for a VAE with `levels` resolution levels:
    /// `down_blocks.i.resnets.j` → `down.i.block.j`, `down_blocks.i.downsamplers.0.conv` → `down.i.downsample.conv`,
    /// `up_blocks.i…` → `up.(levels−1−i)…` (reversed), `upsamplers.0` → `upsample`, `mid_block.resnets.0/1` →
    /// `mid.block_1/2`, `mid_block.attentions.0.{group_norm, to_q, to_k, to_v, to_out.0}` →
    /// `mid.attn_1.{norm, q, k, v, proj_out}`, `conv_shortcut` → `nin_shortcut`, `conv_norm_out` → `norm_out`.
    public static func ldmName(_ name: String, levels: Int) -> String {
        let p = name.split(separator: ".").map(String.init)
        var out: [String] = []
        var i = 0
        while i < p.count {
            switch p[i] {
            case "down_blocks":
                out += ["down", p[i + 1]]; i += 2
            case "up_blocks":
                out += ["up", String(levels - 1 - Int(p[i + 1])!)]; i += 2
            case "resnets":
                out += ["block", p[i + 1]]; i += 2
            case "downsamplers":
                out.append("downsample"); i += 2
            case "upsamplers":
                out.append("upsample"); i += 2
            case "mid_block" where p[i + 1] == "resnets":
                out += ["mid", "block_\(Int(p[i + 2])! + 1)"]; i += 3
            case "mid_block":   // attentions.0.<sub>
                out += ["mid", "attn_1"]; i += 3
                let sub = ["group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"][p[i]] ?? p[i]
                out.append(sub)
                i += p[i] == "to_out" ? 2 : 1
            case "conv_shortcut":
                out.append("nin_shortcut"); i += 1
            case "conv_norm_out":
                out.append("norm_out"); i += 1
            default:
                out.append(p[i]); i += 1
            }
        }
        return out.joined(separator: ".")
    }
}
