import Diffusion
import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest
@testable import Studio

/// The engine thread on the tiny fixture model: loads once, attaches LoRAs as runtime adapters, reports
/// progress with previews, saves PNGs with `sumi generate`'s metadata, and cancels.
final class StudioEngineTests: XCTestCase {
    static let model = Fixtures.path("pipeline/tiny_sdxl.safetensors", target: "DiffusionTests")
    static let lora = Fixtures.path("lora/tiny_sdxl_style.safetensors", target: "DiffusionTests")
    static let merges = PaneSnapshot.repoRoot.appendingPathComponent("models/tokenizer/clip-merges.txt").path

    /// Waits for an event matching `until`, returning every event seen.
    func collect(_ engine: Engine, timeout: Double = 120, until: (EngineEvent) -> Bool) -> [EngineEvent] {
        var seen: [EngineEvent] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let new = engine.drainEvents()
            seen += new
            if new.contains(where: until) { return seen }
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTFail("timed out; events: \(seen.map { "\($0)".prefix(60) })")
        return seen
    }

    func testGenerateWithLoRAMatchesThePipelineAndCancels() throws {
        let out = PaneSnapshot.tempDir(self)
        let tokenizer = try CLIPTokenizer(mergesPath: Self.merges)
        let engine = Engine(configuration: EngineConfiguration(modelPath: Self.model, tinyArchitecture: true, tokenizer: tokenizer,
                                                               outputDirectory: out, generator: "sumi test", hashCachePath: nil, threads: 2))
        engine.start()
        defer { engine.shutdown() }
        var settings = SamplerSettings()
        settings.sampler = .euler
        settings.steps = 3
        (settings.width, settings.height) = (64, 48)
        let slot = LoRASlot(id: 7, path: Self.lora, strength: 0.5, enabled: true)
        engine.send(.generate(GenerationSpec(runID: 1, prompt: "a (red:1.2) fox", negative: "", settings: settings, seeds: [5],
                                             loras: [slot])))
        let events = collect(engine) { if case .finished = $0 { return true }; if case .failed = $0 { return true }; return false }
        XCTAssertTrue(events.contains(.modelReady(name: "tiny_sdxl", sizeMultiple: 16, tiny: true)))
        XCTAssertTrue(events.contains(.loraReady(id: 7, modules: 132, matchedKeys: 396, unmatchedKeys: 3)), "\(events.prefix(4))")
        XCTAssertTrue(events.contains(.started(runID: 1, image: 0, imageCount: 1, steps: 3, seed: 5)))
        let steps = events.compactMap { e -> Int? in if case let .step(1, step, 3, _, preview?) = e, preview.width == 16 { return step }; return nil }
        XCTAssertEqual(steps, [1, 2, 3], "one event per step, each with a 16×12 latent preview")
        guard case let .imageDone(1, image, path, 5)? = events.first(where: { if case .imageDone = $0 { return true }; return false }) else {
            return XCTFail("no image: \(events.suffix(2))")
        }
        XCTAssertEqual(path, (out as NSString).appendingPathComponent("00001-5.png"))

        // The saved file carries `sumi generate`'s metadata, LoRA and strength included.
        let png = try PNG.read(path)
        XCTAssertEqual(png.image, image)
        let meta = try XCTUnwrap(GenerationMetadata.decode(pngText: png.text))
        XCTAssertEqual([meta.seed, UInt64(meta.steps), UInt64(meta.width), UInt64(meta.height)], [5, 3, 64, 48])
        XCTAssertEqual(meta.loras, [LoRAReference(name: "tiny_sdxl_style", hash: nil, strength: 0.5)])
        XCTAssertEqual(meta.generator, "sumi test")
        XCTAssertTrue(png.text["parameters"]?.contains("Seed: 5") ?? false)

        // Same request straight through the pipeline with the LoRA merged: the same image up to rounding.
        let c = Compute(threads: 2)
        let pipeline = try SDXLPipeline.load(path: Self.model, tokenizer: tokenizer, config: .tiny, width: 64, height: 48, c)
        var request = GenerationRequest(prompt: "a (red:1.2) fox", seed: 5)
        request.sampler = .euler
        (request.steps, request.width, request.height) = (3, 64, 48)
        let params = LoRAStack.parameters(unet: pipeline.unet, textEncoder: pipeline.conditioner.clipL,
                                          textEncoder2: pipeline.conditioner.clipG)
        let stack = LoRAStack()
        stack.add(try LoRANetwork.load(path: Self.lora, targets: LoRATargetSpace(parameters: params, unetConfig: pipeline.config.unet)),
                  strength: 0.5)
        try stack.apply(to: params)
        let merged = try pipeline.generate(request, c).images[0]
        let maxDiff = zip(merged.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        print("engine (runtime LoRA) vs pipeline (merged LoRA): max pixel difference \(maxDiff)")
        XCTAssertLessThanOrEqual(maxDiff, 2)

        // Strength 0 is the base model exactly (runtime adapters at 0 are skipped), with the same seed.
        try stack.restore(params)
        let base = try pipeline.generate(request, c).images[0]
        XCTAssertNotEqual(base, image, "the LoRA at 0.5 changes the image")
        var off = slot
        off.strength = 0
        engine.send(.generate(GenerationSpec(runID: 2, prompt: "a (red:1.2) fox", negative: "", settings: settings, seeds: [5],
                                             loras: [off])))
        let second = collect(engine) { if case .finished(2, _) = $0 { return true }; if case .failed = $0 { return true }; return false }
        guard case let .imageDone(2, image2, path2, _)? = second.first(where: { if case .imageDone = $0 { return true }; return false }) else {
            return XCTFail("no second image")
        }
        XCTAssertEqual(image2, base)
        XCTAssertEqual(path2, (out as NSString).appendingPathComponent("00002-5.png"))

        // Cancel: a long run stops between steps and reports it.
        settings.steps = 50
        engine.send(.generate(GenerationSpec(runID: 3, prompt: "x", negative: "", settings: settings, seeds: [1, 2], loras: [off])))
        engine.send(.cancel)
        let third = collect(engine) { if case .cancelled(3) = $0 { return true }; if case .finished(3, _) = $0 { return true }; return false }
        XCTAssertTrue(third.contains(.cancelled(runID: 3)))
        XCTAssertFalse(third.contains { if case .imageDone(3, _, _, _) = $0 { return true }; return false })
    }

    func testMissingModelReportsAnError() throws {
        let tokenizer = try CLIPTokenizer(mergesPath: Self.merges)
        let engine = Engine(configuration: EngineConfiguration(modelPath: "/nonexistent/m.safetensors", tinyArchitecture: true,
                                                               tokenizer: tokenizer, outputDirectory: NSTemporaryDirectory(),
                                                               generator: "t", hashCachePath: nil))
        engine.start()
        defer { engine.shutdown() }
        let events = collect(engine, timeout: 30) { if case .modelFailed = $0 { return true }; return false }
        guard case .modelFailed(let why)? = events.last else { return XCTFail("\(events)") }
        XCTAssertTrue(why.contains("/nonexistent/m.safetensors"), why)
    }
}
