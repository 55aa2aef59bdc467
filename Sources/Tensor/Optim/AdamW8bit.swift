import Foundation

/// AdamW with blockwise 8-bit moments, as bitsandbytes' `AdamW8bit` (CUDA kernel
/// `kOptimizerStatic8bit2StateBlockwise`, bitsandbytes-foundation/bitsandbytes csrc/kernels.cu).
///
/// A parameter with at least `minQuantizedSize` (4096) elements keeps m and v as one byte each:
/// its flattened values are cut into blocks of 256; each block stores codes into
/// `QuantizationMap.signed` (m) / `.unsigned` (v) plus one fp32 absmax per state. One step, per block:
/// 1. dequantise `m = map_s[c1]·absmax1`, `v = map_u[c2]·absmax2` (absmax 0 ⇒ zero state);
/// 2. an element whose gradient is NaN/Inf gets m = v = 0 and its parameter is left untouched;
/// 3. `m ← fma(1−β1, g, β1·m)`, `v ← fma((1−β2)·g, g, β2·v)` (PyTorch's fused rounding, bit exact);
/// 4. `p ← p + s·m/(√v + ε·c2)` with c1 = 1−β1ᵗ, c2 = √(1−β2ᵗ), s = −lr·c2/c1;
///    then decoupled decay `p ← p·(1 − lr·λ)` — *after* the update, as the CUDA kernel does
///    (bitsandbytes' PyTorch/CPU/Triton paths decay before; the difference is O(lr²·λ));
/// 5. new absmax = max |m|, max |v| over the block, computed after the update;
/// 6. codes from `QuantizationMap.code(for:)` on m/absmax1 and v/absmax2 (true division where the
///    kernel uses `__fdividef`), and a first-moment code whose value has the wrong sign moves one
///    code toward the right sign. A block whose absmax is 0 stores the zero code.
/// Smaller parameters keep fp32 m and v and follow the same element rule (steps 2–4).
/// Scalars (c1, c2, s, 1 − lr·λ) are formed in Double and rounded to Float once.
///
/// State export: codes travel as Float tensors holding 0…255 (exact), shaped like the parameter,
/// under `<key>.state1` / `.state2`, with `.absmax1` / `.absmax2` ([blocks]) and `.step`; fp32 state
/// as `.exp_avg` / `.exp_avg_sq`. `stateBytes()` gives the codes as raw bytes (4× smaller).
public final class AdamW8bit: Optimizer {
    /// Elements per quantisation block.
    public static let blockSize = 256

    /// Per-parameter state: 8-bit codes and block absmax, or fp32 moments for small tensors.
    final class State {
        var step = 0
        var codes1: [UInt8] = [], codes2: [UInt8] = []
        var absmax1: [Float] = [], absmax2: [Float] = []
        var m: Tensor? = nil, v: Tensor? = nil
        var quantized: Bool { m == nil }
    }

    public let groups: [ParameterGroup]
    /// Exponential decay rates of the first and second moments (Double, like PyTorch's floats).
    public let betas: (Double, Double)
    /// Added to √v (scaled by √(1−β2ᵗ), which is equivalent to adding ε after bias correction).
    public let eps: Double
    /// Default decoupled weight decay for groups that do not set one.
    public let weightDecay: Float
    /// Parameters with fewer elements keep fp32 state (bitsandbytes' `min_8bit_size`).
    public let minQuantizedSize: Int
    /// The maps for m and v.
    public let signedMap = QuantizationMap.signed, unsignedMap = QuantizationMap.unsigned
    let compute: Compute
    var states: [ObjectIdentifier: State] = [:]

    /// Creates an optimizer over `groups` (a tensor may appear in only one group of one optimizer).
    public init(_ groups: [ParameterGroup], betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Float = 1e-2, minQuantizedSize: Int = 4096, compute: Compute = Compute()) {
        OptimizerSupport.checkUnique(groups)
        self.groups = groups
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.minQuantizedSize = minQuantizedSize
        self.compute = compute
    }

