/// Errors from the training-data pipeline. Problems with single samples or tar members are not
/// errors: they are counted in `DataStatistics` and the sample is skipped.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A shard pattern has unbalanced braces or an empty pattern list.
    case invalidPattern(pattern: String, reason: String)
    /// The dataset configuration is unusable (no shards, zero batch size, ...).
    case invalidConfiguration(reason: String)
    /// A whole epoch went by without one usable sample (all shards missing, corrupt or filtered).
    case noSamples(epoch: Int)
    /// A saved `DataPosition` does not belong to this dataset configuration.
    case positionMismatch(reason: String)
    /// The encoder closure returned latents whose batch size differs from the pixels'.
    case encoderShape(expectedBatch: Int, got: [Int])

    /// One line, for logs and the command line.
    public var description: String {
        switch self {
        case .invalidPattern(let pattern, let reason): return "shard pattern \"\(pattern)\": \(reason)"
        case .invalidConfiguration(let reason): return "dataset configuration: \(reason)"
        case .noSamples(let epoch): return "epoch \(epoch) produced no usable samples"
        case .positionMismatch(let reason): return "saved data position does not match the dataset: \(reason)"
        case .encoderShape(let b, let got): return "encoder returned \(got) for a batch of \(b)"
        }
    }
}
