/* attention_wgmma.cu -- the Hopper (sm_90a) flash attention forward kernel: warpgroup
 * matrix products (wgmma) with both operands of Q K^T and the V operand of P V read by
 * the tensor cores straight from shared memory, so no ldmatrix is issued per product.
 * Plain path only (causal / window / key lengths / lse); biases, ALiBi, soft-cap and the
 * key mask run on the mma.sync kernel (attention_mma.cuh). Compiled for sm_90a only.
 *
 * Work: one block of two warpgroups (256 threads) per (query tile of 128 rows, head,
 * batch entry); warpgroup w owns rows 64w .. 64w + 63. Per key tile of kBN keys:
 *   S = Q K^T    wgmma m64 n kBN k16, Q and K K-major in shared memory;
 *   logits, masks and the online softmax on the S accumulators (log2 units, ex2);
 *   O += P V     wgmma m64 n kD k16, P from registers (the accumulator layout of S is
 *                the register-A layout, as for mma.sync), V MN-major (transposed).
 * K and V tiles are double-buffered with cp.async: tile t+1 loads while t is computed.
 *
 * Shared memory layout: every operand tile is stored as column blocks of 64 elements
 * (128 bytes, one swizzle span): block c holds columns 64c .. 64c + 63 of all the tile's
 * rows, row r at byte 128 r, its 16-byte chunk w at position w ^ (r mod 8) (the 128-byte
 * swizzle the descriptors name; each block starts on 1024 bytes). Descriptors:
 *   K-major (Q, K): start = block + 32 ks' bytes for k-step ks' inside the span, stride
 *     byte offset 1024 (8 rows); the leading offset is unused.
 *   MN-major (V):   start = block 0 + 2048 kk for 16 keys kk, stride byte offset 1024
 *     (8 keys), leading byte offset = one column block (kBN x 128 bytes).
 * Columns past D (Dv) and rows past Sq (Sk) are zero-filled by cp.async.
 *
 * Configurations (attention_cuda.c picks; reasons): kD = 64 and 128 with kBN = 128 (S is
 * 64 registers a thread, O 32 / 64), kD = 256 with kBN = 64 (O alone is 128 registers).
 * Shared memory: 128 kD 2 (Q) + 4 kBN kD 2 (K, V double-buffered) + 1 KiB alignment:
 * 81, 161, 193 KiB: one block (8 warps) per SM. */
#include "attention_mma.cuh"
#include "wgmma_ops.cuh"

__device__ __forceinline__ void tp_wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void tp_wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void tp_wg_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
/* Pins accumulator registers: the compiler may not move their reads or writes across. */
template <int N> __device__ __forceinline__ void tp_wg_fence_regs(float (&r)[N])
{
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N> __device__ __forceinline__ void tp_wg_fence_regs(uint32_t (&r)[N][4])
{
#pragma unroll
    for (int i = 0; i < N; i++)
#pragma unroll
        for (int z = 0; z < 4; z++) asm volatile("" : "+r"(r[i][z])::"memory");
}
/* Shared-memory writes of the generic proxy (cp.async) made visible to wgmma. */
__device__ __forceinline__ void tp_fence_proxy_async()
{
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

/* Shared-memory matrix descriptor, 128-byte swizzle. */
__device__ __forceinline__ uint64_t tp_wg_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32) | (1ull << 62);
}

/* rows [row0, row0 + R) x columns [0, kD) of a unit-column-stride operand (row stride si
 * elements, 16-byte aligned rows) -> the swizzled column-block layout at dst. */
