import Imaging

/// What the application shows in one iteration: the composed frame, the theme to paint it with,
/// and images for the terminal layer to place (sixel over blank cells, or half-blocks in the frame).
public struct Screen {
    /// The composed frame (normally `backend.size`).
    public var frame: Frame
    /// The theme that resolves the frame's roles.
    public var theme: Theme
    /// Images and the cell rectangles they may use.
    public var images: [ImageRequest]

    /// A screen.
    public init(frame: Frame, theme: Theme, images: [ImageRequest] = []) {
        self.frame = frame
        self.theme = theme
        self.images = images
    }
}

/// Session options. Environment values are passed in (read in `main`, not here).
public struct SessionOptions {
    /// How images are drawn.
    public var imageMode: ImageMode
    /// How long to wait for the terminal's DA1 reply.
    public var queryTimeout: Double
    /// Longest wait for input per loop iteration (≤ 50 ms keeps progress and previews live).
    public var pollTimeoutMs: Int
    /// ncurses' wait after a lone Escape.
    public var escDelayMs: Int
    /// The process environment (for the sixel hint when the terminal does not answer).
    public var environment: [String: String]

    /// Options.
    public init(imageMode: ImageMode = .auto, queryTimeout: Double = 1.5, pollTimeoutMs: Int = 50, escDelayMs: Int = 25,
                environment: [String: String] = [:]) {
        self.imageMode = imageMode
        self.queryTimeout = queryTimeout
        self.pollTimeoutMs = min(50, max(0, pollTimeoutMs))
        self.escDelayMs = escDelayMs
        self.environment = environment
    }
}

/// The terminal side of an application: detects capabilities, owns the backend and the image
/// overlay, and runs the input → render → present loop.
///
/// ```swift
/// let session = TerminalSession(options: SessionOptions(environment: env))
/// try session.start()
/// defer { session.stop() }
/// session.run { event, size in
///     if event == .key(.ctrl("q")) { return nil }
///     state.handle(event)
///     return Screen(frame: render(state, theme, size), theme: theme, images: state.images(size))
/// }
/// ```
public final class TerminalSession {
    /// The options.
    public let options: SessionOptions
    /// What the terminal reported (`.unknown` before `start`, or with image mode `blocks`).
    public private(set) var capabilities: TerminalCapabilities
    /// The backend (nil before `start` / after `stop`).
    public private(set) var backend: TerminalBackend?
    var overlay = SixelOverlay()
    var ncurses: NcursesBackend?

    /// A session on the real terminal; nothing happens until `start`.
    public init(options: SessionOptions = SessionOptions()) {
        self.options = options
        capabilities = .unknown
    }

    /// A session over an existing backend (a `MemoryTerminal` in tests and headless drivers).
    public init(backend: TerminalBackend, capabilities: TerminalCapabilities = .unknown, options: SessionOptions = SessionOptions()) {
        self.options = options
        self.capabilities = capabilities
        self.backend = backend
    }

    /// How images are drawn in this session.
    public var imageMode: ImageMode { options.imageMode.resolved(sixelSupported: capabilities.sixel) }

    /// Queries the terminal (before ncurses owns the tty; skipped in `blocks` mode) and starts ncurses.
    public func start() {
        guard backend == nil else { return }
        if options.imageMode != .blocks {
            capabilities = TerminalQuery.detect(timeout: options.queryTimeout, environment: options.environment)
        }
        let nc = NcursesBackend(escDelayMs: options.escDelayMs)
        ncurses = nc
        backend = nc
    }

    /// Restores the terminal. Safe to call twice; also happens at exit and on fatal signals.
    public func stop() {
        ncurses?.stop()
        ncurses = nil
        backend = nil
    }

    /// Runs until `step` returns nil. `step` gets the latest input (nil when the poll timed out, at
    /// most `pollTimeoutMs` later, so the UI can animate progress) and the terminal size.
    public func run(_ step: (_ event: InputEvent?, _ size: Size) throws -> Screen?) rethrows {
        guard let backend else { return }
        var event: InputEvent? = nil
        while true {
            if event == .resize { overlay.invalidate() }
            guard let screen = try step(event, backend.size) else { return }
            show(screen, on: backend)
            event = backend.pollEvent(timeoutMs: options.pollTimeoutMs)
        }
    }

    /// Presents one screen: half-blocks are drawn into the frame; sixel images get blank cells in the
    /// frame and are written after the refresh, only when they changed.
    public func show(_ screen: Screen, on backend: TerminalBackend) {
        var frame = screen.frame
        if imageMode == .sixel {
            for r in screen.images { frame.fill(r.rect, style: Style(bg: .role(.background))) }
            let (repaint, bytes) = overlay.update(screen.images, cellWidth: capabilities.cellWidth,
                                                  cellHeight: capabilities.cellHeight, screenRows: backend.size.height,
                                                  colors: capabilities.colorRegisters.map { min(256, $0) } ?? 256)
            for r in repaint { backend.invalidate(r) }
            backend.present(frame, theme: screen.theme)
            if !bytes.isEmpty { backend.writeRaw(bytes) }
        } else {
            for r in screen.images { HalfBlock.render(r.image, into: &frame, rect: r.rect, colorMode: backend.colorMode) }
            backend.present(frame, theme: screen.theme)
        }
    }
}
