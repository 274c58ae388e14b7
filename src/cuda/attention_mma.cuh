/* attention_mma.cuh -- the tensor-core flash attention forward kernel (sm_80+:
 * mma.sync m16n8k16 with f32 accumulation, ldmatrix, cp.async), one template for
 * every head size. Instantiated in attention_mma_*.cu.
 *
 * Work: one block per (query tile of kBM rows, head, batch entry); each warp owns 16 kM
 * query rows. Per key tile of kBN keys: S = Q K^T on the tensor cores, the logit
 * transform (scale, soft-cap, biases, ALiBi, masks), an online softmax in registers,
 * then O += P V with P taken straight from the S accumulators (the C fragment of
 * m16n8 is the A fragment of the next product). K and V tiles are double-buffered
 * with cp.async: the loads of tile t+1 fly while tile t is computed.
 *
 * Shared memory rows are padded by 16 bytes (kD + 8 elements), so the 8 rows an
 * ldmatrix reads start on 8 different 16-byte bank groups: no bank conflicts.
 * Columns past D (or Dv) and rows past Sq or Sk are zero-filled, so that padded work
 * adds exact zeros; masked keys get -inf logits and probability 0.
 *
 * The two numbers per head: flops 2 (D + Dv) per visible (query, key) pair; bytes
 * q, k, v and out once each when K/V tiles stay in L2 across the query tiles.
 *
 * kFeat = 0 compiles the plain path (causal / window / key lengths / lse only);
 * kFeat = 1 adds biases, ALiBi, soft-cap and the key mask; the two are separate
 * kernels so that the plain one is not charged the registers of the full one.
 * kFeat = 2 is the full path with f32 biases of unit key stride staged through shared
 * memory: each bias tile (kBN keys x the block's rows, or one row when the bias is
 * broadcast over queries) is copied with cp.async beside K and V, in the same double
 * buffer, and read back in the accumulator layout as float2 (rows padded to kBN + 8
 * floats: the 16 lanes of a half-warp hit 32 distinct banks). The evoformer shapes
 * (D = 32, a mask bias over keys and a pair bias shared by the N rows) run here.
 *
 * T = float (f32 inputs, kD <= 128): the same kernel on the tf32 tensor cores, mma.sync
 * m16n8k8, with every operand in two pieces, x = big + small (tp_tf32_split_bits: both
 * rounded to nearest tf32), and each product as three, small big + big small + big big
 * (the small small term, below 2^-22 of the product, is dropped): 2^-22 relative error
 * an operand, at three tf32 products a product. Measured (H200, the CUDA tests): worst
 * relative error 7.3e-6 over the case table when P V accumulated over every key in the
 * tensor cores (7.45e-6 with big truncated instead of rounded, 2^-20 an operand), and
 * 7.4e-7 for the exact SIMT kernel: the split did not set the error, the tensor cores'
 * f32 accumulation (products aligned and truncated, not rounded) did. So each key
 * tile's P V goes into fresh accumulators, added to O in f32 once a tile: 5.6e-7, at
 * +1.7 % time (18.5 ms below).
 * Tiles stay f32 in shared memory (rows padded by 16 bytes: kD + 4 floats) and
 * fragments are read with 32-bit loads, conflict-free; the S accumulator feeds P V
 * directly, its keys 2t, 2t + 1 of an n-tile taking the k-slots t, t + 4 of m16n8k8,
 * with V's rows read in the same order. An infinite input becomes NaN (inf - inf in the
 * split); f32 biases are added in f32 as above. H200 (bench/gpu/ab.sh): B4 H16 S4096
 * D128 18.5 ms, 30 TFLOP/s (the SIMT kernel: 622 ms); the triangle shape with f32 inputs
 * and biases 8.82 ms (PyTorch SDPA memory-efficient in f32, the bias materialised:
 * 14.5 ms). */
#include "attention_common.cuh"
#include "tf32_split.h"

#include <math.h>

