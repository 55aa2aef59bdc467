import Foundation
import Trainer

/// One value of a metric at a training step.
public struct MetricPoint: Hashable, Sendable {
    /// Optimizer step.
    public var step: Int
    /// Value (non-finite values are kept; plots leave them out).
    public var value: Double

    /// A point.
    public init(step: Int, value: Double) {
        self.step = step
        self.value = value
    }
}

/// Where the learning-rate stage changed (`stage` starts at `step`).
public struct StageMarker: Hashable, Sendable {
    /// First step of the stage.
    public var step: Int
    /// Stage name.
    public var stage: String

    /// A marker.
    public init(step: Int, stage: String) {
        self.step = step
        self.stage = stage
    }
}

/// A file the trainer reported (a sample image or a checkpoint) and the step it belongs to.
public struct MetricsFileEvent: Hashable, Sendable {
    /// Step.
    public var step: Int
    /// Path (samples) or the record's message (checkpoints: usually the path).
    public var path: String

    /// An event.
    public init(step: Int, path: String) {
        self.step = step
        self.path = path
    }
}

/// Everything a training run has reported so far, in plottable form. Appending is O(1), so it takes
/// hundreds of thousands of records; plots downsample when they draw (`MetricsPlot.downsample`).
public struct MetricsHistory: Equatable, Sendable {
    /// Loss term names in first-seen order (their plot colours follow this order).
    public private(set) var lossNames: [String] = []
    /// Each loss term's values.
    public private(set) var losses: [String: [MetricPoint]] = [:]
    /// Learning rate per step.
    public private(set) var lr: [MetricPoint] = []
    /// Gradient norm per step (steps that reported one).
    public private(set) var gradNorm: [MetricPoint] = []
    /// Steps per second as reported.
    public private(set) var itPerS: [MetricPoint] = []
    /// Stage changes, the first stage included (at its first step).
    public private(set) var stages: [StageMarker] = []
    /// Sample images, oldest first (the last `maxFileEvents` kept).
    public private(set) var samples: [MetricsFileEvent] = []
    /// Checkpoints written, oldest first (the last `maxFileEvents` kept).
    public private(set) var checkpoints: [MetricsFileEvent] = []
    /// The most recent record of any kind.
    public private(set) var latest: MetricsRecord?
    /// The most recent `step` record.
    public private(set) var latestStep: MetricsRecord?
    /// Unix time of the first record (for elapsed time).
    public private(set) var startTime: Double?
    /// The `end` record's message (or "finished") once the run ended.
    public private(set) var endMessage: String?
    /// Records taken in since the last reset.
    public private(set) var recordCount = 0

    /// How many sample and checkpoint events are kept.
    public static let maxFileEvents = 64

    /// An empty history.
    public init() {}

    /// Takes in one record. A `start` record begins a new run and clears what came before (a watched file that
    /// was restarted is read again from its top, see `MetricsFileFollower`).
    public mutating func append(_ r: MetricsRecord) {
        if r.event == .start { self = MetricsHistory() }
        recordCount += 1
        latest = r
        if startTime == nil { startTime = r.time }
        if r.event == .step {
            latestStep = r
            for name in r.losses.keys.sorted() {
                if losses[name] == nil { lossNames.append(name) }
                losses[name, default: []].append(MetricPoint(step: r.step, value: r.losses[name]!))
            }
            lr.append(MetricPoint(step: r.step, value: r.lr))
            if let g = r.gradNorm { gradNorm.append(MetricPoint(step: r.step, value: g)) }
            if let s = r.itPerS { itPerS.append(MetricPoint(step: r.step, value: s)) }
        }
        if !r.stage.isEmpty, stages.last?.stage != r.stage { stages.append(StageMarker(step: r.step, stage: r.stage)) }
        for s in r.samples { Self.push(&samples, MetricsFileEvent(step: r.step, path: s)) }
        if r.event == .checkpoint { Self.push(&checkpoints, MetricsFileEvent(step: r.step, path: r.message ?? "step \(r.step)")) }
        if r.event == .end { endMessage = r.message ?? "finished" }
    }

    private static func push(_ list: inout [MetricsFileEvent], _ e: MetricsFileEvent) {
        list.append(e)
        if list.count > maxFileEvents { list.removeFirst(list.count - maxFileEvents) }
    }

    /// Smallest and largest step seen in step records, or nil before the first.
    public var stepRange: ClosedRange<Int>? {
        var lo = Int.max, hi = Int.min
        for p in lr { lo = min(lo, p.step); hi = max(hi, p.step) }
        return lo <= hi ? lo...hi : nil
    }

    /// Seconds between the first and the latest record.
    public var elapsed: Double? {
        guard let t0 = startTime, let t1 = latest?.time else { return nil }
        return max(0, t1 - t0)
    }
}
