import XCTest
@testable import Trainer
final class TrainerSmokeTests: XCTestCase { func testModuleLoads() { XCTAssertNotNil(Trainer.self) } }
