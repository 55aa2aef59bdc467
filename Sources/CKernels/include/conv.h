// Convolution and nearest-upsampling inner loops (conv.c). See convert.h for the conventions:
// contiguous fp32, half-open ranges so Swift can split the work across threads, no allocation.
#ifndef SUMI_CONV_H
#define SUMI_CONV_H
#include <stddef.h>
#include <stdint.h>

/// Geometry of one 2-D convolution on a single image (groups = 1, symmetric padding).
typedef struct {
    int64_t channels, height, width;      // input C, H, W
    int64_t kernel_h, kernel_w;
    int64_t stride, padding;
    int64_t out_height, out_width;        // Ho, Wo
} sumi_conv_geometry;

/// im2col for one image x [C, H, W] and a block of output pixels [p0, p0 + np):
/// col [C*kh*kw, np] row r = (c, ky, kx) holds x[c, oy*s - pad + ky, ox*s - pad + kx] (0 outside).
/// Fills only rows [row_start, row_end) so threads can share one block.
void sumi_im2col(const float *x, const sumi_conv_geometry *g, int64_t p0, int64_t np,
                 float *col, int64_t row_start, int64_t row_end);

/// col2im, the adjoint of `sumi_im2col`: dx[c, iy, ix] += dcol[(c, ky, kx), p] over the block.
/// Covers channels [c_start, c_end) only; each channel writes its own plane, so ranges never collide.
void sumi_col2im(const float *dcol, const sumi_conv_geometry *g, int64_t p0, int64_t np,
                 float *dx, int64_t c_start, int64_t c_end);

/// Nearest 2x upsampling: input rows [row_start, row_end) of src (rows of width w, all planes
/// stacked) each become output rows 2r and 2r+1 of width 2w.
void sumi_upsample_nearest2x(const float *src, float *dst, int64_t w, int64_t row_start, int64_t row_end);

/// Adjoint of `sumi_upsample_nearest2x`: dx[r, x] = sum of the 2x2 block of dy rows 2r, 2r+1.
void sumi_upsample_nearest2x_backward(const float *dy, float *dx, int64_t w, int64_t row_start, int64_t row_end);

/// Largest output-channel count `sumi_gemm_few_rows` handles.
#define SUMI_FEW_ROWS_MAX 8

/// out[o, p] = (or +=, when accumulate) Σ_r w[o, r] · b[r, p] for o < m (m ≤ SUMI_FEW_ROWS_MAX) and
/// p in [p_start, p_end). w: [m, k] row-major; b: [k, n] (row stride ldb); out rows stride ldo.
/// For convolutions with very few output channels (RGB / latent outputs), where a general GEMM
/// packs for a 3-row product and runs at a few % of peak.
void sumi_gemm_few_rows(const float *w, int64_t m, int64_t k, const float *b, int64_t ldb,
                        float *out, int64_t ldo, int accumulate, int64_t p_start, int64_t p_end);

#endif
