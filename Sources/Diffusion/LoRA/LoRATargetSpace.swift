import Tensor

/// The model a LoRA module adapts. The raw value is the diffusers pipeline component name, which also
/// prefixes *qualified* parameter names (`unet.down_blocks.1…weight`, `text_encoder_2.text_model…weight`):
/// the names `LoRAStack.apply(to:)` works on.
public enum LoRAComponent: String, CaseIterable, Sendable {
    /// The SDXL UNet (diffusers canonical names).
    case unet
    /// CLIP ViT-L/14 text (`text_encoder`, kohya `lora_te1_` / `lora_te_`).
    case textEncoder = "text_encoder"
    /// OpenCLIP ViT-bigG/14 text (`text_encoder_2`, kohya `lora_te2_`).
    case textEncoder2 = "text_encoder_2"

    /// `<component>.<name>`.
    public func qualified(_ name: String) -> String { "\(rawValue).\(name)" }
}

/// Every weight a LoRA may adapt (qualified name → shape) and every spelling of its module path that LoRA
/// files use, resolved the way ComfyUI does it: a *forward* dictionary from each real weight to all of its
/// spellings, because kohya's underscore-joined paths (`…_transformer_blocks_0_attn1_to_out_0`) cannot be split
/// back into dotted names (the names contain underscores themselves).
///
/// Spellings per weight (module path m = the weight name without `.weight`):
/// - UNet: `lora_unet_`/`lycoris_` + m with `.`→`_`; `unet.`m and bare m (PEFT / diffusers); diffusers'
///   legacy attention-processor names (`…attn1.processor.to_q`, `…processor.to_out`); and the LDM/SGM path
///   L = `UNet.ldmName(m)`: `lora_unet_`L with `_`, `model.diffusion_model.`L, `diffusion_model.`L, bare L.
/// - Text encoders: `lora_te1_`/`lora_te_` (CLIP-L) or `lora_te2_` (bigG) + m with `_`; `text_encoder.`m /
///   `text_encoder_2.`m; single-file `conditioner.embedders.0.transformer.`m; bare m → CLIP-L. bigG also in
///   open_clip names (`transformer.resblocks.N.attn.out_proj`, `mlp.c_fc`, `mlp.c_proj`; `_` or `.` joined) and
///   its packed `attn.in_proj` (rows q | k | v), which resolves to the three separate q/k/v weights.
/// PEFT's `base_model.model.` prefix is ignored wherever it appears.
///
/// Sources: Comfy comfy/lora.py `model_lora_keys_unet` / `model_lora_keys_clip`; sd.cpp
/// src/name_conversion.cpp (open_clip names, packed in_proj); docs/sdxl-inference-reference.md §1c–1d.
public struct LoRATargetSpace: Sendable {
    /// What a module spelling adapts.
    public enum Target: Equatable, Sendable {
        /// One weight (qualified name).
        case weight(String)
        /// A packed q|k|v projection: the up matrix's rows split in three equal blocks, one per weight.
        case packedQKV(q: String, k: String, v: String)
    }

    /// Adaptable weights (2-D Linear or 4-D conv `.weight`s; no embeddings or norms): qualified name → shape.
    public private(set) var shapes: [String: [Int]]
    private var aliases: [String: Target] = [:]

    /// Targets for the given models, built from their configs without allocating them.
    public init(unet: UNetConfig? = nil, textEncoder: CLIPTextConfig? = nil, textEncoder2: CLIPTextConfig? = nil) {
        var shapes: [String: [Int]] = [:]
        if let unet {
            for (name, shape) in UNet.parameterShapes(unet) { shapes[LoRAComponent.unet.qualified(name)] = shape }
        }
        if let textEncoder { Self.clipShapes(textEncoder, .textEncoder, into: &shapes) }
        if let textEncoder2 { Self.clipShapes(textEncoder2, .textEncoder2, into: &shapes) }
        self.init(weights: shapes, unetConfig: unet)
    }

    /// Targets from qualified parameter names and shapes (non-adaptable entries are skipped). `unetConfig`
    /// enables the LDM spellings of UNet paths.
    public init(weights: [String: [Int]], unetConfig: UNetConfig? = nil) {
        shapes = weights.filter { Self.isAdaptable($0.key, $0.value) }
        for name in shapes.keys.sorted() { register(name, unetConfig: unetConfig) }
    }

    /// Targets from live parameters keyed by qualified name (see `LoRAStack.parameters(unet:…)`).
    public init(parameters: [String: Tensor], unetConfig: UNetConfig? = nil) {
        self.init(weights: parameters.mapValues(\.shape), unetConfig: unetConfig)
    }

    /// The target of a module path as written in a LoRA file (without the `.lora_down.weight`-style suffix).
    public func resolve(_ module: String) -> Target? {
        if let t = aliases[module] { return t }
        if module.contains("base_model.model.") {
            return aliases[module.replacingOccurrences(of: "base_model.model.", with: "")]
        }
        return nil
    }

    /// Number of registered spellings (for diagnostics).
    public var spellingCount: Int { aliases.count }

