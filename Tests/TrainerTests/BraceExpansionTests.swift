import XCTest
@testable import Trainer

final class BraceExpansionTests: XCTestCase {
    func testRangesKeepZeroPadding() throws {
        XCTAssertEqual(try BraceExpansion.expand("data-{000..003}.tar"),
                       ["data-000.tar", "data-001.tar", "data-002.tar", "data-003.tar"])
        XCTAssertEqual(try BraceExpansion.expand("s{8..11}"), ["s8", "s9", "s10", "s11"])
        XCTAssertEqual(try BraceExpansion.expand("s{08..11}"), ["s08", "s09", "s10", "s11"])
        XCTAssertEqual(try BraceExpansion.expand("s{3..1}"), ["s3", "s2", "s1"])
        XCTAssertEqual(try BraceExpansion.expand("{0..10..4}"), ["0", "4", "8"])
        XCTAssertEqual(try BraceExpansion.expand("{a..c}"), ["a", "b", "c"])
        XCTAssertEqual(try BraceExpansion.expand("/d/shard-{000000..000123}.tar").count, 124)
        XCTAssertEqual(try BraceExpansion.expand("/d/shard-{000000..000123}.tar").last, "/d/shard-000123.tar")
    }

    func testListsNestingAndSeveralBraces() throws {
        XCTAssertEqual(try BraceExpansion.expand("{a,b}-{0..1}"), ["a-0", "a-1", "b-0", "b-1"])
        XCTAssertEqual(try BraceExpansion.expand("x{a,b{1,2},c}y"), ["xay", "xb1y", "xb2y", "xcy"])
        XCTAssertEqual(try BraceExpansion.expand("{train,val}/{00..01}.tar"),
                       ["train/00.tar", "train/01.tar", "val/00.tar", "val/01.tar"])
        XCTAssertEqual(try BraceExpansion.expand("a-{0..1}.tar::b-{2,3}.tar"), ["a-0.tar", "a-1.tar", "b-2.tar", "b-3.tar"])
    }

    func testLiteralsEscapesAndErrors() throws {
        XCTAssertEqual(try BraceExpansion.expand("plain.tar"), ["plain.tar"])
        XCTAssertEqual(try BraceExpansion.expand("{x}.tar"), ["{x}.tar"])
        XCTAssertEqual(try BraceExpansion.expand("a\\{1,2\\}"), ["a{1,2}"])
        XCTAssertThrowsError(try BraceExpansion.expand("a{1,2"))
        XCTAssertThrowsError(try BraceExpansion.expand("a}1"))
        XCTAssertThrowsError(try BraceExpansion.expand(""))
    }
}
