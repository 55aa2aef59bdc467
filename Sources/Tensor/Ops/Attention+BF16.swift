import CKernels

/// The bf16 forward of `Attention` (inference with `Compute.precision == .bf16`, no causal mask): the same blocks of
/// query rows, with both products — S = scale · Q Kᵀ and O = P V — on the AVX512-BF16 GEMM (operands rounded to
/// bfloat16, fp32 accumulation) and the softmax in fp32, as PyTorch's bf16 attention does. Each worker runs whole
/// (head, block) jobs single-threaded and packs a head's Kᵀ and V once per head it meets.
extension Attention {
    /// Whether `attention` takes the bf16 path.
    static func usesBF16(causal: Bool, recording: Bool, _ c: Compute) -> Bool { c.usesBF16 && !causal && !recording }

    /// q: [B, N, Tq, D], k and v: [B, N, Tk, D] → [B, N, Tq, D]; `scale` defaults to 1/√D.
    public static func forwardBF16(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil, blockRows: Int? = nil,
                                   _ c: Compute) -> Tensor {
        precondition(BF16GEMM.isSupported, "Attention.forwardBF16 on a CPU without AVX512-BF16")
        let s = Shape(q, k, v)
        let scale = scale ?? 1 / Float(s.d).squareRoot()
        let out = Tensor(uninitialized: q.shape)
        guard s.tq > 0 else { return out }
        if s.tk == 0 { out.buffer.update(repeating: 0); return out }
        let plan = Plan(s, rows: blockRows ?? defaultBlockRows(tk: s.tk), threads: c.threads)
        let pq = q.data, pk = k.data, pv = v.data, po = out.data
        let (mr, nr) = (Int64(BF16GEMM.panelRows), Int64(BF16GEMM.panelCols))
        let (d, tk) = (Int64(s.d), Int64(s.tk))
        c.parallelFor(plan.jobs, grain: 1) { range in
            let qs = Storage(uninitializedCount: plan.rows * s.d), scores = Storage(uninitializedCount: plan.rows * s.tk)
            let invSum = Storage(uninitializedCount: plan.rows)
            let pa = BF16GEMM.Packed(count: sumi_bf16_packed_a_count(Int64(plan.rows), d), rows: plan.rows, cols: s.d)
            let pp = BF16GEMM.Packed(count: sumi_bf16_packed_a_count(Int64(plan.rows), tk), rows: plan.rows, cols: s.tk)
            let kt = BF16GEMM.Packed(count: sumi_bf16_packed_b_count(d, tk), rows: s.d, cols: s.tk)
            let vv = BF16GEMM.Packed(count: sumi_bf16_packed_b_count(tk, d), rows: s.tk, cols: s.d)
            let ps = scores.pointer, pinv = invSum.pointer
            var packedHead = -1
            for job in range {
                let (bh, r0, rows) = plan.block(job)
                let kv = bh * s.tk * s.d, qo = (bh * s.tq + r0) * s.d
                if bh != packedHead {
                    sumi_bf16_pack_b(pk + kv, d, 1, d, tk, kt.pointer, 0, (tk + nr - 1) / nr)   // Kᵀ [D, Tk]
                    sumi_bf16_pack_b(pv + kv, d, 0, tk, d, vv.pointer, 0, (d + nr - 1) / nr)   // V [Tk, D]
                    packedHead = bh
                }
                let m = Int64(rows), panels = (m + mr - 1) / mr
                for i in 0..<(rows * s.d) { qs.pointer[i] = pq[qo + i] * scale }
                sumi_bf16_pack_a(qs.pointer, d, m, d, pa.pointer, 0, panels)
                sumi_gemm_bf16_packed(m, tk, d, pa.pointer, kt.pointer, ps, tk, 0, 0, panels, 0, (tk + nr - 1) / nr)
                sumi_attn_softmax_rows(ps, Int(tk), pinv, nil, 0, rows)
                sumi_bf16_pack_a(ps, tk, m, tk, pp.pointer, 0, panels)
                sumi_gemm_bf16_packed(m, d, tk, pp.pointer, vv.pointer, po + qo, d, 0, 0, panels, 0, (d + nr - 1) / nr)
                sumi_scale_rows(po + qo, Int(d), pinv, 0, rows)
            }
        }
        return out
    }
}
