// Prompt-sized products with 8-bit activations (AVX-512 VNNI): tiles of 16 weight rows x up to 8 activation
// rows. A tile's weights are unpacked once into bytes, rows interleaved four bytes at a time (16 rows x 4
// consecutive elements = one 512-bit register), and then meet every activation row of the call: one vpdpbusd
// takes one register of weights and four bytes of one activation row broadcast from memory, and adds 16 rows'
// products of those four elements into 16 int32 lanes, one lane per weight row.
//
// Results are bit-identical to the one-row kernels (dot_row in kernels_q8.c): every block's integer sum is
// exact whatever the grouping, and each (row, vector) pair then meets the same float statements in the same
// order (lane r of a register is row r): Q5_0 sum += (d_w * d_x) * s without contraction; Q4_K and Q6_K
// d = d_x * d_w, sum = fma(d, sumi, sum), mins = fma(dmin, summ, mins), result sum + mins.
#include "kernels_internal.h"
#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <cpuid.h>

#define TILE __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define TILE_INLINE TILE static inline __attribute__((always_inline))
#define TILE_ROWS 16
#define TILE_VECTORS 8

// Batches of fewer activation rows keep the four-row kernels: unpacking a tile costs about what those kernels
// spend on two to four vectors (896 x 4864 on one core, 2026-12-01, Zen 5: 4 vectors Q5_0 0.26 ms tiled against
// 0.45 ms, Q4_K 0.24 against 0.27, Q6_K 0.25 against 0.31; 2 vectors Q4_K 0.22 against 0.16).
#ifndef TILE_MIN_VECTORS
#define TILE_MIN_VECTORS 4
#endif
// Zen 4 (AMD family 0x19, the only one of that family with AVX-512) runs 512-bit work on 256-bit units, and the
// K-quant tiles' unpacking then costs more than the four-row kernels spend on up to about 12 vectors (one core,
// medians of 5, 2026-12-02: Q4_K 1536 x 8960 at 4 / 8 / 12 vectors 2.07 / 2.61 / 2.91 ms tiled against 0.91 /
// 1.83 / 2.76; Q6_K 8960 x 1536 3.20 / 3.81 / 3.87 against 1.59 / 3.45 / 4.63). Q5_0 tiles win from 4 there too
// (0.62 against 0.66 ms at 4 vectors, 0.69 against 1.38 at 8). DERA_Q8_TILE_MIN=N sets the K-quant threshold.
#define TILE_MIN_VECTORS_HALF_WIDTH 12

// From cpuid itself: __builtin_cpu_is("znver4") reads 0 on a family 19h model 11h (Genoa) with this toolchain.
static int is_amd_family_19h(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541u) return 0;  // "AuthenticAMD"
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned int family = ((a >> 8) & 0xf) + ((a >> 20) & 0xff);
    return family == 0x19;
}

// The fewest activation rows for which K-quant products take tiles.
static int64_t k_tile_min_vectors(void) {
    static int64_t cached = -1;
    int64_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = is_amd_family_19h() ? TILE_MIN_VECTORS_HALF_WIDTH : TILE_MIN_VECTORS;
        const char *env = getenv("DERA_Q8_TILE_MIN");
        if (env && atoi(env) > 0) v = atoi(env);
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

static int tiles_enabled(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = dera_have_avx512vnni();
        const char *env = getenv("DERA_Q8_TILES");
        if (env && env[0] == '0') v = 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v && dera_q8_kernel_level() >= 2;
}

// 16 rows of 16 dwords (row i at src + i * stride) -> out[k] holding dword k of every row.
TILE_INLINE void transpose16_regs(const uint8_t *src, size_t stride, __m512i out[16]) {
    __m512i r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512((const void *)(src + i * stride));
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // u[4i + c], 128-bit lane L: rows 4i..4i+3 of dword 4L + c.
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        const __m512i p0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), p1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
        const __m512i q0 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        const __m512i q1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
        out[c] = _mm512_shuffle_i32x4(p0, q0, 0x88);
        out[4 + c] = _mm512_shuffle_i32x4(p0, q0, 0xDD);
        out[8 + c] = _mm512_shuffle_i32x4(p1, q1, 0x88);
        out[12 + c] = _mm512_shuffle_i32x4(p1, q1, 0xDD);
    }
}

