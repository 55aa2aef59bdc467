import Tensor

/// The SDXL UNet (ε prediction) for any `UNetConfig` of the same structure.
///
/// Source: huggingface/diffusers, src/diffusers/models/unets/unet_2d_condition.py (`UNet2DConditionModel`
/// with `addition_embed_type="text_time"`); the LDM/SGM `UNetModel` it mirrors is
/// Stability-AI/generative-models, sgm/modules/diffusionmodules/openaimodel.py. Parameter names are the
/// diffusers ones; `UNet+Weights.swift` maps them to single-file (LDM) names.
public final class UNet: Module {
    /// The architecture.
    public let config: UNetConfig
    /// Latent → first level channels (`conv_in`).
    public let convIn: Conv2dLayer
    /// `time_embedding.linear_1` / `linear_2`: sinusoid(t) → SiLU MLP.
    public let timeLinear1: LinearLayer
    public let timeLinear2: LinearLayer
    /// `add_embedding.linear_1` / `linear_2`: [pooled | sinusoids of the 6 size ids] → SiLU MLP.
    public let addLinear1: LinearLayer
    public let addLinear2: LinearLayer
    /// Encoder levels (`down_blocks.i`), highest resolution first.
    public let down: [UNetLevel]
    /// `mid_block.resnets.0`, `mid_block.resnets.1`.
    public let midResnets: [UNetResnetBlock]
    /// `mid_block.attentions.0`.
    public let midAttention: UNetTransformer2D
    /// Decoder levels (`up_blocks.i`), lowest resolution first.
    public let up: [UNetLevel]
    /// Output GroupNorm (`conv_norm_out`).
    public let convNormOut: GroupNormLayer
    /// Last level channels → ε (`conv_out`).
    public let convOut: Conv2dLayer
    /// Run every ResNet and transformer block under `Compute.checkpoint` (recompute in backward), which
    /// trades about one extra forward for not keeping their activations. Results are identical.
    public var checkpointBlocks: Bool = false

    /// A UNet with zero weights (load or initialise them next).
    public init(config: UNetConfig) {
        self.config = config
        let plan = config.plan, ch0 = config.blockChannels[0], temb = config.timeEmbedDim
        let deepest = config.levels - 1
        convIn = Conv2dLayer(config.inChannels, ch0, kernel: 3, padding: 1)
        timeLinear1 = LinearLayer(ch0, temb)
        timeLinear2 = LinearLayer(temb, temb)
        addLinear1 = LinearLayer(config.additionInputDim, temb)
        addLinear2 = LinearLayer(temb, temb)
        down = (0..<config.levels).map { i in
            UNetLevel(plan.down[i], attention: config.attention[i], depth: config.transformerDepth[i], heads: config.heads[i],
                      config: config, resample: i < deepest, up: false)
        }
        let chMid = config.blockChannels[deepest]
        midResnets = (0..<2).map { _ in
            UNetResnetBlock(chMid, chMid, timeDim: temb, groups: config.normGroups, eps: config.normEps)
        }
        midAttention = UNetTransformer2D(channels: chMid, depth: config.transformerDepth[deepest], heads: config.heads[deepest],
                                         contextDim: config.crossAttentionDim, groups: config.normGroups,
                                         groupNormEps: config.transformerNormEps, eps: config.normEps)
        up = (0..<config.levels).map { i in
            let level = deepest - i
            return UNetLevel(plan.up[i], attention: config.attention[level], depth: config.transformerDepth[level],
                             heads: config.heads[level], config: config, resample: i < deepest, up: true)
        }
        convNormOut = GroupNormLayer(groups: config.normGroups, channels: ch0, eps: config.normEps)
        convOut = Conv2dLayer(ch0, config.outChannels, kernel: 3, padding: 1)
    }

