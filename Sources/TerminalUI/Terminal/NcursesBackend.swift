import CNcursesw
import Glibc

/// The real terminal, through ncursesw. Owns the tty from `init` until `stop()`; the terminal is
/// restored on normal exit, on SIGINT/SIGTERM/SIGHUP and on crashes (atexit + signal handlers
/// that call `endwin`), so a failure never leaves the user's shell in raw mode.
///
/// `present` diffs against the previous frame itself and writes only changed cells; ncurses then
/// does its own cursor-motion optimisation over those.
public final class NcursesBackend: TerminalBackend {
    /// Terminal size in cells (updated on resize).
    public private(set) var size: Size
    /// Colour capability from ncurses' `COLORS` (`xterm-direct` gives 24-bit).
    public let colorMode: ColorMode
    var previous: Frame?
    var previousTheme: Theme?
    var pairs: ColorPairAllocator
    var pending: [InputEvent] = []
    var active = true
    let attrBits: [(Attributes, attr_t)]

    /// Starts ncurses: locale, raw mode, no echo, keypad, mouse, bracketed paste, colours.
    /// `escDelayMs` is how long a lone Escape waits for a sequence to follow.
    public init(escDelayMs: Int = 25, mouse: Bool = true) {
        NcursesBackend.installRestoreHandlers
        setlocale(LC_ALL, "")
        sumi_set_escdelay(Int32(escDelayMs))
        initscr()
        raw()
        noecho()
        nonl()
        keypad(sumi_stdscr(), true)
        curs_set(0)
        var mode = ColorMode.monochrome
        if has_colors() {
            start_color()
            use_default_colors()
            mode = ColorMode(colorCount: Int(sumi_colors()))
        }
        colorMode = mode
        pairs = ColorPairAllocator(limit: Int(sumi_color_pairs()))
        if mouse {
            mousemask(NcursesKeys.mouseMask, nil)
            mouseinterval(0)
        }
        attrBits = [(.bold, sumi_a_bold()), (.dim, sumi_a_dim()), (.reverse, sumi_a_reverse()), (.underline, sumi_a_underline())]
        size = Size(width: Int(sumi_cols()), height: Int(sumi_lines()))
        writeRaw(Array("\u{1b}[?2004h".utf8))  // bracketed paste: pastes arrive whole, not as typed keys
    }

    /// Restores the terminal (idempotent).
    public func stop() {
        guard active else { return }
        active = false
        writeRaw(Array("\u{1b}[?2004l".utf8))
        endwin()
    }

    deinit { stop() }

    /// Emits the cells that changed since the previous frame (all of them after a resize or theme change).
    public func present(_ frame: Frame, theme: Theme) {
        guard active else { return }
        let old = previousTheme == theme ? previous : nil
        let win = sumi_stdscr()
        for run in FrameDiff.runs(from: old, to: frame) {
            for (i, cell) in run.cells.enumerated() where !cell.isContinuation {
                let col = run.col + i
                guard run.row < size.height, col < size.width else { continue }
                put(cell, row: run.row, col: col, theme: theme, win: win)
            }
        }
        wnoutrefresh(win)
        doupdate()
        previous = frame
        previousTheme = theme
    }

    func put(_ cell: Cell, row: Int, col: Int, theme: Theme, win: UnsafeMutablePointer<WINDOW>?) {
        var attrs: attr_t = 0
        for (a, bit) in attrBits where cell.attrs.contains(a) { attrs |= bit }
        var pair: Int32 = 0
        let fg = theme.resolve(cell.fg), bg = theme.resolve(cell.bg)
        if let f = colorMode.colorNumber(for: fg), let b = colorMode.colorNumber(for: bg) {
            let (p, isNew) = pairs.pair(for: .init(fg: f, bg: b), fgRGB: (Int(fg.r), Int(fg.g), Int(fg.b)),
                                        bgRGB: (Int(bg.r), Int(bg.g), Int(bg.b)))
            if isNew { init_extended_pair(Int32(p), Int32(f), Int32(b)) }
            pair = Int32(p)
        }
        // cchar_t holds at most CCHAR_MAX (5) wide chars: a base and its combining marks.
        var wide = cell.char.unicodeScalars.prefix(5).map { wchar_t(bitPattern: $0.value) }
        wide.append(0)
        var cc = cchar_t()
        setcchar(&cc, wide, attrs, 0, &pair)
        mvwadd_wch(win, Int32(row), Int32(col), &cc)
    }

