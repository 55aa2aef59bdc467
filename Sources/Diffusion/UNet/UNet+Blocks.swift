import Tensor

// The UNet's building blocks, named as in diffusers so `namedParameters` yields checkpoint names.
// Source: huggingface/diffusers, src/diffusers/models/resnet.py (ResnetBlock2D, Downsample2D, Upsample2D),
// attention.py (BasicTransformerBlock, FeedForward, GEGLU), attention_processor.py (Attention),
// transformers/transformer_2d.py (Transformer2DModel with use_linear_projection).

/// `ResnetBlock2D`: GN → SiLU → conv3×3, + time projection, GN → SiLU → conv3×3, + (1×1 conv) shortcut.
public final class UNetResnetBlock: Module {
    /// GroupNorm (`norm1`).
    public let norm1: GroupNormLayer
    /// 3×3 conv (`conv1`).
    public let conv1: Conv2dLayer
    /// Time embedding → channel shift (`time_emb_proj`).
    public let timeEmbProj: LinearLayer
    /// GroupNorm (`norm2`).
    public let norm2: GroupNormLayer
    /// 3×3 conv (`conv2`).
    public let conv2: Conv2dLayer
    /// 1×1 conv when the channel count changes.
    public let convShortcut: Conv2dLayer?

    /// A block from `inChannels` to `outChannels` conditioned on a `timeDim`-wide embedding.
    public init(_ inChannels: Int, _ outChannels: Int, timeDim: Int, groups: Int, eps: Float) {
        norm1 = GroupNormLayer(groups: groups, channels: inChannels, eps: eps)
        conv1 = Conv2dLayer(inChannels, outChannels, kernel: 3, padding: 1)
        timeEmbProj = LinearLayer(timeDim, outChannels)
        norm2 = GroupNormLayer(groups: groups, channels: outChannels, eps: eps)
        conv2 = Conv2dLayer(outChannels, outChannels, kernel: 3, padding: 1)
        convShortcut = inChannels == outChannels ? nil : Conv2dLayer(inChannels, outChannels, kernel: 1)
    }

    /// x: [B, Cin, H, W], embSiLU: [B, timeDim] (SiLU already applied, shared by every block) → [B, Cout, H, W].
    public func callAsFunction(_ x: Tensor, embSiLU: Tensor, _ c: Compute) -> Tensor {
        var h = conv1(x, normSiLU: norm1, c)
        let t = timeEmbProj(embSiLU, c)
        h = c.add(h, c.reshape(t, [t.dim(0), t.dim(1), 1, 1]))
        h = conv2(h, normSiLU: norm2, c)
        return c.add(convShortcut.map { $0(x, c) } ?? x, h)
    }

    /// Parameters under their diffusers names, relative to this module.
    public var namedParameters: [(String, Tensor)] {
        prefixed("norm1", norm1.namedParameters) + prefixed("conv1", conv1.namedParameters)
            + prefixed("time_emb_proj", timeEmbProj.namedParameters) + prefixed("norm2", norm2.namedParameters)
            + prefixed("conv2", conv2.namedParameters) + (convShortcut.map { prefixed("conv_shortcut", $0.namedParameters) } ?? [])
    }

    static func shapes(_ cin: Int, _ cout: Int, timeDim: Int) -> [(String, [Int])] {
        var s: [(String, [Int])] = [
            ("norm1.weight", [cin]), ("norm1.bias", [cin]), ("conv1.weight", [cout, cin, 3, 3]), ("conv1.bias", [cout]),
            ("time_emb_proj.weight", [cout, timeDim]), ("time_emb_proj.bias", [cout]),
            ("norm2.weight", [cout]), ("norm2.bias", [cout]), ("conv2.weight", [cout, cout, 3, 3]), ("conv2.bias", [cout]),
        ]
        if cin != cout { s += [("conv_shortcut.weight", [cout, cin, 1, 1]), ("conv_shortcut.bias", [cout])] }
        return s
    }
}

/// Multi-head attention with bias-free q/k/v projections and a biased output projection (`to_out.0`).
public final class UNetAttention: Module {
    /// Query projection, no bias (`to_q`).
    public let toQ: LinearLayer
    /// Key projection, no bias (`to_k`).
    public let toK: LinearLayer
    /// Value projection, no bias (`to_v`).
    public let toV: LinearLayer
    /// Output projection (`to_out.0`).
    public let toOut: LinearLayer
    /// Number of heads (head dim = width / heads).
    public let heads: Int

    /// Attention of `dim`-wide queries over `contextDim`-wide keys/values (self-attention when equal).
    public init(dim: Int, contextDim: Int, heads: Int) {
        precondition(heads > 0 && dim % heads == 0, "UNetAttention: width \(dim) not divisible by \(heads) heads")
        toQ = LinearLayer(dim, dim, bias: false)
        toK = LinearLayer(contextDim, dim, bias: false)
        toV = LinearLayer(contextDim, dim, bias: false)
        toOut = LinearLayer(dim, dim)
        self.heads = heads
    }

