import Glibc

/// Asks the real terminal for its capabilities on `/dev/tty`, in raw mode, before ncurses starts
/// (once ncurses owns the tty the replies would arrive as "keys").
public enum TerminalQuery {
    /// Sends `TerminalCapabilities.query`, reads until the DA1 reply or `timeout` seconds, and
    /// resolves the capabilities. Without a tty (pipes, CI) it returns `.unknown` at once.
    public static func detect(timeout: Double = 1.5, environment: [String: String], ttyPath: String = "/dev/tty") -> TerminalCapabilities {
        let fd = open(ttyPath, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return .unknown }
        defer { close(fd) }
        var ws = winsize()
        let haveSize = ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0
        let replies = exchange(fd: fd, timeout: timeout)
        return TerminalCapabilities.resolve(
            replies: TerminalReplies.parse(replies), rows: haveSize ? Int(ws.ws_row) : 0, cols: haveSize ? Int(ws.ws_col) : 0,
            pixelWidth: haveSize ? Int(ws.ws_xpixel) : 0, pixelHeight: haveSize ? Int(ws.ws_ypixel) : 0,
            environment: environment)
    }

    /// Raw-mode write of the query and read of the replies; the terminal mode is always restored.
    static func exchange(fd: Int32, timeout: Double) -> [UInt8] {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return [] }
        var raw = saved
        cfmakeraw(&raw)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return [] }
        defer { tcsetattr(fd, TCSANOW, &saved) }
        let q = TerminalCapabilities.query
        guard q.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == q.count else { return [] }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 512)
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Double(deadline.tv_sec) + Double(deadline.tv_nsec) / 1e9 + timeout
        while true {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = end - (Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
            if left <= 0 { break }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { break }
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
            if TerminalCapabilities.hasDA1Reply(out) { break }
        }
        return out
    }
}
