// AVX2 + FMA + F16C kernels. Compiled for those features function by function (no global flags),
// and only ever called after the dispatcher has checked the CPU supports them.
#include "kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

static inline float h2f(const void *p) { return _cvtsh_ss(dera_rd16(p)); }

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 8 bytes -> 8 dwords (zero / sign extended), from unaligned memory.
static inline __m256i u8x8(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline __m256i i8x8(const int8_t *p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline __m256 cvt(__m256i v) { return _mm256_cvtepi32_ps(v); }
static inline __m256 ld(const float *p) { return _mm256_loadu_ps(p); }

// Sums of x over consecutive spans of `span` elements (n is a multiple of span, span a multiple of 8).
static void span_sums(const float *x, int64_t n, int span, float *out) {
    for (int64_t i = 0, k = 0; i < n; i += span, k++) {
        __m256 s = ld(x + i);
        for (int j = 8; j < span; j += 8) s = _mm256_add_ps(s, ld(x + i + j));
        out[k] = hsum(s);
    }
}

// ---- plain types ---------------------------------------------------------------------------------

static float dot_f32(const uint8_t *row, const float *x, int64_t n) {
    const float *w = (const float *)row; // unaligned loads throughout
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(ld(w + i), ld(x + i), a0);
        a1 = _mm256_fmadd_ps(ld(w + i + 8), ld(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(ld(w + i + 16), ld(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(ld(w + i + 24), ld(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(ld(w + i), ld(x + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) {
        float v; memcpy(&v, row + 4 * i, 4);
        s += v * x[i];
    }
    return s;
}

static inline __m256 f16x8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static float dot_f16(const uint8_t *row, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(f16x8(row + 2 * i), ld(x + i), a0);
        a1 = _mm256_fmadd_ps(f16x8(row + 2 * i + 16), ld(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(f16x8(row + 2 * i + 32), ld(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(f16x8(row + 2 * i + 48), ld(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(f16x8(row + 2 * i), ld(x + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += h2f(row + 2 * i) * x[i];
    return s;
}

static inline __m256 bf16x8(const uint8_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static float dot_bf16(const uint8_t *row, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(bf16x8(row + 2 * i), ld(x + i), a0);
        a1 = _mm256_fmadd_ps(bf16x8(row + 2 * i + 16), ld(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(bf16x8(row + 2 * i + 32), ld(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(bf16x8(row + 2 * i + 48), ld(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(bf16x8(row + 2 * i), ld(x + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += dera_bf2f(dera_rd16(row + 2 * i)) * x[i];
    return s;
}

// ---- 32-element blocks -----------------------------------------------------------------------------
// Dot kernels factor the block scale out: acc += d * sum(q * x); offsets use the x span sums `xs`.

// Block header as [d, m, ..] in one conversion; d is broadcast onto the block sum and the offset term
// accumulates lane-wise (lane 0: d * xs, lane 1: m * xs). Two blocks per iteration, two accumulators.
static inline __m128 header(const uint8_t *b) { return _mm_cvtph_ps(_mm_cvtsi32_si128((int)dera_rd32(b))); }

#define BLOCK_LOOP(BYTES, DOT)                                                                             \
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                                              \
    __m128 o0 = _mm_setzero_ps(), o1 = o0;                                                                 \
    int64_t ib = 0;                                                                                         \
    for (; ib + 2 <= nb; ib += 2) {                                                                         \
        const uint8_t *b = row + ib * (BYTES);                                                              \
        __m128 h0 = header(b), h1 = header(b + (BYTES));                                                    \
        a0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(h0), DOT(b, x + ib * 32), a0);                           \
        a1 = _mm256_fmadd_ps(_mm256_broadcastss_ps(h1), DOT(b + (BYTES), x + ib * 32 + 32), a1);            \
        o0 = _mm_fmadd_ps(h0, _mm_broadcast_ss(xs + ib), o0);                                               \
        o1 = _mm_fmadd_ps(h1, _mm_broadcast_ss(xs + ib + 1), o1);                                           \
    }                                                                                                       \
    if (ib < nb) {                                                                                          \
        const uint8_t *b = row + ib * (BYTES);                                                              \
        __m128 h0 = header(b);                                                                              \
        a0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(h0), DOT(b, x + ib * 32), a0);                           \
        o0 = _mm_fmadd_ps(h0, _mm_broadcast_ss(xs + ib), o0);                                               \
    }                                                                                                       \
    float sum = hsum(_mm256_add_ps(a0, a1));                                                                \
    __m128 off = _mm_add_ps(o0, o1);

static inline __m256 q8_dot(const uint8_t *b, const float *xb) {
    const int8_t *q = (const int8_t *)(b + 2);
    __m256 s = _mm256_mul_ps(cvt(i8x8(q)), ld(xb));
    __m256 t = _mm256_mul_ps(cvt(i8x8(q + 8)), ld(xb + 8));
    s = _mm256_fmadd_ps(cvt(i8x8(q + 16)), ld(xb + 16), s);
    t = _mm256_fmadd_ps(cvt(i8x8(q + 24)), ld(xb + 24), t);
    return _mm256_add_ps(s, t);
}

static float dot_q8_0(const uint8_t *row, const float *x, int64_t nb) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t ib = 0;
    for (; ib + 2 <= nb; ib += 2) {
        const uint8_t *b = row + ib * 34;
        a0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(header(b)), q8_dot(b, x + ib * 32), a0);
        a1 = _mm256_fmadd_ps(_mm256_broadcastss_ps(header(b + 34)), q8_dot(b + 34, x + ib * 32 + 32), a1);
    }
    if (ib < nb) a0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(header(row + ib * 34)), q8_dot(row + ib * 34, x + ib * 32), a0);
    return hsum(_mm256_add_ps(a0, a1));
}

// sum over the block of nibble * x for the 16 bytes at q (low nibbles -> x[0..15], high -> x[16..31]).
static inline __m256 nib_dot(const uint8_t *q, const float *xb) {
    const __m256i m4 = _mm256_set1_epi32(0xF);
    __m256i w0 = u8x8(q), w1 = u8x8(q + 8);
    __m256 s = _mm256_mul_ps(cvt(_mm256_and_si256(w0, m4)), ld(xb));
    __m256 t = _mm256_mul_ps(cvt(_mm256_and_si256(w1, m4)), ld(xb + 8));
    s = _mm256_fmadd_ps(cvt(_mm256_srli_epi32(w0, 4)), ld(xb + 16), s);
    t = _mm256_fmadd_ps(cvt(_mm256_srli_epi32(w1, 4)), ld(xb + 24), t);
    return _mm256_add_ps(s, t);
}

static inline __m256 q4_0_dot(const uint8_t *b, const float *xb) { return nib_dot(b + 2, xb); }
static inline __m256 q4_1_dot(const uint8_t *b, const float *xb) { return nib_dot(b + 4, xb); }

static float dot_q4_0(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    BLOCK_LOOP(18, q4_0_dot)
    return sum - 8.0f * _mm_cvtss_f32(off);
}

static float dot_q4_1(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    BLOCK_LOOP(20, q4_1_dot)
    return sum + _mm_cvtss_f32(_mm_movehdup_ps(off));
}

// The 5th bit of 8 elements starting at element e (0..31) of a Q5_0 block, as 0 or 16 per dword.
static inline __m256i q5_high(__m256i qh, int e) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i bit = _mm256_and_si256(_mm256_srlv_epi32(qh, _mm256_add_epi32(lane, _mm256_set1_epi32(e))), _mm256_set1_epi32(1));
    return _mm256_slli_epi32(bit, 4);
}

static inline __m256 q5_dot(const uint8_t *b, const float *xb) {
    const __m256i m4 = _mm256_set1_epi32(0xF);
    __m256i qh = _mm256_set1_epi32((int)dera_rd32(b + 2));
    const uint8_t *q = b + 6;
    __m256i w0 = u8x8(q), w1 = u8x8(q + 8);
    __m256i v0 = _mm256_or_si256(_mm256_and_si256(w0, m4), q5_high(qh, 0));
    __m256i v1 = _mm256_or_si256(_mm256_and_si256(w1, m4), q5_high(qh, 8));
    __m256i v2 = _mm256_or_si256(_mm256_srli_epi32(w0, 4), q5_high(qh, 16));
    __m256i v3 = _mm256_or_si256(_mm256_srli_epi32(w1, 4), q5_high(qh, 24));
    __m256 s = _mm256_mul_ps(cvt(v0), ld(xb));
    __m256 t = _mm256_mul_ps(cvt(v1), ld(xb + 8));
    s = _mm256_fmadd_ps(cvt(v2), ld(xb + 16), s);
    t = _mm256_fmadd_ps(cvt(v3), ld(xb + 24), t);
    return _mm256_add_ps(s, t);
}

static float dot_q5_0(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    BLOCK_LOOP(22, q5_dot)
    return sum - 16.0f * _mm_cvtss_f32(off);
}

// ---- 256-element super-blocks ----------------------------------------------------------------------

// d * sc[0..7] and dmin * m[0..7] of a Q4_K block, from the 12 packed bytes as three little-endian words.
static inline void q4k_scales(const dera_block_q4_k *b, float *sc, float *mn) {
    uint32_t a = dera_rd32(b->scales), c4 = dera_rd32(b->scales + 4), c8 = dera_rd32(b->scales + 8);
    uint32_t sc_lo = a & 0x3F3F3F3Fu, m_lo = c4 & 0x3F3F3F3Fu;
    uint32_t sc_hi = (c8 & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u);
    uint32_t m_hi = ((c8 >> 4) & 0x0F0F0F0Fu) | ((c4 >> 2) & 0x30303030u);
    __m256 s = cvt(_mm256_cvtepu8_epi32(_mm_setr_epi32((int)sc_lo, (int)sc_hi, 0, 0)));
    __m256 m = cvt(_mm256_cvtepu8_epi32(_mm_setr_epi32((int)m_lo, (int)m_hi, 0, 0)));
    _mm256_store_ps(sc, _mm256_mul_ps(s, _mm256_set1_ps(h2f(&b->d))));
    _mm256_store_ps(mn, _mm256_mul_ps(m, _mm256_set1_ps(h2f(&b->dmin))));
}

static float dot_q4_k(const uint8_t *row, const float *x, const float *xs, int64_t nb) {
    const __m256i m4 = _mm256_set1_epi32(0xF);
    __m256 acc = _mm256_setzero_ps(), off = acc;
    float sc[8] __attribute__((aligned(32))), mn[8] __attribute__((aligned(32)));
    for (int64_t ib = 0; ib < nb; ib++) {
        const dera_block_q4_k *b = (const dera_block_q4_k *)(row + ib * 144);
        q4k_scales(b, sc, mn);
        off = _mm256_fmadd_ps(_mm256_load_ps(mn), _mm256_loadu_ps(xs + ib * 8), off);
        const float *xb = x + ib * 256;
        for (int g = 0; g < 4; g++) {
            const uint8_t *q = b->qs + 32 * g;
            const float *xg = xb + 64 * g;
            __m256i w0 = u8x8(q), w1 = u8x8(q + 8), w2 = u8x8(q + 16), w3 = u8x8(q + 24);
            __m256 lo = _mm256_mul_ps(cvt(_mm256_and_si256(w0, m4)), ld(xg));
            __m256 hi = _mm256_mul_ps(cvt(_mm256_srli_epi32(w0, 4)), ld(xg + 32));
            lo = _mm256_fmadd_ps(cvt(_mm256_and_si256(w1, m4)), ld(xg + 8), lo);
            hi = _mm256_fmadd_ps(cvt(_mm256_srli_epi32(w1, 4)), ld(xg + 40), hi);
            lo = _mm256_fmadd_ps(cvt(_mm256_and_si256(w2, m4)), ld(xg + 16), lo);
            hi = _mm256_fmadd_ps(cvt(_mm256_srli_epi32(w2, 4)), ld(xg + 48), hi);
            lo = _mm256_fmadd_ps(cvt(_mm256_and_si256(w3, m4)), ld(xg + 24), lo);
            hi = _mm256_fmadd_ps(cvt(_mm256_srli_epi32(w3, 4)), ld(xg + 56), hi);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(sc[2 * g]), lo, acc);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(sc[2 * g + 1]), hi, acc);
        }
    }
    return hsum(acc) - hsum(off);
}

// Decodes the 256 six-bit quants of a Q6_K block, minus 32, to bytes in element order (32 at a time).
static inline void q6_bytes(const dera_block_q6_k *b, int8_t *out) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), k32 = _mm256_set1_epi8(32);
    for (int h = 0; h < 2; h++) {
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
        __m256i hb = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
        __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
        __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
        __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                     _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
        int8_t *o = out + 128 * h;
        _mm256_storeu_si256((__m256i *)o, _mm256_sub_epi8(q1, k32));
        _mm256_storeu_si256((__m256i *)(o + 32), _mm256_sub_epi8(q2, k32));
        _mm256_storeu_si256((__m256i *)(o + 64), _mm256_sub_epi8(q3, k32));
        _mm256_storeu_si256((__m256i *)(o + 96), _mm256_sub_epi8(q4, k32));
    }
}

// In element order, span k of 16 elements uses scale k.
static float dot_q6_k(const uint8_t *row, const float *x, int64_t nb) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int8_t q[256] __attribute__((aligned(32)));
    float sc[16] __attribute__((aligned(32)));
    for (int64_t ib = 0; ib < nb; ib++) {
        const dera_block_q6_k *b = (const dera_block_q6_k *)(row + ib * 210);
        q6_bytes(b, q);
        __m256 d = _mm256_set1_ps(h2f(&b->d));
        _mm256_store_ps(sc, _mm256_mul_ps(d, cvt(i8x8(b->scales))));
        _mm256_store_ps(sc + 8, _mm256_mul_ps(d, cvt(i8x8(b->scales + 8))));
        const float *xb = x + ib * 256;
        for (int k = 0; k < 16; k += 2) {
            const int8_t *qk = q + 16 * k;
            const float *xk = xb + 16 * k;
            __m256 p0 = _mm256_fmadd_ps(cvt(i8x8(qk + 8)), ld(xk + 8), _mm256_mul_ps(cvt(i8x8(qk)), ld(xk)));
            __m256 p1 = _mm256_fmadd_ps(cvt(i8x8(qk + 24)), ld(xk + 24), _mm256_mul_ps(cvt(i8x8(qk + 16)), ld(xk + 16)));
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[k]), p0, a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(sc[k + 1]), p1, a1);
        }
    }
    return hsum(_mm256_add_ps(a0, a1));
}

// ---- dequantisation (scaled floats, for dequantize_row and matmat) ---------------------------------

static void deq_q8_0(const uint8_t *b, float *y) {
    __m256 d = _mm256_set1_ps(h2f(b));
    const int8_t *q = (const int8_t *)(b + 2);
    for (int k = 0; k < 32; k += 8) _mm256_storeu_ps(y + k, _mm256_mul_ps(cvt(i8x8(q + k)), d));
}

static void deq_q4_0(const uint8_t *b, float *y) {
    const __m256i m4 = _mm256_set1_epi32(0xF), k8 = _mm256_set1_epi32(8);
    __m256 d = _mm256_set1_ps(h2f(b));
    for (int k = 0; k < 16; k += 8) {
        __m256i w = u8x8(b + 2 + k);
        _mm256_storeu_ps(y + k, _mm256_mul_ps(cvt(_mm256_sub_epi32(_mm256_and_si256(w, m4), k8)), d));
        _mm256_storeu_ps(y + k + 16, _mm256_mul_ps(cvt(_mm256_sub_epi32(_mm256_srli_epi32(w, 4), k8)), d));
    }
}

static void deq_q4_1(const uint8_t *b, float *y) {
    const __m256i m4 = _mm256_set1_epi32(0xF);
    __m256 d = _mm256_set1_ps(h2f(b)), m = _mm256_set1_ps(h2f(b + 2));
    for (int k = 0; k < 16; k += 8) {
        __m256i w = u8x8(b + 4 + k);
        _mm256_storeu_ps(y + k, _mm256_fmadd_ps(cvt(_mm256_and_si256(w, m4)), d, m));
        _mm256_storeu_ps(y + k + 16, _mm256_fmadd_ps(cvt(_mm256_srli_epi32(w, 4)), d, m));
    }
}

static void deq_q5_0(const uint8_t *b, float *y) {
    const __m256i m4 = _mm256_set1_epi32(0xF), k16 = _mm256_set1_epi32(16);
    __m256 d = _mm256_set1_ps(h2f(b));
    __m256i qh = _mm256_set1_epi32((int)dera_rd32(b + 2));
    for (int k = 0; k < 16; k += 8) {
        __m256i w = u8x8(b + 6 + k);
        __m256i lo = _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(w, m4), q5_high(qh, k)), k16);
        __m256i hi = _mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(w, 4), q5_high(qh, k + 16)), k16);
        _mm256_storeu_ps(y + k, _mm256_mul_ps(cvt(lo), d));
        _mm256_storeu_ps(y + k + 16, _mm256_mul_ps(cvt(hi), d));
    }
}

static void deq_q4_k(const uint8_t *blk, float *y) {
    const dera_block_q4_k *b = (const dera_block_q4_k *)blk;
    const __m256i m4 = _mm256_set1_epi32(0xF);
    float d = h2f(&b->d), dmin = h2f(&b->dmin);
    for (int g = 0; g < 4; g++, y += 64) {
        uint8_t sc0, m0, sc1, m1;
        dera_q4k_scale_min(2 * g, b->scales, &sc0, &m0);
        dera_q4k_scale_min(2 * g + 1, b->scales, &sc1, &m1);
        __m256 d0 = _mm256_set1_ps(d * sc0), n0 = _mm256_set1_ps(dmin * m0);
        __m256 d1 = _mm256_set1_ps(d * sc1), n1 = _mm256_set1_ps(dmin * m1);
        const uint8_t *q = b->qs + 32 * g;
        for (int k = 0; k < 32; k += 8) {
            __m256i w = u8x8(q + k);
            _mm256_storeu_ps(y + k, _mm256_fmsub_ps(d0, cvt(_mm256_and_si256(w, m4)), n0));
            _mm256_storeu_ps(y + k + 32, _mm256_fmsub_ps(d1, cvt(_mm256_srli_epi32(w, 4)), n1));
        }
    }
}

static void deq_q6_k(const uint8_t *blk, float *y) {
    const dera_block_q6_k *b = (const dera_block_q6_k *)blk;
    int8_t q[256] __attribute__((aligned(32)));
    q6_bytes(b, q);
    float d = h2f(&b->d);
    for (int k = 0; k < 16; k++) { // (d * sc) * q, the same association as the scalar reference
        __m256 s = _mm256_set1_ps(d * (float)b->scales[k]);
        _mm256_storeu_ps(y + 16 * k, _mm256_mul_ps(s, cvt(i8x8(q + 16 * k))));
        _mm256_storeu_ps(y + 16 * k + 8, _mm256_mul_ps(s, cvt(i8x8(q + 16 * k + 8))));
    }
}

// Dequantises elements [i, i + len) of a row into y; i and len are multiples of the block length.
static void deq_range(uint32_t type, const uint8_t *row, int64_t i, int64_t len, float *y) {
    switch (type) {
    case DERA_F32: memcpy(y, row + 4 * i, (size_t)len * 4); return;
    case DERA_F16: {
        int64_t j = 0;
        for (; j + 8 <= len; j += 8) _mm256_storeu_ps(y + j, f16x8(row + 2 * (i + j)));
        for (; j < len; j++) y[j] = h2f(row + 2 * (i + j));
        return;
    }
    case DERA_BF16: {
        int64_t j = 0;
        for (; j + 8 <= len; j += 8) _mm256_storeu_ps(y + j, bf16x8(row + 2 * (i + j)));
        for (; j < len; j++) y[j] = dera_bf2f(dera_rd16(row + 2 * (i + j)));
        return;
    }
    case DERA_Q4_0: for (int64_t j = 0; j < len; j += 32) deq_q4_0(row + (i + j) / 32 * 18, y + j); return;
    case DERA_Q4_1: for (int64_t j = 0; j < len; j += 32) deq_q4_1(row + (i + j) / 32 * 20, y + j); return;
    case DERA_Q5_0: for (int64_t j = 0; j < len; j += 32) deq_q5_0(row + (i + j) / 32 * 22, y + j); return;
    case DERA_Q8_0: for (int64_t j = 0; j < len; j += 32) deq_q8_0(row + (i + j) / 32 * 34, y + j); return;
    case DERA_Q4_K: for (int64_t j = 0; j < len; j += 256) deq_q4_k(row + (i + j) / 256 * 144, y + j); return;
    case DERA_Q6_K: for (int64_t j = 0; j < len; j += 256) deq_q6_k(row + (i + j) / 256 * 210, y + j); return;
    default: return;
    }
}

// ---- entry points ------------------------------------------------------------------------------------

void dera_deq_range_avx2(uint32_t type, const uint8_t *row, int64_t i, int64_t len, float *y) {
    deq_range(type, row, i, len, y);
}

void dera_dequantize_row_avx2(uint32_t type, const void *src, float *dst, int64_t n) {
    deq_range(type, (const uint8_t *)src, 0, n, dst);
}

static int needs_span_sums(uint32_t type) {
    return type == DERA_Q4_0 || type == DERA_Q4_1 || type == DERA_Q5_0 || type == DERA_Q4_K;
}

// Dot of one row; xs = 32-element span sums of x when the type needs them.
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

enum { XS_STACK = 2048 }; // span sums for rows up to 65536 elements live on the stack

void dera_matvec_avx2(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                      int64_t row_begin, int64_t row_end, int64_t n) {
    const uint8_t *base = (const uint8_t *)w;
    float xs_stack[XS_STACK];
    float *xs = NULL;
    if (needs_span_sums(type)) {
        xs = n / 32 <= XS_STACK ? xs_stack : (float *)malloc((size_t)(n / 32) * sizeof(float));
        if (!xs) { dera_matvec_scalar(type, w, row_bytes, x, y, row_begin, row_end, n); return; }
        span_sums(x, n, 32, xs);
    }
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        if (r + 1 < row_end) _mm_prefetch((const char *)(row + row_bytes), _MM_HINT_T0);
        y[r] = dot_any(type, row, x, xs, n);
    }
    if (xs && xs != xs_stack) free(xs);
}

float dera_dot_row_avx2(uint32_t type, const void *row, const float *x, int64_t n) {
    float y;
    dera_matvec_avx2(type, row, 0, x, &y, 0, 1, n);
    return y;
}

// Dequantises a segment of a row once into an L1-sized buffer, then dots it with every vector.
enum { SEG = 4096 };

static inline void seg_dot4(const float *buf, int64_t len, const float *x0, const float *x1, const float *x2,
                            const float *x3, float out[4]) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t j = 0;
    for (; j + 8 <= len; j += 8) {
        __m256 wv = ld(buf + j);
        a0 = _mm256_fmadd_ps(wv, ld(x0 + j), a0);
        a1 = _mm256_fmadd_ps(wv, ld(x1 + j), a1);
        a2 = _mm256_fmadd_ps(wv, ld(x2 + j), a2);
        a3 = _mm256_fmadd_ps(wv, ld(x3 + j), a3);
    }
    out[0] = hsum(a0); out[1] = hsum(a1); out[2] = hsum(a2); out[3] = hsum(a3);
    for (; j < len; j++) {
        out[0] += buf[j] * x0[j]; out[1] += buf[j] * x1[j];
        out[2] += buf[j] * x2[j]; out[3] += buf[j] * x3[j];
    }
}

static inline float seg_dot1(const float *buf, int64_t len, const float *x0) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t j = 0;
    for (; j + 16 <= len; j += 16) {
        a0 = _mm256_fmadd_ps(ld(buf + j), ld(x0 + j), a0);
        a1 = _mm256_fmadd_ps(ld(buf + j + 8), ld(x0 + j + 8), a1);
    }
    for (; j + 8 <= len; j += 8) a0 = _mm256_fmadd_ps(ld(buf + j), ld(x0 + j), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; j < len; j++) s += buf[j] * x0[j];
    return s;
}

static void matmat_segments(uint32_t type, const uint8_t *base, size_t row_bytes, const float *x, int64_t n_vec,
                            float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    float buf[SEG] __attribute__((aligned(32)));
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int64_t i = 0; i < n; i += SEG) {
            int64_t len = n - i < SEG ? n - i : SEG; // SEG is a multiple of every block length
            deq_range(type, row, i, len, buf);
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

// Register-blocked tile: one block (or 256-element chunk of a plain row) is dequantised into a small L1 buffer,
// then every 16 weights are loaded once into two registers and multiplied into G vectors' accumulators
// (two per vector, so the FMA chains are short enough to keep both FMA units busy).
static inline __attribute__((always_inline)) void mm_tile(uint32_t type, const uint8_t *row, const float *x, int64_t n,
                                                          float *out, const int G) {
    __m256 a[4], b[4];
    float buf[256] __attribute__((aligned(32)));
    for (int v = 0; v < G; v++) a[v] = b[v] = _mm256_setzero_ps();
    const int64_t chunk = 256; // the last chunk may be short: still whole blocks (or 16-element groups)
    for (int64_t c = 0; c < n; c += chunk) {
        int64_t len = n - c < chunk ? n - c : chunk;
        deq_range(type, row, c, len, buf);
        for (int64_t j = 0; j < len; j += 16) {
            __m256 w0 = _mm256_load_ps(buf + j), w1 = _mm256_load_ps(buf + j + 8);
            for (int v = 0; v < G; v++) {
                a[v] = _mm256_fmadd_ps(w0, ld(x + v * n + c + j), a[v]);
                b[v] = _mm256_fmadd_ps(w1, ld(x + v * n + c + j + 8), b[v]);
            }
        }
    }
    for (int v = 0; v < G; v++) out[v] = hsum(_mm256_add_ps(a[v], b[v]));
}

void dera_matmat_avx2(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                      float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    const uint8_t *base = (const uint8_t *)w;
    if (n % 16 != 0) { // only plain types can have ragged rows
        matmat_segments(type, base, row_bytes, x, n_vec, y, rows, row_begin, row_end, n);
        return;
    }
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int64_t v0 = 0; v0 < n_vec; v0 += 4) {
            int g = n_vec - v0 < 4 ? (int)(n_vec - v0) : 4;
            const float *xv = x + v0 * n;
            float out[4];
            switch (g) {
            case 4: mm_tile(type, row, xv, n, out, 4); break;
            case 3: mm_tile(type, row, xv, n, out, 3); break;
            case 2: mm_tile(type, row, xv, n, out, 2); break;
            default: mm_tile(type, row, xv, n, out, 1); break;
            }
            for (int v = 0; v < g; v++) y[(v0 + v) * rows + r] = out[v];
        }
    }
}

void dera_f16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, f16x8((const uint8_t *)(src + i)));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

void dera_f32_to_f16_avx2(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(ld(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

#pragma clang attribute pop

#endif
