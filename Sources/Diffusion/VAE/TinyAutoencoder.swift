import Foundation
import Tensor

/// The architecture of a tiny distilled autoencoder (TAESD / TAESD-XL).
public struct TinyAutoencoderConfig: Sendable, Equatable {
    /// Latent channels (4 for SD / SDXL).
    public var latentChannels: Int
    /// Image channels (3).
    public var imageChannels: Int
    /// Channels per encoder level (all equal: each level's stride-2 conv keeps the width).
    public var encoderChannels: [Int]
    /// `AutoencoderTinyBlock`s per encoder level.
    public var encoderBlocks: [Int]
    /// Channels per decoder level (all equal: each level's post-upsample conv keeps the width).
    public var decoderChannels: [Int]
    /// `AutoencoderTinyBlock`s per decoder level.
    public var decoderBlocks: [Int]

    /// Creates a config; level lists must have matching lengths.
    public init(latentChannels: Int = 4, imageChannels: Int = 3, encoderChannels: [Int], encoderBlocks: [Int],
                decoderChannels: [Int], decoderBlocks: [Int]) {
        precondition(encoderChannels.count == encoderBlocks.count && decoderChannels.count == decoderBlocks.count,
                     "TinyAutoencoderConfig: channels/blocks length mismatch")
        self.latentChannels = latentChannels
        self.imageChannels = imageChannels
        self.encoderChannels = encoderChannels
        self.encoderBlocks = encoderBlocks
        self.decoderChannels = decoderChannels
        self.decoderBlocks = decoderBlocks
    }

    /// madebyollin/taesdxl (diffusers `AutoencoderTiny` defaults).
    public static let sdxl = TinyAutoencoderConfig(encoderChannels: [64, 64, 64, 64], encoderBlocks: [1, 3, 3, 3],
                                                   decoderChannels: [64, 64, 64, 64], decoderBlocks: [3, 3, 3, 1])
    /// Same architecture at test size (matches tools/reference/models/taesd_fixtures.py).
    public static let tiny = TinyAutoencoderConfig(encoderChannels: [8, 8, 8, 8], encoderBlocks: [1, 1, 1, 1],
                                                   decoderChannels: [8, 8, 8, 8], decoderBlocks: [1, 1, 1, 1])

    /// Image pixels per latent pixel along each axis (2^(levels − 1) = 8).
    public var downsamplingFactor: Int { 1 << (decoderChannels.count - 1) }
}

/// TAESD-XL: a tiny distilled VAE (≈ 1 M params per half) for fast previews of SDXL latents.
///
/// Latent space: TAESD works directly on **model-space** latents (what the UNet and samplers see, i.e. the SDXL
/// VAE's latents × 0.13025). diffusers' `AutoencoderTiny` has `scaling_factor = 1.0`, so the SDXL pipeline's
/// `latents / vae.config.scaling_factor` leaves them unchanged, and `DecoderTiny` applies no other scaling
/// (`latent_magnitude` / `latent_shift` are only used by `scale_latents` for 8-bit latent storage, not by decode).
/// ComfyUI agrees: its TAESD-XL wrapper multiplies the VAE-space latents back by 0.13025 before decoding.
///
/// Parameter names are diffusers' (`decoder.layers.2.conv.0.weight`, …); the original madebyollin/taesd single
/// files are mapped in `TinyAutoencoder+Weights.swift`.
/// Source: huggingface/diffusers `src/diffusers/models/autoencoders/{autoencoder_tiny.py, vae.py}` (EncoderTiny,
/// DecoderTiny) and `models/unets/unet_2d_blocks.py` (AutoencoderTinyBlock).
public final class TinyAutoencoder: Module {
    /// The architecture.
    public let config: TinyAutoencoderConfig
    /// Image [−1, 1] → model-space latents.
    public let encoder: TinySequential
    /// Model-space latents → image in [0, 1] (before the final ×2 − 1).
    public let decoder: TinySequential

    /// A tiny autoencoder with zero weights (load them with `load(from:)` / `loadDecoder(from:)`).
    public init(_ config: TinyAutoencoderConfig) {
        self.config = config
        encoder = TinySequential(encoder: config)
        decoder = TinySequential(decoder: config)
    }

