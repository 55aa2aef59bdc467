import Foundation
import TerminalUI

/// Where the gallery's parts go inside its rectangle: list beside the details on wide panes (list above them
/// on narrow ones), the thumbnail at the top of the details, and a one-row footer.
struct GalleryLayout {
    var list: Rect
    var thumbnail: Rect
    var details: Rect
    var footer: Rect

    init(rect: Rect, hasFooter: Bool) {
        let (body, foot) = hasFooter && rect.height >= 4 ? rect.splitBottom(1) : (rect, Rect(x: rect.x, y: rect.maxY, width: rect.width, height: 0))
        footer = foot
        let info: Rect
        if body.width >= 56 {
            let cols = body.split(.horizontal, [.ratio(2, 5), .fixed(1), .min(0)])
            list = cols[0]
            info = cols[2]
        } else {
            let rows = body.split(.vertical, [.ratio(1, 2), .min(0)])
            list = rows[0]
            info = rows[1].inset(top: 0)
        }
        // The thumbnail takes what the text leaves, but only when that is enough to recognise an image.
        let textRows = 7
        let thumbRows = info.height - textRows
        if thumbRows >= 4 && info.width >= 8 {
            let parts = info.split(.vertical, [.fixed(min(thumbRows, info.width / 2 + 1)), .min(0)])
            thumbnail = parts[0]
            details = parts[1]
        } else {
            thumbnail = Rect(x: info.x, y: info.y, width: info.width, height: 0)
            details = info
        }
    }
}

extension GalleryState {
    /// Draws the gallery into `rect` (content only: the caller draws the pane border). Pure.
    public func render(into frame: inout Frame, rect: Rect, theme: Theme, focused: Bool = true) {
        guard !rect.isEmpty else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        let layout = GalleryLayout(rect: rect, hasFooter: true)
        if entries.isEmpty {
            frame.text("no images in \(folder)", in: layout.list, style: .role(.dim))
        } else {
            renderList(into: &frame, rect: layout.list, theme: theme, focused: focused)
            if layout.list.x != layout.details.x {
                frame.vline(col: layout.list.maxX, row: layout.list.y, length: layout.list.height, style: .role(.border))
            }
        }
        if let e = selectedEntry {
            renderThumbnail(e, into: &frame, rect: layout.thumbnail)
            renderDetails(e, into: &frame, rect: layout.details)
        }
        renderFooter(into: &frame, rect: layout.footer)
    }

    private func renderList(into frame: inout Frame, rect: Rect, theme: Theme, focused: Bool) {
        let overflow = entries.count > rect.height
        let text = overflow ? rect.inset(right: 1) : rect
        let offset = list.visibleOffset(height: rect.height)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "MM-dd HH:mm"
        for row in 0..<rect.height {
            let i = offset + row
            guard i < entries.count else { break }
            let e = entries[i]
            let line = Rect(x: text.x, y: rect.y + row, width: text.width, height: 1)
            let selected = i == list.selected
            if selected { frame.fill(line, style: Style(bg: .role(.selection))) }
            let attrs: Attributes = selected ? (focused ? theme.selectionAttributes.union(.bold) : theme.selectionAttributes) : []
            let marker = selected && focused ? "›" : " "
            let date = formatter.string(from: e.modified)
            let dateWidth = line.width >= 28 ? DisplayWidth.of(date) + 1 : 0
            let nameRect = line.inset(right: dateWidth)
            var x = line.x + frame.text(marker + " ", col: line.x, row: line.y, style: .role(.accent, attrs: attrs), clip: nameRect)
            if e.error != nil {
                x += frame.text("⚠ ", col: x, row: line.y, style: .role(.error, attrs: attrs), clip: nameRect)
            } else if e.recipe == nil {
                x += frame.text("○ ", col: x, row: line.y, style: .role(.dim, attrs: attrs), clip: nameRect)
            }
            let nameRole: Role = e.error != nil ? .error : (selected && focused ? .accent : .text)
            frame.text(e.displayName, in: Rect(x: x, y: line.y, width: nameRect.maxX - x, height: 1),
                       style: .role(nameRole, attrs: attrs))
            if dateWidth > 0 {
                frame.text(date, in: Rect(x: line.maxX - dateWidth + 1, y: line.y, width: dateWidth - 1, height: 1),
                           align: .right, style: .role(.dim))
            }
        }
        if overflow { ListView.renderScrollBar(count: entries.count, offset: offset, into: &frame, rect: rect) }
    }

