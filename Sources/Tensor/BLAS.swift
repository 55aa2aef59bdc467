import COpenBLAS

/// The one place that calls BLAS and decides every transpose.
///
/// All matrices are row-major. `gemm` computes C = alpha · op(A) · op(B) + beta · C where
/// op(A) is [M, K] and op(B) is [K, N]; `lda`, `ldb`, `ldc` default to the packed row strides.
public enum BLAS {
    /// Single-precision GEMM on row-major buffers.
    @inlinable
    public static func gemm(transA: Bool = false, transB: Bool = false,
                            m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                            b: UnsafePointer<Float>, ldb: Int? = nil,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
        guard m > 0, n > 0 else { return }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        if k == 0 {
            // BLAS leaves C untouched when K = 0 only if beta = 1; make beta semantics explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The OpenBLAS kernel family picked for this CPU (e.g. "Cooperlake").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Sets OpenBLAS's worker count (process-wide in OpenBLAS; `Compute.init` calls this).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// OpenBLAS's current worker count.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
