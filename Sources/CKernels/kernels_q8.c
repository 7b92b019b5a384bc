// 8-bit activation path, mirroring ggml's CPU arithmetic: activations quantised per block, integer block
// dot products, one float scale per block. Scalar code everywhere, AVX2 for the hottest types.
#include "CKernels.h"
#include "kernels_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14, T_BF16 = 30 };

typedef struct { uint16_t d; int8_t q[32]; } q8_0_block;               // 34 bytes
typedef struct { uint16_t d; uint16_t s; int8_t q[32]; } q8_1_block;   // 36 bytes
typedef struct { float d; int8_t q[256]; int16_t bsums[16]; } q8_k_block;  // 292 bytes

static inline float h2f(uint16_t h) {
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}

static inline uint16_t f2h(float f) {
    _Float16 v = (_Float16)f;
    uint16_t h;
    memcpy(&h, &v, 2);
    return h;
}

static inline uint16_t f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);  // quiet NaN
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

static inline float bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

// Which activation encoding each weight type pairs with.
enum { A_F32, A_F16, A_BF16, A_Q8_0, A_Q8_1, A_Q8_K, A_NONE };

static int activation_kind(uint32_t type) {
    switch (type) {
    case T_F32: return A_F32;
    case T_F16: return A_F16;
    case T_BF16: return A_BF16;
    case T_Q4_0: case T_Q5_0: case T_Q8_0: return A_Q8_0;
    case T_Q4_1: return A_Q8_1;
    case T_Q4_K: case T_Q6_K: return A_Q8_K;
    default: return A_NONE;
    }
}

size_t dera_q8_row_bytes(uint32_t weight_type, int64_t n) {
    switch (activation_kind(weight_type)) {
    case A_F32: return (size_t)n * 4;
    case A_F16: case A_BF16: return (size_t)n * 2;
    case A_Q8_0: return dera_q8_0_aux_offset(n / 32) + (size_t)(n / 32) * sizeof(dera_q8_0_aux);
    case A_Q8_1: return (size_t)(n / 32) * sizeof(q8_1_block);
    case A_Q8_K: return (size_t)(n / 256) * sizeof(q8_k_block);
    default: return 0;
    }
}

// ggml's x86 quantiser: scale 127 / max|x|, round half to even.
static void quantize_q8_0(const float *x, q8_0_block *y, int64_t n) {
    dera_q8_0_aux *aux = (dera_q8_0_aux *)((uint8_t *)y + dera_q8_0_aux_offset(n / 32));
    for (int64_t b = 0; b < n / 32; b++) {
        const float *v = x + b * 32;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
        const float d = amax / 127.f;
        const float id = amax != 0 ? 127.f / amax : 0.f;
        y[b].d = f2h(d);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[b].q[j] = (int8_t)nearbyintf(v[j] * id);
            sum += y[b].q[j];
        }
        aux[b].d = h2f(y[b].d);
        aux[b].sum = sum;
    }
}

static void quantize_q8_1(const float *x, q8_1_block *y, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++) {
        const float *v = x + b * 32;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
        const float d = amax / 127.f;
        const float id = amax != 0 ? 127.f / amax : 0.f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[b].q[j] = (int8_t)nearbyintf(v[j] * id);
            sum += y[b].q[j];
        }
        y[b].d = f2h(d);
        y[b].s = f2h(d * (float)sum);
    }
}

// ggml's Q8_K: the signed value of largest magnitude maps to -127, d = 1 / scale.
static void quantize_q8_k(const float *x, q8_k_block *y, int64_t n) {
    for (int64_t b = 0; b < n / 256; b++) {
        const float *v = x + b * 256;
        float amax = 0, max = 0;
        for (int j = 0; j < 256; j++) {
            float a = fabsf(v[j]);
            if (a > amax) { amax = a; max = v[j]; }
        }
        if (amax == 0) {
            memset(&y[b], 0, sizeof(q8_k_block));
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < 256; j++) {
            int q = (int)nearbyintf(iscale * v[j]);
            y[b].q[j] = (int8_t)(q > 127 ? 127 : q);
        }
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y[b].q[g * 16 + j];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1 / iscale;
    }
}

static int have_avx2(void);

#if defined(__x86_64__)
// The same quantisers with vectors: max|x| is order-independent, the scale and its inverse are the scalar
// expressions, and rounding is round-half-to-even like nearbyintf, so the blocks are bit-identical.
__attribute__((target("avx2,fma,f16c"))) static inline __m256i quantize_block_avx2(const float *v, float *d_out,
                                                                                  float *id_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 x0 = _mm256_loadu_ps(v), x1 = _mm256_loadu_ps(v + 8), x2 = _mm256_loadu_ps(v + 16),
           x3 = _mm256_loadu_ps(v + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, x0), _mm256_andnot_ps(sign, x1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, x2), _mm256_andnot_ps(sign, x3)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float d = amax / 127.f;
    const float id = amax != 0 ? 127.f / amax : 0.f;
    *d_out = d;
    *id_out = id;
    const __m256 vid = _mm256_set1_ps(id);
#define Q8_ROUND_MODE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x0, vid), Q8_ROUND_MODE));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x1, vid), Q8_ROUND_MODE));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x2, vid), Q8_ROUND_MODE));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x3, vid), Q8_ROUND_MODE));
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Sum of 32 int8 values (exact in int32).
__attribute__((target("avx2,fma,f16c"))) static inline int quant_sum_avx2(__m256i q) {
    __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
    __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    return _mm_cvtsi128_si32(t);
}

__attribute__((target("avx2,fma,f16c"))) static void quantize_q8_0_avx2(const float *x, q8_0_block *y, int64_t n) {
    dera_q8_0_aux *aux = (dera_q8_0_aux *)((uint8_t *)y + dera_q8_0_aux_offset(n / 32));
    for (int64_t b = 0; b < n / 32; b++) {
        float d, id;
        __m256i q = quantize_block_avx2(x + b * 32, &d, &id);
        y[b].d = f2h(d);
        _mm256_storeu_si256((__m256i *)y[b].q, q);
        aux[b].d = h2f(y[b].d);
        aux[b].sum = quant_sum_avx2(q);
    }
}

__attribute__((target("avx2,fma,f16c"))) static void quantize_q8_1_avx2(const float *x, q8_1_block *y, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++) {
        float d, id;
        __m256i q = quantize_block_avx2(x + b * 32, &d, &id);
        _mm256_storeu_si256((__m256i *)y[b].q, q);
        const int sum = quant_sum_avx2(q);
        y[b].d = f2h(d);
        y[b].s = f2h(d * (float)sum);
    }
}

// Q8_K with vectors: the value of largest magnitude is the first one reaching max|x| (as in the scalar
// loop, which keeps the first on ties), the products iscale * x are the same single multiplications, rounded
// half to even and clamped at 127 as there, and the 16-value sums are exact int16 sums.
__attribute__((target("avx2,fma,f16c"))) static void quantize_q8_k_avx2(const float *x, q8_k_block *y, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 256; b++) {
        const float *v = x + b * 256;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 256; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + j)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        if (!(amax > 0)) {
            // All zero (or NaN, where the scalar loop also finds no positive magnitude).
            memset(&y[b], 0, sizeof(q8_k_block));
            continue;
        }
        float max = 0;
        for (int j = 0; j < 256; j++)
            if (fabsf(v[j]) == amax) {
                max = v[j];
                break;
            }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i k127 = _mm256_set1_epi32(127);
        for (int j = 0; j < 256; j += 32) {
            __m256i i[4];
            for (int t = 0; t < 4; t++) {
                __m256 r = _mm256_round_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(v + j + 8 * t)), Q8_ROUND_MODE);
                i[t] = _mm256_min_epi32(_mm256_cvtps_epi32(r), k127);
            }
            __m256i q = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
            q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[b].q + j), q);
            // Sums of 16 values: pairs with maddubs, then horizontal adds within each 16-byte half.
            __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);  // 16 sums of 2
            __m128i lo = _mm256_castsi256_si128(s16), hi = _mm256_extracti128_si256(s16, 1);
            __m128i s = _mm_hadd_epi16(lo, hi);  // sums of 4: lo 0-3, hi 4-7
            s = _mm_hadd_epi16(s, s);            // sums of 8
            s = _mm_hadd_epi16(s, s);            // sums of 16: [lo, hi, ...]
            const int g = j / 16;
            y[b].bsums[g] = (int16_t)_mm_extract_epi16(s, 0);
            y[b].bsums[g + 1] = (int16_t)_mm_extract_epi16(s, 1);
        }
        y[b].d = 1 / iscale;
    }
}
#endif

void dera_quantize_activations(uint32_t weight_type, const float *x, void *xq, int64_t n) {
    switch (activation_kind(weight_type)) {
    case A_F32: memcpy(xq, x, (size_t)n * 4); break;
    case A_F16: for (int64_t i = 0; i < n; i++) ((uint16_t *)xq)[i] = f2h(x[i]); break;
    case A_BF16: for (int64_t i = 0; i < n; i++) ((uint16_t *)xq)[i] = f2bf(x[i]); break;
#if defined(__x86_64__)
    case A_Q8_0: if (have_avx2()) quantize_q8_0_avx2(x, xq, n); else quantize_q8_0(x, xq, n); break;
    case A_Q8_1: if (have_avx2()) quantize_q8_1_avx2(x, xq, n); else quantize_q8_1(x, xq, n); break;
    case A_Q8_K: if (have_avx2()) quantize_q8_k_avx2(x, xq, n); else quantize_q8_k(x, xq, n); break;
#else
    case A_Q8_0: quantize_q8_0(x, xq, n); break;
    case A_Q8_1: quantize_q8_1(x, xq, n); break;
    case A_Q8_K: quantize_q8_k(x, xq, n); break;
#endif
    default: break;
    }
}

static int have_avx2(void);

static void round_to_f16_portable(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(_Float16)x[i];
}
#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) static void round_to_f16_f16c(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(_Float16)x[i];
}
#endif

void dera_round_to_f16(float *x, int64_t n) {
#if defined(__x86_64__)
    if (have_avx2()) { round_to_f16_f16c(x, n); return; }
#endif
    round_to_f16_portable(x, n);
}

// ---- scalar block dot products ----------------------------------------------------------------

static float dot_q4_0(const uint8_t *w, const q8_0_block *a, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++, w += 18) {
        int s = 0;
        for (int j = 0; j < 16; j++) {
            s += ((w[2 + j] & 15) - 8) * a[b].q[j];
            s += ((w[2 + j] >> 4) - 8) * a[b].q[j + 16];
        }
        sum += (h2f(rd16(w)) * h2f(a[b].d)) * (float)s;
    }
    return sum;
}

static float dot_q4_1(const uint8_t *w, const q8_1_block *a, int64_t nb) {
    float sum = 0, mins = 0;
    for (int64_t b = 0; b < nb; b++, w += 20) {
        int s = 0;
        for (int j = 0; j < 16; j++) {
            s += (w[4 + j] & 15) * a[b].q[j];
            s += (w[4 + j] >> 4) * a[b].q[j + 16];
        }
        sum += (h2f(rd16(w)) * h2f(a[b].d)) * (float)s;
        mins += h2f(rd16(w + 2)) * h2f(a[b].s);
    }
    return sum + mins;
}

