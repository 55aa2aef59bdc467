// Winograd F(2×2, 3×3) transforms (see winograd.h). With B, G, A the F(2, 3) matrices
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 -1 -1]
// a 2×2 output tile is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d Bᵀᵀ)] A for the 4×4 input patch d around it. The loops run along a
// row of tiles so they vectorize (stride-2 loads) under each target_clones architecture; rows are first copied
// into zero-padded scratch so the inner loops have no bounds checks.
#include "winograd.h"
#include "mathfun.h"
#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// Fills dst[0 ..< W] with input row iy of channel plane xc — the nearest-2× upsampled row of a [H/2, W/2] plane when
// p->upsample2x — then applies p's per-channel affine a·x + b and SiLU. Rows outside [0, H) stay zero (padding is
// applied after the prologue, as when the conv reads an already normalised, activated tensor).
static inline void wino_fill_row(float *restrict dst, const float *restrict xc, int64_t iy, int64_t H, int64_t W,
                                 const sumi_winograd_prologue *p, int64_t c) {
    if (iy < 0 || iy >= H) return;
    if (p && p->upsample2x) {
        const float *src = xc + (iy / 2) * (W / 2);
        for (int64_t k = 0; k < W; k++) dst[k] = src[k >> 1];
    } else {
        memcpy(dst, xc + iy * W, sizeof(float) * (size_t)W);
    }
    if (p && p->alpha) {
        const float a = p->alpha[c], b = p->beta[c];
        if (p->silu) {
            for (int64_t k = 0; k < W; k++) { const float v = dst[k] * a + b; dst[k] = v * sumi_sigmoidf(v); }
        } else {
            for (int64_t k = 0; k < W; k++) dst[k] = dst[k] * a + b;
        }
    }
}

/// The tiles [*txa, *txb) of tile row ty that lie in the chunk t0 ..< t0+nt of a grid TW tiles wide (only the chunk's
/// first and last rows are partial).
static inline void wino_row_span(int64_t ty, int64_t t0, int64_t nt, int64_t TW, int64_t *txa, int64_t *txb) {
    const int64_t a = t0 - ty * TW, b = t0 + nt - ty * TW;
    *txa = a > 0 ? a : 0;
    *txb = b < TW ? b : TW;
}

/// Channel plane of x for channel c (source planes are a quarter size when upsampling).
static inline const float *wino_plane(const float *x, int64_t c, int64_t H, int64_t W, const sumi_winograd_prologue *p) {
    return x + c * (p && p->upsample2x ? (H / 2) * (W / 2) : H * W);
}

CLONES
void sumi_winograd_f2_weights(const float *restrict w, int64_t K, int64_t C, float *restrict u,
                              int64_t k_start, int64_t k_end) {
    const int64_t plane = K * C;
    for (int64_t k = k_start; k < k_end; k++) {
        for (int64_t c = 0; c < C; c++) {
            const float *g = w + (k * C + c) * 9;
            float t[4][3];                                   // G g
            for (int j = 0; j < 3; j++) {
                const float a = g[j], b = g[3 + j], e = g[6 + j];
                t[0][j] = a;
                t[1][j] = 0.5f * (a + b + e);
                t[2][j] = 0.5f * (a - b + e);
                t[3][j] = e;
            }
            float *dst = u + k * C + c;
            for (int i = 0; i < 4; i++) {                    // (G g) Gᵀ
                const float a = t[i][0], b = t[i][1], e = t[i][2];
                dst[(i * 4 + 0) * plane] = a;
                dst[(i * 4 + 1) * plane] = 0.5f * (a + b + e);
                dst[(i * 4 + 2) * plane] = 0.5f * (a - b + e);
                dst[(i * 4 + 3) * plane] = e;
            }
        }
    }
}

