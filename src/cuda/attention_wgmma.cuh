/* attention_wgmma.cuh -- the Hopper (sm_90a) flash attention forward kernel: warpgroup
 * matrix products (wgmma) with both operands of Q K^T and the V operand of P V read by
 * the tensor cores straight from shared memory, so no ldmatrix is issued per product.
 * Plain path (causal / window / key lengths / lse) for kD = 32, 64, 128, 256, and at
 * kD = 32 (the evoformer shapes) one or two additive biases (f32, or 16-bit of the
 * input dtype) staged through shared memory; ALiBi, soft-cap, the key mask and other
 * biases run on the mma.sync kernel (attention_mma.cuh). Instantiated in
 * attention_wgmma.cu (kD >= 64) and attention_wgmma_d32.cu, compiled for sm_90a only.
 *
 * Work: one block of kWG warpgroups (two; three for the kernels with 16-bit biases) per
 * (query tile of 64 kWG rows, head, batch entry); warpgroup w owns rows 64w .. 64w + 63.
 * Per key tile of kBN keys:
 *   S = Q K^T    wgmma m64 n kBN k16, Q and K K-major in shared memory;
 *   logits, biases, masks and the online softmax on the S accumulators (log2 units, ex2);
 *   O += P V     wgmma m64 n kD k16, P from registers (the accumulator layout of S is
 *                the register-A layout, as for mma.sync), V MN-major (transposed).
 * kD = 32, 64, 128: K and V in three cp.async stages tracked by mbarriers, the
 * warpgroups taking turns round-robin (tp_attn_wgmma3_body); kD = 256: two stages,
 * warpgroups in step (tp_attn_wgmma_body).
 *
 * Shared memory layout (tp_sw): every operand tile is stored as column blocks of kSpan
 * bytes (128 bytes = 64 elements; 64 bytes at kD = 32): block c holds columns
 * c kSpan/2 .. of all the tile's rows, row r at byte kSpan r, its 16-byte chunk w at
 * position w ^ phase(r) (the 128- or 64-byte swizzle the descriptors name; each block
 * starts on 1024 bytes). Descriptors (8 rows = one swizzle atom = 8 kSpan bytes):
 *   K-major (Q, K): start = block + 32 ks' bytes for k-step ks' inside the span, stride
 *     byte offset 8 kSpan; the leading offset is unused.
 *   MN-major (V):   start = block 0 + 16 kSpan kk for 16 keys kk, stride byte offset
 *     8 kSpan (8 keys), leading byte offset = one column block (kBN kSpan bytes).
 * Columns past D (Dv) and rows past Sq (Sk) are zero-filled by cp.async.
 *
 * Configurations (attention_cuda.c picks; reasons): kBN = 128 keys a tile at kD <= 128
 * (S is 64 registers a thread, O 16 / 32 / 64), kBN = 64 at kD = 256 (O alone is 128
 * registers). Shared memory: 128 kD 2 (Q) + 6 kBN kD 2 (K, V in 3 stages) + 64 B of
 * mbarriers at kD <= 128, 128 kD 2 + 4 kBN kD 2 at kD = 256, + 1 KiB alignment: 57, 113,
 * 225, 193 KiB at kD = 32, 64, 128, 256; the biased kD = 32 kernels add kWG warpgroups x
 * 2 buffers x (64 or 65 rows) x 136 elements, and with a mask bias 2 f32 rows of kBN a
 * warpgroup: in all 193 / 197 KiB with f32 biases (2 warpgroups), 163 / 168 KiB with
 * 16-bit ones (3 warpgroups, 192 query rows), 199 KiB with the mask bias in the
 * products (kMaskK: 64-row buffers, no f32 rows, second column blocks of Q and of each
 * K stage, (64 kWG + 3 kBN) x 64 B); one block a SM. */
#ifndef TPRIM_CUDA_ATTENTION_WGMMA_CUH
#define TPRIM_CUDA_ATTENTION_WGMMA_CUH

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

/* Descriptor d advanced by `bytes` (a multiple of 16): the start address is the low 14
 * bits of the low word and shared memory is < 256 KiB, so a 32-bit add never carries
 * into the other fields. */
__device__ __forceinline__ uint64_t tp_desc_add(uint64_t d, uint32_t bytes)
{
    uint64_t r;
    asm("mov.b64 %0, {%1, %2};" : "=l"(r) : "r"((uint32_t)d + (bytes >> 4)), "r"((uint32_t)(d >> 32)));
    return r;
}

/* The swizzled layout of a tile whose rows hold kD elements: column blocks of kSpan
 * bytes (128: 64 elements, the 128-byte swizzle; kD = 32: 64 bytes, the 64-byte
 * swizzle), 16-byte chunk w of row r at position w ^ phase(r), 8 rows a swizzle atom. */
template <int kD> struct tp_sw {
    static constexpr int kSpan = kD >= 64 ? 128 : 64;
    static constexpr uint64_t kMode = kSpan == 128 ? 1 : 2; /* descriptor layout type */
    static __device__ __forceinline__ int phase(int r) { return kSpan == 128 ? (r & 7) : ((r >> 1) & 3); }
};

/* Shared-memory matrix descriptor: start, leading and stride byte offsets, swizzle mode. */
__device__ __forceinline__ uint64_t tp_wg_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo, uint64_t mode)
{
    return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32) | (mode << 62);
}

/* rows [row0, row0 + R) x columns [0, kD) of a unit-column-stride operand (row stride si
 * elements, 16-byte aligned rows) -> the swizzled column-block layout at dst, copied by
 * kThreads threads, tid = 0 .. kThreads - 1 (threadIdx.x unless a warpgroup copies
 * alone; unsigned, as threadIdx.x is: a signed index changed the kernels' machine code).
 * Thread x copies chunk x mod (kD / 8) of rows x / (kD / 8) + i kRows: its swizzle phase
 * is the same for every i, so a tile wholly in bounds costs one cp.async and two
 * additions a chunk (the loads are issued by the same threads that run the softmax). */
