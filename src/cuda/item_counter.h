/* item_counter.h -- the work items of a persistent block as a mixed-radix counter.
 *
 * A persistent kernel's block takes items blockIdx.x + k gridDim.x, k = 0, 1, .., and
 * needs each item's (batch indices i0, i1, i2, head h, query tile qt) as tp_cu_block_at
 * and tp_cu_bidx give them, which costs six 64-bit divisions an item. Written in the
 * digits those functions read an item by (batch innermost: i2, i1, i0, h, then the query
 * tile counted from the last; otherwise h first), the next item is the digit-wise sum
 * with gridDim.x's digits, carried: additions and compares only. Shared by C (the test)
 * and CUDA C++; every radix and digit fits in 32 bits (the launcher keeps the item count
 * below 2^31). */
#ifndef TPRIM_CUDA_ITEM_COUNTER_H
#define TPRIM_CUDA_ITEM_COUNTER_H

#include <stdint.h>

#ifdef __CUDACC__
#define TP_HD __host__ __device__ __forceinline__
#else
#define TP_HD static inline
#endif

typedef struct tp_item_ctr {
    int32_t d[5], inc[5], rad[5]; /* digits of the item, of the step, radices */
    int32_t inner;                /* batch innermost (tp_cu_attn.batch_inner) */
} tp_item_ctr;

/* The counter at item `first`, stepping by `step` items, for batch dims bdim[3] (1-padded
 * at the front), hq heads and nq query tiles. */
TP_HD void tp_item_ctr_init(tp_item_ctr *c, const int64_t bdim[3], int64_t hq, int64_t nq, int inner,
                            int64_t first, int64_t step)
{
    c->inner = inner;
    if (inner) c->rad[0] = (int32_t)bdim[2], c->rad[1] = (int32_t)bdim[1], c->rad[2] = (int32_t)bdim[0],
               c->rad[3] = (int32_t)hq;
    else c->rad[0] = (int32_t)hq, c->rad[1] = (int32_t)bdim[2], c->rad[2] = (int32_t)bdim[1],
         c->rad[3] = (int32_t)bdim[0];
    c->rad[4] = (int32_t)nq;
    for (int x = 0; x < 5; x++) { /* (the last digit of the step may exceed its radix: unused) */
        c->d[x] = (int32_t)(x < 4 ? first % c->rad[x] : first);
        c->inc[x] = (int32_t)(x < 4 ? step % c->rad[x] : step);
        first /= c->rad[x];
        step /= c->rad[x];
    }
}

/* Advance to the next item (the caller stops before the last digit passes nq). */
TP_HD void tp_item_ctr_next(tp_item_ctr *c)
{
    int32_t carry = 0;
    for (int x = 0; x < 4; x++) {
        int32_t v = c->d[x] + c->inc[x] + carry;
        carry = v >= c->rad[x];
        c->d[x] = carry ? v - c->rad[x] : v;
    }
    c->d[4] += c->inc[4] + carry;
}

/* The item's batch indices, head and query tile (the heaviest tile first, as
 * tp_cu_block_at). */
TP_HD void tp_item_ctr_get(const tp_item_ctr *c, int64_t bi[3], int64_t *h, int64_t *qt)
{
    const int in = c->inner; /* (selects, not an index: the digits stay in registers) */
    bi[2] = in ? c->d[0] : c->d[1], bi[1] = in ? c->d[1] : c->d[2], bi[0] = in ? c->d[2] : c->d[3];
    *h = in ? c->d[3] : c->d[0];
    *qt = (int64_t)c->rad[4] - 1 - c->d[4];
}

#undef TP_HD
#endif
