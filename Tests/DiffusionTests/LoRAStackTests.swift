import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// LoRA parsing and merging against tools/reference/models/lora_fixtures.py (tiny UNet of Fixtures/unet, tiny
/// CLIP-L / bigG of Fixtures/clip): each format's merged weights vs float64 references, strength sequences with
/// exact restore, the packed bigG q|k|v split, and the unmatched-key listing.
final class LoRAStackTests: XCTestCase {
    static let unetTargets = LoRATargetSpace(unet: .tiny)
    static let teTargets = LoRATargetSpace(textEncoder: .tinyL, textEncoder2: .tinyG)

    /// Every float tensor of a fixture file, qualified with `component`.
    private func parameters(_ relative: String, _ component: LoRAComponent) throws -> [String: Tensor] {
        let f = try SafeTensorsFile(path: Fixtures.path(relative, target: "DiffusionTests"))
        var p: [String: Tensor] = [:]
        for i in f.tensorInfos where i.dtype.convertsToFloat && i.dtype != .i64 {
            p[component.qualified(i.name)] = try f.tensor(i.name)
        }
        return p
    }

    private func unetParameters() throws -> [String: Tensor] {
        try parameters("unet/weights_diffusers.safetensors", .unet)
    }

    private func lora(_ name: String, _ targets: LoRATargetSpace = unetTargets) throws -> LoRANetwork {
        try LoRANetwork.load(path: Fixtures.path("lora/\(name).safetensors", target: "DiffusionTests"), targets: targets)
    }

