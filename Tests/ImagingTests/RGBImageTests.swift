import XCTest
@testable import Imaging

final class RGBImageTests: XCTestCase {
    /// A deterministic image whose bytes all differ from their neighbours.
    static func pattern(width: Int, height: Int, seed: Int = 0) -> RGBImage {
        var pixels = [UInt8]()
        for i in 0..<(width * height * 3) { pixels.append(UInt8(truncatingIfNeeded: (i &* 37 &+ seed &* 11) ^ (i >> 3))) }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    func testFillAndSubscript() {
        var image = RGBImage(width: 3, height: 2, fill: RGBPixel(r: 1, g: 2, b: 3))
        XCTAssertEqual(image.pixels.count, 18)
        XCTAssertEqual(image[2, 1], RGBPixel(r: 1, g: 2, b: 3))
        image[1, 0] = .white
        XCTAssertEqual(Array(image.pixels[3..<6]), [255, 255, 255])
        XCTAssertEqual(image[0, 0], RGBPixel(r: 1, g: 2, b: 3))
        XCTAssertEqual(RGBImage(width: 2, height: 2).pixels, [UInt8](repeating: 0, count: 12))
        XCTAssertTrue(RGBImage(width: 0, height: 5).isEmpty)
    }

    func testRowMajorLayout() {
        let image = RGBImage(width: 2, height: 2, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        XCTAssertEqual(image[1, 0], RGBPixel(r: 4, g: 5, b: 6))
        XCTAssertEqual(image[0, 1], RGBPixel(r: 7, g: 8, b: 9))
    }

    func testBulkMutation() {
        var image = RGBImage(width: 2, height: 1)
        image.withUnsafeMutablePixels { buffer in
            for i in buffer.indices { buffer[i] = UInt8(i) }
        }
        XCTAssertEqual(image.pixels, [0, 1, 2, 3, 4, 5])
    }

    func testCropped() {
        let image = Self.pattern(width: 7, height: 5)
        let crop = image.cropped(x: 2, y: 1, width: 4, height: 3)
        XCTAssertEqual(crop.width, 4)
        XCTAssertEqual(crop.height, 3)
        for y in 0..<3 {
            for x in 0..<4 { XCTAssertEqual(crop[x, y], image[x + 2, y + 1]) }
        }
        XCTAssertEqual(image.cropped(x: 0, y: 0, width: 7, height: 5), image)
        XCTAssertTrue(image.cropped(x: 7, y: 5, width: 0, height: 0).isEmpty)
    }

    func testResizeIdentityAndEmpty() {
        let image = Self.pattern(width: 5, height: 3)
        XCTAssertEqual(image.resized(toWidth: 5, height: 3), image)
        let empty = image.resized(toWidth: 0, height: 4)
        XCTAssertEqual(empty.width, 0)
        XCTAssertEqual(empty.height, 4)
        XCTAssertTrue(empty.pixels.isEmpty)
    }

    func testResizeKeepsUniformColour() {
        let c = RGBPixel(r: 13, g: 200, b: 255)
        let image = RGBImage(width: 17, height: 9, fill: c)
        for (w, h) in [(5, 3), (40, 21), (3, 30), (1, 1), (17, 2), (100, 9)] {
            let r = image.resized(toWidth: w, height: h)
            XCTAssertEqual(r, RGBImage(width: w, height: h, fill: c), "\(w)x\(h)")
        }
    }

    func testDownscaleByIntegerFactorIsBlockMean() {
        let image = Self.pattern(width: 12, height: 9)
        let small = image.resized(toWidth: 4, height: 3)
        for y in 0..<3 {
            for x in 0..<4 {
                for k in 0..<3 {
                    var sum = 0
                    for dy in 0..<3 {
                        for dx in 0..<3 { sum += Int(image.pixels[((y * 3 + dy) * 12 + x * 3 + dx) * 3 + k]) }
                    }
                    let mean = (Double(sum) / 9).rounded()
                    XCTAssertEqual(Double(small.pixels[(y * 4 + x) * 3 + k]), mean, accuracy: 0.5001, "(\(x), \(y)) channel \(k)")
                }
            }
        }
    }

    func testDownscaleFractionalFactorUsesAreaWeights() {
        // 3 -> 2 pixels: output 0 covers source [0, 1.5): (s0 + 0.5 * s1) / 1.5.
        let image = RGBImage(width: 3, height: 1, pixels: [0, 0, 0, 90, 90, 90, 180, 180, 180])
        let r = image.resized(toWidth: 2, height: 1)
        XCTAssertEqual(r.pixels, [30, 30, 30, 150, 150, 150])
    }

    func testUpscaleIsBilinearWithHalfPixelCentres() {
        // 2 -> 4: centres at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
        let image = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 200, 100, 40])
        let r = image.resized(toWidth: 4, height: 1)
        XCTAssertEqual(r.pixels, [0, 0, 0, 50, 25, 10, 150, 75, 30, 200, 100, 40])
        // Single pixel upscales to a uniform image.
        let one = RGBImage(width: 1, height: 1, fill: RGBPixel(r: 9, g: 8, b: 7))
        XCTAssertEqual(one.resized(toWidth: 3, height: 2), RGBImage(width: 3, height: 2, fill: RGBPixel(r: 9, g: 8, b: 7)))
    }

    func testMixedAxes() {
        // Width shrinks (box), height grows (bilinear); each axis must match doing it separately.
        let image = Self.pattern(width: 8, height: 3)
        let both = image.resized(toWidth: 4, height: 5)
        let staged = image.resized(toWidth: 4, height: 3).resized(toWidth: 4, height: 5)
        XCTAssertEqual(both.width, 4)
        XCTAssertEqual(both.height, 5)
        for (a, b) in zip(both.pixels, staged.pixels) { XCTAssertLessThanOrEqual(abs(Int(a) - Int(b)), 1) }
    }

    func testResizeTapsSumToOne() {
        for (s, t) in [(1024, 80), (7, 3), (3, 7), (5, 5), (1000, 999), (2, 1000)] {
            let taps = ResizeTaps(source: s, target: t)
            XCTAssertEqual(taps.start.count, t + 1)
            for i in 0..<t {
                let sum = taps.weight[taps.start[i]..<taps.start[i + 1]].reduce(0, +)
                XCTAssertEqual(sum, 1, accuracy: 1e-5, "\(s)->\(t) output \(i)")
                XCTAssertTrue(taps.index[taps.start[i]..<taps.start[i + 1]].allSatisfy { (0..<s).contains($0) })
            }
        }
    }
}
