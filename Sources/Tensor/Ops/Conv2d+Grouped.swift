import CKernels

/// Small images in a batch (training at 16×16 latents, the tiny models): one im2col + GEMM per *group* of images
/// instead of per image. Per image, a 4×4…16×16 feature map gives GEMMs of 16–256 columns whose threading and
/// packing overhead costs more than their arithmetic; a group's columns sit side by side ([K, G·pixels]), so one
/// product covers G images and both threads get real work. Same lowering, same results up to summation order.
extension Conv2d {
    /// Images per group for a batch of `batch` images of `pixels` output pixels and `k` im2col rows (1 = the
    /// per-image path): groups only when an image is small (< 1024 output pixels), at most `blockBytes` of
    /// columns and about 4096 columns per group.
    public static func groupSize(batch: Int, pixels: Int, k: Int, blockBytes: Int) -> Int {
        guard batch > 1, pixels < 1024 else { return 1 }
        let budget = blockBytes / max(1, k * MemoryLayout<Float>.stride)
        return max(1, min(batch, budget / pixels, max(1, 4096 / pixels)))
    }

    /// Fills `cols` ([k, n] with n = count·pixels) with image b0 + j's im2col block in columns j·pixels ..<
    /// (j + 1)·pixels; pointwise convs copy the input planes as they are.
    static func fillGroupColumns(_ x: Tensor, _ g: sumi_conv_geometry, first b0: Int, count: Int, pixels: Int, k: Int,
                                 cols: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, _ c: Compute) {
        let n = count * pixels, inPlane = x.count / max(x.dim(0), 1)
        for j in 0..<count {
            let src: UnsafePointer<Float>
            if isPointwise(g) {
                src = UnsafePointer(x.data + (b0 + j) * inPlane)
            } else {
                im2col(x.data + (b0 + j) * inPlane, g, p0: 0, np: pixels, into: scratch, c)
                src = UnsafePointer(scratch)
            }
            c.parallelFor(k, grain: max(1, 16384 / pixels)) { r in
                for row in r { (cols + row * n + j * pixels).update(from: src + row * pixels, count: pixels) }
            }
        }
    }

    /// The grouped forward: out [B, O, Ho, Wo] (bias already filled when `accumulate`).
    static func forwardGrouped(_ x: Tensor, weight: Tensor, g: sumi_conv_geometry, into out: Tensor, accumulate: Bool,
                               group: Int, _ c: Compute) -> Tensor {
        let (batch, outC) = (x.dim(0), weight.dim(0))
        let pixels = out.dim(2) * out.dim(3), k = weight.count / outC
        let cols = Storage(uninitializedCount: k * group * pixels), scratch = Storage(uninitializedCount: k * pixels)
        let y = Storage(uninitializedCount: outC * group * pixels)
        for b0 in Swift.stride(from: 0, to: batch, by: group) {
            let count = min(group, batch - b0), n = count * pixels
            fillGroupColumns(x, g, first: b0, count: count, pixels: pixels, k: k, cols: cols.pointer,
                             scratch: scratch.pointer, c)
            if outC <= Int(SUMI_FEW_ROWS_MAX) {
                fewRowsGEMM(weight.data, m: outC, k: k, b: cols.pointer, ldb: n, n: n, out: y.pointer, ldo: n,
                            accumulate: false, c)
            } else {
                BLAS.gemm(m: outC, n: n, k: k, a: weight.data, b: cols.pointer, ldb: n, c: y.pointer, ldc: n)
            }
            // [O, count·pixels] → out[b0 + j, o, :], added onto the bias when there is one.
            let py = y.pointer, po = out.data
            c.parallelFor(count * outC, grain: max(1, 8192 / pixels)) { r in
                for row in r {
                    let (j, o) = (row / outC, row % outC)
                    let dst = po + ((b0 + j) * outC + o) * pixels, src = py + o * n + j * pixels
                    if accumulate { for p in 0..<pixels { dst[p] += src[p] } } else { dst.update(from: src, count: pixels) }
                }
            }
        }
        return out
    }

    /// The grouped backward: dX (zeroed, accumulated into) and dW (accumulated into), either may be nil.
    static func backwardGrouped(_ dOut: Tensor, x: Tensor, weight: Tensor, g: sumi_conv_geometry, dX: Tensor?, dW: Tensor?,
                                group: Int, _ c: Compute) {
        let (batch, outC) = (x.dim(0), weight.dim(0))
        let pixels = dOut.dim(2) * dOut.dim(3), k = weight.count / outC, inPlane = x.count / max(batch, 1)
        let dy = Storage(uninitializedCount: outC * group * pixels)
        let cols = dW != nil ? Storage(uninitializedCount: k * group * pixels) : nil
        let dcols = dX != nil ? Storage(uninitializedCount: k * group * pixels) : nil
        let scratch = Storage(uninitializedCount: k * pixels)
        for b0 in Swift.stride(from: 0, to: batch, by: group) {
            let count = min(group, batch - b0), n = count * pixels
            // dOut[b0 + j, o, :] → dy[o, j·pixels ..< (j + 1)·pixels]
            let pd = dOut.data, pdy = dy.pointer
            c.parallelFor(count * outC, grain: max(1, 8192 / pixels)) { r in
                for row in r {
                    let (j, o) = (row / outC, row % outC)
                    (pdy + o * n + j * pixels).update(from: pd + ((b0 + j) * outC + o) * pixels, count: pixels)
                }
            }
            if let dW, let cols {
                fillGroupColumns(x, g, first: b0, count: count, pixels: pixels, k: k, cols: cols.pointer,
                                 scratch: scratch.pointer, c)
                BLAS.gemm(transB: true, m: outC, n: k, k: n, a: dy.pointer, lda: n, b: cols.pointer, ldb: n,
                          beta: 1, c: dW.data)
            }
            if let dX, let dcols {
                BLAS.gemm(transA: true, m: k, n: n, k: outC, a: weight.data, b: dy.pointer, ldb: n,
                          c: dcols.pointer, ldc: n)
                for j in 0..<count {
                    // Image j's columns, contiguous: straight into dX for a pointwise conv, else via col2im.
                    let dxb = dX.data + (b0 + j) * inPlane, src = dcols.pointer + j * pixels
                    let dst = isPointwise(g) ? dxb : scratch.pointer
                    c.parallelFor(k, grain: max(1, 16384 / pixels)) { r in
                        for row in r { (dst + row * pixels).update(from: src + row * n, count: pixels) }
                    }
                    if !isPointwise(g) { col2im(scratch.pointer, g, p0: 0, np: pixels, into: dxb, c) }
                }
            }
        }
    }
}
