import Foundation

/// How much memory loading a checkpoint and generating one image needs, and whether that fits.
///
/// Weights: parameters × 4 bytes as fp32 (the engine's compute type), or × 2 if kept in half precision
/// and converted per use. Working set: a coarse allowance for activations at the image size, dominated by
/// the VAE decoder at full resolution (a few 128-channel fp32 maps of H×W) and the largest attention
/// score matrix (VAE mid-block, one head over (H/8·W/8)² tokens; docs/sdxl-inference-reference.md §2f),
/// plus a fixed 512 MiB for the UNet's activations, the text encoders and the process itself.
/// The mapped checkpoint file is page cache, which the kernel can drop, so it is not counted.
public struct MemoryEstimate: Sendable, Equatable, Encodable {
    /// Parameters to hold.
    public var parameterCount: Int
    /// Weights as fp32.
    public var weightBytesF32: Int
    /// Weights kept as 16-bit floats.
    public var weightBytesF16: Int
    /// Activation allowance for the image size.
    public var workingSetBytes: Int
    /// Image width and height the allowance is for.
    public var width: Int
    /// Image height.
    public var height: Int

    /// Fixed part of the working set (UNet activations at ≤ 1024², text encoders, runtime).
    public static let baseWorkingSet = 512 << 20
    /// Full-resolution 128-channel fp32 maps alive at once in the VAE decoder's last level.
    public static let decoderLiveMaps = 4

    /// Estimate for `parameterCount` parameters and a `width`×`height` image.
    public init(parameterCount: Int, width: Int = 1024, height: Int = 1024) {
        self.parameterCount = parameterCount
        self.weightBytesF32 = parameterCount * 4
        self.weightBytesF16 = parameterCount * 2
        self.width = width
        self.height = height
        let pixels = width * height
        let latentTokens = (width / 8) * (height / 8)
        self.workingSetBytes = Self.baseWorkingSet + Self.decoderLiveMaps * 128 * pixels * 4 + latentTokens * latentTokens * 4
    }

    /// Estimate for everything in a checkpoint layout (a LoRA counts its own parameters only).
    public init(layout: CheckpointLayout, width: Int = 1024, height: Int = 1024) {
        let params = layout.lora?.parameterCount ?? layout.parameterCount
        self.init(parameterCount: params, width: width, height: height)
    }

    /// Bytes needed in total: weights (fp32, or f16 when `halfWeights`) plus the working set.
    public func neededBytes(halfWeights: Bool = false) -> Int {
        (halfWeights ? weightBytesF16 : weightBytesF32) + workingSetBytes
    }

    /// The outcome of comparing a need with what the machine has.
    public enum Verdict: Equatable, Sendable {
        /// It fits, with this many bytes to spare.
        case fits(spareBytes: Int)
        /// It does not; `message` is one line such as "model.safetensors: needs ~15.2 GiB, 7.8 GiB available".
        case refuse(message: String)
    }

    /// Decides whether `needed` bytes fit in `available` (pure; `label` names the file in the message).
    public static func decide(needed: Int, available: Int, label: String) -> Verdict {
        if needed <= available { return .fits(spareBytes: available - needed) }
        return .refuse(message: "\(label): needs ~\(gib(needed)) GiB, \(gib(available)) GiB available")
    }

    /// `decide` for this estimate.
    public func verdict(available: Int, label: String, halfWeights: Bool = false) -> Verdict {
        Self.decide(needed: neededBytes(halfWeights: halfWeights), available: available, label: label)
    }

    private enum CodingKeys: String, CodingKey {
        case parameterCount = "parameter_count", weightBytesF32 = "weight_bytes_f32", weightBytesF16 = "weight_bytes_f16"
        case workingSetBytes = "working_set_bytes", width, height
        case neededF32 = "needed_bytes_f32", neededF16 = "needed_bytes_f16"
    }

    /// Encodes the inputs plus both totals, in snake_case like the rest of `sumi inspect --json`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(parameterCount, forKey: .parameterCount)
        try c.encode(weightBytesF32, forKey: .weightBytesF32)
        try c.encode(weightBytesF16, forKey: .weightBytesF16)
        try c.encode(workingSetBytes, forKey: .workingSetBytes)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(neededBytes(), forKey: .neededF32)
        try c.encode(neededBytes(halfWeights: true), forKey: .neededF16)
    }

    /// Bytes as GiB with one decimal ("13.9").
    public static func gib(_ bytes: Int) -> String {
        String(format: "%.1f", Double(bytes) / Double(1 << 30))
    }
}

/// The two numbers of /proc/meminfo that matter here.
public struct MemInfo: Sendable, Equatable {
    /// `MemTotal` in bytes.
    public var totalBytes: Int?
    /// `MemAvailable` in bytes (what can be allocated without swapping, per the kernel's estimate).
    public var availableBytes: Int?

    /// Parses the text of /proc/meminfo (`Name:   12345 kB` lines).
    public static func parse(_ text: String) -> MemInfo {
        var info = MemInfo()
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " })
            guard parts.count >= 2, let v = Int(parts[1]) else { continue }
            let bytes = parts.count >= 3 && parts[2] == "kB" ? v * 1024 : v
            switch parts[0] {
            case "MemTotal": info.totalBytes = bytes
            case "MemAvailable": info.availableBytes = bytes
            default: break
            }
        }
        return info
    }

    /// Reads /proc/meminfo (nil fields when it is missing, e.g. on macOS).
    public static func read(path: String = "/proc/meminfo") -> MemInfo {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return MemInfo() }
        return parse(text)
    }
}
