/* attention_wgmma_bias.cuh -- the Hopper evoformer kernel whose S accumulator carries
 * both biases (kD = 32, biases of the input dtype, scale <= 1; warpgroups of 64 query
 * rows, at most 128 registers a thread).
 *
 * Per key tile of 128 keys, warpgroup w (query rows 64w .. 64w + 63 of the block) gets
 *   S = B0 + (scale q) K^T + b1      one accumulator:
 *     B0              the warpgroup's 64 x 128 tile of bias 0 (the pair bias), read from
 *                     its staged copy by ldmatrix into the accumulator registers (f32) as
 *                     the chain's start value: 8 shared loads and 64 conversions a thread;
 *     (scale q) K^T   scale q as hi + lo, two pieces of the input dtype (16 or 22 bits of
 *                     the f32 product; the pieces are written once a block, or an item in
 *                     the stream form, in place of Q and in a second column block): 4
 *                     k-steps of m64n128k16;
 *     b1              1 b1: the ones block (column 0 ones) against rows 64 .. 79 of the
 *                     bias buffer (bias 1's row, the mask bias, then zero rows): 1 k-step.
 *   Every product is exact (hi / lo x k in f32, or a factor 0 or 1) and the sum is f32,
 *   so S is the natural-log logit with IEEE semantics for infinite biases (-inf in
 *   either bias masks its score; the scalar path's NaN cases give NaN here too); the
 *   softmax is tp_wg_softmax's mode 5 (per score a max, an fma, the exponent and half a
 *   pack; no bias loaded, converted or added there), the row sums P 1 on the tensor
 *   cores with P V (kTcL; tp_wgb_tile_pv); the _l instances, run when lse is asked
 *   for, keep the softmax's f32 sums (mode 4: one add a score more).
 *
 * History (H200, triangle attention N = L = 768, bf16; bench/gpu/ab.sh medians; the
 * notes have the rest): v15 put both biases in the products (B0 as I B0, the identity
 * against the bias tile: 9 k-steps) with three warpgroups of 168 registers, one block a
 * SM (1.60 ms); v18 took instructions off its path (1.506 ms; 1.54-1.57 in later calls);
 * v19 the lean block: 128 registers, so four warpgroups (_b2ht4: 1.441 ms against 1.569
 * in the same call) or two blocks of two a SM (_b2ht2: MSA rows, L = 384: 0.555 ms
 * against the persistent kernel's 0.608); v20 B0 as the start value (5 k-steps, no
 * identity, no NaN recompute): 1.386 against 1.458 ms, MSA 0.546 against 0.561; then the
 * stream form (_b2hs4, below) with the item decode by fast division: 1.301 against v19's
 * 1.430 in one call (178 TF/s). Measured and not kept in v20: B0 as I B0 with the
 * identity's A fragments in registers (RS wgmma, no ldmatrix or conversions): 1.354
 * against 1.297 ms. v21 (2026-12-03): the row sums on the tensor cores and the stream
 * form's query tiles innermost, 1.262 against 1.311 ms in one call.
 * The stream form with its loads by TMA (_b2hm4, tp_attn_wgmma_tcbm_body below;
 * TPRIM_CUDA_STREAM=tma): 15 % fewer instructions executed but 1.321 against 1.272 ms (H100,
 * 2026-12-06, one call, medians of 3; barrier stalls per instruction 1.24 against 0.49).
 * Variants measured and not kept (the local branch exp/tma-all): K / V / Q only 1.329
 * (another call: against 1.249), bias only 1.257 (1.249); the K / V producer in the last
 * warpgroup 1.296; four K / V stages with it 1.285. A computing thread that issues the
 * copies holds its warpgroup's turn; a producer warp of its own needs registers that four
 * 128-register warpgroups leave none of. That form (attention_wgmma_ws.cuh, _b2hw3: three
 * computing warpgroups at 152 registers by setmaxnreg, the fourth the producer's):
 * 1.150 against 1.266 ms for _b2hs4 (H200, 2026-12-06, one call, same-run medians); the
 * default stream form.
 * Measured and not kept (H200; the code is on the local branch exp/tma-pipe): the K, V and
 * bias tiles by TMA (tensor maps, one thread a warpgroup issuing): 1.70 ms without turns,
 * 1.63 with; two warpgroups of 255 registers issuing S of tile j+1 before the softmax of
 * tile j (two S accumulators, four K / V stages): 2.08 ms. */
#ifndef TPRIM_CUDA_ATTENTION_WGMMA_BIAS_CUH
#define TPRIM_CUDA_ATTENTION_WGMMA_BIAS_CUH

#include "attention_wgmma.cuh"
#include "tmap_plan.h"

/* Byte offset of the all-ones block (512 bytes, the row sums' B operand) from the ones
 * block Os: after the ones block (4096) and the 6 mbarriers (64), 128-aligned. */
constexpr int kOnesL = 4096 + 128;
/* Byte offset of the TMA form's bias barriers (one a warpgroup) from the first full
 * barrier: after the 3 full and 3 empty ones (the empty ones at + 32). */
constexpr int kBiasBar = 64;
/* Byte offset of the TMA form's producer state (64 + 32 kWG bytes) from Os: after the
 * all-ones block. */
constexpr int kTmaState = kOnesL + 512;

/* Rows [0, 64) of bias 0 (row stride si; rows >= nrows zero) and bias 1's row as row 64
 * (rows 65 .. kRowsB - 1 are left alone), keys [k0, k0 + 128) (keys >= nk zero) -> one
 * bias buffer: two column blocks of 64 keys x kRowsB rows x 128 bytes, row r at 128 r,
 * 16-byte chunk c at c ^ (r & 7) (the 128-byte swizzle). Copied by the 128 threads of one
 * warpgroup (tid 0 .. 127): thread tid copies chunk tid mod 16 of rows tid / 16 + 8 i,
 * one swizzle phase. */
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

/* The ones block: the A operand of the mask bias's k-step, 64 rows x 32 columns of the
 * dtype in the 64-byte swizzle (K-major, one column block), 1 at column 0 of every row and
 * 0 elsewhere (columns 16 .. 31 are never read); or (the producer form's units,
 * scale_units.h) the three pieces of g, p0 .. p2, at columns 0 .. 2. Written by the block's
 * threads (256 16-byte chunks; chunk p holds row p / 4, columns 8 w .. 8 w + 7 with w =
 * (p mod 4) ^ phase(row)). */
