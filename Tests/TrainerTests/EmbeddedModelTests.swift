import Diffusion
import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest
@testable import Trainer

/// The pieces the embedded emoji model is trained and judged with: the autoencoder objective and the
/// nearest-training-image evaluation.
final class EmbeddedModelTests: XCTestCase {
    /// KL term: matches ½·mean(μ² + σ² − 1 − log σ²) computed in Double, and its gradients match finite differences.
    func testKLPerElement() throws {
        let c = Compute(threads: 1)
        let mean = randomTensor([2, 4, 3, 3], seed: 3, scale: 0.8), rawLogvar = randomTensor([2, 4, 3, 3], seed: 4, scale: 1.5)
        let kl = LatentDistribution(mean: mean, rawLogvar: rawLogvar, c).klPerElement(c)
        var expected = 0.0
        for i in 0..<mean.count {
            let m = Double(mean.data[i]), lv = Double(rawLogvar.data[i])
            expected += 0.5 * (m * m + exp(lv) - 1 - lv)
        }
        expected /= Double(mean.count)
        XCTAssertEqual(Double(kl.data[0]), expected, accuracy: 1e-6 * max(1, abs(expected)))
        assertGradientsMatchFiniteDifferences([mean, rawLogvar]) { c, xs in
            LatentDistribution(mean: xs[0], rawLogvar: xs[1], c).klPerElement(c)
        }
    }

    /// The objective crops, encodes, samples and decodes; a few AdamW steps on one batch lower its loss.
    func testAutoencoderObjectiveLearns() throws {
        let c = Compute(threads: 2)
        let vae = AutoencoderKL(.tiny)
        var rng = TorchGenerator(seed: 5)
        ModelInitializer.initialize(vae, rng: &rng)
        var options = AutoencoderObjective.Options()
        options.cropSize = 16
        let objective = AutoencoderObjective(vae: vae, options: options)
        vae.setTrainable(true)
        let pixels = randomTensor([2, 3, 24, 24], seed: 9, scale: 0.5)
        let fp = DatasetFingerprint(shardCount: 0, shardHash: 0, seed: 0, shuffleBufferSize: 1, batchSize: 2, bucketCount: 1)
        let batch = TrainingBatch(latents: try objective.batchEncoder(pixels).copy(), captions: ["a", "b"], timeIds: [],
                                  bucket: Bucket(width: 24, height: 24), keys: ["a", "b"],
                                  position: DataPosition(fingerprint: fp, shuffleRNG: DataRNG(seed: 0)))
        let optimizer = AdamW([ParameterGroup(name: "vae", params: objective.trainableParameters.map(\.1))], compute: c)
        var first = 0.0, last = 0.0
        for step in 0..<12 {
            var stepRng = TorchGenerator(seed: 77)   // the same crop and noise every step: a fixed target
            let losses = try objective.losses(batch, step: step, rng: &stepRng, c)
            XCTAssertEqual(losses.map(\.0), ["mse", "kl"])
            XCTAssertEqual(losses[0].1.shape, [])
            let total = c.add(losses[0].1, losses[1].1)
            if step == 0 { first = Double(total.data[0]) }
            last = Double(total.data[0])
            optimizer.zeroGrad()
            total.backward(compute: c)
            optimizer.step(lr: 3e-3)
        }
        XCTAssertLessThan(last, first * 0.9, "loss \(first) → \(last)")
        let factor = objective.scalingFactor(for: [pixels], c)
        XCTAssertTrue(factor.isFinite && factor > 0)
    }

    /// Nearest-image evaluation over a two-shard dataset: the own image is found at rank 1, a different image is
    /// not, and the selection is spread over the key order.
    func testNearestImageEval() throws {
        let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("sumi-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let colors: [RGBPixel] = [.init(r: 250, g: 10, b: 10), .init(r: 10, g: 250, b: 10), .init(r: 10, g: 10, b: 250),
                                  .init(r: 250, g: 250, b: 10)]
        for shard in 0..<2 {
            var tar = TarBuilder()
            for j in 0..<2 {
                let i = shard * 2 + j
                var image = RGBImage(width: 64, height: 64, fill: .white)
                for y in 8..<(40 + 4 * i) { for x in 8..<40 { image[x, y] = colors[i] } }
                tar.add("\(i)_e.png", try PNG.encode(image))
                tar.add("\(i)_e.json", "{\"name\": \"emoji \(i)\", \"tags\": [\"emoji \(i)\", \"thing\"]}")
                tar.add("\(i)_e.txt", "emoji \(i), thing")
            }
            try Data(tar.finished()).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("s-00\(shard).tar")))
        }
        let eval = try NearestImageEval(shards: (dir as NSString).appendingPathComponent("s-{000..001}.tar"), side: 32)
        XCTAssertEqual(eval.references.map(\.name), ["emoji 0", "emoji 1", "emoji 2", "emoji 3"])
        XCTAssertEqual(eval.selection(count: 2).map(\.key), ["0_e", "2_e"])
        let own = eval.references[2]
        let hit = eval.match(own.image, own: own)
        XCTAssertTrue(hit.hit)
        XCTAssertEqual(hit.nearestName, "emoji 2")
        let miss = eval.match(eval.references[3].image, own: own)
        XCTAssertFalse(miss.hit)
        XCTAssertEqual(miss.nearestKey, "3_e")
        XCTAssertGreaterThan(miss.ownRank, 1)
    }
}
