import Checkpoint
import Foundation
import Tensor

/// What a training checkpoint records besides tensors (`state.json`).
public struct TrainingCheckpointState: Codable, Equatable, Sendable {
    /// Format version.
    public var version = 1
    /// Optimizer steps completed.
    public var step: Int
    /// The run's seed (each step's generator is derived from it and the step, see `TrainingLoop`).
    public var seed: UInt64
    /// Hash of the configuration that shapes the run (`TrainingConfig.trajectoryHash`).
    public var configHash: String
    /// Objective names, in loop order.
    public var objectives: [String]
    /// "adamw" or "adamw8bit".
    public var optimizer: String
    /// Optimizer scalars (per-parameter step counts).
    public var optimizerScalars: [String: Double]
    /// Where the data stream continues; nil when the run has no loader.
    public var dataPosition: DataPosition?
    /// Byte sizes of the tensor files, checked on load (catches truncation or a swapped file).
    public var fileSizes: [String: Int]
    /// Unix time of writing.
    public var time: Double
    /// Free-form notes (from the config's metadata).
    public var metadata: [String: String]
}

/// One directory per checkpoint (`<root>/step-00000120/`): `weights.safetensors` (trainable tensors as
/// `<objective>.<name>`), `optimizer.safetensors` (fp32 moments, 8-bit codes as U8, block absmax values) and
/// `state.json` (`TrainingCheckpointState`). `<root>/latest` names the newest complete one.
///
/// Crash safety: the directory is written as `step-….tmp-<pid>-<n>`, every file fsynced, the directory fsynced,
/// then renamed into place and the parent fsynced; only then is `latest` replaced (temp file + fsync + rename).
/// A kill at any moment leaves `latest` naming a complete checkpoint (or absent); stray `.tmp-` directories are
/// removed by the next run.
public enum TrainingCheckpoint {
    /// Name of the pointer file.
    public static let latestFile = "latest"
    static let stateFile = "state.json", weightsFile = "weights.safetensors", optimizerFile = "optimizer.safetensors"

    /// `step-00000120`.
    public static func directoryName(step: Int) -> String { String(format: "step-%08d", step) }

