// Group norm / layer norm kernels. Group norm is written as per-row passes (a row = one channel of
// one sample, its spatial extent contiguous) so both the statistics and the normalisation split
// over B·C rows; the per-group arithmetic between passes is tiny and lives in Swift.
//
// Double reductions are vectorized by the `vectorize(enable)` loop hint, which also permits the
// reassociation a vector sum needs (the package builds without -ffast-math).
#include "norm.h"
#include "mathfun.h"
#include <math.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

CLONES void sumi_row_moments(const float *restrict x, size_t n, size_t rows_per_group,
                             double *restrict sum, double *restrict sumsq, size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *row = x + i * n;
        double k = x[(i / rows_per_group) * rows_per_group * n];
        double s = 0, ss = 0;
#pragma clang loop vectorize(enable) interleave_count(2)
        for (size_t j = 0; j < n; j++) {
            double v = (double)row[j] - k;
            s += v;
            ss += v * v;
        }
        sum[i] = s;
        sumsq[i] = ss;
    }
}

CLONES void sumi_scale_shift_rows(const float *restrict x, float *restrict y, size_t n,
                                  const float *restrict center, const float *restrict scale,
                                  const float *restrict shift, int silu, size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *xr = x + i * n;
        float *yr = y + i * n;
        float m = center[i], a = scale[i], b = shift[i];
        if (silu) {
            for (size_t j = 0; j < n; j++) { float z = (xr[j] - m) * a + b; yr[j] = z * sumi_sigmoidf(z); }
        } else {
            for (size_t j = 0; j < n; j++) yr[j] = (xr[j] - m) * a + b;
        }
    }
}

// Gradient reaching the norm's output through silu: dz = dy·σ(z)·(1 + z·σ(−z)).
static inline float silu_grad(float dy, float z) {
    float sp, sn; sumi_sigmoid2f(z, &sp, &sn);
    return dy * sp * (1.0f + z * sn);
}

CLONES void sumi_row_grad_sums(const float *restrict x, const float *restrict dy, size_t n,
                               const float *restrict center, const float *restrict scale,
                               const float *restrict shift, int silu,
                               double *restrict sum_g, double *restrict sum_gx, float *restrict g_out,
                               size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *xr = x + i * n, *dr = dy + i * n;
        double s = 0, sx = 0, m = center[i];
        if (silu && g_out) {
            float mf = center[i], a = scale[i], b = shift[i];
            float *gr = g_out + i * n;
#pragma clang loop vectorize(enable) interleave_count(2)
            for (size_t j = 0; j < n; j++) {
                float gf = silu_grad(dr[j], (xr[j] - mf) * a + b);
                gr[j] = gf;
                double g = gf;
                s += g;
                sx += g * ((double)xr[j] - m);
            }
        } else if (silu) {
            float mf = center[i], a = scale[i], b = shift[i];
#pragma clang loop vectorize(enable) interleave_count(2)
            for (size_t j = 0; j < n; j++) {
                double g = silu_grad(dr[j], (xr[j] - mf) * a + b);
                s += g;
                sx += g * ((double)xr[j] - m);
            }
        } else {
#pragma clang loop vectorize(enable) interleave_count(2)
            for (size_t j = 0; j < n; j++) {
                double g = dr[j];
                s += g;
                sx += g * ((double)xr[j] - m);
            }
        }
        sum_g[i] = s;
        sum_gx[i] = sx;
    }
}

CLONES void sumi_rows_affine_backward(const float *restrict x, const float *restrict dy, float *restrict dx,
                                      size_t n, const float *restrict center, const float *restrict p,
                                      const float *restrict q, const float *restrict r, size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *xr = x + i * n, *dr = dy + i * n;
        float *out = dx + i * n;
        float m = center[i], pi = p[i], qi = q[i], ri = r[i];
        for (size_t j = 0; j < n; j++) out[j] = pi * dr[j] + (qi * (xr[j] - m) + ri);
    }
}

CLONES void sumi_rows_affine_backward_inplace(const float *restrict x, float *restrict g, size_t n,
                                              const float *restrict center, const float *restrict p,
                                              const float *restrict q, const float *restrict r,
                                              size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *xr = x + i * n;
        float *gr = g + i * n;
        float m = center[i], pi = p[i], qi = q[i], ri = r[i];
        for (size_t j = 0; j < n; j++) gr[j] = pi * gr[j] + (qi * (xr[j] - m) + ri);
    }
}

CLONES void sumi_layer_norm_forward(const float *restrict x, float *restrict y, const float *restrict w,
                                    const float *restrict b, size_t d, float eps,
                                    float *restrict mean, float *restrict rstd, size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *xr = x + i * d;
        float *yr = y + i * d;
        double k = xr[0], s = 0, ss = 0;
#pragma clang loop vectorize(enable) interleave_count(2)
        for (size_t j = 0; j < d; j++) {
            double v = (double)xr[j] - k;
            s += v;
            ss += v * v;
        }
        double m = s / (double)d;
        double var = ss / (double)d - m * m;
        if (var < 0) var = 0;
        double rs = 1.0 / sqrt(var + (double)eps);
        float mf = (float)(k + m), rf = (float)rs;
        mean[i] = mf;
        rstd[i] = rf;
        if (w && b) {
            for (size_t j = 0; j < d; j++) yr[j] = ((xr[j] - mf) * rf) * w[j] + b[j];
        } else if (w) {
            for (size_t j = 0; j < d; j++) yr[j] = ((xr[j] - mf) * rf) * w[j];
        } else if (b) {
            for (size_t j = 0; j < d; j++) yr[j] = (xr[j] - mf) * rf + b[j];
        } else {
            for (size_t j = 0; j < d; j++) yr[j] = (xr[j] - mf) * rf;
        }
    }
}

CLONES void sumi_layer_norm_backward(const float *restrict x, const float *restrict dy, float *restrict dx,
                                     const float *restrict w, size_t d, const float *restrict mean,
                                     const float *restrict rstd, double *restrict dw_acc, double *restrict db_acc,
                                     size_t start, size_t end) {
    for (size_t i = start; i < end; i++) {
        const float *xr = x + i * d, *dr = dy + i * d;
        float m = mean[i], rs = rstd[i];
        if (dx) {
            // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w.
            double sg = 0, sgx = 0;
#pragma clang loop vectorize(enable) interleave_count(2)
            for (size_t j = 0; j < d; j++) {
                double g = w ? (double)dr[j] * (double)w[j] : (double)dr[j];
                double xh = ((double)xr[j] - (double)m) * (double)rs;
                sg += g;
                sgx += g * xh;
            }
            float a = (float)(sg / (double)d), c = (float)(sgx / (double)d);
            float *out = dx + i * d;
            if (w) {
                for (size_t j = 0; j < d; j++) {
                    float xh = (xr[j] - m) * rs;
                    out[j] = rs * (dr[j] * w[j] - a - xh * c);
                }
            } else {
                for (size_t j = 0; j < d; j++) {
                    float xh = (xr[j] - m) * rs;
                    out[j] = rs * (dr[j] - a - xh * c);
                }
            }
        }
        if (dw_acc) {
            for (size_t j = 0; j < d; j++) dw_acc[j] += (double)dr[j] * (double)((xr[j] - m) * rs);
        }
        if (db_acc) {
            for (size_t j = 0; j < d; j++) db_acc[j] += (double)dr[j];
        }
    }
}
