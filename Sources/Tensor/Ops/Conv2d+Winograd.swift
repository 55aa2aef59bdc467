import CKernels

/// Winograd convolution for the 3×3, stride-1, padding-1 convs that dominate SDXL's VAE and a quarter of its UNet.
/// F(m×m, 3×3) computes each m×m block of outputs from an (m+2)×(m+2) input patch, so a conv becomes (m+2)² GEMMs
/// `U[ξ] [K, C] · V[ξ] [C, tiles]`: F(2×2) (16 GEMMs) does 2.25× fewer multiply-adds than im2col + GEMM, F(4×4)
/// (36 GEMMs) 4× fewer, with a larger but still fp32-sized rounding error. The transforms
/// (Sources/CKernels/winograd.c) are adds and small constant multiplies that stream memory; tiles go in chunks
/// so V and the products stay cache-sized. Inference only (`recordsGradients` false): training keeps im2col,
/// whose backward is beside it. The reference is `naiveForward`.
extension Conv2d {
    /// Tile budget per chunk: V [points, C, nt] and the products [points, K, nt] each at most this many bytes.
    public static let winogradChunkBytes = 16 << 20

    /// The two output-tile sizes.
    public enum WinogradTile: Int, Sendable, CaseIterable {
        case f2 = 2, f4 = 4
        /// Transformed points per tile, (m + 2)².
        var points: Int { (rawValue + 2) * (rawValue + 2) }
        /// Tiles covering an h × w output.
        func tiles(_ h: Int, _ w: Int) -> Int { ((h + rawValue - 1) / rawValue) * ((w + rawValue - 1) / rawValue) }
    }

    /// Whether `weight` has the geometry Winograd F(m, 3) computes (3×3, stride 1, padding 1) and more output
    /// channels than the few-rows kernel handles.
    static func winogradShape(_ weight: Tensor, stride: Int, padding: Int) -> Bool {
        weight.rank == 4 && weight.dim(2) == 3 && weight.dim(3) == 3 && stride == 1 && padding == 1
            && weight.dim(0) > Int(SUMI_FEW_ROWS_MAX)
    }

    /// The Winograd variant this forward runs as, or nil for im2col. fp32 transforms the weight on every call, so it
    /// needs enough tiles for that to be cheap next to the products: F(4) from 256 of its tiles (outputs of 64×64 and
    /// up), F(2) from 256 (32×32). bf16 runs F(2) with its transformed weights cached as bf16 panels — the one cached
    /// form of the weight (see `Compute.conv2dUsesPackedWeight`) — except where fp32 F(4) does less work: big maps
    /// (≥ 1024 F(4) tiles) of at most 256 channels, when the fp32 weight is at hand.
    public static func winogradTile(_ x: Tensor, weight: Tensor, stride: Int, padding: Int, _ c: Compute) -> WinogradTile? {
        winogradTile(height: x.dim(2), width: x.dim(3), weight: weight, stride: stride, padding: padding, c)
    }

    /// `winogradTile` for an output of height × width.
    public static func winogradTile(height h: Int, width w: Int, weight: Tensor, stride: Int, padding: Int,
                                    _ c: Compute) -> WinogradTile? {
        guard c.winogradConvs, !c.recordsGradients, winogradShape(weight, stride: stride, padding: padding) else { return nil }
        if c.usesBF16 {
            let small = max(weight.dim(0), weight.dim(1)) <= 256
            return small && WinogradTile.f4.tiles(h, w) >= 1024 && weight.storage.hasFullValues ? .f4 : .f2
        }
        if WinogradTile.f4.tiles(h, w) >= 256 { return .f4 }
        return WinogradTile.f2.tiles(h, w) >= 256 ? .f2 : nil
    }

