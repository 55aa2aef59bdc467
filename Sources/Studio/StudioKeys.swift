import TerminalUI

/// The studio's one key table: dispatch, the help overlay and the status-bar hints all read it.
///
/// Contexts: `global` (always tried last), one per pane (`prompt` covers both prompt editors), and the
/// overlays (`help`, `entry`, `picker`), which take the keys while they are open. In the editors printable
/// keys are text, so global keys use ctrl/alt/function keys only; the list panes add vim keys (h j k l).
public enum StudioKeys {
    typealias B = KeyBinding<StudioAction, AppState>

    /// The table.
    public static let table = KeyTable<StudioAction, AppState>(global + prompt + loras + sampler + preview + overlays)

    static func needsModel(_ s: AppState) -> String? {
        switch s.model {
        case .ready: return nil
        case .loading: return "the model is still loading"
        case .failed: return "the model failed to load"
        }
    }
    static func needsJob(_ s: AppState) -> String? { s.job.isActive ? nil : "nothing is running" }
    static func needsLoRA(_ s: AppState) -> String? { s.selectedLoRA == nil ? "no LoRA in the stack (a adds one)" : nil }

    static let global: [B] = [
        B(.ctrl("g"), .f(5), action: .generate, help: "generate", whyDisabled: needsModel),
        B(.escape, action: .cancel, help: "cancel the generation", whyDisabled: needsJob),
        B(.ctrl("c"), action: .interrupt, help: "cancel; twice quits"),
        B(.ctrl("q"), action: .quit, help: "quit"),
        B(.tab, action: .nextPane, help: "next pane"),
        B(Key(.tab, [.shift]), action: .previousPane, help: "previous pane"),
        B(.f(1), action: .help, help: "help"),
        B(.alt("1"), action: .tabGenerate, help: "Generate tab"),
        B(.alt("2"), action: .tabGallery, help: "Gallery tab"),
        B(.alt("3"), action: .tabTrain, help: "Train tab"),
    ]

    static let prompt: [B] = [
        B(.enter, action: .generate, help: "generate (alt+enter: new line)", context: "prompt", whyDisabled: needsModel),
    ]

    static let loras: [B] = [
        B(.up, .char("k"), action: .loraUp, help: "previous LoRA", context: "loras"),
        B(.down, .char("j"), action: .loraDown, help: "next LoRA", context: "loras"),
        B(.left, .char("h"), action: .strengthDown, help: "strength −0.05", context: "loras", whyDisabled: needsLoRA),
        B(.right, .char("l"), action: .strengthUp, help: "strength +0.05", context: "loras", whyDisabled: needsLoRA),
        B(Key(.left, [.shift]), .char("H"), action: .strengthDownCoarse, help: "strength −0.25", context: "loras",
          whyDisabled: needsLoRA),
        B(Key(.right, [.shift]), .char("L"), action: .strengthUpCoarse, help: "strength +0.25", context: "loras",
          whyDisabled: needsLoRA),
        B(.enter, .char("="), action: .typeStrength, help: "type a strength", context: "loras", whyDisabled: needsLoRA),
        B(.char("0"), action: .resetStrength, help: "strength 0", context: "loras", whyDisabled: needsLoRA),
        B(.char(" "), action: .toggleLoRA, help: "on / off", context: "loras", whyDisabled: needsLoRA),
        B(.char("a"), action: .addLoRA, help: "add a LoRA", context: "loras"),
        B(.char("d"), Key(.delete), action: .removeLoRA, help: "remove", context: "loras", whyDisabled: needsLoRA),
        B(.char("K"), Key(.up, [.alt]), action: .moveLoRAUp, help: "move up", context: "loras", whyDisabled: { s in
            needsLoRA(s) ?? (s.loraSelection == 0 ? "already first" : nil)
        }),
        B(.char("J"), Key(.down, [.alt]), action: .moveLoRADown, help: "move down", context: "loras", whyDisabled: { s in
            needsLoRA(s) ?? (s.loraSelection >= s.loras.count - 1 ? "already last" : nil)
        }),
        B(.char("g"), action: .generate, help: "generate", context: "loras", whyDisabled: needsModel),
        B(.char("?"), action: .help, help: "help", context: "loras"),
        B(.char("q"), action: .quit, help: "quit", context: "loras"),
    ]