template <typename T, int R, int kD, int kThreads>
__device__ __forceinline__ void tp_load_sw(unsigned char *dst, const T *base, int64_t si, int64_t row0,
                                           int64_t nrows, int64_t ncols, unsigned tid = threadIdx.x)
{
    constexpr int kSpan = tp_sw<kD>::kSpan, kCS = kSpan / 16; /* chunks per block row */
    constexpr int kChunks = kD / 8;             /* 16-byte chunks per row */
    constexpr int kRows = kThreads / kChunks;   /* rows per pass */
    constexpr int kPass = (R + kRows - 1) / kRows; /* the last one partial when kRows does not divide R */
    static_assert(kThreads % kChunks == 0 && kRows % 8 == 0, "load pattern");
    const int cc = tid % kChunks, r0 = tid / kChunks;
    unsigned char *d = dst + (cc / kCS) * (R * kSpan) + r0 * kSpan + (((cc % kCS) ^ tp_sw<kD>::phase(r0)) << 4);
    if (row0 + R <= nrows && ncols >= kD) {
        const T *src = base + (row0 + r0) * si + cc * 8;
        const int64_t step = kRows * si;
#pragma unroll
        for (int i = 0; i < kPass; i++)
            if (R % kRows == 0 || i + 1 < kPass || r0 + i * kRows < R)
                tp_cp_async16(d + i * (kRows * kSpan), src + i * step, 16);
        return;
    }
#pragma unroll
    for (int i = 0; i < kPass; i++) {
        if (R % kRows != 0 && i + 1 == kPass && r0 + i * kRows >= R) break;
        const int64_t gr = row0 + r0 + i * kRows;
        int n = 0;
        const T *src = base;
        if (gr < nrows && cc * 8 < ncols) {
            n = (int)((ncols - cc * 8 < 8 ? ncols - cc * 8 : 8) * (int64_t)sizeof(T));
            src = base + gr * si + cc * 8;
        }
        tp_cp_async16(d + i * (kRows * kSpan), src, n);
    }
}

/* Rows [0, R) x keys [k0, k0 + kBN) of a bias of unit key stride, element type TB (f32,
 * bf16 or f16; row stride si, 16-byte aligned rows; rows >= nrows and keys >= nk
 * zero-filled) -> shared rows of kBN + 8 elements, copied by the 128 threads of one
 * warpgroup (tid 0..127). Read back in the accumulator layout, one key pair a load
 * (float2, or 32 bits of two 16-bit values): the padding puts a warp's 8 rows x 4 pairs
 * on distinct banks. */
