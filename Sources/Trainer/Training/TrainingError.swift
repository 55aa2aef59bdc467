/// Errors of the training machinery. Each names the file (and key) involved, for one-line reports.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A configuration value is missing or unusable.
    case invalidConfig(file: String, key: String, reason: String)
    /// A checkpoint directory or one of its files is unreadable, incomplete or inconsistent.
    case corruptCheckpoint(path: String, reason: String)
    /// `--resume` found nothing to resume.
    case noCheckpoint(directory: String)
    /// The checkpoint was written by a run with a different configuration.
    case configMismatch(path: String, expected: String, found: String)
    /// A file could not be written.
    case io(path: String, reason: String)
    /// A loss became NaN or infinite.
    case nonFiniteLoss(step: Int, name: String)
    /// The data ran out before the first step.
    case noData(reason: String)

    /// One line for logs and the command line.
    public var description: String {
        switch self {
        case let .invalidConfig(file, key, reason): return "\(file): \(key): \(reason)"
        case let .corruptCheckpoint(path, reason): return "\(path): unreadable checkpoint: \(reason)"
        case let .noCheckpoint(dir): return "\(dir): no checkpoint to resume (no `latest` file)"
        case let .configMismatch(path, expected, found):
            return "\(path): checkpoint belongs to another configuration (hash \(found), this config \(expected))"
        case let .io(path, reason): return "\(path): \(reason)"
        case let .nonFiniteLoss(step, name): return "step \(step): loss \(name) is not finite"
        case let .noData(reason): return "no training data: \(reason)"
        }
    }
}
