import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Runtime (unmerged) LoRA adapters: each layer type against its merged weight, the stack's runtime mode against
/// its merge mode on the tiny UNet / text encoders with the kohya, PEFT and LoCon fixtures (tools/reference/models/
/// lora_fixtures.py), exact base output at strength 0, and the trainable LoRA's kohya export against diffusers
/// (tools/reference/models/lora_kohya_export_fixtures.py).
final class LoRARuntimeTests: XCTestCase {
    let c = Compute(threads: 2).inference

    // MARK: - Layers

    /// y(adapter) == y(W + s·up·down) for Linear, 3×3 (stride 1 and 2), 1×1 convs; scale 0 gives the base bits.
    func testAdapterEqualsMergedWeightPerLayerType() {
        let r = 3
        let linear = LinearLayer(10, 7)
        let convs = [Conv2dLayer(5, 6, kernel: 3, stride: 1, padding: 1), Conv2dLayer(5, 6, kernel: 3, stride: 2, padding: 1),
                     Conv2dLayer(5, 6, kernel: 1)]
        for (i, l) in ([linear] as [AdaptableLayer] + convs).enumerated() {
            fill(l.weight, with: randomTensor(l.weight.shape, seed: UInt64(10 + i), scale: 0.3))
            let w = l.weight.shape
            let down = randomTensor([r] + w.dropFirst(), seed: UInt64(20 + i), scale: 0.4)
            let up = randomTensor(w.count == 4 ? [w[0], r, 1, 1] : [w[0], r], seed: UInt64(30 + i), scale: 0.4)
            let adapter = LowRankAdapter(down: down, up: up, scale: 0.7, name: "t")
            XCTAssertTrue(adapter.fits(l.weight))
            let x = w.count == 4 ? randomTensor([2, 5, 9, 8], seed: 5) : randomTensor([2, 4, 10], seed: 5)
            func run() -> Tensor { (l as? LinearLayer).map { $0(x, c) } ?? (l as! Conv2dLayer)(x, c) }
            let base = run()
            l.adapters = [adapter]
            let adapted = run()
            let module = LoRAModule(target: "w", up: up.viewing(as: [w[0], r]), down: down.viewing(as: [r, down.count / r]),
                                    alphaScale: 1, sourceModule: "m")
            let saved = l.weight.copy()
            LoRAStack.addDelta(module, scale: 0.7, into: l.weight)
            l.adapters = []
            assertClose(adapted, run(), rtol: 1e-5, "layer \(i) \(w)")
            l.weight.data.update(from: saved.data, count: saved.count)
            adapter.scale = 0
            l.adapters = [adapter]
            XCTAssertEqual(run().scalars.map(\.bitPattern), base.scalars.map(\.bitPattern), "scale 0 is exactly the base (layer \(i))")
        }
    }

    /// down and up get gradients through the adapter (finite differences), for Linear and a strided 3×3 conv.
    func testAdapterGradients() {
        let linear = LinearLayer(6, 5)
        fill(linear.weight, with: randomTensor([5, 6], seed: 1))
        let a = LowRankAdapter(down: randomTensor([2, 6], seed: 2), up: randomTensor([5, 2], seed: 3), scale: 0.5, name: "t")
        linear.adapters = [a]
        assertGradientsMatchFiniteDifferences([a.down, a.up, randomTensor([3, 6], seed: 4)]) { c, t in linear(t[2], c) }
        let conv = Conv2dLayer(3, 4, kernel: 3, stride: 2, padding: 1)
        fill(conv.weight, with: randomTensor([4, 3, 3, 3], seed: 5))
        let b = LowRankAdapter(down: randomTensor([2, 3, 3, 3], seed: 6), up: randomTensor([4, 2, 1, 1], seed: 7), scale: 1.5, name: "t")
        conv.adapters = [b]
        assertGradientsMatchFiniteDifferences([b.down, b.up, randomTensor([1, 3, 6, 5], seed: 8)]) { c, t in conv(t[2], c) }
    }