template <typename T> struct tp_mma_type;
template <> struct tp_mma_type<__nv_bfloat16> {
    typedef __nv_bfloat16 T;
    static __device__ __forceinline__ uint32_t pack(float a, float b)
    {
        __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ T from_f32(float x) { return __float2bfloat16_rn(x); }
    static __device__ __forceinline__ float to_f32(T x) { return __bfloat162float(x); }
};
template <> struct tp_mma_type<__half> {
    typedef __half T;
    static __device__ __forceinline__ uint32_t pack(float a, float b)
    {
        __half2 v = __floats2half2_rn(a, b);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                     "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ T from_f32(float x) { return __float2half_rn(x); }
    static __device__ __forceinline__ float to_f32(T x) { return __half2float(x); }
};

template <> struct tp_mma_type<float> { /* f32 inputs: the tf32 products below */
    typedef float T;
    static __device__ __forceinline__ float from_f32(float x) { return x; }
    static __device__ __forceinline__ float to_f32(float x) { return x; }
};

/* c += a b, m16n8k8, tf32 operands, f32 accumulation */
__device__ __forceinline__ void tp_mma_tf32(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
/* c += (a_big + a_small)(b_big + b_small) less a_small b_small, the small terms first */
__device__ __forceinline__ void tp_mma_tf32x3(float *c, const uint32_t *ab, const uint32_t *as, uint32_t bb0,
                                              uint32_t bb1, uint32_t bs0, uint32_t bs1)
{
    tp_mma_tf32(c, as, bb0, bb1);
    tp_mma_tf32(c, ab, bs0, bs1);
    tp_mma_tf32(c, ab, bb0, bb1);
}

__device__ __forceinline__ uint32_t tp_smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared; only `bytes` (0..16) are read, the rest is zero-filled. */
__device__ __forceinline__ void tp_cp_async16(void *dst, const void *src, int bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(tp_smem_addr(dst)),
                 "l"(src), "r"(bytes));
}
__device__ __forceinline__ void tp_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void tp_cp_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void tp_ldsm_x4(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(tp_smem_addr(p)));
}
__device__ __forceinline__ void tp_ldsm_x4_t(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(tp_smem_addr(p)));
}

/* Load rows [row0, row0 + R) x columns [0, kD) of an operand (rows at stride si,
 * columns at stride sj, from `base`, valid rows < nrows, valid columns < ncols) into a
 * shared tile of row stride kS. Vector path: cp.async, 16 bytes (8 or 4 elements) per
 * copy. */
template <typename T, int R, int kD, int kS, int kThreads>
__device__ __forceinline__ void tp_load_tile(T *dst, const T *base, const tp_cu_op &o,
                                             int64_t row0, int64_t nrows, int64_t ncols)
{
    constexpr int kE = 16 / (int)sizeof(T), kChunks = kD / kE;
    if (o.vec) {
#pragma unroll
        for (int c = threadIdx.x; c < R * kChunks; c += kThreads) {
            const int r = c / kChunks, cc = (c % kChunks) * kE;
            const int64_t gr = row0 + r;
            int n = 0;
            const T *src = base;
            if (gr < nrows && cc < ncols) {
                n = (int)((ncols - cc < kE ? ncols - cc : kE) * (int64_t)sizeof(T));
                src = base + gr * o.si + cc;
            }
            tp_cp_async16(dst + r * kS + cc, src, n);
        }
    } else {
        for (int c = threadIdx.x; c < R * kD; c += kThreads) {
            const int r = c / kD, cc = c % kD;
            const int64_t gr = row0 + r;
            T v = tp_mma_type<T>::from_f32(0.0f);
            if (gr < nrows && cc < ncols) v = base[gr * o.si + cc * o.sj];
            dst[r * kS + cc] = v;
        }
    }
}

/* Bias tile rows [0, R) x keys [k0, k0 + kBN) of an f32 bias with unit key stride
 * (row stride si, 16-byte aligned rows; rows >= nrows and keys >= nk are zero-filled)
 * into shared rows of kBN + 8 floats. Thread x copies chunk x mod (kBN / 4) of rows
 * x / (kBN / 4) + i kRows: a tile wholly in bounds costs one cp.async and two
 * additions a chunk. */
