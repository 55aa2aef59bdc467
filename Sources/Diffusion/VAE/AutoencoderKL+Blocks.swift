import Tensor

// Building blocks of the VAE encoder and decoder, named and wired as diffusers does.
// Source: huggingface/diffusers `src/diffusers/models/{resnet.py (ResnetBlock2D), downsampling.py (Downsample2D),
// upsampling.py (Upsample2D), attention_processor.py (Attention + AttnProcessor2_0), unets/unet_2d_blocks.py
// (UNetMidBlock2D, DownEncoderBlock2D, UpDecoderBlock2D)}`.

/// `ResnetBlock2D` without a time embedding: x + conv2(silu(gn2(conv1(silu(gn1(x)))))), with a 1×1
/// `conv_shortcut` on x when the channel count changes (output scale factor 1, dropout 0).
public final class VAEResnetBlock: Module {
    public let norm1: GroupNormLayer, conv1: Conv2dLayer
    public let norm2: GroupNormLayer, conv2: Conv2dLayer
    public let convShortcut: Conv2dLayer?

    /// A block mapping `inChannels` to `outChannels` at constant resolution.
    public init(_ inChannels: Int, _ outChannels: Int, groups: Int, eps: Float) {
        norm1 = GroupNormLayer(groups: groups, channels: inChannels, eps: eps)
        conv1 = Conv2dLayer(inChannels, outChannels, kernel: 3, padding: 1)
        norm2 = GroupNormLayer(groups: groups, channels: outChannels, eps: eps)
        conv2 = Conv2dLayer(outChannels, outChannels, kernel: 3, padding: 1)
        convShortcut = inChannels == outChannels ? nil : Conv2dLayer(inChannels, outChannels, kernel: 1)
    }

    /// x: [B, Cin, H, W] → [B, Cout, H, W]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        let h = conv2(conv1(x, normSiLU: norm1, c), normSiLU: norm2, c)
        let skip = convShortcut.map { $0(x, c) } ?? x
        guard !c.records(x, h, skip) else { return c.add(skip, h) }
        c.addInPlace(h, skip)   // inference: h is this block's own temporary
        return h
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("norm1", norm1.namedParameters) + prefixed("conv1", conv1.namedParameters)
            + prefixed("norm2", norm2.namedParameters) + prefixed("conv2", conv2.namedParameters)
            + (convShortcut.map { prefixed("conv_shortcut", $0.namedParameters) } ?? [])
    }
}

/// The mid-block self-attention: one head of width C over the H·W positions, with a GroupNorm in front
/// and a residual connection (diffusers `Attention(heads=1, dim_head=C, residual_connection=True)`).
/// Scale 1/√C. `c.attention` streams over keys, so 128² = 16,384 tokens never build a T×T matrix.
public final class VAEAttention: Module {
    public let groupNorm: GroupNormLayer
    public let toQ: LinearLayer, toK: LinearLayer, toV: LinearLayer, toOut: LinearLayer

    /// Attention over `channels`-wide tokens.
    public init(channels: Int, groups: Int, eps: Float) {
        groupNorm = GroupNormLayer(groups: groups, channels: channels, eps: eps)
        toQ = LinearLayer(channels, channels)
        toK = LinearLayer(channels, channels)
        toV = LinearLayer(channels, channels)
        toOut = LinearLayer(channels, channels)
    }

    /// x: [B, C, H, W] → [B, C, H, W]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        let (b, ch, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let t = h * w
        // tokens: [B, T, C]
        let tokens = c.permute(c.reshape(groupNorm(x, c), [b, ch, t]), [0, 2, 1])
        let q = c.reshape(toQ(tokens, c), [b, 1, t, ch])
        let k = c.reshape(toK(tokens, c), [b, 1, t, ch])
        let v = c.reshape(toV(tokens, c), [b, 1, t, ch])
        let attended = toOut(c.reshape(c.attention(q, k, v), [b, t, ch]), c)
        return c.add(c.reshape(c.permute(attended, [0, 2, 1]), [b, ch, h, w]), x)
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("group_norm", groupNorm.namedParameters) + prefixed("to_q", toQ.namedParameters)
            + prefixed("to_k", toK.namedParameters) + prefixed("to_v", toV.namedParameters)
            + prefixed("to_out.0", toOut.namedParameters)
    }
}

/// `UNetMidBlock2D` as the VAE uses it: ResNet, attention, ResNet at constant width.
public final class VAEMidBlock: Module {
    public let resnets: [VAEResnetBlock]
    public let attention: VAEAttention

