import Foundation
import Tensor

/// One training batch: VAE latents of same-bucket images plus their conditioning.
public struct TrainingBatch: Sendable {
    /// Whatever the encoder returned for the batch, e.g. [B, 4, H/8, W/8] scaled latents.
    public var latents: Tensor
    /// Caption per item.
    public var captions: [String]
    /// SDXL time ids per item.
    public var timeIds: [TimeIds]
    /// The bucket (pixel size) shared by all items.
    public var bucket: Bucket
    /// WebDataset key per item.
    public var keys: [String]
    /// The data position right after this batch; store it in the training checkpoint and pass it
    /// as `resumeFrom` to continue with the following batch.
    public var position: DataPosition

    /// Time ids as the rows `UNet.callAsFunction(timeIds:)` takes.
    public var timeIdRows: [[Float]] { timeIds.map(\.values) }
    /// Counters up to and including this batch.
    public var statistics: DataStatistics { position.statistics }
}

/// Runs `ImageBatchProducer` and the VAE encoder on a background thread, keeping up to `prefetch`
/// encoded batches ready, so images are decoded and encoded lazily while the trainer computes —
/// never in a separate preprocessing pass. `next()` blocks until a batch is ready. `stop()` (or
/// deinit) cancels: the worker finishes the batch it is encoding, then exits; `stop()` waits for it.
///
/// The encoder receives pixels [B, 3, H, W] in [-1, 1] and returns latents whose first dimension is
/// B; it runs on the worker thread (the trainer passes the VAE, e.g. `vae.encodeToModelSpace`).
public final class LatentBatchLoader {
    /// Encodes a pixel batch. pixels: [B, 3, H, W] in [-1, 1].
    public typealias Encoder = (Tensor) throws -> Tensor

    /// State shared with the worker. A separate object so the worker never touches the loader
    /// itself, which may be deinitialising while `stop()` waits for the worker.
    private final class Channel {
        let condition = NSCondition()
        var ready: [TrainingBatch] = []
        var failure: Error?
        var workerDone = false
        var cancelled = false
        var lastPosition: DataPosition

        init(position: DataPosition) { lastPosition = position }
    }

    private let channel: Channel

    /// Starts the worker. `resumeFrom` is a `TrainingBatch.position` from an earlier run.
    /// Throws for an invalid configuration or a mismatched position (before any thread starts).
    public init(config: WebDatasetConfig, prefetch: Int = 2, resumeFrom: DataPosition? = nil,
                encode: @escaping Encoder) throws {
        precondition(prefetch > 0, "LatentBatchLoader: prefetch \(prefetch) must be positive")
        let producer = try ImageBatchProducer(config: config, resumeFrom: resumeFrom)
        let channel = Channel(position: producer.position)
        self.channel = channel
        let cache = config.cacheLatents ? LatentCache() : nil
        let t = Thread { LatentBatchLoader.run(channel, producer: producer, prefetch: prefetch, cache: cache, encode: encode) }
        t.name = "sumi.data"
        t.start()
    }

    deinit { stop() }

    /// The position after the last batch `next()` returned (the start position before the first).
    public var position: DataPosition {
        channel.condition.lock()
        defer { channel.condition.unlock() }
        return channel.lastPosition
    }

    /// The next batch; nil when finite data is used up or after `stop()`. Rethrows a pipeline or
    /// encoder error (after which the loader is finished).
    public func next() throws -> TrainingBatch? {
        let ch = channel
        ch.condition.lock()
        defer { ch.condition.unlock() }
        while ch.ready.isEmpty && !ch.workerDone && ch.failure == nil && !ch.cancelled { ch.condition.wait() }
        if !ch.ready.isEmpty {
            let batch = ch.ready.removeFirst()
            ch.lastPosition = batch.position
            ch.condition.broadcast()
            return batch
        }
        if let e = ch.failure { throw e }
        return nil
    }

    /// Cancels the worker and waits until it has exited. Batches not yet returned are discarded;
    /// `position` still names the last returned one, so resuming loses nothing. Idempotent.
    public func stop() {
        let ch = channel
        ch.condition.lock()
        ch.cancelled = true
        ch.condition.broadcast()
        while !ch.workerDone { ch.condition.wait() }
        ch.ready.removeAll()
        ch.condition.unlock()
    }

    private static func run(_ ch: Channel, producer: ImageBatchProducer, prefetch: Int, cache: LatentCache?,
                            encode: Encoder) {
        defer {
            ch.condition.lock()
            ch.workerDone = true
            ch.condition.broadcast()
            ch.condition.unlock()
        }
        while true {
            ch.condition.lock()
            while ch.ready.count >= prefetch && !ch.cancelled { ch.condition.wait() }
            let stop = ch.cancelled
            ch.condition.unlock()
            if stop { return }
            do {
                guard let batch = try producer.next() else { return }
                let latents = try cache.map { try $0.latents(for: batch, encode: encode) } ?? encode(batch.pixels)
                guard latents.rank >= 1, latents.dim(0) == batch.captions.count else {
                    throw DataError.encoderShape(expectedBatch: batch.captions.count, got: latents.shape)
                }
                let item = TrainingBatch(latents: latents, captions: batch.captions, timeIds: batch.timeIds,
                                         bucket: batch.bucket, keys: batch.keys, position: batch.position)
                ch.condition.lock()
                if !ch.cancelled { ch.ready.append(item) }
                ch.condition.broadcast()
                ch.condition.unlock()
            } catch {
                ch.condition.lock()
                ch.failure = error
                ch.condition.unlock()
                return
            }
        }
    }
}

/// Per-sample latents kept after their first encoding (`WebDatasetConfig.cacheLatents`). Only the loader's worker
/// thread touches it.
final class LatentCache {
    private var latents: [String: Tensor] = [:]
    /// Encodings done so far (cache misses).
    private(set) var misses = 0

    /// The batch's latents: cached rows where present, the others encoded one image at a time (so that a value
    /// never depends on which images shared its batch) and kept.
    func latents(for batch: ImageBatch, encode: LatentBatchLoader.Encoder) throws -> Tensor {
        let b = batch.keys.count
        let plane = batch.pixels.count / max(b, 1)
        var rows: [Tensor] = []
        for i in 0..<b {
            let key = "\(batch.keys[i])|\(batch.bucket)|\(batch.timeIds[i].values)"
            if let cached = latents[key] { rows.append(cached); continue }
            let pixels = Tensor(uninitialized: [1] + Array(batch.pixels.shape.dropFirst()))
            pixels.data.update(from: batch.pixels.data + i * plane, count: plane)
            let z = try encode(pixels)
            guard z.rank >= 1, z.dim(0) == 1 else { throw DataError.encoderShape(expectedBatch: 1, got: z.shape) }
            latents[key] = z
            misses += 1
            rows.append(z)
        }
        let out = Tensor(uninitialized: [b] + Array(rows[0].shape.dropFirst()))
        let per = rows[0].count
        for (i, r) in rows.enumerated() {
            guard r.count == per else { throw DataError.encoderShape(expectedBatch: b, got: r.shape) }
            (out.data + i * per).update(from: r.data, count: per)
        }
        return out
    }
}
