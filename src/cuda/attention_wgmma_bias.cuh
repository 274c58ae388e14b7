/* attention_wgmma_bias.cuh -- the Hopper evoformer kernel whose biases are added by the
 * tensor cores (kD = 32, biases of the input dtype, three warpgroups of 64 query rows).
 *
 * Per key tile of 128 keys, warpgroup w (query rows 64w .. 64w + 63 of the block) gets
 *   S = (scale q) K^T + B0 + b1      one chain of wgmma on one accumulator:
 *     (scale q) K^T   scale q as hi + lo, two pieces of the input dtype (16 or 22 bits of
 *                     the f32 product; the pieces are written once a block, in place of
 *                     Q and in a second column block): 4 k-steps;
 *     B0              I B0, I the 64 x 64 identity (exact in any dtype) and B0 the
 *                     warpgroup's 64 x 128 tile of bias 0 (the pair bias) as the B operand,
 *                     MN-major (its keys are contiguous): 4 k-steps;
 *     b1              1 b1 in the same chain: column 64 of the identity tile holds ones and
 *                     row 64 of the bias tile holds bias 1's row (the mask bias): 1 k-step.
 *   All products are exact (one factor is 0 or 1) and are summed in f32, so S is the
 *   natural-log logit; the softmax is tp_wg_softmax's mode 4 (no scalar bias work: per
 *   score a max, an fma, the exponent, a sum and half a pack).
 * The tensor cores do 9 k-steps of m64n128k16 where the kernels with scalar biases do 2
 * or 3, and the softmax threads no longer load, convert or add a bias per score.
 *
 * The row sums come from P V too: a ones block beside V makes it m64n40, columns 32 .. 39
 * of O being the sums of the 16-bit P (tp_wgb_ones), so the softmax sums nothing.
 *
 * The identity products multiply every bias element by 0 for the other 63 rows: an
 * infinite or NaN bias 0 makes NaN of its column. Then the row sums come out NaN, the
 * block sees it after writing its rows (one __syncthreads_or), and the caller recomputes
 * the block with the scalar-bias kernel, which writes those rows again (exact semantics
 * for infinite biases). Bias 1 is only multiplied by 1 (its row in the k-step holds zeros
 * elsewhere) and may hold -inf.
 *
 * Shared memory (bytes; every tile on 1024): Q pieces 2 x 192 x 64 (64-byte swizzle, hi
 * then lo); K, V 3 stages x 8192 each; identity 3 column blocks x 64 rows x 64 bytes
 * (columns 0 .. 95); bias buffers 3 warpgroups x 2 x 2 column blocks (64 keys each,
 * 128-byte swizzle) x 80 rows (64 rows of bias 0, bias 1's row, 15 zero rows) x 128;
 * 6 mbarriers; on the next 1 KiB the ones block, 128 x 64: 218 112 in all (+ 1 KiB
 * alignment). The identity is copied from a table the compiler builds (tp_wgb_ident).
 * Loads are cp.async as in
 * tp_attn_wgmma3_body: K, V on mbarriers three stages deep, the bias tile of tile j+1
 * issued right after tile j's products and waited for (the warpgroup's copies, a
 * warpgroup barrier) before tile j+1's products. The warpgroups take turns at the tensor
 * cores (named barriers, as in tp_attn_wgmma3_body): 1.60 ms on the triangle shape, 1.64
 * without turns (H200). Then (bench/gpu/ab.sh, medians of 3, H200): 1.585 ms; with the
 * warpgroup index in uniform registers, 32-bit block decode, the identity from a table,
 * the stores before the NaN vote and the row sums from P V, 1.506 ms (the five alone:
 * 1.556, 1.592, 1.584, 1.568, 1.577).
 *
 * Measured and not kept (H200; the code is on the local branch exp/tma-pipe): the K, V and
 * bias tiles by TMA (tensor maps, one thread a warpgroup issuing): 1.70 ms without turns,
 * 1.63 with; two warpgroups of 255 registers issuing S of tile j+1 before the softmax of
 * tile j (two S accumulators, four K / V stages): 2.08 ms. */
#ifndef TPRIM_CUDA_ATTENTION_WGMMA_BIAS_CUH
#define TPRIM_CUDA_ATTENTION_WGMMA_BIAS_CUH

#include "attention_wgmma.cuh"
#include "item_counter.h"

#ifndef TP_LEAN_TURN
#define TP_LEAN_TURN 1
#endif

/* Rows [0, 64) of bias 0 (row stride si; rows >= nrows zero) and bias 1's row
 * as row 64, keys [k0, k0 + 128) (keys >= nk zero) -> one bias buffer: two column blocks
 * of 64 keys x kRowsB rows x 128 bytes, row r at 128 r, 16-byte chunk c at c ^ (r & 7)
 * (the 128-byte swizzle). Copied by the 128 threads of one warpgroup (tid 0 .. 127):
 * thread tid copies chunk tid mod 16 of rows tid / 16 + 8 i, one swizzle phase. */
template <typename TB, int kRowsB>
__device__ __forceinline__ void tp_wgb_load_bias(unsigned char *dst, const TB *b0, int64_t si, int64_t nrows,
                                                 const TB *b1, int64_t k0, int64_t nk, int tid)
{
    constexpr int kBlk = kRowsB * 128;
    const int cc = tid & 15, r0 = tid >> 4;
    unsigned char *d = dst + (cc >> 3) * kBlk + r0 * 128 + (((cc & 7) ^ r0) << 4);
    unsigned char *dm = dst + (cc >> 3) * kBlk + 64 * 128 + ((cc & 7) << 4); /* row 64: phase 0 */
    const int64_t j = k0 + cc * 8;
    if (k0 + 128 <= nk && nrows >= 64) {
        const TB *src = b0 + r0 * si + j;
#pragma unroll
        for (int i = 0; i < 8; i++) tp_cp_async16(d + i * 8 * 128, src + i * 8 * si, 16);
        if (tid < 16) tp_cp_async16(dm, b1 + j, 16);
        return;
    }
    const int n = j < nk ? (int)((nk - j < 8 ? nk - j : 8) * (int64_t)sizeof(TB)) : 0;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int64_t r = r0 + 8 * i;
        const bool in = r < nrows && n > 0;
        tp_cp_async16(d + i * 8 * 128, in ? b0 + r * si + j : b0, in ? n : 0);
    }
    if (tid < 16) tp_cp_async16(dm, n ? b1 + j : b1, n);
}

/* The constant tiles: the identity (64 rows x columns 0 .. 95 in three column blocks of
 * kIBlk bytes, 64-byte swizzle; 1 at column r of row r and at column 64 of every row) and
 * rows 65 .. 79 of each of the nBuf bias buffers (zero for good: the copies never reach
 * them). Written by the kThreads threads of the block with generic stores. */
