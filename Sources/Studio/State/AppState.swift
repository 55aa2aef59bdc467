import Diffusion
import Imaging
import TerminalUI

/// The panes of the Generate tab that take focus, in tab order.
public enum Pane: String, CaseIterable, Sendable {
    case prompt, negative, loras, sampler, preview

    /// Title drawn in the pane's border.
    public var title: String {
        switch self {
        case .prompt: return "Prompt"
        case .negative: return "Negative"
        case .loras: return "LoRA"
        case .sampler: return "Sampler"
        case .preview: return "Preview"
        }
    }
}

/// The studio's top-level tabs.
public enum StudioTab: Int, CaseIterable, Sendable {
    case generate, gallery, train

    /// Tab title.
    public var title: String {
        switch self {
        case .generate: return "Generate"
        case .gallery: return "Gallery"
        case .train: return "Train"
        }
    }
}

/// Where a LoRA's file stands in the engine.
public enum LoRAStatus: Equatable, Sendable {
    /// Being read and matched against the model.
    case loading
    /// Loaded: adapter modules, keys that matched a weight and keys that matched nothing.
    case ready(modules: Int, matchedKeys: Int, unmatchedKeys: Int)
    /// Could not be used (one line, names the file).
    case failed(String)
}

/// One LoRA in the stack pane.
public struct LoRAItem: Equatable, Sendable {
    /// Stable id shared with the engine.
    public var id: Int
    /// File path.
    public var path: String
    /// The strength slider (−2…2, fine 0.05, coarse 0.25); its label is the LoRA's name.
    public var slider: SliderState
    /// On/off without forgetting the strength.
    public var enabled: Bool
    /// Engine status and key badge.
    public var status: LoRAStatus

    /// A LoRA at `strength`.
    public init(id: Int, path: String, strength: Double, enabled: Bool = true, status: LoRAStatus = .loading) {
        self.id = id
        self.path = path
        slider = SliderState(label: LoRAItem.displayName(path), value: strength)
        self.enabled = enabled
        self.status = status
    }

    /// The name shown: file name without `.safetensors`.
    public var name: String { slider.label }
    /// The current strength.
    public var strength: Double { slider.value }

    /// What the engine should hold for this LoRA.
    public var slot: LoRASlot { LoRASlot(id: id, path: path, strength: strength, enabled: enabled) }

    static func displayName(_ path: String) -> String {
        var name = path.split(separator: "/").last.map(String.init) ?? path
        if name.hasSuffix(".safetensors") { name.removeLast(".safetensors".count) }
        return name
    }
}

/// A LoRA as the engine should hold it.
public struct LoRASlot: Equatable, Sendable {
    /// Stable id (the UI's).
    public var id: Int
    /// File path.
    public var path: String
    /// Strength.
    public var strength: Double
    /// On or off.
    public var enabled: Bool

    /// A slot.
    public init(id: Int, path: String, strength: Double, enabled: Bool) {
        self.id = id
        self.path = path
        self.strength = strength
        self.enabled = enabled
    }
}

/// The model as the engine reports it.
public enum ModelStatus: Equatable, Sendable {
    /// Being loaded (the message says which step).
    case loading(String)
    /// Ready: display name, and the size multiple / architecture for size presets.
    case ready(name: String, sizeMultiple: Int, tiny: Bool)
    /// Loading failed (one line naming the file).
    case failed(String)
}

/// A running generation as the UI shows it.
public struct RunProgress: Equatable, Sendable {
    /// Which request this is (stale events from a cancelled run are ignored).
    public var runID: Int
    /// Image being made (0-based) and how many the request makes.
    public var image: Int
    /// Number of images.
    public var imageCount: Int
    /// Steps finished for the current image.
    public var step: Int
    /// Steps per image.
    public var steps: Int
    /// Seconds of sampling for the current image at the last finished step.
    public var elapsed: Double
    /// Seed of the current image.
    public var seed: UInt64
    /// What the engine is doing (`encoding`, `sampling`, `decoding`, `saving`).
    public var phase: String

    /// Progress for the bar.
    public var info: ProgressInfo {
        ProgressInfo(label: imageCount > 1 ? "[\(image + 1)/\(imageCount)] \(phase)" : phase, completed: step, total: steps,
                     elapsed: elapsed)
    }
}

/// The generation side of the state.
public enum JobStatus: Equatable, Sendable {
    /// Nothing running.
    case idle
    /// Sent to the engine, not started yet (e.g. waiting for the model).
    case queued(runID: Int)
    /// Sampling.
    case running(RunProgress)
    /// Cancel requested, waiting for the engine to stop between steps.
    case cancelling(runID: Int)

    /// Whether a job is in flight.
    public var isActive: Bool { self != .idle }
    /// The run in flight, if any.
    public var runID: Int? {
        switch self {
        case .idle: return nil
        case .queued(let id), .cancelling(let id): return id
        case .running(let p): return p.runID
        }
    }
}

/// The last finished generation.
public struct FinishedRun: Equatable, Sendable {
    /// Files written.
    public var paths: [String]
    /// Seeds of the images.
    public var seeds: [UInt64]
    /// Wall time of the whole request.
    public var seconds: Double
    /// Size of the images.
    public var width: Int
    /// Height of the images.
    public var height: Int
    /// Sampling speed of the last image (steps per second), when known.
    public var stepsPerSecond: Double? = nil
}

