import Diffusion
import Foundation
import TerminalUI
import TOMLKit

/// What the studio remembers between runs: the prompts (and prompt history), the LoRA stack and the sampler
/// settings, as TOML in `$XDG_CONFIG_HOME/sumi/studio.toml` (or `~/.config/sumi/studio.toml`).
///
/// ```toml
/// prompt = "1girl, (smile:1.2)"
/// negative = "lowres"
/// history = ["…"]
/// [sampler]
/// preset = "dmd2"
/// sampler = "lcm"
/// scheduler = "simple"
/// steps = 4
/// cfg = 1.0
/// seed = 42
/// seed_mode = "random"
/// width = 1024
/// height = 1024
/// batch_count = 1
/// [[loras]]
/// path = "models/loras/dmd2.safetensors"
/// strength = 1.0
/// enabled = true
/// ```
/// Every key is optional (missing keys keep their defaults); values of the wrong type or unknown names are
/// errors naming the file, so a hand-edited file never silently loses settings.
public struct StudioSettings: Codable, Equatable, Sendable {
    /// Prompt text.
    public var prompt: String = ""
    /// Negative prompt text.
    public var negative: String = ""
    /// Prompt history, oldest first (at most 50).
    public var history: [String] = []
    /// Sampler pane.
    public var sampler = SamplerValues()
    /// LoRA stack, in order.
    public var loras: [LoRA] = []

    /// The `[sampler]` table.
    public struct SamplerValues: Codable, Equatable, Sendable {
        public var preset: String?
        public var sampler: String?
        public var scheduler: String?
        public var steps: Int?
        public var cfg: Double?
        public var seed: Int64?
        public var seedMode: String?
        public var width: Int?
        public var height: Int?
        public var batchCount: Int?

        /// Empty: every value at its default.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case preset, sampler, scheduler, steps, cfg, seed, seedMode = "seed_mode", width, height, batchCount = "batch_count"
        }
    }

    /// One `[[loras]]` entry.
    public struct LoRA: Codable, Equatable, Sendable {
        public var path: String
        public var strength: Double
        public var enabled: Bool

        /// An entry.
        public init(path: String, strength: Double, enabled: Bool) {
            self.path = path
            self.strength = strength
            self.enabled = enabled
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decode(String.self, forKey: .path)
            strength = try c.decodeIfPresent(Double.self, forKey: .strength) ?? 1
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        }
    }

    /// Defaults.
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decodeIfPresent(String.self, forKey: .prompt) ?? ""
        negative = try c.decodeIfPresent(String.self, forKey: .negative) ?? ""
        history = try c.decodeIfPresent([String].self, forKey: .history) ?? []
        sampler = try c.decodeIfPresent(SamplerValues.self, forKey: .sampler) ?? SamplerValues()
        loras = try c.decodeIfPresent([LoRA].self, forKey: .loras) ?? []
    }

    /// The settings file under `configHome` (`$XDG_CONFIG_HOME`, or `~/.config`).
    public static func path(configHome: String) -> String {
        ((configHome as NSString).appendingPathComponent("sumi") as NSString).appendingPathComponent("studio.toml")
    }

    /// The config home from the environment: `$XDG_CONFIG_HOME`, else `$HOME/.config`.
    public static func configHome(environment: [String: String]) -> String {
        if let x = environment["XDG_CONFIG_HOME"], !x.isEmpty { return x }
        return ((environment["HOME"] ?? NSTemporaryDirectory()) as NSString).appendingPathComponent(".config")
    }

    /// Reads `path`: defaults when the file does not exist; an error naming the file when it is unusable.
    public static func load(path: String) throws -> StudioSettings {
        guard FileManager.default.fileExists(atPath: path) else { return StudioSettings() }
        guard let data = FileManager.default.contents(atPath: path) else { throw StudioError.settings(path: path, reason: "cannot read") }
        let text = String(decoding: data, as: UTF8.self)
        do {
            let settings = try TOMLDecoder().decode(StudioSettings.self, from: text)
            try settings.validate(path: path)
            return settings
        } catch let e as StudioError {
            throw e
        } catch let e as TOMLParseError {
            throw StudioError.settings(path: "\(path):\(e.source.begin.line)", reason: e.description)
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx), let DecodingError.keyNotFound(_, ctx),
                let DecodingError.dataCorrupted(ctx) {
            let key = ctx.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw StudioError.settings(path: path, reason: "key '\(key)': \(ctx.debugDescription)")
        } catch {
            throw StudioError.settings(path: path, reason: "\(error)")
        }
    }

    /// Names that must be known (sampler, scheduler, seed mode).
    func validate(path: String) throws {
        func bad(_ key: String, _ value: String, _ known: [String]) -> StudioError {
            .settings(path: path, reason: "key 'sampler.\(key)': unknown value '\(value)' (one of: \(known.joined(separator: ", ")))")
        }
        if let s = sampler.sampler, Sampler(rawValue: s) == nil { throw bad("sampler", s, Sampler.allCases.map(\.rawValue)) }
        if let s = sampler.scheduler, Scheduler(rawValue: s) == nil { throw bad("scheduler", s, Scheduler.allCases.map(\.rawValue)) }
        if let s = sampler.seedMode, SeedMode(rawValue: s) == nil { throw bad("seed_mode", s, SeedMode.allCases.map(\.rawValue)) }
    }

    /// Writes the settings atomically (temporary file in the same folder, then rename), creating the folder.
    public func save(path: String) throws {
        let text: String
        do { text = try TOMLEncoder().encode(self) } catch { throw StudioError.settings(path: path, reason: "cannot encode: \(error)") }
        try AtomicFile.write(Data(("# sumi studio settings (written by the studio; safe to edit while it is closed)\n" + text).utf8),
                             to: path)
    }
}

