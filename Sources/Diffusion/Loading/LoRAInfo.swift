import Checkpoint

/// What a LoRA / LyCORIS file contains: format, modules, ranks, alphas and what it targets.
///
/// Read from tensor names and shapes plus the `.alpha` scalars (docs/sdxl-inference-reference.md §1d).
/// scale = alpha / rank, the factor applied before the user's strength (ComfyUI and sd.cpp use 1 when
/// no alpha is stored).
public struct LoRAInfo: Sendable, Encodable {
    /// Key naming / algorithm family.
    public enum Format: String, Sendable, Encodable {
        /// kohya sd-scripts names over LDM UNet paths (`lora_unet_input_blocks_…`), the usual SDXL kohya file.
        case kohyaLDM = "kohya (LDM UNet paths)"
        /// kohya names over diffusers UNet paths (`lora_unet_down_blocks_…`), e.g. DMD2.
        case kohyaDiffusers = "kohya (diffusers UNet paths)"
        /// kohya names that touch only the text encoders.
        case kohyaTextOnly = "kohya (text encoders only)"
        /// PEFT `lora_A` / `lora_B` over bare diffusers module paths.
        case peft = "PEFT (lora_A/lora_B, bare paths)"
        /// PEFT `lora_A` / `lora_B` with `unet.` / `text_encoder.` / `text_encoder_2.` prefixes (diffusers pipelines).
        case peftPrefixed = "PEFT/diffusers (lora_A/lora_B, unet./text_encoder. prefixes)"
        /// Old diffusers attention-processor names (`to_q_lora.down`, `lora_linear_layer`).
        case legacyDiffusers = "diffusers attention-processor LoRA"
        /// LyCORIS LoCon with a Tucker `lora_mid` core.
        case loconTucker = "LyCORIS LoCon (lora_mid)"
        /// LyCORIS LoHa (Hadamard product).
        case loha = "LyCORIS LoHa"
        /// LyCORIS LoKr (Kronecker product).
        case lokr = "LyCORIS LoKr"
    }

    /// Detected format.
    public var format: Format
    /// Number of adapted modules (one per base weight).
    public var moduleCount: Int
    /// Module count per component: "unet", "te1" (CLIP-L), "te2" (bigG), "te" (single text encoder).
    public var modulesPerTarget: [String: Int]
    /// Naming of the UNet paths: "ldm", "diffusers", or nil when no UNet module says.
    public var unetPaths: String?
    /// Module count per rank (rank = rows of down / A / hada_w1_b / lokr_*_b).
    public var rankCounts: [Int: Int]
    /// Distinct stored alphas, ascending.
    public var alphas: [Float]
    /// Modules with a rank but no `.alpha` tensor.
    public var modulesWithoutAlpha: Int
    /// Distinct alpha / rank factors, ascending (modules without alpha are not included).
    public var scales: [Float]
    /// Modules whose weight delta is a k×k convolution with k > 1.
    public var convModules: Int
    /// Module count per module type ("to_q", "conv1", "time_emb_proj", "q_proj", …).
    public var moduleTypes: [String: Int]
    /// kohya `ss_*` and `modelspec.*` metadata worth showing (network dim/alpha/module/args, base model).
    public var trainingMetadata: [String: String]
    /// Tensor names that fit no adapter pattern (count, and up to three examples).
    public var unrecognisedKeys: Int
    /// Up to three unrecognised names.
    public var unrecognisedExamples: [String]
    /// Tensor count per stored dtype.
    public var dtypes: [String: Int]
    /// Total adapter parameters.
    public var parameterCount: Int

    /// Smallest rank.
    public var minRank: Int? { rankCounts.keys.min() }
    /// Largest rank.
    public var maxRank: Int? { rankCounts.keys.max() }
    /// Whether any 3×3 (or larger) conv module is present.
    public var hasConv: Bool { convModules > 0 }
    /// The base model named in the metadata, if any.
    public var baseModel: String? {
        trainingMetadata["ss_base_model_version"] ?? trainingMetadata["modelspec.architecture"]
            ?? trainingMetadata["ss_sd_model_name"]
    }

    private enum CodingKeys: String, CodingKey {
        case format, moduleCount = "module_count", modulesPerTarget = "modules_per_target", unetPaths = "unet_paths"
        case rankCounts = "rank_counts", minRank = "min_rank", maxRank = "max_rank", alphas
        case modulesWithoutAlpha = "modules_without_alpha", scales, convModules = "conv_modules"
        case moduleTypes = "module_types", trainingMetadata = "training_metadata", baseModel = "base_model"
        case unrecognisedKeys = "unrecognised_keys", unrecognisedExamples = "unrecognised_examples", dtypes
        case parameterCount = "parameter_count"
    }

