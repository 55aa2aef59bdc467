/// Rasterisation: takes composed frames and puts them on a terminal, sending only what changed.
/// Rendering (building a `Frame`) never touches the terminal; only backends do.
public protocol TerminalBackend: AnyObject {
    /// The terminal size in cells.
    var size: Size { get }
    /// How colours can be shown.
    var colorMode: ColorMode { get }
    /// Shows `frame`, resolving roles with `theme`, emitting only the cells that differ from the
    /// previous frame (everything after a resize, a theme change or `invalidate`).
    func present(_ frame: Frame, theme: Theme)
    /// Forgets what is on screen in `rect`, so the next `present` repaints it (used when an image
    /// overlay is removed: the text under it did not change, so nothing else would repaint it).
    func invalidate(_ rect: Rect)
    /// Writes bytes straight to the terminal after the last `present` (sixel overlays).
    func writeRaw(_ bytes: [UInt8])
    /// Waits up to `timeoutMs` for input.
    func pollEvent(timeoutMs: Int) -> InputEvent?
}

/// An in-memory terminal for tests and headless drivers: records every presented frame as snapshot
/// text, the cell runs each `present` would have sent, raw writes, and replays queued input.
public final class MemoryTerminal: TerminalBackend {
    /// The terminal size; change it and queue `.resize` to simulate a resize.
    public var size: Size
    /// The colour mode it pretends to have.
    public var colorMode: ColorMode
    /// Snapshot text of each presented frame (with the theme layer).
    public private(set) var frames: [String] = []
    /// The last presented frame.
    public private(set) var lastFrame: Frame?
    /// The runs the last `present` emitted (what a real terminal would have been sent).
    public private(set) var lastRuns: [CellRun] = []
    /// Every raw write, in order.
    public private(set) var rawWrites: [[UInt8]] = []
    /// Input still to be delivered, front first.
    public var pendingEvents: [InputEvent] = []
    var lastTheme: Theme?

    /// A memory terminal of `size`.
    public init(size: Size, colorMode: ColorMode = .direct) {
        self.size = size
        self.colorMode = colorMode
    }

    /// Records the frame and the diff against the previous one.
    public func present(_ frame: Frame, theme: Theme) {
        let previous = lastTheme == theme ? lastFrame : nil
        lastRuns = FrameDiff.runs(from: previous, to: frame)
        lastFrame = frame
        lastTheme = theme
        frames.append(frame.snapshotText(theme: theme))
    }

    /// Marks `rect` as unknown: the next present re-emits it.
    public func invalidate(_ rect: Rect) {
        guard var f = lastFrame else { return }
        let r = rect.intersection(f.bounds)
        guard !r.isEmpty else { return }
        f.fill(r, char: "\u{0}", style: Style())  // a cell no frame contains, so it always differs
        lastFrame = f
    }

    /// Records the bytes.
    public func writeRaw(_ bytes: [UInt8]) { rawWrites.append(bytes) }

    /// The next queued event, or nil at once (tests never wait).
    public func pollEvent(timeoutMs: Int) -> InputEvent? { pendingEvents.isEmpty ? nil : pendingEvents.removeFirst() }

    /// Queues keys typed as text (escape sequences allowed), like a user at the keyboard.
    public func type(_ text: String) { pendingEvents += InputDecoder.decode(text) }
}

/// Hands out ncurses colour pairs for (foreground, background) colour numbers on demand, up to the
/// terminal's limit. When the pairs run out, the closest existing pair is reused (distance in RGB),
/// so a colourful half-block image degrades instead of failing.
public struct ColorPairAllocator {
    /// Colour numbers as passed to `init_extended_pair` (-1 = terminal default).
    public struct Key: Hashable, Sendable {
        /// Foreground colour number.
        public var fg: Int
        /// Background colour number.
        public var bg: Int
        /// A pair key.
        public init(fg: Int, bg: Int) {
            self.fg = fg
            self.bg = bg
        }
    }

    /// Pair numbers in use, by colours.
    public private(set) var pairs: [Key: Int] = [:]
    var rgbOf: [Key: (Int, Int, Int, Int, Int, Int)] = [:]
    /// Highest usable pair number + 1 (ncurses `COLOR_PAIRS`).
    public let limit: Int

    /// An allocator for pair numbers 1..<limit (pair 0 is the terminal default).
    public init(limit: Int) { self.limit = max(1, limit) }

    /// The pair for `key`, and whether it is new (the caller must then `init_extended_pair` it).
    /// `fgRGB`/`bgRGB` are only used to find a substitute when the table is full.
    public mutating func pair(for key: Key, fgRGB: (Int, Int, Int), bgRGB: (Int, Int, Int)) -> (pair: Int, isNew: Bool) {
        if let p = pairs[key] { return (p, false) }
        let next = pairs.count + 1
        if next < limit {
            pairs[key] = next
            rgbOf[key] = (fgRGB.0, fgRGB.1, fgRGB.2, bgRGB.0, bgRGB.1, bgRGB.2)
            return (next, true)
        }
        var best = 0, bestD = Int.max
        for (k, p) in pairs {
            guard let c = rgbOf[k] else { continue }
            let d = sq(c.0 - fgRGB.0) + sq(c.1 - fgRGB.1) + sq(c.2 - fgRGB.2) + 2 * (sq(c.3 - bgRGB.0) + sq(c.4 - bgRGB.1) + sq(c.5 - bgRGB.2))
            if d < bestD { (best, bestD) = (p, d) }
        }
        return (best, false)
    }

    private func sq(_ x: Int) -> Int { x * x }
}
