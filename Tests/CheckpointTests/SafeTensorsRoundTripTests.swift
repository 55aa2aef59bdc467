import XCTest
import Foundation
import Checkpoint
import Tensor
import TestSupport

/// Writer → reader round trips, the Python-written fixture, and atomic-write guarantees.
final class SafeTensorsRoundTripTests: XCTestCase {

    // MARK: round trips

    func testF32RoundTripIsBitExact() throws {
        let path = try makeTempDir(self).appendingPathComponent("f32.safetensors").path
        let a = randomTensor([3, 5, 7], seed: 1, scale: 100)
        let special = Tensor(shape: [6], values: [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        let scalar = Tensor(shape: [], values: [42])
        let empty = Tensor(zeros: [0, 3])
        try SafeTensorsWriter.write([("z.a", a), ("special", special), ("scalar", scalar), ("empty", empty)],
                                    metadata: ["seed": "1", "note": "line\nbreak \"quoted\" ✓"], to: path)
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.names, ["empty", "scalar", "special", "z.a"])
        XCTAssertEqual(f.metadata, ["seed": "1", "note": "line\nbreak \"quoted\" ✓"])
        XCTAssertEqual(f.headerLength % 8, 0, "header must be padded to a multiple of 8")
        assertBitEqual(try f.tensor("z.a"), a)
        assertBitEqual(try f.tensor("special"), special)
        assertBitEqual(try f.tensor("scalar"), scalar)
        XCTAssertEqual(try f.tensor("empty").shape, [0, 3])
        XCTAssertEqual(f.info("scalar")?.shape, [])
        XCTAssertEqual(f.info("z.a")?.dtype, .f32)
        // Data follows key order, back to back from 0.
        XCTAssertEqual(f.info("empty")?.byteRange, 0..<0)
        XCTAssertEqual(f.info("scalar")?.byteRange, 0..<4)
        XCTAssertEqual(f.info("special")?.byteRange, 4..<28)
        XCTAssertEqual(f.info("z.a")?.byteRange, 28..<(28 + 105 * 4))
        XCTAssertEqual(f.dataLength, 28 + 105 * 4)
    }

    func testF16AndBF16RoundTripMatchRoundingReference() throws {
        let dir = try makeTempDir(self)
        let x = randomTensor([4, 33], seed: 2, scale: 3)
        for dtype in [DType.f16, .bf16] {
            let path = dir.appendingPathComponent("\(dtype.rawValue).safetensors").path
            try SafeTensorsWriter.write([("x", x)], dtype: dtype, to: path)
            let f = try SafeTensorsFile(path: path)
            XCTAssertEqual(f.info("x")?.dtype, dtype)
            XCTAssertEqual(f.info("x")?.byteCount, x.count * 2)
            let back = try f.tensor("x")
            XCTAssertEqual(back.shape, x.shape)
            for i in 0..<x.count {
                let expected = dtype == .f16 ? naiveF16Round(x.data[i]) : naiveBF16Round(x.data[i])
                XCTAssertEqual(back.data[i].bitPattern, expected.bitPattern, "\(dtype) element \(i): \(x.data[i])")
            }
            // Reading again, in parallel, gives the same bits.
            assertBitEqual(try f.tensor("x", compute: Compute(threads: 2)), back)
        }
    }

    func testRawEntriesRoundTripEveryDType() throws {
        let path = try makeTempDir(self).appendingPathComponent("raw.safetensors").path
        let ids: [Int64] = [0, -1, 49407, 1 << 40, .min, .max]
        let idBytes = leBytes(ids)
        var entries: [(String, DType, [Int], [UInt8])] = [("ids", .i64, [2, 3], idBytes), ("scalar", .i64, [], leBytes([Int64(7)]))]
        for d in DType.allCases where d != .i64 {
            let n = 3
            entries.append(("t.\(d.rawValue)", d, [n], (0..<(n * d.size)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }))
        }
        try withRawEntries(entries) { raw in
            try SafeTensorsWriter.write(entries: raw, metadata: ["k": "v"], to: path)
        }
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.names.count, entries.count)
        XCTAssertEqual(try f.int64s("ids"), ids)
        XCTAssertEqual(try f.int64s("scalar"), [7])
        XCTAssertEqual(try f.tensor("ids").scalars, ids.map { Float($0) })
        XCTAssertEqual(try f.tensor("ids").shape, [2, 3])
        for (name, dtype, shape, bytes) in entries {
            XCTAssertEqual(f.info(name)?.dtype, dtype)
            XCTAssertEqual(f.info(name)?.shape, shape)
            XCTAssertEqual(try f.withRawBytes(name) { Array($0) }, bytes, name)
            if !dtype.convertsToFloat {
                XCTAssertThrowsError(try f.tensor(name)) { e in
                    XCTAssertEqual(e as? CheckpointError, .unsupportedDType(file: path, name: name, dtype: dtype.rawValue))
                }
            }
        }
        XCTAssertThrowsError(try f.int64s("t.F32")) { e in
            XCTAssertEqual(e as? CheckpointError, .dtypeMismatch(file: path, name: "t.F32", expected: "I64", actual: "F32"))
        }
        XCTAssertThrowsError(try f.tensor("nope")) { e in
            XCTAssertEqual(e as? CheckpointError, .missingTensor(file: path, name: "nope"))
        }
        XCTAssertThrowsError(try f.rawBytes("nope"))
    }

