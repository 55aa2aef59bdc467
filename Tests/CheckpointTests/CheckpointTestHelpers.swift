import XCTest
import Foundation
import Checkpoint
import Tensor

/// Bytes of a safetensors file: the 8-byte length prefix (the header's true length unless
/// `declaredLength` overrides it), the header text, then `data`.
func safetensorsBytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    safetensorsBytes(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
}

/// As `safetensorsBytes(header:data:declaredLength:)` with the header as raw bytes.
func safetensorsBytes(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    var out: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + headerBytes + data
}

/// A fresh empty directory, removed when the test ends.
func makeTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("sumi-ckpt-\(getpid())-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Little-endian bytes of fixed-width values.
func leBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var out: [UInt8] = []
    for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    return out
}

/// Little-endian bytes of fp32 values.
func f32Bytes(_ values: [Float]) -> [UInt8] { leBytes(values.map(\.bitPattern)) }
