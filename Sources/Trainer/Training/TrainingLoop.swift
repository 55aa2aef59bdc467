import Foundation
import Tensor

/// Runs training steps over objectives: data, optimizer, learning-rate schedule, gradient accumulation, clipping,
/// metrics, samples, checkpoints and resume.
///
/// Determinism: step s draws its randomness from `TorchGenerator(seed: stepSeed(seed, s))`, a generator derived
/// from the run's seed and the step alone. Together with the data position (restored from the checkpoint) and the
/// exact optimizer state this makes "N steps" and "N/2 steps, stop, resume, N/2 steps" bit-identical, with no
/// generator state to carry between steps.
///
/// All objectives see the same batch (encoded by the first objective's `batchEncoder`); their losses are summed
/// into one scalar, and one optimizer holds one parameter group per objective (named after it).
public final class TrainingLoop {
    /// What is optimised.
    public let objectives: [TrainingObjective]
    /// The settings.
    public let settings: TrainingLoopSettings
    /// The optimizer over every objective's trainable tensors.
    public let optimizer: Optimizer
    /// Every trainable tensor as `<objective>.<name>` (the checkpoint names).
    public let parameters: [(String, Tensor)]
    /// Optimizer steps completed.
    public private(set) var step = 0
    /// Set from another thread to stop after the current step (a checkpoint is saved first).
    public let cancel = CancelFlag()
    /// Called with every metrics record (the studio's dashboard), on the training thread.
    public var onRecord: ((MetricsRecord) -> Void)?
    /// Writes sample images for a step and returns their paths (e.g. an `SDXLPipeline` generation).
    public var sampler: ((Int) throws -> [String])?

    private let compute: Compute
    private let data: WebDatasetConfig?
    private let prefetch: Int
    private var loader: LatentBatchLoader?
    private var position: DataPosition?
    private var metrics: FileHandle?
    private var rate: Double?
    private var lastCheckpointStep = -1

    /// A loop over `data` (nil: every step must be driven with explicit batches through `trainStep(batches:)`).
    /// Trainable tensors get `requiresGrad`; the optimizer is built from `settings.optimizer`.
    public init(objectives: [TrainingObjective], settings: TrainingLoopSettings, data: WebDatasetConfig?,
                prefetch: Int = 2, compute: Compute) throws {
        precondition(!objectives.isEmpty, "TrainingLoop needs an objective")
        if let p = settings.schedule.problem { throw TrainingError.invalidConfig(file: "<settings>", key: "schedule", reason: p) }
        guard settings.gradientAccumulation >= 1 else {
            throw TrainingError.invalidConfig(file: "<settings>", key: "gradient_accumulation",
                                              reason: "\(settings.gradientAccumulation) must be at least 1")
        }
        self.objectives = objectives
        self.settings = settings
        self.data = data
        self.prefetch = prefetch
        self.compute = compute
        var groups: [ParameterGroup] = [], params: [(String, Tensor)] = []
        for o in objectives {
            let named = o.trainableParameters
            groups.append(ParameterGroup(name: o.name, params: named.map(\.1)))
            params += named.map { ("\(o.name).\($0.0)", $0.1) }
        }
        parameters = params
        optimizer = settings.optimizer.make(groups, compute: compute)
    }

    deinit { loader?.stop() }

