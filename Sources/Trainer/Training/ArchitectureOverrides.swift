import Diffusion

/// Builds the model architecture from `[model] architecture` and the override tables (`[model.unet]`,
/// `[model.vae_config]`, `[model.clip_l]`, `[model.clip_g]`), checking what the model constructors would trap on.
/// The UNet's context width and pooled width follow the text encoders (CLIP-L width + bigG width, bigG projection).
public enum ArchitectureOverrides {
    /// Keys each override table accepts.
    public static let keys: [String: Set<String>] = [
        "unet": ["block_channels", "layers_per_block", "attention", "transformer_depth", "heads",
                 "addition_time_embed_dim", "norm_groups"],
        "vae_config": ["block_out_channels", "layers_per_block", "norm_groups", "latent_channels"],
        "clip_l": ["width", "layers", "heads", "mlp_width", "vocab_size"],
        "clip_g": ["width", "layers", "heads", "mlp_width", "vocab_size", "projection_dim"],
    ]

    /// The architecture of `config.model`.
    public static func modelConfig(_ config: TrainingConfig) throws -> SDXLModelConfig {
        let m = config.model
        let base: SDXLModelConfig
        switch m.architecture {
        case "tiny": base = .tiny
        case "sdxl": base = .sdxl
        default:
            do { base = try SDXLModelConfig.read(diffusersFolder: config.resolve(m.architecture)) } catch {
                throw TrainingError.invalidConfig(file: config.sourcePath, key: "model.architecture", reason: "\(error)")
            }
        }
        func bad(_ part: String, _ key: String, _ reason: String) -> TrainingError {
            .invalidConfig(file: config.sourcePath, key: "model.\(part).\(key)", reason: reason)
        }
        func scalar(_ part: String, _ key: String) throws -> Int? {
            guard let v = m.overrides[part]?[key] else { return nil }
            guard v.count == 1, v[0] > 0 else { throw bad(part, key, "expected one positive integer") }
            return v[0]
        }
        func list(_ part: String, _ key: String) -> [Int]? { m.overrides[part]?[key] }

        func clip(_ part: String, _ c: CLIPTextConfig) throws -> CLIPTextConfig {
            var c = c
            c.width = try scalar(part, "width") ?? c.width
            c.layers = try scalar(part, "layers") ?? c.layers
            c.heads = try scalar(part, "heads") ?? c.heads
            c.mlpWidth = try scalar(part, "mlp_width") ?? c.mlpWidth
            if let v = try scalar(part, "vocab_size") { c.vocabSize = v; c.eosTokenId = Int32(v - 1) }
            if part == "clip_g" { c.projectionDim = try scalar(part, "projection_dim") ?? c.projectionDim }
            guard c.width % c.heads == 0 else { throw bad(part, "heads", "\(c.heads) heads do not divide width \(c.width)") }
            if c.vocabSize < 49408 && c.vocabSize < 3 { throw bad(part, "vocab_size", "too small") }
            return c
        }
        let l = try clip("clip_l", base.clipL), g = try clip("clip_g", base.clipG)

        var v = base.vae
        v.blockOutChannels = list("vae_config", "block_out_channels") ?? v.blockOutChannels
        v.layersPerBlock = try scalar("vae_config", "layers_per_block") ?? v.layersPerBlock
        v.normGroups = try scalar("vae_config", "norm_groups") ?? v.normGroups
        v.latentChannels = try scalar("vae_config", "latent_channels") ?? v.latentChannels
        guard !v.blockOutChannels.isEmpty, v.blockOutChannels.allSatisfy({ $0 > 0 && $0 % v.normGroups == 0 }) else {
            throw bad("vae_config", "block_out_channels", "\(v.blockOutChannels) must be positive multiples of \(v.normGroups) groups")
        }

        var u = base.unet
        u.blockChannels = list("unet", "block_channels") ?? u.blockChannels
        u.layersPerBlock = try scalar("unet", "layers_per_block") ?? u.layersPerBlock
        if let a = list("unet", "attention") { u.attention = a.map { $0 != 0 } }
        u.transformerDepth = list("unet", "transformer_depth") ?? u.transformerDepth
        u.heads = list("unet", "heads") ?? u.heads
        u.additionTimeEmbedDim = try scalar("unet", "addition_time_embed_dim") ?? u.additionTimeEmbedDim
        u.normGroups = try scalar("unet", "norm_groups") ?? u.normGroups
        u.crossAttentionDim = l.width + g.width
        u.pooledDim = g.projectionDim ?? g.width
        u.inChannels = v.latentChannels
        u.outChannels = v.latentChannels
        let n = u.blockChannels.count
        guard n > 0, u.attention.count == n, u.transformerDepth.count == n, u.heads.count == n else {
            throw bad("unet", "block_channels", "block_channels, attention, transformer_depth and heads need one entry per level (\(n))")
        }
        for (i, ch) in u.blockChannels.enumerated() {
            guard ch > 0, ch % u.normGroups == 0 else { throw bad("unet", "block_channels", "\(ch) is not a multiple of \(u.normGroups) groups") }
            if u.attention[i] {
                guard u.heads[i] > 0, ch % u.heads[i] == 0, u.transformerDepth[i] > 0 else {
                    throw bad("unet", "heads", "level \(i): \(u.heads[i]) heads / depth \(u.transformerDepth[i]) do not fit \(ch) channels")
                }
            }
        }
        guard u.additionTimeEmbedDim % 2 == 0 else { throw bad("unet", "addition_time_embed_dim", "must be even") }
        return SDXLModelConfig(unet: u, clipL: l, clipG: g, vae: v)
    }
}