template <typename T>
__device__ __forceinline__ void tp_wgb_ones(unsigned char *dst, int tid, int nthreads, float p0 = 1.0f,
                                            float p1 = 0.0f, float p2 = 0.0f)
{
    typedef tp_mma_type<T> M;
    const uint32_t c01 = M::pack(p0, p1), c2 = M::pack(p2, 0.0f);
    for (int p = tid; p < 256; p += nthreads) {
        const int r = p >> 2, w = (p & 3) ^ tp_sw<32>::phase(r);
        *reinterpret_cast<uint4 *>(dst + p * 16) = make_uint4(w == 0 ? c01 : 0u, w == 0 ? c2 : 0u, 0u, 0u);
    }
}

/* f(e, x) for the four element pairs x (as f32) of the 16-byte chunk (8 elements of q)
 * at p, e = 0 .. 3: the unpacking that tp_wgb_scale_q and tp_wgb_split_q share */
template <typename T, typename F> __device__ __forceinline__ void tp_wgb_chunk_pairs(const unsigned char *p, F f)
{
    const uint4 v = *reinterpret_cast<const uint4 *>(p);
    const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; e++) f(e, tp_wg_bias2(reinterpret_cast<const T *>(&u[e])));
}

/* 2^e q in place (qmul = 2^e: exact): the 16-byte chunk (8 elements of q) at p */
template <typename T> __device__ __forceinline__ void tp_wgb_scale_q(unsigned char *p, float qmul)
{
    typedef tp_mma_type<T> M;
    uint32_t r[4];
    tp_wgb_chunk_pairs<T>(p, [&](int e, float2 x) { r[e] = M::pack(x.x * qmul, x.y * qmul); });
    *reinterpret_cast<uint4 *>(p) = make_uint4(r[0], r[1], r[2], r[3]);
}

/* scale q as hi + lo in place: the 16-byte chunk (8 elements of q) at p becomes hi, the
 * chunk kLo bytes further lo (hi = the dtype's rounding of scale q, lo = the rest) */
template <typename T, int kLo> __device__ __forceinline__ void tp_wgb_split_q(unsigned char *p, float scale)
{
    typedef tp_mma_type<T> M;
    uint32_t hi[4], lo[4];
    tp_wgb_chunk_pairs<T>(p, [&](int e, float2 x) {
        const float x0 = x.x * scale, x1 = x.y * scale;
        const float h0 = M::to_f32(M::from_f32(x0)), h1 = M::to_f32(M::from_f32(x1));
        hi[e] = M::pack(h0, h1);
        lo[e] = M::pack(x0 - h0, x1 - h1);
    });
    *reinterpret_cast<uint4 *>(p) = make_uint4(hi[0], hi[1], hi[2], hi[3]);
    *reinterpret_cast<uint4 *>(p + kLo) = make_uint4(lo[0], lo[1], lo[2], lo[3]);
}

/* s (holding bias 0) += (scale q) K^T + 1 b1 for one warpgroup, one chain of 5 k-steps:
 * the q pieces (hi, hi, lo, lo: dq, the lo piece kLo bytes further) against K (dk), then
 * the ones block (d1) against the 16 rows at dm (bias 1's row, then zeros: rows 64 .. 79
 * of a bias buffer). With kQSteps = 2 (the producer form's units, scale_units.h): (2^e q)
 * K^T, one piece (2 k-steps), then the pieces of g against the copies of b1 at dm (the
 * K / V stage's mask block; 3 k-steps in all). */
template <typename T, int kLo, int kQSteps = 4>
__device__ __forceinline__ void tp_wgb_issue_s(float (&s)[64], uint64_t dq, uint64_t dk, uint64_t d1, uint64_t dm)
{
    static_assert(kQSteps == 2 || kQSteps == 4, "q as one piece or two");
#pragma unroll
    for (int ks = 0; ks < kQSteps; ks++) /* hi, hi, lo, lo */
        tp_wg_ss<T, 128>::run(s, tp_desc_add(dq, (ks >> 1) * kLo + (ks & 1) * 32), tp_desc_add(dk, (ks & 1) * 32), 1);
    tp_wgmma_sst_n128((T *)0, s, d1, dm, 1);
}

/* Bias 0 of this thread's S fragment (rows 16 wl + g and + 8 of the warpgroup, keys 8 n +
 * 2 t and + 1) as f32, from the staged buffer (kBBlk bytes a column block of 64 keys, row
 * r at 128 r, chunk c at c ^ (r & 7)): ldmatrix x4 i reads the 8 x 8 matrices (key block
 * 2 i + mi / 2, row half mi mod 2), mi = lane / 8, lane giving row lane mod 8 of its
 * matrix; register q of it is s[4 n + 2 r], s[4 n + 2 r + 1] for n = 2 i + q / 2, r = q
 * mod 2. */
template <typename T, int kBBlk, bool kG = false>
__device__ __forceinline__ void tp_wgb_bias0(float (&s)[64], const unsigned char *buf, int wl, int lane,
                                             float g = 1.0f)
{
    const int mi = lane >> 3, x = lane & 7, y = (mi >> 1) ^ x;
    const unsigned char *br = buf + (16 * wl + 8 * (mi & 1) + x) * 128;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        uint32_t u[4];
        tp_ldsm_x4(u, br + (i >> 2) * kBBlk + ((((2 * i) & 7) ^ y) << 4)); /* chunk (2i + mi/2) & 7 */
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const float2 f = tp_wg_bias2(reinterpret_cast<const T *>(&u[q]));
            s[4 * (2 * i + (q >> 1)) + 2 * (q & 1)] = kG ? f.x * g : f.x; /* kG: g B0 (units) */
            s[4 * (2 * i + (q >> 1)) + 2 * (q & 1) + 1] = kG ? f.y * g : f.y;
        }
    }
}

/* The blocks every form sets up before its first copy, by the block's kThreads threads:
 * the ones block, the all-ones block of the row sums (512 bytes at Os + 4224: every
 * element 1, so that any layout reads ones), rows 65 .. 79 of each of the kNBlk bias
 * blocks at Bs zero (for good); the generic writes fenced for the tensor cores (the
 * caller's block barrier follows). */
template <typename T, int kNBlk, int kBBlk, int kThreads>
__device__ __forceinline__ void tp_wgb_setup_blocks(unsigned char *Bs, unsigned char *Os, float p0 = 1.0f,
                                                    float p1 = 0.0f, float p2 = 0.0f)
{
    constexpr int kZ0 = 65, kZC = (kBBlk / 128 - kZ0) * 8;
    tp_wgb_ones<T>(Os, threadIdx.x, kThreads, p0, p1, p2);
    if (threadIdx.x < 32) {
        const uint32_t one = tp_mma_type<T>::pack(1.0f, 1.0f);
        *reinterpret_cast<uint4 *>(Os + kOnesL + threadIdx.x * 16) = make_uint4(one, one, one, one);
    }
    for (int c = threadIdx.x; c < kNBlk * kZC; c += kThreads)
        *reinterpret_cast<uint4 *>(Bs + (c / kZC) * kBBlk + (kZ0 + (c % kZC) / 8) * 128 + (c % 8) * 16) =
            make_uint4(0u, 0u, 0u, 0u);
    tp_fence_proxy_async();
}

