/// Shape of an `AutoencoderKL` (the SD / SDXL VAE).
///
/// Source: huggingface/diffusers `src/diffusers/models/autoencoders/{autoencoder_kl.py, vae.py}` (Encoder /
/// Decoder with `DownEncoderBlock2D` / `UpDecoderBlock2D` blocks); the SDXL values are those of
/// `stabilityai/stable-diffusion-xl-base-1.0/vae/config.json`.
public struct VAEConfig: Sendable, Equatable {
    /// Image channels (RGB).
    public var imageChannels: Int
    /// Latent channels.
    public var latentChannels: Int
    /// Channels of each resolution level, highest resolution first (the decoder walks them in reverse).
    public var blockOutChannels: [Int]
    /// ResNet blocks per encoder level (the decoder has one more per level).
    public var layersPerBlock: Int
    /// GroupNorm groups everywhere.
    public var normGroups: Int
    /// GroupNorm epsilon everywhere (diffusers hard-codes 1e-6 for the VAE's ResNets, attention and output norm).
    public var eps: Float
    /// Latent scale: model-space latents (what the UNet sees) = VAE-space latents × `scalingFactor`.
    public var scalingFactor: Float

    /// A configuration; the defaults are SDXL's.
    public init(imageChannels: Int = 3, latentChannels: Int = 4, blockOutChannels: [Int] = [128, 256, 512, 512],
                layersPerBlock: Int = 2, normGroups: Int = 32, eps: Float = 1e-6, scalingFactor: Float = 0.13025) {
        precondition(!blockOutChannels.isEmpty && blockOutChannels.allSatisfy { $0 % normGroups == 0 },
                     "VAE channels \(blockOutChannels) must be non-empty multiples of \(normGroups) groups")
        self.imageChannels = imageChannels
        self.latentChannels = latentChannels
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.normGroups = normGroups
        self.eps = eps
        self.scalingFactor = scalingFactor
    }

    /// The SDXL VAE: channels [128, 256, 512, 512], 2 layers, 32 groups, ×8 down-sampling, scale 0.13025.
    public static let sdxl = VAEConfig()

    /// The same architecture at toy size (used by tests and fixtures: `tools/reference/models/vae_fixtures.py`).
    /// Three levels so the decoder has a non-final up block without a channel change; ×4 down-sampling.
    public static let tiny = VAEConfig(blockOutChannels: [8, 16, 16], layersPerBlock: 1, normGroups: 4)

    /// Number of resolution levels.
    public var levels: Int { blockOutChannels.count }
    /// Pixels per latent pixel along each axis (8 for SDXL).
    public var downsampleFactor: Int { 1 << (levels - 1) }
}