template <typename T, int kThreads, int kRowsB, int nBuf>
__device__ __forceinline__ void tp_wgb_constants(unsigned char *Is, unsigned char *Bs)
{
    typedef tp_mma_type<T> M;
    constexpr int kIBlk = 64 * 64, kBBlk = kRowsB * 128;
    for (int c = threadIdx.x; c < 64 * 12; c += kThreads) {
        const int r = c / 12, wc = c % 12; /* chunk wc: columns 8 wc .. 8 wc + 7 */
        uint32_t u[4];
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int c0 = 8 * wc + 2 * e;
            u[e] = M::pack(c0 == r || c0 == 64 ? 1.0f : 0.0f, c0 + 1 == r ? 1.0f : 0.0f);
        }
        *reinterpret_cast<uint4 *>(Is + (wc >> 2) * kIBlk + r * 64 + (((wc & 3) ^ tp_sw<32>::phase(r)) << 4)) =
            make_uint4(u[0], u[1], u[2], u[3]);
    }
    constexpr int kZ0 = 65, kZC = (kRowsB - kZ0) * 8;
    for (int c = threadIdx.x; c < nBuf * 2 * kZC; c += kThreads)
        *reinterpret_cast<uint4 *>(Bs + (c / kZC) * kBBlk + (kZ0 + (c % kZC) / 8) * 128 + (c % 8) * 16) =
            make_uint4(0u, 0u, 0u, 0u);
}

/* The identity tile of tp_wgb_constants as it lies in shared memory (768 16-byte chunks,
 * chunk p at byte 16 p), built by the compiler, one a dtype (one: the bits of 1.0), so
 * that a block copies it with two cp.async a thread instead of computing it. */
struct alignas(16) tp_wgb_ident_tab {
    uint32_t w[768 * 4];
};
template <uint32_t kOne> constexpr tp_wgb_ident_tab tp_wgb_ident_make()
{
    tp_wgb_ident_tab t{};
    for (int p = 0; p < 768; p++) {
        const int blk = p / 256, r = p % 256 / 4, slot = p % 4;
        const int wc = blk * 4 + (slot ^ ((r >> 1) & 3)); /* tp_sw<32>::phase(r) */
        for (int e = 0; e < 4; e++) {
            const int c0 = 8 * wc + 2 * e;
            const uint32_t lo = c0 == r || c0 == 64 ? kOne : 0u, hi = c0 + 1 == r ? kOne : 0u;
            t.w[4 * p + e] = lo | hi << 16;
        }
    }
    return t;
}
static __device__ const tp_wgb_ident_tab tp_wgb_ident_bf16 = tp_wgb_ident_make<0x3F80u>();
static __device__ const tp_wgb_ident_tab tp_wgb_ident_f16 = tp_wgb_ident_make<0x3C00u>();
template <typename T> __device__ __forceinline__ const tp_wgb_ident_tab *tp_wgb_ident();
template <> __device__ __forceinline__ const tp_wgb_ident_tab *tp_wgb_ident<__nv_bfloat16>() { return &tp_wgb_ident_bf16; }
template <> __device__ __forceinline__ const tp_wgb_ident_tab *tp_wgb_ident<__half>() { return &tp_wgb_ident_f16; }

/* scale q as hi + lo in place: the 16-byte chunk (8 elements of q) at p becomes hi, the
 * chunk kLo bytes further lo (hi = the dtype's rounding of scale q, lo = the rest) */
template <typename T, int kLo> __device__ __forceinline__ void tp_wgb_split_q(unsigned char *p, float scale)
{
    typedef tp_mma_type<T> M;
    uint4 *c = reinterpret_cast<uint4 *>(p);
    const uint4 v = *c;
    const uint32_t u[4] = {v.x, v.y, v.z, v.w};
    uint32_t hi[4], lo[4];
#pragma unroll
    for (int e = 0; e < 4; e++) {
        const float2 f = tp_wg_bias2(reinterpret_cast<const T *>(&u[e]));
        const float x0 = f.x * scale, x1 = f.y * scale;
        const float h0 = M::to_f32(M::from_f32(x0)), h1 = M::to_f32(M::from_f32(x1));
        hi[e] = M::pack(h0, h1);
        lo[e] = M::pack(x0 - h0, x1 - h1);
    }
    *c = make_uint4(hi[0], hi[1], hi[2], hi[3]);
    *reinterpret_cast<uint4 *>(p + kLo) = make_uint4(lo[0], lo[1], lo[2], lo[3]);
}

/* S = (scale q) K^T + I B0 + 1 b1 for one warpgroup, one chain of 9 k-steps on s: the
 * q pieces (hi, hi, lo, lo: dq, the lo piece kLo bytes further) against K (dk), then the
 * identity (di: k-step kk in column block kk / 2, 32 bytes in for odd kk) against the
 * bias buffer (db: k-step kk at rows 16 kk). */
template <typename T, int kLo, bool kBiases = true>
__device__ __forceinline__ void tp_wgb_issue_s(float (&s)[64], uint64_t dq, uint64_t dk, uint64_t di, uint64_t db)
{
    constexpr int kIBlk = 64 * 64;
#pragma unroll
    for (int ks = 0; ks < 4; ks++) /* hi, hi, lo, lo */
        tp_wg_ss<T, 128>::run(s, tp_desc_add(dq, (ks >> 1) * kLo + (ks & 1) * 32), tp_desc_add(dk, (ks & 1) * 32),
                              ks > 0);
    if constexpr (kBiases) {
#pragma unroll
        for (int kk = 0; kk < 5; kk++)
            tp_wgmma_sst_n128((T *)0, s, tp_desc_add(di, (kk >> 1) * kIBlk + (kk & 1) * 32),
                              tp_desc_add(db, kk * 16 * 128), 1);
    }
}

/* The ones block beside V: 128 keys x 64 bytes in V's layout (64-byte swizzle), the
 * first 8 columns 1 and the rest 0. Given to P V as V's second column block (the
 * descriptor's leading offset, one a stage: tp_wgb_desc_v1), it makes P V m64n40 and
 * columns 32 .. 39 of O the sums of P's rows: the sums of the 16-bit P the products use,
 * in f32 by the tensor cores, rescaled with O; the softmax sums nothing (64 additions a
 * tile less). Written by the block's kThreads threads with generic stores. */
