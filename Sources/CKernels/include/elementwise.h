// Reduction kernels for Sources/Tensor/Ops/Reduce.swift and Loss.swift (see convert.h for the
// conventions: contiguous fp32, half-open ranges, no allocation, no state).
// Why C: the sums accumulate in double with several independent accumulators, which the compiler
// vectorizes only when it may reorder the additions; writing the reordering by hand here keeps the
// result deterministic (it does not depend on the thread count or on the CPU's vector width).
#ifndef SUMI_ELEMENTWISE_H
#define SUMI_ELEMENTWISE_H
#include <stddef.h>

// ---- reductions (elementwise.c) ----
/// Σ x[i] for i in [start, end), accumulated in double.
double sumi_sum_f64(const float *x, size_t start, size_t end);
/// Σ (a[i] − b[i])² for i in [start, end), accumulated in double.
double sumi_sqdiff_sum_f64(const float *a, const float *b, size_t start, size_t end);
/// Row sums: dst[r] = Σ_k src[r·len + k] for rows r in [start, end), double accumulation.
void sumi_sum_rows(const float *src, size_t len, float *dst, size_t start, size_t end);
/// Column sums of an [n, inner] block: dst[j] = Σ_k src[k·inner + j] for j in [start, end),
/// double accumulation.
void sumi_sum_cols(const float *src, size_t n, size_t inner, float *dst, size_t start, size_t end);

#endif
