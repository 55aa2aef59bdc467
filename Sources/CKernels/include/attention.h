// Softmax and attention inner loops (attention.c): a vectorizable polynomial exp plus the per-row passes
// that chunked scaled-dot-product attention runs between its GEMMs. Rows are contiguous with `cols`
// floats each; every function works on rows [begin, end) so Swift can split rows across threads.
#ifndef SUMI_ATTENTION_H
#define SUMI_ATTENTION_H
#include <stddef.h>

/// y[i] = exp(x[i]) for x ≤ 88 (Cephes-style polynomial, ≤ 2 ulp; exp(x) = 0 below -87.33). May alias.
void sumi_exp(const float *x, float *y, size_t n);

/// Numerically stable softmax of each row: y = exp(x − max) / Σ exp(x − max). x and y may alias.
void sumi_softmax_rows(const float *x, float *y, size_t cols, size_t begin, size_t end);
/// Softmax backward per row: dx = y ⊙ (dy − Σ dy ⊙ y). dx may alias dy.
void sumi_softmax_backward_rows(const float *y, const float *dy, float *dx, size_t cols,
                                size_t begin, size_t end);

/// In place s ← exp(s − rowmax) (unnormalised probabilities); inv_sum[r] = 1 / Σ; when lse is not
/// NULL, lse[r] = rowmax + log Σ (the row's log-sum-exp, saved for the backward pass).
void sumi_attn_softmax_rows(float *s, size_t cols, float *inv_sum, float *lse, size_t begin, size_t end);
/// In place s ← exp(s − lse[r]): the normalised probabilities, recomputed from saved log-sum-exp.
void sumi_attn_probs_rows(float *s, size_t cols, const float *lse, size_t begin, size_t end);
/// In place dp ← p ⊙ (dp − delta[r]) · scale: gradient of the (already scaled) scores.
void sumi_attn_dscores_rows(const float *p, float *dp, size_t cols, const float *delta, float scale,
                            size_t begin, size_t end);
/// Causal mask: s[r, j] ← −∞ for every j > first_row + r (row r of the block is query row
/// first_row + r; keys after it are hidden). exp of −∞ is 0, so the softmax passes need no change.
void sumi_attn_causal_mask_rows(float *s, size_t cols, size_t first_row, size_t begin, size_t end);
/// out[r] = Σ_j a[r, j] · b[r, j].
void sumi_rowdot(const float *a, const float *b, size_t cols, float *out, size_t begin, size_t end);
/// x[r, :] *= s[r].
void sumi_scale_rows(float *x, size_t cols, const float *s, size_t begin, size_t end);

#endif
