/// Hyper-parameters of an SDXL-style UNet (diffusers `UNet2DConditionModel` with a "text_time" addition
/// embedding, `DownBlock2D`/`CrossAttnDownBlock2D` levels mirrored by `CrossAttnUpBlock2D`/`UpBlock2D`, a
/// `UNetMidBlock2DCrossAttn` and linear `proj_in`/`proj_out`).
///
/// Source: huggingface/diffusers, src/diffusers/models/unets/unet_2d_condition.py and unet_2d_blocks.py;
/// SDXL values from stabilityai/stable-diffusion-xl-base-1.0 `unet/config.json`.
public struct UNetConfig: Equatable, Sendable {
    /// Latent channels in (`in_channels`).
    public var inChannels: Int
    /// Predicted channels out (`out_channels`).
    public var outChannels: Int
    /// Channels of each resolution level (`block_out_channels`), highest resolution first.
    public var blockChannels: [Int]
    /// ResNet blocks per down level (`layers_per_block`); up levels have one more.
    public var layersPerBlock: Int
    /// Whether each level has cross-attention transformers (`CrossAttn*Block2D`) or only ResNets.
    public var attention: [Bool]
    /// Transformer blocks per attention module at each level (`transformer_layers_per_block`; the
    /// mid block uses the last level's). Ignored at levels without attention.
    public var transformerDepth: [Int]
    /// Attention heads at each level (diffusers' `attention_head_dim`, which really counts heads).
    public var heads: [Int]
    /// Width of the text context (`cross_attention_dim`).
    public var crossAttentionDim: Int
    /// Width of the pooled text embedding concatenated into the addition embedding.
    public var pooledDim: Int
    /// Sinusoid width of each of the 6 size/crop conditioning numbers (`addition_time_embed_dim`).
    public var additionTimeEmbedDim: Int
    /// GroupNorm groups (`norm_num_groups`).
    public var normGroups: Int
    /// Eps of the ResNet and output GroupNorms and of the transformer LayerNorms (`norm_eps`).
    public var normEps: Float
    /// Eps of each transformer's input GroupNorm: diffusers' `Transformer2DModel` hard-codes 1e-6.
    public var transformerNormEps: Float

    /// Creates a config; see the properties for the meaning of each value.
    public init(inChannels: Int = 4, outChannels: Int = 4, blockChannels: [Int], layersPerBlock: Int = 2,
                attention: [Bool], transformerDepth: [Int], heads: [Int], crossAttentionDim: Int, pooledDim: Int,
                additionTimeEmbedDim: Int, normGroups: Int, normEps: Float = 1e-5, transformerNormEps: Float = 1e-6) {
        precondition(!blockChannels.isEmpty && attention.count == blockChannels.count
                     && transformerDepth.count == blockChannels.count && heads.count == blockChannels.count,
                     "UNetConfig: per-level arrays differ in length: \(blockChannels), \(attention), \(transformerDepth), \(heads)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockChannels = blockChannels
        self.layersPerBlock = layersPerBlock
        self.attention = attention
        self.transformerDepth = transformerDepth
        self.heads = heads
        self.crossAttentionDim = crossAttentionDim
        self.pooledDim = pooledDim
        self.additionTimeEmbedDim = additionTimeEmbedDim
        self.normGroups = normGroups
        self.normEps = normEps
        self.transformerNormEps = transformerNormEps
    }

    /// SDXL base: 320/640/1280 channels, transformer depth [0, 2, 10], 64-dim heads, 2048-wide context,
    /// addition embedding input 1280 + 6 · 256 = 2816. 2,567,463,684 parameters.
    public static let sdxl = UNetConfig(
        blockChannels: [320, 640, 1280], attention: [false, true, true], transformerDepth: [0, 2, 10],
        heads: [5, 10, 20], crossAttentionDim: 2048, pooledDim: 1280, additionTimeEmbedDim: 256, normGroups: 32)

    /// The same architecture at test sizes (matches `tools/reference/models/unet_fixtures.py` `TINY`):
    /// 16/32/32 channels, depth [0, 1, 2], 8-dim heads, 32-wide context, addition input 32 + 6 · 8 = 80.
    public static let tiny = UNetConfig(
        blockChannels: [16, 32, 32], attention: [false, true, true], transformerDepth: [0, 1, 2],
        heads: [0, 4, 4], crossAttentionDim: 32, pooledDim: 32, additionTimeEmbedDim: 8, normGroups: 8)

    /// Number of resolution levels.
    public var levels: Int { blockChannels.count }
    /// Width of the time embedding (4 × the first level's channels: 1280 for SDXL).
    public var timeEmbedDim: Int { 4 * blockChannels[0] }
    /// Input width of `add_embedding` (pooled + 6 sinusoids: 2816 for SDXL).
    public var additionInputDim: Int { pooledDim + 6 * additionTimeEmbedDim }
    /// Total spatial downsampling factor of the latent (the latent's H and W must be multiples of it).
    public var downsampleFactor: Int { 1 << (levels - 1) }

    /// The channel plan of every block, derived from the skip-connection stack as diffusers does.
    public var plan: UNetPlan { UNetPlan(self) }

    /// Number of parameters (computed from shapes, without allocating the model).
    public var parameterCount: Int { UNet.parameterShapes(self).reduce(0) { $0 + $1.1.product } }
}

/// Where every ResNet's input and output channels come from: each down ResNet (and downsampler, and
/// `conv_in`) pushes its output onto a skip stack; each up ResNet pops one and concatenates it.
public struct UNetPlan: Equatable, Sendable {
    /// One ResNet: input channels (including a concatenated skip) and output channels.
    public struct Res: Equatable, Sendable {
        /// Input channels (for up blocks: hidden + skip).
        public let inChannels: Int
        /// Output channels.
        public let outChannels: Int
    }
    /// Down levels: their ResNets (`layersPerBlock` each).
    public let down: [[Res]]
    /// Up levels (lowest resolution first): their ResNets (`layersPerBlock + 1` each).
    public let up: [[Res]]

    init(_ config: UNetConfig) {
        var skips = [config.blockChannels[0]]
        var ch = config.blockChannels[0]
        var down: [[Res]] = []
        for (level, out) in config.blockChannels.enumerated() {
            var rs: [Res] = []
            for _ in 0..<config.layersPerBlock {
                rs.append(Res(inChannels: ch, outChannels: out))
                ch = out
                skips.append(ch)
            }
            if level < config.levels - 1 { skips.append(ch) }
            down.append(rs)
        }
        var up: [[Res]] = []
        for out in config.blockChannels.reversed() {
            var rs: [Res] = []
            for _ in 0...config.layersPerBlock {
                let skip = skips.removeLast()
                rs.append(Res(inChannels: ch + skip, outChannels: out))
                ch = out
            }
            up.append(rs)
        }
        self.down = down
        self.up = up
    }
}