    /// x: [B, T, C], context: [B, S, Cctx] (nil: self-attention) → [B, T, C].
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, _ c: Compute) -> Tensor {
        let ctx = context ?? x
        let (b, t, width) = (x.dim(0), x.dim(1), toQ.weight.dim(0))
        // [B, T, C] → [B, N, T, D]
        func heads(_ y: Tensor) -> Tensor {
            c.permute(c.reshape(y, [b, y.dim(1), self.heads, width / self.heads]), [0, 2, 1, 3])
        }
        let o = c.attention(heads(toQ(x, c)), heads(toK(ctx, c)), heads(toV(ctx, c)))
        return toOut(c.reshape(c.permute(o, [0, 2, 1, 3]), [b, t, width]), c)
    }

    /// Parameters under their diffusers names, relative to this module.
    public var namedParameters: [(String, Tensor)] {
        prefixed("to_q", toQ.namedParameters) + prefixed("to_k", toK.namedParameters)
            + prefixed("to_v", toV.namedParameters) + prefixed("to_out.0", toOut.namedParameters)
    }

    static func shapes(dim: Int, contextDim: Int) -> [(String, [Int])] {
        [("to_q.weight", [dim, dim]), ("to_k.weight", [dim, contextDim]), ("to_v.weight", [dim, contextDim]),
         ("to_out.0.weight", [dim, dim]), ("to_out.0.bias", [dim])]
    }
}

/// `BasicTransformerBlock`: pre-LayerNorm self-attention, cross-attention on the text context and a GEGLU
/// feed-forward (Linear C→8C, a·gelu(gate), Linear 4C→C), each added to the residual stream.
public final class UNetTransformerBlock: Module {
    /// LayerNorm (`norm1`).
    public let norm1: LayerNormLayer
    /// Self-attention (`attn1`).
    public let attn1: UNetAttention
    /// LayerNorm (`norm2`).
    public let norm2: LayerNormLayer
    /// Cross-attention on the text context (`attn2`).
    public let attn2: UNetAttention
    /// LayerNorm before the feed-forward (`norm3`).
    public let norm3: LayerNormLayer
    /// `ff.net.0.proj`: C → 8C (value half | gate half).
    public let ffIn: LinearLayer
    /// `ff.net.2`: 4C → C.
    public let ffOut: LinearLayer

    /// A block of width `dim` with `heads` heads attending to a `contextDim`-wide context.
    public init(dim: Int, heads: Int, contextDim: Int, eps: Float) {
        norm1 = LayerNormLayer(dim, eps: eps)
        attn1 = UNetAttention(dim: dim, contextDim: dim, heads: heads)
        norm2 = LayerNormLayer(dim, eps: eps)
        attn2 = UNetAttention(dim: dim, contextDim: contextDim, heads: heads)
        norm3 = LayerNormLayer(dim, eps: eps)
        ffIn = LinearLayer(dim, 8 * dim)
        ffOut = LinearLayer(4 * dim, dim)
    }

    /// x: [B, T, C], context: [B, S, Cctx] → [B, T, C].
    public func callAsFunction(_ x: Tensor, context: Tensor, _ c: Compute) -> Tensor {
        var h = c.add(x, attn1(norm1(x, c), c))
        h = c.add(h, attn2(norm2(h, c), context: context, c))
        return c.add(h, ffOut(c.geglu(ffIn(norm3(h, c), c)), c))
    }

    /// Parameters under their diffusers names, relative to this module.
    public var namedParameters: [(String, Tensor)] {
        prefixed("norm1", norm1.namedParameters) + prefixed("attn1", attn1.namedParameters)
            + prefixed("norm2", norm2.namedParameters) + prefixed("attn2", attn2.namedParameters)
            + prefixed("norm3", norm3.namedParameters) + prefixed("ff.net.0.proj", ffIn.namedParameters)
            + prefixed("ff.net.2", ffOut.namedParameters)
    }

    static func shapes(dim: Int, contextDim: Int) -> [(String, [Int])] {
        let norm = { (n: String) in [("\(n).weight", [dim]), ("\(n).bias", [dim])] }
        return norm("norm1") + shapePrefixed("attn1", UNetAttention.shapes(dim: dim, contextDim: dim)) + norm("norm2")
            + shapePrefixed("attn2", UNetAttention.shapes(dim: dim, contextDim: contextDim)) + norm("norm3")
            + [("ff.net.0.proj.weight", [8 * dim, dim]), ("ff.net.0.proj.bias", [8 * dim]),
               ("ff.net.2.weight", [dim, 4 * dim]), ("ff.net.2.bias", [dim])]
    }
}

/// `Transformer2DModel` with linear projections (LDM `SpatialTransformer`): GroupNorm (eps 1e-6 in
/// diffusers), tokens [B, HW, C], `proj_in`, transformer blocks, `proj_out`, back to NCHW, + input.
public final class UNetTransformer2D: Module {
    /// Input GroupNorm (`norm`).
    public let norm: GroupNormLayer
    /// Token projection in (`proj_in`).
    public let projIn: LinearLayer
    /// The transformer blocks (`transformer_blocks.k`).
    public let blocks: [UNetTransformerBlock]
    /// Token projection out (`proj_out`).
    public let projOut: LinearLayer

