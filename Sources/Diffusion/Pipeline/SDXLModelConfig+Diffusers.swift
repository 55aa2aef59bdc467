import Foundation
import Tensor

/// Errors reading or writing the `config.json` files of a diffusers folder.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    /// The file is missing or is not a JSON object.
    case unreadable(path: String, reason: String)
    /// A key is missing or has the wrong type or an unsupported value.
    case badValue(path: String, key: String, reason: String)

    /// One line naming the file and the key.
    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .badValue(path, key, reason): return "\(path): `\(key)` \(reason)"
        }
    }
}

// The architecture of a diffusers SDXL folder lives in its parts' config.json files (huggingface/diffusers
// `ConfigMixin.save_config`, transformers `PretrainedConfig.save_pretrained`). Reading them lets any SDXL-structured
// folder load at its own sizes (the embedded emoji model, tiny test models), and writing them lets diffusers and
// transformers load what Sumi trains.
extension SDXLModelConfig {
    /// The architecture described by the config.json files of a diffusers SDXL folder
    /// (`unet/`, `vae/`, `text_encoder/`, `text_encoder_2/`). Errors name the file and key.
    public static func read(diffusersFolder path: String) throws -> SDXLModelConfig {
        func load(_ part: String) throws -> ConfigJSON {
            try ConfigJSON(path: ((path as NSString).appendingPathComponent(part) as NSString).appendingPathComponent("config.json"))
        }
        let unet = try load("unet"), vae = try load("vae"), te1 = try load("text_encoder"), te2 = try load("text_encoder_2")
        let config = SDXLModelConfig(unet: try unet.unetConfig(), clipL: try te1.clipConfig(withProjection: false),
                                     clipG: try te2.clipConfig(withProjection: true), vae: try vae.vaeConfig(), checked: ())
        if let problem = config.mismatch {
            throw ModelConfigError.badValue(path: path, key: "config.json", reason: "parts do not fit together: \(problem)")
        }
        return config
    }

    /// Writes `model_index.json` and each part's `config.json` under `folder` (creating the part folders),
    /// in the keys diffusers 0.35 and transformers 4.57 read.
    public func writeDiffusersConfigs(to folder: String) throws {
        let fm = FileManager.default
        func write(_ object: [String: Any], _ relative: String) throws {
            let path = (folder as NSString).appendingPathComponent(relative)
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            let tmp = path + ".tmp-\(getpid())"
            guard fm.createFile(atPath: tmp, contents: data) else {
                throw ModelConfigError.unreadable(path: path, reason: "cannot write")
            }
            guard rename(tmp, path) == 0 else {
                unlink(tmp)
                throw ModelConfigError.unreadable(path: path, reason: "cannot rename into place")
            }
        }
        try write(["_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.35.2",
                   "force_zeros_for_empty_prompt": true,
                   "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                   "text_encoder": ["transformers", "CLIPTextModel"],
                   "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                   "tokenizer": NSNull(), "tokenizer_2": NSNull(), "scheduler": NSNull()], "model_index.json")
        try write(unetJSON, "unet/config.json")
        try write(vaeJSON, "vae/config.json")
        try write(Self.clipJSON(clipL, withProjection: false), "text_encoder/config.json")
        try write(Self.clipJSON(clipG, withProjection: true), "text_encoder_2/config.json")
    }

    /// Why the parts cannot form a pipeline (nil when they fit).
    var mismatch: String? {
        if unet.crossAttentionDim != clipL.width + clipG.width {
            return "UNet cross_attention_dim \(unet.crossAttentionDim) ≠ text widths \(clipL.width) + \(clipG.width)"
        }
        if clipG.projectionDim != unet.pooledDim {
            return "text_encoder_2 projection_dim \(clipG.projectionDim.map(String.init) ?? "none") ≠ UNet pooled width \(unet.pooledDim)"
        }
        if vae.latentChannels != unet.inChannels || unet.outChannels != unet.inChannels {
            return "VAE latent_channels \(vae.latentChannels) vs UNet in/out \(unet.inChannels)/\(unet.outChannels)"
        }
        return nil
    }

    /// Memberwise init without the preconditions (callers check `mismatch` and throw).
    init(unet: UNetConfig, clipL: CLIPTextConfig, clipG: CLIPTextConfig, vae: VAEConfig, checked: Void) {
        self.unet = unet
        self.clipL = clipL
        self.clipG = clipG
        self.vae = vae
    }

    private var unetJSON: [String: Any] {
        let u = unet
        let down = u.attention.map { $0 ? "CrossAttnDownBlock2D" : "DownBlock2D" }
        return [
            "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.35.2",
            "act_fn": "silu", "addition_embed_type": "text_time", "addition_time_embed_dim": u.additionTimeEmbedDim,
            "attention_head_dim": u.heads.map { max($0, 1) }, "block_out_channels": u.blockChannels,
            "center_input_sample": false, "cross_attention_dim": u.crossAttentionDim, "down_block_types": down,
            "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": u.inChannels, "layers_per_block": u.layersPerBlock,
            "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": Double(u.normEps), "norm_num_groups": u.normGroups,
            "out_channels": u.outChannels, "projection_class_embeddings_input_dim": u.additionInputDim,
            "sample_size": 128, "transformer_layers_per_block": u.transformerDepth.map { max($0, 1) },
            "up_block_types": down.reversed().map { $0.replacingOccurrences(of: "Down", with: "Up") },
            "upcast_attention": false, "use_linear_projection": true,
        ]
    }

    private var vaeJSON: [String: Any] {
        let v = vae
        return [
            "_class_name": "AutoencoderKL", "_diffusers_version": "0.35.2", "act_fn": "silu",
            "block_out_channels": v.blockOutChannels,
            "down_block_types": Array(repeating: "DownEncoderBlock2D", count: v.levels),
            "up_block_types": Array(repeating: "UpDecoderBlock2D", count: v.levels),
            "in_channels": v.imageChannels, "out_channels": v.imageChannels, "latent_channels": v.latentChannels,
            "layers_per_block": v.layersPerBlock, "norm_num_groups": v.normGroups, "sample_size": 128,
            "scaling_factor": Double(v.scalingFactor), "force_upcast": false,
        ]
    }

    private static func clipJSON(_ c: CLIPTextConfig, withProjection: Bool) -> [String: Any] {
        var json: [String: Any] = [
            "architectures": [withProjection ? "CLIPTextModelWithProjection" : "CLIPTextModel"],
            "model_type": "clip_text_model", "transformers_version": "4.57.1",
            "vocab_size": c.vocabSize, "max_position_embeddings": c.maxPositions, "hidden_size": c.width,
            "num_hidden_layers": c.layers, "num_attention_heads": c.heads, "intermediate_size": c.mlpWidth,
            "hidden_act": c.activation == .gelu ? "gelu" : "quick_gelu", "layer_norm_eps": Double(c.layerNormEps),
            "eos_token_id": Int(c.eosTokenId), "bos_token_id": Int(c.eosTokenId) - 1, "pad_token_id": 1,
        ]
        json["projection_dim"] = c.projectionDim ?? c.width
        return json
    }
}

/// One parsed config.json with typed, file-and-key-naming accessors.
struct ConfigJSON {
    let path: String
    let object: [String: Any]

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelConfigError.unreadable(path: path, reason: "missing")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelConfigError.unreadable(path: path, reason: "not a JSON object")
        }
        self.path = path
        object = obj
    }

