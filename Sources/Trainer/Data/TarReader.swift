#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One regular file from a tar archive.
public struct TarMember: Sendable, Equatable {
    /// Path inside the archive (GNU long name or pax `path=` when present), with a leading "./" removed.
    public var path: String
    /// Offset of the member's first header block, including any long-name or pax headers before it:
    /// a reader started at this offset returns this member again (used to resume and to re-read samples).
    public var headerOffset: UInt64
    /// Offset of the first data byte.
    public var dataOffset: UInt64
    /// The file's bytes.
    public var data: [UInt8]
}

/// Something wrong in an archive that the reader stepped over. Each one is counted, none is fatal.
public enum TarWarning: Equatable, Sendable, CustomStringConvertible {
    /// A header block failed its checksum (or had an unparsable size): the reader scanned forward
    /// block by block to the next valid header. One warning per corrupt run, not per block.
    case badChecksum(offset: UInt64)
    /// The archive ends inside a header or inside a member's data.
    case truncated(offset: UInt64, path: String)
    /// A member larger than the reader's limit was skipped without being read.
    case memberTooLarge(offset: UInt64, path: String, size: Int)
    /// A GNU long-name or pax header could not be used; the member keeps its plain header name.
    case badExtendedHeader(offset: UInt64, reason: String)
    /// The file could not be opened or read.
    case unreadable(reason: String)

    /// A short name for the kind of warning, used as a statistics key.
    public var kind: String {
        switch self {
        case .badChecksum: return "bad checksum"
        case .truncated: return "truncated"
        case .memberTooLarge: return "member too large"
        case .badExtendedHeader: return "bad extended header"
        case .unreadable: return "unreadable"
        }
    }

    /// One line, for logs.
    public var description: String {
        switch self {
        case .badChecksum(let o): return "tar: bad header checksum at byte \(o), skipped to the next valid header"
        case .truncated(let o, let p): return "tar: archive ends inside \(p.isEmpty ? "a header" : p) (byte \(o))"
        case .memberTooLarge(let o, let p, let s): return "tar: \(p) (\(s) bytes, byte \(o)) exceeds the member size limit"
        case .badExtendedHeader(let o, let r): return "tar: extended header at byte \(o) ignored (\(r))"
        case .unreadable(let r): return "tar: \(r)"
        }
    }
}

/// Random-access bytes the reader pulls from: a file (pread) or memory (tests, fuzzing).
public protocol TarByteSource: AnyObject {
    /// Total size in bytes.
    var size: UInt64 { get }
    /// Reads up to `count` bytes at `offset`; returns fewer only at the end or on an I/O error.
    func read(at offset: UInt64, count: Int) -> [UInt8]
}

/// A file read with `pread`, so memory stays bounded by the largest member read.
public final class TarFileSource: TarByteSource {
    private let fd: Int32
    /// File size at open time.
    public let size: UInt64

    /// Opens `path` read-only; throws `TarWarning.unreadable` when it cannot.
    public init(path: String) throws {
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TarWarning.unreadable(reason: "cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw TarWarning.unreadable(reason: "\(path) is not a regular file")
        }
        size = UInt64(st.st_size)
    }

    deinit { close(fd) }

    /// Reads up to `count` bytes at `offset`.
    public func read(at offset: UInt64, count: Int) -> [UInt8] {
        guard count > 0, offset < size else { return [] }
        let n = Int(min(UInt64(count), size - offset))
        var out = [UInt8](repeating: 0, count: n)
        var done = 0
        out.withUnsafeMutableBytes { buf in
            while done < n {
                let r = pread(fd, buf.baseAddress! + done, n - done, off_t(offset) + off_t(done))
                if r <= 0 { break }
                done += r
            }
        }
        if done < n { out.removeLast(n - done) }
        return out
    }
}

/// An archive held in memory.
public final class TarMemorySource: TarByteSource {
    /// The archive bytes.
    public let bytes: [UInt8]
    /// Wraps `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// `bytes.count`.
    public var size: UInt64 { UInt64(bytes.count) }
    /// Reads up to `count` bytes at `offset`.
    public func read(at offset: UInt64, count: Int) -> [UInt8] {
        guard offset < size else { return [] }
        let start = Int(offset)
        return Array(bytes[start..<min(bytes.count, start + count)])
    }
}

