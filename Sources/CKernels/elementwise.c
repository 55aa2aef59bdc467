// Double-accumulating sums. Eight independent accumulators make the loops vectorizable without
// -ffast-math while keeping one fixed summation order on every CPU.
#include "elementwise.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

CLONES
double sumi_sum_f64(const float *restrict x, size_t start, size_t end) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = start;
    for (; i + 8 <= end; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j];
    double s = 0;
    for (; i < end; i++) s += (double)x[i];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

CLONES
double sumi_sqdiff_sum_f64(const float *restrict a, const float *restrict b, size_t start, size_t end) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = start;
    for (; i + 8 <= end; i += 8)
        for (int j = 0; j < 8; j++) {
            double d = (double)a[i + j] - (double)b[i + j];
            acc[j] += d * d;
        }
    double s = 0;
    for (; i < end; i++) { double d = (double)a[i] - (double)b[i]; s += d * d; }
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

void sumi_sum_rows(const float *restrict src, size_t len, float *restrict dst, size_t start, size_t end) {
    for (size_t r = start; r < end; r++) dst[r] = (float)sumi_sum_f64(src + r * len, 0, len);
}

// Columns are processed in blocks so the double accumulators stay in L1 while all n rows stream by.
#define COL_BLOCK 512
CLONES
void sumi_sum_cols(const float *restrict src, size_t n, size_t inner, float *restrict dst, size_t start, size_t end) {
    double acc[COL_BLOCK];
    for (size_t j0 = start; j0 < end; j0 += COL_BLOCK) {
        size_t w = end - j0 < COL_BLOCK ? end - j0 : COL_BLOCK;
        for (size_t j = 0; j < w; j++) acc[j] = 0;
        for (size_t k = 0; k < n; k++) {
            const float *row = src + k * inner + j0;
            for (size_t j = 0; j < w; j++) acc[j] += (double)row[j];
        }
        for (size_t j = 0; j < w; j++) dst[j0 + j] = (float)acc[j];
    }
}
