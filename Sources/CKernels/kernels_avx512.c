// AVX-512 (F, BW, VL, DQ) dot-product kernels for matvec, dot and matmat. Only called after the dispatcher
// has checked the CPU (and OS) support AVX-512; dequantisation itself reuses the AVX2 code.
#include "kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)

static inline float h2f(const void *p) { return _cvtsh_ss(dera_rd16(p)); }
static inline __m512 ld(const float *p) { return _mm512_loadu_ps(p); }
static inline __m512 cvt(__m512i v) { return _mm512_cvtepi32_ps(v); }
// 16 bytes -> 16 dwords
static inline __m512i u8x16(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
static inline __m512i i8x16(const void *p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)); }

// Sums of x over consecutive 32-element spans.
static void span_sums32(const float *x, int64_t n, float *out) {
    for (int64_t i = 0, k = 0; i < n; i += 32, k++) out[k] = _mm512_reduce_add_ps(_mm512_add_ps(ld(x + i), ld(x + i + 16)));
}

// ---- plain types ---------------------------------------------------------------------------------

static float dot_f32(const uint8_t *row, const float *x, int64_t n) {
    const float *w = (const float *)row;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(ld(w + i), ld(x + i), a0);
        a1 = _mm512_fmadd_ps(ld(w + i + 16), ld(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(ld(w + i + 32), ld(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(ld(w + i + 48), ld(x + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static inline __m512 f16x16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

static float dot_f16(const uint8_t *row, const float *x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(f16x16(row + 2 * i), ld(x + i), a0);
        a1 = _mm512_fmadd_ps(f16x16(row + 2 * i + 32), ld(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(f16x16(row + 2 * i + 64), ld(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(f16x16(row + 2 * i + 96), ld(x + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 wv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, row + 2 * i));
        a0 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static inline __m512 bf16x16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

static float dot_bf16(const uint8_t *row, const float *x, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(bf16x16(_mm256_loadu_si256((const __m256i *)(row + 2 * i))), ld(x + i), a0);
        a1 = _mm512_fmadd_ps(bf16x16(_mm256_loadu_si256((const __m256i *)(row + 2 * i + 32))), ld(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        a0 = _mm512_fmadd_ps(bf16x16(_mm256_maskz_loadu_epi16(k, row + 2 * i)), _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// ---- 32-element blocks: acc += d * sum(q * x), offsets through the span sums xs ----------------------
// The f16 header of a block is converted as [d, m, ..] in one 128-bit op; d is broadcast to the block sum,
// and the offset term accumulates lane-wise (lane 0: d * xs, lane 1: m * xs) in a 128-bit register.

static inline __m128 header(const uint8_t *b) { return _mm_cvtph_ps(_mm_cvtsi32_si128((int)dera_rd32(b))); }
static inline __m512 bcast0(__m128 h) { return _mm512_broadcastss_ps(h); }

#define BLOCK_LOOP(BYTES, DOT)                                                                             \
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;                                                              \
    __m128 o0 = _mm_setzero_ps(), o1 = o0;                                                                 \
    int64_t ib = 0;                                                                                         \
    for (; ib + 2 <= nb; ib += 2) {                                                                         \
        const uint8_t *b = row + ib * (BYTES);                                                              \
        __m128 h0 = header(b), h1 = header(b + (BYTES));                                                    \
        a0 = _mm512_fmadd_ps(bcast0(h0), DOT(b, x + ib * 32), a0);                                          \
        a1 = _mm512_fmadd_ps(bcast0(h1), DOT(b + (BYTES), x + ib * 32 + 32), a1);                           \
        o0 = _mm_fmadd_ps(h0, _mm_broadcast_ss(xs + ib), o0);                                               \
        o1 = _mm_fmadd_ps(h1, _mm_broadcast_ss(xs + ib + 1), o1);                                           \
    }                                                                                                       \
    if (ib < nb) {                                                                                          \
        const uint8_t *b = row + ib * (BYTES);                                                              \
        __m128 h0 = header(b);                                                                              \
        a0 = _mm512_fmadd_ps(bcast0(h0), DOT(b, x + ib * 32), a0);                                          \
        o0 = _mm_fmadd_ps(h0, _mm_broadcast_ss(xs + ib), o0);                                               \
    }                                                                                                       \
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                                                \
    __m128 off = _mm_add_ps(o0, o1);

static inline __m512 q8_dot(const uint8_t *b, const float *xb) {
    __m512 s = _mm512_mul_ps(cvt(i8x16(b + 2)), ld(xb));
    return _mm512_fmadd_ps(cvt(i8x16(b + 18)), ld(xb + 16), s);
}

static float dot_q8_0(const uint8_t *row, const float *x, int64_t nb) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t ib = 0;
    for (; ib + 2 <= nb; ib += 2) {
        const uint8_t *b = row + ib * 34;
        a0 = _mm512_fmadd_ps(bcast0(header(b)), q8_dot(b, x + ib * 32), a0);
        a1 = _mm512_fmadd_ps(bcast0(header(b + 34)), q8_dot(b + 34, x + ib * 32 + 32), a1);
    }
    if (ib < nb) {
        const uint8_t *b = row + ib * 34;
        a0 = _mm512_fmadd_ps(bcast0(header(b)), q8_dot(b, x + ib * 32), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// sum of nibble * x over one 16-byte nibble array (low nibbles -> x[0..15], high -> x[16..31])
static inline __m512 nib_dot(const uint8_t *q, const float *xb) {
    __m512i w = u8x16(q);
    __m512 s = _mm512_mul_ps(cvt(_mm512_and_si512(w, _mm512_set1_epi32(0xF))), ld(xb));
    return _mm512_fmadd_ps(cvt(_mm512_srli_epi32(w, 4)), ld(xb + 16), s);
}

static inline __m512 q4_0_dot(const uint8_t *b, const float *xb) { return nib_dot(b + 2, xb); }
static inline __m512 q4_1_dot(const uint8_t *b, const float *xb) { return nib_dot(b + 4, xb); }

static float dot_q4_0(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    BLOCK_LOOP(18, q4_0_dot)
    return sum - 8.0f * _mm_cvtss_f32(off);
}

static float dot_q4_1(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    BLOCK_LOOP(20, q4_1_dot)
    return sum + _mm_cvtss_f32(_mm_movehdup_ps(off));
}

// Q5_0: the 32 high bits are exactly a pair of lane masks.
static inline __m512 q5_dot(const uint8_t *b, const float *xb) {
    uint32_t qh = dera_rd32(b + 2);
    const __m512i k16 = _mm512_set1_epi32(16);
    __m512i w = u8x16(b + 6);
    __m512i lo = _mm512_and_si512(w, _mm512_set1_epi32(0xF));
    __m512i hi = _mm512_srli_epi32(w, 4);
    lo = _mm512_mask_or_epi32(lo, (__mmask16)(qh & 0xFFFF), lo, k16);
    hi = _mm512_mask_or_epi32(hi, (__mmask16)(qh >> 16), hi, k16);
    __m512 s = _mm512_mul_ps(cvt(lo), ld(xb));
    return _mm512_fmadd_ps(cvt(hi), ld(xb + 16), s);
}

static float dot_q5_0(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    BLOCK_LOOP(22, q5_dot)
    return sum - 16.0f * _mm_cvtss_f32(off);
}

// ---- 256-element super-blocks -------------------------------------------------------------------------

// The 8 six-bit scales and 8 six-bit mins of a Q4_K block as 16 floats: d * sc[0..7], dmin * m[0..7].
// Works on the 12 packed bytes as three little-endian words, four sub-blocks per word.
static inline __m512 q4k_scales(const dera_block_q4_k *b) {
    uint32_t a = dera_rd32(b->scales), c4 = dera_rd32(b->scales + 4), c8 = dera_rd32(b->scales + 8);
    uint32_t sc_lo = a & 0x3F3F3F3Fu, m_lo = c4 & 0x3F3F3F3Fu;
    uint32_t sc_hi = (c8 & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u);
    uint32_t m_hi = ((c8 >> 4) & 0x0F0F0F0Fu) | ((c4 >> 2) & 0x30303030u);
    __m512 f = cvt(_mm512_cvtepu8_epi32(_mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)m_lo, (int)m_hi)));
    __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dera_rd32(&b->d))); // [d, dmin]
    __m512 mul = _mm512_shuffle_f32x4(_mm512_broadcastss_ps(dd), _mm512_broadcastss_ps(_mm_movehdup_ps(dd)), 0x44);
    return _mm512_mul_ps(f, mul);
}

static float dot_q4_k(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    const __m512i m4 = _mm512_set1_epi32(0xF);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    __m256 off = _mm256_setzero_ps();
    float sc[16] __attribute__((aligned(64)));
    for (int64_t ib = 0; ib < nb; ib++) {
        const dera_block_q4_k *b = (const dera_block_q4_k *)(row + ib * 144);
        __m512 s = q4k_scales(b);
        _mm512_store_ps(sc, s);
        off = _mm256_fmadd_ps(_mm512_extractf32x8_ps(s, 1), _mm256_loadu_ps(xs + ib * 8), off);
        const float *xb = x + ib * 256;
        for (int g = 0; g < 4; g++) {
            const uint8_t *q = b->qs + 32 * g;
            const float *xg = xb + 64 * g;
            __m512i w0 = u8x16(q), w1 = u8x16(q + 16);
            __m512 lo = _mm512_mul_ps(cvt(_mm512_and_si512(w0, m4)), ld(xg));
            __m512 hi = _mm512_mul_ps(cvt(_mm512_srli_epi32(w0, 4)), ld(xg + 32));
            lo = _mm512_fmadd_ps(cvt(_mm512_and_si512(w1, m4)), ld(xg + 16), lo);
            hi = _mm512_fmadd_ps(cvt(_mm512_srli_epi32(w1, 4)), ld(xg + 48), hi);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[2 * g]), lo, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(sc[2 * g + 1]), hi, a1);
        }
    }
    __m128 o = _mm_add_ps(_mm256_castps256_ps128(off), _mm256_extractf128_ps(off, 1));
    o = _mm_add_ps(o, _mm_movehl_ps(o, o));
    o = _mm_add_ss(o, _mm_movehdup_ps(o));
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) - _mm_cvtss_f32(o);
}

// Decodes the 256 six-bit quants of a Q6_K block, minus 32, to bytes in element order.
static inline void q6_bytes(const dera_block_q6_k *b, int8_t *out) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30), k32 = _mm512_set1_epi8(32);
    // per 16-bit lane shift counts: first 32 bytes by the first count, last 32 by the second
    const __m512i sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh_hi = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    for (int h = 0; h < 2; h++) {
        __m512i l = _mm512_loadu_si512(b->ql + 64 * h);
        __m256i hb = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(hb), hb, 1);
        __m512i q12 = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(_mm512_sllv_epi16(hz, sh_lo), m30));
        __m512i q34 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                      _mm512_and_si512(_mm512_srlv_epi16(hz, sh_hi), m30));
        _mm512_storeu_si512(out + 128 * h, _mm512_sub_epi8(q12, k32));
        _mm512_storeu_si512(out + 128 * h + 64, _mm512_sub_epi8(q34, k32));
    }
}

static float dot_q6_k(const uint8_t *row, const float *x, int64_t nb) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int8_t q[256] __attribute__((aligned(64)));
    float sc[16] __attribute__((aligned(64)));
    for (int64_t ib = 0; ib < nb; ib++) {
        const dera_block_q6_k *b = (const dera_block_q6_k *)(row + ib * 210);
        q6_bytes(b, q);
        // element span k of 16 uses scale k (k = 0..15) in this layout
        _mm512_store_ps(sc, _mm512_mul_ps(_mm512_set1_ps(h2f(&b->d)), cvt(i8x16(b->scales))));
        const float *xb = x + ib * 256;
        for (int k = 0; k < 16; k += 2) {
            __m512 p0 = _mm512_mul_ps(cvt(i8x16(q + 16 * k)), ld(xb + 16 * k));
            __m512 p1 = _mm512_mul_ps(cvt(i8x16(q + 16 * k + 16)), ld(xb + 16 * k + 16));
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[k]), p0, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(sc[k + 1]), p1, a1);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// ---- entry points ----------------------------------------------------------------------------------

static int needs_span_sums(uint32_t type) {
    return type == DERA_Q4_0 || type == DERA_Q4_1 || type == DERA_Q5_0 || type == DERA_Q4_K;
}

static inline float dot_any(uint32_t type, const uint8_t *row, const float *x, const float *xs, int64_t n) {
    switch (type) {
    case DERA_F32: return dot_f32(row, x, n);
    case DERA_F16: return dot_f16(row, x, n);
    case DERA_BF16: return dot_bf16(row, x, n);
    case DERA_Q4_0: return dot_q4_0(row, x, xs, n / 32);
    case DERA_Q4_1: return dot_q4_1(row, x, xs, n / 32);
    case DERA_Q5_0: return dot_q5_0(row, x, xs, n / 32);
    case DERA_Q8_0: return dot_q8_0(row, x, n / 32);
    case DERA_Q4_K: return dot_q4_k(row, x, xs, n / 256);
    case DERA_Q6_K: return dot_q6_k(row, x, n / 256);
    default: return 0;
    }
}

// ---- two rows at once (matvec): the x loads are shared by both rows -------------------------------------

#define BLOCK_LOOP2(BYTES, DOT2)                                                                            \
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;                                                              \
    __m128 o0 = _mm_setzero_ps(), o1 = o0;                                                                 \
    for (int64_t ib = 0; ib < nb; ib++) {                                                                   \
        const uint8_t *b0 = r0 + ib * (BYTES), *b1 = r1 + ib * (BYTES);                                     \
        __m128 h0 = header(b0), h1 = header(b1);                                                            \
        __m512 s0, s1;                                                                                      \
        DOT2(b0, b1, x + ib * 32, &s0, &s1);                                                                \
        a0 = _mm512_fmadd_ps(bcast0(h0), s0, a0);                                                           \
        a1 = _mm512_fmadd_ps(bcast0(h1), s1, a1);                                                           \
        __m128 xsv = _mm_broadcast_ss(xs + ib);                                                             \
        o0 = _mm_fmadd_ps(h0, xsv, o0);                                                                     \
        o1 = _mm_fmadd_ps(h1, xsv, o1);                                                                     \
    }                                                                                                       \
    float sum0 = _mm512_reduce_add_ps(a0), sum1 = _mm512_reduce_add_ps(a1);

static inline void nib_dot2(const uint8_t *q0, const uint8_t *q1, const float *xb, __m512 *s0, __m512 *s1) {
    const __m512i m4 = _mm512_set1_epi32(0xF);
    __m512 x0 = ld(xb), x1 = ld(xb + 16);
    __m512i w0 = u8x16(q0), w1 = u8x16(q1);
    *s0 = _mm512_fmadd_ps(cvt(_mm512_srli_epi32(w0, 4)), x1, _mm512_mul_ps(cvt(_mm512_and_si512(w0, m4)), x0));
    *s1 = _mm512_fmadd_ps(cvt(_mm512_srli_epi32(w1, 4)), x1, _mm512_mul_ps(cvt(_mm512_and_si512(w1, m4)), x0));
}
static inline void q4_0_dot2(const uint8_t *b0, const uint8_t *b1, const float *xb, __m512 *s0, __m512 *s1) {
    nib_dot2(b0 + 2, b1 + 2, xb, s0, s1);
}
static inline void q4_1_dot2(const uint8_t *b0, const uint8_t *b1, const float *xb, __m512 *s0, __m512 *s1) {
    nib_dot2(b0 + 4, b1 + 4, xb, s0, s1);
}
static inline void q8_dot2(const uint8_t *b0, const uint8_t *b1, const float *xb, __m512 *s0, __m512 *s1) {
    __m512 x0 = ld(xb), x1 = ld(xb + 16);
    *s0 = _mm512_fmadd_ps(cvt(i8x16(b0 + 18)), x1, _mm512_mul_ps(cvt(i8x16(b0 + 2)), x0));
    *s1 = _mm512_fmadd_ps(cvt(i8x16(b1 + 18)), x1, _mm512_mul_ps(cvt(i8x16(b1 + 2)), x0));
}

static inline void q5_dot2(const uint8_t *b0, const uint8_t *b1, const float *xb, __m512 *s0, __m512 *s1) {
    const __m512i m4 = _mm512_set1_epi32(0xF), k16 = _mm512_set1_epi32(16);
    __m512 x0 = ld(xb), x1 = ld(xb + 16);
    uint32_t qh0 = dera_rd32(b0 + 2), qh1 = dera_rd32(b1 + 2);
    __m512i w0 = u8x16(b0 + 6), w1 = u8x16(b1 + 6);
    __m512i lo0 = _mm512_mask_or_epi32(_mm512_and_si512(w0, m4), (__mmask16)(qh0 & 0xFFFF), _mm512_and_si512(w0, m4), k16);
    __m512i hi0 = _mm512_mask_or_epi32(_mm512_srli_epi32(w0, 4), (__mmask16)(qh0 >> 16), _mm512_srli_epi32(w0, 4), k16);
    __m512i lo1 = _mm512_mask_or_epi32(_mm512_and_si512(w1, m4), (__mmask16)(qh1 & 0xFFFF), _mm512_and_si512(w1, m4), k16);
    __m512i hi1 = _mm512_mask_or_epi32(_mm512_srli_epi32(w1, 4), (__mmask16)(qh1 >> 16), _mm512_srli_epi32(w1, 4), k16);
    *s0 = _mm512_fmadd_ps(cvt(hi0), x1, _mm512_mul_ps(cvt(lo0), x0));
    *s1 = _mm512_fmadd_ps(cvt(hi1), x1, _mm512_mul_ps(cvt(lo1), x0));
}

static inline void dot2_q4_k(const uint8_t *r0, const uint8_t *r1, const float *x, const float *xs, int64_t nb,
                             float *out) {
    const __m512i m4 = _mm512_set1_epi32(0xF);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    __m256 off0 = _mm256_setzero_ps(), off1 = off0;
    float sc0[16] __attribute__((aligned(64))), sc1[16] __attribute__((aligned(64)));
    for (int64_t ib = 0; ib < nb; ib++) {
        const dera_block_q4_k *b0 = (const dera_block_q4_k *)(r0 + ib * 144);
        const dera_block_q4_k *b1 = (const dera_block_q4_k *)(r1 + ib * 144);
        __m512 s0 = q4k_scales(b0), s1 = q4k_scales(b1);
        _mm512_store_ps(sc0, s0);
        _mm512_store_ps(sc1, s1);
        __m256 xsv = _mm256_loadu_ps(xs + ib * 8);
        off0 = _mm256_fmadd_ps(_mm512_extractf32x8_ps(s0, 1), xsv, off0);
        off1 = _mm256_fmadd_ps(_mm512_extractf32x8_ps(s1, 1), xsv, off1);
        const float *xb = x + ib * 256;
        for (int g = 0; g < 4; g++) {
            const float *xg = xb + 64 * g;
            __m512 x0 = ld(xg), x1 = ld(xg + 16), x2 = ld(xg + 32), x3 = ld(xg + 48);
            __m512i w0 = u8x16(b0->qs + 32 * g), w1 = u8x16(b0->qs + 32 * g + 16);
            __m512i v0 = u8x16(b1->qs + 32 * g), v1 = u8x16(b1->qs + 32 * g + 16);
            __m512 lo0 = _mm512_fmadd_ps(cvt(_mm512_and_si512(w1, m4)), x1, _mm512_mul_ps(cvt(_mm512_and_si512(w0, m4)), x0));
            __m512 hi0 = _mm512_fmadd_ps(cvt(_mm512_srli_epi32(w1, 4)), x3, _mm512_mul_ps(cvt(_mm512_srli_epi32(w0, 4)), x2));
            __m512 lo1 = _mm512_fmadd_ps(cvt(_mm512_and_si512(v1, m4)), x1, _mm512_mul_ps(cvt(_mm512_and_si512(v0, m4)), x0));
            __m512 hi1 = _mm512_fmadd_ps(cvt(_mm512_srli_epi32(v1, 4)), x3, _mm512_mul_ps(cvt(_mm512_srli_epi32(v0, 4)), x2));
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(sc0[2 * g]), lo0, a0);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(sc0[2 * g + 1]), hi0, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(sc1[2 * g]), lo1, a1);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(sc1[2 * g + 1]), hi1, a1);
        }
    }
    out[0] = _mm512_reduce_add_ps(a0) - _mm512_reduce_add_ps(_mm512_zextps256_ps512(off0));
    out[1] = _mm512_reduce_add_ps(a1) - _mm512_reduce_add_ps(_mm512_zextps256_ps512(off1));
}

// Returns 1 and writes out[0..1] when the type has a two-row kernel. (F16 pairs measured 2.5x slower on
// large DRAM-resident matrices here, so plain types stay one row at a time.)
static inline int dot2_any(uint32_t type, const uint8_t *r0, const uint8_t *r1, const float *x, const float *xs,
                           int64_t n, float *out) {
    int64_t nb = n / 32;
    switch (type) {
    case DERA_Q4_0: {
        BLOCK_LOOP2(18, q4_0_dot2)
        out[0] = sum0 - 8.0f * _mm_cvtss_f32(o0);
        out[1] = sum1 - 8.0f * _mm_cvtss_f32(o1);
        return 1;
    }
    case DERA_Q4_1: {
        BLOCK_LOOP2(20, q4_1_dot2)
        out[0] = sum0 + _mm_cvtss_f32(_mm_movehdup_ps(o0));
        out[1] = sum1 + _mm_cvtss_f32(_mm_movehdup_ps(o1));
        return 1;
    }
    case DERA_Q8_0: { // no offset term
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        for (int64_t ib = 0; ib < nb; ib++) {
            const uint8_t *b0 = r0 + ib * 34, *b1 = r1 + ib * 34;
            __m512 s0, s1;
            q8_dot2(b0, b1, x + ib * 32, &s0, &s1);
            a0 = _mm512_fmadd_ps(bcast0(header(b0)), s0, a0);
            a1 = _mm512_fmadd_ps(bcast0(header(b1)), s1, a1);
        }
        out[0] = _mm512_reduce_add_ps(a0);
        out[1] = _mm512_reduce_add_ps(a1);
        return 1;
    }
    case DERA_Q5_0: {
        BLOCK_LOOP2(22, q5_dot2)
        out[0] = sum0 - 16.0f * _mm_cvtss_f32(o0);
        out[1] = sum1 - 16.0f * _mm_cvtss_f32(o1);
        return 1;
    }
    case DERA_Q4_K: dot2_q4_k(r0, r1, x, xs, n / 256, out); return 1;
    default: return 0;
    }
}

enum { XS_STACK = 2048 };

void dera_matvec_avx512(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                        int64_t row_begin, int64_t row_end, int64_t n) {
    const uint8_t *base = (const uint8_t *)w;
    float xs_stack[XS_STACK];
    float *xs = NULL;
    if (needs_span_sums(type)) {
        xs = n / 32 <= XS_STACK ? xs_stack : (float *)malloc((size_t)(n / 32) * sizeof(float));
        if (!xs) { dera_matvec_avx2(type, w, row_bytes, x, y, row_begin, row_end, n); return; }
        span_sums32(x, n, xs);
    }
    int64_t r = row_begin;
    for (; r + 2 <= row_end; r += 2) {
        const uint8_t *r0 = base + (size_t)r * row_bytes;
        float out[2];
        if (!dot2_any(type, r0, r0 + row_bytes, x, xs, n, out)) break;
        y[r] = out[0];
        y[r + 1] = out[1];
    }
    for (; r < row_end; r++)
        y[r] = dot_any(type, base + (size_t)r * row_bytes, x, xs, n);
    if (xs && xs != xs_stack) free(xs);
}

float dera_dot_row_avx512(uint32_t type, const void *row, const float *x, int64_t n) {
    float y;
    dera_matvec_avx512(type, row, 0, x, &y, 0, 1, n);
    return y;
}

// matmat: dequantise a segment of the row once into an L1-sized buffer, then dot it with every vector.
enum { SEG = 4096 };

static inline void seg_dot4(const float *buf, int64_t len, const float *x0, const float *x1, const float *x2,
                            const float *x3, float out[4]) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t j = 0; j < len; j += 16) {
        __mmask16 k = len - j >= 16 ? 0xFFFF : (__mmask16)((1u << (len - j)) - 1);
        __m512 wv = _mm512_maskz_loadu_ps(k, buf + j);
        a0 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x0 + j), a0);
        a1 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x1 + j), a1);
        a2 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x2 + j), a2);
        a3 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, x3 + j), a3);
    }
    out[0] = _mm512_reduce_add_ps(a0); out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2); out[3] = _mm512_reduce_add_ps(a3);
}

