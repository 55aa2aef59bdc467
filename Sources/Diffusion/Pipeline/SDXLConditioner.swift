import Tensor

/// What the SDXL UNet is conditioned on for one prompt.
public struct SDXLConditioning {
    /// Cross-attention context: CLIP-L and bigG penultimate hidden states side by side, 77 tokens per chunk.
    // [1, 77·chunks, Dl + Dg]
    public let context: Tensor
    /// bigG's projected pooled vector of the first chunk. [1, P]
    public let pooled: Tensor

    /// Wraps precomputed tensors.
    public init(context: Tensor, pooled: Tensor) {
        precondition(context.rank == 3 && context.dim(0) == 1 && pooled.rank == 2 && pooled.dim(0) == 1,
                     "SDXLConditioning: context \(context.shape) must be [1, T, D], pooled \(pooled.shape) [1, P]")
        self.context = context
        self.pooled = pooled
    }

    /// Number of context tokens (77 per chunk).
    public var tokenCount: Int { context.dim(1) }
}

/// Prompt → SDXL conditioning, with ComfyUI's semantics (comfyanonymous/ComfyUI `comfy/sdxl_clip.py`
/// `SDXLClipModel`, `comfy/sd1_clip.py` `ClipTokenWeightEncoder.encode_token_weights`):
///
/// - the prompt is parsed for emphasis (`syntax`) and packed into 77-token windows per encoder; CLIP-L pads
///   with EOS, bigG with 0 (`TokenizedPrompt`);
/// - each encoder gives its penultimate hidden state, without the final LayerNorm;
/// - when any token weight differs from 1, an empty prompt window (BOS, EOS, pads) is encoded alongside and
///   every token of weight w becomes z_empty + (z − z_empty)·w — interpolation from the empty prompt rather
///   than scaling (per encoder, before concatenation);
/// - chunks are concatenated along the tokens (cut to the shorter encoder's count, as ComfyUI's `cut_to`), the
///   two encoders along the channels;
/// - pooled = bigG's projected pooled vector of the *first* chunk at its first EOS; weights do not touch it.
///
/// An empty prompt is encoded like any other (ComfyUI does not zero it). Token ids the encoder's vocabulary
/// cannot hold (only the tiny test encoders, vocabulary 1000) are folded: BOS → V−2, EOS → V−1, other ids
/// mod (V−2); for real CLIP encoders (V = 49 408) ids pass through unchanged.
public final class SDXLConditioner {
    /// The BPE tokenizer shared by both encoders.
    public let tokenizer: CLIPTokenizer
    /// CLIP ViT-L/14 text model.
    public let clipL: CLIPTextModel
    /// OpenCLIP ViT-bigG/14 text model (with projection).
    public let clipG: CLIPTextModel

    /// Both encoders and the tokenizer.
    public init(tokenizer: CLIPTokenizer, clipL: CLIPTextModel, clipG: CLIPTextModel) {
        precondition(clipG.textProjection != nil, "SDXLConditioner: the bigG encoder needs a text projection")
        self.tokenizer = tokenizer
        self.clipL = clipL
        self.clipG = clipG
    }

    /// The prompt's windows for CLIP-L (EOS padding) and bigG (0 padding), ids as the tokenizer gives them.
    public func tokenize(_ prompt: String, syntax: PromptSyntax = .comfy) -> (l: TokenizedPrompt, g: TokenizedPrompt) {
        let segments = PromptWeighting.parse(prompt, syntax: syntax)
        return (TokenizedPrompt(segments: segments, packing: syntax, tokenizer: tokenizer, padID: tokenizer.eos),
                TokenizedPrompt(segments: segments, packing: syntax, tokenizer: tokenizer, padID: CLIPTokenizer.bigGPad))
    }

    /// Encodes `prompt` (inference only: nothing is recorded for autograd).
    public func encode(_ prompt: String, syntax: PromptSyntax = .comfy, _ c: Compute) -> SDXLConditioning {
        let (l, g) = tokenize(prompt, syntax: syntax)
        return encode(l: l, g: g, c)
    }

    /// Encodes already tokenized windows (see `tokenize`).
    public func encode(l: TokenizedPrompt, g: TokenizedPrompt, _ c: Compute) -> SDXLConditioning {
        let c = c.inference
        let (hiddenL, _) = encodeWeighted(clipL, l, padID: tokenizer.eos, c)
        let (hiddenG, pooled) = encodeWeighted(clipG, g, padID: CLIPTokenizer.bigGPad, c)
        let tokens = min(hiddenL.dim(1), hiddenG.dim(1))
        let cut = { (x: Tensor) in x.dim(1) == tokens ? x : c.slice(x, dim: 1, start: 0, length: tokens) }
        return SDXLConditioning(context: c.concat([cut(hiddenL), cut(hiddenG)], dim: 2), pooled: pooled!)
    }

    /// The ids `model` is fed for tokenizer ids `ids` (identity unless the vocabulary is too small; see the type).
    public func encoderIDs(_ ids: [Int32], for model: CLIPTextModel) -> [Int32] {
        let v = Int32(model.config.vocabSize)
        guard tokenizer.vocabularySize > model.config.vocabSize else { return ids }
        return ids.map { id in
            id == tokenizer.bos ? v - 2 : id == tokenizer.eos ? v - 1 : id % (v - 2)
        }
    }

    /// One encoder over all chunks (plus the empty window when weighted). → hidden [1, 77·chunks, D], pooled [1, P]?
    private func encodeWeighted(_ model: CLIPTextModel, _ prompt: TokenizedPrompt, padID: Int32,
                                _ c: Compute) -> (Tensor, Tensor?) {
        let weighted = prompt.hasWeights
        var windows = prompt.chunks.map(\.ids)
        if weighted { windows.append(emptyWindow(padID: padID)) }
        let (hidden, pooled) = model.encode(windows.map { encoderIDs($0, for: model) }, skipLast: 1, c)   // [B, 77, D]
        let (n, t, d) = (prompt.chunks.count, hidden.dim(1), hidden.dim(2))
        let out = Tensor(uninitialized: [1, n * t, d])
        out.data.update(from: hidden.data, count: n * t * d)
        if weighted {
            let empty = hidden.data + n * t * d
            for (k, chunk) in prompt.chunks.enumerated() {
                for (j, w) in chunk.weights.enumerated() where w != 1 {
                    let z = out.data + (k * t + j) * d, e = empty + j * d
                    for i in 0..<d { z[i] = (z[i] - e[i]) * w + e[i] }
                }
            }
        }
        return (out, pooled.map { c.slice($0, dim: 0, start: 0, length: 1) })
    }

    /// ComfyUI's `gen_empty_tokens`: BOS, EOS, then padding to 77.
    func emptyWindow(padID: Int32) -> [Int32] {
        [tokenizer.bos, tokenizer.eos] + Array(repeating: padID, count: CLIPTokenizer.contextLength - 2)
    }

    /// SDXL's six size numbers for an image of `width` × `height` pixels: original size, crop (0, 0) and target
    /// size, each (height, width) — the generated size, as ComfyUI uses it (`comfy/model_base.py` `SDXL.encode_adm`).
    public static func timeIds(width: Int, height: Int) -> [Float] {
        [Float(height), Float(width), 0, 0, Float(height), Float(width)]
    }
}
