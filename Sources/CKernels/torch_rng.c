// The float Box–Muller step of `torch.randn` on CPU, bit-identical to PyTorch 2.9.
//
// Why this exists: a seed must give ComfyUI's exact latent noise. For a contiguous float tensor of
// ≥ 16 elements PyTorch fills uniforms and then runs `normal_fill_16_AVX2` on each 16-block (its
// AVX-512 capability registers no kernel of its own here, so AVX-512 machines run the AVX2 one
// too). That kernel does not call libm: log and sin/cos come from Julien Pommier's avx_mathfun
// (single-precision ports of the Cephes logf/sinf/cosf polynomials), so libm results differ in the
// last bits for a few per cent of the samples. The algorithm is re-derived here from Cephes.
//
// Why C, and why every fusion is spelled out: PyTorch's GCC build contracts some of the
// mul+add pairs of those routines into FMAs and leaves others as two roundings. Which ones was
// read off the disassembly of libtorch_cpu.so 2.9.1 and confirmed on 12 M torch samples (0
// mismatches; flipping any of the choices that matter gives 168–98,000). So every fused pair is an
// explicit `fmaf` and every unfused product goes through `rounded_mul`, which hides the product
// from the compiler: this target is built with -ffp-contract=fast, which would otherwise fuse
// (and clang ignores FP_CONTRACT pragmas under that flag). The result is then the same on every
// compiler, flag set and target_clones variant (the default clone calls libm's exact fmaf).
#include "torch_rng.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

static inline float bits_to_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

/// a·b rounded to float on its own: the empty asm makes the product opaque, so no FMA can absorb it.
static inline __attribute__((always_inline)) float rounded_mul(float a, float b) {
    float p = a * b;
#if defined(__x86_64__) || defined(__i386__)
    __asm__("" : "+x"(p));
#elif defined(__aarch64__)
    __asm__("" : "+w"(p));
#else
    volatile float v = p; p = v;
#endif
    return p;
}

// Cephes logf: log x = e·ln2 + log m with m in [√½, √2); ln 2 is split as q2 + q1 (q2 has 9
// significant bits, so e·q2 is exact) and log(1+f) ≈ f − f²/2 + f³·P(f).
static inline __attribute__((always_inline)) float torch_logf(float x) {
    if (!(x > 0.0f)) return bits_to_f32(0xFFFFFFFFu);   // PyTorch ORs an all-ones mask: a NaN
    const float min_normal = bits_to_f32(0x00800000u);  // denormals are clamped, not handled
    if (x < min_normal) x = min_normal;
    uint32_t bits = f32_to_bits(x);
    float e = (float)((int32_t)(bits >> 23) - 127) + 1.0f;
    float m = bits_to_f32((bits & 0x807FFFFFu) | 0x3F000000u);   // mantissa in [0.5, 1)
    float f;
    if (m < 0.707106781186547524f) { e -= 1.0f; f = (m - 1.0f) + m; }   // both steps are exact
    else f = m - 1.0f;
    float z = rounded_mul(f, f);
    // Horner steps: all fused.
    float p = 7.0376836292E-2f;
    p = fmaf(p, f, -1.1514610310E-1f);
    p = fmaf(p, f, 1.1676998740E-1f);
    p = fmaf(p, f, -1.2420140846E-1f);
    p = fmaf(p, f, 1.4249322787E-1f);
    p = fmaf(p, f, -1.6668057665E-1f);
    p = fmaf(p, f, 2.0000714765E-1f);
    p = fmaf(p, f, -2.4999993993E-1f);
    p = fmaf(p, f, 3.3333331174E-1f);
    p = rounded_mul(p, f);
    // y = p·z + e·q1: GCC fused the p·z product into the sum and kept e·q1 a separate rounding
    // (the opposite pairing, fma(e, q1, p·z), mismatches ~2,000 in 12 M samples).
    float y = fmaf(p, z, rounded_mul(e, -2.12194440e-4f));
    y = fmaf(-z, 0.5f, y);   // fused in PyTorch too; z·0.5 is exact so it would not matter
    float r = f + y;
    return fmaf(e, 0.693359375f, r);   // fused in PyTorch; e·q2 is exact anyway
}

