import Tensor

/// Architecture of a CLIP text transformer (the `text_model` of Hugging Face `CLIPTextModel`).
///
/// SDXL uses two: `clipL` (OpenAI CLIP ViT-L/14, quick-GELU, no projection needed) and `bigG`
/// (OpenCLIP ViT-bigG/14, exact GELU, with a 1280 → 1280 text projection for the pooled vector).
/// Values follow the diffusers folders' `text_encoder/config.json` and `text_encoder_2/config.json`.
public struct CLIPTextConfig: Equatable, Sendable {
    /// Token embedding rows.
    public var vocabSize: Int
    /// Positions in a window (the token count the position table covers).
    public var maxPositions: Int
    /// Model width D.
    public var width: Int
    /// Transformer layers L.
    public var layers: Int
    /// Attention heads N (head size D / N).
    public var heads: Int
    /// Hidden width of each MLP.
    public var mlpWidth: Int
    /// MLP activation (`hidden_act`).
    public var activation: Activation
    /// LayerNorm epsilon.
    public var layerNormEps: Float
    /// Output size of `text_projection` (no bias); nil when the model has none.
    public var projectionDim: Int?
    /// End-of-text id: the pooled vector is taken at its first position in each window.
    public var eosTokenId: Int32

    /// Creates a config; `heads` must divide `width`.
    public init(vocabSize: Int = 49408, maxPositions: Int = 77, width: Int, layers: Int, heads: Int, mlpWidth: Int,
                activation: Activation, layerNormEps: Float = 1e-5, projectionDim: Int? = nil,
                eosTokenId: Int32 = 49407) {
        precondition(width % heads == 0, "CLIPTextConfig: width \(width) not divisible by \(heads) heads")
        precondition(activation == .quickGelu || activation == .gelu, "CLIPTextConfig: activation \(activation)")
        self.vocabSize = vocabSize
        self.maxPositions = maxPositions
        self.width = width
        self.layers = layers
        self.heads = heads
        self.mlpWidth = mlpWidth
        self.activation = activation
        self.layerNormEps = layerNormEps
        self.projectionDim = projectionDim
        self.eosTokenId = eosTokenId
    }

    /// Size of one attention head.
    public var headDim: Int { width / heads }

    /// Parameters of a `CLIPTextModel` with this config (without allocating one).
    public var parameterCount: Int {
        let d = width
        let layer = 4 * (d * d + d) + 2 * (2 * d) + (d * mlpWidth + mlpWidth) + (mlpWidth * d + d)
        return vocabSize * d + maxPositions * d + layers * layer + 2 * d + (projectionDim ?? 0) * d
    }

    /// CLIP ViT-L/14 text encoder (SDXL `text_encoder`, single-file `conditioner.embedders.0`).
    public static let clipL = CLIPTextConfig(width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .quickGelu)

    /// OpenCLIP ViT-bigG/14 text encoder (SDXL `text_encoder_2`, single-file `conditioner.embedders.1`).
    public static let bigG = CLIPTextConfig(width: 1280, layers: 32, heads: 20, mlpWidth: 5120, activation: .gelu,
                                            projectionDim: 1280)

    /// Tiny `clipL` for tests (matches tools/reference/models/clip_fixtures.py): vocab 1000, EOS 999.
    public static let tinyL = CLIPTextConfig(vocabSize: 1000, width: 32, layers: 3, heads: 4, mlpWidth: 64,
                                             activation: .quickGelu, eosTokenId: 999)

    /// Tiny `bigG` for tests: projection 24 ≠ width 40, so a missed transpose fails on shape.
    public static let tinyG = CLIPTextConfig(vocabSize: 1000, width: 40, layers: 3, heads: 5, mlpWidth: 80,
                                             activation: .gelu, projectionDim: 24, eosTokenId: 999)
}
