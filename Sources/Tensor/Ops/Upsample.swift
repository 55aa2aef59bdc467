import CKernels

/// Nearest-neighbour 2× upsampling, PyTorch `F.interpolate(x, scale_factor=2, mode="nearest")`:
/// each input pixel becomes a 2×2 block. The backward pass sums each 2×2 block of the gradient.
public enum UpsampleNearest2x {
    /// x: [B, C, H, W] → [B, C, 2H, 2W]
    public static func forward(_ x: Tensor, _ c: Compute) -> Tensor {
        precondition(x.rank == 4, "UpsampleNearest2x: x \(x.shape) must be [B, C, H, W]")
        let (w, rows) = (x.dim(3), x.count / max(x.dim(3), 1))
        let out = Tensor(uninitialized: [x.dim(0), x.dim(1), 2 * x.dim(2), 2 * w])
        let src = x.data, dst = out.data
        // Input rows of all planes are stacked, so input row r maps to output rows 2r and 2r+1.
        c.parallelFor(rows, grain: max(1, 16384 / max(w, 1))) { r in
            sumi_upsample_nearest2x(src, dst, Int64(w), Int64(r.lowerBound), Int64(r.upperBound))
        }
        return out
    }

    /// dOut: [B, C, 2H, 2W] → dInput [B, C, H, W] (sum over each 2×2 block).
    public static func backward(_ dOut: Tensor, _ c: Compute) -> Tensor {
        precondition(dOut.rank == 4 && dOut.dim(2) % 2 == 0 && dOut.dim(3) % 2 == 0,
                     "UpsampleNearest2x.backward: dOut \(dOut.shape) must be [B, C, 2H, 2W]")
        let dx = Tensor(uninitialized: [dOut.dim(0), dOut.dim(1), dOut.dim(2) / 2, dOut.dim(3) / 2])
        let w = dx.dim(3), rows = dx.count / max(w, 1)
        let src = dOut.data, dst = dx.data
        c.parallelFor(rows, grain: max(1, 16384 / max(w, 1))) { r in
            sumi_upsample_nearest2x_backward(src, dst, Int64(w), Int64(r.lowerBound), Int64(r.upperBound))
        }
        return dx
    }

    /// Plain-loop reference for `forward`. x: [B, C, H, W] → [B, C, 2H, 2W]
    public static func naiveForward(_ x: Tensor) -> Tensor {
        let (p, h, w) = (x.dim(0) * x.dim(1), x.dim(2), x.dim(3))
        let out = Tensor(uninitialized: [x.dim(0), x.dim(1), 2 * h, 2 * w])
        for i in 0..<p { for y in 0..<(2 * h) { for xx in 0..<(2 * w) {
            out.data[(i * 2 * h + y) * 2 * w + xx] = x.data[(i * h + y / 2) * w + xx / 2]
        } } }
        return out
    }

    /// Plain-loop reference for `backward`. dOut: [B, C, 2H, 2W] → [B, C, H, W]
    public static func naiveBackward(_ dOut: Tensor) -> Tensor {
        let (p, h, w) = (dOut.dim(0) * dOut.dim(1), dOut.dim(2) / 2, dOut.dim(3) / 2)
        let dx = Tensor(zeros: [dOut.dim(0), dOut.dim(1), h, w])
        for i in 0..<p { for y in 0..<(2 * h) { for xx in 0..<(2 * w) {
            dx.data[(i * h + y / 2) * w + xx / 2] += dOut.data[(i * 2 * h + y) * 2 * w + xx]
        } } }
        return dx
    }
}

extension Compute {
    /// Nearest 2× upsampling (PyTorch `F.interpolate(scale_factor=2, mode="nearest")`).
    /// x: [B, C, H, W] → [B, C, 2H, 2W]
    public func upsampleNearest2x(_ x: Tensor) -> Tensor {
        let y = profiled("upsample2x \(shapeLabel(x.shape))", bytes: 20 * Double(x.count)) { UpsampleNearest2x.forward(x, self) }
        return record("upsampleNearest2x", y, inputs: [x]) { dOut in
            [UpsampleNearest2x.backward(dOut, self)]
        }
    }
}