template <typename T, int R, int kD, int kThreads>
__device__ __forceinline__ void tp_load_sw128(unsigned char *dst, const T *base, int64_t si, int64_t row0,
                                              int64_t nrows, int64_t ncols)
{
    constexpr int kChunks = kD / 8; /* 16-byte chunks per row */
#pragma unroll 4
    for (int c = threadIdx.x; c < R * kChunks; c += kThreads) {
        const int r = c / kChunks, cc = c % kChunks;
        const int64_t gr = row0 + r;
        int n = 0;
        const T *src = base;
        if (gr < nrows && cc * 8 < ncols) {
            n = (int)((ncols - cc * 8 < 8 ? ncols - cc * 8 : 8) * (int64_t)sizeof(T));
            src = base + gr * si + cc * 8;
        }
        tp_cp_async16(dst + (cc >> 3) * (R * 128) + r * 128 + (((cc & 7) ^ (r & 7)) << 4), src, n);
    }
}

template <typename T, int kN> struct tp_wg_ss;
template <typename T> struct tp_wg_ss<T, 64> {
    static __device__ __forceinline__ void run(float (&d)[32], uint64_t da, uint64_t db, int acc)
    {
        tp_wgmma_ss_n64((T *)0, d, da, db, acc);
    }
};
template <typename T> struct tp_wg_ss<T, 128> {
    static __device__ __forceinline__ void run(float (&d)[64], uint64_t da, uint64_t db, int acc)
    {
        tp_wgmma_ss_n128((T *)0, d, da, db, acc);
    }
};
template <typename T, int kN> struct tp_wg_rs;
template <typename T> struct tp_wg_rs<T, 64> {
    static __device__ __forceinline__ void run(float (&d)[32], const uint32_t (&a)[4], uint64_t db)
    {
        tp_wgmma_rs_n64((T *)0, d, a, db, 1);
    }
};
template <typename T> struct tp_wg_rs<T, 128> {
    static __device__ __forceinline__ void run(float (&d)[64], const uint32_t (&a)[4], uint64_t db)
    {
        tp_wgmma_rs_n128((T *)0, d, a, db, 1);
    }
};
template <typename T> struct tp_wg_rs<T, 256> {
    static __device__ __forceinline__ void run(float (&d)[128], const uint32_t (&a)[4], uint64_t db)
    {
        tp_wgmma_rs_n256((T *)0, d, a, db, 1);
    }
};

