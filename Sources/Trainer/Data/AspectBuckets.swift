import Imaging

/// One training resolution. Batches only ever hold images of a single bucket.
public struct Bucket: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    /// Width in pixels (a multiple of the bucket step).
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// A bucket of `width` x `height` pixels.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// width / height.
    public var aspectRatio: Double { Double(width) / Double(height) }

    /// Ordered by (width, height), as kohya sorts its `(w, h)` tuples.
    public static func < (a: Bucket, b: Bucket) -> Bool { (a.width, a.height) < (b.width, b.height) }

    /// "1216x832".
    public var description: String { "\(width)x\(height)" }
}

/// SDXL micro-conditioning for one real image, in pixels, in the order the UNet's `add_time_ids`
/// expects: (original H, original W, crop top, crop left, target H, target W). "Original" is the
/// image's size before any resizing; the crop offset is measured in the resized image (the SDXL
/// convention, as in diffusers' SDXL trainer, not kohya's formula); target is the bucket.
public struct TimeIds: Equatable, Codable, Sendable {
    /// Height of the image as stored in the dataset.
    public var originalHeight: Int
    /// Width of the image as stored in the dataset.
    public var originalWidth: Int
    /// Top of the crop in the resized image.
    public var cropTop: Int
    /// Left of the crop in the resized image (mirrored when the sample is flipped).
    public var cropLeft: Int
    /// Bucket height.
    public var targetHeight: Int
    /// Bucket width.
    public var targetWidth: Int

    /// All six values.
    public init(originalHeight: Int, originalWidth: Int, cropTop: Int, cropLeft: Int, targetHeight: Int, targetWidth: Int) {
        self.originalHeight = originalHeight
        self.originalWidth = originalWidth
        self.cropTop = cropTop
        self.cropLeft = cropLeft
        self.targetHeight = targetHeight
        self.targetWidth = targetWidth
    }

    /// Time ids for a generated sample at a bucket: orig = target = bucket, crop (0, 0) (what
    /// ComfyUI uses at inference, §6 of the DMD2 spec).
    public static func generated(_ bucket: Bucket) -> TimeIds {
        TimeIds(originalHeight: bucket.height, originalWidth: bucket.width, cropTop: 0, cropLeft: 0,
                targetHeight: bucket.height, targetWidth: bucket.width)
    }

    /// The row the UNet takes (`UNet.callAsFunction(timeIds:)`).
    public var values: [Float] {
        [originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth].map(Float.init)
    }
}

/// How an image that overflows its bucket after the cover-resize is cropped.
public enum CropMode: String, Codable, Sendable {
    /// Centred crop (offsets rounded down).
    case center
    /// Uniform random offset on the overflowing axis (seeded per sample, so resumable).
    case random
}

/// Where one image goes: bucket, cover-resize size, crop offset and flip.
public struct CropPlan: Equatable, Sendable {
    /// The bucket.
    public var bucket: Bucket
    /// Size after the aspect-preserving resize; both sides >= the bucket's.
    public var resizedWidth: Int
    /// See `resizedWidth`.
    public var resizedHeight: Int
    /// Crop offset in the resized image (before any flip).
    public var cropTop: Int
    /// See `cropTop`.
    public var cropLeft: Int
    /// Whether the crop is mirrored left-right.
    public var flipped: Bool

    /// SDXL time ids for an image of the given original size. With a flip the left offset becomes
    /// `resizedWidth - cropLeft - bucketWidth`, the crop's left edge in the mirrored image.
    public func timeIds(originalWidth: Int, originalHeight: Int) -> TimeIds {
        TimeIds(originalHeight: originalHeight, originalWidth: originalWidth, cropTop: cropTop,
                cropLeft: flipped ? resizedWidth - cropLeft - bucket.width : cropLeft,
                targetHeight: bucket.height, targetWidth: bucket.width)
    }

    /// Resizes `image` to the planned size, crops and (if planned) mirrors it. `image` may be a
    /// smaller decode of the original (JPEG DCT scaling); only its aspect has to match.
    public func apply(to image: Imaging.RGBImage) -> Imaging.RGBImage {
        let resized = image.resized(toWidth: resizedWidth, height: resizedHeight)
        let crop = resized.cropped(x: cropLeft, y: cropTop, width: bucket.width, height: bucket.height)
        guard flipped else { return crop }
        var out = crop
        let w = crop.width
        out.withUnsafeMutablePixels { px in
            for y in 0..<crop.height {
                let row = y * w * 3
                for x in 0..<(w / 2) {
                    let a = row + x * 3, b = row + (w - 1 - x) * 3
                    for c in 0..<3 { px.swapAt(a + c, b + c) }
                }
            }
        }
        return out
    }
}

