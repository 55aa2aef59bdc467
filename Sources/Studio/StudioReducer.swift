import TerminalUI

/// The studio's reducer: `update(state, message) -> (state, effects)`. Pure — time arrives in `tick`
/// messages, randomness comes from the state's own generator, and everything that touches the world (the
/// engine, files) is returned as an effect for the app to perform.
public enum StudioReducer {
    /// A second ctrl+c within this many seconds quits.
    public static let quitWindow = 3.0
    /// Slider moves are coalesced for this long before a re-render starts.
    public static let rerenderDelay = 0.35
    /// How long an informational status message stays.
    public static let messageSeconds = 6.0

    /// Applies one message.
    public static func update(_ state: AppState, _ message: StudioMessage) -> (AppState, [StudioEffect]) {
        var s = state
        var fx: [StudioEffect] = []
        switch message {
        case .key(let key): handleKey(key, &s, &fx)
        case .paste(let text): handlePaste(text, &s)
        case .mouse(let m): handleMouse(m, &s, &fx)
        case .resize(let size): s.size = size
        case .tick(let now): tick(now, &s, &fx)
        case .engine(let e): handleEngine(e, &s, &fx)
        case .pickerOpened(let p): s.picker = p
        case .gallery(let g): s.gallery = g
        case .dashboard(let d): s.dashboard = d
        }
        return (s, fx)
    }

    // MARK: - Keys

    static func handleKey(_ key: Key, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        // The picker, gallery and dashboard have their own tables; keys they ignore fall through to ours.
        if !s.showHelp && s.entry == nil && paneHandlesKey(key, &s, &fx) { return }
        switch StudioKeys.table.resolve(key, contexts: StudioKeys.contexts(s), state: s) {
        case .perform(let action):
            if action != .interrupt { s.interruptAt = nil }
            perform(action, &s, &fx)
        case let .disabled(_, reason):
            post(reason, .warning, &s)
        case .unbound:
            if s.entry != nil {
                s.entry!.editor.handle(key)
            } else if s.tab == .generate && !s.showHelp && s.picker == nil {
                if s.focus == .prompt { s.prompt.handle(key) } else if s.focus == .negative { s.negative.handle(key) }
            }
        }
    }

    /// Offers `key` to the open picker or the shown Gallery / Train pane; true when it was theirs.
    static func paneHandlesKey(_ key: Key, _ s: inout AppState, _ fx: inout [StudioEffect]) -> Bool {
        if s.picker != nil {
            return pickerOutcome(s.picker!.handle(key), &s, &fx)
        }
        switch s.tab {
        case .generate: return false
        case .gallery:
            guard s.gallery != nil else { return false }
            return galleryOutcome(s.gallery!.handle(key), &s, &fx)
        case .train:
            return dashboardOutcome(s.dashboard.handle(key), &s)
        }
    }

    static func pickerOutcome(_ outcome: FilePickerState.Outcome, _ s: inout AppState, _ fx: inout [StudioEffect]) -> Bool {
        switch outcome {
        case .ignored: return false
        case .handled: return true
        case .cancelled: s.picker = nil
        case .picked(let path):
            s.picker = nil
            addLoRA(path: path, strength: 1, &s, &fx)
        }
        return true
    }

    static func galleryOutcome(_ outcome: GalleryState.Outcome, _ s: inout AppState, _ fx: inout [StudioEffect]) -> Bool {
        switch outcome {
        case .ignored: return false
        case .handled: return true
        case .restore(let recipe):
            restore(recipe, &s, &fx)
        case .reveal(let path): post(path, .accent, &s)
        case let .deleted(path, trashedTo):
            post("moved \(path) to \(trashedTo)", .statusText, &s)
        }
        return true
    }

    static func dashboardOutcome(_ outcome: DashboardState.Outcome, _ s: inout AppState) -> Bool {
        switch outcome {
        case .ignored: return false
        case .handled: return true
        case .openImage(let path): post(path, .accent, &s)
        }
        return true
    }

