import Foundation
import TestSupport
import XCTest
@testable import Trainer

final class TarReaderTests: XCTestCase {
    private func read(_ bytes: [UInt8]) -> (members: [TarMember], warnings: [TarWarning]) {
        let r = TarReader(source: TarMemorySource(bytes))
        let m = r.readAll()
        return (m, r.takeWarnings())
    }

    func testPlainUstarSkipsDirectoriesAndOtherTypes() {
        var t = TarBuilder()
        t.addOther("dir/", type: UInt8(ascii: "5"))
        t.add("dir/a.txt", "alpha")
        t.addOther("dir/link", type: UInt8(ascii: "2"))
        t.add("./dir/b.json", "{}")
        t.addRaw(header: TarBuilder.header(name: "c.bin", size: 3, type: UInt8(ascii: "7")), data: [1, 2, 3])
        let (members, warnings) = read(t.finished())
        XCTAssertEqual(members.map(\.path), ["dir/a.txt", "dir/b.json", "c.bin"])
        XCTAssertEqual(members[0].data, Array("alpha".utf8))
        XCTAssertEqual(members[2].data, [1, 2, 3])
        XCTAssertEqual(warnings, [])
    }

    func testUstarPrefixField() {
        var t = TarBuilder()
        t.addRaw(header: TarBuilder.header(name: "file.txt", size: 2, prefix: "some/deep/dir"), data: Array("hi".utf8))
        XCTAssertEqual(read(t.finished()).members.map(\.path), ["some/deep/dir/file.txt"])
    }

    func testGNULongNamesAndPaxPaths() {
        let long = "d/" + String(repeating: "x", count: 150) + ".caption.txt"
        for mode in [TarBuilder.LongNames.gnu, .pax] {
            var t = TarBuilder()
            t.longNames = mode
            t.add("short.txt", "s")
            t.add(long, "long")
            t.add("after.txt", "a")
            let (members, warnings) = read(t.finished())
            XCTAssertEqual(members.map(\.path), ["short.txt", long, "after.txt"], "\(mode)")
            XCTAssertEqual(members[1].data, Array("long".utf8))
            XCTAssertEqual(warnings, [])
            // The long member's header offset points at its extension header: re-reading from it
            // yields the member with its full name again.
            let again = TarReader(source: TarMemorySource(t.finished()), offset: members[1].headerOffset).next()
            XCTAssertEqual(again?.path, long)
        }
    }

    func testFixturesWrittenByPythonTarfile() throws {
        let listing = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tars.json", target: "TrainerTests")))) as! [String: [[String: String]]]
        XCTAssertEqual(listing.count, 2)
        for (name, entries) in listing {
            let r = try TarReader(path: Fixtures.path(name, target: "TrainerTests"))
            let members = r.readAll()
            XCTAssertEqual(members.map(\.path), entries.map { $0["path"]! }, name)
            XCTAssertEqual(members.map { String(decoding: $0.data, as: UTF8.self) }, entries.map { $0["data"]! }, name)
            XCTAssertEqual(r.takeWarnings(), [], name)
        }
    }

    func testBadChecksumSkipsOneMemberWithOneWarning() {
        var t = TarBuilder()
        t.add("a.txt", "first")
        var bad = TarBuilder.header(name: "b.txt", size: 700)
        bad[0] ^= 0x20  // name changes, checksum does not
        t.addRaw(header: bad, data: [UInt8](repeating: 7, count: 700))
        t.add("c.txt", "third")
        let (members, warnings) = read(t.finished())
        XCTAssertEqual(members.map(\.path), ["a.txt", "c.txt"])
        XCTAssertEqual(warnings.count, 1)
        if case .badChecksum = warnings.first {} else { XCTFail("\(warnings)") }
    }