    /// `adaptableLayers` names every Linear / Conv2d weight of the UNet and the text encoders by its canonical name.
    func testAdaptableLayersCoverEveryMatrixWeight() {
        let unet = UNet(config: .tiny)
        let layers = unet.adaptableLayers()
        let expected = Set(unet.namedParameters.filter { $0.0.hasSuffix(".weight") && $0.1.rank >= 2 }.map(\.0))
        XCTAssertEqual(Set(layers.keys), expected)
        for (name, t) in unet.namedParameters where expected.contains(name) { XCTAssertTrue(layers[name]!.weight === t, name) }
        XCTAssertEqual(Set(LoRAStack.layers(unet: unet).keys), Set(LoRATargetSpace(unet: .tiny).shapes.keys))
        let clip = CLIPTextModel(.tinyG)
        let te = LoRAStack.layers(textEncoder2: clip)
        XCTAssertNotNil(te["text_encoder_2.text_model.encoder.layers.1.self_attn.q_proj.weight"])
        XCTAssertNotNil(te["text_encoder_2.text_projection.weight"])
    }

    // MARK: - Stack runtime mode vs merge mode

    private func fixture(_ path: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path(path, target: "DiffusionTests"))
    }

    private struct UNetInputs { let sample: Tensor, timesteps: [Float], context: Tensor, pooled: Tensor, timeIds: [[Float]] }

    private func unetInputs() throws -> UNetInputs {
        let io = try fixture("unet/io.safetensors")
        let ids = try io.tensor("in.time_ids")
        return UNetInputs(sample: try io.tensor("in.sample"), timesteps: try io.tensor("in.timesteps").scalars,
                          context: try io.tensor("in.context"), pooled: try io.tensor("in.text_embeds"),
                          timeIds: (0..<ids.dim(0)).map { Array(ids.scalars[($0 * 6)..<($0 * 6 + 6)]) })
    }

    private func tinyUNet() throws -> UNet {
        let unet = UNet(config: .tiny)
        try unet.load(from: try fixture("unet/weights_diffusers.safetensors"), layout: .diffusers)
        return unet
    }

    private func run(_ unet: UNet, _ x: UNetInputs, _ c: Compute? = nil) -> Tensor {
        unet(x.sample, timestep: x.timesteps, context: x.context, addTextEmbeds: x.pooled, timeIds: x.timeIds, c ?? self.c)
    }

    private func lora(_ name: String, _ targets: LoRATargetSpace = LoRAStackTests.unetTargets) throws -> LoRANetwork {
        try LoRANetwork.load(path: Fixtures.path("lora/\(name).safetensors", target: "DiffusionTests"), targets: targets)
    }

    /// UNet output with the stack merged at the given strengths (then restored).
    private func merged(_ unet: UNet, _ x: UNetInputs, _ loras: [(LoRANetwork, Float)]) throws -> Tensor {
        let params = LoRAStack.parameters(unet: unet)
        let stack = LoRAStack()
        for (n, s) in loras { stack.add(n, strength: s) }
        try stack.apply(to: params)
        defer { try? stack.restore(params) }
        return run(unet, x)
    }

    func testRuntimeEqualsMergedForEachUNetFormat() throws {
        let unet = try tinyUNet(), x = try unetInputs()
        let base = run(unet, x)
        for name in ["unet_kohya_ldm", "unet_kohya_diffusers", "unet_peft_diffusers", "unet_peft_raw"] {
            let net = try lora(name)
            let stack = LoRAStack()
            let id = stack.add(net, strength: 0.9)
            XCTAssertEqual(try stack.attach(to: LoRAStack.layers(unet: unet)), 257, name)
            XCTAssertFalse(stack.hasPendingChanges)
            for s: Float in [0.9, 0.35, -0.5] {
                stack.setStrength(s, for: id)
                let rt = run(unet, x)
                stack.detach()
                let want = try merged(unet, x, [(net, s)])
                try stack.attach(to: LoRAStack.layers(unet: unet))
                assertClose(rt, want, rtol: 1e-5, "\(name) at \(s)")
                print("LoRA runtime vs merged \(name) at \(s): \(closeness(rt, want, rtol: 1e-5))")
            }
            stack.setStrength(0, for: id)
            XCTAssertEqual(run(unet, x).scalars.map(\.bitPattern), base.scalars.map(\.bitPattern), "\(name): strength 0 is exactly base")
            stack.setStrength(1, for: id)
            stack.setEnabled(false, for: id)
            XCTAssertEqual(run(unet, x).scalars.map(\.bitPattern), base.scalars.map(\.bitPattern), "\(name): off is exactly base")
            stack.detach()
            XCTAssertEqual(LoRAStack.layers(unet: unet).values.reduce(0) { $0 + $1.adapters.count }, 0, "detach removes every adapter")
        }
    }

    func testRuntimeStackTwoLoRAsAddRemoveAndModeConflicts() throws {
        let unet = try tinyUNet(), x = try unetInputs()
        let a = try lora("unet_kohya_ldm"), b = try lora("unet_peft_raw")
        let base = run(unet, x)
        let stack = LoRAStack()
        let ia = stack.add(a, strength: 0.7)
        let layers = LoRAStack.layers(unet: unet)
        try stack.attach(to: layers)
        let ib = stack.add(b, strength: -0.4)  // added while attached: attached at once
        XCTAssertEqual(stack.attachedAdapterCount, 514)
        XCTAssertThrowsError(try stack.apply(to: LoRAStack.parameters(unet: unet)))
        let both = run(unet, x)
        stack.detach()
        assertClose(both, try merged(unet, x, [(a, 0.7), (b, -0.4)]), rtol: 1e-5, "two LoRAs")
        try stack.attach(to: layers)
        stack.remove(ia)
        let onlyB = run(unet, x)
        stack.detach()
        assertClose(onlyB, try merged(unet, x, [(b, -0.4)]), rtol: 1e-5, "after removing one")
        // Merged state blocks attaching (the deltas would count twice).
        let params = LoRAStack.parameters(unet: unet)
        try stack.apply(to: params)
        XCTAssertThrowsError(try stack.attach(to: layers))
        stack.remove(ib)
        try stack.apply(to: params)
        try stack.attach(to: layers)
        XCTAssertEqual(run(unet, x).scalars.map(\.bitPattern), base.scalars.map(\.bitPattern))
    }

    /// Text encoders, including bigG's packed q|k|v split into three adapters sharing one down.
    func testRuntimeTextEncodersWithPackedQKV() throws {
        let l = CLIPTextModel(.tinyL), g = CLIPTextModel(.tinyG)
        try l.load(from: try fixture("clip/tiny_l.safetensors"))
        try g.load(from: try fixture("clip/tiny_g.safetensors"))
        let net = try lora("te_kohya", LoRAStackTests.teTargets)
        let ids: [[Int32]] = [[998, 5, 17, 400, 999, 0, 0], [998, 3, 999, 0, 0, 0, 0]]
        func encode() -> [Tensor] {
            let a = l.encode(ids, c), b = g.encode(ids, c)
            return [a.hidden, b.hidden, b.pooled!]
        }
        let stack = LoRAStack()
        let id = stack.add(net, strength: 0.9)
        try stack.attach(to: LoRAStack.layers(textEncoder: l, textEncoder2: g))
        XCTAssertEqual(stack.attachedAdapterCount, 18 + 18)
        let rt = encode()
        stack.detach()
        let params = LoRAStack.parameters(textEncoder: l, textEncoder2: g)
        try stack.apply(to: params)
        let want = encode()
        for (i, (r, w)) in zip(rt, want).enumerated() { assertClose(r, w, rtol: 1e-5, "TE output \(i)") }
        stack.setStrength(0, for: id)
        try stack.apply(to: params)
        let base = encode()
        try stack.restore(params)
        try stack.attach(to: LoRAStack.layers(textEncoder: l, textEncoder2: g))
        for (r, b) in zip(encode(), base) { XCTAssertEqual(r.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern)) }
    }

    /// LoCon with a Tucker core (`lora_mid`) on a 3×3 conv: the folded down runs as a 3×3 conv adapter.
    func testRuntimeLoConWithMid() throws {
        let unet = try tinyUNet(), x = try unetInputs()
        let dir = try LayoutFixtures.tempDir(self)
        let path = dir + "/locon.safetensors"
        let m = "lora_unet_down_blocks_1_resnets_0_conv2", k = "lora_unet_up_blocks_0_upsamplers_0_conv"
        let shapes = UNet.parameterShapes(.tiny).reduce(into: [String: [Int]]()) { $0[$1.0] = $1.1 }
        let w1 = shapes["down_blocks.1.resnets.0.conv2.weight"]!, w2 = shapes["up_blocks.0.upsamplers.0.conv.weight"]!
        try SafeTensorsWriter.write([
            (m + ".lora_down.weight", randomTensor([3, w1[1], 1, 1], seed: 1, scale: 0.3)),
            (m + ".lora_mid.weight", randomTensor([3, 3, 3, 3], seed: 2, scale: 0.3)),
            (m + ".lora_up.weight", randomTensor([w1[0], 3, 1, 1], seed: 3, scale: 0.3)),
            (m + ".alpha", Tensor(shape: [], values: [1.5])),
            (k + ".lora_down.weight", randomTensor([2, w2[1], 3, 3], seed: 4, scale: 0.3)),
            (k + ".lora_up.weight", randomTensor([w2[0], 2, 1, 1], seed: 5, scale: 0.3)),
        ], to: path)
        let net = try LoRANetwork.load(path: path, targets: LoRAStackTests.unetTargets)
        XCTAssertEqual(net.unmatchedKeys, [])
        let stack = LoRAStack()
        stack.add(net, strength: 0.8)
        try stack.attach(to: LoRAStack.layers(unet: unet))
        let rt = run(unet, x)
        stack.detach()
        assertClose(rt, try merged(unet, x, [(net, 0.8)]), rtol: 1e-5, "LoCon")
    }

    // MARK: - Trainable LoRA

    func testTrainableLoRANamesInitAndGradients() throws {
        let unet = try tinyUNet(), x = try unetInputs()
        let base = run(unet, x)
        let lora = TrainableLoRA(model: unet, rank: 4, alpha: 2, seed: 3)
        XCTAssertEqual(lora.targets.count, 257, "DMD2's patterns on the tiny UNet")
        let names = lora.parameters.map(\.0)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertTrue(names.contains("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight"))
        XCTAssertTrue(names.contains("lora_unet_input_blocks_1_0_emb_layers_1.lora_up.weight"))
        XCTAssertTrue(names.contains("lora_unet_input_blocks_3_0_op.lora_down.weight"))
        XCTAssertTrue(lora.parameters.allSatisfy { $0.1.requiresGrad })
        // Fresh: up = 0, so the model is unchanged; down within the kaiming-uniform bound.
        XCTAssertEqual(run(unet, x).scalars, base.scalars)
        for t in lora.targets {
            let bound = 1 / Float(t.layer.weight.count / t.layer.weight.dim(0)).squareRoot()
            XCTAssertTrue(t.adapter.down.scalars.allSatisfy { abs($0) <= bound } && t.adapter.up.scalars.allSatisfy { $0 == 0 })
        }
        XCTAssertEqual(TrainableLoRA(model: UNet(config: .tiny), rank: 4, alpha: 2, seed: 3).parameters.map { $0.1.scalars },
                       lora.parameters.map { $0.1.scalars }, "seeded init is reproducible")
        // Gradients reach every up (down's are zero while up is zero) through the model's ordinary forward.
        let y = run(unet, x, Compute(threads: 2))
        y.backward(seed: Tensor(shape: y.shape, repeating: 1), compute: Compute(threads: 2))
        XCTAssertTrue(lora.targets.allSatisfy { $0.adapter.up.grad.map { g in g.scalars.contains { $0 != 0 } } ?? false })
        lora.detach()
        XCTAssertTrue(unet.adaptableLayers().values.allSatisfy { $0.adapters.isEmpty })
        lora.attach()
        XCTAssertEqual(unet.adaptableLayers().values.reduce(0) { $0 + $1.adapters.count }, 257)
    }

    /// The diffusers-made kohya file loads into a `TrainableLoRA` (strict), our export reproduces it key for key
    /// and value for value, `LoRANetwork` reads the export back to the same products, and the runtime UNet output
    /// equals diffusers' after its own kohya conversion at weights 1.0 and 0.6.
    func testKohyaExportRoundTripAndDiffusersParity() throws {
        let unet = try tinyUNet(), x = try unetInputs()
        let ref = try fixture("lora/trained_kohya.safetensors"), exp = try fixture("lora/trained_expected.safetensors")
        let lora = try TrainableLoRA(model: unet, loading: ref.path)
        XCTAssertEqual(lora.rank, 4)
        XCTAssertEqual(lora.alpha, 2)
        let dir = try LayoutFixtures.tempDir(self)
        let out = dir + "/exported.safetensors"
        try lora.exportKohya(path: out, metadata: ["ss_output_name": "test"])
        let written = try SafeTensorsFile(path: out)
        XCTAssertEqual(written.names, ref.names)
        for n in ref.names {
            XCTAssertEqual(written.info(n)?.shape, ref.info(n)?.shape, n)
            XCTAssertEqual(try written.tensor(n).scalars, try ref.tensor(n).scalars, n)
        }
        for k in ["ss_network_module", "ss_network_dim", "ss_network_alpha"] { XCTAssertEqual(written.metadata[k], ref.metadata[k], k) }
        XCTAssertEqual(written.metadata["ss_output_name"], "test")
        // Our loader reads the export: same targets, same products.
        let net = try LoRANetwork.load(path: out, targets: LoRAStackTests.unetTargets)
        XCTAssertEqual(net.unmatchedKeys, [])
        XCTAssertEqual(net.format, .kohyaLDM)
        let mine = lora.network()
        XCTAssertEqual(net.targets, mine.targets)
        let byTarget = Dictionary(uniqueKeysWithValues: mine.modules.map { ($0.target, $0) })
        for m in net.modules {
            XCTAssertEqual(m.alphaScale, 0.5)
            assertClose(m.referenceProduct(), byTarget[m.target]!.referenceProduct(), rtol: 0, m.target)
        }
        // diffusers parity of the runtime path.
        lora.setScale(1)
        assertClose(run(unet, x), try exp.tensor("out_1.0"), rtol: 1e-4, "weight 1.0")
        print("LoRA kohya export vs diffusers at 1.0: \(closeness(run(unet, x), try exp.tensor("out_1.0"), rtol: 1e-4))")
        lora.setScale(0.6)
        assertClose(run(unet, x), try exp.tensor("out_0.6"), rtol: 1e-4, "weight 0.6")
        lora.setScale(0)
        assertClose(run(unet, x), try exp.tensor("out_base"), rtol: 1e-4, "off")
        // A file with another module set is refused by name.
        XCTAssertThrowsError(try TrainableLoRA(model: UNet(config: .tiny), loading: ref.path, targets: ["to_q"])) { e in
            XCTAssertTrue("\(e)".contains("unexpected"), "\(e)")
        }
    }

    func testTrainableLoRAOnTextEncoderUsesKohyaTENames() {
        let g = CLIPTextModel(.tinyG)
        let lora = TrainableLoRA(model: g, component: .textEncoder2, rank: 2, alpha: 1, targets: TrainableLoRA.textEncoderTargets, seed: 1)
        XCTAssertEqual(lora.targets.count, 3 * 6)
        XCTAssertTrue(lora.parameters.map(\.0).contains("lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"))
        let net = lora.network()
        let targets = LoRATargetSpace(textEncoder2: .tinyG)
        for t in lora.targets { XCTAssertEqual(targets.resolve(t.kohyaName), .weight("text_encoder_2." + t.weightName)) }
        XCTAssertEqual(net.modules.count, 18)
    }
}

/// Copies `source` into `target` while `source` is alive (`randomTensor(...).data` alone would read a freed buffer:
/// the temporary tensor may be released before the copy runs).
private func fill(_ target: Tensor, with source: Tensor) {
    withExtendedLifetime(source) { target.data.update(from: source.data, count: target.count) }
}
