import Foundation

/// A contiguous fp32 buffer owned by one or more tensors.
///
/// Storage is a reference type so that a frozen teacher and a LoRA-adapted student can share the
/// same base weights without copying them. It is `@unchecked Sendable` because kernels split one
/// buffer into disjoint ranges across worker threads; no two workers ever write the same element.
public final class Storage: @unchecked Sendable {
    /// Base address, 64-byte aligned for AVX-512 loads.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int
    /// Releases externally owned memory (e.g. an mmap), or nil when the buffer was allocated here.
    private let release: (() -> Void)?

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "Storage count must be non-negative, got \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.release = nil
    }

    /// Allocates `count` floats without initialising them (caller writes every element).
    public init(uninitializedCount count: Int) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.release = nil
    }

    /// Wraps memory owned elsewhere; `release` runs when the storage dies.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, release: @escaping () -> Void) {
        self.pointer = pointer
        self.count = count
        self.release = release
    }

    deinit {
        if let release { release() } else { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// The whole buffer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
