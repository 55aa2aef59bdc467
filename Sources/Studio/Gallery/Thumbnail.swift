import Foundation
import Imaging

/// Small copies of images for half-block previews in lists and dashboards. Loading decodes the whole PNG with
/// libpng, so panes never do it while rendering: the app loads the path a pane asks for (`thumbnailRequest`) —
/// off the UI thread if it likes — and hands the result back to the pane.
public enum Thumbnail {
    /// Longest side of a stored thumbnail, in pixels. Half-block cells show 1×2 pixels, so 96 covers a 96-column
    /// preview; keeping it small keeps the pane state cheap to copy.
    public static let maxSide = 96

    /// Decodes the PNG at `path` and scales it so its longer side is at most `maxSide` (aspect kept).
    /// Errors are `ImagingError`s naming the file.
    public static func load(path: String, maxSide: Int = Thumbnail.maxSide) throws -> RGBImage {
        let image = try PNG.read(path).image
        return scaled(image, maxSide: maxSide)
    }

    /// `image` scaled down so its longer side is at most `maxSide` (never up).
    public static func scaled(_ image: RGBImage, maxSide: Int = Thumbnail.maxSide) -> RGBImage {
        let longest = max(image.width, image.height)
        guard longest > maxSide, maxSide > 0 else { return image }
        let s = Double(maxSide) / Double(longest)
        return image.resized(toWidth: max(1, Int((Double(image.width) * s).rounded())),
                             height: max(1, Int((Double(image.height) * s).rounded())))
    }
}

/// A thumbnail (or why there is none) for one path, as panes keep it.
public enum ThumbnailSlot: Equatable, Sendable {
    /// Decoded and scaled.
    case image(RGBImage)
    /// Loading failed; the one-line reason.
    case failed(String)
}