    /// A mid block of `channels` width.
    public init(channels: Int, groups: Int, eps: Float) {
        resnets = (0..<2).map { _ in VAEResnetBlock(channels, channels, groups: groups, eps: eps) }
        attention = VAEAttention(channels: channels, groups: groups, eps: eps)
    }

    /// x: [B, C, H, W] → [B, C, H, W]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        resnets[1](attention(resnets[0](x, c), c), c)
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("resnets.0", resnets[0].namedParameters) + prefixed("attentions.0", attention.namedParameters)
            + prefixed("resnets.1", resnets[1].namedParameters)
    }
}

/// One resolution level: ResNets, then an optional resampling conv (encoder: pad right/bottom by one and a
/// stride-2 3×3 conv; decoder: nearest ×2 then a 3×3 conv).
public final class VAELevel: Module {
    /// Which way the level resamples after its ResNets.
    public enum Resample: Sendable { case none, down, up }

    public let resnets: [VAEResnetBlock]
    public let resampleConv: Conv2dLayer?
    public let resample: Resample

    /// `layers` ResNets from `inChannels` to `outChannels`, then the resampling conv (if any) at `outChannels`.
    public init(_ inChannels: Int, _ outChannels: Int, layers: Int, resample: Resample, groups: Int, eps: Float) {
        resnets = (0..<layers).map { VAEResnetBlock($0 == 0 ? inChannels : outChannels, outChannels, groups: groups, eps: eps) }
        self.resample = resample
        switch resample {
        case .none: resampleConv = nil
        case .down: resampleConv = Conv2dLayer(outChannels, outChannels, kernel: 3, stride: 2, padding: 0)
        case .up: resampleConv = Conv2dLayer(outChannels, outChannels, kernel: 3, padding: 1)
        }
    }

    /// x: [B, Cin, H, W] → [B, Cout, H', W'] with H' = ⌊H/2⌋ (down), 2H (up) or H.
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        var h = x
        for r in resnets { h = r(h, c) }
        guard let conv = resampleConv else { return h }
        switch resample {
        case .down: return conv(c.padRightBottom(h), c)   // diffusers Downsample2D with padding=0: F.pad (0, 1, 0, 1)
        case .up: return conv(upsampling: h, c)
        case .none: return h
        }
    }

    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (j, r) in resnets.enumerated() { out += prefixed("resnets.\(j)", r.namedParameters) }
        if let conv = resampleConv {
            out += prefixed(resample == .down ? "downsamplers.0.conv" : "upsamplers.0.conv", conv.namedParameters)
        }
        return out
    }
}

/// Zero padding by one row at the bottom and one column at the right (`F.pad(x, (0, 1, 0, 1))`).
public enum PadRightBottom {
    /// x: [B, C, H, W] → [B, C, H + 1, W + 1]
    public static func forward(_ x: Tensor, _ c: Compute) -> Tensor {
        precondition(x.rank == 4, "PadRightBottom: x \(x.shape) must be [B, C, H, W]")
        let (planes, h, w) = (x.dim(0) * x.dim(1), x.dim(2), x.dim(3))
        let out = Tensor(zeros: [x.dim(0), x.dim(1), h + 1, w + 1])
        let src = x.data, dst = out.data
        c.parallelFor(planes, grain: max(1, 16_384 / max(h * w, 1))) { r in
            for p in r {
                for y in 0..<h { (dst + (p * (h + 1) + y) * (w + 1)).update(from: src + (p * h + y) * w, count: w) }
            }
        }
        return out
    }

    /// dInput: the top-left H×W window of dOut. dOut: [B, C, H + 1, W + 1] → [B, C, H, W]
    public static func backward(_ dOut: Tensor, _ c: Compute) -> Tensor {
        let (planes, h, w) = (dOut.dim(0) * dOut.dim(1), dOut.dim(2) - 1, dOut.dim(3) - 1)
        let dx = Tensor(uninitialized: [dOut.dim(0), dOut.dim(1), h, w])
        let src = dOut.data, dst = dx.data
        c.parallelFor(planes, grain: max(1, 16_384 / max(h * w, 1))) { r in
            for p in r {
                for y in 0..<h { (dst + (p * h + y) * w).update(from: src + (p * (h + 1) + y) * (w + 1), count: w) }
            }
        }
        return dx
    }
}

extension Compute {
    /// Zero-pads one row below and one column right of x (the encoder down-sampler's asymmetric pad).
    /// x: [B, C, H, W] → [B, C, H + 1, W + 1]
    public func padRightBottom(_ x: Tensor) -> Tensor {
        record("padRightBottom", PadRightBottom.forward(x, self), inputs: [x]) { dOut in
            [PadRightBottom.backward(dOut, self)]
        }
    }
}
