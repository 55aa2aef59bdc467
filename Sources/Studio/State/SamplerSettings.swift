import Diffusion

/// How the seed changes from one generation to the next.
public enum SeedMode: String, CaseIterable, Codable, Sendable {
    /// The same seed every time (what LoRA slider re-renders always use).
    case fixed
    /// A fresh random seed per generation.
    case random
    /// seed + 1 after each image.
    case increment
}

/// The sampler pane's settings: everything except the prompts and LoRAs that decides an image.
public struct SamplerSettings: Equatable, Sendable {
    /// Name of the preset last applied (models/presets/NAME.toml), nil for hand-made settings.
    public var preset: String?
    /// Sampling algorithm.
    public var sampler: Sampler = .lcm
    /// σ schedule.
    public var scheduler: Scheduler = .simple
    /// Sampling steps.
    public var steps: Int = 4
    /// Classifier-free guidance scale.
    public var cfg: Double = 1
    /// Seed of the next generation.
    public var seed: UInt64 = 42
    /// How `seed` moves on.
    public var seedMode: SeedMode = .random
    /// Image width in pixels.
    public var width: Int = 1024
    /// Image height in pixels.
    public var height: Int = 1024
    /// Images per press of generate (one after the other, seeds `seed`, `seed + 1`, …).
    public var batchCount: Int = 1

    /// DMD2 defaults at 1024².
    public init() {}

    /// Limits of the numeric fields.
    public static let stepsRange = 1...150
    /// CFG limits.
    public static let cfgRange = 1.0...30.0
    /// Batch count limits.
    public static let batchRange = 1...64
    /// Largest seed accepted (torch seeds are 64-bit; only the low 32 bits change the noise).
    public static let maxSeed: UInt64 = UInt64(Int64.max)

    /// Kohya's SDXL bucket sizes (about one megapixel each), square first.
    public static let sdxlBuckets: [(Int, Int)] = [
        (1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344), (1536, 640), (640, 1536),
    ]

    /// The size presets for a model whose sizes must be multiples of `multiple` (32 for SDXL). The tiny test
    /// architecture gets ⅛-size buckets (128² …) so a generation takes a moment, not minutes.
    public static func sizePresets(multiple: Int, tiny: Bool) -> [(Int, Int)] {
        guard tiny else { return sdxlBuckets }
        let m = max(1, multiple)
        return sdxlBuckets.map { (w, h) in (max(m, w / 8 / m * m), max(m, h / 8 / m * m)) }
    }
}

/// The rows of the sampler pane, in display order.
public enum SamplerField: Int, CaseIterable, Sendable {
    case preset, sampler, scheduler, steps, cfg, seed, seedMode, size, batchCount

    /// Label shown left of the value.
    public var label: String {
        switch self {
        case .preset: return "preset"
        case .sampler: return "sampler"
        case .scheduler: return "scheduler"
        case .steps: return "steps"
        case .cfg: return "cfg"
        case .seed: return "seed"
        case .seedMode: return "seed mode"
        case .size: return "size"
        case .batchCount: return "batch"
        }
    }

    /// Whether a value can be typed (enter) rather than only stepped.
    public var isTypeable: Bool { [.steps, .cfg, .seed, .batchCount].contains(self) }
}

extension SamplerSettings {
    /// The value of `field` as shown.
    public func valueText(_ field: SamplerField) -> String {
        switch field {
        case .preset: return preset ?? "custom"
        case .sampler: return sampler.comfyName
        case .scheduler: return scheduler.comfyName
        case .steps: return "\(steps)"
        case .cfg: return Self.format(cfg)
        case .seed: return "\(seed)"
        case .seedMode: return seedMode.rawValue
        case .size: return "\(width)×\(height)"
        case .batchCount: return "\(batchCount)"
        }
    }

    /// `1` → "1.0", 7.25 → "7.25".
    static func format(_ x: Double) -> String {
        let s = String(format: "%.2f", x)
        return s.hasSuffix("0") ? String(s.dropLast()) : s
    }

    /// Parses a typed value for `field`; nil when it is not a valid value there.
    public mutating func setTyped(_ text: String, field: SamplerField) -> Bool {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch field {
        case .steps:
            guard let v = Int(t), Self.stepsRange.contains(v) else { return false }
            steps = v
        case .cfg:
            guard let v = Double(t), v.isFinite, Self.cfgRange.contains(v) else { return false }
            cfg = (v * 100).rounded() / 100
        case .seed:
            guard let v = UInt64(t), v <= Self.maxSeed else { return false }
            seed = v
        case .batchCount:
            guard let v = Int(t), Self.batchRange.contains(v) else { return false }
            batchCount = v
        default:
            return false
        }
        if field != .seed && field != .batchCount { preset = nil }
        return true
    }

    /// Steps `field` by `delta` (±1 fine, ±n coarse). Lists cycle; numbers clamp. `sizes` are the size presets.
    /// Presets are not stepped here: choosing one applies its values (see `apply(_:named:)`).
    public mutating func step(_ field: SamplerField, by delta: Int, coarse: Bool, sizes: [(Int, Int)]) {
        func cycle<T: Equatable>(_ all: [T], _ current: T) -> T {
            guard !all.isEmpty else { return current }
            let i = all.firstIndex(of: current) ?? 0
            return all[((i + delta) % all.count + all.count) % all.count]
        }
        switch field {
        case .preset: return
        case .sampler: sampler = cycle(Sampler.allCases, sampler); preset = nil
        case .scheduler: scheduler = cycle(Scheduler.allCases, scheduler); preset = nil
        case .steps:
            steps = min(Self.stepsRange.upperBound, max(Self.stepsRange.lowerBound, steps + delta * (coarse ? 5 : 1)))
            preset = nil
        case .cfg:
            let v = cfg + Double(delta) * (coarse ? 1 : 0.5)
            cfg = min(Self.cfgRange.upperBound, max(Self.cfgRange.lowerBound, (v * 100).rounded() / 100))
            preset = nil
        case .seed:
            let d = Int64(delta) * (coarse ? 100 : 1)
            let v = Int64(clamping: seed) + d
            seed = UInt64(max(0, v))
        case .seedMode: seedMode = cycle(SeedMode.allCases, seedMode)
        case .size:
            guard !sizes.isEmpty else { return }
            let i = sizes.firstIndex { $0.0 == width && $0.1 == height } ?? (delta > 0 ? -1 : 0)
            let j = ((i + delta) % sizes.count + sizes.count) % sizes.count
            (width, height) = sizes[j]
            preset = nil
        case .batchCount:
            batchCount = min(Self.batchRange.upperBound, max(Self.batchRange.lowerBound, batchCount + delta * (coarse ? 4 : 1)))
        }
    }

    /// Applies a preset's sampling values (its model, prompts and LoRAs are not the sampler pane's business).
    public mutating func apply(_ p: GenerationPreset, named name: String) {
        preset = name
        if let s = p.sampler.flatMap(Sampler.init(rawValue:)) { sampler = s }
        if let s = p.scheduler.flatMap(Scheduler.init(rawValue:)) { scheduler = s }
        if let v = p.steps { steps = v }
        if let v = p.cfg { cfg = v }
        if let v = p.width { width = v }
        if let v = p.height { height = v }
    }
}
