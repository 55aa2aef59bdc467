import Foundation
import Tensor
import CKernels

/// Writes safetensors files atomically.
///
/// The layout matches the reference library's: a JSON header (`__metadata__` first, then tensors)
/// padded with spaces so that the data section starts 8-byte aligned, with tensors stored
/// back to back. Keys are sorted (by UTF-8 bytes) and data follows the same order. The file is
/// written to `<path>.tmp-<pid>`, fsynced and renamed over `path`, so a reader never sees a
/// partial file; on any error the temporary file is removed.
public enum SafeTensorsWriter {
    /// Writes fp32 tensors, stored as `dtype` (`.f32`, `.f16` or `.bf16`; f16/bf16 round to nearest even).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], dtype: DType = .f32,
                             metadata: [String: String] = [:], to path: String) throws {
        guard dtype.isWritableFromFloat else {
            throw CheckpointError.unsupportedDType(file: path, name: tensors.first?.name ?? "", dtype: dtype.rawValue)
        }
        let pending = tensors.map { item in
            Pending(name: item.name, dtype: dtype, shape: item.tensor.shape, byteCount: item.tensor.count * dtype.size) { sink in
                try encode(item.tensor, as: dtype, into: sink)
            }
        }
        try write(pending, metadata: metadata, to: path)
    }

    /// Writes tensors given as raw little-endian bytes of any dtype (e.g. I64 token ids).
    /// Each entry's byte count must equal dtype size × element count.
    public static func write(entries: [(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer)],
                             metadata: [String: String] = [:], to path: String) throws {
        var pending: [Pending] = []
        for e in entries {
            guard e.shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError.invalidWrite(file: path, reason: "tensor \(quoted(e.name)) has negative shape \(e.shape)")
            }
            var count = 1
            for d in e.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw CheckpointError.invalidWrite(file: path, reason: "tensor \(quoted(e.name)) shape \(e.shape) overflows") }
                count = p
            }
            let (bytes, o) = count.multipliedReportingOverflow(by: e.dtype.size)
            guard !o, bytes == e.bytes.count else {
                throw CheckpointError.invalidWrite(
                    file: path, reason: "tensor \(quoted(e.name)) has \(e.bytes.count) bytes but \(e.dtype.rawValue) \(e.shape) needs \(o ? "more" : "\(bytes)")")
            }
            let data = e.bytes
            pending.append(Pending(name: e.name, dtype: e.dtype, shape: e.shape, byteCount: bytes) { sink in
                try sink.write(data)
            })
        }
        try write(pending, metadata: metadata, to: path)
    }

    /// One tensor to write: its header fields and a closure that emits exactly `byteCount` bytes.
    private struct Pending {
        let name: String
        let dtype: DType
        let shape: [Int]
        let byteCount: Int
        let emit: (FileSink) throws -> Void
    }

    private static func write(_ tensors: [Pending], metadata: [String: String], to path: String) throws {
        var seen = Set<String>()
        for t in tensors {
            guard t.name != "__metadata__" else {
                throw CheckpointError.invalidWrite(file: path, reason: "'__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(t.name).inserted else {
                throw CheckpointError.invalidWrite(file: path, reason: "tensor name \(quoted(t.name)) appears twice")
            }
        }
        let sorted = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let header = headerBytes(sorted, metadata: metadata)

        let tmp = "\(path).tmp-\(getpid())"
        let sink = try FileSink(creating: tmp, reportedAs: path)
        do {
            var prefix = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &prefix) { try sink.write($0) }
            try header.withUnsafeBytes { try sink.write($0) }
            for t in sorted {
                let before = sink.written
                try t.emit(sink)
                precondition(sink.written - before == t.byteCount, "writer emitted the wrong byte count for \(t.name)")
            }
            try sink.sync()
            try sink.close()
            guard rename(tmp, path) == 0 else {
                throw CheckpointError.io(file: path, reason: "cannot rename \(tmp) into place: \(SafeTensorsFile.errnoText())")
            }
        } catch {
            try? sink.close()
            unlink(tmp)
            throw error
        }
        syncDirectory(of: path)
    }

    /// The JSON header, space-padded to a multiple of 8 bytes.
    private static func headerBytes(_ sorted: [Pending], metadata: [String: String]) -> [UInt8] {
        var s = "{"
        var first = true
        if !metadata.isEmpty {
            s += "\"__metadata__\":{"
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            s += pairs.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",")
            s += "}"
            first = false
        }
        var offset = 0
        for t in sorted {
            if !first { s += "," }
            first = false
            let shape = t.shape.map(String.init).joined(separator: ",")
            s += "\(jsonString(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(offset),\(offset + t.byteCount)]}"
            offset += t.byteCount
        }
        s += "}"
        var bytes = Array(s.utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
    }

    /// A JSON string literal; control characters escaped, everything else raw UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Streams `t` as `dtype` in bounded chunks, so a large tensor needs no second full-size buffer.
    private static func encode(_ t: Tensor, as dtype: DType, into sink: FileSink) throws {
        let n = t.count
        switch dtype {
        case .f32:
            try sink.write(UnsafeRawBufferPointer(start: t.data, count: 4 * n))
        case .f16, .bf16:
            let chunk = 1 << 16
            var staged = [UInt16](repeating: 0, count: min(chunk, max(n, 1)))
            try staged.withUnsafeMutableBufferPointer { buf in
                var k = 0
                while k < n {
                    let m = min(chunk, n - k)
                    if dtype == .f16 { sumi_f32_to_f16(t.data + k, buf.baseAddress!, m) }
                    else { sumi_f32_to_bf16(t.data + k, buf.baseAddress!, m) }
                    try sink.write(UnsafeRawBufferPointer(start: buf.baseAddress!, count: 2 * m))
                    k += m
                }
            }
        default:
            preconditionFailure("encode called for \(dtype.rawValue)")
        }
    }

    /// Makes the rename durable; failure here only weakens crash safety, so it is ignored.
    private static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// A file descriptor opened for writing, with errors that name the target file.
final class FileSink {
    private var fd: Int32
    private let tmpPath: String
    private let reportedPath: String
    /// Bytes written so far.
    private(set) var written = 0

    init(creating tmpPath: String, reportedAs path: String) throws {
        self.tmpPath = tmpPath
        self.reportedPath = path
        fd = open(tmpPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.io(file: path, reason: "cannot create \(tmpPath): \(SafeTensorsFile.errnoText())")
        }
    }

    deinit { if fd >= 0 { Foundation.close(fd) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let r = Foundation.write(fd, p, left)
            if r < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(file: reportedPath, reason: "write failed: \(SafeTensorsFile.errnoText())")
            }
            p += r
            left -= r
            written += r
        }
    }

    func sync() throws {
        guard fsync(fd) == 0 else {
            throw CheckpointError.io(file: reportedPath, reason: "fsync failed: \(SafeTensorsFile.errnoText())")
        }
    }

    func close() throws {
        guard fd >= 0 else { return }
        let r = Foundation.close(fd)
        fd = -1
        guard r == 0 else { throw CheckpointError.io(file: reportedPath, reason: "close failed: \(SafeTensorsFile.errnoText())") }
    }
}
