/// A size in terminal cells.
public struct Size: Hashable, Sendable {
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int
    /// A size; negative values are clamped to zero.
    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
    }
}

/// A rectangle of cells: top-left (`x`, `y`), `width` columns by `height` rows.
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    /// Left column.
    public var x: Int
    /// Top row.
    public var y: Int
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int

    /// A rectangle; negative sizes are clamped to zero.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    /// The rectangle at the origin covering `size`.
    public init(size: Size) { self.init(x: 0, y: 0, width: size.width, height: size.height) }

    /// `(x, y, w×h)`.
    public var description: String { "(\(x), \(y), \(width)x\(height))" }
    /// One past the right column.
    public var maxX: Int { x + width }
    /// One past the bottom row.
    public var maxY: Int { y + height }
    /// Whether the rectangle has no cells.
    public var isEmpty: Bool { width == 0 || height == 0 }
    /// The size.
    public var size: Size { Size(width: width, height: height) }

    /// Whether the cell (`col`, `row`) lies inside.
    public func contains(col: Int, row: Int) -> Bool { col >= x && col < maxX && row >= y && row < maxY }

    /// The rectangle shrunk by `n` cells on every side.
    public func inset(_ n: Int) -> Rect { inset(top: n, left: n, bottom: n, right: n) }

    /// The rectangle shrunk by the given margins (never below zero size).
    public func inset(top: Int = 0, left: Int = 0, bottom: Int = 0, right: Int = 0) -> Rect {
        Rect(x: x + left, y: y + top, width: width - left - right, height: height - top - bottom)
    }

    /// The overlap with `other` (empty when they do not meet).
    public func intersection(_ other: Rect) -> Rect {
        let x0 = max(x, other.x), y0 = max(y, other.y)
        return Rect(x: x0, y: y0, width: min(maxX, other.maxX) - x0, height: min(maxY, other.maxY) - y0)
    }

    /// A `width`×`height` rectangle centred inside this one (clamped to fit).
    public func centered(width w: Int, height h: Int) -> Rect {
        let cw = min(w, width), ch = min(h, height)
        return Rect(x: x + (width - cw) / 2, y: y + (height - ch) / 2, width: cw, height: ch)
    }

    /// Splits along `axis` by `constraints` (see `Constraint` for how space is shared).
    public func split(_ axis: Axis, _ constraints: [Constraint]) -> [Rect] {
        let total = axis == .vertical ? height : width
        let sizes = Constraint.solve(constraints, total: total)
        var out: [Rect] = []
        var offset = 0
        for s in sizes {
            if axis == .vertical { out.append(Rect(x: x, y: y + offset, width: width, height: s)) }
            else { out.append(Rect(x: x + offset, y: y, width: s, height: height)) }
            offset += s
        }
        return out
    }

    /// The top `n` rows and the rest.
    public func splitTop(_ n: Int) -> (Rect, Rect) {
        let r = split(.vertical, [.fixed(n), .min(0)])
        return (r[0], r[1])
    }

    /// The rest and the bottom `n` rows.
    public func splitBottom(_ n: Int) -> (Rect, Rect) {
        let r = split(.vertical, [.min(0), .fixed(n)])
        return (r[0], r[1])
    }
}

/// The direction of a split.
public enum Axis: Sendable {
    /// Stacked rows, top to bottom.
    case vertical
    /// Side-by-side columns, left to right.
    case horizontal
}

/// How much of a split one part gets.
///
/// Solving: `fixed` parts get their size and `min` parts their minimum; `ratio` parts then get
/// their share of the whole, capped by what is left; whatever remains is shared equally by the
/// `min` parts (earlier parts get the odd cells). When the terminal is too small, parts shrink from
/// the last one backwards, ratios first, then minimums, then fixed sizes, so headers and status
/// lines survive longest.
public enum Constraint: Hashable, Sendable {
    /// Exactly `n` cells.
    case fixed(Int)
    /// `numerator/denominator` of the whole length (rounded down).
    case ratio(Int, Int)
    /// At least `n` cells, growing to fill what is left.
    case min(Int)

    /// Sizes for `constraints` in `total` cells; they sum to at most `total` (exactly `total` when
    /// there is a `min` part).
    public static func solve(_ constraints: [Constraint], total: Int) -> [Int] {
        let total = Swift.max(0, total)
        var sizes = constraints.map { c -> Int in
            switch c {
            case .fixed(let n), .min(let n): return Swift.max(0, n)
            case .ratio: return 0
            }
        }
        var used = sizes.reduce(0, +)
        for (i, c) in constraints.enumerated() {
            if case let .ratio(num, den) = c, den > 0 {
                let want = Swift.max(0, total * num / den)
                sizes[i] = Swift.min(want, Swift.max(0, total - used))
                used += sizes[i]
            }
        }
        if used > total {
            // Shrink from the end: ratios, then mins, then fixed.
            var excess = used - total
            for pass in 0..<3 {
                for i in constraints.indices.reversed() where excess > 0 {
                    let matches: Bool
                    switch (pass, constraints[i]) {
                    case (0, .ratio), (1, .min), (2, .fixed): matches = true
                    default: matches = false
                    }
                    guard matches else { continue }
                    let cut = Swift.min(excess, sizes[i])
                    sizes[i] -= cut
                    excess -= cut
                }
            }
            return sizes
        }
        let growers = constraints.indices.filter { if case .min = constraints[$0] { return true } else { return false } }
        if !growers.isEmpty {
            let spare = total - used
            for (k, i) in growers.enumerated() {
                sizes[i] += spare / growers.count + (k < spare % growers.count ? 1 : 0)
            }
        }
        return sizes
    }
}
