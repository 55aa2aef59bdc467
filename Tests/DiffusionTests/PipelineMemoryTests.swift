import XCTest
import Tensor
@testable import Diffusion

/// The pipeline refuses, before allocating, a model the machine cannot hold.
final class PipelineMemoryTests: XCTestCase {
    func testRefusesWhenTheModelsDoNotFit() throws {
        let c = Compute(threads: 1)
        XCTAssertThrowsError(try SDXLPipeline.load(path: PipelineFixtures.singleFile, tokenizer: TokenizerData.tokenizer,
                                                   config: .tiny, width: 64, height: 64, available: 1 << 20, c)) { error in
            guard case let .insufficientMemory(message)? = error as? PipelineError else {
                return XCTFail("expected insufficientMemory, got \(error)")
            }
            XCTAssertTrue(message.hasPrefix(PipelineFixtures.singleFile), message)
            XCTAssertTrue(message.contains("GiB available"), message)
            XCTAssertFalse(message.contains("\n"))
        }
        // The same file loads when the memory is there.
        XCTAssertNoThrow(try SDXLPipeline.load(path: PipelineFixtures.singleFile, tokenizer: TokenizerData.tokenizer,
                                               config: .tiny, width: 64, height: 64, available: 64 << 30, c))
    }
}
