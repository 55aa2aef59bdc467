import Checkpoint
import Diffusion
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Trainer

/// ModelInitializer against torch's layer constructors, and the learning-rate schedule.
final class TrainingUnitTests: XCTestCase {
    final class Named: Module {
        let namedParameters: [(String, Tensor)]
        init(_ p: [(String, Tensor)]) { namedParameters = p }
    }

    func testDefaultInitMatchesTorchLayersBitForBit() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("training/init.safetensors", target: "TrainerTests"))
        func check(_ name: String, seed: UInt64, _ module: Module, rename: [String: String] = [:]) throws {
            var rng = TorchGenerator(seed: seed)
            ModelInitializer.initialize(module, rng: &rng)
            for (k, t) in module.namedParameters {
                assertBitEqual(t, try file.tensor("\(name).\(rename[k] ?? k)"), "\(name).\(k)")
            }
        }
        try check("linear", seed: 3, LinearLayer(37, 5))
        try check("linear_nobias", seed: 4, LinearLayer(8, 24, bias: false))
        try check("conv", seed: 5, Conv2dLayer(6, 4, kernel: 3))
        try check("conv1x1", seed: 6, Conv2dLayer(16, 9, kernel: 1))
        try check("embedding", seed: 7, Named([("token_embedding.weight", Tensor(zeros: [10, 8]))]),
                  rename: ["token_embedding.weight": "weight"])
        // Norm layers: weight 1, bias 0, no draws.
        let norm = GroupNormLayer(groups: 2, channels: 4)
        norm.weight.data[0] = 7; norm.bias.data[1] = 3
        var rng = TorchGenerator(seed: 1)
        ModelInitializer.initialize(norm, rng: &rng)
        XCTAssertEqual(norm.weight.scalars, [1, 1, 1, 1])
        XCTAssertEqual(norm.bias.scalars, [0, 0, 0, 0])
    }

    func testScheduleWarmupStagesAndDecay() {
        var s = LRSchedule(lr: 1e-3, totalSteps: 20, warmupSteps: 4,
                           stages: [.init(name: "s1", steps: 3, lr: 2e-3), .init(name: "s2", steps: 3, lr: 5e-4)],
                           decay: .cosine, minLR: 1e-4)
        XCTAssertNil(s.problem)
        XCTAssertEqual(s.rate(at: 0).lr, 2e-3 * 1 / 4, accuracy: 1e-15)
        XCTAssertEqual(s.rate(at: 3).lr, 2e-3, accuracy: 1e-15)
        XCTAssertEqual(s.rate(at: 0).stage, "warmup")
        XCTAssertEqual((4...6).map { s.rate(at: $0).stage }, ["s1", "s1", "s1"])
        XCTAssertEqual((7...9).map { s.rate(at: $0).lr }, [5e-4, 5e-4, 5e-4])
        // Tail: steps 10..<20, n = 10, cosine from 1e-3 to 1e-4.
        XCTAssertEqual(s.rate(at: 10).lr, 1e-3, accuracy: 1e-15)
        XCTAssertEqual(s.rate(at: 15).lr, 1e-4 + 0.9e-3 * 0.5, accuracy: 1e-15)
        XCTAssertEqual(s.rate(at: 10).stage, "main")
        XCTAssertEqual(s.rate(at: 19).lr, 1e-4 + 0.9e-3 * 0.5 * (1 + cos(Double.pi * 9 / 10)), accuracy: 1e-15)
        s.decay = .linear
        XCTAssertEqual(s.rate(at: 15).lr, 1e-3 - 0.9e-3 * 0.5, accuracy: 1e-15)
        s.decay = .constant
        XCTAssertEqual(s.rate(at: 19).lr, 1e-3)
        // Without stages the warm-up ramps to `lr`.
        let plain = LRSchedule(lr: 1e-4, totalSteps: 10, warmupSteps: 2)
        XCTAssertEqual(plain.rate(at: 0).lr, 0.5e-4, accuracy: 1e-18)
        XCTAssertEqual(plain.rate(at: 1).lr, 1e-4, accuracy: 1e-18)
        XCTAssertEqual(plain.rate(at: 9).lr, 1e-4)
        // Stages covering every step: no tail; later steps keep `lr`.
        let staged = LRSchedule(lr: 1, totalSteps: 4, stages: [.init(name: "a", steps: 2, lr: 3), .init(name: "b", steps: 2, lr: 4)])
        XCTAssertEqual((0..<4).map { staged.rate(at: $0).lr }, [3, 3, 4, 4])
        XCTAssertEqual(LRSchedule(lr: 1, totalSteps: 0).problem, "total steps 0 must be positive")
        XCTAssertNotNil(LRSchedule(lr: 1, totalSteps: 5, stages: [.init(name: "x", steps: 0, lr: 1)]).problem)
        XCTAssertNotNil(LRSchedule(lr: -1, totalSteps: 5).problem)
    }

    func testStepSeedsDiffer() {
        let seeds = Set((0..<1000).map { UInt32(truncatingIfNeeded: TrainingLoop.stepSeed(7, $0)) })
        XCTAssertEqual(seeds.count, 1000)
        XCTAssertNotEqual(TrainingLoop.stepSeed(7, 0), TrainingLoop.stepSeed(8, 0))
    }
}