    /// Decodes model-space SDXL latents (no scaling: see the type's doc).
    /// latents: [B, 4, h, w] → image [B, 3, 8h, 8w] in about [−1, 1] (unclamped).
    public func decode(_ latents: Tensor, _ c: Compute) -> Tensor {
        precondition(latents.rank == 4 && latents.dim(1) == config.latentChannels,
                     "TinyAutoencoder.decode: latents \(latents.shape) must be [B, \(config.latentChannels), h, w]")
        // DecoderTiny soft-clamps its input: 3 · tanh(x / 3).
        let x = decoder(TAESDOps.softClamp(latents, limit: 3, c), c)
        return c.addScalar(c.scale(x, by: 2), -1)   // [0, 1] → [−1, 1]
    }

    /// Encodes images to model-space latents. image: [B, 3, H, W] in [−1, 1], H and W multiples of 8
    /// → [B, 4, H/8, W/8].
    public func encode(_ image: Tensor, _ c: Compute) -> Tensor {
        precondition(image.rank == 4 && image.dim(1) == config.imageChannels,
                     "TinyAutoencoder.encode: image \(image.shape) must be [B, \(config.imageChannels), H, W]")
        return encoder(c.addScalar(c.scale(image, by: 0.5), 0.5), c)   // TAESD encodes [0, 1] images
    }

    /// A quick preview of one image of a batch of model-space latents ([B, 4, h, w]), converted like a
    /// decoded VAE image (`RGBImage(decoded:)`). Records no gradients.
    public func preview(_ latents: Tensor, batchIndex: Int = 0, _ c: Compute) -> RGBImage {
        let one = latents.dim(0) == 1 ? latents : c.inference.slice(latents, dim: 0, start: batchIndex, length: 1)
        return RGBImage(decoded: decode(one, c.inference))
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("encoder", encoder.namedParameters) + prefixed("decoder", decoder.namedParameters)
    }
}

/// The `layers` `nn.Sequential` of diffusers `EncoderTiny` / `DecoderTiny`, with the same indices
/// (parameter-free ReLU and upsampling modules keep their slots, so names line up with the checkpoint).
public final class TinySequential: Module {
    /// One slot of the Sequential.
    public enum Layer {
        case conv(Conv2dLayer)
        case relu
        case block(TinyAutoencoderBlock)
        case upsample
    }

    /// The slots in order.
    public let layers: [Layer]

    /// `EncoderTiny`: per level a conv (3×3 from the image at level 0, else 3×3 stride 2 without bias) and its
    /// blocks; then a 3×3 conv to the latent channels.
    public init(encoder config: TinyAutoencoderConfig) {
        var layers: [Layer] = []
        for (i, n) in config.encoderBlocks.enumerated() {
            let ch = config.encoderChannels[i]
            layers.append(.conv(i == 0 ? Conv2dLayer(config.imageChannels, ch, kernel: 3, padding: 1)
                                       : Conv2dLayer(ch, ch, kernel: 3, stride: 2, padding: 1, bias: false)))
            for _ in 0..<n { layers.append(.block(TinyAutoencoderBlock(ch, ch))) }
        }
        layers.append(.conv(Conv2dLayer(config.encoderChannels.last!, config.latentChannels, kernel: 3, padding: 1)))
        self.layers = layers
    }

    /// `DecoderTiny`: 3×3 conv + ReLU, then per level its blocks, a nearest ×2 upsample (all but the last level)
    /// and a 3×3 conv (without bias, except the last one which maps to the image channels).
    public init(decoder config: TinyAutoencoderConfig) {
        var layers: [Layer] = [.conv(Conv2dLayer(config.latentChannels, config.decoderChannels[0], kernel: 3, padding: 1)),
                               .relu]
        let levels = config.decoderBlocks.count
        for (i, n) in config.decoderBlocks.enumerated() {
            let ch = config.decoderChannels[i]
            let last = i == levels - 1
            for _ in 0..<n { layers.append(.block(TinyAutoencoderBlock(ch, ch))) }
            if !last { layers.append(.upsample) }
            layers.append(.conv(Conv2dLayer(ch, last ? config.imageChannels : ch, kernel: 3, padding: 1, bias: last)))
        }
        self.layers = layers
    }

    /// x: [B, C, H, W]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        layers.reduce(x) { h, layer in
            switch layer {
            case .conv(let conv): return conv(h, c)
            case .relu: return TAESDOps.relu(h, c)
            case .block(let block): return block(h, c)
            case .upsample: return c.upsampleNearest2x(h)
            }
        }
    }

    public var namedParameters: [(String, Tensor)] {
        layers.enumerated().flatMap { i, layer -> [(String, Tensor)] in
            switch layer {
            case .conv(let conv): return prefixed("layers.\(i)", conv.namedParameters)
            case .block(let block): return prefixed("layers.\(i)", block.namedParameters)
            case .relu, .upsample: return []
            }
        }
    }
}

