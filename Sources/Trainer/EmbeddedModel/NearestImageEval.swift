import Foundation
import Imaging

/// One training image as the nearest-image evaluation sees it.
public struct EvalReference: Sendable {
    /// Webdataset key.
    public var key: String
    /// The emoji's name (`name` in the sample's JSON, else the caption's first tag): what a prompt names.
    public var name: String
    /// The sample's training caption (`.txt`, or the JSON tags joined), empty when it has none.
    public var caption: String
    /// The image at full size.
    public var image: RGBImage
    /// The image at the comparison size, as floats in [0, 1], RGB interleaved.
    public var small: [Float]
}

/// The embedded model's memorisation check (issue 7): for prompts naming emoji of the training set, is the
/// training image nearest (L2 over RGB at `side`×`side`, area-averaged) to the generated image the prompt's own?
public struct NearestImageEval {
    /// Side of the comparison images (32 in the issue).
    public let side: Int
    /// Every training image.
    public let references: [EvalReference]

    /// Reads every sample of the shards (brace patterns allowed); samples without a decodable image are skipped.
    public init(shards pattern: String, side: Int = 32) throws {
        self.side = side
        var refs: [EvalReference] = []
        for (index, path) in try BraceExpansion.expand(pattern).enumerated() {
            let grouper = SampleGrouper(reader: try TarReader(path: path), shard: index, epoch: 0)
            while let sample = grouper.next() {
                guard let bytes = sample.fields["png"] ?? sample.fields["jpg"] ?? sample.fields["jpeg"],
                      let decoded = try? ImageDecoder.decode(bytes) else { continue }
                var name = ""
                if let json = sample.fields["json"],
                   let obj = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] {
                    name = (obj["name"] as? String) ?? ""
                }
                let caption = SampleCaption.parse(fields: sample.fields)
                if name.isEmpty, let caption { name = caption.tags.first ?? caption.text }
                refs.append(EvalReference(key: sample.key, name: name, caption: caption?.text ?? "", image: decoded.image,
                                          small: Self.downscale(decoded.image, side: side)))
            }
        }
        references = refs.sorted { $0.key < $1.key }
    }

    /// `count` references spread evenly over the key order (every n/count-th): a fixed, unpicked selection
    /// that covers every emoji group the dataset has.
    public func selection(count: Int) -> [EvalReference] {
        guard !references.isEmpty else { return [] }
        return (0..<min(count, references.count)).map { references[$0 * references.count / min(count, references.count)] }
    }

    /// The image as floats in [0, 1] at side×side.
    public static func downscale(_ image: RGBImage, side: Int) -> [Float] {
        image.resized(toWidth: side, height: side).pixels.map { Float($0) / 255 }
    }

    /// The outcome for one generated image.
    public struct Match: Sendable, Codable {
        /// The prompt's own emoji.
        public var key: String
        /// Its name (the prompt).
        public var name: String
        /// The nearest training image.
        public var nearestKey: String
        /// Its name.
        public var nearestName: String
        /// 1 when the own image is nearest; k when k − 1 other images are nearer.
        public var ownRank: Int
        /// Mean squared distance to the own image and to the nearest one.
        public var ownDistance: Double
        public var nearestDistance: Double
        /// Whether the nearest image is the prompt's own.
        public var hit: Bool { ownRank == 1 }
    }

    /// Ranks every training image by distance to `generated` and reports where `own` lands.
    public func match(_ generated: RGBImage, own: EvalReference) -> Match {
        let g = Self.downscale(generated, side: side)
        var best = (index: 0, distance: Double.infinity)
        var ownDistance = 0.0
        var distances = [Double](repeating: 0, count: references.count)
        for (i, ref) in references.enumerated() {
            var d = 0.0
            for j in 0..<g.count { let e = Double(g[j] - ref.small[j]); d += e * e }
            d /= Double(g.count)
            distances[i] = d
            if d < best.distance { best = (i, d) }
            if ref.key == own.key { ownDistance = d }
        }
        let rank = 1 + distances.filter { $0 < ownDistance }.count
        return Match(key: own.key, name: own.name, nearestKey: references[best.index].key,
                     nearestName: references[best.index].name, ownRank: rank, ownDistance: ownDistance,
                     nearestDistance: best.distance)
    }
}
