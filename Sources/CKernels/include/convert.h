// CKernels (umbrella directory: one header per kernel family). The engine's hand-written inner loops in C.
// Why C: GCC/Clang `target_clones` compiles each loop for AVX-512, AVX2+FMA and baseline x86-64 and
// picks one at load time, which Swift cannot do; and C loops with `restrict` auto-vectorize reliably.
// Every function works on contiguous fp32 buffers over a half-open range [start, end) so that the
// Swift side can split work across threads. No function allocates or keeps state.
#ifndef SUMI_CONVERT_H
#define SUMI_CONVERT_H
#include <stddef.h>
#include <stdint.h>

// ---- dtype conversion (convert.c) ----
void sumi_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void sumi_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void sumi_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void sumi_f32_to_bf16(const float *src, uint16_t *dst, size_t n);   // round to nearest even
/// 1 when the CPU has the named feature ("avx512f", "avx512bf16", "avx2", "f16c", "fma").
int sumi_cpu_has(const char *feature);

#endif
