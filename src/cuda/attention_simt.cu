/* attention_simt.cu -- the CUDA reference attention kernel: exact f32 arithmetic on the
 * CUDA cores (no tensor cores), any dtype (f32, bf16, f16), any D and Dv, every option.
 * It is the kernel for f32 inputs (their error stays at f32 rounding, ~1e-6) and for
 * shapes the tensor-core kernel does not take, and the yardstick the fast kernel is
 * tested beside.
 *
 * One warp per query row, four rows (warps) per block so that neighbouring rows share
 * k and v lines in L1. The lanes split each chunk of 32 keys: lane j computes q.k_j and
 * the logit transform; the chunk's max and sum come from warp shuffles (online
 * softmax); then every lane accumulates its share of the Dv output columns, in shared
 * memory, from the 32 probabilities passed through shared memory.
 * Flops 4 D Sq Sk per head; bytes: k and v are re-read per row from L1/L2. */
#include "attention_common.cuh"

#include <math.h>

#define SIMT_WARPS 4

extern "C" __global__ void __launch_bounds__(SIMT_WARPS * 32)
    tp_attn_simt(const tp_cu_attn a)
{
    extern __shared__ float sm[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t D = a.D, Dv = a.Dv;
    float *qs = sm + (int64_t)warp * (D + Dv + 32);
    float *os = qs + D, *pb = os + Dv; /* q row, output accumulator, 32 probabilities */

    /* block -> (row group, head, batch) */
    const int64_t ngroups = (a.Sq + SIMT_WARPS - 1) / SIMT_WARPS;
    int64_t idx = blockIdx.x;
    const int64_t b = idx % a.nbatch;
    idx /= a.nbatch;
    const int64_t h = idx % a.Hq;
    const int64_t grp = idx / a.Hq;
    const int64_t i = grp * SIMT_WARPS + warp;
    if (grp >= ngroups || i >= a.Sq) return;

    const tp_bidx bi = tp_cu_bidx(a, b);
    const int64_t hk = h / a.G;
    const int64_t qo = tp_cu_off(a.q, bi, h) + i * a.q.si;
    for (int64_t d = lane; d < D; d += 32) qs[d] = tp_cu_ldf(a.q.data, a.q.dtype, qo + d * a.q.sj);
    for (int64_t d = lane; d < Dv; d += 32) os[d] = 0.0f;
    __syncwarp();

    const int64_t kl = tp_cu_key_len(a, bi);
    int64_t lo, hi;
    tp_cu_row_range(a, kl, i, lo, hi);
    const int64_t ko = tp_cu_off(a.k, bi, hk), vo = tp_cu_off(a.v, bi, hk);
    int64_t bo[2] = {0, 0};
    for (int x = 0; x < a.nbias; x++) bo[x] = tp_cu_off(a.bias[x], bi, h) + i * a.bias[x].si;
    const float slope = tp_cu_alibi(a, bi, h);
    const int64_t ia = i + (kl - a.Sq);
    const int64_t kmo = a.has_kmask ? tp_cu_off(a.kmask, bi, 0) : 0;

    float m = -INFINITY, l = 0.0f;
    for (int64_t j0 = lo; j0 < hi; j0 += 32) {
        const int64_t j = j0 + lane;
        float s = -INFINITY;
        int vis = j < hi;
        if (vis && a.has_kmask) vis = ((const unsigned char *)a.kmask.data)[kmo + j * a.kmask.sj] != 0;
        if (vis) {
            float acc = 0.0f;
            const int64_t kr = ko + j * a.k.si;
            for (int64_t d = 0; d < D; d++) acc = fmaf(qs[d], tp_cu_ldf(a.k.data, a.k.dtype, kr + d * a.k.sj), acc);
            s = acc * a.scale;
            if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
            for (int x = 0; x < a.nbias; x++)
                s += tp_cu_ldf(a.bias[x].data, a.bias[x].dtype, bo[x] + j * a.bias[x].sj);
            if (a.has_alibi) s -= slope * fabsf((float)(ia - j));
        }
        float cm = s;
        for (int o = 16; o; o >>= 1) cm = fmaxf(cm, __shfl_xor_sync(0xffffffffu, cm, o));
        const float mn = fmaxf(m, cm);
        const float mu = mn == -INFINITY ? 0.0f : mn;
        const float alpha = expf(m - mu);
        const float p = expf(s - mu);
        float ps = p;
        for (int o = 16; o; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
        l = l * alpha + ps;
        m = mn;
        const int64_t nj = hi - j0 < 32 ? hi - j0 : 32;
        pb[lane] = p;
        __syncwarp();
        for (int64_t d = lane; d < Dv; d += 32) {
            float acc = os[d] * alpha;
            for (int jj = 0; jj < nj; jj++)
                if (pb[jj] != 0.0f)
                    acc = fmaf(pb[jj], tp_cu_ldf(a.v.data, a.v.dtype, vo + (j0 + jj) * a.v.si + d * a.v.sj), acc);
            os[d] = acc;
        }
        __syncwarp();
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const int64_t oo = tp_cu_off(a.out, bi, h) + i * a.out.si;
    for (int64_t d = lane; d < Dv; d += 32) tp_cu_stf((void *)a.out.data, a.out.dtype, oo + d * a.out.sj, os[d] * inv);
    if (a.has_lse && lane == 0)
        ((float *)a.lse.data)[tp_cu_off(a.lse, bi, h) + i * a.lse.si] = l > 0.0f ? m + logf(l) : -INFINITY;
}