// The same, stored as 16 consecutive registers at dst.
TILE_INLINE void transpose16(const uint8_t *src, size_t stride, uint8_t *dst) {
    __m512i out[16];
    transpose16_regs(src, stride, out);
    for (int k = 0; k < 16; k++) _mm512_store_si512((void *)(dst + 64 * k), out[k]);
}

// A full tile of Q4_K rows straight from the weights: each 64 packed bytes (two 32-byte groups g, g + 1) of the
// 16 rows are transposed as dwords first, then split into nibbles, which lands every element where
// interleave_rows would put it (dword k of group g holds elements 64g + 4k.. low and 64g + 32 + 4k.. high).
TILE_INLINE void q4_k_interleave_direct(const uint8_t *w, size_t rb, int64_t nb, uint8_t *q) {
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int64_t b = 0; b < nb; b++) {
        for (int half = 0; half < 2; half++) {
            __m512i d[16];
            transpose16_regs(w + 144 * b + 16 + 64 * half, rb, d);
            for (int gg = 0; gg < 2; gg++) {
                const int g = 2 * half + gg;
                uint8_t *dst = q + 4096 * b + 64 * 16 * g;
                for (int k = 0; k < 8; k++) {
                    _mm512_store_si512((void *)(dst + 64 * k), _mm512_and_si512(d[8 * gg + k], m4));
                    _mm512_store_si512((void *)(dst + 64 * (8 + k)), _mm512_and_si512(_mm512_srli_epi16(d[8 * gg + k], 4), m4));
                }
            }
        }
    }
}

// Unpacked rows (`bytes` per row, a multiple of 64, `stride` apart) -> the interleaved layout: for every 4
// consecutive elements, 64 bytes holding them for rows 0..15.
TILE_INLINE void interleave_rows(const uint8_t *rows, size_t stride, int64_t bytes, uint8_t *dst) {
    for (int64_t c = 0; c < bytes; c += 64) transpose16(rows + c, stride, dst + 16 * c);
}

// ---- weight unpacking: one row's elements as unsigned bytes, in element order --------------------------

// Q5_0 block -> 32 values 0..31 (stored value + 16).
TILE_INLINE __m256i q5_0_bytes(const uint8_t *blk) {
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i bitmask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    __m256i bits = _mm256_shuffle_epi8(_mm256_set1_epi32((int)dera_rd32(blk + 2)), shuffle);
    bits = _mm256_cmpeq_epi8(_mm256_or_si256(bits, bitmask), _mm256_set1_epi64x(-1));
    const __m128i packed = _mm_loadu_si128((const __m128i *)(blk + 6));
    const __m256i nib = _mm256_and_si256(
        _mm256_inserti128_si256(_mm256_castsi128_si256(packed), _mm_srli_epi16(packed, 4), 1), _mm256_set1_epi8(15));
    return _mm256_or_si256(nib, _mm256_and_si256(bits, _mm256_set1_epi8(16)));
}

// Q4_K super-block -> 256 values 0..15.
TILE_INLINE void q4_k_bytes(const uint8_t *blk, uint8_t *out) {
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int g = 0; g < 4; g++) {
        const __m256i bytes = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * g));
        _mm256_storeu_si256((__m256i *)(out + 64 * g), _mm256_and_si256(bytes, m4));
        _mm256_storeu_si256((__m256i *)(out + 64 * g + 32), _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4));
    }
}