    /// The generator seed of step `step`: SplitMix64 of (seed, step), so neighbouring steps are unrelated.
    public static func stepSeed(_ seed: UInt64, _ step: Int) -> UInt64 {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(step + 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: Resume

    /// Restores weights, optimizer state, step and data position from a checkpoint directory.
    public func resume(from dir: String) throws {
        let loaded = try TrainingCheckpoint.read(dir)
        let st = loaded.state
        let statePath = (dir as NSString).appendingPathComponent(TrainingCheckpoint.stateFile)
        guard st.configHash == settings.configHash else {
            throw TrainingError.configMismatch(path: dir, expected: settings.configHash, found: st.configHash)
        }
        guard st.objectives == objectives.map(\.name) else {
            throw TrainingError.corruptCheckpoint(path: statePath, reason: "objectives \(st.objectives), this run has \(objectives.map(\.name))")
        }
        guard st.optimizer == settings.optimizer.kind.rawValue else {
            throw TrainingError.corruptCheckpoint(path: statePath, reason: "optimizer \(st.optimizer), this run uses \(settings.optimizer.kind.rawValue)")
        }
        try TrainingCheckpoint.restoreWeights(parameters, from: loaded)
        try TrainingCheckpoint.restoreOptimizer(optimizer, from: loaded)
        step = st.step
        position = st.dataPosition
        lastCheckpointStep = st.step
        loader?.stop()
        loader = nil
    }

    /// Resumes from `<checkpointDirectory>/latest`; false when there is none.
    @discardableResult
    public func resumeLatest() throws -> Bool {
        guard let root = settings.checkpointDirectory, let dir = try TrainingCheckpoint.latest(root: root) else { return false }
        try resume(from: dir)
        return true
    }

    // MARK: Steps

    /// One optimizer step on the next batches from the data; nil when the data ran out first.
    public func trainStep() throws -> StepReport? {
        var batches: [TrainingBatch] = []
        let source = try dataLoader()
        for _ in 0..<settings.gradientAccumulation {
            guard let b = try source.next() else { return nil }
            batches.append(b)
        }
        let report = try trainStep(batches: batches)
        position = batches.last?.position ?? position
        return report
    }

    /// One optimizer step on explicit micro-batches (gradients averaged over them).
    public func trainStep(batches: [TrainingBatch]) throws -> StepReport {
        precondition(!batches.isEmpty, "TrainingLoop.trainStep: no batches")
        let start = Date()
        let (lr, stage) = settings.schedule.rate(at: step)
        optimizer.zeroGrad()
        var rng = TorchGenerator(seed: Self.stepSeed(settings.seed, step))
        var sums: [(String, Double)] = []
        let scale = 1 / Float(batches.count)
        for batch in batches {
            var terms: [(String, Tensor)] = []
            for o in objectives { terms += try o.losses(batch, step: step, rng: &rng, compute) }
            guard var total = terms.first?.1 else { continue }
            for (k, (name, t)) in terms.enumerated() {
                let v = Double(t.data[0])
                guard v.isFinite else { throw TrainingError.nonFiniteLoss(step: step + 1, name: name) }
                if let i = sums.firstIndex(where: { $0.0 == name }) { sums[i].1 += v } else { sums.append((name, v)) }
                if k > 0 { total = compute.add(total, t) }
            }
            if batches.count > 1 { total = compute.scale(total, by: scale) }
            total.backward(compute: compute)
        }
        let norm = clipGradNorm(parameters.map(\.1), maxNorm: Float(settings.maxGradNorm ?? .infinity), compute: compute)
        optimizer.step(lr: Float(lr))
        step += 1
        let seconds = Date().timeIntervalSince(start)
        return StepReport(step: step, stage: stage, lr: lr, losses: sums.map { ($0.0, $0.1 / Double(batches.count)) },
                          gradNorm: Double(norm), seconds: seconds)
    }

    private func dataLoader() throws -> LatentBatchLoader {
        if let loader { return loader }
        guard let data else { throw TrainingError.noData(reason: "the loop has no dataset") }
        let l = try LatentBatchLoader(config: data, prefetch: prefetch, resumeFrom: position, encode: objectives[0].batchEncoder)
        loader = l
        return l
    }

    // MARK: Run

    /// Steps until `totalSteps`, the cancel flag, or the end of the data; saves checkpoints and samples on
    /// schedule and at the end. `progress` sees every step report. `fresh` starts a new metrics file (false
    /// appends, for a resumed run).
    public func run(fresh: Bool = true, progress: ((StepReport) -> Void)? = nil) throws -> TrainingOutcome {
        try openMetrics(fresh: fresh)
        defer { try? metrics?.close(); metrics = nil; loader?.stop(); loader = nil }
        if let root = settings.checkpointDirectory { TrainingCheckpoint.prune(root: root, keep: 0) }
        emit(event: .start, stage: settings.schedule.rate(at: step).stage, message: "step \(step) of \(settings.totalSteps)")
        var outcome = TrainingOutcome.completed
        while step < settings.totalSteps {
            if cancel.isSet { outcome = .cancelled; break }
            guard let report = try trainStep() else { outcome = .dataExhausted; break }
            updateRate(report.seconds)
            let remaining = Double(settings.totalSteps - step)
            emit(MetricsRecord(step: step, totalSteps: settings.totalSteps, stage: report.stage,
                               losses: Dictionary(report.losses, uniquingKeysWith: { a, _ in a }), lr: report.lr,
                               gradNorm: report.gradNorm, itPerS: rate, etaSeconds: rate.map { remaining / $0 },
                               time: Date().timeIntervalSince1970))
            progress?(report)
            if settings.checkpointEvery > 0, step % settings.checkpointEvery == 0 { try saveCheckpoint() }
            if settings.sampleEvery > 0, step % settings.sampleEvery == 0 { try sample() }
        }
        if outcome == .completed, settings.sampleEvery > 0, step % settings.sampleEvery != 0 { try sample() }
        try saveCheckpoint()
        emit(event: .end, stage: settings.schedule.rate(at: max(step - 1, 0)).stage, message: outcome.rawValue)
        return outcome
    }

    /// Saves a checkpoint of the current step (skipped when this step is already saved or there is no directory).
    @discardableResult
    public func saveCheckpoint() throws -> String? {
        guard let root = settings.checkpointDirectory, step != lastCheckpointStep else { return nil }
        let state = TrainingCheckpointState(step: step, seed: settings.seed, configHash: settings.configHash,
                                            objectives: objectives.map(\.name), optimizer: settings.optimizer.kind.rawValue,
                                            optimizerScalars: [:], dataPosition: position, fileSizes: [:],
                                            time: Date().timeIntervalSince1970, metadata: settings.metadata)
        let path = try TrainingCheckpoint.write(root: root, state: state, weights: parameters, optimizer: optimizer)
        lastCheckpointStep = step
        TrainingCheckpoint.prune(root: root, keep: settings.keepCheckpoints)
        emit(event: .checkpoint, stage: settings.schedule.rate(at: max(step - 1, 0)).stage, message: path)
        return path
    }

    private func sample() throws {
        guard let sampler else { return }
        let paths = try sampler(step)
        var r = record(event: .sample, stage: settings.schedule.rate(at: max(step - 1, 0)).stage, message: nil)
        r.samples = paths
        emit(r)
    }

    private func updateRate(_ seconds: Double) {
        guard seconds > 0 else { return }
        let now = 1 / seconds
        rate = rate.map { 0.9 * $0 + 0.1 * now } ?? now
    }

    // MARK: Metrics

    private func openMetrics(fresh: Bool) throws {
        guard let path = settings.metricsPath else { return }
        let fm = FileManager.default
        try? fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if fresh || !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: nil) else { throw TrainingError.io(path: path, reason: "cannot create metrics file") }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw TrainingError.io(path: path, reason: "cannot open metrics file") }
        h.seekToEndOfFile()
        metrics = h
    }

    private func record(event: MetricsRecord.Event, stage: String, message: String?) -> MetricsRecord {
        MetricsRecord(step: step, totalSteps: settings.totalSteps, stage: stage, losses: [:],
                      lr: settings.schedule.rate(at: max(step - 1, 0)).lr, time: Date().timeIntervalSince1970,
                      event: event, message: message)
    }

    private func emit(event: MetricsRecord.Event, stage: String, message: String?) {
        emit(record(event: event, stage: stage, message: message))
    }

    private func emit(_ r: MetricsRecord) {
        metrics?.write(Data((r.jsonLine() + "\n").utf8))
        onRecord?(r)
    }
}
