import Checkpoint
import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest
@testable import Diffusion

/// Fixture locations of the tiny pipeline (tools/reference/models/pipeline_fixtures.py).
enum PipelineFixtures {
    static let singleFile = Fixtures.path("pipeline/tiny_sdxl.safetensors", target: "DiffusionTests")
    static let folder = Fixtures.path("pipeline/diffusers", target: "DiffusionTests")

    static func generations() throws -> (SafeTensorsFile, [[String: Any]]) {
        let file = try SafeTensorsFile(path: Fixtures.path("pipeline/generations.safetensors", target: "DiffusionTests"))
        let cases = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(file.metadata["cases"]!.utf8)) as? [[String: Any]])
        return (file, cases)
    }

    /// The request a fixture case describes.
    static func request(_ k: [String: Any], _ file: SafeTensorsFile) throws -> GenerationRequest {
        var r = GenerationRequest(prompt: k["prompt"] as! String, seed: (k["seed"] as! NSNumber).uint64Value)
        r.negativePrompt = k["negative"] as! String
        r.sampler = try XCTUnwrap(Sampler(rawValue: k["sampler"] as! String))
        r.scheduler = try XCTUnwrap(Scheduler(rawValue: k["scheduler"] as! String))
        r.steps = (k["steps"] as! NSNumber).intValue
        r.cfg = (k["cfg"] as! NSNumber).doubleValue
        r.width = (k["width"] as! NSNumber).intValue
        r.height = (k["height"] as! NSNumber).intValue
        r.batch = (k["batch"] as! NSNumber).intValue
        r.denoise = (k["denoise"] as! NSNumber).doubleValue
        let name = k["name"] as! String
        if file.info("\(name).init_image") != nil {
            let t = try file.tensor("\(name).init_image")   // [1, 3, H, W] in k/255
            let (h, w) = (t.dim(2), t.dim(3))
            var px = [UInt8](repeating: 0, count: h * w * 3)
            for ch in 0..<3 { for i in 0..<(h * w) { px[i * 3 + ch] = UInt8((t.data[ch * h * w + i] * 255).rounded()) } }
            r.initImage = RGBImage(width: w, height: h, pixels: px)
        }
        return r
    }
}

/// The whole txt2img / img2img pipeline on a tiny SDXL-structured model against a Python reference built from
/// diffusers/transformers components with ComfyUI's formulas.
final class PipelineTests: XCTestCase {
    let c = Compute(threads: 2)
    var pipeline: SDXLPipeline { ConditioningTests.pipeline }

    func testGenerationsMatchReference() throws {
        let (file, cases) = try PipelineFixtures.generations()
        XCTAssertEqual(cases.count, 3)
        for k in cases {
            let name = k["name"] as! String
            let request = try PipelineFixtures.request(k, file)
            var steps = 0
            let result = try pipeline.generate(request, c) { p in
                steps += 1
                XCTAssertEqual(p.step, steps)
                return true
            }
            let sigmas = try file.tensor("\(name).sigmas").scalars
            XCTAssertEqual(steps, sigmas.count - 1, name)
            XCTAssertEqual(request.scheduler.sigmas(steps: request.steps, denoise: request.denoise), sigmas, name)
            var g = TorchGenerator(seed: request.seed)
            assertClose(g.randn(request.latentShape(pipeline.config)), try file.tensor("\(name).noise"), rtol: 0, "noise of \(name)")
            let latent = try file.tensor("\(name).latent"), decoded = try file.tensor("\(name).decoded")
            assertClose(result.latent, latent, rtol: 1e-4, "final latent of \(name)")
            assertClose(result.decoded, decoded, rtol: 1e-4, "decoded image of \(name)")
            XCTAssertEqual(result.images.count, request.batch)
            XCTAssertEqual(result.images[0].width, request.width)
            XCTAssertEqual(result.images[0].height, request.height)
            print("generation \(name): latent \(closeness(result.latent, latent, rtol: 1e-4)); decoded \(closeness(result.decoded, decoded, rtol: 1e-4))")
        }
    }

