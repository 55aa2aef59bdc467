import Foundation
import TerminalUI

/// Where the picker's parts go: location and filter on the first row, the list, and a footer row with the
/// highlighted file's summary (or a note).
struct FilePickerLayout {
    var header: Rect
    var list: Rect
    var footer: Rect

    init(rect: Rect) {
        var body: Rect
        (header, body) = rect.splitTop(min(1, rect.height))
        if body.height >= 3 { (body, footer) = body.splitBottom(1) } else { footer = Rect(x: rect.x, y: rect.maxY, width: rect.width, height: 0) }
        list = body
    }
}

extension FilePickerState {
    /// Draws the picker into `rect` (content only: the caller draws the pane border). Pure.
    public func render(into frame: inout Frame, rect: Rect, theme: Theme, focused: Bool = true) {
        guard !rect.isEmpty else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        let layout = FilePickerLayout(rect: rect)
        renderHeader(into: &frame, rect: layout.header, focused: focused)
        renderList(into: &frame, rect: layout.list, theme: theme, focused: focused)
        renderFooter(into: &frame, rect: layout.footer)
    }

    private func renderHeader(into frame: inout Frame, rect: Rect, focused: Bool) {
        guard !rect.isEmpty else { return }
        let filterText = filter.isEmpty ? "type to filter" : "filter: " + filter
        let filterWidth = min(rect.width / 2, DisplayWidth.of(filterText) + (filter.isEmpty ? 0 : 1))
        let filterRect = Rect(x: rect.maxX - filterWidth, y: rect.y, width: filterWidth, height: 1)
        frame.text(location, in: Rect(x: rect.x, y: rect.y, width: rect.width - filterWidth - 1, height: 1),
                   style: .role(.accent, attrs: [.bold]))
        if filter.isEmpty {
            frame.text(filterText, in: filterRect, align: .right, style: .role(.dim))
        } else {
            let shown = DisplayWidth.truncate(filterText, to: max(0, filterWidth - 1))
            let x = filterRect.x + frame.text(shown, col: filterRect.x, row: rect.y, style: .role(.text), clip: filterRect)
            if focused { frame.text(" ", col: x, row: rect.y, style: Style(fg: .role(.text), attrs: [.reverse]), clip: filterRect) }
        }
    }

    private func renderList(into frame: inout Frame, rect: Rect, theme: Theme, focused: Bool) {
        guard !rect.isEmpty else { return }
        if visible.isEmpty {
            let why = items.isEmpty ? "no folders or " + extensions.sorted().map { "." + $0 }.joined(separator: "/") + " files here"
                                    : "nothing matches “\(filter)”"
            frame.text(why, in: rect, style: .role(.dim))
            return
        }
        let overflow = visible.count > rect.height
        let text = overflow ? rect.inset(right: 1) : rect
        let offset = list.visibleOffset(height: rect.height)
        for row in 0..<rect.height {
            let i = offset + row
            guard i < visible.count else { break }
            let item = visible[i]
            let line = Rect(x: text.x, y: rect.y + row, width: text.width, height: 1)
            let selected = i == list.selected
            if selected { frame.fill(line, style: Style(bg: .role(.selection))) }
            let attrs: Attributes = selected ? (focused ? theme.selectionAttributes.union(.bold) : theme.selectionAttributes) : []
            let size = item.byteCount.map(PaneText.bytes) ?? ""
            let sizeWidth = size.isEmpty || line.width < 24 ? 0 : DisplayWidth.of(size) + 1
            let nameRect = line.inset(right: sizeWidth)
            let marker = selected && focused ? "› " : "  "
            var x = line.x + frame.text(marker, col: line.x, row: line.y, style: .role(.accent, attrs: attrs), clip: nameRect)
            let role: Role = item.isDirectory ? .accent : (selected && focused ? .accent : .text)
            if item.isDirectory { x += frame.text("▸ ", col: x, row: line.y, style: .role(.dim, attrs: attrs), clip: nameRect) }
            frame.text(item.name + (item.isDirectory && directory != nil ? "/" : ""),
                       in: Rect(x: x, y: line.y, width: nameRect.maxX - x, height: 1), style: .role(role, attrs: attrs))
            if sizeWidth > 0 {
                frame.text(size, in: Rect(x: line.maxX - sizeWidth + 1, y: line.y, width: sizeWidth - 1, height: 1),
                           align: .right, style: .role(.dim))
            }
        }
        if overflow { ListView.renderScrollBar(count: visible.count, offset: offset, into: &frame, rect: rect) }
    }

    private func renderFooter(into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        if let m = message {
            frame.text(m.text, in: rect, style: .role(m.isError ? .error : .dim))
        } else if showLoRAInfo, let item = highlighted, !item.isDirectory, let s = summaries[item.path] {
            frame.text(s.text, in: rect, style: .role(s.isError ? .error : .dim))
        } else {
            let files = visible.filter { !$0.isDirectory }.count, folders = visible.count - files
            var parts = ["\(files) file\(files == 1 ? "" : "s")"]
            if folders > 0 { parts.append("\(folders) folder\(folders == 1 ? "" : "s")") }
            if visible.count != items.count { parts.append("of \(items.count)") }
            frame.text(parts.joined(separator: " · "), in: rect, style: .role(.dim))
        }
    }
}
