import CPNG
import CPNGShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A decoded PNG: the image as RGB8 and its text chunks in file order.
public struct DecodedPNG: Equatable, Sendable {
    /// The pixels, converted to RGB8 (see `PNG` for how alpha and 16-bit samples are handled).
    public var image: RGBImage
    /// tEXt, zTXt and iTXt chunks in file order (before and after the image data).
    public var chunks: [PNGTextChunk]

    /// Text chunks by keyword; when a keyword repeats, the last chunk wins (as in PIL).
    public var text: [String: String] {
        var out = [String: String]()
        for c in chunks { out[c.key] = c.value }
        return out
    }
}

/// PNG reading and writing through libpng (classic API, behind the CPNGShim setjmp boundary).
///
/// Reading accepts every PNG colour type and bit depth, interlaced or not, and returns RGB8:
/// palettes are expanded, gray is replicated, 16-bit samples are rounded (v / 257), and alpha
/// (an alpha channel or a tRNS colour key) is **composited onto black** in one rounding step,
/// `round(c * a / max)`, so fully transparent pixels become black whatever colour they stored.
/// Gamma, sRGB and ICC chunks are ignored (samples are taken as they are, like most viewers do
/// for untagged images). Damaged input never crashes: it throws `ImagingError.truncated`,
/// `.corrupt` or `.notPNG`, naming the file.
///
/// Writing produces an 8-bit RGB, non-interlaced PNG with the text chunks placed before IDAT.
public enum PNG {
    /// The libpng version linked at run time, e.g. "1.6.39".
    public static var libpngVersion: String { String(cString: png_get_libpng_ver(nil)) }

    // MARK: Writing

    /// Encodes `image` with `text` entries (written as tEXt when the value is ASCII, else iTXt).
    public static func encode(_ image: RGBImage, text: [(key: String, value: String)] = []) throws -> [UInt8] {
        try encode(image, chunks: text.map { PNGTextChunk(key: $0.key, value: $0.value) })
    }

    /// Encodes `image` with text chunks whose chunk types are chosen explicitly
    /// (for example A1111's `parameters` as `.latin1` tEXt and a JSON record as `.utf8` iTXt).
    public static func encode(_ image: RGBImage, chunks: [PNGTextChunk]) throws -> [UInt8] {
        guard !image.isEmpty else {
            throw ImagingError.invalidImage(reason: "image is \(image.width)x\(image.height)")
        }
        guard image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw ImagingError.invalidImage(reason: "image is \(image.width)x\(image.height), larger than PNG allows")
        }

