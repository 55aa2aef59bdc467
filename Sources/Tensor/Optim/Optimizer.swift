/// A first-order optimizer over `ParameterGroup`s.
///
/// `step(lr:)` updates every parameter of every trainable group that has a gradient (parameters
/// without `grad` are skipped and their step count does not advance, as in PyTorch). State is created
/// lazily on a parameter's first update.
///
/// State export for resumable checkpoints: `stateTensors()` and `stateScalars()` list everything
/// under keys `<group.name>.<index>.<field>`; `loadState` restores it exactly (bit for bit), checking
/// that every key belongs to a known parameter and that shapes agree. 8-bit codes are exported as a
/// Float tensor holding the integers 0…255 (exact in fp32); see `AdamW8bit` for a compact byte view.
public protocol Optimizer: AnyObject {
    /// The groups this optimizer updates (frozen ones are skipped).
    var groups: [ParameterGroup] { get }
    /// Applies one update with base learning rate `lr` (scaled per group by `lrScale`).
    func step(lr: Float)
    /// Clears the gradients of every parameter in every group.
    func zeroGrad()
    /// Every state tensor, keyed `<group>.<index>.<field>`, in a deterministic order.
    func stateTensors() -> [(String, Tensor)]
    /// Every state scalar (step counts), keyed `<group>.<index>.<field>`, in a deterministic order.
    func stateScalars() -> [(String, Double)]
    /// Replaces the state with an exported one. Parameters absent from the export get fresh state.
    func loadState(tensors: [String: Tensor], scalars: [String: Double]) throws
}

extension Optimizer {
    /// Clears the gradients of every parameter in every group.
    public func zeroGrad() {
        for g in groups { for p in g.params { p.grad = nil } }
    }
}

/// Why an optimizer state could not be loaded.
public enum OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// A key names no parameter of this optimizer, or a field this optimizer does not use.
    case unknownKey(String)
    /// A stored tensor's shape differs from what the parameter needs.
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    /// A parameter has part of its state but not all of it.
    case incomplete(key: String)
    /// An 8-bit code tensor holds something other than an integer 0…255.
    case invalidCode(key: String, value: Float)

    public var description: String {
        switch self {
        case .unknownKey(let k): "optimizer state: unknown key \(k)"
        case .shapeMismatch(let k, let e, let f): "optimizer state: \(k) has shape \(f), expected \(e)"
        case .incomplete(let k): "optimizer state: \(k) is missing part of its state"
        case .invalidCode(let k, let v): "optimizer state: \(k) holds \(v), not an 8-bit code"
        }
    }
}

/// Shared bookkeeping: stable per-parameter keys and the duplicate check.
enum OptimizerSupport {
    /// Calls `body(parameter, gradient, learning rate, weight decay)` for every parameter with a gradient in the
    /// trainable groups (group lr scale and weight-decay override applied) — the walk every optimizer's step shares.
    static func forEachGradient(_ groups: [ParameterGroup], lr: Float, defaultWeightDecay: Float, optimizer: String,
                                _ body: (Tensor, Tensor, Double, Double) -> Void) {
        for group in groups where group.trainable {
            let groupLR = Double(lr) * Double(group.lrScale)
            let wd = Double(group.weightDecay ?? defaultWeightDecay)
            for p in group.params {
                guard let g = p.grad else { continue }   // no gradient: skipped, step count unchanged (as torch)
                precondition(g.shape == p.shape, "\(optimizer): grad \(g.shape) for parameter \(p.shape)")
                body(p, g, groupLR, wd)
            }
        }
    }

    /// `(key prefix, group, parameter)` for every parameter, in group then index order.
    static func entries(_ groups: [ParameterGroup]) -> [(key: String, group: ParameterGroup, param: Tensor)] {
        var out: [(String, ParameterGroup, Tensor)] = []
        for g in groups { for (i, p) in g.params.enumerated() { out.append(("\(g.name).\(i)", g, p)) } }
        return out
    }

    /// Traps when a tensor or a group name appears twice: two moment estimates for one tensor would
    /// apply its update twice, and duplicate names would make state keys ambiguous.
    static func checkUnique(_ groups: [ParameterGroup]) {
        var seen = Set<ObjectIdentifier>(), names = Set<String>()
        for g in groups {
            precondition(names.insert(g.name).inserted, "optimizer: duplicate group name \(g.name)")
            for p in g.params {
                precondition(seen.insert(ObjectIdentifier(p)).inserted,
                             "optimizer: tensor \(p.name ?? "\(p.shape)") listed twice (group \(g.name))")
            }
        }
    }

    /// Checks that every key in an export starts with a known parameter prefix and a known field.
    static func checkKeys<S: Sequence>(_ keys: S, prefixes: Set<String>, fields: Set<String>) throws where S.Element == String {
        for k in keys {
            guard let dot = k.lastIndex(of: "."),
                  prefixes.contains(String(k[..<dot])), fields.contains(String(k[k.index(after: dot)...])) else {
                throw OptimizerStateError.unknownKey(k)
            }
        }
    }
}