    func int(_ key: String, default d: Int? = nil) throws -> Int {
        if let n = object[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded() { return n.intValue }
        if object[key] == nil || object[key] is NSNull, let d { return d }
        throw ModelConfigError.badValue(path: path, key: key, reason: object[key] == nil ? "is missing" : "is not an integer")
    }

    func double(_ key: String, default d: Double? = nil) throws -> Double {
        if let n = object[key] as? NSNumber { return n.doubleValue }
        if object[key] == nil || object[key] is NSNull, let d { return d }
        throw ModelConfigError.badValue(path: path, key: key, reason: object[key] == nil ? "is missing" : "is not a number")
    }

    func string(_ key: String, default d: String? = nil) throws -> String {
        if let s = object[key] as? String { return s }
        if object[key] == nil || object[key] is NSNull, let d { return d }
        throw ModelConfigError.badValue(path: path, key: key, reason: object[key] == nil ? "is missing" : "is not a string")
    }

    /// An integer list, or one integer repeated `count` times (diffusers accepts both for per-level values).
    func ints(_ key: String, count: Int, default d: Int? = nil) throws -> [Int] {
        if let list = object[key] as? [NSNumber] {
            guard list.count == count else {
                throw ModelConfigError.badValue(path: path, key: key, reason: "has \(list.count) entries, expected \(count)")
            }
            return list.map(\.intValue)
        }
        return Array(repeating: try int(key, default: d), count: count)
    }

    func strings(_ key: String) throws -> [String] {
        guard let list = object[key] as? [String] else {
            throw ModelConfigError.badValue(path: path, key: key, reason: object[key] == nil ? "is missing" : "is not a list of strings")
        }
        return list
    }

    func unetConfig() throws -> UNetConfig {
        guard let channels = object["block_out_channels"] as? [NSNumber], !channels.isEmpty else {
            throw ModelConfigError.badValue(path: path, key: "block_out_channels", reason: "is missing or empty")
        }
        let n = channels.count
        let down = try strings("down_block_types")
        guard down.count == n else {
            throw ModelConfigError.badValue(path: path, key: "down_block_types", reason: "has \(down.count) entries for \(n) levels")
        }
        let attention = try down.map { type -> Bool in
            switch type {
            case "CrossAttnDownBlock2D": return true
            case "DownBlock2D": return false
            default: throw ModelConfigError.badValue(path: path, key: "down_block_types", reason: "has unsupported block `\(type)`")
            }
        }
        let addition = try string("addition_embed_type", default: "")
        guard addition == "text_time" else {
            throw ModelConfigError.badValue(path: path, key: "addition_embed_type", reason: "is `\(addition)`; SDXL UNets use `text_time`")
        }
        guard try string("mid_block_type", default: "UNetMidBlock2DCrossAttn") == "UNetMidBlock2DCrossAttn" else {
            throw ModelConfigError.badValue(path: path, key: "mid_block_type", reason: "is not UNetMidBlock2DCrossAttn")
        }
        guard (object["use_linear_projection"] as? Bool) ?? false else {
            throw ModelConfigError.badValue(path: path, key: "use_linear_projection", reason: "must be true for SDXL-structured UNets")
        }
        // diffusers names the head count `attention_head_dim` (num_attention_heads, when set, wins).
        let headsKey = object["num_attention_heads"].map { !($0 is NSNull) } == true ? "num_attention_heads" : "attention_head_dim"
        let heads = try ints(headsKey, count: n)
        let depth = try ints("transformer_layers_per_block", count: n, default: 1)
        let crossAttention = try int("cross_attention_dim")
        let timeDim = try int("addition_time_embed_dim")
        let additionInput = try int("projection_class_embeddings_input_dim")
        let pooled = additionInput - 6 * timeDim
        guard pooled > 0 else {
            throw ModelConfigError.badValue(path: path, key: "projection_class_embeddings_input_dim",
                                            reason: "\(additionInput) leaves no room for the pooled text embedding after 6 × \(timeDim)")
        }
        for (i, on) in attention.enumerated() where on && (heads[i] < 1 || channels[i].intValue % heads[i] != 0) {
            throw ModelConfigError.badValue(path: path, key: headsKey, reason: "level \(i): \(heads[i]) heads do not divide \(channels[i]) channels")
        }
        return UNetConfig(inChannels: try int("in_channels", default: 4), outChannels: try int("out_channels", default: 4),
                          blockChannels: channels.map(\.intValue), layersPerBlock: try int("layers_per_block", default: 2),
                          attention: attention,
                          transformerDepth: zip(attention, depth).map { $0 ? $1 : 0 },
                          heads: zip(attention, heads).map { $0 ? $1 : 0 },
                          crossAttentionDim: crossAttention, pooledDim: pooled, additionTimeEmbedDim: timeDim,
                          normGroups: try int("norm_num_groups", default: 32), normEps: Float(try double("norm_eps", default: 1e-5)))
    }

    func vaeConfig() throws -> VAEConfig {
        guard let channels = object["block_out_channels"] as? [NSNumber], !channels.isEmpty else {
            throw ModelConfigError.badValue(path: path, key: "block_out_channels", reason: "is missing or empty")
        }
        return VAEConfig(imageChannels: try int("in_channels", default: 3), latentChannels: try int("latent_channels", default: 4),
                         blockOutChannels: channels.map(\.intValue), layersPerBlock: try int("layers_per_block", default: 1),
                         normGroups: try int("norm_num_groups", default: 32),
                         scalingFactor: Float(try double("scaling_factor", default: 0.18215)))
    }

    /// `withProjection`: SDXL's second encoder is always a `CLIPTextModelWithProjection` (its config's
    /// `architectures` may be null), the first never uses one.
    func clipConfig(withProjection: Bool) throws -> CLIPTextConfig {
        let act = try string("hidden_act", default: "quick_gelu")
        let activation: Activation
        switch act {
        case "quick_gelu": activation = .quickGelu
        case "gelu": activation = .gelu
        default: throw ModelConfigError.badValue(path: path, key: "hidden_act", reason: "`\(act)` is not supported (quick_gelu or gelu)")
        }
        let width = try int("hidden_size"), heads = try int("num_attention_heads")
        guard heads > 0, width % heads == 0 else {
            throw ModelConfigError.badValue(path: path, key: "num_attention_heads", reason: "\(heads) does not divide hidden_size \(width)")
        }
        // transformers' legacy configs say eos 2 and pool at the highest id (the end-of-text token, last in the vocabulary).
        let vocab = try int("vocab_size")
        var eos = try int("eos_token_id", default: vocab - 1)
        if eos == 2 { eos = vocab - 1 }
        return CLIPTextConfig(vocabSize: vocab, maxPositions: try int("max_position_embeddings", default: 77),
                              width: width, layers: try int("num_hidden_layers"), heads: heads,
                              mlpWidth: try int("intermediate_size"), activation: activation,
                              layerNormEps: Float(try double("layer_norm_eps", default: 1e-5)),
                              projectionDim: withProjection ? try int("projection_dim", default: width) : nil,
                              eosTokenId: Int32(eos))
    }
}
