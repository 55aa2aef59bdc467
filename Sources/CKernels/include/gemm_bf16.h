// bf16 GEMM with fp32 accumulation (gemm_bf16.c), for CPUs with AVX512-BF16 (VDPBF16PS).
// C[M, N] (fp32, row stride ldc) = A[M, K] · B[K, N] (+ C when accumulating), both operands rounded to
// bfloat16 (round to nearest even) while packing. Packed layouts, all built of 32-bit "pairs"
// (low half = element 2p, high half = element 2p+1 along K, zero-padded past K):
//   A panels: ceil(M / 12) panels of 12 rows, each [ceil(K/2)][12] pairs (rows past M are zero),
//   B panels: ceil(N / 32) panels of 32 columns, each [ceil(K/2)][32] pairs (columns past N are zero).
// Callers must check sumi_has_bf16_gemm() first; without AVX512-BF16 the GEMM entry point must not run.
#ifndef SUMI_GEMM_BF16_H
#define SUMI_GEMM_BF16_H
#include <stddef.h>
#include <stdint.h>

#define SUMI_BF16_MR 12
#define SUMI_BF16_NR 32

/// 1 when the CPU has AVX512-BF16 (and AVX512F/BW/VL) so sumi_gemm_bf16_packed may run.
int sumi_has_bf16_gemm(void);
/// Pairs (uint32) in a packed A of m rows and k columns.
size_t sumi_bf16_packed_a_count(int64_t m, int64_t k);
/// Pairs (uint32) in a packed B of k rows and n columns.
size_t sumi_bf16_packed_b_count(int64_t k, int64_t n);
/// Packs A panels [panel_start, panel_end) from row-major a[m, k] (row stride lda).
void sumi_bf16_pack_a(const float *a, int64_t lda, int64_t m, int64_t k, uint32_t *dst,
                      int64_t panel_start, int64_t panel_end);
/// Packs B panels [panel_start, panel_end). trans = 0: b is row-major [k, n] (stride ldb);
/// trans = 1: b is row-major [n, k] (stride ldb), i.e. B = bᵀ (a linear layer's weight).
void sumi_bf16_pack_b(const float *b, int64_t ldb, int trans, int64_t k, int64_t n, uint32_t *dst,
                      int64_t panel_start, int64_t panel_end);
/// C rows of A panels [ia, ib) × columns of B panels [jb0, jb1): C = A·B (accumulate = 0) or C += A·B (1).
void sumi_gemm_bf16_packed(int64_t m, int64_t n, int64_t k, const uint32_t *pa, const uint32_t *pb,
                           float *c, int64_t ldc, int accumulate,
                           int64_t ia, int64_t ib, int64_t jb0, int64_t jb1);
/// Plain-loop reference with the same rounding: C = round_bf16(A) · round_bf16(B) (+ C), fp32 accumulation.
/// trans_b as in sumi_bf16_pack_b.
void sumi_gemm_bf16_reference(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                              const float *b, int64_t ldb, int trans_b, float *c, int64_t ldc, int accumulate);
/// Rounds each value to the nearest bfloat16 (kept as fp32).
void sumi_round_bf16(const float *src, float *dst, size_t n);

#endif