    /// What the conv's input is made of, applied while the input transform reads it, so the tensor it describes is
    /// never stored: `silu?(alpha · x + beta)` per (image, channel) — a GroupNorm (+ SiLU) folded into affines — and/or
    /// a nearest-2× upsampling of x.
    public struct WinogradPrologue {
        /// Per (image, channel) affine, [B · C] each (nil: none).
        public var alpha: [Float]?, beta: [Float]?
        public var silu: Bool
        /// x is the source of a nearest-2× upsampling: the conv's input is twice its height and width.
        public var upsample2x: Bool
        public init(alpha: [Float]? = nil, beta: [Float]? = nil, silu: Bool = false, upsample2x: Bool = false) {
            precondition((alpha == nil) == (beta == nil) && alpha?.count == beta?.count, "WinogradPrologue: alpha and beta go together")
            (self.alpha, self.beta, self.silu, self.upsample2x) = (alpha, beta, silu, upsample2x)
        }
    }

    /// The name of a weight's cached bf16 F(2) panels (see `Storage.derived`).
    static func winogradPanelKey(_ weight: Tensor) -> String { "bf16.winograd2.\(weight.dim(0))x\(weight.dim(1))" }

    /// The transformed weights U[ξ] [K, C], packed as bf16 GEMM panels.
    final class WinogradPanels: @unchecked Sendable {
        let panels: [BF16GEMM.Packed]
        init(_ panels: [BF16GEMM.Packed]) { self.panels = panels }
        var bytes: Int { panels.reduce(0) { $0 + $1.bytes } }
    }

    /// U [points, K, C] = G g Gᵀ of weight [K, C, 3, 3], output channels split across threads.
    static func winogradWeights(_ weight: Tensor, tile: WinogradTile, _ c: Compute) -> Storage {
        let (k, ch) = (weight.dim(0), weight.dim(1))
        let u = Storage(uninitializedCount: tile.points * k * ch), pu = u.pointer, pw = weight.data
        c.parallelFor(k, grain: max(1, 4096 / ch)) { r in
            let (lo, hi) = (Int64(r.lowerBound), Int64(r.upperBound))
            switch tile {
            case .f2: sumi_winograd_f2_weights(pw, Int64(k), Int64(ch), pu, lo, hi)
            case .f4: sumi_winograd_f4_weights(pw, Int64(k), Int64(ch), pu, lo, hi)
            }
        }
        return u
    }

    /// Tiles per chunk for C input and K output channels out of `tiles`: a multiple of 16, at least 64.
    static func winogradChunk(tiles: Int, points: Int, inChannels: Int, outChannels: Int, chunkBytes: Int) -> Int {
        let budget = chunkBytes / (points * MemoryLayout<Float>.stride * max(inChannels, outChannels))
        if budget >= tiles { return tiles }
        let chunks = (tiles + max(budget, 64) - 1) / max(budget, 64)
        return min(tiles, ((tiles + chunks - 1) / chunks + 15) / 16 * 16)
    }