static float dot_q5_0(const uint8_t *w, const q8_0_block *a, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++, w += 22) {
        uint32_t qh;
        memcpy(&qh, w + 2, 4);
        int s = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (w[6 + j] & 15) | (((qh >> j) << 4) & 0x10);
            int hi = (w[6 + j] >> 4) | ((qh >> (j + 12)) & 0x10);
            s += (lo - 16) * a[b].q[j] + (hi - 16) * a[b].q[j + 16];
        }
        sum += (h2f(rd16(w)) * h2f(a[b].d)) * (float)s;
    }
    return sum;
}

static float dot_q8_0(const uint8_t *w, const q8_0_block *a, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++, w += 34) {
        const int8_t *q = (const int8_t *)(w + 2);
        int s = 0;
        for (int j = 0; j < 32; j++) s += q[j] * a[b].q[j];
        sum += (h2f(rd16(w)) * h2f(a[b].d)) * (float)s;
    }
    return sum;
}

static void k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static float dot_q4_k(const uint8_t *w, const q8_k_block *a, int64_t nb) {
    float sum = 0, mins = 0;
    for (int64_t b = 0; b < nb; b++, w += 144) {
        const float d = a[b].d * h2f(rd16(w));
        const float dmin = -a[b].d * h2f(rd16(w + 2));
        const uint8_t *scales = w + 4, *qs = w + 16;
        int sumi = 0, summ = 0;
        for (int g = 0; g < 4; g++) {
            uint8_t sc0, m0, sc1, m1;
            k4_scale_min(2 * g, scales, &sc0, &m0);
            k4_scale_min(2 * g + 1, scales, &sc1, &m1);
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += (qs[32 * g + l] & 15) * a[b].q[64 * g + l];
                s1 += (qs[32 * g + l] >> 4) * a[b].q[64 * g + 32 + l];
            }
            sumi += sc0 * s0 + sc1 * s1;
            summ += m0 * (a[b].bsums[4 * g] + a[b].bsums[4 * g + 1]) + m1 * (a[b].bsums[4 * g + 2] + a[b].bsums[4 * g + 3]);
        }
        sum += d * (float)sumi;
        mins += dmin * (float)summ;
    }
    return sum + mins;
}

static float dot_q6_k(const uint8_t *w, const q8_k_block *a, int64_t nb) {
    float sum = 0;
    for (int64_t b = 0; b < nb; b++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        const float d = a[b].d * h2f(rd16(w + 208));
        const int8_t *q8 = a[b].q;
        int sumi = 0;
        for (int half = 0; half < 2; half++) {
            int group[8] = {0};
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                group[is + 0] += q1 * q8[l];
                group[is + 2] += q2 * q8[l + 32];
                group[is + 4] += q3 * q8[l + 64];
                group[is + 6] += q4 * q8[l + 96];
            }
            for (int g = 0; g < 8; g++) sumi += sc[g] * group[g];
            ql += 64;
            qh += 32;
            sc += 8;
            q8 += 128;
        }
        sum += d * (float)sumi;
    }
    return sum;
}

static float dot_f16(const uint8_t *w, const uint16_t *a, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += h2f(rd16(w + 2 * i)) * h2f(a[i]);
    return sum;
}

static float dot_bf16(const uint8_t *w, const uint16_t *a, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += bf2f(rd16(w + 2 * i)) * bf2f(a[i]);
    return sum;
}

static float dot_f32(const uint8_t *w, const float *a, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, w + 4 * i, 4);
        sum += v * a[i];
    }
    return sum;
}

// ---- AVX2 block dot products for the default model's types ------------------------------------

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 32 unsigned 4-bit values (low nibbles first, then high) from 16 bytes.
AVX2 static inline __m256i nibbles32(const uint8_t *p) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)p);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
    return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

// Sum of u8 x i8 products over 32 lanes, as 8 int32 lanes (no saturation for |u| <= 127).
AVX2 static inline __m256i dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

AVX2 static float dot_q4_1_avx2(const uint8_t *w, const q8_1_block *a, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (int64_t b = 0; b < nb; b++, w += 20) {
        const float dw = h2f(rd16(w)), da = h2f(a[b].d);
        mins += h2f(rd16(w + 2)) * h2f(a[b].s);
        __m256i q = nibbles32(w + 4);
        __m256i x = _mm256_loadu_si256((const __m256i *)a[b].q);
        __m256 p = _mm256_cvtepi32_ps(dot_u8_i8(q, x));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * da), p, acc);
    }
    return hsum8(acc) + mins;
}

AVX2 static float dot_q4_0_avx2(const uint8_t *w, const q8_0_block *a, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++, w += 18) {
        __m256i q = _mm256_sub_epi8(nibbles32(w + 2), _mm256_set1_epi8(8));
        __m256i x = _mm256_loadu_si256((const __m256i *)a[b].q);
        __m256i p = dot_u8_i8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(rd16(w)) * h2f(a[b].d)), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum8(acc);
}

AVX2 static float dot_q8_0_avx2(const uint8_t *w, const q8_0_block *a, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++, w += 34) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(w + 2));
        __m256i x = _mm256_loadu_si256((const __m256i *)a[b].q);
        __m256i p = dot_u8_i8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(rd16(w)) * h2f(a[b].d)), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum8(acc);
}

AVX2 static inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

AVX2 static float dot_q4_k_avx2(const uint8_t *w, const q8_k_block *a, int64_t nb) {
    float sum = 0, mins = 0;
    for (int64_t b = 0; b < nb; b++, w += 144) {
        const float d = a[b].d * h2f(rd16(w));
        const float dmin = -a[b].d * h2f(rd16(w + 2));
        const uint8_t *scales = w + 4, *qs = w + 16;
        int sumi = 0, summ = 0;
        for (int g = 0; g < 4; g++) {
            uint8_t sc0, m0, sc1, m1;
            k4_scale_min(2 * g, scales, &sc0, &m0);
            k4_scale_min(2 * g + 1, scales, &sc1, &m1);
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
            __m256i lo = _mm256_and_si256(bytes, _mm256_set1_epi8(15));
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), _mm256_set1_epi8(15));
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(a[b].q + 64 * g));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(a[b].q + 64 * g + 32));
            sumi += sc0 * hsum_i32(dot_u8_i8(lo, x0)) + sc1 * hsum_i32(dot_u8_i8(hi, x1));
            summ += m0 * (a[b].bsums[4 * g] + a[b].bsums[4 * g + 1]) + m1 * (a[b].bsums[4 * g + 2] + a[b].bsums[4 * g + 3]);
        }
        sum += d * (float)sumi;
        mins += dmin * (float)summ;
    }
    return sum + mins;
}

AVX2 static float dot_q6_k_avx2(const uint8_t *w, const q8_k_block *a, int64_t nb) {
    float sum = 0;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < nb; b++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        const int8_t *q8 = a[b].q;
        const float d = a[b].d * h2f(rd16(w + 208));
        int sumi = 0;
        for (int half = 0; half < 2; half++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                // (q - 32) * x = q * x - 32 * x, with q in 0..63.
                __m256i prod = _mm256_maddubs_epi16(q[k], x);
                __m256i corr = _mm256_maddubs_epi16(_mm256_set1_epi8(32), x);
                __m256i d16 = _mm256_sub_epi16(prod, corr);
                // Lanes 0-7 (i16) cover elements 0-15 of this 32-run, lanes 8-15 elements 16-31.
                __m256i s32 = _mm256_madd_epi16(d16, _mm256_set1_epi16(1));
                __m128i lo = _mm256_castsi256_si128(s32), hi = _mm256_extracti128_si256(s32, 1);
                lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4e));
                lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xb1));
                hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0x4e));
                hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0xb1));
                sumi += sc[2 * k] * _mm_cvtsi128_si32(lo) + sc[2 * k + 1] * _mm_cvtsi128_si32(hi);
            }
            ql += 64;
            qh += 32;
            sc += 8;
            q8 += 128;
        }
        sum += d * (float)sumi;
    }
    return sum;
}

// K-quant and Q5_0 rows with the integer part vectorised further: block sums are formed in int32 vector
// lanes (scales applied with madd) and reduced once per block. Integer addition is exact, so sumi is the
// same integer as in the kernels above, and the float statements per block are written exactly as there
// (same target, so the compiler fuses them the same way): results are bit-identical.
AVX2 static float dot_q4_k_avx2_v2(const uint8_t *w, const q8_k_block *a, int64_t nb) {
    float sum = 0, mins = 0;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t b = 0; b < nb; b++, w += 144) {
        const float d = a[b].d * h2f(rd16(w));
        const float dmin = -a[b].d * h2f(rd16(w + 2));
        const uint8_t *scales = w + 4, *qs = w + 16;
        __m256i acc = _mm256_setzero_si256();
        int summ = 0;
        for (int g = 0; g < 4; g++) {
            uint8_t sc0, m0, sc1, m1;
            k4_scale_min(2 * g, scales, &sc0, &m0);
            k4_scale_min(2 * g + 1, scales, &sc1, &m1);
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
            __m256i lo = _mm256_and_si256(bytes, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(a[b].q + 64 * g));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(a[b].q + 64 * g + 32));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0), _mm256_set1_epi16(sc0)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1), _mm256_set1_epi16(sc1)));
            summ += m0 * (a[b].bsums[4 * g] + a[b].bsums[4 * g + 1]) + m1 * (a[b].bsums[4 * g + 2] + a[b].bsums[4 * g + 3]);
        }
        const int sumi = hsum_i32(acc);
        sum += d * (float)sumi;
        mins += dmin * (float)summ;
    }
    return sum + mins;
}

AVX2 static float dot_q6_k_avx2_v2(const uint8_t *w, const q8_k_block *a, int64_t nb) {
    float sum = 0;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    for (int64_t b = 0; b < nb; b++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        const int8_t *q8 = a[b].q;
        const float d = a[b].d * h2f(rd16(w + 208));
        __m256i acc = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                // (q - 32) * x = q * x - 32 * x; i16 lanes 0-7 are elements 0-15 (scale sc[2k]), 8-15 the rest.
                __m256i d16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], x), _mm256_maddubs_epi16(k32, x));
                __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d16, scv));
            }
            ql += 64;
            qh += 32;
            sc += 8;
            q8 += 128;
        }
        const int sumi = hsum_i32(acc);
        sum += d * (float)sumi;
    }
    return sum;
}