template <typename T, int kD, int kBN>
__device__ __forceinline__ void tp_attn_wgmma_body(const tp_cu_attn &a, unsigned char *smem)
{
    typedef tp_mma_type<T> M;
    constexpr int kBM = 128, kThreads = 256;
    constexpr int kNT = kBN / 8; /* 8-column chunks of S per row pair */
    constexpr int kDT = kD / 8;  /* 8-column chunks of O */
    constexpr int kQBytes = kBM * kD * 2, kTileBytes = kBN * kD * 2;
    unsigned char *Qs = smem;
    unsigned char *Ks = Qs + kQBytes;     /* [2][kTileBytes] */
    unsigned char *Vs = Ks + 2 * kTileBytes; /* [2][kTileBytes] */

    const int wg = threadIdx.x >> 7, wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;

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

    int64_t lo_first, hi_first, lo_last, hi_last;
    tp_cu_row_range(a, kl, q0, lo_first, hi_first);
    tp_cu_row_range(a, kl, qlast, lo_last, hi_last);
    const int64_t t_begin = lo_first / kBN;
    const int64_t t_end = hi_last > lo_first ? (hi_last + kBN - 1) / kBN : t_begin;

    /* this thread's rows: half r -> q0 + 64 wg + 16 wl + 8 r + g */
    const int64_t row0 = q0 + wg * 64 + wl * 16 + g;
    int64_t lo[2], hi[2];
#pragma unroll
    for (int r = 0; r < 2; r++) tp_cu_row_range(a, kl, row0 + r * 8, lo[r], hi[r]);

    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    if (t_begin < t_end) {
        tp_load_sw128<T, kBM, kD, kThreads>(Qs, qb, a.q.si, 0, a.Sq - q0, a.D);
        tp_load_sw128<T, kBN, kD, kThreads>(Ks, kb, a.k.si, t_begin * kBN, a.Sk, a.D);
        tp_load_sw128<T, kBN, kD, kThreads>(Vs, vb, a.v.si, t_begin * kBN, a.Sk, a.Dv);
        tp_cp_commit();
    }
    const float scale2 = a.scale * TP_LOG2E;
    const uint32_t q_base = tp_smem_addr(Qs) + wg * 64 * 128;
    const uint32_t k_base = tp_smem_addr(Ks), v_base = tp_smem_addr(Vs);

    for (int64_t tile = t_begin; tile < t_end; tile++) {
        const int buf = (int)((tile - t_begin) & 1);
        tp_cp_wait<0>();
        tp_fence_proxy_async();
        __syncthreads(); /* tile's K, V (and Q) landed; every warp is done with buf ^ 1 */
        if (tile + 1 < t_end) {
            tp_load_sw128<T, kBN, kD, kThreads>(Ks + (buf ^ 1) * kTileBytes, kb, a.k.si, (tile + 1) * kBN,
                                                a.Sk, a.D);
            tp_load_sw128<T, kBN, kD, kThreads>(Vs + (buf ^ 1) * kTileBytes, vb, a.v.si, (tile + 1) * kBN,
                                                a.Sk, a.Dv);
        }
        tp_cp_commit();
        const int64_t k0 = tile * kBN;
        const uint32_t kt = k_base + buf * kTileBytes, vt = v_base + buf * kTileBytes;

        /* S = Q K^T */
        float s[kBN / 2];
        tp_wg_fence_regs(s);
        tp_wg_fence();
#pragma unroll
        for (int ks = 0; ks < kD / 16; ks++) { /* (columns past D hold zeros) */
            const uint32_t off = (ks & 3) * 32; /* k-step inside the 128-byte span */
            const uint64_t da = tp_wg_desc(q_base + (ks >> 2) * (kBM * 128) + off, 16, 1024);
            const uint64_t db = tp_wg_desc(kt + (ks >> 2) * (kBN * 128) + off, 16, 1024);
            tp_wg_ss<T, kBN>::run(s, da, db, ks > 0);
        }
        tp_wg_commit();
        tp_wg_wait0();
        tp_wg_fence_regs(s);

        /* logits in log2 units and the masks (tile-relative coordinates jr = key - k0) */
        const bool need_mask = k0 < lo_last || k0 + kBN > hi_first;
        if (need_mask) {
            int lor[2], hir[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const int64_t l0 = lo[r] - k0, h0 = hi[r] - k0;
                lor[r] = (int)(l0 < -1 ? -1 : (l0 > kBN ? kBN : l0));
                hir[r] = (int)(h0 < -1 ? -1 : (h0 > kBN ? kBN : h0));
            }
#pragma unroll
            for (int n = 0; n < kNT; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int r = e >> 1, jr = n * 8 + 2 * t + (e & 1);
                    const bool vis = jr >= lor[r] && jr < hir[r];
                    s[4 * n + e] = vis ? s[4 * n + e] * scale2 : -INFINITY;
                }
        } else {
#pragma unroll
            for (int i = 0; i < kBN / 2; i++) s[i] *= scale2;
        }

        /* online softmax; a row's four owners are the lanes of one quad */
        float al[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = -INFINITY;
#pragma unroll
            for (int n = 0; n < kNT; n++) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * r], s[4 * n + 2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mn = fmaxf(m[r], mx);
            const float mu = mn == -INFINITY ? 0.0f : mn;
            al[r] = tp_ex2(m[r] - mu);
            m[r] = mn;
            float sum = 0.0f;
#pragma unroll
            for (int n = 0; n < kNT; n++) {
                s[4 * n + 2 * r] = tp_ex2(s[4 * n + 2 * r] - mu);
                s[4 * n + 2 * r + 1] = tp_ex2(s[4 * n + 2 * r + 1] - mu);
                sum += s[4 * n + 2 * r] + s[4 * n + 2 * r + 1];
            }
            l[r] = l[r] * al[r] + sum;
        }
#pragma unroll
        for (int d = 0; d < kDT; d++) {
            o[4 * d] *= al[0], o[4 * d + 1] *= al[0];
            o[4 * d + 2] *= al[1], o[4 * d + 3] *= al[1];
        }

        /* O += P V */
        uint32_t pa[kBN / 16][4];
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++) {
            pa[kk][0] = M::pack(s[8 * kk + 0], s[8 * kk + 1]);
            pa[kk][1] = M::pack(s[8 * kk + 2], s[8 * kk + 3]);
            pa[kk][2] = M::pack(s[8 * kk + 4], s[8 * kk + 5]);
            pa[kk][3] = M::pack(s[8 * kk + 6], s[8 * kk + 7]);
        }
        tp_wg_fence_regs(pa);
        tp_wg_fence_regs(o);
        tp_wg_fence();
#pragma unroll
        for (int kk = 0; kk < kBN / 16; kk++)
            tp_wg_rs<T, kD>::run(o, pa[kk], tp_wg_desc(vt + kk * 2048, kBN * 128, 1024));
        tp_wg_commit();
        tp_wg_wait0();
        tp_wg_fence_regs(o);
    }
    tp_cp_wait<0>();

    /* epilogue: normalise, store out (and lse) */
    T *ob = (T *)a.out.data + tp_cu_off(a.out, bi, h);
    const bool pair = a.out.vec;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float lt = l[r];
        lt += __shfl_xor_sync(0xffffffffu, lt, 1);
        lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        const int64_t i = row0 + r * 8;
        if (i >= a.Sq) continue;
        const float inv = lt > 0.0f ? 1.0f / lt : 0.0f;
        T *orow = ob + i * a.out.si;
