/// Batched matrix product C[i] = A[i] · B[i] (or A[i] · B[i]ᵀ), as `torch.matmul` on rank-3 tensors.
///
/// Each batch entry is one BLAS call. With at least as many entries as workers, the entries are split
/// across workers and each call runs single-threaded (`Compute.blasJobs`); otherwise OpenBLAS threads
/// inside each call.
public enum BatchedMatMul {
    /// a: [B, M, K], b: [B, K, N] (or [B, N, K] when `transB`) → [B, M, N].
    public static func forward(_ a: Tensor, _ b: Tensor, transB: Bool = false, _ c: Compute) -> Tensor {
        let (batch, m, k, n) = dims(a, b, transB: transB)
        let out = Tensor(uninitialized: [batch, m, n])
        let pa = a.data, pb = b.data, po = out.data
        c.blasJobs(batch) { range in
            for i in range {
                BLAS.gemm(transB: transB, m: m, n: n, k: k, a: pa + i * m * k, b: pb + i * k * n, c: po + i * m * n)
            }
        }
        return out
    }

    /// Gradients of `forward`. dOut: [B, M, N]. Returns dA [B, M, K] and dB (shaped like b).
    public static func backward(_ dOut: Tensor, a: Tensor, b: Tensor, transB: Bool = false,
                                needA: Bool = true, needB: Bool = true,
                                _ c: Compute) -> (dA: Tensor?, dB: Tensor?) {
        let (batch, m, k, n) = dims(a, b, transB: transB)
        precondition(dOut.shape == [batch, m, n], "BatchedMatMul.backward: dOut \(dOut.shape) vs [\(batch), \(m), \(n)]")
        let dA = needA ? Tensor(uninitialized: a.shape) : nil
        let dB = needB ? Tensor(uninitialized: b.shape) : nil
        let pa = a.data, pb = b.data, pd = dOut.data
        c.blasJobs(batch) { range in
            for i in range {
                let ai = pa + i * m * k, bi = pb + i * k * n, di = pd + i * m * n
                if let dA {
                    // dA = dC · Bᵀ, with B = b (transB: false) or bᵀ (transB: true).
                    BLAS.gemm(transB: !transB, m: m, n: k, k: n, a: di, b: bi, c: dA.data + i * m * k)
                }
                if let dB, transB {
                    // d(bᵀ) = Aᵀ dC, so db = dCᵀ A: [N, K].
                    BLAS.gemm(transA: true, m: n, n: k, k: m, a: di, b: ai, c: dB.data + i * k * n)
                } else if let dB {
                    BLAS.gemm(transA: true, m: k, n: n, k: m, a: ai, b: di, c: dB.data + i * k * n)
                }
            }
        }
        return (dA, dB)
    }

    /// Plain-loop reference of `forward` (for tests of the BLAS path).
    public static func naiveForward(_ a: Tensor, _ b: Tensor, transB: Bool = false) -> Tensor {
        let (batch, m, k, n) = dims(a, b, transB: transB)
        let out = Tensor(zeros: [batch, m, n])
        let pa = a.data, pb = b.data, po = out.data
        for i in 0..<batch {
            for r in 0..<m {
                for col in 0..<n {
                    var s: Float = 0
                    for t in 0..<k {
                        let bv = transB ? pb[(i * n + col) * k + t] : pb[(i * k + t) * n + col]
                        s += pa[(i * m + r) * k + t] * bv
                    }
                    po[(i * m + r) * n + col] = s
                }
            }
        }
        return out
    }

    /// (B, M, K, N) after checking that the shapes agree.
    private static func dims(_ a: Tensor, _ b: Tensor, transB: Bool) -> (Int, Int, Int, Int) {
        precondition(a.rank == 3 && b.rank == 3, "BatchedMatMul: a \(a.shape) and b \(b.shape) must be [B, M, K] and [B, K, N]")
        let batch = a.dim(0), m = a.dim(1), k = a.dim(2)
        let n = transB ? b.dim(1) : b.dim(2)
        let bk = transB ? b.dim(2) : b.dim(1)
        precondition(b.dim(0) == batch && bk == k,
                     "BatchedMatMul: a \(a.shape) vs b \(b.shape) (transB: \(transB))")
        return (batch, m, k, n)
    }
}

extension Compute {
    /// Batched matrix product. a: [B, M, K], b: [B, K, N] (or [B, N, K] with `transB`) → [B, M, N].
    public func bmm(_ a: Tensor, _ b: Tensor, transB: Bool = false) -> Tensor {
        let y = profiled("bmm \(shapeLabel(a.shape)) \(shapeLabel(b.shape))",
                         flops: 2 * Double(a.count) * Double(transB ? b.dim(1) : b.dim(2))) {
            BatchedMatMul.forward(a, b, transB: transB, self)
        }
        return record("bmm", y, inputs: [a, b]) { dOut in
            let g = BatchedMatMul.backward(dOut, a: a, b: b, transB: transB,
                                           needA: a.requiresGrad, needB: b.requiresGrad, self)
            return [g.dA, g.dB]
        }
    }
}

extension Compute {
    /// Runs `jobs` independent BLAS-heavy jobs: split across the workers with single-threaded
    /// OpenBLAS inside each when there are at least two jobs, else on this thread with threaded BLAS.
    ///
    /// Why: per-call OpenBLAS threading scales poorly on the narrow GEMMs of attention heads and its
    /// spinning workers slow whatever runs between calls, while independent jobs keep every core busy.
    /// OpenBLAS's thread count is process-wide, so it is lowered once here, on the calling thread
    /// (never from the workers), and restored to this context's count before returning.
    func blasJobs(_ jobs: Int, _ body: (Range<Int>) -> Void) {
        guard jobs > 1, threads > 1 else { body(0..<jobs); return }
        BLAS.setThreads(1)
        defer { BLAS.setThreads(threads) }
        parallelFor(jobs, grain: 1, body)
    }
}