    static let sampler: [B] = [
        B(.up, .char("k"), action: .fieldUp, help: "previous setting", context: "sampler"),
        B(.down, .char("j"), action: .fieldDown, help: "next setting", context: "sampler"),
        B(.left, .char("h"), action: .valueDown, help: "previous value / −1", context: "sampler"),
        B(.right, .char("l"), action: .valueUp, help: "next value / +1", context: "sampler"),
        B(Key(.left, [.shift]), .char("H"), action: .valueDownCoarse, help: "big step down", context: "sampler"),
        B(Key(.right, [.shift]), .char("L"), action: .valueUpCoarse, help: "big step up", context: "sampler"),
        B(.enter, .char("="), action: .typeValue, help: "type a value", context: "sampler", whyDisabled: { s in
            s.samplerField.isTypeable ? nil : "\(s.samplerField.label) is chosen from a list (←/→)"
        }),
        B(.char("r"), action: .randomSeed, help: "random seed now", context: "sampler"),
        B(.char("g"), action: .generate, help: "generate", context: "sampler", whyDisabled: needsModel),
        B(.char("?"), action: .help, help: "help", context: "sampler"),
        B(.char("q"), action: .quit, help: "quit", context: "sampler"),
    ]

    static let preview: [B] = [
        B(.enter, .char("g"), action: .generate, help: "generate", context: "preview", whyDisabled: needsModel),
        B(.char("?"), action: .help, help: "help", context: "preview"),
        B(.char("q"), action: .quit, help: "quit", context: "preview"),
    ]

    static let overlays: [B] = [
        B(.escape, .char("?"), .char("q"), .f(1), action: .closeHelp, help: "close help", context: "help"),
        B(.enter, action: .commitEntry, help: "set the value", context: "entry"),
        B(.escape, action: .cancelEntry, help: "keep the old value", context: "entry"),
    ]

    /// The contexts to try for `state`, most specific first.
    public static func contexts(_ state: AppState) -> [String] {
        if state.showHelp { return ["help", "global"] }
        if state.entry != nil { return ["entry", "global"] }
        if state.picker != nil { return ["picker", "global"] }
        switch state.tab {
        case .generate: return [focusContext(state.focus), "global"]
        case .gallery: return ["gallery", "global"]
        case .train: return ["train", "global"]
        }
    }

    /// The key context of a pane.
    public static func focusContext(_ pane: Pane) -> String {
        switch pane {
        case .prompt, .negative: return "prompt"
        case .loras: return "loras"
        case .sampler: return "sampler"
        case .preview: return "preview"
        }
    }

    /// The editor's own keys (TextEditorState), listed in help under the prompt context; they are not bindings.
    public static let editorHelp: [HelpEntry] = [
        HelpEntry(keys: "alt+←/→", help: "word left / right", context: "prompt"),
        HelpEntry(keys: "ctrl+z/ctrl+y", help: "undo / redo", context: "prompt"),
        HelpEntry(keys: "↑/↓", help: "history (first / last line)", context: "prompt"),
        HelpEntry(keys: "ctrl+w/ctrl+k", help: "delete word / to line end", context: "prompt"),
    ]

    /// Help overlay lines for the current state (the picker, gallery and dashboard list their own keys first).
    public static func helpEntries(_ state: AppState) -> [HelpEntry] {
        var underneath = state
        underneath.showHelp = false   // list the keys of what the overlay covers
        let ctx = contexts(underneath)
        var entries = table.helpEntries(contexts: ctx, state: state)
        if let p = state.picker { return p.helpEntries + entries }
        if state.tab == .gallery, let g = state.gallery { return g.helpEntries + entries }
        if state.tab == .train { return state.dashboard.helpEntries + entries }
        if ctx.first == "prompt" {
            let split = entries.firstIndex { $0.context != "prompt" } ?? entries.count
            entries.insert(contentsOf: editorHelp, at: split)
        }
        return entries
    }
}