// Q5_0 had no SIMD path: the integer block sum is vectorised here, the float statement is the scalar
// kernel's, compiled without contraction as the scalar kernel is (it is built without FMA).
AVX2 static float dot_q5_0_avx2(const uint8_t *w, const q8_0_block *a, int64_t nb) {
#pragma clang fp contract(off)
    float sum = 0;
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i bitmask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    const __m256i m4 = _mm256_set1_epi8(15), k16 = _mm256_set1_epi8(16);
    for (int64_t b = 0; b < nb; b++, w += 22) {
        uint32_t qh;
        memcpy(&qh, w + 2, 4);
        // Byte L is 0xFF where bit L of qh is set.
        __m256i bits = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuffle);
        bits = _mm256_cmpeq_epi8(_mm256_or_si256(bits, bitmask), _mm256_set1_epi64x(-1));
        __m256i q = _mm256_or_si256(nibbles32(w + 6), _mm256_and_si256(bits, k16));
        q = _mm256_sub_epi8(q, k16);  // -16..15
        __m256i x = _mm256_loadu_si256((const __m256i *)a[b].q);
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q)),
                                      _mm256_set1_epi16(1));
        const int s = hsum_i32(p);
        sum += (h2f(rd16(w)) * h2f(a[b].d)) * (float)s;
    }
    return sum;
}

static int have_avx2(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v && dera_kernel_level() >= 1;
}
#else
static int have_avx2(void) { return 0; }
#endif

static float dot_row(uint32_t type, const uint8_t *w, const void *a, int64_t n, int simd) {
    switch (type) {
#if defined(__x86_64__)
    case T_Q4_0: return simd ? dot_q4_0_avx2(w, a, n / 32) : dot_q4_0(w, a, n / 32);
    case T_Q4_1: return simd ? dot_q4_1_avx2(w, a, n / 32) : dot_q4_1(w, a, n / 32);
    case T_Q8_0: return simd ? dot_q8_0_avx2(w, a, n / 32) : dot_q8_0(w, a, n / 32);
    case T_Q4_K: return simd ? dot_q4_k_avx2_v2(w, a, n / 256) : dot_q4_k(w, a, n / 256);
    case T_Q6_K: return simd ? dot_q6_k_avx2_v2(w, a, n / 256) : dot_q6_k(w, a, n / 256);
    case T_Q5_0: return simd ? dot_q5_0_avx2(w, a, n / 32) : dot_q5_0(w, a, n / 32);
#else
    case T_Q5_0: return dot_q5_0(w, a, n / 32);
    case T_Q4_0: return dot_q4_0(w, a, n / 32);
    case T_Q4_1: return dot_q4_1(w, a, n / 32);
    case T_Q8_0: return dot_q8_0(w, a, n / 32);
    case T_Q4_K: return dot_q4_k(w, a, n / 256);
    case T_Q6_K: return dot_q6_k(w, a, n / 256);
#endif
    case T_F16: return dot_f16(w, a, n);
    case T_BF16: return dot_bf16(w, a, n);
    case T_F32: return dot_f32(w, a, n);
    default: return 0;
    }
}

// ---- four weight rows per pass ----------------------------------------------------------------
// Each activation block is loaded once and meets four rows; every row keeps its own accumulators with
// exactly the lane structure of the one-row AVX2 kernels above (acc = fma(d_w * d_x, float(int32 lanes),
// acc), the same horizontal sum, mins fused the same way), so results are bit-identical to dot_row.

#if defined(__x86_64__)
static inline uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// 32 nibbles without a lane-crossing shuffle: the 16 bytes in both halves, the upper half shifted.
AVX2 static inline __m256i nibbles32_bcast(const uint8_t *p, __m256i m4) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), _mm_srli_epi16(lo, 4), 1), m4);
}

// The integer part: 8 int32 lanes, lane k = sum of the products of bytes 4k..4k+3. maddubs cannot
// saturate here (|u| <= 128, |s| <= 127 only when |u| <= 127 for Q8_0 weights, u <= 15 for nibbles), so
// the VNNI form gives the same lanes.
#define DOT_LANES_AVX2(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), ones16)
#define DOT_LANES_VNNI(u, s) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (u), (s))

// Blocks per chunk: the per-row block scales of a chunk are computed first into a small buffer, so the
// dot-product loop broadcasts them straight from memory (no shuffles competing with the integer work).
#define X4_CHUNK 64
// Weight rows stream from memory once per token. The four rows of a pass lie side by side (4 x rb bytes), and
// so does the next pass's group: while block b of this group is read, prefetch the same quarter of the next
// group's bytes in address order, so memory sees one linear stream however the kernel walks its four rows.
// Per-row prefetches 16 rows ahead (four streams rb apart, what this did until 2026-12-02) left a Zen 4 core at
// 7-8 GB/s on weights larger than the cache, against 22 GB/s for one linear read; the linear sweep reaches
// 13-18 GB/s (Q4_K / Q6_K / Q8_0 / Q5_0 matrices of 150-250 MB, one thread). A group wider than the L1 data
// cache goes to L2 instead (T1), so it does not evict the rows being read. Prefetches never fault, so running
// past the matrix's end is harmless.
#define X4_PREFETCH(w0, rb, o, bb)                                                                         \
    dera_prefetch_span((const uint8_t *)(w0) + 4 * (rb) + 4 * (o), (size_t)(4 * (bb)), (rb) <= 2048)

#define DEFINE_Q4_1_X4(NAME, TARGET, DOT)                                                                   \
    TARGET static void NAME(const uint8_t *w, size_t rb, const q8_1_block *a, int64_t nb, float *y) {      \
        const __m256i m4 = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);                           \
        (void)ones16;                                                                                      \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, mins = acc0;            \
        const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;                           \
        float sc[X4_CHUNK][8] __attribute__((aligned(32)));                                                \
        for (int64_t c0 = 0; c0 < nb; c0 += X4_CHUNK) {                                                    \
            const int64_t cn = nb - c0 < X4_CHUNK ? nb - c0 : X4_CHUNK;                                    \
            for (int64_t i = 0; i < cn; i++) {                                                             \
                const int64_t o = (c0 + i) * 20;                                                           \
                X4_PREFETCH(w0, rb, o, 20);                                                                \
                /* d0 m0 d1 m1 d2 m2 d3 m3 */                                                              \
                const __m256 dm = _mm256_cvtph_ps(_mm_set_epi32((int)rd32(w3 + o), (int)rd32(w2 + o),     \
                                                                (int)rd32(w1 + o), (int)rd32(w0 + o)));    \
                _mm256_store_ps(sc[i], _mm256_mul_ps(dm, _mm256_set1_ps(h2f(a[c0 + i].d))));               \
                mins = _mm256_fmadd_ps(dm, _mm256_set1_ps(h2f(a[c0 + i].s)), mins);                        \
            }                                                                                              \
            for (int64_t i = 0; i < cn; i++) {                                                             \
                const int64_t o = (c0 + i) * 20 + 4;                                                       \
                const __m256i x = _mm256_loadu_si256((const __m256i *)a[c0 + i].q);                        \
                __m256 p0 = _mm256_cvtepi32_ps(DOT(nibbles32_bcast(w0 + o, m4), x));                       \
                __m256 p1 = _mm256_cvtepi32_ps(DOT(nibbles32_bcast(w1 + o, m4), x));                       \
                __m256 p2 = _mm256_cvtepi32_ps(DOT(nibbles32_bcast(w2 + o, m4), x));                       \
                __m256 p3 = _mm256_cvtepi32_ps(DOT(nibbles32_bcast(w3 + o, m4), x));                       \
                acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][0]), p0, acc0);                          \
                acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][2]), p1, acc1);                          \
                acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][4]), p2, acc2);                          \
                acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][6]), p3, acc3);                          \
            }                                                                                              \
        }                                                                                                  \
        float m[8];                                                                                        \
        _mm256_storeu_ps(m, mins);                                                                         \
        y[0] = hsum8(acc0) + m[1];                                                                         \
        y[1] = hsum8(acc1) + m[3];                                                                         \
        y[2] = hsum8(acc2) + m[5];                                                                         \
        y[3] = hsum8(acc3) + m[7];                                                                         \
    }

#define DEFINE_Q8_0_X4(NAME, TARGET, DOT)                                                                   \
    TARGET static void NAME(const uint8_t *w, size_t rb, const q8_0_block *a, int64_t nb, float *y) {      \
        const __m256i ones16 = _mm256_set1_epi16(1);                                                       \
        (void)ones16;                                                                                      \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                         \
        const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;                           \
        float sc[X4_CHUNK][4] __attribute__((aligned(16)));                                                \
        for (int64_t c0 = 0; c0 < nb; c0 += X4_CHUNK) {                                                    \
            const int64_t cn = nb - c0 < X4_CHUNK ? nb - c0 : X4_CHUNK;                                    \
            for (int64_t i = 0; i < cn; i++) {                                                             \
                const int64_t o = (c0 + i) * 34;                                                           \
                X4_PREFETCH(w0, rb, o, 34);                                                                \
                const __m128 d = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w3 + o),              \
                                                            (short)rd16(w2 + o), (short)rd16(w1 + o),      \
                                                            (short)rd16(w0 + o)));                         \
                _mm_store_ps(sc[i], _mm_mul_ps(d, _mm_set1_ps(h2f(a[c0 + i].d))));                         \
            }                                                                                              \
            for (int64_t i = 0; i < cn; i++) {                                                             \
                const int64_t o = (c0 + i) * 34 + 2;                                                       \
                const __m256i x = _mm256_loadu_si256((const __m256i *)a[c0 + i].q);                        \
                __m256i q0 = _mm256_loadu_si256((const __m256i *)(w0 + o));                                \
                __m256i q1 = _mm256_loadu_si256((const __m256i *)(w1 + o));                                \
                __m256i q2 = _mm256_loadu_si256((const __m256i *)(w2 + o));                                \
                __m256i q3 = _mm256_loadu_si256((const __m256i *)(w3 + o));                                \
                __m256 p0 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q0, q0), _mm256_sign_epi8(x, q0)));     \
                __m256 p1 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q1, q1), _mm256_sign_epi8(x, q1)));     \
                __m256 p2 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q2, q2), _mm256_sign_epi8(x, q2)));     \
                __m256 p3 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q3, q3), _mm256_sign_epi8(x, q3)));     \
                acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][0]), p0, acc0);                          \
                acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][1]), p1, acc1);                          \
                acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][2]), p2, acc2);                          \
                acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][3]), p3, acc3);                          \
            }                                                                                              \
        }                                                                                                  \
        y[0] = hsum8(acc0);                                                                                \
        y[1] = hsum8(acc1);                                                                                \
        y[2] = hsum8(acc2);                                                                                \
        y[3] = hsum8(acc3);                                                                                \
    }