/// A streaming reader of POSIX ustar archives with GNU long names (`././@LongLink`, type L) and pax
/// extended headers (type x: `path=` and `size=` records). Yields regular files only (types 0, NUL
/// and 7); directories, links, devices, global pax headers and other types are skipped. Header
/// checksums are verified. Nothing here crashes on bad input: problems become `warnings` and the
/// reader either resynchronises at the next valid header or stops at the end of the usable data.
///
/// Format reference: POSIX.1-2008 `pax` (ustar header layout: name 0..<100, size 124..<136 octal or
/// GNU base-256, checksum 148..<156, type 156, magic 257, prefix 345..<500), GNU tar manual
/// "Basic Tar Format". Memory use is bounded by `maxMemberBytes`.
public final class TarReader {
    /// Where the bytes come from.
    public let source: TarByteSource
    /// Members larger than this are skipped with a warning instead of being read.
    public let maxMemberBytes: Int
    /// Offset of the next header block to read.
    public private(set) var offset: UInt64
    /// Warnings since the last `takeWarnings()`.
    public private(set) var warnings: [TarWarning] = []
    private var finished = false

    /// Long names and pax records are small; this bounds a corrupt size field.
    private static let maxExtendedHeaderBytes = 1 << 20

    /// A reader over `source`, starting at header offset `offset` (0, or a `TarMember.headerOffset`).
    public init(source: TarByteSource, offset: UInt64 = 0, maxMemberBytes: Int = 256 << 20) {
        self.source = source
        self.offset = offset
        self.maxMemberBytes = maxMemberBytes
    }

    /// A reader over the file at `path`.
    public convenience init(path: String, offset: UInt64 = 0, maxMemberBytes: Int = 256 << 20) throws {
        self.init(source: try TarFileSource(path: path), offset: offset, maxMemberBytes: maxMemberBytes)
    }

    /// Returns and clears the collected warnings.
    public func takeWarnings() -> [TarWarning] {
        defer { warnings.removeAll() }
        return warnings
    }

    /// All remaining regular files, in archive order (convenience for small archives and tests).
    public func readAll() -> [TarMember] {
        var out: [TarMember] = []
        while let m = next() { out.append(m) }
        return out
    }

    /// The next regular file, or nil at the end of the archive (two zero blocks, end of data, or
    /// an unrecoverable truncation).
    public func next() -> TarMember? {
        guard !finished else { return nil }
        var longName: String?
        var paxPath: String?
        var paxSize: Int?
        var firstHeader: UInt64?
        var zeroBlocks = 0
        var resyncing = false
        let size = source.size

        while true {
            guard offset + 512 <= size else {
                if offset < size, source.read(at: offset, count: Int(size - offset)).contains(where: { $0 != 0 }) {
                    warn(.truncated(offset: offset, path: ""))
                }
                return finish()
            }
            let block = source.read(at: offset, count: 512)
            guard block.count == 512 else {
                warn(.truncated(offset: offset, path: ""))
                return finish()
            }
            if block.allSatisfy({ $0 == 0 }) {
                offset += 512
                if resyncing { continue }
                zeroBlocks += 1
                if zeroBlocks >= 2 { return finish() }
                continue
            }
            zeroBlocks = 0
            guard let header = TarHeader(block) else {
                if !resyncing { warn(.badChecksum(offset: offset)) }
                resyncing = true
                longName = nil; paxPath = nil; paxSize = nil; firstHeader = nil
                offset += 512
                continue
            }
            resyncing = false
            let headerStart = firstHeader ?? offset
            let dataOffset = offset + 512
            // pax `size=` applies to the following file, never to an extension header itself.
            let memberSize = Array("LKxg".utf8).contains(header.type) ? header.size : (paxSize ?? header.size)
            let name = paxPath ?? longName ?? header.name
            if UInt64(memberSize) > size - min(size, dataOffset) {
                warn(.truncated(offset: offset, path: name))
                return finish()
            }
            let nextOffset = dataOffset + (UInt64(memberSize) + 511) / 512 * 512

            switch header.type {
            case UInt8(ascii: "L"):
                firstHeader = headerStart
                if memberSize > TarReader.maxExtendedHeaderBytes {
                    warn(.badExtendedHeader(offset: offset, reason: "long name of \(memberSize) bytes"))
                } else {
                    let bytes = source.read(at: dataOffset, count: memberSize)
                    longName = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
            case UInt8(ascii: "x"):
                firstHeader = headerStart
                if memberSize > TarReader.maxExtendedHeaderBytes {
                    warn(.badExtendedHeader(offset: offset, reason: "pax header of \(memberSize) bytes"))
                } else {
                    switch PaxRecords.parse(source.read(at: dataOffset, count: memberSize)) {
                    case .success(let records):
                        if let p = records["path"] { paxPath = p }
                        if let s = records["size"] {
                            if let v = Int(s), v >= 0 { paxSize = v } else {
                                warn(.badExtendedHeader(offset: offset, reason: "size=\(s)"))
                            }
                        }
                    case .failure(let reason):
                        warn(.badExtendedHeader(offset: offset, reason: reason.message))
                    }
                }
            case UInt8(ascii: "K"):
                firstHeader = headerStart  // a long link name belongs to the next header; not needed
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                offset = nextOffset
                longName = nil; paxPath = nil; paxSize = nil; firstHeader = nil
                let path = TarReader.clean(name)
                if path.isEmpty || path.hasSuffix("/") { continue }
                if memberSize > maxMemberBytes {
                    warn(.memberTooLarge(offset: headerStart, path: path, size: memberSize))
                    continue
                }
                return TarMember(path: path, headerOffset: headerStart, dataOffset: dataOffset,
                                 data: source.read(at: dataOffset, count: memberSize))
            default:
                // Directories, links, devices, FIFOs, global pax headers, GNU sparse/volume headers.
                longName = nil; paxPath = nil; paxSize = nil; firstHeader = nil
            }
            offset = nextOffset
        }
    }

    private func finish() -> TarMember? {
        finished = true
        offset = max(offset, source.size)
        return nil
    }

    private func warn(_ w: TarWarning) {
        if warnings.count < 10_000 { warnings.append(w) }
    }

    private static func clean(_ path: String) -> String {
        var p = Substring(path)
        while p.hasPrefix("./") { p = p.dropFirst(2) }
        return String(p)
    }
}

/// The fields of one 512-byte header block that the reader needs; nil when the checksum or the size
/// field is invalid.
struct TarHeader {
    var name: String
    var size: Int
    var type: UInt8

