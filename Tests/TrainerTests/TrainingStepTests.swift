import Checkpoint
import Diffusion
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Trainer

/// One training step against PyTorch/diffusers (tools/reference/training/one_step.py): loss, every parameter's
/// gradient, the global-norm clipping and the AdamW update, through `TrainingLoop.trainStep(batches:)`.
final class TrainingStepTests: XCTestCase {
    /// The fixture's `MICRO` config.
    static let micro = UNetConfig(blockChannels: [8, 16], layersPerBlock: 1, attention: [false, true],
                                  transformerDepth: [0, 1], heads: [0, 2], crossAttentionDim: 16, pooledDim: 8,
                                  additionTimeEmbedDim: 4, normGroups: 4)

    /// Replays the fixture's fixed inputs (no random draws).
    final class FixedObjective: TrainingObjective {
        let name = "denoise"
        let unet: UNet
        var trainable: [(String, Tensor)]? = nil
        let inputs: (latents: Tensor, noise: Tensor, timesteps: [Int], context: Tensor, pooled: Tensor, timeIds: [[Float]])
        init(unet: UNet, file: SafeTensorsFile) throws {
            self.unet = unet
            let ids = try file.tensor("in.time_ids")
            inputs = (try file.tensor("in.latents"), try file.tensor("in.noise"),
                      try file.tensor("in.timesteps").scalars.map { Int($0) }, try file.tensor("in.context"),
                      try file.tensor("in.pooled"), (0..<ids.dim(0)).map { Array(ids.scalars[$0 * 6..<$0 * 6 + 6]) })
        }
        var trainableParameters: [(String, Tensor)] { trainable ?? unet.namedParameters }
        var batchEncoder: LatentBatchLoader.Encoder { { $0 } }
        func losses(_ batch: TrainingBatch, step: Int, rng: inout TorchGenerator, _ c: Compute) throws -> [(String, Tensor)] {
            [("mse", DenoisingObjective.epsilonLoss(unet: unet, schedule: .sdxl, latents: inputs.latents, noise: inputs.noise,
                                                    timesteps: inputs.timesteps, context: inputs.context, pooled: inputs.pooled,
                                                    timeIds: inputs.timeIds, c))]
        }
    }

    static func dummyBatch(_ latents: Tensor) -> TrainingBatch {
        let fp = DatasetFingerprint(shardCount: 0, shardHash: 0, seed: 0, shuffleBufferSize: 1, batchSize: 1, bucketCount: 1)
        return TrainingBatch(latents: latents, captions: [], timeIds: [], bucket: Bucket(width: 64, height: 64), keys: [],
                             position: DataPosition(fingerprint: fp, shuffleRNG: DataRNG(seed: 0)))
    }

