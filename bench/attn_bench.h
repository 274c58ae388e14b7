/* attn_bench.h -- attention benchmark inputs shared by the suite, the naive baseline
 * and the sampled float64 check. All tensors are contiguous [B, H, S, D]. */
#ifndef TPRIM_BENCH_ATTN_BENCH_H
#define TPRIM_BENCH_ATTN_BENCH_H

#include "bench.h"

typedef struct attn_shape {
    const char *name;
    int64_t B, Hq, Hkv, S, D;
    int causal;
    int bias; /* 1: OpenFold-style mask bias [B, 1, 1, S] and pair bias [1, H, S, S] (f32);
               * 2: the same in the input dtype (suite_cuda.c; the host copies hold the
               * rounded values in f32) */
} attn_shape;

typedef struct attn_set {
    void *q, *k, *v, *out;
    float *mask, *pair;
    tprim_tensor tq, tk, tv, to, tmask, tpair;
    tprim_attn_params pa;
} attn_set;

/* Host inputs of a shape in dtype dt (random, never zeros; biases f32), and free. */
void attn_set_alloc(attn_set *st, const attn_shape *sh, tprim_dtype dt, uint64_t seed);
void attn_set_free(attn_set *st);

/* The two numbers of a shape: flops 2 (D + Dv) per visible (query, key) pair; bytes of
 * q, k, v, out once in dtype dt, plus the biases once (f32, or dt when bias = 2). */
double attn_shape_flops(const attn_shape *sh);
double attn_shape_bytes(const attn_shape *sh, tprim_dtype dt);

/* Read one element of dtype dt. */
static inline float ab_load(const void *p, int64_t i, tprim_dtype dt)
{
    if (dt == TPRIM_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    uint32_t u;
    if (dt == TPRIM_BF16) {
        u = (uint32_t)h << 16;
    } else {
        uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 0x3ffu;
        if (e == 0) { /* zero or subnormal */
            float f = (float)m * 0x1p-24f;
            return s ? -f : f;
        }
        u = s | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112u) << 23) | (m << 13));
    }
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

/* The textbook algorithm, materialising the score matrix of each (batch, head):
 * S = scale Q K^T + biases, causal mask, row softmax, O = P V. Runs the first
 * `units` (batch, head) pairs on `threads` threads; writes out in dtype. */
void naive_attention(const attn_shape *sh, tprim_dtype dt, const attn_set *in, void *out,
                     int64_t units, int threads);

/* Relative error ||out - ref|| / ||ref|| over up to `rows` evenly spaced rows of each
 * of the given (batch, head) units, ref computed in float64. */
double oracle_sample_err(const attn_shape *sh, tprim_dtype dt, const attn_set *in,
                         const void *out, const int64_t *units, int nunits, int rows);

#endif
