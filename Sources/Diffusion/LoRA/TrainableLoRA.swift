import Checkpoint
import Foundation
import Tensor

/// A LoRA being trained: one `LowRankAdapter` (down and up with `requiresGrad`) on every layer of a model whose
/// module path matches a target pattern, attached to the layers so the model's ordinary forward trains it.
///
/// - Init as PEFT does: down ~ U(−1/√fan_in, 1/√fan_in) (kaiming-uniform with a = √5; fan_in = in·k·k), drawn
///   from a seeded `TorchGenerator` layer by layer in name order; up = 0, so a fresh LoRA leaves the model's output
///   unchanged. Scale = strength × alpha / rank (strength 1 by default; `setScale(0)` turns the LoRA off, e.g. for
///   a teacher forward on the shared base weights).
/// - Parameter names are the kohya names of the exported file (`lora_unet_<LDM path with _>.lora_down.weight`,
///   `.lora_up.weight`; text encoders `lora_te1_` / `lora_te2_` + the HF path with `_`), stable across runs, so
///   optimizer state can be keyed by them.
/// - `exportKohya` writes what kohya sd-scripts writes for SDXL: those keys plus a scalar `.alpha` per module and
///   `ss_network_dim` / `ss_network_alpha` metadata; ComfyUI, A1111, diffusers' `load_lora_weights` and our
///   `LoRANetwork` read it.
/// Sources: huggingface/peft src/peft/tuners/lora/layer.py `reset_lora_parameters`; kohya-ss/sd-scripts
/// networks/lora.py (`LoRAModule`, names `lora_unet_…`, `ss_network_*`); tianweiy/DMD2 sd_unified_model.py (targets).
public final class TrainableLoRA {
    /// One adapted layer.
    public struct Target {
        /// Canonical weight name within the model (`down_blocks.1.…attn1.to_q.weight`).
        public let weightName: String
        /// Kohya module name (`lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q`).
        public let kohyaName: String
        /// The adapted layer.
        public let layer: AdaptableLayer
        /// Its trainable adapter.
        public let adapter: LowRankAdapter
    }

