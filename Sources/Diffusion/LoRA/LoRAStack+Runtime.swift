import Tensor

/// The adapters a `LoRAStack` placed on a model's layers in runtime mode.
final class RuntimeBinding {
    struct Placed {
        let layer: AdaptableLayer
        let adapter: LowRankAdapter
        let alphaScale: Float
    }

    /// Qualified weight name → layer.
    let layers: [String: AdaptableLayer]
    /// Entry id → its adapters, in module order.
    var placed: [Int: [Placed]] = [:]
    /// Entries added while attached whose modules did not fit the layers (id → error), applying nothing.
    var failures: [Int: String] = [:]

    init(layers: [String: AdaptableLayer]) { self.layers = layers }

    /// Builds and attaches one adapter per module of `entry`; all or nothing.
    func attach(_ entry: LoRAStack.Entry) throws {
        var made: [Placed] = []
        for m in entry.network.modules {
            guard let layer = layers[m.target] else { throw LoRAError.missingParameter(m.target) }
            let w = layer.weight.shape
            let r = m.rank, out = w[0], k = w.dropFirst().reduce(1, *)
            guard m.up.count == out * r, m.down.count == r * k else {
                throw LoRAError.shapeMismatch(name: m.target, expected: [m.up.count / max(r, 1), m.down.count / max(r, 1)], found: w)
            }
            // Views of the module's tensors (no copy); a packed q|k|v module's three adapters share `down`.
            let down = m.down.viewing(as: [r] + w.dropFirst())
            let up = m.up.viewing(as: w.count == 4 ? [out, r, 1, 1] : [out, r])
            let adapter = LowRankAdapter(down: down, up: up, scale: entry.effectiveStrength * m.alphaScale, name: entry.network.name)
            made.append(Placed(layer: layer, adapter: adapter, alphaScale: m.alphaScale))
        }
        for p in made { p.layer.adapters.append(p.adapter) }
        placed[entry.id] = made
    }

    /// Recomputes the scales of `entry`'s adapters from its strength and switch.
    func update(_ entry: LoRAStack.Entry) {
        for p in placed[entry.id] ?? [] { p.adapter.scale = entry.effectiveStrength * p.alphaScale }
    }

    /// Takes `id`'s adapters off their layers.
    func detach(_ id: Int) {
        for p in placed[id] ?? [] { p.layer.adapters.removeAll { $0 === p.adapter } }
        placed[id] = nil
        failures[id] = nil
    }
}

extension LoRAStack {
    /// Runtime mode: attaches every entry (and every entry added later) as unmerged `LowRankAdapter`s on `layers`
    /// (qualified weight name → layer, see `layers(unet:textEncoder:textEncoder2:)`). From then on strength,
    /// on/off, add and remove act immediately on adapter scales; the weights are never written. Returns the number
    /// of adapters attached. Throws when deltas are merged (call `restore` first), when already attached, or when a
    /// module has no layer of its shape (nothing is attached then).
    @discardableResult
    public func attach(to layers: [String: AdaptableLayer]) throws -> Int {
        guard runtime == nil else { throw LoRAError.modeConflict("the stack is already attached") }
        guard trackedWeightCount == 0 else {
            throw LoRAError.modeConflict("attach(to:) while deltas are merged into \(trackedWeightCount) weights (restore first)")
        }
        let binding = RuntimeBinding(layers: layers)
        do {
            for e in entries { try binding.attach(e) }
        } catch {
            for id in Array(binding.placed.keys) { binding.detach(id) }
            throw error
        }
        runtime = binding
        return binding.placed.values.reduce(0) { $0 + $1.count }
    }

    /// Leaves runtime mode: removes this stack's adapters from the layers (entries and strengths are kept, so a
    /// later `attach` or `apply` picks them up again).
    public func detach() {
        guard let runtime else { return }
        for id in Array(runtime.placed.keys) { runtime.detach(id) }
        self.runtime = nil
    }

    /// Whether the stack is in runtime mode.
    public var isAttached: Bool { runtime != nil }

    /// Runtime adapters currently attached (0 when merged or detached).
    public var attachedAdapterCount: Int { runtime?.placed.values.reduce(0) { $0 + $1.count } ?? 0 }

    /// Entries that could not be attached when added in runtime mode (id → reason); they apply nothing.
    public var attachFailures: [Int: String] { runtime?.failures ?? [:] }

    /// Qualified layer dictionary of the SDXL components (`unet.…`, `text_encoder.…`, `text_encoder_2.…`): the
    /// runtime counterpart of `parameters(unet:textEncoder:textEncoder2:)`.
    public static func layers(unet: Module? = nil, textEncoder: Module? = nil, textEncoder2: Module? = nil) -> [String: AdaptableLayer] {
        var l: [String: AdaptableLayer] = [:]
        for (component, module) in [(LoRAComponent.unet, unet), (.textEncoder, textEncoder), (.textEncoder2, textEncoder2)] {
            for (name, layer) in module?.adaptableLayers() ?? [:] { l[component.qualified(name)] = layer }
        }
        return l
    }
}
