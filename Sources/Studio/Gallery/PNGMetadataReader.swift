import Foundation
import Imaging

/// Reads a PNG's size and text chunks without decoding its pixels, so scanning a folder of hundreds of
/// 1024² images stays fast: it walks the chunk list, seeking past IDAT. Compressed text (zTXt, compressed iTXt)
/// needs zlib, so such files fall back to `PNG.readDetailed`, the full libpng decode (sumi writes its chunks
/// uncompressed). CRCs are not checked here; the full decoder for the thumbnail checks them.
enum PNGMetadataReader {
    /// What the walk found.
    struct Info: Equatable {
        /// Width from IHDR.
        var width: Int
        /// Height from IHDR.
        var height: Int
        /// Text chunks by keyword (the last of a repeated keyword wins, as in `DecodedPNG.text`).
        var text: [String: String]
    }

    /// Text chunks larger than this are skipped rather than read (a corrupt length must not allocate gigabytes).
    static let maxTextChunk = 16 << 20

    /// Reads `path`; errors are `ImagingError`s naming the file.
    static func read(path: String) throws -> Info {
        guard FileManager.default.fileExists(atPath: path) else { throw ImagingError.fileNotFound(path: path) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImagingError.unreadable(path: path, reason: "cannot open")
        }
        defer { try? handle.close() }
        let size: UInt64
        do { size = try handle.seekToEnd(); try handle.seek(toOffset: 0) } catch {
            throw ImagingError.unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        func read(_ n: Int) throws -> [UInt8] {
            do { return [UInt8]((try handle.read(upToCount: n)) ?? Data()) } catch {
                throw ImagingError.unreadable(path: path, reason: "\(error.localizedDescription)")
            }
        }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard try read(8) == signature else { throw ImagingError.notPNG(path: path) }
        var offset: UInt64 = 8
        var info = Info(width: 0, height: 0, text: [:])
        var sawHeader = false
        while true {
            let head = try read(8)
            guard head.count == 8 else { throw ImagingError.truncated(path: path, reason: "no IEND chunk") }
            let length = UInt64(head[0]) << 24 | UInt64(head[1]) << 16 | UInt64(head[2]) << 8 | UInt64(head[3])
            let type = String(decoding: head[4..<8], as: UTF8.self)
            guard offset + 12 + length <= size else {
                throw ImagingError.truncated(path: path, reason: "\(type) chunk runs past the end of the file")
            }
            if !sawHeader && type != "IHDR" { throw ImagingError.corrupt(path: path, reason: "first chunk is \(type), not IHDR") }
            switch type {
            case "IHDR":
                let d = try read(Int(length))
                guard d.count >= 8 else { throw ImagingError.corrupt(path: path, reason: "IHDR too short") }
                info.width = Int(d[0]) << 24 | Int(d[1]) << 16 | Int(d[2]) << 8 | Int(d[3])
                info.height = Int(d[4]) << 24 | Int(d[5]) << 16 | Int(d[6]) << 8 | Int(d[7])
                sawHeader = true
                try skip(4)
            case "tEXt", "iTXt", "zTXt":
                guard length <= UInt64(maxTextChunk) else { try skip(length + 4); break }
                let d = try read(Int(length))
                // Compressed text: let libpng inflate it.
                guard let (key, value) = decodeText(type: type, d) else { return try fullDecode(path: path) }
                info.text[key] = value
                try skip(4)
            case "IEND":
                return info
            default:
                try skip(length + 4)
            }
            offset += 12 + length
        }

        func skip(_ n: UInt64) throws {
            do { try handle.seek(toOffset: (try handle.offset()) + n) } catch {
                throw ImagingError.unreadable(path: path, reason: "\(error.localizedDescription)")
            }
        }
    }

    /// Keyword and text of an uncompressed tEXt / iTXt chunk; nil when the text is compressed.
    private static func decodeText(type: String, _ d: [UInt8]) -> (String, String)? {
        guard let nul = d.firstIndex(of: 0) else { return nil }
        let key = latin1(d[..<nul])
        switch type {
        case "tEXt":
            return (key, latin1(d[(nul + 1)...]))
        case "iTXt":
            // keyword \0 compression-flag method language \0 translated-keyword \0 text
            guard d.count > nul + 2, d[nul + 1] == 0 else { return nil }
            var i = nul + 3
            for _ in 0..<2 {
                guard let z = d[i...].firstIndex(of: 0) else { return nil }
                i = z + 1
            }
            return (key, String(decoding: d[i...], as: UTF8.self))
        default:
            return nil
        }
    }

    private static func latin1(_ bytes: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(Unicode.Scalar(b)) }
        return String(scalars)
    }

    private static func fullDecode(path: String) throws -> Info {
        let png = try PNG.readDetailed(path)
        return Info(width: png.image.width, height: png.image.height, text: png.text)
    }
}
