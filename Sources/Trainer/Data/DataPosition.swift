/// Why a sample never reached a batch.
public enum DropReason: String, Codable, CaseIterable, Sendable {
    /// A negative tag was present (see `DataStatistics.droppedByTag` for which).
    case negativeTag = "negative tag"
    /// No `txt`/`caption.txt`/`caption`/usable `json` field.
    case missingCaption = "missing caption"
    /// No `jpg`/`jpeg`/`png`/`webp` field.
    case missingImage = "missing image"
    /// The image bytes did not decode (corrupt, truncated, unsupported format such as WebP).
    case undecodableImage = "undecodable image"
    /// The image's shorter side is below `WebDatasetConfig.minimumImageSide`.
    case tooSmall = "too small"
    /// The image has more pixels than `WebDatasetConfig.maxImagePixels`.
    case tooLarge = "too large"
    /// A score threshold was set and the sample's stored score is below it.
    case lowScore = "low score"
    /// The image is so much longer than its bucket that the cover-resize would exceed
    /// `WebDatasetConfig.maxOverscan` times the bucket's area (most of it would be cropped away).
    case extremeAspect = "extreme aspect ratio"
}

/// Counters of what the pipeline read, kept and dropped. Part of `DataPosition`, so they survive a
/// resume.
public struct DataStatistics: Codable, Equatable, Sendable {
    /// Samples grouped from the shards (kept + dropped).
    public var samplesRead = 0
    /// Samples that made it into a bucket queue.
    public var samplesKept = 0
    /// Dropped samples by `DropReason.rawValue`.
    public var dropped: [String: Int] = [:]
    /// For `negativeTag` drops: every negative tag found (a sample with two counts for both).
    public var droppedByTag: [String: Int] = [:]
    /// Tar problems by `TarWarning.kind` (corrupt members are skipped, never fatal).
    public var tarWarnings: [String: Int] = [:]
    /// Tar members that fit no sample (no extension, duplicate field).
    public var skippedMembers = 0
    /// Shards that could not be opened.
    public var unreadableShards = 0
    /// Batches emitted.
    public var batches = 0
    /// Epochs read to the end.
    public var epochsCompleted = 0

    /// Empty counters.
    public init() {}

    /// Total dropped samples.
    public var droppedTotal: Int { dropped.values.reduce(0, +) }

    /// Dropped count for one reason.
    public func dropped(_ reason: DropReason) -> Int { dropped[reason.rawValue] ?? 0 }

    mutating func drop(_ reason: DropReason) { dropped[reason.rawValue, default: 0] += 1 }
}

/// Identifies the dataset configuration a position belongs to; restoring into a different
/// configuration is refused rather than silently reading a different sequence.
public struct DatasetFingerprint: Codable, Equatable, Sendable {
    /// Number of expanded shards.
    public var shardCount: Int
    /// FNV-1a hash of the shard paths joined with newlines.
    public var shardHash: UInt64
    /// The data seed.
    public var seed: UInt64
    /// Shuffle buffer capacity.
    public var shuffleBufferSize: Int
    /// Batch size.
    public var batchSize: Int
    /// Number of buckets.
    public var bucketCount: Int
}

/// The samples waiting in one bucket's partial batch.
public struct BucketQueueState: Codable, Equatable, Sendable {
    /// The bucket.
    public var bucket: Bucket
    /// Its queued samples, oldest first.
    public var samples: [SampleRef]
}

/// Everything needed to continue the data stream exactly where it stopped: the reader's place, the
/// shuffle generator, the shuffle buffer and the partial bucket queues as sample references (they
/// are re-read and re-processed on restore, which reproduces them because crops are seeded per
/// sample), and the statistics. A few kB of JSON for a typical shuffle buffer.
public struct DataPosition: Codable, Equatable, Sendable {
    /// Format version.
    public var version = 1
    /// The configuration this belongs to.
    public var fingerprint: DatasetFingerprint
    /// Current epoch (0-based).
    public var epoch = 0
    /// Index into the epoch's shard order of the shard being read.
    public var shardCursor = 0
    /// Header offset of the next unread sample in that shard.
    public var memberOffset: UInt64 = 0
    /// Whether this session started the current epoch at its beginning (for empty-epoch detection).
    public var epochStartedFresh = true
    /// Samples read in the current epoch so far.
    public var samplesThisEpoch = 0
    /// The shuffle buffer's generator.
    public var shuffleRNG: DataRNG
    /// Whether the shuffle buffer finished its initial fill.
    public var shuffleWarm = false
    /// The shuffle buffer, in buffer order (order matters for swap-with-last removal).
    public var shuffleBuffer: [SampleRef] = []
    /// Partial batches, sorted by bucket.
    public var bucketQueues: [BucketQueueState] = []
    /// The reader reached the end of the last epoch.
    public var sourceExhausted = false
    /// Nothing more will be produced.
    public var finished = false
    /// Counters.
    public var statistics = DataStatistics()
}

extension DatasetFingerprint {
    static func hash(_ shards: [String]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in shards.joined(separator: "\n").utf8 {
            h = (h ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return h
    }
}
