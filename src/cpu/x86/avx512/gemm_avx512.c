/* gemm_avx512.c -- AVX-512 micro-kernel and packing for the blocked GEMM driver.
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512dq (+avx2, fma, f16c) and called
 * only when the CPU and OS have all of them (see dispatch.c).
 *
 * Blocksizes (one place; docs/notes/gemm_cpu.md has the measurements):
 *   MR x NR = 12 x 32: 24 zmm accumulators. Per k step: 2 vector loads of the B panel,
 *       12 broadcast loads of A, 24 FMAs = 12 cycles on two FMA ports with 14 loads,
 *       under the 2 loads/cycle limit, and 38 fused uops (+ loop overhead, unrolled 4x)
 *       under the 4-wide issue limit. Packed A is stored 16 floats per k step (PA_LD) so
 *       that packing writes whole aligned vectors; lanes 12..15 are never read.
 *   KC = 512: the A micro-panel (16 x 512 x 4 = 32 KiB) is reused from L1/L2 by the 8
 *       tiles of a B block; K up to 512 runs in one pass over C (each further pass
 *       re-reads 24 lines of C, whose rows at power-of-two strides collide in one L1
 *       set). Measured better than 256 (more C passes) and 1024 (A panel of 64 KiB,
 *       B block of 1 MiB no longer in L2).
 *   NC = 256: the B block that stays in L2 (KC x NC x 4 = 512 KiB) while every A
 *       micro-panel of the work item passes over it; its panels stream to L1 at 128
 *       bytes per 12 cycles, prefetched PF_B steps ahead.
 *   MC = 192: rows per work item (16 micro-panels per B block brought into L2).
 */
#include "../../gemm_blocked.h"

#include <immintrin.h>
#include "avx512_util.h"
#include <string.h>

#define MR 12
#define PA_LD 16 /* packed A: floats per k step */
#define NR 32
#define KC 512
#define MC 192
#define NC 256
#define PF_B 8 /* B rows (k steps) prefetched ahead in the micro-kernel */

/* ---- conversions -------------------------------------------------------------- */

/* ---- packing ---------------------------------------------------------------------- */

/* dst[q*W + l] = src[l*ls + q*ss] for l < nl, 0 for nl <= l < W; q < kc. */
static void pack(const char *src, tprim_dtype dt, int64_t ls, int64_t ss, int64_t nl, int64_t kc,
                 int32_t W, float *dst)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    if (ls == 1) { /* lanes contiguous: one (masked) vector per 16 lanes and step */
        for (int64_t q = 0; q < kc; q++) {
            const char *s = src + q * ss * es;
            float *d = dst + q * W;
            for (int32_t l0 = 0; l0 < W; l0 += 16)
                _mm512_mask_storeu_ps(d + l0, tail_mask(W - l0),
                                      load16(s + l0 * es, dt, tail_mask(nl - l0)));
        }
        return;
    }
    if (ss == 1) { /* steps contiguous: transpose blocks of 16 lanes x 16 steps */
        for (int32_t l0 = 0; l0 < W; l0 += 16) {
            const __mmask16 ks = tail_mask(W - l0);
            const int64_t nv = TP_MIN(16, nl - l0); /* lanes with data (may be <= 0) */
            /* lanes without data read lane 0 of the group (or nothing) under a zero mask,
             * so every address stays inside the source */
            const char *row[16];
            for (int i = 0; i < 16; i++)
                row[i] = src + (l0 + (i < nv ? i : 0)) * ls * es;
            for (int64_t q0 = 0; q0 < kc; q0 += 16) {
                const __mmask16 kq = tail_mask(kc - q0);
                __m512 r[16];
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++)
                    r[i] = load16(row[i] + q0 * es, dt, i < nv ? kq : (__mmask16)0);
                transpose16(r);
                float *d = dst + q0 * W + l0;
#pragma GCC unroll 16
                for (int j = 0; j < 16; j++)
                    if (q0 + j < kc) _mm512_mask_storeu_ps(d + j * W, ks, r[j]);
            }
        }
        return;
    }
    tp_gemm_pack_generic(src, dt, ls, ss, nl, kc, W, dst);
}

/* ---- the micro-kernel ------------------------------------------------------------ */

static void kernel(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int beta,
                   const float *bias)
{
    __m512 acc[MR][2];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T1);
        _mm_prefetch((const char *)(c + r * ldc + NR - 1), _MM_HINT_T1);
    }
#pragma GCC unroll 4
    for (int64_t q = 0; q < k; q++) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        _mm_prefetch((const char *)(b + PF_B * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PF_B * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            const __m512 av = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
        a += PA_LD;
        b += NR;
    }
    if (bias) {
        const __m512 v0 = _mm512_loadu_ps(bias), v1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm512_add_ps(acc[r][0], v0);
            acc[r][1] = _mm512_add_ps(acc[r][1], v1);
        }
    }
    if (beta) {
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm512_add_ps(_mm512_loadu_ps(c + r * ldc), acc[r][0]);
            acc[r][1] = _mm512_add_ps(_mm512_loadu_ps(c + r * ldc + 16), acc[r][1]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(c + r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
    }
}

/* ---- output --------------------------------------------------------------------- */

static void store_row(const float *t, int64_t n, char *c, tprim_dtype dt, int64_t cs,
                      int accumulate)
{
    if (cs != 1) {
        tp_gemm_store_row_generic(t, n, c, dt, cs, accumulate);
        return;
    }
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 k = tail_mask(n - j);
        __m512 v = _mm512_maskz_loadu_ps(k, t + j);
        if (accumulate) v = _mm512_add_ps(load16(c + j * es, dt, k), v);
        switch (dt) {
        case TPRIM_F32: _mm512_mask_storeu_ps(c + j * es, k, v); break;
        case TPRIM_BF16:
            _mm256_mask_storeu_epi16(c + j * es, k, _mm512_cvtepi32_epi16(f32_to_bf16_lanes(v)));
            break;
        default: { /* TPRIM_F16 */
            const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            _mm256_mask_storeu_epi16(c + j * es, k, h);
            break;
        }
        }
    }
}

static const tp_gemm_ukr avx512_ukr = {
    .mr = MR,
    .nr = NR,
    .pa_ld = PA_LD,
    .kc = KC,
    .mc = MC,
    .nc = NC,
    .pack = pack,
    .kernel = kernel,
    .store_row = store_row,
};

TP_GEMM_KERNEL(tp_gemm_avx512_kernel, "avx512", TP_FAMILY_AVX512, 30, avx512_ukr);
