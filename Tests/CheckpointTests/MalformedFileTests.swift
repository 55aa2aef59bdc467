import XCTest
import Foundation
import Checkpoint
import Tensor

/// One test per way a safetensors file can be invalid; each asserts the specific typed problem
/// and that the message is one line naming the file.
final class MalformedFileTests: XCTestCase {
    let file = "bad.safetensors"

    /// Opens `bytes` in memory and asserts it fails with exactly `problem`.
    func assertProblem(_ bytes: [UInt8], _ problem: SafeTensorsProblem, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let f = try SafeTensorsFile(bytes: bytes, name: self.file)
            XCTFail("opened with \(f.names.count) tensors; expected \(problem)", file: file, line: line)
        } catch let e as CheckpointError {
            XCTAssertEqual(e, .invalidFile(file: self.file, problem: problem), file: file, line: line)
            assertOneLineNamingFile(e, file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    /// Opens `bytes` and returns the problem, for cases where the exact payload is long-winded.
    func problem(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> SafeTensorsProblem? {
        do {
            _ = try SafeTensorsFile(bytes: bytes, name: self.file)
            XCTFail("opened; expected an error", file: file, line: line)
        } catch let CheckpointError.invalidFile(f, p) {
            XCTAssertEqual(f, self.file, file: file, line: line)
            assertOneLineNamingFile(CheckpointError.invalidFile(file: f, problem: p), file: file, line: line)
            return p
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    func assertOneLineNamingFile(_ e: CheckpointError, file: StaticString = #filePath, line: UInt = #line) {
        let d = e.description
        XCTAssertTrue(d.hasPrefix(self.file + ": "), "message does not start with the file: \(d)", file: file, line: line)
        XCTAssertFalse(d.contains("\n") || d.contains("\r"), "message spans lines: \(d)", file: file, line: line)
    }

    /// A valid entry for a [2] F32 tensor at `offsets`.
    func entry(_ n: String, dtype: String = "\"F32\"", shape: String = "[2]", offsets: String = "[0,8]") -> String {
        "\"\(n)\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }
    let eight = [UInt8](repeating: 0, count: 8)

    // MARK: prefix

    func testTooShortInMemory() {
        assertProblem([1, 2, 3, 4, 5], .tooShort(size: 5))
        assertProblem([], .tooShort(size: 0))
    }

    func testTooShortOnDisk() throws {
        let path = try makeTempDir(self).appendingPathComponent("short.safetensors").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) { e in
            XCTAssertEqual(e as? CheckpointError, .invalidFile(file: path, problem: .tooShort(size: 3)))
        }
    }

    func testHeaderLengthPastEnd() {
        assertProblem(safetensorsBytes(header: "{}", declaredLength: 3), .headerPastEnd(length: 3, fileSize: 10))
        assertProblem(safetensorsBytes(header: "", declaredLength: 1), .headerPastEnd(length: 1, fileSize: 8))
    }

    func testHeaderTooLarge() {
        let big = UInt64(SafeTensorsFile.maxHeaderLength) + 1
        assertProblem(safetensorsBytes(header: "{}", declaredLength: big), .headerTooLarge(length: big))
        assertProblem(safetensorsBytes(header: "{}", declaredLength: .max), .headerTooLarge(length: .max))
    }

    // MARK: JSON

    func testHeaderNotUTF8() {
        assertProblem(safetensorsBytes(headerBytes: Array("{\"a".utf8) + [0xFF] + Array("\":1}".utf8)), .headerNotUTF8)
        assertProblem(safetensorsBytes(headerBytes: [0x7B, 0xC3]), .headerNotUTF8)  // truncated sequence
    }

    func testHeaderNotJSON() {
        for text in ["", "{", "{\"a\":}", "{} x", "{'a':1}", "{\"a\":01}", "{\"a\":tru}", "{\"a\":\"\\q\"}",
                     "{\"a\":\"\\ud800\"}", "{\"a\":\"x\ny\"}", "{\"a\":[1,]}", "{,}"] {
            guard case .headerNotJSON? = problem(safetensorsBytes(header: text)) else {
                XCTFail("expected headerNotJSON for \(text)"); continue
            }
        }
    }

    func testDeepNestingIsRejectedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        guard case .headerNotJSON(let reason, _)? = problem(safetensorsBytes(header: "{\"a\":" + deep + "}")) else {
            return XCTFail("expected headerNotJSON")
        }
        XCTAssertTrue(reason.contains("nesting"), reason)
    }

    func testDuplicateKey() {
        let h = "{\(entry("a")),\(entry("a", offsets: "[8,16]"))}"
        guard case .headerNotJSON(let reason, _)? = problem(safetensorsBytes(header: h, data: eight + eight)) else {
            return XCTFail("expected headerNotJSON")
        }
        XCTAssertTrue(reason.contains("duplicate key 'a'"), reason)
    }

    func testHeaderNotObject() {
        assertProblem(safetensorsBytes(header: "[1, 2]"), .headerNotObject(found: "array"))
        assertProblem(safetensorsBytes(header: "\"x\""), .headerNotObject(found: "string"))
        assertProblem(safetensorsBytes(header: "  null  "), .headerNotObject(found: "null"))
    }

    // MARK: entries

    func testEntryNotObject() {
        assertProblem(safetensorsBytes(header: "{\"w\": [1, 2]}"), .entryNotObject(name: "w"))
    }

    func testMissingFields() {
        assertProblem(safetensorsBytes(header: "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data: eight),
                      .missingField(name: "w", field: "dtype"))
        assertProblem(safetensorsBytes(header: "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data: eight),
                      .missingField(name: "w", field: "shape"))
        assertProblem(safetensorsBytes(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", data: eight),
                      .missingField(name: "w", field: "data_offsets"))
    }

    func testWrongFieldTypes() {
        let ints = "an array of integers", two = "an array of two integers"
        let cases: [(String, String, String)] = [
            (entry("w", dtype: "32"), "dtype", "a string"),
            (entry("w", dtype: "null"), "dtype", "a string"),
            (entry("w", shape: "2"), "shape", ints),
            (entry("w", shape: "[1.5]"), "shape", ints),
            (entry("w", shape: "[2e0]"), "shape", ints),
            (entry("w", shape: "[true]"), "shape", ints),
            (entry("w", shape: "[\"2\"]"), "shape", ints),
            (entry("w", offsets: "[0]"), "data_offsets", two),
            (entry("w", offsets: "[0,8,8]"), "data_offsets", two),
            (entry("w", offsets: "[0,\"8\"]"), "data_offsets", two),
            (entry("w", offsets: "[0,8.0]"), "data_offsets", two),
            (entry("w", offsets: "{}"), "data_offsets", two),
        ]
        for (e, field, expected) in cases {
            assertProblem(safetensorsBytes(header: "{\(e)}", data: eight),
                          .wrongFieldType(name: "w", field: field, expected: expected))
        }
    }

    func testUnknownDType() {
        assertProblem(safetensorsBytes(header: "{\(entry("w", dtype: "\"F4\""))}", data: eight),
                      .unknownDType(name: "w", dtype: "F4"))
        assertProblem(safetensorsBytes(header: "{\(entry("w", dtype: "\"float32\""))}", data: eight),
                      .unknownDType(name: "w", dtype: "float32"))
    }

    func testNegativeDimension() {
        assertProblem(safetensorsBytes(header: "{\(entry("w", shape: "[-1,-2]", offsets: "[0,8]"))}", data: eight),
                      .negativeDimension(name: "w", shape: "[-1, -2]"))
        assertProblem(safetensorsBytes(header: "{\(entry("w", shape: "[-99999999999999999999]"))}", data: eight),
                      .negativeDimension(name: "w", shape: "[(below -2^63)]"))
    }

    func testShapeProductOverflow() {
        assertProblem(safetensorsBytes(header: "{\(entry("w", shape: "[4294967296,4294967296]"))}", data: eight),
                      .shapeOverflow(name: "w", shape: "[4294967296, 4294967296]"))
        // The element count fits, the byte count (× 4) does not.
        assertProblem(safetensorsBytes(header: "{\(entry("w", shape: "[4611686018427387904]"))}", data: eight),
                      .shapeOverflow(name: "w", shape: "[4611686018427387904]"))
        assertProblem(safetensorsBytes(header: "{\(entry("w", shape: "[99999999999999999999]"))}", data: eight),
                      .shapeOverflow(name: "w", shape: "[(above 2^63)]"))
        // A zero dimension makes the product 0 even next to a huge one: not an overflow.
        XCTAssertNoThrow(try SafeTensorsFile(bytes: safetensorsBytes(
            header: "{\(entry("w", shape: "[0,4611686018427387904]", offsets: "[0,0]"))}")))
    }

    func testOffsetsReversed() {
        assertProblem(safetensorsBytes(header: "{\(entry("w", offsets: "[8,0]"))}", data: eight + eight),
                      .offsetsReversed(name: "w", begin: 8, end: 0))
    }

    func testOffsetsOutOfRange() {
        assertProblem(safetensorsBytes(header: "{\(entry("w", offsets: "[4,12]"))}", data: eight),
                      .offsetsOutOfRange(name: "w", offsets: "[4, 12]", dataLength: 8))
        assertProblem(safetensorsBytes(header: "{\(entry("w", offsets: "[-8,0]"))}", data: eight),
                      .offsetsOutOfRange(name: "w", offsets: "[-8, 0]", dataLength: 8))
        assertProblem(safetensorsBytes(header: "{\(entry("w", offsets: "[0,18446744073709551616]"))}", data: eight),
                      .offsetsOutOfRange(name: "w", offsets: "[0, (above 2^63)]", dataLength: 8))
        assertProblem(safetensorsBytes(header: "{\(entry("w", offsets: "[9223372036854775800,9223372036854775807]"))}"),
                      .offsetsOutOfRange(name: "w", offsets: "[9223372036854775800, 9223372036854775807]", dataLength: 0))
    }

    func testByteLengthMismatch() {
        assertProblem(safetensorsBytes(header: "{\(entry("w", shape: "[3]", offsets: "[0,8]"))}", data: eight),
                      .byteLengthMismatch(name: "w", expected: 12, actual: 8))
        assertProblem(safetensorsBytes(header: "{\(entry("w", dtype: "\"F16\"", shape: "[]", offsets: "[0,4]"))}", data: eight),
                      .byteLengthMismatch(name: "w", expected: 2, actual: 4))
    }

    func testOverlappingTensors() {
        let h = "{\(entry("b", offsets: "[4,12]")),\(entry("a", offsets: "[0,8]"))}"
        assertProblem(safetensorsBytes(header: h, data: eight + eight), .overlappingTensors(first: "a", second: "b"))
        let same = "{\(entry("a")),\(entry("b"))}"
        assertProblem(safetensorsBytes(header: same, data: eight), .overlappingTensors(first: "a", second: "b"))
    }

    func testEmptyTensorsNeverOverlapAndGapsAreTolerated() throws {
        let h = "{\(entry("a", offsets: "[8,16]")),\(entry("e", shape: "[0,3]", offsets: "[8,8]")),"
            + "\(entry("f", shape: "[0]", offsets: "[8,8]"))}"
        let f = try SafeTensorsFile(bytes: safetensorsBytes(header: h, data: eight + f32Bytes([1, 2]) + [9, 9]))
        XCTAssertEqual(f.names, ["a", "e", "f"])
        XCTAssertEqual(try f.tensor("a").scalars, [1, 2])
        XCTAssertEqual(try f.tensor("e").shape, [0, 3])
    }

    func testBadMetadata() {
        assertProblem(safetensorsBytes(header: "{\"__metadata__\":[\"a\"]}"),
                      .badMetadata(reason: "is a array, not an object of strings"))
        assertProblem(safetensorsBytes(header: "{\"__metadata__\":{\"k\":1}}"),
                      .badMetadata(reason: "value of 'k' is a number, not a string"))
        assertProblem(safetensorsBytes(header: "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}"),
                      .badMetadata(reason: "value of 'k' is a object, not a string"))
    }

    func testNullMetadataAndPaddingAreAccepted() throws {
        let f = try SafeTensorsFile(bytes: safetensorsBytes(header: "{\"__metadata__\":null}   \n\t"))
        XCTAssertEqual(f.metadata, [:])
        XCTAssertEqual(f.names, [])
    }

    // MARK: messages and OS errors

    func testControlCharactersInNamesStayOnOneLine() {
        let h = "{\"evil\\nname\":{\"dtype\":\"F4\",\"shape\":[],\"data_offsets\":[0,0]}}"
        assertProblem(safetensorsBytes(header: h), .unknownDType(name: "evil\nname", dtype: "F4"))
        let e = CheckpointError.invalidFile(file: self.file, problem: .unknownDType(name: "evil\nname", dtype: "F4"))
        XCTAssertTrue(e.description.contains("evil\\nname"), e.description)
        assertOneLineNamingFile(CheckpointError.missingTensor(file: self.file, name: "a\r\nb\u{2028}c"))
    }

    func testMissingFileAndDirectoryAreIOErrors() throws {
        let dir = try makeTempDir(self)
        let missing = dir.appendingPathComponent("nope.safetensors").path
        XCTAssertThrowsError(try SafeTensorsFile(path: missing)) { e in
            guard case .io(let f, let reason)? = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertEqual(f, missing)
            XCTAssertTrue(reason.contains("No such file"), reason)
        }
        XCTAssertThrowsError(try SafeTensorsFile(path: dir.path)) { e in
            XCTAssertEqual(e as? CheckpointError, .io(file: dir.path, reason: "not a regular file"))
        }
    }

    func testEveryProblemDescriptionIsOneLine() {
        let problems: [SafeTensorsProblem] = [
            .tooShort(size: 1), .headerTooLarge(length: 1), .headerPastEnd(length: 1, fileSize: 2), .headerNotUTF8,
            .headerNotJSON(reason: "x\ny", offset: 1), .headerNotObject(found: "array"), .entryNotObject(name: "\n"),
            .missingField(name: "a", field: "shape"), .wrongFieldType(name: "a", field: "shape", expected: "x"),
            .unknownDType(name: "a", dtype: "\n"), .negativeDimension(name: "a", shape: "[-1]"),
            .shapeOverflow(name: "a", shape: "[]"), .offsetsReversed(name: "a", begin: 2, end: 1),
            .offsetsOutOfRange(name: "a", offsets: "[]", dataLength: 0), .byteLengthMismatch(name: "a", expected: 1, actual: 2),
            .overlappingTensors(first: "a", second: "b"), .badMetadata(reason: "\r"),
        ]
        for p in problems { assertOneLineNamingFile(.invalidFile(file: self.file, problem: p)) }
    }
}