#define DEFINE_Q4_0_X4(NAME, TARGET, DOT)                                                                   \
    TARGET static void NAME(const uint8_t *w, size_t rb, const q8_0_block *a, int64_t nb, float *y) {      \
        const __m256i m4 = _mm256_set1_epi8(15), k8 = _mm256_set1_epi8(8), ones16 = _mm256_set1_epi16(1); \
        (void)ones16;                                                                                      \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                         \
        const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;                           \
        float sc[X4_CHUNK][4] __attribute__((aligned(16)));                                                \
        for (int64_t c0 = 0; c0 < nb; c0 += X4_CHUNK) {                                                    \
            const int64_t cn = nb - c0 < X4_CHUNK ? nb - c0 : X4_CHUNK;                                    \
            for (int64_t i = 0; i < cn; i++) {                                                             \
                const int64_t o = (c0 + i) * 18;                                                           \
                X4_PREFETCH(w0, rb, o, 18);                                                                \
                const __m128 d = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w3 + o),              \
                                                            (short)rd16(w2 + o), (short)rd16(w1 + o),      \
                                                            (short)rd16(w0 + o)));                         \
                _mm_store_ps(sc[i], _mm_mul_ps(d, _mm_set1_ps(h2f(a[c0 + i].d))));                         \
            }                                                                                              \
            for (int64_t i = 0; i < cn; i++) {                                                             \
                const int64_t o = (c0 + i) * 18 + 2;                                                       \
                const __m256i x = _mm256_loadu_si256((const __m256i *)a[c0 + i].q);                        \
                __m256i q0 = _mm256_sub_epi8(nibbles32_bcast(w0 + o, m4), k8);                             \
                __m256i q1 = _mm256_sub_epi8(nibbles32_bcast(w1 + o, m4), k8);                             \
                __m256i q2 = _mm256_sub_epi8(nibbles32_bcast(w2 + o, m4), k8);                             \
                __m256i q3 = _mm256_sub_epi8(nibbles32_bcast(w3 + o, m4), k8);                             \
                __m256 p0 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q0, q0), _mm256_sign_epi8(x, q0)));     \
                __m256 p1 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q1, q1), _mm256_sign_epi8(x, q1)));     \
                __m256 p2 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q2, q2), _mm256_sign_epi8(x, q2)));     \
                __m256 p3 = _mm256_cvtepi32_ps(DOT(_mm256_sign_epi8(q3, q3), _mm256_sign_epi8(x, q3)));     \
                acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][0]), p0, acc0);                          \
                acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][1]), p1, acc1);                          \
                acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][2]), p2, acc2);                          \
                acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][3]), p3, acc3);                          \
            }                                                                                              \
        }                                                                                                  \
        y[0] = hsum8(acc0);                                                                                \
        y[1] = hsum8(acc1);                                                                                \
        y[2] = hsum8(acc2);                                                                                \
        y[3] = hsum8(acc3);                                                                                \
    }

#define VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
DEFINE_Q4_1_X4(q4_1_x4_avx2, AVX2, DOT_LANES_AVX2)
DEFINE_Q4_1_X4(q4_1_x4_vnni, VNNI, DOT_LANES_VNNI)
DEFINE_Q8_0_X4(q8_0_x4_avx2, AVX2, DOT_LANES_AVX2)
DEFINE_Q8_0_X4(q8_0_x4_vnni, VNNI, DOT_LANES_VNNI)
DEFINE_Q4_0_X4(q4_0_x4_avx2, AVX2, DOT_LANES_AVX2)
DEFINE_Q4_0_X4(q4_0_x4_vnni, VNNI, DOT_LANES_VNNI)

// Q4_1 and Q8_0 rows, four per pass, against NV activation vectors (2 or 4): each weight block is loaded
// and unpacked once for all the vectors. Every (row, vector) pair keeps its own 8-lane accumulator, and its
// scale product, fused mins and final sum are the statements of DEFINE_Q4_1_X4 / DEFINE_Q8_0_X4 for that
// row and vector, in the same order and under the same target: each output is bit-identical to the
// one-vector four-row kernel. The activation block scales come converted to float once per call (av[4 + v]:
// d, s per block for Q8_1, d for Q8_0; the same values h2f gives), as the conversions are the same for
// every group of rows. The rows go in passes of RP (4 with two vectors, 2 with four) so a pass's
// NV x RP accumulators stay in the 16 AVX2 registers; a chunk's block scales are formed once per pass.
#define DEFINE_Q4_1_X4VN(NAME, TARGET, DOT, NV, RP)                                                        \
    TARGET static void NAME(const uint8_t *w, size_t rb, const void *const *av, int64_t nb, float *const *y) { \
        const __m256i m4 = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);                           \
        (void)ones16;                                                                                      \
        const q8_1_block *a[NV];                                                                           \
        const float *ds[NV];                                                                               \
        for (int v = 0; v < NV; v++) a[v] = (const q8_1_block *)av[v], ds[v] = (const float *)av[4 + v];   \
        float mn[NV][8] __attribute__((aligned(32)));                                                      \
        for (int v = 0; v < NV; v++) _mm256_store_ps(mn[v], _mm256_setzero_ps());                          \
        float sc[X4_CHUNK][NV][8] __attribute__((aligned(32)));                                            \
        for (int r0 = 0; r0 < 4; r0 += RP) {                                                               \
            __m256 acc[NV][RP];                                                                            \
            for (int v = 0; v < NV; v++)                                                                   \
                for (int j = 0; j < RP; j++) acc[v][j] = _mm256_setzero_ps();                              \
            const uint8_t *wr[RP];                                                                         \
            for (int j = 0; j < RP; j++) wr[j] = w + (r0 + j) * rb;                                        \
            for (int64_t c0 = 0; c0 < nb; c0 += X4_CHUNK) {                                                \
                const int64_t cn = nb - c0 < X4_CHUNK ? nb - c0 : X4_CHUNK;                                \
                if (r0 == 0) {                                                                             \
                    __m256 mins[NV];                                                                       \
                    for (int v = 0; v < NV; v++) mins[v] = _mm256_load_ps(mn[v]);                          \
                    for (int64_t i = 0; i < cn; i++) {                                                     \
                        const int64_t o = (c0 + i) * 20;                                                   \
                        X4_PREFETCH(w, rb, o, 20);                                                         \
                        /* d0 m0 d1 m1 d2 m2 d3 m3 */                                                      \
                        const __m256 dm = _mm256_cvtph_ps(_mm_set_epi32(                                   \
                            (int)rd32(w + 3 * rb + o), (int)rd32(w + 2 * rb + o), (int)rd32(w + rb + o),   \
                            (int)rd32(w + o)));                                                            \
                        for (int v = 0; v < NV; v++) {                                                     \
                            _mm256_store_ps(sc[i][v], _mm256_mul_ps(dm, _mm256_broadcast_ss(&ds[v][2 * (c0 + i)]))); \
                            mins[v] = _mm256_fmadd_ps(dm, _mm256_broadcast_ss(&ds[v][2 * (c0 + i) + 1]), mins[v]); \
                        }                                                                                  \
                    }                                                                                      \
                    for (int v = 0; v < NV; v++) _mm256_store_ps(mn[v], mins[v]);                          \
                } else {                                                                                   \
                    for (int64_t i = 0; i < cn; i++) {                                                     \
                        const int64_t o = (c0 + i) * 20;                                                   \
                        const __m256 dm = _mm256_cvtph_ps(_mm_set_epi32(                                   \
                            (int)rd32(w + 3 * rb + o), (int)rd32(w + 2 * rb + o), (int)rd32(w + rb + o),   \
                            (int)rd32(w + o)));                                                            \
                        for (int v = 0; v < NV; v++)                                                       \
                            _mm256_store_ps(sc[i][v], _mm256_mul_ps(dm, _mm256_broadcast_ss(&ds[v][2 * (c0 + i)]))); \
                    }                                                                                      \
                }                                                                                          \
                for (int64_t i = 0; i < cn; i++) {                                                         \
                    const int64_t o = (c0 + i) * 20 + 4;                                                   \
                    __m256i u[RP];                                                                         \
                    for (int j = 0; j < RP; j++) u[j] = nibbles32_bcast(wr[j] + o, m4);                    \
                    for (int v = 0; v < NV; v++) {                                                         \
                        const __m256i x = _mm256_loadu_si256((const __m256i *)a[v][c0 + i].q);             \
                        for (int j = 0; j < RP; j++) {                                                     \
                            const __m256 p = _mm256_cvtepi32_ps(DOT(u[j], x));                             \
                            acc[v][j] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][v][2 * (r0 + j)]), p, acc[v][j]); \
                        }                                                                                  \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
            for (int v = 0; v < NV; v++)                                                                   \
                for (int j = 0; j < RP; j++) y[v][r0 + j] = hsum8(acc[v][j]) + mn[v][2 * (r0 + j) + 1];   \
        }                                                                                                  \
    }

#define DEFINE_Q8_0_X4VN(NAME, TARGET, DOT, NV, RP)                                                        \
    TARGET static void NAME(const uint8_t *w, size_t rb, const void *const *av, int64_t nb, float *const *y) { \
        const __m256i ones16 = _mm256_set1_epi16(1);                                                       \
        (void)ones16;                                                                                      \
        const q8_0_block *a[NV];                                                                           \
        const float *ds[NV];                                                                               \
        for (int v = 0; v < NV; v++) a[v] = (const q8_0_block *)av[v], ds[v] = (const float *)av[4 + v];   \
        float sc[X4_CHUNK][NV][4] __attribute__((aligned(16)));                                            \
        for (int r0 = 0; r0 < 4; r0 += RP) {                                                               \
            __m256 acc[NV][RP];                                                                            \
            for (int v = 0; v < NV; v++)                                                                   \
                for (int j = 0; j < RP; j++) acc[v][j] = _mm256_setzero_ps();                              \
            const uint8_t *wr[RP];                                                                         \
            for (int j = 0; j < RP; j++) wr[j] = w + (r0 + j) * rb;                                        \
            for (int64_t c0 = 0; c0 < nb; c0 += X4_CHUNK) {                                                \
                const int64_t cn = nb - c0 < X4_CHUNK ? nb - c0 : X4_CHUNK;                                \
                for (int64_t i = 0; i < cn; i++) {                                                         \
                    const int64_t o = (c0 + i) * 34;                                                       \
                    if (r0 == 0) X4_PREFETCH(w, rb, o, 34);                                                \
                    const __m128 d = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w + 3 * rb + o),  \
                                                                (short)rd16(w + 2 * rb + o),               \
                                                                (short)rd16(w + rb + o), (short)rd16(w + o))); \
                    for (int v = 0; v < NV; v++)                                                           \
                        _mm_store_ps(sc[i][v], _mm_mul_ps(d, _mm_broadcast_ss(&ds[v][c0 + i])));             \
                }                                                                                          \
                for (int64_t i = 0; i < cn; i++) {                                                         \
                    const int64_t o = (c0 + i) * 34 + 2;                                                   \
                    __m256i q[RP], u[RP];                                                                  \
                    for (int j = 0; j < RP; j++) {                                                         \
                        q[j] = _mm256_loadu_si256((const __m256i *)(wr[j] + o));                           \
                        u[j] = _mm256_sign_epi8(q[j], q[j]);                                               \
                    }                                                                                      \
                    for (int v = 0; v < NV; v++) {                                                         \
                        const __m256i x = _mm256_loadu_si256((const __m256i *)a[v][c0 + i].q);             \
                        for (int j = 0; j < RP; j++) {                                                     \
                            const __m256 p = _mm256_cvtepi32_ps(DOT(u[j], _mm256_sign_epi8(x, q[j])));    \
                            acc[v][j] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[i][v][r0 + j]), p, acc[v][j]); \
                        }                                                                                  \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
            for (int v = 0; v < NV; v++)                                                                   \
                for (int j = 0; j < RP; j++) y[v][r0 + j] = hsum8(acc[v][j]);                              \
        }                                                                                                  \
    }