// Q6_K super-block -> 256 values 0..63 (stored value + 32).
TILE_INLINE void q6_k_bytes(const uint8_t *blk, uint8_t *out) {
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = blk + 64 * half, *qh = blk + 128 + 32 * half;
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        uint8_t *o = out + 128 * half;
        _mm256_storeu_si256((__m256i *)o,
                            _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4)));
        _mm256_storeu_si256((__m256i *)(o + 32),
                            _mm256_or_si256(_mm256_and_si256(l1, m4),
                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4)));
        _mm256_storeu_si256((__m256i *)(o + 64),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4)));
        _mm256_storeu_si256((__m256i *)(o + 96),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4)));
    }
}

// ---- one tile of 16 weight rows, unpacked ------------------------------------------------------------

typedef struct {
    uint8_t *q;       // interleaved bytes: 64 per 4 elements
    float *d;         // per block (Q5_0) or super-block (K): 16 row scales
    float *dmin;      // Q4_K: 16 row minimum scales per super-block
    int32_t *sc;      // K: per sub-block (8 for Q4_K, 16 for Q6_K) and super-block, 16 row scales
    int32_t *pairs;   // Q4_K: mins, Q6_K: scales, as int16 pairs per super-block (4 and 8 registers)
    uint8_t *rows;    // unpacked rows before interleaving: 16 x row_span bytes
    int64_t row_span; // bytes per unpacked row (elements rounded up to 64)
} tile_t;

// Unpacks rows [0, count) of a tile (count <= 16; missing rows are zero and their outputs are not stored).
TILE static void unpack_tile(uint32_t type, const uint8_t *w, size_t rb, int count, int64_t n, tile_t *t) {
    const int64_t span = t->row_span;
    if (type == DERA_Q5_0) {
        const int64_t nb = n / 32;
        for (int r = 0; r < TILE_ROWS; r++) {
            uint8_t *out = t->rows + r * span;
            if (r >= count) {
                memset(out, 0, (size_t)span);
                for (int64_t b = 0; b < nb; b++) t->d[b * 16 + r] = 0;
                continue;
            }
            const uint8_t *row = w + r * rb;
            for (int64_t b = 0; b < nb; b++) {
                _mm256_storeu_si256((__m256i *)(out + 32 * b), q5_0_bytes(row + 22 * b));
                t->d[b * 16 + r] = dera_h2f(dera_rd16(row + 22 * b));
            }
            if (span > 32 * nb) memset(out + 32 * nb, 0, (size_t)(span - 32 * nb));
        }
    } else {
        const int64_t nb = n / 256;
        const size_t bb = type == DERA_Q4_K ? 144 : 210;
        for (int r = 0; r < TILE_ROWS; r++) {
            uint8_t *out = t->rows + r * span;
            for (int64_t b = 0; b < nb; b++) {
                if (r >= count) {
                    memset(out + 256 * b, 0, 256);
                    t->d[b * 16 + r] = 0;
                    if (type == DERA_Q4_K) {
                        t->dmin[b * 16 + r] = 0;
                        for (int j = 0; j < 8; j++) t->sc[(b * 8 + j) * 16 + r] = 0;
                        for (int i = 0; i < 4; i++) t->pairs[(b * 4 + i) * 16 + r] = 0;
                    } else {
                        for (int j = 0; j < 16; j++) t->sc[(b * 16 + j) * 16 + r] = 0;
                        for (int i = 0; i < 8; i++) t->pairs[(b * 8 + i) * 16 + r] = 0;
                    }
                    continue;
                }
                const uint8_t *blk = w + r * rb + bb * b;
                if (type == DERA_Q4_K) {
                    if (count < TILE_ROWS) q4_k_bytes(blk, out + 256 * b);
                    t->d[b * 16 + r] = dera_h2f(dera_rd16(blk));
                    t->dmin[b * 16 + r] = dera_h2f(dera_rd16(blk + 2));
                    // The 8 six-bit scales and mins from three words at once (dera_q4k_scale_min for every j).
                    const uint32_t u0 = dera_rd32(blk + 4), u1 = dera_rd32(blk + 8), u2 = dera_rd32(blk + 12);
                    const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
                    const uint32_t scales[2] = {u0 & lo6, (u2 & lo4) | (((u0 >> 6) & lo2) << 4)};
                    const uint32_t mins[2] = {u1 & lo6, ((u2 >> 4) & lo4) | (((u1 >> 6) & lo2) << 4)};
                    for (int j = 0; j < 8; j++) t->sc[(b * 8 + j) * 16 + r] = (int32_t)((scales[j / 4] >> (8 * (j % 4))) & 0xff);
                    for (int i = 0; i < 4; i++) {
                        const uint32_t word = mins[i / 2] >> (16 * (i % 2));
                        t->pairs[(b * 4 + i) * 16 + r] = (int32_t)((word & 0xff) | ((word & 0xff00) << 8));
                    }
                } else {
                    q6_k_bytes(blk, out + 256 * b);
                    t->d[b * 16 + r] = dera_h2f(dera_rd16(blk + 208));
                    const int8_t *sc = (const int8_t *)(blk + 192);
                    for (int j = 0; j < 16; j++) t->sc[(b * 16 + j) * 16 + r] = sc[j];
                    for (int i = 0; i < 8; i++)
                        t->pairs[(b * 8 + i) * 16 + r] =
                            (int32_t)((uint32_t)(uint16_t)(int16_t)sc[2 * i] | ((uint32_t)(uint16_t)(int16_t)sc[2 * i + 1] << 16));
                }
            }
        }
    }
    if (type == DERA_Q4_K && count == TILE_ROWS)
        q4_k_interleave_direct(w, rb, n / 256, t->q);
    else
        interleave_rows(t->rows, (size_t)span, span, t->q);
}

