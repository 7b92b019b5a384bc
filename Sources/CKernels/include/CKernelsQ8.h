#ifndef DERA_CKERNELS_Q8_H
#define DERA_CKERNELS_Q8_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The llama.cpp-compatible arithmetic path: activations are quantised to 8 bits per block before they
// meet quantised weights (Q8_0 for Q4_0/Q5_0/Q8_0 weights, Q8_1 for Q4_1, Q8_K for Q4_K/Q6_K; F16 for F16
// weights, BF16 for BF16, F32 for F32), and each block's dot product is an exact integer sum scaled once.
// This is what ggml does on the CPU, so greedy decoding follows llama.cpp's token choices; it is also
// faster than the F32 path, since weights are never expanded to floats.

// Bytes one row of n activations takes once quantised for weights of `weight_type` (0 if unsupported).
size_t dera_q8_row_bytes(uint32_t weight_type, int64_t n);

// Quantises n activations for a dot product with weights of `weight_type`; `xq` holds
// dera_q8_row_bytes(weight_type, n) bytes.
void dera_quantize_activations(uint32_t weight_type, const float *x, void *xq, int64_t n);

// y[r] = dot(weight row r, quantised activations) for r in [row_begin, row_end).
void dera_matvec_q8(uint32_t type, const void *w, size_t row_bytes, const void *xq, float *y,
                    int64_t row_begin, int64_t row_end, int64_t n);

// The same for n_vec quantised rows, xq_stride bytes apart; y[v * rows + r].
void dera_matmat_q8(uint32_t type, const void *w, size_t row_bytes, const void *xq, size_t xq_stride,
                    int64_t n_vec, float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n);

// Rounds every value to the nearest IEEE half and back (what an F16 KV cache stores).
void dera_round_to_f16(float *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif

#ifndef DERA_CKERNELS_Q8_ATTENTION
#define DERA_CKERNELS_Q8_ATTENTION
// One query row of one head against `length` cached positions, as ggml's CPU flash attention computes
// it with an F16 KV cache: the query rounded to F16, each key dot product summed in ggml's lane order,
// an online softmax, and the weighted sum of values kept in F16 and rounded after every position.
// keys/values hold F16-representable floats, `stride` floats apart; d is the head dimension.
void dera_flash_attention_f16(const float *query, const float *keys, const float *values, size_t stride,
                              int64_t length, int64_t d, float scale, float *out);
// The same loop as plain C compiled for the same level, without the explicit vector path (head dimensions
// that are multiples of 64 take that path): the reference the vector path must match bit for bit.
void dera_flash_attention_f16_unvectorised(const float *query, const float *keys, const float *values,
                                           size_t stride, int64_t length, int64_t d, float scale, float *out);
#endif