static inline float seg_dot1(const float *buf, int64_t len, const float *x0) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t j = 0;
    for (; j + 32 <= len; j += 32) {
        a0 = _mm512_fmadd_ps(ld(buf + j), ld(x0 + j), a0);
        a1 = _mm512_fmadd_ps(ld(buf + j + 16), ld(x0 + j + 16), a1);
    }
    for (; j < len; j += 16) {
        __mmask16 k = len - j >= 16 ? 0xFFFF : (__mmask16)((1u << (len - j)) - 1);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, buf + j), _mm512_maskz_loadu_ps(k, x0 + j), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static void matmat_segments(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                        float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    const uint8_t *base = (const uint8_t *)w;
    float buf[SEG] __attribute__((aligned(64)));
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int64_t i = 0; i < n; i += SEG) {
            int64_t len = n - i < SEG ? n - i : SEG; // SEG is a multiple of every block length
            dera_deq_range_avx2(type, row, i, len, buf);
            int64_t v = 0;
            for (; v + 4 <= n_vec; v += 4) {
                float s[4];
                seg_dot4(buf, len, x + v * n + i, x + (v + 1) * n + i, x + (v + 2) * n + i, x + (v + 3) * n + i, s);
                for (int k = 0; k < 4; k++) {
                    float *o = &y[(v + k) * rows + r];
                    *o = i == 0 ? s[k] : *o + s[k];
                }
            }
            for (; v < n_vec; v++) {
                float s = seg_dot1(buf, len, x + v * n + i);
                float *o = &y[v * rows + r];
                *o = i == 0 ? s : *o + s;
            }
        }
    }
}

