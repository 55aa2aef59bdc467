import XCTest
import Foundation
import Checkpoint
import Tensor
import TestSupport

/// Mutation fuzzing of the reader: every mutated file must either open and read completely or
/// throw a `CheckpointError` — never crash, trap, hang or read out of bounds.
///
/// Runtime is bounded by construction: seed files are under 1 KB, a mutation grows a file by at
/// most 64 bytes, and a file that opens can only describe tensors inside itself (validated), so
/// each open + read-all touches a few KB. The mutations run in memory (`init(bytes:name:)`).
final class SafeTensorsFuzzTests: XCTestCase {
    static let mutationsPerSeed = 8_000

    /// Small valid files from the writer: several dtypes, scalar and empty shapes, metadata.
    func seedFiles() throws -> [[UInt8]] {
        let dir = try makeTempDir(self)
        var seeds: [[UInt8]] = []
        func emit(_ write: (String) throws -> Void) throws {
            let path = dir.appendingPathComponent("seed\(seeds.count).safetensors").path
            try write(path)
            seeds.append([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        try emit { try SafeTensorsWriter.write([("w", randomTensor([3, 4], seed: 1)), ("b", randomTensor([4], seed: 2))], to: $0) }
        try emit {
            try SafeTensorsWriter.write([("x", randomTensor([2, 3, 5], seed: 3)), ("s", Tensor(shape: [], values: [1])),
                                         ("e", Tensor(zeros: [0, 3]))], dtype: .f16, metadata: ["seed": "3", "k": "v"], to: $0)
        }
        try emit { try SafeTensorsWriter.write([("a.b.c", randomTensor([7], seed: 4)), ("z", randomTensor([1, 1, 2], seed: 5))],
                                               dtype: .bf16, metadata: ["json": "{\"x\": [1, 2.5]}"], to: $0) }
        try emit { path in
            let ids = leBytes([Int64(1), -2, 1 << 40, 5])
            let u8: [UInt8] = [1, 2, 3, 4, 5, 6]
            let f = f32Bytes([1.5, -2, Float(bitPattern: 0x0020_0000)])
            try ids.withUnsafeBytes { i in try u8.withUnsafeBytes { u in try f.withUnsafeBytes { fb in
                try SafeTensorsWriter.write(entries: [("ids", .i64, [2, 2], i), ("mask", .bool, [2, 3], u), ("f", .f32, [3], fb)],
                                            metadata: ["n": "3"], to: path)
            } } }
        }
        try emit { try SafeTensorsWriter.write([], metadata: ["only": "metadata"], to: $0) }
        try emit {  // equal sizes, so swapped offsets give overlaps rather than length mismatches
            try SafeTensorsWriter.write((0..<4).map { ("t\($0)", randomTensor([2, 2], seed: UInt64(10 + $0))) },
                                        dtype: .bf16, metadata: ["a": "1"], to: $0)
        }
        return seeds
    }

    func testMutatedFilesNeverCrash() throws {
        let seeds = try seedFiles()
        // Every seed is valid to begin with.
        for s in seeds { XCTAssertNoThrow(try readAll(s)) }

        var rng = SplitMix64(seed: 0x5AFE_7E45)
        var opened = 0, rejected = 0, total = 0
        var problems: [String: Int] = [:]
        for seed in seeds {
            for _ in 0..<Self.mutationsPerSeed {
                var bytes = seed
                for _ in 0..<(1 + Int(rng.next() % 3)) { mutate(&bytes, &rng) }
                XCTAssertLessThanOrEqual(bytes.count, seed.count + 3 * 64 + 64)
                total += 1
                do {
                    try readAll(bytes)
                    opened += 1
                } catch let e as CheckpointError {
                    rejected += 1
                    XCTAssertFalse(e.description.contains("\n"), "multi-line message: \(e)")
                    XCTAssertTrue(e.description.hasPrefix("fuzz: "), "message does not name the file: \(e)")
                    if case .invalidFile(_, let p) = e { problems[kind(p), default: 0] += 1 }
                } catch {
                    XCTFail("non-CheckpointError thrown: \(error)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(total, 10_000)
        // Both outcomes must be common, or the mutations are not exploring anything.
        XCTAssertGreaterThan(opened, total / 50, "too few mutants open: \(opened)/\(total)")
        XCTAssertGreaterThan(rejected, total / 5, "too few mutants rejected: \(rejected)/\(total)")
        XCTAssertGreaterThanOrEqual(problems.count, 10, "problem kinds reached: \(problems)")
        print("fuzz: \(total) mutants, \(opened) opened, \(rejected) rejected; problems: \(problems.sorted { $0.key < $1.key })")
    }

    /// Opens the file and reads every tensor through every accessor that applies to its dtype.
    func readAll(_ bytes: [UInt8]) throws {
        let f = try SafeTensorsFile(bytes: bytes, name: "fuzz")
        for name in f.names {
            guard let info = f.info(name) else { XCTFail("listed but no info: \(name)"); continue }
            let sum = try f.withRawBytes(name) { raw -> UInt64 in
                XCTAssertEqual(raw.count, info.byteCount)
                return raw.reduce(0) { $0 &+ UInt64($1) }  // touch every byte: must stay inside the buffer
            }
            _ = sum
            XCTAssertEqual(info.elementCount * info.dtype.size, info.byteCount)
            if info.dtype.convertsToFloat {
                let t = try f.tensor(name)
                XCTAssertEqual(t.shape, info.shape)
            } else {
                XCTAssertThrowsError(try f.tensor(name))
            }
            if info.dtype == .i64 { XCTAssertEqual(try f.int64s(name).count, info.elementCount) }
        }
    }

    // MARK: mutations

    func mutate(_ b: inout [UInt8], _ rng: inout SplitMix64) {
        func r(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
        let headerEnd = min(b.count, 8 + Int(min(headerLength(b), UInt64(b.count))))
        switch r(11) {
        case 0:  // bit flip anywhere
            guard !b.isEmpty else { return }
            b[r(b.count)] ^= 1 << UInt8(r(8))
        case 1:  // byte overwrite in the header text
            guard headerEnd > 8 else { return }
            let chars = Array("{}[]\",:-0123456789eE. \\u\u{7F}".utf8) + [0x00, 0xFF, 0xC3]
            b[8 + r(headerEnd - 8)] = r(3) == 0 ? UInt8(r(256)) : chars[r(chars.count)]
        case 2:  // byte overwrite in the 8-byte length
            guard b.count >= 8 else { return }
            b[r(8)] = UInt8(r(256))
        case 3:  // length off by a little
            guard b.count >= 8 else { return }
            setHeaderLength(&b, UInt64(bitPattern: Int64(bitPattern: headerLength(b)) &+ Int64(r(17) - 8)))
        case 4:  // truncation
            b.removeLast(r(b.count + 1))
        case 5:  // extension with random bytes
            b += (0..<(1 + r(64))).map { _ in UInt8(r(256)) }
        case 6:  // splice: copy a piece of header text elsewhere in the header, fixing the length
            guard headerEnd > 9 else { return }
            let from = 8 + r(headerEnd - 8), len = min(1 + r(24), headerEnd - from)
            let piece = Array(b[from..<(from + len)])
            let to = 8 + r(headerEnd - 8)
            var delta = len
            if r(2) == 0 {
                b.insert(contentsOf: piece, at: to)
            } else {
                let end = min(to + len, headerEnd)
                b.replaceSubrange(to..<end, with: piece)
                delta = len - (end - to)
            }
            if r(4) != 0 { setHeaderLength(&b, UInt64(headerEnd - 8 + delta)) }
        case 7:  // delete a piece of header text, fixing the length
            guard headerEnd > 9 else { return }
            let from = 8 + r(headerEnd - 8), len = min(1 + r(12), headerEnd - from)
            b.removeSubrange(from..<(from + len))
            setHeaderLength(&b, UInt64(headerEnd - 8 - len))
        case 8:  // copy one entry's data_offsets over another's (same text length keeps the JSON intact)
            copyOffsets(&b, headerEnd, &rng)
        default:  // replace a number in the JSON with an extreme or odd one, fixing the length
            replaceNumber(&b, headerEnd, &rng)
        }
    }

    func replaceNumber(_ b: inout [UInt8], _ headerEnd: Int, _ rng: inout SplitMix64) {
        guard headerEnd > 8 else { return }
        var spans: [Range<Int>] = []
        var i = 8
        while i < headerEnd {
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                let s = i
                while i < headerEnd, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { i += 1 }
                spans.append(s..<i)
            } else { i += 1 }
        }
        guard !spans.isEmpty else { return }
        let extremes = ["-1", "0", "1", "7", "-0", "4294967296", "9223372036854775807", "9223372036854775808",
                        "-9223372036854775808", "18446744073709551616", "99999999999999999999999", "4611686018427387904",
                        "2305843009213693952", "1e3", "1.5", "-4", "65536", "3037000500"]
        let span = spans[Int(rng.next() % UInt64(spans.count))]
        let text = Array(extremes[Int(rng.next() % UInt64(extremes.count))].utf8)
        b.replaceSubrange(span, with: text)
        setHeaderLength(&b, UInt64(headerEnd - 8 + text.count - span.count))
    }

    func copyOffsets(_ b: inout [UInt8], _ headerEnd: Int, _ rng: inout SplitMix64) {
        let key = Array("\"data_offsets\":[".utf8)
        var spans: [Range<Int>] = []
        var i = 8
        while i + key.count <= headerEnd {
            if Array(b[i..<(i + key.count)]) == key, let close = b[(i + key.count)..<headerEnd].firstIndex(of: UInt8(ascii: "]")) {
                spans.append((i + key.count)..<close)
                i = close
            } else { i += 1 }
        }
        guard spans.count >= 2 else { return }
        let a = spans[Int(rng.next() % UInt64(spans.count))], c = spans[Int(rng.next() % UInt64(spans.count))]
        guard a.count == c.count else { return }
        let text = Array(b[a])
        b.replaceSubrange(c, with: text)
    }

    func headerLength(_ b: [UInt8]) -> UInt64 {
        guard b.count >= 8 else { return 0 }
        return b[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    func setHeaderLength(_ b: inout [UInt8], _ n: UInt64) {
        guard b.count >= 8 else { return }
        for k in 0..<8 { b[k] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(k))) }
    }

    /// The case name of a problem (for the coverage statistic).
    func kind(_ p: SafeTensorsProblem) -> String { Mirror(reflecting: p).children.first?.label ?? "\(p)" }
}
