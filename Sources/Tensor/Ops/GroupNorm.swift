import Foundation
import CKernels

/// Group normalisation `F.group_norm(x, groups, weight, bias, eps)`, optionally fused with SiLU.
///
/// The channels of each sample split into `groups` groups; each group is normalised by its own mean
/// and variance (biased, as torch), then scaled and shifted per channel. The VAE and UNet resnet
/// blocks always follow it with SiLU, so `silu: true` applies silu(·) in the same pass; its backward
/// recomputes the pre-activation instead of storing it.
///
/// Kernels work on rows (one channel of one sample, spatial extent contiguous) so every pass splits
/// over B·C rows; statistics accumulate in double (see norm.c).
public enum GroupNorm {
    /// Per-group statistics saved for the backward.
    public struct Cache {
        /// Mean of each (sample, group), [B·G] in sample-major order.
        public let mean: [Float]
        /// 1/√(var + eps) of each (sample, group), [B·G].
        public let rstd: [Float]

        /// Statistics of each (sample, group), [B·G] each.
        public init(mean: [Float], rstd: [Float]) {
            precondition(mean.count == rstd.count, "GroupNorm.Cache: \(mean.count) means, \(rstd.count) rstds")
            self.mean = mean
            self.rstd = rstd
        }
    }

    /// Row geometry shared by forward and backward.
    struct Layout {
        let batch, channels, groups, spatial: Int
        var rows: Int { batch * channels }
        var channelsPerGroup: Int { channels / groups }
        /// Elements per group.
        var groupCount: Int { channelsPerGroup * spatial }
        /// Rows per parallel task so that each holds ~16K elements.
        var rowGrain: Int { max(1, 16_384 / max(spatial, 1)) }

        init(_ x: Tensor, groups: Int) {
            precondition(x.rank >= 2, "GroupNorm: input \(x.shape) needs [B, C, ...]")
            self.init(batch: x.dim(0), channels: x.dim(1), groups: groups, spatial: x.shape.dropFirst(2).reduce(1, *))
        }

        init(batch: Int, channels: Int, groups: Int, spatial: Int) {
            precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(channels) channels not divisible by \(groups) groups")
            (self.batch, self.channels, self.groups, self.spatial) = (batch, channels, groups, spatial)
        }
    }

    /// Per-row center, scale and shift: z = (x − mean)·rstd·w[c] + b[c].
    static func rowAffine(_ l: Layout, cache: Cache, weight: Tensor?, bias: Tensor?) -> (center: [Float], scale: [Float], shift: [Float]) {
        var center = [Float](repeating: 0, count: l.rows)
        var scale = [Float](repeating: 0, count: l.rows)
        var shift = [Float](repeating: 0, count: l.rows)
        let w = weight?.data, b = bias?.data
        for row in 0..<l.rows {
            let ch = row % l.channels, grp = (row / l.channels) * l.groups + ch / l.channelsPerGroup
            center[row] = cache.mean[grp]
            scale[row] = cache.rstd[grp] * (w?[ch] ?? 1)
            shift[row] = b?[ch] ?? 0
        }
        return (center, scale, shift)
    }

    /// Pass 1 of `forward`: shifted per-row moments, combined per group in double.
    static func statistics(_ x: Tensor, _ l: Layout, eps: Float, _ c: Compute) -> Cache {
        var sum = [Double](repeating: 0, count: l.rows), sumsq = [Double](repeating: 0, count: l.rows)
        sum.withUnsafeMutableBufferPointer { ps in
            sumsq.withUnsafeMutableBufferPointer { pss in
                let s = ps.baseAddress!, ss = pss.baseAddress!, px = x.data
                c.parallelFor(l.rows, grain: l.rowGrain) { r in
                    sumi_row_moments(px, l.spatial, l.channelsPerGroup, s, ss, r.lowerBound, r.upperBound)
                }
            }
        }
        let nGroups = l.batch * l.groups
        var mean = [Float](repeating: 0, count: nGroups), rstd = [Float](repeating: 0, count: nGroups)
        let n = Double(l.groupCount)
        for g in 0..<nGroups {
            let firstRow = g * l.channelsPerGroup
            var s = 0.0, ss = 0.0
            for row in firstRow..<firstRow + l.channelsPerGroup { s += sum[row]; ss += sumsq[row] }
            let shift = Double(x.data[firstRow * l.spatial])
            let m = s / n
            let variance = max(ss / n - m * m, 0)
            mean[g] = Float(shift + m)
            rstd[g] = Float(1 / (variance + Double(eps)).squareRoot())
        }
        return Cache(mean: mean, rstd: rstd)
    }