template <int kBN, int kThreads>
__device__ __forceinline__ void tp_load_bias_tile(float *dst, const float *base, int64_t si, int R,
                                                  int64_t nrows, int64_t k0, int64_t nk)
{
    constexpr int kChunks = kBN / 4, kRows = kThreads / kChunks;
    static_assert(kThreads % kChunks == 0, "load pattern");
    const int cc = (threadIdx.x % kChunks) * 4, r0 = threadIdx.x / kChunks;
    float *d = dst + r0 * (kBN + 8) + cc;
    if (k0 + kBN <= nk && R <= nrows) {
        const float *src = base + r0 * si + k0 + cc;
        for (int r = r0; r < R; r += kRows, d += kRows * (kBN + 8), src += kRows * si)
            tp_cp_async16(d, src, 16);
        return;
    }
    for (int r = r0; r < R; r += kRows, d += kRows * (kBN + 8)) {
        const int64_t j = k0 + cc;
        int n = 0;
        const float *src = base;
        if (r < nrows && j < nk) {
            n = (int)((nk - j < 4 ? nk - j : 4) * 4);
            src = base + r * si + j;
        }
        tp_cp_async16(d, src, n);
    }
}

/* The staged biases of one key tile: bias 0's tile, then bias 1's. */
template <int kBN, int kThreads>
__device__ __forceinline__ void tp_load_biases(float *d, const tp_cu_attn &a, const float *b0, const float *b1,
                                               int64_t q0, int64_t key0)
{
    tp_load_bias_tile<kBN, kThreads>(d, b0, a.bias[0].si, a.bstage[0], a.bias[0].si ? a.Sq - q0 : 1, key0, a.Sk);
    if (a.nbias > 1)
        tp_load_bias_tile<kBN, kThreads>(d + a.bstage[0] * (kBN + 8), b1, a.bias[1].si, a.bstage[1],
                                         a.bias[1].si ? a.Sq - q0 : 1, key0, a.Sk);
}

/* 2^x on the special-function unit (max relative error 2^-22; results below 2^-126
 * flush to 0, which only drops probabilities that are 0 at f32 precision anyway). */
__device__ __forceinline__ float tp_ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

#define TP_LN2 0.6931471805599453f

/*
 * kM m-tiles (16 rows each) per warp: every K and V fragment read from shared memory
 * feeds kM products, so shared-memory traffic per product falls as kM grows (at kM = 1
 * one ldmatrix per two mma saturates the shared-memory port before the tensor cores).
 * Logits are kept in log2 units (scaled by log2 e) from the start, so the softmax needs
 * one subtraction and one ex2 per element, and a large |logit| (a -1e9 mask bias) never
 * meets a separately rounded max*log2e.
 */
