#ifndef CKERNELS_LORA_H
#define CKERNELS_LORA_H

#include <stdint.h>

/// Largest adapter rank dera_lora_add takes (larger ranks go through BLAS).
#define DERA_LORA_MAX_RANK 64

/// y[r] += B (A x[r]) for `rows` rows: A is rank x inputs, bt is B transposed (rank x outputs), both row-major
/// floats; x rows are `x_stride` floats apart, y rows `y_stride`.
void dera_lora_add(const float *x, int64_t x_stride, int64_t rows, const float *a, const float *bt, int64_t rank,
                   int64_t inputs, int64_t outputs, float *y, int64_t y_stride);

#endif
