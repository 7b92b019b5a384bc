// Low-rank adapter update y += B (A x) for a few rows: the aligned rows of a DeRa batch.
#include "CKernels.h"

#if defined(__x86_64__)
#define LORA_AVX2 __attribute__((target("avx2,fma")))
#else
#define LORA_AVX2
#endif

// Plain loops the compiler vectorises: a dot product per rank, then one axpy per rank over the outputs
// with B stored transposed (rank x outputs), so both inner loops run over contiguous floats.
static inline void lora_rows(const float *x, int64_t x_stride, int64_t rows, const float *a, const float *bt,
                             int64_t rank, int64_t inputs, int64_t outputs, float *y, int64_t y_stride) {
    float t[DERA_LORA_MAX_RANK];
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * x_stride;
        float *yr = y + r * y_stride;
        for (int64_t k = 0; k < rank; k++) {
            const float *ak = a + k * inputs;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
            int64_t i = 0;
            for (; i + 8 <= inputs; i += 8) {
                s0 += ak[i] * xr[i];
                s1 += ak[i + 1] * xr[i + 1];
                s2 += ak[i + 2] * xr[i + 2];
                s3 += ak[i + 3] * xr[i + 3];
                s4 += ak[i + 4] * xr[i + 4];
                s5 += ak[i + 5] * xr[i + 5];
                s6 += ak[i + 6] * xr[i + 6];
                s7 += ak[i + 7] * xr[i + 7];
            }
            float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
            for (; i < inputs; i++) s += ak[i] * xr[i];
            t[k] = s;
        }
        for (int64_t k = 0; k < rank; k++) {
            const float *bk = bt + k * outputs;
            const float tk = t[k];
            for (int64_t o = 0; o < outputs; o++) yr[o] += tk * bk[o];
        }
    }
}

LORA_AVX2 static void lora_rows_avx2(const float *x, int64_t x_stride, int64_t rows, const float *a, const float *bt,
                                     int64_t rank, int64_t inputs, int64_t outputs, float *y, int64_t y_stride) {
    lora_rows(x, x_stride, rows, a, bt, rank, inputs, outputs, y, y_stride);
}

static void lora_rows_scalar(const float *x, int64_t x_stride, int64_t rows, const float *a, const float *bt,
                             int64_t rank, int64_t inputs, int64_t outputs, float *y, int64_t y_stride) {
    lora_rows(x, x_stride, rows, a, bt, rank, inputs, outputs, y, y_stride);
}

void dera_lora_add(const float *x, int64_t x_stride, int64_t rows, const float *a, const float *bt, int64_t rank,
                   int64_t inputs, int64_t outputs, float *y, int64_t y_stride) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        lora_rows_avx2(x, x_stride, rows, a, bt, rank, inputs, outputs, y, y_stride);
        return;
    }
#endif
    lora_rows_scalar(x, x_stride, rows, a, bt, rank, inputs, outputs, y, y_stride);
}
