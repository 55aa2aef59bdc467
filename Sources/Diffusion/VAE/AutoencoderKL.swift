import Tensor

/// The SD / SDXL VAE (`AutoencoderKL`), always computed in fp32.
///
/// Latent spaces — the one convention to remember:
/// - *VAE space*: what `encode` produces (`mean`, `logvar`) and what `decode(_:_:)` consumes, exactly as
///   diffusers' `AutoencoderKL.encode` / `.decode` (no scaling inside).
/// - *model space*: what the UNet and samplers see = VAE space × `config.scalingFactor` (0.13025 for SDXL).
///   `encodeToModelSpace` and `decodeFromModelSpace` do the scaling for you.
///
/// Parameter names are diffusers' (`encoder.down_blocks.0.resnets.0.conv1.weight`, …); single-file LDM
/// names (`first_stage_model.encoder.down.0.block.0.conv1.weight`, …) are mapped in `AutoencoderKL+Weights.swift`.
/// Source: huggingface/diffusers `src/diffusers/models/autoencoders/{autoencoder_kl.py, vae.py}`.
public final class AutoencoderKL: Module {
    /// The architecture.
    public let config: VAEConfig
    /// Image → 2 × latent channels (mean | logvar) before `quantConv`.
    public let encoder: VAEEncoder
    /// Latent (after `postQuantConv`) → image.
    public let decoder: VAEDecoder
    /// 1×1 conv on the encoder's moments (8 → 8 for SDXL).
    public let quantConv: Conv2dLayer
    /// 1×1 conv on the latent before the decoder (4 → 4 for SDXL).
    public let postQuantConv: Conv2dLayer
    /// Recompute each level during backward instead of keeping its activations (training through the VAE).
    public var gradientCheckpointing = false

    /// A VAE with zero weights (load them with `load(from:)`).
    public init(_ config: VAEConfig) {
        self.config = config
        encoder = VAEEncoder(config)
        decoder = VAEDecoder(config)
        quantConv = Conv2dLayer(2 * config.latentChannels, 2 * config.latentChannels, kernel: 1)
        postQuantConv = Conv2dLayer(config.latentChannels, config.latentChannels, kernel: 1)
    }

    /// The latent distribution (VAE space) of images in [−1, 1].
    /// image: [B, 3, H, W] → mean, logvar: [B, 4, ⌈H/8⌉, ⌈W/8⌉] (for H, W multiples of 8: H/8, W/8).
    public func encode(_ image: Tensor, _ c: Compute) -> LatentDistribution {
        let moments = quantConv(encoder(image, checkpointing: gradientCheckpointing, c), c)
        let parts = c.split(moments, sizes: [config.latentChannels, config.latentChannels], dim: 1)
        return LatentDistribution(mean: parts[0], rawLogvar: parts[1], c)
    }

    /// Decodes VAE-space latents (NOT model-space: divide model latents by `config.scalingFactor` first, or
    /// call `decodeFromModelSpace`). z: [B, 4, h, w] → image [B, 3, 8h, 8w], nominally in [−1, 1] (unclamped).
    public func decode(_ z: Tensor, _ c: Compute) -> Tensor {
        decoder(postQuantConv(z, c), checkpointing: gradientCheckpointing, c)
    }

    /// Decodes the latents a sampler produced: `decode(latents / scalingFactor)`.
    /// latents: [B, 4, h, w] (model space) → image [B, 3, 8h, 8w] in about [−1, 1].
    public func decodeFromModelSpace(_ latents: Tensor, _ c: Compute) -> Tensor {
        decode(c.scale(latents, by: 1 / config.scalingFactor), c)
    }

    /// `decodeTiled(latents / scalingFactor)`: model-space latents decoded in tiles (see `decodeTiled`).
    public func decodeTiledFromModelSpace(_ latents: Tensor, tileLatent: Int = 64, overlap: Int = 16, _ c: Compute) -> Tensor {
        decodeTiled(c.scale(latents, by: 1 / config.scalingFactor), tileLatent: tileLatent, overlap: overlap, c)
    }

    /// Encodes images to model-space latents: (mean + std · noise) × scalingFactor, or mean × scalingFactor
    /// (the distribution's mode) when `noise` is nil. image: [B, 3, H, W]; noise: [B, 4, H/8, W/8].
    public func encodeToModelSpace(_ image: Tensor, noise: Tensor? = nil, _ c: Compute) -> Tensor {
        let dist = encode(image, c)
        return c.scale(noise.map { dist.sample(noise: $0, c) } ?? dist.mean, by: config.scalingFactor)
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("encoder", encoder.namedParameters) + prefixed("decoder", decoder.namedParameters)
            + prefixed("quant_conv", quantConv.namedParameters) + prefixed("post_quant_conv", postQuantConv.namedParameters)
    }
}