template <typename T, int kD, int kM, int kBN, int kWarps, bool kQReg, int kFeat>
__device__ __forceinline__ void tp_attn_mma_body(const tp_cu_attn &a, T *smem)
{
    typedef tp_mma_type<T> M;
    constexpr int kBM = kWarps * 16 * kM; /* query rows per block */
    constexpr bool kF32 = sizeof(T) == 4; /* the tf32 products */
    constexpr int kS = kD + 16 / (int)sizeof(T); /* padded shared row (16 bytes more), elements */
    constexpr int kThreads = kWarps * 32;
    constexpr int kNT = kBN / 8;          /* n-tiles of S per m-tile */
    constexpr int kKS = kD / 16;          /* k-steps of Q K^T (16-bit) */
    static_assert(!kF32 || !kQReg, "the f32 path reads Q from shared memory");
    constexpr int kDT = kD / 8;           /* n-tiles of O */
    T *Qs = smem;
    T *Ks = Qs + kBM * kS;                /* [2][kBN][kS] */
    T *Vs = Ks + 2 * kBN * kS;            /* [2][kBN][kS] */
    constexpr bool kStage = kFeat == 2;
    float *Bs = (float *)(Vs + 2 * kBN * kS); /* kStage: [2][bias rows][kBN + 8] */
    const int bst_floats = kStage ? (a.bstage[0] + a.bstage[1]) * (kBN + 8) : 0;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;

    int64_t b, h, qt;
    tp_cu_block(a, b, h, qt);
    const tp_bidx bi = tp_cu_bidx(a, b);
    const int64_t hk = h / a.G;
    const int64_t q0 = qt * kBM;
    const int64_t qlast = (q0 + kBM < a.Sq ? q0 + kBM : a.Sq) - 1;
    const int64_t kl = tp_cu_key_len(a, bi);

    const T *qb = (const T *)a.q.data + tp_cu_off(a.q, bi, h) + q0 * a.q.si;
    const T *kb = (const T *)a.k.data + tp_cu_off(a.k, bi, hk);
    const T *vb = (const T *)a.v.data + tp_cu_off(a.v, bi, hk);

    /* the keys any row of the block can see, and the tiles that need no element mask */
    const tp_cu_keys kr = tp_cu_block_keys(a, kl, q0, qlast, kBN);
    const int64_t hi_first = kr.hi_first, lo_last = kr.lo_last;
    const int64_t t_begin = kr.t_begin, t_end = kr.t_end;

    /* this thread's rows: m-tile mt, half r -> q0 + warp*16*kM + mt*16 + r*8 + g */
    const int64_t row0 = q0 + warp * 16 * kM + g;
    int64_t lo[kM][2], hi[kM][2];
#pragma unroll
    for (int mt = 0; mt < kM; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) tp_cu_row_range(a, kl, row0 + mt * 16 + r * 8, lo[mt][r], hi[mt][r]);

    float o[kM][kDT][4];
#pragma unroll
    for (int mt = 0; mt < kM; mt++)
#pragma unroll
        for (int d = 0; d < kDT; d++) o[mt][d][0] = o[mt][d][1] = o[mt][d][2] = o[mt][d][3] = 0.0f;
    float m[kM][2], l[kM][2]; /* running max (log2 units) and this thread's partial sum */
#pragma unroll
    for (int mt = 0; mt < kM; mt++) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.0f;
    uint32_t qf[kQReg ? kM : 1][kQReg ? kKS : 1][4];

    /* per-row extras of the full path */
    float slope2 = 0.0f; /* ALiBi slope in log2 units */
    const char *brow[2][kM][2];
    int64_t kmo = 0;
    if (kFeat) {
        slope2 = tp_cu_alibi(a, bi, h) * TP_LOG2E;
        if (a.has_kmask) kmo = tp_cu_off(a.kmask, bi, 0);
    }
    if (kFeat == 1) {
#pragma unroll
        for (int x = 0; x < 2; x++) {
            if (x >= a.nbias) break;
            const int64_t es = a.bias[x].dtype == TP_CU_F32 ? 4 : 2;
            const int64_t base = tp_cu_off(a.bias[x], bi, h);
#pragma unroll
            for (int mt = 0; mt < kM; mt++)
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    int64_t i = row0 + mt * 16 + r * 8;
                    i = i < a.Sq ? i : a.Sq - 1;
                    brow[x][mt][r] = (const char *)a.bias[x].data + (base + i * a.bias[x].si) * es;
                }
        }
    }

    /* kStage: the block's first row of each bias */
    const float *bblk0 = NULL, *bblk1 = NULL;
    if (kStage) {
        bblk0 = (const float *)a.bias[0].data + tp_cu_off(a.bias[0], bi, h) + q0 * a.bias[0].si;
        if (a.nbias > 1)
            bblk1 = (const float *)a.bias[1].data + tp_cu_off(a.bias[1], bi, h) + q0 * a.bias[1].si;
    }
    if (t_begin < t_end) {
        tp_load_tile<T, kBM, kD, kS, kThreads>(Qs, qb, a.q, 0, a.Sq - q0, a.D);
        tp_load_tile<T, kBN, kD, kS, kThreads>(Ks, kb, a.k, t_begin * kBN, a.Sk, a.D);
        tp_load_tile<T, kBN, kD, kS, kThreads>(Vs, vb, a.v, t_begin * kBN, a.Sk, a.Dv);
        if (kStage) tp_load_biases<kBN, kThreads>(Bs, a, bblk0, bblk1, q0, t_begin * kBN);
        tp_cp_commit();
    }
    const float cap = a.softcap, inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    const float scale2 = a.scale * TP_LOG2E;
    const int64_t shift = kl - a.Sq; /* bottom-right alignment of query rows */
    const T *Qw = Qs + (warp * 16 * kM) * kS;

    for (int64_t tile = t_begin; tile < t_end; tile++) {
        const int buf = (int)((tile - t_begin) & 1);
        __syncthreads(); /* every warp is done with the other buffer */
        if (tile + 1 < t_end) {
            T *kd = Ks + (buf ^ 1) * kBN * kS, *vd = Vs + (buf ^ 1) * kBN * kS;
            tp_load_tile<T, kBN, kD, kS, kThreads>(kd, kb, a.k, (tile + 1) * kBN, a.Sk, a.D);
            tp_load_tile<T, kBN, kD, kS, kThreads>(vd, vb, a.v, (tile + 1) * kBN, a.Sk, a.Dv);
            if (kStage)
                tp_load_biases<kBN, kThreads>(Bs + (buf ^ 1) * bst_floats, a, bblk0, bblk1, q0, (tile + 1) * kBN);
        }
        tp_cp_commit();
        tp_cp_wait<1>();
        __syncthreads();
        const T *Kt = Ks + buf * kBN * kS, *Vt = Vs + buf * kBN * kS;
        const int64_t k0 = tile * kBN;

        if (kQReg && !kF32 && tile == t_begin) {
#pragma unroll
            for (int mt = 0; mt < kM; mt++)
#pragma unroll
                for (int ks = 0; ks < kKS; ks++)
                    tp_ldsm_x4(qf[kQReg ? mt : 0][kQReg ? ks : 0],
                               Qw + (mt * 16 + (lane & 15)) * kS + ks * 16 + (lane >> 4) * 8);
        }

        /* biases of this tile (log2 units), loaded before the product so that their
         * latency hides behind it */
        float bs[kFeat == 1 ? kM : 1][kFeat == 1 ? kNT : 1][4];
        if (kFeat == 1) {
#pragma unroll
            for (int mt = 0; mt < kM; mt++)
#pragma unroll
                for (int n = 0; n < kNT; n++) bs[mt][n][0] = bs[mt][n][1] = bs[mt][n][2] = bs[mt][n][3] = 0.0f;
#pragma unroll
            for (int x = 0; x < 2; x++) {
                if (x >= a.nbias) break;
                const tp_cu_op &bo = a.bias[x];
                const bool f32 = bo.dtype == TP_CU_F32;
                /* one load per element, all issued before the product (the paired and
                 * per-key variants tried were 2.5x slower on the evoformer shapes: see
                 * docs/notes/attention_cuda.md) */
#pragma unroll
                for (int n = 0; n < kNT; n++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        int64_t j = k0 + n * 8 + 2 * t + e;
                        j = j < a.Sk ? j : a.Sk - 1;
                        const int64_t off = j * bo.sj;
#pragma unroll
                        for (int mt = 0; mt < kM; mt++)
#pragma unroll
                            for (int r = 0; r < 2; r++) {
                                const char *p = brow[x][mt][r];
                                float v = f32 ? ((const float *)p)[off] : M::to_f32(((const T *)p)[off]);
                                bs[mt][n][2 * r + e] = fmaf(v, TP_LOG2E, bs[mt][n][2 * r + e]);
                            }
                    }
            }
        }

        /* S = Q K^T: each K fragment feeds kM products */
        float s[kM][kNT][4];
#pragma unroll
        for (int mt = 0; mt < kM; mt++)
#pragma unroll
            for (int n = 0; n < kNT; n++) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.0f;
        if constexpr (kF32) {
            /* three tf32 products a product; Q and K fragments split as they are read */
#pragma unroll
            for (int ks = 0; ks < kD / 8; ks++) {
                if (ks * 8 >= a.D) break;
                uint32_t qb[kM][4], qs[kM][4];
#pragma unroll
                for (int mt = 0; mt < kM; mt++) {
                    const T *qr = Qw + (mt * 16 + g) * kS + ks * 8 + t;
                    tp_tf32_split_bits(qr[0], &qb[mt][0], &qs[mt][0]);
                    tp_tf32_split_bits(qr[8 * kS], &qb[mt][1], &qs[mt][1]);
                    tp_tf32_split_bits(qr[4], &qb[mt][2], &qs[mt][2]);
                    tp_tf32_split_bits(qr[8 * kS + 4], &qb[mt][3], &qs[mt][3]);
                }
#pragma unroll
                for (int n = 0; n < kNT; n++) {
                    const T *kr = Kt + (n * 8 + g) * kS + ks * 8 + t;
                    uint32_t kb0, ks0, kb1, ks1;
                    tp_tf32_split_bits(kr[0], &kb0, &ks0);
                    tp_tf32_split_bits(kr[4], &kb1, &ks1);
#pragma unroll
                    for (int mt = 0; mt < kM; mt++) tp_mma_tf32x3(s[mt][n], qb[mt], qs[mt], kb0, kb1, ks0, ks1);
                }
            }
        } else
#pragma unroll
        for (int ks = 0; ks < kKS; ks++) {
            if (ks * 16 >= a.D) break;
            uint32_t qa[kM][4];
#pragma unroll
            for (int mt = 0; mt < kM; mt++) {
                if (kQReg) {
#pragma unroll
                    for (int z = 0; z < 4; z++) qa[mt][z] = qf[kQReg ? mt : 0][kQReg ? ks : 0][z];
                } else {
                    tp_ldsm_x4(qa[mt], Qw + (mt * 16 + (lane & 15)) * kS + ks * 16 + (lane >> 4) * 8);
                }
            }
#pragma unroll
            for (int np = 0; np < kNT / 2; np++) {
                uint32_t kf[4];
                tp_ldsm_x4(kf, Kt + (np * 16 + (lane & 7) + (lane >> 4) * 8) * kS + ks * 16 +
                                   ((lane >> 3) & 1) * 8);
#pragma unroll
                for (int mt = 0; mt < kM; mt++) {
                    M::mma(s[mt][2 * np], qa[mt], kf[0], kf[1]);
                    M::mma(s[mt][2 * np + 1], qa[mt], kf[2], kf[3]);
                }
            }
        }

        /* kStage: this tile's biases from shared memory, float2 per (row, key pair) */
        float sb[kStage ? kM : 1][kStage ? kNT : 1][4];
        if (kStage) {
            const float *bt = Bs + buf * bst_floats;
#pragma unroll
            for (int mt = 0; mt < kM; mt++)
#pragma unroll
                for (int n = 0; n < kNT; n++) sb[mt][n][0] = sb[mt][n][1] = sb[mt][n][2] = sb[mt][n][3] = 0.0f;
#pragma unroll
            for (int x = 0; x < 2; x++) {
                if (x >= a.nbias) break;
                const bool bcast = a.bstage[x] == 1;
#pragma unroll
                for (int mt = 0; mt < kM; mt++)
#pragma unroll
                    for (int r = 0; r < 2; r++) {
                        const int rr = bcast ? 0 : warp * 16 * kM + mt * 16 + r * 8 + g;
                        const float *br = bt + rr * (kBN + 8) + 2 * t;
#pragma unroll
                        for (int n = 0; n < kNT; n++) {
                            const float2 v = *reinterpret_cast<const float2 *>(br + n * 8);
                            sb[mt][n][2 * r] += v.x;
                            sb[mt][n][2 * r + 1] += v.y;
                        }
                    }
                bt += a.bstage[x] * (kBN + 8);
            }
        }

        /* logits in log2 units: scale, soft-cap, biases, ALiBi, masks. Masks and ALiBi
         * work in tile-relative 32-bit coordinates: jr = key - k0. */
        const bool need_mask = (kFeat && a.has_kmask) || k0 < lo_last || k0 + kBN > hi_first;
        int lor[kM][2], hir[kM][2];
        float dab[kM][2]; /* (aligned query position - k0) for ALiBi */
#pragma unroll
        for (int mt = 0; mt < kM; mt++)
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const int64_t l0 = lo[mt][r] - k0, h0 = hi[mt][r] - k0;
                lor[mt][r] = (int)(l0 < -1 ? -1 : (l0 > kBN ? kBN : l0));
                hir[mt][r] = (int)(h0 < -1 ? -1 : (h0 > kBN ? kBN : h0));
                dab[mt][r] = (float)(row0 + mt * 16 + r * 8 + shift - k0);
            }