    /// `depth` transformer blocks of width `channels`.
    public init(channels: Int, depth: Int, heads: Int, contextDim: Int, groups: Int, groupNormEps: Float, eps: Float) {
        norm = GroupNormLayer(groups: groups, channels: channels, eps: groupNormEps)
        projIn = LinearLayer(channels, channels)
        blocks = (0..<depth).map { _ in UNetTransformerBlock(dim: channels, heads: heads, contextDim: contextDim, eps: eps) }
        projOut = LinearLayer(channels, channels)
    }

    /// x: [B, C, H, W], context: [B, S, Cctx] → [B, C, H, W]. With `checkpoint`, each transformer block
    /// runs under `Compute.checkpoint` (its activations are recomputed in backward).
    public func callAsFunction(_ x: Tensor, context: Tensor, checkpoint: Bool = false, _ c: Compute) -> Tensor {
        let (b, ch, hgt, wid) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let tokens = c.reshape(c.permute(norm(x, c), [0, 2, 3, 1]), [b, hgt * wid, ch])
        var h = projIn(tokens, c)
        for block in blocks {
            if checkpoint {
                h = c.checkpoint([h, context]) { c, xs in block(xs[0], context: xs[1], c) }
            } else {
                h = block(h, context: context, c)
            }
        }
        h = projOut(h, c)
        return c.add(c.permute(c.reshape(h, [b, hgt, wid, ch]), [0, 3, 1, 2]), x)
    }

    /// Parameters under their diffusers names, relative to this module.
    public var namedParameters: [(String, Tensor)] {
        prefixed("norm", norm.namedParameters) + prefixed("proj_in", projIn.namedParameters)
            + blocks.enumerated().flatMap { prefixed("transformer_blocks.\($0.offset)", $0.element.namedParameters) }
            + prefixed("proj_out", projOut.namedParameters)
    }

    static func shapes(channels: Int, depth: Int, contextDim: Int) -> [(String, [Int])] {
        let ch = channels
        return [("norm.weight", [ch]), ("norm.bias", [ch]), ("proj_in.weight", [ch, ch]), ("proj_in.bias", [ch])]
            + (0..<depth).flatMap { shapePrefixed("transformer_blocks.\($0)", UNetTransformerBlock.shapes(dim: ch, contextDim: contextDim)) }
            + [("proj_out.weight", [ch, ch]), ("proj_out.bias", [ch])]
    }
}

/// One resolution level of the encoder (`DownBlock2D` / `CrossAttnDownBlock2D`) or decoder
/// (`UpBlock2D` / `CrossAttnUpBlock2D`): ResNets, optional transformers after each, optional resampler.
public final class UNetLevel: Module {
    /// ResNet blocks (`resnets.j`).
    public let resnets: [UNetResnetBlock]
    /// One per ResNet at attention levels, empty otherwise.
    public let attentions: [UNetTransformer2D]
    /// `downsamplers.0.conv` (3×3 stride 2) or `upsamplers.0.conv` (nearest ×2 then 3×3).
    public let resampler: Conv2dLayer?
    /// Whether `resampler` upsamples (decoder levels) rather than downsamples.
    public let upsamples: Bool

    init(_ res: [UNetPlan.Res], attention: Bool, depth: Int, heads: Int, config: UNetConfig, resample: Bool, up: Bool) {
        resnets = res.map {
            UNetResnetBlock($0.inChannels, $0.outChannels, timeDim: config.timeEmbedDim, groups: config.normGroups, eps: config.normEps)
        }
        attentions = attention ? res.map {
            UNetTransformer2D(channels: $0.outChannels, depth: depth, heads: heads, contextDim: config.crossAttentionDim,
                              groups: config.normGroups, groupNormEps: config.transformerNormEps, eps: config.normEps)
        } : []
        let ch = res.last!.outChannels
        resampler = resample ? Conv2dLayer(ch, ch, kernel: 3, stride: up ? 1 : 2, padding: 1) : nil
        upsamples = up
    }

    /// x: [B, C, H, W] → [B, C', H', W'] (the resampler's input and output; see `UNet`).
    func resample(_ x: Tensor, _ c: Compute) -> Tensor {
        guard let resampler else { return x }
        return upsamples ? resampler(upsampling: x, c) : resampler(x, c)
    }

    /// Parameters under their diffusers names, relative to this module.
    public var namedParameters: [(String, Tensor)] {
        resnets.enumerated().flatMap { prefixed("resnets.\($0.offset)", $0.element.namedParameters) }
            + attentions.enumerated().flatMap { prefixed("attentions.\($0.offset)", $0.element.namedParameters) }
            + (resampler.map { prefixed(upsamples ? "upsamplers.0.conv" : "downsamplers.0.conv", $0.namedParameters) } ?? [])
    }
}

/// Prefixes every name in a (name, shape) list, like `prefixed` does for parameters.
func shapePrefixed(_ prefix: String, _ shapes: [(String, [Int])]) -> [(String, [Int])] {
    shapes.map { (key(prefix, $0.0), $0.1) }
}