/// A typed value being entered for a slider or a sampler field.
public struct ValueEntry: Equatable, Sendable {
    /// What the value is for.
    public enum Target: Equatable, Sendable {
        case loraStrength(id: Int)
        case sampler(SamplerField)
    }
    /// Target.
    public var target: Target
    /// The text typed so far.
    public var editor: TextEditorState
}

/// A message on the status bar.
public struct StatusMessage: Equatable, Sendable {
    /// The text.
    public var text: String
    /// Its colour role (`statusText`, `warning`, `error`, `accent`).
    public var role: Role
    /// When it was posted (seconds, the `tick` clock); old messages fade out.
    public var time: Double
}

/// Everything the studio shows: a value, changed only by `StudioReducer.update`.
public struct AppState: Equatable {
    /// Terminal size (for layout-dependent input such as mouse hits and page sizes).
    public var size: Size
    /// Current time in seconds on a monotonic clock (from `tick` messages; the reducer never reads a clock).
    public var now: Double = 0
    /// Selected tab.
    public var tab: StudioTab = .generate
    /// Focused pane on the Generate tab.
    public var focus: Pane = .prompt
    /// Prompt editor.
    public var prompt = TextEditorState()
    /// Negative prompt editor.
    public var negative = TextEditorState()
    /// Token counts of the prompts (filled in by the app, which owns the tokenizer).
    public var promptTokens: TokenCount?
    /// Token counts of the negative prompt.
    public var negativeTokens: TokenCount?
    /// The LoRA stack, in application order.
    public var loras: [LoRAItem] = []
    /// Selected LoRA row.
    public var loraSelection = 0
    /// Next LoRA id.
    public var nextLoRAID = 1
    /// Sampler settings.
    public var sampler = SamplerSettings()
    /// Selected sampler row.
    public var samplerField: SamplerField = .preset
    /// Presets available (models/presets), by name.
    public var presets: [NamedPreset] = []
    /// The model.
    public var model: ModelStatus = .loading("starting")
    /// The generation in flight.
    public var job: JobStatus = .idle
    /// Next run id.
    public var nextRunID = 1
    /// Seed of the last started request (slider re-renders reuse it).
    public var lastSeed: UInt64?
    /// Last finished run.
    public var finished: FinishedRun?
    /// Image in the preview pane: a step preview while sampling, the result afterwards.
    public var preview: RGBImage?
    /// Whether `preview` is a final image (not a latent preview).
    public var previewIsFinal = false
    /// Typed value in progress.
    public var entry: ValueEntry?
    /// Help overlay shown.
    public var showHelp = false
    /// When ctrl+c was last pressed (a second press within `StudioReducer.quitWindow` quits).
    public var interruptAt: Double?
    /// When a LoRA strength last changed and a re-render is due (debounced).
    public var rerenderDueAt: Double?
    /// State for random seeds (SplitMix64), so the reducer stays a pure function.
    public var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// Status bar message.
    public var message: StatusMessage?
    /// Paths written by the run in flight.
    public var runPaths: [String] = []
    /// Seeds of the images written by the run in flight.
    public var runSeeds: [UInt64] = []
    /// Set when the app should exit.
    public var shouldQuit = false
    /// Output folder (shown in the preview pane).
    public var outputDirectory: String = "outputs"
    /// The LoRA file picker, while it is open.
    public var picker: FilePickerState?
    /// The Gallery tab (nil until first shown; the app scans the output folder then).
    public var gallery: GalleryState?
    /// The Train tab's metrics dashboard.
    public var dashboard = DashboardState()

    /// A fresh state for a terminal of `size`.
    public init(size: Size) { self.size = size }

    /// The selected LoRA, if any.
    public var selectedLoRA: LoRAItem? { loras.indices.contains(loraSelection) ? loras[loraSelection] : nil }

    /// Whether the model can run a generation now.
    public var modelReady: Bool { if case .ready = model { return true } else { return false } }

    /// Size presets for the loaded model.
    public var sizePresets: [(Int, Int)] {
        if case let .ready(_, multiple, tiny) = model { return SamplerSettings.sizePresets(multiple: multiple, tiny: tiny) }
        return SamplerSettings.sdxlBuckets
    }
}

/// Tokens of a prompt per CLIP encoder window (75 tokens each, BOS/EOS not counted).
public struct TokenCount: Equatable, Sendable {
    /// Tokens in each window for CLIP-L.
    public var clipL: [Int]
    /// Tokens in each window for OpenCLIP bigG.
    public var clipG: [Int]

    /// Counts.
    public init(clipL: [Int], clipG: [Int]) {
        self.clipL = clipL
        self.clipG = clipG
    }

    /// `23/75` or `98/150` for one encoder's windows.
    public static func text(_ windows: [Int]) -> String {
        "\(windows.reduce(0, +))/\(max(1, windows.count) * 75)"
    }
}

/// A generation preset and its name (`dmd2` for models/presets/dmd2.toml).
public struct NamedPreset: Equatable, Sendable {
    /// Name.
    public var name: String
    /// Values.
    public var preset: GenerationPreset

    /// A named preset.
    public init(name: String, preset: GenerationPreset) {
        self.name = name
        self.preset = preset
    }
}