#pragma unroll
        for (int mt = 0; mt < kM; mt++)
#pragma unroll
            for (int n = 0; n < kNT; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int r = e >> 1;
                    const int jr = n * 8 + 2 * t + (e & 1);
                    float x;
                    if (kFeat) {
                        x = s[mt][n][e] * a.scale;
                        if (cap > 0.0f) x = cap * tanhf(x * inv_cap);
                        x = kFeat == 1 ? fmaf(x, TP_LOG2E, bs[kFeat == 1 ? mt : 0][kFeat == 1 ? n : 0][e])
                                       : (x + sb[kStage ? mt : 0][kStage ? n : 0][e]) * TP_LOG2E;
                        if (a.has_alibi) x -= slope2 * fabsf(dab[mt][r] - (float)jr);
                    } else {
                        x = s[mt][n][e] * scale2;
                    }
                    if (need_mask) {
                        bool vis = jr >= lor[mt][r] && jr < hir[mt][r];
                        if (kFeat && a.has_kmask && vis)
                            vis = ((const unsigned char *)a.kmask.data)[kmo + (k0 + jr) * a.kmask.sj] != 0;
                        if (!vis) x = -INFINITY;
                    }
                    s[mt][n][e] = x;
                }

        /* online softmax per row; a row's four owners are the lanes of one quad */
