/* gemm_neon.c -- AArch64 NEON micro-kernel and packing for the blocked GEMM driver.
 *
 * Blocksizes (32 q registers; docs/notes/gemm_cpu.md):
 *   MR x NR = 8 x 12: 24 accumulators + 2 vectors of A + 3 vectors of B = 29 registers.
 *       Per k step: 5 vector loads, 24 vfmaq_laneq_f32 (each multiplies a B vector by
 *       one lane of A, so A needs no broadcast), the shape of BLIS's armv8a sgemm.
 *   KC = 256: the A micro-panel (8 x 256 x 4 = 8 KiB) stays in L1 while the B panels
 *       (12 KiB each) stream past it (64-128 KiB L1 on Neoverse and Apple cores).
 *   NC = 240: the B block kept in L2 (256 x 240 x 4 = 240 KiB).
 *   MC = 128: rows per work item.
 * Not yet measured on AArch64 hardware (only run under qemu); the sizes follow the
 * same cache reasoning as the x86 kernels.
 */
#include "../../gemm_blocked.h"

#include <arm_neon.h>
#include "neon_util.h"
#include <string.h>

#define MR 8
#define PA_LD 8 /* packed A: floats per k step */
#define NR 12
#define KC 256
#define MC 128
#define NC 240

/* ---- packing ---------------------------------------------------------------------- */

/* dst[q*W + l] = src[l*ls + q*ss] for l < nl, 0 for nl <= l < W; q < kc. W is a
 * multiple of 4. */
static void pack(const char *src, tprim_dtype dt, int64_t ls, int64_t ss, int64_t nl, int64_t kc,
                 int32_t W, float *dst)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    if (ls == 1) { /* lanes contiguous */
        for (int64_t q = 0; q < kc; q++) {
            const char *s = src + q * ss * es;
            float *d = dst + q * W;
            for (int32_t l0 = 0; l0 < W; l0 += 4)
                vst1q_f32(d + l0, l0 < nl ? load4(s + l0 * es, dt, nl - l0) : vdupq_n_f32(0.0f));
        }
        return;
    }
    if (ss == 1) { /* steps contiguous: transpose blocks of 4 lanes x 4 steps */
        for (int32_t l0 = 0; l0 < W; l0 += 4) {
            const int64_t nv = TP_MIN(4, nl - l0);
            for (int64_t q0 = 0; q0 < kc; q0 += 4) {
                const int64_t nq = TP_MIN(4, kc - q0);
                float32x4_t r[4];
                for (int i = 0; i < 4; i++)
                    r[i] = i < nv ? load4(src + ((l0 + i) * ls + q0) * es, dt, nq)
                                  : vdupq_n_f32(0.0f);
                transpose4(r);
                for (int64_t j = 0; j < nq; j++) vst1q_f32(dst + (q0 + j) * W + l0, r[j]);
            }
        }
        return;
    }
    tp_gemm_pack_generic(src, dt, ls, ss, nl, kc, W, dst);
}

/* ---- the micro-kernel ------------------------------------------------------------ */

/* Row r of the tile += B row times lane l of the A vector av. */
#define FMA_ROW(r, av, l)                                        \
    do {                                                         \
        acc[r][0] = vfmaq_laneq_f32(acc[r][0], b0, av, l);       \
        acc[r][1] = vfmaq_laneq_f32(acc[r][1], b1, av, l);       \
        acc[r][2] = vfmaq_laneq_f32(acc[r][2], b2, av, l);       \
    } while (0)

static void kernel(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int beta,
                   const float *bias)
{
    float32x4_t acc[MR][3];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = vdupq_n_f32(0.0f);
    for (int64_t q = 0; q < k; q++) {
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        FMA_ROW(0, a0, 0);
        FMA_ROW(1, a0, 1);
        FMA_ROW(2, a0, 2);
        FMA_ROW(3, a0, 3);
        FMA_ROW(4, a1, 0);
        FMA_ROW(5, a1, 1);
        FMA_ROW(6, a1, 2);
        FMA_ROW(7, a1, 3);
        a += PA_LD;
        b += NR;
    }
    if (bias) {
        const float32x4_t v0 = vld1q_f32(bias), v1 = vld1q_f32(bias + 4), v2 = vld1q_f32(bias + 8);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            acc[r][0] = vaddq_f32(acc[r][0], v0);
            acc[r][1] = vaddq_f32(acc[r][1], v1);
            acc[r][2] = vaddq_f32(acc[r][2], v2);
        }
    }
    if (beta) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < 3; v++)
                acc[r][v] = vaddq_f32(vld1q_f32(c + r * ldc + 4 * v), acc[r][v]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 3; v++) vst1q_f32(c + r * ldc + 4 * v, acc[r][v]);
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
    for (int64_t j = 0; j < n; j += 4) {
        const int64_t m = TP_MIN(4, n - j);
        float32x4_t v = load4((const char *)(t + j), TPRIM_F32, m);
        if (accumulate) v = vaddq_f32(load4(c + j * es, dt, m), v);
        if (dt == TPRIM_F32) {
            if (m == 4) {
                vst1q_f32((float *)c + j, v);
            } else {
                float tmp[4];
                vst1q_f32(tmp, v);
                memcpy(c + j * es, tmp, (size_t)m * 4);
            }
            continue;
        }
        uint16x4_t h = dt == TPRIM_BF16 ? bf16_round4(v) : vreinterpret_u16_f16(vcvt_f16_f32(v));
        if (m == 4) {
            vst1_u16((uint16_t *)(c + j * es), h);
        } else {
            uint16_t tmp[4];
            vst1_u16(tmp, h);
            memcpy(c + j * es, tmp, (size_t)m * 2);
        }
    }
}

static const tp_gemm_ukr neon_ukr = {
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

TP_GEMM_KERNEL(tp_gemm_neon_kernel, "neon", TP_FAMILY_NEON, 30, neon_ukr);
