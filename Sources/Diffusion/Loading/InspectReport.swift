import Checkpoint
import Foundation

/// The text and JSON that `sumi inspect` prints, as pure functions of a layout and a memory figure.
public enum InspectReport {
    /// Human-readable report for one file or folder. `availableBytes` is MemAvailable (nil: unknown).
    public static func render(_ layout: CheckpointLayout, memory: MemoryEstimate? = nil, availableBytes: Int? = nil) -> String {
        var out: [String] = [layout.path]
        func row(_ label: String, _ value: String) { out.append("  " + pad(label + ":", 9) + value) }

        row("layout", layout.kind.label)
        let tensors = layout.dtypeCounts.values.reduce(0, +)
        row("size", "\(bytes(layout.fileBytes)) on disk, \(tensors) tensors (\(dtypeList(layout.dtypeCounts)))")
        if let lora = layout.lora {
            renderLoRA(lora, into: &out)
        } else if !layout.components.isEmpty {
            let width = max(14, layout.components.map { $0.role.label.count }.max() ?? 0)
            for c in layout.components {
                var where_ = c.naming.rawValue + " names"
                if !c.prefix.isEmpty { where_ = c.prefix + ", " + where_ }
                if layout.components.count > 1 || c.files.count > 1, c.prefix.isEmpty, let f = c.files.first {
                    where_ = relative(f, to: layout.path) + (c.files.count > 1 ? " +\(c.files.count - 1) shards" : "")
                        + ", " + where_
                }
                out.append("  " + pad(c.role.label, width) + "  " + pad(count(c.parameterCount) + " params", 16)
                           + pad(dtypeList(c.dtypeCounts), 14) + "  " + pad(bytes(c.bytes), 10) + "  (" + where_ + ")")
                if let d = c.detail { out.append("  " + String(repeating: " ", count: width + 2) + d) }
            }
            if layout.components.count > 1 {
                out.append("  " + pad("total", width) + "  " + count(layout.parameterCount) + " params")
            }
        }
        if layout.otherTensorCount > 0 {
            row("other", "\(layout.otherTensorCount) tensor\(layout.otherTensorCount == 1 ? "" : "s") outside any component (e.g. "
                + layout.otherTensorExamples.joined(separator: ", ") + ")")
        }
        if let m = memory { out.append(contentsOf: memoryLines(m, availableBytes: availableBytes, layout: layout)) }
        for n in layout.notes { row("note", n) }
        return out.joined(separator: "\n")
    }