    func testDiffusersFolderLoadsTheSameWeights() throws {
        let folder = try SDXLPipeline.load(path: PipelineFixtures.folder, tokenizer: TokenizerData.tokenizer, config: .tiny, c)
        let pairs: [(Module, Module)] = [(folder.unet, pipeline.unet), (folder.vae, pipeline.vae),
                                         (folder.conditioner.clipL, pipeline.conditioner.clipL),
                                         (folder.conditioner.clipG, pipeline.conditioner.clipG)]
        for (a, b) in pairs {
            let pa = a.namedParameters, pb = b.namedParameters
            XCTAssertEqual(pa.map(\.0), pb.map(\.0))
            for (x, y) in zip(pa, pb) { assertBitEqual(x.1, y.1, x.0) }
        }
    }

    func testExplicitNoiseEqualsSeedNoiseAndCancelStops() throws {
        var request = GenerationRequest(prompt: "a red fox", seed: 11)
        (request.width, request.height) = (32, 32)
        let seeded = try pipeline.generate(request, c)
        var g = TorchGenerator(seed: 11)
        request.noise = g.randn(request.latentShape(pipeline.config))
        assertClose(try pipeline.generate(request, c).latent, seeded.latent, rtol: 0)
        XCTAssertThrowsError(try pipeline.generate(request, c) { $0.step < 2 }) { error in
            XCTAssertEqual(error as? PipelineError, .cancelled)
        }
        // Stepping the job by hand gives the same result as `generate`.
        let job = try pipeline.prepare(request, c)
        for _ in job.run {}
        assertClose(pipeline.finish(job, c).latent, seeded.latent, rtol: 0)
    }

    /// A one-shot run frees the text encoders after encoding and the UNet after sampling (as `sumi generate`):
    /// the image is the same, and the pipeline then refuses to run again with a one-line error.
    func testDiscardingModelsAfterUseKeepsTheResultAndRefusesReuse() throws {
        var request = GenerationRequest(prompt: "a red fox", seed: 5)
        (request.width, request.height) = (32, 32)
        let expected = try pipeline.generate(request, c)
        let oneShot = try SDXLPipeline.load(path: PipelineFixtures.singleFile, tokenizer: TokenizerData.tokenizer,
                                            config: .tiny, c)
        let job = try oneShot.prepare(request, c)
        oneShot.discardTextEncoders()
        XCTAssertTrue(oneShot.conditioner.clipL.hasDiscardedWeights && oneShot.conditioner.clipG.hasDiscardedWeights)
        XCTAssertFalse(oneShot.unet.hasDiscardedWeights)
        for _ in job.run {}
        oneShot.discardUNet()
        XCTAssertTrue(oneShot.unet.hasDiscardedWeights)
        let result = oneShot.finish(job, c)
        assertClose(result.latent, expected.latent, rtol: 0)
        assertClose(result.decoded, expected.decoded, rtol: 0)
        XCTAssertThrowsError(try oneShot.prepare(request, c)) { error in
            XCTAssertEqual(error as? PipelineError, .discardedWeights("text encoders"))
            XCTAssertEqual("\(error)", "the weights of the text encoders were freed after an earlier generation; load the model again")
        }
    }

    func testAutomaticPrecisionIsBF16OnlyForFullSizeUNetsOnBF16CPUs() {
        XCTAssertEqual(SDXLPipeline.automaticPrecision(unetParameters: 2_567_463_684, cpuHasBF16: true), .bf16)
        XCTAssertEqual(SDXLPipeline.automaticPrecision(unetParameters: 2_567_463_684, cpuHasBF16: false), .fp32)
        XCTAssertEqual(SDXLPipeline.automaticPrecision(unetParameters: 8_000_000, cpuHasBF16: true), .fp32)
        // No room for the bf16 panels (~6 GiB for SDXL + 2 GiB): fp32.
        XCTAssertEqual(SDXLPipeline.automaticPrecision(unetParameters: 2_567_463_684, cpuHasBF16: true, availableBytes: 6 << 30), .fp32)
        XCTAssertEqual(SDXLPipeline.automaticPrecision(unetParameters: 2_567_463_684, cpuHasBF16: true, availableBytes: 10 << 30), .bf16)
        XCTAssertEqual(pipeline.automaticPrecision, .fp32)   // the tiny fixture model
    }