// ---- micro-kernels: one tile against NV activation rows -------------------------------------------------

#define BCAST32(p) _mm512_set1_epi32((int)dera_rd32(p))

// Q5_0 weights, Q8_0 activations with their block sums (dera_q8_0_aux): (u - 16) . x = u . x - 16 sum(x), the
// second term starting each block's accumulator.
TILE_INLINE void q5_0_micro(const tile_t *t, int64_t nb, const uint8_t *x, size_t xs, size_t aux_at, int nv,
                            float *y, int64_t rows, __mmask16 mask) {
#pragma clang fp contract(off)
    __m512 sum[TILE_VECTORS];
    const dera_q8_0_aux *aux[TILE_VECTORS];
    for (int v = 0; v < nv; v++) {
        sum[v] = _mm512_setzero_ps();
        aux[v] = (const dera_q8_0_aux *)(x + v * xs + aux_at);
    }
    for (int64_t b = 0; b < nb; b++) {
        __m512i acc[TILE_VECTORS];
        for (int v = 0; v < nv; v++) acc[v] = _mm512_set1_epi32(-16 * aux[v][b].sum);
        const uint8_t *xb = x + 34 * b + 2;
        const uint8_t *wq = t->q + 512 * b;
        for (int k = 0; k < 8; k++) {
            const __m512i wv = _mm512_load_si512((const void *)(wq + 64 * k));
            for (int v = 0; v < nv; v++) acc[v] = _mm512_dpbusd_epi32(acc[v], wv, BCAST32(xb + v * xs + 4 * k));
        }
        const __m512 dw = _mm512_load_ps(t->d + 16 * b);
        for (int v = 0; v < nv; v++) {
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(aux[v][b].d));
            sum[v] = _mm512_add_ps(sum[v], _mm512_mul_ps(dd, _mm512_cvtepi32_ps(acc[v])));
        }
    }
    for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(y + v * rows, mask, sum[v]);
}

