/// The four architectures an SDXL pipeline is made of, checked for consistency (the UNet's context width is
/// CLIP-L's width + bigG's width, its pooled width is bigG's projection).
public struct SDXLModelConfig: Equatable, Sendable {
    /// The denoiser.
    public var unet: UNetConfig
    /// CLIP ViT-L/14 text (first half of the context).
    public var clipL: CLIPTextConfig
    /// OpenCLIP ViT-bigG/14 text (second half of the context, and the pooled vector).
    public var clipG: CLIPTextConfig
    /// The autoencoder.
    public var vae: VAEConfig

    /// A configuration; the widths must fit together (see the type's note).
    public init(unet: UNetConfig, clipL: CLIPTextConfig, clipG: CLIPTextConfig, vae: VAEConfig) {
        precondition(unet.crossAttentionDim == clipL.width + clipG.width,
                     "SDXLModelConfig: UNet context \(unet.crossAttentionDim) ≠ CLIP-L \(clipL.width) + bigG \(clipG.width)")
        precondition(clipG.projectionDim == unet.pooledDim,
                     "SDXLModelConfig: bigG projection \(clipG.projectionDim.map(String.init) ?? "none") ≠ UNet pooled width \(unet.pooledDim)")
        precondition(vae.latentChannels == unet.inChannels && unet.outChannels == unet.inChannels,
                     "SDXLModelConfig: VAE latent \(vae.latentChannels) ch vs UNet \(unet.inChannels) → \(unet.outChannels)")
        self.unet = unet
        self.clipL = clipL
        self.clipG = clipG
        self.vae = vae
    }

    /// SDXL base and its fine-tunes (Animagine XL, …).
    public static let sdxl = SDXLModelConfig(unet: .sdxl, clipL: .clipL, clipG: .bigG, vae: .sdxl)

    /// A tiny pipeline of the same structure (tools/reference/models/pipeline_fixtures.py): the CLIP test
    /// encoders (vocabulary 1000, so token ids are folded, see `SDXLConditioner`), an 8/16/16-channel UNet with
    /// a 32 + 40 = 72-wide context and the ×4 test VAE.
    public static let tiny = SDXLModelConfig(
        unet: UNetConfig(blockChannels: [8, 16, 16], attention: [false, true, true], transformerDepth: [0, 1, 1],
                         heads: [0, 2, 2], crossAttentionDim: 72, pooledDim: 24, additionTimeEmbedDim: 8, normGroups: 4),
        clipL: .tinyL, clipG: .tinyG, vae: .tiny)

    /// Image pixels per latent pixel (8 for SDXL).
    public var latentFactor: Int { vae.downsampleFactor }
    /// Image sizes must be multiples of this: the VAE factor times the UNet's own downsampling (32 for SDXL).
    public var sizeMultiple: Int { vae.downsampleFactor * unet.downsampleFactor }
}
