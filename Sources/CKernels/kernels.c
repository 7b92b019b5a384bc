// Public entry points: validate, then dispatch to the best implementation the CPU supports.
#include "CKernels.h"
#include "kernels_internal.h"
#include <stdlib.h>

#if defined(__x86_64__)
#define DERA_HAVE_AVX2_KERNELS 1
#else
#define DERA_HAVE_AVX2_KERNELS 0
#endif

static int cpu_level(void) {
#if DERA_HAVE_AVX2_KERNELS
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")))
        return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return 2;
    return 1;
#else
    return 0;
#endif
}

// The CPU's level, capped by DERA_KERNEL_LEVEL (0, 1 or 2) when set: a switch for debugging and comparisons.
static int detected_level(void) {
    int l = cpu_level();
    const char *env = getenv("DERA_KERNEL_LEVEL");
    if (env && env[0] >= '0' && env[0] <= '9' && env[1] == 0 && env[0] - '0' < l) l = env[0] - '0';
    return l;
}

// The level used when nobody asks for one: AVX2 even where AVX-512 exists. Measured on the whole model
// (SmolLM2 Q4_1, float32 arithmetic, tg64 on 1 thread, 2026-11-29): 132 tok/s at level 1 against 93-102 at
// level 2, although the AVX-512 kernels win in isolation. DERA_KERNEL_LEVEL=2 opts in; tests pin each level.
static int default_level(void) {
    int l = detected_level();
    const char *env = getenv("DERA_KERNEL_LEVEL");
    if (!(env && env[0] == '2') && l > 1) l = 1;
    return l;
}

// -1 = not yet detected. Racing first calls all store the same value, so relaxed atomics suffice.
static int g_level = -1;
static int g_default = -1;
// Per-thread override set by dera_set_kernel_level (-1 = none), so tests can pin a path without
// affecting work running on other threads.
static _Thread_local int t_forced = -1;

static inline int detected(void) {
    int l = __atomic_load_n(&g_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = detected_level();
        __atomic_store_n(&g_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

static inline int default_cached(void) {
    int l = __atomic_load_n(&g_default, __ATOMIC_RELAXED);
    if (l < 0) {
        l = default_level();
        __atomic_store_n(&g_default, l, __ATOMIC_RELAXED);
    }
    return l;
}

static inline int level(void) { return t_forced >= 0 ? t_forced : default_cached(); }

int dera_kernel_level(void) { return level(); }

int dera_default_kernel_level(void) { return default_cached(); }

// The 8-bit activation kernels take every level the CPU has (capped by DERA_KERNEL_LEVEL): their AVX-512 VNNI
// forms are exact integer arithmetic, as fast as AVX2 for one row and much faster for batched rows (SmolLM2
// Q4_1, 2 rows: 1.19-1.26x one row's time against 1.32-1.48x at level 1, 2026-11-29). The float kernels keep
// the AVX2 default measured above.
int dera_q8_kernel_level(void) { return t_forced >= 0 ? t_forced : detected(); }

int dera_max_kernel_level(void) { return detected(); }

int dera_set_kernel_level(int requested) {
    int max = detected();
    t_forced = requested < 0 ? -1 : (requested > max ? max : requested);
    return level();
}

int dera_type_supported(uint32_t type) { return dera_block_len(type) != 0; }

void dera_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    if (n <= 0 || !dera_type_supported(type)) return;
#if DERA_HAVE_AVX2_KERNELS
    if (level() >= 1) { dera_dequantize_row_avx2(type, src, dst, n); return; }
#endif
    dera_dequantize_row_scalar(type, src, dst, n);
}

float dera_dot_row(uint32_t type, const void *row, const float *x, int64_t n) {
    if (n <= 0 || !dera_type_supported(type)) return 0;
#if DERA_HAVE_AVX2_KERNELS
    int l = level();
    if (l >= 2) return dera_dot_row_avx512(type, row, x, n);
    if (l >= 1) return dera_dot_row_avx2(type, row, x, n);
#endif
    return dera_dot_row_scalar(type, row, x, n);
}

void dera_matvec(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                 int64_t row_begin, int64_t row_end, int64_t n) {
    if (row_end <= row_begin || !dera_type_supported(type)) return;
    if (n <= 0) {
        for (int64_t r = row_begin; r < row_end; r++) y[r] = 0;
        return;
    }
#if DERA_HAVE_AVX2_KERNELS
    int l = level();
    if (l >= 2) { dera_matvec_avx512(type, w, row_bytes, x, y, row_begin, row_end, n); return; }
    if (l >= 1) { dera_matvec_avx2(type, w, row_bytes, x, y, row_begin, row_end, n); return; }
#endif
    dera_matvec_scalar(type, w, row_bytes, x, y, row_begin, row_end, n);
}

void dera_matmat(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                 float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    if (row_end <= row_begin || n_vec <= 0 || !dera_type_supported(type)) return;
    if (n <= 0) {
        for (int64_t v = 0; v < n_vec; v++)
            for (int64_t r = row_begin; r < row_end; r++) y[v * rows + r] = 0;
        return;
    }
#if DERA_HAVE_AVX2_KERNELS
    int l = level();
    if (l >= 2) { dera_matmat_avx512(type, w, row_bytes, x, n_vec, y, rows, row_begin, row_end, n); return; }
    if (l >= 1) { dera_matmat_avx2(type, w, row_bytes, x, n_vec, y, rows, row_begin, row_end, n); return; }
#endif
    dera_matmat_scalar(type, w, row_bytes, x, n_vec, y, rows, row_begin, row_end, n);
}

void dera_f16_to_f32(const uint16_t *src, float *dst, int64_t n) {
    if (n <= 0) return;
#if DERA_HAVE_AVX2_KERNELS
    if (level() >= 1) { dera_f16_to_f32_avx2(src, dst, n); return; }
#endif
    dera_f16_to_f32_scalar(src, dst, n);
}

void dera_f32_to_f16(const float *src, uint16_t *dst, int64_t n) {
    if (n <= 0) return;
#if DERA_HAVE_AVX2_KERNELS
    if (level() >= 1) { dera_f32_to_f16_avx2(src, dst, n); return; }
#endif
    dera_f32_to_f16_scalar(src, dst, n);
}
