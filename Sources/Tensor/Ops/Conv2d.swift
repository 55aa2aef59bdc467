import CKernels

/// 2-D cross-correlation with PyTorch `F.conv2d` semantics: groups = 1, symmetric zero padding,
/// the same stride on both axes, weights `[O, C, kh, kw]` as stored in checkpoints.
///
/// Fast path: a 1×1, stride-1, unpadded conv is one GEMM per image, `W[O, C] · X[C, H·W]`.
/// Every other geometry is lowered with im2col into GEMMs over *blocks of output pixels*, so the
/// patch matrix never exceeds `blockBytes` (a full im2col of a 640-channel 3×3 conv at 64×64 would
/// be 94 MB) while each GEMM stays wide enough to run near peak. The block is filled by both cores;
/// GEMMs are called one at a time because OpenBLAS already threads inside them.
/// `naiveForward` / `naiveBackward` are direct loops kept as the reference for the fast path.
public enum Conv2d {
    /// Default im2col scratch per block. Large enough that GEMM N stays in the hundreds for
    /// the widest SDXL convs (K = 2880…5760; smaller blocks re-pack W more often and measured
    /// 5–10 % slower at 2–4 MB), small enough to stay resident in a 32 MB L3 between fill and GEMM.
    public static let defaultBlockBytes = 16 << 20

    /// Output length along one axis: ⌊(n + 2·padding − kernel) / stride⌋ + 1.
    public static func outputSize(_ n: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (n + 2 * padding - kernel) / stride + 1
    }

    /// Validates shapes and returns the per-image geometry the C kernels use.
    static func geometry(_ x: Tensor, _ weight: Tensor, stride: Int, padding: Int) -> sumi_conv_geometry {
        precondition(x.rank == 4 && weight.rank == 4, "Conv2d: x \(x.shape) must be [B, C, H, W], weight \(weight.shape) [O, C, kh, kw]")
        precondition(x.dim(1) == weight.dim(1), "Conv2d: x \(x.shape) has \(x.dim(1)) channels, weight \(weight.shape) expects \(weight.dim(1))")
        precondition(stride >= 1 && padding >= 0, "Conv2d: stride \(stride) must be ≥ 1 and padding \(padding) ≥ 0")
        let (h, w, kh, kw) = (x.dim(2), x.dim(3), weight.dim(2), weight.dim(3))
        let ho = outputSize(h, kernel: kh, stride: stride, padding: padding)
        let wo = outputSize(w, kernel: kw, stride: stride, padding: padding)
        precondition(h + 2 * padding >= kh && w + 2 * padding >= kw && ho > 0 && wo > 0,
                     "Conv2d: kernel \(weight.shape) larger than padded input \(x.shape) (padding \(padding))")
        return sumi_conv_geometry(channels: Int64(x.dim(1)), height: Int64(h), width: Int64(w),
                                  kernel_h: Int64(kh), kernel_w: Int64(kw),
                                  stride: Int64(stride), padding: Int64(padding),
                                  out_height: Int64(ho), out_width: Int64(wo))
    }

    /// Profile label: kernel, stride, channels and input size ("conv3x3 640→640 @64×64").
    static func profileLabel(_ x: Tensor, _ weight: Tensor, stride: Int, padding: Int) -> String {
        "conv\(weight.dim(2))x\(weight.dim(3))\(stride > 1 ? "s\(stride)" : "") \(weight.dim(1))→\(weight.dim(0)) @\(x.dim(2))×\(x.dim(3))"
    }

    /// Multiply-adds × 2 of one forward.
    static func flops(_ x: Tensor, _ weight: Tensor, stride: Int, padding: Int) -> Double {
        let ho = outputSize(x.dim(2), kernel: weight.dim(2), stride: stride, padding: padding)
        let wo = outputSize(x.dim(3), kernel: weight.dim(3), stride: stride, padding: padding)
        return 2 * Double(x.dim(0) * ho * wo) * Double(weight.count)
    }

    /// Whether the conv is a plain per-pixel matrix product (no im2col needed).
    static func isPointwise(_ g: sumi_conv_geometry) -> Bool {
        g.kernel_h == 1 && g.kernel_w == 1 && g.stride == 1 && g.padding == 0
    }

