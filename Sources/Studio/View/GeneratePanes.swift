import TerminalUI

/// The prompt, negative-prompt, LoRA and sampler panes: pure functions from the state into a frame region.
public enum GeneratePanes {
    /// A prompt editor pane (`.prompt` or `.negative`) with live token counts per encoder in the top border.
    public static func prompt(_ state: AppState, pane: Pane, focused: Bool, into frame: inout Frame, rect: Rect, theme: Theme) {
        let inner = frame.panel(rect, title: pane.title, focused: focused, theme: theme)
        guard !inner.isEmpty else { return }
        let editor = pane == .negative ? state.negative : state.prompt
        let counts = pane == .negative ? state.negativeTokens : state.promptTokens
        if let counts, rect.width > 30 {
            // `L 12/75 G 12/75` at the right of the top border; a window over 75 tokens shows e.g. 98/150.
            let text = " L \(TokenCount.text(counts.clipL)) G \(TokenCount.text(counts.clipG)) "
            let over = (counts.clipL.count > 1 || counts.clipG.count > 1)
            let w = DisplayWidth.of(text)
            if w + 14 < rect.width {
                frame.text(text, col: rect.maxX - 2 - w, row: rect.y, style: .role(over ? .warning : .dim))
            }
        }
        let placeholder = pane == .negative ? "what to avoid (used when cfg > 1)" : "describe the image… enter generates"
        TextInput.render(editor, into: &frame, rect: inner, theme: theme, focused: focused, placeholder: placeholder,
                         roles: PromptHighlighter.roles(editor.lines))
    }

    /// The LoRA stack: one slider row per LoRA with its on/off marker and matched/unmatched key badge.
    public static func loras(_ state: AppState, focused: Bool, into frame: inout Frame, rect: Rect, theme: Theme) {
        let enabled = state.loras.filter(\.enabled).count
        let title = state.loras.isEmpty ? "LoRA" : "LoRA \(enabled)/\(state.loras.count)"
        let list = frame.panel(rect, title: title, focused: focused, theme: theme)
        guard !list.isEmpty else { return }
        if state.loras.isEmpty {
            frame.text(focused ? "no LoRAs — a adds one" : "no LoRAs", in: list, style: .role(.dim))
            return
        }
        let offset = ListState(count: state.loras.count, selected: state.loraSelection).visibleOffset(height: list.height)
        for r in 0..<list.height {
            let i = offset + r
            guard i < state.loras.count else { break }
            let item = state.loras[i]
            let row = Rect(x: list.x, y: list.y + r, width: list.width, height: 1)
            let parts = LoRARowLayout(row: row)
            let selected = i == state.loraSelection
            Slider.render(item.slider, into: &frame, rect: parts.slider, theme: theme, focused: selected && focused)
            if !item.enabled { frame.restyle(parts.slider, fg: .role(.dim)) }
            frame.text(item.enabled ? "●" : "○", col: parts.marker.x, row: row.y, style: .role(item.enabled ? .accent : .dim))
            badge(item.status, into: &frame, rect: parts.badge)
            if case .loraStrength(let id)? = state.entry?.target, id == item.id {
                entryField(state.entry!, label: "strength", into: &frame, rect: parts.slider, theme: theme)
            }
            if selected && focused { frame.restyle(row, bg: .role(.selection)) }
        }
    }

    /// `257✓ 0✗`: keys that adapt a weight and keys that match nothing (warning colour when any).
    static func badge(_ status: LoRAStatus, into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        switch status {
        case .loading: frame.text("loading…", in: rect, align: .right, style: .role(.dim))
        case .failed: frame.text("failed", in: rect, align: .right, style: .role(.error, attrs: [.bold]))
        case let .ready(_, matched, unmatched):
            let bad = "\(unmatched)✗", good = "\(matched)✓"
            let x = rect.maxX - DisplayWidth.of(bad) - 1 - DisplayWidth.of(good)
            frame.text(good, col: x, row: rect.y, style: .role(.plot2), clip: rect)
            frame.text(bad, col: rect.maxX - DisplayWidth.of(bad), row: rect.y, style: .role(unmatched > 0 ? .warning : .dim), clip: rect)
        }
    }

    /// A typed value in progress, drawn over the control it edits: `label: 0.75▏`.
    static func entryField(_ entry: ValueEntry, label: String, into frame: inout Frame, rect: Rect, theme: Theme) {
        guard !rect.isEmpty else { return }
        frame.fill(rect, style: Style(bg: .role(.selection)))
        let w = frame.text(label + ": ", col: rect.x, row: rect.y, style: .role(.accent, attrs: [.bold]), clip: rect)
        let field = Rect(x: rect.x + w, y: rect.y, width: max(0, rect.width - w), height: 1)
        TextInput.render(entry.editor, into: &frame, rect: field, theme: theme, focused: true)
    }

    /// The sampler settings as a grid of `label value` cells (two columns when wide).
    public static func sampler(_ state: AppState, layout: StudioLayout, focused: Bool, into frame: inout Frame, theme: Theme) {
        let rect = layout.rect(.sampler)
        let inner = frame.panel(rect, title: "Sampler", focused: focused, theme: theme)
        guard !inner.isEmpty else { return }
        for field in SamplerField.allCases {
            let cell = layout.samplerCell(field)
            guard !cell.isEmpty else { continue }
            let selected = focused && field == state.samplerField
            let labelWidth = min(10, cell.width / 2)
            frame.text(field.label, in: Rect(x: cell.x, y: cell.y, width: labelWidth, height: 1), style: .role(.dim))
            let valueRect = Rect(x: cell.x + labelWidth, y: cell.y, width: cell.width - labelWidth, height: 1)
            var value = state.sampler.valueText(field)
            if selected && !field.isTypeable { value = "‹ \(value) ›" }
            frame.text(value, in: valueRect, style: .role(selected ? .accent : .text, attrs: selected ? [.bold] : []))
            if selected { frame.restyle(cell, bg: .role(.selection)) }
            if case .sampler(let f)? = state.entry?.target, f == field {
                entryField(state.entry!, label: field.label, into: &frame, rect: cell, theme: theme)
            }
        }
    }
}
