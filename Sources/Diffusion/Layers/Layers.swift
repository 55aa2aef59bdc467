import Tensor

/// `nn.Linear`: weight [out, in], optional bias [out], plus any unmerged low-rank adapters.
public final class LinearLayer: Module, AdaptableLayer {
    public let weight: Tensor
    public let bias: Tensor?
    /// Runtime LoRA adapters added to the output (see `LowRankAdapter`); not parameters of the module.
    public var adapters: [LowRankAdapter] = []

    /// Allocates zero weights of the given size (a loader or an initialiser fills them).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
    }

    /// x: [..., in] → [..., out]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        let w = weight.residentCopy(needsLasting: c.records(x, weight))
        // A cached bf16 panel is all the bf16 path reads: skip expanding half-resident values.
        let y = c.linearUsesPackedWeight(w) ? c.linear(x, weight: w, bias: bias)
            : w.storage.withResident(c) { c.linear(x, weight: w, bias: bias) }
        return adapters.isEmpty ? y : LowRankAdapter.addLinear(adapters, x: x, to: y, c)
    }

    public var namedParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// `nn.Conv2d` with square kernels: weight [out, in, k, k], optional bias [out], plus any unmerged low-rank adapters.
public final class Conv2dLayer: Module, AdaptableLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    /// Runtime LoRA adapters added to the output (see `LowRankAdapter`); not parameters of the module.
    public var adapters: [LowRankAdapter] = []

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
        weight = Tensor(zeros: [outChannels, inChannels, kernel, kernel])
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    /// x: [B, C, H, W]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        let w = weight.residentCopy(needsLasting: c.records(x, weight))
        let y = c.conv2dUsesPackedWeight(w, stride: stride, padding: padding) ? c.conv2d(x, weight: w, bias: bias, stride: stride, padding: padding)
            : w.storage.withResident(c) { c.conv2d(x, weight: w, bias: bias, stride: stride, padding: padding) }
        return adapters.isEmpty ? y : LowRankAdapter.addConv(adapters, x: x, to: y, stride: stride, padding: padding, c)
    }

    /// self(norm.silu(x)), with the norm folded into the conv where the engine can (`Compute.groupNormSiLUConv2d`).
    public func callAsFunction(_ x: Tensor, normSiLU norm: GroupNormLayer, _ c: Compute) -> Tensor {
        guard adapters.isEmpty else { return self(norm.silu(x, c), c) }
        let w = weight.residentCopy(needsLasting: c.records(x, weight))
        let run = { c.groupNormSiLUConv2d(x, groups: norm.groups, normWeight: norm.weight, normBias: norm.bias, eps: norm.eps,
                                          weight: w, bias: self.bias, stride: self.stride, padding: self.padding) }
        return c.conv2dUsesPackedWeight(w, stride: stride, padding: padding) ? run() : w.storage.withResident(c, run)
    }

    /// self(silu(alpha ⊙ x + beta)) for a per-(image, channel) affine (a GroupNorm with statistics taken elsewhere),
    /// folded into the conv where the engine can. Inference only. alpha, beta: [B · C].
    public func callAsFunction(_ x: Tensor, affineSiLU alpha: [Float], _ beta: [Float], _ c: Compute) -> Tensor {
        guard adapters.isEmpty else { return self(c.affineSiLU(x, alpha: alpha, beta: beta), c) }
        let run = { c.affineSiLUConv2d(x, alpha: alpha, beta: beta, weight: self.weight, bias: self.bias,
                                       stride: self.stride, padding: self.padding) }
        return c.conv2dUsesPackedWeight(weight, stride: stride, padding: padding) ? run() : weight.storage.withResident(c, run)
    }

    /// self(upsampleNearest2x(x)), with the upsampling folded into the conv where the engine can.
    public func callAsFunction(upsampling x: Tensor, _ c: Compute) -> Tensor {
        guard adapters.isEmpty else { return self(c.upsampleNearest2x(x), c) }
        let w = weight.residentCopy(needsLasting: c.records(x, weight))
        let run = { c.upsampleNearest2xConv2d(x, weight: w, bias: self.bias, stride: self.stride, padding: self.padding) }
        return c.conv2dUsesPackedWeight(w, stride: stride, padding: padding) ? run() : w.storage.withResident(c, run)
    }

    public var namedParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// `nn.GroupNorm` with affine weight and bias [C].
public final class GroupNormLayer: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5) {
        weight = Tensor(shape: [channels], repeating: 1)
        bias = Tensor(zeros: [channels])
        self.groups = groups
        self.eps = eps
    }

    /// x: [B, C, ...]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        c.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
    }

    /// silu(groupNorm(x)), fused.
    public func silu(_ x: Tensor, _ c: Compute) -> Tensor {
        c.groupNormSiLU(x, groups: groups, weight: weight, bias: bias, eps: eps)
    }

    public var namedParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
}

/// `nn.LayerNorm` over the last dimension with affine weight and bias [D].
public final class LayerNormLayer: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Tensor(shape: [dim], repeating: 1)
        bias = Tensor(zeros: [dim])
        self.eps = eps
    }

    /// x: [..., D]
    public func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        c.layerNorm(x, weight: weight, bias: bias, eps: eps)
    }

    public var namedParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
}

/// `nn.Embedding`: weight [count, dim].
public final class EmbeddingLayer: Module {
    public let weight: Tensor

    public init(_ count: Int, _ dim: Int) { weight = Tensor(zeros: [count, dim]) }

    /// Rows of `weight` for `ids` → [ids.count, dim] (no gradient to the table: embeddings are frozen in
    /// every training Sumi does; a trainable table would need a scatter-add backward).
    public func callAsFunction(_ ids: [Int32]) -> Tensor {
        let dim = weight.dim(1)
        let out = Tensor(uninitialized: [ids.count, dim])
        // Row by row: a half-resident table (bigG's is 250 MB in fp32) converts only the rows asked for.
        for (r, id) in ids.enumerated() {
            precondition(Int(id) >= 0 && Int(id) < weight.dim(0), "token id \(id) outside embedding table \(weight.shape)")
            weight.storage.read(Int(id) * dim..<(Int(id) + 1) * dim, into: out.data + r * dim)
        }
        return out
    }

    public var namedParameters: [(String, Tensor)] { [("weight", weight)] }
}
