// f16/bf16 <-> f32 conversion. The f16 paths use F16C (vcvtph2ps) when the CPU has it,
// chosen at load time through target_clones; the fallback is an exact bit-level conversion.
#include "convert.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline float f16_bits_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) { bits = sign; }
        else {                       // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((man & 0x400) == 0) { man <<= 1; exp--; }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
}

#if defined(__x86_64__)
// F16C converts 8 halves per instruction; compiled for that feature alone and chosen at run time
// (target_clones variants do not define __F16C__, so the intrinsic needs its own target attribute).
__attribute__((target("f16c,avx")))
static void f16_to_f32_f16c(const uint16_t *restrict src, float *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) dst[i] = f16_bits_to_f32(src[i]);
}
#endif

void sumi_f16_to_f32(const uint16_t *restrict src, float *restrict dst, size_t n) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) { f16_to_f32_f16c(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = f16_bits_to_f32(src[i]);
}

static inline uint16_t f32_to_f16_bits(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_f32_to_f16(const float *restrict src, uint16_t *restrict dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = f32_to_f16_bits(src[i]);
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_bf16_to_f32(const uint16_t *restrict src, float *restrict dst, size_t n) {
    uint32_t *restrict d = (uint32_t *)dst;
    for (size_t i = 0; i < n; i++) d[i] = (uint32_t)src[i] << 16;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sumi_f32_to_bf16(const float *restrict src, uint16_t *restrict dst, size_t n) {
    const uint32_t *restrict s = (const uint32_t *)src;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = s[i];
        if ((x & 0x7fffffff) > 0x7f800000) { dst[i] = (uint16_t)((x >> 16) | 0x40); continue; }
        uint32_t lsb = (x >> 16) & 1;
        dst[i] = (uint16_t)((x + 0x7fff + lsb) >> 16);
    }
}

int sumi_cpu_has(const char *feature) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (strcmp(feature, "avx512f") == 0) return __builtin_cpu_supports("avx512f");
    if (strcmp(feature, "avx512bf16") == 0) return __builtin_cpu_supports("avx512bf16");
    if (strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2");
    if (strcmp(feature, "fma") == 0) return __builtin_cpu_supports("fma");
    if (strcmp(feature, "f16c") == 0) return __builtin_cpu_supports("f16c");
    return 0;
#else
    (void)feature; return 0;
#endif
}