// ---- matmat with the weights in registers -----------------------------------------------------------
// Each 32-element chunk of a row is dequantised once into two zmm registers (scaled) and multiplied into
// G vectors' accumulators held in registers (two per vector, to halve the FMA dependency chains).
// For 256-element super-blocks the per-block scales (and Q6_K's decoded bytes) are refreshed on entry.

typedef struct {
    float d[16] __attribute__((aligned(64)));  // Q4_K: 8 scales then 8 mins; Q6_K: 16 scales (current block)
    int8_t q[256] __attribute__((aligned(64)));
} kctx;

static inline __attribute__((always_inline)) void deq32(uint32_t type, const uint8_t *row, int64_t c, kctx *k,
                                                         __m512 *w0, __m512 *w1) {
    switch (type) {
    case DERA_F32: {
        const float *f = (const float *)row;
        *w0 = ld(f + c); *w1 = ld(f + c + 16);
        return;
    }
    case DERA_F16: *w0 = f16x16(row + 2 * c); *w1 = f16x16(row + 2 * c + 32); return;
    case DERA_BF16:
        *w0 = bf16x16(_mm256_loadu_si256((const __m256i *)(row + 2 * c)));
        *w1 = bf16x16(_mm256_loadu_si256((const __m256i *)(row + 2 * c + 32)));
        return;
    case DERA_Q8_0: {
        const uint8_t *b = row + c / 32 * 34;
        __m512 d = bcast0(header(b));
        *w0 = _mm512_mul_ps(cvt(i8x16(b + 2)), d);
        *w1 = _mm512_mul_ps(cvt(i8x16(b + 18)), d);
        return;
    }
    case DERA_Q4_0: case DERA_Q4_1: case DERA_Q5_0: {
        size_t bytes = type == DERA_Q4_0 ? 18 : type == DERA_Q4_1 ? 20 : 22;
        const uint8_t *b = row + c / 32 * bytes;
        __m128 h = header(b);
        __m512 d = bcast0(h);
        __m512 off = type == DERA_Q4_1 ? _mm512_broadcastss_ps(_mm_movehdup_ps(h))
                                       : _mm512_mul_ps(d, _mm512_set1_ps(type == DERA_Q4_0 ? -8.0f : -16.0f));
        __m512i w = u8x16(b + (type == DERA_Q4_0 ? 2 : type == DERA_Q4_1 ? 4 : 6));
        __m512i lo = _mm512_and_si512(w, _mm512_set1_epi32(0xF));
        __m512i hi = _mm512_srli_epi32(w, 4);
        if (type == DERA_Q5_0) {
            uint32_t qh = dera_rd32(b + 2);
            lo = _mm512_mask_or_epi32(lo, (__mmask16)(qh & 0xFFFF), lo, _mm512_set1_epi32(16));
            hi = _mm512_mask_or_epi32(hi, (__mmask16)(qh >> 16), hi, _mm512_set1_epi32(16));
        }
        *w0 = _mm512_fmadd_ps(cvt(lo), d, off);
        *w1 = _mm512_fmadd_ps(cvt(hi), d, off);
        return;
    }
    case DERA_Q4_K: {
        const dera_block_q4_k *b = (const dera_block_q4_k *)(row + c / 256 * 144);
        int sub = (int)(c % 256) / 32;
        if (sub == 0) _mm512_store_ps(k->d, q4k_scales(b)); // d[0..7] scales, d[8..15] mins
        const uint8_t *q = b->qs + 32 * (sub / 2);
        __m512i a = u8x16(q), bq = u8x16(q + 16);
        if (sub & 1) { a = _mm512_srli_epi32(a, 4); bq = _mm512_srli_epi32(bq, 4); }
        else { a = _mm512_and_si512(a, _mm512_set1_epi32(0xF)); bq = _mm512_and_si512(bq, _mm512_set1_epi32(0xF)); }
        __m512 d = _mm512_set1_ps(k->d[sub]), m = _mm512_set1_ps(k->d[8 + sub]);
        *w0 = _mm512_fmsub_ps(d, cvt(a), m);
        *w1 = _mm512_fmsub_ps(d, cvt(bq), m);
        return;
    }
    case DERA_Q6_K: {
        const dera_block_q6_k *b = (const dera_block_q6_k *)(row + c / 256 * 210);
        int e = (int)(c % 256);
        if (e == 0) {
            q6_bytes(b, k->q);
            _mm512_store_ps(k->d, _mm512_mul_ps(_mm512_set1_ps(h2f(&b->d)), cvt(i8x16(b->scales))));
        }
        *w0 = _mm512_mul_ps(_mm512_set1_ps(k->d[e / 16]), cvt(i8x16(k->q + e)));
        *w1 = _mm512_mul_ps(_mm512_set1_ps(k->d[e / 16 + 1]), cvt(i8x16(k->q + e + 16)));
        return;
    }
    default: *w0 = *w1 = _mm512_setzero_ps(); return;
    }
}

