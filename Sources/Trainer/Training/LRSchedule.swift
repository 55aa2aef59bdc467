import Foundation

/// The learning rate per optimizer step: an optional linear warm-up, then *staged* segments (each a name, a
/// number of steps and a constant rate — DMD2's staged rates), then the remaining steps at `lr` with a
/// constant, cosine or linear decay to `minLR`.
///
/// Step s (0-based) falls in:
/// - warm-up, s < W: rate = r₀·(s + 1)/W, where r₀ is the first stage's rate (or `lr` without stages); the +1
///   makes the first step train (diffusers' `LambdaLR` warm-up gives step 0 a rate of 0);
/// - stage k: its constant rate, for its `steps` steps;
/// - the tail (every step after the stages, up to `totalSteps`): `lr` decayed over the tail's length,
///   cosine: minLR + (lr − minLR)·½(1 + cos(π·i/n)), linear: lr + (minLR − lr)·i/n, i = steps into the tail,
///   n = tail length. A schedule whose stages cover every step has no tail.
public struct LRSchedule: Equatable, Sendable, Codable {
    /// A segment of constant learning rate.
    public struct Stage: Equatable, Sendable, Codable {
        /// Reported in the metrics stream ("stage1", "gan", …).
        public var name: String
        /// Number of optimizer steps.
        public var steps: Int
        /// The rate.
        public var lr: Double
        /// A stage.
        public init(name: String, steps: Int, lr: Double) {
            self.name = name
            self.steps = steps
            self.lr = lr
        }
    }

    /// How the tail after the stages decays.
    public enum Decay: String, Equatable, Sendable, Codable, CaseIterable {
        case constant, cosine, linear
    }

    /// Rate of the tail (and of warm-up when there are no stages).
    public var lr: Double
    /// Linear warm-up steps (0 = none).
    public var warmupSteps: Int = 0
    /// Constant-rate segments after warm-up.
    public var stages: [Stage] = []
    /// Decay of the tail.
    public var decay: Decay = .constant
    /// Where the decay ends.
    public var minLR: Double = 0
    /// Planned optimizer steps (the tail's end).
    public var totalSteps: Int

    /// A constant rate for `totalSteps`.
    public init(lr: Double, totalSteps: Int, warmupSteps: Int = 0, stages: [Stage] = [], decay: Decay = .constant,
                minLR: Double = 0) {
        self.lr = lr
        self.totalSteps = totalSteps
        self.warmupSteps = warmupSteps
        self.stages = stages
        self.decay = decay
        self.minLR = minLR
    }

    /// A reason the schedule is unusable, or nil.
    public var problem: String? {
        if totalSteps <= 0 { return "total steps \(totalSteps) must be positive" }
        if warmupSteps < 0 { return "warm-up steps \(warmupSteps) must not be negative" }
        if !(lr >= 0) || !lr.isFinite { return "learning rate \(lr) must be a non-negative number" }
        if !(minLR >= 0) || !minLR.isFinite { return "minimum learning rate \(minLR) must be a non-negative number" }
        for s in stages {
            if s.steps <= 0 { return "stage \(s.name): steps \(s.steps) must be positive" }
            if !(s.lr >= 0) || !s.lr.isFinite { return "stage \(s.name): learning rate \(s.lr) must be a non-negative number" }
        }
        return nil
    }

    /// Rate and stage name for 0-based optimizer step `step`.
    public func rate(at step: Int) -> (lr: Double, stage: String) {
        let firstRate = stages.first?.lr ?? lr
        if step < warmupSteps {
            return (firstRate * Double(step + 1) / Double(warmupSteps), "warmup")
        }
        var s = step - warmupSteps
        for stage in stages {
            if s < stage.steps { return (stage.lr, stage.name) }
            s -= stage.steps
        }
        let tail = max(1, totalSteps - warmupSteps - stages.reduce(0) { $0 + $1.steps })
        let i = Double(min(s, tail)), n = Double(tail)
        switch decay {
        case .constant: return (lr, "main")
        case .cosine: return (minLR + (lr - minLR) * 0.5 * (1 + cos(Double.pi * i / n)), "main")
        case .linear: return (lr + (minLR - lr) * i / n, "main")
        }
    }
}