template <typename T, int kThreads> __device__ __forceinline__ void tp_wgb_ones(unsigned char *Os)
{
    typedef tp_mma_type<T> M;
    const uint32_t one2 = M::pack(1.0f, 1.0f);
    for (int c = threadIdx.x; c < 128 * 4; c += kThreads) {
        const int r = c >> 2, slot = c & 3;
        const uint32_t u = (slot ^ tp_sw<32>::phase(r)) == 0 ? one2 : 0u;
        *reinterpret_cast<uint4 *>(Os + r * 64 + slot * 16) = make_uint4(u, u, u, u);
    }
}
/* V's descriptor at stage address va with the ones block at oa as its second column block */
__device__ __forceinline__ uint64_t tp_wgb_desc_v1(uint32_t va, uint32_t oa)
{
    return tp_wg_desc(va, oa - va, 8 * tp_sw<32>::kSpan, tp_sw<32>::kMode);
}
/* O (20: 16 of O, 4 of row sums) += P [V | 1]: 8 k-steps of 16 keys */
template <typename T>
__device__ __forceinline__ void tp_wgb_issue_pv1(float (&o)[20], const uint32_t (&pa)[8][4], uint64_t dv)
{
#pragma unroll
    for (int kk = 0; kk < 8; kk++) tp_wgmma_rs_n40((T *)0, o, pa[kk], tp_desc_add(dv, kk * 16 * 64), 1);
}
/* Normalise and store the rows of O (the first 16 of o) with the row sums P V gave (o[16],
 * o[18]: every thread of a quad holds its rows' whole sums). */
template <typename T, typename LseOff>
__device__ __forceinline__ void tp_wgb_store1(const tp_cu_attn &a, T *ob, LseOff loff, int64_t row0,
                                              const float (&o)[20], const float (&m)[2], int t)
{
    float o16[16];
#pragma unroll
    for (int i = 0; i < 16; i++) o16[i] = o[i];
    const float l[2] = {o[16], o[18]};
    tp_wg_store_rows<T, 32>(a, ob, loff, row0, o16, m, l, t, false);
}

/* The block's attention with both biases through the tensor cores; returns false when a
 * row sum came out NaN (a non-finite bias 0, or NaN inputs), having written rows that
 * the caller then replaces by recomputing the whole block another way. Bias 0 varies over the query rows, bias 1
 * is one row for every query. */
