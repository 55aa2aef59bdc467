import Foundation

/// One line of the training metrics stream (JSON lines): what the trainer writes after a step and what the
/// studio's training dashboard reads — in process, or from a file another process writes (`sumi --watch FILE`).
///
/// Keys are snake_case on disk:
/// `{"step":120,"stage":"warmup","losses":{"mse":0.113},"lr":0.0001,"grad_norm":0.82,"it_per_s":1.9,
///   "eta_seconds":940,"samples":["run/samples/step-120.png"],"time":1795000000.5,"event":"step"}`.
public struct MetricsRecord: Codable, Equatable, Sendable {
    /// What a line reports: a training step, a checkpoint written, a sample grid, the run starting or ending.
    public enum Event: String, Codable, Sendable { case start, step, checkpoint, sample, end }

    /// Optimizer steps completed (1-based after the first step).
    public var step: Int
    /// Total steps planned (for progress and ETA).
    public var totalSteps: Int
    /// Name of the learning-rate stage the step ran in.
    public var stage: String
    /// Each loss term by name (e.g. "mse", "dm", "fake_score", "gan_g").
    public var losses: [String: Double]
    /// Learning rate used for the step (first parameter group, before its scale).
    public var lr: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double?
    /// Optimizer steps per second (smoothed).
    public var itPerS: Double?
    /// Estimated seconds to the end of the run.
    public var etaSeconds: Double?
    /// Sample images written at this step.
    public var samples: [String]
    /// Unix time of the record.
    public var time: Double
    /// What this line reports.
    public var event: Event
    /// Free-form note (checkpoint path, stop reason).
    public var message: String?

    public init(step: Int, totalSteps: Int, stage: String, losses: [String: Double], lr: Double, gradNorm: Double? = nil,
                itPerS: Double? = nil, etaSeconds: Double? = nil, samples: [String] = [], time: Double,
                event: Event = .step, message: String? = nil) {
        self.step = step
        self.totalSteps = totalSteps
        self.stage = stage
        self.losses = losses
        self.lr = lr
        self.gradNorm = gradNorm
        self.itPerS = itPerS
        self.etaSeconds = etaSeconds
        self.samples = samples
        self.time = time
        self.event = event
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case step, stage, losses, lr, samples, time, event, message
        case totalSteps = "total_steps", gradNorm = "grad_norm", itPerS = "it_per_s", etaSeconds = "eta_seconds"
    }

    /// One JSON line (no trailing newline), keys sorted so files diff cleanly.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a struct of plain numbers and strings cannot fail; NaN losses are written as null-free strings.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                     nan: "nan")
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses one line; nil for blank or malformed lines (a file being written may end mid-line).
    public static func parse(_ line: Substring) -> MetricsRecord? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                       nan: "nan")
        return try? decoder.decode(MetricsRecord.self, from: Data(trimmed.utf8))
    }
}

/// Reads a metrics file incrementally: each `poll()` returns the complete lines appended since the last call
/// (a partial last line waits for its newline), so a dashboard can follow a file another process writes.
public final class MetricsFileFollower {
    /// The followed file.
    public let path: String
    private var offset: UInt64 = 0
    private var pending = Data()

    public init(path: String) { self.path = path }

    /// New records since the last poll; a missing file yields none (the writer may not have started yet), and a
    /// file that shrank (a new run) is read again from the start.
    public func poll() -> [MetricsRecord] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        if size < offset { offset = 0; pending.removeAll() }
        guard size > offset else { return [] }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        offset += UInt64(data.count)
        pending.append(data)
        guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = pending[pending.startIndex...lastNewline]
        pending = Data(pending[(lastNewline + 1)...])
        return String(decoding: complete, as: UTF8.self).split(separator: "\n").compactMap(MetricsRecord.parse)
    }
}
