// Branch-free float math for kernels that must auto-vectorize (libm's expf/erff are scalar calls).
//
// Every function is `static inline` so it is compiled inside each `target_clones` variant of the
// calling loop (AVX-512, AVX2+FMA, SSE2). Polynomial coefficients were fitted for this project by
// weighted least squares (minimax-like) on Chebyshev nodes against mpmath at 40 digits; each
// polynomial's own error is ≤ 4e-9 relative, so the float evaluation (a few ulp, ≲ 3e-7) dominates.
// Private header: not part of the module's public interface.
#ifndef SUMI_MATHFUN_H
#define SUMI_MATHFUN_H
#include <stdint.h>
#include <string.h>

static inline float sumi_bits_to_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t sumi_f32_to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

/// e^x with ≲ 2 ulp error for x in [−87.3, 88.37]; exactly 0 below −87.3 (no denormal results)
/// and clamped to e^88.37 ≈ 2.4e38 above (finite, so 1/(1 + e^x) never sees ∞).
static inline float sumi_expf(float x) {
    const float hi = 88.37f, lo = -87.3f;   // keep n = round(x/ln2) in [−126, 127]: 2^n is normal
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    // n = round(x / ln 2) by the 1.5·2^23 trick (no SSE4.1 rounding instruction needed).
    const float shifter = 0x1.8p23f;
    float t = xc * 0x1.715476p+0f + shifter;
    float n = t - shifter;
    // r = x − n·ln2 in two pieces so r keeps full precision.
    float r = xc - n * 0x1.62e4p-1f;
    r = r - n * 0x1.7f7d1cp-20f;
    // e^r = 1 + r + r²·P(r) on |r| ≤ ln2/2.
    float p = 0x1.6a2448p-10f;
    p = p * r + 0x1.1239d4p-7f;
    p = p * r + 0x1.5558f2p-5f;
    p = p * r + 0x1.555492p-3f;
    p = p * r + 0x1.fffffcp-2f;
    float er = 1.0f + (r + r * r * p);
    float scale = sumi_bits_to_f32((uint32_t)((int32_t)n + 127) << 23);
    float y = er * scale;
    return x < lo ? 0.0f : y;
}

/// Logistic sigmoid 1/(1 + e^−x). No cancellation on either side: e^−x is large on the left and
/// small on the right; the exp clamp only matters where σ < 1e-38.
static inline float sumi_sigmoidf(float x) {
    return 1.0f / (1.0f + sumi_expf(-x));
}

/// σ(x) and σ(−x) = e^−x·σ(x) together (1 − σ(x) would cancel for large x).
static inline void sumi_sigmoid2f(float x, float *sp, float *sn) {
    float e = sumi_expf(-x);
    float d = 1.0f / (1.0f + e);
    *sp = d;
    *sn = e * d;
}

/// log(1 + y) for y ∈ [0, 1] via log1p(y) = 2·atanh(s), s = y / (2 + y) ∈ [0, 1/3].
static inline float sumi_log1p01f(float y) {
    float s = y / (2.0f + y);
    float s2 = s * s;
    float p = 0x1.f3f85ap-3f;
    p = p * s2 + 0x1.b622fcp-3f;
    p = p * s2 + 0x1.251376p-2f;
    p = p * s2 + 0x1.99962cp-2f;
    p = p * s2 + 0x1.55555ap-1f;
    p = p * s2 + 2.0f;
    return s * p;
}

/// Standard normal CDF Φ(x) and density φ(x) (GELU needs both: gelu = xΦ, gelu' = Φ + xφ).
///
/// |x| ≤ 0.75: Φ = ½ + x·P(x²). Beyond: the tail Q(|x|) = φ(|x|)·M(|x|) with the Mills ratio
/// M(x) = t·R(t), t = 1/(1 + x/2); Φ = Q on the left, 1 − Q on the right. Working from Q keeps
/// relative accuracy in the far-left tail, where 1 + erf(x/√2) would cancel.
static inline void sumi_normal_cdf_pdf(float x, float *cdf, float *pdf) {
    float ax = x < 0 ? -x : x;
    // x² = sq + sqlo with sqlo the rounding error of sq (Dekker split of x into 12-bit halves), so
    // e^(−x²/2) = e^(−sq/2)·(1 − sqlo/2) keeps relative accuracy at large |x|.
    float xh = sumi_bits_to_f32(sumi_f32_to_bits(ax) & 0xfffff000u);
    float xl = ax - xh;
    float sq = ax * ax;
    float sqlo = ((xh * xh - sq) + 2.0f * xh * xl) + xl * xl;
    float g = sumi_expf(-0.5f * sq) * (1.0f - 0.5f * sqlo);
    float dens = g * 0x1.988454p-2f;       // 1/√(2π)
    // Centre polynomial (|x| ≤ 0.75, where ½ + x·P loses at most ~1 bit to cancellation).
    float s = x * x;
    float p = 0x1.a9563ep-14f;
    p = p * s - 0x1.352708p-10f;
    p = p * s + 0x1.46bf12p-7f;
    p = p * s - 0x1.1057fcp-4f;
    p = p * s + 0x1.988452p-2f;
    float centre = 0.5f + x * p;
    // Tail: Mills ratio.
    float t = 1.0f / (1.0f + 0.5f * ax);
    float m = -0x1.d5bf7cp-3f;
    m = m * t + 0x1.35894cp+0f;
    m = m * t - 0x1.41c3dep+1f;
    m = m * t + 0x1.3d1710p+1f;
    m = m * t - 0x1.d90c70p-1f;
    m = m * t - 0x1.557c2cp-4f;
    m = m * t - 0x1.79eb9ap-3f;
    m = m * t + 0x1.04bff0p-3f;
    m = m * t + 0x1.7fe6b8p-2f;
    m = m * t + 0x1.000034p-1f;
    m = m * t + 0x1.0p-1f;
    float q = dens * t * m;
    float tail = x < 0 ? q : 1.0f - q;
    *cdf = ax <= 0.75f ? centre : tail;
    *pdf = dens;
}

#endif
