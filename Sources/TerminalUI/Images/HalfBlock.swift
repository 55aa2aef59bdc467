import Imaging

/// Text-only image rendering: each cell shows two vertically stacked pixels as `▀` with the top
/// pixel as foreground and the bottom one as background. Works in every colour terminal; the result
/// is ordinary cells in the frame, so it is diffed like text and snapshot-testable.
public enum HalfBlock {
    /// The pixel grid (`width` × `height`, height even) an image is scaled to so it fits `cols` ×
    /// `rows` cells with its aspect ratio kept. Cells are taken to be about twice as tall as wide,
    /// so one half-block pixel is roughly square.
    public static func fittedPixels(imageWidth: Int, imageHeight: Int, cols: Int, rows: Int) -> (width: Int, height: Int) {
        guard imageWidth > 0, imageHeight > 0, cols > 0, rows > 0 else { return (0, 0) }
        let scale = min(Double(cols) / Double(imageWidth), Double(rows * 2) / Double(imageHeight))
        let w = max(1, min(cols, Int((Double(imageWidth) * scale).rounded())))
        var h = max(2, min(rows * 2, Int((Double(imageHeight) * scale).rounded())))
        h += h % 2
        return (w, min(h, rows * 2))
    }

    /// Draws `image` centred in `rect`. With `.palette256` or `.ansi16` the colours are quantised
    /// here (nearest palette entry), so the frame shows exactly what the terminal will.
    public static func render(_ image: RGBImage, into frame: inout Frame, rect: Rect, colorMode: ColorMode = .direct) {
        guard !rect.isEmpty, !image.isEmpty else { return }
        let (w, h) = fittedPixels(imageWidth: image.width, imageHeight: image.height, cols: rect.width, rows: rect.height)
        guard w > 0, h > 0 else { return }
        let scaled = image.resized(toWidth: w, height: h)
        let x0 = rect.x + (rect.width - w) / 2
        let y0 = rect.y + (rect.height - h / 2) / 2
        for cy in 0..<(h / 2) {
            for cx in 0..<w {
                let top = colorMode.quantize(scaled[cx, cy * 2])
                let bottom = colorMode.quantize(scaled[cx, cy * 2 + 1])
                frame.set(col: x0 + cx, row: y0 + cy, Cell("▀", fg: .rgb(top), bg: .rgb(bottom)))
            }
        }
    }
}