DEFINE_Q4_1_X4VN(q4_1_x4v2_avx2, AVX2, DOT_LANES_AVX2, 2, 4)
DEFINE_Q4_1_X4VN(q4_1_x4v4_avx2, AVX2, DOT_LANES_AVX2, 4, 4)
DEFINE_Q4_1_X4VN(q4_1_x4v2_vnni, VNNI, DOT_LANES_VNNI, 2, 4)
DEFINE_Q4_1_X4VN(q4_1_x4v4_vnni, VNNI, DOT_LANES_VNNI, 4, 4)
DEFINE_Q8_0_X4VN(q8_0_x4v2_avx2, AVX2, DOT_LANES_AVX2, 2, 4)
DEFINE_Q8_0_X4VN(q8_0_x4v4_avx2, AVX2, DOT_LANES_AVX2, 4, 4)
DEFINE_Q8_0_X4VN(q8_0_x4v2_vnni, VNNI, DOT_LANES_VNNI, 2, 4)
DEFINE_Q8_0_X4VN(q8_0_x4v4_vnni, VNNI, DOT_LANES_VNNI, 4, 4)

// Level 2 (AVX-512 with VNNI): two vectors share one 512-bit register, the lower half holding what the
// 256-bit kernels compute for the first vector and the upper half the same for the second. Per block and
// row: dpbusd gives both vectors' eight int32 lanes at once (exact integers, as DOT_LANES_VNNI), converted
// as there; the scale of each half is the product d_w * d_x of DEFINE_Q4_1_X4 (one IEEE multiply of the
// same two floats, formed here lane-wise), and acc = fma(scale, p, acc) lane by lane. The mins are fused
// per vector exactly as there and each half is summed with hsum8, so results are bit-identical.
#define AVX512VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define DEFINE_Q4_1_X4VP_512(NAME, NP)                                                                     \
    AVX512VNNI static void NAME(const uint8_t *w, size_t rb, const void *const *av, int64_t nb, float *const *y) { \
        const __m512i m4 = _mm512_set1_epi8(15), k04 = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);          \
        const q8_1_block *a[2 * NP];                                                                       \
        const float *ds[2 * NP];                                                                           \
        for (int v = 0; v < 2 * NP; v++) a[v] = (const q8_1_block *)av[v], ds[v] = (const float *)av[4 + v]; \
        __m512 acc[NP][4];                                                                                 \
        __m256 mins[2 * NP];                                                                               \
        for (int p = 0; p < NP; p++)                                                                       \
            for (int r = 0; r < 4; r++) acc[p][r] = _mm512_setzero_ps();                                   \
        for (int v = 0; v < 2 * NP; v++) mins[v] = _mm256_setzero_ps();                                    \
        float dmv[8] __attribute__((aligned(32)));                                                         \
        for (int64_t b = 0; b < nb; b++) {                                                                 \
            const int64_t o = b * 20;                                                                      \
            X4_PREFETCH(w, rb, o, 20);                                                                     \
            const __m256 dm = _mm256_cvtph_ps(_mm_set_epi32((int)rd32(w + 3 * rb + o), (int)rd32(w + 2 * rb + o), \
                                                            (int)rd32(w + rb + o), (int)rd32(w + o)));    \
            _mm256_store_ps(dmv, dm);                                                                      \
            __m512 da[NP];                                                                                 \
            __m512i x[NP];                                                                                 \
            for (int p = 0; p < NP; p++) {                                                                 \
                for (int h = 0; h < 2; h++)                                                                \
                    mins[2 * p + h] = _mm256_fmadd_ps(dm, _mm256_broadcast_ss(&ds[2 * p + h][2 * b + 1]), mins[2 * p + h]); \
                da[p] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_broadcast_ss(&ds[2 * p][2 * b])), \
                                           _mm256_broadcast_ss(&ds[2 * p + 1][2 * b]), 1);                 \
                x[p] = _mm512_inserti64x4(                                                                 \
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[2 * p][b].q)),           \
                    _mm256_loadu_si256((const __m256i *)a[2 * p + 1][b].q), 1);                            \
            }                                                                                              \
            for (int r = 0; r < 4; r++) {                                                                  \
                const __m512i u = _mm512_and_si512(                                                        \
                    _mm512_srlv_epi64(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(w + r * rb + o + 4))), k04), \
                    m4);                                                                                   \
                const __m512 dr = _mm512_set1_ps(dmv[2 * r]);                                              \
                for (int p = 0; p < NP; p++) {                                                             \
                    const __m512 pf = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, x[p])); \
                    acc[p][r] = _mm512_fmadd_ps(_mm512_mul_ps(dr, da[p]), pf, acc[p][r]);                  \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int v = 0; v < 2 * NP; v++) {                                                                 \
            float m[8];                                                                                    \
            _mm256_storeu_ps(m, mins[v]);                                                                  \
            for (int r = 0; r < 4; r++) {                                                                  \
                const __m256 half = (v & 1) ? _mm512_extractf32x8_ps(acc[v / 2][r], 1)                     \
                                            : _mm512_castps512_ps256(acc[v / 2][r]);                       \
                y[v][r] = hsum8(half) + m[2 * r + 1];                                                      \
            }                                                                                              \
        }                                                                                                  \
    }

DEFINE_Q4_1_X4VP_512(q4_1_x4v2_avx512, 1)
DEFINE_Q4_1_X4VP_512(q4_1_x4v4_avx512, 2)

// Q8_0 the same way: |q| against x with its sign flipped where q < 0 (the product q * x exactly, as the
// sign_epi8 pair of DEFINE_Q8_0_X4 gives), the scale d_w * d_x, and fma lane by lane.
#define DEFINE_Q8_0_X4VP_512(NAME, NP)                                                                     \
    AVX512VNNI static void NAME(const uint8_t *w, size_t rb, const void *const *av, int64_t nb, float *const *y) { \
        const q8_0_block *a[2 * NP];                                                                       \
        const float *ds[2 * NP];                                                                           \
        for (int v = 0; v < 2 * NP; v++) a[v] = (const q8_0_block *)av[v], ds[v] = (const float *)av[4 + v]; \
        __m512 acc[NP][4];                                                                                 \
        for (int p = 0; p < NP; p++)                                                                       \
            for (int r = 0; r < 4; r++) acc[p][r] = _mm512_setzero_ps();                                   \
        float dv[4] __attribute__((aligned(16)));                                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                 \
            const int64_t o = b * 34;                                                                      \
            X4_PREFETCH(w, rb, o, 34);                                                                     \
            _mm_store_ps(dv, _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w + 3 * rb + o),          \
                                                         (short)rd16(w + 2 * rb + o), (short)rd16(w + rb + o), \
                                                         (short)rd16(w + o))));                            \
            __m512 da[NP];                                                                                 \
            __m512i x[NP];                                                                                 \
            for (int p = 0; p < NP; p++) {                                                                 \
                da[p] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_broadcast_ss(&ds[2 * p][b])),     \
                                           _mm256_broadcast_ss(&ds[2 * p + 1][b]), 1);                     \
                x[p] = _mm512_inserti64x4(                                                                 \
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[2 * p][b].q)),           \
                    _mm256_loadu_si256((const __m256i *)a[2 * p + 1][b].q), 1);                            \
            }                                                                                              \
            for (int r = 0; r < 4; r++) {                                                                  \
                const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + r * rb + o + 2))); \
                const __m512i u = _mm512_abs_epi8(q);                                                      \
                const __mmask64 neg = _mm512_movepi8_mask(q);                                              \
                const __m512 dr = _mm512_set1_ps(dv[r]);                                                   \
                for (int p = 0; p < NP; p++) {                                                             \
                    const __m512i s = _mm512_mask_sub_epi8(x[p], neg, _mm512_setzero_si512(), x[p]);       \
                    const __m512 pf = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s)); \
                    acc[p][r] = _mm512_fmadd_ps(_mm512_mul_ps(dr, da[p]), pf, acc[p][r]);                  \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int v = 0; v < 2 * NP; v++)                                                                   \
            for (int r = 0; r < 4; r++)                                                                    \
                y[v][r] = hsum8((v & 1) ? _mm512_extractf32x8_ps(acc[v / 2][r], 1) : _mm512_castps512_ps256(acc[v / 2][r])); \
    }

DEFINE_Q8_0_X4VP_512(q8_0_x4v2_avx512, 1)
DEFINE_Q8_0_X4VP_512(q8_0_x4v4_avx512, 2)

int dera_have_avx512vnni(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512dq");
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v && dera_q8_kernel_level() >= 2;
}

// Q5_0 weights as unsigned 0..31 (the stored value + 16): nibble plus the fifth bit from qh.
AVX2 static inline __m256i q5_0_unsigned(const uint8_t *blk, __m256i shuffle, __m256i bitmask, __m256i m4,
                                         __m256i k16) {
    __m256i bits = _mm256_shuffle_epi8(_mm256_set1_epi32((int)rd32(blk + 2)), shuffle);
    bits = _mm256_cmpeq_epi8(_mm256_or_si256(bits, bitmask), _mm256_set1_epi64x(-1));
    return _mm256_or_si256(nibbles32_bcast(blk + 6, m4), _mm256_and_si256(bits, k16));
}

// Sums of four rows' int32 lanes: lane r of the result is the sum of the eight lanes of p_r.
AVX2 static inline __m128i hsum4_i32(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// Q5_0 rows, four per pass, against NV activation vectors: each weight block is decoded once for all of
// them (decoding costs more than the products). Per block, (u - 16) . x = u . x - 16 . x with the second
// term shared by the rows; lanes are exact integers, so every (row, vector) block sum is the integer of
// dot_q5_0_avx2. Its float statement, sum += (d_w * d_x) * (float)s without contraction, runs lane-wise
// with separate multiplies and an add, so each lane rounds exactly as the scalar statement: bit-identical.
AVX2 static inline __attribute__((always_inline)) void q5_0_rows4(const uint8_t *w, size_t rb,
                                                                  const q8_0_block *const *a, int nv,
                                                                  int64_t nb, float *const *y) {
#pragma clang fp contract(off)
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i bitmask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    const __m256i m4 = _mm256_set1_epi8(15), k16 = _mm256_set1_epi8(16), ones16 = _mm256_set1_epi16(1);
    const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;
    __m128 sum[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
    for (int64_t b = 0; b < nb; b++) {
        const int64_t o = b * 22;
        X4_PREFETCH(w0, rb, o, 22);
        const __m256i u0 = q5_0_unsigned(w0 + o, shuffle, bitmask, m4, k16);
        const __m256i u1 = q5_0_unsigned(w1 + o, shuffle, bitmask, m4, k16);
        const __m256i u2 = q5_0_unsigned(w2 + o, shuffle, bitmask, m4, k16);
        const __m256i u3 = q5_0_unsigned(w3 + o, shuffle, bitmask, m4, k16);
        const __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w3 + o), (short)rd16(w2 + o),
                                                     (short)rd16(w1 + o), (short)rd16(w0 + o)));
        for (int v = 0; v < nv; v++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)a[v][b].q);
            const __m256i c = DOT_LANES_AVX2(k16, x);
            const __m128i s = hsum4_i32(_mm256_sub_epi32(DOT_LANES_AVX2(u0, x), c),
                                        _mm256_sub_epi32(DOT_LANES_AVX2(u1, x), c),
                                        _mm256_sub_epi32(DOT_LANES_AVX2(u2, x), c),
                                        _mm256_sub_epi32(DOT_LANES_AVX2(u3, x), c));
            const __m128 dd = _mm_mul_ps(dw, _mm_set1_ps(h2f(a[v][b].d)));
            sum[v] = _mm_add_ps(sum[v], _mm_mul_ps(dd, _mm_cvtepi32_ps(s)));
        }
    }
    for (int v = 0; v < nv; v++) _mm_storeu_ps(y[v], sum[v]);
}

