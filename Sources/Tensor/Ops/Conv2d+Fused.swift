/// The two ops that feed most 3×3 convs in SDXL — a GroupNorm + SiLU (every resnet) and a nearest-2× upsampling
/// (every up-sampler) — folded into the Winograd conv's input transform at inference, so their output is never
/// stored: at 1024² the VAE decoder's norm outputs are 0.5–1 GiB each, and this is what bounds its peak memory.
/// While recording gradients, or when the conv does not run as Winograd, these are the plain sequence of ops.
extension Compute {
    /// conv2d(silu(groupNorm(x))), the conv 3×3 with stride 1 (x: [B, C, H, W]).
    public func groupNormSiLUConv2d(_ x: Tensor, groups: Int, normWeight: Tensor?, normBias: Tensor?, eps: Float,
                                    weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int) -> Tensor {
        let inputs = [x, weight] + [normWeight, normBias, bias].compactMap { $0 }
        if !inputs.contains(where: { records($0) }), x.rank == 4,
           Conv2d.winogradTile(x, weight: weight, stride: stride, padding: padding, self) != nil {
            let a = GroupNorm.affine(x, groups: groups, weight: normWeight, bias: normBias, eps: eps, self)
            return affineSiLUConv2d(x, alpha: a.alpha, beta: a.beta, weight: weight, bias: bias, stride: stride, padding: padding)
        }
        return conv2d(groupNormSiLU(x, groups: groups, weight: normWeight, bias: normBias, eps: eps),
                      weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// conv2d(silu(alpha ⊙ x + beta)) with a per-(image, channel) affine — a GroupNorm folded into affines, its
    /// statistics x's own (`groupNormSiLUConv2d`) or gathered elsewhere (the tiled VAE decoder's, shared across
    /// tiles). Inference only. x: [B, C, H, W]; alpha, beta: [B · C].
    public func affineSiLUConv2d(_ x: Tensor, alpha: [Float], beta: [Float], weight: Tensor, bias: Tensor?,
                                 stride: Int = 1, padding: Int) -> Tensor {
        precondition(x.rank == 4 && alpha.count == x.dim(0) * x.dim(1) && beta.count == alpha.count,
                     "affineSiLUConv2d: x \(x.shape), \(alpha.count) scales, \(beta.count) shifts")
        precondition(![x, weight].contains(where: { records($0) }), "affineSiLUConv2d is inference only")
        if let tile = Conv2d.winogradTile(x, weight: weight, stride: stride, padding: padding, self) {
            return profiled(Conv2d.profileLabel(x, weight, stride: stride, padding: padding) + " +norm_silu",
                            flops: Conv2d.flops(x, weight, stride: stride, padding: padding)) {
                Conv2d.forwardWinograd(x, weight: weight, bias: bias, tile: tile,
                                       prologue: .init(alpha: alpha, beta: beta, silu: true), self)
            }
        }
        return conv2d(affineSiLU(x, alpha: alpha, beta: beta), weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// silu(alpha ⊙ x + beta) per (image, channel), materialised (inference only; `affineSiLUConv2d` avoids storing it).
    /// x: [B, C, ...]; alpha, beta: [B · C].
    public func affineSiLU(_ x: Tensor, alpha: [Float], beta: [Float]) -> Tensor {
        GroupNorm.applyAffine(x, alpha: alpha, beta: beta, silu: true, self)
    }

    /// conv2d(upsampleNearest2x(x)) (x: [B, C, H, W] → [B, O, 2H, 2W] for a 3×3, stride-1, padding-1 conv).
    public func upsampleNearest2xConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int) -> Tensor {
        let inputs = [x, weight] + [bias].compactMap { $0 }
        if !inputs.contains(where: { records($0) }), x.rank == 4,
           let tile = Conv2d.winogradTile(height: 2 * x.dim(2), width: 2 * x.dim(3), weight: weight,
                                          stride: stride, padding: padding, self) {
            let up = [x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)]
            let flops = 2 * Double(up[0] * up[2] * up[3]) * Double(weight.count)
            return profiled("conv3x3 \(weight.dim(1))→\(weight.dim(0)) @\(up[2])×\(up[3]) +upsample2x", flops: flops) {
                Conv2d.forwardWinograd(x, weight: weight, bias: bias, tile: tile, prologue: .init(upsample2x: true), self)
            }
        }
        return conv2d(upsampleNearest2x(x), weight: weight, bias: bias, stride: stride, padding: padding)
    }
}
