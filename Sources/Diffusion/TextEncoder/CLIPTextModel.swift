import Tensor

// Behaviour follows Hugging Face transformers `src/transformers/models/clip/modeling_clip.py`
// (`CLIPTextTransformer`, `CLIPEncoderLayer`, `CLIPTextModelWithProjection`) and, for the bigG
// weights, open_clip `src/open_clip/transformer.py` (`TextTransformer`): a pre-LN transformer with
// causal self-attention, learned absolute positions, a final LayerNorm, and the pooled vector taken
// at the end-of-text token.

/// One pre-LN transformer layer: x + attn(ln1(x)), then x + mlp(ln2(x)).
public final class CLIPEncoderLayer: Module {
    /// `layer_norm1`, before self-attention.
    public let layerNorm1: LayerNormLayer
    /// `self_attn.q_proj`, `k_proj`, `v_proj`, `out_proj`: [D, D] with bias.
    public let qProj: LinearLayer, kProj: LinearLayer, vProj: LinearLayer, outProj: LinearLayer
    /// `layer_norm2`, before the MLP.
    public let layerNorm2: LayerNormLayer
    /// `mlp.fc1` [M, D] and `mlp.fc2` [D, M].
    public let fc1: LinearLayer, fc2: LinearLayer
    let heads: Int
    let activation: Activation

    /// Allocates a layer of `config`'s sizes (zero weights, unit norms).
    public init(_ config: CLIPTextConfig) {
        let d = config.width
        layerNorm1 = LayerNormLayer(d, eps: config.layerNormEps)
        qProj = LinearLayer(d, d)
        kProj = LinearLayer(d, d)
        vProj = LinearLayer(d, d)
        outProj = LinearLayer(d, d)
        layerNorm2 = LayerNormLayer(d, eps: config.layerNormEps)
        fc1 = LinearLayer(d, config.mlpWidth)
        fc2 = LinearLayer(config.mlpWidth, d)
        heads = config.heads
        activation = config.activation
    }

    /// x: [B, T, D] → [B, T, D].
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        let (b, t, d) = (x.dim(0), x.dim(1), x.dim(2))
        let h = layerNorm1(x, c)
        // [B, T, D] → [B, N, T, D/N] for the attention op, and back.
        let split = { (y: Tensor) in c.permute(c.reshape(y, [b, t, self.heads, d / self.heads]), [0, 2, 1, 3]) }
        let a = c.attention(split(qProj(h, c)), split(kProj(h, c)), split(vProj(h, c)), causal: true)
        let merged = c.reshape(c.permute(a, [0, 2, 1, 3]), [b, t, d])
        let x1 = c.add(x, outProj(merged, c))
        let m = fc2(c.activation(activation, fc1(layerNorm2(x1, c), c)), c)
        return c.add(x1, m)
    }

    public var namedParameters: [(String, Tensor)] {
        prefixed("layer_norm1", layerNorm1.namedParameters)
            + prefixed("self_attn.q_proj", qProj.namedParameters)
            + prefixed("self_attn.k_proj", kProj.namedParameters)
            + prefixed("self_attn.v_proj", vProj.namedParameters)
            + prefixed("self_attn.out_proj", outProj.namedParameters)
            + prefixed("layer_norm2", layerNorm2.namedParameters)
            + prefixed("mlp.fc1", fc1.namedParameters)
            + prefixed("mlp.fc2", fc2.namedParameters)
    }
}

/// Everything a full pass computes (Hugging Face `output_hidden_states=True` plus the projection).
public struct CLIPTextOutput {
    /// HF `hidden_states`: [0] = embeddings, [i] = output of layer i (no final norm); L + 1 tensors [B, T, D].
    public let hiddenStates: [Tensor]
    /// HF `last_hidden_state`: final_layer_norm(hiddenStates[L]) [B, T, D].
    public let lastHiddenState: Tensor
    /// HF `pooler_output`: `lastHiddenState` at each window's end-of-text position [B, D].
    public let poolerOutput: Tensor
    /// HF `text_embeds`: `poolerOutput` · text_projectionᵀ [B, P]; nil without a projection.
    public let textEmbeds: Tensor?
}

/// A CLIP text encoder (SDXL's CLIP-L or OpenCLIP-bigG), parameters under Hugging Face names
/// (`text_model.…`, `text_projection.weight`). Load weights with `load(from:layout:)`.
///
/// Differentiable through the engine's autograd except for the token table (embedding lookups
/// record no gradient; see `EmbeddingLayer`), so LoRA on the projections can train through it.
public final class CLIPTextModel: Module {
    /// The architecture.
    public let config: CLIPTextConfig
    /// `text_model.embeddings.token_embedding` [V, D].
    public let tokenEmbedding: EmbeddingLayer
    /// `text_model.embeddings.position_embedding` [P, D].
    public let positionEmbedding: EmbeddingLayer
    /// `text_model.encoder.layers.{i}`.
    public let layers: [CLIPEncoderLayer]
    /// `text_model.final_layer_norm`.
    public let finalLayerNorm: LayerNormLayer
    /// `text_projection` [P, D], no bias (bigG only).
    public let textProjection: LinearLayer?