#pragma unroll
        for (int mt = 0; mt < kM; mt++)
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float mx = -INFINITY;
#pragma unroll
                for (int n = 0; n < kNT; n++) mx = fmaxf(mx, fmaxf(s[mt][n][2 * r], s[mt][n][2 * r + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float mn = fmaxf(m[mt][r], mx);
                const float mu = mn == -INFINITY ? 0.0f : mn;
                const float al = tp_ex2(m[mt][r] - mu);
                m[mt][r] = mn;
                float sum = 0.0f;
#pragma unroll
                for (int n = 0; n < kNT; n++) {
                    s[mt][n][2 * r] = tp_ex2(s[mt][n][2 * r] - mu);
                    s[mt][n][2 * r + 1] = tp_ex2(s[mt][n][2 * r + 1] - mu);
                    sum += s[mt][n][2 * r] + s[mt][n][2 * r + 1];
                }
                l[mt][r] = l[mt][r] * al + sum;
#pragma unroll
                for (int d = 0; d < kDT; d++) o[mt][d][2 * r] *= al, o[mt][d][2 * r + 1] *= al;
            }

        /* O += P V: each V fragment feeds kM products. f32: n-tile n of S is the k-step
         * of 8 keys, its keys 2t and 2t + 1 in k-slots t and t + 4 (so a0..a3 are S's
         * c0, c2, c1, c3) and V's rows read in that order */
        if constexpr (kF32) {
            /* this tile's P V in fresh accumulators, added to O in f32 (round to
             * nearest) once a tile, so that the tensor cores' truncating accumulation
             * runs over kBN keys, not over all of them */
            float ot[kM][kDT][4];
#pragma unroll
            for (int mt = 0; mt < kM; mt++)
#pragma unroll
                for (int d = 0; d < kDT; d++) ot[mt][d][0] = ot[mt][d][1] = ot[mt][d][2] = ot[mt][d][3] = 0.0f;
#pragma unroll
            for (int n = 0; n < kNT; n++) {
                uint32_t pb[kM][4], ps[kM][4];
#pragma unroll
                for (int mt = 0; mt < kM; mt++) {
                    tp_tf32_split_bits(s[mt][n][0], &pb[mt][0], &ps[mt][0]);
                    tp_tf32_split_bits(s[mt][n][2], &pb[mt][1], &ps[mt][1]);
                    tp_tf32_split_bits(s[mt][n][1], &pb[mt][2], &ps[mt][2]);
                    tp_tf32_split_bits(s[mt][n][3], &pb[mt][3], &ps[mt][3]);
                }
#pragma unroll
                for (int d = 0; d < kDT; d++) {
                    if (d * 8 >= a.Dv) break;
                    const T *vr = Vt + (n * 8 + 2 * t) * kS + d * 8 + g;
                    uint32_t vb0, vs0, vb1, vs1;
                    tp_tf32_split_bits(vr[0], &vb0, &vs0);
                    tp_tf32_split_bits(vr[kS], &vb1, &vs1);
#pragma unroll
                    for (int mt = 0; mt < kM; mt++) tp_mma_tf32x3(ot[mt][d], pb[mt], ps[mt], vb0, vb1, vs0, vs1);
                }
            }
#pragma unroll
            for (int mt = 0; mt < kM; mt++)
#pragma unroll
                for (int d = 0; d < kDT; d++)
#pragma unroll
                    for (int e = 0; e < 4; e++) o[mt][d][e] += ot[mt][d][e];
        } else
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++) {
            uint32_t pa[kM][4];
#pragma unroll
            for (int mt = 0; mt < kM; mt++) {
                pa[mt][0] = M::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = M::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = M::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = M::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < kD / 16; dp++) {
                if (dp * 16 >= a.Dv) break;
                uint32_t vf[4];
                tp_ldsm_x4_t(vf, Vt + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kS +
                                     dp * 16 + (lane >> 4) * 8);
#pragma unroll
                for (int mt = 0; mt < kM; mt++) {
                    M::mma(o[mt][2 * dp], pa[mt], vf[0], vf[1]);
                    M::mma(o[mt][2 * dp + 1], pa[mt], vf[2], vf[3]);
                }
            }
        }
    }
    tp_cp_wait<0>();

    /* epilogue: normalise, store out (and lse) */
    T *ob = (T *)a.out.data + tp_cu_off(a.out, bi, h);
    const bool pair = a.out.vec; /* unit column stride, rows 16-byte aligned */