// Cephes sinf/cosf: reduce by octant j of |x|·4/π (rounded up to even so the remainder lies in
// [−π/4, π/4]), subtract j·π/4 in three pieces for extra precision, then pick the sine or cosine
// polynomial and the signs from j.
static inline __attribute__((always_inline)) void torch_sincosf(float x, float *s, float *c) {
    uint32_t sign_sin = f32_to_bits(x) & 0x80000000u;
    x = fabsf(x);
    int32_t j = (int32_t)rounded_mul(x, 1.27323954473516f);   // truncation, as cvttps2dq
    j = (j + 1) & ~1;
    float y = (float)j;
    sign_sin ^= (uint32_t)(j & 4) << 29;
    uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
    int sine_poly_is_sin = (j & 2) == 0;
    // The three reduction steps are fused (the third one changes the result for 3 of the 2^24
    // possible uniforms).
    x = fmaf(y, -0.78515625f, x);
    x = fmaf(y, -2.4187564849853515625e-4f, x);
    x = fmaf(y, -3.77489497744594108e-8f, x);
    float z = rounded_mul(x, x);
    // cos x ≈ 1 − z/2 + z²·C(z): Horner fused; of the two trailing ·z the first is rounded alone
    // and the second is fused into the subtraction of z/2.
    float pc = 2.443315711809948E-5f;
    pc = fmaf(pc, z, -1.388731625493765E-3f);
    pc = fmaf(pc, z, 4.166664568298827E-2f);
    pc = rounded_mul(pc, z);
    pc = fmaf(pc, z, -rounded_mul(z, 0.5f));
    pc = pc + 1.0f;
    // sin x ≈ x + x·z·S(z): Horner fused, the ·z rounded alone, the ·x fused with the final + x.
    float ps = -1.9515295891E-4f;
    ps = fmaf(ps, z, 8.3321608736E-3f);
    ps = fmaf(ps, z, -1.6666654611E-1f);
    ps = rounded_mul(ps, z);
    ps = fmaf(ps, x, x);
    float sv = sine_poly_is_sin ? ps : pc;
    float cv = sine_poly_is_sin ? pc : ps;
    *s = bits_to_f32(f32_to_bits(sv) ^ sign_sin);
    *c = bits_to_f32(f32_to_bits(cv) ^ sign_cos);
}

static inline __attribute__((always_inline)) void fill16(float *d) {
    // 2π rounded from double to float once, as PyTorch broadcasts it (not 2π·u in double).
    const float two_pi = (float)(2.0 * 3.14159265358979323846);
    float out[16];
    for (int j = 0; j < 8; j++) {
        float radius = sqrtf(rounded_mul(-2.0f, torch_logf(1.0f - d[j])));
        float s, c;
        torch_sincosf(rounded_mul(two_pi, d[j + 8]), &s, &c);
        // PyTorch computes fma(radius·cos, std, mean); with std 1 and mean 0 that only turns a −0
        // into +0 (when u1 = 0), which keeping the fma reproduces.
        out[j] = fmaf(rounded_mul(radius, c), 1.0f, 0.0f);
        out[j + 8] = fmaf(rounded_mul(radius, s), 1.0f, 0.0f);
    }
    memcpy(d, out, sizeof out);
}

void sumi_torch_normal_fill16(float *data) { fill16(data); }

CLONES void sumi_torch_normal_fill16_blocks(float *data, size_t start, size_t end) {
    for (size_t b = start; b < end; b++) fill16(data + 16 * b);
}

float sumi_torch_logf(float x) { return torch_logf(x); }

void sumi_torch_sincosf(float x, float *s, float *c) { torch_sincosf(x, s, c); }
