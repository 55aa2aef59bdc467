#ifndef SUMI_ACTIVATIONS_H
#define SUMI_ACTIVATIONS_H
#include <stddef.h>

// ---- pointwise activations (activations.c) ----
// Kinds, matching Swift's `Activation` raw values:
//   0 gelu (exact erf), 1 gelu tanh approximation, 2 quick gelu x·σ(1.702x), 3 silu x·σ(x),
//   4 softplus (beta 1, threshold 20, as torch's default).
// All use branch-free polynomial exp / normal-CDF (≲ 4e-7 relative) so the loops vectorize.

/// y[i] = f(x[i]) for i in [start, end).
void sumi_activation_forward(int kind, const float *x, float *y, size_t start, size_t end);
/// dx[i] = dy[i] · f'(x[i]) for i in [start, end).
void sumi_activation_backward(int kind, const float *x, const float *dy, float *dx, size_t start, size_t end);

/// GEGLU over rows [row_start, row_end) of x [rows, 2·hidden]: y[r, j] = x[r, j] · gelu(x[r, hidden + j]).
void sumi_geglu_forward(const float *x, float *y, size_t hidden, size_t row_start, size_t row_end);
/// Gradient of `sumi_geglu_forward`: dx [rows, 2·hidden] from dy [rows, hidden].
void sumi_geglu_backward(const float *x, const float *dy, float *dx, size_t hidden,
                         size_t row_start, size_t row_end);

#endif
