import Imaging
import TerminalUI

/// The studio's presentation: `render(state, theme, size) -> Frame` plus the image requests for the
/// terminal layer (sixel over blank cells, or half-blocks drawn into the frame by the session).
public enum StudioView {
    /// Tab titles, in `StudioTab` order.
    public static let tabTitles = StudioTab.allCases.map(\.title)

    /// Where the tab row's tabs are (after the ` sumi ` badge).
    public static func tabsRect(_ layout: StudioLayout) -> Rect {
        layout.tabs.inset(left: min(layout.tabs.width, 7))
    }

    /// The whole screen.
    public static func render(_ state: AppState, theme: Theme, size: Size) -> Frame {
        var frame = Frame(size: size)
        let layout = StudioLayout(size: size, loraCount: state.loras.count)
        if layout.tooSmall {
            let (m, n) = (StudioLayout.minimum, StudioLayout.minimumStacked)
            let need = "need \(m.width)×\(m.height) or \(n.width)×\(n.height), have \(size.width)×\(size.height)"
            frame.text("terminal too small", in: Rect(size: size).centered(width: 18, height: 1), align: .center,
                       style: .role(.warning, attrs: [.bold]))
            if size.height > 2 {
                frame.text(need, in: Rect(x: 0, y: size.height / 2 + 1, width: size.width, height: 1), align: .center,
                           style: .role(.dim))
            }
            return frame
        }
        header(state, layout: layout, into: &frame, theme: theme)
        switch state.tab {
        case .generate: generateTab(state, layout: layout, into: &frame, theme: theme)
        case .gallery:
            let inner = frame.panel(layout.body, title: "Gallery · \(state.outputDirectory)", focused: !overlayShown(state), theme: theme)
            if let g = state.gallery {
                g.render(into: &frame, rect: inner, theme: theme, focused: !overlayShown(state))
            } else {
                frame.text("scanning \(state.outputDirectory)…", in: inner, style: .role(.dim))
            }
        case .train:
            let inner = frame.panel(layout.body, title: "Training", focused: !overlayShown(state), theme: theme)
            state.dashboard.render(into: &frame, rect: inner, theme: theme, focused: !overlayShown(state))
        }
        statusBar(state, layout: layout, into: &frame, theme: theme)
        if let picker = state.picker {
            let (box, inner) = pickerRects(layout)
            frame.fill(box, style: Style(bg: .role(.background)))
            frame.box(box, border: theme.border, title: "Add LoRA", style: .role(.borderFocused, attrs: theme.focusAttributes),
                      titleStyle: .role(.accent, attrs: [.bold]))
            picker.render(into: &frame, rect: inner, theme: theme, focused: !state.showHelp)
        }
        if state.showHelp { HelpOverlay.render(StudioKeys.helpEntries(state), into: &frame, area: layout.body, theme: theme) }
        return frame
    }

    /// The images to place: the preview, when the Generate tab shows one and no overlay covers it.
    public static func images(_ state: AppState, size: Size) -> [ImageRequest] {
        let layout = StudioLayout(size: size, loraCount: state.loras.count)
        guard !layout.tooSmall, state.tab == .generate, !state.showHelp, state.picker == nil,
              let image = state.preview, !layout.preview.image.isEmpty else { return [] }
        return [ImageRequest(image: image, rect: layout.preview.image)]
    }

    /// The frame with half-block images drawn in, as a non-sixel terminal shows it (snapshots, screenshots).
    public static func composed(_ state: AppState, theme: Theme, size: Size, colorMode: ColorMode = .direct) -> Frame {
        var frame = render(state, theme: theme, size: size)
        for r in images(state, size: size) { HalfBlock.render(r.image, into: &frame, rect: r.rect, colorMode: colorMode) }
        return frame
    }

    // MARK: - Parts

    static func overlayShown(_ state: AppState) -> Bool { state.showHelp || state.picker != nil }

    /// The picker overlay's box and its inside (the picker draws the inside).
    public static func pickerRects(_ layout: StudioLayout) -> (box: Rect, inner: Rect) {
        let area = layout.body
        let box = area.centered(width: min(area.width - 2, 76), height: min(area.height - 2, 18))
        return (box, box.inset(1))
    }