AVX2 static void q5_0_x4_avx2(const uint8_t *w, size_t rb, const q8_0_block *a, int64_t nb, float *y) {
    q5_0_rows4(w, rb, &a, 1, nb, &y);
}

// One activation vector on AVX-512 VNNI: two weight rows per 512-bit register (row r in the lower half, r + 1 in
// the upper), so the unpacking and the integer products of four rows take half the instructions of the AVX2
// kernels. Every lane computes what the AVX2 kernel computes for its row (the same exact int32 lanes and, per
// lane, the same float operations in the same order), so the results are bit-identical to them.

// Q8_0: DEFINE_Q8_0_X4's accumulators, rows (0, 1) and (2, 3) sharing a register; hsum8 of each half.
AVX512VNNI static void q8_0_x4_avx512(const uint8_t *w, size_t rb, const q8_0_block *a, int64_t nb, float *y) {
    const __m512i idx01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i idx23 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
    const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;
    float sc[X4_CHUNK][4] __attribute__((aligned(16)));
    for (int64_t c0 = 0; c0 < nb; c0 += X4_CHUNK) {
        const int64_t cn = nb - c0 < X4_CHUNK ? nb - c0 : X4_CHUNK;
        for (int64_t i = 0; i < cn; i++) {
            const int64_t o = (c0 + i) * 34;
            X4_PREFETCH(w0, rb, o, 34);
            const __m128 d = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w3 + o), (short)rd16(w2 + o),
                                                        (short)rd16(w1 + o), (short)rd16(w0 + o)));
            _mm_store_ps(sc[i], _mm_mul_ps(d, _mm_set1_ps(h2f(a[c0 + i].d))));
        }
        for (int64_t i = 0; i < cn; i++) {
            const int64_t o = (c0 + i) * 34 + 2;
            const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)a[c0 + i].q));
            const __m512i q01 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w0 + o))),
                                                   _mm256_loadu_si256((const __m256i *)(w1 + o)), 1);
            const __m512i q23 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w2 + o))),
                                                   _mm256_loadu_si256((const __m256i *)(w3 + o)), 1);
            const __m512i s01 = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(q01), _mm512_setzero_si512(), x);
            const __m512i s23 = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(q23), _mm512_setzero_si512(), x);
            const __m512 p01 = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q01), s01));
            const __m512 p23 = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q23), s23));
            const __m512 scales = _mm512_castps128_ps512(_mm_load_ps(sc[i]));
            acc01 = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx01, scales), p01, acc01);
            acc23 = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx23, scales), p23, acc23);
        }
    }
    y[0] = hsum8(_mm512_castps512_ps256(acc01));
    y[1] = hsum8(_mm512_extractf32x8_ps(acc01, 1));
    y[2] = hsum8(_mm512_castps512_ps256(acc23));
    y[3] = hsum8(_mm512_extractf32x8_ps(acc23, 1));
}

// Q5_0 rows r and r + 1 as unsigned 0..31 in one register: the fifth bits straight from the two qh words as a
// byte mask, the nibbles as [lo(r), hi(r), lo(r + 1), hi(r + 1)].
AVX512VNNI static inline __m512i q5_0_pair_unsigned(const uint8_t *b0, const uint8_t *b1) {
    const __mmask64 high = (__mmask64)rd32(b0 + 2) | ((__mmask64)rd32(b1 + 2) << 32);
    const __m256i bytes = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b0 + 6))),
                                                  _mm_loadu_si128((const __m128i *)(b1 + 6)), 1);
    // [bytes(r), bytes(r + 1), bytes(r) >> 4, bytes(r + 1) >> 4] -> [r lo, r hi, r + 1 lo, r + 1 hi]
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(bytes), _mm256_srli_epi16(bytes, 4), 1);
    const __m512i nibbles = _mm512_and_si512(_mm512_shuffle_i64x2(both, both, 0xD8), _mm512_set1_epi8(15));
    return _mm512_or_si512(nibbles, _mm512_maskz_mov_epi8(high, _mm512_set1_epi8(16)));
}

// Q5_0: q5_0_rows4 for one vector. Per block the four rows' int32 sums are the exact integers of
// hsum4_i32 there (in row order), and the float statement is the same lane-wise, without contraction.
AVX512VNNI static void q5_0_x4_avx512(const uint8_t *w, size_t rb, const q8_0_block *a, int64_t nb, float *y) {
#pragma clang fp contract(off)
    const uint8_t *w0 = w, *w1 = w + rb, *w2 = w + 2 * rb, *w3 = w + 3 * rb;
    const __m512i gather = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    const dera_q8_0_aux *aux = (const dera_q8_0_aux *)((const uint8_t *)a + dera_q8_0_aux_offset(nb));
    __m128 sum = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const int64_t o = b * 22;
        X4_PREFETCH(w0, rb, o, 22);
        const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)a[b].q));
        // sum(u x) - 16 sum(x) per row: the correction (from the activation row's stored block sum) enters the
        // first lane of each row once.
        const __m512i init = _mm512_maskz_set1_epi32(0x0101, -16 * aux[b].sum);
        const __m512i p01 = _mm512_dpbusd_epi32(init, q5_0_pair_unsigned(w0 + o, w1 + o), x);
        const __m512i p23 = _mm512_dpbusd_epi32(init, q5_0_pair_unsigned(w2 + o, w3 + o), x);
        // Lane sums per row: 128-bit quarters k of p01 are row 0 (k = 0, 1) and row 1 (2, 3); likewise p23.
        const __m512i t = _mm512_add_epi32(_mm512_shuffle_i64x2(p01, p23, 0x88), _mm512_shuffle_i64x2(p01, p23, 0xDD));
        // Quarter k of t now holds row k's four partial sums; transpose them into four vectors and add.
        const __m512i g = _mm512_permutexvar_epi32(gather, t);
        const __m128i s = _mm_add_epi32(
            _mm_add_epi32(_mm512_castsi512_si128(g), _mm512_extracti32x4_epi32(g, 1)),
            _mm_add_epi32(_mm512_extracti32x4_epi32(g, 2), _mm512_extracti32x4_epi32(g, 3)));
        const __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w3 + o), (short)rd16(w2 + o),
                                                     (short)rd16(w1 + o), (short)rd16(w0 + o)));
        const __m128 dd = _mm_mul_ps(dw, _mm_set1_ps(h2f(a[b].d)));
        sum = _mm_add_ps(sum, _mm_mul_ps(dd, _mm_cvtepi32_ps(s)));
    }
    _mm_storeu_ps(y, sum);
}

AVX2 static void q5_0_x4v2_avx2(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y) {
    q5_0_rows4(w, rb, (const q8_0_block *const *)a, 2, nb, y);
}

AVX2 static void q5_0_x4v4_avx2(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y) {
    q5_0_rows4(w, rb, (const q8_0_block *const *)a, 4, nb, y);
}

// K-quant rows, four per pass, against NV activation vectors (1, 2 or 4). Each row's 6-bit scales are
// decoded once per super-block and its weights once for all vectors; the integer block sum of every
// (row, vector) is formed exactly (integer addition is associative, so any exact grouping gives
// dot_*_avx2_v2's sumi) and then meets the same float statements as there, in the same order and under the
// same target, so the results are bit-identical to the one-row kernels.

// Q4_K: 12 bytes of packed 6-bit scales and mins -> 8 scales and 8 mins as bytes.
static inline void k4_unpack_scales(const uint8_t *q, uint8_t sc[8], uint8_t m[8]) {
    const uint32_t u0 = rd32(q), u1 = rd32(q + 4), u2 = rd32(q + 8);
    const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
    const uint32_t s_lo = u0 & lo6, m_lo = u1 & lo6;
    const uint32_t s_hi = (u2 & lo4) | (((u0 >> 6) & lo2) << 4);
    const uint32_t m_hi = ((u2 >> 4) & lo4) | (((u1 >> 6) & lo2) << 4);
    memcpy(sc, &s_lo, 4);
    memcpy(sc + 4, &s_hi, 4);
    memcpy(m, &m_lo, 4);
    memcpy(m + 4, &m_hi, 4);
}

