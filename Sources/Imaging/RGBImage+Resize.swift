extension RGBImage {
    /// This image scaled to `newWidth` x `newHeight`, each axis on its own: an axis that shrinks
    /// uses a box (area-average) filter, so every source pixel contributes and thin details do not
    /// alias away in small terminal previews; an axis that grows uses bilinear interpolation with
    /// pixel centres at +0.5 (edges clamped). A target of zero width or height gives an empty image.
    public func resized(toWidth newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth >= 0 && newHeight >= 0, "RGBImage.resized: negative size \(newWidth)x\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        if newWidth == 0 || newHeight == 0 { return RGBImage(width: newWidth, height: newHeight) }
        precondition(!isEmpty, "RGBImage.resized: cannot resize an empty \(width)x\(height) image to \(newWidth)x\(newHeight)")

        let xs = ResizeTaps(source: width, target: newWidth)
        let ys = ResizeTaps(source: height, target: newHeight)

        // Horizontal pass into floats: [height, newWidth, 3].
        var rows = [Float](repeating: 0, count: height * newWidth * 3)
        pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let srcRow = y * width * 3
                    let dstRow = y * newWidth * 3
                    for x in 0..<newWidth {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for t in xs.start[x]..<xs.start[x + 1] {
                            let i = srcRow + xs.index[t] * 3
                            let w = xs.weight[t]
                            r += w * Float(src[i])
                            g += w * Float(src[i + 1])
                            b += w * Float(src[i + 2])
                        }
                        dst[dstRow + x * 3] = r
                        dst[dstRow + x * 3 + 1] = g
                        dst[dstRow + x * 3 + 2] = b
                    }
                }
            }
        }

        // Vertical pass, rounding to bytes.
        let rowLength = newWidth * 3
        var out = [UInt8](repeating: 0, count: newHeight * rowLength)
        rows.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var acc = [Float](repeating: 0, count: rowLength)
                for y in 0..<newHeight {
                    for i in 0..<rowLength { acc[i] = 0 }
                    for t in ys.start[y]..<ys.start[y + 1] {
                        let base = ys.index[t] * rowLength
                        let w = ys.weight[t]
                        for i in 0..<rowLength { acc[i] += w * src[base + i] }
                    }
                    let dstRow = y * rowLength
                    for i in 0..<rowLength {
                        dst[dstRow + i] = UInt8(min(max(acc[i], 0), 255).rounded())
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}

/// Per-axis filter taps in compressed rows: output `i` reads source indices
/// `index[start[i]..<start[i+1]]` with the matching weights, which sum to 1.
struct ResizeTaps {
    var start: [Int] = [0]
    var index: [Int] = []
    var weight: [Float] = []

    init(source: Int, target: Int) {
        if target < source {
            // Box filter: output i covers source interval [i*s, (i+1)*s), each source pixel
            // weighted by how much of it lies inside.
            let s = Double(source) / Double(target)
            for i in 0..<target {
                let lo = Double(i) * s
                let hi = min(Double(i + 1) * s, Double(source))
                var j = Int(lo.rounded(.down))
                while Double(j) < hi && j < source {
                    let overlap = min(hi, Double(j + 1)) - max(lo, Double(j))
                    if overlap > 1e-9 {
                        index.append(j)
                        weight.append(Float(overlap / s))
                    }
                    j += 1
                }
                start.append(index.count)
            }
        } else if target > source {
            let s = Double(source) / Double(target)
            for i in 0..<target {
                let x = min(max((Double(i) + 0.5) * s - 0.5, 0), Double(source - 1))
                let j0 = Int(x.rounded(.down))
                let f = x - Double(j0)
                index.append(j0)
                weight.append(Float(1 - f))
                if f > 0 && j0 + 1 < source {
                    index.append(j0 + 1)
                    weight.append(Float(f))
                }
                start.append(index.count)
            }
        } else {
            for i in 0..<target {
                index.append(i)
                weight.append(1)
                start.append(index.count)
            }
        }
    }
}
