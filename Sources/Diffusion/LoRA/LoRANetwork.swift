import Checkpoint
import Tensor

/// One low-rank delta on one weight: ΔW = alphaScale · (up · down), reshaped to the weight's shape.
///
/// Every format is normalised to this: conv LoRA keeps the conv's [r, in, kh, kw] down flattened to
/// [r, in·kh·kw] (ΔW[o, i, y, x] = Σ_j up[o, j] · down[j, i, y, x]); a LoCon Tucker core (`lora_mid`) is folded
/// into down; a packed bigG q|k|v module becomes three modules sharing one down.
public struct LoRAModule: Sendable {
    /// Qualified name of the adapted weight (`unet.…weight`, `text_encoder.…weight`).
    public let target: String
    /// Up / B: [out, r].
    public let up: Tensor
    /// Down / A: [r, K] with K = weight elements / out.
    public let down: Tensor
    /// alpha / rank, or 1 when the file stores no alpha (ComfyUI semantics); multiplied by the strength.
    public let alphaScale: Float
    /// The module name as written in the file (without the `.lora_down.weight`-style suffix).
    public let sourceModule: String

    /// A module from normalised factors. up: [out, r]; down: [r, K].
    public init(target: String, up: Tensor, down: Tensor, alphaScale: Float, sourceModule: String) {
        precondition(up.rank == 2 && down.rank == 2 && up.dim(1) == down.dim(0), "LoRAModule \(target): up \(up.shape), down \(down.shape)")
        self.target = target
        self.up = up
        self.down = down
        self.alphaScale = alphaScale
        self.sourceModule = sourceModule
    }

    /// Rank r.
    public var rank: Int { down.shape[0] }

    /// up · down in plain Double loops (the naive reference for the BLAS path), as a tensor shaped [out, K].
    public func referenceProduct() -> Tensor {
        let o = up.shape[0], r = rank, k = down.shape[1]
        let out = Tensor(zeros: [o, k])
        let u = up.data, d = down.data, p = out.data
        for i in 0..<o {
            for j in 0..<k {
                var s = 0.0
                for a in 0..<r { s += Double(u[i * r + a]) * Double(d[a * k + j]) }
                p[i * k + j] = Float(s)
            }
        }
        return withExtendedLifetime((up, down)) { out }
    }
}

/// A LoRA file parsed against a model's weights (`LoRATargetSpace`): its modules, and every tensor that could
/// not be used, by name and reason (never dropped silently; ComfyUI's "lora key not loaded").
///
/// Formats: kohya (`lora_unet_…` over LDM or diffusers paths, `lora_te1_` / `lora_te2_` / `lora_te_`,
/// `.lora_down.weight` / `.lora_up.weight` / `.alpha`, LoCon 1×1 and 3×3 conv, optional `.lora_mid.weight`),
/// PEFT / diffusers (`lora_A` / `lora_B`, `.default` adapter infix, `unet.` / `text_encoder.` / `text_encoder_2.`
/// and `base_model.model.` prefixes, diffusers' `.lora.down` / `.lora_linear_layer.down` spellings), and bigG's
/// packed `attn.in_proj` (up rows q | k | v). LyCORIS LoHa / LoKr, full `.diff` deltas, DoRA and LoRA biases are
/// reported as unmatched (unsupported).
///
/// Scale = strength × alpha / rank; without a stored `.alpha`: PEFT's `lora_alpha` (and `r`, `use_rslora`,
/// `alpha_pattern`) from diffusers' `lora_adapter_metadata` JSON when present, else alpha / rank := 1 (ComfyUI:
/// Comfy comfy/weight_adapter/lora.py). A stored alpha of 0 gives scale 0, as in ComfyUI.
public struct LoRANetwork: Sendable {
    /// Display name (the file name by default).
    public let name: String
    /// The adapter's deltas, in file order of their module names.
    public let modules: [LoRAModule]
    /// Tensor names that were not applied, sorted.
    public let unmatchedKeys: [String]
    /// Why each unmatched tensor was not applied.
    public let unmatchedReasons: [String: String]
    /// Number of tensors that were applied.
    public let matchedKeyCount: Int
    /// Number of file modules that were applied (a packed q|k|v module counts once).
    public let matchedModuleCount: Int
    /// Detected format (nil for files `LoRAInfo` does not recognise as adapters).
    public let format: LoRAInfo.Format?

