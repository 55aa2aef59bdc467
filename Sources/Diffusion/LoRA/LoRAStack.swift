import Dispatch
import Tensor

/// Errors of `LoRAStack.apply(to:)`.
public enum LoRAError: Error, CustomStringConvertible, Equatable {
    /// A LoRA adapts a weight the parameter dictionary does not have.
    case missingParameter(String)
    /// The parameter's shape differs from the one the LoRA was parsed against.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// The base-weight provider returned nothing (or a wrong shape) for a weight.
    case missingBase(String)
    /// Merging and runtime adapters were mixed: `apply` while attached, or `attach` while deltas are merged.
    case modeConflict(String)

    /// One-line description naming the weight.
    public var description: String {
        switch self {
        case .missingParameter(let n): return "LoRA: the model has no parameter '\(n)'"
        case let .shapeMismatch(n, e, f): return "LoRA: parameter '\(n)' has shape \(f), expected \(e)"
        case .missingBase(let n): return "LoRA: no base weight for '\(n)'"
        case .modeConflict(let why): return "LoRA: \(why)"
        }
    }
}

/// Any number of LoRAs applied to a model, each with its own strength and on/off switch, in one of two modes:
///
/// - **Runtime** (`attach(to:)`, see LoRAStack+Runtime.swift): every LoRA module becomes a `LowRankAdapter` on its
///   layer, so `setStrength` / `setEnabled` / `add` / `remove` take effect immediately by changing adapter scales
///   (microseconds; strength 0 skips the adapter, giving exactly the base output). Each forward pays two skinny
///   GEMMs per adapted layer. For a UI where strengths move.
/// - **Merged** (`apply(to:)`): deltas are written into the weights; no per-forward cost, but a strength change
///   costs a GEMM per adapted weight. For one-shot runs (`sumi generate`) and maximum speed.
///
/// Merged-mode design (exact restore, incremental updates):
/// - The first time a weight is touched its pristine value is kept: a copy of just that weight (only weights some
///   LoRA adapts are copied), or nothing when a `baseProvider` can re-read it (e.g. from the mmapped checkpoint).
/// - `apply(to:)` visits only weights adapted by a LoRA whose effective strength changed (or that was added or
///   removed) and adds only the difference: W += (s_new − s_old) · alphaScale · (up · down), one fp32 GEMM with
///   β = 1 per module (no reload, no full recompute).
/// - When every LoRA on a weight ends at strength 0 (or off, or removed) the weight is set back to the pristine
///   value bit-exactly (a copy, not a subtraction).
/// - fp32 rounding of repeated increments drifts by ~1 ulp per change, so after `refreshInterval` incremental
///   changes a weight is recomputed as W = base + Σ sᵢ·ΔWᵢ (also what `exact: true` does every time).
/// The stack binds to the parameter tensors it first modifies: pass the same dictionary to every call, and
/// `restore(_:)` before handing the weights to anything that expects the base model.
///
/// Cost: a strength change is one rank-r GEMM per adapted weight, 2·r·(adapted weight elements) flops. For DMD2
/// (788 SDXL UNet weights, 2.56 G elements, rank 64) that is 327 GFLOP: ≈ 4.2 CPU-seconds with OpenBLAS here,
/// so ≈ 2 s on 2 idle cores; a restore to base is a 10 GB copy (≈ 1 s). `apply` is explicit so a UI can coalesce
/// strength edits and merge once before generating; instant strength changes need an unmerged (runtime) adapter.
/// Pristine copies cost 4 bytes per adapted weight element (10 GB for DMD2 on SDXL): pass a `baseProvider`
/// (re-reading the checkpoint) to avoid them.
public final class LoRAStack {
    /// One LoRA in the stack.
    public struct Entry: @unchecked Sendable {
        /// Stable identifier (returned by `add`).
        public let id: Int
        /// The parsed adapter.
        public let network: LoRANetwork
        /// User strength (multiplies alpha / rank).
        public var strength: Float
        /// Off = strength 0 without forgetting the strength.
        public var isEnabled: Bool
        /// The strength actually applied.
        public var effectiveStrength: Float { isEnabled ? strength : 0 }
    }

    /// What one `apply` did.
    public struct Report: Sendable, Equatable {
        /// Weights written.
        public var weightsUpdated = 0
        /// Weights set back to their pristine value (all LoRAs at 0 / off / removed).
        public var restoredExactly = 0
        /// Weights recomputed from the pristine value (first refresh after `refreshInterval`, or `exact`).
        public var recomputed = 0
        /// Weights changed by difference GEMMs only.
        public var incremental = 0
        /// GEMMs run.
        public var gemms = 0
        /// Wall time of the call.
        public var seconds = 0.0
    }

    /// Returns the pristine value of a qualified weight name (called when a weight is first touched and when it
    /// is restored or recomputed), instead of keeping a copy in memory.
    public typealias BaseProvider = (String) throws -> Tensor?

