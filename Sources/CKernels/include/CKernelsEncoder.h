#ifndef DERA_CKERNELS_ENCODER_H
#define DERA_CKERNELS_ENCODER_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Element-wise and row kernels of a BERT-style encoder, all f32, in place, thread-safe, allocation-free.

// x[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2))) (the exact GELU, not the tanh approximation). erf is
// Abramowitz & Stegun 7.1.26 with a vectorisable exp: absolute error below 3e-7 against libm's erff.
void dera_gelu_erf(float *x, int64_t n);

// Each of `rows` rows of n floats (row r at x + r * n): x = (x - mean) / sqrt(var + eps) * gamma + beta,
// variance without Bessel's correction, as torch.nn.LayerNorm.
void dera_layer_norm_rows(float *x, int64_t rows, int64_t n, const float *gamma, const float *beta, float eps);

// Each of `rows` rows of n floats, `stride` floats apart: softmax in place (max subtracted first).
void dera_softmax_rows(float *x, int64_t rows, int64_t n, int64_t stride);

#ifdef __cplusplus
}
#endif
#endif