// Q4_K weights, Q8_K activations: sumi = sum_j sc_j (q_j . x_j) per 32-element sub-block, summ = sum_j m_j
// (bsums[2j] + bsums[2j + 1]), both exact.
TILE_INLINE void q4_k_micro(const tile_t *t, int64_t nb, const uint8_t *x, size_t xs, int nv, float *y,
                            int64_t rows, __mmask16 mask) {
    __m512 fsum[TILE_VECTORS], fmin[TILE_VECTORS];
    for (int v = 0; v < nv; v++) fsum[v] = fmin[v] = _mm512_setzero_ps();
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *xb = x + 292 * b;
        const uint8_t *wq = t->q + 4096 * b;
        __m512i isum[TILE_VECTORS];
        for (int j = 0; j < 8; j++) {
            __m512i part[TILE_VECTORS];
            for (int v = 0; v < nv; v++) part[v] = _mm512_setzero_si512();
            for (int k = 0; k < 8; k++) {
                const __m512i wv = _mm512_load_si512((const void *)(wq + 64 * (8 * j + k)));
                for (int v = 0; v < nv; v++)
                    part[v] = _mm512_dpbusd_epi32(part[v], wv, BCAST32(xb + v * xs + 4 + 32 * j + 4 * k));
            }
            const __m512i sc = _mm512_load_si512((const void *)(t->sc + (b * 8 + j) * 16));
            for (int v = 0; v < nv; v++) {
                const __m512i scaled = _mm512_mullo_epi32(part[v], sc);
                isum[v] = j == 0 ? scaled : _mm512_add_epi32(isum[v], scaled);
            }
        }
        const __m512 dw = _mm512_load_ps(t->d + 16 * b), dm = _mm512_load_ps(t->dmin + 16 * b);
        for (int v = 0; v < nv; v++) {
            const uint8_t *a = xb + v * xs;
            // Sums of the 8 sub-blocks as int16 pairs (j, j + 1) per dword.
            const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 260)), ones16);
            const __m128i bp = _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            __m512i mm = _mm512_setzero_si512();
            mm = _mm512_dpwssd_epi32(mm, _mm512_load_si512((const void *)(t->pairs + (b * 4) * 16)),
                                     _mm512_set1_epi32(_mm_extract_epi32(bp, 0)));
            mm = _mm512_dpwssd_epi32(mm, _mm512_load_si512((const void *)(t->pairs + (b * 4 + 1) * 16)),
                                     _mm512_set1_epi32(_mm_extract_epi32(bp, 1)));
            mm = _mm512_dpwssd_epi32(mm, _mm512_load_si512((const void *)(t->pairs + (b * 4 + 2) * 16)),
                                     _mm512_set1_epi32(_mm_extract_epi32(bp, 2)));
            mm = _mm512_dpwssd_epi32(mm, _mm512_load_si512((const void *)(t->pairs + (b * 4 + 3) * 16)),
                                     _mm512_set1_epi32(_mm_extract_epi32(bp, 3)));
            float xd;
            memcpy(&xd, a, 4);
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(xd), dw);
            const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(-xd), dm);
            fsum[v] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum[v]), fsum[v]);
            fmin[v] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(mm), fmin[v]);
        }
    }
    for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(y + v * rows, mask, _mm512_add_ps(fsum[v], fmin[v]));
}

