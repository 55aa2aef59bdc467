import Checkpoint
import Foundation

// What a checkpoint file or folder is, decided from tensor names and shapes only (safetensors headers;
// no tensor data is read, except the tiny `.alpha` scalars of a LoRA). The layouts recognised are those
// of docs/sdxl-inference-reference.md §1a (single-file SDXL), §1b (diffusers folder), §1c (LDM vs
// diffusers UNet names) and §1d (LoRA formats).

/// Errors from recognising a checkpoint; each description is one line that names the file or folder.
public enum CheckpointLayoutError: Error, CustomStringConvertible, Equatable {
    /// Nothing exists at the path.
    case notFound(path: String)
    /// The file could not be read as safetensors (carries the reader's one-line message).
    case unreadable(path: String, reason: String)
    /// A diffusers folder lacks a part it needs (a subfolder or its weights).
    case missingPart(folder: String, part: String, reason: String)
    /// A folder that is neither a diffusers pipeline nor a component folder.
    case notACheckpointFolder(path: String)

    /// One line, starting with the path.
    public var description: String {
        switch self {
        case let .notFound(p): return "\(p): no such file or folder"
        case let .unreadable(p, r): return r.hasPrefix(p) ? r : "\(p): \(r)"
        case let .missingPart(f, part, r): return "\((f as NSString).appendingPathComponent(part)): \(r)"
        case let .notACheckpointFolder(p):
            return "\(p): not a diffusers folder (no model_index.json) and no *.safetensors inside"
        }
    }
}

/// A recognised checkpoint: its kind and, per sub-model, the tensors that belong to it.
public struct CheckpointLayout: Sendable {
    /// What the file or folder is as a whole.
    public enum Kind: Equatable, Sendable {
        /// One file with the SGM prefixes (`model.diffusion_model.`, `conditioner.embedders.N.…`, `first_stage_model.`).
        case sdxlSingleFile
        /// An SD 1.x / 2.x single file (`cond_stage_model.`): recognised, not supported by this engine.
        case sd1SingleFile
        /// A diffusers pipeline folder (`model_index.json` plus component subfolders); `pipeline` is its `_class_name`.
        case diffusersFolder(pipeline: String?)
        /// A file (or component folder) holding one sub-model without a pipeline prefix.
        case component(Role)
        /// A LoRA / LyCORIS adapter (see `CheckpointLayout.lora`).
        case lora
        /// Nothing recognisable.
        case unknown

        /// Short human label.
        public var label: String {
            switch self {
            case .sdxlSingleFile: return "single-file SDXL checkpoint"
            case .sd1SingleFile: return "single-file SD 1.x/2.x checkpoint (recognised, not supported)"
            case .diffusersFolder(let p): return "diffusers folder" + (p.map { " (\($0))" } ?? "")
            case .component(let r): return "bare \(r.label) file"
            case .lora: return "LoRA adapter"
            case .unknown: return "unknown"
            }
        }
    }

    /// The part of a pipeline a component plays.
    public enum Role: String, Sendable, CaseIterable, Codable {
        case unet, vae
        /// CLIP ViT-L/14 text model (SDXL `text_encoder`, `conditioner.embedders.0`).
        case clipL = "clip_l"
        /// OpenCLIP ViT-bigG/14 text model (SDXL `text_encoder_2`, `conditioner.embedders.1`).
        case clipG = "clip_g"
        /// A CLIP text model of another width (e.g. SD 2's OpenCLIP ViT-H).
        case textEncoder = "text_encoder"

        /// Human label used in reports.
        public var label: String {
            switch self {
            case .unet: return "UNet"
            case .vae: return "VAE"
            case .clipL: return "CLIP-L text"
            case .clipG: return "CLIP-bigG text"
            case .textEncoder: return "text encoder"
            }
        }
    }

    /// Which naming scheme a component's keys use.
    public enum Naming: String, Sendable, Codable {
        /// LDM/SGM names (`input_blocks.N.M`, `encoder.down.i.block.j`).
        case ldm
        /// diffusers names (`down_blocks.i.resnets.j`, `encoder.down_blocks.i`).
        case diffusers
        /// Hugging Face transformers CLIP names (`text_model.encoder.layers.i`).
        case transformers
        /// open_clip names (`transformer.resblocks.i`, packed `attn.in_proj_weight`).
        case openCLIP = "open_clip"
    }