/// A set of aspect-ratio buckets, sorted by (width, height).
public struct BucketList: Equatable, Sendable {
    /// The buckets, sorted.
    public let buckets: [Bucket]
    private let lookup: Set<Bucket>

    /// Any explicit list (sorted here; must not be empty).
    public init(buckets: [Bucket]) {
        precondition(!buckets.isEmpty && buckets.allSatisfy { $0.width > 0 && $0.height > 0 },
                     "BucketList: needs at least one bucket with positive sides, got \(buckets)")
        self.buckets = Array(Set(buckets)).sorted()
        lookup = Set(buckets)
    }

    /// kohya-ss sd-scripts' list (library/model_util.py `make_bucket_resolutions`): with
    /// s = floor(sqrt(area) / step) * step the square (s, s) is a bucket; then for every
    /// w = minSide, minSide + step, ... <= maxSide, h = min(maxSide, floor(floor(area / w) / step) * step)
    /// and, when h >= minSide, both (w, h) and (h, w) are buckets. So every area is <= `area` and
    /// every side a multiple of `step`. The defaults (1024², 256, 2048, 64) give 41 buckets.
    public static func kohya(area: Int = 1024 * 1024, minSide: Int = 256, maxSide: Int = 2048, step: Int = 64) -> BucketList {
        precondition(area > 0 && step > 0 && minSide > 0 && maxSide >= minSide,
                     "BucketList.kohya: area \(area), sides \(minSide)...\(maxSide), step \(step)")
        let s = Int((Double(area).squareRoot() / Double(step)).rounded(.down)) * step
        var set: Set<Bucket> = [Bucket(width: s, height: s)]
        var w = minSide
        while w <= maxSide {
            let h = min(maxSide, (area / w) / step * step)
            if h >= minSide {
                set.insert(Bucket(width: w, height: h))
                set.insert(Bucket(width: h, height: w))
            }
            w += step
        }
        return BucketList(buckets: Array(set))
    }

    /// The bucket for an image, as kohya's `BucketManager.select_bucket` (library/train_util.py)
    /// chooses it when upscaling is allowed: the image's exact size if that is a bucket, otherwise
    /// the first bucket (in sorted order) with the smallest |bucket aspect - image aspect|.
    public func bucket(width: Int, height: Int) -> Bucket {
        precondition(width > 0 && height > 0, "BucketList.bucket: image \(width)x\(height)")
        let exact = Bucket(width: width, height: height)
        if lookup.contains(exact) { return exact }
        let ar = Double(width) / Double(height)
        var best = buckets[0]
        var bestError = Double.infinity
        for b in buckets {
            let e = abs(b.aspectRatio - ar)
            if e < bestError { best = b; bestError = e }
        }
        return best
    }

    /// The cover-resize size for an image in `bucket`: match the bucket's height when the image is
    /// relatively wider, else its width; each side is `Int(side * scale + 0.5)` (kohya's rounding),
    /// never below the bucket's.
    public static func resizedSize(width: Int, height: Int, bucket: Bucket) -> (width: Int, height: Int) {
        let ar = Double(width) / Double(height)
        let scale = ar > bucket.aspectRatio ? Double(bucket.height) / Double(height) : Double(bucket.width) / Double(width)
        let rw = Int(Double(width) * scale + 0.5)
        let rh = Int(Double(height) * scale + 0.5)
        return (max(rw, bucket.width), max(rh, bucket.height))
    }

    /// The full plan for an image of `width` x `height`: bucket, resize, crop (`mode`) and, when
    /// `flip` is on, a coin toss for mirroring. `rng` is only drawn from for random choices.
    public func plan(width: Int, height: Int, mode: CropMode, flip: Bool, rng: inout DataRNG) -> CropPlan {
        let b = bucket(width: width, height: height)
        let (rw, rh) = BucketList.resizedSize(width: width, height: height, bucket: b)
        let spareY = rh - b.height, spareX = rw - b.width
        var top = spareY / 2, left = spareX / 2
        if mode == .random {
            top = rng.below(spareY + 1)
            left = rng.below(spareX + 1)
        }
        let flipped = flip && rng.below(2) == 1
        return CropPlan(bucket: b, resizedWidth: rw, resizedHeight: rh, cropTop: top, cropLeft: left, flipped: flipped)
    }
}