extension StudioSettings {
    /// The settings of `state`.
    public init(state: AppState) {
        prompt = state.prompt.text
        negative = state.negative.text
        history = Array(state.prompt.history.suffix(50))
        let s = state.sampler
        sampler.preset = s.preset
        sampler.sampler = s.sampler.rawValue
        sampler.scheduler = s.scheduler.rawValue
        sampler.steps = s.steps
        sampler.cfg = s.cfg
        sampler.seed = Int64(clamping: s.seed)
        sampler.seedMode = s.seedMode.rawValue
        sampler.width = s.width
        sampler.height = s.height
        sampler.batchCount = s.batchCount
        loras = state.loras.map { LoRA(path: $0.path, strength: $0.strength, enabled: $0.enabled) }
    }

    /// Puts the settings into `state` (LoRAs are added as `loading`; the app tells the engine).
    public func apply(to state: inout AppState) {
        state.prompt = TextEditorState(text: prompt, history: history)
        state.negative = TextEditorState(text: negative)
        var s = state.sampler
        s.preset = sampler.preset
        if let v = sampler.sampler.flatMap(Sampler.init(rawValue:)) { s.sampler = v }
        if let v = sampler.scheduler.flatMap(Scheduler.init(rawValue:)) { s.scheduler = v }
        if let v = sampler.steps { s.steps = min(SamplerSettings.stepsRange.upperBound, max(1, v)) }
        if let v = sampler.cfg, v.isFinite { s.cfg = min(SamplerSettings.cfgRange.upperBound, max(SamplerSettings.cfgRange.lowerBound, v)) }
        if let v = sampler.seed { s.seed = UInt64(max(0, v)) }
        if let v = sampler.seedMode.flatMap(SeedMode.init(rawValue:)) { s.seedMode = v }
        if let w = sampler.width, let h = sampler.height, w > 0, h > 0 { (s.width, s.height) = (w, h) }
        if let v = sampler.batchCount { s.batchCount = min(SamplerSettings.batchRange.upperBound, max(1, v)) }
        state.sampler = s
        state.loras = []
        for l in loras {
            state.loras.append(LoRAItem(id: state.nextLoRAID, path: l.path, strength: l.strength, enabled: l.enabled))
            state.nextLoRAID += 1
        }
        state.loraSelection = 0
    }
}

/// Errors of the studio; each description is one line naming the file.
public enum StudioError: Error, CustomStringConvertible, Equatable {
    /// The settings file is unusable.
    case settings(path: String, reason: String)
    /// A file could not be written.
    case write(path: String, reason: String)
    /// A command-line value is unusable.
    case invalidOption(String)

    /// One line.
    public var description: String {
        switch self {
        case let .settings(p, r): return "\(p): settings: \(r)"
        case let .write(p, r): return "\(p): cannot write: \(r)"
        case .invalidOption(let m): return m
        }
    }
}

/// Atomic file writes: a temporary file in the destination folder, flushed to disk, then renamed over the
/// destination, so a crash leaves either the old file or the new one, never half of one.
public enum AtomicFile {
    /// Writes `data` to `path`, creating the folder.
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw StudioError.write(path: path, reason: error.localizedDescription)
            }
        }
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StudioError.write(path: path, reason: String(cString: strerror(errno))) }
        var ok = data.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw StudioError.write(path: path, reason: reason)
        }
    }
}
