/* scale_units.h -- the units of the producer-form evoformer kernel's S accumulator
 * (attention_wgmma_ws.cuh: _b2hw3, _b2hp3), worked out on the host once a call (on the
 * device they would cost registers). Shared by the launcher and tests/test_cuda.c.
 *
 * scale = 2^e f with f in [1, 2). The kernel holds S = (2^e q) K^T + g B0 + g b1 with
 * g = 1 / f, so that f S is the logit:
 *   - 2^e q is exact (a power of two; e <= 0 for scale <= 1) but where it falls below
 *     the dtype's normal range;
 *   - g B0 is one f32 multiply an element as bias 0 becomes S's start value (g <= 1: it
 *     cannot overflow where B0 does not);
 *   - g b1 is the tensor cores' product of b1 with g in three pieces of the dtype, each
 *     rounded toward zero from what is left: their sum is g exactly (8 + 8 + 8 bits of
 *     bf16; 11 + 11 + the subnormal rest of f16), none is negative (so -inf b1 stays
 *     -inf), and the pieces that are zero come last: n1 counts the others, and only they
 *     meet a copy of b1 (0 x inf would be NaN);
 *   - the softmax's exponent takes sc = f log2(e) in its fma.
 * Against scale q as hi + lo (the other forms): S is 3 k-steps instead of 5, and q's
 * pieces and K are read from shared memory once instead of twice, for 64 multiplies a
 * thread a 64-row bias tile. */
#ifndef TPRIM_CUDA_SCALE_UNITS_H
#define TPRIM_CUDA_SCALE_UNITS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cuda_attn.h"

/* x >= 0 rounded toward zero to the dtype (TP_CU_BF16 or TP_CU_F16; x < 2^15) */
static inline float tp_cu_units_trunc(float x, int32_t dtype)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if (dtype == TP_CU_BF16) {
        u &= 0xffff0000u; /* 8 significant bits, f32's exponent range */
    } else {
        if (x < 0x1p-14f) return floorf(x * 0x1p24f) * 0x1p-24f; /* f16 subnormal: multiples of 2^-24 */
        u &= ~0x1fffu; /* 11 significant bits */
    }
    memcpy(&x, &u, 4);
    return x;
}

/* The units for scale (0 < scale, finite) and dtype. */
static inline void tp_cu_units_make(tp_cu_units *u, float scale, int32_t dtype)
{
    int e;
    const float f = 2.0f * frexpf(scale, &e); /* scale = f 2^(e - 1), f in [1, 2) */
    u->qmul = ldexpf(1.0f, e - 1);
    u->g = 1.0f / f;
    u->sc = f * TP_CU_LOG2E;
    float r = u->g;
    u->n1 = 0;
    for (int i = 0; i < 3; i++) {
        u->p[i] = tp_cu_units_trunc(r, dtype);
        r -= u->p[i]; /* exact: the piece is r with its low bits cleared */
        u->n1 += u->p[i] != 0.0f;
    }
}

#endif
