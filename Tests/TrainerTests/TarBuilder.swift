import Foundation
import Imaging
@testable import Trainer

/// Writes small tar archives for tests: plain ustar members, GNU long names, pax paths, other
/// member types, and hand-made corruption.
struct TarBuilder {
    enum LongNames { case gnu, pax }

    private(set) var bytes: [UInt8] = []
    var longNames = LongNames.gnu

    /// A 512-byte ustar header with a valid checksum. `posix` writes "ustar\0" + "00" (with
    /// `prefix`), otherwise GNU's "ustar  \0".
    static func header(name: String, size: Int, type: UInt8 = UInt8(ascii: "0"), prefix: String = "",
                       posix: Bool = true) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: [UInt8], at: Int, max: Int) { for (i, b) in s.prefix(max).enumerated() { h[at + i] = b } }
        func octal(_ v: Int, at: Int, width: Int) {
            put(Array(String(String(v, radix: 8).suffix(width - 1)).leftPadded(width - 1).utf8), at: at, max: width - 1)
        }
        put(Array(name.utf8), at: 0, max: 100)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(1_700_000_000, at: 136, width: 12)
        h[156] = type
        if posix {
            put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257, max: 8)
            put(Array(prefix.utf8), at: 345, max: 155)
        } else {
            put(Array("ustar  ".utf8) + [0], at: 257, max: 8)
        }
        for i in 148..<156 { h[i] = 32 }
        let sum = h.reduce(0) { $0 + Int($1) }
        put(Array(String(String(sum, radix: 8)).leftPadded(6).utf8) + [0, 32], at: 148, max: 8)
        return h
    }

    private mutating func append(_ header: [UInt8], _ data: [UInt8]) {
        bytes += header
        bytes += data
        let pad = (512 - data.count % 512) % 512
        bytes += [UInt8](repeating: 0, count: pad)
    }

    /// A regular file; names over 100 bytes go through a GNU long-name or pax header.
    mutating func add(_ path: String, _ data: [UInt8]) {
        let utf8 = Array(path.utf8)
        if utf8.count > 100 {
            switch longNames {
            case .gnu:
                append(TarBuilder.header(name: "././@LongLink", size: utf8.count + 1, type: UInt8(ascii: "L"), posix: false),
                       utf8 + [0])
            case .pax:
                let record = TarBuilder.paxRecord("path", path)
                append(TarBuilder.header(name: "PaxHeaders/x", size: record.count, type: UInt8(ascii: "x")), record)
            }
        }
        append(TarBuilder.header(name: String(decoding: utf8.prefix(100), as: UTF8.self), size: data.count), data)
    }

    mutating func add(_ path: String, _ text: String) { add(path, Array(text.utf8)) }

    /// A member of another type (directory "5", symlink "2", ...), no data.
    mutating func addOther(_ path: String, type: UInt8) {
        append(TarBuilder.header(name: path, size: 0, type: type), [])
    }

    /// Raw header + data, for hand-made headers.
    mutating func addRaw(header: [UInt8], data: [UInt8]) { append(header, data) }

    /// The archive with its two terminating zero blocks.
    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    /// "<len> key=value\n" where len counts the whole record.
    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n"
        var len = body.utf8.count + 1
        while String(len).count + body.utf8.count != len { len += 1 }
        return Array((String(len) + body).utf8)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Temporary shards of tiny images for pipeline tests.
enum TestData {
    static func tempDir() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sumi-data-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ bytes: [UInt8], to path: String) {
        try! Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A PNG of `w` x `h` whose colour encodes `seed`.
    static func png(_ w: Int, _ h: Int, seed: Int) -> [UInt8] {
        var img = Imaging.RGBImage(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w {
                img[x, y] = RGBPixel(r: UInt8((seed * 37 + x * 5) & 255), g: UInt8((seed * 91 + y * 7) & 255),
                                     b: UInt8((seed * 13) & 255))
            }
        }
        return try! PNG.encode(img)
    }

    /// Sizes that land in different buckets of `buckets`.
    static let sizes = [(40, 30), (30, 90), (36, 36), (90, 30), (24, 80)]

    /// A small bucket list for tests: kohya's rule for a 32² area in steps of 16.
    static let buckets = BucketList.kohya(area: 32 * 32, minSide: 16, maxSide: 64, step: 16)

    /// Writes `shards` tars of `perShard` samples each (png + txt, some with json) and returns the paths.
    static func writeShards(in dir: URL, shards: Int, perShard: Int, captionFor: (Int) -> String = { "tag\($0), solo" }) -> [String] {
        var paths: [String] = []
        for s in 0..<shards {
            var tar = TarBuilder()
            for i in 0..<perShard {
                let n = s * perShard + i
                let key = String(format: "%05d", n)
                let (w, h) = sizes[n % sizes.count]
                tar.add("\(key).png", png(w, h, seed: n))
                tar.add("\(key).txt", captionFor(n))
                if n % 3 == 0 { tar.add("\(key).json", "{\"tags\": [\"extra_\(n)\"], \"score\": \(n)}") }
            }
            let path = dir.appendingPathComponent(String(format: "shard-%03d.tar", s)).path
            TestData.write(tar.finished(), to: path)
            paths.append(path)
        }
        return paths
    }

    static func config(_ shards: [String], batch: Int = 1) -> WebDatasetConfig {
        var c = WebDatasetConfig(shards: shards)
        c.buckets = buckets
        c.minimumImageSide = 8
        c.batchSize = batch
        c.shuffleBufferSize = 6
        c.shuffleInitial = 3
        c.seed = 1234
        return c
    }
}
