// bf16 GEMM with fp32 accumulation on AVX512-BF16 (see include/gemm_bf16.h for the packed layouts).
// Why our own: Debian's OpenBLAS 0.3.21 has no sbgemm. Blocking follows the usual GotoBLAS scheme:
// a KC-deep slice of one 32-column B panel (KC2 pairs × 32 × 4 B = 16 KiB) stays in L1 while a block
// of A panels (MC rows × KC) stays in L2; the 12×32 micro-kernel keeps 24 zmm accumulators and
// reads each A pair as an embedded 32-bit broadcast. Only the micro-kernel needs AVX512-BF16: it is
// compiled with a target attribute and guarded by sumi_has_bf16_gemm() at run time, so the library
// still loads and runs (fp32) on CPUs without it.
#include "gemm_bf16.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MR SUMI_BF16_MR
#define NR SUMI_BF16_NR
#define KC2 128          // K pairs per L1 block (256 values of K)
#define MC_PANELS 16     // A panels per L2 block (192 rows)

static inline uint32_t bf16_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (x >> 16) | 0x40u;   // quiet NaN
    return (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
}

int sumi_has_bf16_gemm(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

size_t sumi_bf16_packed_a_count(int64_t m, int64_t k) {
    return (size_t)((m + MR - 1) / MR) * (size_t)((k + 1) / 2) * MR;
}

size_t sumi_bf16_packed_b_count(int64_t k, int64_t n) {
    return (size_t)((n + NR - 1) / NR) * (size_t)((k + 1) / 2) * NR;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_bf16_pack_a(const float *restrict a, int64_t lda, int64_t m, int64_t k, uint32_t *restrict dst,
                      int64_t panel_start, int64_t panel_end) {
    const int64_t k2 = (k + 1) / 2, kEven = k / 2;
    for (int64_t pi = panel_start; pi < panel_end; pi++) {
        uint32_t *panel = dst + pi * k2 * MR;
        for (int64_t i = 0; i < MR; i++) {
            const int64_t row = pi * MR + i;
            uint32_t *d = panel + i;
            if (row >= m) { for (int64_t p = 0; p < k2; p++) d[p * MR] = 0; continue; }
            const float *src = a + row * lda;
            for (int64_t p = 0; p < kEven; p++)
                d[p * MR] = bf16_bits(src[2 * p]) | (bf16_bits(src[2 * p + 1]) << 16);
            if (k & 1) d[kEven * MR] = bf16_bits(src[k - 1]);
        }
    }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_bf16_pack_b(const float *restrict b, int64_t ldb, int trans, int64_t k, int64_t n, uint32_t *restrict dst,
                      int64_t panel_start, int64_t panel_end) {
    const int64_t k2 = (k + 1) / 2, kEven = k / 2;
    for (int64_t pj = panel_start; pj < panel_end; pj++) {
        uint32_t *panel = dst + pj * k2 * NR;
        const int64_t j0 = pj * NR, cols = n - j0 < NR ? n - j0 : NR;
        if (trans) {
            // b[n, k]: each output column is a contiguous row of b.
            for (int64_t j = 0; j < NR; j++) {
                uint32_t *d = panel + j;
                if (j >= cols) { for (int64_t p = 0; p < k2; p++) d[p * NR] = 0; continue; }
                const float *src = b + (j0 + j) * ldb;
                for (int64_t p = 0; p < kEven; p++)
                    d[p * NR] = bf16_bits(src[2 * p]) | (bf16_bits(src[2 * p + 1]) << 16);
                if (k & 1) d[kEven * NR] = bf16_bits(src[k - 1]);
            }
        } else {
            // b[k, n]: two consecutive rows give one row of pairs.
            for (int64_t p = 0; p < k2; p++) {
                const float *r0 = b + (2 * p) * ldb + j0;
                const float *r1 = 2 * p + 1 < k ? r0 + ldb : NULL;
                uint32_t *d = panel + p * NR;
                for (int64_t j = 0; j < cols; j++) d[j] = bf16_bits(r0[j]) | (r1 ? bf16_bits(r1[j]) << 16 : 0u);
                for (int64_t j = cols; j < NR; j++) d[j] = 0;
            }
        }
    }
}

#if defined(__x86_64__)
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// acc[MR][2] += A panel slice · B panel slice over kp pairs, then C (rows < mr, cols < nr) = / += acc.
BF16_TARGET
static void micro_kernel(int64_t kp, const uint32_t *restrict a, const uint32_t *restrict b,
                         float *restrict c, int64_t ldc, int64_t mr, int64_t nr, int accumulate) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) { acc[i][0] = _mm512_setzero_ps(); acc[i][1] = _mm512_setzero_ps(); }
    for (int64_t p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b + p * NR));
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + p * NR + 16));
        const uint32_t *ap = a + p * MR;
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)ap[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
        }
    }
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
        __m512 v0 = acc[i][0], v1 = acc[i][1];
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ci));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        _mm512_mask_storeu_ps(ci, m0, v0);
        _mm512_mask_storeu_ps(ci + 16, m1, v1);
    }
}

BF16_TARGET
static void gemm_packed_avx512(int64_t m, int64_t n, int64_t k, const uint32_t *pa, const uint32_t *pb,
                               float *c, int64_t ldc, int accumulate,
                               int64_t ia, int64_t ib, int64_t jb0, int64_t jb1) {
    const int64_t k2 = (k + 1) / 2;
    for (int64_t p0 = 0; p0 < k2; p0 += KC2) {
        const int64_t kp = k2 - p0 < KC2 ? k2 - p0 : KC2;
        const int acc = accumulate || p0 > 0;
        for (int64_t i0 = ia; i0 < ib; i0 += MC_PANELS) {
            const int64_t i1 = i0 + MC_PANELS < ib ? i0 + MC_PANELS : ib;
            for (int64_t jb = jb0; jb < jb1; jb++) {
                const uint32_t *bpanel = pb + jb * k2 * NR + p0 * NR;
                const int64_t nr = n - jb * NR < NR ? n - jb * NR : NR;
                for (int64_t pi = i0; pi < i1; pi++) {
                    const int64_t mr = m - pi * MR < MR ? m - pi * MR : MR;
                    micro_kernel(kp, pa + pi * k2 * MR + p0 * MR, bpanel, c + pi * MR * ldc + jb * NR, ldc, mr, nr, acc);
                }
            }
        }
    }
}
#endif

void sumi_gemm_bf16_packed(int64_t m, int64_t n, int64_t k, const uint32_t *pa, const uint32_t *pb,
                           float *c, int64_t ldc, int accumulate,
                           int64_t ia, int64_t ib, int64_t jb0, int64_t jb1) {
#if defined(__x86_64__)
    gemm_packed_avx512(m, n, k, pa, pb, c, ldc, accumulate, ia, ib, jb0, jb1);
#else
    (void)m; (void)n; (void)k; (void)pa; (void)pb; (void)c; (void)ldc; (void)accumulate;
    (void)ia; (void)ib; (void)jb0; (void)jb1;
#endif
}

static inline float bf16_round(float f) {
    uint32_t x = bf16_bits(f) << 16;
    float r;
    memcpy(&r, &x, 4);
    return r;
}

void sumi_round_bf16(const float *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_round(src[i]);
}

void sumi_gemm_bf16_reference(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                              const float *b, int64_t ldb, int trans_b, float *c, int64_t ldc, int accumulate) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) {
                const float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                s += (double)bf16_round(a[i * lda + p]) * (double)bf16_round(bv);
            }
            c[i * ldc + j] = (float)(accumulate ? c[i * ldc + j] + s : s);
        }
}
