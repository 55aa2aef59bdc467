import CSixel
import Imaging

/// Why an image could not be encoded.
public enum SixelError: Error, Equatable, CustomStringConvertible {
    /// A libsixel call failed with this status.
    case libsixel(call: String, status: Int32)
    /// The image has no pixels.
    case emptyImage

    /// One line for humans.
    public var description: String {
        switch self {
        case let .libsixel(call, status): return "libsixel \(call) failed (status 0x\(String(status, radix: 16)))"
        case .emptyImage: return "cannot encode an empty image as sixel"
        }
    }
}

/// Encodes RGB images to sixel (the DCS sequence, `ESC P … q … ESC \`) in memory with libsixel.
/// Settings are fixed (median cut on normalised RGB, colours averaged over their pixels, high quality,
/// no error diffusion), which makes the output a deterministic function of the pixels.
public enum SixelEncoder {
    /// The sixel bytes for `image` with at most `colors` palette entries (2…256).
    public static func encode(_ image: RGBImage, colors: Int = 256) throws -> [UInt8] {
        guard !image.isEmpty else { throw SixelError.emptyImage }
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        var output: OpaquePointer? = nil
        let write: sixel_write_function = { data, size, priv in
            guard let data, let priv, size > 0 else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(priv).takeUnretainedValue()
            data.withMemoryRebound(to: UInt8.self, capacity: Int(size)) {
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: Int(size)))
            }
            return size
        }
        try check("sixel_output_new", sixel_output_new(&output, write, Unmanaged.passUnretained(sink).toOpaque(), nil))
        defer { sixel_output_unref(output) }
        sixel_output_set_encode_policy(output, SIXEL_ENCODEPOLICY_SIZE)

        var dither: OpaquePointer? = nil
        try check("sixel_dither_new", sixel_dither_new(&dither, Int32(min(256, max(2, colors))), nil))
        defer { sixel_dither_unref(dither) }
        var pixels = image.pixels
        try pixels.withUnsafeMutableBufferPointer { px in
            try check("sixel_dither_initialize", sixel_dither_initialize(
                dither, px.baseAddress, Int32(image.width), Int32(image.height), SIXEL_PIXELFORMAT_RGB888,
                SIXEL_LARGE_NORM, SIXEL_REP_AVERAGE_PIXELS, SIXEL_QUALITY_HIGH))
            sixel_dither_set_diffusion_type(dither, SIXEL_DIFFUSE_NONE)
            try check("sixel_encode", sixel_encode(px.baseAddress, Int32(image.width), Int32(image.height), 3, dither, output))
        }
        withExtendedLifetime(sink) {}
        return sink.bytes
    }

    /// `SIXEL_FAILED()` is a macro Swift cannot import: failures have bit 0x1000 set.
    static func check(_ call: String, _ status: Int32) throws {
        if status & 0x1000 != 0 { throw SixelError.libsixel(call: call, status: status) }
    }
}