    /// Bytes of optimizer state currently held (codes, absmax values and fp32 moments).
    public var stateByteCount: Int {
        states.values.reduce(0) { sum, s in
            sum + s.codes1.count + s.codes2.count + 4 * (s.absmax1.count + s.absmax2.count)
                + 4 * ((s.m?.count ?? 0) + (s.v?.count ?? 0))
        }
    }

    public func step(lr: Float) {
        OptimizerSupport.forEachGradient(groups, lr: lr, defaultWeightDecay: weightDecay, optimizer: "AdamW8bit") { p, g, groupLR, wd in
            let s = state(for: p)
            s.step += 1
            let h = Hyper(lr: groupLR, weightDecay: wd, betas: betas, eps: eps, step: s.step)
            if s.quantized { updateQuantized(p, g, s, h) } else { updateFull(p, g, s, h) }
        }
    }

    func state(for p: Tensor) -> State {
        if let s = states[ObjectIdentifier(p)] { return s }
        let s = State()
        if p.count >= minQuantizedSize {
            let blocks = (p.count + Self.blockSize - 1) / Self.blockSize
            // Code 0 with absmax 0, as bitsandbytes initialises: every element dequantises to zero.
            s.codes1 = [UInt8](repeating: 0, count: p.count); s.codes2 = s.codes1
            s.absmax1 = [Float](repeating: 0, count: blocks); s.absmax2 = s.absmax1
        } else {
            s.m = Tensor(zeros: p.shape); s.v = Tensor(zeros: p.shape)
        }
        states[ObjectIdentifier(p)] = s
        return s
    }

    private func updateQuantized(_ p: Tensor, _ g: Tensor, _ s: State, _ h: Hyper) {
        let n = p.count, blocks = s.absmax1.count
        let pp = p.data, pg = g.data
        signedMap.values.withUnsafeBufferPointer { map1 in
        unsignedMap.values.withUnsafeBufferPointer { map2 in
        s.codes1.withUnsafeMutableBufferPointer { c1 in
        s.codes2.withUnsafeMutableBufferPointer { c2 in
        s.absmax1.withUnsafeMutableBufferPointer { a1 in
        s.absmax2.withUnsafeMutableBufferPointer { a2 in
            let k = BlockKernel(p: pp, g: pg, c1: c1.baseAddress!, c2: c2.baseAddress!, absmax1: a1.baseAddress!,
                                absmax2: a2.baseAddress!, map1: map1.baseAddress!, map2: map2.baseAddress!,
                                zero1: signedMap.zeroCode, zero2: unsignedMap.zeroCode, count: n, h: h)
            compute.parallelFor(blocks, grain: 16) { r in k.run(blocks: r) }
        }}}}}}
    }

    private func updateFull(_ p: Tensor, _ g: Tensor, _ s: State, _ h: Hyper) {
        let pp = p.data, pg = g.data, pm = s.m!.data, pv = s.v!.data
        compute.parallelFor(p.count, grain: 1 << 14) { r in
            for i in r {
                let (m, v, skip) = Self.moments(m: pm[i], v: pv[i], g: pg[i], h)
                pm[i] = m; pv[i] = v
                if !skip { pp[i] = Self.updatedParam(pp[i], m: m, v: v, h) }
            }
        }
    }

    /// Steps 2–3 for one element: new (m, v) and whether the parameter must be skipped.
    @inline(__always)
    static func moments(m: Float, v: Float, g: Float, _ h: Hyper) -> (Float, Float, Bool) {
        guard g.isFinite else { return (0, 0, true) }
        return ((m * h.beta1).addingProduct(h.oneMinusBeta1, g), (v * h.beta2).addingProduct(h.oneMinusBeta2 * g, g), false)
    }

