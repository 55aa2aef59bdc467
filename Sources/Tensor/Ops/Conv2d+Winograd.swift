import CKernels

/// Winograd F(2×2, 3×3) for the 3×3, stride-1, padding-1 convs that dominate SDXL's VAE and a quarter of its UNet:
/// each 2×2 block of outputs comes from a 4×4 input patch with 16 multiplies per channel pair instead of 36, so a
/// conv becomes 16 GEMMs `U[ξ] [K, C] · V[ξ] [C, tiles]` with 2.25× fewer multiply-adds than im2col + GEMM. The
/// transforms (Sources/CKernels/winograd.c) are adds only and stream memory; tiles go in chunks so V and the
/// products stay cache-sized. Inference only (`recordsGradients` false): training keeps im2col, whose backward is
/// beside it. Results differ from im2col by summation order (the reference is `naiveForward`).
extension Conv2d {
    /// Tile budget per chunk: V [16, C, nt] and the products [16, K, nt] each at most this many bytes.
    public static let winogradChunkBytes = 16 << 20

    /// Whether `weight` has the geometry Winograd F(2, 3) computes (3×3, stride 1, padding 1) and more output
    /// channels than the few-rows kernel handles.
    static func winogradShape(_ weight: Tensor, stride: Int, padding: Int) -> Bool {
        weight.rank == 4 && weight.dim(2) == 3 && weight.dim(3) == 3 && stride == 1 && padding == 1 && weight.dim(0) > Int(SUMI_FEW_ROWS_MAX)
    }

    /// Whether this forward runs as Winograd. bf16 decides by the weight alone — its transformed panels are the one
    /// cached form of the weight (see `Compute.conv2dUsesPackedWeight`) — while fp32 transforms the weight on every
    /// call, so it needs enough tiles (≥ 256: outputs of 32×32 and up) for that to be cheap next to the products.
    public static func usesWinograd(_ x: Tensor, weight: Tensor, stride: Int, padding: Int, _ c: Compute) -> Bool {
        guard c.winogradConvs, !c.recordsGradients, winogradShape(weight, stride: stride, padding: padding) else { return false }
        if c.usesBF16 { return true }
        return ((x.dim(2) + 1) / 2) * ((x.dim(3) + 1) / 2) >= 256
    }

    /// The name of a weight's cached bf16 Winograd panels (see `Storage.derived`).
    static func winogradPanelKey(_ weight: Tensor) -> String { "bf16.winograd2.\(weight.dim(0))x\(weight.dim(1))" }

    /// The 16 transformed weights U[ξ] [K, C], packed as bf16 GEMM panels.
    final class WinogradPanels: @unchecked Sendable {
        let panels: [BF16GEMM.Packed]
        init(_ panels: [BF16GEMM.Packed]) { self.panels = panels }
        var bytes: Int { panels.reduce(0) { $0 + $1.bytes } }
    }

    /// U [16, K, C] = G g Gᵀ of weight [K, C, 3, 3], output channels split across threads.
    static func winogradWeights(_ weight: Tensor, _ c: Compute) -> Storage {
        let (k, ch) = (weight.dim(0), weight.dim(1))
        let u = Storage(uninitializedCount: 16 * k * ch), pu = u.pointer, pw = weight.data
        c.parallelFor(k, grain: max(1, 4096 / ch)) { r in
            sumi_winograd_f2_weights(pw, Int64(k), Int64(ch), pu, Int64(r.lowerBound), Int64(r.upperBound))
        }
        return u
    }

    /// Tiles per chunk for C input and K output channels out of `tiles`: a multiple of 16, at least 64.
    static func winogradChunk(tiles: Int, inChannels: Int, outChannels: Int, chunkBytes: Int = winogradChunkBytes) -> Int {
        let budget = chunkBytes / (16 * MemoryLayout<Float>.stride * max(inChannels, outChannels))
        if budget >= tiles { return tiles }
        let chunks = (tiles + max(budget, 64) - 1) / max(budget, 64)
        return min(tiles, ((tiles + chunks - 1) / chunks + 15) / 16 * 16)
    }

    /// x: [B, C, H, W], weight: [K, C, 3, 3], bias: [K] → [B, K, H, W] (padding 1, stride 1).
    /// `chunkBytes` bounds the transformed tiles per chunk (tests shrink it to exercise many chunks).
    public static func forwardWinograd(_ x: Tensor, weight: Tensor, bias: Tensor?,
                                       chunkBytes: Int = winogradChunkBytes, _ c: Compute) -> Tensor {
        precondition(x.rank == 4 && winogradShape(weight, stride: 1, padding: 1) && x.dim(1) == weight.dim(1),
                     "Conv2d.forwardWinograd: x \(x.shape), weight \(weight.shape) is not a 3×3 conv of these channels")
        let (batch, ch, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3)), k = weight.dim(0)
        let tiles = ((h + 1) / 2) * ((w + 1) / 2)
        let chunk = winogradChunk(tiles: tiles, inChannels: ch, outChannels: k, chunkBytes: chunkBytes)
        let out = Tensor(uninitialized: [batch, k, h, w])
        let v = Storage(uninitializedCount: 16 * ch * chunk), m = Storage(uninitializedCount: 16 * k * chunk)
        let pv = v.pointer, pm = m.pointer
        // Either the fp32 transformed weights (per call) or their cached bf16 panels.
        let u: Storage?, panels: WinogradPanels?, pb: BF16GEMM.Packed?
        if c.usesBF16 {
            panels = weight.storage.derived(winogradPanelKey(weight)) {
                let uf = winogradWeights(weight, c)
                return WinogradPanels((0..<16).map { BF16GEMM.packA(uf.pointer + $0 * k * ch, lda: ch, m: k, k: ch, c) })
            }
            u = nil; pb = BF16GEMM.bBuffer(k: ch, n: chunk)
        } else {
            u = winogradWeights(weight, c); panels = nil; pb = nil
        }
        let pbias = bias.map { UnsafePointer($0.data) }
        for b in 0..<batch {
            let xb = UnsafePointer(x.data + b * ch * h * w), yb = out.data + b * k * h * w
            for t0 in Swift.stride(from: 0, to: tiles, by: chunk) {
                let nt = min(chunk, tiles - t0)
                c.parallelFor(ch, grain: max(1, 8192 / nt)) { r in
                    sumi_winograd_f2_input(xb, Int64(ch), Int64(h), Int64(w), Int64(t0), Int64(nt), pv,
                                           Int64(r.lowerBound), Int64(r.upperBound))
                }
                for xi in 0..<16 {
                    let vx = pv + xi * ch * nt, mx = pm + xi * k * nt
                    if let panels, let pb {
                        BF16GEMM.packB(vx, ldb: nt, trans: false, k: ch, n: nt, into: pb, c)
                        BF16GEMM.gemm(panels.panels[xi], pb, c: mx, ldc: nt, accumulate: false, c)
                    } else if let u {
                        BLAS.gemm(m: k, n: nt, k: ch, a: u.pointer + xi * k * ch, b: vx, c: mx)
                    }
                }
                c.parallelFor(k, grain: max(1, 8192 / nt)) { r in
                    sumi_winograd_f2_output(pm, Int64(k), Int64(h), Int64(w), Int64(t0), Int64(nt), pbias, yb,
                                            Int64(r.lowerBound), Int64(r.upperBound))
                }
            }
        }
        return out
    }
}
