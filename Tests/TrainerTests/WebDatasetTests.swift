import Foundation
import TestSupport
import XCTest
@testable import Trainer

final class WebDatasetTests: XCTestCase {
    func testKeysAndFields() {
        XCTAssertEqual(SampleKey.split("dir/abc.seg.PNG")?.key, "dir/abc")
        XCTAssertEqual(SampleKey.split("dir/abc.seg.PNG")?.field, "seg.png")
        XCTAssertEqual(SampleKey.split("a.b/c.caption.txt")?.key, "a.b/c")
        XCTAssertEqual(SampleKey.split("a.b/c.caption.txt")?.field, "caption.txt")
        XCTAssertNil(SampleKey.split("dir/README"))
        XCTAssertNil(SampleKey.split("dir/.DS_Store"))
    }

    func testGroupingConsecutiveMembersWithinDirectories() {
        var t = TarBuilder()
        t.add("x/001.jpg", "J1")
        t.add("x/001.txt", "T1")
        t.add("x/001.caption.txt", "C1")
        t.add("y/001.txt", "other dir, same basename")
        t.add("README", "no extension")
        t.add("002.png", "P2")
        t.add("002.png", "duplicate")
        t.add("002.json", "{}")
        let g = SampleGrouper(reader: TarReader(source: TarMemorySource(t.finished())), shard: 3, epoch: 1)
        var samples: [WebDatasetSample] = []
        while let s = g.next() { samples.append(s) }
        XCTAssertEqual(samples.map(\.key), ["x/001", "y/001", "002"])
        XCTAssertEqual(samples[0].fields.keys.sorted(), ["caption.txt", "jpg", "txt"])
        XCTAssertEqual(samples[2].fields["png"], Array("P2".utf8))
        XCTAssertEqual(samples[2].ref.shard, 3)
        XCTAssertEqual(samples[2].ref.epoch, 1)
        XCTAssertEqual(g.skippedMembers, 2)
        // Each sample's ref re-reads it.
        let again = SampleGrouper(reader: TarReader(source: TarMemorySource(t.finished()), offset: samples[1].ref.offset),
                                  shard: 3, epoch: 1).next()
        XCTAssertEqual(again, samples[1])
    }

    func testCaptionSources() {
        func f(_ pairs: [String: String]) -> [String: [UInt8]] { pairs.mapValues { Array($0.utf8) } }
        let txt = SampleCaption.parse(fields: f(["txt": " 1girl, Long_Hair ,smile \n", "json": "{\"tags\": [\"Bad_Hands\"], \"clip_iqa\": 0.7}"]))
        XCTAssertEqual(txt?.text, "1girl, Long_Hair ,smile")
        XCTAssertEqual(txt?.tags, ["1girl", "long hair", "smile", "bad hands"])
        XCTAssertEqual(txt?.scores["clip_iqa"], 0.7)
        XCTAssertEqual(SampleCaption.parse(fields: f(["json": "{\"tags\": [\"a\", \"b_c\"]}"]))?.text, "a, b_c")
        XCTAssertEqual(SampleCaption.parse(fields: f(["json": "{\"caption\": \"a cat\", \"tags\": \"x, y\"}"]))?.text, "a cat")
        XCTAssertEqual(SampleCaption.parse(fields: f(["json": "{\"caption\": \"a cat\", \"tags\": \"x, y\"}"]))?.tags, ["a cat", "x", "y"])
        XCTAssertEqual(SampleCaption.parse(fields: f(["caption.txt": "from caption.txt"]))?.text, "from caption.txt")
        XCTAssertNil(SampleCaption.parse(fields: f(["json": "not json", "txt": "  "])))
        XCTAssertNil(SampleCaption.parse(fields: f(["png": "x"])))
    }

    func testTagFilterWholeNormalisedTags() {
        let filter = TagFilter()
        XCTAssertEqual(filter.negativeTags.count, 21)
        XCTAssertTrue(filter.negativeTags.isSuperset(of: ["bad", "nsfw", "text", "negative", "jpeg artifacts", "artist name"]))
        XCTAssertEqual(filter.matches(Tags.split("textured, TEXT , bad_hands, badge, nsfw")), ["text", "bad hands", "nsfw"])
        XCTAssertEqual(filter.matches(Tags.split("1girl, speech bubble, bad")), ["bad"])
        XCTAssertEqual(TagFilter(negativeTags: ["Speech_Bubble"]).matches(Tags.split("speech bubble, bad")), ["speech bubble"])
    }