    /// Step 4 for one element.
    @inline(__always)
    static func updatedParam(_ p: Float, m: Float, v: Float, _ h: Hyper) -> Float {
        let q = p + h.stepSize * (m / (v.squareRoot() + h.epsC2))
        return h.applyDecay ? q * h.decay : q
    }

    /// Step scalars, formed in Double and rounded once.
    struct Hyper {
        let beta1: Float, beta2: Float, oneMinusBeta1: Float, oneMinusBeta2: Float
        let stepSize: Float, epsC2: Float, decay: Float, applyDecay: Bool

        init(lr: Double, weightDecay: Double, betas: (Double, Double), eps: Double, step: Int) {
            let c1 = 1 - pow(betas.0, Double(step)), c2 = (1 - pow(betas.1, Double(step))).squareRoot()
            beta1 = Float(betas.0); beta2 = Float(betas.1)
            oneMinusBeta1 = Float(1 - betas.0); oneMinusBeta2 = Float(1 - betas.1)
            stepSize = Float(-lr * c2 / c1)
            epsC2 = Float(eps * c2)
            decay = Float(1 - lr * weightDecay)
            applyDecay = weightDecay > 0
        }
    }

    /// One thread's share of the blockwise update (raw pointers: blocks are disjoint, so threads never
    /// write the same element, code or absmax).
    struct BlockKernel: @unchecked Sendable {
        let p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
        let c1: UnsafeMutablePointer<UInt8>, c2: UnsafeMutablePointer<UInt8>
        let absmax1: UnsafeMutablePointer<Float>, absmax2: UnsafeMutablePointer<Float>
        let map1: UnsafePointer<Float>, map2: UnsafePointer<Float>
        let zero1: UInt8, zero2: UInt8
        let count: Int
        let h: Hyper