    /// Splits `pixels` output pixels into equal blocks whose im2col matrix ([rows, block]) fits in
    /// `blockBytes`. Returns the block width (a multiple of 16 when blocks are wide, for GEMM tiling).
    static func blockWidth(pixels: Int, rows: Int, blockBytes: Int) -> Int {
        let budget = max(1, blockBytes / (rows * MemoryLayout<Float>.stride))
        if budget >= pixels { return pixels }
        let blocks = (pixels + budget - 1) / budget
        var width = (pixels + blocks - 1) / blocks
        if width >= 64 { width = min(pixels, (width + 15) / 16 * 16) }
        return width
    }

    /// Fills the im2col block for output pixels [p0, p0 + np) of one image, rows split across threads.
    /// x: [C, H, W] (one image), col: [C·kh·kw, np]
    static func im2col(_ x: UnsafePointer<Float>, _ g: sumi_conv_geometry, p0: Int, np: Int,
                       into col: UnsafeMutablePointer<Float>, _ c: Compute) {
        let rows = Int(g.channels * g.kernel_h * g.kernel_w)
        var geo = g
        withUnsafePointer(to: &geo) { gp in
            c.parallelFor(rows, grain: max(1, 32768 / np)) { r in
                sumi_im2col(x, gp, Int64(p0), Int64(np), col, Int64(r.lowerBound), Int64(r.upperBound))
            }
        }
    }

    /// Scatters an im2col-shaped gradient block back onto one image, channels split across threads.
    /// dcol: [C·kh·kw, np], dx: [C, H, W] (accumulated into)
    static func col2im(_ dcol: UnsafePointer<Float>, _ g: sumi_conv_geometry, p0: Int, np: Int,
                       into dx: UnsafeMutablePointer<Float>, _ c: Compute) {
        let taps = Int(g.kernel_h * g.kernel_w)
        var geo = g
        withUnsafePointer(to: &geo) { gp in
            c.parallelFor(Int(g.channels), grain: max(1, 32768 / (taps * np))) { r in
                sumi_col2im(dcol, gp, Int64(p0), Int64(np), dx, Int64(r.lowerBound), Int64(r.upperBound))
            }
        }
    }

