import Checkpoint
import Tensor

// Checkpoint names for the CLIP text encoders: the one place that knows them.
//
// Canonical (parameter) names are Hugging Face transformers' (`text_model.…`, `text_projection.weight`).
// open_clip → HF (single-file SDXL bigG under `conditioner.embedders.1.model.`), as ComfyUI
// `comfy/utils.py` `clip_text_transformers_convert` and stable-diffusion.cpp `src/name_conversion.cpp`
// do it:
//   token_embedding.weight                      → text_model.embeddings.token_embedding.weight
//   positional_embedding                        → text_model.embeddings.position_embedding.weight
//   transformer.resblocks.{i}.ln_1 / ln_2       → text_model.encoder.layers.{i}.layer_norm1 / layer_norm2
//   transformer.resblocks.{i}.attn.in_proj_weight [3D, D], in_proj_bias [3D]
//                                               → self_attn.{q,k,v}_proj (row blocks q | k | v)
//   transformer.resblocks.{i}.attn.out_proj     → self_attn.out_proj
//   transformer.resblocks.{i}.mlp.c_fc / c_proj → mlp.fc1 / mlp.fc2
//   ln_final                                    → text_model.final_layer_norm
//   text_projection [D, P] (used as x · P)      → text_projection.weight = Pᵀ [P, D]
//   logit_scale                                 → ignored (CLIP's contrastive temperature)

/// Where a CLIP text encoder's tensors are in a file and how they are named.
public enum CLIPTextWeightLayout: Equatable, Sendable {
    /// Hugging Face transformers names after `prefix`.
    case transformers(prefix: String)
    /// open_clip names after `prefix` (packed q|k|v, transposed projection).
    case openCLIP(prefix: String)

    /// Diffusers folders: `text_encoder/model.safetensors`, `text_encoder_2/model.safetensors`.
    public static let diffusers = CLIPTextWeightLayout.transformers(prefix: "")
    /// Single-file SDXL checkpoint, CLIP-L (HF names).
    public static let sdxlSingleFileL = CLIPTextWeightLayout.transformers(prefix: "conditioner.embedders.0.transformer.")
    /// Single-file SDXL checkpoint, OpenCLIP-bigG (open_clip names).
    public static let sdxlSingleFileG = CLIPTextWeightLayout.openCLIP(prefix: "conditioner.embedders.1.model.")

    /// The key prefix every tensor of this encoder has in the file.
    public var prefix: String {
        switch self { case let .transformers(p), let .openCLIP(p): return p }
    }
}

/// Where one canonical parameter comes from: a file tensor, whole, a block of its rows, or transposed.
struct CLIPWeightSource: Equatable {
    enum Cut: Equatable {
        case whole
        /// Rows [index · n, (index + 1) · n) of a tensor with `parts` · n rows (packed q|k|v).
        case rows(index: Int, parts: Int)
        /// The file holds the [in, out] transpose of a [out, in] weight.
        case transposed
    }
    let key: String
    let cut: Cut

    /// Shape the file tensor must have to yield a parameter of `shape`.
    func fileShape(for shape: [Int]) -> [Int] {
        switch cut {
        case .whole: return shape
        case let .rows(_, parts): return [shape[0] * parts] + shape.dropFirst()
        case .transposed: return [shape[1], shape[0]]
        }
    }
}

