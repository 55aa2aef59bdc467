import Foundation
import Tensor

// Tiled decoding bounds the size of every temporary of the decoder (im2col blocks, per-op outputs) by the tile
// size instead of the image size.
//
// Why not "decode tiles independently and feather the overlaps" (ComfyUI's VAEDecodeTiled, diffusers'
// `tiled_decode`)? The decoder's GroupNorms (25 of them in SDXL's up path) normalise with whole-image
// statistics and the mid-block attention is global, so independent tiles come out measurably different
// (tiny VAE, random weights: 25–39 dB PSNR against the full decode depending on tile size, with seams and
// tone shifts). Here instead:
//  1. the latent-resolution head (post_quant_conv, conv_in, mid block with its global attention) runs on the
//     whole latent — it is small (SDXL: 512 ch × 128² = 32 MB per activation at 1024²);
//  2. the up path runs tile by tile, each tile being a core of the latent grid plus a halo of `overlap` latent
//     pixels, and every GroupNorm uses statistics summed over all tiles' cores (synchronised GroupNorm, the
//     idea of pkuliyi2015/multidiffusion-upscaler-for-automatic1111 `tile_vae.py`);
//  3. each tile's core is written to the output.
// Zero padding at a tile edge corrupts one pixel per 3×3 conv; while the halo covers that receptive field
// (SDXL up path: ≈ 12.3 latent pixels; the tiny config ≈ 8) every core value — and so every GroupNorm
// statistic — equals the full decode's up to float rounding, and there are no seams to blend away.
extension AutoencoderKL {
    /// Decodes VAE-space latents (same convention as `decode`) in tiles: the latent is cut into cores of at most
    /// `tileLatent` latent pixels (64 = 512 image pixels for SDXL), each decoded with a halo of `overlap` latent
    /// pixels and GroupNorm statistics shared across tiles. With `overlap` ≥ the up path's receptive field (13 for
    /// SDXL) the result equals `decode` up to rounding; when one tile covers the latent it *is* `decode`.
    /// Inference only: nothing is recorded for autograd. z: [B, 4, h, w] → [B, 3, f·h, f·w].
    public func decodeTiled(_ z: Tensor, tileLatent: Int = 64, overlap: Int = 16, _ c: Compute) -> Tensor {
        precondition(z.rank == 4 && z.dim(1) == config.latentChannels,
                     "decodeTiled: z \(z.shape) must be [B, \(config.latentChannels), h, w]")
        precondition(tileLatent > 0 && overlap >= 0, "decodeTiled: tile \(tileLatent), overlap \(overlap)")
        let c = c.inference
        let (h, w) = (z.dim(2), z.dim(3))
        if h <= tileLatent && w <= tileLatent { return decode(z, c) }

        // 1. Whole-latent head.
        let head = decoder.midBlock(decoder.convIn(postQuantConv(z, c), c), c)

        // 2. Tiles: core ranges split each axis evenly; halos clipped at the image border.
        var tiles: [DecodeTile] = []
        for ry in Self.coreRanges(size: h, tile: tileLatent) {
            for rx in Self.coreRanges(size: w, tile: tileLatent) {
                let y0 = max(0, ry.lowerBound - overlap), y1 = min(h, ry.upperBound + overlap)
                let x0 = max(0, rx.lowerBound - overlap), x1 = min(w, rx.upperBound + overlap)
                let x = c.slice(c.slice(head, dim: 2, start: y0, length: y1 - y0), dim: 3, start: x0, length: x1 - x0)
                tiles.append(DecodeTile(x: x, coreY: (ry.lowerBound - y0)..<(ry.upperBound - y0),
                                        coreX: (rx.lowerBound - x0)..<(rx.upperBound - x0),
                                        originY: ry.lowerBound, originX: rx.lowerBound))
            }
        }

        // 3. Up path with synchronised GroupNorms, each folded into the conv that follows it (as `decode` does).
        for level in decoder.upBlocks {
            for r in level.resnets {
                let n1 = synchronizedGroupNormAffine(tiles, tiles.map(\.x), r.norm1, c)
                let a = tiles.map { r.conv1($0.x, affineSiLU: n1.alpha, n1.beta, c) }
                let n2 = synchronizedGroupNormAffine(tiles, a, r.norm2, c)
                for i in tiles.indices {
                    let h = r.conv2(a[i], affineSiLU: n2.alpha, n2.beta, c)
                    c.addInPlace(h, r.convShortcut.map { $0(tiles[i].x, c) } ?? tiles[i].x)   // h is this loop's own temporary
                    tiles[i].x = h
                }
            }
            if level.resample == .up, let conv = level.resampleConv {
                for i in tiles.indices {
                    tiles[i].x = conv(upsampling: tiles[i].x, c)
                    tiles[i].scale2x()
                }
            }
        }
        let normOut = synchronizedGroupNormAffine(tiles, tiles.map(\.x), decoder.convNormOut, c)

        // 4. Cores into the output.
        let (b, outC, f) = (z.dim(0), config.imageChannels, config.downsampleFactor)
        let (outH, outW) = (h * f, w * f)
        let out = Tensor(uninitialized: [b, outC, outH, outW])
        for t in tiles {
            let y = decoder.convOut(t.x, affineSiLU: normOut.alpha, normOut.beta, c)   // [B, 3, th, tw]
            let (th, tw) = (y.dim(2), y.dim(3))
            let src = y.data, dst = out.data
            for plane in 0..<(b * outC) {
                for yy in t.coreY {
                    (dst + (plane * outH + t.originY + yy - t.coreY.lowerBound) * outW + t.originX)
                        .update(from: src + (plane * th + yy) * tw + t.coreX.lowerBound, count: t.coreX.count)
                }
            }
        }
        return out
    }