    static func isAdaptable(_ name: String, _ shape: [Int]) -> Bool {
        name.hasSuffix(".weight") && (shape.count == 2 || shape.count == 4) && !name.contains(".embeddings.")
    }

    /// The Linear weights of a `CLIPTextModel` (HF names), as in `CLIPTextModel.namedParameters`.
    static func clipShapes(_ c: CLIPTextConfig, _ component: LoRAComponent, into shapes: inout [String: [Int]]) {
        let d = c.width
        for i in 0..<c.layers {
            let l = "text_model.encoder.layers.\(i)."
            for p in ["q_proj", "k_proj", "v_proj", "out_proj"] { shapes[component.qualified(l + "self_attn.\(p).weight")] = [d, d] }
            shapes[component.qualified(l + "mlp.fc1.weight")] = [c.mlpWidth, d]
            shapes[component.qualified(l + "mlp.fc2.weight")] = [d, c.mlpWidth]
        }
        if let p = c.projectionDim { shapes[component.qualified("text_projection.weight")] = [p, d] }
    }

    private mutating func add(_ spelling: String, _ target: Target) {
        // First registration wins; spellings of different weights never coincide for the SDXL structure.
        if aliases[spelling] == nil { aliases[spelling] = target }
    }

    private static func underscored(_ s: String) -> String { s.replacingOccurrences(of: ".", with: "_") }

    private mutating func register(_ qualified: String, unetConfig: UNetConfig?) {
        guard let dot = qualified.firstIndex(of: "."),
              let component = LoRAComponent(rawValue: String(qualified[..<dot])) else { return }
        let name = String(qualified[qualified.index(after: dot)...])
        let m = String(name.dropLast(".weight".count))
        let t = Target.weight(qualified)
        switch component {
        case .unet:
            for s in ["lora_unet_" + Self.underscored(m), "lycoris_" + Self.underscored(m), "unet." + m, m] { add(s, t) }
            for legacy in Self.processorSpellings(m) { add(legacy, t); add("unet." + legacy, t) }
            if let config = unetConfig, let ldm = UNet.ldmName(name, config: config) {
                let l = String(ldm.dropLast(".weight".count))
                for s in ["lora_unet_" + Self.underscored(l), "model.diffusion_model." + l, "diffusion_model." + l, l] { add(s, t) }
            }
        case .textEncoder, .textEncoder2:
            let isG = component == .textEncoder2
            let kohya = isG ? ["lora_te2_"] : ["lora_te1_", "lora_te_"]
            for k in kohya { add(k + Self.underscored(m), t) }
            add(component.rawValue + "." + m, t)
            if !isG { add("conditioner.embedders.0.transformer." + m, t); add(m, t) }
            if isG, let oc = Self.openCLIPModule(m) {
                add("lora_te2_" + Self.underscored(oc), t)
                add("conditioner.embedders.1.model." + oc, t)
            }
            registerPacked(component, name)
        }
    }

    /// diffusers' pre-PEFT attention-processor LoRA names (`…attn1.processor.to_q`, `…processor.to_out`).
    private static func processorSpellings(_ m: String) -> [String] {
        for p in [".to_q", ".to_k", ".to_v"] where m.hasSuffix(p) {
            return [String(m.dropLast(p.count)) + ".processor" + p]
        }
        if m.hasSuffix(".to_out.0") { return [String(m.dropLast(".to_out.0".count)) + ".processor.to_out"] }
        return []
    }

    /// open_clip name of a HF text-encoder module path (nil when it has none).
    private static func openCLIPModule(_ m: String) -> String? {
        let parts = m.split(separator: ".").map(String.init)
        guard parts.count >= 5, parts[0] == "text_model", parts[2] == "layers", let i = Int(parts[3]) else { return nil }
        let rest = parts[4...].joined(separator: ".")
        let map = ["self_attn.out_proj": "attn.out_proj", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"]
        return map[rest].map { "transformer.resblocks.\(i).\($0)" }
    }

    /// Registers the packed `in_proj` spellings of layer N once its q, k and v weights are all known.
    private mutating func registerPacked(_ component: LoRAComponent, _ name: String) {
        let parts = name.split(separator: ".")
        guard parts.count == 7, parts[4] == "self_attn", let i = Int(parts[3]) else { return }
        let base = "text_model.encoder.layers.\(i).self_attn."
        let q = component.qualified(base + "q_proj.weight"), k = component.qualified(base + "k_proj.weight")
        let v = component.qualified(base + "v_proj.weight")
        guard let sq = shapes[q], shapes[k] == sq, shapes[v] == sq else { return }
        let t = Target.packedQKV(q: q, k: k, v: v)
        let kohya = component == .textEncoder2 ? ["lora_te2_"] : ["lora_te1_", "lora_te_"]
        let dotted = ["transformer.resblocks.\(i).attn.in_proj", base + "in_proj"]
        for d in dotted {
            for suffix in ["", "_weight"] {
                for k in kohya { add(k + Self.underscored(d) + suffix, t) }
                add(component.rawValue + "." + d + suffix, t)
                if component == .textEncoder2 { add("conditioner.embedders.1.model." + d + suffix, t) }
            }
        }
    }
}
