// Pointwise activations, forward and backward. Each kind gets its own loop (the `kind` switch is
// outside the loop) so every loop body is straight-line code the compiler vectorizes, compiled
// for AVX-512 / AVX2+FMA / SSE2 by target_clones.
#include "activations.h"
#include "mathfun.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// gelu_tanh(x) = ½x(1 + tanh u) = x·σ(2u), u = √(2/π)(x + 0.044715x³): the σ form needs no tanh
// and does not cancel for negative x.
static const float kTwoSqrt2OverPi = 0x1.9884540p+0f;   // 2·√(2/π)
static const float kGeluTanhCubic = 0.044715f;
static const float kQuickGelu = 1.702f;
static const float kSoftplusThreshold = 20.0f;

CLONES static void gelu_fwd(const float *restrict x, float *restrict y, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float c, p; sumi_normal_cdf_pdf(x[i], &c, &p);
        y[i] = x[i] * c;
    }
}
CLONES static void gelu_bwd(const float *restrict x, const float *restrict dy, float *restrict dx, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float c, p; sumi_normal_cdf_pdf(x[i], &c, &p);
        dx[i] = dy[i] * (c + x[i] * p);
    }
}
CLONES static void gelu_tanh_fwd(const float *restrict x, float *restrict y, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float v = x[i];
        y[i] = v * sumi_sigmoidf(kTwoSqrt2OverPi * (v + kGeluTanhCubic * v * v * v));
    }
}
CLONES static void gelu_tanh_bwd(const float *restrict x, const float *restrict dy, float *restrict dx, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float v = x[i], sp, sn;
        sumi_sigmoid2f(kTwoSqrt2OverPi * (v + kGeluTanhCubic * v * v * v), &sp, &sn);
        float du = kTwoSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * v * v);   // d(2u)/dx
        dx[i] = dy[i] * (sp + v * sp * sn * du);
    }
}
CLONES static void quick_gelu_fwd(const float *restrict x, float *restrict y, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) y[i] = x[i] * sumi_sigmoidf(kQuickGelu * x[i]);
}
CLONES static void quick_gelu_bwd(const float *restrict x, const float *restrict dy, float *restrict dx, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float sp, sn; sumi_sigmoid2f(kQuickGelu * x[i], &sp, &sn);
        dx[i] = dy[i] * (sp + kQuickGelu * x[i] * sp * sn);
    }
}
CLONES static void silu_fwd(const float *restrict x, float *restrict y, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) y[i] = x[i] * sumi_sigmoidf(x[i]);
}
CLONES static void silu_bwd(const float *restrict x, const float *restrict dy, float *restrict dx, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float sp, sn; sumi_sigmoid2f(x[i], &sp, &sn);
        dx[i] = dy[i] * (sp + x[i] * sp * sn);
    }
}
// softplus(x) = max(x, 0) + log1p(e^−|x|), and exactly x above the threshold (torch semantics).
CLONES static void softplus_fwd(const float *restrict x, float *restrict y, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float v = x[i], a = v < 0 ? -v : v;
        float r = (v > 0 ? v : 0.0f) + sumi_log1p01f(sumi_expf(-a));
        y[i] = v > kSoftplusThreshold ? v : r;
    }
}
CLONES static void softplus_bwd(const float *restrict x, const float *restrict dy, float *restrict dx, size_t s, size_t e) {
    for (size_t i = s; i < e; i++) {
        float v = x[i];
        dx[i] = v > kSoftplusThreshold ? dy[i] : dy[i] * sumi_sigmoidf(v);
    }
}

void sumi_activation_forward(int kind, const float *x, float *y, size_t start, size_t end) {
    switch (kind) {
    case 0: gelu_fwd(x, y, start, end); break;
    case 1: gelu_tanh_fwd(x, y, start, end); break;
    case 2: quick_gelu_fwd(x, y, start, end); break;
    case 3: silu_fwd(x, y, start, end); break;
    case 4: softplus_fwd(x, y, start, end); break;
    default: break;
    }
}

void sumi_activation_backward(int kind, const float *x, const float *dy, float *dx, size_t start, size_t end) {
    switch (kind) {
    case 0: gelu_bwd(x, dy, dx, start, end); break;
    case 1: gelu_tanh_bwd(x, dy, dx, start, end); break;
    case 2: quick_gelu_bwd(x, dy, dx, start, end); break;
    case 3: silu_bwd(x, dy, dx, start, end); break;
    case 4: softplus_bwd(x, dy, dx, start, end); break;
    default: break;
    }
}

CLONES void sumi_geglu_forward(const float *restrict x, float *restrict y, size_t hidden,
                               size_t row_start, size_t row_end) {
    for (size_t r = row_start; r < row_end; r++) {
        const float *a = x + r * 2 * hidden, *g = a + hidden;
        float *out = y + r * hidden;
        for (size_t j = 0; j < hidden; j++) {
            float c, p; sumi_normal_cdf_pdf(g[j], &c, &p);
            out[j] = a[j] * g[j] * c;
        }
    }
}

CLONES void sumi_geglu_backward(const float *restrict x, const float *restrict dy, float *restrict dx,
                                size_t hidden, size_t row_start, size_t row_end) {
    for (size_t r = row_start; r < row_end; r++) {
        const float *a = x + r * 2 * hidden, *g = a + hidden, *d = dy + r * hidden;
        float *da = dx + r * 2 * hidden, *dg = da + hidden;
        for (size_t j = 0; j < hidden; j++) {
            float c, p; sumi_normal_cdf_pdf(g[j], &c, &p);
            da[j] = d[j] * g[j] * c;
            dg[j] = d[j] * a[j] * (c + g[j] * p);
        }
    }
}
