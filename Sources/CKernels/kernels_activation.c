// Elementwise work of the forward pass, vectorised without changing a bit: SwiGLU and the row softmax of the
// float attention for long prompts, whose exp is computed eight lanes at a time exactly as glibc's expf
// computes it one value at a time, so results equal those of the scalar loops they replace.
#include "CKernels.h"
#include <math.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define EXP512 __attribute__((target("avx2,fma,avx512f,avx512dq,avx512vl")))

// glibc's expf (2.27 and later; the algorithm of Arm's optimized-routines), checked equal to this machine's expf
// (Debian glibc 2.36) on all 2^32 floats: in double, x * 32 / ln 2 = k + r
// with k rounded to nearest by adding 1.5 * 2^52, 2^(k/32) from a 32-entry table with k / 32 added to the
// exponent, 2^(r/32) by a cubic, and one rounding to float at the end. The table holds 2^(i/32) rounded to
// double, minus i * 2^47 so that adding k * 2^47 (k's low bits included) yields the scaled entry.
static uint64_t exp_table[32];
static const double exp_inv_ln2_32 = 0x1.71547652b82fep+0 * 32, exp_shift = 0x1.8p+52;
static const double exp_c0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32, exp_c1 = 0x1.ebfce50fac4f3p-3 / 32 / 32,
                    exp_c2 = 0x1.62e42ff0c52d6p-1 / 32;

static void exp_table_init(void) {
    for (int i = 0; i < 32; i++) {
        const double v = (double)exp2l((long double)i / 32);
        uint64_t u;
        memcpy(&u, &v, 8);
        exp_table[i] = u - ((uint64_t)i << 52) / 32;
    }
}

// expf of 8 floats; lanes outside [-103.97, 88.72] and NaNs take expf's values for them (0, inf, NaN).
EXP512 static inline __m256 expf8(__m256 x) {
    const __m512d xd = _mm512_cvtps_pd(x);
    const __m512d z = _mm512_mul_pd(_mm512_set1_pd(exp_inv_ln2_32), xd);
    __m512d kd = _mm512_add_pd(z, _mm512_set1_pd(exp_shift));
    const __m512i ki = _mm512_castpd_si512(kd);
    kd = _mm512_sub_pd(kd, _mm512_set1_pd(exp_shift));
    // r = z - kd with z unrounded: glibc's expf is compiled with this multiply-subtract fused.
    const __m512d r = _mm512_fmsub_pd(_mm512_set1_pd(exp_inv_ln2_32), xd, kd);
    // Table entry ki % 32: two 16-entry permutes, chosen by bit 4.
    const __m512i lo = _mm512_permutex2var_epi64(_mm512_loadu_si512(exp_table), ki, _mm512_loadu_si512(exp_table + 8));
    const __m512i hi =
        _mm512_permutex2var_epi64(_mm512_loadu_si512(exp_table + 16), ki, _mm512_loadu_si512(exp_table + 24));
    const __mmask8 upper = _mm512_test_epi64_mask(ki, _mm512_set1_epi64(16));
    const __m512i t = _mm512_add_epi64(_mm512_mask_blend_epi64(upper, lo, hi), _mm512_slli_epi64(ki, 47));
    const __m512d s = _mm512_castsi512_pd(t);
    const __m512d zz = _mm512_fmadd_pd(_mm512_set1_pd(exp_c0), r, _mm512_set1_pd(exp_c1));
    const __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(exp_c2), r, _mm512_set1_pd(1.0));
    y = _mm512_fmadd_pd(zz, r2, y);
    y = _mm512_mul_pd(y, s);
    __m256 out = _mm512_cvtpd_ps(y);
    out = _mm256_blendv_ps(out, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(0x1.62e42ep6f), _CMP_GT_OQ));
    out = _mm256_blendv_ps(out, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-0x1.9fe368p6f), _CMP_LT_OQ));
    return _mm256_blendv_ps(out, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// A few values through expf8 and expf: a libm that computes expf differently keeps the scalar loops.
EXP512 static int expf8_matches_libm(void) {
    // Among them the two floats whose expf depends on the fused multiply-subtract.
    const float probe[16] = {0,     1,       -1,      0.5f,  -7.25f, 10.1f, 0x1.04845ep+5f, 88.7f,
                             -87.6f, -100.5f, 3.3e-8f, -0.7f, 42,     -64.9f, 5e-3f,          -0x1.f8cbb2p+5f};
    for (int i = 0; i < 16; i += 8) {
        float got[8];
        _mm256_storeu_ps(got, expf8(_mm256_loadu_ps(probe + i)));
        for (int l = 0; l < 8; l++) {
            // Through a volatile read: the compiler must not fold expf of a constant (it rounds differently).
            volatile float input = probe[i + l];
            const float want = expf(input);
            if (memcmp(&got[l], &want, 4) != 0) return 0;
        }
    }
    return 1;
}

static int exp512_usable;

static void exp512_init(void) {
    __builtin_cpu_init();
    int v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (v) {
        exp_table_init();
        v = expf8_matches_libm();
    }
    exp512_usable = v;
}

static int have_exp512(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, exp512_init);
    return exp512_usable && dera_q8_kernel_level() >= 2;
}

