/// A run of adjacent cells on one row that must be sent to the terminal.
public struct CellRun: Hashable, Sendable {
    /// Row.
    public var row: Int
    /// First column.
    public var col: Int
    /// The cells, left to right (continuation halves of wide graphemes included; emitters skip them).
    public var cells: [Cell]
}

/// Frame diffing: what changed between the frame on screen and the next one. Backends send only
/// these runs, which keeps redraws cheap over ssh and avoids flicker.
public enum FrameDiff {
    /// Runs of changed cells, top to bottom, left to right. With no previous frame, or a different
    /// size (after a resize), every row is one run. A run never starts on the right half of a wide
    /// grapheme nor ends on its left half, so it can be emitted on its own.
    public static func runs(from old: Frame?, to new: Frame) -> [CellRun] {
        let w = new.size.width
        guard let old, old.size == new.size else {
            return (0..<new.size.height).map { row in
                CellRun(row: row, col: 0, cells: Array(new.cells[(row * w)..<(row * w + w)]))
            }
        }
        var out: [CellRun] = []
        new.cells.withUnsafeBufferPointer { n in
            old.cells.withUnsafeBufferPointer { o in
                for row in 0..<new.size.height {
                    let base = row * w
                    var col = 0
                    while col < w {
                        if n[base + col] == o[base + col] { col += 1; continue }
                        var start = col
                        while col < w && n[base + col] != o[base + col] { col += 1 }
                        if start > 0 && n[base + start].isContinuation { start -= 1 }
                        if col < w && col > start && n[base + col - 1].width == 2 { col += 1 }
                        out.append(CellRun(row: row, col: start, cells: Array(n[(base + start)..<(base + col)])))
                    }
                }
            }
        }
        return out
    }

    /// Number of cells the runs cover (what a backend will write).
    public static func cellCount(_ runs: [CellRun]) -> Int { runs.reduce(0) { $0 + $1.cells.count } }
}
