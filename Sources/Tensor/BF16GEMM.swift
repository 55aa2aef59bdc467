import Foundation
import CKernels

/// bf16 matrix products with fp32 accumulation (AVX512-BF16 `VDPBF16PS`), our own kernel because the
/// system OpenBLAS has no `sbgemm`.
///
/// Both operands are rounded to bfloat16 while being packed into the kernel's panel layouts (see
/// Sources/CKernels/include/gemm_bf16.h); products accumulate in fp32 and C stays fp32. A weight's packed
/// form can be cached on its `Storage` once the storage is frozen (`Storage.freeze`), so a layer converts
/// its weights once rather than on every call. Callers check `isSupported` (or `Compute.usesBF16`) first.
public enum BF16GEMM {
    /// Whether this CPU can run the kernel.
    public static let isSupported: Bool = sumi_has_bf16_gemm() != 0

    /// Rows per A panel and columns per B panel of the packed layouts.
    public static let panelRows = Int(SUMI_BF16_MR), panelCols = Int(SUMI_BF16_NR)

    /// A packed operand: `count` 32-bit bf16 pairs, 64-byte aligned.
    public final class Packed: @unchecked Sendable {
        /// The pairs.
        public let pointer: UnsafeMutablePointer<UInt32>
        /// Number of pairs.
        public let count: Int
        /// Logical rows and columns of the operand (A: [m, k]; B: [k, n]); a reused buffer may hold a smaller one.
        public internal(set) var rows: Int, cols: Int

        init(count: Int, rows: Int, cols: Int) {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            pointer = raw.bindMemory(to: UInt32.self, capacity: max(count, 1))
            self.count = count
            self.rows = rows
            self.cols = cols
        }

        deinit { UnsafeMutableRawPointer(pointer).deallocate() }

        /// Bytes held.
        public var bytes: Int { count * 4 }
    }

    /// Packs row-major a[m, k] (row stride `lda`) as the left operand.
    public static func packA(_ a: UnsafePointer<Float>, lda: Int, m: Int, k: Int, _ c: Compute) -> Packed {
        let p = Packed(count: sumi_bf16_packed_a_count(Int64(m), Int64(k)), rows: m, cols: k)
        let panels = (m + panelRows - 1) / panelRows, dst = p.pointer
        c.parallelFor(panels, grain: max(1, 8192 / max(k * panelRows, 1))) { r in
            sumi_bf16_pack_a(a, Int64(lda), Int64(m), Int64(k), dst, Int64(r.lowerBound), Int64(r.upperBound))
        }
        return p
    }

    /// Packs the right operand B[k, n]: from row-major b[k, n] (`trans` false) or b[n, k] (`trans` true,
    /// B = bᵀ as for a linear layer's [out, in] weight), row stride `ldb`.
    public static func packB(_ b: UnsafePointer<Float>, ldb: Int, trans: Bool, k: Int, n: Int, _ c: Compute) -> Packed {
        let p = Packed(count: sumi_bf16_packed_b_count(Int64(k), Int64(n)), rows: k, cols: n)
        packB(b, ldb: ldb, trans: trans, k: k, n: n, into: p, c)
        return p
    }

    /// `packB` into an existing buffer (reused across a conv's pixel blocks); it must hold enough pairs.
    public static func packB(_ b: UnsafePointer<Float>, ldb: Int, trans: Bool, k: Int, n: Int, into p: Packed, _ c: Compute) {
        precondition(sumi_bf16_packed_b_count(Int64(k), Int64(n)) <= p.count, "BF16GEMM.packB: buffer too small for [\(k), \(n)]")
        p.rows = k; p.cols = n
        let panels = (n + panelCols - 1) / panelCols, dst = p.pointer
        c.parallelFor(panels, grain: max(1, 8192 / max(k * panelCols, 1))) { r in
            sumi_bf16_pack_b(b, Int64(ldb), trans ? 1 : 0, Int64(k), Int64(n), dst, Int64(r.lowerBound), Int64(r.upperBound))
        }
    }

    /// A buffer for `packB(…, into:)` of up to k × n.
    public static func bBuffer(k: Int, n: Int) -> Packed {
        Packed(count: sumi_bf16_packed_b_count(Int64(k), Int64(n)), rows: k, cols: n)
    }

    /// C[m, n] (row stride `ldc`) = A · B, or C += A · B when `accumulate`. A: packed [m, k], B: packed [k, n].
    /// Work is split over panels across the context's workers.
    public static func gemm(_ a: Packed, _ b: Packed, c out: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool, _ c: Compute) {
        precondition(isSupported, "BF16GEMM.gemm on a CPU without AVX512-BF16")
        precondition(a.cols == b.rows, "BF16GEMM: A [\(a.rows), \(a.cols)] · B [\(b.rows), \(b.cols)]")
        let (m, n, k) = (a.rows, b.cols, a.cols)
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (out + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let mp = (m + panelRows - 1) / panelRows, np = (n + panelCols - 1) / panelCols
        let pa = a.pointer, pb = b.pointer, acc: Int32 = accumulate ? 1 : 0
        // Split the dimension with more panels; ~1 MFLOP per job minimum so tiny products stay on one thread.
        let flopsPerPanelRow = 2 * panelRows * n * k, flopsPerPanelCol = 2 * panelCols * m * k
        if mp >= np {
            c.parallelFor(mp, grain: max(1, (1 << 20) / max(flopsPerPanelRow, 1))) { r in
                sumi_gemm_bf16_packed(Int64(m), Int64(n), Int64(k), pa, pb, out, Int64(ldc), acc,
                                      Int64(r.lowerBound), Int64(r.upperBound), 0, Int64(np))
            }
        } else {
            c.parallelFor(np, grain: max(1, (1 << 20) / max(flopsPerPanelCol, 1))) { r in
                sumi_gemm_bf16_packed(Int64(m), Int64(n), Int64(k), pa, pb, out, Int64(ldc), acc,
                                      0, Int64(mp), Int64(r.lowerBound), Int64(r.upperBound))
            }
        }
    }

    /// Plain-loop reference (double accumulation of bf16-rounded operands): C = A · op(B) (+ C).
    /// a: [m, k] row-major; b: [k, n], or [n, k] when `transB`.
    public static func naive(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, transB: Bool,
                             c out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        sumi_gemm_bf16_reference(Int64(m), Int64(n), Int64(k), a, Int64(k), b, Int64(transB ? k : n), transB ? 1 : 0,
                                 out, Int64(n), accumulate ? 1 : 0)
    }

    /// Values rounded to the nearest bfloat16 (as fp32), for tests and error estimates.
    public static func rounded(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        sumi_round_bf16(x.data, out.data, x.count)
        return out
    }
}