    /// x: [B, C, H, W], weight: [O, C, kh, kw], bias: [O] → [B, O, Ho, Wo].
    /// `blockBytes` bounds the im2col scratch (tests shrink it to exercise many blocks).
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                               blockBytes: Int = defaultBlockBytes, _ c: Compute) -> Tensor {
        let g = geometry(x, weight, stride: stride, padding: padding)
        let (batch, outC) = (x.dim(0), weight.dim(0))
        if let bias { precondition(bias.shape == [outC], "Conv2d: bias \(bias.shape) for weight \(weight.shape)") }
        if let tile = winogradTile(x, weight: weight, stride: stride, padding: padding, c) {
            return forwardWinograd(x, weight: weight, bias: bias, tile: tile, c)
        }
        let (ho, wo) = (Int(g.out_height), Int(g.out_width))
        let pixels = ho * wo, inPlane = x.count / max(batch, 1), k = weight.count / outC
        let out = Tensor(uninitialized: [batch, outC, ho, wo])
        if let bias {
            // Pre-fill with the bias and let GEMM accumulate onto it (beta = 1): no extra pass.
            let pb = bias.data, po = out.data
            c.parallelFor(batch * outC, grain: max(1, 16384 / pixels)) { r in
                for row in r { (po + row * pixels).update(repeating: pb[row % outC], count: pixels) }
            }
        }
        let beta: Float = bias == nil ? 0 : 1
        if c.usesBF16 && outC > Int(SUMI_FEW_ROWS_MAX) {
            return forwardBF16(x, weight: weight, g: g, into: out, accumulate: bias != nil, blockBytes: blockBytes, c)
        }
        let group = groupSize(batch: batch, pixels: pixels, k: k, blockBytes: blockBytes)
        if group > 1 { return forwardGrouped(x, weight: weight, g: g, into: out, accumulate: bias != nil, group: group, c) }
        // Very few output channels (RGB, latents): a register-blocked kernel instead of a 3-row sgemm.
        let few = outC <= Int(SUMI_FEW_ROWS_MAX)
        func product(_ b: UnsafePointer<Float>, ldb: Int, n: Int, into o: UnsafeMutablePointer<Float>) {
            if few {
                fewRowsGEMM(weight.data, m: outC, k: k, b: b, ldb: ldb, n: n, out: o, ldo: pixels, accumulate: bias != nil, c)
            } else {
                BLAS.gemm(m: outC, n: n, k: k, a: weight.data, b: b, ldb: ldb, beta: beta, c: o, ldc: pixels)
            }
        }
        if isPointwise(g) {
            for b in 0..<batch { product(x.data + b * inPlane, ldb: pixels, n: pixels, into: out.data + b * outC * pixels) }
            return out
        }
        let width = blockWidth(pixels: pixels, rows: k, blockBytes: blockBytes)
        let col = Storage(uninitializedCount: k * width)
        for b in 0..<batch {
            let xb = UnsafePointer(x.data + b * inPlane), ob = out.data + b * outC * pixels
            for p0 in Swift.stride(from: 0, to: pixels, by: width) {
                let np = min(width, pixels - p0)
                im2col(xb, g, p0: p0, np: np, into: col.pointer, c)
                product(col.pointer, ldb: np, n: np, into: ob + p0)
            }
        }
        return out
    }

    /// out[o, p] (+)= Σ_r w[o, r] · b[r, p] for m ≤ 8 rows, pixels split across workers in 32-wide tiles.
    /// w: [m, k]; b: [k, n] (row stride ldb); out: rows of stride ldo.
    static func fewRowsGEMM(_ w: UnsafePointer<Float>, m: Int, k: Int, b: UnsafePointer<Float>, ldb: Int, n: Int,
                            out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool, _ c: Compute) {
        let tiles = (n + 31) / 32
        c.parallelFor(tiles, grain: max(1, 4096 / max(k * m, 1))) { r in
            sumi_gemm_few_rows(w, Int64(m), Int64(k), b, Int64(ldb), out, Int64(ldo), accumulate ? 1 : 0,
                               Int64(r.lowerBound * 32), Int64(min(n, r.upperBound * 32)))
        }
    }

    /// The name of a weight's cached bf16 panel (see `Storage.derived`).
    static func bf16PanelKey(_ weight: Tensor) -> String { "bf16.conv.\(weight.dim(0))x\(weight.count / max(weight.dim(0), 1))" }

    /// The bf16 GEMM path of `forward` (same lowering; the weight packed once while its storage is frozen).
    /// out: [B, O, Ho, Wo], bias already filled when `accumulate`.
    static func forwardBF16(_ x: Tensor, weight: Tensor, g: sumi_conv_geometry, into out: Tensor, accumulate: Bool,
                            blockBytes: Int, _ c: Compute) -> Tensor {
        let (batch, outC) = (x.dim(0), weight.dim(0))
        let pixels = out.dim(2) * out.dim(3), inPlane = x.count / max(batch, 1), k = weight.count / outC
        let pw = weight.storage.derived(bf16PanelKey(weight)) { BF16GEMM.packA(weight.data, lda: k, m: outC, k: k, c) }
        if isPointwise(g) {
            let px = BF16GEMM.bBuffer(k: k, n: pixels)
            for b in 0..<batch {
                BF16GEMM.packB(x.data + b * inPlane, ldb: pixels, trans: false, k: k, n: pixels, into: px, c)
                BF16GEMM.gemm(pw, px, c: out.data + b * outC * pixels, ldc: pixels, accumulate: accumulate, c)
            }
            return out
        }
        let width = blockWidth(pixels: pixels, rows: k, blockBytes: blockBytes)
        let col = Storage(uninitializedCount: k * width), pcol = BF16GEMM.bBuffer(k: k, n: width)
        for b in 0..<batch {
            let xb = UnsafePointer(x.data + b * inPlane), ob = out.data + b * outC * pixels
            for p0 in Swift.stride(from: 0, to: pixels, by: width) {
                let np = min(width, pixels - p0)
                im2col(xb, g, p0: p0, np: np, into: col.pointer, c)
                BF16GEMM.packB(col.pointer, ldb: np, trans: false, k: k, n: np, into: pcol, c)
                BF16GEMM.gemm(pw, pcol, c: ob + p0, ldc: pixels, accumulate: accumulate, c)
            }
        }
        return out
    }

    /// Gradients of `forward`. dOut: [B, O, Ho, Wo].
    /// Returns dInput [B, C, H, W], dWeight [O, C, kh, kw], dBias [O] (each nil when not requested).
    /// dWeight = Σ_blocks dY · colᵀ; dInput = col2im(Wᵀ · dY), block by block like `forward`.
    public static func backward(_ dOut: Tensor, x: Tensor, weight: Tensor, hasBias: Bool,
                                stride: Int = 1, padding: Int = 0,
                                needInput: Bool = true, needWeight: Bool = true,
                                blockBytes: Int = defaultBlockBytes,
                                _ c: Compute) -> (dInput: Tensor?, dWeight: Tensor?, dBias: Tensor?) {
        let g = geometry(x, weight, stride: stride, padding: padding)
        let (batch, outC) = (x.dim(0), weight.dim(0))
        let (ho, wo) = (Int(g.out_height), Int(g.out_width))
        precondition(dOut.shape == [batch, outC, ho, wo], "Conv2d.backward: dOut \(dOut.shape) vs output \([batch, outC, ho, wo])")
        let pixels = ho * wo, inPlane = x.count / max(batch, 1), k = weight.count / outC
        let outPlane = outC * pixels
        var dB: Tensor? = nil
        if hasBias {
            // Per-channel sums of dY over batch and pixels (Double accumulation), channels split across threads.
            let sums = Tensor(zeros: [outC]), ps = sums.data, pd = dOut.data
            c.parallelFor(outC, grain: max(1, 16384 / max(1, batch * pixels))) { r in
                for o in r {
                    var acc = 0.0
                    for b in 0..<batch {
                        let row = pd + b * outPlane + o * pixels
                        var part: Float = 0
                        for p in 0..<pixels { part += row[p] }
                        acc += Double(part)
                    }
                    ps[o] = Float(acc)
                }
            }
            dB = sums
        }
        guard needInput || needWeight else { return (nil, nil, dB) }
        let group = groupSize(batch: batch, pixels: pixels, k: k, blockBytes: blockBytes)
        if group > 1 {
            let dX = needInput ? Tensor(zeros: x.shape) : nil, dW = needWeight ? Tensor(zeros: weight.shape) : nil
            backwardGrouped(dOut, x: x, weight: weight, g: g, dX: dX, dW: dW, group: group, c)
            return (dX, dW, dB)
        }
        let dW = needWeight ? Tensor(zeros: weight.shape) : nil
        if isPointwise(g) {
            let dX = needInput ? Tensor(uninitialized: x.shape) : nil
            for b in 0..<batch {
                let dyb = dOut.data + b * outPlane
                if let dW {
                    BLAS.gemm(transB: true, m: outC, n: k, k: pixels, a: dyb, b: x.data + b * inPlane, beta: 1, c: dW.data)
                }
                if let dX {
                    BLAS.gemm(transA: true, m: k, n: pixels, k: outC, a: weight.data, b: dyb, c: dX.data + b * inPlane)
                }
            }
            return (dX, dW, dB)
        }
        let dX = needInput ? Tensor(zeros: x.shape) : nil
        let width = blockWidth(pixels: pixels, rows: k, blockBytes: blockBytes)
        let col = needWeight ? Storage(uninitializedCount: k * width) : nil
        let dcol = needInput ? Storage(uninitializedCount: k * width) : nil
        for b in 0..<batch {
            let dyb = dOut.data + b * outPlane
            for p0 in Swift.stride(from: 0, to: pixels, by: width) {
                let np = min(width, pixels - p0)
                if let dW, let col {
                    im2col(x.data + b * inPlane, g, p0: p0, np: np, into: col.pointer, c)
                    BLAS.gemm(transB: true, m: outC, n: k, k: np, a: dyb + p0, lda: pixels,
                              b: col.pointer, ldb: np, beta: 1, c: dW.data)
                }
                if let dX, let dcol {
                    BLAS.gemm(transA: true, m: k, n: np, k: outC, a: weight.data, b: dyb + p0, ldb: pixels,
                              c: dcol.pointer, ldc: np)
                    col2im(dcol.pointer, g, p0: p0, np: np, into: dX.data + b * inPlane, c)
                }
            }
        }
        return (dX, dW, dB)
    }

    // MARK: - Naive reference

    /// Direct-loop convolution (float64 accumulation), the reference for `forward`.
    /// x: [B, C, H, W], weight: [O, C, kh, kw], bias: [O] → [B, O, Ho, Wo]
    public static func naiveForward(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
        let g = geometry(x, weight, stride: stride, padding: padding)
        let (bs, cs, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let (os, kh, kw, ho, wo) = (weight.dim(0), weight.dim(2), weight.dim(3), Int(g.out_height), Int(g.out_width))
        let out = Tensor(zeros: [bs, os, ho, wo])
        let px = x.data, pw = weight.data, po = out.data
        for b in 0..<bs { for o in 0..<os { for oy in 0..<ho { for ox in 0..<wo {
            var s = Double(bias?.data[o] ?? 0)
            for ci in 0..<cs { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                s += Double(px[((b * cs + ci) * h + iy) * w + ix]) * Double(pw[((o * cs + ci) * kh + ky) * kw + kx])
            } } }
            po[((b * os + o) * ho + oy) * wo + ox] = Float(s)
        } } } }
        return out
    }

    /// Direct-loop gradients (float64 accumulation), the reference for `backward`.
    /// dOut: [B, O, Ho, Wo] → dInput [B, C, H, W], dWeight [O, C, kh, kw], dBias [O]
    public static func naiveBackward(_ dOut: Tensor, x: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0)
        -> (dInput: Tensor, dWeight: Tensor, dBias: Tensor) {
        let g = geometry(x, weight, stride: stride, padding: padding)
        let (bs, cs, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let (os, kh, kw, ho, wo) = (weight.dim(0), weight.dim(2), weight.dim(3), Int(g.out_height), Int(g.out_width))
        precondition(dOut.shape == [bs, os, ho, wo], "Conv2d.naiveBackward: dOut \(dOut.shape) vs output \([bs, os, ho, wo])")
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: weight.count)
        var db = [Double](repeating: 0, count: os)
        let px = x.data, pw = weight.data, pd = dOut.data
        for b in 0..<bs { for o in 0..<os { for oy in 0..<ho { for ox in 0..<wo {
            let d = Double(pd[((b * os + o) * ho + oy) * wo + ox])
            db[o] += d
            for ci in 0..<cs { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let xi = ((b * cs + ci) * h + iy) * w + ix, wi = ((o * cs + ci) * kh + ky) * kw + kx
                dx[xi] += d * Double(pw[wi])
                dw[wi] += d * Double(px[xi])
            } } }
        } } } }
        return (Tensor(shape: x.shape, values: dx.map { Float($0) }),
                Tensor(shape: weight.shape, values: dw.map { Float($0) }),
                Tensor(shape: [os], values: db.map { Float($0) }))
    }
}