    /// The per-(image, channel) affine that `forward` applies: groupNorm(x)[b, c] = alpha[b·C + c] · x[b, c] + beta[b·C + c]
    /// (for folding the norm into the next op's input; the statistics are x's own).
    public static func affine(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                              _ c: Compute) -> (alpha: [Float], beta: [Float]) {
        let l = Layout(x, groups: groups)
        guard x.count > 0 else { return ([], []) }
        return affine(statistics(x, l, eps: eps, c), l, weight: weight, bias: bias)
    }

    /// The same affine from statistics gathered elsewhere (e.g. over the cores of a tiled decode's tiles).
    /// cache: [batch · groups] each → alpha, beta: [batch · channels].
    public static func affine(_ cache: Cache, batch: Int, channels: Int, groups: Int, weight: Tensor?,
                              bias: Tensor?) -> (alpha: [Float], beta: [Float]) {
        precondition(cache.mean.count == batch * groups, "GroupNorm.affine: \(cache.mean.count) statistics for \(batch)×\(groups) groups")
        return affine(cache, Layout(batch: batch, channels: channels, groups: groups, spatial: 1), weight: weight, bias: bias)
    }

    static func affine(_ cache: Cache, _ l: Layout, weight: Tensor?, bias: Tensor?) -> (alpha: [Float], beta: [Float]) {
        let a = rowAffine(l, cache: cache, weight: weight, bias: bias)
        let beta = (0..<l.rows).map { a.shift[$0] - a.center[$0] * a.scale[$0] }
        return (a.scale, beta)
    }

    /// y = silu?(alpha[row] · x + beta[row]) per (sample, channel) row — the pass `forward` makes, for an affine given
    /// directly. x: [B, C, *spatial]; alpha, beta: [B · C].
    public static func applyAffine(_ x: Tensor, alpha: [Float], beta: [Float], silu: Bool, _ c: Compute) -> Tensor {
        precondition(x.rank >= 2 && alpha.count == x.dim(0) * x.dim(1) && beta.count == alpha.count,
                     "GroupNorm.applyAffine: x \(x.shape), \(alpha.count) scales, \(beta.count) shifts")
        let rows = alpha.count, spatial = x.count / max(rows, 1)
        let out = Tensor(uninitialized: x.shape)
        let center = [Float](repeating: 0, count: rows)
        center.withUnsafeBufferPointer { pc in
            alpha.withUnsafeBufferPointer { pa in
                beta.withUnsafeBufferPointer { pb in
                    let px = x.data, py = out.data
                    c.parallelFor(rows, grain: max(1, 16_384 / max(spatial, 1))) { r in
                        sumi_scale_shift_rows(px, py, spatial, pc.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                              silu ? 1 : 0, r.lowerBound, r.upperBound)
                    }
                }
            }
        }
        return out
    }

    /// x: [B, C, *spatial], weight/bias: [C] (optional). Returns y (same shape) and the statistics.
    public static func forward(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                               silu: Bool = false, _ c: Compute) -> (Tensor, Cache) {
        let l = Layout(x, groups: groups)
        if let weight { precondition(weight.shape == [l.channels], "GroupNorm: weight \(weight.shape) for input \(x.shape)") }
        if let bias { precondition(bias.shape == [l.channels], "GroupNorm: bias \(bias.shape) for input \(x.shape)") }
        let out = Tensor(uninitialized: x.shape)
        guard x.count > 0 else { return (out, Cache(mean: [], rstd: [])) }
        // Pass 1: the statistics.
        let cache = statistics(x, l, eps: eps, c)
        // Pass 2: normalise (the group was just read, so for VAE-sized groups it is still in L2).
        let a = rowAffine(l, cache: cache, weight: weight, bias: bias)
        a.center.withUnsafeBufferPointer { pc in
            a.scale.withUnsafeBufferPointer { pa in
                a.shift.withUnsafeBufferPointer { pb in
                    let px = x.data, py = out.data
                    c.parallelFor(l.rows, grain: l.rowGrain) { r in
                        sumi_scale_shift_rows(px, py, l.spatial, pc.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                              silu ? 1 : 0, r.lowerBound, r.upperBound)
                    }
                }
            }
        }
        return (out, cache)
    }

