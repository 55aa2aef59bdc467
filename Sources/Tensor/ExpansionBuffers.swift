import Foundation

/// Reusable fp32 buffers that half-resident weights expand into for the duration of one use
/// (`Storage.withResident`).
///
/// Expanding into the storage's own pages and giving them back afterwards (`madvise(MADV_DONTNEED)`) meant a page
/// fault and a zeroed page for every 4 KiB of every weight on every use: full-size SDXL's UNet step at 512² took
/// 14.3 s with f16 weights against 9.2 s with fp32 ones, a third of it in the kernel. These buffers stay mapped and
/// faulted in, so after the first layers a use costs only the f16 → fp32 conversion. Only weights between uses are
/// in flight at once (one or two per layer), so the pool stays small: at most `capacityBytes` are kept, and
/// buffers over a quarter of that (a 250 MB token-embedding table) are mapped for the one use and unmapped after.
///
/// A process-wide allocator cache, like malloc's arenas: it holds no program state, only free memory.
final class ExpansionBuffers: @unchecked Sendable {
    /// The pool `Storage` uses.
    static let shared = ExpansionBuffers(capacityBytes: 256 << 20)

    /// One mapped buffer (its size rounded up to 2 MiB so transparent huge pages can back it).
    struct Buffer {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int
    }

    /// The most bytes kept mapped while free.
    let capacityBytes: Int
    private var free: [Buffer] = []
    private var pooledBytes = 0
    private let lock = NSLock()

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// A buffer of at least `bytes`: the smallest free one that fits, else a new mapping (nil if mapping fails).
    func acquire(bytes: Int) -> Buffer? {
        lock.lock()
        if let i = free.indices.filter({ free[$0].bytes >= bytes }).min(by: { free[$0].bytes < free[$1].bytes }) {
            let b = free.remove(at: i)
            pooledBytes -= b.bytes
            lock.unlock()
            return b
        }
        lock.unlock()
        let size = (max(bytes, 1) + Self.hugePage - 1) / Self.hugePage * Self.hugePage
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            return nil
        }
        _ = madvise(p, size, 14)   // MADV_HUGEPAGE: fewer faults and TLB misses where THP is in `madvise` mode
        return Buffer(pointer: p, bytes: size)
    }

    /// Returns `buffer` to the pool, unmapping it (or the largest pooled ones) beyond the capacity.
    func release(_ buffer: Buffer) {
        guard buffer.bytes <= capacityBytes / 4 else { munmap(buffer.pointer, buffer.bytes); return }
        lock.lock()
        free.append(buffer)
        pooledBytes += buffer.bytes
        var evicted: [Buffer] = []
        while pooledBytes > capacityBytes, let i = free.indices.max(by: { free[$0].bytes < free[$1].bytes }) {
            let b = free.remove(at: i)
            pooledBytes -= b.bytes
            evicted.append(b)
        }
        lock.unlock()
        for b in evicted { munmap(b.pointer, b.bytes) }
    }

    /// Bytes mapped and free in the pool.
    var freeBytes: Int { lock.withLock { pooledBytes } }

    static let hugePage = 2 << 20
}
