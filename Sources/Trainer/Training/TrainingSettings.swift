import Foundation
import Tensor

/// Which optimizer the loop builds, and its hyper-parameters (PyTorch / bitsandbytes defaults).
public struct OptimizerSettings: Equatable, Sendable, Codable {
    /// fp32 AdamW or bitsandbytes-style 8-bit AdamW.
    public enum Kind: String, Equatable, Sendable, Codable, CaseIterable { case adamw, adamw8bit }
    /// The optimizer.
    public var kind: Kind = .adamw
    /// β₁ (first-moment decay).
    public var beta1: Double = 0.9
    /// β₂ (second-moment decay).
    public var beta2: Double = 0.999
    /// ε added to √v.
    public var eps: Double = 1e-8
    /// Decoupled weight decay.
    public var weightDecay: Double = 1e-2
    /// Defaults: AdamW(0.9, 0.999), ε 1e-8, weight decay 0.01.
    public init() {}

    /// The optimizer over `groups`.
    public func make(_ groups: [ParameterGroup], compute: Compute) -> Optimizer {
        switch kind {
        case .adamw:
            return AdamW(groups, betas: (beta1, beta2), eps: eps, weightDecay: Float(weightDecay), compute: compute)
        case .adamw8bit:
            return AdamW8bit(groups, betas: (beta1, beta2), eps: eps, weightDecay: Float(weightDecay), compute: compute)
        }
    }
}

/// Everything the loop needs besides the objectives and the data.
public struct TrainingLoopSettings: Sendable {
    /// Optimizer steps to run (the run stops there; a resumed run continues up to it).
    public var totalSteps: Int
    /// Seed of the per-step generators (noise, timesteps, caption dropout).
    public var seed: UInt64 = 0
    /// The optimizer.
    public var optimizer = OptimizerSettings()
    /// Learning rate per step.
    public var schedule: LRSchedule
    /// Micro-batches whose gradients are averaged into one optimizer step.
    public var gradientAccumulation = 1
    /// Global L2 gradient-norm limit (nil = no clipping; the norm is still reported).
    public var maxGradNorm: Double? = 1
    /// Where checkpoints go (`<dir>/step-…/`, `<dir>/latest`); nil = never saved.
    public var checkpointDirectory: String?
    /// Save every N steps (0 = only at the end and on cancel).
    public var checkpointEvery = 0
    /// Checkpoints kept (older ones are deleted; 0 keeps all).
    public var keepCheckpoints = 3
    /// JSON-lines metrics file (`MetricsRecord`); nil = none.
    public var metricsPath: String?
    /// Call the sampler every N steps (0 = never; it also runs at the end when set).
    public var sampleEvery = 0
    /// Identifies the configuration; a checkpoint with another hash is refused on resume.
    public var configHash = ""
    /// Stored in every checkpoint's state.
    public var metadata: [String: String] = [:]

    /// Settings for `totalSteps` at a constant `lr`.
    public init(totalSteps: Int, lr: Double) {
        self.totalSteps = totalSteps
        schedule = LRSchedule(lr: lr, totalSteps: totalSteps)
    }
}

/// A flag another thread (a signal handler's queue, the studio's UI) sets to stop training after the current step.
public final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    /// An unset flag.
    public init() {}
    /// Whether a stop was requested.
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    /// Requests a stop.
    public func set() { lock.lock(); value = true; lock.unlock() }
}

/// What one optimizer step did.
public struct StepReport: Sendable {
    /// Steps completed after this one (1-based).
    public var step: Int
    /// The stage the step ran in.
    public var stage: String
    /// The learning rate used.
    public var lr: Double
    /// Each loss, averaged over the micro-batches.
    public var losses: [(String, Double)]
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    /// Seconds the step took.
    public var seconds: Double
}

/// How `TrainingLoop.run` ended.
public enum TrainingOutcome: String, Sendable {
    /// Reached `totalSteps`.
    case completed
    /// Stopped by the cancel flag (a checkpoint was saved).
    case cancelled
    /// The data ran out (finite epochs) before `totalSteps`.
    case dataExhausted = "data exhausted"
}