    /// Gradients of `forward`. dOut: [B, C, *spatial]. Returns dInput (same shape), dWeight [C], dBias [C];
    /// each is nil when not requested (dWeight/dBias also when the op had no weight/bias).
    public static func backward(_ dOut: Tensor, x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?,
                                cache: Cache, silu: Bool = false,
                                needInput: Bool = true, needWeight: Bool = true, needBias: Bool = true,
                                _ c: Compute) -> (dInput: Tensor?, dWeight: Tensor?, dBias: Tensor?) {
        let l = Layout(x, groups: groups)
        precondition(dOut.shape == x.shape, "GroupNorm backward: dOut \(dOut.shape) vs input \(x.shape)")
        let a = rowAffine(l, cache: cache, weight: weight, bias: bias)
        // With silu, pass 1 stores the gradient through silu in dx's buffer and pass 2 finishes dx in
        // place: one extra write is cheaper than evaluating σ a second time.
        let out: Tensor? = needInput ? Tensor(uninitialized: x.shape) : nil
        let stash = silu ? out?.data : nil
        // Pass 1: per-row Σg and Σg·(x − mean), g = dy (or the gradient through silu).
        var sg = [Double](repeating: 0, count: l.rows), sgx = [Double](repeating: 0, count: l.rows)
        sg.withUnsafeMutableBufferPointer { p1 in
            sgx.withUnsafeMutableBufferPointer { p2 in
                a.center.withUnsafeBufferPointer { pc in
                    a.scale.withUnsafeBufferPointer { pa in
                        a.shift.withUnsafeBufferPointer { pb in
                            let s1 = p1.baseAddress!, s2 = p2.baseAddress!, px = x.data, pd = dOut.data
                            c.parallelFor(l.rows, grain: l.rowGrain) { r in
                                sumi_row_grad_sums(px, pd, l.spatial, pc.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                                   silu ? 1 : 0, s1, s2, stash, r.lowerBound, r.upperBound)
                            }
                        }
                    }
                }
            }
        }
        var dW: Tensor? = nil, dB: Tensor? = nil
        if needWeight, weight != nil {
            var acc = [Double](repeating: 0, count: l.channels)
            for row in 0..<l.rows {
                let ch = row % l.channels, grp = (row / l.channels) * l.groups + ch / l.channelsPerGroup
                acc[ch] += Double(cache.rstd[grp]) * sgx[row]
            }
            dW = Tensor(shape: [l.channels], values: acc.map { Float($0) })
        }
        if needBias, bias != nil {
            var acc = [Double](repeating: 0, count: l.channels)
            for row in 0..<l.rows { acc[row % l.channels] += sg[row] }
            dB = Tensor(shape: [l.channels], values: acc.map { Float($0) })
        }
        guard let out else { return (nil, dW, dB) }
        // dx = rstd·(g·w − A/N − x̂·B/N) with A = Σ g·w, B = Σ g·w·x̂ over the group,
        // i.e. dx = p·g + q·(x − mean) + r per row.
        var p = [Float](repeating: 0, count: l.rows), q = p, r = p
        let n = Double(l.groupCount), w = weight?.data
        for grp in 0..<(l.batch * l.groups) {
            let rs = Double(cache.rstd[grp]), firstRow = grp * l.channelsPerGroup
            var sumA = 0.0, sumB = 0.0
            for row in firstRow..<firstRow + l.channelsPerGroup {
                let wc = Double(w?[row % l.channels] ?? 1)
                sumA += wc * sg[row]
                sumB += wc * sgx[row]
            }
            sumB *= rs
            for row in firstRow..<firstRow + l.channelsPerGroup {
                p[row] = Float(rs * Double(w?[row % l.channels] ?? 1))
                q[row] = Float(-rs * rs * sumB / n)
                r[row] = Float(-rs * sumA / n)
            }
        }
        p.withUnsafeBufferPointer { pp in q.withUnsafeBufferPointer { pq in r.withUnsafeBufferPointer { pr in
            a.center.withUnsafeBufferPointer { pc in
                let px = x.data, pd = dOut.data, po = out.data
                c.parallelFor(l.rows, grain: l.rowGrain) { rg in
                    if silu {
                        sumi_rows_affine_backward_inplace(px, po, l.spatial, pc.baseAddress!, pp.baseAddress!,
                                                          pq.baseAddress!, pr.baseAddress!, rg.lowerBound, rg.upperBound)
                    } else {
                        sumi_rows_affine_backward(px, pd, po, l.spatial, pc.baseAddress!, pp.baseAddress!,
                                                  pq.baseAddress!, pr.baseAddress!, rg.lowerBound, rg.upperBound)
                    }
                }
            }
        } } }
        return (out, dW, dB)
    }

    // MARK: - Naive reference (plain loops in double; tests compare the fast path against it)