    private func renderThumbnail(_ e: GalleryEntry, into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        switch thumbnails[e.path] {
        case .image(let img)?: HalfBlock.render(img, into: &frame, rect: rect)
        case .failed(let reason)?:
            for (k, l) in PaneText.wrap(reason, width: rect.width, maxLines: rect.height).enumerated() {
                frame.text(l, col: rect.x, row: rect.y + k, style: .role(.error), clip: rect)
            }
        case nil:
            if e.error == nil { frame.text("loading preview…", in: rect.centered(width: 16, height: 1), style: .role(.dim)) }
        }
    }

    private func renderDetails(_ e: GalleryEntry, into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        var row = rect.y
        func line(_ s: String, _ role: Role = .text) {
            guard row < rect.maxY else { return }
            frame.text(s, in: Rect(x: rect.x, y: row, width: rect.width, height: 1), style: .role(role))
            row += 1
        }
        if let error = e.error {
            frame.text("⚠ unreadable", in: Rect(x: rect.x, y: row, width: rect.width, height: 1), style: .role(.error, attrs: [.bold]))
            row += 1
            for l in PaneText.wrap(error, width: rect.width, maxLines: max(0, rect.maxY - row - 1)) { line(l, .error) }
            line("\(PaneText.bytes(e.byteCount))", .dim)
            return
        }
        guard let r = e.recipe else {
            line("no sumi or A1111 metadata", .warning)
            var facts = PaneText.bytes(e.byteCount)
            if let s = e.pixelSize { facts = "\(s.width)×\(s.height) · " + facts }
            line(facts, .dim)
            return
        }
        // Prompt first (what people recognise an image by), then the numbers, then the files involved.
        let reserved = 4 + (r.negativePrompt.isEmpty ? 0 : 1) + (r.loras.isEmpty ? 0 : 1)
        let promptLines = max(1, min(3, rect.maxY - row - reserved))
        for l in PaneText.wrap(r.prompt.isEmpty ? "(empty prompt)" : r.prompt, width: rect.width, maxLines: promptLines) {
            line(l, .accent)
        }
        if !r.negativePrompt.isEmpty, row < rect.maxY {
            let clip = Rect(x: rect.x, y: row, width: rect.width, height: 1)
            PaneText.field("neg", DisplayWidth.truncate(r.negativePrompt.replacingOccurrences(of: "\n", with: " "), to: max(0, rect.width - 4)),
                           into: &frame, col: rect.x, row: row, clip: clip)
            row += 1
        }
        var fields: [[(String, String)]] = [
            [("seed", "\(r.seed)"), ("", "\(r.sampler)/\(r.scheduler)")],
            [("steps", "\(r.steps)"), ("cfg", ImageRecipe.number(r.cfg)), ("size", "\(r.width)×\(r.height)")],
        ]
        if let m = r.model { fields.append([("model", m.name + (m.hash.map { " [\($0)]" } ?? ""))]) }
        if !r.loras.isEmpty {
            fields.append([("lora", r.loras.map { "\($0.name) ×\(ImageRecipe.number($0.strength))" }.joined(separator: ", "))])
        }
        if let d = r.denoise { fields[1].append(("denoise", ImageRecipe.number(d))) }
        for group in fields where row < rect.maxY {
            let clip = Rect(x: rect.x, y: row, width: rect.width, height: 1)
            var x = rect.x
            for (label, value) in group {
                if x > rect.x { x += frame.text(" · ", col: x, row: row, style: .role(.dim), clip: clip) }
                if label.isEmpty { x += frame.text(value, col: x, row: row, style: .role(.text), clip: clip) }
                else { x += PaneText.field(label, value, into: &frame, col: x, row: row, clip: clip) }
            }
            if x > clip.maxX { frame.text("…", col: clip.maxX - 1, row: row, style: .role(.dim)) }
            row += 1
        }
        if r.source == .a1111 { line("read from A1111 parameters", .dim) }
    }

    private func renderFooter(into frame: inout Frame, rect: Rect) {
        guard !rect.isEmpty else { return }
        if let path = pendingDelete {
            let name = entries.first { $0.path == path }?.displayName ?? path
            let x = rect.x + frame.text("Move \(name) to \(GalleryScanner.trashFolderName)/? ", col: rect.x, row: rect.y,
                                        style: .role(.warning, attrs: [.bold]), clip: rect)
            frame.text("y/enter: yes · n/esc: no", col: x, row: rect.y, style: .role(.dim), clip: rect)
        } else if let m = message {
            frame.text(m.text, in: rect, style: .role(m.isError ? .error : .dim))
        } else {
            let unreadable = entries.filter { $0.error != nil }.count
            var s = "\(entries.count) image\(entries.count == 1 ? "" : "s")"
            if unreadable > 0 { s += " · \(unreadable) unreadable" }
            frame.text(s + " · " + folder, in: rect, style: .role(.dim))
        }
    }
}