    private static func renderLoRA(_ l: LoRAInfo, into out: inout [String]) {
        func row(_ label: String, _ value: String) { out.append("  " + pad(label + ":", 9) + value) }
        row("format", l.format.rawValue)
        let targets = ["unet", "te1", "te2", "te"].compactMap { t in l.modulesPerTarget[t].map { "\(t) \($0)" } }
        row("modules", "\(l.moduleCount) (" + targets.joined(separator: ", ") + ")"
            + (l.unetPaths.map { ", UNet paths: \($0)" } ?? ""))
        if let lo = l.minRank, let hi = l.maxRank {
            row("rank", lo == hi ? "\(lo)" : "\(lo)–\(hi) (mixed: " + l.rankCounts.sorted { $0.key < $1.key }
                .map { "\($0.value)× \($0.key)" }.joined(separator: ", ") + ")")
        }
        if l.alphas.isEmpty {
            row("alpha", "not stored (scale 1, as ComfyUI applies it)")
        } else {
            row("alpha", l.alphas.map(number).joined(separator: ", ")
                + (l.modulesWithoutAlpha > 0 ? " (\(l.modulesWithoutAlpha) modules without alpha)" : ""))
            row("scale", l.scales.map(number).joined(separator: ", ") + " (alpha/rank, × strength)")
        }
        row("conv", l.hasConv ? "yes, \(l.convModules) k×k conv modules" : "no (linear / 1×1 only)")
        row("targets", l.moduleTypes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            .map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        row("params", count(l.parameterCount))
        if let b = l.baseModel { row("base", b) }
        let ss = l.trainingMetadata.filter { $0.key.hasPrefix("ss_network") }.sorted { $0.key < $1.key }
        if !ss.isEmpty { row("trained", ss.map { "\($0.key)=\(oneLine($0.value, max: 80))" }.joined(separator: ", ")) }
        if l.unrecognisedKeys > 0 {
            row("unknown", "\(l.unrecognisedKeys) keys not understood (e.g. \(l.unrecognisedExamples.joined(separator: ", ")))")
        }
    }

    private static func memoryLines(_ m: MemoryEstimate, availableBytes: Int?, layout: CheckpointLayout) -> [String] {
        if layout.lora != nil {
            return ["  " + pad("memory:", 9) + "adds ~\(bytes(m.weightBytesF32)) as fp32"]
        }
        var s = "~\(MemoryEstimate.gib(m.neededBytes())) GiB as fp32 (\(MemoryEstimate.gib(m.weightBytesF32)) GiB weights + "
            + "\(MemoryEstimate.gib(m.workingSetBytes)) GiB working set at \(m.width)×\(m.height)), "
            + "~\(MemoryEstimate.gib(m.neededBytes(halfWeights: true))) GiB with f16 weights"
        var lines: [String] = []
        if let a = availableBytes {
            s += "; \(MemoryEstimate.gib(a)) GiB available"
            lines.append("  " + pad("memory:", 9) + s)
            let name = (layout.path as NSString).lastPathComponent
            if case .refuse(let msg) = m.verdict(available: a, label: name) {
                if case .refuse = m.verdict(available: a, label: name, halfWeights: true) {
                    lines.append("  " + pad("warning:", 9) + msg)
                } else {
                    lines.append("  " + pad("warning:", 9) + msg + " (fits with f16 weights)")
                }
            }
        } else {
            lines.append("  " + pad("memory:", 9) + s)
        }
        return lines
    }

    // MARK: JSON

    /// One file's machine-readable report (or its error).
    public struct Entry: Encodable {
        /// The inspected path.
        public var path: String
        /// The one-line error when the file could not be recognised.
        public var error: String?
        /// "sdxl_single_file", "sd1_single_file", "diffusers_folder", "component", "lora", "unknown".
        public var kind: String?
        /// Human label of the kind.
        public var kindLabel: String?
        /// diffusers `_class_name` for folders.
        public var pipeline: String?
        /// Bytes on disk.
        public var fileBytes: Int?
        /// Tensor counts per dtype.
        public var dtypes: [String: Int]?
        /// Per-component summary.
        public var components: [ComponentEntry]?
        /// Total parameters.
        public var parameters: Int?
        /// Tensors outside every component.
        public var otherTensors: Int?
        /// Remarks.
        public var notes: [String]?
        /// LoRA analysis.
        public var lora: LoRAInfo?
        /// Memory estimate.
        public var memory: MemoryEstimate?
        /// MemAvailable at the time of the report.
        public var availableBytes: Int?
        /// The refusal line when fp32 loading would not fit.
        public var refusal: String?

        enum CodingKeys: String, CodingKey {
            case path, error, kind, pipeline, dtypes, components, parameters, notes, lora, memory, refusal
            case kindLabel = "kind_label", fileBytes = "file_bytes", otherTensors = "other_tensors"
            case availableBytes = "available_bytes"
        }
    }

    /// One component in JSON.
    public struct ComponentEntry: Encodable {
        /// `CheckpointLayout.Role` raw value ("unet", "clip_l", "clip_g", "vae", "text_encoder").
        public var role: String
        /// `CheckpointLayout.Naming` raw value.
        public var naming: String
        /// Key prefix inside the file.
        public var prefix: String
        /// Files holding the component.
        public var files: [String]
        /// Tensor count, parameter count and stored bytes.
        public var tensors: Int, parameters: Int, bytes: Int
        /// Tensor count per dtype.
        public var dtypes: [String: Int]
        /// Architecture note.
        public var detail: String?
    }

    /// The JSON entry for a recognised layout.
    public static func entry(_ l: CheckpointLayout, memory: MemoryEstimate?, availableBytes: Int?) -> Entry {
        var e = Entry(path: l.path)
        switch l.kind {
        case .sdxlSingleFile: e.kind = "sdxl_single_file"
        case .sd1SingleFile: e.kind = "sd1_single_file"
        case .diffusersFolder(let p): e.kind = "diffusers_folder"; e.pipeline = p
        case .component: e.kind = "component"
        case .lora: e.kind = "lora"
        case .unknown: e.kind = "unknown"
        }
        e.kindLabel = l.kind.label
        e.fileBytes = l.fileBytes
        e.dtypes = names(l.dtypeCounts)
        e.components = l.components.map {
            ComponentEntry(role: $0.role.rawValue, naming: $0.naming.rawValue, prefix: $0.prefix, files: $0.files,
                           tensors: $0.tensorCount, parameters: $0.parameterCount, bytes: $0.bytes,
                           dtypes: names($0.dtypeCounts), detail: $0.detail)
        }
        e.parameters = l.lora?.parameterCount ?? l.parameterCount
        e.otherTensors = l.otherTensorCount
        e.notes = l.notes
        e.lora = l.lora
        e.memory = memory
        e.availableBytes = availableBytes
        if let m = memory, let a = availableBytes, l.lora == nil,
           case .refuse(let msg) = m.verdict(available: a, label: (l.path as NSString).lastPathComponent) {
            e.refusal = msg
        }
        return e
    }

    /// The JSON entry for a path that failed.
    public static func entry(path: String, error: Error) -> Entry {
        var e = Entry(path: path)
        e.error = "\(error)"
        return e
    }

    /// Pretty-printed JSON array of entries (keys sorted, so output is stable).
    public static func json(_ entries: [Entry]) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(entries) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: formatting

    /// A count with 4 significant digits and a K/M/G suffix: 2567463684 → "2.567 G", 123060480 → "123.1 M".
    public static func count(_ n: Int) -> String {
        let units: [(Double, String)] = [(1e9, " G"), (1e6, " M"), (1e3, " K")]
        for (scale, suffix) in units where Double(n) >= scale {
            let v = Double(n) / scale
            let decimals = v >= 100 ? 1 : v >= 10 ? 2 : 3
            return String(format: "%.\(decimals)f", v) + suffix
        }
        return "\(n)"
    }

    /// Bytes in binary units: "6.46 GiB", "83.2 MiB", "512 B".
    public static func bytes(_ n: Int) -> String {
        let units: [(Int, String)] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (scale, suffix) in units where n >= scale {
            let v = Double(n) / Double(scale)
            return String(format: v >= 100 ? "%.0f %@" : v >= 10 ? "%.1f %@" : "%.2f %@", v, suffix)
        }
        return "\(n) B"
    }

    /// "F16 2514, F32 1", most frequent first.
    static func dtypeList(_ d: [DType: Int]) -> String {
        d.sorted { ($0.value, $1.key.rawValue) > ($1.value, $0.key.rawValue) }
            .map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
    }

    private static func names(_ d: [DType: Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: d.map { ($0.key.rawValue, $0.value) })
    }

    private static func number(_ x: Float) -> String {
        x == x.rounded() && abs(x) < 1e6 ? String(format: "%.1f", x) : String(format: "%.4g", x)
    }

    private static func pad(_ s: String, _ w: Int) -> String {
        s.count >= w ? s : s + String(repeating: " ", count: w - s.count)
    }

    private static func relative(_ file: String, to root: String) -> String {
        file.hasPrefix(root + "/") ? String(file.dropFirst(root.count + 1)) : (file as NSString).lastPathComponent
    }

    private static func oneLine(_ s: String, max: Int) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: " ")
        return flat.count > max ? String(flat.prefix(max)) + "…" : flat
    }
}
