import CJPEG
import Imaging

/// Why an image could not be used.
public enum ImageDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Neither JPEG nor PNG (WebP and others are not supported).
    case unsupportedFormat
    /// The decoder rejected the data.
    case corrupt(String)
    /// The data ends before the image does.
    case truncated
    /// Width x height exceeds the pixel limit.
    case tooLarge(width: Int, height: Int)

    /// One line, for logs.
    public var description: String {
        switch self {
        case .unsupportedFormat: return "unsupported image format"
        case .corrupt(let m): return "corrupt image (\(m))"
        case .truncated: return "truncated image"
        case .tooLarge(let w, let h): return "image \(w)x\(h) exceeds the pixel limit"
        }
    }
}

/// A decoded image plus the size it has in the file (the JPEG path may decode at 1/2, 1/4 or 1/8).
public struct DecodedImage: Sendable {
    /// The pixels, possibly smaller than the original.
    public var image: Imaging.RGBImage
    /// Width stored in the file.
    public var originalWidth: Int
    /// Height stored in the file.
    public var originalHeight: Int
}

/// JPEG (libjpeg-turbo through the CJPEG shim) and PNG (`Imaging.PNG`) decoding to RGB8, chosen by
/// the file's signature rather than its extension.
public enum ImageDecoder {
    /// Supported encodings.
    public enum Format: Sendable { case jpeg, png }

    /// width * height, saturating instead of overflowing (sizes come from untrusted headers).
    public static func pixelCount(_ width: Int, _ height: Int) -> Int {
        let (p, overflow) = width.multipliedReportingOverflow(by: height)
        return overflow ? Int.max : p
    }

    /// The format from the leading bytes, or nil.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// The stored size, read from the header only (JPEG SOF via libjpeg; PNG IHDR).
    public static func size(of bytes: [UInt8]) throws -> (width: Int, height: Int) {
        switch format(of: bytes) {
        case .jpeg:
            var w: UInt32 = 0, h: UInt32 = 0
            let status = bytes.withUnsafeBufferPointer { sumi_jpeg_read_size($0.baseAddress, $0.count, &w, &h) }
            if status == Int32(SUMI_JPEG_TRUNCATED) { throw ImageDecodeError.truncated }
            guard status == Int32(SUMI_JPEG_OK), w > 0, h > 0 else { throw ImageDecodeError.corrupt("unreadable JPEG header") }
            return (Int(w), Int(h))
        case .png:
            // IHDR is the first chunk: length(4) "IHDR"(4) width(4) height(4), big-endian.
            guard bytes.count >= 24, bytes[12..<16].elementsEqual(Array("IHDR".utf8)) else {
                throw ImageDecodeError.corrupt("PNG without IHDR")
            }
            func be(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
            let (w, h) = (be(16), be(20))
            guard w > 0, h > 0 else { throw ImageDecodeError.corrupt("PNG of size \(w)x\(h)") }
            return (w, h)
        case nil:
            throw ImageDecodeError.unsupportedFormat
        }
    }

    /// Decodes `bytes`. For JPEG, when `minimumWidth`/`minimumHeight` are given, libjpeg decodes at
    /// the smallest 1/2, 1/4 or 1/8 scale whose output still covers them (the caller resizes anyway).
    /// `maxPixels` bounds the stored size before anything large is allocated.
    public static func decode(_ bytes: [UInt8], minimumWidth: Int = 0, minimumHeight: Int = 0,
                              maxPixels: Int = 64 << 20) throws -> DecodedImage {
        let (w, h) = try size(of: bytes)
        guard ImageDecoder.pixelCount(w, h) <= maxPixels else { throw ImageDecodeError.tooLarge(width: w, height: h) }
        switch format(of: bytes) {
        case .jpeg:
            var denom = 1
            if minimumWidth > 0 || minimumHeight > 0 {
                for d in [8, 4, 2] where (w + d - 1) / d >= minimumWidth && (h + d - 1) / d >= minimumHeight {
                    denom = d
                    break
                }
            }
            return try decodeJPEG(bytes, scaleDenominator: denom, maxPixels: maxPixels)
        case .png:
            do {
                let image = try PNG.decode(bytes, source: "<sample>").image
                return DecodedImage(image: image, originalWidth: image.width, originalHeight: image.height)
            } catch let e as ImagingError {
                if case .truncated = e { throw ImageDecodeError.truncated }
                throw ImageDecodeError.corrupt(e.description)
            }
        case nil:
            throw ImageDecodeError.unsupportedFormat
        }
    }

    /// libjpeg decode at 1/`scaleDenominator` (1, 2, 4 or 8) of the stored size.
    public static func decodeJPEG(_ bytes: [UInt8], scaleDenominator: Int = 1, maxPixels: Int = 64 << 20) throws -> DecodedImage {
        var out = sumi_jpeg_image()
        let status = bytes.withUnsafeBufferPointer {
            sumi_jpeg_decode($0.baseAddress, $0.count, UInt32(scaleDenominator), UInt64(maxPixels), &out)
        }
        defer { sumi_jpeg_free(&out) }
        switch status {
        case Int32(SUMI_JPEG_OK):
            let (w, h) = (Int(out.decoded_width), Int(out.decoded_height))
            guard w > 0, h > 0, let rgb = out.rgb else { throw ImageDecodeError.corrupt("empty JPEG") }
            let image = Imaging.RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: rgb, count: w * h * 3)))
            return DecodedImage(image: image, originalWidth: Int(out.width), originalHeight: Int(out.height))
        case Int32(SUMI_JPEG_TRUNCATED):
            throw ImageDecodeError.truncated
        case Int32(SUMI_JPEG_TOO_LARGE):
            throw ImageDecodeError.tooLarge(width: Int(out.width), height: Int(out.height))
        default:
            let message = withUnsafeBytes(of: out.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ImageDecodeError.corrupt(message.isEmpty ? "libjpeg error \(status)" : message)
        }
    }
}