    /// Allocates a model of `config`'s sizes (zero weights, unit norms).
    public init(_ config: CLIPTextConfig) {
        self.config = config
        tokenEmbedding = EmbeddingLayer(config.vocabSize, config.width)
        positionEmbedding = EmbeddingLayer(config.maxPositions, config.width)
        layers = (0..<config.layers).map { _ in CLIPEncoderLayer(config) }
        finalLayerNorm = LayerNormLayer(config.width, eps: config.layerNormEps)
        textProjection = config.projectionDim.map { LinearLayer(config.width, $0, bias: false) }
    }

    public var namedParameters: [(String, Tensor)] {
        var p = prefixed("text_model.embeddings.token_embedding", tokenEmbedding.namedParameters)
            + prefixed("text_model.embeddings.position_embedding", positionEmbedding.namedParameters)
        for (i, layer) in layers.enumerated() {
            p += prefixed("text_model.encoder.layers.\(i)", layer.namedParameters)
        }
        p += prefixed("text_model.final_layer_norm", finalLayerNorm.namedParameters)
        if let textProjection { p += prefixed("text_projection", textProjection.namedParameters) }
        return p
    }

    /// Token plus position embeddings. ids: B windows of T ≤ `maxPositions` tokens → [B, T, D].
    public func embed(_ ids: [[Int32]], _ c: Compute) -> Tensor {
        let t = ids.first?.count ?? 0
        precondition(!ids.isEmpty && t > 0 && ids.allSatisfy { $0.count == t } && t <= config.maxPositions,
                     "CLIPTextModel: \(ids.count) windows of lengths \(Set(ids.map(\.count)).sorted()); need equal lengths 1...\(config.maxPositions)")
        let tokens = tokenEmbedding(ids.flatMap { $0 }).viewing(as: [ids.count, t, config.width])
        let table = positionEmbedding.weight.residentCopy(needsLasting: true)   // small; safe if half-resident
        let positions = t == config.maxPositions ? table : c.slice(table, dim: 0, start: 0, length: t)
        return c.add(tokens, positions)
    }

    /// SDXL conditioning from B token windows.
    ///
    /// - hidden: output of layer L − `skipLast` before the final norm [B, T, D] (`skipLast` 1 =
    ///   HF `hidden_states[-2]`, what SDXL uses for both encoders).
    /// - pooled: final_layer_norm(last layer) at each window's first end-of-text token, times the
    ///   text projection [B, P]; nil when the config has no projection, and then the layers after
    ///   L − `skipLast` are not run at all (CLIP-L in SDXL). `forward` gives the unprojected vector.
    public func encode(_ ids: [[Int32]], skipLast: Int = 1, _ c: Compute) -> (hidden: Tensor, pooled: Tensor?) {
        precondition((0...config.layers).contains(skipLast), "CLIPTextModel: skipLast \(skipLast) for \(config.layers) layers")
        let keep = config.layers - skipLast
        var x = embed(ids, c)
        var hidden = x
        let run = textProjection == nil ? keep : config.layers
        for (i, layer) in layers.prefix(run).enumerated() {
            x = layer(x, c)
            if i + 1 == keep { hidden = x }
        }
        guard let textProjection else { return (hidden, nil) }
        // LayerNorm is per token, so normalising only the gathered rows equals gathering after the norm.
        let eos = gatherRows(x, Self.poolingPositions(ids, eos: config.eosTokenId), c)
        return (hidden, textProjection(finalLayerNorm(eos, c), c))
    }

    /// Every intermediate output (HF `CLIPTextModel(WithProjection)` with `output_hidden_states`).
    public func forward(_ ids: [[Int32]], _ c: Compute) -> CLIPTextOutput {
        var states = [embed(ids, c)]
        for layer in layers { states.append(layer(states[states.count - 1], c)) }
        let last = finalLayerNorm(states[states.count - 1], c)
        let pooled = gatherRows(last, Self.poolingPositions(ids, eos: config.eosTokenId), c)
        return CLIPTextOutput(hiddenStates: states, lastHiddenState: last, poolerOutput: pooled,
                              textEmbeds: textProjection.map { $0(pooled, c) })
    }

    /// Per window, the position of the first `eos` token, or of the largest id when there is none.
    /// With EOS the largest id in the vocabulary (49407 in CLIP) both equal HF's choice: its legacy
    /// configs take argmax(ids), newer ones the first EOS.
    public static func poolingPositions(_ ids: [[Int32]], eos: Int32) -> [Int] {
        ids.map { w in w.firstIndex(of: eos) ?? w.max().flatMap { w.firstIndex(of: $0) } ?? 0 }
    }

    /// Row `positions[b]` of window b. x: [B, T, D] → [B, D].
    private func gatherRows(_ x: Tensor, _ positions: [Int], _ c: Compute) -> Tensor {
        let (t, d) = (x.dim(1), x.dim(2))
        let flat = c.reshape(x, [x.dim(0) * t, d])
        return c.concat(positions.enumerated().map { b, p in c.slice(flat, dim: 0, start: b * t + p, length: 1) }, dim: 0)
    }
}
