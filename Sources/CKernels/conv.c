// Convolution lowering (im2col / col2im) and nearest 2x upsampling.
// The GEMMs themselves run in OpenBLAS (Sources/Tensor/BLAS.swift); these loops only move data,
// so their job is to stream memory: contiguous runs use memcpy/memset, and the strided cases are
// simple enough for the vectorizer under each target_clones architecture.
#include "conv.h"
#include <string.h>

// Output columns ox whose input column ix = ox*s - pad + kx lies in [0, W): [*lo, *hi).
static inline void valid_columns(const sumi_conv_geometry *g, int64_t kx, int64_t *lo, int64_t *hi) {
    int64_t s = g->stride, off = g->padding - kx;       // ix >= 0  <=>  ox*s >= off
    int64_t a = off <= 0 ? 0 : (off + s - 1) / s;
    int64_t last = g->width - 1 + off;                  // ix <= W-1  <=>  ox*s <= W-1+off
    int64_t b = last < 0 ? 0 : last / s + 1;
    if (a > g->out_width) a = g->out_width;
    if (b > g->out_width) b = g->out_width;
    if (b < a) b = a;
    *lo = a; *hi = b;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_im2col(const float *restrict x, const sumi_conv_geometry *g, int64_t p0, int64_t np,
                 float *restrict col, int64_t row_start, int64_t row_end) {
    const int64_t kh = g->kernel_h, kw = g->kernel_w, s = g->stride, pad = g->padding;
    const int64_t H = g->height, W = g->width, Wo = g->out_width;
    for (int64_t r = row_start; r < row_end; r++) {
        const int64_t c = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
        int64_t lo, hi;
        valid_columns(g, kx, &lo, &hi);
        const float *plane = x + c * H * W;
        float *dst = col + r * np;
        int64_t p = p0, end = p0 + np;
        while (p < end) {
            const int64_t oy = p / Wo, ox0 = p % Wo;
            const int64_t ox1 = (Wo - ox0 < end - p) ? Wo : ox0 + (end - p);   // segment [ox0, ox1) of row oy
            const int64_t iy = oy * s - pad + ky;
            float *d = dst + (p - p0);                                         // d[0] is pixel (oy, ox0)
            if (iy < 0 || iy >= H) {
                memset(d, 0, (size_t)(ox1 - ox0) * sizeof(float));
            } else {
                const int64_t a = lo > ox0 ? lo : ox0, b = hi < ox1 ? hi : ox1;
                if (a >= b) {
                    memset(d, 0, (size_t)(ox1 - ox0) * sizeof(float));
                } else {
                    // x[c, iy, ix] for ox in [a, b), with ix = ox*s - pad + kx >= 0.
                    const float *src = plane + iy * W + (a * s - pad + kx);
                    for (int64_t ox = ox0; ox < a; ox++) d[ox - ox0] = 0;
                    float *da = d + (a - ox0);
                    if (s == 1) memcpy(da, src, (size_t)(b - a) * sizeof(float));
                    else for (int64_t i = 0; i < b - a; i++) da[i] = src[i * s];
                    for (int64_t ox = b; ox < ox1; ox++) d[ox - ox0] = 0;
                }
            }
            p += ox1 - ox0;
        }
    }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_col2im(const float *restrict dcol, const sumi_conv_geometry *g, int64_t p0, int64_t np,
                 float *restrict dx, int64_t c_start, int64_t c_end) {
    const int64_t kh = g->kernel_h, kw = g->kernel_w, s = g->stride, pad = g->padding;
    const int64_t H = g->height, W = g->width, Wo = g->out_width;
    for (int64_t c = c_start; c < c_end; c++) {
        float *plane = dx + c * H * W;
        for (int64_t ky = 0; ky < kh; ky++) {
            for (int64_t kx = 0; kx < kw; kx++) {
                int64_t lo, hi;
                valid_columns(g, kx, &lo, &hi);
                const float *src = dcol + ((c * kh + ky) * kw + kx) * np;
                int64_t p = p0, end = p0 + np;
                while (p < end) {
                    const int64_t oy = p / Wo, ox0 = p % Wo;
                    const int64_t ox1 = (Wo - ox0 < end - p) ? Wo : ox0 + (end - p);
                    const int64_t iy = oy * s - pad + ky;
                    const int64_t a = lo > ox0 ? lo : ox0, b = hi < ox1 ? hi : ox1;
                    if (iy >= 0 && iy < H && a < b) {
                        const float *sv = src + (p - p0) + (a - ox0);
                        float *d = plane + iy * W + (a * s - pad + kx);
                        if (s == 1) for (int64_t i = 0; i < b - a; i++) d[i] += sv[i];
                        else for (int64_t i = 0; i < b - a; i++) d[i * s] += sv[i];
                    }
                    p += ox1 - ox0;
                }
            }
        }
    }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_upsample_nearest2x(const float *restrict src, float *restrict dst, int64_t w,
                             int64_t row_start, int64_t row_end) {
    for (int64_t r = row_start; r < row_end; r++) {
        const float *s = src + r * w;
        float *d0 = dst + 2 * r * (2 * w), *d1 = d0 + 2 * w;
        for (int64_t x = 0; x < w; x++) { d0[2 * x] = s[x]; d0[2 * x + 1] = s[x]; }
        memcpy(d1, d0, (size_t)(2 * w) * sizeof(float));
    }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_upsample_nearest2x_backward(const float *restrict dy, float *restrict dx, int64_t w,
                                      int64_t row_start, int64_t row_end) {
    for (int64_t r = row_start; r < row_end; r++) {
        const float *a = dy + 2 * r * (2 * w), *b = a + 2 * w;
        float *d = dx + r * w;
        for (int64_t x = 0; x < w; x++) d[x] = (a[2 * x] + a[2 * x + 1]) + (b[2 * x] + b[2 * x + 1]);
    }
}

// One 32-pixel-wide tile for a compile-time row count M: M × 32 accumulators stay in registers while
// K rows of b stream past (one load of b feeds M FMAs).
#define FEW_W 32
static inline __attribute__((always_inline))
void few_rows_tile(const int M, const float *restrict w, int64_t k, const float *restrict b, int64_t ldb,
                   float *restrict out, int64_t ldo, int accumulate, int64_t p, int64_t width) {
    float acc[SUMI_FEW_ROWS_MAX][FEW_W];
    for (int o = 0; o < M; o++)
        for (int j = 0; j < FEW_W; j++) acc[o][j] = 0;
    if (width == FEW_W) {
        for (int64_t r = 0; r < k; r++) {
            const float *br = b + r * ldb + p;
            for (int o = 0; o < M; o++) {
                const float wv = w[o * k + r];
                for (int j = 0; j < FEW_W; j++) acc[o][j] += wv * br[j];
            }
        }
    } else {
        for (int64_t r = 0; r < k; r++) {
            const float *br = b + r * ldb + p;
            for (int o = 0; o < M; o++) {
                const float wv = w[o * k + r];
                for (int64_t j = 0; j < width; j++) acc[o][j] += wv * br[j];
            }
        }
    }
    for (int o = 0; o < M; o++) {
        float *dst = out + o * ldo + p;
        if (accumulate) for (int64_t j = 0; j < width; j++) dst[j] += acc[o][j];
        else for (int64_t j = 0; j < width; j++) dst[j] = acc[o][j];
    }
}

#define FEW_CASE(M) case M: for (int64_t p = p_start; p < p_end; p += FEW_W) \
    few_rows_tile(M, w, k, b, ldb, out, ldo, accumulate, p, p_end - p < FEW_W ? p_end - p : FEW_W); break;

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_gemm_few_rows(const float *restrict w, int64_t m, int64_t k, const float *restrict b, int64_t ldb,
                        float *restrict out, int64_t ldo, int accumulate, int64_t p_start, int64_t p_end) {
    switch (m) {
    FEW_CASE(1) FEW_CASE(2) FEW_CASE(3) FEW_CASE(4) FEW_CASE(5) FEW_CASE(6) FEW_CASE(7) FEW_CASE(8)
    default: break;
    }
}