    /// DMD2's generator LoRA targets (module-path suffixes; docs/dmd2-training-spec.md §1.9).
    public static let dmd2Targets = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2",
                                     "conv1", "conv2", "conv_shortcut", "time_emb_proj", "downsamplers.0.conv",
                                     "upsamplers.0.conv"]
    /// kohya's text-encoder targets (CLIPAttention and CLIPMLP linears).
    public static let textEncoderTargets = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]

    /// The model the LoRA adapts.
    public let component: LoRAComponent
    /// Rank r.
    public let rank: Int
    /// Alpha (scale = strength × alpha / rank).
    public let alpha: Float
    /// Current strength (1 = as trained).
    public private(set) var strength: Float = 1
    /// The adapted layers, sorted by weight name.
    public let targets: [Target]
    /// Whether the adapters are on their layers.
    public private(set) var isAttached = true

    /// Adapts every Linear / Conv2d layer of `model` whose module path (weight name without `.weight`) equals or
    /// ends with `.`+ a pattern of `targets`, with rank `rank` and `alpha`, initialised from `seed`; the adapters
    /// are attached at once. `component` selects the kohya prefix (`lora_unet_`, `lora_te1_`, `lora_te2_`); UNet
    /// names use LDM paths when `model` is a `UNet` (what kohya writes for SDXL), else its own paths.
    public init(model: Module, component: LoRAComponent = .unet, rank: Int, alpha: Float,
                targets patterns: [String] = TrainableLoRA.dmd2Targets, seed: UInt64, name: String = "train") {
        precondition(rank > 0, "TrainableLoRA: rank \(rank) must be positive")
        self.component = component
        self.rank = rank
        self.alpha = alpha
        let unetConfig = (model as? UNet)?.config
        var g = TorchGenerator(seed: seed)
        var made: [Target] = []
        for (weightName, layer) in model.adaptableLayers().sorted(by: { $0.key < $1.key }) {
            let path = String(weightName.dropLast(".weight".count))
            guard weightName.hasSuffix(".weight"), patterns.contains(where: { path == $0 || path.hasSuffix("." + $0) }) else { continue }
            let w = layer.weight.shape
            let fanIn = w.dropFirst().reduce(1, *)
            let down = Tensor(uninitialized: [rank] + w.dropFirst())
            let bound = 1 / Float(fanIn).squareRoot()
            for i in 0..<down.count {
                let u = Float(g.nextUInt32() & 0xFF_FFFF) * (1 / Float(1 << 24))
                down.data[i] = (2 * u - 1) * bound
            }
            let up = Tensor(zeros: w.count == 4 ? [w[0], rank, 1, 1] : [w[0], rank])
            down.requiresGrad = true
            up.requiresGrad = true
            let adapter = LowRankAdapter(down: down, up: up, scale: alpha / Float(rank), name: name)
            layer.adapters.append(adapter)
            made.append(Target(weightName: weightName, kohyaName: Self.kohyaName(weightName, component, unetConfig),
                               layer: layer, adapter: adapter))
        }
        precondition(!made.isEmpty, "TrainableLoRA: no layer of the model matches \(patterns)")
        self.targets = made
    }

    /// Builds the LoRA described by a file `exportKohya` wrote (rank and alpha from it) and loads its values:
    /// resuming training or running a trained LoRA unmerged.
    public convenience init(model: Module, component: LoRAComponent = .unet, loading path: String,
                            targets patterns: [String] = TrainableLoRA.dmd2Targets, name: String = "train") throws {
        let file = try SafeTensorsFile(path: path)
        guard let downKey = file.names.first(where: { $0.hasSuffix(".lora_down.weight") }), let rank = file.info(downKey)?.shape.first,
              rank > 0 else {
            throw CheckpointError.malformed(file: path, reason: "no lora_down tensors")
        }
        let alphaKey = String(downKey.dropLast(".lora_down.weight".count)) + ".alpha"
        let alpha = file.info(alphaKey) != nil ? try file.tensor(alphaKey).scalars[0] : Float(rank)
        self.init(model: model, component: component, rank: rank, alpha: alpha, targets: patterns, seed: 0, name: name)
        try load(from: file)
    }

    /// The kohya module name of a weight (`prefix` + path with `.` → `_`).
    static func kohyaName(_ weightName: String, _ component: LoRAComponent, _ unetConfig: UNetConfig?) -> String {
        let prefix: String
        var name = weightName
        switch component {
        case .unet:
            prefix = "lora_unet_"
            if let config = unetConfig, let ldm = UNet.ldmName(weightName, config: config) { name = ldm }
        case .textEncoder: prefix = "lora_te1_"
        case .textEncoder2: prefix = "lora_te2_"
        }
        return prefix + String(name.dropLast(".weight".count)).replacingOccurrences(of: ".", with: "_")
    }

    /// The adapters.
    public var adapters: [LowRankAdapter] { targets.map(\.adapter) }

    /// The trainable tensors with stable kohya names (`<module>.lora_down.weight`, `<module>.lora_up.weight`).
    public var parameters: [(String, Tensor)] {
        targets.flatMap { [($0.kohyaName + ".lora_down.weight", $0.adapter.down), ($0.kohyaName + ".lora_up.weight", $0.adapter.up)] }
    }

    /// Number of trainable values.
    public var parameterCount: Int { targets.reduce(0) { $0 + $1.adapter.down.count + $1.adapter.up.count } }

    /// Sets every adapter's scale to `strength` × alpha / rank (0 = off: the model computes exactly its base output).
    public func setScale(_ strength: Float) {
        self.strength = strength
        for t in targets { t.adapter.scale = strength * alpha / Float(rank) }
    }

    /// Takes the adapters off their layers (the tensors are kept; `attach()` puts them back).
    public func detach() {
        guard isAttached else { return }
        for t in targets { t.layer.adapters.removeAll { $0 === t.adapter } }
        isAttached = false
    }

    /// Puts the adapters back on their layers after `detach()`.
    public func attach() {
        guard !isAttached else { return }
        for t in targets { t.layer.adapters.append(t.adapter) }
        isAttached = true
    }

    /// A snapshot as a `LoRANetwork` (copied factors, qualified targets), e.g. to merge into weights with a
    /// `LoRAStack` for the fastest inference.
    public func network(name: String = "train") -> LoRANetwork {
        LoRANetwork(name: name, modules: targets.map { t in
            let d = t.adapter.down.copy(), u = t.adapter.up.copy()
            return LoRAModule(target: component.qualified(t.weightName), up: u.viewing(as: [u.dim(0), rank]),
                              down: d.viewing(as: [rank, d.count / rank]), alphaScale: alpha / Float(rank),
                              sourceModule: t.kohyaName)
        })
    }

    /// Writes the LoRA as a kohya file (atomically): `<module>.lora_down.weight`, `.lora_up.weight` and a scalar
    /// `.alpha` per module, stored as `dtype`, with `ss_network_module` / `ss_network_dim` / `ss_network_alpha` (and
    /// `ss_network_args` conv_dim / conv_alpha when convs are adapted) plus `metadata` (which wins on conflicts).
    public func exportKohya(path: String, metadata: [String: String] = [:], dtype: DType = .f32) throws {
        var entries: [(name: String, tensor: Tensor)] = []
        for t in targets {
            entries.append((t.kohyaName + ".lora_down.weight", t.adapter.down))
            entries.append((t.kohyaName + ".lora_up.weight", t.adapter.up))
            entries.append((t.kohyaName + ".alpha", Tensor(shape: [], values: [alpha])))
        }
        var meta = ["ss_network_module": "networks.lora", "ss_network_dim": "\(rank)", "ss_network_alpha": "\(alpha)"]
        if targets.contains(where: { $0.adapter.down.rank == 4 && $0.adapter.down.dim(2) > 1 }) {
            meta["ss_network_args"] = #"{"conv_dim": "\#(rank)", "conv_alpha": "\#(alpha)"}"#
        }
        meta.merge(metadata) { _, user in user }
        try SafeTensorsWriter.write(entries, dtype: dtype, metadata: meta, to: path)
    }

    /// Loads down / up values from a kohya file with exactly this LoRA's modules (strict: a missing, mis-shaped or
    /// unexpected tensor, or another alpha, throws naming the file and key).
    public func load(from file: SafeTensorsFile) throws {
        var used = Set<String>()
        for t in targets {
            for (key, p) in [(t.kohyaName + ".lora_down.weight", t.adapter.down), (t.kohyaName + ".lora_up.weight", t.adapter.up)] {
                guard let info = file.info(key) else { throw LoadError.missingKey(file: file.path, key: key) }
                guard info.shape == p.shape else {
                    throw LoadError.shapeMismatch(file: file.path, key: key, expected: p.shape, found: info.shape)
                }
                let v = try file.tensor(key)
                p.data.update(from: v.data, count: p.count)
                used.insert(key)
            }
            let alphaKey = t.kohyaName + ".alpha"
            if file.info(alphaKey) != nil {
                let a = try file.tensor(alphaKey)
                guard a.scalars == [alpha] else {
                    throw CheckpointError.malformed(file: file.path, reason: "\(alphaKey) is \(a.scalars), expected \(alpha)")
                }
                used.insert(alphaKey)
            }
        }
        let extra = file.names.filter { !used.contains($0) }
        if !extra.isEmpty { throw LoadError.unexpectedKeys(file: file.path, keys: extra) }
    }
}
