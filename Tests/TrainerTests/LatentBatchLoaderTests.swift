import Foundation
import Tensor
import XCTest
@testable import Trainer

final class LatentBatchLoaderTests: XCTestCase {
    /// A stand-in VAE: [B, 3, H, W] → [B, 4, H/8, W/8] (rounded up), every value the item's pixel mean.
    static func fakeEncode(_ pixels: Tensor) -> Tensor {
        let (b, h, w) = (pixels.dim(0), pixels.dim(2), pixels.dim(3))
        let out = Tensor(zeros: [b, 4, (h + 7) / 8, (w + 7) / 8])
        let per = out.count / b, plane = 3 * h * w
        for i in 0..<b {
            var sum: Float = 0
            for j in 0..<plane { sum += pixels.data[i * plane + j] }
            for j in 0..<per { out.data[i * per + j] = sum / Float(plane) }
        }
        return out
    }

    private func shards(_ dir: URL) -> WebDatasetConfig {
        var c = TestData.config(TestData.writeShards(in: dir, shards: 3, perShard: 6), batch: 2)
        c.epochs = 2
        return c
    }

    func testLoaderYieldsEncodedSameBucketBatchesLikeTheProducer() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = shards(dir)
        let producer = try ImageBatchProducer(config: c)
        var expected: [ImageBatch] = []
        while let b = try producer.next() { expected.append(b) }

        var encodedOnMain: [Bool] = []  // only the worker appends, and it has finished when read
        let loader = try LatentBatchLoader(config: c, prefetch: 2) { pixels in
            encodedOnMain.append(Thread.isMainThread)
            return LatentBatchLoaderTests.fakeEncode(pixels)
        }
        var got: [TrainingBatch] = []
        while let b = try loader.next() { got.append(b) }
        XCTAssertEqual(got.count, expected.count)
        XCTAssertEqual(Set(encodedOnMain), [false], "encoding runs on the loader's thread")
        for (g, e) in zip(got, expected) {
            XCTAssertEqual(g.keys, e.keys)
            XCTAssertEqual(g.captions, e.captions)
            XCTAssertEqual(g.timeIds, e.timeIds)
            XCTAssertEqual(g.bucket, e.bucket)
            XCTAssertEqual(g.latents.shape, [2, 4, (g.bucket.height + 7) / 8, (g.bucket.width + 7) / 8])
            XCTAssertEqual(g.latents.scalars, LatentBatchLoaderTests.fakeEncode(e.pixels).scalars)
            XCTAssertEqual(g.timeIdRows.count, 2)
            XCTAssertTrue(g.timeIds.allSatisfy { $0.targetHeight == g.bucket.height && $0.targetWidth == g.bucket.width })
        }
        XCTAssertEqual(loader.position, expected.last!.position)
        XCTAssertNil(try loader.next())
    }

    /// cache_latents: two epochs give the same latents as without the cache, but each sample is encoded once,
    /// alone (a batch of one).
    func testCachedLatentsEqualFreshOnesAndEncodeEachSampleOnce() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = shards(dir)
        let plain = try LatentBatchLoader(config: c, encode: LatentBatchLoaderTests.fakeEncode)
        var expected: [TrainingBatch] = []
        while let b = try plain.next() { expected.append(b) }
        c.cacheLatents = true
        var encodedBatchSizes: [Int] = []   // only the worker appends; read after it finished
        let cached = try LatentBatchLoader(config: c) { pixels in
            encodedBatchSizes.append(pixels.dim(0))
            return LatentBatchLoaderTests.fakeEncode(pixels)
        }
        var got: [TrainingBatch] = []
        while let b = try cached.next() { got.append(b) }
        XCTAssertEqual(got.map(\.keys), expected.map(\.keys))
        for (g, e) in zip(got, expected) { XCTAssertEqual(g.latents.scalars, e.latents.scalars, "\(g.keys)") }
        let samples = Set(expected.flatMap(\.keys)).count
        XCTAssertEqual(encodedBatchSizes, Array(repeating: 1, count: samples), "one encoding per sample over two epochs")
    }

    func testStopMidStreamAndResumeThroughTheLoader() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = shards(dir)
        c.epochs = nil  // infinite: stop() must still end the worker
        var straight: [[String]] = []
        do {
            let l = try LatentBatchLoader(config: c, prefetch: 3, encode: LatentBatchLoaderTests.fakeEncode)
            for _ in 0..<12 { straight.append(try l.next()!.keys) }
            l.stop()
            XCTAssertNil(try l.next())
        }
        let first = try LatentBatchLoader(config: c, prefetch: 3, encode: LatentBatchLoaderTests.fakeEncode)
        var resumed: [[String]] = []
        for _ in 0..<5 { resumed.append(try first.next()!.keys) }
        Thread.sleep(forTimeInterval: 0.05)  // let the worker prefetch past the consumer
        let saved = try JSONDecoder().decode(DataPosition.self, from: JSONEncoder().encode(first.position))
        first.stop()
        let second = try LatentBatchLoader(config: c, prefetch: 1, resumeFrom: saved, encode: LatentBatchLoaderTests.fakeEncode)
        for _ in 0..<7 { resumed.append(try second.next()!.keys) }
        XCTAssertEqual(resumed, straight)
        // Dropping the loader without stop() also ends the worker (deinit).
    }

    func testEncoderErrorsReachTheConsumer() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = shards(dir)
        struct Boom: Error {}
        var calls = 0
        let failing = try LatentBatchLoader(config: c) { pixels in
            calls += 1
            if calls == 3 { throw Boom() }
            return LatentBatchLoaderTests.fakeEncode(pixels)
        }
        XCTAssertNotNil(try failing.next())
        XCTAssertNotNil(try failing.next())
        XCTAssertThrowsError(try failing.next()) { XCTAssertTrue($0 is Boom) }

        let wrongShape = try LatentBatchLoader(config: c) { _ in Tensor(zeros: [1, 4, 2, 2]) }
        XCTAssertThrowsError(try wrongShape.next()) { e in
            XCTAssertEqual(e as? DataError, .encoderShape(expectedBatch: 2, got: [1, 4, 2, 2]))
        }
        XCTAssertThrowsError(try LatentBatchLoader(config: WebDatasetConfig(shards: [])) { $0 })
    }
}