    /// f16 residency (pooled expansion per layer) gives exactly what fp32 storage of the same f16-rounded values gives.
    func testHalfResidentWeightsGiveTheRoundedWeightsResult() throws {
        XCTAssertFalse(pipeline.prefersHalfWeights)   // tiny model: stays fp32 unless asked
        var request = GenerationRequest(prompt: "a blue whale", seed: 9)
        (request.width, request.height) = (32, 32)
        let load = { try SDXLPipeline.load(path: PipelineFixtures.singleFile, tokenizer: TokenizerData.tokenizer, config: .tiny, self.c) }
        let half = try load(), rounded = try load()
        half.keepWeightsInHalf()
        rounded.keepWeightsInHalf()
        for m in [rounded.unet, rounded.conditioner.clipL, rounded.conditioner.clipG] as [Module] { m.keepWeightsInHalf(false) }
        XCTAssertTrue(half.unet.convIn.weight.storage.isHalfResident)
        let a = try half.generate(request, c), b = try rounded.generate(request, c)
        assertClose(a.latent, b.latent, rtol: 0)
        assertClose(a.decoded, b.decoded, rtol: 0)
    }

    func testRequestValidation() {
        var r = GenerationRequest(prompt: "x", seed: 0)
        r.width = 40
        XCTAssertThrowsError(try r.validate(for: .tiny)) { XCTAssertTrue("\($0)".contains("multiples of 16"), "\($0)") }
        r.width = 32
        XCTAssertNoThrow(try r.validate(for: .tiny))
        r.denoise = 0.5
        XCTAssertThrowsError(try r.validate(for: .tiny)) { XCTAssertTrue("\($0)".contains("init image"), "\($0)") }
        r.denoise = 1
        r.noise = Tensor(zeros: [1, 4, 3, 3])
        XCTAssertThrowsError(try r.validate(for: .tiny)) { XCTAssertTrue("\($0)".contains("noise"), "\($0)") }
        XCTAssertEqual(SDXLModelConfig.sdxl.sizeMultiple, 32)
    }

    func testLoadErrorsNameTheFile() throws {
        let vaeOnly = Fixtures.path("vae/weights_ldm.safetensors", target: "DiffusionTests")
        XCTAssertThrowsError(try SDXLPipeline.load(path: vaeOnly, tokenizer: TokenizerData.tokenizer, config: .tiny, c)) {
            XCTAssertTrue("\($0)".hasPrefix(vaeOnly), "\($0)")
        }
        XCTAssertThrowsError(try SDXLPipeline.load(path: "/nonexistent.safetensors", tokenizer: TokenizerData.tokenizer, config: .tiny, c)) {
            XCTAssertTrue("\($0)".contains("/nonexistent.safetensors"), "\($0)")
        }
    }

    // MARK: metadata and output

    func testA1111ParametersAndJSON() throws {
        var r = GenerationRequest(prompt: "1girl, (smile:1.2)", seed: 42)
        r.negativePrompt = "lowres"
        r.loras = [LoRAReference(name: "dmd2_sdxl_4step_lora", hash: "0123456789", strength: 1)]
        let meta = GenerationMetadata(request: r, model: ModelReference(name: "animagine-xl-3.1", hash: "abcdef0123"),
                                      generator: "sumi 0.1.0")
        XCTAssertEqual(meta.a1111Parameters, """
            1girl, (smile:1.2)
            Negative prompt: lowres
            Steps: 4, Sampler: lcm, Schedule type: simple, CFG scale: 1, Seed: 42, Size: 1024x1024, \
            Model hash: abcdef0123, Model: animagine-xl-3.1, Lora hashes: "dmd2_sdxl_4step_lora: 0123456789", Version: sumi 0.1.0
            """)
        let back = try XCTUnwrap(GenerationMetadata.decode(pngText: ["sumi": meta.json]))
        XCTAssertEqual(back, meta)
        XCTAssertTrue(meta.json.contains("\"negative_prompt\":\"lowres\""), meta.json)
        r.negativePrompt = ""
        r.cfg = 3.5
        let plain = GenerationMetadata(request: r, model: ModelReference(name: "m", hash: nil))
        XCTAssertEqual(plain.a1111Parameters.split(separator: "\n").count, 2, "no negative line when empty")
        XCTAssertTrue(plain.a1111Parameters.contains("CFG scale: 3.5"))
    }

