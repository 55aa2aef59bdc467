import Foundation
import XCTest
import Checkpoint
import Tensor
import TestSupport
import Diffusion

/// UNet vs diffusers `UNet2DConditionModel` (fixtures: tools/reference/models/unet_fixtures.py).
final class UNetTests: XCTestCase {
    let c = Compute(threads: 2)

    private func fixture(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("unet/\(name).safetensors", target: "DiffusionTests"))
    }

    private struct Inputs {
        let sample: Tensor, timesteps: [Float], context: Tensor, pooled: Tensor, timeIds: [[Float]]
    }

    private func inputs(_ io: SafeTensorsFile) throws -> Inputs {
        let ids = try io.tensor("in.time_ids")
        return Inputs(sample: try io.tensor("in.sample"), timesteps: try io.tensor("in.timesteps").scalars,
                      context: try io.tensor("in.context"), pooled: try io.tensor("in.text_embeds"),
                      timeIds: (0..<ids.dim(0)).map { Array(ids.scalars[($0 * 6)..<($0 * 6 + 6)]) })
    }

    private func run(_ unet: UNet, _ x: Inputs, _ c: Compute) -> Tensor {
        unet(x.sample, timestep: x.timesteps, context: x.context, addTextEmbeds: x.pooled, timeIds: x.timeIds, c)
    }

    // MARK: structure

    func testParameterShapesMatchModule() {
        let unet = UNet(config: .tiny)
        let live = unet.namedParameters.map { "\($0.0) \($0.1.shape)" }
        let planned = UNet.parameterShapes(.tiny).map { "\($0.0) \($0.1)" }
        XCTAssertEqual(live, planned)
        XCTAssertEqual(Set(live).count, live.count, "duplicate parameter names")
        XCTAssertEqual(unet.parameterCount, UNetConfig.tiny.parameterCount)
    }

    func testParameterCountsMatchDiffusers() throws {
        let io = try fixture("io")
        XCTAssertEqual(UNetConfig.sdxl.parameterCount, 2_567_463_684)
        XCTAssertEqual(io.metadata["sdxl_parameters"], "2567463684")
        XCTAssertEqual(io.metadata["parameters"], String(UNetConfig.tiny.parameterCount))
        // The fixture's config is the Swift tiny config.
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(io.metadata["config"]!.utf8)) as? [String: Any])
        XCTAssertEqual(cfg["block_out_channels"] as? [Int], UNetConfig.tiny.blockChannels)
        XCTAssertEqual(cfg["transformer_depth"] as? [Int], UNetConfig.tiny.transformerDepth)
        XCTAssertEqual(cfg["heads"] as? [Int], UNetConfig.tiny.heads)
    }

    func testSDXLKeyMap() {
        let cases = [
            "conv_in.weight": "input_blocks.0.0.weight",
            "time_embedding.linear_2.bias": "time_embed.2.bias",
            "add_embedding.linear_1.weight": "label_emb.0.0.weight",
            "down_blocks.0.resnets.1.conv1.weight": "input_blocks.2.0.in_layers.2.weight",
            "down_blocks.0.downsamplers.0.conv.weight": "input_blocks.3.0.op.weight",
            "down_blocks.1.resnets.0.conv_shortcut.weight": "input_blocks.4.0.skip_connection.weight",
            "down_blocks.1.attentions.1.transformer_blocks.1.attn2.to_k.weight": "input_blocks.5.1.transformer_blocks.1.attn2.to_k.weight",
            "down_blocks.1.downsamplers.0.conv.bias": "input_blocks.6.0.op.bias",
            "down_blocks.2.attentions.0.proj_in.weight": "input_blocks.7.1.proj_in.weight",
            "mid_block.resnets.1.time_emb_proj.weight": "middle_block.2.emb_layers.1.weight",
            "mid_block.attentions.0.transformer_blocks.9.ff.net.2.bias": "middle_block.1.transformer_blocks.9.ff.net.2.bias",
            "up_blocks.0.resnets.2.norm2.weight": "output_blocks.2.0.out_layers.0.weight",
            "up_blocks.0.upsamplers.0.conv.weight": "output_blocks.2.2.conv.weight",
            "up_blocks.1.attentions.0.norm.bias": "output_blocks.3.1.norm.bias",
            "up_blocks.1.upsamplers.0.conv.bias": "output_blocks.5.2.conv.bias",
            "up_blocks.2.resnets.2.conv2.weight": "output_blocks.8.0.out_layers.3.weight",
            "conv_norm_out.weight": "out.0.weight",
            "conv_out.bias": "out.2.bias",
        ]
        for (d, l) in cases { XCTAssertEqual(UNet.ldmName(d, config: .sdxl), l, d) }
        let names = UNet.parameterShapes(.sdxl).map(\.0)
        let mapped = names.compactMap { UNet.ldmName($0, config: .sdxl) }
        XCTAssertEqual(mapped.count, names.count, "every SDXL parameter has a single-file name")
        XCTAssertEqual(Set(mapped).count, names.count, "single-file names are unique")
        XCTAssertNil(UNet.ldmName("down_blocks.2.downsamplers.0.conv.weight", config: .sdxl))
        XCTAssertNil(UNet.ldmName("up_blocks.0.resnets.3.conv1.weight", config: .sdxl))
    }

    /// A structure the weight fixture lacks (no attention at the middle level: its upsampler sits at index 1).
    func testKeyMapForOtherStructure() throws {
        let io = try fixture("io")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(io.metadata["altmap"]!.utf8)) as? [String: String])
        var alt = UNetConfig.tiny
        alt.attention = [false, false, true]
        alt.transformerDepth = [0, 0, 1]
        let names = UNet.parameterShapes(alt).map(\.0)
        XCTAssertEqual(Set(names), Set(expected.keys))
        for n in names { XCTAssertEqual(UNet.ldmName(n, config: alt), expected[n], n) }
        XCTAssertEqual(UNet.ldmName("up_blocks.1.upsamplers.0.conv.weight", config: alt), "output_blocks.5.1.conv.weight")
    }

    // MARK: forward

    /// Weights kept as f16 between uses give the same output as fp32 weights holding the same (f16) values,
    /// and the option can be turned off again without changing anything.
    func testHalfResidentWeightsGiveTheSameOutput() throws {
        let io = try fixture("io")
        let unet = try UNet.load(from: try fixture("weights_diffusers"), layout: .diffusers, config: .tiny)
        let reference = run(unet, try inputs(io), c.inference)
        unet.keepWeightsInHalf(true)
        XCTAssertTrue(unet.namedParameters.contains { $0.1.storage.isHalfResident })
        let half = run(unet, try inputs(io), c.inference)
        unet.keepWeightsInHalf(false)
        XCTAssertFalse(unet.namedParameters.contains { $0.1.storage.isHalfResident })
        assertBitEqual(half, reference)
        assertBitEqual(run(unet, try inputs(io), c.inference), reference)
    }

    /// bf16 with half-resident frozen weights: after the first call packs each weight's bf16 panel, layers run
    /// from the panel without expanding the f16 values (they stay released) and give the same output.
    func testHalfResidentWeightsUseCachedBF16Panels() throws {
        let bf16 = c.inference.with(precision: .bf16)
        try XCTSkipUnless(bf16.usesBF16, "no AVX512-BF16 on this CPU")
        let io = try fixture("io")
        let unet = try UNet.load(from: try fixture("weights_diffusers"), layout: .diffusers, config: .tiny)
        for (_, p) in unet.namedParameters { p.storage.freeze() }
        let reference = run(unet, try inputs(io), bf16)
        unet.keepWeightsInHalf(true)
        let first = run(unet, try inputs(io), bf16)      // expands each weight once and packs its panel
        let matrices = unet.adaptableLayers().values.map(\.weight)
        XCTAssertTrue(matrices.contains { bf16.linearUsesPackedWeight($0) })
        XCTAssertTrue(matrices.contains { bf16.conv2dUsesPackedWeight($0) })                    // 1×1 (im2col panel)
        XCTAssertTrue(matrices.contains { bf16.conv2dUsesPackedWeight($0, stride: 1, padding: 1) }) // 3×3 (Winograd)
        XCTAssertFalse(bf16.with(precision: .fp32).linearUsesPackedWeight(matrices[0]))
        let again = run(unet, try inputs(io), bf16)
        XCTAssertTrue(matrices.allSatisfy { $0.storage.isHalfResident })
        assertBitEqual(again, first)
        // The half-resident panels were packed from the f16-rounded values: close to, not equal to, the fp32 run.
        assertClose(again, reference, rtol: 2e-2)
    }

    func testForwardDiffusersLayout() throws {
        let io = try fixture("io")
        let unet = try UNet.load(from: try fixture("weights_diffusers"), layout: .diffusers, config: .tiny)
        let y = run(unet, try inputs(io), c)
        assertClose(y, try io.tensor("out"), rtol: 1e-4)
        print("UNet tiny (diffusers layout):", closeness(y, try io.tensor("out"), rtol: 1e-4))
    }

    func testForwardSingleFileLayout() throws {
        let io = try fixture("io")
        let unet = try UNet.load(from: try fixture("weights_ldm"), layout: .singleFile, config: .tiny)
        let y = run(unet, try inputs(io), c)
        assertClose(y, try io.tensor("out"), rtol: 1e-4)
        print("UNet tiny (single-file layout):", closeness(y, try io.tensor("out"), rtol: 1e-4))
    }

    func testLoadingIsStrict() throws {
        let diffusers = try fixture("weights_diffusers"), ldm = try fixture("weights_ldm")
        XCTAssertThrowsError(try UNet.load(from: diffusers, layout: .singleFile, config: .tiny)) { e in
            guard case LoadError.missingKey(_, let k)? = e as? LoadError else { return XCTFail("\(e)") }
            XCTAssertTrue(k.hasPrefix(UNet.singleFilePrefix), k)
        }
        XCTAssertThrowsError(try UNet.load(from: ldm, layout: .diffusers, config: .tiny))
        var wider = UNetConfig.tiny
        wider.crossAttentionDim = 48
        XCTAssertThrowsError(try UNet.load(from: diffusers, layout: .diffusers, config: wider)) { e in
            guard case LoadError.shapeMismatch(_, let k, let expected, let found)? = e as? LoadError else { return XCTFail("\(e)") }
            XCTAssertTrue(k.contains("attn2.to_k") || k.contains("attn2.to_v"), k)
            XCTAssertEqual(expected.last, 48)
            XCTAssertEqual(found.last, 32)
        }
    }

    // MARK: backward

    /// Grads of sum(out · dout) w.r.t. inputs and every parameter; `checkpoint` toggles `checkpointBlocks`.
    private func gradients(checkpoint: Bool) throws -> (inputs: [String: Tensor], params: [String: Tensor]) {
        let io = try fixture("io")
        let unet = try UNet.load(from: try fixture("weights_diffusers"), layout: .diffusers, config: .tiny)
        unet.setTrainable(true)
        unet.checkpointBlocks = checkpoint
        let x = try inputs(io)
        for t in [x.sample, x.context, x.pooled] { t.requiresGrad = true }
        let y = run(unet, x, c)
        y.backward(seed: try io.tensor("dout"), compute: c)
        var params: [String: Tensor] = [:]
        for (name, p) in unet.namedParameters { params[name] = p.grad }
        return (["sample": x.sample.grad!, "context": x.context.grad!, "text_embeds": x.pooled.grad!], params)
    }

    func testBackwardMatchesReference() throws {
        let io = try fixture("io")
        let g = try gradients(checkpoint: false)
        for (name, grad) in g.inputs {
            assertClose(grad, try io.tensor("grad.\(name)"), rtol: 1e-4, name)
            print("UNet tiny grad \(name):", closeness(grad, try io.tensor("grad.\(name)"), rtol: 1e-4))
        }
        for key in io.names where key.hasPrefix("grad.param.") {
            let name = String(key.dropFirst("grad.param.".count))
            assertClose(g.params[name], try io.tensor(key), rtol: 1e-4, name)
            if let p = g.params[name] { print("UNet tiny grad \(name):", closeness(p, try io.tensor(key), rtol: 1e-4)) }
        }
        XCTAssertEqual(g.params.count, UNet.parameterShapes(.tiny).count, "every parameter got a gradient")
        for (name, grad) in g.params {
            XCTAssertTrue(grad.scalars.allSatisfy { $0.isFinite }, "non-finite grad in \(name)")
        }
    }

    func testCheckpointBlocksGivesIdenticalGradients() throws {
        let plain = try gradients(checkpoint: false)
        let ckpt = try gradients(checkpoint: true)
        XCTAssertEqual(Set(plain.params.keys), Set(ckpt.params.keys))
        // Same math; only the order in which several contributions to one gradient are summed can differ
        // (the checkpoint nodes sit at different places in the graph walk), so allow float rounding.
        var identical = 0
        for (name, g) in plain.inputs.merging(plain.params, uniquingKeysWith: { a, _ in a }) {
            let other = plain.inputs[name] != nil ? ckpt.inputs[name]! : ckpt.params[name]!
            assertClose(other, g, rtol: 1e-5, name)
            if zip(other.scalars, g.scalars).allSatisfy({ $0.bitPattern == $1.bitPattern }) { identical += 1 }
        }
        print("UNet checkpointBlocks: \(identical) of \(plain.inputs.count + plain.params.count) gradients bit-identical")
    }

    // MARK: full size (not in CI)

    /// Full SDXL UNet with random weights in both layouts, written by tools/reference/models/make_full_sdxl.py
    /// into `$SUMI_FULL_SDXL_DIR`. Skipped when the variable is unset. Needs ~11 GB of memory.
    func testFullSizeSDXL() throws {
        guard let dir = ProcessInfo.processInfo.environment["SUMI_FULL_SDXL_DIR"], !dir.isEmpty else {
            throw XCTSkip("SUMI_FULL_SDXL_DIR not set")
        }
        let io = try SafeTensorsFile(path: "\(dir)/io.safetensors")
        let x = try inputs(io)
        let expected = try io.tensor("out")
        let unet = UNet(config: .sdxl)
        XCTAssertEqual(unet.parameterCount, 2_567_463_684)
        for (layout, file) in [(UNetLayout.diffusers, "unet_diffusers.safetensors"), (.singleFile, "unet_single_file.safetensors")] {
            try unet.load(from: try SafeTensorsFile(path: "\(dir)/\(file)"), layout: layout)
            let start = Date()
            let y = run(unet, x, c.inference)
            print("UNet SDXL \(layout) forward \(x.sample.shape): \(closeness(y, expected, rtol: 1e-4)), "
                  + String(format: "%.1f s", Date().timeIntervalSince(start)))
            assertClose(y, expected, rtol: 1e-4, "\(layout)")
        }
    }
}