// Q6_K weights, Q8_K activations: sumi = sum_g sc_g (u_g . x_g) - 32 sum_g sc_g bsums[g] over 16-element
// groups, with u = q + 32 in 0..63; both terms exact.
TILE_INLINE void q6_k_micro(const tile_t *t, int64_t nb, const uint8_t *x, size_t xs, int nv, float *y,
                            int64_t rows, __mmask16 mask) {
    __m512 fsum[TILE_VECTORS];
    for (int v = 0; v < nv; v++) fsum[v] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *xb = x + 292 * b;
        const uint8_t *wq = t->q + 4096 * b;
        __m512i isum[TILE_VECTORS];
        for (int g = 0; g < 16; g++) {
            __m512i part[TILE_VECTORS];
            for (int v = 0; v < nv; v++) part[v] = _mm512_setzero_si512();
            for (int k = 0; k < 4; k++) {
                const __m512i wv = _mm512_load_si512((const void *)(wq + 64 * (4 * g + k)));
                for (int v = 0; v < nv; v++)
                    part[v] = _mm512_dpbusd_epi32(part[v], wv, BCAST32(xb + v * xs + 4 + 16 * g + 4 * k));
            }
            const __m512i sc = _mm512_load_si512((const void *)(t->sc + (b * 16 + g) * 16));
            for (int v = 0; v < nv; v++) {
                const __m512i scaled = _mm512_mullo_epi32(part[v], sc);
                isum[v] = g == 0 ? scaled : _mm512_add_epi32(isum[v], scaled);
            }
        }
        const __m512 dw = _mm512_load_ps(t->d + 16 * b);
        for (int v = 0; v < nv; v++) {
            const uint8_t *a = xb + v * xs;
            __m512i corr = _mm512_setzero_si512();
            for (int i = 0; i < 8; i++)
                corr = _mm512_dpwssd_epi32(corr, _mm512_load_si512((const void *)(t->pairs + (b * 8 + i) * 16)),
                                           BCAST32(a + 260 + 4 * i));
            const __m512i sumi = _mm512_sub_epi32(isum[v], _mm512_slli_epi32(corr, 5));
            float xd;
            memcpy(&xd, a, 4);
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(xd), dw);
            fsum[v] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), fsum[v]);
        }
    }
    for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(y + v * rows, mask, fsum[v]);
}

// One instance per vector count, so every loop over vectors unrolls into registers.
#define MICRO_INSTANCES(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8)
#define Q5_0_INSTANCE(NV)                                                                                    \
    TILE static void q5_0_micro_##NV(const tile_t *t, int64_t nb, const uint8_t *x, size_t xs, size_t aux_at, \
                                     float *y, int64_t rows, __mmask16 mask) {                              \
        q5_0_micro(t, nb, x, xs, aux_at, NV, y, rows, mask);                                                 \
    }
#define Q4_K_INSTANCE(NV)                                                                                    \
    TILE static void q4_k_micro_##NV(const tile_t *t, int64_t nb, const uint8_t *x, size_t xs, float *y,     \
                                     int64_t rows, __mmask16 mask) {                                         \
        q4_k_micro(t, nb, x, xs, NV, y, rows, mask);                                                         \
    }
#define Q6_K_INSTANCE(NV)                                                                                    \
    TILE static void q6_k_micro_##NV(const tile_t *t, int64_t nb, const uint8_t *x, size_t xs, float *y,     \
                                     int64_t rows, __mmask16 mask) {                                         \
        q6_k_micro(t, nb, x, xs, NV, y, rows, mask);                                                         \
    }
MICRO_INSTANCES(Q5_0_INSTANCE)
MICRO_INSTANCES(Q4_K_INSTANCE)
MICRO_INSTANCES(Q6_K_INSTANCE)

typedef void (*q5_0_micro_fn)(const tile_t *, int64_t, const uint8_t *, size_t, size_t, float *, int64_t, __mmask16);
typedef void (*k_micro_fn)(const tile_t *, int64_t, const uint8_t *, size_t, float *, int64_t, __mmask16);
static const q5_0_micro_fn q5_0_micros[TILE_VECTORS + 1] = {
    NULL, q5_0_micro_1, q5_0_micro_2, q5_0_micro_3, q5_0_micro_4, q5_0_micro_5, q5_0_micro_6, q5_0_micro_7, q5_0_micro_8};
static const k_micro_fn q4_k_micros[TILE_VECTORS + 1] = {
    NULL, q4_k_micro_1, q4_k_micro_2, q4_k_micro_3, q4_k_micro_4, q4_k_micro_5, q4_k_micro_6, q4_k_micro_7, q4_k_micro_8};
static const k_micro_fn q6_k_micros[TILE_VECTORS + 1] = {
    NULL, q6_k_micro_1, q6_k_micro_2, q6_k_micro_3, q6_k_micro_4, q6_k_micro_5, q6_k_micro_6, q6_k_micro_7, q6_k_micro_8};

static size_t round64(size_t v) { return (v + 63) & ~(size_t)63; }