CLONES
void sumi_winograd_f2_input(const float *restrict x, int64_t C, int64_t H, int64_t W, int64_t t0, int64_t nt,
                            const sumi_winograd_prologue *p, float *restrict v, int64_t c_start, int64_t c_end) {
    const int64_t TW = (W + 1) / 2, padded = 2 * TW + 2, plane = C * nt;
    const int64_t ty_first = t0 / TW, ty_last = (t0 + nt - 1) / TW;
    float rows[4][padded];                                  // input rows 2ty-1 … 2ty+2, column -1 at index 0
    for (int64_t c = c_start; c < c_end; c++) {
        const float *xc = wino_plane(x, c, H, W, p);
        float *vc = v + c * nt;
        for (int64_t ty = ty_first; ty <= ty_last; ty++) {
            int64_t txa, txb;
            wino_row_span(ty, t0, nt, TW, &txa, &txb);
            for (int r = 0; r < 4; r++) {
                memset(rows[r], 0, sizeof(float) * (size_t)padded);
                wino_fill_row(rows[r] + 1, xc, 2 * ty - 1 + r, H, W, p, c);
            }
            float *out = vc + ty * TW - t0;                 // out[tx] is tile (ty, tx)
            const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
            for (int64_t tx = txa; tx < txb; tx++) {
                const int64_t o = 2 * tx;
                // Bᵀ d: combine the four rows, column by column.
                float w0[4], w1[4], w2[4], w3[4];
                for (int j = 0; j < 4; j++) {
                    const float a = r0[o + j], b = r1[o + j], e = r2[o + j], f = r3[o + j];
                    w0[j] = a - e; w1[j] = b + e; w2[j] = e - b; w3[j] = b - f;
                }
                // (Bᵀ d) B: combine the columns of each row.
                #define SUMI_WINO_ROW(i, wr) \
                    out[((i) * 4 + 0) * plane + tx] = wr[0] - wr[2]; \
                    out[((i) * 4 + 1) * plane + tx] = wr[1] + wr[2]; \
                    out[((i) * 4 + 2) * plane + tx] = wr[2] - wr[1]; \
                    out[((i) * 4 + 3) * plane + tx] = wr[1] - wr[3];
                SUMI_WINO_ROW(0, w0) SUMI_WINO_ROW(1, w1) SUMI_WINO_ROW(2, w2) SUMI_WINO_ROW(3, w3)
                #undef SUMI_WINO_ROW
            }
        }
    }
}

CLONES
void sumi_winograd_f2_output(const float *restrict m, int64_t K, int64_t H, int64_t W, int64_t t0, int64_t nt,
                             const float *restrict bias, float *restrict y, int64_t k_start, int64_t k_end) {
    const int64_t TW = (W + 1) / 2, plane = K * nt;
    const int64_t ty_first = t0 / TW, ty_last = (t0 + nt - 1) / TW;
    float rows[2][2 * TW];
    for (int64_t k = k_start; k < k_end; k++) {
        const float *mk = m + k * nt;
        const float b = bias ? bias[k] : 0.0f;
        float *yk = y + k * H * W;
        for (int64_t ty = ty_first; ty <= ty_last; ty++) {
            int64_t txa, txb;
            wino_row_span(ty, t0, nt, TW, &txa, &txb);
            const float *in = mk + ty * TW - t0;            // in[ξ·plane + tx]
            float *o0 = rows[0], *o1 = rows[1];
            for (int64_t tx = txa; tx < txb; tx++) {
                float s[4], d[4];                            // Aᵀ m: rows 0+1+2 and 1-2-3
                for (int j = 0; j < 4; j++) {
                    const float a = in[(0 * 4 + j) * plane + tx], e = in[(1 * 4 + j) * plane + tx];
                    const float f = in[(2 * 4 + j) * plane + tx], g = in[(3 * 4 + j) * plane + tx];
                    s[j] = a + e + f; d[j] = e - f - g;
                }
                o0[2 * tx] = s[0] + s[1] + s[2] + b; o0[2 * tx + 1] = s[1] - s[2] - s[3] + b;
                o1[2 * tx] = d[0] + d[1] + d[2] + b; o1[2 * tx + 1] = d[1] - d[2] - d[3] + b;
            }
            const int64_t xa = 2 * txa, xb = 2 * txb < W ? 2 * txb : W;
            if (xb <= xa) continue;
            memcpy(yk + 2 * ty * W + xa, o0 + xa, sizeof(float) * (size_t)(xb - xa));
            if (2 * ty + 1 < H) memcpy(yk + (2 * ty + 1) * W + xa, o1 + xa, sizeof(float) * (size_t)(xb - xa));
        }
    }
}