    /// Restores an image's settings from its metadata: prompts, sampler values and seed (fixed, so generating
    /// again reproduces it), and the strengths of LoRAs already in the stack (by name).
    public static func restore(_ r: ImageRecipe, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        s.prompt = TextEditorState(text: r.prompt, history: s.prompt.history)
        s.negative = TextEditorState(text: r.negativePrompt, history: s.negative.history)
        if let v = r.samplerValue { s.sampler.sampler = v }
        if let v = r.schedulerValue { s.sampler.scheduler = v }
        s.sampler.steps = r.steps
        s.sampler.cfg = r.cfg
        s.sampler.seed = r.seed
        s.sampler.seedMode = .fixed
        (s.sampler.width, s.sampler.height) = (r.width, r.height)
        s.sampler.preset = nil
        var missing: [String] = []
        for ref in r.loras {
            if let i = s.loras.firstIndex(where: { $0.name == ref.name }) {
                s.loras[i].slider.set(ref.strength)
                s.loras[i].enabled = true
            } else {
                missing.append(ref.name)
            }
        }
        for i in s.loras.indices where !r.loras.contains(where: { $0.name == s.loras[i].name }) { s.loras[i].enabled = false }
        s.tab = .generate
        s.focus = .prompt
        fx.append(.syncLoRAs(s.loras.map(\.slot)))
        fx.append(.saveSettings)
        post(missing.isEmpty ? "settings restored (seed \(r.seed), fixed)" : "restored; LoRA not in the stack: \(missing.joined(separator: ", "))",
             missing.isEmpty ? .accent : .warning, &s)
    }

    static func handlePaste(_ text: String, _ s: inout AppState) {
        if s.entry != nil {
            s.entry!.editor.apply(.insert(text.filter { !$0.isNewline }))
        } else if s.tab == .generate && s.focus == .prompt {
            s.prompt.apply(.insert(text))
        } else if s.tab == .generate && s.focus == .negative {
            s.negative.apply(.insert(text))
        }
    }

    static func perform(_ action: StudioAction, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        switch action {
        case .generate: startGeneration(&s, &fx, reuseSeed: false)
        case .cancel:
            guard let id = s.job.runID else { return }
            s.job = .cancelling(runID: id)
            s.rerenderDueAt = nil
            fx.append(.cancel)
            post("cancelling…", .warning, &s)
        case .interrupt:
            if let t = s.interruptAt, s.now - t <= quitWindow {
                quit(&s, &fx)
                return
            }
            s.interruptAt = s.now
            if let id = s.job.runID {
                s.job = .cancelling(runID: id)
                s.rerenderDueAt = nil
                fx.append(.cancel)
                post("cancelling — ctrl+c again quits", .warning, &s)
            } else {
                post("press ctrl+c again to quit", .warning, &s)
            }
        case .quit: quit(&s, &fx)
        case .nextPane, .previousPane:
            guard s.tab == .generate else { return }
            let all = Pane.allCases
            let i = all.firstIndex(of: s.focus) ?? 0
            s.focus = all[(i + (action == .nextPane ? 1 : all.count - 1)) % all.count]
        case .help: s.showHelp = true
        case .closeHelp: s.showHelp = false
        case .tabGenerate: s.tab = .generate
        case .tabGallery:
            s.tab = .gallery
            if s.gallery == nil { fx.append(.scanGallery) }
        case .tabTrain: s.tab = .train
        case .loraUp: s.loraSelection = max(0, s.loraSelection - 1)
        case .loraDown: s.loraSelection = max(0, min(s.loras.count - 1, s.loraSelection + 1))
        case .strengthDown: changeStrength(&s, &fx) { $0.step(-1) }
        case .strengthUp: changeStrength(&s, &fx) { $0.step(1) }
        case .strengthDownCoarse: changeStrength(&s, &fx) { $0.step(-1, coarse: true) }
        case .strengthUpCoarse: changeStrength(&s, &fx) { $0.step(1, coarse: true) }
        case .resetStrength: changeStrength(&s, &fx) { $0.set(0) }
        case .toggleLoRA:
            guard s.selectedLoRA != nil else { return }
            s.loras[s.loraSelection].enabled.toggle()
            loraChanged(&s, &fx)
        case .addLoRA: fx.append(.openLoRAPicker)
        case .removeLoRA:
            guard s.selectedLoRA != nil else { return }
            let removed = s.loras.remove(at: s.loraSelection)
            s.loraSelection = max(0, min(s.loraSelection, s.loras.count - 1))
            fx.append(.syncLoRAs(s.loras.map(\.slot)))
            post("removed \(removed.name)", .statusText, &s)
            loraChanged(&s, &fx)
        case .moveLoRAUp, .moveLoRADown:
            let i = s.loraSelection, j = action == .moveLoRAUp ? i - 1 : i + 1
            guard s.loras.indices.contains(i), s.loras.indices.contains(j) else { return }
            s.loras.swapAt(i, j)
            s.loraSelection = j
            fx.append(.saveSettings)
        case .typeStrength:
            guard let l = s.selectedLoRA else { return }
            s.entry = ValueEntry(target: .loraStrength(id: l.id), editor: TextEditorState(text: String(format: "%.2f", l.strength)))
        case .fieldUp: s.samplerField = SamplerField(rawValue: max(0, s.samplerField.rawValue - 1)) ?? s.samplerField
        case .fieldDown:
            s.samplerField = SamplerField(rawValue: min(SamplerField.allCases.count - 1, s.samplerField.rawValue + 1)) ?? s.samplerField
        case .valueDown: stepField(&s, &fx, -1, coarse: false)
        case .valueUp: stepField(&s, &fx, 1, coarse: false)
        case .valueDownCoarse: stepField(&s, &fx, -1, coarse: true)
        case .valueUpCoarse: stepField(&s, &fx, 1, coarse: true)
        case .typeValue:
            guard s.samplerField.isTypeable else { return }
            s.entry = ValueEntry(target: .sampler(s.samplerField),
                                 editor: TextEditorState(text: s.sampler.valueText(s.samplerField)))
        case .randomSeed:
            s.sampler.seed = nextRandomSeed(&s)
            fx.append(.saveSettings)
        case .commitEntry: commitEntry(&s, &fx)
        case .cancelEntry: s.entry = nil
        }
    }