int dera_q8_tiles_matmat(uint32_t type, const void *w, size_t row_bytes, const void *xq, size_t xq_stride,
                         int64_t n_vec, float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    if (n_vec < TILE_MIN_VECTORS || row_end <= row_begin || !tiles_enabled()) return 0;
    if (type != DERA_Q5_0 && type != DERA_Q4_K && type != DERA_Q6_K) return 0;
    if (type != DERA_Q5_0 && n_vec < k_tile_min_vectors()) return 0;
    const int64_t bl = type == DERA_Q5_0 ? 32 : 256, nb = n / bl;
    if (nb <= 0 || nb * bl != n) return 0;
    const int64_t span = (int64_t)round64((size_t)n);
    // Scales per block (Q5_0) or super-block: d, dmin, 16 sub-block scales, 8 pairs; 16 rows each.
    const int64_t per_block = type == DERA_Q5_0 ? 1 : (1 + 1 + 16 + 8);
    const size_t q_bytes = (size_t)span * TILE_ROWS, rows_bytes = (size_t)span * TILE_ROWS;
    const size_t s_bytes = round64((size_t)(nb * per_block * TILE_ROWS * 4));
    uint8_t *mem = aligned_alloc(64, q_bytes + rows_bytes + s_bytes);
    if (!mem) return 0;
    tile_t t = {.q = mem, .rows = mem + q_bytes, .row_span = span};
    float *scales = (float *)(mem + q_bytes + rows_bytes);
    t.d = scales;
    if (type != DERA_Q5_0) {
        t.dmin = scales + nb * 16;
        t.sc = (int32_t *)(scales + 2 * nb * 16);
        t.pairs = t.sc + nb * 16 * 16;
    }
    const uint8_t *x = xq;
    const size_t aux_at = dera_q8_0_aux_offset(nb);
    for (int64_t r0 = row_begin; r0 < row_end; r0 += TILE_ROWS) {
        const int count = row_end - r0 < TILE_ROWS ? (int)(row_end - r0) : TILE_ROWS;
        unpack_tile(type, (const uint8_t *)w + r0 * row_bytes, row_bytes, count, n, &t);
        // The next tile's weights (the 16 x row_bytes bytes after this tile's) start on their way from memory
        // in address order while this one meets the activations: unpacking reads 16 rows side by side, which
        // the hardware prefetcher alone serves at a fraction of one linear stream (kernels_q8.c, X4_PREFETCH).
        const int64_t next = r0 + TILE_ROWS, next_rows = row_end - next < TILE_ROWS ? row_end - next : TILE_ROWS;
        if (next_rows > 0) {
            const size_t bytes = (size_t)next_rows * row_bytes;
            dera_prefetch_span((const uint8_t *)w + next * row_bytes, bytes, bytes <= 16384);
        }
        const __mmask16 mask = (__mmask16)((1u << count) - 1);
        for (int64_t v0 = 0; v0 < n_vec; v0 += TILE_VECTORS) {
            const int nv = n_vec - v0 < TILE_VECTORS ? (int)(n_vec - v0) : TILE_VECTORS;
            const uint8_t *xv = x + v0 * xq_stride;
            float *yv = y + v0 * rows + r0;
            switch (type) {
            case DERA_Q5_0: q5_0_micros[nv](&t, nb, xv, xq_stride, aux_at, yv, rows, mask); break;
            case DERA_Q4_K: q4_k_micros[nv](&t, nb, xv, xq_stride, yv, rows, mask); break;
            default: q6_k_micros[nv](&t, nb, xv, xq_stride, yv, rows, mask); break;
            }
        }
    }
    free(mem);
    return 1;
}

#else
int dera_q8_tiles_matmat(uint32_t type, const void *w, size_t row_bytes, const void *xq, size_t xq_stride,
                         int64_t n_vec, float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    (void)type; (void)w; (void)row_bytes; (void)xq; (void)xq_stride; (void)n_vec; (void)y; (void)rows;
    (void)row_begin; (void)row_end; (void)n;
    return 0;
}
#endif