#pragma unroll
        for (int d = 0; d < kDT; d++) {
            const int64_t c = d * 8 + 2 * t;
            const float x0 = o[4 * d + 2 * r] * inv, x1 = o[4 * d + 2 * r + 1] * inv;
            if (pair && c + 1 < a.Dv) {
                *reinterpret_cast<uint32_t *>(orow + c) = M::pack(x0, x1);
            } else {
                if (c < a.Dv) orow[c * a.out.sj] = M::from_f32(x0);
                if (c + 1 < a.Dv) orow[(c + 1) * a.out.sj] = M::from_f32(x1);
            }
        }
        if (a.has_lse && t == 0)
            ((float *)a.lse.data)[tp_cu_off(a.lse, bi, h) + i * a.lse.si] =
                lt > 0.0f ? m[r] * TP_LN2 + logf(lt) : -INFINITY;
    }
}

/* tp_attn_wgmma_<bf16|f16>_d<kD>: the dynamic shared memory is aligned up to 1024 bytes
 * here (the launch asks for 1 KiB more than the layout needs). */
#define TP_ATTN_WGMMA_KERNEL(TNAME, T, KD, BN)                                                  \
    extern "C" __global__ void __launch_bounds__(256, 1) tp_attn_wgmma_##TNAME##_d##KD(const tp_cu_attn a) \
    {                                                                                          \
        extern __shared__ __align__(1024) unsigned char tp_smem_raw[];                        \
        const uint32_t s0 = tp_smem_addr(tp_smem_raw);                                         \
        tp_attn_wgmma_body<T, KD, BN>(a, tp_smem_raw + ((1024 - (s0 & 1023)) & 1023));         \
    }

TP_ATTN_WGMMA_KERNEL(bf16, __nv_bfloat16, 64, 128)
TP_ATTN_WGMMA_KERNEL(f16, __half, 64, 128)
TP_ATTN_WGMMA_KERNEL(bf16, __nv_bfloat16, 128, 128)
TP_ATTN_WGMMA_KERNEL(f16, __half, 128, 128)
TP_ATTN_WGMMA_KERNEL(bf16, __nv_bfloat16, 256, 64)
TP_ATTN_WGMMA_KERNEL(f16, __half, 256, 64)
