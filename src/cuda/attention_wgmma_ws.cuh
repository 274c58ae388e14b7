/* attention_wgmma_ws.cuh -- the evoformer stream form with a producer warpgroup
 * ("warp-specialised", _b2hw3; the default stream form, TPRIM_CUDA_STREAM=producer).
 * H200 (2026-12-06, one call, same-run medians), triangle attention N = L = 768 bf16:
 * 1.150 ms against 1.266 for _b2hs4 (cp.async, the computing threads copy), 4.39x
 * PyTorch's memory-efficient SDPA with the bias materialised. With kDefer (_b2hp3,
 * TPRIM_CUDA_STREAM=deferpv) each tile's P V waits for the warpgroup's next turn and is
 * issued with the next tile's S (H100, 2026-12-07, one run each: 1.109 ms against 1.135).
 *
 * Four warpgroups: 0 .. 2 compute (64 query rows each, items of 192 rows), 3 copies. The
 * producer warpgroup gives up registers (setmaxnreg.dec to 40) so that the consumers can
 * take 152 (setmaxnreg.inc): 128 (40 + 3 x 152) = 63 488 of the 65 536. Two of its warps
 * work, one lane each:
 *   - warp 0, lane 0: K and V of every tile of the block's stream, with the tile's row of
 *     bias 1 (the mask bias) once for each nonzero piece of g into the stage's mask block
 *     (and an item's Q, 192 rows, with its first tile) by TMA into three stages; full[s]
 *     (count 1, expect_tx) and empty[s] (count 384: every consumer thread after its P V
 *     of the tile);
 *   - warp 1, lane 0: each consumer's tile of bias 0 (64 rows) by TMA into that
 *     consumer's two buffers, a tile ahead; bfull[w][b] (count 1, expect_tx), bempty[w][b]
 *     (count 128: consumer w's threads once their S is done).
 * S is held in units of 1 / f (scale = 2^e f, scale_units.h): S = (2^e q) K^T + g B0 +
 * g b1, 3 k-steps (2^e q exact, one piece; g B0 one multiply an element as bias 0 becomes
 * S's start value; g in three pieces of the dtype as the ones block's first columns
 * against the copies of b1), the softmax's exponent taking f log2(e). Against scale q as
 * hi + lo (5 k-steps, q's pieces and K read twice from shared memory: the other forms):
 * H100, 2026-12-07, bench/gpu/ab.sh, medians of three interleaved runs: triangle 1.019
 * against 1.075 ms, MSA rows 0.382 against 0.396. (With the copies of b1 in each
 * consumer's bias buffer, three times the small copies from warp 1: 1.140 against
 * 1.090.)
 * The consumers do what _b2hm4's warpgroups do minus every copy, address computation
 * and stage wait of the copy side: per tile the full wait, at an item's first tile the
 * q scaled, the bias wait, g B0 into S, the turn (three warpgroups in a ring), the 3
 * k-steps, the bias buffer released, the softmax (in a second ring of turns: below), P V,
 * the stage released. The softmax turns (2026-12-07): H100, triangle 1.097 against 1.113
 * ms, 4.49x the memory-efficient SDPA of that call; H200, triangle 1.107 against 1.122
 * and MSA rows 0.407 against 0.415 (bench/gpu/ab.sh, medians of three interleaved runs).
 * P V and the row sums as one m64n40 wgmma a k-step (8 register-A wgmma a tile, not 16;
 * H100, 2026-12-07, same tool): triangle 1.068 against 1.102 ms, 4.62x the
 * memory-efficient SDPA of that call; MSA rows 0.396 against 0.406.
 * Shared memory: Q 2 buffers x 2 pieces x 192 x 64 B = 48 KiB (the second piece of
 * buffer 0 holds the 3 stages' mask blocks, 4 KiB each; that of buffer 1 is unused),
 * K / V 3 stages 48 KiB,
 * bias 3 consumers x 2 buffers x 20 KiB = 120 KiB, the ones blocks and 18 mbarriers (5
 * KiB), the ones of P V's row-sum columns (1 KiB); with the 1 KiB alignment 228 352 bytes
 * (of the 232 448 a block may have). */
