import Diffusion
import Foundation
import Tensor

/// PyTorch's default parameter initialisation, for models trained from scratch.
///
/// Per layer, as the `reset_parameters` of torch.nn (pytorch/pytorch `torch/nn/modules/{linear,conv,normalization,
/// sparse}.py`, `torch/nn/init.py`):
/// - `Linear` / `Conv2d` weight: `kaiming_uniform_(a=√5)` = U(±b) with b = √3 · √(2/(1+a²)) / √fan_in = 1/√fan_in,
///   fan_in = in · k · k; bias: U(±1/√fan_in);
/// - `GroupNorm` / `LayerNorm`: weight 1, bias 0;
/// - `Embedding`: N(0, 1).
/// Uniforms are torch's CPU `uniform_` on float32: a 24-bit draw u, then u·(to − from) + from in float32.
/// Layers are walked in `namedParameters` order, each weight before its bias, drawing from one `TorchGenerator`:
/// a layer built alone in torch after `manual_seed` gets bit-identical values; a whole model's values are the
/// same distribution but not torch's sequence, since construction order differs.
public enum ModelInitializer {
    /// Re-initialises every parameter of `module`.
    public static func initialize(_ module: Module, rng: inout TorchGenerator) {
        let params = module.namedParameters
        let byName = Dictionary(params.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        for (name, t) in params {
            let (layer, leaf) = split(name)
            switch leaf {
            case "weight" where t.rank >= 2:
                if layer.hasSuffix("_embedding") {   // CLIP token / position tables
                    fillNormal(t, &rng)
                } else {
                    let fanIn = t.count / t.dim(0)
                    let gain = (2.0 / (1.0 + 5.0.squareRoot() * 5.0.squareRoot())).squareRoot()
                    let bound = 3.0.squareRoot() * (gain / Double(fanIn).squareRoot())
                    fillUniform(t, bound: bound, &rng)
                }
            case "weight":
                fill(t, 1)
            case "bias":
                if let w = byName[layer.isEmpty ? "weight" : "\(layer).weight"], w.rank >= 2 {
                    fillUniform(t, bound: 1 / Double(w.count / w.dim(0)).squareRoot(), &rng)
                } else {
                    fill(t, 0)
                }
            default:
                // A bare tensor (no layer): treat a matrix like a Linear weight, a vector as zero.
                if t.rank >= 2 { fillUniform(t, bound: 1 / Double(t.count / t.dim(0)).squareRoot(), &rng) } else { fill(t, 0) }
            }
        }
    }

    /// `uniform_(-bound, bound)` on float32, as torch's CPU kernel.
    static func fillUniform(_ t: Tensor, bound: Double, _ rng: inout TorchGenerator) {
        let from = Float(-bound), to = Float(bound)
        let width = to - from
        for i in 0..<t.count {
            let u = Float(rng.nextUInt32() & 0xFF_FFFF) * (1.0 / Float(1 << 24))
            t.data[i] = from.addingProduct(u, width)   // ATen's kernel is built with FMA contraction
        }
    }

    static func fillNormal(_ t: Tensor, _ rng: inout TorchGenerator) {
        rng.fillNormal(t.data, count: t.count)
    }

    static func fill(_ t: Tensor, _ v: Float) {
        t.data.update(repeating: v, count: t.count)
    }

    static func split(_ name: String) -> (layer: String, leaf: String) {
        guard let dot = name.lastIndex(of: ".") else { return ("", name) }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }
}
