import Foundation

/// SHA-256 (FIPS 180-4), streaming. Model and LoRA files are identified by the first 10 hex digits of their
/// SHA-256, as A1111 does ("AutoV2" hashes), so images can name the exact weights they came from. There is no
/// system crypto library on Linux to lean on, so it is written out here; a few hundred MB/s is plenty with the
/// per-file cache in `FileHashCache`.
public struct SHA256 {
    private var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// A fresh hash.
    public init() {}

    /// Hashes `bytes` (any length, any number of calls).
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else { return }
        length += UInt64(bytes.count)
        var i = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending.append(contentsOf: UnsafeBufferPointer(start: base, count: take))
            i = take
            if pending.count == 64 {
                pending.withUnsafeBufferPointer { compress($0.baseAddress!) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        while i + 64 <= bytes.count {
            compress(base + i)
            i += 64
        }
        if i < bytes.count { pending.append(contentsOf: UnsafeBufferPointer(start: base + i, count: bytes.count - i)) }
    }

    /// Hashes the bytes of `data`.
    public mutating func update<D: ContiguousBytes>(_ data: D) {
        data.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest (the hash cannot be updated afterwards).
    public mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        var tail = pending + [0x80]
        while tail.count % 64 != 56 { tail.append(0) }
        for s in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bits >> UInt64(s))) }
        tail.withUnsafeBufferPointer { p in
            for block in stride(from: 0, to: tail.count, by: 64) { compress(p.baseAddress! + block) }
        }
        pending.removeAll()
        return state.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> UInt32(24 - 8 * $0)) } }
    }

    /// Lower-case hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    /// SHA-256 of `data` as hex.
    public static func hexDigest<D: ContiguousBytes>(_ data: D) -> String {
        var h = SHA256()
        h.update(data)
        return hex(h.finalize())
    }

    private mutating func compress(_ p: UnsafePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            SHA256.k.withUnsafeBufferPointer { k in
                state.withUnsafeMutableBufferPointer { st in SHA256.compress(p, w, k, st) }
            }
        }
    }

    /// One 64-byte block into the state; `w` is scratch for the message schedule.
    @inline(__always)
    private static func compress(_ p: UnsafePointer<UInt8>, _ w: UnsafeMutableBufferPointer<UInt32>,
                                 _ k: UnsafeBufferPointer<UInt32>, _ state: UnsafeMutableBufferPointer<UInt32>) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
        for t in 0..<16 {
            w[t] = UInt32(p[4 * t]) << 24 | UInt32(p[4 * t + 1]) << 16 | UInt32(p[4 * t + 2]) << 8 | UInt32(p[4 * t + 3])
        }
        for t in 16..<64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = state[0], b = state[1], c = state[2], d = state[3]
        var e = state[4], f = state[5], g = state[6], h = state[7]
        for t in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ k[t] &+ w[t]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
        }
        state[0] = state[0] &+ a; state[1] = state[1] &+ b; state[2] = state[2] &+ c; state[3] = state[3] &+ d
        state[4] = state[4] &+ e; state[5] = state[5] &+ f; state[6] = state[6] &+ g; state[7] = state[7] &+ h
    }
}

/// SHA-256 of files, computed by streaming and remembered per (path, size, modification time) in memory and,
/// when `storePath` is given, in a small JSON file so multi-GB checkpoints are hashed once per change.
public final class FileHashCache: @unchecked Sendable {
    private struct Entry: Codable { var size: Int64; var mtime: Double; var sha256: String }
    private var entries: [String: Entry] = [:]
    private let storePath: String?
    private let lock = NSLock()

    /// A cache; `storePath` (e.g. `~/.cache/sumi/hashes.json`) persists it across runs. An unreadable store is ignored.
    public init(storePath: String? = nil) {
        self.storePath = storePath
        if let storePath, let data = FileManager.default.contents(atPath: storePath),
           let decoded = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries = decoded
        }
    }

    /// Full SHA-256 hex of the file at `path`.
    public func sha256(of path: String) throws -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: url.path) } catch {
            throw PipelineError.invalidInput(path: path, reason: "cannot read file to hash it")
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        lock.lock()
        if let e = entries[url.path], e.size == size, e.mtime == mtime { lock.unlock(); return e.sha256 }
        lock.unlock()
        let digest = try Self.hashFile(url.path)
        lock.lock()
        entries[url.path] = Entry(size: size, mtime: mtime, sha256: digest)
        let snapshot = entries
        lock.unlock()
        persist(snapshot)
        return digest
    }

    /// The first 10 hex digits of the SHA-256 (A1111's short model hash).
    public func shortHash(of path: String) throws -> String { String(try sha256(of: path).prefix(10)) }

    private static func hashFile(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw PipelineError.invalidInput(path: path, reason: "cannot open file to hash it")
        }
        defer { try? handle.close() }
        var h = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 8 << 20) ?? Data() } catch {
                throw PipelineError.invalidInput(path: path, reason: "read error while hashing: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            h.update(chunk)
        }
        return SHA256.hex(h.finalize())
    }

    private func persist(_ snapshot: [String: Entry]) {
        guard let storePath, let data = try? JSONEncoder().encode(snapshot) else { return }
        let dir = (storePath as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: storePath), options: .atomic)
    }
}
