/// A minimum for a numeric field of the sample's `.json` (e.g. a stored CLIP-IQA score).
public struct ScoreThreshold: Equatable, Sendable {
    /// JSON key, e.g. "clip_iqa".
    public var key: String
    /// Samples whose value is below this are dropped (`DropReason.lowScore`).
    public var minimum: Double
    /// Whether a sample without the key is dropped too (default: kept).
    public var dropWhenMissing: Bool

    /// A threshold on `key`.
    public init(key: String, minimum: Double, dropWhenMissing: Bool = false) {
        self.key = key
        self.minimum = minimum
        self.dropWhenMissing = dropWhenMissing
    }
}

/// Everything that decides which samples, in which order, in which buckets. A value: the same
/// configuration and seed give the same batch sequence.
public struct WebDatasetConfig: Sendable {
    /// Expanded shard paths (see `init(pattern:)`).
    public var shards: [String]
    /// Seed for shard order, shuffle buffer and crops.
    public var seed: UInt64 = 0
    /// Passes over the data; nil repeats forever.
    public var epochs: Int? = 1
    /// Shuffle the shard list at the start of every epoch (seeded by seed and epoch).
    public var shuffleShards = true
    /// Shuffle buffer capacity in samples (1 = no shuffling). Holds encoded image bytes, so its
    /// memory is about capacity x average file size.
    public var shuffleBufferSize = 256
    /// Samples to collect before the first one leaves the buffer (WebDataset's `initial`).
    public var shuffleInitial = 64
    /// Samples per batch; all from one bucket.
    public var batchSize = 1
    /// Resolution buckets.
    public var buckets = BucketList.kohya()
    /// Crop placement.
    public var cropMode = CropMode.center
    /// Mirror half of the samples left-right (time ids adjusted).
    public var randomFlip = false
    /// Negative-tag filter.
    public var tagFilter = TagFilter()
    /// Optional score threshold on a `.json` number.
    public var scoreThreshold: ScoreThreshold?
    /// Images whose shorter side is below this are dropped (`tooSmall`).
    public var minimumImageSide = 256
    /// Images whose cover-resize exceeds this multiple of the bucket's area are dropped
    /// (`extremeAspect`): the crop would discard most of the image.
    public var maxOverscan = 4.0
    /// Images with more pixels are dropped before decoding (`tooLarge`).
    public var maxImagePixels = 64 << 20
    /// Tar members above this size are skipped unread.
    public var maxMemberBytes = 256 << 20
    /// At the end of finite data, emit the leftover partial batches (smaller than `batchSize`)
    /// instead of dropping them.
    public var emitPartialBatches = false
    /// Keep each sample's latents in memory after its first encoding (kohya's `cache_latents`) and encode cache
    /// misses one image at a time, so a cached latent is bit-identical to a fresh one. Keyed by sample key, bucket
    /// and time ids (crop), so random crops only miss the cache; meant for small datasets re-read for many epochs.
    public var cacheLatents = false
    /// Let libjpeg decode large JPEGs at 1/2, 1/4 or 1/8 scale when that still covers the bucket.
    public var fastJPEGScaling = true

    /// A configuration over explicit shard paths.
    public init(shards: [String]) { self.shards = shards }

    /// A configuration over a brace pattern such as `/data/shard-{000000..000123}.tar`
    /// (see `BraceExpansion`).
    public init(pattern: String) throws { self.shards = try BraceExpansion.expand(pattern) }

    /// Identifies the parts of this configuration that a saved position depends on.
    public var fingerprint: DatasetFingerprint {
        DatasetFingerprint(shardCount: shards.count, shardHash: DatasetFingerprint.hash(shards), seed: seed,
                           shuffleBufferSize: shuffleBufferSize, batchSize: batchSize, bucketCount: buckets.buckets.count)
    }

    /// Throws `DataError.invalidConfiguration` for unusable values.
    public func validate() throws {
        func bad(_ r: String) -> DataError { .invalidConfiguration(reason: r) }
        guard !shards.isEmpty else { throw bad("no shards") }
        guard batchSize > 0 else { throw bad("batch size \(batchSize)") }
        guard shuffleBufferSize > 0 else { throw bad("shuffle buffer size \(shuffleBufferSize)") }
        guard shuffleInitial > 0 else { throw bad("shuffle initial fill \(shuffleInitial)") }
        if let e = epochs, e <= 0 { throw bad("epochs \(e)") }
    }

    /// The shard order of `epoch`: a seeded Fisher-Yates shuffle, or identity.
    public func shardOrder(epoch: Int) -> [Int] {
        var order = Array(shards.indices)
        guard shuffleShards else { return order }
        var rng = DataRNG(seed: DataRNG.derive(seed, 0x5348_4152_44, UInt64(epoch)))
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        }
        return order
    }
}