    private func expected(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("lora/\(name).safetensors", target: "DiffusionTests"))
    }

    private func copies(_ p: [String: Tensor]) -> [String: Tensor] { p.mapValues { $0.copy() } }

    /// W = base + Σ s · alphaScale · (up · down) with the naive Double product, for every adapted weight.
    private func assertMerged(_ params: [String: Tensor], base: [String: Tensor], _ loras: [(LoRANetwork, Float)],
                              rtol: Double = 1e-6, file: StaticString = #filePath, line: UInt = #line) {
        var want: [String: Tensor] = [:]
        for (net, s) in loras {
            for m in net.modules {
                let w = want[m.target] ?? base[m.target]!.copy()
                let d = m.referenceProduct()
                for i in 0..<w.count { w.data[i] += s * m.alphaScale * d.data[i] }
                want[m.target] = w
            }
        }
        for (name, w) in want {
            assertClose(params[name], w.viewing(as: base[name]!.shape), rtol: rtol, name, file: file, line: line)
        }
    }

    private func assertExpected(_ params: [String: Tensor], _ file: SafeTensorsFile, strength: String, prefix: String = "",
                                count: Int, line: UInt = #line) throws {
        let keys = file.names.filter { $0.hasPrefix("s\(strength).") }
        XCTAssertEqual(keys.count, count, line: line)
        var worst = 0.0
        for k in keys {
            let name = prefix + k.dropFirst("s\(strength).".count)
            let want = try file.tensor(k)
            assertClose(params[name], want, rtol: 1e-6, "\(name) at \(strength)", line: line)
            if let p = params[name] { worst = max(worst, closeness(p, want, rtol: 1e-6).maxRelative) }
        }
        print("LoRA merge vs reference at strength \(strength): max rel \(worst) over \(keys.count) weights")
    }

    // MARK: - UNet formats

    func testUNetFormatsMergeLikeReference() throws {
        let exp = try expected("expected_unet")
        for (name, format) in [("unet_peft_diffusers", LoRAInfo.Format.peftPrefixed), ("unet_kohya_diffusers", .kohyaDiffusers),
                               ("unet_kohya_ldm", .kohyaLDM)] {
            let net = try lora(name)
            XCTAssertEqual(net.format, format, name)
            XCTAssertEqual(net.unmatchedKeys, [], name)
            XCTAssertEqual(net.matchedModuleCount, 257, name)
            XCTAssertEqual(net.modules.count, 257, name)
            XCTAssertEqual(Set(net.modules.map(\.alphaScale)), [2], "\(name): alpha 8 / rank 4 (PEFT metadata for diffusers)")
            let base = try unetParameters(), params = copies(base)
            let stack = LoRAStack()
            let id = stack.add(net, strength: 1.0)
            let r1 = try stack.apply(to: params)
            XCTAssertEqual(r1.weightsUpdated, 257)
            try assertExpected(params, exp, strength: "1.0", prefix: "unet.", count: 15)
            assertMerged(params, base: base, [(net, 1.0)])
            // peft's own merge agrees with the formula.
            for k in exp.names where k.hasPrefix("peft_merge.") {
                assertClose(params["unet." + k.dropFirst("peft_merge.".count)], try exp.tensor(k), rtol: 1e-6, k)
            }
            stack.setStrength(0.9, for: id)
            try stack.apply(to: params)
            try assertExpected(params, exp, strength: "0.9", prefix: "unet.", count: 15)
            assertMerged(params, base: base, [(net, 0.9)])
        }
    }

    /// The raw peft state dict (`base_model.model.`, `.default`) parses to the same factors; no alpha anywhere ⇒ scale 1.
    func testRawPEFTStateDictUsesScaleOne() throws {
        let raw = try lora("unet_peft_raw"), ref = try lora("unet_kohya_diffusers")
        XCTAssertEqual(raw.unmatchedKeys, [])
        XCTAssertEqual(raw.modules.count, 257)
        XCTAssertEqual(Set(raw.modules.map(\.alphaScale)), [1])
        let byTarget = Dictionary(uniqueKeysWithValues: ref.modules.map { ($0.target, $0) })
        for m in raw.modules {
            let r = try XCTUnwrap(byTarget[m.target], m.target)
            XCTAssertEqual(m.up.scalars, r.up.scalars, m.target)
            XCTAssertEqual(m.down.scalars, r.down.scalars, m.target)
        }
        let base = try unetParameters(), params = copies(base)
        let stack = LoRAStack()
        stack.add(raw, strength: 0.9)
        try stack.apply(to: params)
        assertMerged(params, base: base, [(raw, 0.9)])
    }

    // MARK: - Strength changes, on/off, stacking

    func testStrengthSequenceAndExactRestore() throws {
        let net = try lora("unet_kohya_diffusers")
        let exp = try expected("expected_unet")
        let base = try unetParameters(), params = copies(base)
        let stack = LoRAStack()
        let id = stack.add(net, strength: 1.0)
        try stack.apply(to: params)
        try assertExpected(params, exp, strength: "1.0", prefix: "unet.", count: 15)
        stack.setStrength(0.5, for: id)
        let r = try stack.apply(to: params)
        XCTAssertEqual(r.incremental, 257)
        XCTAssertEqual(r.gemms, 257, "only the difference is applied, one GEMM per module")
        assertMerged(params, base: base, [(net, 0.5)])
        stack.setStrength(0, for: id)
        let r0 = try stack.apply(to: params)
        XCTAssertEqual(r0.restoredExactly, 257)
        for (k, w) in base { assertBitEqual(params[k]!, w, k) }
        stack.setStrength(0.9, for: id)
        try stack.apply(to: params)
        try assertExpected(params, exp, strength: "0.9", prefix: "unet.", count: 15)
        assertMerged(params, base: base, [(net, 0.9)])
        // Nothing changed: nothing is touched.
        XCTAssertFalse(stack.hasPendingChanges)
        XCTAssertEqual(try stack.apply(to: params).weightsUpdated, 0)
        // Many small changes: drift stays bounded by the periodic recompute.
        for s in stride(from: Float(0.05), through: 1.0, by: 0.05) {
            stack.setStrength(s, for: id)
            try stack.apply(to: params)
        }
        assertMerged(params, base: base, [(net, 1.0)])
        stack.setEnabled(false, for: id)
        try stack.apply(to: params)
        for (k, w) in base { assertBitEqual(params[k]!, w, k) }
        stack.setEnabled(true, for: id)
        try stack.apply(to: params)
        assertMerged(params, base: base, [(net, 1.0)])
        try stack.restore(params)
        for (k, w) in base { assertBitEqual(params[k]!, w, k) }
        XCTAssertEqual(stack.trackedWeightCount, 0)
    }

    func testTwoLoRAsStackedOnOffAndRemoved() throws {
        let a = try lora("unet_kohya_ldm"), b = try lora("unet_peft_raw")
        let base = try unetParameters(), params = copies(base)
        let stack = LoRAStack()
        let ia = stack.add(a, strength: 0.7)
        let ib = stack.add(b, strength: -0.4)
        try stack.apply(to: params)
        assertMerged(params, base: base, [(a, 0.7), (b, -0.4)])
        stack.setEnabled(false, for: ia)
        try stack.apply(to: params)
        assertMerged(params, base: base, [(b, -0.4)])
        stack.setEnabled(true, for: ia)
        stack.setStrength(0.3, for: ib)
        try stack.apply(to: params, exact: true)
        assertMerged(params, base: base, [(a, 0.7), (b, 0.3)])
        stack.remove(ia)
        try stack.apply(to: params)
        assertMerged(params, base: base, [(b, 0.3)])
        stack.remove(ib)
        let r = try stack.apply(to: params)
        XCTAssertEqual(r.restoredExactly, 257)
        for (k, w) in base { assertBitEqual(params[k]!, w, k) }
        XCTAssertEqual(stack.trackedWeightCount, 0, "pristine copies are dropped once no LoRA adapts a weight")
    }

    /// A base-weight provider replaces the pristine copies.
    func testBaseProviderRestoresWithoutCopies() throws {
        let net = try lora("unet_kohya_diffusers")
        let base = try unetParameters(), params = copies(base)
        let stack = LoRAStack(baseProvider: { base[$0] })
        let id = stack.add(net)
        try stack.apply(to: params)
        XCTAssertEqual(stack.pristineBytes, 0)
        stack.setStrength(0, for: id)
        try stack.apply(to: params)
        for (k, w) in base { assertBitEqual(params[k]!, w, k) }
    }

    // MARK: - Text encoders

    func testTextEncoderKohyaWithPackedBigGQKV() throws {
        let net = try lora("te_kohya", Self.teTargets)
        XCTAssertEqual(net.format, .kohyaTextOnly)
        XCTAssertEqual(net.unmatchedKeys, [])
        // te1: 18 modules; te2: 2 packed in_proj (3 weights each) + 3 + 3 + 6 separate.
        XCTAssertEqual(net.matchedModuleCount, 18 + 2 + 3 + 3 + 6)
        XCTAssertEqual(net.modulesPerComponent, [.textEncoder: 18, .textEncoder2: 18])
        XCTAssertEqual(Set(net.modules.filter { $0.target.hasPrefix("text_encoder.") }.map(\.alphaScale)), [1], "no alpha ⇒ 1")
        XCTAssertEqual(Set(net.modules.filter { $0.target.hasPrefix("text_encoder_2.") }.map(\.alphaScale)), [0.5])
        let base = try parameters("clip/tiny_l.safetensors", .textEncoder)
            .merging(try parameters("clip/tiny_g.safetensors", .textEncoder2)) { a, _ in a }
        let params = copies(base)
        let exp = try expected("expected_te")
        let stack = LoRAStack()
        let id = stack.add(net, strength: 1.0)
        try stack.apply(to: params)
        try assertExpected(params, exp, strength: "1.0", count: 36)
        stack.setStrength(0.9, for: id)
        try stack.apply(to: params)
        try assertExpected(params, exp, strength: "0.9", count: 36)
        stack.setStrength(0, for: id)
        try stack.apply(to: params)
        for (k, w) in base { assertBitEqual(params[k]!, w, k) }
    }

    // MARK: - Key resolution and unmatched keys

    func testSpellingsResolveToTheSameWeight() {
        let t = Self.unetTargets
        let w = LoRATargetSpace.Target.weight("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0.weight")
        for s in ["lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_out_0",
                  "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_out_0",
                  "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0",
                  "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0",
                  "base_model.model.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0",
                  "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_out",
                  "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_out.0",
                  "lycoris_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_out_0"] {
            XCTAssertEqual(t.resolve(s), w, s)
        }
        XCTAssertEqual(t.resolve("lora_unet_output_blocks_5_2_conv"), .weight("unet.up_blocks.1.upsamplers.0.conv.weight"))
        XCTAssertEqual(t.resolve("lora_unet_input_blocks_3_0_op"), .weight("unet.down_blocks.0.downsamplers.0.conv.weight"))
        XCTAssertEqual(t.resolve("lora_unet_middle_block_2_emb_layers_1"), .weight("unet.mid_block.resnets.1.time_emb_proj.weight"))
        XCTAssertNil(t.resolve("lora_unet_down_blocks_1_attentions_0_norm"), "norms are not adaptable")
        let te = Self.teTargets
        let q = "text_encoder_2.text_model.encoder.layers.1.self_attn."
        let packed = LoRATargetSpace.Target.packedQKV(q: q + "q_proj.weight", k: q + "k_proj.weight", v: q + "v_proj.weight")
        for s in ["lora_te2_transformer_resblocks_1_attn_in_proj", "lora_te2_transformer_resblocks_1_attn_in_proj_weight",
                  "lora_te2_text_model_encoder_layers_1_self_attn_in_proj",
                  "conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight"] {
            XCTAssertEqual(te.resolve(s), packed, s)
        }
        XCTAssertEqual(te.resolve("lora_te_text_model_encoder_layers_2_mlp_fc2"),
                       .weight("text_encoder.text_model.encoder.layers.2.mlp.fc2.weight"))
        XCTAssertEqual(te.resolve("text_encoder.text_model.encoder.layers.0.self_attn.k_proj"),
                       .weight("text_encoder.text_model.encoder.layers.0.self_attn.k_proj.weight"))
    }

    func testUnmatchedKeysAreListedByName() throws {
        let dir = try LayoutFixtures.tempDir(self)
        let path = dir + "/mixed.safetensors"
        func t(_ shape: [Int]) -> Tensor { randomTensor(shape, seed: UInt64(shape.reduce(7, +)), scale: 0.1) }
        let good = "lora_unet_down_blocks_0_resnets_0_conv1"
        let entries: [(name: String, tensor: Tensor)] = [
            (good + ".lora_down.weight", t([2, 16, 3, 3])), (good + ".lora_up.weight", t([16, 2, 1, 1])),
            (good + ".alpha", Tensor(shape: [], values: [1])),
            ("lora_unet_down_blocks_9_resnets_0_conv1.lora_down.weight", t([2, 16])),
            ("lora_unet_down_blocks_9_resnets_0_conv1.lora_up.weight", t([16, 2])),
            ("lora_unet_mid_block_resnets_0_conv1.hada_w1_a", t([32, 2])),
            ("lora_unet_mid_block_resnets_0_conv1.hada_w1_b", t([2, 288])),
            ("lora_unet_conv_in.lora_down.weight", t([2, 4, 3, 3])),  // no up
            ("lora_unet_mid_block_resnets_0_time_emb_proj.lora_down.weight", t([2, 63])),  // wrong width
            ("lora_unet_mid_block_resnets_0_time_emb_proj.lora_up.weight", t([32, 2])),
            ("lora_te3_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", t([2, 32])),
            ("lora_te3_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", t([64, 2])),
            ("some_random_tensor", t([3])),
        ]
        try SafeTensorsWriter.write(entries, dtype: .f32, to: path)
        let net = try LoRANetwork.load(path: path, targets: Self.unetTargets)
        XCTAssertEqual(net.modules.map(\.target), ["unet.down_blocks.0.resnets.0.conv1.weight"])
        XCTAssertEqual(net.matchedKeyCount, 3)
        XCTAssertEqual(net.matchedModuleCount, 1)
        XCTAssertEqual(net.modules.first?.alphaScale, 0.5)
        XCTAssertEqual(net.unmatchedKeys, entries.map(\.name).filter { !$0.hasPrefix(good) }.sorted())
        XCTAssertEqual(net.unmatchedReasons["some_random_tensor"], "not a LoRA tensor name")
        XCTAssertEqual(net.unmatchedReasons["lora_unet_mid_block_resnets_0_conv1.hada_w1_a"], "unsupported: LyCORIS LoHa")
        XCTAssertEqual(net.unmatchedReasons["lora_unet_conv_in.lora_down.weight"], "incomplete module: no up / lora_B tensor")
        XCTAssert(net.unmatchedReasons["lora_unet_mid_block_resnets_0_time_emb_proj.lora_up.weight"]!.hasPrefix("shape mismatch"))
        XCTAssert(net.unmatchedReasons["lora_unet_down_blocks_9_resnets_0_conv1.lora_up.weight"]!.hasPrefix("no weight"))
    }

    /// diffusers' `lora_adapter_metadata`: lora_alpha / r, rsLoRA's lora_alpha / √r, and `alpha_pattern` overrides.
    func testPEFTMetadataScales() {
        let json = #"{"unet.lora_alpha": 8, "unet.r": 4, "unet.alpha_pattern": {"attn1.to_q": 2}, "text_encoder.lora_alpha": 6, "#
            + #""text_encoder.use_rslora": true}"#
        let p = PEFTAlphas(["lora_adapter_metadata": json])
        let q = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight"
        XCTAssertEqual(p.scale(module: "m", target: .weight(q), rank: 4), 0.5)
        XCTAssertEqual(p.scale(module: "m", target: .weight(q.replacingOccurrences(of: "to_q", with: "to_k")), rank: 4), 2)
        XCTAssertEqual(p.scale(module: "m", target: .weight("text_encoder.text_model.encoder.layers.0.mlp.fc1.weight"), rank: 4), 3)
        XCTAssertNil(p.scale(module: "m", target: .weight("text_encoder_2.text_model.encoder.layers.0.mlp.fc1.weight"), rank: 4))
        XCTAssertNil(PEFTAlphas([:]).scale(module: "m", target: .weight(q), rank: 4))
    }

    // MARK: - Math

    /// LoCon with a Tucker core: ΔW[o,i,y,x] = Σ_{a,b} up[o,a] · mid[a,b,y,x] · down[b,i].
    func testLoConMidFoldMatchesTripleSum() throws {
        let (r, cin, cout) = (3, 5, 7)
        let down = randomTensor([r, cin, 1, 1], seed: 1), mid = randomTensor([r, r, 3, 3], seed: 2)
        let up = randomTensor([cout, r, 1, 1], seed: 3)
        let folded = try XCTUnwrap(LoRANetwork.foldMid(down: down, mid: mid))
        let m = LoRAModule(target: "w", up: up.viewing(as: [cout, r]), down: folded.viewing(as: [r, cin * 9]), alphaScale: 1,
                           sourceModule: "m")
        let got = m.referenceProduct()
        let want = Tensor(zeros: [cout, cin * 9])
        for o in 0..<cout { for i in 0..<cin { for p in 0..<9 {
            var s = 0.0
            for a in 0..<r { for b in 0..<r {
                s += Double(up.data[o * r + a]) * Double(mid.data[(a * r + b) * 9 + p]) * Double(down.data[b * cin + i])
            } }
            want.data[(o * cin + i) * 9 + p] = Float(s)
        } } }
        assertClose(got, want, rtol: 1e-6)
    }

    /// The BLAS path equals the naive Double product on odd shapes.
    func testGemmDeltaMatchesNaive() {
        for (o, r, k) in [(7, 3, 11), (33, 5, 19), (1, 1, 1), (65, 64, 9)] {
            let m = LoRAModule(target: "w", up: randomTensor([o, r], seed: UInt64(o)), down: randomTensor([r, k], seed: UInt64(k)),
                               alphaScale: 1, sourceModule: "m")
            let w = Tensor(zeros: [o, k])
            LoRAStack.addDelta(m, scale: 1, into: w)
            assertClose(w, m.referenceProduct(), rtol: 1e-6, "\(o)×\(r)×\(k)")
        }
    }

    // MARK: - Measurement (opt-in: SUMI_LORA_BENCH=1; prints, never asserts a time)

    /// A strength change of a rank-64 LoRA on the DMD2 target list of the real SDXL UNet, module by module
    /// (one weight allocated at a time, so the 10 GB UNet is never resident); then a typical kohya style LoRA
    /// (transformer linears only, rank 32). Prints wall and process CPU time (the machine may be shared).
    func testMeasureSDXLStrengthChange() throws {
        guard ProcessInfo.processInfo.environment["SUMI_LORA_BENCH"] == "1" else {
            throw XCTSkip("set SUMI_LORA_BENCH=1 to measure")
        }
        let dmd2 = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1", "conv2",
                    "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]
        let compute = Compute()  // also sets the BLAS thread count to every core
        measure(name: "DMD2 targets, rank 64", suffixes: dmd2, rank: 64, compute)
        measure(name: "transformer linears, rank 32", suffixes: Array(dmd2.prefix(8)), rank: 32, compute)
    }

    private func measure(name: String, suffixes: [String], rank: Int, _ compute: Compute) {
        let shapes = UNet.parameterShapes(.sdxl).filter { name, _ in
            name.hasSuffix(".weight") && suffixes.contains { name.hasSuffix("." + $0 + ".weight") }
        }
        func now() -> (wall: Double, cpu: Double) {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return (Double(DispatchTime.now().uptimeNanoseconds) / 1e9, Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
        }
        var gemm = (wall: 0.0, cpu: 0.0), copy = (wall: 0.0, cpu: 0.0)
        var macs = 0.0, loraParams = 0, weights = 0
        for (_, shape) in shapes {
            let o = shape[0], k = shape.dropFirst().reduce(1, *)
            let m = LoRAModule(target: "w", up: randomTensor([o, rank], seed: 1, scale: 0.01),
                               down: randomTensor([rank, k], seed: 2, scale: 0.01), alphaScale: 0.125, sourceModule: "m")
            let w = Tensor(shape: [o, k], repeating: 0.5), base = Tensor(shape: [o, k], repeating: 0.25)
            var t0 = now()
            LoRAStack.addDelta(m, scale: -0.5, into: w)
            var t1 = now()
            gemm.wall += t1.wall - t0.wall; gemm.cpu += t1.cpu - t0.cpu
            t0 = now()
            let (src, dst) = (base.data, w.data)
            compute.parallelFor(w.count, grain: 1 << 18) { r in (dst + r.lowerBound).update(from: src + r.lowerBound, count: r.count) }
            t1 = now()
            copy.wall += t1.wall - t0.wall; copy.cpu += t1.cpu - t0.cpu
            macs += Double(o * k * rank)
            loraParams += rank * (o + k)
            weights += o * k
        }
        print(String(format: "LoRA bench (%@): %d modules, %.2f M LoRA params, %.3f G weights, %.0f GFLOP; strength change "
                     + "(GEMM beta=1) %.3f s wall, %.3f s CPU (%.1f GFLOP/s wall); exact restore (copy) %.3f s wall, %.3f s CPU; "
                     + "BLAS %@", name, shapes.count, Double(loraParams) / 1e6, Double(weights) / 1e9, 2 * macs / 1e9,
                     gemm.wall, gemm.cpu, 2 * macs / gemm.wall / 1e9, copy.wall, copy.cpu, BLAS.coreName))
    }
}
