// PyTorch's float Box–Muller transform for `torch.randn` on CPU, reproduced bit for bit
// (see torch_rng.c for why it is in C and which multiply–adds are fused).
#ifndef SUMI_TORCH_RNG_H
#define SUMI_TORCH_RNG_H
#include <stddef.h>

/// Transforms one block of 16 uniforms in [0, 1) in place into 16 standard normals, exactly as
/// PyTorch 2.9's AVX2 `normal_fill_16_AVX2` does with mean 0 and std 1: for j < 8,
/// r = sqrt(−2·log(1 − data[j])), θ = 2π·data[j+8]; data[j] = r·cos θ, data[j+8] = r·sin θ.
void sumi_torch_normal_fill16(float *data);

/// Applies `sumi_torch_normal_fill16` to the 16-float blocks b in [start, end), i.e. to
/// data[16·b ..< 16·b + 16]. Blocks are independent, so callers may split the range.
void sumi_torch_normal_fill16_blocks(float *data, size_t start, size_t end);

/// Reference single-lane logarithm of the fill (Cephes logf polynomial, PyTorch's fusion); exposed
/// for tests. Defined for x > 0; returns NaN for x ≤ 0.
float sumi_torch_logf(float x);

/// Reference sine and cosine of the fill (Cephes sinf/cosf polynomials, PyTorch's fusion);
/// exposed for tests. Accurate for |x| up to a few thousand (the fill only uses [0, 2π)).
void sumi_torch_sincosf(float x, float *s, float *c);

#endif