template <typename TB, int kBN, int R>
__device__ __forceinline__ void tp_wg_load_bias(TB *dst, const TB *base, int64_t si, int64_t nrows,
                                                int64_t k0, int64_t nk, int tid)
{
    constexpr int kE = 16 / (int)sizeof(TB); /* elements a chunk */
    constexpr int kChunks = kBN / kE, kRows = 128 / kChunks, kPass = (R + kRows - 1) / kRows;
    static_assert(R < kRows || R % kRows == 0, "bias load pattern");
    const int cc = (tid % kChunks) * kE, r0 = tid / kChunks;
    if (r0 >= R) return;
    TB *d = dst + r0 * (kBN + 8) + cc;
    if (k0 + kBN <= nk && R <= nrows) {
        const TB *src = base + r0 * si + k0 + cc;
#pragma unroll
        for (int i = 0; i < kPass; i++) tp_cp_async16(d + i * kRows * (kBN + 8), src + i * kRows * si, 16);
        return;
    }
#pragma unroll
    for (int i = 0; i < kPass; i++) {
        const int64_t r = r0 + i * kRows, j = k0 + cc;
        int n = 0;
        const TB *src = base;
        if (r < nrows && j < nk) {
            n = (int)((nk - j < kE ? nk - j : kE) * (int64_t)sizeof(TB));
            src = base + r * si + j;
        }
        tp_cp_async16(d + i * kRows * (kBN + 8), src, n);
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
template <typename T> struct tp_wg_rs<T, 8> {
    static __device__ __forceinline__ void run(float (&d)[4], const uint32_t (&a)[4], uint64_t db)
    {
        tp_wgmma_rs_n8((T *)0, d, a, db, 1);
    }
};
template <typename T> struct tp_wg_rs<T, 32> {
    static __device__ __forceinline__ void run(float (&d)[16], const uint32_t (&a)[4], uint64_t db)
    {
        tp_wgmma_rs_n32((T *)0, d, a, db, 1);
    }
};
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

/* The block's work (tp_cu_block): batch entry, head, its first query row, the key tiles
 * it visits and the mask-free ones (tp_cu_block_keys), the element offsets of its q, k
 * and v, and this thread's two rows with their key ranges. */
struct tp_wg_work {
    int64_t b, h, q0, row0, kl, qoff, koff, voff;
    tp_cu_keys k;
    int64_t lo[2], hi[2];
    tp_bidx bi;
};

template <int kBN, int kBM>
__device__ __forceinline__ tp_wg_work tp_wg_schedule(const tp_cu_attn &a, int wg, int wl, int g, int64_t item)
{
    tp_wg_work w;
    int64_t qt;
    tp_cu_block_at32(a, (uint32_t)item, w.b, w.h, qt, w.bi);
    w.q0 = qt * kBM;
    const int64_t qlast = (w.q0 + kBM < a.Sq ? w.q0 + kBM : a.Sq) - 1;
    w.kl = tp_cu_key_len(a, w.bi);
    w.k = tp_cu_block_keys(a, w.kl, w.q0, qlast, kBN);
    const int64_t hk = (uint32_t)w.h / (uint32_t)a.G;
    w.qoff = tp_cu_off(a.q, w.bi, w.h) + w.q0 * a.q.si;
    w.koff = tp_cu_off(a.k, w.bi, hk);
    w.voff = tp_cu_off(a.v, w.bi, hk);
    w.row0 = w.q0 + wg * 64 + wl * 16 + g; /* this thread's rows: row0 and row0 + 8 */
#pragma unroll
    for (int r = 0; r < 2; r++) tp_cu_row_range(a, w.kl, w.row0 + r * 8, w.lo[r], w.hi[r]);
    return w;
}

/* Two adjacent staged bias elements as f32. */
__device__ __forceinline__ float2 tp_wg_bias2(const float *p) { return *reinterpret_cast<const float2 *>(p); }
__device__ __forceinline__ float2 tp_wg_bias2(const __nv_bfloat16 *p)
{
    const uint32_t u = *reinterpret_cast<const uint32_t *>(p);
    return make_float2(__uint_as_float(u << 16), __uint_as_float(u & 0xffff0000u));
}
__device__ __forceinline__ float2 tp_wg_bias2(const __half *p)
{
    return __half22float2(*reinterpret_cast<const __half2 *>(p));
}

/* v[0] = the maximum (kMax) or the sum of v[0 .. N), as a tree of depth log2 N (N a
 * power of two; the compiler keeps the order written: no chain of N - 1). The loops
 * have constant trip counts so that they unroll fully (a `h /= 2` bound left v in
 * local memory). */
template <int N, bool kMax> __device__ __forceinline__ float tp_tree(float (&v)[N])
{
#pragma unroll
    for (int h = N / 2, lv = 0; lv < 8; lv++, h /= 2) {
        if (h < 1) break;
#pragma unroll
        for (int n = 0; n < N / 2; n++)
            if (n < h) v[n] = kMax ? fmaxf(v[n], v[n + h]) : v[n] + v[n + h];
    }
    return v[0];
}

/* Logits of one S tile (keys k0 ..) in log2 units with the biases and masks, the online
 * softmax update of (m, l), probabilities left in s, the rescale factor of O in al.
 * kBias = 1: s scale + b0; kBias = 2: s scale + b0 + b1 with b1 one row for every query
 * (the mask bias). b0 points at this thread's staged bias row (row 0), column 2t; its
 * second row is 8 rows further; b1 at column 2t of bias 1's row, already f32 and in
 * log2 units. kBias = 3: s + b0 / scale, the caller passing 1 / scale as scale (the mask
 * bias already in s). kBias = 4: the biases and the scale are already in s (natural-log
 * units; the caller passes log2(e) as scale2): trees, nothing added. kBias = 5: as 4,
 * but l is left alone (the caller sums P on the tensor cores). */
template <int kBN, int kBias, typename TB>
__device__ __forceinline__ void tp_wg_softmax(float (&s)[kBN / 2], float (&m)[2], float (&l)[2],
                                              float (&al)[2], const tp_wg_work &w, int64_t k0,
                                              float scale, float scale2, int t, const TB *b0,
                                              const float *b1)
{
    constexpr int kNT = kBN / 8, kRS = kBN + 8;
    /* logits = s * sc: tiles without masks or biases keep raw products and fold the scale
     * into the exponent's fma (when scale > 0, so that the max commutes with it) */
    float sc = scale2;
    if (kBias == 3) {
        /* raw units: s + b0 / scale (the caller passes 1 / scale as scale); the exponent's
         * fma applies scale log2(e) */
#pragma unroll
        for (int n = 0; n < kNT; n++)
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const float2 p = tp_wg_bias2(b0 + r * 8 * kRS + n * 8);
                s[4 * n + 2 * r] = fmaf(p.x, scale, s[4 * n + 2 * r]);
                s[4 * n + 2 * r + 1] = fmaf(p.y, scale, s[4 * n + 2 * r + 1]);
            }
    } else if (kBias == 1 || kBias == 2) {
        /* log2 units: (s scale + b0 + b1) log2(e); b1 is shared by the thread's two rows */
#pragma unroll
        for (int n = 0; n < kNT; n++) {
            float2 q = make_float2(0.0f, 0.0f);
            if (kBias == 2) q = *reinterpret_cast<const float2 *>(b1 + n * 8);
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const float2 p = tp_wg_bias2(b0 + r * 8 * kRS + n * 8);
                float &x0 = s[4 * n + 2 * r], &x1 = s[4 * n + 2 * r + 1];
                if (kBias == 2) {
                    x0 = fmaf(fmaf(x0, scale, p.x), TP_LOG2E, q.x);
                    x1 = fmaf(fmaf(x1, scale, p.y), TP_LOG2E, q.y);
                } else {
                    x0 = fmaf(x0, scale, p.x) * TP_LOG2E;
                    x1 = fmaf(x1, scale, p.y) * TP_LOG2E;
                }
            }
        }
        sc = 1.0f;
    }
    if (k0 < w.k.lo_last || k0 + kBN > w.k.hi_first) {
        int lor[2], hir[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int64_t l0 = w.lo[r] - k0, h0 = w.hi[r] - k0;
            lor[r] = (int)(l0 < -1 ? -1 : (l0 > kBN ? kBN : l0));
            hir[r] = (int)(h0 < -1 ? -1 : (h0 > kBN ? kBN : h0));
        }
#pragma unroll
        for (int n = 0; n < kNT; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int r = e >> 1, jr = n * 8 + 2 * t + (e & 1);
                const bool vis = jr >= lor[r] && jr < hir[r];
                s[4 * n + e] = vis ? s[4 * n + e] * sc : -INFINITY;
            }
        sc = 1.0f;
    } else if (!kBias && !(scale2 > 0.0f)) {
#pragma unroll
        for (int i = 0; i < kBN / 2; i++) s[i] *= scale2;
        sc = 1.0f;
    }
    /* a row's four owners are the lanes of one quad */
    if constexpr (kBias != 0) {
        /* the evoformer kernels: the row maxima and sums as trees (depth log2 kBN / 2, not
         * a chain of kBN / 4), both rows together (1.82 vs 1.84 ms on the triangle shape;
         * the kernels without biases keep the chains, which measured no worse) */
        float mx[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float v[kNT];
#pragma unroll
            for (int n = 0; n < kNT; n++) v[n] = fmaxf(s[4 * n + 2 * r], s[4 * n + 2 * r + 1]);
            mx[r] = tp_tree<kNT, true>(v);
        }
#pragma unroll
        for (int r = 0; r < 2; r++) mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
#pragma unroll
        for (int r = 0; r < 2; r++) mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        float mu[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const float mn = fmaxf(m[r], mx[r] * sc); /* (mx is never -inf when sc != 1) */
            mu[r] = mn == -INFINITY ? 0.0f : mn;
            al[r] = tp_ex2(m[r] - mu[r]);
            m[r] = mn;
        }
#pragma unroll
        for (int n = 0; n < kNT; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[4 * n + e] = tp_ex2(fmaf(s[4 * n + e], sc, -mu[e >> 1]));
        if constexpr (kBias != 5) {
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float v[kNT];
#pragma unroll
                for (int n = 0; n < kNT; n++) v[n] = s[4 * n + 2 * r] + s[4 * n + 2 * r + 1];
                l[r] = l[r] * al[r] + tp_tree<kNT, false>(v);
            }
        }
    } else {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = -INFINITY;
#pragma unroll
            for (int n = 0; n < kNT; n++) mx = fmaxf(mx, fmaxf(s[4 * n + 2 * r], s[4 * n + 2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mn = fmaxf(m[r], mx * sc); /* (mx is never -inf when sc != 1) */
            const float mu = mn == -INFINITY ? 0.0f : mn;
            al[r] = tp_ex2(m[r] - mu);
            m[r] = mn;
            float sum = 0.0f;
#pragma unroll
            for (int n = 0; n < kNT; n++) {
                s[4 * n + 2 * r] = tp_ex2(fmaf(s[4 * n + 2 * r], sc, -mu));
                s[4 * n + 2 * r + 1] = tp_ex2(fmaf(s[4 * n + 2 * r + 1], sc, -mu));
                sum += s[4 * n + 2 * r] + s[4 * n + 2 * r + 1];
            }
            l[r] = l[r] * al[r] + sum;
        }
    }
}

/* O *= al per row, then P (bf16/f16) as the register-A fragments of P V. */
template <typename T, int kD, int kBN>
__device__ __forceinline__ void tp_wg_rescale_pack(float (&o)[kD / 2], const float (&al)[2],
                                                   const float (&s)[kBN / 2], uint32_t (&pa)[kBN / 16][4])
{
    typedef tp_mma_type<T> M;
#pragma unroll
    for (int d = 0; d < kD / 8; d++) {
        o[4 * d] *= al[0], o[4 * d + 1] *= al[0];
        o[4 * d + 2] *= al[1], o[4 * d + 3] *= al[1];
    }
#pragma unroll
    for (int kk = 0; kk < kBN / 16; kk++) {
        pa[kk][0] = M::pack(s[8 * kk + 0], s[8 * kk + 1]);
        pa[kk][1] = M::pack(s[8 * kk + 2], s[8 * kk + 3]);
        pa[kk][2] = M::pack(s[8 * kk + 4], s[8 * kk + 5]);
        pa[kk][3] = M::pack(s[8 * kk + 6], s[8 * kk + 7]);
    }
}

/* Normalise and store this thread's two rows, row0 and row0 + 8, of out (ob: the
 * (batch, head) slice of out; lse at element loff() of a.lse when a.has_lse). l: the
 * thread's part of the row sums, summed over the quad here (kQuadL), or the whole sums. */
template <typename T, int kD, bool kQuadL = true, typename LseOff>
__device__ __forceinline__ void tp_wg_store_rows(const tp_cu_attn &a, T *ob, LseOff loff, int64_t row0,
                                                 const float (&o)[kD / 2], const float (&m)[2], const float (&l)[2],
                                                 int t)
{
    typedef tp_mma_type<T> M;
    const bool pair = a.out.vec;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float lt = l[r];
        if (kQuadL) {
            lt += __shfl_xor_sync(0xffffffffu, lt, 1);
            lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        }
        const int64_t i = row0 + r * 8;
        if (i >= a.Sq) continue;
        const float inv = lt > 0.0f ? 1.0f / lt : 0.0f;
        T *orow = ob + i * a.out.si;
#pragma unroll
        for (int d = 0; d < kD / 8; d++) {
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
            ((float *)a.lse.data)[loff() + i * a.lse.si] = lt > 0.0f ? m[r] * TP_LN2 + logf(lt) : -INFINITY;
    }
}
/* Normalise and store this thread's two rows of out (and lse). */
template <typename T, int kD>
__device__ __forceinline__ void tp_wg_epilogue(const tp_cu_attn &a, const tp_wg_work &w, const float (&o)[kD / 2],
                                               const float (&m)[2], const float (&l)[2], int t)
{
    tp_wg_store_rows<T, kD>(a, (T *)a.out.data + tp_cu_off(a.out, w.bi, w.h),
                            [&]() { return tp_cu_off(a.lse, w.bi, w.h); }, w.row0, o, m, l, t);
}

/* S = Q K^T for one warpgroup: kD / 16 k-steps (columns past D hold zeros); k-step ks
 * starts 32 ks bytes into its column block, 8 rows (one swizzle atom) apart. */
template <typename T, int kD, int kBN, int kBM, bool kExtra = false>
__device__ __forceinline__ void tp_wg_issue_s(float (&s)[kBN / 2], uint64_t dq, uint64_t dk)
{
    constexpr int kSpan = tp_sw<kD>::kSpan, kSteps = kSpan / 32; /* k-steps per column block */
#pragma unroll
    for (int ks = 0; ks < kD / 16 + (kExtra ? 1 : 0); ks++) { /* kExtra: one k-step past kD */
        const uint32_t off = (ks % kSteps) * 32;
        tp_wg_ss<T, kBN>::run(s, tp_desc_add(dq, (ks / kSteps) * (kBM * kSpan) + off),
                              tp_desc_add(dk, (ks / kSteps) * (kBN * kSpan) + off), ks > 0);
    }
}
/* the K-major descriptor of a tile starting at saddr (Q, K) */
template <int kD> __device__ __forceinline__ uint64_t tp_wg_desc_k(uint32_t saddr)
{
    return tp_wg_desc(saddr, 16, 8 * tp_sw<kD>::kSpan, tp_sw<kD>::kMode);
}
/* the MN-major descriptor of a V tile of kBN keys starting at saddr */
template <int kD, int kBN> __device__ __forceinline__ uint64_t tp_wg_desc_v(uint32_t saddr)
{
    return tp_wg_desc(saddr, kBN * tp_sw<kD>::kSpan, 8 * tp_sw<kD>::kSpan, tp_sw<kD>::kMode);
}

/* O += P V for one warpgroup: kBN / 16 k-steps of 16 keys; V MN-major, the next column
 * block one leading offset (kBN rows) away, 8 keys one stride offset. */
template <typename T, int kD, int kBN>
__device__ __forceinline__ void tp_wg_issue_pv(float (&o)[kD / 2], const uint32_t (&pa)[kBN / 16][4], uint64_t dv)
{
    constexpr int kSpan = tp_sw<kD>::kSpan;
#pragma unroll
    for (int kk = 0; kk < kBN / 16; kk++) tp_wg_rs<T, kD>::run(o, pa[kk], tp_desc_add(dv, kk * 16 * kSpan));
}

/*
 * The two-stage kernel (kD = 256: three stages do not fit in shared memory). Both
 * warpgroups run in step: one barrier a tile; the loads of tile t+1 fly while tile t
 * is computed.
 */
template <typename T, int kD, int kBN>
__device__ __forceinline__ void tp_attn_wgmma_body(const tp_cu_attn &a, unsigned char *smem)
{
    constexpr int kThreads = 256;
    constexpr int kQBytes = 128 * kD * 2, kTileBytes = kBN * kD * 2;
    unsigned char *Qs = smem;
    unsigned char *Ks = Qs + kQBytes;        /* [2][kTileBytes] */
    unsigned char *Vs = Ks + 2 * kTileBytes; /* [2][kTileBytes] */
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const tp_wg_work w = tp_wg_schedule<kBN, 128>(a, wg, wl, g, blockIdx.x);
    const T *qb = (const T *)a.q.data + w.qoff, *kb = (const T *)a.k.data + w.koff;
    const T *vb = (const T *)a.v.data + w.voff;

    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    if (w.k.t_begin < w.k.t_end) {
        tp_load_sw<T, 128, kD, kThreads>(Qs, qb, a.q.si, 0, a.Sq - w.q0, a.D);
        tp_load_sw<T, kBN, kD, kThreads>(Ks, kb, a.k.si, w.k.t_begin * kBN, a.Sk, a.D);
        tp_load_sw<T, kBN, kD, kThreads>(Vs, vb, a.v.si, w.k.t_begin * kBN, a.Sk, a.Dv);
        tp_cp_commit();
    }
    const float scale2 = a.scale * TP_LOG2E;
    const uint32_t q_base = tp_smem_addr(Qs) + wg * 64 * tp_sw<kD>::kSpan;
    const uint32_t k_base = tp_smem_addr(Ks), v_base = tp_smem_addr(Vs);

    for (int64_t tile = w.k.t_begin; tile < w.k.t_end; tile++) {
        const int buf = (int)((tile - w.k.t_begin) & 1);
        tp_cp_wait<0>();
        tp_fence_proxy_async();
        __syncthreads(); /* tile's K, V (and Q) landed; every warp is done with buf ^ 1 */
        if (tile + 1 < w.k.t_end) {
            tp_load_sw<T, kBN, kD, kThreads>(Ks + (buf ^ 1) * kTileBytes, kb, a.k.si, (tile + 1) * kBN,
                                                a.Sk, a.D);
            tp_load_sw<T, kBN, kD, kThreads>(Vs + (buf ^ 1) * kTileBytes, vb, a.v.si, (tile + 1) * kBN,
                                                a.Sk, a.Dv);
        }
        tp_cp_commit();
        const uint32_t kt = k_base + buf * kTileBytes, vt = v_base + buf * kTileBytes;

        float s[kBN / 2];
        tp_wg_fence_regs(s);
        tp_wg_fence();
        tp_wg_issue_s<T, kD, kBN, 128>(s, tp_wg_desc_k<kD>(q_base), tp_wg_desc_k<kD>(kt));
        tp_wg_commit();
        tp_wg_wait0();
        tp_wg_fence_regs(s);

        float al[2];
        tp_wg_softmax<kBN, 0, float>(s, m, l, al, w, tile * kBN, a.scale, scale2, t, (const float *)NULL,
                                     (const float *)NULL);
        uint32_t pa[kBN / 16][4];
        tp_wg_rescale_pack<T, kD, kBN>(o, al, s, pa);

        tp_wg_fence_regs(pa);
        tp_wg_fence_regs(o);
        tp_wg_fence();
        tp_wg_issue_pv<T, kD, kBN>(o, pa, tp_wg_desc_v<kD, kBN>(vt));
        tp_wg_commit();
        tp_wg_wait0();
        tp_wg_fence_regs(o);
    }
    tp_cp_wait<0>();
    tp_wg_epilogue<T, kD>(a, w, o, m, l, t);
}

/* mbarrier and named-barrier helpers of the three-stage kernel */
__device__ __forceinline__ void tp_mbar_init(uint32_t bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void tp_mbar_wait(uint32_t bar, uint32_t parity)
{
    asm volatile("{\n.reg .pred p;\nTP_MBAR_WAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
                 "@!p bra TP_MBAR_WAIT;\n}\n" ::"r"(bar),
                 "r"(parity)
                 : "memory");
}
__device__ __forceinline__ void tp_mbar_arrive(uint32_t bar)
{
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
/* ends bar's life as an mbarrier (before its memory is reused or initialised again) */
__device__ __forceinline__ void tp_mbar_inval(uint32_t bar)
{
    asm volatile("mbarrier.inval.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
/* arrives on bar when this thread's cp.async copies so far have landed */
__device__ __forceinline__ void tp_cp_async_arrive(uint32_t bar)
{
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
/* A ring of turns over kWG warpgroups on named barriers kBase + wg: warpgroup wg waits
 * for its turn on kBase + wg and passes it to the next on kBase + (wg + 1) mod kWG (each
 * barrier: 128 threads arrive, 128 wait). */
template <int kBase> __device__ __forceinline__ void tp_wg_ring_turn(int wg)
{
    asm volatile("bar.sync %0, 256;\n" ::"r"(kBase + wg) : "memory");
}
template <int kWG, int kBase> __device__ __forceinline__ void tp_wg_ring_pass(int wg)
{
    static_assert(kBase + kWG <= 16, "named barrier ids up to 15");
    asm volatile("bar.arrive %0, 256;\n" ::"r"(kBase + (wg + 1 == kWG ? 0 : wg + 1)) : "memory");
}
/* ping-pong: the ring on barriers 1 .. kWG, warpgroups taking turns to issue their
 * products */
__device__ __forceinline__ void tp_wg_turn(int wg) { tp_wg_ring_turn<1>(wg); }
template <int kWG> __device__ __forceinline__ void tp_wg_pass(int wg) { tp_wg_ring_pass<kWG, 1>(wg); }
/* a second ring, on barriers 1 + 3 kWG + wg (the producer form's softmax turns,
 * attention_wgmma_ws.cuh) */
template <int kWG> __device__ __forceinline__ void tp_wg_turn2(int wg) { tp_wg_ring_turn<1 + 3 * kWG>(wg); }
template <int kWG> __device__ __forceinline__ void tp_wg_pass2(int wg) { tp_wg_ring_pass<kWG, 1 + 3 * kWG>(wg); }
/* the 128 threads of warpgroup wg meet on named barrier 1 + kWG + wg */
template <int kWG> __device__ __forceinline__ void tp_wg_bar_sync(int wg)
{
    asm volatile("bar.sync %0, 128;\n" ::"r"(1 + kWG + wg) : "memory");
}
/* a second such barrier, 1 + 2 kWG + wg, met by some warps with bar.arrive (no wait) and
 * by others with bar.sync (kWG <= 7: ids up to 15) */
template <int kWG> __device__ __forceinline__ void tp_wg_bar2_sync(int wg)
{
    asm volatile("bar.sync %0, 128;\n" ::"r"(1 + 2 * kWG + wg) : "memory");
}
template <int kWG> __device__ __forceinline__ void tp_wg_bar2_arrive(int wg)
{
    asm volatile("bar.arrive %0, 128;\n" ::"r"(1 + 2 * kWG + wg) : "memory");
}

/*
 * The three-stage kernel (kD = 32, 64, 128). The warpgroups are not held in step by a
 * block-wide barrier: tile t's K and V are complete when the mbarrier full[t mod 3]
 * completes (each thread's cp.async copies arrive on it), and a stage is refilled once
 * every warpgroup has arrived on empty[stage]. The tensor cores go round the warpgroups
 * (named barriers 1 .. kWG, "ping-pong"; not with kMaskK): warpgroup w issues its
 * products (P V of tile t-1, then S = Q K^T of tile t) in one batch, passes the turn,
 * and runs the softmax of tile t while the others' products run. P V of tile t is
 * deferred to the next batch, so V of tile t-1 is held one tile longer: three stages.
 *
 * kBias > 0 (biases of unit key stride, f32 or of the input dtype: TB; tp_wg_softmax):
 * each warpgroup stages its own 64 rows of bias 0 (and the one row of a bias 1 shared
 * by every query) in two buffers of its own after the barriers: the copies of tile j+1
 * are issued when the softmax of tile j starts (after a warpgroup barrier: every thread
 * has left tile j-1's buffer) and waited for one tile later, so their latency hides
 * behind a whole tile's work.
 *
 * kMaskK (kBias = 2 with 16-bit biases, kD = 32): bias 1, the row shared by every query
 * (the evoformer mask bias), is added by the tensor cores instead of per score: Q and
 * each K stage get a second 64-byte column block, whose first k-step holds in every Q
 * row (1 / scale in three pieces of T, 0, ..) and in K row x (b, b, b, 0, ..) with b =
 * bias 1 at key x (exact in T; +-inf in the first place only, as inf x 0 is NaN); one
 * more k-step of S = Q K^T then yields q.k + b / scale, products exact and summed in
 * f32. Warpgroup 0's threads write the K rows: tiles 0 and 1 in the prologue, tile j+2
 * after refilling its stage, from a value loaded at the start of tile j's softmax; each
 * then arrives on full[stage], which counts 128 arrivals more. What remains per score is
 * one load, conversion and fma of bias 0 (kBias = 3 in tp_wg_softmax): 1.74 ms, not
 * 1.82, on the triangle shape (H200).
 */
template <typename T, int kD, int kBN, int kWG, int kBias, typename TB = float, bool kMaskK = false>
__device__ __forceinline__ void tp_attn_wgmma3_body(const tp_cu_attn &a, unsigned char *smem, int64_t item = -1)
{
    /* kMaskK: bias 1 (one row for every query, of the input dtype) enters S through the
     * tensor cores: Q and every K stage get a second column block whose first k-step
     * holds, in Q, 1 / scale as three pieces of T (24 bits) and, in K, the bias (exact in
     * T) three times; S = Q K^T then comes out as q.k + b1 / scale. */
    static_assert(!kMaskK || (kBias == 2 && sizeof(TB) == 2 && kD == 32), "kMaskK: 16-bit biases, kD = 32");
    /* the warpgroups take turns at the tensor cores (ping-pong) except with kMaskK, where
     * warpgroup 0's extra work a tile would hold the others back (measured: 2.05 ms with
     * turns, 1.75 without on the triangle shape) */
    constexpr bool kTurn = !kMaskK;
    constexpr int kThreads = 128 * kWG, kStages = 3, kBM = 64 * kWG;
    constexpr int kQBytes = kBM * kD * 2, kTileBytes = kBN * kD * 2;
    constexpr int kQB = kMaskK ? 2 * kQBytes : kQBytes, kKB = kMaskK ? 2 * kTileBytes : kTileBytes;
    unsigned char *Qs = smem;
    unsigned char *Ks = Qs + kQB;                  /* [3][kKB] */
    unsigned char *Vs = Ks + kStages * kKB;        /* [3][kTileBytes] */
    uint64_t *bars = (uint64_t *)(Vs + kStages * kTileBytes); /* full[3], empty[3] */
    const uint32_t full0 = tp_smem_addr(bars), empty0 = full0 + kStages * 8;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x >> 7), 0), wl = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const tp_wg_work w = tp_wg_schedule<kBN, kBM>(a, wg, wl, g, item < 0 ? (int64_t)blockIdx.x : item);
    const T *qb = (const T *)a.q.data + w.qoff, *kb = (const T *)a.k.data + w.koff;
    const T *vb = (const T *)a.v.data + w.voff;

    /* kBias: this warpgroup's two bias buffers of kBR rows of kRS elements; kBias = 2:
     * then its two f32 copies of bias 1's row in log2 units (Mw) */
    constexpr int kRS = kBN + 8, kBR = kBias == 0 ? 0 : kBias == 1 || kMaskK ? 64 : 65;
    TB *Bw = (TB *)(bars + 8) + wg * 2 * kBR * kRS;
    float *Mw = (float *)((TB *)(bars + 8) + kWG * 2 * kBR * kRS) + wg * 2 * kBN;
    const TB *bsrc0 = NULL, *bsrc1 = NULL;
    const int64_t brow0 = w.q0 + wg * 64; /* the warpgroup's first row */
    if (kBias) { /* (a warpgroup wholly past Sq zero-fills from a row in bounds) */
        const int64_t rb = brow0 < a.Sq ? brow0 : a.Sq - 1;
        bsrc0 = (const TB *)a.bias[0].data + tp_cu_off(a.bias[0], w.bi, w.h) + rb * a.bias[0].si;
        if (kBias == 2) bsrc1 = (const TB *)a.bias[1].data + tp_cu_off(a.bias[1], w.bi, w.h);
    }
    auto load_bias = [&](int buf, int64_t key0) {
        TB *d = Bw + buf * kBR * kRS;
        const int tid = threadIdx.x & 127;
        tp_wg_load_bias<TB, kBN, 64>(d, bsrc0, a.bias[0].si, a.Sq - brow0, key0, a.Sk, tid);
        if (kBias == 2 && !kMaskK) tp_wg_load_bias<TB, kBN, 1>(d + 64 * kRS, bsrc1, 0, 1, key0, a.Sk, tid);
        tp_cp_commit();
    };
    /* kMaskK: the bias-1 column chunk (b, b, b, 0 ..) of key k0 + x (x < kBN; zero past
     * Sk) at row x of the K stage at ks's second column block; b = +-inf goes in the
     * first place only (inf x 0 would be NaN) */
    auto mask_value = [&](int64_t key0, int x) -> TB {
        const int64_t j = key0 + x;
        return j < a.Sk ? bsrc1[j] : TB(0.0f);
    };
    auto mask_chunk = [&](unsigned char *ks, int x, TB b) {
        if constexpr (kMaskK) { /* (TB is T here) */
            typedef tp_mma_type<T> M;
            const float f = M::to_f32(b), fl = isinf(f) ? 0.0f : f;
            uint4 v;
            v.x = M::pack(f, fl), v.y = M::pack(fl, 0.0f), v.z = 0u, v.w = 0u;
            *reinterpret_cast<uint4 *>(ks + kTileBytes + x * 64 + ((0 ^ tp_sw<kD>::phase(x)) << 4)) = v;
        }
    };

    float o[kD / 2];
#pragma unroll
    for (int i = 0; i < kD / 2; i++) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const int64_t nt = w.k.t_end - w.k.t_begin;
    if (nt > 0) {
        if (threadIdx.x < 2 * kStages)
            tp_mbar_init(full0 + threadIdx.x * 8, kMaskK && threadIdx.x < kStages ? kThreads + 128 : kThreads);
        if (kMaskK) {
            /* Q's second block: (1 / scale in three pieces, 0 ..) a row; every K stage's
             * second block: its second chunk zero (the first is written a tile) */
            typedef tp_mma_type<T> M;
            const float inv = 1.0f / a.scale;
            const float h = M::to_f32(M::from_f32(inv)), r1 = inv - h;
            const float mid = M::to_f32(M::from_f32(r1)), lo = r1 - mid;
            uint4 qv, z = make_uint4(0u, 0u, 0u, 0u);
            qv.x = M::pack(h, mid), qv.y = M::pack(lo, 0.0f), qv.z = 0u, qv.w = 0u;
            for (int r = threadIdx.x; r < kBM; r += kThreads) {
                unsigned char *q1 = Qs + kQBytes + r * 64;
                *reinterpret_cast<uint4 *>(q1 + ((0 ^ tp_sw<kD>::phase(r)) << 4)) = qv;
                *reinterpret_cast<uint4 *>(q1 + ((1 ^ tp_sw<kD>::phase(r)) << 4)) = z;
            }
            for (int r = threadIdx.x; r < kStages * kBN; r += kThreads) {
                const int x = r % kBN;
                *reinterpret_cast<uint4 *>(Ks + (r / kBN) * kKB + kTileBytes + x * 64 +
                                           ((1 ^ tp_sw<kD>::phase(x)) << 4)) = z;
            }
            tp_fence_proxy_async();
        }
        __syncthreads(); /* the barriers are initialised before anyone arrives */
        if (kBias) load_bias(0, w.k.t_begin * kBN);
        /* prologue: Q and tiles 0, 1 */
        tp_load_sw<T, kBM, kD, kThreads>(Qs, qb, a.q.si, 0, a.Sq - w.q0, a.D);
        for (int64_t j = 0; j < 2 && j < nt; j++) {
            const int64_t key0 = (w.k.t_begin + j) * kBN;
            tp_load_sw<T, kBN, kD, kThreads>(Ks + j * kKB, kb, a.k.si, key0, a.Sk, a.D);
            tp_load_sw<T, kBN, kD, kThreads>(Vs + j * kTileBytes, vb, a.v.si, key0, a.Sk, a.Dv);
            tp_cp_async_arrive(full0 + j * 8);
            if (kMaskK && threadIdx.x < kBN) {
                mask_chunk(Ks + j * kKB, threadIdx.x, mask_value(key0, threadIdx.x));
                tp_fence_proxy_async();
                tp_mbar_arrive(full0 + j * 8);
            }
        }
        if (kTurn && wg == kWG - 1) tp_wg_pass<kWG>(wg); /* warpgroup 0 issues first */
    }
    const float scale2 = a.scale * TP_LOG2E;
    /* descriptors of this warpgroup's Q rows and of stage 0's K and V; stage st is
     * st kTileBytes further */
    const uint64_t dq = tp_wg_desc_k<kD>(tp_smem_addr(Qs) + wg * 64 * tp_sw<kD>::kSpan);
    const uint64_t dk0 = tp_wg_desc_k<kD>(tp_smem_addr(Ks)), dv0 = tp_wg_desc_v<kD, kBN>(tp_smem_addr(Vs));
    TB mnext = TB(0.0f); /* kMaskK: bias 1 at key k0 + 2 kBN + x (warpgroup 0) */
    uint32_t pa[kBN / 16][4];
    /* Tile j (keys k0 ..) lives in stage st with full-barrier parity ph; tile j-1 in
     * stage sp with parity pph. The counters advance by addition: no division in the
     * loop. Tile j+2 refills tile j-1's stage ((j + 2) mod 3 = (j - 1) mod 3). */
    int st = 0, sp = kStages - 1, bbuf = 0;
    uint32_t ph = 0, pph = 1;
    int64_t k0 = w.k.t_begin * kBN;
    /* softmax of tile j, then the refill of tile j-1's stage with tile j+2 once every
     * warpgroup has left it */
    /* tile j's staged biases: wait for this thread's copies, the f32 row of bias 1, the
     * warpgroup barrier, then the copies of tile j+1 into the other buffer; b0, b1 at
     * this thread's places */
    const float inv = 1.0f / a.scale;
    auto bias_stage = [&](int64_t j, const TB *&b0, const float *&b1) {
        tp_cp_wait<0>(); /* this thread's copies of tile j's biases landed */
        const TB *bt = Bw + bbuf * kBR * kRS;
        float *mrow = Mw + bbuf * kBN;
        if (kBias == 2 && !kMaskK) { /* the threads that copied bias 1's row make its f32 copy */
            constexpr int kE = 16 / (int)sizeof(TB);
            const int tid = threadIdx.x & 127;
            if (tid < kBN / kE) {
#pragma unroll
                for (int e = 0; e < kE; e += 2) {
                    const float2 v = tp_wg_bias2(bt + 64 * kRS + tid * kE + e);
                    *reinterpret_cast<float2 *>(mrow + tid * kE + e) = make_float2(v.x * TP_LOG2E, v.y * TP_LOG2E);
                }
            }
        }
        tp_wg_bar_sync<kWG>(wg); /* everyone's landed, and everyone has left tile j-1's */
        if (j + 1 < nt) load_bias(bbuf ^ 1, k0 + kBN);
        b0 = bt + (wl * 16 + g) * kRS + 2 * t;
        b1 = mrow + 2 * t;
        bbuf ^= 1;
    };
    /* softmax of tile j, then the refill of tile j-1's stage with tile j+2 once every
     * warpgroup has left it */
    auto tile_softmax = [&](float (&s)[kBN / 2], int64_t j) {
        float al[2];
        if (kMaskK && wg == 0 && j + 2 < nt) mnext = mask_value(k0 + 2 * kBN, threadIdx.x); /* lands by the refill */
        if (kBias) { /* kMaskK: bias 1 is already in s (mode 3) */
            const TB *b0;
            const float *b1;
            bias_stage(j, b0, b1);
            tp_wg_softmax<kBN, kMaskK ? 3 : kBias, TB>(s, m, l, al, w, k0, kMaskK ? inv : a.scale, scale2, t,
                                                       b0, b1);
        } else {
            tp_wg_softmax<kBN, 0, TB>(s, m, l, al, w, k0, a.scale, scale2, t, (const TB *)NULL,
                                      (const float *)NULL);
        }
        tp_wg_rescale_pack<T, kD, kBN>(o, al, s, pa);
        if (j + 2 < nt) {
            if (j > 0) tp_mbar_wait(empty0 + sp * 8, pph);
            const int64_t key2 = k0 + 2 * kBN;
            tp_load_sw<T, kBN, kD, kThreads>(Ks + sp * kKB, kb, a.k.si, key2, a.Sk, a.D);
            tp_load_sw<T, kBN, kD, kThreads>(Vs + sp * kTileBytes, vb, a.v.si, key2, a.Sk, a.Dv);
            tp_cp_async_arrive(full0 + sp * 8);
            if (kMaskK && wg == 0) {
                mask_chunk(Ks + sp * kKB, threadIdx.x, mnext);
                tp_fence_proxy_async();
                tp_mbar_arrive(full0 + sp * 8);
            }
        }
    };

    if (nt > 0) {
        /* batch 0: S of tile 0 */
        float s[kBN / 2];
        tp_mbar_wait(full0, 0u);
        tp_fence_proxy_async();
        if (kTurn) tp_wg_turn(wg);
        tp_wg_fence_regs(s);
        tp_wg_fence();
        tp_wg_issue_s<T, kD, kBN, kBM, kMaskK>(s, dq, dk0);
        tp_wg_commit();
        if (kTurn) tp_wg_pass<kWG>(wg);
        tp_wg_wait0();
        tp_wg_fence_regs(s);
        tile_softmax(s, 0);
    }
    for (int64_t j = 1; j < nt; j++) {
        /* batch j: P V of tile j-1, S of tile j */
        sp = st, pph = ph;
        if (++st == kStages) st = 0, ph ^= 1u;
        k0 += kBN;
        float s[kBN / 2];
        tp_mbar_wait(full0 + st * 8, ph);
        tp_fence_proxy_async();
        if (kTurn) tp_wg_turn(wg);
        tp_wg_fence_regs(s);
        tp_wg_fence_regs(pa);
        tp_wg_fence_regs(o);
        tp_wg_fence();
        tp_wg_issue_pv<T, kD, kBN>(o, pa, tp_desc_add(dv0, sp * kTileBytes));
        tp_wg_issue_s<T, kD, kBN, kBM, kMaskK>(s, dq, tp_desc_add(dk0, st * kKB));
        tp_wg_commit();
        if (kTurn) tp_wg_pass<kWG>(wg);
        tp_wg_wait0();
        tp_wg_fence_regs(s);
        tp_wg_fence_regs(o);
        tp_mbar_arrive(empty0 + sp * 8); /* this thread is done with tile j-1 */
        tile_softmax(s, j);
    }
    if (nt > 0) {
        /* the last batch: P V of the last tile (stage st); the last warpgroup passes no
         * turn (no one waits) */
        if (kTurn) tp_wg_turn(wg);
        tp_wg_fence_regs(pa);
        tp_wg_fence_regs(o);
        tp_wg_fence();
        tp_wg_issue_pv<T, kD, kBN>(o, pa, tp_desc_add(dv0, st * kTileBytes));
        tp_wg_commit();
        if (kTurn && wg != kWG - 1) tp_wg_pass<kWG>(wg);
        tp_wg_wait0();
        tp_wg_fence_regs(o);
    }
    tp_wg_epilogue<T, kD>(a, w, o, m, l, t);
}

/* tp_attn_wgmma_<bf16|f16>_d<kD>[_b<kBias>]: the dynamic shared memory is aligned up to
 * 1024 bytes here (the launch asks for 1 KiB more than the layout needs). */
#define TP_ATTN_WGMMA_KERNEL(NAME, THREADS, MINB, BODY)                                        \
    extern "C" __global__ void __launch_bounds__(THREADS, MINB) NAME(const tp_cu_attn a)      \
    {                                                                                          \
        extern __shared__ __align__(1024) unsigned char tp_smem_raw[];                        \
        const uint32_t s0 = tp_smem_addr(tp_smem_raw);                                         \
        BODY(a, tp_smem_raw + ((1024 - (s0 & 1023)) & 1023));                                  \
    }
/* the same with the tensor maps of the TMA form as a second parameter */
#define TP_ATTN_WGMMA_TMA_KERNEL(NAME, THREADS, MINB, BODY)                                    \
    extern "C" __global__ void __launch_bounds__(THREADS, MINB)                                \
        NAME(const tp_cu_attn a, const __grid_constant__ tp_cu_tmaps tm)                       \
    {                                                                                          \
        extern __shared__ __align__(1024) unsigned char tp_smem_raw[];                        \
        const uint32_t s0 = tp_smem_addr(tp_smem_raw);                                         \
        BODY(a, tm, tp_smem_raw + ((1024 - (s0 & 1023)) & 1023));                              \
    }

#endif