        func run(blocks: Range<Int>) {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * AdamW8bit.blockSize) { scratch in
                let ms = scratch.baseAddress!, vs = ms + AdamW8bit.blockSize
                for b in blocks {
                    let lo = b * AdamW8bit.blockSize, hi = min(count, lo + AdamW8bit.blockSize)
                    let old1 = absmax1[b], old2 = absmax2[b]
                    var max1: Float = 0, max2: Float = 0
                    for i in lo..<hi {
                        let (m, v, skip) = AdamW8bit.moments(m: map1[Int(c1[i])] * old1, v: map2[Int(c2[i])] * old2, g: g[i], h)
                        if !skip { p[i] = AdamW8bit.updatedParam(p[i], m: m, v: v, h) }
                        ms[i - lo] = m; vs[i - lo] = v
                        max1 = max(max1, abs(m)); max2 = max(max2, abs(v))
                    }
                    absmax1[b] = max1; absmax2[b] = max2
                    for i in lo..<hi {
                        let m = ms[i - lo]
                        var code = max1 > 0 ? QuantizationMap.quantize(m / max1, map1) : zero1
                        // The kernel's sign fix: a momentum must not flip sign through quantisation.
                        if map1[Int(code)].sign != m.sign { code = m > 0 ? code &+ 1 : code &- 1 }
                        c1[i] = code
                        c2[i] = max2 > 0 ? QuantizationMap.quantize(vs[i - lo] / max2, map2) : zero2
                    }
                }
            }
        }
    }

    public func stateTensors() -> [(String, Tensor)] {
        OptimizerSupport.entries(groups).flatMap { e -> [(String, Tensor)] in
            guard let s = states[ObjectIdentifier(e.param)] else { return [] }
            if let m = s.m, let v = s.v { return [("\(e.key).exp_avg", m), ("\(e.key).exp_avg_sq", v)] }
            func codes(_ c: [UInt8]) -> Tensor { Tensor(shape: e.param.shape, values: c.map { Float($0) }) }
            return [("\(e.key).state1", codes(s.codes1)), ("\(e.key).state2", codes(s.codes2)),
                    ("\(e.key).absmax1", Tensor(shape: [s.absmax1.count], values: s.absmax1)),
                    ("\(e.key).absmax2", Tensor(shape: [s.absmax2.count], values: s.absmax2))]
        }
    }

    /// The 8-bit codes as raw bytes, keyed like `stateTensors()` (`<key>.state1`, `<key>.state2`).
    /// Pass them back through `loadState(tensors:scalars:codes:)` instead of the Float code tensors.
    public func stateBytes() -> [(String, [UInt8])] {
        OptimizerSupport.entries(groups).flatMap { e -> [(String, [UInt8])] in
            guard let s = states[ObjectIdentifier(e.param)], s.quantized else { return [] }
            return [("\(e.key).state1", s.codes1), ("\(e.key).state2", s.codes2)]
        }
    }

    public func stateScalars() -> [(String, Double)] {
        OptimizerSupport.entries(groups).compactMap { e in
            states[ObjectIdentifier(e.param)].map { ("\(e.key).step", Double($0.step)) }
        }
    }

    public func loadState(tensors: [String: Tensor], scalars: [String: Double]) throws {
        try loadState(tensors: tensors, scalars: scalars, codes: [:])
    }

    /// `loadState` where `codes` may supply `<key>.state1` / `.state2` as bytes (see `stateBytes()`).
    public func loadState(tensors: [String: Tensor], scalars: [String: Double], codes: [String: [UInt8]]) throws {
        let entries = OptimizerSupport.entries(groups)
        let prefixes = Set(entries.map { $0.key })
        try OptimizerSupport.checkKeys(tensors.keys, prefixes: prefixes,
                                       fields: ["exp_avg", "exp_avg_sq", "state1", "state2", "absmax1", "absmax2"])
        try OptimizerSupport.checkKeys(codes.keys, prefixes: prefixes, fields: ["state1", "state2"])
        try OptimizerSupport.checkKeys(scalars.keys, prefixes: prefixes, fields: ["step"])
        var loaded: [ObjectIdentifier: State] = [:]
        for e in entries {
            guard let step = scalars["\(e.key).step"] else {
                if tensors.keys.contains(where: { $0.hasPrefix(e.key + ".") }) { throw OptimizerStateError.incomplete(key: e.key) }
                continue
            }
            let s = State()
            s.step = Int(step)
            func need(_ field: String, _ shape: [Int]) throws -> Tensor {
                guard let t = tensors["\(e.key).\(field)"] else { throw OptimizerStateError.incomplete(key: e.key) }
                guard t.shape == shape else {
                    throw OptimizerStateError.shapeMismatch(key: "\(e.key).\(field)", expected: shape, found: t.shape)
                }
                return t
            }
            func codeBytes(_ field: String) throws -> [UInt8] {
                if let bytes = codes["\(e.key).\(field)"] {
                    guard bytes.count == e.param.count else {
                        throw OptimizerStateError.shapeMismatch(key: "\(e.key).\(field)", expected: [e.param.count], found: [bytes.count])
                    }
                    return bytes
                }
                return try need(field, e.param.shape).scalars.map { v in
                    guard v >= 0, v <= 255, v == v.rounded() else { throw OptimizerStateError.invalidCode(key: "\(e.key).\(field)", value: v) }
                    return UInt8(v)
                }
            }
            if e.param.count >= minQuantizedSize {
                let blocks = (e.param.count + Self.blockSize - 1) / Self.blockSize
                s.codes1 = try codeBytes("state1"); s.codes2 = try codeBytes("state2")
                s.absmax1 = try need("absmax1", [blocks]).scalars; s.absmax2 = try need("absmax2", [blocks]).scalars
            } else {
                s.m = try need("exp_avg", e.param.shape).copy(); s.v = try need("exp_avg_sq", e.param.shape).copy()
            }
            loaded[ObjectIdentifier(e.param)] = s
        }
        states = loaded
    }
}