#pragma unroll
    for (int mt = 0; mt < kM; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float lt = l[mt][r];
            lt += __shfl_xor_sync(0xffffffffu, lt, 1);
            lt += __shfl_xor_sync(0xffffffffu, lt, 2);
            const int64_t i = row0 + mt * 16 + r * 8;
            if (i >= a.Sq) continue;
            const float inv = lt > 0.0f ? 1.0f / lt : 0.0f;
            T *orow = ob + i * a.out.si;
#pragma unroll
            for (int d = 0; d < kDT; d++) {
                const int64_t c = d * 8 + 2 * t;
                const float x0 = o[mt][d][2 * r] * inv, x1 = o[mt][d][2 * r + 1] * inv;
                if (pair && c + 1 < a.Dv) {
                    if constexpr (kF32) *reinterpret_cast<float2 *>(orow + c) = make_float2(x0, x1);
                    else *reinterpret_cast<uint32_t *>(orow + c) = M::pack(x0, x1);
                } else {
                    if (c < a.Dv) orow[c * a.out.sj] = M::from_f32(x0);
                    if (c + 1 < a.Dv) orow[(c + 1) * a.out.sj] = M::from_f32(x1);
                }
            }
            if (a.has_lse && t == 0)
                ((float *)a.lse.data)[tp_cu_off(a.lse, bi, h) + i * a.lse.si] =
                    lt > 0.0f ? m[mt][r] * TP_LN2 + logf(lt) : -INFINITY;
        }
}

/* One extern "C" kernel per (dtype, head size, path), named for the driver lookup:
 * tp_attn_mma_<bf16|f16|f32>_d<kD>_f<0|1|2>. */
#define TP_ATTN_MMA_KERNEL(TNAME, T, KD, MT, BN, WARPS, QREG, FEAT, MINB)                    \
    extern "C" __global__ void __launch_bounds__(WARPS * 32, MINB)                             \
        tp_attn_mma_##TNAME##_d##KD##_f##FEAT(const tp_cu_attn a)                              \
    {                                                                                          \
        extern __shared__ __align__(16) unsigned char tp_smem_raw[];                          \
        tp_attn_mma_body<T, KD, MT, BN, WARPS, QREG, FEAT>(a, (T *)tp_smem_raw);               \
    }