extension Compute {
    /// Whether `conv2d` with this weight reads only its cached bf16 panel (see `linearUsesPackedWeight`): the
    /// Winograd panels for 3×3 stride-1 padding-1 weights (unless Winograd is off), the im2col panel otherwise.
    public func conv2dUsesPackedWeight(_ weight: Tensor, stride: Int = 1, padding: Int = 0) -> Bool {
        guard usesBF16 && !recordsGradients && weight.dim(0) > Int(SUMI_FEW_ROWS_MAX) else { return false }
        let winograd = winogradConvs && Conv2d.winogradShape(weight, stride: stride, padding: padding)
        return weight.storage.hasDerived(winograd ? Conv2d.winogradPanelKey(weight) : Conv2d.bf16PanelKey(weight))
    }

    /// 2-D convolution (PyTorch `F.conv2d`, groups = 1).
    /// x: [B, C, H, W], weight: [O, C, kh, kw], bias: [O] → [B, O, Ho, Wo].
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        let y = profiled(Conv2d.profileLabel(x, weight, stride: stride, padding: padding),
                         flops: Conv2d.flops(x, weight, stride: stride, padding: padding)) {
            Conv2d.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, self)
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return record("conv2d", y, inputs: inputs) { dOut in
            let g = Conv2d.backward(dOut, x: x, weight: weight, hasBias: bias?.requiresGrad ?? false,
                                    stride: stride, padding: padding,
                                    needInput: x.requiresGrad, needWeight: weight.requiresGrad, self)
            return bias == nil ? [g.dInput, g.dWeight] : [g.dInput, g.dWeight, g.dBias]
        }
    }
}
