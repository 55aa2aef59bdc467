import Diffusion
import Dispatch
import Foundation
import Imaging
import Tensor
import TerminalUI
import Trainer

/// How the studio is started (the executable resolves paths and reads the environment; nothing here does).
public struct StudioOptions {
    /// Checkpoint file or diffusers folder (nil: no generation, e.g. only watching a training run).
    public var modelPath: String?
    /// Run the tiny test architecture (end-to-end tests).
    public var tinyArchitecture = false
    /// CLIP merges file.
    public var tokenizerPath: String
    /// The theme, and the error that made it fall back to the default (shown in the status bar).
    public var theme: Theme = .dark
    /// Why the requested theme could not be used.
    public var themeError: String?
    /// sixel / blocks / auto.
    public var imageMode: ImageMode = .auto
    /// Where images go.
    public var outputDirectory = "outputs"
    /// Settings file (nil: nothing is remembered).
    public var settingsPath: String?
    /// Folders with presets (`*.toml`).
    public var presetDirectories: [String] = []
    /// Preset applied on a first start (no settings file yet), e.g. "emoji" for the embedded model.
    public var defaultPreset: String?
    /// Folders searched for LoRA files.
    public var loraDirectories: [String] = []
    /// Hash cache for metadata hashes (nil: no hashes).
    public var hashCachePath: String?
    /// `sumi 0.1.0`.
    public var generator = "sumi"
    /// The process environment (sixel hints for terminals that do not answer).
    public var environment: [String: String] = [:]
    /// Worker threads.
    public var threads: Int?
    /// Matrix-product precision (nil: automatic for the model).
    public var precision: Precision?
    /// Training metrics file (JSON lines) for the Train tab, followed while the studio runs.
    public var watchPath: String?

    /// Options for `modelPath` with the CLIP merges at `tokenizerPath`.
    public init(modelPath: String?, tokenizerPath: String) {
        self.modelPath = modelPath
        self.tokenizerPath = tokenizerPath
    }
}

/// The studio's run loop: terminal input and engine events go through the reducer, effects are performed,
/// and the pure render is presented. The terminal is restored on every way out (see `NcursesBackend`).
public final class StudioApp {
    let options: StudioOptions
    let tokenizer: CLIPTokenizer
    let engine: Engine?
    var state: AppState
    var settingsDirtyAt: Double?
    var lastSavedSettings: StudioSettings?
    var countedPrompt: String?
    var countedNegative: String?
    /// Problems found while starting (settings, presets), shown once the UI is up and printed at exit.
    var startupWarnings: [String] = []
    var follower: MetricsFileFollower?
    /// The preview scaled for half-blocks, so an idle screen does not rescale a 1024² image 20 times a second.
    var scaledPreview: (source: RGBImage, rect: Rect, scaled: RGBImage)?
    var lastPoll = 0.0