extension CLIPTextModel {
    /// Loads every parameter from `file` (strict: a missing or mis-shaped tensor, or any unused tensor
    /// under the layout's prefix, throws `LoadError` naming the key). Ignored: HF
    /// `text_model.embeddings.position_ids` and open_clip `logit_scale`. f16/bf16 are converted to fp32,
    /// on `compute`'s threads when given.
    public func load(from file: SafeTensorsFile, layout: CLIPTextWeightLayout = .diffusers,
                     compute: Compute? = nil) throws {
        var used = Set<String>()
        var cached: (key: String, tensor: Tensor)? = nil   // packed q|k|v: read once, cut three times
        for (name, param) in namedParameters {
            let src = Self.source(of: name, layout)
            guard let info = file.info(src.key) else { throw LoadError.missingKey(file: file.path, key: src.key) }
            let want = src.fileShape(for: param.shape)
            guard info.shape == want else {
                throw LoadError.shapeMismatch(file: file.path, key: src.key, expected: want, found: info.shape)
            }
            let t: Tensor
            if let cached, cached.key == src.key {
                t = cached.tensor
            } else {
                t = try compute.map { try file.tensor(src.key, compute: $0) } ?? file.tensor(src.key)
                cached = (src.key, t)
            }
            switch src.cut {
            case .whole:
                param.data.update(from: t.data, count: param.count)
            case let .rows(index, _):
                param.data.update(from: t.data + index * param.count, count: param.count)
            case .transposed:
                let (rows, cols) = (param.dim(0), param.dim(1))   // file is [cols, rows]
                for r in 0..<rows { for k in 0..<cols { param.data[r * cols + k] = t.data[k * rows + r] } }
            }
            used.insert(src.key)
        }
        let prefix = layout.prefix
        let extra = file.names.filter { name in
            guard name.hasPrefix(prefix), !used.contains(name) else { return false }
            return !Self.isIgnored(String(name.dropFirst(prefix.count)), layout)
        }
        if !extra.isEmpty { throw LoadError.unexpectedKeys(file: file.path, keys: extra) }
    }

    /// Tensors that may be present but carry no parameter.
    static func isIgnored(_ relative: String, _ layout: CLIPTextWeightLayout) -> Bool {
        switch layout {
        case .transformers: return relative == "text_model.embeddings.position_ids"
        case .openCLIP: return relative == "logit_scale"
        }
    }

    /// The file tensor behind canonical parameter `name` in `layout`.
    static func source(of name: String, _ layout: CLIPTextWeightLayout) -> CLIPWeightSource {
        switch layout {
        case let .transformers(prefix):
            return CLIPWeightSource(key: prefix + name, cut: .whole)
        case let .openCLIP(prefix):
            let (key, cut) = openCLIPName(name)
            return CLIPWeightSource(key: prefix + key, cut: cut)
        }
    }

    /// Canonical HF name → open_clip name and cut (the table at the top of this file).
    static func openCLIPName(_ name: String) -> (String, CLIPWeightSource.Cut) {
        switch name {
        case "text_model.embeddings.token_embedding.weight": return ("token_embedding.weight", .whole)
        case "text_model.embeddings.position_embedding.weight": return ("positional_embedding", .whole)
        case "text_model.final_layer_norm.weight": return ("ln_final.weight", .whole)
        case "text_model.final_layer_norm.bias": return ("ln_final.bias", .whole)
        case "text_projection.weight": return ("text_projection", .transposed)
        default: break
        }
        let layerPrefix = "text_model.encoder.layers."
        precondition(name.hasPrefix(layerPrefix), "CLIPTextModel: no open_clip name for \(name)")
        let rest = name.dropFirst(layerPrefix.count)
        let dot = rest.firstIndex(of: ".")!
        let (index, local) = (rest[..<dot], String(rest[rest.index(after: dot)...]))
        let block = "transformer.resblocks.\(index)."
        let parts = local.split(separator: ".").map(String.init)   // e.g. ["self_attn", "q_proj", "weight"]
        let leaf = parts.last!
        switch parts.dropLast().joined(separator: ".") {
        case "layer_norm1": return (block + "ln_1." + leaf, .whole)
        case "layer_norm2": return (block + "ln_2." + leaf, .whole)
        case "self_attn.q_proj": return (block + "attn.in_proj_" + leaf, .rows(index: 0, parts: 3))
        case "self_attn.k_proj": return (block + "attn.in_proj_" + leaf, .rows(index: 1, parts: 3))
        case "self_attn.v_proj": return (block + "attn.in_proj_" + leaf, .rows(index: 2, parts: 3))
        case "self_attn.out_proj": return (block + "attn.out_proj." + leaf, .whole)
        case "mlp.fc1": return (block + "mlp.c_fc." + leaf, .whole)
        case "mlp.fc2": return (block + "mlp.c_proj." + leaf, .whole)
        default: preconditionFailure("CLIPTextModel: no open_clip name for \(name)")
        }
    }
}
