// Portable scalar kernels: the reference for every SIMD path and the fallback on CPUs without AVX2.
#include "kernels_internal.h"

// ---- one block -> 32 or 256 floats -------------------------------------------------------------

static void deq_q4_0(const dera_block_q4_0 *b, float *y) {
    float d = dera_h2f(dera_rd16(&b->d));
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((b->qs[j] & 0xF) - 8) * d;
        y[j + 16] = (float)((b->qs[j] >> 4) - 8) * d;
    }
}

static void deq_q4_1(const dera_block_q4_1 *b, float *y) {
    float d = dera_h2f(dera_rd16(&b->d));
    float m = dera_h2f(dera_rd16(&b->m));
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(b->qs[j] & 0xF) * d + m;
        y[j + 16] = (float)(b->qs[j] >> 4) * d + m;
    }
}

static void deq_q5_0(const dera_block_q5_0 *b, float *y) {
    float d = dera_h2f(dera_rd16(&b->d));
    uint32_t qh = dera_rd32(b->qh);
    for (int j = 0; j < 16; j++) {
        int xh0 = (int)(((qh >> j) << 4) & 0x10);
        int xh1 = (int)((qh >> (j + 12)) & 0x10);
        y[j] = (float)(((b->qs[j] & 0xF) | xh0) - 16) * d;
        y[j + 16] = (float)(((b->qs[j] >> 4) | xh1) - 16) * d;
    }
}

static void deq_q8_0(const dera_block_q8_0 *b, float *y) {
    float d = dera_h2f(dera_rd16(&b->d));
    for (int j = 0; j < 32; j++) y[j] = (float)b->qs[j] * d;
}

static void deq_q4_k(const dera_block_q4_k *b, float *y) {
    float d = dera_h2f(dera_rd16(&b->d));
    float dmin = dera_h2f(dera_rd16(&b->dmin));
    const uint8_t *q = b->qs;
    for (int g = 0; g < 4; g++, q += 32, y += 64) {
        uint8_t sc, m;
        dera_q4k_scale_min(2 * g, b->scales, &sc, &m);
        float d1 = d * sc, m1 = dmin * m;
        dera_q4k_scale_min(2 * g + 1, b->scales, &sc, &m);
        float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) y[l + 32] = d2 * (float)(q[l] >> 4) - m2;
    }
}

static void deq_q6_k(const dera_block_q6_k *b, float *y) {
    float d = dera_h2f(dera_rd16(&b->d));
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

// Dequantises block `i` of a row of a quantised type (block length 32 or 256).
static void deq_block(uint32_t type, const uint8_t *row, int64_t i, float *y) {
    switch (type) {
    case DERA_Q4_0: deq_q4_0((const dera_block_q4_0 *)(row + i * 18), y); break;
    case DERA_Q4_1: deq_q4_1((const dera_block_q4_1 *)(row + i * 20), y); break;
    case DERA_Q5_0: deq_q5_0((const dera_block_q5_0 *)(row + i * 22), y); break;
    case DERA_Q8_0: deq_q8_0((const dera_block_q8_0 *)(row + i * 34), y); break;
    case DERA_Q4_K: deq_q4_k((const dera_block_q4_k *)(row + i * 144), y); break;
    case DERA_Q6_K: deq_q6_k((const dera_block_q6_k *)(row + i * 210), y); break;
    default: break;
    }
}

// ---- public scalar entry points ----------------------------------------------------------------

void dera_f16_to_f32_scalar(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = dera_h2f(src[i]);
}

void dera_f32_to_f16_scalar(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = dera_f2h(src[i]);
}

void dera_dequantize_row_scalar(uint32_t type, const void *src, float *dst, int64_t n) {
    const uint8_t *s = (const uint8_t *)src;
    switch (type) {
    case DERA_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return;
    case DERA_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = dera_h2f(dera_rd16(s + 2 * i));
        return;
    case DERA_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = dera_bf2f(dera_rd16(s + 2 * i));
        return;
    default: {
        int64_t bl = dera_block_len(type);
        if (bl == 0) return;
        for (int64_t i = 0; i < n / bl; i++) deq_block(type, s, i, dst + i * bl);
    }
    }
}

float dera_dot_row_scalar(uint32_t type, const void *row, const float *x, int64_t n) {
    const uint8_t *s = (const uint8_t *)row;
    double acc = 0; // scalar path favours accuracy over speed
    switch (type) {
    case DERA_F32: {
        for (int64_t i = 0; i < n; i++) {
            float w; memcpy(&w, s + 4 * i, 4);
            acc += (double)(w * x[i]);
        }
        return (float)acc;
    }
    case DERA_F16:
        for (int64_t i = 0; i < n; i++) acc += (double)(dera_h2f(dera_rd16(s + 2 * i)) * x[i]);
        return (float)acc;
    case DERA_BF16:
        for (int64_t i = 0; i < n; i++) acc += (double)(dera_bf2f(dera_rd16(s + 2 * i)) * x[i]);
        return (float)acc;
    default: {
        int64_t bl = dera_block_len(type);
        if (bl == 0) return 0;
        float buf[256];
        for (int64_t i = 0; i < n / bl; i++) {
            deq_block(type, s, i, buf);
            const float *xb = x + i * bl;
            float part = 0;
            for (int64_t j = 0; j < bl; j++) part += buf[j] * xb[j];
            acc += part;
        }
        return (float)acc;
    }
    }
}

void dera_matvec_scalar(uint32_t type, const void *w, size_t row_bytes, const float *x, float *y,
                        int64_t row_begin, int64_t row_end, int64_t n) {
    const uint8_t *base = (const uint8_t *)w;
    for (int64_t r = row_begin; r < row_end; r++)
        y[r] = dera_dot_row_scalar(type, base + (size_t)r * row_bytes, x, n);
}

void dera_matmat_scalar(uint32_t type, const void *w, size_t row_bytes, const float *x, int64_t n_vec,
                        float *y, int64_t rows, int64_t row_begin, int64_t row_end, int64_t n) {
    const uint8_t *base = (const uint8_t *)w;
    int64_t bl = dera_block_len(type);
    if (bl == 0) return;
    if (bl == 1) bl = 256; // plain types: convert in chunks of 256
    float buf[256];
    enum { G = 8 };
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int64_t v0 = 0; v0 < n_vec; v0 += G) {
            int64_t g = n_vec - v0 < G ? n_vec - v0 : G;
            double acc[G] = {0};
            for (int64_t i = 0; i < n; i += bl) {
                int64_t len = n - i < bl ? n - i : bl;
                switch (type) {
                case DERA_F32: memcpy(buf, row + 4 * i, (size_t)len * 4); break;
                case DERA_F16: for (int64_t j = 0; j < len; j++) buf[j] = dera_h2f(dera_rd16(row + 2 * (i + j))); break;
                case DERA_BF16: for (int64_t j = 0; j < len; j++) buf[j] = dera_bf2f(dera_rd16(row + 2 * (i + j))); break;
                default: deq_block(type, row, i / bl, buf); break;
                }
                for (int64_t v = 0; v < g; v++) {
                    const float *xv = x + (v0 + v) * n + i;
                    float part = 0;
                    for (int64_t j = 0; j < len; j++) part += buf[j] * xv[j];
                    acc[v] += part;
                }
            }
            for (int64_t v = 0; v < g; v++) y[(v0 + v) * rows + r] = (float)acc[v];
        }
    }
}