    init?(_ b: [UInt8]) {
        guard b.count == 512, let stored = TarHeader.octal(b[148..<156]) else { return nil }
        var unsigned = 0
        var signed = 0
        for i in 0..<512 {
            let v = (148..<156).contains(i) ? 32 : b[i]
            unsigned += Int(v)
            signed += Int(Int8(bitPattern: v))
        }
        // Some old writers summed signed chars; accept both, as GNU tar does.
        guard stored == unsigned || stored == signed else { return nil }
        guard let size = TarHeader.number(b[124..<136]) else { return nil }
        self.size = size
        type = b[156]
        var name = TarHeader.string(b[0..<100])
        // POSIX ustar ("ustar\0" + "00") has a name prefix; GNU ("ustar  \0") uses those bytes for times.
        if b[257..<263].elementsEqual(Array("ustar".utf8) + [0]) {
            let prefix = TarHeader.string(b[345..<500])
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        self.name = name
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// An octal field (leading spaces, then digits, ended by NUL/space), or GNU base-256 when the
    /// first byte has its high bit set. Nil on any other character or an absurd value.
    static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard let first = bytes.first else { return nil }
        if first & 0x80 != 0 {
            guard first & 0x40 == 0 else { return nil }  // negative base-256 values are not sizes
            var v: UInt64 = UInt64(first & 0x3F)
            for byte in bytes.dropFirst() {
                guard v < (1 << 48) else { return nil }
                v = v << 8 | UInt64(byte)
            }
            return v < (1 << 50) ? Int(v) : nil
        }
        return octal(bytes)
    }

    static func octal(_ bytes: ArraySlice<UInt8>) -> Int? {
        var v = 0
        var digits = 0
        var ended = false
        for byte in bytes {
            if byte == 0 || byte == 32 {
                if digits > 0 { ended = true }
                continue
            }
            guard !ended, byte >= 48, byte <= 55, digits < 17 else { return nil }
            v = v * 8 + Int(byte - 48)
            digits += 1
        }
        return digits > 0 ? v : nil
    }
}

/// pax extended header records: "<decimal length> <key>=<value>\n", the length counting the whole record.
enum PaxRecords {
    struct ParseError: Error { var message: String }

    static func parse(_ data: [UInt8]) -> Result<[String: String], ParseError> {
        var out: [String: String] = [:]
        var pos = 0
        while pos < data.count {
            if data[pos] == 0 { break }  // padding after the last record
            var len = 0
            var i = pos
            while i < data.count, data[i] >= 48, data[i] <= 57, len < 1 << 24 {
                len = len * 10 + Int(data[i] - 48)
                i += 1
            }
            guard i < data.count, data[i] == 32, i > pos, len > i - pos + 1, pos + len <= data.count,
                  data[pos + len - 1] == 10 else {
                return .failure(ParseError(message: "malformed record at byte \(pos)"))
            }
            let record = data[(i + 1)..<(pos + len - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")) else {
                return .failure(ParseError(message: "record without '=' at byte \(pos)"))
            }
            let key = String(decoding: record[record.startIndex..<eq], as: UTF8.self)
            out[key] = String(decoding: record[(eq + 1)...], as: UTF8.self)
            pos += len
        }
        return .success(out)
    }
}

extension TarWarning: Error {}
