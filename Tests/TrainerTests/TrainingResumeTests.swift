import Checkpoint
import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Trainer

/// Resume is exact (in process; scripts/resume-kill-test.sh does it across SIGKILL), checkpoints are atomic and
/// damaged ones are refused with errors naming the file.
final class TrainingResumeTests: XCTestCase {
    static let merges = Fixtures.testsRoot.deletingLastPathComponent().appendingPathComponent("models/tokenizer/clip-merges.txt").path

    /// A tiny from-scratch run on a synthetic dataset in `dir`.
    static func config(_ dir: String, steps: Int, optimizer: String = "adamw", extra: String = "") throws -> TrainingConfig {
        let pattern = try SyntheticDataset.write(directory: dir + "/data", shards: 2, perShard: 8)
        let toml = """
            [model]
            architecture = "tiny"
            tokenizer = "\(merges)"
            [data]
            shards = "\(pattern)"
            resolution = 32
            bucket_step = 16
            batch_size = 2
            shuffle_buffer = 8
            [train]
            steps = \(steps)
            caption_dropout = 0.3
            noise_offset = 0.05
            [optimizer]
            type = "\(optimizer)"
            lr = 1e-3
            [schedule]
            warmup_steps = 2
            decay = "cosine"
            [output]
            dir = "\(dir)/run"
            checkpoint_every = 0
            \(extra)
            """
        return try TrainingConfig.parse(toml: toml, file: dir + "/config.toml")
    }

    func tempDir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-train-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Building a session (whose data thread has a one-worker context) leaves OpenBLAS's process-wide thread
    /// count alone: it once reset it to 1 and every training GEMM ran on one core.
    func testSessionKeepsOpenBLASThreads() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Compute(threads: 2)
        XCTAssertEqual(BLAS.threads, 2)
        let session = try TrainingSession(config: try Self.config(dir, steps: 1), compute: c)
        XCTAssertEqual(BLAS.threads, 2)
        XCTAssertNotNil(try session.loop.trainStep())
        XCTAssertEqual(BLAS.threads, 2)
        _ = Compute(threads: 1, setsBLASThreads: false)
        XCTAssertEqual(BLAS.threads, 2)
    }

    func runResume(optimizer: String) throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Compute(threads: 2)
        let straight = try TrainingSession(config: try Self.config(dir + "/a", steps: 6, optimizer: optimizer), compute: c)
        XCTAssertEqual(try straight.loop.run(), .completed)

        var half = try Self.config(dir + "/b", steps: 6, optimizer: optimizer)
        let first = try TrainingSession(config: half, compute: c)
        for _ in 0..<3 { XCTAssertNotNil(try first.loop.trainStep()) }
        try first.loop.saveCheckpoint()
        half.sourcePath = dir + "/b/config.toml"
        let second = try TrainingSession(config: half, compute: c)   // fresh random init, overwritten by resume
        XCTAssertTrue(try second.resume())
        XCTAssertEqual(second.loop.step, 3)
        XCTAssertEqual(try second.loop.run(fresh: false), .completed)

        for ((n, a), (_, b)) in zip(straight.loop.parameters, second.loop.parameters) { assertBitEqual(b, a, n) }
        let sa = straight.loop.optimizer.stateTensors(), sb = second.loop.optimizer.stateTensors()
        XCTAssertEqual(sa.map(\.0), sb.map(\.0))
        for ((n, a), (_, b)) in zip(sa, sb) { assertBitEqual(b, a, n) }
        XCTAssertEqual(straight.loop.optimizer.stateScalars().map(\.1), second.loop.optimizer.stateScalars().map(\.1))
        if optimizer == "adamw8bit" {
            XCTAssertTrue(sa.contains { $0.0.hasSuffix(".state1") }, "some tensors are 8-bit quantised")
        }
        // Both final checkpoints are byte-identical files.
        for f in ["weights.safetensors", "optimizer.safetensors"] {
            let a = FileManager.default.contents(atPath: "\(dir)/a/run/checkpoints/step-00000006/\(f)")
            let b = FileManager.default.contents(atPath: "\(dir)/b/run/checkpoints/step-00000006/\(f)")
            XCTAssertNotNil(a)
            XCTAssertEqual(a, b, f)
        }
        let lines = try String(contentsOfFile: "\(dir)/b/run/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let steps = lines.compactMap(MetricsRecord.parse).filter { $0.event == .step }
        XCTAssertEqual(steps.map(\.step), [4, 5, 6], "a resumed run appends its own steps")
        XCTAssertEqual(steps.first?.totalSteps, 6)
        XCTAssertNotNil(steps.first?.losses["mse"])
    }

    func testResumeIsExactAdamW() throws { try runResume(optimizer: "adamw") }
    func testResumeIsExactAdamW8bit() throws { try runResume(optimizer: "adamw8bit") }

    func testCheckpointLayoutPruningAndDamage() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Compute(threads: 2)
        var cfg = try Self.config(dir, steps: 4)
        cfg.output.checkpointEvery = 1
        cfg.output.keepCheckpoints = 2
        let s = try TrainingSession(config: cfg, compute: c)
        let root = dir + "/run/checkpoints"
        try FileManager.default.createDirectory(atPath: root + "/step-00000001.tmp-99-1", withIntermediateDirectories: true)
        XCTAssertEqual(try s.loop.run(), .completed)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root).sorted(), ["latest", "step-00000003", "step-00000004"],
                       "older checkpoints and stray temporaries are removed")
        XCTAssertEqual(try TrainingCheckpoint.latest(root: root), root + "/step-00000004")
        let good = try TrainingCheckpoint.read(root + "/step-00000004")
        XCTAssertEqual(good.state.step, 4)
        XCTAssertEqual(good.state.configHash, cfg.trajectoryHash)

        // Truncated weights.
        let ck = root + "/step-00000003"
        let w = ck + "/weights.safetensors"
        let bytes = FileManager.default.contents(atPath: w)!
        try bytes.prefix(bytes.count - 7).write(to: URL(fileURLWithPath: w))
        XCTAssertThrowsError(try TrainingCheckpoint.read(ck)) { e in
            guard case .corruptCheckpoint(let path, _)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertEqual(path, w)
        }
        // Garbage state.json.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: ck + "/state.json"))
        XCTAssertThrowsError(try TrainingCheckpoint.read(ck)) { e in
            XCTAssertTrue("\(e)".hasPrefix(ck + "/state.json: unreadable checkpoint"), "\(e)")
        }
        // A pointer to nowhere sensible, and no pointer at all.
        try Data("../../etc\n".utf8).write(to: URL(fileURLWithPath: root + "/latest"))
        XCTAssertThrowsError(try TrainingCheckpoint.latest(root: root))
        XCTAssertEqual(try TrainingCheckpoint.latest(root: dir), nil)

        // Another configuration refuses the checkpoint.
        var other = cfg
        other.schedule.lr = 5e-4
        try Data("step-00000004\n".utf8).write(to: URL(fileURLWithPath: root + "/latest"))
        let s2 = try TrainingSession(config: other, compute: c)
        XCTAssertThrowsError(try s2.resume()) { e in
            guard case .configMismatch? = e as? TrainingError else { return XCTFail("\(e)") }
        }
        // A weights file whose tensors do not fit.
        let s3 = try TrainingSession(config: cfg, compute: c)
        let loaded = try TrainingCheckpoint.read(root + "/step-00000004")
        XCTAssertThrowsError(try TrainingCheckpoint.restoreWeights(Array(s3.loop.parameters.dropLast()), from: loaded)) { e in
            XCTAssertTrue("\(e)".contains("unexpected tensor"), "\(e)")
        }
    }
}
