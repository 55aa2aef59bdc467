import CNcursesw

/// Maps ncurses key codes (`KEY_*`, and the extended codes it defines from terminfo, known only by
/// name such as `kUP5`) and mouse states to `Key` / `MouseEvent`.
enum NcursesKeys {
    /// The key for an ncurses key code; `name` is `keyname(code)` (used for extended keys).
    static func key(code: Int32, name: String?) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_SR: return Key(.up, [.shift])
        case KEY_SF: return Key(.down, [.shift])
        case KEY_SLEFT: return Key(.left, [.shift])
        case KEY_SRIGHT: return Key(.right, [.shift])
        case KEY_HOME: return Key(.home)
        case KEY_END: return Key(.end)
        case KEY_SHOME: return Key(.home, [.shift])
        case KEY_SEND: return Key(.end, [.shift])
        case KEY_PPAGE: return Key(.pageUp)
        case KEY_NPAGE: return Key(.pageDown)
        case KEY_SPREVIOUS: return Key(.pageUp, [.shift])
        case KEY_SNEXT: return Key(.pageDown, [.shift])
        case KEY_IC: return Key(.insert)
        case KEY_DC: return Key(.delete)
        case KEY_SDC: return Key(.delete, [.shift])
        case KEY_BACKSPACE: return .backspace
        case KEY_ENTER: return .enter
        case KEY_BTAB: return Key(.tab, [.shift])
        default: break
        }
        let f0 = sumi_key_f0()
        if code > f0 && code <= f0 + 36 {
            // xterm terminfo: F13–F24 are shift+F1–F12, F25–F36 ctrl+F1–F12.
            let n = Int(code - f0)
            if n <= 12 { return .f(n) }
            if n <= 24 { return Key(.function(n - 12), [.shift]) }
            return Key(.function(n - 24), [.ctrl])
        }
        return name.flatMap(extendedKey(name:))
    }

    /// Extended key names from terminfo: `kUP5` = ctrl+up, `kLFT3` = alt+left, `kDC6` = ctrl+shift+delete…
    /// The digit is xterm's modifier parameter (2 shift, 3 alt, 5 ctrl, sums + 1).
    static func extendedKey(name: String) -> Key? {
        let bases: [(String, Key.Code)] = [
            ("kUP", .up), ("kDN", .down), ("kLFT", .left), ("kRIT", .right), ("kHOM", .home), ("kEND", .end),
            ("kDC", .delete), ("kIC", .insert), ("kNXT", .pageDown), ("kPRV", .pageUp),
        ]
        for (prefix, code) in bases where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let m = Int(rest), (2...8).contains(m) else { continue }
            return Key(code, Key.Modifiers(xtermParameter: m))
        }
        return nil
    }

    /// A mouse report from `getmouse`.
    static func mouse(bstate: mmask_t, col: Int32, row: Int32) -> MouseEvent? {
        var mods: Key.Modifiers = []
        if bstate & sumi_button_shift() != 0 { mods.insert(.shift) }
        if bstate & sumi_button_ctrl() != 0 { mods.insert(.ctrl) }
        if bstate & sumi_button_alt() != 0 { mods.insert(.alt) }
        let table: [(mmask_t, MouseButton, Bool)] = [
            (sumi_button1_pressed(), .left, true), (sumi_button1_clicked(), .left, true), (sumi_button1_released(), .left, false),
            (sumi_button2_pressed(), .middle, true), (sumi_button3_pressed(), .right, true),
            (sumi_button4_pressed(), .wheelUp, true), (sumi_button5_pressed(), .wheelDown, true),
        ]
        for (mask, button, pressed) in table where bstate & mask != 0 {
            return MouseEvent(button: button, pressed: pressed, col: Int(col), row: Int(row), modifiers: mods)
        }
        return nil
    }

    /// The mask of mouse events the backend asks for.
    static var mouseMask: mmask_t {
        sumi_button1_pressed() | sumi_button1_released() | sumi_button2_pressed() | sumi_button3_pressed()
            | sumi_button4_pressed() | sumi_button5_pressed()
    }
}
