import Foundation
import XCTest
import Tensor
import TestSupport

/// Half-precision residency: values round to f16, come back for each use, and the fp32 pages are released.
final class StorageResidencyTests: XCTestCase {
    func testValuesRoundTripThroughHalfAndComeBackForEachUse() {
        let t = Tensor(shape: [5, 3], values: [0, 1, -2, 0.1, 1e-5, 65504, 3.14159, -0.333, 7, 8, 9, 10, 11, 12, 0.5])
        let expected = t.scalars.map { Float(Float16($0)) }
        t.storage.compactToHalf()
        XCTAssertTrue(t.storage.isHalfResident)
        t.storage.withResident { XCTAssertEqual(t.scalars, expected) }
        t.storage.withResident { t.storage.withResident { XCTAssertEqual(t.scalars, expected) } }   // nesting
        t.storage.restoreFull()
        XCTAssertFalse(t.storage.isHalfResident)
        XCTAssertEqual(t.scalars, expected)
    }

    func testReadConvertsOnlyTheRangeAskedFor() {
        let t = Tensor(shape: [6], values: [1, 2.5, -3, 0.1, 5, 6])
        var out = [Float](repeating: 0, count: 3)
        t.storage.read(1..<4, into: &out)
        XCTAssertEqual(out, [2.5, -3, 0.1])
        t.storage.compactToHalf()
        t.storage.read(1..<4, into: &out)
        XCTAssertEqual(out, [2.5, -3, Float(Float16(0.1))])
        t.storage.withResident { t.storage.read(3..<4, into: &out) }
        XCTAssertEqual(out[0], Float(Float16(0.1)))
    }

    func testResidentCopyOutlivesTheUse() {
        let t = Tensor(shape: [4], values: [1, 2, 3, 4])
        t.storage.compactToHalf()
        let lasting = t.residentCopy(needsLasting: true)
        XCTAssertFalse(lasting === t)
        XCTAssertEqual(lasting.scalars, [1, 2, 3, 4])
        XCTAssertTrue(t.residentCopy(needsLasting: false) === t)
    }

    func testCompactingReleasesMemory() throws {
        let n = 64 << 20   // 256 MB of fp32
        let t = Tensor(shape: [n], repeating: 0.5)
        let before = residentBytes()
        t.storage.compactToHalf()
        let after = residentBytes()
        // fp32 pages go (−256 MB), the f16 copy comes (+128 MB): at least 100 MB less.
        XCTAssertLessThan(after, before - (100 << 20), "RSS \(before) → \(after)")
        t.storage.withResident { XCTAssertEqual(t.data[n - 1], 0.5) }
    }

    func testUsesExpandIntoPooledBuffersWithoutFaultingPagesEachTime() {
        let n = 3 << 20   // 12 MB of fp32: 3,072 pages per use if every use faulted its own pages back in
        let t = Tensor(shape: [n], repeating: 0.75)
        t.data[n / 2] = -2
        t.storage.compactToHalf()
        let home = t.data
        let c = Compute(threads: 2)
        t.storage.withResident(c) {
            XCTAssertNotEqual(t.data, home)   // a pooled buffer, not the released own range
            XCTAssertEqual(t.data[0], 0.75)
            XCTAssertEqual(t.data[n / 2], -2)
            XCTAssertEqual(t.data[n - 1], 0.75)
            t.storage.withResident { XCTAssertEqual(t.data[n - 1], 0.75) }   // nesting keeps the buffer
        }
        XCTAssertEqual(t.data, home)
        let before = minorFaults()
        for _ in 0..<5 { t.storage.withResident(c) { XCTAssertEqual(t.data[n / 2], -2) } }
        let faults = minorFaults() - before
        XCTAssertLessThan(faults, 1_000, "5 uses of a 12 MB half-resident weight faulted \(faults) pages")
        t.storage.restoreFull()
        XCTAssertEqual(t.data, home)
        XCTAssertEqual(t.data[n / 2], -2)
    }

    private func minorFaults() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_minflt
    }

    func testDiscardingFreesHalfAndFullValuesForGood() throws {
        let n = 64 << 20   // 256 MB of fp32
        let full = Tensor(shape: [n], repeating: 0.5), half = Tensor(shape: [n], repeating: 0.25)
        half.storage.compactToHalf()
        half.storage.freeze()
        _ = half.storage.derived("probe") { NSObject() }
        let before = residentBytes()
        full.storage.discardValues()
        half.storage.discardValues()
        let after = residentBytes()
        // 256 MB of fp32 pages and 128 MB of f16 values go.
        XCTAssertLessThan(after, before - (300 << 20), "RSS \(before) → \(after)")
        XCTAssertTrue(full.storage.isDiscarded && half.storage.isDiscarded)
        XCTAssertFalse(half.storage.isHalfResident)
        XCTAssertFalse(half.storage.hasDerived("probe"))
        half.storage.discardValues()   // idempotent
        XCTAssertFalse(Tensor(shape: [2], values: [1, 2]).storage.isDiscarded)
    }

    private func residentBytes() -> Int {
        let s = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = s.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }
}