EXP512 static void swiglu_512(float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.f), sign = _mm256_set1_ps(-0.f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = expf8(_mm256_xor_ps(g, sign));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1 + expf(-g)) * up[i];
    }
}

// Exponentials of one row in place (s[j] = expf(s[j] - maximum)); the sums stay with the caller.
EXP512 static void exp_shifted_512(float *s, int64_t count, float maximum) {
    const __m256 m = _mm256_set1_ps(maximum);
    int64_t j = 0;
    for (; j + 8 <= count; j += 8) _mm256_storeu_ps(s + j, expf8(_mm256_sub_ps(_mm256_loadu_ps(s + j), m)));
    for (; j < count; j++) s[j] = expf(s[j] - maximum);
}
#endif

int dera_activations_vectorised(void) {
#if defined(__x86_64__)
    return have_exp512();
#else
    return 0;
#endif
}

void dera_swiglu(float *gate, const float *up, int64_t n) {
#if defined(__x86_64__)
    if (have_exp512()) {
        swiglu_512(gate, up, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1 + expf(-g)) * up[i];
    }
}

// Rows in groups of four: each row's maximum, exps and float sum are those of the plain loop (the sum in
// element order), four rows' sums advancing together so their additions overlap.
void dera_softmax_causal(float *scores, int64_t rows, int64_t length, int64_t stride, int64_t visible0) {
#if defined(__x86_64__)
    const int vector = have_exp512();
#endif
    for (int64_t i0 = 0; i0 < rows; i0 += 4) {
        const int group = rows - i0 < 4 ? (int)(rows - i0) : 4;
        float *row[4];
        int64_t visible[4];
        float sum[4] = {0, 0, 0, 0};
        int64_t common = length;
        for (int g = 0; g < group; g++) {
            row[g] = scores + (i0 + g) * stride;
            int64_t v = visible0 + i0 + g;
            visible[g] = v < 0 ? 0 : v > length ? length : v;
            if (visible[g] < common) common = visible[g];
            float maximum = -INFINITY;
            for (int64_t j = 0; j < visible[g]; j++) maximum = fmaxf(maximum, row[g][j]);
#if defined(__x86_64__)
            if (vector)
                exp_shifted_512(row[g], visible[g], maximum);
            else
#endif
                for (int64_t j = 0; j < visible[g]; j++) row[g][j] = expf(row[g][j] - maximum);
        }
        int64_t j = 0;
        if (group == 4)
            for (; j < common; j++) {
                sum[0] += row[0][j];
                sum[1] += row[1][j];
                sum[2] += row[2][j];
                sum[3] += row[3][j];
            }
        for (int g = 0; g < group; g++) {
            for (int64_t k = j; k < visible[g]; k++) sum[g] += row[g][k];
            const float inverse = 1 / sum[g];
            for (int64_t k = 0; k < visible[g]; k++) row[g][k] *= inverse;
            if (visible[g] < length) memset(row[g] + visible[g], 0, (size_t)(length - visible[g]) * sizeof(float));
        }
    }
}
