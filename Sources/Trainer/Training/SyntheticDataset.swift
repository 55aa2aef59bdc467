import Foundation
import Imaging

/// A small generated webdataset for tests and smoke runs (`sumi train --make-test-dataset DIR`): shards of PNG
/// images of coloured shapes with captions naming colour and shape, so a tiny model has something learnable.
public enum SyntheticDataset {
    static let colors: [(String, RGBPixel)] = [
        ("red", RGBPixel(r: 220, g: 40, b: 40)), ("green", RGBPixel(r: 40, g: 200, b: 60)),
        ("blue", RGBPixel(r: 50, g: 70, b: 230)), ("yellow", RGBPixel(r: 240, g: 220, b: 40)),
    ]
    static let shapes = ["square", "circle", "stripe"]

    /// Writes `shards` tar files of `perShard` samples (`<key>.png` + `<key>.txt`) of `size`×`size` pixels into
    /// `directory`; returns the brace pattern that names them.
    @discardableResult
    public static func write(directory: String, shards: Int = 2, perShard: Int = 12, size: Int = 32) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for s in 0..<shards {
            var tar = TarWriter()
            for i in 0..<perShard {
                let n = s * perShard + i
                let (colorName, color) = colors[n % colors.count]
                let shape = shapes[(n / colors.count) % shapes.count]
                let key = String(format: "%06d", n)
                try tar.add("\(key).png", PNG.encode(image(shape: shape, color: color, size: size, variant: n)))
                tar.add("\(key).txt", Array("\(colorName) \(shape), simple background".utf8))
            }
            let path = (directory as NSString).appendingPathComponent(String(format: "shard-%03d.tar", s))
            guard FileManager.default.createFile(atPath: path, contents: Data(tar.finished())) else {
                throw TrainingError.io(path: path, reason: "cannot write shard")
            }
        }
        return (directory as NSString).appendingPathComponent("shard-{000..\(String(format: "%03d", shards - 1))}.tar")
    }

    static func image(shape: String, color: RGBPixel, size: Int, variant: Int) -> RGBImage {
        var img = RGBImage(width: size, height: size)
        let bg = RGBPixel(r: UInt8(200 + variant % 40), g: 200, b: 200)
        let c = Double(size) / 2, r = Double(size) * (0.25 + 0.05 * Double(variant % 3))
        for y in 0..<size {
            for x in 0..<size {
                let dx = Double(x) + 0.5 - c, dy = Double(y) + 0.5 - c
                let inside: Bool
                switch shape {
                case "circle": inside = dx * dx + dy * dy <= r * r
                case "square": inside = abs(dx) <= r && abs(dy) <= r
                default: inside = abs(dy) <= r / 2
                }
                img[x, y] = inside ? color : bg
            }
        }
        return img
    }
}

/// A minimal ustar writer (regular files, names ≤ 100 bytes), enough for generated shards.
struct TarWriter {
    private(set) var bytes: [UInt8] = []

    mutating func add(_ name: String, _ data: [UInt8]) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, at: Int, max: Int) { for (i, b) in Array(s.utf8).prefix(max).enumerated() { h[at + i] = b } }
        func octal(_ v: Int, at: Int, width: Int) {
            let s = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - s.count)) + s, at: at, max: width - 1)
        }
        precondition(name.utf8.count <= 100, "TarWriter: name \(name) too long")
        put(name, at: 0, max: 100)
        octal(0o644, at: 100, width: 8); octal(0, at: 108, width: 8); octal(0, at: 116, width: 8)
        octal(data.count, at: 124, width: 12); octal(1_700_000_000, at: 136, width: 12)
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257, max: 6); put("00", at: 263, max: 2)
        for i in 148..<156 { h[i] = 32 }
        let sum = h.reduce(0) { $0 + Int($1) }
        octal(sum, at: 148, width: 7)
        h[155] = 32
        bytes += h
        bytes += data
        bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }
}
