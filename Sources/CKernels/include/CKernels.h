#ifndef DERA_CKERNELS_H
#define DERA_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Quantised-block kernels. `type` is always a ggml type id (GGMLType.rawValue).
// Supported: F32 (0), F16 (1), Q4_0 (2), Q4_1 (3), Q5_0 (6), Q8_0 (8), Q4_K (12), Q6_K (14), BF16 (30).
// `n` (elements per row) must be a multiple of the type's block length (32 or 256; 1 for plain types).
// Activations (x, y) are always f32: nothing here quantises activations.
// Every entry point picks an AVX-512 or AVX2/FMA/F16C path at run time when the CPU has it, else a scalar one.
// All functions are thread-safe and allocation-free (except a malloc for span sums when n > 65536).
// Unsupported types are a no-op (dot returns 0). Weight blocks need no alignment.

// 1 if the type is supported by the functions below, 0 otherwise.
int dera_type_supported(uint32_t type);

// Expands one row of n elements to f32.
void dera_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

// Dot product of one quantised row of n elements with an f32 vector.
float dera_dot_row(uint32_t type, const void *row, const float *x, int64_t n);

// y[r] = dot(row r, x) for r in [row_begin, row_end); row r starts at w + r * row_bytes.
// y is indexed by absolute row number (y[row_begin] ... y[row_end - 1] are written).
void dera_matvec(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                 int64_t row_begin, int64_t row_end, int64_t n);

// Same for n_vec vectors at once: x holds n_vec vectors of n floats (x[v * n + i]),
// y is n_vec x rows, row-major by vector: y[v * rows + r] for r in [row_begin, row_end).
// Each weight block is dequantised once per pass into registers and used for up to 8 vectors (AVX-512; 4 with
// AVX2); larger batches take further passes over the row, which is then in cache.
void dera_matmat(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                 float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n);

// Softmax of `rows` rows of attention scores (row i at scores + i * stride, `length` floats) where row i sees its
// first visible0 + i entries (clamped to [0, length]): those become exp(s - max) / sum (the sum
// in element order), the rest 0. Bit-identical to that loop written with expf: on AVX-512 the exp is glibc's expf
// algorithm eight lanes at a time, checked against expf at start-up.
void dera_softmax_causal(float *scores, int64_t rows, int64_t length, int64_t stride, int64_t visible0);

// SwiGLU in place: gate[i] = gate[i] / (1 + expf(-gate[i])) * up[i] for i < n, bit for bit, with the exp of
// dera_softmax_causal.
void dera_swiglu(float *gate, const float *up, int64_t n);
// 1 when the two functions above take their vector path (AVX-512, level 2, this libm's expf reproduced).
int dera_activations_vectorised(void);

// IEEE half <-> single. f32 -> f16 rounds to nearest even; overflow gives inf; NaN stays NaN (quiet).
void dera_f16_to_f32(const uint16_t *src, float *dst, int64_t n);
void dera_f32_to_f16(const float *src, uint16_t *dst, int64_t n);

// Implementation levels: 0 = portable scalar, 1 = AVX2/FMA/F16C, 2 = AVX-512 (F/BW/VL/DQ) for the products.
// The best level this CPU supports (capped by the environment variable DERA_KERNEL_LEVEL=0|1|2 if set).
int dera_max_kernel_level(void);
// The level used unless a thread pins one: AVX2 (1) where the CPU has it, even with AVX-512, whose kernels
// were slower on whole models here; DERA_KERNEL_LEVEL=2 opts in to AVX-512.
int dera_default_kernel_level(void);

/// The level the 8-bit activation kernels use: the forced level when one is set, else every level the CPU has
/// (capped by DERA_KERNEL_LEVEL).
int dera_q8_kernel_level(void);
// The level calls from the calling thread use.
int dera_kernel_level(void);
// Pins the level for calls made from the calling thread only (clamped to the CPU's maximum;
// negative = back to the maximum). Returns the level now in effect. For tests and benchmarks.
int dera_set_kernel_level(int level);

#ifdef __cplusplus
}
#endif
#include "CKernelsQ8.h"
#include "CKernelsPool.h"
#include "CKernelsLoRA.h"
#include "CKernelsEncoder.h"
#endif