    func testTruncatedArchiveAndSizePastEOF() {
        var t = TarBuilder()
        t.add("a.txt", "first")
        t.add("b.bin", [UInt8](repeating: 1, count: 2000))
        let full = t.finished()
        // Cut inside b's data.
        let (m1, w1) = read(Array(full.prefix(512 + 512 + 512 + 1000)))
        XCTAssertEqual(m1.map(\.path), ["a.txt"])
        XCTAssertEqual(w1, [.truncated(offset: 1024, path: "b.bin")])
        // Cut inside a header.
        let (m2, w2) = read(Array(full.prefix(1024 + 100)))
        XCTAssertEqual(m2.map(\.path), ["a.txt"])
        XCTAssertEqual(w2.map(\.kind), ["truncated"])
        // A size field claiming more than the file holds.
        var u = TarBuilder()
        u.add("a.txt", "first")
        u.addRaw(header: TarBuilder.header(name: "huge.bin", size: 1 << 30), data: [9, 9])
        let (m3, w3) = read(u.finished())
        XCTAssertEqual(m3.map(\.path), ["a.txt"])
        XCTAssertEqual(w3.map(\.kind), ["truncated"])
    }

    func testMemberSizeLimitAndMalformedPax() {
        var t = TarBuilder()
        t.add("big.bin", [UInt8](repeating: 1, count: 5000))
        t.addRaw(header: TarBuilder.header(name: "PaxHeaders/x", size: 12, type: UInt8(ascii: "x")), data: Array("99 path=zz\n\n".utf8))
        t.add("small.txt", "ok")
        let r = TarReader(source: TarMemorySource(t.finished()), maxMemberBytes: 4096)
        XCTAssertEqual(r.readAll().map(\.path), ["small.txt"])
        XCTAssertEqual(r.takeWarnings().map(\.kind), ["member too large", "bad extended header"])
    }

    func testBase256SizeAndOctalParsing() {
        XCTAssertEqual(TarHeader.octal(ArraySlice(Array("0000644 \0".utf8))), 0o644)
        XCTAssertNil(TarHeader.octal(ArraySlice(Array("12x4".utf8))))
        var b256 = [UInt8](repeating: 0, count: 12)
        b256[0] = 0x80
        b256[10] = 0x01
        b256[11] = 0x02
        XCTAssertEqual(TarHeader.number(ArraySlice(b256)), 258)
    }

    /// Truncations, bit flips and garbage blocks never crash the reader, and a reader always
    /// terminates with members that are a subset of what a valid archive could contain.
    func testFuzzedArchivesNeverCrash() {
        var t = TarBuilder()
        for i in 0..<6 {
            t.add("k\(i).txt", "caption \(i)")
            t.add("k\(i).bin", [UInt8](repeating: UInt8(i), count: 300 + i * 211))
        }
        t.longNames = .pax
        t.add("p/" + String(repeating: "y", count: 120) + ".txt", "pax")
        t.longNames = .gnu
        t.add("g/" + String(repeating: "z", count: 120) + ".txt", "gnu")
        let original = t.finished()
        var rng = DataRNG(seed: 99)
        for trial in 0..<400 {
            var bytes = original
            switch trial % 4 {
            case 0:
                bytes = Array(bytes.prefix(rng.below(bytes.count)))
            case 1:
                for _ in 0..<(1 + rng.below(8)) { bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8)) }
            case 2:
                let start = rng.below(bytes.count / 512) * 512
                for i in start..<min(bytes.count, start + 512) { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            default:
                for _ in 0..<3 { bytes[rng.below(bytes.count)] ^= 0xFF }
                bytes = Array(bytes.prefix(bytes.count - rng.below(700)))
            }
            let r = TarReader(source: TarMemorySource(bytes))
            var count = 0
            while let m = r.next() {
                count += 1
                XCTAssertLessThanOrEqual(m.data.count, bytes.count)
                XCTAssertLessThan(count, 100, "reader does not terminate")
            }
            _ = r.takeWarnings()
            let g = SampleGrouper(reader: TarReader(source: TarMemorySource(bytes)), shard: 0, epoch: 0)
            while g.next() != nil {}
        }
    }
}