// F(4×4, 3×3), with the matrices of Lavin & Gray (2016):
//   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G  = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1⁄24 1⁄12 ⅙; 1⁄24 -1⁄12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
#define SUMI_WINO4_G(a, b, e, out) do { \
        (out)[0] = 0.25f * (a); \
        (out)[1] = -(1.0f / 6.0f) * ((a) + (b) + (e)); \
        (out)[2] = -(1.0f / 6.0f) * ((a) - (b) + (e)); \
        (out)[3] = (1.0f / 24.0f) * (a) + (1.0f / 12.0f) * (b) + (1.0f / 6.0f) * (e); \
        (out)[4] = (1.0f / 24.0f) * (a) - (1.0f / 12.0f) * (b) + (1.0f / 6.0f) * (e); \
        (out)[5] = (e); } while (0)

#define SUMI_WINO4_BT(d, out) do { \
        (out)[0] = 4.0f * (d)[0] - 5.0f * (d)[2] + (d)[4]; \
        (out)[1] = -4.0f * ((d)[1] + (d)[2]) + (d)[3] + (d)[4]; \
        (out)[2] = 4.0f * ((d)[1] - (d)[2]) - (d)[3] + (d)[4]; \
        (out)[3] = 2.0f * ((d)[3] - (d)[1]) - (d)[2] + (d)[4]; \
        (out)[4] = 2.0f * ((d)[1] - (d)[3]) - (d)[2] + (d)[4]; \
        (out)[5] = 4.0f * (d)[1] - 5.0f * (d)[3] + (d)[5]; } while (0)

#define SUMI_WINO4_AT(m, out) do { \
        const float p12 = (m)[1] + (m)[2], n12 = (m)[1] - (m)[2]; \
        const float p34 = (m)[3] + (m)[4], n34 = (m)[3] - (m)[4]; \
        (out)[0] = (m)[0] + p12 + p34; \
        (out)[1] = n12 + 2.0f * n34; \
        (out)[2] = p12 + 4.0f * p34; \
        (out)[3] = n12 + 8.0f * n34 + (m)[5]; } while (0)

CLONES
void sumi_winograd_f4_weights(const float *restrict w, int64_t K, int64_t C, float *restrict u,
                              int64_t k_start, int64_t k_end) {
    const int64_t plane = K * C;
    for (int64_t k = k_start; k < k_end; k++) {
        for (int64_t c = 0; c < C; c++) {
            const float *g = w + (k * C + c) * 9;
            float t[3][6];                                   // columns of G g, one per kernel column j
            for (int j = 0; j < 3; j++) SUMI_WINO4_G(g[j], g[3 + j], g[6 + j], t[j]);
            float *dst = u + k * C + c;
            for (int i = 0; i < 6; i++) {                    // (G g) Gᵀ, row i
                float row[6];
                SUMI_WINO4_G(t[0][i], t[1][i], t[2][i], row);
                for (int j = 0; j < 6; j++) dst[(i * 6 + j) * plane] = row[j];
            }
        }
    }
}

