import Imaging

/// Where and how large a sixel image is drawn: the pixel size to scale to and the cells it covers.
public struct SixelPlacement: Hashable, Sendable {
    /// Top-left cell column.
    public var col: Int
    /// Top-left cell row.
    public var row: Int
    /// Scaled image width in pixels.
    public var pixelWidth: Int
    /// Scaled image height in pixels (a multiple of 6, so there is no partial sixel band).
    public var pixelHeight: Int
    /// Cells covered (the image's footprint, for invalidation when it goes away).
    public var cells: Rect

    /// Fits an image of `imageWidth`×`imageHeight` pixels into `rect` with its aspect ratio kept,
    /// centred horizontally, top-aligned. At least one text row stays free below the image on a
    /// screen of `screenRows` rows: an image that touches the last row makes the terminal scroll and
    /// desynchronises ncurses (terminal-sixel-notes §3). Nil when nothing fits.
    public static func fit(imageWidth: Int, imageHeight: Int, in rect: Rect, cellWidth: Int, cellHeight: Int,
                           screenRows: Int) -> SixelPlacement? {
        guard imageWidth > 0, imageHeight > 0, cellWidth > 0, cellHeight > 0 else { return nil }
        let rows = min(rect.height, screenRows - 1 - rect.y)
        guard rows > 0, rect.width > 0 else { return nil }
        let maxW = rect.width * cellWidth
        let maxH = (rows * cellHeight) / 6 * 6
        guard maxH >= 6 else { return nil }
        let scale = min(Double(maxW) / Double(imageWidth), Double(maxH) / Double(imageHeight))
        let w = max(1, min(maxW, Int((Double(imageWidth) * scale).rounded(.down))))
        let h = max(6, min(maxH, Int((Double(imageHeight) * scale).rounded(.down)) / 6 * 6))
        let usedCols = (w + cellWidth - 1) / cellWidth
        let usedRows = (h + cellHeight - 1) / cellHeight
        let col = rect.x + (rect.width - usedCols) / 2
        return SixelPlacement(col: col, row: rect.y, pixelWidth: w, pixelHeight: h,
                              cells: Rect(x: col, y: rect.y, width: usedCols, height: usedRows))
    }

    /// The bytes to write after ncurses has refreshed: save cursor (DECSC), move to the image's cell,
    /// the sixel DCS, restore cursor (DECRC) so ncurses' idea of the cursor stays right.
    public func sequence(sixel: [UInt8]) -> [UInt8] {
        Array("\u{1b}7\u{1b}[\(row + 1);\(col + 1)H".utf8) + sixel + Array("\u{1b}8".utf8)
    }
}

/// An image the application wants shown in a cell rectangle. The terminal layer decides how:
/// sixel over blank cells, or half-blocks drawn into the frame.
public struct ImageRequest: Equatable, Sendable {
    /// The pixels.
    public var image: RGBImage
    /// The cells it may use.
    public var rect: Rect

    /// A request.
    public init(image: RGBImage, rect: Rect) {
        self.image = image
        self.rect = rect
    }
}

/// Which way images are drawn.
public enum ImageMode: String, CaseIterable, Sendable {
    /// Sixel when the terminal says it supports it, else half-blocks.
    case auto
    /// Sixel, even if detection said no (multiplexers can hide support).
    case sixel
    /// Half-blocks always.
    case blocks

    /// Sixel or blocks, given what the terminal reported.
    public func resolved(sixelSupported: Bool) -> ImageMode {
        switch self {
        case .auto: return sixelSupported ? .sixel : .blocks
        case .sixel, .blocks: return self
        }
    }
}

/// The sixel overlay: remembers what is on screen, encodes and writes images only when an image or
/// its placement changed (or the screen was repainted), and reports which cells to repaint when an
/// image goes away (ncurses would otherwise leave it on screen, since the text under it did not change).
public struct SixelOverlay {
    struct Shown: Equatable {
        var request: ImageRequest
        var placement: SixelPlacement
    }
    var shown: [Shown] = []
    var cache: [(Shown, [UInt8])] = []

    /// An empty overlay.
    public init() {}

    /// Forget what is on screen (after a resize or full repaint) so the next update rewrites every image.
    public mutating func invalidate() { shown = [] }

    /// Plans an update. Returns the cell rectangles that must be repainted (old images that moved
    /// or went away) and the bytes to write after the repaint (empty when nothing changed).
    public mutating func update(_ requests: [ImageRequest], cellWidth: Int, cellHeight: Int, screenRows: Int,
                                colors: Int = 256) -> (repaint: [Rect], bytes: [UInt8]) {
        let next: [Shown] = requests.compactMap { r in
            SixelPlacement.fit(imageWidth: r.image.width, imageHeight: r.image.height, in: r.rect, cellWidth: cellWidth,
                               cellHeight: cellHeight, screenRows: screenRows).map { Shown(request: r, placement: $0) }
        }
        if next == shown { return ([], []) }
        let repaint = shown.filter { !next.contains($0) }.map(\.placement.cells)
        var bytes: [UInt8] = []
        var newCache: [(Shown, [UInt8])] = []
        for s in next {
            let sixel: [UInt8]
            if let cached = cache.first(where: { $0.0 == s })?.1 { sixel = cached } else {
                let scaled = s.request.image.resized(toWidth: s.placement.pixelWidth, height: s.placement.pixelHeight)
                guard let encoded = try? SixelEncoder.encode(scaled, colors: colors) else { continue }
                sixel = encoded
            }
            newCache.append((s, sixel))
            bytes += s.placement.sequence(sixel: sixel)
        }
        cache = newCache
        shown = next
        return (repaint, bytes)
    }
}