    /// x: [B, C, H, W], weight: [K, C, 3, 3], bias: [K] → [B, K, H, W] (padding 1, stride 1). `tile` nil: the
    /// variant `winogradTile` picks (F(2) when it would pick none). `chunkBytes` bounds the transformed tiles per
    /// chunk (tests shrink it to exercise many chunks). bf16 F(2) uses the weight's cached panels.
    /// With a `prologue`, the conv reads x through it (x is then the upsampling's source when it upsamples).
    public static func forwardWinograd(_ x: Tensor, weight: Tensor, bias: Tensor?, tile: WinogradTile? = nil,
                                       prologue: WinogradPrologue? = nil,
                                       chunkBytes: Int = winogradChunkBytes, _ c: Compute) -> Tensor {
        precondition(x.rank == 4 && winogradShape(weight, stride: 1, padding: 1) && x.dim(1) == weight.dim(1),
                     "Conv2d.forwardWinograd: x \(x.shape), weight \(weight.shape) is not a 3×3 conv of these channels")
        let up = prologue?.upsample2x == true ? 2 : 1
        let (batch, ch, h, w) = (x.dim(0), x.dim(1), x.dim(2) * up, x.dim(3) * up), k = weight.dim(0)
        if let alpha = prologue?.alpha { precondition(alpha.count == batch * ch, "Conv2d.forwardWinograd: \(alpha.count) prologue affines for \(batch)×\(ch)") }
        let tile = tile ?? winogradTile(height: h, width: w, weight: weight, stride: 1, padding: 1, c) ?? .f2
        let points = tile.points
        let tiles = tile.tiles(h, w)
        let chunk = winogradChunk(tiles: tiles, points: points, inChannels: ch, outChannels: k, chunkBytes: chunkBytes)
        let out = Tensor(uninitialized: [batch, k, h, w])
        let v = Storage(uninitializedCount: points * ch * chunk), m = Storage(uninitializedCount: points * k * chunk)
        let pv = v.pointer, pm = m.pointer
        // bf16 F(2): the cached bf16 panels; otherwise the fp32 transformed weights, made per call.
        let u: Storage?, panels: WinogradPanels?, pb: BF16GEMM.Packed?
        if c.usesBF16 && tile == .f2 {
            panels = weight.storage.derived(winogradPanelKey(weight)) {
                let uf = winogradWeights(weight, tile: .f2, c)
                return WinogradPanels((0..<16).map { BF16GEMM.packA(uf.pointer + $0 * k * ch, lda: ch, m: k, k: ch, c) })
            }
            u = nil; pb = BF16GEMM.bBuffer(k: ch, n: chunk)
        } else {
            u = winogradWeights(weight, tile: tile, c); panels = nil; pb = nil
        }
        let pbias = bias.map { UnsafePointer($0.data) }
        let input = tile == .f2 ? sumi_winograd_f2_input : sumi_winograd_f4_input
        let output = tile == .f2 ? sumi_winograd_f2_output : sumi_winograd_f4_output
        // The prologue's affines live in one buffer for the whole call; `pro` points at image b's.
        let affine = prologue?.alpha.map { Tensor(shape: [2, $0.count], values: $0 + (prologue?.beta ?? [])) }
        let pro = UnsafeMutablePointer<sumi_winograd_prologue>.allocate(capacity: 1)
        defer { pro.deallocate() }
        for b in 0..<batch {
            let xb = UnsafePointer(x.data + b * ch * (h / up) * (w / up)), yb = out.data + b * k * h * w
            pro.pointee = sumi_winograd_prologue(alpha: affine.map { UnsafePointer($0.data + b * ch) },
                                                 beta: affine.map { UnsafePointer($0.data + batch * ch + b * ch) },
                                                 silu: prologue?.silu == true ? 1 : 0, upsample2x: up == 2 ? 1 : 0)
            let pp = prologue == nil ? nil : UnsafePointer(pro)
            for t0 in Swift.stride(from: 0, to: tiles, by: chunk) {
                let nt = min(chunk, tiles - t0)
                c.parallelFor(ch, grain: max(1, 8192 / nt)) { r in
                    input(xb, Int64(ch), Int64(h), Int64(w), Int64(t0), Int64(nt), pp, pv, Int64(r.lowerBound), Int64(r.upperBound))
                }
                for xi in 0..<points {
                    let vx = pv + xi * ch * nt, mx = pm + xi * k * nt
                    if let panels, let pb {
                        BF16GEMM.packB(vx, ldb: nt, trans: false, k: ch, n: nt, into: pb, c)
                        BF16GEMM.gemm(panels.panels[xi], pb, c: mx, ldc: nt, accumulate: false, c)
                    } else if let u {
                        BLAS.gemm(m: k, n: nt, k: ch, a: u.pointer + xi * k * ch, b: vx, c: mx)
                    }
                }
                c.parallelFor(k, grain: max(1, 8192 / nt)) { r in
                    output(pm, Int64(k), Int64(h), Int64(w), Int64(t0), Int64(nt), pbias, yb, Int64(r.lowerBound), Int64(r.upperBound))
                }
            }
        }
        return out
    }
}