    /// Splits `0..<size` into ⌈size / tile⌉ contiguous ranges of near-equal length.
    static func coreRanges(size: Int, tile: Int) -> [Range<Int>] {
        let n = max(1, (size + tile - 1) / tile)
        return (0..<n).map { (size * $0 / n)..<(size * ($0 + 1) / n) }
    }

    /// The affine of groupNorm(x) for every tile — y = alpha ⊙ x + beta per (image, channel), [B · C] each — with
    /// mean and variance taken over the union of the tiles' cores (the exact pixels), so each tile is normalised as
    /// the whole image would be. xs[i]: tile i's [B, C, th, tw].
    func synchronizedGroupNormAffine(_ tiles: [DecodeTile], _ xs: [Tensor], _ norm: GroupNormLayer,
                                     _ c: Compute) -> (alpha: [Float], beta: [Float]) {
        let (b, ch, groups) = (xs[0].dim(0), xs[0].dim(1), norm.groups)
        let perGroup = ch / groups
        var sum = [Double](repeating: 0, count: b * groups), sumSq = sum
        var count = 0
        for (t, x) in zip(tiles, xs) {
            let tw = x.dim(3), plane = x.dim(2) * tw
            count += t.coreY.count * t.coreX.count
            var s = [Double](repeating: 0, count: b * ch), q = s
            s.withUnsafeMutableBufferPointer { ps in
                q.withUnsafeMutableBufferPointer { pq in
                    c.parallelFor(b * ch, grain: 1) { r in
                        for p in r {
                            var a = 0.0, a2 = 0.0
                            for yy in t.coreY {
                                let row = x.data + p * plane + yy * tw
                                for xx in t.coreX { let v = Double(row[xx]); a += v; a2 += v * v }
                            }
                            ps[p] = a; pq[p] = a2
                        }
                    }
                }
            }
            for p in 0..<(b * ch) {
                let g = (p / ch) * groups + (p % ch) / perGroup
                sum[g] += s[p]; sumSq[g] += q[p]
            }
        }
        let n = Double(count * perGroup)
        let mean = sum.map { Float($0 / n) }
        let rstd = zip(sum, sumSq).map { s, q in Float(1 / (max(q / n - (s / n) * (s / n), 0) + Double(norm.eps)).squareRoot()) }
        return GroupNorm.affine(GroupNorm.Cache(mean: mean, rstd: rstd), batch: b, channels: ch, groups: groups,
                                weight: norm.weight, bias: norm.bias)
    }
}

/// One tile of a tiled decode: its activation (core + halo) and where its core sits.
struct DecodeTile {
    /// Current activation. [B, C, th, tw]
    var x: Tensor
    /// Core rows / columns inside `x`.
    var coreY: Range<Int>, coreX: Range<Int>
    /// Top-left of the core in the full image at the current resolution.
    var originY: Int, originX: Int

    /// Coordinates after a ×2 nearest up-sampling.
    mutating func scale2x() {
        coreY = (2 * coreY.lowerBound)..<(2 * coreY.upperBound)
        coreX = (2 * coreX.lowerBound)..<(2 * coreX.upperBound)
        originY *= 2
        originX *= 2
    }
}