    /// The LoRAs, in the order added.
    public private(set) var entries: [Entry] = []
    /// Incremental changes a weight may take before it is recomputed from its pristine value.
    public var refreshInterval: Int
    private let baseProvider: BaseProvider?
    private var nextID = 0
    /// Effective strength of each entry (by id) as last merged into the weights.
    private var applied: [Int: Float] = [:]
    /// Removed entries whose deltas are still in the weights (until the next `apply`).
    private var removed: [Entry] = []
    private var states: [String: WeightState] = [:]
    /// The layers and adapters of runtime mode (nil when not attached).
    var runtime: RuntimeBinding?

    private final class WeightState {
        /// Pristine copy (nil when a provider supplies it).
        let base: Tensor?
        /// Entry id → effective strength merged into this weight.
        var strengths: [Int: Float] = [:]
        var incrementalChanges = 0
        init(base: Tensor?) { self.base = base }
    }

    /// An empty stack. `baseProvider` (optional) re-reads pristine weights instead of keeping copies.
    public init(refreshInterval: Int = 8, baseProvider: BaseProvider? = nil) {
        self.refreshInterval = refreshInterval
        self.baseProvider = baseProvider
    }

    /// Adds a LoRA (merged at the next `apply`); returns its id.
    @discardableResult
    public func add(_ network: LoRANetwork, strength: Float = 1, enabled: Bool = true) -> Int {
        let id = nextID
        nextID += 1
        entries.append(Entry(id: id, network: network, strength: strength, isEnabled: enabled))
        if let runtime {
            do { try runtime.attach(entries[entries.count - 1]) } catch {
                // The network was parsed against other weights: keep the entry (it can be removed) but apply nothing.
                runtime.failures[id] = "\(error)"
            }
        }
        return id
    }

    /// Removes a LoRA (its deltas leave the weights at the next `apply`).
    public func remove(_ id: Int) {
        guard let i = entries.firstIndex(where: { $0.id == id }) else { return }
        if let runtime {
            runtime.detach(id)
            entries.remove(at: i)
            return
        }
        removed.append(entries.remove(at: i))
    }

    /// Sets a LoRA's strength (applied at the next `apply`).
    public func setStrength(_ strength: Float, for id: Int) {
        if let i = entries.firstIndex(where: { $0.id == id }) {
            entries[i].strength = strength
            runtime?.update(entries[i])
        }
    }

    /// Switches a LoRA on or off (applied at the next `apply`).
    public func setEnabled(_ enabled: Bool, for id: Int) {
        if let i = entries.firstIndex(where: { $0.id == id }) {
            entries[i].isEnabled = enabled
            runtime?.update(entries[i])
        }
    }

    /// The entry with `id`.
    public func entry(_ id: Int) -> Entry? { entries.first { $0.id == id } }

    /// Whether the weights lag behind the entries (an `apply` would change something).
    public var hasPendingChanges: Bool {
        guard runtime == nil else { return false }  // runtime scales change immediately
        return !removed.isEmpty || entries.contains { (applied[$0.id] ?? 0) != $0.effectiveStrength }
    }

    /// Weights currently holding a pristine copy or merged deltas.
    public var trackedWeightCount: Int { states.count }

    /// Bytes held by pristine copies.
    public var pristineBytes: Int { states.values.reduce(0) { $0 + ($1.base?.count ?? 0) * 4 } }

    /// Qualified parameter dictionary of the SDXL components (`unet.…`, `text_encoder.…`, `text_encoder_2.…`).
    public static func parameters(unet: Module? = nil, textEncoder: Module? = nil, textEncoder2: Module? = nil) -> [String: Tensor] {
        var p: [String: Tensor] = [:]
        for (component, module) in [(LoRAComponent.unet, unet), (.textEncoder, textEncoder), (.textEncoder2, textEncoder2)] {
            for (name, t) in module?.namedParameters ?? [] { p[component.qualified(name)] = t }
        }
        return p
    }