    func testWritesPNGWithMetadataAndLatent() throws {
        var request = GenerationRequest(prompt: "a red fox", seed: 5)
        (request.width, request.height, request.batch) = (32, 16, 2)
        let result = try pipeline.generate(request, c)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-pipeline-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = ModelReference(name: "tiny", hash: try FileHashCache().shortHash(of: PipelineFixtures.singleFile))
        let paths = try GenerationOutput.writeImages(result, model: model, to: dir + "/out.png")
        XCTAssertEqual(paths, [dir + "/out-1.png", dir + "/out-2.png"])
        let read = try PNG.read(paths[1])
        XCTAssertEqual(read.image, result.images[1])
        XCTAssertTrue(read.text["parameters"]!.contains("Batch pos: 1"))
        XCTAssertEqual(GenerationMetadata.decode(pngText: read.text)?.model, model)
        try GenerationOutput.writeLatent(result.latent, to: dir + "/latent.safetensors")
        assertClose(try GenerationOutput.readTensor(dir + "/latent.safetensors", key: "latent"), result.latent, rtol: 0)
        XCTAssertThrowsError(try GenerationOutput.readTensor(dir + "/missing.safetensors")) {
            XCTAssertTrue("\($0)".contains("missing.safetensors"), "\($0)")
        }
    }

    func testSHA256() throws {
        XCTAssertEqual(SHA256.hexDigest(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hexDigest(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        XCTAssertEqual(SHA256.hexDigest(Data(two.utf8)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Streaming in odd pieces equals one shot.
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var h = SHA256()
        var i = 0
        for n in [1, 63, 64, 65, 3, 500, 304] { h.update(Data(bytes[i..<(i + n)])); i += n }
        XCTAssertEqual(SHA256.hex(h.finalize()), SHA256.hexDigest(Data(bytes)))
    }

    func testFileHashCachePersists() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-hash-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/m.bin", store = dir + "/cache/hashes.json"
        try Data("abc".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try FileHashCache(storePath: store).shortHash(of: file), "ba7816bf8f")
        XCTAssertTrue(FileManager.default.fileExists(atPath: store))
        XCTAssertEqual(try FileHashCache(storePath: store).sha256(of: file).count, 64)
        XCTAssertEqual(SDXLPipeline.identifyingFile(path: PipelineFixtures.folder),
                       PipelineFixtures.folder + "/unet/diffusion_pytorch_model.safetensors")
    }

    func testPresets() throws {
        let dmd2 = Fixtures.testsRoot.deletingLastPathComponent().appendingPathComponent("models/presets/dmd2.toml").path
        let p = try GenerationPreset(path: dmd2)
        XCTAssertEqual(p.sampler, "lcm")
        XCTAssertEqual(p.scheduler, "simple")
        XCTAssertEqual(p.steps, 4)
        XCTAssertEqual(p.cfg, 1)
        let q = try GenerationPreset(text: """
            # comment
            negative = "lowres, \\"bad\\" # not a comment"   # trailing comment
            width = 832
            loras = ["a.safetensors:1.0", "b.safetensors:0.5"]
            """)
        XCTAssertEqual(q.negative, "lowres, \"bad\" # not a comment")
        XCTAssertEqual(q.width, 832)
        XCTAssertEqual(q.loras, ["a.safetensors:1.0", "b.safetensors:0.5"])
        XCTAssertThrowsError(try GenerationPreset(text: "stpes = 4", source: "x.toml")) {
            XCTAssertTrue("\($0)".hasPrefix("x.toml:1: unknown key `stpes`"), "\($0)")
        }
        XCTAssertThrowsError(try GenerationPreset(text: "\n\nsteps = four", source: "x.toml")) {
            XCTAssertTrue("\($0)".hasPrefix("x.toml:3:"), "\($0)")
        }
        XCTAssertThrowsError(try GenerationPreset(text: "steps = 4.5", source: "x.toml"))
        XCTAssertEqual(GenerationPreset.locate("dmd2", in: ["/nonexistent", (dmd2 as NSString).deletingLastPathComponent]), dmd2)
        XCTAssertNil(GenerationPreset.locate("nope", in: [(dmd2 as NSString).deletingLastPathComponent]))
    }
}
