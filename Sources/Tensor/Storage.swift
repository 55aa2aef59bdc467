import Foundation
import CKernels

/// A contiguous fp32 buffer owned by one or more tensors.
///
/// Storage is a reference type so that a frozen teacher and a LoRA-adapted student can share the
/// same base weights without copying them. It is `@unchecked Sendable` because kernels split one
/// buffer into disjoint ranges across worker threads; no two workers ever write the same element.
public final class Storage: @unchecked Sendable {
    /// Base address, 64-byte aligned for AVX-512 loads. For half-resident storage inside `withResident` this is a
    /// pooled expansion buffer (`ExpansionBuffers`) holding the fp32 values; outside it, the storage's own range.
    public private(set) var pointer: UnsafeMutablePointer<Float>
    /// The storage's own fp32 range (what `pointer` is except during a half-resident use).
    private let home: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int
    /// Releases externally owned memory (e.g. an mmap), or nil when the buffer was allocated here.
    private let release: (() -> Void)?

    /// Allocates `count` floats, zero-filled.
    ///
    /// Large buffers come straight from anonymous `mmap`, whose pages are zero and cost no memory until
    /// written: a model built with zero weights and then filled with half-resident values (`assignHalf`)
    /// never commits its fp32 pages.
    public init(count: Int) {
        precondition(count >= 0, "Storage count must be non-negative, got \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= Self.mmapThreshold,
           let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            self.pointer = p.bindMemory(to: Float.self, capacity: count)
            self.home = self.pointer
            self.count = count
            self.release = { munmap(p, bytes) }
            return
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.home = self.pointer
        self.count = count
        self.release = nil
    }

    /// Zero-filled buffers at least this large are mapped rather than allocated (see `init(count:)`): large
    /// enough that the zero gradients and accumulators of a training step (a few MB each, every step) come from
    /// the heap — mapping and unmapping them cost page faults and TLB-shootdown interrupts on every core — and
    /// small enough that full-size SDXL's big weights (15–59 MB) stay lazily mapped.
    static let mmapThreshold = 12 << 20

    /// Allocates `count` floats without initialising them (caller writes every element).
    public init(uninitializedCount count: Int) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.home = self.pointer
        self.count = count
        self.release = nil
    }

