import TerminalUI

/// Where everything goes for a terminal size: a pure function of the size and the LoRA count, shared by
/// rendering and by mouse hit-testing so the two cannot disagree.
///
/// Wide terminals (≥ 80 columns) put the editors, LoRA stack and sampler in a left column and the preview on
/// the right; narrower ones stack everything with the preview last. The bottom row is the status bar, so the
/// preview image always has at least one text row below it (sixel images that reach the last row scroll the
/// terminal, see terminal-sixel-notes §3).
public struct StudioLayout: Equatable, Sendable {
    /// The top row: tabs and model status.
    public var tabs: Rect
    /// The bottom row.
    public var status: Rect
    /// The body between them (other tabs draw here).
    public var body: Rect
    /// Each pane's outer rectangle (border included).
    public var panes: [Pane: Rect]
    /// Whether the terminal is below the minimum size (only a notice is drawn).
    public var tooSmall: Bool
    /// Sampler fields per row (2 in a wide left column).
    public var samplerColumns: Int

    /// Smallest usable terminal in the side-by-side layout; the stacked layout (under 80 columns) needs
    /// `minimumStacked`.
    public static let minimum = Size(width: 80, height: 18)
    /// Smallest usable terminal in the stacked layout.
    public static let minimumStacked = Size(width: 60, height: 26)

    /// Whether `size` is too small for either layout.
    public static func isTooSmall(_ size: Size) -> Bool {
        size.width < minimumStacked.width || size.height < minimum.height
            || (size.width < minimum.width && size.height < minimumStacked.height)
    }

    /// The layout for `size` with `loraCount` LoRAs in the stack.
    public init(size: Size, loraCount: Int) {
        let full = Rect(size: size)
        tabs = Rect(x: 0, y: 0, width: size.width, height: min(1, size.height))
        status = Rect(x: 0, y: max(0, size.height - 1), width: size.width, height: size.height >= 2 ? 1 : 0)
        body = full.inset(top: 1, bottom: 1)
        panes = [:]
        samplerColumns = 1
        tooSmall = Self.isTooSmall(size)
        guard !tooSmall else { return }

        let wide = size.width >= 80
        let leftWidth = wide ? min(72, max(46, size.width * 9 / 20)) : body.width
        samplerColumns = leftWidth - 2 >= 44 ? 2 : 1
        let samplerHeight = (SamplerField.allCases.count + samplerColumns - 1) / samplerColumns + 2
        let loraRows = min(6, max(1, loraCount))
        var loraHeight = loraRows + 2
        var negativeHeight = 4
        let previewMin = wide ? 0 : 8
        var promptHeight = body.height - previewMin - samplerHeight - loraHeight - negativeHeight
        // Short terminals: the editors and the LoRA list give way first, down to one text row each.
        while promptHeight < 3 && (negativeHeight > 3 || loraHeight > 3) {
            if negativeHeight > 3 { negativeHeight -= 1 } else { loraHeight -= 1 }
            promptHeight += 1
        }
        promptHeight = max(3, promptHeight)
        if !wide {
            // Narrow: the prompt keeps a fixed height and the preview takes what is left.
            promptHeight = min(promptHeight, 5)
        }
        var y = body.y
        func place(_ pane: Pane, _ h: Int) {
            panes[pane] = Rect(x: body.x, y: y, width: leftWidth, height: max(0, min(h, body.maxY - y)))
            y += h
        }
        place(.prompt, promptHeight)
        place(.negative, negativeHeight)
        place(.loras, loraHeight)
        place(.sampler, samplerHeight)
        if wide {
            panes[.preview] = Rect(x: body.x + leftWidth, y: body.y, width: body.width - leftWidth, height: body.height)
        } else {
            panes[.preview] = Rect(x: body.x, y: y, width: body.width, height: max(0, body.maxY - y))
        }
    }

    /// The outer rectangle of `pane` (empty when it is not shown).
    public func rect(_ pane: Pane) -> Rect { panes[pane] ?? Rect(x: 0, y: 0, width: 0, height: 0) }

    /// The pane under a cell, if any.
    public func pane(atCol col: Int, row: Int) -> Pane? {
        Pane.allCases.first { rect($0).contains(col: col, row: row) }
    }

    /// The LoRA list area inside the border.
    public var loraList: Rect { rect(.loras).inset(1) }

    /// The cell rectangle of sampler field `field` (label and value). Fields run down the first column, then the
    /// second, so ↑/↓ move the way the eye does.
    public func samplerCell(_ field: SamplerField) -> Rect {
        let inner = rect(.sampler).inset(1)
        let i = field.rawValue
        let colWidth = inner.width / samplerColumns
        let rows = (SamplerField.allCases.count + samplerColumns - 1) / samplerColumns
        let col = i / rows, row = i % rows
        return Rect(x: inner.x + col * colWidth, y: inner.y + row, width: col == samplerColumns - 1 ? inner.width - col * colWidth : colWidth - 1,
                    height: row < inner.height ? 1 : 0)
    }

    /// The sampler field under a cell.
    public func samplerField(atCol col: Int, row: Int) -> SamplerField? {
        SamplerField.allCases.first { samplerCell($0).contains(col: col, row: row) }
    }

    /// Preview pane parts: the image area, the progress row and the info row below it.
    public var preview: (image: Rect, progress: Rect, info: Rect) {
        let inner = rect(.preview).inset(1)
        guard inner.height >= 3 else { return (Rect(x: inner.x, y: inner.y, width: 0, height: 0), inner, inner) }
        let image = Rect(x: inner.x, y: inner.y, width: inner.width, height: inner.height - 2)
        let progress = Rect(x: inner.x, y: inner.maxY - 2, width: inner.width, height: 1)
        let info = Rect(x: inner.x, y: inner.maxY - 1, width: inner.width, height: 1)
        return (image, progress, info)
    }
}

/// Geometry of one LoRA row: `● name ━━━●──── +0.75  12✓ 0✗`.
public struct LoRARowLayout: Equatable, Sendable {
    /// The on/off marker cell.
    public var marker: Rect
    /// The slider (label, track, value).
    public var slider: Rect
    /// The key badge.
    public var badge: Rect

    /// Width of the badge (`9999✓ 999✗`).
    public static let badgeWidth = 11

    /// Splits a row.
    public init(row: Rect) {
        marker = Rect(x: row.x, y: row.y, width: min(2, row.width), height: 1)
        let badgeWidth = row.width >= 36 ? Self.badgeWidth : 0
        badge = Rect(x: row.maxX - badgeWidth, y: row.y, width: badgeWidth, height: 1)
        slider = Rect(x: row.x + 2, y: row.y, width: max(0, row.width - 2 - badgeWidth - (badgeWidth > 0 ? 1 : 0)), height: 1)
    }

    /// The track of `Slider.render` for `label` in this row (mirrors its geometry: label, track, space, value).
    public func track(label: String) -> Rect {
        let labelWidth = min(DisplayWidth.of(label) + 1, slider.width / 3)
        return Rect(x: slider.x + labelWidth, y: slider.y, width: slider.width - labelWidth - 5 - 1, height: 1)
    }

    /// The slider value at column `col` of the track (nil off the track).
    public func value(atColumn col: Int, label: String, range: ClosedRange<Double>) -> Double? {
        let t = track(label: label)
        guard t.width >= 3, col >= t.x, col < t.maxX else { return nil }
        let f = Double(col - t.x) / Double(t.width - 1)
        return range.lowerBound + f * (range.upperBound - range.lowerBound)
    }
}
