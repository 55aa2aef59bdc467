import Foundation
import CKernels

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
        half?.deallocate()
        if let release { release() } else { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    // MARK: Half-precision residency

    /// f16 copy of the values while the storage is half-resident (the fp32 pages are released then).
    private var half: UnsafeMutablePointer<UInt16>?
    /// How many `withResident` calls are in progress (they nest).
    private var residentUsers = 0
    private let residencyLock = NSLock()

    /// Whether the values are kept as f16 between uses (see `compactToHalf`).
    public var isHalfResident: Bool { residencyLock.withLock { half != nil } }

    /// Keeps the values as f16 and gives the fp32 pages back to the OS, halving the memory this storage
    /// holds between uses. Values are rounded to f16 (round-to-nearest-even) — what an f16 checkpoint
    /// holds anyway. `withResident` brings the fp32 values back for the duration of one use (a layer's
    /// forward), so a model's weights are fp32 only one layer at a time. For frozen weights: a graph that
    /// must read the values later (backward) needs its own copy (see `residentCopy`).
    public func compactToHalf() {
        residencyLock.lock(); defer { residencyLock.unlock() }
        guard half == nil, count > 0 else { return }
        let h = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        sumi_f32_to_f16(pointer, h, count)
        half = h
        if residentUsers == 0 { releasePages() }
    }

    /// Returns to plain fp32 storage (the values stay f16-rounded).
    public func restoreFull() {
        residencyLock.lock(); defer { residencyLock.unlock() }
        guard let h = half else { return }
        if residentUsers == 0 { sumi_f16_to_f32(h, pointer, count) }
        h.deallocate()
        half = nil
    }

    /// Runs `body` with the fp32 values present (a no-op wrapper for ordinary storage).
    public func withResident<R>(_ body: () throws -> R) rethrows -> R {
        residencyLock.lock()
        if let h = half, residentUsers == 0 { sumi_f16_to_f32(h, pointer, count) }
        residentUsers += 1
        residencyLock.unlock()
        defer {
            residencyLock.lock()
            residentUsers -= 1
            if half != nil, residentUsers == 0 { releasePages() }
            residencyLock.unlock()
        }
        return try body()
    }

    /// Releases the whole pages inside the fp32 buffer (their contents become zero until rewritten).
    private func releasePages() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: UnsafeMutableRawPointer(pointer))
        let end = start + count * MemoryLayout<Float>.stride
        let alignedStart = (start + page - 1) / page * page
        let alignedEnd = end / page * page
        guard alignedEnd > alignedStart, let p = UnsafeMutableRawPointer(bitPattern: alignedStart) else { return }
        madvise(p, alignedEnd - alignedStart, Int32(MADV_DONTNEED))
    }

    /// The whole buffer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