    /// snake_case JSON, with the derived min/max rank and base model included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(moduleCount, forKey: .moduleCount)
        try c.encode(modulesPerTarget, forKey: .modulesPerTarget)
        try c.encodeIfPresent(unetPaths, forKey: .unetPaths)
        try c.encode(rankCounts, forKey: .rankCounts)
        try c.encodeIfPresent(minRank, forKey: .minRank)
        try c.encodeIfPresent(maxRank, forKey: .maxRank)
        try c.encode(alphas, forKey: .alphas)
        try c.encode(modulesWithoutAlpha, forKey: .modulesWithoutAlpha)
        try c.encode(scales, forKey: .scales)
        try c.encode(convModules, forKey: .convModules)
        try c.encode(moduleTypes, forKey: .moduleTypes)
        try c.encode(trainingMetadata, forKey: .trainingMetadata)
        try c.encodeIfPresent(baseModel, forKey: .baseModel)
        try c.encode(unrecognisedKeys, forKey: .unrecognisedKeys)
        try c.encode(unrecognisedExamples, forKey: .unrecognisedExamples)
        try c.encode(dtypes, forKey: .dtypes)
        try c.encode(parameterCount, forKey: .parameterCount)
    }

    /// Metadata keys copied into `trainingMetadata` when present.
    static let metadataKeys = [
        "ss_network_module", "ss_network_dim", "ss_network_alpha", "ss_network_args", "ss_base_model_version",
        "ss_sd_model_name", "ss_output_name", "ss_resolution", "ss_num_train_images", "ss_epoch", "ss_steps",
        "modelspec.architecture", "modelspec.title",
    ]

    /// Analyses `file` as an adapter; nil when its keys are not mostly adapter keys.
    public static func analyze(_ file: SafeTensorsFile) throws -> LoRAInfo? {
        let infos = file.tensorInfos
        var modules: [String: [LoRAPart: TensorInfo]] = [:]
        var styles: [LoRAKeyStyle: Int] = [:]
        var unrecognised: [String] = []
        for t in infos {
            guard let s = LoRAKeys.split(t.name) else { unrecognised.append(t.name); continue }
            modules[s.module, default: [:]][s.part] = t
            styles[s.style, default: 0] += 1
        }
        let weightParts: Set<LoRAPart> = [.down, .up, .hadaW1A, .lokrW1, .lokrW1A, .lokrW2, .diff]
        let adapterModules = modules.filter { !Set($0.value.keys).isDisjoint(with: weightParts) }
        guard !adapterModules.isEmpty, 2 * unrecognised.count <= infos.count else { return nil }

        var info = LoRAInfo(format: .peft, moduleCount: adapterModules.count, modulesPerTarget: [:], unetPaths: nil,
                            rankCounts: [:], alphas: [], modulesWithoutAlpha: 0, scales: [], convModules: 0,
                            moduleTypes: [:], trainingMetadata: [:], unrecognisedKeys: unrecognised.count,
                            unrecognisedExamples: Array(unrecognised.prefix(3)), dtypes: [:],
                            parameterCount: infos.reduce(0) { $0 + $1.elementCount })
        for (d, n) in CheckpointLayout.countDTypes(infos) { info.dtypes[d.rawValue] = n }
        for k in metadataKeys { if let v = file.metadata[k] { info.trainingMetadata[k] = v } }

        var alphas = Set<Float>(), scales = Set<Float>()
        var pathStyles: [String: Int] = [:]
        var hasMid = false, hasHada = false, hasLokr = false, prefixed = false
        for (name, parts) in adapterModules {
            let (target, path) = LoRAKeys.target(of: name)
            if name.hasPrefix("unet.") || name.hasPrefix("text_encoder") { prefixed = true }
            info.modulesPerTarget[target, default: 0] += 1
            info.moduleTypes[LoRAKeys.moduleType(path), default: 0] += 1
            if target == "unet", let s = LoRAKeys.unetPathStyle(path) { pathStyles[s, default: 0] += 1 }
            if parts[.mid] != nil { hasMid = true }
            if parts[.hadaW1A] != nil { hasHada = true }
            if parts[.lokrW1] != nil || parts[.lokrW1A] != nil || parts[.lokrW2] != nil { hasLokr = true }
            if isConv(parts) { info.convModules += 1 }
            let rank = Self.rank(parts)
            if let r = rank { info.rankCounts[r, default: 0] += 1 }
            if let a = parts[.alpha], let alpha = try? scalar(file, a) {
                alphas.insert(alpha)
                if let r = rank, r > 0 { scales.insert(alpha / Float(r)) }
            } else if rank != nil {
                info.modulesWithoutAlpha += 1
            }
        }
        info.alphas = alphas.sorted()
        info.scales = scales.sorted()
        info.unetPaths = pathStyles.max { $0.value < $1.value }?.key

        let counts = styles
        if hasHada {
            info.format = .loha
        } else if hasLokr {
            info.format = .lokr
        } else if hasMid {
            info.format = .loconTucker
        } else if (counts[.peft] ?? 0) > 0 {
            info.format = prefixed ? .peftPrefixed : .peft
        } else if (counts[.legacyDiffusers] ?? 0) > 0 {
            info.format = .legacyDiffusers
        } else {
            switch info.unetPaths {
            case "ldm": info.format = .kohyaLDM
            case "diffusers": info.format = .kohyaDiffusers
            default: info.format = info.modulesPerTarget["unet"] == nil ? .kohyaTextOnly : .kohyaLDM
            }
        }
        return info
    }

    /// Rank of a module: rows of its down projection (or LyCORIS equivalent); nil for full-rank deltas.
    static func rank(_ parts: [LoRAPart: TensorInfo]) -> Int? {
        for p in [LoRAPart.down, .hadaW1B, .lokrW1B, .lokrW2B] {
            if let s = parts[p]?.shape, let r = s.first { return r }
        }
        return nil
    }

    /// Whether the module adapts a k×k conv with k > 1 (a 3×3 down, a Tucker core, or a 4-D LoHa/LoKr factor).
    static func isConv(_ parts: [LoRAPart: TensorInfo]) -> Bool {
        for p in [LoRAPart.down, .mid, .hadaT1, .lokrT2, .lokrW2, .diff] {
            if let s = parts[p]?.shape, s.count == 4, s[2] * s[3] > 1 { return true }
        }
        return false
    }

    /// The single value of a one-element tensor (an alpha).
    static func scalar(_ file: SafeTensorsFile, _ info: TensorInfo) throws -> Float? {
        guard info.elementCount == 1, info.dtype.convertsToFloat else { return nil }
        let t = try file.tensor(info.name)
        // `data` points into `t`'s storage: keep `t` alive across the read.
        return withExtendedLifetime(t) { t.data[0] }
    }
}
