import Foundation
import Tensor
import CKernels

/// Element types a safetensors file may hold.
public enum DType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"
    /// Bytes per element.
    public var size: Int { switch self { case .f32: 4; case .f16, .bf16: 2; case .i64: 8 } }
}

/// Where one tensor lives in a safetensors file.
public struct TensorInfo: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>
}

/// Errors from reading or writing checkpoints; every case names the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case io(file: String, reason: String)
    case malformed(file: String, reason: String)
    case missingTensor(file: String, name: String)
    case unsupportedDType(file: String, name: String, dtype: String)

    public var description: String {
        switch self {
        case let .io(f, r): return "\(f): \(r)"
        case let .malformed(f, r): return "\(f): not a valid safetensors file: \(r)"
        case let .missingTensor(f, n): return "\(f): no tensor named '\(n)'"
        case let .unsupportedDType(f, n, d): return "\(f): tensor '\(n)' has unsupported dtype \(d)"
        }
    }
}

/// A memory-mapped safetensors file; tensors are converted to fp32 lazily, one at a time.
/// (Provisional reader: the hardened version with full validation replaces this file.)
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    /// `__metadata__` string map.
    public let metadata: [String: String]
    private let infos: [String: TensorInfo]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataOffset: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.io(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CheckpointError.io(file: path, reason: "cannot stat") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw CheckpointError.malformed(file: path, reason: "file is \(size) bytes, shorter than the 8-byte header length") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError.io(file: path, reason: "mmap failed")
        }
        base = UnsafeRawPointer(p); mappedLength = size
        let headerLen = Int(base.loadUnaligned(as: UInt64.self))
        guard headerLen <= size - 8 else {
            munmap(p, size); throw CheckpointError.malformed(file: path, reason: "header length \(headerLen) runs past end of file (\(size) bytes)")
        }
        dataOffset = 8 + headerLen
        let json = Data(bytes: base + 8, count: headerLen)
        guard let obj = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            munmap(p, size); throw CheckpointError.malformed(file: path, reason: "header is not a JSON object")
        }
        var infos: [String: TensorInfo] = [:]
        var meta: [String: String] = [:]
        for (k, v) in obj {
            if k == "__metadata__" { meta = (v as? [String: String]) ?? [:]; continue }
            guard let d = v as? [String: Any], let ds = d["dtype"] as? String, let dtype = DType(rawValue: ds),
                  let shape = (d["shape"] as? [NSNumber])?.map({ $0.intValue }),
                  let offs = (d["data_offsets"] as? [NSNumber])?.map({ $0.intValue }), offs.count == 2 else {
                munmap(p, size); throw CheckpointError.malformed(file: path, reason: "bad entry for '\(k)'")
            }
            infos[k] = TensorInfo(name: k, dtype: dtype, shape: shape, byteRange: offs[0]..<offs[1])
        }
        self.infos = infos; self.metadata = meta
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    /// Tensor names, sorted.
    public var names: [String] { infos.keys.sorted() }
    /// Location and type of a tensor.
    public func info(_ name: String) -> TensorInfo? { infos[name] }

    /// Reads a tensor as fp32 (converting f16/bf16).
    public func tensor(_ name: String) throws -> Tensor {
        guard let i = infos[name] else { throw CheckpointError.missingTensor(file: path, name: name) }
        let n = i.shape.product
        let src = base + dataOffset + i.byteRange.lowerBound
        let t = Tensor(uninitialized: i.shape)
        switch i.dtype {
        case .f32: memcpy(t.data, src, n * 4)
        case .f16: sumi_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), t.data, n)
        case .bf16: sumi_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), t.data, n)
        case .i64: for j in 0..<n { t.data[j] = Float(src.loadUnaligned(fromByteOffset: j * 8, as: Int64.self)) }
        }
        return t
    }
}
