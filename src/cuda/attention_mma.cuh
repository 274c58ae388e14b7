/* attention_mma.cuh -- the tensor-core flash attention forward kernel (sm_80+:
 * mma.sync m16n8k16 with f32 accumulation, ldmatrix, cp.async), one template for
 * every head size. Instantiated in attention_mma_*.cu.
 *
 * Work: one block per (query tile of kBM rows, head, batch entry); each warp owns 16
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
 * kernels so that the plain one is not charged the registers of the full one. */
#include "attention_common.cuh"

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
 * shared tile of row stride kS. Vector path: cp.async, 8 elements per copy. */
template <typename T, int R, int kD, int kS, int kThreads>
__device__ __forceinline__ void tp_load_tile(T *dst, const T *base, const tp_cu_op &o,
                                             int64_t row0, int64_t nrows, int64_t ncols)
{
    constexpr int kChunks = kD / 8;
    if (o.vec) {
#pragma unroll
        for (int c = threadIdx.x; c < R * kChunks; c += kThreads) {
            const int r = c / kChunks, cc = (c % kChunks) * 8;
            const int64_t gr = row0 + r;
            int n = 0;
            const T *src = base;
            if (gr < nrows && cc < ncols) {
                n = (int)((ncols - cc < 8 ? ncols - cc : 8) * (int64_t)sizeof(T));
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

template <typename T, int kD, int kBM, int kBN, int kWarps, bool kQReg, int kFeat>
__device__ __forceinline__ void tp_attn_mma_body(const tp_cu_attn &a, T *smem)
{
    typedef tp_mma_type<T> M;
    constexpr int kS = kD + 8;        /* padded shared row, elements */
    constexpr int kThreads = kWarps * 32;
    constexpr int kNT = kBN / 8;      /* n-tiles of S per warp */
    constexpr int kKS = kD / 16;      /* k-steps of Q K^T */
    constexpr int kDT = kD / 8;       /* n-tiles of O */
    T *Qs = smem;
    T *Ks = Qs + kBM * kS;            /* [2][kBN][kS] */
    T *Vs = Ks + 2 * kBN * kS;        /* [2][kBN][kS] */

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;

    /* block -> (query tile, head, batch); heaviest (last) query tiles first */
    int64_t idx = blockIdx.x, b, h;
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
    const int64_t qt = a.n_qtiles - 1 - idx;
    const tp_bidx bi = tp_cu_bidx(a, b);
    const int64_t hk = h / a.G;
    const int64_t q0 = qt * kBM;
    const int64_t qlast = (q0 + kBM < a.Sq ? q0 + kBM : a.Sq) - 1;
    const int64_t kl = tp_cu_key_len(a, bi);

    const T *qb = (const T *)a.q.data + tp_cu_off(a.q, bi, h) + q0 * a.q.si;
    const T *kb = (const T *)a.k.data + tp_cu_off(a.k, bi, hk);
    const T *vb = (const T *)a.v.data + tp_cu_off(a.v, bi, hk);

    /* the keys any row of the block can see, and the tiles that need no element mask */
    int64_t lo_first, hi_first, lo_last, hi_last;
    tp_cu_row_range(a, kl, q0, lo_first, hi_first);
    tp_cu_row_range(a, kl, qlast, lo_last, hi_last);
    const int64_t t_begin = lo_first / kBN;
    const int64_t t_end = hi_last > lo_first ? (hi_last + kBN - 1) / kBN : t_begin;

    /* this thread's two rows */
    const int64_t i0 = q0 + warp * 16 + g, i1 = i0 + 8;
    int64_t lo0, hi0, lo1, hi1;
    tp_cu_row_range(a, kl, i0, lo0, hi0);
    tp_cu_row_range(a, kl, i1, lo1, hi1);

    float o[kDT][4];
#pragma unroll
    for (int d = 0; d < kDT; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    uint32_t qf[kQReg ? kKS : 1][4];

    /* per-row extras of the full path */
    float slope = 0.0f;
    const char *brow[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
    int64_t kmo = 0;
    if (kFeat) {
        slope = tp_cu_alibi(a, bi, h);
#pragma unroll
        for (int x = 0; x < 2; x++) {
            if (x >= a.nbias) break;
            const int64_t es = a.bias[x].dtype == TP_CU_F32 ? 4 : 2;
            const int64_t base = tp_cu_off(a.bias[x], bi, h);
            const int64_t r0 = i0 < a.Sq ? i0 : a.Sq - 1, r1 = i1 < a.Sq ? i1 : a.Sq - 1;
            brow[x][0] = (const char *)a.bias[x].data + (base + r0 * a.bias[x].si) * es;
            brow[x][1] = (const char *)a.bias[x].data + (base + r1 * a.bias[x].si) * es;
        }
        if (a.has_kmask) kmo = tp_cu_off(a.kmask, bi, 0);
    }

    if (t_begin < t_end) {
        tp_load_tile<T, kBM, kD, kS, kThreads>(Qs, qb, a.q, 0, a.Sq - q0, a.D);
        tp_load_tile<T, kBN, kD, kS, kThreads>(Ks, kb, a.k, t_begin * kBN, a.Sk, a.D);
        tp_load_tile<T, kBN, kD, kS, kThreads>(Vs, vb, a.v, t_begin * kBN, a.Sk, a.Dv);
        tp_cp_commit();
    }
    const float cap = a.softcap, inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    const int64_t ia0 = i0 + (kl - a.Sq), ia1 = i1 + (kl - a.Sq);

    for (int64_t tile = t_begin; tile < t_end; tile++) {
        const int buf = (int)((tile - t_begin) & 1);
        __syncthreads(); /* every warp is done with the other buffer */
        if (tile + 1 < t_end) {
            T *kd = Ks + (buf ^ 1) * kBN * kS, *vd = Vs + (buf ^ 1) * kBN * kS;
            tp_load_tile<T, kBN, kD, kS, kThreads>(kd, kb, a.k, (tile + 1) * kBN, a.Sk, a.D);
            tp_load_tile<T, kBN, kD, kS, kThreads>(vd, vb, a.v, (tile + 1) * kBN, a.Sk, a.Dv);
        }
        tp_cp_commit();
        tp_cp_wait<1>();
        __syncthreads();
        const T *Kt = Ks + buf * kBN * kS, *Vt = Vs + buf * kBN * kS;
        const int64_t k0 = tile * kBN;

        if (kQReg && tile == t_begin) {
#pragma unroll
            for (int ks = 0; ks < kKS; ks++)
                tp_ldsm_x4(qf[kQReg ? ks : 0],
                           Qs + (warp * 16 + (lane & 15)) * kS + ks * 16 + (lane >> 4) * 8);
        }

        /* biases of this tile, loaded before the product so that their latency hides */
        float bs[kFeat ? kNT : 1][4];
        if (kFeat) {
#pragma unroll
            for (int n = 0; n < kNT; n++) bs[n][0] = bs[n][1] = bs[n][2] = bs[n][3] = 0.0f;
#pragma unroll
            for (int x = 0; x < 2; x++) {
                if (x >= a.nbias) break;
                const tp_cu_op &bo = a.bias[x];
                const bool f32 = bo.dtype == TP_CU_F32;
#pragma unroll
                for (int n = 0; n < kNT; n++) {
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        int64_t j = k0 + n * 8 + 2 * t + e;
                        j = j < a.Sk ? j : a.Sk - 1;
                        const int64_t off = j * bo.sj;
#pragma unroll
                        for (int r = 0; r < 2; r++) {
                            const char *p = brow[x][r];
                            float v = f32 ? ((const float *)p)[off]
                                          : M::to_f32(((const T *)p)[off]);
                            bs[n][2 * r + e] += v;
                        }
                    }
                }
            }
        }

        /* S = Q K^T */
        float s[kNT][4];
#pragma unroll
        for (int n = 0; n < kNT; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int ks = 0; ks < kKS; ks++) {
            if (ks * 16 >= a.D) break;
            uint32_t qa[4];
            if (kQReg) {
                qa[0] = qf[kQReg ? ks : 0][0], qa[1] = qf[kQReg ? ks : 0][1];
                qa[2] = qf[kQReg ? ks : 0][2], qa[3] = qf[kQReg ? ks : 0][3];
            } else {
                tp_ldsm_x4(qa, Qs + (warp * 16 + (lane & 15)) * kS + ks * 16 + (lane >> 4) * 8);
            }
#pragma unroll
            for (int np = 0; np < kNT / 2; np++) {
                uint32_t kf[4];
                tp_ldsm_x4(kf, Kt + (np * 16 + (lane & 7) + (lane >> 4) * 8) * kS + ks * 16 +
                                   ((lane >> 3) & 1) * 8);
                M::mma(s[2 * np], qa, kf[0], kf[1]);
                M::mma(s[2 * np + 1], qa, kf[2], kf[3]);
            }
        }

        /* logits: scale, soft-cap, biases, ALiBi, masks */
        const bool need_mask = (kFeat && a.has_kmask) || k0 < lo_last || k0 + kBN > hi_first;
#pragma unroll
        for (int n = 0; n < kNT; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int r = e >> 1;
                const int64_t j = k0 + n * 8 + 2 * t + (e & 1);
                float x = s[n][e] * a.scale;
                if (kFeat) {
                    if (cap > 0.0f) x = cap * tanhf(x * inv_cap);
                    x += bs[n][e];
                    if (a.has_alibi) x -= slope * fabsf((float)((r ? ia1 : ia0) - j));
                }
                if (need_mask) {
                    bool vis = r ? (j >= lo1 && j < hi1) : (j >= lo0 && j < hi0);
                    if (kFeat && a.has_kmask && vis)
                        vis = ((const unsigned char *)a.kmask.data)[kmo + j * a.kmask.sj] != 0;
                    if (!vis) x = -INFINITY;
                }
                s[n][e] = x;
            }
        }

        /* online softmax: rows g (e = 0, 1) and g + 8 (e = 2, 3); a row's four owners
         * are the lanes of one quad */
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int n = 0; n < kNT; n++) {
            mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));
            mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        const float mu0 = mn0 == -INFINITY ? 0.0f : mn0, mu1 = mn1 == -INFINITY ? 0.0f : mn1;
        const float al0 = exp2f((m0 - mu0) * TP_LOG2E), al1 = exp2f((m1 - mu1) * TP_LOG2E);
        m0 = mn0, m1 = mn1;
        const float ml0 = mu0 * TP_LOG2E, ml1 = mu1 * TP_LOG2E;
        float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
        for (int n = 0; n < kNT; n++) {
            s[n][0] = exp2f(fmaf(s[n][0], TP_LOG2E, -ml0));
            s[n][1] = exp2f(fmaf(s[n][1], TP_LOG2E, -ml0));
            s[n][2] = exp2f(fmaf(s[n][2], TP_LOG2E, -ml1));
            s[n][3] = exp2f(fmaf(s[n][3], TP_LOG2E, -ml1));
            sum0 += s[n][0] + s[n][1];
            sum1 += s[n][2] + s[n][3];
        }
        l0 = l0 * al0 + sum0;
        l1 = l1 * al1 + sum1;
#pragma unroll
        for (int d = 0; d < kDT; d++) {
            o[d][0] *= al0, o[d][1] *= al0;
            o[d][2] *= al1, o[d][3] *= al1;
        }

        /* O += P V */
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++) {
            uint32_t pa[4];
            pa[0] = M::pack(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = M::pack(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = M::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = M::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dp = 0; dp < kD / 16; dp++) {
                if (dp * 16 >= a.Dv) break;
                uint32_t vf[4];
                tp_ldsm_x4_t(vf, Vt + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kS +
                                     dp * 16 + (lane >> 4) * 8);
                M::mma(o[2 * dp], pa, vf[0], vf[1]);
                M::mma(o[2 * dp + 1], pa, vf[2], vf[3]);
            }
        }
    }
    tp_cp_wait<0>();

    /* epilogue: normalise, store out (and lse) */
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    const int64_t oo = tp_cu_off(a.out, bi, h);
    T *ob = (T *)a.out.data + oo;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t i = r ? i1 : i0;
        if (i >= a.Sq) continue;
        const float inv = r ? inv1 : inv0;
        T *orow = ob + i * a.out.si;
        const bool pair = a.out.vec; /* unit column stride, rows 16-byte aligned */
#pragma unroll
        for (int d = 0; d < kDT; d++) {
            const int64_t c = d * 8 + 2 * t;
            const float x0 = o[d][2 * r] * inv, x1 = o[d][2 * r + 1] * inv;
            if (pair && c + 1 < a.Dv) {
                *reinterpret_cast<uint32_t *>(orow + c) = M::pack(x0, x1);
            } else {
                if (c < a.Dv) orow[c * a.out.sj] = M::from_f32(x0);
                if (c + 1 < a.Dv) orow[(c + 1) * a.out.sj] = M::from_f32(x1);
            }
        }
        if (a.has_lse && t == 0) {
            const float l = r ? l1 : l0, m = r ? m1 : m0;
            ((float *)a.lse.data)[tp_cu_off(a.lse, bi, h) + i * a.lse.si] =
                l > 0.0f ? m + logf(l) : -INFINITY;
        }
    }
}

/* One extern "C" kernel per (dtype, head size, path), named for the driver lookup:
 * tp_attn_mma_<bf16|f16>_d<kD>_f<0|1>. */
#define TP_ATTN_MMA_KERNEL(TNAME, T, KD, BM, BN, WARPS, QREG, FEAT, MINB)                    \
    extern "C" __global__ void __launch_bounds__(WARPS * 32, MINB)                             \
        tp_attn_mma_##TNAME##_d##KD##_f##FEAT(const tp_cu_attn a)                              \
    {                                                                                          \
        extern __shared__ __align__(16) unsigned char tp_smem_raw[];                          \
        tp_attn_mma_body<T, KD, BM, BN, WARPS, QREG, FEAT>(a, (T *)tp_smem_raw);               \
    }