    /// Predicts the noise ε.
    ///
    /// - x: latent [B, inChannels, h, w] (h, w multiples of `config.downsampleFactor`)
    /// - timestep: one diffusion timestep per batch item (e.g. 999)
    /// - context: text encoder hidden states [B, T, crossAttentionDim]
    /// - addTextEmbeds: pooled text embedding [B, pooledDim]
    /// - timeIds: per batch item (original h, original w, crop top, crop left, target h, target w) in pixels
    /// - returns: [B, outChannels, h, w]
    public func callAsFunction(_ x: Tensor, timestep: [Float], context: Tensor, addTextEmbeds: Tensor,
                               timeIds: [[Float]], _ c: Compute) -> Tensor {
        let b = x.dim(0)
        precondition(x.rank == 4 && x.dim(1) == config.inChannels
                     && x.dim(2) % config.downsampleFactor == 0 && x.dim(3) % config.downsampleFactor == 0,
                     "UNet: latent \(x.shape) must be [B, \(config.inChannels), h, w] with h, w multiples of \(config.downsampleFactor)")
        precondition(timestep.count == b && timeIds.count == b && timeIds.allSatisfy { $0.count == 6 },
                     "UNet: \(timestep.count) timesteps and \(timeIds.count) time-id rows for batch \(b) (6 ids each)")
        precondition(context.rank == 3 && context.dim(0) == b && context.dim(2) == config.crossAttentionDim,
                     "UNet: context \(context.shape) must be [\(b), T, \(config.crossAttentionDim)]")
        precondition(addTextEmbeds.shape == [b, config.pooledDim],
                     "UNet: pooled text embedding \(addTextEmbeds.shape) must be [\(b), \(config.pooledDim)]")

        let embSiLU = c.silu(embedding(timestep: timestep, addTextEmbeds: addTextEmbeds, timeIds: timeIds, c))
        var h = convIn(x, c)
        var skips = [h]
        for level in down {
            for (j, resnet) in level.resnets.enumerated() {
                h = runResnet(resnet, h, embSiLU, c)
                if !level.attentions.isEmpty { h = level.attentions[j](h, context: context, checkpoint: checkpointBlocks, c) }
                skips.append(h)
            }
            if level.resampler != nil {
                h = level.resample(h, c)
                skips.append(h)
            }
        }
        h = runResnet(midResnets[0], h, embSiLU, c)
        h = midAttention(h, context: context, checkpoint: checkpointBlocks, c)
        h = runResnet(midResnets[1], h, embSiLU, c)
        for level in up {
            for (j, resnet) in level.resnets.enumerated() {
                h = runResnet(resnet, c.concat([h, skips.removeLast()], dim: 1), embSiLU, c)
                if !level.attentions.isEmpty { h = level.attentions[j](h, context: context, checkpoint: checkpointBlocks, c) }
            }
            h = level.resample(h, c)
        }
        return convOut(convNormOut.silu(h, c), c)
    }

    /// Time embedding plus the addition embedding of [pooled | sinusoid(id) for the 6 ids] → [B, timeEmbedDim].
    public func embedding(timestep: [Float], addTextEmbeds: Tensor, timeIds: [[Float]], _ c: Compute) -> Tensor {
        let b = timestep.count
        let tEmb = c.timestepEmbedding(timestep, dim: config.blockChannels[0])
        let t = timeLinear2(c.silu(timeLinear1(tEmb, c)), c)
        // Each id gets its own sinusoid; rows of 6 ids flatten to [B, 6 · dim] as diffusers' reshape does.
        let ids = c.timestepEmbedding(timeIds.flatMap { $0 }, dim: config.additionTimeEmbedDim)
            .viewing(as: [b, 6 * config.additionTimeEmbedDim])
        let y = c.concat([addTextEmbeds, ids], dim: 1)
        return c.add(t, addLinear2(c.silu(addLinear1(y, c)), c))
    }

    private func runResnet(_ resnet: UNetResnetBlock, _ x: Tensor, _ embSiLU: Tensor, _ c: Compute) -> Tensor {
        guard checkpointBlocks else { return resnet(x, embSiLU: embSiLU, c) }
        return c.checkpoint([x, embSiLU]) { c, xs in resnet(xs[0], embSiLU: xs[1], c) }
    }

