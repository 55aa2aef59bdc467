#ifndef SUMI_NORM_H
#define SUMI_NORM_H
#include <stddef.h>

// ---- group norm and layer norm (norm.c) ----
// Statistics accumulate in double, shifted by one sample of the group, so the variance keeps full
// precision for large groups and for inputs whose mean is large against their spread.

/// Shifted moments of rows [start, end) of x [rows, n]: sum[i] = Σ (x − k), sumsq[i] = Σ (x − k)²,
/// with k = x[(i / rows_per_group) · rows_per_group · n], the first element of the row's group.
void sumi_row_moments(const float *x, size_t n, size_t rows_per_group,
                      double *sum, double *sumsq, size_t start, size_t end);

/// y = (x − center[i])·scale[i] + shift[i] on each row i in [start, end) of x [rows, n];
/// then y = y·σ(y) when `silu`. (Subtracting the mean first keeps precision when it is large.)
void sumi_scale_shift_rows(const float *x, float *y, size_t n, const float *center, const float *scale,
                           const float *shift, int silu, size_t start, size_t end);

/// Per-row sums for the normalisation backward: sum_g[i] = Σ g, sum_gx[i] = Σ g·(x − center[i]) over
/// row i, where g = dy, or with `silu` the gradient through silu((x − center)·scale + shift) (its
/// input is recomputed from x). When `g_out` is non-NULL that silu gradient is also stored there
/// ([rows, n]) so the dx pass need not evaluate σ again (see `sumi_rows_affine_backward_inplace`).
void sumi_row_grad_sums(const float *x, const float *dy, size_t n, const float *center, const float *scale,
                        const float *shift, int silu, double *sum_g, double *sum_gx, float *g_out,
                        size_t start, size_t end);

/// dx = p[i]·dy + q[i]·(x − center[i]) + r[i] on each row i in [start, end) (the plain norm's dx).
void sumi_rows_affine_backward(const float *x, const float *dy, float *dx, size_t n, const float *center,
                               const float *p, const float *q, const float *r, size_t start, size_t end);

/// g = p[i]·g + q[i]·(x − center[i]) + r[i] in place on rows [start, end), g as stored by
/// `sumi_row_grad_sums` (the fused silu norm's dx).
void sumi_rows_affine_backward_inplace(const float *x, float *g, size_t n, const float *center,
                                       const float *p, const float *q, const float *r, size_t start, size_t end);

/// Layer norm over rows [start, end) of x [rows, d]: y = (x − mean)·rstd·w + b (w, b may be NULL).
/// Writes each row's mean and rstd = 1/√(var + eps) for the backward.
void sumi_layer_norm_forward(const float *x, float *y, const float *w, const float *b, size_t d, float eps,
                             float *mean, float *rstd, size_t start, size_t end);

/// Layer norm backward over rows [start, end): dx (may be NULL) and, when non-NULL, adds Σ dy·x̂ and Σ dy
/// of these rows into dw_acc[d] and db_acc[d].
void sumi_layer_norm_backward(const float *x, const float *dy, float *dx, const float *w, size_t d,
                              const float *mean, const float *rstd, double *dw_acc, double *db_acc,
                              size_t start, size_t end);

#endif
