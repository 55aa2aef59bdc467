/// Decodes raw terminal input (Unicode scalars as read from the tty) into events: control codes,
/// CSI / SS3 escape sequences with xterm modifiers, alt+key as ESC-prefixed keys, SGR and X10 mouse
/// reports, and bracketed paste. ncurses decodes the keys its terminfo knows; everything else (alt
/// keys, modified arrows on some terminals, paste, SGR mouse) reaches us as raw scalars and ends up here.
///
/// The decoder is pure: `decode` takes a complete chunk (the backend reads everything that is
/// immediately available after an ESC) and returns the events in order.
public enum InputDecoder {
    /// Decodes one chunk of input.
    public static func decode(_ input: [UInt32]) -> [InputEvent] {
        var events: [InputEvent] = []
        var i = 0
        while i < input.count {
            let (event, used) = decodeOne(input, at: i)
            if let event { events.append(event) }
            i += max(1, used)
        }
        return events
    }

    /// Decodes a string (tests and the headless driver type keys this way).
    public static func decode(_ s: String) -> [InputEvent] { decode(s.unicodeScalars.map(\.value)) }

    static func decodeOne(_ s: [UInt32], at i: Int) -> (InputEvent?, Int) {
        let c = s[i]
        if c == 27 {
            guard i + 1 < s.count else { return (.key(.escape), 1) }
            let n = s[i + 1]
            if n == UInt32(UInt8(ascii: "[")) { return csi(s, at: i) }
            if n == UInt32(UInt8(ascii: "O")), i + 2 < s.count { return ss3(s[i + 2], used: 3) }
            if n == 27 {
                // ESC ESC [ A: some terminals send alt+arrow like this.
                if i + 2 < s.count, s[i + 2] == UInt32(UInt8(ascii: "[")) || s[i + 2] == UInt32(UInt8(ascii: "O")) {
                    let (e, used) = decodeOne(s, at: i + 1)
                    if case .key(var k)? = e { k.modifiers.insert(.alt); return (.key(k), used + 1) }
                    return (e, used + 1)
                }
                return (.key(.escape), 1)
            }
            // alt + key.
            let (e, used) = decodeOne(s, at: i + 1)
            if case .key(var k)? = e { k.modifiers.insert(.alt); return (.key(k), used + 1) }
            return (e, used + 1)
        }
        return (plain(c).map { .key($0) }, 1)
    }

    /// A single non-escape scalar: control codes become ctrl+letter, Enter, Tab, Backspace.
    static func plain(_ c: UInt32) -> Key? {
        switch c {
        case 9: return .tab
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 0: return Key(.char(" "), [.ctrl])
        case 1...26: return .ctrl(Character(Unicode.Scalar(UInt8(96 + c))))
        case 28...31: return Key(.char(Character(Unicode.Scalar(UInt8(64 + c)))), [.ctrl])  // ctrl+\ ] ^ _
        default:
            guard let u = Unicode.Scalar(c) else { return nil }
            return .char(Character(u))
        }
    }

    static func ss3(_ final: UInt32, used: Int) -> (InputEvent?, Int) {
        let map: [UInt8: Key.Code] = [
            UInt8(ascii: "A"): .up, UInt8(ascii: "B"): .down, UInt8(ascii: "C"): .right, UInt8(ascii: "D"): .left,
            UInt8(ascii: "H"): .home, UInt8(ascii: "F"): .end, UInt8(ascii: "P"): .function(1),
            UInt8(ascii: "Q"): .function(2), UInt8(ascii: "R"): .function(3), UInt8(ascii: "S"): .function(4),
            UInt8(ascii: "M"): .enter,
        ]
        guard final < 128, let code = map[UInt8(final)] else { return (nil, used) }
        return (.key(Key(code)), used)
    }