    /// Wraps memory owned elsewhere; `release` runs when the storage dies.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, release: @escaping () -> Void) {
        self.pointer = pointer
        self.home = pointer
        self.count = count
        self.release = release
    }

    deinit {
        half?.deallocate()
        if let release { release() } else { UnsafeMutableRawPointer(home).deallocate() }
    }

    // MARK: Half-precision residency

    /// f16 copy of the values while the storage is half-resident (the fp32 pages are released then).
    private var half: UnsafeMutablePointer<UInt16>?
    /// How many `withResident` calls are in progress (they nest).
    private var residentUsers = 0
    /// The pooled buffer `pointer` points into during a half-resident use.
    private var expansion: ExpansionBuffers.Buffer?
    private let residencyLock = NSLock()

    /// Whether the values are kept as f16 between uses (see `compactToHalf`).
    public var isHalfResident: Bool { residencyLock.withLock { half != nil } }

    /// Whether the fp32 values can be read now: plain storage, or half-resident inside `withResident`.
    public var hasFullValues: Bool { residencyLock.withLock { half == nil || residentUsers > 0 } }

    /// Keeps the values as f16 and gives the fp32 pages back to the OS, halving the memory this storage
    /// holds between uses. Values are rounded to f16 (round-to-nearest-even) — what an f16 checkpoint
    /// holds anyway. `withResident` brings the fp32 values back for the duration of one use (a layer's
    /// forward), so a model's weights are fp32 only one layer at a time. For frozen weights: a graph that
    /// must read the values later (backward) needs its own copy (see `residentCopy`).
    public func compactToHalf() {
        residencyLock.lock(); defer { residencyLock.unlock() }
        guard half == nil, count > 0 else { return }
        derivedForms = [:]   // built from the unrounded values
        let h = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        sumi_f32_to_f16(pointer, h, count)
        half = h
        if residentUsers == 0 { releasePages() }
    }

    /// Makes the storage half-resident holding `bits` (IEEE f16, `count` of them) without writing the fp32
    /// buffer: a loader reading an f16 checkpoint can fill a weight with no fp32 peak. The values are the
    /// f16 values exactly; `withResident` expands them for each use, `restoreFull` for good.
    public func assignHalf(_ bits: UnsafePointer<UInt16>) {
        residencyLock.lock(); defer { residencyLock.unlock() }
        precondition(residentUsers == 0, "Storage.assignHalf while the values are in use")
        derivedForms = [:]
        let h = half ?? UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        h.update(from: bits, count: count)
        half = h
        releasePages()
    }

    /// Returns to plain fp32 storage (the values stay f16-rounded).
    public func restoreFull() {
        residencyLock.lock(); defer { residencyLock.unlock() }
        guard let h = half else { return }
        precondition(residentUsers == 0 || expansion == nil, "Storage.restoreFull while the values are in use")
        if residentUsers == 0 { sumi_f16_to_f32(h, pointer, count) }
        h.deallocate()
        half = nil
    }

    /// Runs `body` with the fp32 values present (a no-op wrapper for ordinary storage). Half-resident values are
    /// expanded into a pooled buffer that `pointer` (and so every tensor's `data`) points at until the outermost
    /// call returns — read `data` inside `body`, never keep it. With `c`, the expansion is split across its threads.
    public func withResident<R>(_ c: Compute? = nil, _ body: () throws -> R) rethrows -> R {
        residencyLock.lock()
        precondition(!discarded, "Storage.withResident: the values were discarded (discardValues)")
        if let h = half, residentUsers == 0 {
            if let buffer = ExpansionBuffers.shared.acquire(bytes: count * MemoryLayout<Float>.stride) {
                expansion = buffer
                pointer = buffer.pointer.bindMemory(to: Float.self, capacity: count)
            }
            let dst = pointer, n = count
            if let c, n >= 1 << 18 {
                c.parallelFor(n, grain: 1 << 16) { r in sumi_f16_to_f32(h + r.lowerBound, dst + r.lowerBound, r.count) }
            } else {
                sumi_f16_to_f32(h, dst, n)
            }
        }
        residentUsers += 1
        residencyLock.unlock()
        defer {
            residencyLock.lock()
            residentUsers -= 1
            if half != nil, residentUsers == 0 {
                if let buffer = expansion {
                    pointer = home
                    expansion = nil
                    ExpansionBuffers.shared.release(buffer)
                } else {
                    releasePages()
                }
            }
            residencyLock.unlock()
        }
        return try body()
    }

    /// Copies the values at `range` into `dst` as fp32 — converted from the f16 copy when half-resident, without
    /// expanding the rest (an embedding lookup reads a few rows of a large table).
    public func read(_ range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Storage.read: \(range) outside 0..<\(count)")
        residencyLock.lock(); defer { residencyLock.unlock() }
        precondition(!discarded, "Storage.read: the values were discarded (discardValues)")
        if let h = half, residentUsers == 0 {
            sumi_f16_to_f32(h + range.lowerBound, dst, range.count)
        } else {
            dst.update(from: pointer + range.lowerBound, count: range.count)
        }
    }

    // MARK: Discarding

    private var discarded = false

    /// Whether `discardValues` ran: the values are gone for good.
    public var isDiscarded: Bool { residencyLock.withLock { discarded } }

    /// Frees the values for good — the f16 copy, the fp32 pages, every derived form (bf16 panels) — keeping
    /// only the address range: for the weights of a model that a one-shot run no longer needs (the text encoders
    /// once the prompt is encoded, the UNet once sampling is done). Reading the values afterwards is a
    /// programming error: `withResident` traps and the fp32 buffer reads as zeros, so owners check `isDiscarded`
    /// (`Module.hasDiscardedWeights`) before running.
    public func discardValues() {
        residencyLock.lock(); defer { residencyLock.unlock() }
        precondition(residentUsers == 0, "Storage.discardValues while the values are in use")
        guard !discarded else { return }
        discarded = true
        derivedForms = [:]
        half?.deallocate()
        half = nil
        releasePages()
    }

    /// Hands free heap pages back to the kernel (glibc `malloc_trim`). Freed buffers under glibc's mmap threshold —
    /// which grows to 32 MiB after large frees, so most f16 weights — otherwise stay in the process's RSS; call this
    /// after freeing a whole model.
    public static func returnFreedMemory() { _ = sumiMallocTrim(0) }

    // MARK: Derived forms (e.g. packed bf16 weights)

    /// Whether the owner promised the values no longer change (see `freeze`).
    private var frozen = false
    private var derivedForms: [String: AnyObject] = [:]

    /// Whether derived forms of the values are cached (the storage is frozen).
    public var isFrozen: Bool { residencyLock.withLock { frozen } }

    /// Promises that the values will not change from now on (frozen inference weights), so derived forms
    /// such as a layer's packed bf16 panels are built once and kept beside the values (they cost half the
    /// fp32 size). Anything that writes the values afterwards must call `unfreeze` first.
    public func freeze() { residencyLock.withLock { frozen = true } }

    /// Allows writes again and drops every cached derived form.
    public func unfreeze() { residencyLock.withLock { frozen = false; derivedForms = [:] } }

    /// Bytes held by cached derived forms that report a size through `bytes` (for memory reports).
    public func derivedBytes(_ size: (AnyObject) -> Int) -> Int {
        residencyLock.withLock { derivedForms.values.reduce(0) { $0 + size($1) } }
    }

    /// The derived form named `key`: cached while the storage is frozen, otherwise built afresh by `make`
    /// on every call (the values may have changed since). `make` reads the fp32 values, so half-resident
    /// storage must be inside `withResident`.
    public func derived<T: AnyObject>(_ key: String, _ make: () -> T) -> T {
        residencyLock.lock()
        guard frozen else { residencyLock.unlock(); return make() }
        defer { residencyLock.unlock() }
        if let cached = derivedForms[key] as? T { return cached }
        let value = make()
        derivedForms[key] = value
        return value
    }

    /// Whether the derived form `key` is cached (only ever true while frozen).
    public func hasDerived(_ key: String) -> Bool { residencyLock.withLock { derivedForms[key] != nil } }

    /// Releases the whole pages inside the fp32 buffer (their contents become zero until rewritten).
    private func releasePages() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: UnsafeMutableRawPointer(home))
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

/// glibc `malloc_trim` (not exported by the Glibc module): returns free heap pages to the kernel.
@_silgen_name("malloc_trim")
private func sumiMallocTrim(_ pad: Int) -> Int32