/// diffusers `AutoencoderTinyBlock`: relu(conv(relu(conv(relu(conv(x))))) + skip(x)), 3×3 convs, skip = 1×1 conv
/// without bias when the channel count changes, else identity.
public final class TinyAutoencoderBlock: Module {
    /// `conv.0`, `conv.2`, `conv.4` (the Sequential's ReLUs sit at 1 and 3).
    public let convs: [Conv2dLayer]
    /// `skip` (nil = identity).
    public let skip: Conv2dLayer?

    /// A block from `inChannels` to `outChannels`.
    public init(_ inChannels: Int, _ outChannels: Int) {
        convs = [Conv2dLayer(inChannels, outChannels, kernel: 3, padding: 1),
                 Conv2dLayer(outChannels, outChannels, kernel: 3, padding: 1),
                 Conv2dLayer(outChannels, outChannels, kernel: 3, padding: 1)]
        skip = inChannels == outChannels ? nil : Conv2dLayer(inChannels, outChannels, kernel: 1, bias: false)
    }

    /// x: [B, C, H, W]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        var h = TAESDOps.relu(convs[0](x, c), c)
        h = TAESDOps.relu(convs[1](h, c), c)
        h = convs[2](h, c)
        return TAESDOps.relu(c.add(h, skip.map { $0(x, c) } ?? x), c)
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("conv.0", convs[0].namedParameters) + prefixed("conv.2", convs[1].namedParameters)
            + prefixed("conv.4", convs[2].namedParameters) + (skip.map { prefixed("skip", $0.namedParameters) } ?? [])
    }
}

/// The two pointwise ops TAESD needs that the engine lacks, each with forward and backward side by side
/// (kept here, not under Sources/Tensor/Ops, because only TAESD uses them).
public enum TAESDOps {
    static let grain = 16_384

    /// y = max(x, 0), any shape.
    public static func reluForward(_ x: Tensor, _ c: Compute) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, py = out.data
        c.parallelFor(x.count, grain: grain) { r in
            for i in r { py[i] = max(px[i], 0) }
        }
        return out
    }

    /// dx = dOut where y > 0 (PyTorch's convention: gradient 0 at x = 0). y is the forward output.
    public static func reluBackward(_ dOut: Tensor, y: Tensor, _ c: Compute) -> Tensor {
        precondition(dOut.shape == y.shape, "relu backward: dOut \(dOut.shape) vs output \(y.shape)")
        let out = Tensor(uninitialized: y.shape)
        let py = y.data, pd = dOut.data, po = out.data
        c.parallelFor(y.count, grain: grain) { r in
            for i in r { po[i] = py[i] > 0 ? pd[i] : 0 }
        }
        return out
    }

    /// y = limit · tanh(x / limit), any shape.
    public static func softClampForward(_ x: Tensor, limit: Float, _ c: Compute) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.data, py = out.data
        c.parallelFor(x.count, grain: grain) { r in
            for i in r { py[i] = limit * Foundation.tanh(px[i] / limit) }
        }
        return out
    }

    /// dx = dOut · (1 − tanh²(x / limit)) = dOut · (1 − (y / limit)²). y is the forward output.
    public static func softClampBackward(_ dOut: Tensor, y: Tensor, limit: Float, _ c: Compute) -> Tensor {
        precondition(dOut.shape == y.shape, "softClamp backward: dOut \(dOut.shape) vs output \(y.shape)")
        let out = Tensor(uninitialized: y.shape)
        let py = y.data, pd = dOut.data, po = out.data
        c.parallelFor(y.count, grain: grain) { r in
            for i in r { let t = py[i] / limit; po[i] = pd[i] * (1 - t * t) }
        }
        return out
    }

    /// relu(x), recorded for autograd.
    public static func relu(_ x: Tensor, _ c: Compute) -> Tensor {
        let y = reluForward(x, c)
        return c.record("relu", y, inputs: [x]) { [y] d in [reluBackward(d, y: y, c)] }
    }

    /// limit · tanh(x / limit), recorded for autograd.
    public static func softClamp(_ x: Tensor, limit: Float, _ c: Compute) -> Tensor {
        let y = softClampForward(x, limit: limit, c)
        return c.record("softClamp", y, inputs: [x]) { [y] d in [softClampBackward(d, y: y, limit: limit, c)] }
    }
}
