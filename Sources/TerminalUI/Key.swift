/// A key press: a key code plus modifiers. Letters keep their case (`A` is shift+a already applied);
/// `ctrl+s` is `Key(.char("s"), [.ctrl])`; shift+tab is `Key(.tab, [.shift])`.
public struct Key: Hashable, Sendable, CustomStringConvertible {
    /// Which key.
    public enum Code: Hashable, Sendable {
        /// A printable grapheme.
        case char(Character)
        /// Arrow up.
        case up
        /// Arrow down.
        case down
        /// Arrow left.
        case left
        /// Arrow right.
        case right
        /// Home.
        case home
        /// End.
        case end
        /// Page up.
        case pageUp
        /// Page down.
        case pageDown
        /// Insert.
        case insert
        /// Delete (forward).
        case delete
        /// Backspace.
        case backspace
        /// Enter / Return.
        case enter
        /// Tab.
        case tab
        /// Escape.
        case escape
        /// Function key F1…F12.
        case function(Int)
    }

    /// Modifier keys.
    public struct Modifiers: OptionSet, Hashable, Sendable {
        /// The raw bits.
        public let rawValue: UInt8
        /// Creates modifiers from raw bits.
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Shift.
        public static let shift = Modifiers(rawValue: 1)
        /// Alt / Meta.
        public static let alt = Modifiers(rawValue: 2)
        /// Control.
        public static let ctrl = Modifiers(rawValue: 4)

        /// From the xterm modifier parameter (`CSI 1 ; m A`): m − 1 is the bit set shift|alt|ctrl.
        init(xtermParameter m: Int) { self.init(rawValue: UInt8(max(0, m - 1) & 7)) }
    }

    /// The key code.
    public var code: Code
    /// Held modifiers.
    public var modifiers: Modifiers

    /// A key.
    public init(_ code: Code, _ modifiers: Modifiers = []) {
        self.code = code
        self.modifiers = modifiers
    }

    /// A plain character key.
    public static func char(_ c: Character) -> Key { Key(.char(c)) }
    /// ctrl + a character (stored lower case).
    public static func ctrl(_ c: Character) -> Key { Key(.char(Character(c.lowercased())), [.ctrl]) }
    /// alt + a character.
    public static func alt(_ c: Character) -> Key { Key(.char(c), [.alt]) }
    /// Function key `n`.
    public static func f(_ n: Int) -> Key { Key(.function(n)) }

    /// Arrow up.
    public static let up = Key(.up)
    /// Arrow down.
    public static let down = Key(.down)
    /// Arrow left.
    public static let left = Key(.left)
    /// Arrow right.
    public static let right = Key(.right)
    /// Enter.
    public static let enter = Key(.enter)
    /// Tab.
    public static let tab = Key(.tab)
    /// Escape.
    public static let escape = Key(.escape)
    /// Backspace.
    public static let backspace = Key(.backspace)

    /// Human form for help screens: `ctrl+s`, `alt+x`, `shift+tab`, `↑`, `F5`, `space`.
    public var description: String {
        var s = ""
        if modifiers.contains(.ctrl) { s += "ctrl+" }
        if modifiers.contains(.alt) { s += "alt+" }
        if modifiers.contains(.shift) { s += "shift+" }
        switch code {
        case .char(" "): s += "space"
        case .char(let c): s.append(c)
        case .up: s += "↑"
        case .down: s += "↓"
        case .left: s += "←"
        case .right: s += "→"
        case .home: s += "home"
        case .end: s += "end"
        case .pageUp: s += "pgup"
        case .pageDown: s += "pgdn"
        case .insert: s += "ins"
        case .delete: s += "del"
        case .backspace: s += "bksp"
        case .enter: s += "enter"
        case .tab: s += "tab"
        case .escape: s += "esc"
        case .function(let n): s += "F\(n)"
        }
        return s
    }

    /// Parses the `description` form back (also accepts `up`, `down`, `left`, `right`, `f5`), for key config files.
    public init?(parsing text: String) {
        var parts = text.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
        if text.hasSuffix("++") { parts = Array(parts.dropLast(2)) + ["+"] }  // "ctrl++"
        guard let last = parts.popLast(), !last.isEmpty else { return nil }
        var mods: Modifiers = []
        for p in parts {
            switch p.lowercased() {
            case "ctrl", "c": mods.insert(.ctrl)
            case "alt", "meta", "m": mods.insert(.alt)
            case "shift", "s": mods.insert(.shift)
            default: return nil
            }
        }
        let named: [String: Code] = [
            "↑": .up, "up": .up, "↓": .down, "down": .down, "←": .left, "left": .left, "→": .right, "right": .right,
            "home": .home, "end": .end, "pgup": .pageUp, "pgdn": .pageDown, "ins": .insert, "del": .delete,
            "bksp": .backspace, "backspace": .backspace, "enter": .enter, "tab": .tab, "esc": .escape, "space": .char(" "),
        ]
        if let c = named[last.lowercased()] { self.init(c, mods); return }
        if last.count > 1, last.first == "F" || last.first == "f", let n = Int(last.dropFirst()), (1...24).contains(n) {
            self.init(.function(n), mods)
            return
        }
        guard last.count == 1, let ch = last.first else { return nil }
        self.init(.char(mods.contains(.ctrl) ? Character(ch.lowercased()) : ch), mods)
    }
}

/// A mouse button or wheel direction.
public enum MouseButton: Hashable, Sendable {
    /// Left button.
    case left
    /// Middle button.
    case middle
    /// Right button.
    case right
    /// Wheel rolled up (away from the user).
    case wheelUp
    /// Wheel rolled down.
    case wheelDown
}

/// A mouse event at a cell.
public struct MouseEvent: Hashable, Sendable {
    /// Which button.
    public var button: MouseButton
    /// True for press (and wheel), false for release.
    public var pressed: Bool
    /// Column (0-based).
    public var col: Int
    /// Row (0-based).
    public var row: Int
    /// Held modifiers.
    public var modifiers: Key.Modifiers

    /// A mouse event.
    public init(button: MouseButton, pressed: Bool = true, col: Int, row: Int, modifiers: Key.Modifiers = []) {
        self.button = button
        self.pressed = pressed
        self.col = col
        self.row = row
        self.modifiers = modifiers
    }
}

/// One input event from the terminal.
public enum InputEvent: Hashable, Sendable {
    /// A key press.
    case key(Key)
    /// A mouse click or wheel step.
    case mouse(MouseEvent)
    /// Bracketed-paste text, delivered whole so the editor inserts it as one undo step.
    case paste(String)
    /// The terminal was resized.
    case resize
}