    /// Prepares the studio: reads the tokenizer, settings and presets (errors here are fatal only for the tokenizer).
    public init(options: StudioOptions) throws {
        self.options = options
        let tokenizer = try CLIPTokenizer(mergesPath: options.tokenizerPath)
        self.tokenizer = tokenizer
        engine = options.modelPath.map { path in Engine(configuration: EngineConfiguration(
            modelPath: path, tinyArchitecture: options.tinyArchitecture, tokenizer: tokenizer,
            outputDirectory: options.outputDirectory, generator: options.generator, hashCachePath: options.hashCachePath,
            threads: options.threads, precision: options.precision)) }
        state = AppState(size: Size(width: 80, height: 24))
        state.outputDirectory = options.outputDirectory
        state.rng ^= UInt64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds)
        let firstStart = options.settingsPath.map { !FileManager.default.fileExists(atPath: $0) } ?? true
        if let path = options.settingsPath {
            do {
                let settings = try StudioSettings.load(path: path)
                settings.apply(to: &state)
                lastSavedSettings = settings
            } catch {
                startupWarnings.append("\(error) — using defaults")
            }
        }
        state.presets = Self.loadPresets(options.presetDirectories, warnings: &startupWarnings)
        if firstStart, let name = options.defaultPreset, let named = state.presets.first(where: { $0.name == name }) {
            state.sampler.apply(named.preset, named: name)
        }
        if let e = options.themeError { startupWarnings.insert(e + " — using the default theme", at: 0) }
        if let w = options.watchPath {
            follower = MetricsFileFollower(path: w)
            state.dashboard.sampleBase = (w as NSString).deletingLastPathComponent
            state.tab = .train
        }
    }

    /// Presets from `*.toml` in the folders (first folder wins a name).
    static func loadPresets(_ dirs: [String], warnings: inout [String]) -> [NamedPreset] {
        var out: [NamedPreset] = []
        for dir in dirs {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".toml") }.sorted()
            for file in names {
                let name = String(file.dropLast(5))
                guard !out.contains(where: { $0.name == name }) else { continue }
                do { out.append(NamedPreset(name: name, preset: try GenerationPreset(path: (dir as NSString).appendingPathComponent(file)))) }
                catch { warnings.append("\(error)") }
            }
        }
        return out
    }

    /// Runs until the user quits; returns the process exit code.
    public func run() -> Int32 {
        if let engine { engine.start() } else { state.model = .failed("no model loaded (start with --model PATH)") }
        let session = TerminalSession(options: SessionOptions(imageMode: options.imageMode, environment: options.environment))
        session.start()
        defer { session.stop() }
        if !state.loras.isEmpty { engine?.send(.syncLoRAs(state.loras.map(\.slot))) }
        if let w = startupWarnings.first {
            state.now = Self.clock()
            state.message = StatusMessage(text: w, role: .error, time: state.now)
        }
        session.run { event, size in
            var messages: [StudioMessage] = [.tick(Self.clock())]
            if size != state.size { messages.append(.resize(size)) }
            switch event {
            case .key(let k)?: messages.append(.key(k))
            case .paste(let p)?: messages.append(.paste(p))
            case .mouse(let m)?: messages.append(.mouse(m))
            case .resize?, nil: break
            }
            messages += (engine?.drainEvents() ?? []).map { .engine($0) }
            for m in messages { dispatch(m) }
            if state.shouldQuit { return nil }
            refreshPanes()
            updateTokenCounts()
            saveSettingsIfDue(force: false)
            return Screen(frame: StudioView.render(state, theme: options.theme, size: size), theme: options.theme,
                          images: prescaled(StudioView.images(state, size: size), mode: session.imageMode))
        }
        session.stop()
        saveSettingsIfDue(force: true)
        engine?.shutdown()
        for w in startupWarnings { FileHandle.standardError.write(Data("sumi: \(w)\n".utf8)) }
        return 0
    }

    /// In half-block mode, images scaled once to the cells they fill (the session's own scaling then does nothing).
    /// Comparing the cached source is cheap: an unchanged preview shares its pixel buffer.
    func prescaled(_ requests: [ImageRequest], mode: ImageMode) -> [ImageRequest] {
        guard mode == .blocks else { return requests }
        return requests.map { r in
            if let c = scaledPreview, c.rect == r.rect, c.source == r.image { return ImageRequest(image: c.scaled, rect: r.rect) }
            let (w, h) = HalfBlock.fittedPixels(imageWidth: r.image.width, imageHeight: r.image.height, cols: r.rect.width,
                                                rows: r.rect.height)
            let scaled = w > 0 && h > 0 ? r.image.resized(toWidth: w, height: h) : r.image
            scaledPreview = (r.image, r.rect, scaled)
            return ImageRequest(image: scaled, rect: r.rect)
        }
    }

    /// Monotonic seconds.
    static func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func dispatch(_ message: StudioMessage) {
        let (next, effects) = StudioReducer.update(state, message)
        state = next
        for e in effects { perform(e) }
    }

    func perform(_ effect: StudioEffect) {
        switch effect {
        case .generate(let spec): engine?.send(.generate(spec))
        case .cancel: engine?.send(.cancel)
        case .syncLoRAs(let slots): engine?.send(.syncLoRAs(slots))
        case .openLoRAPicker:
            let roots = options.loraDirectories.filter { FileManager.default.fileExists(atPath: $0) }
            dispatch(.pickerOpened(FilePickerState(roots: roots.map { ($0 as NSString).standardizingPath })))
        case .scanGallery:
            dispatch(.gallery(GalleryState.scanned(folder: options.outputDirectory)))
        case .galleryAdd(let path):
            guard var g = state.gallery else { return }
            g.add(path: path)
            dispatch(.gallery(g))
        case .saveSettings: if settingsDirtyAt == nil { settingsDirtyAt = state.now }
        case .quit: break   // `state.shouldQuit` ends the loop
        }
    }

    /// File-system work the panes ask for: thumbnails of the selected gallery image and dashboard sample, and
    /// new metrics lines (polled twice a second).
    func refreshPanes() {
        if state.tab == .gallery, var g = state.gallery, g.thumbnailRequest != nil {
            g.loadThumbnailIfNeeded()
            dispatch(.gallery(g))
        }
        if let follower, state.now - lastPoll >= 0.5 {
            lastPoll = state.now
            var d = state.dashboard
            if d.poll(follower) { dispatch(.dashboard(d)) }
        }
        if state.tab == .train, state.dashboard.thumbnailRequest != nil {
            var d = state.dashboard
            d.loadThumbnailIfNeeded()
            dispatch(.dashboard(d))
        }
    }

    /// Token counts per encoder window, recomputed only when a prompt changed.
    func updateTokenCounts() {
        if countedPrompt != state.prompt.text {
            countedPrompt = state.prompt.text
            state.promptTokens = TokenCounter.count(state.prompt.text, tokenizer: tokenizer)
        }
        if countedNegative != state.negative.text {
            countedNegative = state.negative.text
            state.negativeTokens = TokenCounter.count(state.negative.text, tokenizer: tokenizer)
        }
    }

    /// Writes settings at most once a second while editing, and at exit.
    func saveSettingsIfDue(force: Bool) {
        guard let path = options.settingsPath else { return }
        if !force, let t = settingsDirtyAt, state.now - t < 1 { return }
        if !force && settingsDirtyAt == nil { return }
        settingsDirtyAt = nil
        let settings = StudioSettings(state: state)
        guard settings != lastSavedSettings else { return }
        do {
            try settings.save(path: path)
            lastSavedSettings = settings
        } catch {
            state.message = StatusMessage(text: "\(error)", role: .error, time: state.now)
        }
    }
}

/// Counting prompt tokens the way the conditioner packs them.
public enum TokenCounter {
    /// Tokens per 75-token window for CLIP-L and bigG (BOS, EOS and padding not counted).
    public static func count(_ text: String, syntax: PromptSyntax = .comfy, tokenizer: CLIPTokenizer) -> TokenCount {
        let segments = PromptWeighting.parse(text, syntax: syntax)
        func windows(_ pad: Int32) -> [Int] {
            TokenizedPrompt(segments: segments, packing: syntax, tokenizer: tokenizer, padID: pad).chunks.map { max(0, $0.eosIndex - 1) }
        }
        return TokenCount(clipL: windows(tokenizer.eos), clipG: windows(CLIPTokenizer.bigGPad))
    }
}