    /// Adds a LoRA at the end of the stack, selects it and asks the engine to load it.
    public static func addLoRA(path: String, strength: Double, enabled: Bool = true, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        let item = LoRAItem(id: s.nextLoRAID, path: path, strength: strength, enabled: enabled)
        s.nextLoRAID += 1
        s.loras.append(item)
        s.loraSelection = s.loras.count - 1
        s.focus = .loras
        fx.append(.syncLoRAs(s.loras.map(\.slot)))
        fx.append(.saveSettings)
        post("loading \(item.name)…", .statusText, &s)
    }

    static func quit(_ s: inout AppState, _ fx: inout [StudioEffect]) {
        if s.job.isActive { fx.append(.cancel) }
        s.shouldQuit = true
        fx.append(.saveSettings)
        fx.append(.quit)
    }

    // MARK: - Generation

    static func nextRandomSeed(_ s: inout AppState) -> UInt64 {
        // SplitMix64; seeds are kept below 2³² as most UIs show them (torch uses the low 32 bits anyway).
        s.rng &+= 0x9E37_79B9_7F4A_7C15
        var z = s.rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) & 0xFFFF_FFFF
    }

    /// Starts a request: the seed mode picks the seeds (a re-render reuses the last seed, one image).
    static func startGeneration(_ s: inout AppState, _ fx: inout [StudioEffect], reuseSeed: Bool) {
        guard s.modelReady else {
            post(StudioKeys.needsModel(s) ?? "the model is not ready", .warning, &s)
            return
        }
        let seeds: [UInt64]
        if reuseSeed, let last = s.lastSeed {
            seeds = [last]
        } else {
            if s.sampler.seedMode == .random { s.sampler.seed = nextRandomSeed(&s) }
            let first = s.sampler.seed
            seeds = (0..<s.sampler.batchCount).map { first &+ UInt64($0) }
            if s.sampler.seedMode == .increment { s.sampler.seed = first &+ UInt64(s.sampler.batchCount) }
        }
        let id = s.nextRunID
        s.nextRunID += 1
        if s.job.isActive { fx.append(.cancel) }
        s.job = .queued(runID: id)
        s.lastSeed = seeds.first
        s.rerenderDueAt = nil
        s.runPaths = []
        s.runSeeds = []
        let text = s.prompt.text
        if !reuseSeed, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, s.prompt.history.last != text {
            // The editor keeps its own history for ↑/↓; rebuilding it is the only way to add an entry.
            s.prompt = TextEditorState(text: text, history: Array((s.prompt.history + [text]).suffix(50)))
        }
        fx.append(.generate(GenerationSpec(runID: id, prompt: text, negative: s.negative.text, settings: s.sampler,
                                           seeds: seeds, loras: s.loras.map(\.slot))))
        fx.append(.saveSettings)
    }

    // MARK: - LoRA and sampler edits

    static func changeStrength(_ s: inout AppState, _ fx: inout [StudioEffect], _ body: (inout SliderState) -> Void) {
        guard s.selectedLoRA != nil else { return }
        let before = s.loras[s.loraSelection].slider.value
        body(&s.loras[s.loraSelection].slider)
        if s.loras[s.loraSelection].slider.value != before { loraChanged(&s, &fx) }
    }

    /// A strength, switch or stack change: schedule the debounced same-seed re-render.
    static func loraChanged(_ s: inout AppState, _ fx: inout [StudioEffect]) {
        if s.lastSeed != nil && s.modelReady { s.rerenderDueAt = s.now + rerenderDelay } else { fx.append(.saveSettings) }
    }

    static func stepField(_ s: inout AppState, _ fx: inout [StudioEffect], _ delta: Int, coarse: Bool) {
        if s.samplerField == .preset {
            guard !s.presets.isEmpty else { post("no presets found (models/presets)", .warning, &s); return }
            let i = s.presets.firstIndex { $0.name == s.sampler.preset } ?? (delta > 0 ? -1 : 0)
            let p = s.presets[((i + delta) % s.presets.count + s.presets.count) % s.presets.count]
            s.sampler.apply(p.preset, named: p.name)
            if !s.sizePresets.contains(where: { $0 == (s.sampler.width, s.sampler.height) }), let first = s.sizePresets.first {
                (s.sampler.width, s.sampler.height) = first   // a preset's 1024² on the tiny test model
            }
        } else {
            s.sampler.step(s.samplerField, by: delta, coarse: coarse, sizes: s.sizePresets)
        }
        fx.append(.saveSettings)
    }

    static func commitEntry(_ s: inout AppState, _ fx: inout [StudioEffect]) {
        guard let entry = s.entry else { return }
        let text = entry.editor.text.trimmingCharacters(in: .whitespaces)
        switch entry.target {
        case .loraStrength(let id):
            guard let i = s.loras.firstIndex(where: { $0.id == id }) else { s.entry = nil; return }
            let range = s.loras[i].slider.range
            guard let v = Double(text), v.isFinite, range.contains(v) else {
                post("'\(text)' is not a strength in \(range.lowerBound)…\(range.upperBound)", .error, &s)
                return
            }
            s.entry = nil
            let before = s.loras[i].slider.value
            s.loras[i].slider.set(v)
            if s.loras[i].slider.value != before { loraChanged(&s, &fx) }
        case .sampler(let field):
            guard s.sampler.setTyped(text, field: field) else {
                post("'\(text)' is not a valid \(field.label)", .error, &s)
                return
            }
            s.entry = nil
            fx.append(.saveSettings)
        }
    }

    // MARK: - Mouse

    static func handleMouse(_ m: MouseEvent, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        guard m.pressed, !s.showHelp, s.entry == nil else { return }
        let layout = StudioLayout(size: s.size, loraCount: s.loras.count)
        if s.picker != nil {
            _ = pickerOutcome(s.picker!.handle(m, rect: StudioView.pickerRects(layout).inner), &s, &fx)
            return
        }
        if layout.tabs.contains(col: m.col, row: m.row), m.button == .left {
            if let i = Tabs.index(atColumn: m.col, titles: StudioView.tabTitles, rect: StudioView.tabsRect(layout)),
               let tab = StudioTab(rawValue: i) {
                perform([.generate: StudioAction.tabGenerate, .gallery: .tabGallery, .train: .tabTrain][tab]!, &s, &fx)
            }
            return
        }
        let inner = layout.body.inset(1)
        if s.tab == .gallery, s.gallery != nil {
            _ = galleryOutcome(s.gallery!.handle(m, rect: inner), &s, &fx)
            return
        }
        if s.tab == .train {
            _ = dashboardOutcome(s.dashboard.handle(m, rect: inner), &s)
            return
        }
        guard s.tab == .generate, let pane = layout.pane(atCol: m.col, row: m.row) else { return }
        let wheel = m.button == .wheelUp ? 1 : (m.button == .wheelDown ? -1 : 0)
        if m.button == .left { s.focus = pane }
        switch pane {
        case .loras:
            let list = layout.loraList
            guard list.contains(col: m.col, row: m.row) else { return }
            let offset = ListState(count: s.loras.count, selected: s.loraSelection).visibleOffset(height: list.height)
            let i = offset + m.row - list.y
            guard s.loras.indices.contains(i) else { return }
            s.focus = .loras
            s.loraSelection = i
            let row = LoRARowLayout(row: Rect(x: list.x, y: m.row, width: list.width, height: 1))
            if m.button == .left {
                if row.marker.contains(col: m.col, row: m.row) {
                    s.loras[i].enabled.toggle()
                    loraChanged(&s, &fx)
                } else if let v = row.value(atColumn: m.col, label: s.loras[i].name, range: s.loras[i].slider.range) {
                    changeStrength(&s, &fx) { $0.set(v) }
                }
            } else if wheel != 0 {
                changeStrength(&s, &fx) { $0.step(wheel, coarse: m.modifiers.contains(.shift)) }
            }
        case .sampler:
            guard let field = layout.samplerField(atCol: m.col, row: m.row) else { return }
            s.focus = .sampler
            s.samplerField = field
            if wheel != 0 { stepField(&s, &fx, wheel, coarse: m.modifiers.contains(.shift)) }
        default:
            break
        }
    }

    // MARK: - Time and engine events

    static func tick(_ now: Double, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        s.now = now
        if let due = s.rerenderDueAt, now >= due {
            s.rerenderDueAt = nil
            startGeneration(&s, &fx, reuseSeed: true)
        }
        if let m = s.message, m.role != .error, now - m.time > messageSeconds { s.message = nil }
        if let t = s.interruptAt, now - t > quitWindow { s.interruptAt = nil }
    }

    /// Shows a status message. An error stays at least `messageSeconds` before an informational message may
    /// replace it (a startup error, e.g. a broken theme, must not vanish behind "model ready").
    static func post(_ text: String, _ role: Role, _ s: inout AppState) {
        if let m = s.message, m.role == .error, role != .error, s.now - m.time < messageSeconds { return }
        s.message = StatusMessage(text: text, role: role, time: s.now)
    }

    static func handleEngine(_ e: EngineEvent, _ s: inout AppState, _ fx: inout [StudioEffect]) {
        switch e {
        case .modelLoading(let what): s.model = .loading(what)
        case let .modelReady(name, multiple, tiny):
            s.model = .ready(name: name, sizeMultiple: multiple, tiny: tiny)
            if !s.sizePresets.contains(where: { $0 == (s.sampler.width, s.sampler.height) }), let first = s.sizePresets.first,
               tiny || s.sampler.width % multiple != 0 || s.sampler.height % multiple != 0 {
                (s.sampler.width, s.sampler.height) = first
            }
            post("model \(name) ready", .accent, &s)
        case .modelFailed(let why):
            s.model = .failed(why)
            s.job = .idle
            post(why, .error, &s)
        case let .loraReady(id, modules, matched, unmatched):
            if let i = s.loras.firstIndex(where: { $0.id == id }) {
                s.loras[i].status = .ready(modules: modules, matchedKeys: matched, unmatchedKeys: unmatched)
                post("\(s.loras[i].name): \(modules) modules" + (unmatched > 0 ? ", \(unmatched) keys match nothing" : ""),
                     unmatched > 0 ? .warning : .statusText, &s)
            }
        case let .loraFailed(id, why):
            if let i = s.loras.firstIndex(where: { $0.id == id }) { s.loras[i].status = .failed(why) }
            post(why, .error, &s)
        case let .started(id, image, count, steps, seed):
            guard s.job.runID == id else { return }
            if case .cancelling = s.job { return }
            s.job = .running(RunProgress(runID: id, image: image, imageCount: count, step: 0, steps: steps, elapsed: 0,
                                         seed: seed, phase: "encoding"))
        case let .step(id, step, steps, elapsed, preview):
            guard case .running(var p) = s.job, p.runID == id else { return }
            (p.step, p.steps, p.elapsed, p.phase) = (step, steps, elapsed, "sampling")
            s.job = .running(p)
            if let preview { s.preview = preview; s.previewIsFinal = false }
        case let .phase(id, name):
            guard case .running(var p) = s.job, p.runID == id else { return }
            p.phase = name
            s.job = .running(p)
        case let .imageDone(id, image, path, seed):
            guard s.job.runID == id else { return }
            s.preview = image
            s.previewIsFinal = true
            s.runPaths.append(path)
            s.runSeeds.append(seed)
            if s.gallery != nil { fx.append(.galleryAdd(path)) }
        case let .finished(id, seconds):
            guard s.job.runID == id else { return }
            var rate: Double? = nil
            if case .running(let p) = s.job { rate = p.info.rate }
            s.job = .idle
            let (w, h) = s.preview.map { ($0.width, $0.height) } ?? (s.sampler.width, s.sampler.height)
            s.finished = FinishedRun(paths: s.runPaths, seeds: s.runSeeds, seconds: seconds, width: w, height: h, stepsPerSecond: rate)
            let where_ = s.runPaths.count == 1 ? s.runPaths[0] : "\(s.runPaths.count) images"
            post("done in \(String(format: "%.1f", seconds)) s · saved \(where_)", .accent, &s)
        case .cancelled(let id):
            guard s.job.runID == id else { return }
            s.job = .idle
            post("generation cancelled", .warning, &s)
        case let .failed(id, why):
            guard s.job.runID == id else { return }
            s.job = .idle
            post(why, .error, &s)
        }
    }
}