    /// One sub-model: where its tensors are and what they add up to.
    public struct Component: Sendable {
        /// Its role in the pipeline.
        public var role: Role
        /// Key naming scheme.
        public var naming: Naming
        /// Key prefix inside the file(s) ("" for diffusers subfolders and bare files).
        public var prefix: String
        /// The file(s) holding it (several for sharded diffusers weights).
        public var files: [String]
        /// Number of tensors.
        public var tensorCount: Int
        /// Number of parameters (elements of all tensors except buffers such as `position_ids`).
        public var parameterCount: Int
        /// Tensor count per stored dtype.
        public var dtypeCounts: [DType: Int]
        /// Bytes of tensor data as stored.
        public var bytes: Int
        /// A short architecture note read from shapes (e.g. "SDXL: 320 ch, context 2048, ADM 2816").
        public var detail: String?
    }

    /// The path that was inspected.
    public var path: String
    /// What it is.
    public var kind: Kind
    /// Recognised sub-models, in pipeline order (UNet, CLIP-L, CLIP-bigG, VAE).
    public var components: [Component]
    /// Tensors that belong to no recognised component (e.g. `denoiser.sigmas`), with a few example names.
    public var otherTensorCount: Int
    /// Up to three names of such tensors.
    public var otherTensorExamples: [String]
    /// Size on disk of the weight files read (bytes; the sum over shards and components).
    public var fileBytes: Int
    /// Tensor count per stored dtype over everything read.
    public var dtypeCounts: [DType: Int]
    /// `__metadata__` of the file (of a single file or LoRA; empty for folders).
    public var metadata: [String: String]
    /// The adapter analysis when `kind == .lora`.
    public var lora: LoRAInfo?
    /// Remarks for the reader (unsupported model family, fp16 variant used, missing parts …).
    public var notes: [String]

    /// Total parameters over all components.
    public var parameterCount: Int { components.reduce(0) { $0 + $1.parameterCount } }
    /// The first component with this role.
    public func component(_ role: Role) -> Component? { components.first { $0.role == role } }
}

extension CheckpointLayout {
    /// Recognises the file or folder at `path`. Reads headers only (plus LoRA `.alpha` scalars).
    public static func detect(path: String) throws -> CheckpointLayout {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CheckpointLayoutError.notFound(path: path)
        }
        if isDir.boolValue { return try detectFolder(path) }
        let file = try open(path)
        return try detect(file: file)
    }

    /// Recognises an already opened safetensors file.
    public static func detect(file: SafeTensorsFile) throws -> CheckpointLayout {
        let infos = file.tensorInfos
        var layout = CheckpointLayout(path: file.path, kind: .unknown, components: [], otherTensorCount: 0,
                                      otherTensorExamples: [], fileBytes: fileSize(file.path) ?? (8 + file.headerLength + file.dataLength),
                                      dtypeCounts: countDTypes(infos), metadata: file.metadata, lora: nil, notes: [])
        if let lora = try LoRAInfo.analyze(file) {
            layout.kind = .lora
            layout.lora = lora
            return layout
        }
        let c = classify(infos)
        layout.kind = c.kind
        layout.components = c.groups.map { makeComponent($0, files: [file.path]) }
        layout.otherTensorCount = c.other.count
        layout.otherTensorExamples = Array(c.other.prefix(3).map(\.name))
        layout.notes = c.notes
        return layout
    }

    /// Opens a safetensors file, mapping reader errors to one-line `CheckpointLayoutError.unreadable`.
    static func open(_ path: String) throws -> SafeTensorsFile {
        do {
            return try SafeTensorsFile(path: path)
        } catch let e as CheckpointError {
            throw CheckpointLayoutError.unreadable(path: path, reason: e.description)
        }
    }

    /// Builds a component from grouped tensors.
    static func makeComponent(_ g: ComponentGroup, files: [String]) -> Component {
        var params = 0, bytes = 0
        for t in g.tensors {
            bytes += t.byteCount
            if !isBuffer(t.name) { params += t.elementCount }
        }
        return Component(role: g.role, naming: g.naming, prefix: g.prefix, files: files, tensorCount: g.tensors.count,
                         parameterCount: params, dtypeCounts: countDTypes(g.tensors), bytes: bytes,
                         detail: describe(g))
    }

    /// Non-parameter tensors that checkpoints sometimes carry.
    static func isBuffer(_ name: String) -> Bool {
        name.hasSuffix("position_ids") || name.hasSuffix("num_batches_tracked")
    }

    static func countDTypes(_ infos: [TensorInfo]) -> [DType: Int] {
        var d: [DType: Int] = [:]
        for i in infos { d[i.dtype, default: 0] += 1 }
        return d
    }

    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }
}
