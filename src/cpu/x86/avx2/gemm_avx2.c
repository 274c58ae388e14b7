/* gemm_avx2.c -- AVX2 + FMA (+F16C) micro-kernel and packing for the blocked GEMM
 * driver.
 *
 * Blocksizes (16 ymm registers; docs/notes/gemm_cpu.md has the measurements):
 *   MR x NR = 6 x 16: 12 ymm accumulators + 2 B vectors + 1 broadcast, the shape of
 *       BLIS's Haswell sgemm kernel. Per k step: 2 loads of B, 6 broadcasts, 12 FMAs.
 *       Packed A is stored 8 floats per k step (PA_LD): whole vectors, lanes 6, 7 unread.
 *   KC = 512: the A micro-panel (8 x 512 x 4 = 16 KiB) stays in L1 while the B panels
 *       (32 KiB each) stream past it from L2; K up to 512 in one pass over C (measured
 *       a few % faster than 256 at m = n = k = 1024; 1024 no better).
 *   NC = 256: the item's block of packed B (512 KiB) stays in L2.
 *   MC = 96: rows per work item, the unit of work the threads share.
 */
#include "../../gemm_blocked.h"

#include <immintrin.h>
#include "avx2_util.h"
#include <string.h>

#define MR 6
#define PA_LD 8 /* packed A: floats per k step */
#define NR 16
#define KC 512
#define MC 96
#define NC 256

/* ---- packing ---------------------------------------------------------------------- */

/* dst[q*W + l] = src[l*ls + q*ss] for l < nl, 0 for nl <= l < W; q < kc. */
static void pack(const char *src, tprim_dtype dt, int64_t ls, int64_t ss, int64_t nl, int64_t kc,
                 int32_t W, float *dst)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    if (ls == 1) { /* lanes contiguous */
        for (int64_t q = 0; q < kc; q++) {
            const char *s = src + q * ss * es;
            float *d = dst + q * W;
            for (int32_t l0 = 0; l0 < W; l0 += 8) {
                __m256 v = l0 < nl ? load8(s + l0 * es, dt, nl - l0) : _mm256_setzero_ps();
                if (W - l0 >= 8) _mm256_storeu_ps(d + l0, v);
                else _mm256_maskstore_ps(d + l0, tail_mask(W - l0), v);
            }
        }
        return;
    }
    if (ss == 1) { /* steps contiguous: transpose blocks of 8 lanes x 8 steps */
        for (int32_t l0 = 0; l0 < W; l0 += 8) {
            const __m256i ks = tail_mask(W - l0);
            const int full = W - l0 >= 8;
            const int64_t nv = TP_MIN(8, nl - l0);
            for (int64_t q0 = 0; q0 < kc; q0 += 8) {
                const int64_t nq = TP_MIN(8, kc - q0);
                __m256 r[8];
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++)
                    r[i] = i < nv ? load8(src + ((l0 + i) * ls + q0) * es, dt, nq)
                                  : _mm256_setzero_ps();
                transpose8(r);
                for (int64_t j = 0; j < nq; j++) {
                    if (full) _mm256_storeu_ps(dst + (q0 + j) * W + l0, r[j]);
                    else _mm256_maskstore_ps(dst + (q0 + j) * W + l0, ks, r[j]);
                }
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
    __m256 acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int64_t q = 0; q < k; q++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
        a += PA_LD;
        b += NR;
    }
    if (bias) {
        const __m256 v0 = _mm256_loadu_ps(bias), v1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm256_add_ps(acc[r][0], v0);
            acc[r][1] = _mm256_add_ps(acc[r][1], v1);
        }
    }
    if (beta) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(c + r * ldc), acc[r][0]);
            acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(c + r * ldc + 8), acc[r][1]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(c + r * ldc, acc[r][0]);
        _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
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
    for (int64_t j = 0; j < n; j += 8) {
        const int64_t m = TP_MIN(8, n - j);
        __m256 v = load8((const char *)(t + j), TPRIM_F32, m);
        if (accumulate) v = _mm256_add_ps(load8(c + j * es, dt, m), v);
        if (dt == TPRIM_F32) {
            if (m == 8) _mm256_storeu_ps((float *)c + j, v);
            else _mm256_maskstore_ps((float *)c + j, tail_mask(m), v);
            continue;
        }
        __m128i h = dt == TPRIM_BF16
                        ? bf16_round8(v)
                        : _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if (m == 8) {
            _mm_storeu_si128((__m128i *)(c + j * es), h);
        } else {
            uint16_t tmp[8];
            _mm_storeu_si128((__m128i *)tmp, h);
            memcpy(c + j * es, tmp, (size_t)m * 2);
        }
    }
}

static const tp_gemm_ukr avx2_ukr = {
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

TP_GEMM_KERNEL(tp_gemm_avx2_kernel, "avx2", TP_FAMILY_AVX2, 20, avx2_ukr);
