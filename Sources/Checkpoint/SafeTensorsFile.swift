import Foundation
import Tensor
import CKernels

// The safetensors format (https://github.com/huggingface/safetensors), as read here:
//
//   [0, 8)        N, the header length, unsigned 64-bit little-endian (at most 100 MB)
//   [8, 8+N)      UTF-8 JSON object, possibly padded with trailing spaces:
//                   "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//                   "__metadata__": {"<key>": "<string value>", ...}          (optional)
//   [8+N, EOF)    the data section; offsets are relative to its start, little-endian, row-major
//
// Everything in the header is validated when the file opens (see `SafeTensorsProblem`), so that a
// later read can never go out of bounds. Gaps between tensors and trailing bytes are tolerated;
// overlapping tensors are not. Tensor data is never copied at open: a 6 GB checkpoint is mapped and
// each tensor is converted only when asked for. (A mapped file truncated by another process would
// fault on access; `SafeTensorsWriter` replaces files by rename, so it never does that.)

/// A memory-mapped safetensors file; tensors are converted to fp32 lazily, one at a time.
///
/// The header is fully validated at open, so `names`/`info` work for every declared dtype, and
/// reads can only fail for a missing name or a dtype that does not convert.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Largest header accepted, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    /// The file path (or the label given to `init(bytes:name:)`); every error names it.
    public let path: String
    /// `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// Length of the JSON header in bytes (without the 8-byte prefix).
    public let headerLength: Int
    /// Length of the data section in bytes.
    public var dataLength: Int { length - dataOffset }

    private let infos: [String: TensorInfo]
    private let base: UnsafeRawPointer
    private let length: Int
    private let dataOffset: Int
    /// Whether `base` is an mmap (else it was allocated by `init(bytes:name:)`).
    private let mapped: Bool

    /// Maps and validates the file at `path`.
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError.io(file: path, reason: "cannot open: \(Self.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CheckpointError.io(file: path, reason: "cannot stat: \(Self.errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.io(file: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        guard size >= 8 else { throw CheckpointError.invalidFile(file: path, problem: .tooShort(size: size)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError.io(file: path, reason: "cannot mmap: \(Self.errnoText())")
        }
        let header: ParsedHeader
        do {
            header = try Self.parseHeader(UnsafeRawBufferPointer(start: p, count: size), path: path)
        } catch {
            munmap(p, size)
            throw error
        }
        self.init(path: path, base: UnsafeRawPointer(p), length: size, mapped: true, header: header)
    }

    /// Validates an in-memory copy of a safetensors file; `name` stands in for the path in errors.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { src in
            if let s = src.baseAddress { raw.copyMemory(from: s, byteCount: src.count) }
        }
        let header: ParsedHeader
        do {
            header = try Self.parseHeader(UnsafeRawBufferPointer(start: raw, count: bytes.count), path: name)
        } catch {
            raw.deallocate()
            throw error
        }
        self.init(path: name, base: UnsafeRawPointer(raw), length: bytes.count, mapped: false, header: header)
    }

    private init(path: String, base: UnsafeRawPointer, length: Int, mapped: Bool, header: ParsedHeader) {
        self.path = path
        self.base = base
        self.length = length
        self.mapped = mapped
        self.infos = header.infos
        self.metadata = header.metadata
        self.headerLength = header.headerLength
        self.dataOffset = 8 + header.headerLength
    }

    deinit {
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), length) } else { base.deallocate() }
    }

    /// Tensor names, sorted.
    public var names: [String] { infos.keys.sorted() }
    /// Every tensor's location and type, sorted by name.
    public var tensorInfos: [TensorInfo] { infos.values.sorted { $0.name < $1.name } }
    /// Location and type of a tensor.
    public func info(_ name: String) -> TensorInfo? { infos[name] }

    /// The tensor's bytes exactly as stored (little-endian, any dtype). Valid while this object lives:
    /// keep a reference to the file (e.g. `withExtendedLifetime`) for as long as the pointer is used,
    /// or use `withRawBytes(_:_:)`, which does that for you.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let i = try lookup(name)
        return UnsafeRawBufferPointer(start: base + dataOffset + i.byteRange.lowerBound, count: i.byteRange.count)
    }

    /// Calls `body` with the tensor's stored bytes, keeping the mapping alive for the call.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let bytes = try rawBytes(name)
        return try withExtendedLifetime(self) { try body(bytes) }
    }

    /// Reads an I64 tensor's values.
    public func int64s(_ name: String) throws -> [Int64] {
        let i = try lookup(name)
        guard i.dtype == .i64 else {
            throw CheckpointError.dtypeMismatch(file: path, name: name, expected: DType.i64.rawValue, actual: i.dtype.rawValue)
        }
        let n = i.elementCount
        let src = base + dataOffset + i.byteRange.lowerBound
        return (0..<n).map { Int64(littleEndian: src.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
    }

    /// Reads a tensor as fp32 (converting f16/bf16 exactly and i64 with rounding) on the calling thread.
    public func tensor(_ name: String) throws -> Tensor {
        try tensor(name, split: { n, body in body(0..<n) })
    }

    /// Reads a tensor as fp32, converting on `compute`'s threads (worth it for large f16/bf16 tensors).
    public func tensor(_ name: String, compute: Compute) throws -> Tensor {
        try tensor(name, split: { n, body in compute.parallelFor(n, grain: 1 << 16, body) })
    }

    private func tensor(_ name: String, split: (Int, (Range<Int>) -> Void) -> Void) throws -> Tensor {
        let i = try lookup(name)
        guard i.dtype.convertsToFloat else {
            throw CheckpointError.unsupportedDType(file: path, name: name, dtype: i.dtype.rawValue)
        }
        let t = Tensor(uninitialized: i.shape)
        let src = base + dataOffset + i.byteRange.lowerBound
        let dst = t.data
        let dtype = i.dtype
        split(i.elementCount) { r in Self.convert(dtype, src, dst, r) }
        return t
    }

    /// Converts elements `r` of `src` (stored as `dtype`) to fp32 in `dst`.
    static func convert(_ dtype: DType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
        guard !r.isEmpty else { return }
        switch dtype {
        case .f32:
            memcpy(dst + r.lowerBound, src + 4 * r.lowerBound, 4 * r.count)
        case .f16, .bf16:
            let kernel = dtype == .f16 ? sumi_f16_to_f32 : sumi_bf16_to_f32
            let s = src + 2 * r.lowerBound
            if Int(bitPattern: s) & 1 == 0 {
                kernel(s.assumingMemoryBound(to: UInt16.self), dst + r.lowerBound, r.count)
            } else {
                // The header length is not a multiple of 2: C needs aligned uint16_t, so stage in chunks.
                let chunk = 1 << 14
                var staged = [UInt16](repeating: 0, count: min(chunk, r.count))
                staged.withUnsafeMutableBufferPointer { tmp in
                    var k = r.lowerBound
                    while k < r.upperBound {
                        let m = min(chunk, r.upperBound - k)
                        memcpy(tmp.baseAddress!, src + 2 * k, 2 * m)
                        kernel(tmp.baseAddress!, dst + k, m)
                        k += m
                    }
                }
            }
        case .i64:
            for k in r { dst[k] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: k * 8, as: Int64.self))) }
        default:
            preconditionFailure("convert called for \(dtype.rawValue)")
        }
    }

    private func lookup(_ name: String) throws -> TensorInfo {
        guard let i = infos[name] else { throw CheckpointError.missingTensor(file: path, name: name) }
        return i
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
