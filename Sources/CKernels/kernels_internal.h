// Private to CKernels: block layouts, scalar helpers and the per-level entry points.
#ifndef DERA_KERNELS_INTERNAL_H
#define DERA_KERNELS_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    DERA_F32 = 0, DERA_F16 = 1, DERA_Q4_0 = 2, DERA_Q4_1 = 3, DERA_Q5_0 = 6,
    DERA_Q8_0 = 8, DERA_Q4_K = 12, DERA_Q6_K = 14, DERA_BF16 = 30,
};

// ggml block layouts (little endian, packed: every member is byte-aligned in the file).
typedef struct { uint16_t d; uint8_t qs[16]; } dera_block_q4_0;              // 18 B
typedef struct { uint16_t d, m; uint8_t qs[16]; } dera_block_q4_1;           // 20 B
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } dera_block_q5_0; // 22 B
typedef struct { uint16_t d; int8_t qs[32]; } dera_block_q8_0;               // 34 B
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } dera_block_q4_k; // 144 B
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } dera_block_q6_k; // 210 B

_Static_assert(sizeof(dera_block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(dera_block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(dera_block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(dera_block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(dera_block_q4_k) == 144, "q4_k");
_Static_assert(sizeof(dera_block_q6_k) == 210, "q6_k");

// Blocks are not aligned in GGUF files: always read multi-byte fields through memcpy.
static inline uint16_t dera_rd16(const void *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t dera_rd32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }

// Prefetches [p, p + bytes) in address order, a line at a time: into L1 when `to_l1`, else into L2 (so a span
// wider than L1 does not evict what is being read). Weight streams use it to present memory one linear stream
// (kernels_q8.c's X4_PREFETCH, the prompt tiles). Prefetches never fault, so spans past a buffer are harmless.
static inline void dera_prefetch_span(const uint8_t *p, size_t bytes, int to_l1) {
    if (to_l1)
        for (size_t k = 0; k < bytes; k += 64) __builtin_prefetch(p + k, 0, 3);
    else
        for (size_t k = 0; k < bytes; k += 64) __builtin_prefetch(p + k, 0, 2);
}

static inline uint32_t dera_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float dera_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float dera_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0) {
        // zero or subnormal: man * 2^-24 is exact in f32
        float f = (float)man * 0x1p-24f;
        return dera_bits_f32(sign | dera_f32_bits(f));
    }
    if (exp == 31) return dera_bits_f32(sign | 0x7F800000u | (man << 13));
    return dera_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline uint16_t dera_f2h(float f) {
    uint32_t x = dera_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t a = x & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu)); // NaN: quiet, keep top payload
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); // >= 65520 rounds to inf (also inf itself)
    if (a >= 0x38800000u) { // normal half: rebias exponent, round mantissa to nearest even
        uint32_t r = a - (112u << 23);
        r = (r + 0xFFFu + ((r >> 13) & 1u)) >> 13;
        return (uint16_t)(sign | r);
    }
    // subnormal half (or zero): adding 0.5 makes the FPU round at 2^-24 granularity, ties to even
    float t = dera_bits_f32(a) + 0.5f;
    return (uint16_t)(sign | (dera_f32_bits(t) - 0x3F000000u));
}

static inline float dera_bf2f(uint16_t h) { return dera_bits_f32((uint32_t)h << 16); }

// Q4_K: 6-bit scale and min of sub-block j (0..7).
static inline void dera_q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Block geometry: elements per block and bytes per block; 0 block length = unsupported.
static inline int64_t dera_block_len(uint32_t type) {
    switch (type) {
    case DERA_F32: case DERA_F16: case DERA_BF16: return 1;
    case DERA_Q4_0: case DERA_Q4_1: case DERA_Q5_0: case DERA_Q8_0: return 32;
    case DERA_Q4_K: case DERA_Q6_K: return 256;
    default: return 0;
    }
}
static inline size_t dera_block_bytes(uint32_t type) {
    switch (type) {
    case DERA_F32: return 4;
    case DERA_F16: case DERA_BF16: return 2;
    case DERA_Q4_0: return 18;
    case DERA_Q4_1: return 20;
    case DERA_Q5_0: return 22;
    case DERA_Q8_0: return 34;
    case DERA_Q4_K: return 144;
    case DERA_Q6_K: return 210;
    default: return 0;
    }
}

// Q8_0 activation rows (for Q4_0, Q5_0, Q8_0 weights) carry, after their blocks, every block's scale as a
// float and the sum of its 32 quants, which the tiled kernels need once per block and row of weights.
typedef struct { float d; int32_t sum; } dera_q8_0_aux;
static inline size_t dera_q8_0_aux_offset(int64_t blocks) { return ((size_t)blocks * 34 + 7) & ~(size_t)7; }

// Products of 16-row tiles of Q5_0 / Q4_K / Q6_K weights with many 8-bit activation rows on AVX-512 VNNI
// (kernels_q8_tiles.c), laid out as dera_matmat_q8; returns 0 without computing anything when that path does
// not apply (type, too few vectors, CPU or kernel level), and the caller then uses the other kernels.
int dera_q8_tiles_matmat(uint32_t type, const void *w, size_t row_bytes, const void *xq, size_t xq_stride,
                         int64_t n_vec, float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n);

// Scalar implementations (kernels_scalar.c).
void dera_dequantize_row_scalar(uint32_t type, const void *src, float *dst, int64_t n);
float dera_dot_row_scalar(uint32_t type, const void *row, const float *x, int64_t n);
void dera_matvec_scalar(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                        int64_t row_begin, int64_t row_end, int64_t n);
void dera_matmat_scalar(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                        float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n);
void dera_f16_to_f32_scalar(const uint16_t *src, float *dst, int64_t n);
void dera_f32_to_f16_scalar(const float *src, uint16_t *dst, int64_t n);

// AVX2 + FMA + F16C implementations (kernels_avx2.c); only called when the CPU has them.
void dera_dequantize_row_avx2(uint32_t type, const void *src, float *dst, int64_t n);
float dera_dot_row_avx2(uint32_t type, const void *row, const float *x, int64_t n);
void dera_matvec_avx2(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                      int64_t row_begin, int64_t row_end, int64_t n);
void dera_matmat_avx2(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                      float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n);
void dera_f16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n);
void dera_f32_to_f16_avx2(const float *src, uint16_t *dst, int64_t n);
// Dequantises elements [i, i + len) of a row (i, len multiples of the block length); AVX2.
void dera_deq_range_avx2(uint32_t type, const uint8_t *row, int64_t i, int64_t len, float *y);

// AVX-512 F/BW/VL/DQ implementations (kernels_avx512.c).
float dera_dot_row_avx512(uint32_t type, const void *row, const float *x, int64_t n);
void dera_matvec_avx512(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                        int64_t row_begin, int64_t row_end, int64_t n);
void dera_matmat_avx512(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                        float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n);

// Whether this CPU has AVX-512 VNNI with F/BW/VL/DQ (kernels_q8.c; cached after the first call).
int dera_have_avx512vnni(void);

#endif