    func testScheduleMatchesDiffusersAlphasCumprod() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("training/one_step.safetensors", target: "TrainerTests"))
        let abar = try file.tensor("abar")
        let ours = Tensor(shape: [1000], values: DDPMTrainingSchedule.sdxl.alphasCumprod)
        assertBitEqual(ours, abar, "alphas_cumprod")
    }

    /// The micro UNet with the fixture's weights.
    static func fixtureUNet(_ file: SafeTensorsFile) throws -> UNet {
        let unet = UNet(config: Self.micro)
        for (name, p) in unet.namedParameters {
            let w = try file.tensor("weights.\(name)")
            XCTAssertEqual(w.shape, p.shape, name)
            p.data.update(from: w.data, count: p.count)
        }
        XCTAssertEqual(Set(unet.namedParameters.map { "weights.\($0.0)" }), Set(file.names.filter { $0.hasPrefix("weights.") }))
        return unet
    }

    /// Loop settings from the fixture's `optim` metadata.
    static func settings(_ file: SafeTensorsFile) throws -> TrainingLoopSettings {
        let optim = try JSONSerialization.jsonObject(with: Data(file.metadata["optim"]!.utf8)) as! [String: Any]
        let maxNorm = (optim["max_norm"] as! NSNumber).doubleValue
        var settings = TrainingLoopSettings(totalSteps: 1, lr: (optim["lr"] as! NSNumber).doubleValue)
        let betas = optim["betas"] as! [NSNumber]
        settings.optimizer.beta1 = betas[0].doubleValue
        settings.optimizer.beta2 = betas[1].doubleValue
        settings.optimizer.eps = (optim["eps"] as! NSNumber).doubleValue
        settings.optimizer.weightDecay = (optim["weight_decay"] as! NSNumber).doubleValue
        settings.maxGradNorm = maxNorm
        return settings
    }

    func testOneStepMatchesPyTorch() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("training/one_step.safetensors", target: "TrainerTests"))
        let unet = try Self.fixtureUNet(file)
        let objective = try FixedObjective(unet: unet, file: file)
        let settings = try Self.settings(file)
        let maxNorm = settings.maxGradNorm!
        let loop = try TrainingLoop(objectives: [objective], settings: settings, data: nil, compute: Compute(threads: 2))
        let report = try loop.trainStep(batches: [Self.dummyBatch(objective.inputs.latents)])

        let loss = try file.tensor("out.loss").scalars[0], norm = try file.tensor("out.grad_norm").scalars[0]
        XCTAssertEqual(report.losses.first?.0, "mse")
        XCTAssertEqual(report.losses.first!.1, Double(loss), accuracy: 1e-5 * Double(loss))
        XCTAssertEqual(report.gradNorm, Double(norm), accuracy: 1e-5 * Double(norm))
        print("one step: loss \(report.losses[0].1) vs \(loss), grad norm \(report.gradNorm) vs \(norm)")
        // The loop leaves the clipped gradients in `grad`: compare with the reference's unclipped ones × the factor.
        let coef = Float(maxNorm / (Double(norm) + 1e-6))
        var worstGrad = 0.0, worstUpdate = 0.0
        for (name, p) in unet.namedParameters {
            let expected = try file.tensor("grad.\(name)")
            let clipped = Tensor(shape: expected.shape, values: expected.scalars.map { $0 * coef })
            assertClose(p.grad, clipped, rtol: 1e-5, "grad \(name)")
            if let g = p.grad { worstGrad = max(worstGrad, closeness(g, clipped, rtol: 1e-5).maxRelative) }
            let updated = try file.tensor("updated.\(name)")
            assertClose(p, updated, rtol: 1e-5, "updated \(name)")
            worstUpdate = max(worstUpdate, closeness(p, updated, rtol: 1e-5).maxRelative)
        }
        print("one step: worst grad max-rel \(worstGrad), worst updated-weight max-rel \(worstUpdate) over \(unet.namedParameters.count) tensors")
    }

    func testOneLoRAStepMatchesPeft() throws {
        let base = try SafeTensorsFile(path: Fixtures.path("training/one_step.safetensors", target: "TrainerTests"))
        let file = try SafeTensorsFile(path: Fixtures.path("training/lora_step.safetensors", target: "TrainerTests"))
        let unet = try Self.fixtureUNet(base)
        let lora = TrainableLoRA(model: unet, rank: Int(file.metadata["rank"]!)!, alpha: Float(file.metadata["alpha"]!)!,
                                 targets: TrainableLoRA.dmd2Targets, seed: 0)
        XCTAssertEqual(lora.targets.count * 2, file.names.filter { $0.hasPrefix("lora.") }.count, "same adapted modules as peft")
        for t in lora.targets {
            let path = String(t.weightName.dropLast(".weight".count))
            for (field, tensor) in [("down", t.adapter.down), ("up", t.adapter.up)] {
                let v = try file.tensor("lora.\(path).\(field)")
                XCTAssertEqual(v.shape, tensor.shape, "\(path).\(field)")
                tensor.data.update(from: v.data, count: tensor.count)
            }
        }
        unet.setTrainable(false)
        let objective = try FixedObjective(unet: unet, file: base)
        objective.trainable = lora.parameters
        let settings = try Self.settings(base)
        let loop = try TrainingLoop(objectives: [objective], settings: settings, data: nil, compute: Compute(threads: 2))
        let report = try loop.trainStep(batches: [Self.dummyBatch(objective.inputs.latents)])
        let loss = try file.tensor("out.loss").scalars[0], norm = try file.tensor("out.grad_norm").scalars[0]
        XCTAssertEqual(report.losses.first!.1, Double(loss), accuracy: 1e-5 * Double(loss))
        XCTAssertEqual(report.gradNorm, Double(norm), accuracy: 1e-5 * Double(norm))
        XCTAssertTrue(unet.namedParameters.allSatisfy { $0.1.grad == nil }, "the base stays frozen")
        let coef = Float(settings.maxGradNorm! / (Double(norm) + 1e-6))
        var worstGrad = 0.0, worstUpdate = 0.0
        for t in lora.targets {
            let path = String(t.weightName.dropLast(".weight".count))
            for (field, tensor) in [("down", t.adapter.down), ("up", t.adapter.up)] {
                let expected = try file.tensor("grad.\(path).\(field)")
                let clipped = Tensor(shape: expected.shape, values: expected.scalars.map { $0 * coef })
                assertClose(tensor.grad, clipped, rtol: 1e-5, "grad \(path).\(field)")
                if let g = tensor.grad { worstGrad = max(worstGrad, closeness(g, clipped, rtol: 1e-5).maxRelative) }
                let updated = try file.tensor("updated.\(path).\(field)")
                assertClose(tensor, updated, rtol: 1e-5, "updated \(path).\(field)")
                worstUpdate = max(worstUpdate, closeness(tensor, updated, rtol: 1e-5).maxRelative)
            }
        }
        print("LoRA step: loss \(report.losses[0].1) vs \(loss); worst grad max-rel \(worstGrad), worst updated max-rel \(worstUpdate) over \(lora.targets.count) modules")
    }
}