    /// Straightforward double-precision group norm (two-pass variance), optionally followed by silu.
    public static func reference(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                                 silu: Bool = false) -> Tensor {
        let l = Layout(x, groups: groups)
        let out = Tensor(uninitialized: x.shape)
        for (base, stats) in referenceStats(x, l, eps: eps) {
            for i in 0..<l.groupCount {
                let ch = (base / l.spatial + i / l.spatial) % l.channels
                var z = (Double(x.data[base + i]) - stats.mean) * stats.rstd
                z = z * Double(weight?.data[ch] ?? 1) + Double(bias?.data[ch] ?? 0)
                out.data[base + i] = Float(silu ? z / (1 + exp(-z)) : z)
            }
        }
        return out
    }

    /// Double-precision gradients of `reference`: (dInput, dWeight, dBias) with nil for absent parameters.
    public static func referenceBackward(_ dOut: Tensor, x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?,
                                         eps: Float = 1e-5, silu: Bool = false) -> (dInput: Tensor, dWeight: Tensor?, dBias: Tensor?) {
        let l = Layout(x, groups: groups)
        let dX = Tensor(uninitialized: x.shape)
        var dW = [Double](repeating: 0, count: l.channels), dB = dW
        for (base, stats) in referenceStats(x, l, eps: eps) {
            var xhat = [Double](repeating: 0, count: l.groupCount), gw = xhat
            for i in 0..<l.groupCount {
                let ch = (base / l.spatial + i / l.spatial) % l.channels
                let wc = Double(weight?.data[ch] ?? 1)
                xhat[i] = (Double(x.data[base + i]) - stats.mean) * stats.rstd
                var g = Double(dOut.data[base + i])
                if silu {
                    let z = xhat[i] * wc + Double(bias?.data[ch] ?? 0), s = 1 / (1 + exp(-z))
                    g *= s * (1 + z * (1 - s))
                }
                dW[ch] += g * xhat[i]
                dB[ch] += g
                gw[i] = g * wc
            }
            let n = Double(l.groupCount)
            let meanG = gw.reduce(0, +) / n
            let meanGX = zip(gw, xhat).reduce(0) { $0 + $1.0 * $1.1 } / n
            for i in 0..<l.groupCount {
                dX.data[base + i] = Float(stats.rstd * (gw[i] - meanG - xhat[i] * meanGX))
            }
        }
        return (dX, weight == nil ? nil : Tensor(shape: [l.channels], values: dW.map { Float($0) }),
                bias == nil ? nil : Tensor(shape: [l.channels], values: dB.map { Float($0) }))
    }

    /// (first element offset, mean, rstd) of every group, two-pass in double.
    private static func referenceStats(_ x: Tensor, _ l: Layout, eps: Float) -> [(Int, (mean: Double, rstd: Double))] {
        (0..<(l.batch * l.groups)).map { g in
            let base = g * l.groupCount
            var m = 0.0
            for i in 0..<l.groupCount { m += Double(x.data[base + i]) }
            m /= Double(l.groupCount)
            var v = 0.0
            for i in 0..<l.groupCount { let d = Double(x.data[base + i]) - m; v += d * d }
            v /= Double(l.groupCount)
            return (base, (m, 1 / (v + Double(eps)).squareRoot()))
        }
    }
}

extension Compute {
    /// Group norm over `groups` channel groups. x: [B, C, *spatial], weight/bias: [C] or nil.
    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        recordGroupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: false)
    }

    /// silu(groupNorm(x)) in one pass (the VAE/UNet resnet pattern). x: [B, C, *spatial], weight/bias: [C] or nil.
    public func groupNormSiLU(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        recordGroupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: true)
    }

    private func recordGroupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, silu: Bool) -> Tensor {
        let (y, cache) = profiled("\(silu ? "group_norm_silu" : "group_norm") \(shapeLabel(x.shape))",
                                  bytes: 12 * Double(x.count)) {
            GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu, self)
        }
        let inputs = [x] + [weight, bias].compactMap { $0 }
        return record(silu ? "groupNormSiLU" : "groupNorm", y, inputs: inputs) { dOut in
            let g = GroupNorm.backward(dOut, x: x, groups: groups, weight: weight, bias: bias, cache: cache, silu: silu,
                                       needInput: x.requiresGrad, needWeight: weight?.requiresGrad ?? false,
                                       needBias: bias?.requiresGrad ?? false, self)
            var grads: [Tensor?] = [g.dInput]
            if weight != nil { grads.append(g.dWeight) }
            if bias != nil { grads.append(g.dBias) }
            return grads
        }
    }
}