// The sums of four 8-lane registers as the four lanes of one (exact integer adds in another grouping).
AVX2 static inline __m128i hsum4_i32x8(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

// The same for four 4-lane registers.
AVX2 static inline __m128i hsum4_i32x4(__m128i a0, __m128i a1, __m128i a2, __m128i a3) {
    return _mm_hadd_epi32(_mm_hadd_epi32(a0, a1), _mm_hadd_epi32(a2, a3));
}

AVX2 static inline __attribute__((always_inline)) void q4_k_rows4(const uint8_t *w, size_t rb,
                                                                  const q8_k_block *const *a, int nv,
                                                                  int64_t nb, float *const *y) {
    const __m256i m4 = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
    // Lane r of sum[v] / mins[v] is row r: per block the same float statements as one row at a time
    // (d = x_d * w_d, sum = fma(d, sumi, sum), and the same for the mins), four rows per instruction.
    __m128 sum[4], mins[4];
    for (int v = 0; v < nv; v++) sum[v] = mins[v] = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const int64_t o = b * 144;
        X4_PREFETCH(w, rb, o, 144);
        // Per vector, pairs of 16-element activation sums: the 8 groups of 32 that share one min.
        __m128i bpair[4];
        for (int v = 0; v < nv; v++) {
            const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[v][b].bsums), ones16);
            bpair[v] = _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        }
        __m256i acc[4][4];
        __m128i mm[4][4];
        for (int r = 0; r < 4; r++) {
            const uint8_t *wr = w + r * rb + o;
            uint8_t sc[8], m[8];
            k4_unpack_scales(wr + 4, sc, m);
            int16_t sc16[8] __attribute__((aligned(16)));
            _mm_store_si128((__m128i *)sc16, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
            const __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)m));
            for (int v = 0; v < nv; v++) acc[v][r] = _mm256_setzero_si256();
            for (int g = 0; g < 4; g++) {
                const __m256i bytes = _mm256_loadu_si256((const __m256i *)(wr + 16 + 32 * g));
                const __m256i lo = _mm256_and_si256(bytes, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
                const __m256i s0 = _mm256_set1_epi16(sc16[2 * g]), s1 = _mm256_set1_epi16(sc16[2 * g + 1]);
                for (int v = 0; v < nv; v++) {
                    const __m256i x0 = _mm256_loadu_si256((const __m256i *)(a[v][b].q + 64 * g));
                    const __m256i x1 = _mm256_loadu_si256((const __m256i *)(a[v][b].q + 64 * g + 32));
                    acc[v][r] = _mm256_add_epi32(acc[v][r], _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0), s0));
                    acc[v][r] = _mm256_add_epi32(acc[v][r], _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1), s1));
                }
            }
            for (int v = 0; v < nv; v++) mm[v][r] = _mm_madd_epi16(m16, bpair[v]);
        }
        const __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w + 3 * rb + o), (short)rd16(w + 2 * rb + o),
                                                     (short)rd16(w + rb + o), (short)rd16(w + o)));
        const __m128 dm = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w + 3 * rb + o + 2),
                                                     (short)rd16(w + 2 * rb + o + 2), (short)rd16(w + rb + o + 2),
                                                     (short)rd16(w + o + 2)));
        for (int v = 0; v < nv; v++) {
            const __m128i sumi = hsum4_i32x8(acc[v][0], acc[v][1], acc[v][2], acc[v][3]);
            const __m128i summ = hsum4_i32x4(mm[v][0], mm[v][1], mm[v][2], mm[v][3]);
            const __m128 d = _mm_mul_ps(_mm_set1_ps(a[v][b].d), dw);
            const __m128 dmin = _mm_mul_ps(_mm_set1_ps(-a[v][b].d), dm);
            sum[v] = _mm_fmadd_ps(d, _mm_cvtepi32_ps(sumi), sum[v]);
            mins[v] = _mm_fmadd_ps(dmin, _mm_cvtepi32_ps(summ), mins[v]);
        }
    }
    for (int v = 0; v < nv; v++) _mm_storeu_ps(y[v], _mm_add_ps(sum[v], mins[v]));
}

// Q6_K: (q - 32) * x summed with scale s_j over 16-element group j equals s_j * sum(q * x) - 32 * s_j *
// bsums[j], since Q8_K's bsums are exactly those 16-element groups; both parts are exact integers.
AVX2 static inline __attribute__((always_inline)) void q6_k_rows4(const uint8_t *w, size_t rb,
                                                                  const q8_k_block *const *a, int nv,
                                                                  int64_t nb, float *const *y) {
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    __m128 sum[4];  // lane r = row r, as in q4_k_rows4
    for (int v = 0; v < nv; v++) sum[v] = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const int64_t o = b * 210;
        X4_PREFETCH(w, rb, o, 210);
        __m256i acc[4][4], corr[4][4];
        for (int r = 0; r < 4; r++) {
            const uint8_t *wr = w + r * rb + o;
            const __m256i sv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wr + 192)));
            int16_t sc16[16] __attribute__((aligned(32)));
            _mm256_store_si256((__m256i *)sc16, sv);
            for (int v = 0; v < nv; v++) acc[v][r] = _mm256_setzero_si256();
            for (int half = 0; half < 2; half++) {
                const uint8_t *ql = wr + 64 * half, *qh = wr + 128 + 32 * half;
                const int16_t *s = sc16 + 8 * half;
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
                __m256i q[4], scv[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
                // i16 lanes 0-7 are elements 0-15 of a 32-run (scale s[2k]), lanes 8-15 the rest (s[2k+1]).
                for (int k = 0; k < 4; k++)
                    scv[k] = _mm256_set_m128i(_mm_set1_epi16(s[2 * k + 1]), _mm_set1_epi16(s[2 * k]));
                for (int v = 0; v < nv; v++) {
                    const int8_t *q8 = a[v][b].q + 128 * half;
                    __m256i t = _mm256_setzero_si256();
                    for (int k = 0; k < 4; k++) {
                        const __m256i x = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                        t = _mm256_add_epi32(t, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], x), scv[k]));
                    }
                    acc[v][r] = _mm256_add_epi32(acc[v][r], t);
                }
            }
            for (int v = 0; v < nv; v++) corr[v][r] = _mm256_madd_epi16(sv, _mm256_loadu_si256((const __m256i *)a[v][b].bsums));
        }
        const __m128 dw = _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)rd16(w + 3 * rb + o + 208),
                                                     (short)rd16(w + 2 * rb + o + 208), (short)rd16(w + rb + o + 208),
                                                     (short)rd16(w + o + 208)));
        for (int v = 0; v < nv; v++) {
            const __m128i c = hsum4_i32x8(corr[v][0], corr[v][1], corr[v][2], corr[v][3]);
            const __m128i sumi = _mm_sub_epi32(hsum4_i32x8(acc[v][0], acc[v][1], acc[v][2], acc[v][3]), _mm_slli_epi32(c, 5));
            sum[v] = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(a[v][b].d), dw), _mm_cvtepi32_ps(sumi), sum[v]);
        }
    }
    for (int v = 0; v < nv; v++) _mm_storeu_ps(y[v], sum[v]);
}

AVX2 static void q4_k_x4_avx2(const uint8_t *w, size_t rb, const q8_k_block *a, int64_t nb, float *y) {
    q4_k_rows4(w, rb, &a, 1, nb, &y);
}
AVX2 static void q4_k_x4v2_avx2(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y) {
    q4_k_rows4(w, rb, (const q8_k_block *const *)a, 2, nb, y);
}
AVX2 static void q4_k_x4v4_avx2(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y) {
    q4_k_rows4(w, rb, (const q8_k_block *const *)a, 4, nb, y);
}
AVX2 static void q6_k_x4_avx2(const uint8_t *w, size_t rb, const q8_k_block *a, int64_t nb, float *y) {
    q6_k_rows4(w, rb, &a, 1, nb, &y);
}
AVX2 static void q6_k_x4v2_avx2(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y) {
    q6_k_rows4(w, rb, (const q8_k_block *const *)a, 2, nb, y);
}
AVX2 static void q6_k_x4v4_avx2(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y) {
    q6_k_rows4(w, rb, (const q8_k_block *const *)a, 4, nb, y);
}

static int have_vnni(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avxvnni");
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    // VNNI only changes how the exact integer lanes are formed; level 2 gates it like the AVX-512 paths.
    return v && dera_q8_kernel_level() >= 2;
}
#endif

typedef void (*rows4_fn)(const uint8_t *w, size_t rb, const void *a, int64_t nb, float *y);

// The four-row kernel for a type (NULL when there is none), and blocks per row.
static rows4_fn rows4_kernel(uint32_t type, int simd, int64_t n, int64_t *nb) {
#if defined(__x86_64__)
    if (!simd) return NULL;
    const int vnni = have_vnni();
    switch (type) {
    case T_Q4_1: *nb = n / 32; return (rows4_fn)(vnni ? q4_1_x4_vnni : q4_1_x4_avx2);
    case T_Q8_0: *nb = n / 32; return (rows4_fn)(dera_have_avx512vnni() ? q8_0_x4_avx512 : vnni ? q8_0_x4_vnni : q8_0_x4_avx2);
    case T_Q4_0: *nb = n / 32; return (rows4_fn)(vnni ? q4_0_x4_vnni : q4_0_x4_avx2);
    case T_Q4_K: *nb = n / 256; return (rows4_fn)q4_k_x4_avx2;
    case T_Q6_K: *nb = n / 256; return (rows4_fn)q6_k_x4_avx2;
    case T_Q5_0: *nb = n / 32; return (rows4_fn)(dera_have_avx512vnni() ? q5_0_x4_avx512 : q5_0_x4_avx2);
    default: return NULL;
    }
#else
    (void)type; (void)simd; (void)n; (void)nb;
    return NULL;
#endif
}

typedef void (*rows4vn_fn)(const uint8_t *w, size_t rb, const void *const *a, int64_t nb, float *const *y);

// Kernels for four rows against several vectors at once (NULL when there is none), as four-row kernels
// in every other respect: two and four vectors.
static rows4vn_fn rows4vn_kernel(uint32_t type, int simd, int nv) {
#if defined(__x86_64__)
    if (!simd) return NULL;
    const int vnni = have_vnni();
    switch (type) {
    case T_Q4_1:
        if (dera_have_avx512vnni()) return nv == 4 ? (rows4vn_fn)q4_1_x4v4_avx512 : (rows4vn_fn)q4_1_x4v2_avx512;
        if (vnni) return nv == 4 ? (rows4vn_fn)q4_1_x4v4_vnni : (rows4vn_fn)q4_1_x4v2_vnni;
        return nv == 4 ? (rows4vn_fn)q4_1_x4v4_avx2 : (rows4vn_fn)q4_1_x4v2_avx2;
    case T_Q8_0:
        if (dera_have_avx512vnni()) return nv == 4 ? (rows4vn_fn)q8_0_x4v4_avx512 : (rows4vn_fn)q8_0_x4v2_avx512;
        if (vnni) return nv == 4 ? (rows4vn_fn)q8_0_x4v4_vnni : (rows4vn_fn)q8_0_x4v2_vnni;
        return nv == 4 ? (rows4vn_fn)q8_0_x4v4_avx2 : (rows4vn_fn)q8_0_x4v2_avx2;
    case T_Q5_0: return nv == 4 ? (rows4vn_fn)q5_0_x4v4_avx2 : (rows4vn_fn)q5_0_x4v2_avx2;
    case T_Q4_K: return nv == 4 ? (rows4vn_fn)q4_k_x4v4_avx2 : (rows4vn_fn)q4_k_x4v2_avx2;
    case T_Q6_K: return nv == 4 ? (rows4vn_fn)q6_k_x4v4_avx2 : (rows4vn_fn)q6_k_x4v2_avx2;
    default: break;
    }
#else
    (void)type; (void)simd; (void)nv;
#endif
    return NULL;
}

void dera_matvec_q8(uint32_t type, const void *w, size_t row_bytes, const void *xq, float *y,
                    int64_t row_begin, int64_t row_end, int64_t n) {
    const int simd = have_avx2();
    int64_t nb = 0;
    rows4_fn k4 = rows4_kernel(type, simd, n, &nb);
    int64_t r = row_begin;
    if (k4)
        for (; r + 4 <= row_end; r += 4) k4((const uint8_t *)w + r * row_bytes, row_bytes, xq, nb, y + r);
    for (; r < row_end; r++) y[r] = dot_row(type, (const uint8_t *)w + r * row_bytes, xq, n, simd);
}

