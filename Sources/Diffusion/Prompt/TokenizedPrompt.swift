/// A prompt as CLIP encoder windows: weighted segments tokenized separately, packed into 75-token chunks, each
/// wrapped to 77 as BOS + tokens + EOS + padding, with a weight per token (1 on BOS, EOS and padding).
///
/// Packing follows the syntax's front-end. ComfyUI (`comfy/sd1_clip.py` `SDTokenizer.tokenize_with_weights`):
/// each segment's tokens are a group; a group of ≥ 8 tokens may be split across chunks, a shorter group that
/// does not fit moves whole to the next chunk. A1111 (`modules/sd_hijack_clip.py`): token by token; when a chunk
/// is full and a comma came within its last 20 tokens, the tokens after that comma move to the next chunk.
/// In both, `BREAK` closes the current chunk (even an empty one) and the last chunk is kept when non-empty or
/// when it is the only one, so an empty prompt is one chunk [BOS, EOS, pad, …]. ComfyUI's `embedding:` words
/// are not special here. Build one per text encoder: only the pad id differs (CLIP-L: EOS, OpenCLIP bigG: 0).
public struct TokenizedPrompt: Equatable, Sendable {
    /// One 77-token encoder window.
    public struct Chunk: Equatable, Sendable {
        /// Token ids, 77 of them.
        public var ids: [Int32]
        /// Emphasis weight per token, 77 of them.
        public var weights: [Float]
        /// Index of the first EOS: where the pooled output is read.
        public var eosIndex: Int
    }

    /// The windows, in order; their encodings are concatenated along the token axis.
    public var chunks: [Chunk]

    /// Whether any token's weight differs from 1 (ComfyUI skips the weighting pass otherwise).
    public var hasWeights: Bool { chunks.contains { $0.weights.contains { $0 != 1 } } }

    /// Parses `text` in `syntax` and tokenizes it; `padID` is `tokenizer.eos` for CLIP-L and 0 for bigG.
    public init(_ text: String, syntax: PromptSyntax, tokenizer: CLIPTokenizer, padID: Int32) {
        self.init(segments: PromptWeighting.parse(text, syntax: syntax), packing: syntax, tokenizer: tokenizer,
                  padID: padID)
    }

    /// Tokenizes already-parsed segments, packing chunks the way `packing`'s front-end does.
    public init(segments: [PromptSegment], packing: PromptSyntax, tokenizer: CLIPTokenizer, padID: Int32) {
        var packer = Packer(tokenizer: tokenizer, padID: padID)
        for segment in segments {
            if segment.isBreak { packer.close(); continue }
            let ids = tokenizer.encode(segment.text)
            switch packing {
            case .comfy: packer.addGroup(ids, weight: segment.weight)
            case .a1111: packer.addTokens(ids, weight: segment.weight)
            }
        }
        packer.finish()
        chunks = packer.chunks
    }
}

/// Fills chunks; `current` holds the tokens of the open chunk without BOS/EOS.
private struct Packer {
    let tokenizer: CLIPTokenizer
    let padID: Int32
    let comma: Int32
    var chunks: [TokenizedPrompt.Chunk] = []
    var ids: [Int32] = []
    var weights: [Float] = []
    var lastComma = -1
    static let capacity = CLIPTokenizer.tokensPerWindow
    /// ComfyUI's `max_word_length`: groups this long may be split.
    static let splittableGroup = 8
    /// A1111's default `comma_padding_backtrack`.
    static let commaBacktrack = 20

    init(tokenizer: CLIPTokenizer, padID: Int32) {
        self.tokenizer = tokenizer
        self.padID = padID
        comma = tokenizer.encode(",").first ?? -1
    }

    /// Closes the open chunk (even if empty): BOS + tokens + EOS + padding.
    mutating func close() {
        var w = [tokenizer.bos] + ids + [tokenizer.eos]
        var m = [Float(1)] + weights + [1]
        let pad = CLIPTokenizer.contextLength - w.count
        w += repeatElement(padID, count: pad)
        m += repeatElement(1, count: pad)
        let eosIndex = w.firstIndex(of: tokenizer.eos)!
        chunks.append(TokenizedPrompt.Chunk(ids: w, weights: m, eosIndex: eosIndex))
        ids = []; weights = []; lastComma = -1
    }

    /// ComfyUI packing of one segment's tokens.
    mutating func addGroup(_ group: [Int32], weight: Float) {
        var rest = group[...]
        let splittable = group.count >= Packer.splittableGroup
        while !rest.isEmpty {
            if ids.count + rest.count <= Packer.capacity {
                ids += rest; weights += repeatElement(weight, count: rest.count); return
            }
            if splittable {
                let take = Packer.capacity - ids.count
                ids += rest.prefix(take); weights += repeatElement(weight, count: take)
                rest = rest.dropFirst(take)
            }
            close()
        }
    }

    /// A1111 packing of one segment's tokens.
    mutating func addTokens(_ tokens: [Int32], weight: Float) {
        for t in tokens {
            if t == comma {
                lastComma = ids.count
            } else if ids.count == Packer.capacity && lastComma != -1 && ids.count - lastComma <= Packer.commaBacktrack {
                let cut = lastComma + 1
                let movedIDs = Array(ids[cut...]), movedWeights = Array(weights[cut...])
                ids.removeSubrange(cut...); weights.removeSubrange(cut...)
                close()
                ids = movedIDs; weights = movedWeights
            }
            if ids.count == Packer.capacity { close() }
            ids.append(t); weights.append(weight)
        }
    }

    mutating func finish() {
        if !ids.isEmpty || chunks.isEmpty { close() }
    }
}