static inline __attribute__((always_inline)) void mm_tile(uint32_t type, const uint8_t *row, const float *x, int64_t n,
                                                          float *out, const int G) {
    __m512 a[8], b[8];
    kctx k;
    for (int v = 0; v < G; v++) a[v] = b[v] = _mm512_setzero_ps();
    for (int64_t c = 0; c < n; c += 32) {
        __m512 w0, w1;
        deq32(type, row, c, &k, &w0, &w1);
        for (int v = 0; v < G; v++) {
            a[v] = _mm512_fmadd_ps(w0, ld(x + v * n + c), a[v]);
            b[v] = _mm512_fmadd_ps(w1, ld(x + v * n + c + 16), b[v]);
        }
    }
    for (int v = 0; v < G; v++) out[v] = _mm512_reduce_add_ps(_mm512_add_ps(a[v], b[v]));
}

// Two rows at once: every x load feeds both rows' FMAs, halving loads per FMA (the limit for the
// single-row tile on this class of CPU). Up to 4 vectors keep two accumulators per (row, vector).
static inline __attribute__((always_inline)) void mm_tile2(uint32_t type, const uint8_t *row0, const uint8_t *row1,
                                                           const float *x, int64_t n, float *out0, float *out1,
                                                           const int G) {
    const int split = G <= 4;
    __m512 a0[8], a1[8], b0[8], b1[8];
    kctx k0, k1;
    for (int v = 0; v < G; v++) a0[v] = a1[v] = b0[v] = b1[v] = _mm512_setzero_ps();
    for (int64_t c = 0; c < n; c += 32) {
        __m512 w00, w01, w10, w11;
        deq32(type, row0, c, &k0, &w00, &w01);
        deq32(type, row1, c, &k1, &w10, &w11);
        for (int v = 0; v < G; v++) {
            __m512 xa = ld(x + v * n + c), xb = ld(x + v * n + c + 16);
            a0[v] = _mm512_fmadd_ps(w00, xa, a0[v]);
            a1[v] = _mm512_fmadd_ps(w10, xa, a1[v]);
            if (split) {
                b0[v] = _mm512_fmadd_ps(w01, xb, b0[v]);
                b1[v] = _mm512_fmadd_ps(w11, xb, b1[v]);
            } else {
                a0[v] = _mm512_fmadd_ps(w01, xb, a0[v]);
                a1[v] = _mm512_fmadd_ps(w11, xb, a1[v]);
            }
        }
    }
    for (int v = 0; v < G; v++) {
        out0[v] = _mm512_reduce_add_ps(split ? _mm512_add_ps(a0[v], b0[v]) : a0[v]);
        out1[v] = _mm512_reduce_add_ps(split ? _mm512_add_ps(a1[v], b1[v]) : a1[v]);
    }
}

