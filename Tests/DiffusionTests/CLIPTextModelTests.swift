import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Tiny CLIP-L / bigG text encoders against transformers (fixtures: tools/reference/models/clip_fixtures.py).
final class CLIPTextModelTests: XCTestCase {
    let c = Compute(threads: 2).inference

    static func file(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("clip/\(name).safetensors", target: "DiffusionTests"))
    }

    static func ids(_ ref: SafeTensorsFile) throws -> [[Int32]] {
        let info = try XCTUnwrap(ref.info("ref.ids"))
        let flat = try ref.int64s("ref.ids").map { Int32($0) }
        return (0..<info.shape[0]).map { Array(flat[$0 * info.shape[1]..<($0 + 1) * info.shape[1]]) }
    }

    static func model(_ config: CLIPTextConfig, _ file: String, _ layout: CLIPTextWeightLayout = .diffusers) throws -> CLIPTextModel {
        let m = CLIPTextModel(config)
        try m.load(from: try Self.file(file), layout: layout)
        return m
    }

    func testCLIPLMatchesTransformers() throws {
        let m = try Self.model(.tinyL, "tiny_l")
        let ref = try Self.file("tiny_l_ref")
        let ids = try Self.ids(ref)
        XCTAssertEqual(CLIPTextModel.poolingPositions(ids, eos: 999), [11, 41])
        let (hidden, pooled) = m.encode(ids, c)
        assertClose(hidden, try ref.tensor("ref.hidden_skip1"), rtol: 1e-4, "hidden_states[-2]")
        XCTAssertNil(pooled, "CLIP-L has no projection")
        assertClose(m.encode(ids, skipLast: 0, c).hidden, try ref.tensor("ref.hidden_last"), rtol: 1e-4, "hidden_states[-1]")
        let out = m.forward(ids, c)
        XCTAssertEqual(out.hiddenStates.count, 4)
        assertClose(out.hiddenStates[2], try ref.tensor("ref.hidden_skip1"), rtol: 1e-4)
        assertClose(out.lastHiddenState, try ref.tensor("ref.last_hidden_state"), rtol: 1e-4, "last_hidden_state")
        assertClose(out.poolerOutput, try ref.tensor("ref.pooler_output"), rtol: 1e-4, "pooler_output")
        XCTAssertNil(out.textEmbeds)
        report("L hidden", hidden, try ref.tensor("ref.hidden_skip1"))
        report("L pooler", out.poolerOutput, try ref.tensor("ref.pooler_output"))
    }

    func testBigGMatchesTransformers() throws {
        let m = try Self.model(.tinyG, "tiny_g")
        let ref = try Self.file("tiny_g_ref")
        let ids = try Self.ids(ref)
        XCTAssertEqual(CLIPTextModel.poolingPositions(ids, eos: 999), [6, 76])
        let (hidden, pooled) = m.encode(ids, c)
        assertClose(hidden, try ref.tensor("ref.hidden_skip1"), rtol: 1e-4, "hidden_states[-2]")
        assertClose(pooled, try ref.tensor("ref.text_embeds"), rtol: 1e-4, "text_embeds")
        let out = m.forward(ids, c)
        assertClose(out.hiddenStates[3], try ref.tensor("ref.hidden_last"), rtol: 1e-4, "hidden_states[-1]")
        assertClose(out.lastHiddenState, try ref.tensor("ref.last_hidden_state"), rtol: 1e-4, "last_hidden_state")
        assertClose(out.textEmbeds, try ref.tensor("ref.text_embeds"), rtol: 1e-4, "forward text_embeds")
        report("G hidden", hidden, try ref.tensor("ref.hidden_skip1"))
        report("G text_embeds", pooled!, try ref.tensor("ref.text_embeds"))
    }

    /// Single-file SDXL layout (CLIP-L in HF names, bigG in open_clip names) loads the same weights.
    func testSingleFileLayoutMatchesDiffusersLayout() throws {
        for (config, name, layout) in [(CLIPTextConfig.tinyL, "tiny_l", CLIPTextWeightLayout.sdxlSingleFileL),
                                       (.tinyG, "tiny_g", .sdxlSingleFileG)] {
            let a = try Self.model(config, name)
            let b = try Self.model(config, "tiny_sdxl_single", layout)
            for ((na, ta), (nb, tb)) in zip(a.namedParameters, b.namedParameters) {
                XCTAssertEqual(na, nb)
                assertBitEqual(tb, ta, "\(layout) \(na)")
            }
            let ids = try Self.ids(try Self.file("\(name)_ref"))
            let (ha, pa) = a.encode(ids, c), (hb, pb) = b.encode(ids, c)
            assertBitEqual(hb, ha, "\(layout) hidden")
            if let pa, let pb { assertBitEqual(pb, pa, "\(layout) pooled") }
        }
    }

    func testParameterNamesAndCounts() {
        let m = CLIPTextModel(.tinyG)
        let names = m.namedParameters.map(\.0)
        XCTAssertEqual(names.first, "text_model.embeddings.token_embedding.weight")
        XCTAssertTrue(names.contains("text_model.encoder.layers.2.self_attn.out_proj.bias"))
        XCTAssertTrue(names.contains("text_model.encoder.layers.0.mlp.fc2.weight"))
        XCTAssertEqual(names.last, "text_projection.weight")
        XCTAssertEqual(names.count, 2 + 3 * 16 + 2 + 1)
        XCTAssertEqual(m.parameterCount, CLIPTextConfig.tinyG.parameterCount)
        XCTAssertEqual(CLIPTextModel(.tinyL).parameterCount, CLIPTextConfig.tinyL.parameterCount)
        // Real sizes of the published checkpoints: CLIP-L text 123.06 M, bigG text + projection 694.66 M.
        XCTAssertEqual(CLIPTextConfig.clipL.parameterCount, 123_060_480)
        XCTAssertEqual(CLIPTextConfig.bigG.parameterCount, 694_659_840)
    }

    func testOpenCLIPNameMap() {
        let (k, cut) = CLIPTextModel.openCLIPName("text_model.encoder.layers.17.self_attn.v_proj.bias")
        XCTAssertEqual(k, "transformer.resblocks.17.attn.in_proj_bias")
        XCTAssertEqual(cut, .rows(index: 2, parts: 3))
        XCTAssertEqual(CLIPTextModel.openCLIPName("text_model.encoder.layers.3.mlp.fc1.weight").0,
                       "transformer.resblocks.3.mlp.c_fc.weight")
        XCTAssertEqual(CLIPTextModel.openCLIPName("text_model.encoder.layers.0.layer_norm2.bias").0,
                       "transformer.resblocks.0.ln_2.bias")
        XCTAssertEqual(CLIPTextModel.openCLIPName("text_projection.weight").1, .transposed)
        XCTAssertEqual(CLIPTextModel.openCLIPName("text_model.embeddings.position_embedding.weight").0, "positional_embedding")
    }

    func testPoolingPositions() {
        XCTAssertEqual(CLIPTextModel.poolingPositions([[5, 9, 3, 9, 9], [5, 4, 0, 0, 0]], eos: 9), [1, 0])
        // No EOS: HF's argmax (first maximum).
        XCTAssertEqual(CLIPTextModel.poolingPositions([[1, 7, 2, 7]], eos: 9), [1])
    }

    /// Strict loading: missing, unexpected and mis-shaped tensors are errors naming the key.
    func testStrictLoadingErrors() throws {
        let src = try Self.file("tiny_sdxl_single")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-load-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func variant(_ name: String, drop: String? = nil, add: (String, Tensor)? = nil,
                     replace: (String, Tensor)? = nil) throws -> SafeTensorsFile {
            var ts: [(name: String, tensor: Tensor)] = []
            for n in src.names where n != drop && !n.hasSuffix("position_ids") {
                ts.append((n, n == replace?.0 ? replace!.1 : try src.tensor(n)))
            }
            if let add { ts.append(add) }
            let path = dir.appendingPathComponent("\(name).safetensors").path
            try SafeTensorsWriter.write(ts, to: path)
            return try SafeTensorsFile(path: path)
        }
        let g = "conditioner.embedders.1.model."
        let qkv = g + "transformer.resblocks.1.attn.in_proj_weight"
        let missing = try variant("missing", drop: qkv)
        XCTAssertThrowsError(try CLIPTextModel(.tinyG).load(from: missing, layout: .sdxlSingleFileG)) {
            XCTAssertEqual($0 as? LoadError, .missingKey(file: missing.path, key: qkv))
        }
        let extra = try variant("extra", add: (g + "transformer.resblocks.1.attn.bias_k", Tensor(zeros: [40])))
        XCTAssertThrowsError(try CLIPTextModel(.tinyG).load(from: extra, layout: .sdxlSingleFileG)) {
            XCTAssertEqual($0 as? LoadError, .unexpectedKeys(file: extra.path, keys: [g + "transformer.resblocks.1.attn.bias_k"]))
        }
        // A square [D, D] projection stored where [D, P] is expected names the key and both shapes.
        let proj = g + "text_projection"
        let wrong = try variant("wrong", replace: (proj, Tensor(zeros: [24, 40])))
        XCTAssertThrowsError(try CLIPTextModel(.tinyG).load(from: wrong, layout: .sdxlSingleFileG)) {
            XCTAssertEqual($0 as? LoadError, .shapeMismatch(file: wrong.path, key: proj, expected: [40, 24], found: [24, 40]))
        }
        // The L prefix ignores everything under the G prefix, and vice versa (the full file loads both).
        XCTAssertNoThrow(try CLIPTextModel(.tinyL).load(from: wrong, layout: .sdxlSingleFileL))
        // Wrong config for the file: the first mismatch is reported.
        XCTAssertThrowsError(try CLIPTextModel(.tinyL).load(from: try Self.file("tiny_g"))) {
            XCTAssertEqual($0 as? LoadError, .shapeMismatch(file: try! Self.file("tiny_g").path,
                                                            key: "text_model.embeddings.token_embedding.weight",
                                                            expected: [1000, 32], found: [1000, 40]))
        }
        // A CLIPTextModelWithProjection file into a model without projection: the projection is unexpected.
        var noProj = CLIPTextConfig.tinyG
        noProj.projectionDim = nil
        XCTAssertThrowsError(try CLIPTextModel(noProj).load(from: try Self.file("tiny_g"))) {
            guard case let .unexpectedKeys(_, keys)? = $0 as? LoadError else { return XCTFail("\($0)") }
            XCTAssertEqual(keys, ["text_projection.weight"])
        }
    }

    /// Gradients reach the attention and MLP weights and the position table through the causal stack.
    func testGradientsMatchFiniteDifferences() throws {
        let m = try Self.model(.tinyG, "tiny_g")
        let ids = Array(try Self.ids(try Self.file("tiny_g_ref")).map { Array($0.prefix(9)) })
        let l0 = m.layers[0], l2 = m.layers[2]
        // (Not the key bias: it shifts every score of a row equally, so its true gradient is 0.)
        let params = [l0.qProj.weight, l0.qProj.bias!, l2.vProj.weight, l2.fc1.weight, m.positionEmbedding.weight,
                      m.textProjection!.weight]
        assertGradientsMatchFiniteDifferences(params, eps: 1e-2, tolerance: 3e-2) { c, _ in
            let (hidden, pooled) = m.encode(ids, skipLast: 0, c)
            return c.concat([c.reshape(hidden, [-1]), c.reshape(pooled!, [-1])], dim: 0)
        }
    }

    private func report(_ what: String, _ a: Tensor, _ e: Tensor) {
        print("CLIP \(what): \(closeness(a, e, rtol: 1e-4))")
    }
}