#ifndef TPRIM_CUDA_ATTENTION_WGMMA_WS_CUH
#define TPRIM_CUDA_ATTENTION_WGMMA_WS_CUH

#include "attention_wgmma_bias.cuh"

/* Byte offset of the producer form's barriers from the ones block Os (after the all-ones
 * block): full[3], empty[3], then bfull[w][b] at 48 + 8 (2 w + b), bempty[w][b] at 96 +
 * 8 (2 w + b). */
constexpr int kWsBars = kOnesL + 512;
/* Byte offset of the block of ones that P V's m64n40 products reach as V's second column
 * block (1 KiB: 16 keys x 64 bytes, every k-step's descriptor sliding to it) from Os:
 * after the barriers, 1 KiB-aligned. */
constexpr int kWsOnesV = 5120;

#ifdef TP_WS_DEBUG
__device__ volatile unsigned tp_ws_prog[4096]; /* per block and consumer: (tiles done << 4) | step */
#define TP_WS_STEP(wg, v)                                                                                 \
    do {                                                                                                  \
        if ((threadIdx.x & 127) == 0) tp_ws_prog[(blockIdx.x & 1023) * 4 + (wg)] = (v);                   \
    } while (0)
#else
#define TP_WS_STEP(wg, v) ((void)0)
#endif

/* A wait of the form. For debugging, built with -DTP_WS_DEBUG (cmake
 * -DTPRIM_NVCC_FLAGS=-DTP_WS_DEBUG): a wait that lasts over ~2 s prints who waited on what
 * (code 1: the K / V producer on an empty barrier, 2: the bias producer on bempty, 3: a
 * consumer on full, 4: a consumer on bfull), the parity and each consumer's last step
 * (tp_ws_prog: 1 after setmaxnreg, 2 before the full wait, 3 before the turn, 4 after it;
 * tiles done above the low 4 bits), then traps: a hang becomes an error with a place. */
__device__ __forceinline__ void tp_ws_wait(uint32_t bar, uint32_t parity, int code)
{
#ifdef TP_WS_DEBUG
    const long long t0 = clock64();
    for (;;) {
        uint32_t ok;
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(ok)
                     : "r"(bar), "r"(parity)
                     : "memory");
        if (ok) return;
        if (clock64() - t0 > 4000000000LL) {
            const unsigned *p = (const unsigned *)&tp_ws_prog[(blockIdx.x & 1023) * 4];
            printf("ws hang: block %d thread %d wait %d bar +%u parity %u; consumers' steps %x %x %x\n",
                   (int)blockIdx.x, (int)threadIdx.x, code, bar & 1023u, parity, p[0], p[1], p[2]);
            __trap();
        }
    }
#else
    (void)code;
    tp_mbar_wait(bar, parity);
#endif
}

/* A timeline of block 0's consumers, for finding where a tile step's cycles go. Built with
 * -DTP_WS_TRACE (cmake -DTPRIM_NVCC_FLAGS=-DTP_WS_TRACE), the third launch of the form
 * records clock64 at up to 6 points of each of its first 64 tiles (thread 0 of each
 * consumer; the points are named where they are marked); tp_ws_trace_dump, a kernel of
 * its own that the launcher runs after each launch of the form in such builds
 * (attention_cuda.c), prints them once as lines "wstrace WG TILE C0 .. C5" (-1: not
 * marked); bench/gpu/ws_trace.py turns them into a table. The traced kernel has no call:
 * a printf in it made ptxas serialise every wgmma of the function (warning C7510), so that
 * the timeline was not that of the kernel that runs. The marks are volatile clock reads:
 * they keep their places among the waits and the wgmma instructions. */
#ifdef TP_WS_TRACE
__device__ unsigned tp_ws_launches;
__device__ long long tp_ws_trace[3][64][6];
#define TP_WS_MARK(on, wg, n, ev)                                                                         \
    do {                                                                                                  \
        if ((on) && (n) < 64) tp_ws_trace[wg][n][ev] = clock64();                                         \
    } while (0)
