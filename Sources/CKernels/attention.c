// Softmax / attention row kernels. Why hand-written: libm expf is scalar (~3.4 ns per element) and
// dominates attention's non-GEMM time; this polynomial exp is plain branch-free C that the compiler
// vectorizes for each target_clones arch. Reductions keep 16 independent lanes so they vectorize
// without -ffast-math reassociation (and stay deterministic for a given row length).
#include "attention.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define LANES 16
// Helpers must inline into each clone: an out-of-line helper is compiled once, for the baseline arch.

// exp(x) via exp(x) = 2^n · e^r, n = round(x / ln 2), |r| ≤ ln2 / 2 (Cephes expf coefficients).
// n is rounded with the 1.5·2^23 trick, whose low mantissa bits then hold n, so 2^n is built by
// integer ops alone (vectorizes even on baseline SSE2). Inputs above 88 would overflow 2^n.
static inline __attribute__((always_inline)) float exp_poly(float x) {
    const float lo = -87.33654f, hi = 88.0f, magic = 12582912.0f;
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t eb = (tb - 0x4B400000u + 127u) << 23;
    float s;
    memcpy(&s, &eb, 4);
    float y = p * s;
    return x < lo ? 0.0f : y;
}

static inline __attribute__((always_inline)) float row_max(const float *restrict x, size_t n) {
    float acc[LANES];
    for (int l = 0; l < LANES; l++) acc[l] = -INFINITY;
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    float m = -INFINITY;
    for (int l = 0; l < LANES; l++) m = acc[l] > m ? acc[l] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

// y = exp(x − m), returns Σ y. Separate in-place and out-of-place forms: with possibly aliasing
// pointers the vectorizer falls back to scalar code (5x slower), so each form is alias-free.
static inline __attribute__((always_inline)) float exp_shift_sum_inplace(float *x, size_t n, float m) {
    float acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = exp_poly(x[j + l] - m);
            x[j + l] = e;
            acc[l] += e;
        }
    float s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; j < n; j++) { float e = exp_poly(x[j] - m); x[j] = e; s += e; }
    return s;
}

static inline __attribute__((always_inline)) float exp_shift_sum(const float *restrict x, float *restrict y, size_t n, float m) {
    float acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = exp_poly(x[j + l] - m);
            y[j + l] = e;
            acc[l] += e;
        }
    float s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; j < n; j++) { float e = exp_poly(x[j] - m); y[j] = e; s += e; }
    return s;
}

static inline __attribute__((always_inline)) float dot(const float *restrict a, const float *restrict b, size_t n) {
    float acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += a[j + l] * b[j + l];
    float s = 0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    for (; j < n; j++) s += a[j] * b[j];
    return s;
}

CLONES
void sumi_exp(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = exp_poly(x[i]);
}

CLONES
void sumi_softmax_rows(const float *x, float *y, size_t cols, size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = row_max(xr, cols);
        float sum = xr == yr ? exp_shift_sum_inplace(yr, cols, m) : exp_shift_sum(xr, yr, cols, m);
        float inv = 1.0f / sum;
        for (size_t j = 0; j < cols; j++) yr[j] *= inv;
    }
}

CLONES
void sumi_softmax_backward_rows(const float *y, const float *dy, float *dx, size_t cols,
                                size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        const float *yr = y + r * cols, *gr = dy + r * cols;
        float *dr = dx + r * cols;
        float d = dot(yr, gr, cols);
        for (size_t j = 0; j < cols; j++) dr[j] = yr[j] * (gr[j] - d);
    }
}

CLONES
void sumi_attn_softmax_rows(float *s, size_t cols, float *inv_sum, float *lse, size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        float *sr = s + r * cols;
        float m = row_max(sr, cols);
        float sum = exp_shift_sum_inplace(sr, cols, m);
        inv_sum[r] = 1.0f / sum;
        if (lse) lse[r] = m + logf(sum);
    }
}

CLONES
void sumi_attn_probs_rows(float *s, size_t cols, const float *lse, size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        float *sr = s + r * cols;
        float l = lse[r];
        for (size_t j = 0; j < cols; j++) sr[j] = exp_poly(sr[j] - l);
    }
}

CLONES
void sumi_attn_dscores_rows(const float *p, float *dp, size_t cols, const float *delta, float scale,
                            size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        const float *pr = p + r * cols;
        float *dr = dp + r * cols;
        float d = delta[r];
        for (size_t j = 0; j < cols; j++) dr[j] = pr[j] * (dr[j] - d) * scale;
    }
}

void sumi_attn_causal_mask_rows(float *s, size_t cols, size_t first_row, size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        float *sr = s + r * cols;
        for (size_t j = first_row + r + 1; j < cols; j++) sr[j] = -INFINITY;
    }
}

CLONES
void sumi_rowdot(const float *a, const float *b, size_t cols, float *out, size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) out[r] = dot(a + r * cols, b + r * cols, cols);
}

CLONES
void sumi_scale_rows(float *x, size_t cols, const float *s, size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
        float *xr = x + r * cols;
        float k = s[r];
        for (size_t j = 0; j < cols; j++) xr[j] *= k;
    }
}