/* What both forms below set up before their first copy: the 3 full and 3 empty K / V
 * barriers (kThreads arrivals), the blocks above (two column blocks a warpgroup's bias
 * buffer), then a block barrier. */
template <typename T, int kWG, int kBBlk, bool kTma = false>
__device__ __forceinline__ void tp_wgb_setup(unsigned char *Bs, unsigned char *Os, uint32_t full0, uint32_t empty0)
{
    constexpr int kThreads = 128 * kWG;
    if (threadIdx.x < 3) {
        tp_mbar_init(full0 + threadIdx.x * 8, kTma ? 1 : kThreads);
        tp_mbar_init(empty0 + threadIdx.x * 8, kThreads);
    }
    if (kTma && threadIdx.x < kWG) tp_mbar_init(full0 + kBiasBar + threadIdx.x * 8, 1); /* bias tiles */
    tp_wgb_setup_blocks<T, kWG * 2, kBBlk, kThreads>(Bs, Os);
    __syncthreads(); /* and the barriers are initialised before anyone arrives */
}

/* Keys [key0, key0 + 128) of K and V into one stage (kb, vb: the (batch, head) rows),
 * this thread's share; its arrival on the stage's full barrier when they land. */
template <typename T, int kThreads>
__device__ __forceinline__ void tp_wgb_copy_kv(unsigned char *ks, unsigned char *vs, const T *kb, const T *vb,
                                               const tp_cu_attn &a, int64_t key0, uint32_t full)
{
    tp_load_sw<T, 128, 32, kThreads>(ks, kb, a.k.si, key0, a.Sk, a.D);
    tp_load_sw<T, 128, 32, kThreads>(vs, vb, a.v.si, key0, a.Sk, a.Dv);
    tp_cp_async_arrive(full);
}

/* S of one key tile for warpgroup wg: the stage's K and V (full barrier, phase ph), then
 * at_kv() (the stream form's q split), this thread's bias copies and the warpgroup's (its
 * barrier), bias 0 into s, the turn, the 5 k-steps (dq: q pieces, dk: the stage's K, d1:
 * the ones block, db: the bias buffer), the turn passed on (not by the last warpgroup
 * after the last tile: no one waits for it), S waited for. */
template <typename T, int kWG, int kQBlk, int kBBlk, typename AtKv>
__device__ __forceinline__ void tp_wgb_tile_s(float (&s)[64], uint32_t full, uint32_t ph, AtKv &&at_kv,
                                              const unsigned char *Bw, int wg, int wl, int lane, uint64_t dq,
                                              uint64_t dk, uint64_t d1, uint64_t db, bool last)
{
    tp_mbar_wait(full, ph);
    at_kv();
    tp_cp_wait<0>();
    tp_fence_proxy_async();
    tp_wg_bar_sync<kWG>(wg);
    tp_wgb_bias0<T, kBBlk>(s, Bw, wl, lane);
    tp_wg_turn(wg);
    tp_wg_fence_regs(s);
    tp_wg_fence();
    tp_wgb_issue_s<T, kQBlk>(s, dq, dk, d1, tp_desc_add(db, 64 * 128));
    tp_wg_commit();
    if (!last || wg != kWG - 1) tp_wg_pass<kWG>(wg);
    tp_wg_wait0();
    tp_wg_fence_regs(s);
}

/* The softmax of S (keys k0 ..; S is the logit) into (m, the row sums, O's rescale),
 * then P V on the stage's V (dv) issued, not waited for. The row sums ls: kTcL, the
 * tensor cores' P 1 on the all-ones block (d1; m64n8k16, issued with P V: every column
 * holds the sums, ls[0] and ls[1] of row g, ls[2] and ls[3] of row g + 8), the sums of P
 * as rounded for P V, 8 wgmma a warp instead of 62 adds a thread (softmax mode 5; the
 * producer forms fold them into P V's products, one m64n40 a k-step: tp_wgb_desc_v40);
 * otherwise the softmax's f32 sums of this thread's columns (mode 4) in ls[0] and ls[2],
 * summed over the quad at the store. The f32 sums are for lse: the rounded P's sum moves
 * log l by up to ~2^-9 (bf16) on rows of few keys, past lse's 2e-4. */
/* The softmax part of tp_wgb_tile_pv: m, the row sums and O's rescale updated, P packed
 * into pa (the A fragments of P V). */
template <typename T, bool kTcL>
__device__ __forceinline__ void tp_wgb_softmax_pack(float (&s)[64], float (&o)[16], float (&m)[2], float (&ls)[4],
                                                    const tp_wg_work &w, int64_t k0, float scale, int t,
                                                    uint32_t (&pa)[8][4], float sc = TP_LOG2E)
{
    float al[2];
    float l2[2] = {ls[0], ls[2]};
    tp_wg_softmax<128, kTcL ? 5 : 4, T>(s, m, l2, al, w, k0, scale, sc, t, (const T *)NULL,
                                         (const float *)NULL);
    tp_wg_rescale_pack<T, 32, 128>(o, al, s, pa);
    if (kTcL) ls[0] *= al[0], ls[1] *= al[0], ls[2] *= al[1], ls[3] *= al[1];
    else ls[0] = l2[0], ls[2] = l2[1];
}
/* The descriptor of a V tile at va (MN-major, 64-byte swizzle) whose second column block,
 * one leading offset away, is the block of ones at oa (at a higher address): an m64n40
 * product against it gives P V in its first 32 columns and P's row sums in the last 8. */
__device__ __forceinline__ uint64_t tp_wgb_desc_v40(uint32_t va, uint32_t oa)
{
    return tp_wg_desc(va, oa - va, 8 * 64, tp_sw<32>::kMode);
}
/* d moved on by bytes with the block its leading offset reaches kept where it is: the
 * start address field up, the leading offset field down (neither leaves its field) */
__device__ __forceinline__ uint64_t tp_desc_slide(uint64_t d, uint32_t bytes)
{
    uint64_t r;
    const uint32_t u = bytes >> 4;
    asm("mov.b64 %0, {%1, %2};" : "=l"(r) : "r"((uint32_t)d + u - (u << 16)), "r"((uint32_t)(d >> 32)));
    return r;
}
/* The issue part: P V on V at dv into o, and with kTcL the row sums (P 1 on the all-ones
 * block d1) into ls; inside the caller's wgmma fence and commit. With kV40 (and kTcL) dv
 * is tp_wgb_desc_v40's: one m64n40 product a k-step gives both (8 wgmma, not 16). */