    func testUnalignedDataSectionStillConverts() throws {
        // A hand-made header of odd length puts every tensor at an odd address.
        let h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]},"
            + "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[10,18]},"
            + "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18,22]}}"
        let header = Array(h.utf8).count % 2 == 1 ? h : h + " "
        let data = leBytes([UInt16(0x3C00), 0xC000, 0x0001]) + leBytes([UInt16(0x3F80), 0xFF80])
            + leBytes([Int64(-5)]) + f32Bytes([2.5])
        let f = try SafeTensorsFile(bytes: safetensorsBytes(header: header, data: data))
        XCTAssertEqual(try f.tensor("h").scalars, [1, -2, Float(bitPattern: 0x3380_0000)])
        XCTAssertEqual(try f.tensor("b").scalars, [1, -.infinity])
        XCTAssertEqual(try f.tensor("i").scalars, [-5])
        XCTAssertEqual(try f.tensor("f").scalars, [2.5])
    }

    // MARK: Python-written fixture

    func testReadsFileWrittenByPythonSafetensors() throws {
        let path = Fixtures.path("python_written.safetensors", target: "CheckpointTests")
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "ünïcode ✓", "json": "{\"a\": [1, 2]}"])
        XCTAssertEqual(f.names.count, 16)
        XCTAssertEqual(try f.tensor("f32.matrix").shape, [3, 5])
        XCTAssertEqual(try f.tensor("f32.matrix").scalars, (0..<15).map { Float($0) * 0.25 - 1 })
        XCTAssertEqual(try f.tensor("f32.scalar").shape, [])
        XCTAssertEqual(try f.tensor("f32.scalar").scalars, [3.5])
        XCTAssertEqual(try f.tensor("f32.empty").shape, [0, 3])
        XCTAssertEqual(try f.int64s("i64.ids"), [0, 1, -1, 49407, 1 << 40, -(1 << 40)])
        XCTAssertEqual(try f.int64s("i64.scalar"), [7])
        XCTAssertEqual(try f.tensor("i64.ids").scalars, [0, 1, -1, 49407, 0x1p40, -0x1p40])
        // Widening f16/bf16 must match torch bit for bit (NaNs: only NaN-ness, payload quieting may differ).
        for kind in ["f16", "bf16"] {
            let got = try f.tensor("\(kind).values"), want = try f.tensor("\(kind).expected")
            XCTAssertEqual(got.shape, want.shape)
            for i in 0..<want.count {
                if want.data[i].isNaN { XCTAssertTrue(got.data[i].isNaN, "\(kind)[\(i)]"); continue }
                XCTAssertEqual(got.data[i].bitPattern, want.data[i].bitPattern, "\(kind)[\(i)]: \(got.data[i]) vs \(want.data[i])")
            }
        }
        // Our f32 → f16/bf16 rounding must produce torch's bits.
        let src = try f.tensor("round.src")
        for (dtype, key) in [(DType.f16, "round.f16"), (.bf16, "round.bf16")] {
            let path = try makeTempDir(self).appendingPathComponent("r.safetensors").path
            try SafeTensorsWriter.write([("r", src)], dtype: dtype, to: path)
            let ours = try SafeTensorsFile(path: path).withRawBytes("r") { Array($0) }
            let torch = try f.withRawBytes(key) { Array($0) }
            for i in 0..<src.count {
                let a = UInt16(ours[2 * i]) | UInt16(ours[2 * i + 1]) << 8
                let b = UInt16(torch[2 * i]) | UInt16(torch[2 * i + 1]) << 8
                if src.data[i].isNaN { XCTAssertTrue(isNaN16(a, dtype), "\(dtype) nan"); continue }
                XCTAssertEqual(a, b, "\(dtype) of \(src.data[i]): ours 0x\(String(a, radix: 16)) torch 0x\(String(b, radix: 16))")
            }
        }
        // Declared dtypes that do not convert are listed and readable as bytes.
        XCTAssertEqual(f.info("other.f64")?.dtype, .f64)
        XCTAssertEqual(f.info("other.i32")?.shape, [2, 2])
        XCTAssertEqual(try f.withRawBytes("other.u8") { Array($0) }, [0, 255, 7])
        XCTAssertEqual(try f.withRawBytes("other.bool") { Array($0) }, [1, 0, 1])
        XCTAssertEqual(try f.withRawBytes("other.f64") { Array($0) }, leBytes([(1.5 as Double).bitPattern, (-2.0 as Double).bitPattern]))
        XCTAssertThrowsError(try f.tensor("other.bool")) { e in
            XCTAssertEqual(e as? CheckpointError, .unsupportedDType(file: path, name: "other.bool", dtype: "BOOL"))
        }
    }

    // MARK: atomic writes

    func testWriteReplacesAtomicallyAndLeavesNoTempFile() throws {
        let dir = try makeTempDir(self)
        let path = dir.appendingPathComponent("w.safetensors").path
        try SafeTensorsWriter.write([("a", Tensor(shape: [2], values: [1, 2]))], to: path)
        let first = try SafeTensorsFile(path: path)  // keeps the old inode mapped
        try SafeTensorsWriter.write([("b", Tensor(shape: [1], values: [3]))], dtype: .bf16, to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["w.safetensors"])
        XCTAssertEqual(try SafeTensorsFile(path: path).names, ["b"])
        XCTAssertEqual(try first.tensor("a").scalars, [1, 2], "an open reader keeps seeing the old file")
    }

    func testWriteIntoMissingDirectoryThrowsAndLeavesNothing() throws {
        let dir = try makeTempDir(self)
        let path = dir.appendingPathComponent("missing/sub/w.safetensors").path
        XCTAssertThrowsError(try SafeTensorsWriter.write([("a", Tensor(zeros: [2]))], to: path)) { e in
            guard case .io(let f, let reason)? = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, path)
            XCTAssertTrue((e as? CheckpointError)?.description.hasPrefix(path) ?? false)
            XCTAssertTrue(reason.contains("No such file"), reason)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testWriteOverADirectoryFailsCleanly() throws {
        let dir = try makeTempDir(self)
        let target = dir.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        XCTAssertThrowsError(try SafeTensorsWriter.write([("a", Tensor(zeros: [2]))], to: target.path)) { e in
            guard case .io(let f, _)? = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, target.path)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["occupied"])
    }

    func testInvalidWritesThrowBeforeTouchingTheTarget() throws {
        let dir = try makeTempDir(self)
        let path = dir.appendingPathComponent("keep.safetensors").path
        try SafeTensorsWriter.write([("a", Tensor(shape: [1], values: [9]))], to: path)
        let x = Tensor(zeros: [1])
        let bad: [(String, () throws -> Void)] = [
            ("duplicate", { try SafeTensorsWriter.write([("d", x), ("d", x)], to: path) }),
            ("reserved", { try SafeTensorsWriter.write([("__metadata__", x)], to: path) }),
            ("dtype", { try SafeTensorsWriter.write([("a", x)], dtype: .i64, to: path) }),
            ("bytes", {
                try [UInt8](repeating: 0, count: 7).withUnsafeBytes { b in
                    try SafeTensorsWriter.write(entries: [("e", .i64, [1], b)], to: path)
                }
            }),
            ("negative", {
                try [UInt8]().withUnsafeBytes { b in
                    try SafeTensorsWriter.write(entries: [("e", .u8, [-1], b)], to: path)
                }
            }),
        ]
        for (label, op) in bad {
            XCTAssertThrowsError(try op(), label) { e in
                XCTAssertTrue((e as? CheckpointError)?.description.hasPrefix(path) ?? false, "\(label): \(e)")
            }
        }
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("a").scalars, [9])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["keep.safetensors"])
    }

    func testHeaderLayoutMatchesReferenceLibrary() throws {
        let path = try makeTempDir(self).appendingPathComponent("h.safetensors").path
        try SafeTensorsWriter.write([("b", Tensor(zeros: [1])), ("a", Tensor(zeros: [2, 1]))], dtype: .f16,
                                    metadata: ["m": "x"], to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let expected = "{\"__metadata__\":{\"m\":\"x\"},\"a\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]}}"
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces), expected)
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(bytes.count, 8 + n + 6)
    }

    // MARK: helpers

    func isNaN16(_ bits: UInt16, _ dtype: DType) -> Bool {
        dtype == .f16 ? (bits & 0x7C00 == 0x7C00 && bits & 0x3FF != 0) : (bits & 0x7F80 == 0x7F80 && bits & 0x7F != 0)
    }

    func withRawEntries(_ entries: [(String, DType, [Int], [UInt8])],
                        _ body: ([(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer)]) throws -> Void) rethrows {
        // Copy every entry into one buffer so all pointers stay valid for the call.
        let all = entries.flatMap { $0.3 }
        try all.withUnsafeBytes { buf in
            var offset = 0
            var raw: [(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer)] = []
            for (n, d, s, b) in entries {
                raw.append((n, d, s, UnsafeRawBufferPointer(rebasing: buf[offset..<(offset + b.count)])))
                offset += b.count
            }
            try body(raw)
        }
    }
}
