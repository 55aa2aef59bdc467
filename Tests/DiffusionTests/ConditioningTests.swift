import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Prompt → SDXL conditioning against a Python re-statement of ComfyUI's chunking and weighting on transformers
/// encoders (fixtures: tools/reference/models/pipeline_fixtures.py).
final class ConditioningTests: XCTestCase {
    let c = Compute(threads: 2).inference

    /// The tiny pipeline, loaded once per test process.
    static let pipeline: SDXLPipeline = {
        do {
            return try SDXLPipeline.load(path: PipelineFixtures.singleFile, tokenizer: TokenizerData.tokenizer,
                                         config: .tiny, Compute(threads: 2))
        } catch { fatalError("\(error)") }
    }()

    static func reference() throws -> (SafeTensorsFile, [String: String]) {
        let file = try SafeTensorsFile(path: Fixtures.path("pipeline/conditioning.safetensors", target: "DiffusionTests"))
        let prompts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(file.metadata["prompts"]!.utf8)) as? [String: String])
        return (file, prompts)
    }

    static func rows(_ file: SafeTensorsFile, _ key: String) throws -> [[Int32]] {
        let shape = try XCTUnwrap(file.info(key)).shape
        let flat = try file.int64s(key).map { Int32($0) }
        return (0..<shape[0]).map { Array(flat[$0 * shape[1]..<($0 + 1) * shape[1]]) }
    }

    func testTokenizationMatchesComfyChunking() throws {
        let (ref, prompts) = try Self.reference()
        let conditioner = Self.pipeline.conditioner
        for (name, text) in prompts {
            let (l, g) = conditioner.tokenize(text)
            XCTAssertEqual(l.chunks.map(\.ids), try Self.rows(ref, "\(name).ids_l"), "CLIP-L ids of \(name)")
            XCTAssertEqual(g.chunks.map(\.ids), try Self.rows(ref, "\(name).ids_g"), "bigG ids of \(name)")
            let weights = try ref.tensor("\(name).weights")
            XCTAssertEqual(l.chunks.flatMap(\.weights), weights.scalars, "weights of \(name)")
        }
        XCTAssertEqual(prompts.count, 4)
    }

    func testConditioningMatchesReference() throws {
        let (ref, prompts) = try Self.reference()
        for (name, text) in prompts.sorted(by: { $0.key < $1.key }) {
            let cond = Self.pipeline.conditioner.encode(text, c)
            let context = try ref.tensor("\(name).context"), pooled = try ref.tensor("\(name).pooled")
            assertClose(cond.context, context, rtol: 1e-4, "context of \(name)")
            assertClose(cond.pooled, pooled, rtol: 1e-4, "pooled of \(name)")
            print("conditioning \(name): context \(closeness(cond.context, context, rtol: 1e-4)), pooled \(closeness(cond.pooled, pooled, rtol: 1e-4))")
        }
    }

    func testLongPromptIsTwoChunksAndPooledComesFromTheFirst() throws {
        let (ref, prompts) = try Self.reference()
        let cond = Self.pipeline.conditioner.encode(prompts["long"]!, c)
        XCTAssertEqual(cond.context.shape, [1, 154, 72])
        XCTAssertEqual(cond.tokenCount, 154)
        assertClose(cond.pooled, try ref.tensor("long.pooled"), rtol: 1e-4)
        // Weights never reach the pooled vector: the same tokens without emphasis pool identically.
        let plain = Self.pipeline.conditioner.encode("a red fox", c), weighted = Self.pipeline.conditioner.encode("a (red:1.5) fox", c)
        assertClose(weighted.pooled, plain.pooled, rtol: 0)
        XCTAssertGreaterThan(closeness(weighted.context, plain.context, rtol: 0).maxRelative, 1e-3)
    }

    func testWeightingInterpolatesFromTheEmptyPrompt() throws {
        let conditioner = Self.pipeline.conditioner
        let plain = conditioner.encode("a red fox", c), neutral = conditioner.encode("a (red:1) fox", c)
        assertClose(neutral.context, plain.context, rtol: 0, "weight 1 is a no-op")
        let zeroed = conditioner.encode("a (red:0) fox", c)
        let empty = conditioner.encode("", c)
        // Token 2 ("red") with weight 0 becomes the empty prompt's token 2; token 1 ("a") is untouched.
        let d = 72
        for i in 0..<d {
            XCTAssertEqual(zeroed.context.data[2 * d + i], empty.context.data[2 * d + i], accuracy: 1e-6)
            XCTAssertEqual(zeroed.context.data[1 * d + i], plain.context.data[1 * d + i], accuracy: 1e-6)
        }
        XCTAssertGreaterThan(empty.context.scalars.map(abs).max()!, 0.1, "the empty prompt is encoded, not zeros")
    }

    func testTimeIdsAreHeightWidthOfTheGeneratedImage() {
        XCTAssertEqual(SDXLConditioner.timeIds(width: 832, height: 1216), [1216, 832, 0, 0, 1216, 832])
    }

    func testTokenFoldingOnlyForSmallVocabularies() {
        let tok = TokenizerData.tokenizer
        let conditioner = Self.pipeline.conditioner
        XCTAssertEqual(conditioner.encoderIDs([tok.bos, 320, 1998, tok.eos, 0], for: conditioner.clipL), [998, 320, 2, 999, 0])
        let full = CLIPTextModel(CLIPTextConfig(width: 8, layers: 1, heads: 1, mlpWidth: 8, activation: .gelu, projectionDim: 8))
        XCTAssertEqual(conditioner.encoderIDs([tok.bos, 320, 1998, tok.eos, 0], for: full), [tok.bos, 320, 1998, tok.eos, 0])
    }
}