    static func header(_ state: AppState, layout: StudioLayout, into frame: inout Frame, theme: Theme) {
        frame.text(" sumi ", col: 0, row: layout.tabs.y, style: .role(.background, bg: .accent, attrs: [.bold]))
        let tabs = tabsRect(layout)
        Tabs.render(tabTitles, selected: state.tab.rawValue, into: &frame, rect: tabs, theme: theme)
        let (text, role): (String, Role)
        switch state.model {
        case .loading(let what): (text, role) = ("loading model · \(what)", .warning)
        case .ready(let name, _, _): (text, role) = (name, .dim)
        case .failed: (text, role) = ("model failed", .error)
        }
        let used = tabTitles.reduce(0) { $0 + DisplayWidth.of($1) + 3 }
        let room = tabs.width - used - 1
        if room > 8 {
            frame.text(text + " ", in: Rect(x: tabs.maxX - room, y: tabs.y, width: room, height: 1), align: .right, style: .role(role))
        }
    }

    static func generateTab(_ state: AppState, layout: StudioLayout, into frame: inout Frame, theme: Theme) {
        let overlay = state.showHelp || state.picker != nil
        func focused(_ p: Pane) -> Bool { !overlay && state.focus == p }
        GeneratePanes.prompt(state, pane: .prompt, focused: focused(.prompt), into: &frame, rect: layout.rect(.prompt), theme: theme)
        GeneratePanes.prompt(state, pane: .negative, focused: focused(.negative), into: &frame, rect: layout.rect(.negative),
                             theme: theme)
        GeneratePanes.loras(state, focused: focused(.loras), into: &frame, rect: layout.rect(.loras), theme: theme)
        GeneratePanes.sampler(state, layout: layout, focused: focused(.sampler), into: &frame, theme: theme)
        PreviewPane.render(state, layout: layout, focused: focused(.preview), into: &frame, theme: theme)
    }

    static func statusBar(_ state: AppState, layout: StudioLayout, into frame: inout Frame, theme: Theme) {
        let context = StudioKeys.contexts(state).first ?? "global"
        var left = [StatusItem(context == "prompt" ? state.focus.rawValue : context, role: .accent, bold: true)]
        if let m = state.message {
            left.append(StatusItem(m.text, role: m.role == .statusText ? .statusText : m.role, bold: m.role == .error))
        } else {
            left += hints(state, context: context).map { StatusItem($0) }
        }
        var right: [StatusItem] = []
        switch state.job {
        case .idle: break
        case .queued: right.append(StatusItem("queued", role: .warning))
        case .running(let p): right.append(StatusItem("\(p.phase) \(p.step)/\(p.steps)", role: .accent))
        case .cancelling: right.append(StatusItem("cancelling", role: .warning))
        }
        right.append(StatusItem("F1 help", role: .statusText))
        StatusBar.render(left: left, right: right, into: &frame, rect: layout.status, theme: theme)
    }

    /// A few `key action` hints for the focused context, straight from the key table.
    static func hints(_ state: AppState, context: String) -> [String] {
        let wanted: [StudioAction]
        switch context {
        case "prompt": wanted = [.generate, .nextPane, .interrupt]
        case "loras": wanted = state.loras.isEmpty ? [.addLoRA, .nextPane] : [.strengthUp, .toggleLoRA, .addLoRA, .typeStrength]
        case "sampler": wanted = [.valueUp, .typeValue, .generate]
        case "preview": wanted = [.generate, .nextPane]
        case "entry": wanted = [.commitEntry, .cancelEntry]
        case "picker": return ["enter pick", "esc close", "type to filter"]
        case "gallery": return (state.gallery?.helpEntries ?? []).prefix(4).map { "\($0.keys) \($0.help)" }
        case "train": return state.dashboard.helpEntries.prefix(4).map { "\($0.keys) \($0.help)" }
        case "help": wanted = [.closeHelp]
        default: wanted = [.tabGenerate, .quit]
        }
        let contexts = StudioKeys.contexts(state)
        return wanted.compactMap { action in
            for ctx in contexts {
                if let b = StudioKeys.table.bindings.first(where: { $0.context == ctx && $0.action == action }),
                   let key = b.keys.first {
                    return "\(key) \(b.help.split(separator: "(").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? b.help)"
                }
            }
            return nil
        }
    }
}
