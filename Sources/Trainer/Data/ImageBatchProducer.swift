import Imaging
import Tensor

/// A sample that passed the cheap filters (caption, tags, score) and waits in the shuffle buffer
/// with its still-encoded image.
struct PendingSample {
    var ref: SampleRef
    var key: String
    var caption: SampleCaption
    var image: [UInt8]
}

/// A decoded sample, resized and cropped to its bucket.
public struct ProcessedSample: Sendable {
    /// Where it came from.
    public var ref: SampleRef
    /// WebDataset key.
    public var key: String
    /// Caption text.
    public var caption: String
    /// The cropped image, exactly the bucket's size.
    public var image: Imaging.RGBImage
    /// SDXL micro-conditioning.
    public var timeIds: TimeIds
    /// The bucket.
    public var bucket: Bucket
}

/// A same-bucket batch of pixels, before VAE encoding.
public struct ImageBatch: Sendable {
    /// pixels: [B, 3, H, W] in [-1, 1] (byte / 127.5 - 1), H x W = the bucket.
    public var pixels: Tensor
    /// Caption per item.
    public var captions: [String]
    /// Time ids per item.
    public var timeIds: [TimeIds]
    /// The bucket shared by all items.
    public var bucket: Bucket
    /// WebDataset key per item.
    public var keys: [String]
    /// Sample references per item.
    public var samples: [SampleRef]
    /// The data position right after this batch: save it with a training checkpoint to resume
    /// with the next batch.
    public var position: DataPosition
}

/// The synchronous data pipeline: shards (per-epoch order) → tar members → samples → cheap filters
/// (caption, negative tags, score) → shuffle buffer → decode → bucket, cover-resize, crop →
/// per-bucket queues → a batch whenever a queue is full. Deterministic for a given configuration;
/// `position` captures its complete state. `LatentBatchLoader` runs it on a background thread.
public final class ImageBatchProducer {
    /// The configuration.
    public let config: WebDatasetConfig
    private var epoch = 0
    private var shardCursor = 0
    private var memberOffset: UInt64 = 0
    private var epochStartedFresh = true
    private var passedThisEpoch = 0
    private var sourceExhausted = false
    private var finished = false
    private var stats = DataStatistics()
    private var shuffleRNG: DataRNG
    private var shuffleWarm = false
    private var buffer: [PendingSample] = []
    private var queues: [Bucket: [ProcessedSample]] = [:]
    private var grouper: SampleGrouper?
    private var groupedSkips = 0
    private var epochOrder: (epoch: Int, order: [Int])?
    private var cachedSource: (shard: Int, source: TarFileSource)?

    /// A producer at the start of the data, or at `position` (from `ImageBatch.position` or
    /// `self.position`) when resuming. Throws for an invalid configuration or a position saved
    /// with a different one.
    public init(config: WebDatasetConfig, resumeFrom position: DataPosition? = nil) throws {
        try config.validate()
        self.config = config
        shuffleRNG = DataRNG(seed: DataRNG.derive(config.seed, 0x5348_5546))
        if let p = position { try restore(p) }
    }

    /// Counters so far.
    public var statistics: DataStatistics { stats }

    /// The complete state after the last batch returned by `next()`.
    public var position: DataPosition {
        DataPosition(
            fingerprint: config.fingerprint, epoch: epoch, shardCursor: shardCursor, memberOffset: memberOffset,
            epochStartedFresh: epochStartedFresh, samplesThisEpoch: passedThisEpoch, shuffleRNG: shuffleRNG,
            shuffleWarm: shuffleWarm, shuffleBuffer: buffer.map(\.ref),
            bucketQueues: queues.keys.sorted().map { BucketQueueState(bucket: $0, samples: queues[$0]!.map(\.ref)) },
            sourceExhausted: sourceExhausted, finished: finished, statistics: stats)
    }

    /// The next same-bucket batch, or nil when finite data is used up. Throws `DataError.noSamples`
    /// when a whole epoch yields nothing usable.
    public func next() throws -> ImageBatch? {
        guard !finished else { return nil }
        while true {
            guard let pending = try nextShuffled() else {
                if config.emitPartialBatches, let bucket = queues.keys.sorted().first {
                    return makeBatch(queues.removeValue(forKey: bucket)!)
                }
                finished = true
                return nil
            }
            guard let sample = process(pending, stats: &stats) else { continue }
            stats.samplesKept += 1
            queues[sample.bucket, default: []].append(sample)
            if queues[sample.bucket]!.count >= config.batchSize {
                return makeBatch(queues.removeValue(forKey: sample.bucket)!)
            }
        }
    }