    /// Brings `parameters` (qualified names) up to date with the entries: see the type's documentation.
    /// `exact` recomputes every visited weight from its pristine value instead of adding differences.
    /// `compute` (optional) spreads pristine-value copies over its threads; GEMMs use BLAS's threads.
    @discardableResult
    public func apply(to parameters: [String: Tensor], exact: Bool = false, compute: Compute? = nil) throws -> Report {
        if runtime != nil { throw LoRAError.modeConflict("apply(to:) on a stack attached as runtime adapters (detach first)") }
        let start = DispatchTime.now().uptimeNanoseconds
        var report = Report()
        // Entry id → effective strength wanted now; removed entries want 0.
        var wanted: [Int: Float] = [:]
        for e in entries { wanted[e.id] = e.effectiveStrength }
        let changed = (entries + removed).filter { (applied[$0.id] ?? 0) != (wanted[$0.id] ?? 0) }
        let byID = Dictionary((entries + removed).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Modules per weight over the current entries (what a weight must hold).
        var current: [String: [(id: Int, module: LoRAModule)]] = [:]
        for e in entries { for m in e.network.modules { current[m.target, default: []].append((e.id, m)) } }
        var dirty = Set<String>()
        for e in changed { for m in e.network.modules { dirty.insert(m.target) } }
        if exact { dirty.formUnion(states.keys) }

        for name in dirty.sorted() {
            guard let w = parameters[name] else { throw LoRAError.missingParameter(name) }
            let mods = current[name] ?? []
            var want: [Int: Float] = [:]
            for (id, _) in mods where (wanted[id] ?? 0) != 0 { want[id] = wanted[id] }
            if let expected = (mods.first?.module).map(Self.weightShapeCount), expected != w.count {
                throw LoRAError.shapeMismatch(name: name, expected: [mods[0].module.up.shape[0], expected / mods[0].module.up.shape[0]], found: w.shape)
            }
            var state = states[name]
            if state == nil {
                if want.isEmpty { continue }  // never touched and nothing to add
                let s = WeightState(base: baseProvider == nil ? w.copy() : nil)
                states[name] = s
                state = s
            }
            let st = state!
            report.weightsUpdated += 1
            if want.isEmpty {
                try restoreBase(name, st, into: w, compute)
                report.restoredExactly += 1
                if mods.isEmpty { states[name] = nil }  // no LoRA adapts it any more: drop the copy
                else { st.strengths = [:]; st.incrementalChanges = 0 }
                continue
            }
            let diffs = Set(st.strengths.keys).union(want.keys).filter { (st.strengths[$0] ?? 0) != (want[$0] ?? 0) }
            if exact || st.incrementalChanges + 1 > refreshInterval {
                try restoreBase(name, st, into: w, compute)
                for (id, m) in mods { if let s = want[id] { report.gemms += Self.addDelta(m, scale: s * m.alphaScale, into: w) } }
                st.incrementalChanges = 0
                report.recomputed += 1
            } else {
                for id in diffs.sorted() {
                    let d = (want[id] ?? 0) - (st.strengths[id] ?? 0)
                    // Removed entries are no longer in `current`: their modules come from the entry itself.
                    let ms = mods.filter { $0.id == id }.map(\.module)
                        + (mods.contains { $0.id == id } ? [] : (byID[id]?.network.modules.filter { $0.target == name } ?? []))
                    for m in ms { report.gemms += Self.addDelta(m, scale: d * m.alphaScale, into: w) }
                }
                st.incrementalChanges += 1
                report.incremental += 1
            }
            st.strengths = want
        }
        for e in entries { applied[e.id] = e.effectiveStrength }
        for e in removed { applied[e.id] = nil }
        removed = []
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return report
    }

    /// Writes every tracked weight's pristine value back into `parameters` and forgets all merged state
    /// (entries stay; the next `apply` merges them again from scratch).
    public func restore(_ parameters: [String: Tensor], compute: Compute? = nil) throws {
        for (name, st) in states.sorted(by: { $0.key < $1.key }) {
            guard let w = parameters[name] else { throw LoRAError.missingParameter(name) }
            try restoreBase(name, st, into: w, compute)
        }
        states = [:]
        applied = [:]
        removed = []
    }

    private func restoreBase(_ name: String, _ st: WeightState, into w: Tensor, _ compute: Compute?) throws {
        let b: Tensor
        if let copy = st.base {
            b = copy
        } else {
            guard let provided = try baseProvider?(name), provided.count == w.count else { throw LoRAError.missingBase(name) }
            b = provided
        }
        let src = b.data, dst = w.data
        withExtendedLifetime((b, w)) {
            guard let compute else { dst.update(from: src, count: w.count); return }
            compute.parallelFor(w.count, grain: 1 << 18) { r in (dst + r.lowerBound).update(from: src + r.lowerBound, count: r.count) }
        }
    }

    private static func weightShapeCount(_ m: LoRAModule) -> Int { m.up.shape[0] * m.down.shape[1] }

    /// W += scale · (up · down) as one fp32 GEMM with β = 1 (W viewed as [out, K]); returns the GEMM count.
    @discardableResult
    public static func addDelta(_ m: LoRAModule, scale: Float, into w: Tensor) -> Int {
        let o = m.up.shape[0], r = m.rank, k = m.down.shape[1]
        precondition(o * k == w.count, "LoRA delta [\(o), \(k)] does not fit weight \(w.shape)")
        guard scale != 0 else { return 0 }
        withExtendedLifetime((m.up, m.down, w)) {
            BLAS.gemm(m: o, n: k, k: r, alpha: scale, a: m.up.data, b: m.down.data, beta: 1, c: w.data)
        }
        return 1
    }
}
