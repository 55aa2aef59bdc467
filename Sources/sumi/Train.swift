import ArgumentParser
import Dispatch
import Foundation
import Tensor
import Trainer

/// `sumi train --config FILE.toml`: full or LoRA training of an SDXL-architecture model (docs/TRAINING.md).
/// Flags override the config file. Ctrl-C stops after the current step and saves a checkpoint first (a second
/// Ctrl-C exits at once); `--resume` continues from the run directory's latest checkpoint.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train (fine-tune, LoRA, or from scratch) an SDXL-architecture model from a TOML config.",
        discussion: "The config format is documented in docs/TRAINING.md; see examples/train-tiny.toml.")

    @Option(help: "Training config (TOML).", completion: .file(extensions: ["toml"]))
    var config: String?
    @Option(help: "Optimizer steps (overrides train.steps).")
    var steps: Int?
    @Option(help: "Learning rate (overrides optimizer.lr).")
    var lr: Double?
    @Option(name: .customLong("batch-size"), help: "Images per batch (overrides data.batch_size).")
    var batchSize: Int?
    @Option(help: "Run directory (overrides output.dir).", completion: .directory)
    var output: String?
    @Option(help: "Seed of noise, timesteps and caption dropout (overrides train.seed).")
    var seed: UInt64?
    @Option(help: "Optimizer: adamw or adamw8bit (overrides optimizer.type).")
    var optimizer: String?
    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint every N steps (overrides output.checkpoint_every).")
    var checkpointEvery: Int?
    @Option(name: .customLong("sample-every"), help: "Sample images every N steps (overrides output.sample_every).")
    var sampleEvery: Int?
    @Option(help: "Training data shards, e.g. data/shard-{000..009}.tar (overrides data.shards).")
    var shards: String?
    @Flag(help: "Continue from the run directory's latest checkpoint.")
    var resume = false
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Option(name: .customLong("make-test-dataset"), help: .hidden)   // writes a small synthetic webdataset and exits
    var makeTestDataset: String?

    func run() throws {
        do {
            try train()
        } catch let error as CleanExit {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("sumi train: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func train() throws {
        let log = StatusLine()
        if let dir = makeTestDataset {
            let pattern = try SyntheticDataset.write(directory: dir)
            print(pattern)
            return
        }
        guard let path = config else { throw TrainCommandError("--config FILE.toml is required") }
        var cfg = try TrainingConfig.load(path: path)
        if let steps { cfg.train.steps = steps; cfg.schedule.totalSteps = steps }
        if let lr { cfg.schedule.lr = lr }
        if let batchSize { cfg.data.batchSize = batchSize }
        if let output { cfg.output.dir = output }
        if let seed { cfg.train.seed = seed }
        if let checkpointEvery { cfg.output.checkpointEvery = checkpointEvery }
        if let sampleEvery { cfg.output.sampleEvery = sampleEvery }
        if let shards { cfg.data.shards = (shards as NSString).isAbsolutePath ? shards : FileManager.default.currentDirectoryPath + "/" + shards }
        if let optimizer {
            guard let kind = OptimizerSettings.Kind(rawValue: optimizer) else {
                throw TrainCommandError("--optimizer: unknown optimizer `\(optimizer)` (adamw, adamw8bit)")
            }
            cfg.optimizer.kind = kind
        }
        for (flag, v) in [("--steps", steps), ("--batch-size", batchSize)] where (v ?? 1) <= 0 {
            throw TrainCommandError("\(flag) must be positive")
        }
        if let lr, !(lr >= 0) { throw TrainCommandError("--lr must be a non-negative number") }
        try cfg.validate()

        let c = Compute(threads: threads)
        let session = try TrainingSession(config: cfg, compute: c, searchRoots: ResourceLocator.candidates("."),
                                          log: { log.line($0) })
        let loop = session.loop
        if resume {
            guard try session.resume() else {
                throw TrainCommandError("\(cfg.output.dir)/checkpoints: nothing to resume (no checkpoint yet)")
            }
            log.line("resumed at step \(loop.step) of \(cfg.train.steps)")
        }
        log.line("training \(loop.parameters.reduce(0) { $0 + $1.1.count }) parameters (\(cfg.train.mode)) for \(cfg.train.steps) steps; run directory \(cfg.output.dir)")

        // Ctrl-C: stop after this step and save; a second Ctrl-C exits at once.
        signal(SIGINT, SIG_IGN)
        let interrupts = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        var count = 0
        interrupts.setEventHandler {
            count += 1
            if count == 1 {
                loop.cancel.set()
                log.write("\nstopping after this step (saving a checkpoint; Ctrl-C again to quit now)\n")
            } else {
                Foundation.exit(130)
            }
        }
        interrupts.resume()

        let bar = TrainProgress(total: cfg.train.steps, status: log)
        let outcome = try loop.run(fresh: !resume) { bar.update($0, rate: loop) }
        bar.finish()
        interrupts.cancel()
        log.line("\(outcome.rawValue) at step \(loop.step); checkpoint in \(cfg.output.dir)/checkpoints")
        if outcome != .cancelled {
            for p in try session.export(c) { print(p) }
        }
        if outcome == .cancelled { throw ExitCode(130) }
    }
}

/// A one-line error of the train command.
struct TrainCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The training progress line: step/total, losses, learning rate, it/s and ETA — redrawn in place on a terminal,
/// one line per percent otherwise.
final class TrainProgress {
    let total: Int
    let status: StatusLine
    let start = Date()
    var startStep: Int?
    let width = 20

    init(total: Int, status: StatusLine) {
        self.total = total
        self.status = status
    }

    func update(_ r: StepReport, rate loop: TrainingLoop) {
        if startStep == nil { startStep = r.step - 1 }
        let done = r.step - (startStep ?? 0)
        let elapsed = Date().timeIntervalSince(start)
        let itPerS = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = itPerS > 0 ? Double(total - r.step) / itPerS : 0
        let filled = total > 0 ? width * r.step / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let losses = r.losses.map { String(format: "%@ %.4f", $0.0, $0.1) }.joined(separator: " ")
        let speed = itPerS >= 1 || itPerS == 0 ? String(format: "%.2f it/s", itPerS) : String(format: "%.1f s/it", 1 / itPerS)
        let text = String(format: "step %d/%d %@ %@  lr %.2e  |g| %.3g  %@  ETA %@", r.step, total, bar, losses, r.lr,
                          r.gradNorm, speed, Self.duration(eta))
        if status.isTerminal {
            status.write("\r\u{1B}[2K" + text)
        } else if r.step == total || r.step % max(1, total / 100) == 0 {
            status.line(text)
        }
    }

    func finish() { if status.isTerminal { status.write("\n") } }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }
}
