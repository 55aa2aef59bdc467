import Foundation
import Imaging
import TestSupport
import XCTest
@testable import Trainer

final class BucketTests: XCTestCase {
    /// Bucket lists and assignments against tools/reference/data_fixtures.py (kohya's rule).
    func testBucketListsAndAssignmentsMatchKohyaRule() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("buckets.json", target: "TrainerTests")))
        let cases = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let cfg = c["config"] as! [String: Int]
            let list = BucketList.kohya(area: cfg["area"]!, minSide: cfg["min_side"]!, maxSide: cfg["max_side"]!, step: cfg["step"]!)
            let expected = (c["buckets"] as! [[Int]]).map { Bucket(width: $0[0], height: $0[1]) }
            XCTAssertEqual(list.buckets, expected, "\(cfg)")
            for a in c["assignments"] as! [[String: [Int]]] {
                let (w, h) = (a["image"]![0], a["image"]![1])
                let b = list.bucket(width: w, height: h)
                XCTAssertEqual([b.width, b.height], a["bucket"]!, "\(cfg) image \(w)x\(h)")
                let r = BucketList.resizedSize(width: w, height: h, bucket: b)
                XCTAssertEqual([r.width, r.height], a["resized"]!, "\(cfg) image \(w)x\(h)")
            }
        }
        let sdxl = BucketList.kohya()
        XCTAssertEqual(sdxl.buckets.count, 41)
        for b in [(1024, 1024), (1152, 896), (1216, 832), (1344, 768), (1536, 640)] {
            XCTAssertTrue(sdxl.buckets.contains(Bucket(width: b.0, height: b.1)) && sdxl.buckets.contains(Bucket(width: b.1, height: b.0)))
        }
        XCTAssertTrue(sdxl.buckets.allSatisfy { $0.width * $0.height <= 1024 * 1024 && $0.width % 64 == 0 && $0.height % 64 == 0 })
    }

    func testCenterCropTimeIds() {
        var rng = DataRNG(seed: 0)
        let list = BucketList.kohya()
        // 1920x1080 → bucket 1344x768, resized 1365x768: 21 px overflow, centred at 10.
        let plan = list.plan(width: 1920, height: 1080, mode: .center, flip: false, rng: &rng)
        XCTAssertEqual(plan.bucket, Bucket(width: 1344, height: 768))
        XCTAssertEqual([plan.resizedWidth, plan.resizedHeight, plan.cropTop, plan.cropLeft], [1365, 768, 0, 10])
        XCTAssertEqual(plan.timeIds(originalWidth: 1920, originalHeight: 1080).values, [1080, 1920, 0, 10, 768, 1344])
        XCTAssertEqual(rng, DataRNG(seed: 0), "a centre crop without flip draws nothing")
        XCTAssertEqual(TimeIds.generated(Bucket(width: 832, height: 1216)).values, [1216, 832, 0, 0, 1216, 832])
    }

    func testRandomCropAndFlipTimeIds() {
        let list = BucketList.kohya()
        var seen = Set<Int>()
        var flips = 0
        for seed in 0..<64 {
            var rng = DataRNG(seed: UInt64(seed))
            let p = list.plan(width: 1080, height: 1920, mode: .random, flip: true, rng: &rng)
            XCTAssertEqual(p.bucket, Bucket(width: 768, height: 1344))
            XCTAssertEqual(p.resizedHeight, 1365)
            XCTAssertTrue((0...21).contains(p.cropTop))
            XCTAssertEqual(p.cropLeft, 0)
            seen.insert(p.cropTop)
            let ids = p.timeIds(originalWidth: 1080, originalHeight: 1920)
            XCTAssertEqual(ids.cropTop, p.cropTop)
            if p.flipped { flips += 1 }
            XCTAssertEqual(ids.cropLeft, p.flipped ? p.resizedWidth - p.cropLeft - 768 : p.cropLeft)
        }
        XCTAssertGreaterThan(seen.count, 8)
        XCTAssertTrue((10...54).contains(flips))
    }

    func testApplyResizesCropsAndFlips() {
        var img = Imaging.RGBImage(width: 6, height: 2)
        for x in 0..<6 { for y in 0..<2 { img[x, y] = RGBPixel(r: UInt8(x * 10), g: UInt8(y), b: 0) } }
        let plan = CropPlan(bucket: Bucket(width: 3, height: 2), resizedWidth: 6, resizedHeight: 2, cropTop: 0, cropLeft: 2, flipped: false)
        let out = plan.apply(to: img)
        XCTAssertEqual((0..<3).map { out[$0, 0].r }, [20, 30, 40])
        var flipped = plan
        flipped.flipped = true
        let f = flipped.apply(to: img)
        XCTAssertEqual((0..<3).map { f[$0, 1].r }, [40, 30, 20])
        XCTAssertEqual(f[0, 1].g, 1)
        XCTAssertEqual(flipped.timeIds(originalWidth: 6, originalHeight: 2).cropLeft, 1)
    }
}
