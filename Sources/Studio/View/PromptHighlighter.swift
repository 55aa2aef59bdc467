import TerminalUI

/// Colours the emphasis syntax of a prompt for the editor: brackets in the accent colour, `:1.2` weights as
/// warnings, emphasised text (inside `( )`) and de-emphasised text (inside `[ ]`) in two plot colours, escapes
/// (`\(`) and commas dim, `BREAK` as an error colour. The same rules for both syntaxes: it shows structure,
/// the parser decides the weights.
public enum PromptHighlighter {
    /// One role per grapheme of each line.
    public static func roles(_ lines: [[Character]]) -> [[Role]] {
        var stack: [Character] = []   // open brackets, across lines (ComfyUI and A1111 ignore newlines)
        return lines.map { line in
            var out = [Role](repeating: .text, count: line.count)
            var i = 0
            while i < line.count {
                let ch = line[i]
                if ch == "\\", i + 1 < line.count, "()[]\\".contains(line[i + 1]) {
                    out[i] = .dim
                    out[i + 1] = .dim
                    i += 2
                    continue
                }
                switch ch {
                case "(", "[":
                    stack.append(ch)
                    out[i] = .accent
                case ")", "]":
                    if let open = stack.last, (open == "(" && ch == ")") || (open == "[" && ch == "]") { stack.removeLast() }
                    out[i] = .accent
                case ":" where stack.last == "(":
                    // `:1.2)` — the weight of the enclosing group.
                    var j = i + 1
                    while j < line.count, line[j].isNumber || line[j] == "." || line[j] == "-" || line[j] == " " { j += 1 }
                    if j > i + 1, j < line.count, line[j] == ")" {
                        for k in i..<j { out[k] = .warning }
                        i = j
                        continue
                    }
                    out[i] = role(stack)
                case ",":
                    out[i] = .dim
                default:
                    out[i] = role(stack)
                    if ch == "B", isWord("BREAK", in: line, at: i) {
                        for k in i..<(i + 5) { out[k] = .error }
                        i += 5
                        continue
                    }
                }
                i += 1
            }
            return out
        }
    }

    static func role(_ stack: [Character]) -> Role {
        guard let top = stack.last else { return .text }
        return top == "(" ? .plot2 : .plot6
    }

    /// Whether `word` stands alone at `i` (not part of a longer word).
    static func isWord(_ word: String, in line: [Character], at i: Int) -> Bool {
        let w = Array(word)
        guard i + w.count <= line.count, Array(line[i..<(i + w.count)]) == w else { return false }
        let before = i == 0 || !line[i - 1].isLetter
        let after = i + w.count == line.count || !line[i + w.count].isLetter
        return before && after
    }
}