    /// Distinct adapted weights (qualified names).
    public var targets: Set<String> { Set(modules.map(\.target)) }
    /// Applied module count per component (for a UI badge).
    public var modulesPerComponent: [LoRAComponent: Int] {
        var c: [LoRAComponent: Int] = [:]
        for m in modules {
            let head = m.target.prefix { $0 != "." }
            if let comp = LoRAComponent(rawValue: String(head)) { c[comp, default: 0] += 1 }
        }
        return c
    }

    /// Creates a network from already normalised modules (tests, synthetic adapters, trainers).
    public init(name: String, modules: [LoRAModule], unmatchedReasons: [String: String] = [:], matchedKeyCount: Int? = nil,
                format: LoRAInfo.Format? = nil) {
        self.name = name
        self.modules = modules
        self.unmatchedReasons = unmatchedReasons
        self.unmatchedKeys = unmatchedReasons.keys.sorted()
        self.matchedKeyCount = matchedKeyCount ?? 2 * modules.count
        self.matchedModuleCount = Set(modules.map(\.sourceModule)).count
        self.format = format
    }

    /// Parses the LoRA file at `path` (see the type's documentation for formats).
    public static func load(path: String, name: String? = nil, targets: LoRATargetSpace) throws -> LoRANetwork {
        let file = try SafeTensorsFile(path: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return try LoRANetwork(file: file, name: name ?? base, targets: targets)
    }

    /// Parses `file` against `targets`.
    public init(file: SafeTensorsFile, name: String, targets: LoRATargetSpace) throws {
        var groups: [String: [LoRAPart: String]] = [:]
        var order: [String] = []
        var reasons: [String: String] = [:]
        for t in file.tensorInfos {
            guard let s = LoRAKeys.split(t.name) else { reasons[t.name] = "not a LoRA tensor name"; continue }
            if groups[s.module] == nil { order.append(s.module) }
            if let dup = groups[s.module]?[s.part] {
                reasons[t.name] = "duplicate of \(dup)"
                continue
            }
            groups[s.module, default: [:]][s.part] = t.name
        }
        let peft = PEFTAlphas(file.metadata)
        var modules: [LoRAModule] = []
        var matchedKeys = 0, matchedModules = 0
        for module in order {
            let parts = groups[module]!
            let keys = parts.values.sorted()
            func reject(_ why: String) { for k in keys { reasons[k] = why } }
            if let unsupported = Self.unsupported(parts) { reject("unsupported: \(unsupported)"); continue }
            guard let downKey = parts[.down], let upKey = parts[.up] else {
                reject(parts[.down] == nil ? "incomplete module: no down / lora_A tensor" : "incomplete module: no up / lora_B tensor")
                continue
            }
            guard let target = targets.resolve(module) else { reject("no weight '\(module)' in the model"); continue }
            var down = try file.tensor(downKey)
            let up = try file.tensor(upKey)
            if let midKey = parts[.mid] {
                guard let folded = Self.foldMid(down: down, mid: try file.tensor(midKey)) else {
                    reject("lora_mid \(file.info(midKey)!.shape) does not fit down \(down.shape)"); continue
                }
                down = folded
            }
            let rank = down.shape.first ?? 0
            var alphaScale: Float = 1
            if let alphaKey = parts[.alpha] {
                let a = try file.tensor(alphaKey)
                guard a.count == 1 else { reject("alpha has \(a.count) elements"); continue }
                alphaScale = rank > 0 ? a.data[0] / Float(rank) : 0
            } else if let s = peft.scale(module: module, target: target, rank: rank) {
                alphaScale = s
            }
            switch Self.normalise(module: module, target: target, up: up, down: down, alphaScale: alphaScale,
                                  shapes: targets.shapes) {
            case .success(let ms):
                modules += ms
                matchedKeys += keys.count
                matchedModules += 1
            case .failure(let why):
                reject(why.message)
            }
        }
        self.name = name
        self.modules = modules
        self.unmatchedReasons = reasons
        self.unmatchedKeys = reasons.keys.sorted()
        self.matchedKeyCount = matchedKeys
        self.matchedModuleCount = matchedModules
        self.format = try? LoRAInfo.analyze(file)?.format
    }

    struct Mismatch: Error { let message: String }

    /// Checks shapes and builds the module(s) for one resolved file module.
    static func normalise(module: String, target: LoRATargetSpace.Target, up: Tensor, down: Tensor, alphaScale: Float,
                          shapes: [String: [Int]]) -> Result<[LoRAModule], Mismatch> {
        let names: [String]
        switch target {
        case .weight(let w): names = [w]
        case let .packedQKV(q, k, v): names = [q, k, v]
        }
        let w = shapes[names[0]]!
        let out = w[0], kIn = w.dropFirst().reduce(1, *), r = down.shape.first ?? 0
        let fail = Mismatch(message: "shape mismatch: up \(up.shape), down \(down.shape) for weight \(w)"
                            + (names.count == 3 ? " ×3 (packed q|k|v)" : ""))
        guard r > 0, down.count == r * kIn, up.shape.count >= 2, up.shape[0] == out * names.count,
              up.shape[1] == r, up.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else { return .failure(fail) }
        // A 4-D down on a 4-D weight must have the weight's kernel (a 3×3 down on a 1×1 conv is an error).
        if down.rank == 4, w.count == 4, Array(down.shape.dropFirst()) != Array(w.dropFirst()) { return .failure(fail) }
        let d = down.viewing(as: [r, kIn])
        if names.count == 1 {
            return .success([LoRAModule(target: names[0], up: up.viewing(as: [out, r]), down: d, alphaScale: alphaScale,
                                        sourceModule: module)])
        }
        return .success(names.enumerated().map { i, n in
            let block = Tensor(uninitialized: [out, r])
            block.data.update(from: up.data + i * out * r, count: out * r)
            return LoRAModule(target: n, up: block, down: d, alphaScale: alphaScale, sourceModule: module)
        })
    }

    /// Folds a LoCon Tucker core into down: D'[a, i, y, x] = Σ_b mid[a, b, y, x] · down[b, i]
    /// (down [r, in, 1, 1] or [r, in], mid [r, r, kh, kw] → D' [r, in, kh, kw]; Comfy comfy/weight_adapter/lora.py).
    static func foldMid(down: Tensor, mid: Tensor) -> Tensor? {
        let r = down.shape.first ?? 0
        guard r > 0, mid.rank == 4, mid.shape[0] == r, mid.shape[1] == r, down.count % r == 0 else { return nil }
        let cin = down.count / r, kh = mid.shape[2], kw = mid.shape[3], k2 = kh * kw
        let out = Tensor(zeros: [r, cin, kh, kw])
        let d = down.data, m = mid.data, o = out.data
        for a in 0..<r {
            for i in 0..<cin {
                for p in 0..<k2 {
                    var s = 0.0
                    for b in 0..<r { s += Double(m[(a * r + b) * k2 + p]) * Double(d[b * cin + i]) }
                    o[(a * cin + i) * k2 + p] = Float(s)
                }
            }
        }
        return withExtendedLifetime((down, mid)) { out }
    }

    /// The adapter family of a module this stack cannot apply, if any.
    static func unsupported(_ parts: [LoRAPart: String]) -> String? {
        for p in parts.keys {
            switch p {
            case .hadaW1A, .hadaW1B, .hadaW2A, .hadaW2B, .hadaT1, .hadaT2: return "LyCORIS LoHa"
            case .lokrW1, .lokrW2, .lokrW1A, .lokrW1B, .lokrW2A, .lokrW2B, .lokrT2: return "LyCORIS LoKr"
            case .diff, .diffBias: return "full weight delta (.diff)"
            case .norm: return "LyCORIS norm delta"
            case .doraScale: return "DoRA (dora_scale)"
            case .upBias: return "LoRA bias (lora_B.bias)"
            case .down, .up, .mid, .alpha: continue
            }
        }
        return nil
    }
}