template <typename T, bool kTcL, bool kV40 = false>
__device__ __forceinline__ void tp_wgb_issue_pv(float (&o)[16], float (&ls)[4], const uint32_t (&pa)[8][4],
                                                uint64_t dv, uint64_t d1)
{
    if constexpr (kTcL && kV40) {
#pragma unroll
        for (int kk = 0; kk < 8; kk++) tp_wgmma_rs_n32x8((T *)0, o, ls, pa[kk], tp_desc_slide(dv, kk * 16 * 64), 1);
    } else {
        tp_wg_issue_pv<T, 32, 128>(o, pa, dv);
        if (kTcL) {
#pragma unroll
            for (int kk = 0; kk < 8; kk++) tp_wg_rs<T, 8>::run(ls, pa[kk], d1);
        }
    }
}
/* P V (and the sums) issued as one wgmma group of its own: the operands fenced, the
 * issue, the commit; not waited for (tp_wgb_tile_end). */
template <typename T, bool kTcL, bool kV40 = false>
__device__ __forceinline__ void tp_wgb_pv_async(float (&o)[16], float (&ls)[4], uint32_t (&pa)[8][4], uint64_t dv,
                                                uint64_t d1)
{
    tp_wg_fence_regs(pa);
    tp_wg_fence_regs(o);
    if (kTcL) tp_wg_fence_regs(ls);
    tp_wg_fence();
    tp_wgb_issue_pv<T, kTcL, kV40>(o, ls, pa, dv, d1);
    tp_wg_commit();
}
template <typename T, bool kTcL>
__device__ __forceinline__ void tp_wgb_tile_pv(float (&s)[64], float (&o)[16], float (&m)[2], float (&ls)[4],
                                               const tp_wg_work &w, int64_t k0, float scale, int t, uint64_t dv,
                                               uint64_t d1)
{
    uint32_t pa[8][4];
    tp_wgb_softmax_pack<T, kTcL>(s, o, m, ls, w, k0, scale, t, pa);
    tp_wgb_pv_async<T, kTcL>(o, ls, pa, dv, d1);
}

/* The descriptors of both forms: warpgroup wg's q pieces (Q buffer 0), K and V stage 0,
 * the ones block, the warpgroup's bias buffer. */
struct tp_wgb_descs {
    uint64_t q, k, v, one, ones, b;
};
template <int kBBlk>
__device__ __forceinline__ tp_wgb_descs tp_wgb_make_descs(const unsigned char *Qs, const unsigned char *Ks,
                                                          const unsigned char *Vs, const unsigned char *Os,
                                                          const unsigned char *Bw, int wg)
{
    tp_wgb_descs d;
    d.q = tp_wg_desc_k<32>(tp_smem_addr(Qs) + wg * 64 * 64);
    d.k = tp_wg_desc_k<32>(tp_smem_addr(Ks));
    d.v = tp_wg_desc_v<32, 128>(tp_smem_addr(Vs));
    d.one = tp_wg_desc_k<32>(tp_smem_addr(Os));
    d.ones = tp_wg_desc(tp_smem_addr(Os) + kOnesL, 128, 128, 0);
    d.b = tp_wg_desc(tp_smem_addr(Bw), kBBlk, 8 * 128, 1);
    return d;
}

/* P V of the tile done: this thread leaves its stage (empty barrier). */
template <bool kTcL> __device__ __forceinline__ void tp_wgb_tile_end(float (&o)[16], float (&ls)[4], uint32_t empty)
{
    tp_wg_wait0();
    tp_wg_fence_regs(o);
    if (kTcL) tp_wg_fence_regs(ls);
    tp_mbar_arrive(empty);
}

/*
 * The block (kWG warpgroups, 64 kWG query rows) with both biases in S's chain. At most
 * 128 registers a thread, so that two blocks of two warpgroups (kWG = 2, _b2ht2) share a
 * SM and one block's prologue and epilogue run beside the other's tiles, or one block of
 * four (kWG = 4, _b2ht4) gives each scheduler four warps (the 3-warpgroup kernel of
 * v15-v18 had 168 registers and three warps a scheduler). For that:
 *   - P V is issued after the softmax, and waited for (after this thread's share of the
 *     K / V copies of tile j+2) before the next S: P and the S accumulator are never live
 *     together (S 64 + O 16 registers, then P 32 + O 16). With the wait at the start of
 *     the next tile instead, ptxas serialises every wgmma (warning C7512: P V in flight
 *     across the loop's back edge);
 *   - one bias buffer a warpgroup: tile j+1's bias copies start once every warp of the
 *     warpgroup has read bias 0 of tile j and its S is done (a warpgroup barrier), and
 *     hide behind the softmax;
 *   - the row sums from the tensor cores (P 1 with P V, 4 registers; kTcL) or the
 *     softmax (_l).
 * Loads are cp.async: K and V on mbarriers three stages deep (tile j+2 into tile j-1's
 * stage once every thread has waited for its P V of tile j-1), Q and the bias tiles in
 * groups. The warpgroups take turns at the tensor cores for S (named barriers).
 * Shared memory: Q pieces 2 x 64 kWG x 64, K, V 3 stages x 8192 each, bias buffers kWG x
 * 2 x 80 x 128, the ones block 64 x 64, the 6 mbarriers (in 128 bytes), the all-ones
 * block of the row sums (512 bytes); kWG = 2: 111 232 bytes (+ 1 KiB alignment), two
 * blocks a SM; kWG = 4: 168 576.
 */
