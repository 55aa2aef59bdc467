// Winograd F(2×2, 3×3) convolution transforms (winograd.c), for 3×3 convs with stride 1 and padding 1.
// A conv becomes 16 GEMMs U[ξ] · V[ξ] (ξ = the 16 points of a 4×4 tile) with 2.25× fewer multiply-adds
// than the direct product; these loops move data into and out of that form. Layouts, for one image:
//   weights   u [16][K][C]          (U = G g Gᵀ)
//   input     v [16][C][nt]         tiles t0 ..< t0+nt of the ⌈H/2⌉ × ⌈W/2⌉ tile grid, row-major
//   products  m [16][K][nt]         (m[ξ] = u[ξ] · v[ξ])
//   output    y [K][H][W]           (Y = Aᵀ m A, plus the bias)
// Half-open ranges so Swift can split the work across threads; no allocation.
#ifndef SUMI_WINOGRAD_H
#define SUMI_WINOGRAD_H
#include <stdint.h>

/// What the conv's input is made of, applied while the input transform reads it (NULL: x as it is). x[c] becomes
/// silu?(alpha[c]·x[c] + beta[c]) when alpha is not NULL (a GroupNorm + SiLU folded into per-channel affines),
/// and x is the [C][H/2][W/2] source of a nearest-2× upsampling when upsample2x is set (H, W even).
typedef struct {
    const float *alpha, *beta;
    int silu, upsample2x;
} sumi_winograd_prologue;

/// Transforms weights w [K][C][3][3] into u [16][K][C], for output channels [k_start, k_end).
void sumi_winograd_f2_weights(const float *w, int64_t K, int64_t C, float *u, int64_t k_start, int64_t k_end);

/// Transforms the input tiles t0 ..< t0+nt of one image x [C][H][W] (zero padding 1; through the prologue p when not
/// NULL) into v [16][C][nt], for channels [c_start, c_end).
void sumi_winograd_f2_input(const float *x, int64_t C, int64_t H, int64_t W, int64_t t0, int64_t nt,
                            const sumi_winograd_prologue *p, float *v, int64_t c_start, int64_t c_end);

/// Transforms the products m [16][K][nt] of tiles t0 ..< t0+nt back into y [K][H][W] (adding bias[k] when
/// bias is not NULL), for output channels [k_start, k_end). Writes only the tiles' own pixels.
void sumi_winograd_f2_output(const float *m, int64_t K, int64_t H, int64_t W, int64_t t0, int64_t nt,
                             const float *bias, float *y, int64_t k_start, int64_t k_end);

// Winograd F(4×4, 3×3): the same with 6×6 input patches, 4×4 output tiles and 36 GEMMs — 4× fewer multiply-adds than
// the direct product and 2.25 transformed values per output pixel instead of 4, at a larger (still fp32-sized)
// rounding error. Layouts as above with 36 in place of 16 and the ⌈H/4⌉ × ⌈W/4⌉ tile grid.
void sumi_winograd_f4_weights(const float *w, int64_t K, int64_t C, float *u, int64_t k_start, int64_t k_end);
void sumi_winograd_f4_input(const float *x, int64_t C, int64_t H, int64_t W, int64_t t0, int64_t nt,
                            const sumi_winograd_prologue *p, float *v, int64_t c_start, int64_t c_end);
void sumi_winograd_f4_output(const float *m, int64_t K, int64_t H, int64_t W, int64_t t0, int64_t nt,
                             const float *bias, float *y, int64_t k_start, int64_t k_end);

#endif