__device__ __forceinline__ bool tp_ws_trace_on(int wg, int tid)
{
    if (blockIdx.x != 0 || tid != 0) return false;
    const bool on = *(volatile unsigned *)&tp_ws_launches == 2;
    if (on)
        for (int n = 0; n < 64; n++)
            for (int e = 0; e < 6; e++) tp_ws_trace[wg][n][e] = -1;
    return on;
}
__device__ unsigned tp_ws_trace_n[3], tp_ws_dumped; /* tiles marked a consumer; printed */
__device__ __forceinline__ void tp_ws_trace_end(bool on, int wg, int tid, uint32_t nd)
{
    if (on) tp_ws_trace_n[wg] = nd < 64 ? nd : 64;
    if (blockIdx.x == 0 && wg == 0 && tid == 0) atomicAdd(&tp_ws_launches, 1u);
}
extern "C" __global__ void tp_ws_trace_dump()
{
    if (threadIdx.x != 0 || blockIdx.x != 0 || tp_ws_launches < 3 || tp_ws_dumped) return;
    tp_ws_dumped = 1;
    for (int wg = 0; wg < 3; wg++)
        for (unsigned n = 0; n < tp_ws_trace_n[wg]; n++) {
            const long long *c = tp_ws_trace[wg][n];
            printf("wstrace %d %u %lld %lld %lld %lld %lld %lld\n", wg, n, c[0], c[1], c[2], c[3], c[4], c[5]);
        }
}
#else
#define TP_WS_MARK(on, wg, n, ev) ((void)0)
__device__ __forceinline__ bool tp_ws_trace_on(int, int) { return false; }
__device__ __forceinline__ void tp_ws_trace_end(bool, int, int, uint32_t) {}
#endif

template <int kN> __device__ __forceinline__ void tp_setmaxnreg_inc()
{
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kN));
}
template <int kN> __device__ __forceinline__ void tp_setmaxnreg_dec()
{
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kN));
}

template <bool B> struct tp_ws_flag {
    static constexpr bool value = B;
};