    /// CSI sequences: `ESC [` params final. Starts at the ESC.
    static func csi(_ s: [UInt32], at i: Int) -> (InputEvent?, Int) {
        var j = i + 2
        // X10 mouse: ESC [ M b x y (each + 32).
        if j < s.count, s[j] == UInt32(UInt8(ascii: "M")), j + 3 < s.count {
            let b = Int(s[j + 1]) - 32, x = Int(s[j + 2]) - 33, y = Int(s[j + 3]) - 33
            return (mouse(code: b, col: x, row: y, release: (b & 3) == 3 && b < 64), 6)
        }
        var privateMarker: UInt32? = nil
        if j < s.count, s[j] == UInt32(UInt8(ascii: "<")) || s[j] == UInt32(UInt8(ascii: "?")) {
            privateMarker = s[j]
            j += 1
        }
        var params: [Int] = []
        var current: Int? = nil
        while j < s.count {
            let c = s[j]
            if c >= 0x30 && c <= 0x39 {
                current = (current ?? 0) * 10 + Int(c - 0x30)
            } else if c == 0x3b {
                params.append(current ?? 0)
                current = nil
            } else {
                break
            }
            j += 1
        }
        guard j < s.count else { return (nil, s.count - i) }  // truncated: drop it
        if let current { params.append(current) }
        let final = s[j]
        let used = j - i + 1
        if privateMarker == UInt32(UInt8(ascii: "<")) {
            // SGR mouse: ESC [ < b ; x ; y M|m (1-based coordinates).
            guard params.count == 3 else { return (nil, used) }
            return (mouse(code: params[0], col: params[1] - 1, row: params[2] - 1, release: final == UInt32(UInt8(ascii: "m"))), used)
        }
        let mods = Key.Modifiers(xtermParameter: params.count >= 2 ? params[1] : 1)
        guard final < 128 else { return (nil, used) }
        switch UInt8(final) {
        case UInt8(ascii: "A"): return (.key(Key(.up, mods)), used)
        case UInt8(ascii: "B"): return (.key(Key(.down, mods)), used)
        case UInt8(ascii: "C"): return (.key(Key(.right, mods)), used)
        case UInt8(ascii: "D"): return (.key(Key(.left, mods)), used)
        case UInt8(ascii: "H"): return (.key(Key(.home, mods)), used)
        case UInt8(ascii: "F"): return (.key(Key(.end, mods)), used)
        case UInt8(ascii: "Z"): return (.key(Key(.tab, [.shift])), used)
        case UInt8(ascii: "P"), UInt8(ascii: "Q"), UInt8(ascii: "R"), UInt8(ascii: "S"):
            return (.key(Key(.function(Int(final) - 0x50 + 1), mods)), used)
        case UInt8(ascii: "~"):
            let n = params.first ?? 0
            if n == 200 {
                let (e, body) = paste(s, from: i + used)
                return (e, used + body)
            }
            let table: [Int: Key.Code] = [
                1: .home, 7: .home, 4: .end, 8: .end, 2: .insert, 3: .delete, 5: .pageUp, 6: .pageDown,
                11: .function(1), 12: .function(2), 13: .function(3), 14: .function(4), 15: .function(5),
                17: .function(6), 18: .function(7), 19: .function(8), 20: .function(9), 21: .function(10),
                23: .function(11), 24: .function(12),
            ]
            guard let code = table[n] else { return (nil, used) }
            return (.key(Key(code, mods)), used)
        default:
            return (nil, used)
        }
    }

    /// Bracketed paste: the body from `start` up to `ESC [ 201 ~` (or the end of the chunk). Returns the
    /// event and how many scalars after `start` were consumed. CR and CR LF become newlines.
    static func paste(_ s: [UInt32], from start: Int) -> (InputEvent, Int) {
        let end: [UInt32] = [27, 0x5b, 0x32, 0x30, 0x31, 0x7e]
        var j = start
        while j < s.count {
            if s[j] == 27, j + end.count <= s.count, Array(s[j..<(j + end.count)]) == end { break }
            j += 1
        }
        var text = String.UnicodeScalarView()
        var prevCR = false
        for v in s[start..<j] {
            defer { prevCR = v == 13 }
            if v == 10 && prevCR { continue }
            guard let u = Unicode.Scalar(v) else { continue }
            text.append(v == 13 ? "\n" : u)
        }
        return (.paste(String(text)), (j - start) + (j < s.count ? end.count : 0))
    }

    /// Mouse button code (xterm encoding) to an event.
    static func mouse(code b: Int, col: Int, row: Int, release: Bool) -> InputEvent? {
        var mods: Key.Modifiers = []
        if b & 4 != 0 { mods.insert(.shift) }
        if b & 8 != 0 { mods.insert(.alt) }
        if b & 16 != 0 { mods.insert(.ctrl) }
        if b & 32 != 0 { return nil }  // motion: not used
        let button: MouseButton
        switch b & ~(4 | 8 | 16) {
        case 0: button = .left
        case 1: button = .middle
        case 2: button = .right
        case 3: return nil  // X10 release without a button
        case 64: button = .wheelUp
        case 65: button = .wheelDown
        default: return nil
        }
        return .mouse(MouseEvent(button: button, pressed: !release, col: col, row: row, modifiers: mods))
    }
}