/// diffusers `Encoder` (double_z): conv_in, down levels (the last without down-sampling), mid block,
/// GroupNorm + SiLU, conv_out to 2 × latent channels.
public final class VAEEncoder: Module {
    public let convIn: Conv2dLayer
    public let downBlocks: [VAELevel]
    public let midBlock: VAEMidBlock
    public let convNormOut: GroupNormLayer
    public let convOut: Conv2dLayer

    /// The encoder of `config`.
    public init(_ config: VAEConfig) {
        let ch = config.blockOutChannels, g = config.normGroups, eps = config.eps
        convIn = Conv2dLayer(config.imageChannels, ch[0], kernel: 3, padding: 1)
        downBlocks = ch.indices.map { i in
            VAELevel(i == 0 ? ch[0] : ch[i - 1], ch[i], layers: config.layersPerBlock,
                     resample: i < ch.count - 1 ? .down : .none, groups: g, eps: eps)
        }
        midBlock = VAEMidBlock(channels: ch[ch.count - 1], groups: g, eps: eps)
        convNormOut = GroupNormLayer(groups: g, channels: ch[ch.count - 1], eps: eps)
        convOut = Conv2dLayer(ch[ch.count - 1], 2 * config.latentChannels, kernel: 3, padding: 1)
    }

    /// image: [B, 3, H, W] → moments [B, 8, h, w]
    public func callAsFunction(_ image: Tensor, checkpointing: Bool = false, _ c: Compute) -> Tensor {
        var h = convIn(image, c)
        for level in downBlocks { h = runBlock(h, checkpointing, c) { level($0, $1) } }
        h = runBlock(h, checkpointing, c) { self.midBlock($0, $1) }
        return convOut(convNormOut.silu(h, c), c)
    }

    public var namedParameters: [(String, Tensor)] {
        var out = prefixed("conv_in", convIn.namedParameters)
        for (i, b) in downBlocks.enumerated() { out += prefixed("down_blocks.\(i)", b.namedParameters) }
        return out + prefixed("mid_block", midBlock.namedParameters)
            + prefixed("conv_norm_out", convNormOut.namedParameters) + prefixed("conv_out", convOut.namedParameters)
    }
}

/// diffusers `Decoder`: conv_in, mid block, up levels over the reversed channels (layers + 1 ResNets each,
/// the last without up-sampling), GroupNorm + SiLU, conv_out to RGB.
public final class VAEDecoder: Module {
    public let convIn: Conv2dLayer
    public let midBlock: VAEMidBlock
    public let upBlocks: [VAELevel]
    public let convNormOut: GroupNormLayer
    public let convOut: Conv2dLayer

    /// The decoder of `config`.
    public init(_ config: VAEConfig) {
        let ch = Array(config.blockOutChannels.reversed()), g = config.normGroups, eps = config.eps
        convIn = Conv2dLayer(config.latentChannels, ch[0], kernel: 3, padding: 1)
        midBlock = VAEMidBlock(channels: ch[0], groups: g, eps: eps)
        upBlocks = ch.indices.map { i in
            VAELevel(i == 0 ? ch[0] : ch[i - 1], ch[i], layers: config.layersPerBlock + 1,
                     resample: i < ch.count - 1 ? .up : .none, groups: g, eps: eps)
        }
        convNormOut = GroupNormLayer(groups: g, channels: ch[ch.count - 1], eps: eps)
        convOut = Conv2dLayer(ch[ch.count - 1], config.imageChannels, kernel: 3, padding: 1)
    }

    /// z: [B, 4, h, w] (after post_quant_conv) → image [B, 3, H, W]
    public func callAsFunction(_ z: Tensor, checkpointing: Bool = false, _ c: Compute) -> Tensor {
        var h = convIn(z, c)
        h = runBlock(h, checkpointing, c) { self.midBlock($0, $1) }
        for level in upBlocks { h = runBlock(h, checkpointing, c) { level($0, $1) } }
        return convOut(convNormOut.silu(h, c), c)
    }

    public var namedParameters: [(String, Tensor)] {
        var out = prefixed("conv_in", convIn.namedParameters) + prefixed("mid_block", midBlock.namedParameters)
        for (i, b) in upBlocks.enumerated() { out += prefixed("up_blocks.\(i)", b.namedParameters) }
        return out + prefixed("conv_norm_out", convNormOut.namedParameters) + prefixed("conv_out", convOut.namedParameters)
    }
}

/// Runs one block, under gradient checkpointing when asked and when a graph is being recorded.
private func runBlock(_ x: Tensor, _ checkpointing: Bool, _ c: Compute,
                      _ body: @escaping (Tensor, Compute) -> Tensor) -> Tensor {
    guard checkpointing, c.recordsGradients else { return body(x, c) }
    return c.checkpoint([x]) { c, xs in body(xs[0], c) }
}