        // C strings for the shim; they must outlive the call.
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { $0.deallocate() } }
        func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
            p[bytes.count] = 0
            owned.append(p)
            return p
        }
        var texts: [sumi_png_text] = []
        for chunk in chunks {
            let key = try chunk.keywordBytes()
            let (value, utf8) = try chunk.valueBytes()
            texts.append(sumi_png_text(key: cString(key), value: cString(value), value_length: value.count,
                                       kind: Int32(utf8 ? SUMI_PNG_TEXT_UTF8 : SUMI_PNG_TEXT_LATIN1)))
        }

        var data: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { px in
            texts.withUnsafeBufferPointer { t in
                message.withUnsafeMutableBufferPointer { m in
                    sumi_png_encode(px.baseAddress, UInt32(image.width), UInt32(image.height),
                                    t.baseAddress, t.count, &data, &size, m.baseAddress, m.count)
                }
            }
        }
        defer { sumi_png_free(data) }
        switch Int(status) {
        case SUMI_PNG_OK:
            guard let data else { return [] }
            return Array(UnsafeBufferPointer(start: data, count: size))
        case SUMI_PNG_NO_MEMORY:
            throw ImagingError.outOfMemory(path: "<memory>")
        default:
            throw ImagingError.invalidImage(reason: messageString(message))
        }
    }

    /// Writes `image` to `path` atomically: the PNG goes to `path.tmp-<pid>`, is flushed to disk,
    /// then renamed over `path`, so readers never see a half-written file (and the temporary file
    /// is removed on failure). Text entries are written as tEXt when ASCII, else iTXt.
    public static func write(_ image: RGBImage, text: [(key: String, value: String)] = [], to path: String) throws {
        try writeFile(encode(image, text: text), to: path)
    }

    /// `write(_:text:to:)` with explicitly typed text chunks.
    public static func write(_ image: RGBImage, chunks: [PNGTextChunk], to path: String) throws {
        try writeFile(encode(image, chunks: chunks), to: path)
    }

    // MARK: Reading

    /// Reads a PNG file as RGB8 plus its text chunks by keyword (tEXt, zTXt and iTXt).
    public static func read(_ path: String) throws -> (image: RGBImage, text: [String: String]) {
        let decoded = try readDetailed(path)
        return (decoded.image, decoded.text)
    }

    /// Reads a PNG file, keeping the text chunks in order with their chunk types.
    public static func readDetailed(_ path: String) throws -> DecodedPNG {
        try decodeDetailed(readFile(path), source: path)
    }

    /// Decodes PNG bytes; `source` names the data in errors.
    public static func decode(_ bytes: [UInt8], source: String = "<memory>") throws -> (image: RGBImage, text: [String: String]) {
        let decoded = try decodeDetailed(bytes, source: source)
        return (decoded.image, decoded.text)
    }

    /// Decodes PNG bytes, keeping the text chunks in order with their chunk types.
    public static func decodeDetailed(_ bytes: [UInt8], source: String = "<memory>") throws -> DecodedPNG {
        var out = sumi_png_decoded()
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            message.withUnsafeMutableBufferPointer { m in
                sumi_png_decode(b.baseAddress, b.count, &out, m.baseAddress, m.count)
            }
        }
        defer { sumi_png_decoded_free(&out) }
        let reason = messageString(message)
        switch Int(status) {
        case SUMI_PNG_OK: break
        case SUMI_PNG_NOT_PNG: throw ImagingError.notPNG(path: source)
        case SUMI_PNG_TRUNCATED: throw ImagingError.truncated(path: source, reason: reason)
        case SUMI_PNG_NO_MEMORY: throw ImagingError.outOfMemory(path: source)
        default: throw ImagingError.corrupt(path: source, reason: reason.isEmpty ? "unknown error" : reason)
        }

        let width = Int(out.width), height = Int(out.height)
        let pixels = Array(UnsafeBufferPointer(start: out.rgb, count: width * height * 3))
        var chunks: [PNGTextChunk] = []
        for i in 0..<out.text_count {
            let t = out.texts[i]
            let key = Latin1.decode(UnsafeBufferPointer(start: UnsafeRawPointer(t.key).assumingMemoryBound(to: UInt8.self),
                                                        count: strlen(t.key)))
            let raw = UnsafeBufferPointer(start: UnsafeRawPointer(t.value).assumingMemoryBound(to: UInt8.self),
                                          count: t.value_length)
            let utf8 = Int(t.kind) == SUMI_PNG_TEXT_UTF8 || Int(t.kind) == SUMI_PNG_TEXT_ZUTF8
            // Invalid UTF-8 in an iTXt chunk is repaired with U+FFFD rather than rejected.
            let value = utf8 ? String(decoding: raw, as: UTF8.self) : Latin1.decode(raw)
            chunks.append(PNGTextChunk(key: key, value: value, encoding: utf8 ? .utf8 : .latin1))
        }
        return DecodedPNG(image: RGBImage(width: width, height: height, pixels: pixels), chunks: chunks)
    }

    // MARK: Files

    private static func messageString(_ message: [CChar]) -> String {
        message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private static func errnoString(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// The whole file, with errors mapped to `ImagingError`.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw ImagingError.fileNotFound(path: path) }
            throw ImagingError.unreadable(path: path, reason: errnoString(code))
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            throw ImagingError.unreadable(path: path, reason: "is a directory")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(max(Int(info.st_size), 0))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ImagingError.unreadable(path: path, reason: errnoString(code))
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    /// Writes `bytes` to a temporary sibling, fsyncs it and renames it over `path`.
    static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw ImagingError.unwritable(path: path, reason: errnoString(errno)) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }

        var failure: Int32? = nil
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == nil { failure = errno }
        if let failure { throw ImagingError.unwritable(path: path, reason: errnoString(failure)) }
        if rename(temporary, path) != 0 { throw ImagingError.unwritable(path: path, reason: errnoString(errno)) }
        renamed = true
    }
}

// File-scope wrappers: inside `PNG`, `read` and `write` name the static methods above.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
