/// Selection and scroll position of a list. The scroll offset follows the selection with the
/// least movement, so moving within the visible page does not scroll.
public struct ListState: Hashable, Sendable {
    /// Number of items.
    public private(set) var count: Int
    /// Selected index (0 when the list is empty).
    public private(set) var selected: Int
    /// First visible item.
    public private(set) var offset: Int

    /// A list of `count` items with `selected` chosen.
    public init(count: Int, selected: Int = 0) {
        self.count = max(0, count)
        self.selected = 0
        self.offset = 0
        select(selected)
    }

    /// Changes the item count (e.g. a new image arrived), keeping the selection in range.
    public mutating func setCount(_ n: Int) {
        count = max(0, n)
        select(selected)
    }

    /// Selects `index`, clamped to the list.
    public mutating func select(_ index: Int) { selected = count == 0 ? 0 : min(max(0, index), count - 1) }
    /// Moves the selection by `delta` (clamped, no wrap-around).
    public mutating func move(_ delta: Int) { select(selected + delta) }
    /// One page (`height` rows) down.
    public mutating func pageDown(height: Int) { move(max(1, height - 1)) }
    /// One page up.
    public mutating func pageUp(height: Int) { move(-max(1, height - 1)) }
    /// First item.
    public mutating func first() { select(0) }
    /// Last item.
    public mutating func last() { select(count - 1) }

    /// Updates `offset` so the selection is visible in `height` rows; call after moving.
    public mutating func scrollToSelection(height: Int) { offset = visibleOffset(height: height) }

    /// The offset that shows the selection in `height` rows with the least scrolling from `offset`.
    public func visibleOffset(height: Int) -> Int {
        guard height > 0, count > height else { return 0 }
        var o = offset
        if selected < o { o = selected }
        if selected >= o + height { o = selected - height + 1 }
        return min(max(0, o), count - height)
    }

    /// What a mouse press in a list drawn at `list` did.
    public enum MouseAction: Equatable, Sendable {
        /// Nothing (outside the list, or another button).
        case none
        /// The wheel moved the selection.
        case scrolled
        /// A click selected another row.
        case selected
        /// A click on the already selected row (open / pick it).
        case activated
    }

    /// Applies a pressed `button` at (col, row) to a list drawn in `list`: the wheel moves by three, a click
    /// selects a row, a click on the selected row reports `.activated`. Scrolls to the selection afterwards.
    public mutating func press(_ button: MouseButton, col: Int, row: Int, list: Rect) -> MouseAction {
        var action = MouseAction.none
        switch button {
        case .wheelUp: move(-3); action = .scrolled
        case .wheelDown: move(3); action = .scrolled
        case .left:
            guard list.contains(col: col, row: row), let i = index(atRow: row - list.y, height: list.height) else { return .none }
            if i == selected { return .activated }
            select(i); action = .selected
        default: return .none
        }
        scrollToSelection(height: max(1, list.height))
        return action
    }

    /// The item index at `row` rows below the list's top (for mouse clicks), or nil.
    public func index(atRow row: Int, height: Int) -> Int? {
        let i = visibleOffset(height: height) + row
        return row >= 0 && row < height && i < count ? i : nil
    }
}

/// Draws a list: one item per row, the selection highlighted, a scroll bar when it overflows.
public enum ListView {
    /// Draws `items` with `state`'s selection into `rect`.
    public static func render(_ items: [String], state: ListState, into frame: inout Frame, rect: Rect, theme: Theme,
                              focused: Bool) {
        guard !rect.isEmpty else { return }
        frame.fill(rect, style: Style(bg: .role(.background)))
        let overflow = items.count > rect.height
        let textRect = overflow ? rect.inset(right: 1) : rect
        let offset = state.visibleOffset(height: rect.height)
        for row in 0..<rect.height {
            let i = offset + row
            guard i < items.count else { break }
            let line = Rect(x: textRect.x, y: rect.y + row, width: textRect.width, height: 1)
            if i == state.selected {
                let attrs = focused ? theme.selectionAttributes.union(.bold) : theme.selectionAttributes
                frame.fill(line, style: Style(bg: .role(.selection)))
                frame.text((focused ? "› " : "  ") + items[i], in: line, style: .role(focused ? .accent : .text, attrs: attrs))
            } else {
                frame.text("  " + items[i], in: line, style: .role(.text))
            }
        }
        if overflow { renderScrollBar(count: items.count, offset: offset, into: &frame, rect: rect) }
    }

    /// The scroll bar in `rect`'s last column for `count` items scrolled to `offset`: thumb size and position
    /// proportional to the visible page.
    public static func renderScrollBar(count: Int, offset: Int, into frame: inout Frame, rect: Rect) {
        let h = rect.height
        guard h > 0, count > h else { return }
        let thumb = max(1, h * h / count)
        let maxOffset = count - h
        let pos = maxOffset == 0 ? 0 : (h - thumb) * offset / maxOffset
        for r in 0..<h {
            let inThumb = r >= pos && r < pos + thumb
            frame.text(inThumb ? "┃" : "│", col: rect.maxX - 1, row: rect.y + r, style: .role(inThumb ? .accent : .dim))
        }
    }
}