#define BY_G(CALL)                                                                                          \
    switch (g) {                                                                                            \
    case 8: CALL(8); break;                                                                                 \
    case 7: CALL(7); break;                                                                                 \
    case 6: CALL(6); break;                                                                                 \
    case 5: CALL(5); break;                                                                                 \
    case 4: CALL(4); break;                                                                                 \
    case 3: CALL(3); break;                                                                                 \
    case 2: CALL(2); break;                                                                                 \
    default: CALL(1); break;                                                                                \
    }

#define BY_TYPE(CALL)                                                                                       \
    switch (type) {                                                                                         \
    case DERA_F32: BY_G(CALL##_F32) break;                                                                  \
    case DERA_F16: BY_G(CALL##_F16) break;                                                                  \
    case DERA_BF16: BY_G(CALL##_BF16) break;                                                                \
    case DERA_Q4_0: BY_G(CALL##_Q4_0) break;                                                                \
    case DERA_Q4_1: BY_G(CALL##_Q4_1) break;                                                                \
    case DERA_Q5_0: BY_G(CALL##_Q5_0) break;                                                                \
    case DERA_Q8_0: BY_G(CALL##_Q8_0) break;                                                                \
    case DERA_Q4_K: BY_G(CALL##_Q4_K) break;                                                                \
    case DERA_Q6_K: BY_G(CALL##_Q6_K) break;                                                                \
    default: return;                                                                                        \
    }

#define T1(T, G) mm_tile(T, row0, xv, n, out0, G)
#define T2(T, G) mm_tile2(T, row0, row1, xv, n, out0, out1, G)
#define ONE_F32(G) T1(DERA_F32, G)
#define ONE_F16(G) T1(DERA_F16, G)
#define ONE_BF16(G) T1(DERA_BF16, G)
#define ONE_Q4_0(G) T1(DERA_Q4_0, G)
#define ONE_Q4_1(G) T1(DERA_Q4_1, G)
#define ONE_Q5_0(G) T1(DERA_Q5_0, G)
#define ONE_Q8_0(G) T1(DERA_Q8_0, G)
#define ONE_Q4_K(G) T1(DERA_Q4_K, G)
#define ONE_Q6_K(G) T1(DERA_Q6_K, G)
#define TWO_F32(G) T2(DERA_F32, G)
#define TWO_F16(G) T2(DERA_F16, G)
#define TWO_BF16(G) T2(DERA_BF16, G)
#define TWO_Q4_0(G) T2(DERA_Q4_0, G)
#define TWO_Q4_1(G) T2(DERA_Q4_1, G)
#define TWO_Q5_0(G) T2(DERA_Q5_0, G)
#define TWO_Q8_0(G) T2(DERA_Q8_0, G)
#define TWO_Q4_K(G) T2(DERA_Q4_K, G)
#define TWO_Q6_K(G) T2(DERA_Q6_K, G)

void dera_matmat_avx512(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                        float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    if (n % 32 != 0) { // only plain types can have ragged rows
        matmat_segments(type, w, row_bytes, x, n_vec, y, rows, row_begin, row_end, n);
        return;
    }
    const uint8_t *base = (const uint8_t *)w;
    int64_t r = row_begin;
    for (; r + 2 <= row_end; r += 2) {
        const uint8_t *row0 = base + (size_t)r * row_bytes, *row1 = row0 + row_bytes;
        for (int64_t v0 = 0; v0 < n_vec; v0 += 8) {
            int g = n_vec - v0 < 8 ? (int)(n_vec - v0) : 8;
            const float *xv = x + v0 * n;
            float out0[8], out1[8];
            BY_TYPE(TWO)
            for (int v = 0; v < g; v++) {
                y[(v0 + v) * rows + r] = out0[v];
                y[(v0 + v) * rows + r + 1] = out1[v];
            }
        }
    }
    if (r < row_end) {
        const uint8_t *row0 = base + (size_t)r * row_bytes;
        for (int64_t v0 = 0; v0 < n_vec; v0 += 8) {
            int g = n_vec - v0 < 8 ? (int)(n_vec - v0) : 8;
            const float *xv = x + v0 * n;
            float out0[8];
            BY_TYPE(ONE)
            for (int v = 0; v < g; v++) y[(v0 + v) * rows + r] = out0[v];
        }
    }
}

#pragma clang attribute pop

#endif
