/// One 8-bit RGB colour.
public struct RGBPixel: Equatable, Hashable, Sendable {
    /// Red, 0...255.
    public var r: UInt8
    /// Green, 0...255.
    public var g: UInt8
    /// Blue, 0...255.
    public var b: UInt8

    /// A colour from its three components.
    public init(r: UInt8, g: UInt8, b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Black (0, 0, 0).
    public static let black = RGBPixel(r: 0, g: 0, b: 0)
    /// White (255, 255, 255).
    public static let white = RGBPixel(r: 255, g: 255, b: 255)
}

/// An 8-bit RGB image: `pixels` holds `width * height * 3` bytes, row-major, R G B per pixel,
/// no padding. Zero-sized images are allowed (a terminal pane can be 0 cells wide) but cannot be
/// encoded as PNG.
public struct RGBImage: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// RGB8 samples, row-major: pixel (x, y) starts at `(y * width + x) * 3`.
    public private(set) var pixels: [UInt8]

    /// Wraps existing samples. The count must be exactly `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage: \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour (black by default).
    public init(width: Int, height: Int, fill: RGBPixel = .black) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        if fill != .black {
            for i in stride(from: 0, to: pixels.count, by: 3) {
                pixels[i] = fill.r
                pixels[i + 1] = fill.g
                pixels[i + 2] = fill.b
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Whether the image has no pixels.
    public var isEmpty: Bool { width == 0 || height == 0 }

    /// The pixel at column `x`, row `y` (both must be in bounds).
    public subscript(x: Int, y: Int) -> RGBPixel {
        get {
            let i = offset(x, y)
            return RGBPixel(r: pixels[i], g: pixels[i + 1], b: pixels[i + 2])
        }
        set {
            let i = offset(x, y)
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// Calls `body` with mutable access to the samples (same layout as `pixels`), for bulk writes
    /// such as converting a decoded tensor without an intermediate array.
    public mutating func withUnsafeMutablePixels<R>(_ body: (inout UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try pixels.withUnsafeMutableBufferPointer { try body(&$0) }
    }

    /// The sub-image with top-left corner (x, y); the rectangle must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= width && y + h <= height,
                     "RGBImage.cropped: rect (\(x), \(y), \(w)x\(h)) outside \(width)x\(height)")
        var out = [UInt8]()
        out.reserveCapacity(w * h * 3)
        for row in y..<(y + h) {
            let start = (row * width + x) * 3
            out.append(contentsOf: pixels[start..<(start + w * 3)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    @inline(__always)
    private func offset(_ x: Int, _ y: Int) -> Int {
        precondition(x >= 0 && x < width && y >= 0 && y < height,
                     "RGBImage: pixel (\(x), \(y)) outside \(width)x\(height)")
        return (y * width + x) * 3
    }
}
