/// The help overlay: a centred box listing the key table for the current contexts, with the
/// reason next to each action that is unavailable right now.
public enum HelpOverlay {
    /// Draws the overlay over `area` (normally the whole frame).
    public static func render(_ entries: [HelpEntry], title: String = "Keys", into frame: inout Frame, area: Rect, theme: Theme) {
        var lines: [(keys: String, help: String, reason: String?, header: Bool)] = []
        var context: String? = nil
        let contexts = Set(entries.map(\.context))
        for e in entries {
            if contexts.count > 1 && e.context != context {
                if context != nil { lines.append(("", "", nil, true)) }
                lines.append((e.context, "", nil, true))
                context = e.context
            }
            lines.append((e.keys, e.help, e.disabledReason, false))
        }
        let keyWidth = min(16, entries.map { DisplayWidth.of($0.keys) }.max() ?? 0)
        let textWidth = lines.map { DisplayWidth.of($0.help) + ($0.reason.map { DisplayWidth.of($0) + 3 } ?? 0) }.max() ?? 0
        let box = area.centered(width: max(DisplayWidth.of(title) + 6, keyWidth + textWidth + 6), height: lines.count + 2)
        guard box.width >= 4, box.height >= 3 else { return }
        frame.fill(box, style: Style(bg: .role(.background)))
        let inner = frame.box(box, border: theme.border, title: title, style: .role(.borderFocused, attrs: theme.focusAttributes),
                              titleStyle: .role(.accent, attrs: [.bold]))
        for (i, l) in lines.enumerated() where i < inner.height {
            let y = inner.y + i
            if i == inner.height - 1 && lines.count > inner.height {
                frame.text("…", col: inner.x + 1, row: y, style: .role(.dim), clip: inner)
                break
            }
            if l.header {
                frame.text(l.keys, col: inner.x + 1, row: y, style: .role(.text, attrs: [.bold, .underline]), clip: inner)
                continue
            }
            let role: Role = l.reason == nil ? .accent : .dim
            frame.text(DisplayWidth.truncate(l.keys, to: keyWidth), col: inner.x + 1, row: y, style: .role(role), clip: inner)
            var x = inner.x + keyWidth + 3
            x += frame.text(l.help, col: x, row: y, style: .role(l.reason == nil ? .text : .dim), clip: inner)
            if let r = l.reason { frame.text(" (\(r))", col: x, row: y, style: .role(.warning), clip: inner) }
        }
    }
}
