import Foundation

/// AdamW with fp32 moments, following `torch.optim.AdamW` (single-tensor path) step for step.
///
/// Per parameter, at step t with learning rate lr and weight decay λ:
/// `p ← p·(1 − lr·λ)`, `m ← m + (1−β1)(g − m)`, `v ← β2·v + (1−β2)·g²`,
/// `p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε)` — decoupled decay before the update, ε after the
/// square root. Scalars are formed in Double and rounded to Float once, as PyTorch does.
public final class AdamW: Optimizer {
    /// Per-parameter state: first and second moments and the number of updates applied.
    final class State {
        let m: Tensor, v: Tensor
        var step: Int
        init(m: Tensor, v: Tensor, step: Int) { self.m = m; self.v = v; self.step = step }
    }

    public let groups: [ParameterGroup]
    /// Exponential decay rates of the first and second moments. Double, like PyTorch's Python floats,
    /// so that 1 − β rounds to the same Float (Float(0.9) would make 1 − β1 differ by 2 ulp).
    public let betas: (Double, Double)
    /// Added to the bias-corrected √v.
    public let eps: Double
    /// Default decoupled weight decay for groups that do not set one.
    public let weightDecay: Float
    let compute: Compute
    var states: [ObjectIdentifier: State] = [:]

    /// Creates an optimizer over `groups` (a tensor may appear in only one group of one optimizer).
    public init(_ groups: [ParameterGroup], betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Float = 1e-2, compute: Compute = Compute()) {
        OptimizerSupport.checkUnique(groups)
        self.groups = groups
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.compute = compute
    }

    public func step(lr: Float) {
        OptimizerSupport.forEachGradient(groups, lr: lr, defaultWeightDecay: weightDecay, optimizer: "AdamW") { p, g, groupLR, wd in
            let s = state(for: p)
            s.step += 1
            let h = AdamWHyper(lr: groupLR, weightDecay: wd, betas: betas, eps: eps, step: s.step)
            let pp = p.data, pg = g.data, pm = s.m.data, pv = s.v.data
            compute.parallelFor(p.count, grain: 1 << 14) { r in
                AdamW.update(p: pp, g: pg, m: pm, v: pv, range: r, h)
            }
        }
    }

    func state(for p: Tensor) -> State {
        if let s = states[ObjectIdentifier(p)] { return s }
        let s = State(m: Tensor(zeros: p.shape), v: Tensor(zeros: p.shape), step: 0)
        states[ObjectIdentifier(p)] = s
        return s
    }

    /// The per-element update over `range` (plain loop; the compiler vectorises it).
    static func update(p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                       v: UnsafeMutablePointer<Float>, range: Range<Int>, _ h: AdamWHyper) {
        for i in range {
            let gi = g[i]
            let pi = p[i] * h.decay
            let mi = m[i] + h.oneMinusBeta1 * (gi - m[i])          // torch lerp_ with weight < 0.5
            let vi = v[i] * h.beta2 + h.oneMinusBeta2 * gi * gi     // torch addcmul_
            m[i] = mi; v[i] = vi
            p[i] = pi + h.negStepSize * (mi / (vi.squareRoot() / h.bc2Sqrt + h.eps))
        }
    }

    public func stateTensors() -> [(String, Tensor)] {
        OptimizerSupport.entries(groups).flatMap { e -> [(String, Tensor)] in
            guard let s = states[ObjectIdentifier(e.param)] else { return [] }
            return [("\(e.key).exp_avg", s.m), ("\(e.key).exp_avg_sq", s.v)]
        }
    }

    public func stateScalars() -> [(String, Double)] {
        OptimizerSupport.entries(groups).compactMap { e in
            states[ObjectIdentifier(e.param)].map { ("\(e.key).step", Double($0.step)) }
        }
    }

    public func loadState(tensors: [String: Tensor], scalars: [String: Double]) throws {
        let entries = OptimizerSupport.entries(groups)
        let prefixes = Set(entries.map { $0.key })
        try OptimizerSupport.checkKeys(tensors.keys, prefixes: prefixes, fields: ["exp_avg", "exp_avg_sq"])
        try OptimizerSupport.checkKeys(scalars.keys, prefixes: prefixes, fields: ["step"])
        var loaded: [ObjectIdentifier: State] = [:]
        for e in entries {
            let m = tensors["\(e.key).exp_avg"], v = tensors["\(e.key).exp_avg_sq"], step = scalars["\(e.key).step"]
            if m == nil && v == nil && step == nil { continue }
            guard let m, let v, let step else { throw OptimizerStateError.incomplete(key: e.key) }
            for (name, t) in [("exp_avg", m), ("exp_avg_sq", v)] where t.shape != e.param.shape {
                throw OptimizerStateError.shapeMismatch(key: "\(e.key).\(name)", expected: e.param.shape, found: t.shape)
            }
            loaded[ObjectIdentifier(e.param)] = State(m: m.copy(), v: v.copy(), step: Int(step))
        }
        states = loaded
    }
}

/// Step scalars of one Adam update, formed in Double and rounded once (as PyTorch's Python floats).
struct AdamWHyper {
    let decay: Float, beta1: Float, beta2: Float, oneMinusBeta1: Float, oneMinusBeta2: Float
    let negStepSize: Float, bc2Sqrt: Float, eps: Float
    /// Bias corrections 1 − β1ᵗ and √(1 − β2ᵗ) in Double, for variants that combine them differently.
    let bc1: Double, bc2SqrtD: Double, lr: Double

    init(lr: Double, weightDecay: Double, betas: (Double, Double), eps: Double, step: Int) {
        let (b1, b2) = betas
        bc1 = 1 - pow(b1, Double(step))
        bc2SqrtD = (1 - pow(b2, Double(step))).squareRoot()
        self.lr = lr
        decay = Float(1 - lr * weightDecay)
        beta1 = Float(b1); beta2 = Float(b2)
        oneMinusBeta1 = Float(1 - b1); oneMinusBeta2 = Float(1 - b2)
        negStepSize = Float(-(lr / bc1))
        bc2Sqrt = Float(bc2SqrtD)
        self.eps = Float(eps)
    }
}
