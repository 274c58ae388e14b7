/* cuda_attn.h -- the attention problem as the CUDA kernels take it: a plain struct of
 * fixed-size fields, passed by value as the kernel's only parameter. Built from the
 * front-end's tp_attn_problem by attention_cuda.c; read by the .cu kernels. Shared by
 * C and CUDA C++, so it holds nothing but integers, floats and pointers. */
#ifndef TPRIM_CUDA_ATTN_H
#define TPRIM_CUDA_ATTN_H

#include <stdint.h>

#include "fast_div.h"

/* dtype codes: the values of tprim_dtype */
#define TP_CU_F32 0
#define TP_CU_BF16 1
#define TP_CU_F16 2
#define TP_CU_I32 4
#define TP_CU_I64 5

typedef struct tp_cu_op {
    const void *data;   /* element (0, 0, 0, 0) */
    int64_t sb[3];      /* batch strides (elements), 0 where broadcast */
    int64_t sh, si, sj; /* head, row, column strides */
    int32_t dtype;
    int32_t vec;        /* 1: column stride 1 and every row starts on 16 bytes */
} tp_cu_op;

/* The units of the producer-form evoformer kernel's S (scale_units.h): scale = 2^e f with
 * f in [1, 2). */
typedef struct tp_cu_units {
    float qmul; /* 2^e */
    float g;    /* 1 / f */
    float sc;   /* f log2(e) */
    float p[3]; /* g as three pieces of the dtype (>= 0, rounded toward zero; sum g) */
    int32_t n1; /* the pieces that are not zero (the first n1) */
} tp_cu_units;

typedef struct tp_cu_attn {
    int64_t bdim[3];          /* batch dims, 1-padded at the front */
    int64_t nbatch, Hq, Hkv, G, Sq, Sk, D, Dv;
    int64_t wl, wr;           /* window edges, >= 2^60 when unbounded; causal folded in */
    float scale, softcap;     /* softcap 0 = off */
    int32_t dtype;            /* of q, k, v, out */
    int32_t nbias, has_alibi, has_klen, has_kmask, has_lse;
    int32_t batch_inner;      /* 1: blocks of one (q tile, head) run over the batch together */
    int32_t n_qtiles;         /* query tiles per (batch, head) for the chosen kernel */
    int32_t bstage[2];        /* staged-bias kernel: rows of bias x's shared tile (1 when
                                 its row stride is 0, else the block's rows) */
    tp_cu_op q, k, v, out, bias[2], alibi, klen, kmask, lse;
    tp_cu_units un;           /* the producer-form evoformer kernel's units (_b2hw3, _b2hp3) */
    /* nbatch, Hq, bdim[2], bdim[1], G as fast divisors (fast_div.h; d = 0 past 2^31 - 1),
       and n_qtiles (set with it) */
    tp_cu_fdiv fd_nb, fd_nh, fd_b2, fd_b1, fd_g, fd_nq;
} tp_cu_attn;

#define TP_CU_UNBOUNDED ((int64_t)1 << 60)

/* log2(e) as an f32: the one constant of the kernels (TP_LOG2E) and of the host code
 * that works out their units (scale_units.h) */
#define TP_CU_LOG2E 1.4426950408889634f

/* A TMA tensor map (the driver's CUtensorMap: 128 opaque bytes, 64-byte aligned). */
typedef struct tp_cu_tmap {
    uint64_t w[16];
} __attribute__((aligned(64))) tp_cu_tmap;

/* The tensor maps of the evoformer kernel's TMA form (_b2hm4, attention_wgmma_bias.cuh),
 * its second kernel parameter (__grid_constant__): q, k, v, bias 0 (rows x keys), bias 1
 * (the row shared by every query), each a 5D map {columns, rows, c2, c3, c4}. sel[x]
 * names the index that coordinate 2 + s of map x takes, in bits 4 s .. 4 s + 3: 0 the
 * head (the kv head for k and v), 1 .. 3 batch index 2, 1, 0, 15 none (coordinate 0). */
#define TP_CU_TMAPS 5
typedef struct tp_cu_tmaps {
    tp_cu_tmap m[TP_CU_TMAPS];
    uint32_t sel[TP_CU_TMAPS];
} tp_cu_tmaps;

#endif
