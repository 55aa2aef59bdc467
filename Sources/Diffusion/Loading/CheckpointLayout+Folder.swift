import Checkpoint
import Foundation

// diffusers pipeline folders (docs/sdxl-inference-reference.md §1b):
//   model_index.json, unet/ vae/ text_encoder/ text_encoder_2/ each with config.json and
//   *.safetensors (possibly sharded `name-0000k-of-0000n.safetensors`), fp16 copies named `*.fp16.safetensors`.

extension CheckpointLayout {
    /// Subfolders of an SDXL pipeline holding weights, with the role each plays.
    static let pipelineParts: [(folder: String, role: Role)] = [
        ("unet", .unet), ("text_encoder", .clipL), ("text_encoder_2", .clipG), ("vae", .vae),
    ]

    /// A diffusers pipeline folder, or a single component folder (config.json + weights).
    static func detectFolder(_ path: String) throws -> CheckpointLayout {
        let fm = FileManager.default
        let indexPath = (path as NSString).appendingPathComponent("model_index.json")
        guard fm.fileExists(atPath: indexPath) else {
            // A component folder such as `…/unet`: inspect its weights as a bare file.
            guard let files = try? weightFiles(in: path), !files.chosen.isEmpty else {
                throw CheckpointLayoutError.notACheckpointFolder(path: path)
            }
            return try componentFolder(path, files: files)
        }
        let index = try readIndex(indexPath)
        var layout = CheckpointLayout(path: path, kind: .diffusersFolder(pipeline: index.className), components: [],
                                      otherTensorCount: 0, otherTensorExamples: [], fileBytes: 0, dtypeCounts: [:],
                                      metadata: [:], lora: nil, notes: [])
        // Parts to read: those the index names (with a non-null class); the four SDXL parts if it names none.
        var parts = pipelineParts.filter { index.components.contains($0.folder) }
        if parts.isEmpty && index.components.isEmpty { parts = pipelineParts }
        if !(index.className ?? "").contains("XL") && !index.components.contains("text_encoder_2") {
            layout.notes.append("not an SDXL pipeline (\(index.className ?? "no _class_name")): recognised, not supported")
        }
        for part in parts {
            let dir = (path as NSString).appendingPathComponent(part.folder)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw CheckpointLayoutError.missingPart(folder: path, part: part.folder, reason: "missing (named in model_index.json)")
            }
            let files = try weightFiles(in: dir)
            guard !files.chosen.isEmpty else {
                let reason = files.hasBin ? "no *.safetensors weights (only .bin, which is not read)" : "no *.safetensors weights"
                throw CheckpointLayoutError.missingPart(folder: path, part: part.folder, reason: reason)
            }
            if files.usedFP16Variant {
                layout.notes.append("\(part.folder): only the fp16 variant is present; using it")
            }
            var infos: [TensorInfo] = []
            for f in files.chosen {
                let st = try open(f)
                infos += st.tensorInfos
                layout.fileBytes += fileSize(f) ?? 0
            }
            var g = ComponentGroup(role: part.role, naming: .diffusers, prefix: "", tensors: infos)
            if part.role == .clipL || part.role == .clipG {
                g.naming = .transformers
                g.role = textRole(g)
            }
            layout.components.append(makeComponent(g, files: files.chosen))
            for (d, n) in countDTypes(infos) { layout.dtypeCounts[d, default: 0] += n }
        }
        return layout
    }

    /// A folder with weights but no model_index.json: classified like a bare file.
    private static func componentFolder(_ path: String, files: WeightFiles) throws -> CheckpointLayout {
        var infos: [TensorInfo] = []
        var bytes = 0
        for f in files.chosen {
            infos += try open(f).tensorInfos
            bytes += fileSize(f) ?? 0
        }
        let c = classify(infos)
        var notes = c.notes
        if files.usedFP16Variant { notes.append("only the fp16 variant is present; using it") }
        return CheckpointLayout(path: path, kind: c.kind, components: c.groups.map { makeComponent($0, files: files.chosen) },
                                otherTensorCount: c.other.count, otherTensorExamples: Array(c.other.prefix(3).map(\.name)),
                                fileBytes: bytes, dtypeCounts: countDTypes(infos), metadata: [:], lora: nil, notes: notes)
    }

    /// The safetensors files of one component folder.
    struct WeightFiles {
        /// Files to read (full precision preferred; all shards of one variant).
        var chosen: [String]
        /// Whether only `.fp16.` files existed and were chosen.
        var usedFP16Variant: Bool
        /// Whether PyTorch pickles (`.bin`) exist.
        var hasBin: Bool
    }

    /// Picks the weight files of a component folder: the files without a `.fp16.` variant tag if any
    /// exist, else the fp16 ones.
    static func weightFiles(in dir: String) throws -> WeightFiles {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let st = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        let fp16 = st.filter { $0.contains(".fp16.") }
        let full = st.filter { !$0.contains(".fp16.") }
        let pick = full.isEmpty ? fp16 : full
        return WeightFiles(chosen: pick.map { (dir as NSString).appendingPathComponent($0) },
                           usedFP16Variant: full.isEmpty && !fp16.isEmpty,
                           hasBin: names.contains { $0.hasSuffix(".bin") })
    }

    /// The parts of model_index.json used here.
    struct PipelineIndex {
        var className: String?
        /// Component names whose value is a [library, class] pair with a non-null class.
        var components: Set<String>
    }

    static func readIndex(_ path: String) throws -> PipelineIndex {
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CheckpointLayoutError.unreadable(path: path, reason: "not a JSON object")
        }
        var comps = Set<String>()
        for (k, v) in obj where !k.hasPrefix("_") {
            if let pair = v as? [Any], pair.count == 2, pair[1] is String { comps.insert(k) }
        }
        return PipelineIndex(className: obj["_class_name"] as? String, components: comps)
    }
}