    /// Makes ncurses repaint the rows of `rect` from its model at the next `present` (removes images).
    public func invalidate(_ rect: Rect) {
        guard active, !rect.isEmpty else { return }
        wredrawln(sumi_stdscr(), Int32(rect.y), Int32(rect.height))
    }

    /// Writes straight to fd 1; call after `present` (ncurses has flushed by then).
    public func writeRaw(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            off += n
        }
    }

    /// Waits up to `timeoutMs` for a key, mouse event, paste or resize.
    public func pollEvent(timeoutMs: Int) -> InputEvent? {
        if !pending.isEmpty { return pending.removeFirst() }
        let win = sumi_stdscr()
        wtimeout(win, Int32(timeoutMs))
        var ch: wint_t = 0
        let r = wget_wch(win, &ch)
        if r == ERR { return nil }
        if r == sumi_key_code_yes() { return keyCode(Int32(ch)) }
        guard ch == 27 else { return InputDecoder.decode([UInt32(ch)]).first }
        // An escape sequence ncurses did not know: gather what is already there and decode it whole.
        var buf: [UInt32] = [27]
        var after: [InputEvent] = []
        let pasteStart: [UInt32] = [27, 0x5b, 0x32, 0x30, 0x30, 0x7e], pasteEnd: [UInt32] = [27, 0x5b, 0x32, 0x30, 0x31, 0x7e]
        wtimeout(win, 0)
        while buf.count < 1 << 20 {
            let inPaste = contains(buf, pasteStart) && !contains(buf, pasteEnd)
            wtimeout(win, inPaste ? 200 : 0)  // a long paste arrives in chunks
            var c: wint_t = 0
            let r2 = wget_wch(win, &c)
            if r2 == ERR { break }
            if r2 == sumi_key_code_yes() {
                if let e = keyCode(Int32(c)) { after.append(e) }
                break
            }
            buf.append(UInt32(c))
        }
        let events = InputDecoder.decode(buf) + after
        pending += events.dropFirst()
        return events.first
    }

    func keyCode(_ code: Int32) -> InputEvent? {
        if code == sumi_key_resize() {
            size = Size(width: Int(sumi_cols()), height: Int(sumi_lines()))
            previous = nil
            return .resize
        }
        if code == sumi_key_mouse() {
            var ev = MEVENT()
            guard getmouse(&ev) == OK else { return nil }
            return NcursesKeys.mouse(bstate: ev.bstate, col: ev.x, row: ev.y).map { .mouse($0) }
        }
        let name = keyname(code).map { String(cString: $0) }
        return NcursesKeys.key(code: code, name: name).map { .key($0) }
    }

    func contains(_ haystack: [UInt32], _ needle: [UInt32]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return true }
        }
        return false
    }

    /// Installed once per process: restore the tty at exit and on fatal signals, then let the
    /// signal do what it would have done (terminate, dump core).
    static let installRestoreHandlers: Void = {
        atexit { restoreTerminalForExit() }
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP] {
            signal(sig) { s in
                restoreTerminalForExit()
                signal(s, SIG_DFL)
                raise(s)
            }
        }
    }()
}

/// Leaves raw mode and the alternate screen if ncurses is still active. `isendwin()` is false both
/// before `initscr` (then `endwin` is a harmless ERR) and while running, true after a clean stop.
private func restoreTerminalForExit() {
    guard !isendwin() else { return }
    let seq: [UInt8] = Array("\u{1b}[?2004l".utf8)
    _ = seq.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    endwin()
}