    func testFilterStatistics() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var t = TarBuilder()
        t.add("a.png", TestData.png(40, 30, seed: 1)); t.add("a.txt", "1girl, solo")
        t.add("b.png", TestData.png(40, 30, seed: 2)); t.add("b.txt", "1girl, text, watermark")
        t.add("c.png", TestData.png(40, 30, seed: 3)); t.add("c.txt", "Bad_Anatomy")
        t.add("d.png", TestData.png(40, 30, seed: 4))
        t.add("e.txt", "no image")
        t.add("f.png", Array("not a png at all".utf8)); t.add("f.txt", "ok")
        t.add("g.png", TestData.png(4, 4, seed: 5)); t.add("g.txt", "tiny")
        t.add("h.webp", "RIFF"); t.add("h.txt", "webp")
        t.add("i.png", TestData.png(40, 30, seed: 6)); t.add("i.json", "{\"tags\": [\"textured\"], \"clip_iqa\": 0.2}")
        t.add("j.png", TestData.png(30, 40, seed: 7)); t.add("j.json", "{\"caption\": \"a dog\", \"clip_iqa\": 0.9}")
        let path = dir.appendingPathComponent("s.tar").path
        TestData.write(t.finished(), to: path)
        var c = TestData.config([path])
        c.scoreThreshold = ScoreThreshold(key: "clip_iqa", minimum: 0.5)
        let p = try ImageBatchProducer(config: c)
        var keys: [String] = []
        while let b = try p.next() { keys += b.keys }
        XCTAssertEqual(keys.sorted(), ["a", "j"])
        let s = p.statistics
        XCTAssertEqual(s.samplesRead, 10)
        XCTAssertEqual(s.samplesKept, 2)
        XCTAssertEqual(s.dropped(.negativeTag), 2)
        XCTAssertEqual(s.droppedByTag, ["text": 1, "watermark": 1, "bad anatomy": 1])
        XCTAssertEqual(s.dropped(.missingCaption), 1)
        XCTAssertEqual(s.dropped(.missingImage), 1)
        XCTAssertEqual(s.dropped(.undecodableImage), 2)
        XCTAssertEqual(s.dropped(.tooSmall), 1)
        XCTAssertEqual(s.dropped(.lowScore), 1)
        XCTAssertEqual(s.droppedTotal + s.samplesKept, s.samplesRead)
    }

    private func allKeys(_ c: WebDatasetConfig) throws -> [String] {
        let p = try ImageBatchProducer(config: c)
        var keys: [String] = []
        while let b = try p.next() { keys += b.keys }
        return keys
    }

    func testShuffleIsSeededAndDeterministic() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = TestData.config(TestData.writeShards(in: dir, shards: 3, perShard: 5))
        c.epochs = 2
        let a = try allKeys(c)
        XCTAssertEqual(a.count, 30)
        XCTAssertEqual(try allKeys(c), a)
        XCTAssertEqual(a.sorted(), (0..<30).map { String(format: "%05d", $0 / 2) })
        c.seed = 99
        XCTAssertNotEqual(try allKeys(c), a)
        c.shuffleShards = false
        c.shuffleBufferSize = 1
        c.shuffleInitial = 1
        XCTAssertEqual(try allKeys(c), (0..<30).map { String(format: "%05d", $0 % 15) })
        XCTAssertEqual(c.shardOrder(epoch: 3), [0, 1, 2])
        c.shuffleShards = true
        XCTAssertEqual(c.shardOrder(epoch: 3).sorted(), [0, 1, 2])
        XCTAssertEqual(c.shardOrder(epoch: 3), c.shardOrder(epoch: 3))
    }

    /// N batches straight equal N/2 batches, a JSON round trip of the position, and N/2 more
    /// from a fresh producer — keys, pixels and time ids.
    func testResumeReproducesTheSequence() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = TestData.config(TestData.writeShards(in: dir, shards: 3, perShard: 7), batch: 2)
        c.epochs = 3
        c.cropMode = .random
        c.randomFlip = true
        let straight = try ImageBatchProducer(config: c)
        var reference: [ImageBatch] = []
        while let b = try straight.next() { reference.append(b) }
        XCTAssertGreaterThan(reference.count, 20)
        XCTAssertEqual(Set(reference.map(\.bucket)).count, 3)
        for split in [1, reference.count / 2, reference.count - 1] {
            let first = try ImageBatchProducer(config: c)
            for _ in 0..<split { _ = try first.next() }
            let json = try JSONEncoder().encode(first.position)
            XCTAssertLessThan(json.count, 4096)
            let restored = try JSONDecoder().decode(DataPosition.self, from: json)
            XCTAssertEqual(restored, first.position)
            XCTAssertEqual(restored, reference[split - 1].position)
            let second = try ImageBatchProducer(config: c, resumeFrom: restored)
            var rest: [ImageBatch] = []
            while let b = try second.next() { rest.append(b) }
            XCTAssertEqual(rest.count, reference.count - split, "split \(split)")
            for (x, y) in zip(rest, reference[split...]) {
                XCTAssertEqual(x.keys, y.keys)
                XCTAssertEqual(x.timeIds, y.timeIds)
                XCTAssertEqual(x.pixels.scalars, y.pixels.scalars)
                XCTAssertEqual(x.position, y.position)
            }
        }
    }

    func testPositionFromOtherConfigIsRefused() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = TestData.config(TestData.writeShards(in: dir, shards: 2, perShard: 3))
        let p = try ImageBatchProducer(config: c)
        _ = try p.next()
        var other = c
        other.seed = 5
        XCTAssertThrowsError(try ImageBatchProducer(config: other, resumeFrom: p.position)) { error in
            guard case DataError.positionMismatch = error else { return XCTFail("\(error)") }
        }
    }

    func testPositionJSONKeepsLargeIntegersExact() throws {
        var pos = DataPosition(fingerprint: DatasetFingerprint(shardCount: 1, shardHash: .max - 12345, seed: 0xFFFF_FFFF_FFFF_FFF1,
                                                                shuffleBufferSize: 1, batchSize: 1, bucketCount: 1),
                               shuffleRNG: DataRNG(seed: 0xDEAD_BEEF_CAFE_F00D))
        pos.memberOffset = (1 << 62) + 3
        let back = try JSONDecoder().decode(DataPosition.self, from: JSONEncoder().encode(pos))
        XCTAssertEqual(back, pos)
    }

    func testCorruptAndMissingShardsAreCountedNotFatal() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths = TestData.writeShards(in: dir, shards: 2, perShard: 4)
        // Corrupt the second shard: flip a byte in its third member's header, truncate its tail.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: paths[1])))
        let headers = TarReader(source: TarMemorySource(bytes)).readAll().map(\.headerOffset)
        bytes[Int(headers[2]) + 3] ^= 0x41
        bytes.removeLast(1024 + 700)
        TestData.write(bytes, to: paths[1])
        paths.append(dir.appendingPathComponent("missing.tar").path)
        var c = TestData.config(paths)
        c.shuffleShards = false
        let p = try ImageBatchProducer(config: c)
        var keys: [String] = []
        while let b = try p.next() { keys += b.keys }
        let s = p.statistics
        XCTAssertEqual(s.unreadableShards, 1)
        XCTAssertEqual(s.tarWarnings["bad checksum"], 1)
        XCTAssertEqual(s.tarWarnings["truncated"], 1)
        XCTAssertTrue(keys.contains("00000") && keys.contains("00004"))
        XCTAssertEqual(s.samplesKept, keys.count)
    }

    /// Whole-pipeline fuzz: bit-flipped and truncated shards (images included) never crash.
    func testFuzzedShardsNeverCrashThePipeline() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = TestData.writeShards(in: dir, shards: 1, perShard: 6)[0]
        var tar = TarBuilder()
        let jpeg = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("rgb.jpg", target: "TrainerTests"))))
        tar.add("j.jpg", jpeg)
        tar.add("j.txt", "jpeg sample")
        let base = Array(try Data(contentsOf: URL(fileURLWithPath: path))).dropLast(1024) + tar.finished()
        var rng = DataRNG(seed: 7)
        for trial in 0..<40 {
            var bytes = Array(base)
            for _ in 0..<(1 + rng.below(20)) { bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8)) }
            if trial % 2 == 0 { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
            TestData.write(bytes, to: path)
            var c = TestData.config([path])
            c.minimumImageSide = 1
            c.emitPartialBatches = true
            c.batchSize = 2
            let p = try ImageBatchProducer(config: c)
            do { while try p.next() != nil {} } catch DataError.noSamples {}
        }
    }
}