    /// Parameters under their diffusers names, relative to this module.
    public var namedParameters: [(String, Tensor)] {
        prefixed("conv_in", convIn.namedParameters)
            + prefixed("time_embedding.linear_1", timeLinear1.namedParameters)
            + prefixed("time_embedding.linear_2", timeLinear2.namedParameters)
            + prefixed("add_embedding.linear_1", addLinear1.namedParameters)
            + prefixed("add_embedding.linear_2", addLinear2.namedParameters)
            + down.enumerated().flatMap { prefixed("down_blocks.\($0.offset)", $0.element.namedParameters) }
            + prefixed("mid_block.resnets.0", midResnets[0].namedParameters)
            + prefixed("mid_block.attentions.0", midAttention.namedParameters)
            + prefixed("mid_block.resnets.1", midResnets[1].namedParameters)
            + up.enumerated().flatMap { prefixed("up_blocks.\($0.offset)", $0.element.namedParameters) }
            + prefixed("conv_norm_out", convNormOut.namedParameters)
            + prefixed("conv_out", convOut.namedParameters)
    }

    /// Every parameter's diffusers name and shape for `config`, in `namedParameters` order, without
    /// allocating anything (a full SDXL UNet is 10 GB in fp32).
    public static func parameterShapes(_ config: UNetConfig) -> [(String, [Int])] {
        let plan = config.plan, ch0 = config.blockChannels[0], temb = config.timeEmbedDim, deepest = config.levels - 1
        let ctx = config.crossAttentionDim
        func linear(_ name: String, _ i: Int, _ o: Int) -> [(String, [Int])] { [("\(name).weight", [o, i]), ("\(name).bias", [o])] }
        func conv(_ name: String, _ i: Int, _ o: Int) -> [(String, [Int])] { [("\(name).weight", [o, i, 3, 3]), ("\(name).bias", [o])] }
        func level(_ name: String, _ res: [UNetPlan.Res], attention: Bool, depth: Int, resampler: String?) -> [(String, [Int])] {
            var s = res.enumerated().flatMap {
                shapePrefixed("\(name).resnets.\($0.offset)", UNetResnetBlock.shapes($0.element.inChannels, $0.element.outChannels, timeDim: temb))
            }
            if attention {
                s += res.enumerated().flatMap {
                    shapePrefixed("\(name).attentions.\($0.offset)",
                                  UNetTransformer2D.shapes(channels: $0.element.outChannels, depth: depth, contextDim: ctx))
                }
            }
            if let resampler { s += conv("\(name).\(resampler).0.conv", res.last!.outChannels, res.last!.outChannels) }
            return s
        }
        let chMid = config.blockChannels[deepest]
        var s = conv("conv_in", config.inChannels, ch0) + linear("time_embedding.linear_1", ch0, temb)
            + linear("time_embedding.linear_2", temb, temb) + linear("add_embedding.linear_1", config.additionInputDim, temb)
            + linear("add_embedding.linear_2", temb, temb)
        for i in 0..<config.levels {
            s += level("down_blocks.\(i)", plan.down[i], attention: config.attention[i], depth: config.transformerDepth[i],
                       resampler: i < deepest ? "downsamplers" : nil)
        }
        s += shapePrefixed("mid_block.resnets.0", UNetResnetBlock.shapes(chMid, chMid, timeDim: temb))
        s += shapePrefixed("mid_block.attentions.0",
                           UNetTransformer2D.shapes(channels: chMid, depth: config.transformerDepth[deepest], contextDim: ctx))
        s += shapePrefixed("mid_block.resnets.1", UNetResnetBlock.shapes(chMid, chMid, timeDim: temb))
        for i in 0..<config.levels {
            s += level("up_blocks.\(i)", plan.up[i], attention: config.attention[deepest - i],
                       depth: config.transformerDepth[deepest - i], resampler: i < deepest ? "upsamplers" : nil)
        }
        return s + [("conv_norm_out.weight", [ch0]), ("conv_norm_out.bias", [ch0])] + conv("conv_out", ch0, config.outChannels)
    }
}