template <typename T, bool kTcL, bool kDefer = false>
__device__ __forceinline__ void tp_attn_wgmma_tcbw_body(const tp_cu_attn &a, const tp_cu_tmaps &tm,
                                                        unsigned char *smem)
{
    constexpr int kWG = 3, kD = 32, kBN = 128, kStages = 3, kBM = 64 * kWG, kThreads = 128 * kWG;
    constexpr int kQBlk = kBM * 64, kQBuf = 2 * kQBlk, kTile = kBN * kD * 2;
    constexpr int kRowsB = 80, kBBlk = kRowsB * 128, kBBuf = 2 * kBBlk;
    unsigned char *Qs = smem, *Ks = Qs + 2 * kQBuf, *Vs = Ks + kStages * kTile;
    /* a K / V stage's mask block: bias 1's row once for each nonzero piece of g (rows 0 ..
     * n1 - 1, the rest zero), 16 rows x 128 bytes x 2 column blocks of 64 keys, 128-byte
     * swizzle; in Q buffer 0's second piece (unused: q is one piece in the units) */
    constexpr int kMBlk = 16 * 128, kMStage = 2 * kMBlk;
    static_assert(kStages * kMStage <= kQBlk, "the mask blocks fit the free Q piece");
    unsigned char *Ms = Qs + kQBlk;
    unsigned char *Bs = Vs + kStages * kTile, *Os = Bs + kWG * 2 * kBBuf;
    const uint32_t bars = tp_smem_addr(Os) + kWsBars;
    const uint32_t full0 = bars, empty0 = bars + 24, bfull0 = bars + 48, bempty0 = bars + 96;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3, tid = threadIdx.x & 127;
    const uint32_t nitems = (uint32_t)(a.nbatch * a.Hq * a.n_qtiles), G = gridDim.x;
    if (blockIdx.x >= nitems) return;
    const int nt = (int)(((int64_t)a.Sk + kBN - 1) / kBN);

    /* setup: barriers, the ones block, the all-ones block, zero rows of every bias block */
    if (threadIdx.x < 3) {
        tp_mbar_init(full0 + threadIdx.x * 8, 1);
        tp_mbar_init(empty0 + threadIdx.x * 8, kThreads);
    }
    if (threadIdx.x < 2 * kWG) {
        tp_mbar_init(bfull0 + threadIdx.x * 8, 1);
        tp_mbar_init(bempty0 + threadIdx.x * 8, 128);
    }
    if (kTcL && threadIdx.x < 64) { /* the ones of P V's row-sum columns */
        const uint32_t one = tp_mma_type<T>::pack(1.0f, 1.0f);
        *reinterpret_cast<uint4 *>(Os + kWsOnesV + threadIdx.x * 16) = make_uint4(one, one, one, one);
    }
    for (int c = threadIdx.x; c < kStages * kMStage / 16; c += 512) /* the mask blocks' zero rows */
        *reinterpret_cast<uint4 *>(Ms + c * 16) = make_uint4(0u, 0u, 0u, 0u);
    tp_wgb_setup_blocks<T, kWG * 4, kBBlk, 512>(Bs, Os, a.un.p[0], a.un.p[1], a.un.p[2]); /* two buffers a consumer */
    __syncthreads();

    if (wg == kWG) { /* the producer warpgroup */
        tp_setmaxnreg_dec<40>();
        if (lane != 0 || wl > 1) return;
        if (wl == 0) { /* K, V, the mask block (and Q) */
            const int n1 = a.un.n1;
            int stage = 0, qsel = 0;
            uint32_t round = 0; /* uses of the stage so far, over 3 */
            for (uint32_t item = blockIdx.x; item < nitems; item += G, qsel ^= 1) {
                const tp_wgs_item x = tp_wgs_decode<kBM>(a, item);
                int qc[3], kc[3], vc[3], mc[3];
                tp_tma_coords(mc, tm.sel[4], x.h, x.bi);
                tp_tma_coords(qc, tm.sel[0], x.h, x.bi);
                tp_tma_coords(kc, tm.sel[1], x.hk, x.bi);
                tp_tma_coords(vc, tm.sel[2], x.hk, x.bi);
                for (int j = 0; j < nt; j++) {
                    const uint32_t bar = full0 + stage * 8;
                    if (round > 0) tp_ws_wait(empty0 + stage * 8, (round - 1) & 1u, 1);
                    tp_mbar_expect_tx(bar, 2 * kTile + (j == 0 ? kQBlk : 0) + 2 * 128 * n1);
                    if (j == 0) tp_tma_load(tp_smem_addr(Qs + qsel * kQBuf), &tm.m[0], 0, (int)x.q0, qc, bar);
                    tp_tma_load(tp_smem_addr(Ks + stage * kTile), &tm.m[1], 0, j * kBN, kc, bar);
                    tp_tma_load(tp_smem_addr(Vs + stage * kTile), &tm.m[2], 0, j * kBN, vc, bar);
#pragma unroll
                    for (int c = 0; c < 2; c++)
#pragma unroll
                        for (int i = 0; i < 3; i++) /* bias 1's row, once for each piece of g */
                            if (i < n1)
                                tp_tma_load(tp_smem_addr(Ms + stage * kMStage + c * kMBlk + i * 128), &tm.m[4],
                                            j * kBN + 64 * c, 0, mc, bar);
                    if (++stage == kStages) stage = 0, round++;
                }
            }
        } else { /* the bias 0 tiles of the three consumers */
            int b = 0;
            uint32_t round = 0; /* uses of buffer b so far, over 2 */
            for (uint32_t item = blockIdx.x; item < nitems; item += G) {
                const tp_wgs_item x = tp_wgs_decode<kBM>(a, item);
                int c0[3];
                tp_tma_coords(c0, tm.sel[3], x.h, x.bi);
                for (int j = 0; j < nt; j++) {
                    for (int w = 0; w < kWG; w++) {
                        const uint32_t bar = bfull0 + (2 * w + b) * 8;
                        const uint32_t dst = tp_smem_addr(Bs + (2 * w + b) * kBBuf);
                        if (round > 0) tp_ws_wait(bempty0 + (2 * w + b) * 8, (round - 1) & 1u, 2);
                        tp_mbar_expect_tx(bar, 2 * 64 * 128);
                        for (int c = 0; c < 2; c++)
                            tp_tma_load(dst + c * kBBlk, &tm.m[3], j * kBN + 64 * c, (int)x.q0 + 64 * w, c0, bar);
                    }
                    if (++b == 2) b = 0, round++;
                }
            }
        }
        return;
    }

    /* the consumers */
    tp_setmaxnreg_inc<152>();
    TP_WS_STEP(wg, 1);
    const tp_wg_work w = tp_wg_schedule<kBN, kBM>(a, wg, wl, g, blockIdx.x); /* the masks (same for all) */
    if (wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */
    const tp_wgb_descs d = tp_wgb_make_descs<kBBlk>(Qs, Ks, Vs, Os, Bs + wg * 2 * kBBuf, wg);
    const uint64_t dm = tp_wg_desc(tp_smem_addr(Ms), kMBlk, 8 * 128, 1); /* stage 0's mask block */
    /* V of a stage: with kTcL as the first column block of the m64n40 products (the row
     * sums from the ones one leading offset on) */
    const uint64_t dv40 = tp_wgb_desc_v40(tp_smem_addr(Vs), tp_smem_addr(Os) + kWsOnesV);
    auto vdesc = [&](int stage) {
        return kTcL ? tp_desc_slide(dv40, stage * kTile) : tp_desc_add(d.v, stage * kTile);
    };
    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, ls[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int st = 0, jt = 0, qsel = 0, bb = 0;
    uint32_t ph = 0, bph = 0, item = blockIdx.x, nd = 0; /* nd: tiles done (debugging) */
    bool more = item + G < nitems;
    const bool tron = tp_ws_trace_on(wg, tid);
    (void)tron;
    uint32_t pa[8][4];
    int sp = 0; /* the stage of the tile whose P is in pa */
    auto tile_s = [&](float(&s)[kBN / 2], bool first, bool last, auto with_pv) {
        constexpr bool kPv = decltype(with_pv)::value;
        TP_WS_STEP(wg, (nd << 4) | 2);
        TP_WS_MARK(tron, wg, nd, 0); /* the tile begins: K / V wait */
        tp_ws_wait(full0 + st * 8, ph, 3);
        if (first) { /* the item's Q has landed: this warpgroup's rows as 2^e q */
            tp_wgs_scale_rows<T>(Qs + qsel * kQBuf + wg * 64 * 64, tid, a.un.qmul);
            tp_fence_proxy_async();
            tp_wg_bar_sync<kWG>(wg);
        }
        tp_ws_wait(bfull0 + (2 * wg + bb) * 8, bph, 4);
        tp_wgb_bias0<T, kBBlk, true>(s, Bs + (2 * wg + bb) * kBBuf, wl, lane, a.un.g);
        TP_WS_STEP(wg, (nd << 4) | 3);
        TP_WS_MARK(tron, wg, nd, 1); /* the bias in S: the turn's wait */
        tp_wg_turn(wg);
        TP_WS_STEP(wg, (nd << 4) | 4);
        TP_WS_MARK(tron, wg, nd, 2); /* the turn: P V (previous tile) + S issued */
        tp_wg_fence_regs(s);
        if constexpr (kPv) {
            tp_wg_fence_regs(pa);
            tp_wg_fence_regs(o);
            if (kTcL) tp_wg_fence_regs(ls);
        }
        tp_wg_fence();
        if constexpr (kPv) tp_wgb_issue_pv<T, kTcL, true>(o, ls, pa, vdesc(sp), d.ones);
        tp_wgb_issue_s<T, kQBlk, 2>(s, tp_desc_add(d.q, qsel * kQBuf), tp_desc_add(d.k, st * kTile), d.one,
                                    tp_desc_add(dm, st * kMStage));
        tp_wg_commit();
        if (!last || wg != kWG - 1) tp_wg_pass<kWG>(wg);
        tp_wg_wait0();
        TP_WS_MARK(tron, wg, nd, 3); /* P V + S done: the softmax */
        tp_wg_fence_regs(s);
        if constexpr (kPv) {
            tp_wg_fence_regs(o);
            if (kTcL) tp_wg_fence_regs(ls);
            tp_mbar_arrive(empty0 + sp * 8); /* the previous tile's stage is free */
        }
        tp_mbar_arrive(bempty0 + (2 * wg + bb) * 8); /* this thread is done with the bias buffer */
        if (++bb == 2) bb = 0, bph ^= 1u;
        sp = st;
        if (++st == kStages) st = 0, ph ^= 1u;
    };
    if constexpr (kDefer) {
        /* _b2hp3 (TPRIM_CUDA_STREAM=deferpv): P V of a tile issued in the warpgroup's
         * next turn, just before the next tile's S, so that the tensor cores run one
         * warpgroup's P V and S back to back while the other two run their softmax
         * (FlashAttention-3's ping-pong, with three warpgroups). Per item: tile 0's S; then for
         * tiles 1 .. nt-1 the previous tile's P V and the tile's S in one turn; then the
         * last tile's P V outside the turns, and the rows stored. (The loops are so shaped
         * that every wgmma sequence runs straight from its fence to its commit: a P V
         * issued on a condition made ptxas serialise every wgmma, C7515.) */
        for (;;) { /* item */
            {
                float s[kBN / 2];
                tile_s(s, true, !more && nt == 1, tp_ws_flag<false>());
                tp_wgb_softmax_pack<T, kTcL>(s, o, m, ls, w, 0, a.scale, t, pa, a.un.sc);
                TP_WS_MARK(tron, wg, nd, 4); /* the softmax done */
                nd++;
            }
            for (int j = 1; j < nt; j++) {
                float s[kBN / 2];
                tile_s(s, false, !more && j + 1 == nt, tp_ws_flag<true>());
                tp_wgb_softmax_pack<T, kTcL>(s, o, m, ls, w, (int64_t)j * kBN, a.scale, t, pa, a.un.sc);
                TP_WS_MARK(tron, wg, nd, 4);
                nd++;
            }
            tp_wgb_pv_async<T, kTcL, true>(o, ls, pa, vdesc(sp), d.ones); /* the last tile's */
            tp_wgb_tile_end<kTcL>(o, ls, empty0 + sp * 8);
            if (nd > 0) TP_WS_MARK(tron, wg, nd - 1, 5); /* the item's last P V done */
            if (!tp_wgs_item_done<T, kBM, kTcL>(a, item, more, qsel, G, nitems, wg, wl, g, t, o, m, ls)) {
                tp_ws_trace_end(tron, wg, tid, nd);
                return;
            }
        }
    } else {
        /* The softmaxes take turns too, in the ring of the S turns (tp_wg_turn2): a
         * consumer's softmax starts once the previous one's is done, so that at most one
         * runs at a time and the others' products and loads fill the gaps. Without this
         * ring, two or three softmaxes ran at once for 59 % of the time, each ~2 000
         * cycles (ws_timeline.sh on the H100, 2026-12-07; a lone one ~1 330): they slow
         * each other down more than the wait for the turn costs. A ring around the
         * exponentials alone was slower (1.182 against 1.113 ms), as were a quarter of them
         * on the FMA pipes (1.196). Warpgroup kWG - 1 passes first, and not after its
         * last tile. */
        if (wg == kWG - 1) tp_wg_pass2<kWG>(wg);
        for (;;) { /* tile jt of item: its S as in _b2hp3's turn, without a P V */
            float s[kBN / 2];
            const bool last = !more && jt + 1 == nt;
            tile_s(s, jt == 0, last, tp_ws_flag<false>());
            tp_wg_turn2<kWG>(wg);
            tp_wgb_softmax_pack<T, kTcL>(s, o, m, ls, w, (int64_t)jt * kBN, a.scale, t, pa, a.un.sc);
            if (!last || wg != kWG - 1) tp_wg_pass2<kWG>(wg);
            tp_wgb_pv_async<T, kTcL, true>(o, ls, pa, vdesc(sp), d.ones);
            TP_WS_MARK(tron, wg, nd, 4); /* the softmax done, P V issued */
            tp_wgb_tile_end<kTcL>(o, ls, empty0 + sp * 8);
            TP_WS_MARK(tron, wg, nd, 5); /* P V done */
            nd++;
            if (++jt == nt) { /* the item's rows */
                if (!tp_wgs_item_done<T, kBM, kTcL>(a, item, more, qsel, G, nitems, wg, wl, g, t, o, m, ls)) break;
                jt = 0;
            }
        }
        tp_ws_trace_end(tron, wg, tid, nd);
    }
}

#endif
