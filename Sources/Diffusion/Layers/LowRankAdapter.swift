import Tensor

/// A low-rank adapter kept *unmerged* beside a layer's weight: the layer's forward adds
/// `scale · up(down(x))` to its output, so changing a LoRA's strength is a change of `scale` (instant) instead of
/// a rank-r GEMM over every adapted weight, and the base weights are never written.
///
/// Shapes: Linear down [r, in], up [out, r]; Conv2d down [r, in, k, k] (run with the base conv's stride and
/// padding, so it sees the same receptive field) and up [out, r, 1, 1]. An adapter always covers all output rows
/// of its layer: a LoRA over a packed projection (bigG's `in_proj` = q | k | v) is split by `LoRANetwork` into one
/// adapter per layer (the model keeps q, k and v as separate layers), the three sharing one `down` tensor.
///
/// Cost per forward: two skinny GEMMs, r·(in·k² + out) MACs per output pixel / token, plus nothing when
/// `scale` is 0 (the adapter is skipped, so the output is exactly the base layer's). When the context records
/// gradients and `x`, `down` or `up` requires them, the path runs through ordinary autograd ops (`down` and `up`
/// receive gradients, e.g. for training); otherwise the up-projection accumulates straight into the layer's
/// output (GEMM with β = 1, no extra pass).
public final class LowRankAdapter {
    /// Down / A: [r, in] (Linear) or [r, in, k, k] (Conv2d).
    public let down: Tensor
    /// Up / B: [out, r] (Linear) or [out, r, 1, 1] (Conv2d).
    public let up: Tensor
    /// Multiplier of the product; for a LoRA strength × alpha / rank. 0 switches the adapter off at no cost.
    public var scale: Float
    /// Owner of the adapter (a LoRA network's name, "train", …), so owners can find and remove their own.
    public let name: String

    /// An adapter `y += scale · up(down(x))`. down: [r, in] or [r, in, k, k]; up: [out, r] or [out, r, 1, 1].
    public init(down: Tensor, up: Tensor, scale: Float, name: String) {
        precondition(down.rank >= 2 && up.rank >= 2 && up.dim(1) == down.dim(0) && up.shape.dropFirst(2).allSatisfy { $0 == 1 },
                     "LowRankAdapter \(name): up \(up.shape) and down \(down.shape) do not share a rank")
        self.down = down
        self.up = up
        self.scale = scale
        self.name = name
    }

    /// Rank r.
    public var rank: Int { down.dim(0) }

    /// Whether the adapter fits `weight` ([out, in] or [out, in, k, k]).
    public func fits(_ weight: Tensor) -> Bool {
        up.dim(0) == weight.dim(0) && Array(down.shape.dropFirst()) == Array(weight.shape.dropFirst())
    }
}

/// A layer that adapters can be attached to (`LinearLayer`, `Conv2dLayer`).
public protocol AdaptableLayer: AnyObject {
    /// The base weight: [out, in] or [out, in, k, k].
    var weight: Tensor { get }
    /// Adapters added to the layer's output, in order (those with `scale` 0 are skipped).
    var adapters: [LowRankAdapter] { get set }
}

extension LowRankAdapter {
    /// y + Σ scale · up(down(x)) for a Linear layer. x: [..., in], y: [..., out] (the base output; updated in
    /// place on the non-recording path, so it must be the layer's fresh output).
    static func addLinear(_ adapters: [LowRankAdapter], x: Tensor, to y: Tensor, _ c: Compute) -> Tensor {
        var y = y
        for a in adapters where a.scale != 0 {
            precondition(a.down.rank == 2 && a.down.dim(1) == x.dim(-1) && a.up.dim(0) == y.dim(-1),
                         "adapter \(a.name): down \(a.down.shape), up \(a.up.shape) for input \(x.shape) → \(y.shape)")
            let up = a.up.rank == 2 ? a.up : a.up.viewing(as: [a.up.dim(0), a.rank])
            if c.records(x, a.down, a.up) {
                let h = c.scale(c.linear(x, weight: a.down), by: a.scale)
                y = c.add(y, c.linear(h, weight: up))
            } else {
                let h = Linear.forward(x, weight: a.down, bias: nil, c)  // [rows, r]
                let rows = h.count / a.rank
                withExtendedLifetime((h, up, y)) {
                    BLAS.gemm(transB: true, m: rows, n: up.dim(0), k: a.rank, alpha: a.scale, a: h.data, b: up.data,
                              beta: 1, c: y.data)
                }
            }
        }
        return y
    }

    /// y + Σ scale · up(down(x)) for a Conv2d layer with the base conv's stride and padding.
    /// x: [B, C, H, W], y: [B, O, Ho, Wo] (the base output; updated in place on the non-recording path).
    static func addConv(_ adapters: [LowRankAdapter], x: Tensor, to y: Tensor, stride: Int, padding: Int,
                        _ c: Compute) -> Tensor {
        var y = y
        for a in adapters where a.scale != 0 {
            precondition(a.down.rank == 4 && a.down.dim(1) == x.dim(1) && a.up.dim(0) == y.dim(1),
                         "adapter \(a.name): down \(a.down.shape), up \(a.up.shape) for input \(x.shape) → \(y.shape)")
            if c.records(x, a.down, a.up) {
                let up = a.up.rank == 4 ? a.up : a.up.viewing(as: [a.up.dim(0), a.rank, 1, 1])
                let h = c.scale(c.conv2d(x, weight: a.down, stride: stride, padding: padding), by: a.scale)
                y = c.add(y, c.conv2d(h, weight: up))
            } else {
                let h = Conv2d.forward(x, weight: a.down, bias: nil, stride: stride, padding: padding, c)  // [B, r, Ho, Wo]
                let (batch, out, r) = (y.dim(0), y.dim(1), a.rank)
                let pixels = y.count / max(batch * out, 1)
                withExtendedLifetime((h, a.up, y)) {
                    for b in 0..<batch {
                        BLAS.gemm(m: out, n: pixels, k: r, alpha: a.scale, a: a.up.data, b: h.data + b * r * pixels,
                                  beta: 1, c: y.data + b * out * pixels)
                    }
                }
            }
        }
        return y
    }
}

extension Module {
    /// Every Linear and Conv2d layer of the module, keyed by its canonical weight name
    /// (`down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight`).
    ///
    /// Layers are found by walking the module's stored properties (arrays, optionals and enum payloads included)
    /// with `Mirror`, then named by matching each layer's weight tensor (by identity) against `namedParameters`,
    /// so the names are exactly the checkpoint names and no model needs to list its layers twice.
    public func adaptableLayers() -> [String: AdaptableLayer] {
        var byWeight: [ObjectIdentifier: AdaptableLayer] = [:]
        var visited = Set<ObjectIdentifier>()
        func walk(_ value: Any) {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .class {
                let object = value as AnyObject
                if object is Tensor || object is Storage { return }
                guard visited.insert(ObjectIdentifier(object)).inserted else { return }
                if let layer = object as? AdaptableLayer { byWeight[ObjectIdentifier(layer.weight)] = layer; return }
            }
            var m: Mirror? = mirror
            while let current = m {
                for child in current.children { walk(child.value) }
                m = current.superclassMirror
            }
        }
        walk(self)
        var layers: [String: AdaptableLayer] = [:]
        for (name, t) in namedParameters {
            if let layer = byWeight[ObjectIdentifier(t)] { layers[name] = layer }
        }
        return layers
    }
}