    // MARK: - Reading

    private func order(for epoch: Int) -> [Int] {
        if let cached = epochOrder, cached.epoch == epoch { return cached.order }
        let order = config.shardOrder(epoch: epoch)
        epochOrder = (epoch, order)
        return order
    }

    private func nextRaw() throws -> WebDatasetSample? {
        while !sourceExhausted {
            if grouper == nil {
                let order = order(for: epoch)
                if shardCursor >= order.count {
                    if epochStartedFresh && passedThisEpoch == 0 { throw DataError.noSamples(epoch: epoch) }
                    stats.epochsCompleted += 1
                    epoch += 1
                    shardCursor = 0
                    memberOffset = 0
                    passedThisEpoch = 0
                    epochStartedFresh = true
                    if let e = config.epochs, epoch >= e { sourceExhausted = true }
                    continue
                }
                do {
                    let reader = try TarReader(path: config.shards[order[shardCursor]], offset: memberOffset,
                                               maxMemberBytes: config.maxMemberBytes)
                    grouper = SampleGrouper(reader: reader, shard: order[shardCursor], epoch: epoch)
                    groupedSkips = 0
                } catch {
                    stats.unreadableShards += 1
                    stats.tarWarnings[TarWarning.unreadable(reason: "").kind, default: 0] += 1
                    shardCursor += 1
                    memberOffset = 0
                    continue
                }
            }
            let g = grouper!
            let sample = g.next()
            for w in g.reader.takeWarnings() { stats.tarWarnings[w.kind, default: 0] += 1 }
            stats.skippedMembers += g.skippedMembers - groupedSkips
            groupedSkips = g.skippedMembers
            if let s = sample {
                memberOffset = g.resumeOffset
                return s
            }
            grouper = nil
            shardCursor += 1
            memberOffset = 0
        }
        return nil
    }

    private func nextPending() throws -> PendingSample? {
        while let raw = try nextRaw() {
            stats.samplesRead += 1
            if let p = screen(raw, stats: &stats) {
                passedThisEpoch += 1
                return p
            }
        }
        return nil
    }

    /// WebDataset's shuffle (webdataset/filters.py `_shuffle`) in pull form: fill to `initial`,
    /// then read up to two samples per output while growing to capacity, one afterwards; every
    /// output is a uniformly random element removed by swap-with-last.
    private func nextShuffled() throws -> PendingSample? {
        let capacity = config.shuffleBufferSize
        if !shuffleWarm {
            while buffer.count < min(config.shuffleInitial, capacity), let p = try nextPending() { buffer.append(p) }
            shuffleWarm = true
        } else {
            var pulls = buffer.count < capacity - 1 ? 2 : 1
            while pulls > 0, buffer.count < capacity, let p = try nextPending() {
                buffer.append(p)
                pulls -= 1
            }
        }
        guard !buffer.isEmpty else { return nil }
        buffer.swapAt(shuffleRNG.below(buffer.count), buffer.count - 1)
        return buffer.removeLast()
    }

    // MARK: - Filtering and processing

    /// The cheap filters, in order: image present, caption present, negative tags, score.
    private func screen(_ raw: WebDatasetSample, stats: inout DataStatistics) -> PendingSample? {
        guard let image = ["jpg", "jpeg", "png", "webp"].lazy.compactMap({ raw.fields[$0] }).first else {
            stats.drop(.missingImage)
            return nil
        }
        guard let caption = SampleCaption.parse(fields: raw.fields) else {
            stats.drop(.missingCaption)
            return nil
        }
        let negatives = config.tagFilter.matches(caption.tags)
        if !negatives.isEmpty {
            stats.drop(.negativeTag)
            for t in negatives { stats.droppedByTag[t, default: 0] += 1 }
            return nil
        }
        if let t = config.scoreThreshold {
            let score = caption.scores[t.key]
            if score.map({ $0 < t.minimum }) ?? t.dropWhenMissing {
                stats.drop(.lowScore)
                return nil
            }
        }
        return PendingSample(ref: raw.ref, key: raw.key, caption: caption, image: image)
    }