    /// Writes a checkpoint under `root` and points `latest` at it; returns its path. `weights` are saved as named.
    @discardableResult
    public static func write(root: String, state: TrainingCheckpointState, weights: [(String, Tensor)],
                             optimizer: Optimizer) throws -> String {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw TrainingError.io(path: root, reason: "cannot create directory: \(error.localizedDescription)")
        }
        let name = directoryName(step: state.step)
        let final = (root as NSString).appendingPathComponent(name)
        let tmp = final + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
            let wPath = (tmp as NSString).appendingPathComponent(weightsFile)
            try SafeTensorsWriter.write(weights.map { (name: $0.0, tensor: $0.1) }, to: wPath)
            let oPath = (tmp as NSString).appendingPathComponent(optimizerFile)
            try writeOptimizer(optimizer, to: oPath)
            var st = state
            st.optimizerScalars = Dictionary(optimizer.stateScalars(), uniquingKeysWith: { a, _ in a })
            st.fileSizes = [weightsFile: try fileSize(wPath), optimizerFile: try fileSize(oPath)]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try writeSynced(try encoder.encode(st), to: (tmp as NSString).appendingPathComponent(stateFile))
            fsyncPath(tmp)
            if fm.fileExists(atPath: final) {
                // Same step written again (a resumed run passing an earlier kill's checkpoint): move the old one
                // aside first; `latest` never names it here, since resuming starts after it.
                let aside = final + ".tmp-old-\(getpid())"
                try fm.moveItem(atPath: final, toPath: aside)
                try fm.moveItem(atPath: tmp, toPath: final)
                try? fm.removeItem(atPath: aside)
            } else {
                guard rename(tmp, final) == 0 else {
                    throw TrainingError.io(path: final, reason: "cannot rename \(tmp): \(String(cString: strerror(errno)))")
                }
            }
            fsyncPath(root)
            try writeSynced(Data((name + "\n").utf8), to: (root as NSString).appendingPathComponent(latestFile), atomic: true)
            fsyncPath(root)
        } catch {
            try? fm.removeItem(atPath: tmp)
            if error is TrainingError { throw error }
            throw TrainingError.io(path: final, reason: "\(error)")
        }
        return final
    }

    /// The checkpoint `latest` names, or nil when there is no `latest` file.
    public static func latest(root: String) throws -> String? {
        let pointer = (root as NSString).appendingPathComponent(latestFile)
        guard FileManager.default.fileExists(atPath: pointer) else { return nil }
        guard let text = try? String(contentsOfFile: pointer, encoding: .utf8) else {
            throw TrainingError.corruptCheckpoint(path: pointer, reason: "unreadable pointer file")
        }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard name.hasPrefix("step-"), !name.contains("/") else {
            throw TrainingError.corruptCheckpoint(path: pointer, reason: "does not name a checkpoint directory")
        }
        return (root as NSString).appendingPathComponent(name)
    }

    /// A checkpoint read back and checked: its state, weights file and optimizer file.
    public struct Loaded {
        /// The directory.
        public let path: String
        /// `state.json`.
        public let state: TrainingCheckpointState
        /// The trainable tensors.
        public let weights: SafeTensorsFile
        /// The optimizer's tensors.
        public let optimizer: SafeTensorsFile
    }

    /// Reads and validates a checkpoint directory (every problem is a `corruptCheckpoint` naming the file).
    public static func read(_ dir: String) throws -> Loaded {
        let statePath = (dir as NSString).appendingPathComponent(stateFile)
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw TrainingError.corruptCheckpoint(path: statePath, reason: "missing or unreadable")
        }
        let state: TrainingCheckpointState
        do { state = try JSONDecoder().decode(TrainingCheckpointState.self, from: data) } catch {
            throw TrainingError.corruptCheckpoint(path: statePath, reason: "not a valid state file (\(error))")
        }
        guard state.version == 1 else {
            throw TrainingError.corruptCheckpoint(path: statePath, reason: "unknown format version \(state.version)")
        }
        func open(_ file: String) throws -> SafeTensorsFile {
            let p = (dir as NSString).appendingPathComponent(file)
            guard let size = try? fileSize(p) else { throw TrainingError.corruptCheckpoint(path: p, reason: "missing") }
            guard size == state.fileSizes[file] else {
                throw TrainingError.corruptCheckpoint(path: p, reason: "\(size) bytes, state.json recorded \(state.fileSizes[file].map(String.init) ?? "none")")
            }
            do { return try SafeTensorsFile(path: p) } catch {
                throw TrainingError.corruptCheckpoint(path: p, reason: "\(error)")
            }
        }
        return Loaded(path: dir, state: state, weights: try open(weightsFile), optimizer: try open(optimizerFile))
    }

    /// Copies the saved tensors into `weights` (every name must be present with its shape, and nothing else).
    public static func restoreWeights(_ weights: [(String, Tensor)], from loaded: Loaded) throws {
        let file = loaded.weights
        let expected = Set(weights.map(\.0))
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw TrainingError.corruptCheckpoint(path: file.path, reason: "unexpected tensor \(extra)")
        }
        for (name, t) in weights {
            guard let info = file.info(name) else {
                throw TrainingError.corruptCheckpoint(path: file.path, reason: "missing tensor \(name)")
            }
            guard info.shape == t.shape, info.dtype == .f32 else {
                throw TrainingError.corruptCheckpoint(path: file.path,
                                                      reason: "tensor \(name) is \(info.dtype.rawValue) \(info.shape), expected F32 \(t.shape)")
            }
            let v = try file.tensor(name)
            t.data.update(from: v.data, count: t.count)
        }
    }

    /// Restores the optimizer's state exactly (8-bit codes included).
    public static func restoreOptimizer(_ optimizer: Optimizer, from loaded: Loaded) throws {
        let file = loaded.optimizer
        var tensors: [String: Tensor] = [:], codes: [String: [UInt8]] = [:]
        do {
            for info in file.tensorInfos {
                switch info.dtype {
                case .f32: tensors[info.name] = try file.tensor(info.name)
                case .u8: codes[info.name] = try file.withRawBytes(info.name) { Array($0) }
                default:
                    throw TrainingError.corruptCheckpoint(path: file.path, reason: "tensor \(info.name) has dtype \(info.dtype.rawValue)")
                }
            }
            if let q = optimizer as? AdamW8bit {
                try q.loadState(tensors: tensors, scalars: loaded.state.optimizerScalars, codes: codes)
            } else {
                guard codes.isEmpty else {
                    throw TrainingError.corruptCheckpoint(path: file.path, reason: "8-bit state for a 32-bit optimizer")
                }
                try optimizer.loadState(tensors: tensors, scalars: loaded.state.optimizerScalars)
            }
        } catch let e as TrainingError { throw e } catch {
            throw TrainingError.corruptCheckpoint(path: file.path, reason: "\(error)")
        }
    }

    /// Removes all but the newest `keep` checkpoints (never the one `latest` names) and stray temporaries.
    public static func prune(root: String, keep: Int) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root) else { return }
        let current = (try? latest(root: root)).flatMap { $0 }.map { ($0 as NSString).lastPathComponent }
        for n in names where n.contains(".tmp-") { try? fm.removeItem(atPath: (root as NSString).appendingPathComponent(n)) }
        guard keep > 0 else { return }
        let complete = names.filter { $0.hasPrefix("step-") && !$0.contains(".") }.sorted()
        for n in complete.dropLast(keep) where n != current {
            try? fm.removeItem(atPath: (root as NSString).appendingPathComponent(n))
        }
    }

    /// Optimizer tensors as F32, 8-bit codes as U8 (4× smaller than their Float export).
    static func writeOptimizer(_ optimizer: Optimizer, to path: String) throws {
        let bytes = (optimizer as? AdamW8bit)?.stateBytes() ?? []
        let coded = Set(bytes.map(\.0))
        let tensors = optimizer.stateTensors().filter { !coded.contains($0.0) }
        var keep: [Any] = []   // keeps buffers alive while the writer reads them
        var entries: [(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer)] = []
        for (name, t) in tensors {
            keep.append(t)
            entries.append((name, .f32, t.shape, UnsafeRawBufferPointer(start: t.data, count: 4 * t.count)))
        }
        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        for (name, b) in bytes {
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(b.count, 1), alignment: 8)
            buffers.append(buf)
            b.withUnsafeBytes { buf.copyMemory(from: $0) }
            entries.append((name, .u8, [b.count], UnsafeRawBufferPointer(rebasing: buf[0..<b.count])))
        }
        try withExtendedLifetime(keep) { try SafeTensorsWriter.write(entries: entries, to: path) }
    }

    static func fileSize(_ path: String) throws -> Int {
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        return (attrs[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Writes `data` and fsyncs it; `atomic` writes a temporary beside it and renames it over `path`.
    static func writeSynced(_ data: Data, to path: String, atomic: Bool = false) throws {
        let target = atomic ? path + ".tmp-\(getpid())" : path
        let fd = Foundation.open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TrainingError.io(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        var ok = true
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { ok = false; break }
                off += n
            }
        }
        if fsync(fd) != 0 { ok = false }
        close(fd)
        guard ok else {
            unlink(target)
            throw TrainingError.io(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
        }
        if atomic, rename(target, path) != 0 {
            unlink(target)
            throw TrainingError.io(path: path, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
        }
    }

    /// fsync on a directory (makes renames and new entries durable); best effort.
    static func fsyncPath(_ path: String) {
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
