import XCTest
import CKernels
import Tensor
import TestSupport

/// Filling a storage straight from f16 bits (a loader's no-fp32-peak path) and the mapped zero buffers.
final class StorageHalfLoadTests: XCTestCase {
    func testMappedZeroStorageAndAssignHalf() {
        for count in [7, 300_000, 3_300_000] {   // small, heap-allocated, and above the mmap threshold (12 MB)
            let s = Storage(count: count)
            XCTAssertTrue(s.buffer.allSatisfy { $0 == 0 }, "count \(count) not zero")
            let values = randomTensor([count], seed: 9, scale: 3)
            var bits = [UInt16](repeating: 0, count: count)
            sumi_f32_to_f16(values.data, &bits, count)
            let expected = Tensor(zeros: [count])
            bits.withUnsafeBufferPointer { sumi_f16_to_f32($0.baseAddress!, expected.data, count) }
            bits.withUnsafeBufferPointer { s.assignHalf($0.baseAddress!) }
            XCTAssertTrue(s.isHalfResident)
            let t = Tensor(shape: [count], storage: s)
            s.withResident { assertBitEqual(t.copy(), expected, "count \(count) resident") }
            s.restoreFull()
            XCTAssertFalse(s.isHalfResident)
            assertBitEqual(t, expected, "count \(count) restored")
        }
    }
}