// The input and output loops below are phase-split so every inner loop runs over tiles with unit stride (the
// vectorizer turns stride-4 loads and stores into gathers and gives up): rows are combined vertically over the
// whole padded width first, then split into the four column phases p_q[t] = row[4t + q].
CLONES
void sumi_winograd_f4_input(const float *restrict x, int64_t C, int64_t H, int64_t W, int64_t t0, int64_t nt,
                            const sumi_winograd_prologue *p, float *restrict v, int64_t c_start, int64_t c_end) {
    const int64_t TW = (W + 3) / 4, padded = 4 * TW + 4, plane = C * nt;
    const int64_t ty_first = t0 / TW, ty_last = (t0 + nt - 1) / TW;
    float rows[6][padded];                                  // input rows 4ty-1 … 4ty+4, column -1 at index 0
    float vert[6][padded];                                  // Bᵀ d over the rows, every column
    float ph[4][TW + 1];                                    // one row of vert split into column phases
    for (int64_t c = c_start; c < c_end; c++) {
        const float *xc = wino_plane(x, c, H, W, p);
        float *vc = v + c * nt;
        for (int64_t ty = ty_first; ty <= ty_last; ty++) {
            int64_t txa, txb;
            wino_row_span(ty, t0, nt, TW, &txa, &txb);
            for (int r = 0; r < 6; r++) {
                memset(rows[r], 0, sizeof(float) * (size_t)padded);
                wino_fill_row(rows[r] + 1, xc, 4 * ty - 1 + r, H, W, p, c);
            }
            for (int64_t k = 0; k < padded; k++) {
                const float d0 = rows[0][k], d1 = rows[1][k], d2 = rows[2][k];
                const float d3 = rows[3][k], d4 = rows[4][k], d5 = rows[5][k];
                vert[0][k] = 4.0f * d0 - 5.0f * d2 + d4;
                vert[1][k] = -4.0f * (d1 + d2) + d3 + d4;
                vert[2][k] = 4.0f * (d1 - d2) - d3 + d4;
                vert[3][k] = 2.0f * (d3 - d1) - d2 + d4;
                vert[4][k] = 2.0f * (d1 - d3) - d2 + d4;
                vert[5][k] = 4.0f * d1 - 5.0f * d3 + d5;
            }
            float *out = vc + ty * TW - t0;
            for (int i = 0; i < 6; i++) {
                for (int64_t t = 0; t <= TW; t++)
                    for (int q = 0; q < 4; q++) ph[q][t] = vert[i][4 * t + q];
                float *o0 = out + (i * 6 + 0) * plane, *o1 = out + (i * 6 + 1) * plane, *o2 = out + (i * 6 + 2) * plane;
                float *o3 = out + (i * 6 + 3) * plane, *o4 = out + (i * 6 + 4) * plane, *o5 = out + (i * 6 + 5) * plane;
                const float *p0 = ph[0], *p1 = ph[1], *p2 = ph[2], *p3 = ph[3];
                for (int64_t tx = txa; tx < txb; tx++) {
                    const float d0 = p0[tx], d1 = p1[tx], d2 = p2[tx], d3 = p3[tx], d4 = p0[tx + 1], d5 = p1[tx + 1];
                    o0[tx] = 4.0f * d0 - 5.0f * d2 + d4;
                    o1[tx] = -4.0f * (d1 + d2) + d3 + d4;
                    o2[tx] = 4.0f * (d1 - d2) - d3 + d4;
                    o3[tx] = 2.0f * (d3 - d1) - d2 + d4;
                    o4[tx] = 2.0f * (d1 - d3) - d2 + d4;
                    o5[tx] = 4.0f * d1 - 5.0f * d3 + d5;
                }
            }
        }
    }
}

CLONES
void sumi_winograd_f4_output(const float *restrict m, int64_t K, int64_t H, int64_t W, int64_t t0, int64_t nt,
                             const float *restrict bias, float *restrict y, int64_t k_start, int64_t k_end) {
    const int64_t TW = (W + 3) / 4, plane = K * nt;
    const int64_t ty_first = t0 / TW, ty_last = (t0 + nt - 1) / TW;
    float ph[4][4][TW];                                     // output row a, column phase q, tile tx
    float row[4 * TW];
    for (int64_t k = k_start; k < k_end; k++) {
        const float *mk = m + k * nt;
        const float b = bias ? bias[k] : 0.0f;
        float *yk = y + k * H * W;
        for (int64_t ty = ty_first; ty <= ty_last; ty++) {
            int64_t txa, txb;
            wino_row_span(ty, t0, nt, TW, &txa, &txb);
            const float *in = mk + ty * TW - t0;
            for (int64_t tx = txa; tx < txb; tx++) {
                float s[4][6];                               // Aᵀ m, column by column: s[a][j]
                for (int j = 0; j < 6; j++) {
                    const float mc[6] = { in[(0 * 6 + j) * plane + tx], in[(1 * 6 + j) * plane + tx],
                                          in[(2 * 6 + j) * plane + tx], in[(3 * 6 + j) * plane + tx],
                                          in[(4 * 6 + j) * plane + tx], in[(5 * 6 + j) * plane + tx] };
                    float col[4];
                    SUMI_WINO4_AT(mc, col);
                    for (int a = 0; a < 4; a++) s[a][j] = col[a];
                }
                for (int a = 0; a < 4; a++) {                // (Aᵀ m) A, row by row
                    float yr[4];
                    SUMI_WINO4_AT(s[a], yr);
                    for (int q = 0; q < 4; q++) ph[a][q][tx] = yr[q] + b;
                }
            }
            const int64_t xa = 4 * txa, xb = 4 * txb < W ? 4 * txb : W;
            if (xb <= xa) continue;
            for (int a = 0; a < 4 && 4 * ty + a < H; a++) {
                for (int64_t tx = txa; tx < txb; tx++)
                    for (int q = 0; q < 4; q++) row[4 * tx + q] = ph[a][q][tx];
                memcpy(yk + (4 * ty + a) * W + xa, row + xa, sizeof(float) * (size_t)(xb - xa));
            }
        }
    }
}
