import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Trainer

/// kohya's loss weightings (min-SNR-γ, debiased estimation), the weighted MSE with its gradient, and caption tag
/// dropout.
final class LossWeightingTests: XCTestCase {
    let c = Compute(threads: 2)

    func fixture() throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("training/loss_weight.safetensors", target: "TrainerTests"))
    }

    func testWeightsMatchKohyasFormulas() throws {
        let file = try fixture()
        let timesteps = try file.tensor("timesteps").scalars.map { Int($0) }
        let schedule = DDPMTrainingSchedule.sdxl
        let snr = Tensor(shape: [timesteps.count], values: timesteps.map { schedule.snr($0) })
        let minSNR = Tensor(shape: [timesteps.count], values: timesteps.map {
            schedule.lossWeight($0, minSNRGamma: 5, debiased: false)
        })
        let debiased = Tensor(shape: [timesteps.count], values: timesteps.map {
            schedule.lossWeight($0, minSNRGamma: 0, debiased: true)
        })
        assertClose(snr, try file.tensor("snr"), rtol: 1e-5, "snr")
        assertClose(minSNR, try file.tensor("min_snr_5"), rtol: 1e-5, "min-SNR-5")
        assertClose(debiased, try file.tensor("debiased"), rtol: 1e-5, "debiased")
        XCTAssertEqual(schedule.lossWeight(500, minSNRGamma: 0, debiased: false), 1)
        // Both together multiply, and high noise gets more weight than low noise under debiased estimation.
        XCTAssertEqual(schedule.lossWeight(999, minSNRGamma: 5, debiased: true),
                       schedule.lossWeight(999, minSNRGamma: 5, debiased: false) * schedule.lossWeight(999, minSNRGamma: 0, debiased: true),
                       accuracy: 1e-6)
        XCTAssertGreaterThan(schedule.lossWeight(999, minSNRGamma: 0, debiased: true),
                             10 * schedule.lossWeight(100, minSNRGamma: 0, debiased: true))
    }

    func testWeightedMSEAndGradientMatchTorch() throws {
        let file = try fixture()
        let pred = try file.tensor("pred")
        pred.requiresGrad = true
        let target = try file.tensor("target")
        let weights = try file.tensor("weights").scalars
        let loss = c.mse(pred, target, sampleWeights: weights)
        assertClose(loss, try file.tensor("loss").viewing(as: []), rtol: 1e-5, "loss")
        loss.backward(seed: Tensor(shape: [], values: [1]), compute: c)
        assertClose(pred.grad, try file.tensor("grad"), rtol: 1e-5, "grad")
    }

    func testUnitWeightsEqualPlainMSE() {
        var rng = TorchGenerator(seed: 4)
        let a = rng.randn([3, 2, 5]), b = rng.randn([3, 2, 5])
        XCTAssertEqual(c.mse(a, b, sampleWeights: [1, 1, 1]).scalars[0], c.mse(a, b).scalars[0], accuracy: 1e-6)
    }

    func testTagDropoutKeepsLeadingTagsAndDrawsOncePerDroppableTag() {
        var rng = TorchGenerator(seed: 9)
        // Rate 1 drops every droppable tag; rate 0 keeps all (and normalises the separator).
        XCTAssertEqual(DenoisingObjective.dropTags("red apple, apple, fruit, red", rate: 1, keep: 1, &rng), "red apple")
        XCTAssertEqual(DenoisingObjective.dropTags("red apple,apple , fruit", rate: 0, keep: 1, &rng), "red apple, apple, fruit")
        XCTAssertEqual(DenoisingObjective.dropTags("", rate: 1, keep: 1, &rng), "")
        XCTAssertEqual(DenoisingObjective.dropTags("a, b", rate: 1, keep: 2, &rng), "a, b")
        // One uniform per droppable tag, in order: replaying the draws reproduces the choice.
        var r1 = TorchGenerator(seed: 21), r2 = TorchGenerator(seed: 21)
        let out = DenoisingObjective.dropTags("n, k1, k2, k3, k4, k5, k6", rate: 0.5, keep: 1, &r1)
        let expected = ["n"] + ["k1", "k2", "k3", "k4", "k5", "k6"].filter { _ in DenoisingObjective.uniform(&r2) >= 0.5 }
        XCTAssertEqual(out, expected.joined(separator: ", "))
        XCTAssertEqual(r1.nextUInt32(), r2.nextUInt32())
    }

    func testTimestepRangeDrawsWithinItAndFullRangeKeepsTheOldDraws() {
        var rng = TorchGenerator(seed: 5), old = TorchGenerator(seed: 5)
        XCTAssertEqual(DenoisingObjective.drawTimesteps(64, in: 0..<1000, &rng), (0..<64).map { _ in Int(old.nextUInt32() % 1000) })
        let high = DenoisingObjective.drawTimesteps(500, in: 600..<1000, &rng)
        XCTAssertTrue(high.allSatisfy { (600..<1000).contains($0) })
        XCTAssertGreaterThan(Set(high).count, 250, "spread over the range (≈ 285 distinct expected)")
    }
}