template <typename T>
__device__ __forceinline__ bool tp_attn_wgmma_tcb_body(const tp_cu_attn &a, unsigned char *smem)
{
    typedef tp_mma_type<T> M;
    constexpr int kD = 32, kBN = 128, kWG = 3, kThreads = 384, kStages = 3, kBM = 192;
    constexpr int kQBlk = kBM * 64, kTile = kBN * kD * 2; /* a Q piece; a K or V stage */
    constexpr int kRowsB = 80, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    constexpr int kIBlk = 64 * 64;          /* an identity column block (32 columns) */
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBlk, *Vs = Ks + kStages * kTile;
    unsigned char *Is = Vs + kStages * kTile, *Bs = Is + 3 * kIBlk;
    uint64_t *bars = (uint64_t *)(Bs + kWG * 2 * kBBuf); /* full[3], empty[3] */
    unsigned char *Os = smem + (((unsigned char *)(bars + 2 * kStages) - smem + 1023) & ~1023); /* ones */
    const uint32_t full0 = tp_smem_addr(bars), empty0 = full0 + kStages * 8;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3, tid = threadIdx.x & 127;
    const tp_wg_work w = tp_wg_schedule<kBN, kBM>(a, wg, wl, g, blockIdx.x);
    const T *qb = (const T *)a.q.data + w.qoff, *kb = (const T *)a.k.data + w.koff;
    const T *vb = (const T *)a.v.data + w.voff;

    unsigned char *Bw = Bs + wg * 2 * kBBuf; /* this warpgroup's two bias buffers */
    const int64_t brow0 = w.q0 + wg * 64;    /* its first row (a warpgroup wholly past Sq
                                                zero-fills from a row in bounds) */
    const int64_t rb = brow0 < a.Sq ? brow0 : a.Sq - 1;
    const T *bsrc0 = (const T *)a.bias[0].data + tp_cu_off(a.bias[0], w.bi, w.h) + rb * a.bias[0].si;
    const T *bsrc1 = (const T *)a.bias[1].data + tp_cu_off(a.bias[1], w.bi, w.h);
    auto load_bias = [&](int buf, int64_t key0) {
        tp_wgb_load_bias<T, kRowsB>(Bw + buf * kBBuf, bsrc0, a.bias[0].si, a.Sq - brow0, bsrc1, key0,
                                           a.Sk, tid);
        tp_cp_commit();
    };

    float o[kD / 2 + 4]; /* O, then the row sums (tp_wgb_issue_pv1) */
#pragma unroll
    for (int i = 0; i < kD / 2 + 4; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; /* (l: unused, P V sums the rows) */
    const int64_t nt = w.k.t_end - w.k.t_begin;
    uint32_t pa[kBN / 16][4];
    int st = 0;
    if (nt > 0) {
        if (threadIdx.x < 2 * kStages) tp_mbar_init(full0 + threadIdx.x * 8, kThreads);
        /* the identity tile (64 rows x columns 0 .. 95, 1 at column r and at column 64),
         * copied from its table in global memory (L2-resident after the first blocks)
         * with the prologue's first group */
        {
            const uint4 *tab = reinterpret_cast<const uint4 *>(tp_wgb_ident<T>()->w);
            for (int c = threadIdx.x; c < 768; c += kThreads) tp_cp_async16(Is + c * 16, tab + c, 16);
        }
        /* rows 65 .. 79 of every bias buffer: zero, for good (the copies never reach them) */
        constexpr int kZ0 = 65, kZC = (kRowsB - kZ0) * 8;
        for (int c = threadIdx.x; c < kWG * 4 * kZC; c += kThreads)
            *reinterpret_cast<uint4 *>(Bs + (c / kZC) * kBBlk + (kZ0 + (c % kZC) / 8) * 128 + (c % 8) * 16) =
                make_uint4(0u, 0u, 0u, 0u);
        tp_wgb_ones<T, kThreads>(Os);
        __syncthreads(); /* the barriers are initialised before anyone arrives */
        tp_load_sw<T, kBM, kD, kThreads>(Qs, qb, a.q.si, 0, a.Sq - w.q0, a.D);
        load_bias(0, w.k.t_begin * kBN); /* one group: Q and bias tile 0 */
        for (int64_t j = 0; j < 2 && j < nt; j++) {
            const int64_t key0 = (w.k.t_begin + j) * kBN;
            tp_load_sw<T, kBN, kD, kThreads>(Ks + j * kTile, kb, a.k.si, key0, a.Sk, a.D);
            tp_load_sw<T, kBN, kD, kThreads>(Vs + j * kTile, vb, a.v.si, key0, a.Sk, a.Dv);
            tp_cp_async_arrive(full0 + j * 8);
        }
        /* scale q as hi + lo: each thread rewrites the Q chunks it copied (tp_load_sw's
         * pattern: chunk x mod 4 of rows x / 4 + kThreads / 4 i, one swizzle phase) */
        tp_cp_wait<0>();
        {
            const int cc = threadIdx.x & 3, r0 = threadIdx.x >> 2;
#pragma unroll
            for (int i = 0; i < 2; i++)
                tp_wgb_split_q<T, kQBlk>(Qs + (r0 + kThreads / 4 * i) * 64 + ((cc ^ tp_sw<kD>::phase(r0)) << 4), a.scale);
        }
        tp_fence_proxy_async();
        __syncthreads(); /* Q's pieces and bias tile 0 complete for every warpgroup */
        if (wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */

        /* descriptors: this warpgroup's Q rows (lo one piece further), stage 0's K and V,
         * the identity (k-step ks: column block ks / 2, 32 bytes in for odd ks), this
         * warpgroup's bias buffer 0 (k-step kk: rows 16 kk .., 2048 kk bytes in; the
         * second column block of 64 keys one leading offset away) */
        const uint64_t dq = tp_wg_desc_k<kD>(tp_smem_addr(Qs) + wg * 64 * 64);
        const uint64_t dk0 = tp_wg_desc_k<kD>(tp_smem_addr(Ks));
        const uint32_t va0 = tp_smem_addr(Vs), oa = tp_smem_addr(Os);
        auto dv_at = [&](int stage) { return tp_wgb_desc_v1(va0 + stage * kTile, oa); };
        const uint64_t di = tp_wg_desc_k<kD>(tp_smem_addr(Is));
        const uint64_t db0 = tp_wg_desc(tp_smem_addr(Bw), kBBlk, 8 * 128, 1);
        int sp = kStages - 1;
        uint32_t ph = 0, pph = 1;
        int64_t k0 = w.k.t_begin * kBN;
        /* S of tile j (keys k0 ..: K in stage st, its bias tile in buffer j mod 2) */
        auto issue_s = [&](float (&s)[kBN / 2], int64_t j) {
            tp_wgb_issue_s<T, kQBlk>(s, dq, tp_desc_add(dk0, st * kTile), di, tp_desc_add(db0, (int)(j & 1) * kBBuf));
            tp_wg_commit();
            tp_wg_pass<kWG>(wg);
            /* the next bias tile, into the buffer S of tile j-1 read */
            if (j + 1 < nt) load_bias((int)((j + 1) & 1), k0 + kBN);
        };
        /* the softmax of tile j, then tile j+2 into tile j-1's stage once every warpgroup
         * has left it */
        auto softmax = [&](float (&s)[kBN / 2], int64_t j) {
            float al[2];
            tp_wg_softmax<kBN, 4, T, false>(s, m, l, al, w, k0, a.scale, TP_LOG2E, t, (const T *)NULL,
                                     (const float *)NULL);
            tp_wg_rescale_pack<T, kD + 8, kBN>(o, al, s, pa);
            if (j + 2 < nt) {
                if (j > 0) tp_mbar_wait(empty0 + sp * 8, pph);
                const int64_t key2 = k0 + 2 * kBN;
                tp_load_sw<T, kBN, kD, kThreads>(Ks + sp * kTile, kb, a.k.si, key2, a.Sk, a.D);
                tp_load_sw<T, kBN, kD, kThreads>(Vs + sp * kTile, vb, a.v.si, key2, a.Sk, a.Dv);
                tp_cp_async_arrive(full0 + sp * 8);
            }
        };
        {
            float s[kBN / 2];
            tp_mbar_wait(full0, 0u);
            tp_fence_proxy_async();
            tp_wg_turn(wg);
            tp_wg_fence_regs(s);
            tp_wg_fence();
            issue_s(s, 0);
            tp_wg_wait0();
            tp_wg_fence_regs(s);
            softmax(s, 0);
        }
        for (int64_t j = 1; j < nt; j++) {
            sp = st, pph = ph;
            if (++st == kStages) st = 0, ph ^= 1u;
            k0 += kBN;
            float s[kBN / 2];
            tp_mbar_wait(full0 + st * 8, ph); /* tile j's K and V */
            tp_cp_wait<0>();                  /* this thread's copies of its bias tile */
            tp_fence_proxy_async();
            tp_wg_bar_sync<kWG>(wg); /* and the warpgroup's */
            tp_wg_turn(wg);
            tp_wg_fence_regs(s);
            tp_wg_fence_regs(pa);
            tp_wg_fence_regs(o);
            tp_wg_fence();
            tp_wgb_issue_pv1<T>(o, pa, dv_at(sp));
            issue_s(s, j);
            tp_wg_wait0();
            tp_wg_fence_regs(s);
            tp_wg_fence_regs(o);
            tp_mbar_arrive(empty0 + sp * 8); /* this thread is done with tile j-1 */
            softmax(s, j);
        }
        /* P V of the last tile (the last warpgroup passes no turn: no one waits) */
        tp_wg_turn(wg);
        tp_wg_fence_regs(pa);
        tp_wg_fence_regs(o);
        tp_wg_fence();
        tp_wgb_issue_pv1<T>(o, pa, dv_at(st));
        tp_wg_commit();
        if (wg != kWG - 1) tp_wg_pass<kWG>(wg);
        tp_wg_wait0();
        tp_wg_fence_regs(o);
    }
    /* the rows are stored before the block agrees on NaN (the warpgroups that finish
     * first store theirs while the last one still works); when a row sum is NaN the
     * caller's recompute, after the barrier, writes every row of the block again */
    const bool bad = isnan(o[kD / 2]) || isnan(o[kD / 2 + 2]);
    tp_wgb_store1<T>(a, (T *)a.out.data + tp_cu_off(a.out, w.bi, w.h),
                     [&]() { return tp_cu_off(a.lse, w.bi, w.h); }, w.row0, o, m, t);
    if (__syncthreads_or(bad)) {
        if (nt > 0 && threadIdx.x < 2 * kStages) tp_mbar_inval(full0 + threadIdx.x * 8);
        __syncthreads();
        return false;
    }
    return true;
}

/* One work item (a block's worth: 192 query rows of one head and batch entry) as one
 * warpgroup sees it: element offsets of its 64 q rows, of k and v, of its bias 0 rows
 * and of bias 1, of out and lse at (batch, head), and its first query row. */
struct tp_wgb_item {
    int64_t q, k, v, b0, b1, o, lse, row;
};

/* The counter's item -> warpgroup wg's descriptor at d, and the counter advanced to the
 * block's next item (lane 0 of the calling warp; counter and ring in shared memory) */
__device__ __forceinline__ void tp_wgb_decode(const tp_cu_attn &a, tp_item_ctr *ctr, int wg, tp_wgb_item *d, int lane)
{
    if (lane != 0) return;
    tp_item_ctr c = *ctr;
    int64_t bi3[3], h, qt;
    tp_item_ctr_get(&c, bi3, &h, &qt);
    tp_bidx bi;
    bi.i[0] = bi3[0], bi.i[1] = bi3[1], bi.i[2] = bi3[2];
    const int64_t row = qt * 192 + wg * 64;
    const int64_t rb = row < a.Sq ? row : a.Sq - 1; /* rows past Sq zero-fill from a row in bounds */
    const int64_t hk = (int32_t)h / (int32_t)a.G;   /* (heads < 2^31) */
    tp_wgb_item x;
    x.q = tp_cu_off(a.q, bi, h) + rb * a.q.si;
    x.k = tp_cu_off(a.k, bi, hk);
    x.v = tp_cu_off(a.v, bi, hk);
    x.b0 = tp_cu_off(a.bias[0], bi, h) + rb * a.bias[0].si;
    x.b1 = tp_cu_off(a.bias[1], bi, h);
    x.o = tp_cu_off(a.out, bi, h);
    x.lse = a.has_lse ? tp_cu_off(a.lse, bi, h) : 0;
    x.row = row;
    *d = x;
    tp_item_ctr_next(&c);
    *ctr = c;
}

/*
 * The persistent form of tp_attn_wgmma_tcb_body, for problems whose work items all see
 * the same key tiles (no window, no key lengths, Sk > 0): gridDim.x blocks (one a SM) take
 * items blockIdx.x, blockIdx.x + gridDim.x, .. (the order of tp_cu_block: the pair bias
 * shared by the items in flight together stays in L2), and run their key tiles as one
 * stream: tile g of the stream is tile g mod nt of the block's item g / nt. The loads,
 * the turns and the P V of the previous tile run on across items, so a block no longer
 * starts cold (measured on the per-item kernel, H200: of a block's 30 600 cycles about
 * 2 300 went to the schedule (64-bit divisions, cold parameter loads), 3 800 to the
 * prologue's loads and 2 000 to the tail, with nothing else on the SM). What it pays
 * instead, once an item on each warpgroup's path (the first warp's decode, the
 * epilogue, the q split), is as much at 6 tiles an item: the launcher takes it for at
 * most 3 (MSA rows L = 384: 0.72 -> 0.65 ms, 0.61 with the item counter; triangle L = 768:
 * 1.67 -> 1.69 ms, 1.62 against 1.59 with the counter; kept on
 * tp_attn_wgmma_tcb_body).
 *   - Items are decoded ahead, three items ahead of the warpgroup, by its first lane into
 *     a ring of 8 descriptors of its own (tp_wgb_item), published by the warpgroup barrier
 *     of the next tile; the K / V copies, the bias copies, the q copies and the epilogue
 *     read them there. The items' indices come from a mixed-radix counter in shared
 *     memory (item_counter.h): no division an item.
 *   - A warpgroup copies the q rows of its next item once the S of its item's last tile is
 *     done (those rows of Q are free then), and splits them into hi + lo at the next tile.
 *   - The P V of an item's last tile runs in the first batch of the next item; the item's
 *     rows are normalised and stored right after that batch (the epilogue overlaps the
 *     other warpgroups' products). Only the block's last item has a batch of P V alone.
 *   - An item whose row sums come out NaN is noted in a bitmap in shared memory and
 *     recomputed at the end by tp_attn_wgmma3_body (the staged-bias kernel), which
 *     rewrites its rows (items past the bitmap's 2048: all the block's items).
 * Shared memory: tp_attn_wgmma_tcb_body's 208 944 bytes up to its mbarriers, then the
 * descriptor rings (3 x 8 x 64), the bitmap (65 words, 3 spare) and the item counters
 * (3 x 64), then on the next 1 KiB the ones block (128 x 64): 219 136 (+ 1 KiB
 * alignment).
 */
template <typename T> __device__ __forceinline__ void tp_attn_wgmma_tcbp_body(const tp_cu_attn &a, unsigned char *smem)
{
    constexpr int kD = 32, kBN = 128, kWG = 3, kThreads = 384, kStages = 3, kBM = 192;
    constexpr int kQBlk = kBM * 64, kTile = kBN * kD * 2;
    constexpr int kRowsB = 80, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    constexpr int kIBlk = 64 * 64, kRing = 8, kMapWords = 64;
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBlk, *Vs = Ks + kStages * kTile;
    unsigned char *Is = Vs + kStages * kTile, *Bs = Is + 3 * kIBlk;
    uint64_t *bars = (uint64_t *)(Bs + kWG * 2 * kBBuf); /* full[3], empty[3] */
    tp_wgb_item *ring = (tp_wgb_item *)(bars + 2 * kStages);
    uint32_t *badmap = (uint32_t *)(ring + kWG * kRing); /* [kMapWords], then the overflow word */
    tp_item_ctr *ctrs = (tp_item_ctr *)(badmap + kMapWords + 4); /* one a warpgroup */
    unsigned char *Os = smem + (((unsigned char *)(ctrs + kWG) - smem + 1023) & ~1023); /* ones */
    const uint32_t full0 = tp_smem_addr(bars), empty0 = full0 + kStages * 8;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3, tid = threadIdx.x & 127;
    tp_wgb_item *myring = ring + wg * kRing;
    tp_item_ctr *myctr = ctrs + wg;
    unsigned char *Bw = Bs + wg * 2 * kBBuf, *Qw = Qs + wg * 64 * 64;

    /* (the launcher keeps items and tiles an item below 2^31) */
    const int64_t nitems = a.nbatch * a.Hq * a.n_qtiles;
    const int nk = (int)((nitems - 1 - (int64_t)blockIdx.x) / gridDim.x) + 1; /* this block's items */
    const int nt = (int)((a.Sk + kBN - 1) / kBN);                             /* tiles an item, >= 1 */
    auto item_of = [&](int kk) { return (int64_t)blockIdx.x + (int64_t)kk * gridDim.x; };
    /* the key range every row sees: all of [0, Sk) (tp_wg_softmax masks the tail tile) */
    tp_wg_work wm;
    wm.k.lo_last = 0, wm.k.hi_first = a.Sk;
    wm.lo[0] = wm.lo[1] = 0, wm.hi[0] = wm.hi[1] = a.Sk;

    auto load_q = [&](int kk) { /* this warpgroup's 64 q rows of item kk (hi piece) */
        const tp_wgb_item &d = myring[kk & (kRing - 1)];
        tp_load_sw<T, 64, kD, 128>(Qw, (const T *)a.q.data + d.q, a.q.si, 0, a.Sq - d.row, a.D, tid);
    };
    auto split_q = [&]() { /* the chunks this thread copied (tp_load_sw's pattern) */
        const int cc = tid & 3, r0 = tid >> 2;
#pragma unroll
        for (int i = 0; i < 2; i++)
            tp_wgb_split_q<T, kQBlk>(Qw + (r0 + 32 * i) * 64 + ((cc ^ tp_sw<kD>::phase(r0)) << 4), a.scale);
    };
    auto load_bias = [&](int buf, int kk, int j) {
        const tp_wgb_item &d = myring[kk & (kRing - 1)];
        tp_wgb_load_bias<T, kRowsB>(Bw + buf * kBBuf, (const T *)a.bias[0].data + d.b0, a.bias[0].si, a.Sq - d.row,
                                    (const T *)a.bias[1].data + d.b1, (int64_t)j * kBN, a.Sk, tid);
        tp_cp_commit();
    };
    /* the K / V producer: tile (pk, pj) of the stream next, all kThreads threads */
    int pk = 0, pj = 0;
    auto load_kv = [&](int stage) {
        const tp_wgb_item &d = myring[pk & (kRing - 1)];
        const int64_t key0 = (int64_t)pj * kBN;
        tp_load_sw<T, kBN, kD, kThreads>(Ks + stage * kTile, (const T *)a.k.data + d.k, a.k.si, key0, a.Sk, a.D);
        tp_load_sw<T, kBN, kD, kThreads>(Vs + stage * kTile, (const T *)a.v.data + d.v, a.v.si, key0, a.Sk, a.Dv);
        tp_cp_async_arrive(full0 + stage * 8);
        if (++pj == nt) pj = 0, pk++;
    };
    auto finish = [&](int kk, float (&o)[kD / 2 + 4], float (&m)[2]) {
        const tp_wgb_item &d = myring[kk & (kRing - 1)];
        const bool bad = isnan(o[kD / 2]) || isnan(o[kD / 2 + 2]);
        tp_wgb_store1<T>(a, (T *)a.out.data + d.o, [&]() { return d.lse; }, d.row + wl * 16 + g, o, m, t);
        if (__any_sync(0xffffffffu, bad) && lane == 0)
            atomicOr(kk < 32 * kMapWords ? badmap + (kk >> 5) : badmap + kMapWords,
                     kk < 32 * kMapWords ? 1u << (kk & 31) : 1u);
    };

    if (threadIdx.x < 2 * kStages) tp_mbar_init(full0 + threadIdx.x * 8, kThreads);
    for (int i = threadIdx.x; i <= kMapWords; i += kThreads) badmap[i] = 0u;
    tp_wgb_constants<T, kThreads, kRowsB, kWG * 2>(Is, Bs);
    tp_wgb_ones<T, kThreads>(Os);
    if (wl == 0 && lane == 0)
        tp_item_ctr_init(myctr, a.bdim, a.Hq, a.n_qtiles, a.batch_inner, blockIdx.x, gridDim.x);
    if (wl == 0)
        for (int kk = 0; kk < 3 && kk < nk; kk++) tp_wgb_decode(a, myctr, wg, myring + kk, lane);
    __syncthreads(); /* barriers, constants and the first descriptors */
    load_q(0);
    load_bias(0, 0, 0); /* one group: q and bias tile 0 */
    for (int f = 0; f < 2 && pk < nk; f++) load_kv(f);
    tp_cp_wait<0>();
    split_q();
    tp_fence_proxy_async();
    __syncthreads();
    if (wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */

    const uint64_t dq = tp_wg_desc_k<kD>(tp_smem_addr(Qw));
    const uint64_t dk0 = tp_wg_desc_k<kD>(tp_smem_addr(Ks));
    const uint32_t va0 = tp_smem_addr(Vs), oa = tp_smem_addr(Os);
    auto dv_at = [&](int stage) { return tp_wgb_desc_v1(va0 + stage * kTile, oa); };
    const uint64_t di = tp_wg_desc_k<kD>(tp_smem_addr(Is));
    const uint64_t db0 = tp_wg_desc(tp_smem_addr(Bw), kBBlk, 8 * 128, 1);

    float o[kD / 2 + 4]; /* O, then the row sums (tp_wgb_issue_pv1) */
#pragma unroll
    for (int i = 0; i < kD / 2 + 4; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; /* (l: unused, P V sums the rows) */
    uint32_t pa[kBN / 16][4];
    /* tile g in stage st (full parity ph), tile g-1 in stage sp (parity pph); item kk,
     * its tile j */
    int st = 0, sp = kStages - 1;
    uint32_t ph = 0, pph = 1;
    int kk = 0, j = 0, bb = 0; /* bb: tile g's bias buffer, g mod 2 */
    /* tile gi; `first` (gi = 0, no P V before it) is a constant where it is called, so
     * that no branch stands between the products of a batch (a wgmma under a branch
     * makes ptxas serialise them all: C7520) */
    auto tile = [&](bool first) {
        float s[kBN / 2];
        tp_mbar_wait(full0 + st * 8, ph); /* tile g's K and V */
        tp_cp_wait<0>();                  /* this thread's copies of its bias tile (and q rows) */
        if (!first && j == 0) split_q();
        tp_fence_proxy_async();
        tp_wg_bar_sync<kWG>(wg); /* the warpgroup's copies, q pieces and descriptors */
        tp_wg_turn(wg);
        tp_wg_fence_regs(s);
        tp_wg_fence_regs(pa);
        tp_wg_fence_regs(o);
        tp_wg_fence();
        if (!first) tp_wgb_issue_pv1<T>(o, pa, dv_at(sp));
        tp_wgb_issue_s<T, kQBlk>(s, dq, tp_desc_add(dk0, st * kTile), di, tp_desc_add(db0, bb * kBBuf));
        tp_wg_commit();
        tp_wg_pass<kWG>(wg);
        /* the next tile's bias, into the buffer tile g-1 used */
        if (j + 1 < nt) load_bias(bb ^ 1, kk, j + 1);
        else if (kk + 1 < nk) load_bias(bb ^ 1, kk + 1, 0);
        tp_wg_wait0();
        tp_wg_fence_regs(s);
        tp_wg_fence_regs(o);
        if (!first) tp_mbar_arrive(empty0 + sp * 8); /* this thread is done with tile g-1 */
        if (j + 1 == nt && kk + 1 < nk) { /* S of the item's last tile done: the next q rows */
            load_q(kk + 1);
            tp_cp_commit();
        }
        if (!first && j == 0) { /* item kk-1's P V finished in this batch */
            finish(kk - 1, o, m);
#pragma unroll
            for (int i = 0; i < kD / 2 + 4; i++) o[i] = 0.0f;
            m[0] = m[1] = -INFINITY;
        }
        float al[2];
        tp_wg_softmax<kBN, 4, T, false>(s, m, l, al, wm, j * kBN, a.scale, TP_LOG2E, t, (const T *)NULL,
                                 (const float *)NULL);
        tp_wg_rescale_pack<T, kD + 8, kBN>(o, al, s, pa);
        /* tile g+2 into tile g-1's stage once every warpgroup has left it */
        if (pk < nk) {
            if (!first) tp_mbar_wait(empty0 + sp * 8, pph);
            load_kv(sp);
        }
        /* three items ahead (few registers are live here) */
        if (j == 0 && wl == 0 && kk + 3 < nk)
            tp_wgb_decode(a, myctr, wg, myring + ((kk + 3) & (kRing - 1)), lane);
        sp = st, pph = ph;
        if (++st == kStages) st = 0, ph ^= 1u;
        bb ^= 1;
        if (++j == nt) j = 0, kk++;
    };
    tile(true);
    while (kk < nk) tile(false);
    /* P V of the last tile (the last warpgroup passes no turn: no one waits) */
    tp_wg_turn(wg);
    tp_wg_fence_regs(pa);
    tp_wg_fence_regs(o);
    tp_wg_fence();
    tp_wgb_issue_pv1<T>(o, pa, dv_at(sp));
    tp_wg_commit();
    if (wg != kWG - 1) tp_wg_pass<kWG>(wg);
    tp_wg_wait0();
    tp_wg_fence_regs(o);
    finish(nk - 1, o, m);

    __syncthreads();
    if (threadIdx.x < 2 * kStages) tp_mbar_inval(full0 + threadIdx.x * 8);
    const bool all = badmap[kMapWords] != 0u;
    /* the staged-bias kernel's mbarriers (after its Q, K and V: 192 x 64 + 6 x 8192 bytes) */
    const uint32_t fb0 = tp_smem_addr(smem) + kQBlk + 2 * kStages * kTile;
    for (int64_t x = 0; x < nk; x++) {
        if (!all && !(x < 32 * kMapWords && ((badmap[x >> 5] >> (x & 31)) & 1u))) continue;
        __syncthreads();
        tp_attn_wgmma3_body<T, 32, 128, 3, 2, T>(a, smem, item_of(x));
        __syncthreads();
        if (threadIdx.x < 2 * kStages) tp_mbar_inval(fb0 + threadIdx.x * 8);
    }
}

/* tp_attn_wgmma_<bf16|f16>_d32_b2ht: the block with both biases through the tensor cores,
 * recomputed with the scalar-bias kernel (tp_attn_wgmma3_body, 16-bit biases) when that
 * gives NaN row sums. */
template <typename T> __device__ __forceinline__ void tp_attn_wgmma_b2ht(const tp_cu_attn &a, unsigned char *smem)
{
    if (!tp_attn_wgmma_tcb_body<T>(a, smem)) tp_attn_wgmma3_body<T, 32, 128, 3, 2, T>(a, smem);
}

/*
 * The lean form of tp_attn_wgmma_tcb_body: at most 128 registers a thread, so that two
 * blocks of two warpgroups (kWG = 2, 128 query rows) share a SM and one block's prologue
 * and epilogue run beside the other's tiles, or one block of four (kWG = 4, 256 rows)
 * gives each scheduler four warps. What it gives up for that:
 *   - P V is issued after the softmax, not deferred into the next tile's batch, and
 *     waited for before the next S: P and the S accumulator are never live together
 *     (S 64 + O 16 registers, then P 32 + O 16);
 *   - one bias buffer a warpgroup: tile j+1's bias copies start once every warp of the
 *     warpgroup has its S of tile j (a warpgroup barrier), hidden behind the softmax;
 *   - the row sums are the softmax's (no ones block);
 *   - bias buffers of 72 rows (64 of bias 0, bias 1's row, 7 zero rows): rows 72 .. 79
 *     that the fifth k-step reads lie in the next column block, the next warpgroup's
 *     buffer or (the last) the identity; they meet the identity's zero columns 72 .. 79,
 *     so they add nothing when finite and make NaN (the recompute) otherwise;
 *   - the 6 mbarriers live in the identity's unused columns 80 .. 95 (rows 0 and 1 of
 *     its third column block, swizzle phase 0: bytes 32 .. 63 and 96 .. 127).
 * Shared memory (kWG = 2): Q pieces 2 x 128 x 64, K, V 3 stages x 8192 each, bias
 * buffers 2 x 2 x 72 x 128, identity 3 x 64 x 64: 114 688 bytes (+ 1 KiB alignment) —
 * two blocks a SM exactly (228 KiB less 1 KiB a block).
 * kScalar (the recompute when a row sum came out NaN): S = (scale q) K^T by the tensor
 * cores only, and both biases added per score from the staged buffer in f32 (exact
 * semantics for infinite biases; nothing reads rows 65 .. 79).
 */
template <typename T, int kWG, bool kScalar>
__device__ __forceinline__ bool tp_attn_wgmma_tcbl_body(const tp_cu_attn &a, unsigned char *smem)
{
    constexpr int kD = 32, kBN = 128, kThreads = 128 * kWG, kStages = 3, kBM = 64 * kWG;
    constexpr int kQBlk = kBM * 64, kTile = kBN * kD * 2; /* a Q piece; a K or V stage */
    constexpr int kRowsB = 72, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    constexpr int kIBlk = 64 * 64; /* an identity column block (32 columns) */
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBlk, *Vs = Ks + kStages * kTile;
    unsigned char *Bs = Vs + kStages * kTile, *Is = Bs + kWG * kBBuf;
    const uint32_t full0 = tp_smem_addr(Is) + 2 * kIBlk + 32, empty0 = full0 + 64;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3, tid = threadIdx.x & 127;
    const tp_wg_work w = tp_wg_schedule<kBN, kBM>(a, wg, wl, g, blockIdx.x);
    const T *qb = (const T *)a.q.data + w.qoff, *kb = (const T *)a.k.data + w.koff;
    const T *vb = (const T *)a.v.data + w.voff;

    unsigned char *Bw = Bs + wg * kBBuf; /* this warpgroup's bias buffer */
    const int64_t brow0 = w.q0 + wg * 64;
    const int64_t rb = brow0 < a.Sq ? brow0 : a.Sq - 1;
    const T *bsrc0 = (const T *)a.bias[0].data + tp_cu_off(a.bias[0], w.bi, w.h) + rb * a.bias[0].si;
    const T *bsrc1 = (const T *)a.bias[1].data + tp_cu_off(a.bias[1], w.bi, w.h);
    auto load_bias = [&](int64_t key0) {
        tp_wgb_load_bias<T, kRowsB>(Bw, bsrc0, a.bias[0].si, a.Sq - brow0, bsrc1, key0, a.Sk, tid);
        tp_cp_commit();
    };

    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const int64_t nt = w.k.t_end - w.k.t_begin;
    if (nt > 0) {
        if (threadIdx.x < kStages) {
            tp_mbar_init(full0 + threadIdx.x * 8, kThreads);
            tp_mbar_init(empty0 + threadIdx.x * 8, kThreads);
        }
        if (!kScalar) {
            /* the identity from its table, less the four chunks that hold the mbarriers */
            const uint4 *tab = reinterpret_cast<const uint4 *>(tp_wgb_ident<T>()->w);
            for (int c = threadIdx.x; c < 768; c += kThreads)
                if ((c & ~5) != 514) tp_cp_async16(Is + c * 16, tab + c, 16);
            /* rows 65 .. 71 of every bias block: zero, for good */
            constexpr int kZ0 = 65, kZC = (kRowsB - kZ0) * 8;
            for (int c = threadIdx.x; c < kWG * 2 * kZC; c += kThreads)
                *reinterpret_cast<uint4 *>(Bs + (c / kZC) * kBBlk + (kZ0 + (c % kZC) / 8) * 128 + (c % 8) * 16) =
                    make_uint4(0u, 0u, 0u, 0u);
        }
        __syncthreads(); /* the barriers are initialised before anyone arrives */
        tp_load_sw<T, kBM, kD, kThreads>(Qs, qb, a.q.si, 0, a.Sq - w.q0, a.D);
        load_bias(w.k.t_begin * kBN); /* one group: Q and bias tile 0 */
        for (int64_t j = 0; j < 2 && j < nt; j++) {
            const int64_t key0 = (w.k.t_begin + j) * kBN;
            tp_load_sw<T, kBN, kD, kThreads>(Ks + j * kTile, kb, a.k.si, key0, a.Sk, a.D);
            tp_load_sw<T, kBN, kD, kThreads>(Vs + j * kTile, vb, a.v.si, key0, a.Sk, a.Dv);
            tp_cp_async_arrive(full0 + j * 8);
        }
        tp_cp_wait<0>();
        {
            const int cc = threadIdx.x & 3, r0 = threadIdx.x >> 2;
#pragma unroll
            for (int i = 0; i < kBM / (kThreads / 4); i++)
                tp_wgb_split_q<T, kQBlk>(Qs + (r0 + kThreads / 4 * i) * 64 + ((cc ^ tp_sw<kD>::phase(r0)) << 4), a.scale);
        }
        tp_fence_proxy_async();
        __syncthreads();
        if (TP_LEAN_TURN && wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */

        const uint64_t dq = tp_wg_desc_k<kD>(tp_smem_addr(Qs) + wg * 64 * 64);
        const uint64_t dk0 = tp_wg_desc_k<kD>(tp_smem_addr(Ks));
        const uint64_t dv0 = tp_wg_desc_v<kD, kBN>(tp_smem_addr(Vs));
        const uint64_t di = tp_wg_desc_k<kD>(tp_smem_addr(Is));
        const uint64_t db = tp_wg_desc(tp_smem_addr(Bw), kBBlk, 8 * 128, 1);
        int st = 0, sp = 0;
        uint32_t ph = 0, pph = 0;
        int64_t k0 = w.k.t_begin * kBN;
        for (int64_t j = 0; j < nt; j++) {
            float s[kBN / 2];
            tp_mbar_wait(full0 + st * 8, ph); /* tile j's K and V */
            tp_cp_wait<0>();                  /* this thread's copies of its bias tile */
            tp_fence_proxy_async();
            tp_wg_bar_sync<kWG>(wg); /* and the warpgroup's */
            if (TP_LEAN_TURN) tp_wg_turn(wg);
            tp_wg_fence_regs(s);
            tp_wg_fence();
            tp_wgb_issue_s<T, kQBlk, !kScalar>(s, dq, tp_desc_add(dk0, st * kTile), di, db);
            tp_wg_commit();
            if (TP_LEAN_TURN && (j + 1 < nt || wg != kWG - 1)) tp_wg_pass<kWG>(wg); /* (no one waits for the last) */
            tp_wg_wait0();
            tp_wg_fence_regs(s);
            if (kScalar) {
                /* s += b0 + b1 from the staged tile: row r of the buffer at 128 r, its
                 * 16-byte chunk c at c ^ (r & 7) (this thread's rows: phase g); bias 1 at
                 * row 64, phase 0 */
                const unsigned char *br = Bw + (16 * wl + g) * 128 + 4 * t, *bm = Bw + 64 * 128 + 4 * t;
#pragma unroll
                for (int n = 0; n < kBN / 8; n++) {
                    const int cb = (n >> 3) * kBBlk, ch = n & 7;
                    const float2 q = tp_wg_bias2(reinterpret_cast<const T *>(bm + cb + (ch << 4)));
#pragma unroll
                    for (int r = 0; r < 2; r++) {
                        const float2 p = tp_wg_bias2(reinterpret_cast<const T *>(br + r * 8 * 128 + cb + ((ch ^ g) << 4)));
                        s[4 * n + 2 * r] = s[4 * n + 2 * r] + p.x + q.x;
                        s[4 * n + 2 * r + 1] = s[4 * n + 2 * r + 1] + p.y + q.y;
                    }
                }
            }
            if (j + 1 < nt) {
                tp_wg_bar_sync<kWG>(wg); /* every warp has its S (and its biases): the buffer is free */
                load_bias(k0 + kBN);
            }
            float al[2];
            uint32_t pa[kBN / 16][4];
            tp_wg_softmax<kBN, 4, T, true>(s, m, l, al, w, k0, a.scale, TP_LOG2E, t, (const T *)NULL,
                                           (const float *)NULL);
            tp_wg_rescale_pack<T, kD, kBN>(o, al, s, pa);
            tp_wg_fence_regs(pa);
            tp_wg_fence_regs(o);
            tp_wg_fence();
            tp_wg_issue_pv<T, kD, kBN>(o, pa, tp_desc_add(dv0, st * kTile));
            tp_wg_commit();
            /* while P V runs: tile j+2 into tile j-1's stage once every thread has left it */
            if (j + 2 < nt) {
                if (j > 0) tp_mbar_wait(empty0 + sp * 8, pph);
                const int sn = j > 0 ? sp : 2;
                const int64_t key2 = k0 + 2 * kBN;
                tp_load_sw<T, kBN, kD, kThreads>(Ks + sn * kTile, kb, a.k.si, key2, a.Sk, a.D);
                tp_load_sw<T, kBN, kD, kThreads>(Vs + sn * kTile, vb, a.v.si, key2, a.Sk, a.Dv);
                tp_cp_async_arrive(full0 + sn * 8);
            }
            tp_wg_wait0(); /* P V of tile j done: this thread leaves its stage */
            tp_wg_fence_regs(o);
            tp_mbar_arrive(empty0 + st * 8);
            sp = st, pph = ph;
            if (++st == kStages) st = 0, ph ^= 1u;
            k0 += kBN;
        }
    }
    const bool bad = isnan(l[0]) || isnan(l[1]);
    tp_wg_store_rows<T, kD>(a, (T *)a.out.data + tp_cu_off(a.out, w.bi, w.h),
                            [&]() { return tp_cu_off(a.lse, w.bi, w.h); }, w.row0, o, m, l, t);
    if (kScalar) return true;
    if (__syncthreads_or(bad)) {
        if (nt > 0 && threadIdx.x < kStages) {
            tp_mbar_inval(full0 + threadIdx.x * 8);
            tp_mbar_inval(empty0 + threadIdx.x * 8);
        }
        __syncthreads();
        return false;
    }
    return true;
}

/* tp_attn_wgmma_<bf16|f16>_d32_b2hl (kWG = 2, two blocks a SM) and _b2hq (kWG = 4): the
 * lean block, recomputed with scalar biases when a row sum comes out NaN. */
template <typename T, int kWG> __device__ __forceinline__ void tp_attn_wgmma_b2hl(const tp_cu_attn &a, unsigned char *smem)
{
    if (!tp_attn_wgmma_tcbl_body<T, kWG, false>(a, smem)) tp_attn_wgmma_tcbl_body<T, kWG, true>(a, smem);
}

#endif
