import Imaging

extension Frame {
    /// The frame as text for snapshot tests: the characters (each row ends with `|` so trailing
    /// spaces survive editors), then a style layer so colour and attribute regressions show:
    ///
    /// - `~~ fg`: the foreground role letter of every non-blank cell (`Role.snapshotLetter`), `.` for
    ///   blank cells, a legend symbol for RGB colours;
    /// - `~~ bg`: the background role letter, `.` for the theme background;
    /// - `~~ attr`: `.` or a hex digit of the attribute bits (1 bold, 2 dim, 4 reverse, 8 underline);
    /// - `~~ rgb`: the legend of RGB colours, when there are any;
    /// - `~~ theme`: with a theme, the resolved colour of every role used, so theme edits show too.
    public func snapshotText(theme: Theme? = nil) -> String {
        var legend: [RGBPixel: Character] = [:]
        var legendOrder: [RGBPixel] = []
        let symbols = Array("αβγδεζηθικλμνξοπρστυφχψωΓΔΘΛΞΠΣΦΨΩ")
        var usedRoles = Set<Role>()
        func letter(_ c: CellColor) -> Character {
            switch c {
            case .role(let r):
                usedRoles.insert(r)
                return r.snapshotLetter
            case .rgb(let p):
                if let s = legend[p] { return s }
                let s: Character = legendOrder.count < symbols.count ? symbols[legendOrder.count] : "*"
                legend[p] = s
                legendOrder.append(p)
                return s
            }
        }
        var text = "", fg = "", bg = "", attr = ""
        let hex = Array("0123456789abcdef")
        for row in 0..<size.height {
            for col in 0..<size.width {
                let c = self[col, row]
                if !c.isContinuation { text.append(c.char) }
                let visibleFg = c.char != " " || c.attrs.contains(.underline) || c.attrs.contains(.reverse)
                fg.append(visibleFg && !c.isContinuation ? letter(c.fg) : ".")
                bg.append(c.bg == .role(.background) ? "." : letter(c.bg))
                attr.append(c.attrs.isEmpty ? "." : hex[Int(c.attrs.rawValue)])
            }
            text += "|\n"
            fg += "\n"
            bg += "\n"
            attr += "\n"
        }
        var out = text + "~~ fg\n" + fg + "~~ bg\n" + bg + "~~ attr\n" + attr
        if !legendOrder.isEmpty {
            out += "~~ rgb\n" + legendOrder.map { "\(legend[$0]!)=\($0.hexString)" }.joined(separator: " ") + "\n"
        }
        if let theme {
            let roles = Role.allCases.filter { usedRoles.contains($0) || $0 == .background }
            out += "~~ theme \(theme.name) border=\(theme.border.rawValue)\n"
            out += roles.map { "\($0.snapshotLetter)=\(theme[$0].hexString)" }.joined(separator: " ") + "\n"
        }
        return out
    }
}
