// Element-wise and row kernels of the sentence encoder (CKernelsEncoder.h). Written so that clang vectorises
// them: no calls and no branches in the inner loops. The GELU loop has an AVX2/FMA copy chosen at run time.
#include "CKernelsEncoder.h"
#include <math.h>
#include <string.h>

// exp(v) for v <= 0 down to about -88 (the GELU only needs exp(-x*x/2)): 2^n * p(r), r = v - n ln2,
// p a degree-6 Taylor polynomial (relative error < 2e-7 on |r| <= ln2/2).
static inline float exp_nonpositive(float v) {
    v = v < -87.0f ? -87.0f : v;
    float n = __builtin_roundf(v * 1.44269504088896341f);
    float r = v - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.008333334f
                       + r * 0.0013888889f)))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float gelu_erf_one(float x) {
    // erf(z) for z = x / sqrt(2): 1 - (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p |z|), odd in z.
    float z = x * 0.70710678118654752f;
    float a = fabsf(z);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f
                        + t * 1.061405429f))));
    float e = 1.0f - poly * exp_nonpositive(-a * a);
    e = z < 0 ? -e : e;
    return 0.5f * x * (1.0f + e);
}

static void gelu_generic(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = gelu_erf_one(x[i]);
}

__attribute__((target("avx2,fma"))) static void gelu_avx2(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = gelu_erf_one(x[i]);
}

void dera_gelu_erf(float *x, int64_t n) {
    static int level = -1;
    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    if (level) gelu_avx2(x, n); else gelu_generic(x, n);
}

void dera_layer_norm_rows(float *x, int64_t rows, int64_t n, const float *gamma, const float *beta, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = x + r * n;
        double sum = 0;
        for (int64_t i = 0; i < n; i++) sum += row[i];
        float mean = (float)(sum / (double)n);
        double squares = 0;
        for (int64_t i = 0; i < n; i++) { float d = row[i] - mean; squares += (double)d * d; }
        float inverse = 1.0f / sqrtf((float)(squares / (double)n) + eps);
        for (int64_t i = 0; i < n; i++) row[i] = (row[i] - mean) * inverse * gamma[i] + beta[i];
    }
}

void dera_softmax_rows(float *x, int64_t rows, int64_t n, int64_t stride) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = x + r * stride;
        float top = row[0];
        for (int64_t i = 1; i < n; i++) top = row[i] > top ? row[i] : top;
        float sum = 0;
        for (int64_t i = 0; i < n; i++) { row[i] = expf(row[i] - top); sum += row[i]; }
        float inverse = 1.0f / sum;
        for (int64_t i = 0; i < n; i++) row[i] *= inverse;
    }
}