    /// Decode, bucket, resize, crop. The crop/flip generator is seeded from the sample's ref, so
    /// re-processing a restored sample gives the same pixels and time ids.
    private func process(_ p: PendingSample, stats: inout DataStatistics) -> ProcessedSample? {
        guard let (w, h) = try? ImageDecoder.size(of: p.image) else {
            stats.drop(.undecodableImage)
            return nil
        }
        guard ImageDecoder.pixelCount(w, h) <= config.maxImagePixels else {
            stats.drop(.tooLarge)
            return nil
        }
        guard min(w, h) >= config.minimumImageSide else {
            stats.drop(.tooSmall)
            return nil
        }
        var rng = DataRNG(seed: DataRNG.derive(config.seed, 0x4352_4F50, UInt64(p.ref.epoch), UInt64(p.ref.shard), p.ref.offset))
        let plan = config.buckets.plan(width: w, height: h, mode: config.cropMode, flip: config.randomFlip, rng: &rng)
        guard Double(plan.resizedWidth) * Double(plan.resizedHeight)
                <= config.maxOverscan * Double(plan.bucket.width * plan.bucket.height) else {
            stats.drop(.extremeAspect)
            return nil
        }
        let decoded: DecodedImage
        do {
            decoded = try ImageDecoder.decode(p.image, minimumWidth: config.fastJPEGScaling ? plan.resizedWidth : 0,
                                              minimumHeight: config.fastJPEGScaling ? plan.resizedHeight : 0,
                                              maxPixels: config.maxImagePixels)
        } catch {
            stats.drop(.undecodableImage)
            return nil
        }
        guard decoded.originalWidth == w, decoded.originalHeight == h else {
            stats.drop(.undecodableImage)
            return nil
        }
        return ProcessedSample(ref: p.ref, key: p.key, caption: p.caption.text, image: plan.apply(to: decoded.image),
                               timeIds: plan.timeIds(originalWidth: w, originalHeight: h), bucket: plan.bucket)
    }

    private func makeBatch(_ items: [ProcessedSample]) -> ImageBatch {
        stats.batches += 1
        let bucket = items[0].bucket
        let (hh, ww) = (bucket.height, bucket.width)
        let plane = hh * ww
        let pixels = Tensor(zeros: [items.count, 3, hh, ww])
        let dst = pixels.data
        for (b, item) in items.enumerated() {
            item.image.pixels.withUnsafeBufferPointer { src in
                let base = dst + b * 3 * plane
                for i in 0..<plane {
                    base[i] = Float(src[i * 3]) / 127.5 - 1
                    base[plane + i] = Float(src[i * 3 + 1]) / 127.5 - 1
                    base[2 * plane + i] = Float(src[i * 3 + 2]) / 127.5 - 1
                }
            }
        }
        return ImageBatch(pixels: pixels, captions: items.map(\.caption), timeIds: items.map(\.timeIds), bucket: bucket,
                          keys: items.map(\.key), samples: items.map(\.ref), position: position)
    }

    // MARK: - Resume

    private func restore(_ p: DataPosition) throws {
        guard p.version == 1 else { throw DataError.positionMismatch(reason: "version \(p.version)") }
        guard p.fingerprint == config.fingerprint else {
            throw DataError.positionMismatch(reason: "saved for \(p.fingerprint), configured \(config.fingerprint)")
        }
        epoch = p.epoch
        shardCursor = p.shardCursor
        memberOffset = p.memberOffset
        epochStartedFresh = p.epochStartedFresh
        passedThisEpoch = p.samplesThisEpoch
        shuffleRNG = p.shuffleRNG
        shuffleWarm = p.shuffleWarm
        sourceExhausted = p.sourceExhausted
        finished = p.finished
        stats = p.statistics
        // Re-read buffered and queued samples; their counters were already counted, so use scratch.
        var scratch = DataStatistics()
        buffer = p.shuffleBuffer.compactMap { reread($0).flatMap { screen($0, stats: &scratch) } }
        queues = [:]
        for q in p.bucketQueues {
            for ref in q.samples {
                guard let pending = reread(ref).flatMap({ screen($0, stats: &scratch) }),
                      let s = process(pending, stats: &scratch) else { continue }
                queues[s.bucket, default: []].append(s)
            }
        }
    }

    /// The sample at `ref`, read again from its shard.
    private func reread(_ ref: SampleRef) -> WebDatasetSample? {
        guard config.shards.indices.contains(ref.shard) else { return nil }
        let source: TarFileSource
        if let c = cachedSource, c.shard == ref.shard {
            source = c.source
        } else {
            guard let s = try? TarFileSource(path: config.shards[ref.shard]) else { return nil }
            cachedSource = (ref.shard, s)
            source = s
        }
        let reader = TarReader(source: source, offset: ref.offset, maxMemberBytes: config.maxMemberBytes)
        return SampleGrouper(reader: reader, shard: ref.shard, epoch: ref.epoch).next()
    }
}