void dera_matmat_q8(uint32_t type, const void *w, size_t row_bytes, const void *xq, size_t xq_stride,
                    int64_t n_vec, float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    if (dera_q8_tiles_matmat(type, w, row_bytes, xq, xq_stride, n_vec, y, rows, row_begin, row_end, n)) return;
    const int simd = have_avx2();
    int64_t nb = 0;
    rows4_fn k4 = rows4_kernel(type, simd, n, &nb);
    rows4vn_fn kv[2] = {rows4vn_kernel(type, simd, 4), rows4vn_kernel(type, simd, 2)};
    const int nvs[2] = {4, 2};
    // Q4_1 and Q8_0 multi-vector kernels take the activations' block scales as floats, converted here once
    // for all row groups (av[4 + j]); without room for them the one-vector kernels run instead.
    const int64_t per = type == T_Q4_1 ? 2 : 1;
    float scale_stack[4096];
    float *scales = NULL;
    if ((type == T_Q4_1 || type == T_Q8_0) && kv[0] && k4 && n_vec >= 2) {
        const int64_t need = n_vec * nb * per;
        scales = need <= 4096 ? scale_stack : (float *)malloc((size_t)need * sizeof(float));
        if (!scales) kv[0] = kv[1] = NULL;
        for (int64_t v = 0; scales && v < n_vec; v++) {
            const uint8_t *blocks = (const uint8_t *)xq + v * xq_stride;
            for (int64_t b = 0; b < nb; b++) {
                if (type == T_Q4_1) {
                    const q8_1_block *blk = (const q8_1_block *)blocks + b;
                    scales[(v * nb + b) * 2] = h2f(blk->d);
                    scales[(v * nb + b) * 2 + 1] = h2f(blk->s);
                } else {
                    scales[v * nb + b] = h2f(((const q8_0_block *)blocks + b)->d);
                }
            }
        }
    }
    // Rows in tiles so a tile of weights stays in cache while every vector passes over it.
    const int64_t tile = 16;
    for (int64_t r0 = row_begin; r0 < row_end; r0 += tile) {
        const int64_t r1 = r0 + tile < row_end ? r0 + tile : row_end;
        int64_t v = 0;
        for (int k = 0; k < 2; k++) {
            if (!kv[k] || !k4) continue;
            const int nv = nvs[k];
            for (; v + nv <= n_vec; v += nv) {
                const void *a[8];
                float *yv[4];
                int64_t r = r0;
                for (; r + 4 <= r1; r += 4) {
                    for (int j = 0; j < nv; j++) {
                        a[j] = (const uint8_t *)xq + (v + j) * xq_stride;
                        a[4 + j] = scales ? scales + (v + j) * nb * per : NULL;
                        yv[j] = y + (v + j) * rows + r;
                    }
                    kv[k]((const uint8_t *)w + r * row_bytes, row_bytes, a, nb, yv);
                }
                for (; r < r1; r++)
                    for (int j = 0; j < nv; j++)
                        y[(v + j) * rows + r] = dot_row(type, (const uint8_t *)w + r * row_bytes,
                                                        (const uint8_t *)xq + (v + j) * xq_stride, n, simd);
            }
        }
        for (; v < n_vec; v++) {
            const void *a = (const uint8_t *)xq + v * xq_stride;
            int64_t r = r0;
            if (k4)
                for (; r + 4 <= r1; r += 4) k4((const uint8_t *)w + r * row_bytes, row_bytes, a, nb, y + v * rows + r);
            for (; r < r1; r++)
                y[v * rows + r] = dot_row(type, (const uint8_t *)w + r * row_bytes, a, n, simd);
        }
    }
    if (scales && scales != scale_stack) free(scales);
}

// ---- flash attention with an F16 accumulator, in ggml's rounding order --------------------------

// ggml_vec_dot_f16 on AVX-512: four 16-lane accumulators over 64-element steps, a fixed reduction tree,
// leftovers added in double.
static inline __attribute__((always_inline)) float dot_f16_ggml_order(const _Float16 *x, const _Float16 *y,
                                                                      int64_t n) {
    float acc[4][16] = {{0}};
    const int64_t np = n & ~(int64_t)63;
    for (int64_t i = 0; i < np; i += 64)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 16; l++)
                acc[j][l] = fmaf((float)x[i + 16 * j + l], (float)y[i + 16 * j + l], acc[j][l]);
    float v[16], t3[8], t6[4];
    for (int l = 0; l < 16; l++) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    for (int l = 0; l < 8; l++) t3[l] = v[l + 8] + v[l];
    for (int l = 0; l < 4; l++) t6[l] = t3[l + 4] + t3[l];
    double sum = (double)((t6[0] + t6[2]) + (t6[1] + t6[3]));
    for (int64_t i = np; i < n; i++) sum += (double)((float)x[i] * (float)y[i]);
    return (float)sum;
}

// Inlined into a portable and an F16C wrapper, so half conversions are single instructions where possible.
static inline __attribute__((always_inline)) void flash_attention_body(
    const float *query, const float *keys, const float *values, size_t stride, int64_t length, int64_t d,
    float scale, float *out) {
    _Float16 q[512], k[512], acc[512];
    if (d > 512) d = 512;
    for (int64_t i = 0; i < d; i++) {
        q[i] = (_Float16)query[i];
        acc[i] = 0;
    }
    float maximum = -INFINITY, sum = 0;
    for (int64_t j = 0; j < length; j++) {
        const float *key = keys + j * stride, *value = values + j * stride;
        for (int64_t i = 0; i < d; i++) k[i] = (_Float16)key[i];
        float s = dot_f16_ggml_order(k, q, d) * scale;
        float ms = 1, vs = 1;
        if (s > maximum) {
            const float previous = maximum;
            maximum = s;
            ms = expf(previous - maximum);
            for (int64_t i = 0; i < d; i++) acc[i] = (_Float16)((float)acc[i] * ms);
        } else {
            vs = expf(s - maximum);
        }
        for (int64_t i = 0; i < d; i++) acc[i] = (_Float16)fmaf((float)(_Float16)value[i], vs, (float)acc[i]);
        sum = sum * ms + vs;
    }
    const float inverse = sum == 0 ? 0 : 1.0f / sum;
    for (int64_t i = 0; i < d; i++) out[i] = (float)acc[i] * inverse;
}

static void flash_attention_portable(const float *query, const float *keys, const float *values, size_t stride,
                                     int64_t length, int64_t d, float scale, float *out) {
    flash_attention_body(query, keys, values, stride, length, d, scale, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) static void flash_attention_f16c(
    const float *query, const float *keys, const float *values, size_t stride, int64_t length, int64_t d,
    float scale, float *out) {
    flash_attention_body(query, keys, values, stride, length, d, scale, out);
}
#endif

#if defined(__x86_64__)
// The same computation with explicit vectors, for head dimensions that are a multiple of 64 (up to 512).
// Every operation is lane-wise and in the order of flash_attention_body: F16 rounding with round-to-nearest-
// even (what the (_Float16) casts do), the dot product's four 16-lane accumulators (two ymm each) and its
// reduction tree, then the scalar softmax bookkeeping; so results are bit-identical to the portable path.
AVX2 static inline __m256 round_f16(__m256 v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

AVX2 static void flash_attention_avx2(const float *query, const float *keys, const float *values, size_t stride,
                                      int64_t length, int64_t d, float scale, float *out) {
    __m256 q[64], acc[64];  // d / 8 vectors each
    const int64_t nv = d / 8;
    for (int64_t i = 0; i < nv; i++) {
        q[i] = round_f16(_mm256_loadu_ps(query + 8 * i));
        acc[i] = _mm256_setzero_ps();
    }
    float maximum = -INFINITY, sum = 0;
    // Scores do not depend on the softmax state: compute a chunk of them first (independent dot products
    // overlap), then run the serial online-softmax update over the chunk.
    float scores[128];
    for (int64_t j0 = 0; j0 < length; j0 += 128) {
        const int64_t cn = length - j0 < 128 ? length - j0 : 128;
        for (int64_t jj = 0; jj < cn; jj++) {
            const float *key = keys + (j0 + jj) * stride;
            // acc[j][l] of dot_f16_ggml_order: a[2j] holds lanes 0-7, a[2j+1] lanes 8-15.
            __m256 a[8];
            for (int t = 0; t < 8; t++) a[t] = _mm256_setzero_ps();
            for (int64_t i = 0; i < d; i += 64)
                for (int t = 0; t < 8; t++)
                    a[t] = _mm256_fmadd_ps(round_f16(_mm256_loadu_ps(key + i + 8 * t)), q[i / 8 + t], a[t]);
            // v[l] = (acc0 + acc2) + (acc1 + acc3), lanes 0-7 and 8-15.
            const __m256 vlo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
            const __m256 vhi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
            const __m256 t3 = _mm256_add_ps(vhi, vlo);                                               // v[l+8] + v[l]
            const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));  // t3[l+4] + t3[l]
            float t[4];
            _mm_storeu_ps(t, t6);
            scores[jj] = (float)(double)((t[0] + t[2]) + (t[1] + t[3])) * scale;
        }
        for (int64_t jj = 0; jj < cn; jj++) {
            const float *value = values + (j0 + jj) * stride;
            const float s = scores[jj];
            float ms = 1, vs = 1;
            if (s > maximum) {
                const float previous = maximum;
                maximum = s;
                ms = expf(previous - maximum);
                const __m256 m = _mm256_set1_ps(ms);
                for (int64_t i = 0; i < nv; i++) acc[i] = round_f16(_mm256_mul_ps(acc[i], m));
            } else {
                vs = expf(s - maximum);
            }
            const __m256 vv = _mm256_set1_ps(vs);
            for (int64_t i = 0; i < nv; i++)
                acc[i] = round_f16(_mm256_fmadd_ps(round_f16(_mm256_loadu_ps(value + 8 * i)), vv, acc[i]));
            sum = sum * ms + vs;
        }
    }
    const float inverse = sum == 0 ? 0 : 1.0f / sum;
    const __m256 inv = _mm256_set1_ps(inverse);
    for (int64_t i = 0; i < nv; i++) _mm256_storeu_ps(out + 8 * i, _mm256_mul_ps(acc[i], inv));
}
#endif

void dera_flash_attention_f16(const float *query, const float *keys, const float *values, size_t stride,
                              int64_t length, int64_t d, float scale, float *out) {
#if defined(__x86_64__)
    if (have_avx2() && d % 64 == 0 && d <= 512) {
        flash_attention_avx2(query, keys, values, stride, length, d, scale, out);
        return;
    }
    if (have_avx2()) {
        flash_attention_f16c(query, keys, values, stride, length, d, scale, out);
        return;
    }
#endif
    flash_attention_portable(query, keys, values, stride, length, d, scale, out);
}

void dera_flash_attention_f16_unvectorised(const float *query, const float *keys, const float *values,
                                           size_t stride, int64_t length, int64_t d, float scale, float *out) {
#if defined(__x86_64__)
    if (have_avx2()) {
        flash_attention_f16c(query, keys, values, stride, length, d, scale, out);
        return;
    }
#endif
    flash_attention_portable(query, keys, values, stride, length, d, scale, out);
}
