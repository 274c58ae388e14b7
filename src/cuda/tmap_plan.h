/* tmap_plan.h -- where a 5D TMA tensor map puts one operand of the attention problem
 * (the evoformer kernel's TMA form: attention_cuda.c makes the maps, the kernel names
 * their coordinates; attention_wgmma_bias.cuh). Host code, shared by the launcher and
 * tests/test_cuda.c.
 *
 * Elements are 16-bit. Dim 0 is the columns (unit stride), dim 1 the rows (row stride
 * o->si; a single row, as bias 1's, gets any legal stride), dims 2 .. 4 the head and
 * batch dims in the order head, batch 2, batch 1, batch 0 that have more than one index
 * and a nonzero stride (a broadcast dim needs no coordinate), then dims of size 1. sel
 * says which index each of coordinates 2 .. 4 takes (bits 4 s .. 4 s + 3 for coordinate
 * 2 + s: 0 the head, 1 .. 3 batch index 2, 1, 0, 15 none); tp_cu_tmaps::sel. TMA's
 * limits: at most 5 dims, dims and coordinates below 2^31 here (the kernel's coordinates
 * are int), byte strides multiples of 16 (the operands' 16-byte rows, checked by the
 * launcher) below 2^40, none negative. */
#ifndef TPRIM_CUDA_TMAP_PLAN_H
#define TPRIM_CUDA_TMAP_PLAN_H

#include <stdint.h>

#include "cuda_attn.h"

typedef struct tp_tmap_plan {
    uint64_t dim[5];    /* elements */
    uint64_t stride[4]; /* bytes: stride[i] is dim i + 1's */
    uint32_t sel;
} tp_tmap_plan;

/* The plan of operand o as rows x cols, with outer[] = {heads, bdim[2], bdim[1], bdim[0]}
 * the sizes of its head and batch dims; NULL, or why TMA cannot take it. */
static inline const char *tp_tmap_plan_make(tp_tmap_plan *pl, const tp_cu_op *o, int64_t rows, int64_t cols,
                                            const int64_t outer[4])
{
    const int64_t lim = (int64_t)1 << 31, slim = (int64_t)1 << 40;
    pl->sel = 0xfffu;
    if (rows < 1 || cols < 1 || rows >= lim || cols >= lim) return "more than 2^31 - 1 rows or columns (TMA coordinates)";
    for (int i = 0; i < 5; i++) pl->dim[i] = 1;
    pl->dim[0] = (uint64_t)cols, pl->dim[1] = (uint64_t)rows;
    const int64_t si = rows > 1 ? o->si * 2 : (cols * 2 + 15) / 16 * 16;
    if (si <= 0 || si >= slim) return "a row stride TMA cannot take";
    pl->stride[0] = (uint64_t)si;
    const int64_t str[4] = {o->sh, o->sb[2], o->sb[1], o->sb[0]};
    uint32_t sel = 0xfffu;
    int r = 2;
    for (int l = 0; l < 4; l++) {
        if (outer[l] <= 1 || str[l] == 0) continue;
        if (r == 5) return "more than three head and batch dims that are not broadcast (TMA maps have 5)";
        if (str[l] < 0 || str[l] >= slim / 2 || outer[l] >= lim) return "a head or batch stride TMA cannot take";
        pl->dim[r] = (uint64_t)outer[l];
        pl->stride[r - 1] = (uint64_t)(str[l] * 2);
        sel = (sel & ~(15u << (4 * (r - 2)))) | ((uint32_t)l << (4 * (r - 2)));
        r++;
    }
    for (; r < 5; r++) pl->stride[r - 1] = pl->stride[r - 2]; /* dims of size 1 */
    pl->sel = sel;
    return NULL;
}

#ifdef __CUDACC__
#define TP_TMAP_FN __host__ __device__ __forceinline__
#else
#define TP_TMAP_FN static inline
#endif

/* Coordinate 2 + s (s = 0, 1, 2) of a map whose selectors are sel, for head h and batch
 * indices bi[0 .. 2]: the index sel names, 0 for none. The kernels' side of the plan. */
TP_TMAP_FN int tp_tmap_coord(uint32_t sel, int s, int64_t h, const int64_t bi[3])
{
    const uint32_t x = (sel >> (4 * s)) & 15u;
    return (int)(x == 0 ? h : x == 1 ? bi[2] : x == 2 ? bi[1] : x == 3 ? bi[0] : 0);
}

#endif
