/* attention_common.cuh -- device helpers shared by the CUDA attention kernels:
 * addressing of tp_cu_op operands, element loads of any dtype, the visible key range
 * of a query row (bottom-right aligned causal / sliding window, key lengths), the key
 * mask and ALiBi. The semantics are those of tprim_attention (include/tprim.h). */
#ifndef TPRIM_CUDA_ATTENTION_COMMON_CUH
#define TPRIM_CUDA_ATTENTION_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "cuda_attn.h"

#define TP_LOG2E TP_CU_LOG2E

/* Batch indices of flat batch b. */
struct tp_bidx {
    int64_t i[3];
};

__device__ __forceinline__ tp_bidx tp_cu_bidx(const tp_cu_attn &a, int64_t b)
{
    tp_bidx r;
    r.i[2] = b % a.bdim[2];
    b /= a.bdim[2];
    r.i[1] = b % a.bdim[1];
    r.i[0] = b / a.bdim[1];
    return r;
}

/* Element offset of (batch, head) in an operand. */
__device__ __forceinline__ int64_t tp_cu_off(const tp_cu_op &o, const tp_bidx &bi, int64_t h)
{
    return bi.i[0] * o.sb[0] + bi.i[1] * o.sb[1] + bi.i[2] * o.sb[2] + h * o.sh;
}

/* Load element idx of a float operand as f32. */
__device__ __forceinline__ float tp_cu_ldf(const void *base, int32_t dtype, int64_t idx)
{
    if (dtype == TP_CU_F32) return ((const float *)base)[idx];
    if (dtype == TP_CU_BF16) return __bfloat162float(((const __nv_bfloat16 *)base)[idx]);
    return __half2float(((const __half *)base)[idx]);
}

__device__ __forceinline__ void tp_cu_stf(void *base, int32_t dtype, int64_t idx, float x)
{
    if (dtype == TP_CU_F32) ((float *)base)[idx] = x;
    else if (dtype == TP_CU_BF16) ((__nv_bfloat16 *)base)[idx] = __float2bfloat16_rn(x);
    else ((__half *)base)[idx] = __float2half_rn(x);
}

/* Key length of batch entry bi, clamped to 0..Sk (the CUDA path does not read the
 * device-resident key_lens on the host to reject bad values; see tprim.h). */
__device__ __forceinline__ int64_t tp_cu_key_len(const tp_cu_attn &a, const tp_bidx &bi)
{
    if (!a.has_klen) return a.Sk;
    int64_t off = tp_cu_off(a.klen, bi, 0);
    int64_t v = a.klen.dtype == TP_CU_I32 ? (int64_t)((const int32_t *)a.klen.data)[off]
                                          : ((const int64_t *)a.klen.data)[off];
    return v < 0 ? 0 : (v > a.Sk ? a.Sk : v);
}

/* Visible keys [lo, hi) of query row i given key length kl. */
__device__ __forceinline__ void tp_cu_row_range(const tp_cu_attn &a, int64_t kl, int64_t i,
                                                int64_t &lo, int64_t &hi)
{
    int64_t ia = i + (kl - a.Sq);
    int64_t l = a.wl >= TP_CU_UNBOUNDED ? 0 : ia - a.wl;
    int64_t h = a.wr >= TP_CU_UNBOUNDED ? kl : ia + a.wr + 1;
    lo = l < 0 ? 0 : l;
    hi = h > kl ? kl : h;
}

/* Block (work item) idx -> flat batch b, head h, query tile qt: the heaviest (last) query
 * tiles first (causal), and the batch index fastest when a bias is shared across the
 * batch (a.batch_inner), so the blocks in flight together read one bias tile from L2.
 * (Measured on the H100: the query tiles of one (b, h) side by side, to share K and V
 * through L2, ran the LLM shapes 4-6 % slower and the evoformer shapes no faster.) */
__device__ __forceinline__ void tp_cu_block_at(const tp_cu_attn &a, int64_t idx, int64_t &b, int64_t &h, int64_t &qt)
{
    if (a.batch_inner) {
        b = idx % a.nbatch;
        idx /= a.nbatch;
        h = idx % a.Hq;
        idx /= a.Hq;
    } else {
        h = idx % a.Hq;
        idx /= a.Hq;
        b = idx % a.nbatch;
        idx /= a.nbatch;
    }
    qt = a.n_qtiles - 1 - idx;
}
/* tp_cu_block_at and tp_cu_bidx together, in 32-bit arithmetic (a 64-bit division is a
 * ~70-instruction subroutine, a 32-bit one ~20): for launchers that keep the block count,
 * hence every factor of it, below 2^31 (the wgmma kernels). The same mapping. */
__device__ __forceinline__ void tp_cu_block_at32(const tp_cu_attn &a, uint32_t idx, int64_t &b, int64_t &h,
                                                 int64_t &qt, tp_bidx &bi)
{
    uint32_t x = idx, bb, hh;
    const uint32_t nb = (uint32_t)a.nbatch, nh = (uint32_t)a.Hq;
    if (a.batch_inner) bb = x % nb, x /= nb, hh = x % nh, x /= nh;
    else hh = x % nh, x /= nh, bb = x % nb, x /= nb;
    qt = a.n_qtiles - 1 - (int64_t)x;
    b = bb, h = hh;
    const uint32_t d2 = (uint32_t)a.bdim[2], d1 = (uint32_t)a.bdim[1];
    bi.i[2] = bb % d2, bb /= d2;
    bi.i[1] = bb % d1, bi.i[0] = bb / d1;
}
/* the block's work item: its index */
__device__ __forceinline__ void tp_cu_block(const tp_cu_attn &a, int64_t &b, int64_t &h, int64_t &qt)
{
    tp_cu_block_at(a, blockIdx.x, b, h, qt);
}

/* The keys query rows q0 .. qlast can see: the first and last rows' ranges (tiles
 * between need no element mask) and the key tiles [t_begin, t_end) of bn keys. */
struct tp_cu_keys {
    int64_t lo_first, hi_first, lo_last, hi_last, t_begin, t_end;
};

__device__ __forceinline__ tp_cu_keys tp_cu_block_keys(const tp_cu_attn &a, int64_t kl, int64_t q0,
                                                       int64_t qlast, int64_t bn)
{
    tp_cu_keys k;
    tp_cu_row_range(a, kl, q0, k.lo_first, k.hi_first);
    tp_cu_row_range(a, kl, qlast, k.lo_last, k.hi_last);
    k.t_begin = k.lo_first / bn;
    k.t_end = k.hi_last > k.lo_first ? (k.hi_last + bn - 1) / bn : k.t_begin;
    return k;
}

__device__ __forceinline__ float tp_cu_alibi(const tp_cu_attn &a, const tp_bidx &bi, int64_t h)
{
    if (!a.has_alibi) return 0.0f;
    return ((const float *)a.alibi.data)[tp_cu_off(a.alibi, bi, h)];
}

#endif