template <typename T, int kWG, bool kTcL>
__device__ __forceinline__ void tp_attn_wgmma_tcb_body(const tp_cu_attn &a, unsigned char *smem)
{
    constexpr int kD = 32, kBN = 128, kThreads = 128 * kWG, kStages = 3, kBM = 64 * kWG;
    constexpr int kQBlk = kBM * 64, kTile = kBN * kD * 2; /* a Q piece; a K or V stage */
    constexpr int kRowsB = 80, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBlk, *Vs = Ks + kStages * kTile;
    unsigned char *Bs = Vs + kStages * kTile, *Os = Bs + kWG * kBBuf;
    const uint32_t full0 = tp_smem_addr(Os) + 64 * 64, empty0 = full0 + 32;
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
    float m[2] = {-INFINITY, -INFINITY}, ls[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const int64_t nt = w.k.t_end - w.k.t_begin;
    if (nt > 0) {
        tp_wgb_setup<T, kWG, kBBlk>(Bs, Os, full0, empty0);
        tp_load_sw<T, kBM, kD, kThreads>(Qs, qb, a.q.si, 0, a.Sq - w.q0, a.D);
        load_bias(w.k.t_begin * kBN); /* one group: Q and bias tile 0 */
        for (int64_t j = 0; j < 2 && j < nt; j++)
            tp_wgb_copy_kv<T, kThreads>(Ks + j * kTile, Vs + j * kTile, kb, vb, a, (w.k.t_begin + j) * kBN,
                                        full0 + j * 8);
        tp_cp_wait<0>();
        {
            const int cc = threadIdx.x & 3, r0 = threadIdx.x >> 2;
#pragma unroll
            for (int i = 0; i < kBM / (kThreads / 4); i++)
                tp_wgb_split_q<T, kQBlk>(Qs + (r0 + kThreads / 4 * i) * 64 + ((cc ^ tp_sw<kD>::phase(r0)) << 4), a.scale);
        }
        tp_fence_proxy_async();
        __syncthreads();
        if (wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */

        const tp_wgb_descs d = tp_wgb_make_descs<kBBlk>(Qs, Ks, Vs, Os, Bw, wg);
        int st = 0, sp = 0;
        uint32_t ph = 0, pph = 0;
        int64_t k0 = w.k.t_begin * kBN;
        for (int64_t j = 0; j < nt; j++) {
            float s[kBN / 2];
            tp_wgb_tile_s<T, kWG, kQBlk, kBBlk>(s, full0 + st * 8, ph, [] {}, Bw, wg, wl, lane, d.q,
                                                tp_desc_add(d.k, st * kTile), d.one, d.b, j + 1 == nt);
            if (j + 1 < nt) {
                tp_wg_bar_sync<kWG>(wg); /* every warp has its S: the buffer is free */
                load_bias(k0 + kBN);
            }
            tp_wgb_tile_pv<T, kTcL>(s, o, m, ls, w, k0, a.scale, t, tp_desc_add(d.v, st * kTile), d.ones);
            /* while P V runs: tile j+2 into tile j-1's stage once every thread has left it */
            if (j + 2 < nt) {
                if (j > 0) tp_mbar_wait(empty0 + sp * 8, pph);
                const int sn = j > 0 ? sp : 2;
                tp_wgb_copy_kv<T, kThreads>(Ks + sn * kTile, Vs + sn * kTile, kb, vb, a, k0 + 2 * kBN, full0 + sn * 8);
            }
            tp_wgb_tile_end<kTcL>(o, ls, empty0 + st * 8);
            sp = st, pph = ph;
            if (++st == kStages) st = 0, ph ^= 1u;
            k0 += kBN;
        }
    }
    const float l[2] = {ls[0], ls[2]};
    tp_wg_store_rows<T, kD, !kTcL>(a, (T *)a.out.data + tp_cu_off(a.out, w.bi, w.h),
                                   [&]() { return tp_cu_off(a.lse, w.bi, w.h); }, w.row0, o, m, l, t);
}

/* Work item it of the block order (tp_cu_block_at32's mapping, its divisions by the launch
 * constants as fast_div.h's multiply-high and shift: it < 2^31): batch indices, head, the
 * head of k and v, first query row. */
struct tp_wgs_item {
    tp_bidx bi;
    int64_t h, hk, q0;
};
template <int kBM> __device__ __forceinline__ tp_wgs_item tp_wgs_decode(const tp_cu_attn &a, uint32_t it)
{
    tp_wgs_item x;
    uint32_t n = it, q, bb, hh, qt;
    q = tp_cu_fdiv_q(n, a.fd_nq), qt = n - q * a.fd_nq.d, n = q;
    if (a.batch_inner) {
        q = tp_cu_fdiv_q(n, a.fd_nb), bb = n - q * a.fd_nb.d, n = q;
        q = tp_cu_fdiv_q(n, a.fd_nh), hh = n - q * a.fd_nh.d, n = q;
    } else {
        q = tp_cu_fdiv_q(n, a.fd_nh), hh = n - q * a.fd_nh.d, n = q;
        q = tp_cu_fdiv_q(n, a.fd_nb), bb = n - q * a.fd_nb.d, n = q;
    }
    x.q0 = (int64_t)qt * kBM;
    x.h = hh, x.hk = tp_cu_fdiv_q(hh, a.fd_g);
    q = tp_cu_fdiv_q(bb, a.fd_b2), x.bi.i[2] = bb - q * a.fd_b2.d, bb = q;
    q = tp_cu_fdiv_q(bb, a.fd_b1), x.bi.i[1] = bb - q * a.fd_b1.d, x.bi.i[0] = q;
    return x;
}

/* f on each 16-byte chunk of the 64 rows of one warpgroup's Q block at qw (64 bytes a
 * row, the 64-byte swizzle), by its 128 threads (tid): chunk tid mod 4 of rows tid / 4
 * and + 32. */
template <typename F> __device__ __forceinline__ void tp_wgs_row_chunks(unsigned char *qw, int tid, F &&f)
{
    const int cc = tid & 3, r0 = tid >> 2;
#pragma unroll
    for (int i = 0; i < 2; i++) f(qw + (r0 + 32 * i) * 64 + ((cc ^ tp_sw<32>::phase(r0)) << 4));
}
/* A stream form's q split: those rows as hi + lo in place (tp_wgb_split_q) */
template <typename T, int kQBlk>
__device__ __forceinline__ void tp_wgs_split_rows(unsigned char *qw, int tid, float scale)
{
    tp_wgs_row_chunks(qw, tid, [&](unsigned char *p) { tp_wgb_split_q<T, kQBlk>(p, scale); });
}
/* the same rows as 2^e q in place, one piece (the producer form's units) */
template <typename T> __device__ __forceinline__ void tp_wgs_scale_rows(unsigned char *qw, int tid, float qmul)
{
    tp_wgs_row_chunks(qw, tid, [&](unsigned char *p) { tp_wgb_scale_q<T>(p, qmul); });
}

/* A stream form's item done: its rows stored (the item decoded again; rows 64 wg + 16 wl
 * + g and + 8 of its query tile are this thread's), O zeroed for the next. */
template <typename T, int kBM, bool kTcL>
__device__ __forceinline__ void tp_wgs_store_item(const tp_cu_attn &a, uint32_t item, int wg, int wl, int g,
                                                  float (&o)[16], const float (&m)[2], const float (&ls)[4], int t)
{
    const tp_wgs_item x = tp_wgs_decode<kBM>(a, item);
    const float l[2] = {ls[0], ls[2]};
    tp_wg_store_rows<T, 32, !kTcL>(a, (T *)a.out.data + tp_cu_off(a.out, x.bi, x.h),
                                   [&]() { return tp_cu_off(a.lse, x.bi, x.h); }, x.q0 + wg * 64 + wl * 16 + g,
                                   o, m, l, t);
#pragma unroll
    for (int i = 0; i < 16; i++) o[i] = 0.0f;
}

/* A stream form's item done after its last tile: its rows stored, O, m and l restarted,
 * and the next item taken (Q buffer qsel, item, more: another after it); false at the
 * end of the stream. */
template <typename T, int kBM, bool kTcL>
__device__ __forceinline__ bool tp_wgs_item_done(const tp_cu_attn &a, uint32_t &item, bool &more, int &qsel,
                                                 uint32_t G, uint32_t nitems, int wg, int wl, int g, int t,
                                                 float (&o)[16], float (&m)[2], float (&ls)[4])
{
    tp_wgs_store_item<T, kBM, kTcL>(a, item, wg, wl, g, o, m, ls, t);
    if (!more) return false;
    m[0] = m[1] = -INFINITY, ls[0] = ls[1] = ls[2] = ls[3] = 0.0f;
    qsel ^= 1, item += G, more = item + G < nitems;
    return true;
}

/*
 * The stream form of the block above (_b2hs4: four warpgroups, one block a SM, grid <=
 * the SM count): block b runs work items b, b + gridDim.x, ... as one stream of key
 * tiles, so that one item's prologue (Q, its first bias and K / V tiles) and epilogue
 * hide under the neighbouring items' tiles instead of leaving the SM to four idle
 * warpgroups (H200, triangle: 1.334 ms against 1.368 for _b2ht4 in the same call; a probe
 * that ran every block's tiles twice took 2.470 ms against 1.380, but the stream form
 * recovers only ~0.03 ms of that 0.29: a block's first tiles are not its only slow
 * ones). For items that all see the same keys: no window, not causal, no key lengths,
 * and at least two key tiles (the launcher checks), so the softmax's masks are item 0's.
 * Items are decoded by fast division (tp_wgs_decode): three times an item (copy side,
 * bias side, store), ~40 instructions each.
 *   - K and V in three stages, two tiles ahead, as above; the copy side moves to the
 *     next item after the current one's last tile (the next item's decode, then its Q
 *     rows into the other Q buffer before its first K / V tile, so that this tile's full
 *     barrier covers Q too). Q of item i+2 goes into item i's buffer at stream tile
 *     (i+2) nt - 2, after the empty barrier of tile (i+2) nt - 3 >= item i's last
 *     (nt >= 2): every thread is done with item i's S.
 *   - Each warpgroup splits its own 64 Q rows (scale q = hi + lo) at its item's first
 *     tile, before the fence and the warpgroup barrier that precede S.
 *   - The bias copies of a warpgroup move to the next item the same way, one tile ahead.
 *   - After an item's last P V: its rows are stored (the item decoded again) and O, m,
 *     l start over.
 * Shared memory as the block above plus a second Q buffer: 200 768 bytes (+ 1 KiB).
 */
template <typename T, int kWG, bool kTcL>
__device__ __forceinline__ void tp_attn_wgmma_tcbs_body(const tp_cu_attn &a, unsigned char *smem)
{
    constexpr int kD = 32, kBN = 128, kThreads = 128 * kWG, kStages = 3, kBM = 64 * kWG;
    constexpr int kQBlk = kBM * 64, kQBuf = 2 * kQBlk, kTile = kBN * kD * 2;
    constexpr int kRowsB = 80, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBuf, *Vs = Ks + kStages * kTile;
    unsigned char *Bs = Vs + kStages * kTile, *Os = Bs + kWG * kBBuf;
    const uint32_t full0 = tp_smem_addr(Os) + 64 * 64, empty0 = full0 + 32;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3, tid = threadIdx.x & 127;
    const uint32_t nitems = (uint32_t)(a.nbatch * a.Hq * a.n_qtiles), G = gridDim.x;
    if (blockIdx.x >= nitems) return;
    const tp_wg_work w = tp_wg_schedule<kBN, kBM>(a, wg, wl, g, blockIdx.x); /* the masks (same for all) */
    const int nt = (int)w.k.t_end; /* t_begin = 0 */

    /* the copy side: K / V of tile cj of item citem (cq-th of the block) next */
    uint32_t citem = blockIdx.x;
    int cj = 0, cq = 0;
    const T *kb, *vb;
    auto start_copy_item = [&]() { /* decode citem, its Q rows into buffer cq & 1 */
        const tp_wgs_item x = tp_wgs_decode<kBM>(a, citem);
        kb = (const T *)a.k.data + tp_cu_off(a.k, x.bi, x.hk);
        vb = (const T *)a.v.data + tp_cu_off(a.v, x.bi, x.hk);
        const T *qb = (const T *)a.q.data + tp_cu_off(a.q, x.bi, x.h) + x.q0 * a.q.si;
        tp_load_sw<T, kBM, kD, kThreads>(Qs + (cq & 1) * kQBuf, qb, a.q.si, 0, a.Sq - x.q0, a.D);
    };
    auto copy_kv = [&](int stage) {
        if (cj == 0 && cq > 0) start_copy_item();
        tp_wgb_copy_kv<T, kThreads>(Ks + stage * kTile, Vs + stage * kTile, kb, vb, a, (int64_t)cj * kBN,
                                    full0 + stage * 8);
        if (++cj == nt) cj = 0, cq++, citem += G;
    };
    /* the bias side (this warpgroup's rows), one tile ahead */
    unsigned char *Bw = Bs + wg * kBBuf;
    const T *bsrc0, *bsrc1;
    int64_t brows;
    auto start_bias_item = [&](uint32_t it) {
        const tp_wgs_item x = tp_wgs_decode<kBM>(a, it);
        const int64_t brow0 = x.q0 + wg * 64, rb = brow0 < a.Sq ? brow0 : a.Sq - 1;
        bsrc0 = (const T *)a.bias[0].data + tp_cu_off(a.bias[0], x.bi, x.h) + rb * a.bias[0].si;
        bsrc1 = (const T *)a.bias[1].data + tp_cu_off(a.bias[1], x.bi, x.h);
        brows = a.Sq - brow0;
    };
    auto load_bias = [&](int64_t key0) {
        tp_wgb_load_bias<T, kRowsB>(Bw, bsrc0, a.bias[0].si, brows, bsrc1, key0, a.Sk, tid);
        tp_cp_commit();
    };

    tp_wgb_setup<T, kWG, kBBlk>(Bs, Os, full0, empty0);
    start_copy_item(); /* item 0's Q */
    start_bias_item(blockIdx.x);
    load_bias(0);
    copy_kv(0);
    copy_kv(1);
    if (wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */

    const tp_wgb_descs d = tp_wgb_make_descs<kBBlk>(Qs, Ks, Vs, Os, Bw, wg);
    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, ls[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int st = 0, sp = 0, jt = 0, qsel = 0;
    uint32_t ph = 0, pph = 0, item = blockIdx.x;
    bool more = item + G < nitems, started = false; /* another item after this one; a tile done */
    for (;;) { /* tile jt of item */
        float s[kBN / 2];
        const bool last = !more && jt + 1 == nt; /* the stream's last tile */
        const int64_t k0 = (int64_t)jt * kBN;
        auto split_q = [&] { /* at an item's first tile (its Q has landed): this warpgroup's rows */
            if (jt == 0) tp_wgs_split_rows<T, kQBlk>(Qs + qsel * kQBuf + wg * 64 * 64, tid, a.scale);
        };
        tp_wgb_tile_s<T, kWG, kQBlk, kBBlk>(s, full0 + st * 8, ph, split_q, Bw, wg, wl, lane,
                                            tp_desc_add(d.q, qsel * kQBuf), tp_desc_add(d.k, st * kTile), d.one,
                                            d.b, last);
        if (!last) {
            tp_wg_bar_sync<kWG>(wg); /* every warp has its S: the buffer is free */
            if (jt + 1 == nt) start_bias_item(item + G);
            load_bias(jt + 1 == nt ? 0 : k0 + kBN);
        }
        tp_wgb_tile_pv<T, kTcL>(s, o, m, ls, w, k0, a.scale, t, tp_desc_add(d.v, st * kTile), d.ones);
        /* while P V runs: the stream's tile after next into the previous tile's stage once
         * every thread has left it */
        if (more || jt + 2 < nt) {
            if (started) tp_mbar_wait(empty0 + sp * 8, pph);
            copy_kv(started ? sp : 2);
        }
        tp_wgb_tile_end<kTcL>(o, ls, empty0 + st * 8);
        sp = st, pph = ph, started = true;
        if (++st == kStages) st = 0, ph ^= 1u;
        if (++jt == nt) { /* the item's rows */
            if (!tp_wgs_item_done<T, kBM, kTcL>(a, item, more, qsel, G, nitems, wg, wl, g, t, o, m, ls)) break;
            jt = 0;
        }
    }
}

/* TMA (the tensor memory accelerator): a box of a 5D tensor map (cuda_attn.h) copied to
 * shared memory at dst by one thread, its bytes counted on mbarrier bar (which the
 * copying thread told to expect them: tp_mbar_expect_tx, which is also its arrival). */
__device__ __forceinline__ void tp_mbar_expect_tx(uint32_t bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void tp_tma_load(uint32_t dst, const tp_cu_tmap *map, int c0, int c1, const int (&c)[3],
                                            uint32_t bar)
{
    asm volatile("cp.async.bulk.tensor.5d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3, %4, %5, %6}], [%7];\n" ::"r"(dst),
                 "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(bar)
                 : "memory");
}
/* coordinates 2 .. 4 of a map (sel: its tp_cu_tmaps::sel) for head h, batch indices bi */
__device__ __forceinline__ void tp_tma_coords(int (&c)[3], uint32_t sel, int64_t h, const tp_bidx &bi)
{
#pragma unroll
    for (int k = 0; k < 3; k++) c[k] = tp_tmap_coord(sel, k, h, bi.i);
}

/*
 * The stream form with its loads by TMA (_b2hm4; tensor maps tm, attention_cuda.c makes
 * them when every operand fits one: unit column stride, 16-byte strides, at most three
 * head / batch dims that are not broadcast). Chosen with TPRIM_CUDA_STREAM=tma: slower than the
 * cp.async form (see the header); the base of the producer form (attention_wgmma_ws.cuh). The same stream of work items and tiles as
 * tp_attn_wgmma_tcbs_body; what differs is who copies:
 *   - K and V (and Q at an item's first tile, into the other Q buffer) are one thread's
 *     work (thread 0): it waits for the stage's empty barrier, tells the full barrier
 *     (count 1) to expect the bytes and issues the boxes (Q: 256 rows, K and V: 128
 *     keys, 32 columns each, the 64-byte swizzle; rows and columns past the operand read
 *     as zeros). The 511 other threads issue no copy, no address arithmetic and no
 *     empty-barrier wait (in the cp.async form each copied 2 chunks a tile, ~60
 *     instructions with the bounds and the arrival).
 *   - The bias tiles of warpgroup w are its thread 0's: two 64 x 64 boxes of bias 0 and
 *     two of bias 1's row (128-byte swizzle: the layout tp_wgb_load_bias writes) on the
 *     warpgroup's bias barrier, issued once every warp of the warpgroup has its S (warps
 *     1 .. 3 pass the named barrier with bar.arrive and go on to the softmax; warp 0
 *     waits and issues). ~80 instructions a tile a thread of cp.async addressing go.
 *   - No fence or warpgroup barrier at a tile but an item's first (the q split's generic
 *     writes, for the tensor cores): TMA writes are the async proxy's, and the mbarriers
 *     order them before the reads.
 */
template <typename T, int kWG, bool kTcL>
__device__ __forceinline__ void tp_attn_wgmma_tcbm_body(const tp_cu_attn &a, const tp_cu_tmaps &tm,
                                                        unsigned char *smem)
{
    constexpr int kD = 32, kBN = 128, kStages = 3, kBM = 64 * kWG;
    constexpr int kQBlk = kBM * 64, kQBuf = 2 * kQBlk, kTile = kBN * kD * 2;
    constexpr int kRowsB = 80, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    static_assert(kBM <= 256, "a TMA box has at most 256 rows");
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBuf, *Vs = Ks + kStages * kTile;
    unsigned char *Bs = Vs + kStages * kTile, *Os = Bs + kWG * kBBuf;
    const uint32_t full0 = tp_smem_addr(Os) + 64 * 64, empty0 = full0 + 32;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3, tid = threadIdx.x & 127;
    const uint32_t nitems = (uint32_t)(a.nbatch * a.Hq * a.n_qtiles), G = gridDim.x;
    if (blockIdx.x >= nitems) return;
    const tp_wg_work w = tp_wg_schedule<kBN, kBM>(a, wg, wl, g, blockIdx.x); /* the masks (same for all) */
    const int nt = (int)w.k.t_end; /* t_begin = 0 */

    /* The producers' state lives in shared memory (kTmaState: 64 bytes for thread 0, 32 for
     * thread 0 of each warpgroup), not in registers that every thread would hold beside
     * S, P and O (in registers, ptxas spilled 36 - 48 bytes). */
    struct kv_state { /* the copy side: K / V of tile cj of item citem (cq-th of the block) next */
        uint32_t citem;
        int cj, cq, kc[3], vc[3];
    };
    struct bias_state { /* the bias side: this warpgroup's rows, one tile ahead */
        int brow, bc0[3], bc1[3];
    };
    kv_state *const ks_ = reinterpret_cast<kv_state *>(Os + kTmaState);
    bias_state *const bs_ = reinterpret_cast<bias_state *>(Os + kTmaState + 64 + 32 * wg);
    auto copy_kv = [&](int stage) {
        kv_state &c = *ks_;
        const uint32_t bar = full0 + stage * 8;
        if (c.cj == 0) { /* a new item: its Q rows into buffer cq & 1 with this stage */
            const tp_wgs_item x = tp_wgs_decode<kBM>(a, c.citem);
            int qc[3];
            tp_tma_coords(qc, tm.sel[0], x.h, x.bi);
            tp_tma_coords(c.kc, tm.sel[1], x.hk, x.bi);
            tp_tma_coords(c.vc, tm.sel[2], x.hk, x.bi);
            tp_mbar_expect_tx(bar, 2 * kTile + kQBlk);
            tp_tma_load(tp_smem_addr(Qs + (c.cq & 1) * kQBuf), &tm.m[0], 0, (int)x.q0, qc, bar);
        } else {
            tp_mbar_expect_tx(bar, 2 * kTile);
        }
        tp_tma_load(tp_smem_addr(Ks + stage * kTile), &tm.m[1], 0, c.cj * kBN, c.kc, bar);
        tp_tma_load(tp_smem_addr(Vs + stage * kTile), &tm.m[2], 0, c.cj * kBN, c.vc, bar);
        if (++c.cj == nt) c.cj = 0, c.cq++, c.citem += G;
    };
    const uint32_t Bw = tp_smem_addr(Bs + wg * kBBuf), bbar = full0 + kBiasBar + wg * 8;
    auto start_bias_item = [&](uint32_t it) {
        bias_state &b = *bs_;
        const tp_wgs_item x = tp_wgs_decode<kBM>(a, it);
        b.brow = (int)x.q0 + wg * 64;
        tp_tma_coords(b.bc0, tm.sel[3], x.h, x.bi);
        tp_tma_coords(b.bc1, tm.sel[4], x.h, x.bi);
    };
    auto load_bias = [&](int key0) {
        const bias_state &b = *bs_;
        tp_mbar_expect_tx(bbar, 2 * (64 * 128 + 128));
#pragma unroll
        for (int c = 0; c < 2; c++) {
            tp_tma_load(Bw + c * kBBlk, &tm.m[3], key0 + 64 * c, b.brow, b.bc0, bbar);
            tp_tma_load(Bw + c * kBBlk + 64 * 128, &tm.m[4], key0 + 64 * c, 0, b.bc1, bbar);
        }
    };

    tp_wgb_setup<T, kWG, kBBlk, true>(Bs, Os, full0, empty0);
    if (threadIdx.x == 0) ks_->citem = blockIdx.x, ks_->cj = 0, ks_->cq = 0;
    if (tid == 0) {
        start_bias_item(blockIdx.x);
        load_bias(0);
    }
    if (threadIdx.x == 0) {
        copy_kv(0);
        copy_kv(1);
    }
    if (wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */

    const tp_wgb_descs d = tp_wgb_make_descs<kBBlk>(Qs, Ks, Vs, Os, Bs + wg * kBBuf, wg);
    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, ls[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int st = 0, sp = 0, jt = 0, qsel = 0;
    uint32_t ph = 0, pph = 0, bph = 0, item = blockIdx.x;
    bool more = item + G < nitems, started = false; /* another item after this one; a tile done */
    for (;;) { /* tile jt of item */
        float s[kBN / 2];
        const bool last = !more && jt + 1 == nt; /* the stream's last tile */
        tp_mbar_wait(full0 + st * 8, ph);
        if (jt == 0) { /* the item's Q has landed: this warpgroup's rows as hi + lo */
            tp_wgs_split_rows<T, kQBlk>(Qs + qsel * kQBuf + wg * 64 * 64, tid, a.scale);
            tp_fence_proxy_async();
            tp_wg_bar_sync<kWG>(wg);
        }
        tp_mbar_wait(bbar, bph);
        bph ^= 1u;
        tp_wgb_bias0<T, kBBlk>(s, Bs + wg * kBBuf, wl, lane);
        tp_wg_turn(wg);
        tp_wg_fence_regs(s);
        tp_wg_fence();
        tp_wgb_issue_s<T, kQBlk>(s, tp_desc_add(d.q, qsel * kQBuf), tp_desc_add(d.k, st * kTile), d.one,
                                 tp_desc_add(d.b, 64 * 128));
        tp_wg_commit();
        if (!last || wg != kWG - 1) tp_wg_pass<kWG>(wg);
        tp_wg_wait0();
        tp_wg_fence_regs(s);
        if (!last) { /* every warp has its S: the bias buffer is free */
            if (wl == 0) { /* (not the q split's barrier: warps 1 .. 3 may reach that first) */
                tp_wg_bar2_sync<kWG>(wg);
                if (tid == 0) {
                    if (jt + 1 == nt) start_bias_item(item + G);
                    load_bias(jt + 1 == nt ? 0 : (jt + 1) * kBN);
                }
            } else {
                tp_wg_bar2_arrive<kWG>(wg);
            }
        }
        tp_wgb_tile_pv<T, kTcL>(s, o, m, ls, w, (int64_t)jt * kBN, a.scale, t, tp_desc_add(d.v, st * kTile),
                                d.ones);
        /* while P V runs: the stream's tile after next into the previous tile's stage once
         * every thread has left it */
        if (threadIdx.x == 0 && (more || jt + 2 < nt)) {
            if (started) tp_mbar_wait(empty0 + sp * 8, pph);
            copy_kv(started ? sp : 2);
        }
        tp_wgb_tile_end<kTcL>(o, ls, empty0 + st * 8);
        sp = st, pph = ph, started = true;
        if (++st == kStages) st = 0, ph ^= 1u;
        if (++jt == nt) { /* the item's rows (inline: through tp_wgs_item_done's references
                             ptxas spilled 32 bytes more here) */
            tp_wgs_store_item<T, kBM, kTcL>(a, item, wg, wl, g, o, m, ls, t);
            if (!more) break;
            m[0] = m[1] = -INFINITY, ls[0] = ls[1] = ls[2] = ls[3] = 0.0f;
            jt = 0, qsel ^= 1, item += G, more = item + G < nitems;
        }
    }
}

#endif
