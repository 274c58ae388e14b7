/* attention_neon.c -- AArch64 Advanced SIMD (NEON) micro-kernels for the flash-attention
 * driver. Advanced SIMD is part of the AArch64 base, so this file needs no extra flags
 * and the kernel runs on every AArch64 CPU.
 *
 * Blocksizes (32 vector registers of 4 floats; v8..v15 are callee-saved):
 *   qk: MR = 8 rows, BC = 16 keys per call, computed as two register tiles of 8 rows x
 *       2 vectors (8 keys): 16 accumulators + 8 q vectors (q[r][d..d+3], used lane by
 *       lane with FMLA by element) + 2 kt vectors = 26 registers, leaving room for the
 *       compiler to load the next kt vectors early. Each step of 4 d is 8 q loads + 8 kt
 *       loads for 64 FMAs. Larger tiles do not fit: 8 x 4 vectors is 32 accumulators
 *       alone, and 6 x 4 needs 24 + 6 q + 4 kt = 34 (GCC's pre-allocation scheduler
 *       also spills the 6 x 4 form with broadcast q scalars: 24 + 4 + 6 hoisted loads).
 *   pv: PV_ROWS = 8 rows x PV_NV = 2 vectors (8 columns of Dv), the same shape: 16
 *       accumulators + 8 vectors of P (4 keys of each row) + 2 vectors of v. Dv tails
 *       use 1 vector and a last vector loaded lane by lane.
 *   BK = 128 keys per tile; ROWS_MAX = 384 = 48 x MR rows per work item (fewer for large
 *   D, see tp_flash_rows); m, l and alpha
 *   of a row block are exactly two vectors in the softmax.
 * No fast-math: exp2 and the masks rely on IEEE -inf and NaN.
 */
#include "../../attention_flash.h"

#include <arm_neon.h>
#include "neon_util.h"
#include <math.h>
#include <string.h>

#define MR 8
#define QK_NV 2
#define BC 16
#define BK 128
#define ROWS_MAX 384
#define PV_ROWS 8
#define PV_NV 2

_Static_assert(BK % BC == 0, "a tile is a whole number of sub-tiles");
_Static_assert(BC % (4 * QK_NV) == 0, "qk covers the sub-tile with whole register tiles");
_Static_assert(ROWS_MAX % MR == 0, "rows_max is a multiple of mr");
_Static_assert(MR % PV_ROWS == 0, "pv row blocks tile the rows (a multiple of mr)");
_Static_assert(MR <= 8, "softmax keeps m, l and alpha of a row block in two vectors");

static const float iota_f32[4] = {0.0f, 1.0f, 2.0f, 3.0f};
static const int32_t iota_i32[4] = {0, 1, 2, 3};

/* ---- loads and stores of partial vectors ----------------------------------------- */

/* the first n (0..4) lanes of x to p; p[n..3] is never written. */
static inline void store_f32_part(float *p, float32x4_t x, int64_t n)
{
    if (n >= 4) {
        vst1q_f32(p, x);
        return;
    }
    if (n >= 2) {
        vst1_f32(p, vget_low_f32(x));
        if (n == 3) vst1q_lane_f32(p + 2, x, 2);
    } else if (n == 1) {
        vst1q_lane_f32(p, x, 0);
    }
}

/* ---- exp2 and tanh ----------------------------------------------------------------- */

/* 2^x for x <= 0; -inf -> 0, NaN -> NaN, results below 2^-126 flush to 0. The degree-5
 * polynomial of the x86 kernels for 2^f on [-1/2, 1/2]; 2^n built in the exponent field
 * (n in [-126, 0] after the clamp, so the biased exponent is 1..127). */
static inline float32x4_t exp2_neg(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(-126.0f);
    uint32x4_t keep = vmvnq_u32(vcltq_f32(x, lo)); /* x >= -126 or NaN */
    x = vmaxq_f32(lo, x);                          /* FMAX: NaN stays NaN */
    float32x4_t n = vrndnq_f32(x);                 /* nearest, ties to even */
    float32x4_t f = vsubq_f32(x, n);
    float32x4_t p = vdupq_n_f32(0x1.5bba0ep-10f);
    p = vfmaq_f32(vdupq_n_f32(0x1.3cea88p-7f), p, f);
    p = vfmaq_f32(vdupq_n_f32(0x1.c6b752p-5f), p, f);
    p = vfmaq_f32(vdupq_n_f32(0x1.ebf9bcp-3f), p, f);
    p = vfmaq_f32(vdupq_n_f32(0x1.62e42ap-1f), p, f);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, f);
    /* NaN lanes: FCVTZS gives 0, so the scale is 1.0 and the product stays NaN */
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(y), keep));
}

/* tanh(x) = (1 - e^-2|x|) / (1 + e^-2|x|) with the sign of x, through exp2_neg. */
static inline float32x4_t tanh_ps(float32x4_t x)
{
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    float32x4_t e = exp2_neg(vmulq_f32(vabsq_f32(x), vdupq_n_f32(-2.0f * TP_LOG2E)));
    float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t t = vdivq_f32(vsubq_f32(one, e), vaddq_f32(one, e));
    return vreinterpretq_f32_u32(
        vorrq_u32(vreinterpretq_u32_f32(t), vandq_u32(vreinterpretq_u32_f32(x), sign)));
}

/* ---- packing --------------------------------------------------------------------- */

static void pack_rows(const char *src, tprim_dtype dt, int64_t sr, int64_t ss, int64_t rows,
                      int64_t cols, float scale, float *dst, int64_t ldd)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    const float32x4_t vs = vdupq_n_f32(scale);
    for (int64_t r = 0; r < rows; r++) {
        const char *s = src + r * sr * es;
        float *d = dst + r * ldd;
        if (ss == 1) {
            int64_t c = 0;
            for (; c + 8 <= cols; c += 8) {
                float32x4_t x0 = load4(s + c * es, dt, 4), x1 = load4(s + (c + 4) * es, dt, 4);
                vst1q_f32(d + c, vmulq_f32(vs, x0));
                vst1q_f32(d + c + 4, vmulq_f32(vs, x1));
            }
            for (; c < cols; c += 4) {
                int64_t m = TP_MIN(4, cols - c);
                store_f32_part(d + c, vmulq_f32(vs, load4(s + c * es, dt, m)), m);
            }
        } else {
            for (int64_t c = 0; c < cols; c++) d[c] = scale * tp_load_f32(s + c * ss * es, dt);
        }
    }
}

static void pack_kt(const char *k, tprim_dtype dt, int64_t sk, int64_t sd, int64_t nk, int64_t D,
                    float *kt)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    if (sd != 1) {
        for (int64_t d = 0; d < D; d++)
            for (int64_t c = 0; c < BC; c++)
                kt[d * BC + c] = c < nk ? tp_load_f32(k + (c * sk + d * sd) * es, dt) : 0.0f;
        return;
    }
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (int64_t c0 = 0; c0 < BC; c0 += 4) {
        if (c0 >= nk) { /* padding keys */
            for (int64_t d = 0; d < D; d++) vst1q_f32(kt + d * BC + c0, zero);
            continue;
        }
        for (int64_t d0 = 0; d0 < D; d0 += 4) {
            const int64_t nd = TP_MIN(4, D - d0);
            float32x4_t r[4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                r[i] = c0 + i < nk ? load4(k + ((c0 + i) * sk + d0) * es, dt, nd) : zero;
            transpose4(r);
            if (nd == 4) {
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) vst1q_f32(kt + (d0 + j) * BC + c0, r[j]);
            } else {
                for (int64_t j = 0; j < nd; j++) vst1q_f32(kt + (d0 + j) * BC + c0, r[j]);
            }
        }
    }
}

/* ---- qk: S = Q Kt with biases, ALiBi, soft-cap and masks -------------------------- */

/* all-ones in lanes with lo <= c0 + lane < hi */
static inline uint32x4_t lane_mask(int32_t lo, int32_t hi, int32_t c0)
{
    int32x4_t c = vaddq_s32(vld1q_s32(iota_i32), vdupq_n_s32(c0));
    return vandq_u32(vcgeq_s32(c, vdupq_n_s32(lo)), vcltq_s32(c, vdupq_n_s32(hi)));
}

/* columns c0..c0+3 of a bias row as f32, reading only columns va..vb-1 (the visible
 * ones); the others are 0. */
static inline float32x4_t load_cols(const float *row, int32_t va, int32_t vb, int32_t c0)
{
    if (va <= c0 && vb >= c0 + 4) return vld1q_f32(row + c0);
    float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int32_t c = va; c < vb; c++) tmp[c - c0] = row[c];
    return vld1q_f32(tmp);
}

/* Second pass over the stored tile when anything beyond the plain product applies:
 * soft-cap, biases (read only where visible), ALiBi, -inf outside [lo, hi). Rows that
 * see nothing never form their bias row addresses. */
static void __attribute__((noinline)) qk_finish(const tp_qk_args *a)
{
    const float32x4_t ninf = vdupq_n_f32(-INFINITY), log2e = vdupq_n_f32(TP_LOG2E);
    const float32x4_t iota = vld1q_f32(iota_f32);
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * a->lds;
        const int32_t lo = a->masked ? a->lo[r] : 0, hi = a->masked ? a->hi[r] : BC;
        const float *brow[2] = {NULL, NULL};
        if (lo < hi)
            for (int x = 0; x < a->nbias; x++) brow[x] = a->bias[x] + r * a->bias_ld[x];
        for (int32_t c0 = 0; c0 < BC; c0 += 4) {
            const int32_t va = TP_MAX(lo, c0), vb = TP_MIN(hi, c0 + 4);
            if (va >= vb) { /* nothing visible in this vector */
                vst1q_f32(s + c0, ninf);
                continue;
            }
            float32x4_t t = vld1q_f32(s + c0);
            if (a->softcap != 0.0f) t = vmulq_f32(tanh_ps(t), vdupq_n_f32(a->softcap));
            for (int x = 0; x < a->nbias; x++)
                t = vfmaq_f32(t, load_cols(brow[x], va, vb, c0), log2e);
            if (a->alibi) {
                float32x4_t dist = vsubq_f32(vdupq_n_f32(a->alibi_d[r]),
                                             vaddq_f32(iota, vdupq_n_f32((float)c0)));
                t = vfmaq_f32(t, vabsq_f32(dist), vdupq_n_f32(a->alibi[r]));
            }
            if (va > c0 || vb < c0 + 4) t = vbslq_f32(lane_mask(va, vb, c0), t, ninf);
            vst1q_f32(s + c0, t);
        }
    }
}

/* Columns c0..c0+7 of the tile: an MR x 2 register tile over all of D. Steps of 4 d
 * load one vector of q per row (q[r][d..d+3]) and use its lanes with FMLA by element,
 * so each step is 8 q loads + 8 kt loads for 64 FMAs. */
#define QK_STEP(k)                                                                             \
    do {                                                                                       \
        const float *kd = kt + (d + (k)) * BC;                                                 \
        const float32x4_t b0 = vld1q_f32(kd), b1 = vld1q_f32(kd + 4);                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                 \
            acc[r][0] = vfmaq_laneq_f32(acc[r][0], b0, qv[r], (k));                            \
            acc[r][1] = vfmaq_laneq_f32(acc[r][1], b1, qv[r], (k));                            \
        }                                                                                      \
    } while (0)

static inline void qk_tile(const tp_qk_args *a, int c0)
{
    float32x4_t acc[MR][QK_NV];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < QK_NV; v++) acc[r][v] = vdupq_n_f32(0.0f);
    const float *q = a->q, *kt = a->kt + c0;
    const int64_t ldq = a->ldq, D = a->D;
    int64_t d = 0;
    for (; d + 4 <= D; d += 4) {
        float32x4_t qv[MR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) qv[r] = vld1q_f32(q + r * ldq + d);
        QK_STEP(0);
        QK_STEP(1);
        QK_STEP(2);
        QK_STEP(3);
    }
    for (; d < D; d++) { /* D % 4 tail: q one value at a time */
        const float *kd = kt + d * BC;
        const float32x4_t b0 = vld1q_f32(kd), b1 = vld1q_f32(kd + 4);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const float x = q[r * ldq + d];
            acc[r][0] = vfmaq_n_f32(acc[r][0], b0, x);
            acc[r][1] = vfmaq_n_f32(acc[r][1], b1, x);
        }
    }
    float *s = a->s + c0;
    const int64_t lds = a->lds;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < QK_NV; v++) vst1q_f32(s + r * lds + 4 * v, acc[r][v]);
}

static void qk(const tp_qk_args *a)
{
#pragma GCC unroll 2
    for (int c0 = 0; c0 < BC; c0 += 4 * QK_NV) qk_tile(a, c0);
    if (a->masked || a->nbias > 0 || a->alibi || a->softcap != 0.0f) qk_finish(a);
}

/* ---- softmax: online update over one tile ------------------------------------------ */

static void softmax(const tp_softmax_args *a)
{
    const int64_t nv = a->ncols / 4, lds = a->lds;
    float mu[8] = {0}, rs[8] = {0}, mn[8] = {0};
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * lds;
        /* FMAXNM: a NaN score does not become the row max; it turns into a NaN of P
         * below and so reaches the output, while every other exponent stays <= 0 */
        float32x4_t mx0 = vld1q_f32(s), mx1 = mx0;
        int64_t v = 1;
        for (; v + 2 <= nv; v += 2) {
            mx0 = vmaxnmq_f32(mx0, vld1q_f32(s + 4 * v));
            mx1 = vmaxnmq_f32(mx1, vld1q_f32(s + 4 * v + 4));
        }
        if (v < nv) mx0 = vmaxnmq_f32(mx0, vld1q_f32(s + 4 * v));
        const float rowmax = vmaxnmvq_f32(vmaxnmq_f32(mx0, mx1));
        const float mo = a->m[r];
        const float m_new = rowmax > mo ? rowmax : mo;
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float32x4_t vm = vdupq_n_f32(m_use);
        float32x4_t sum0 = vdupq_n_f32(0.0f), sum1 = vdupq_n_f32(0.0f);
        for (v = 0; v + 2 <= nv; v += 2) {
            float32x4_t p0 = exp2_neg(vsubq_f32(vld1q_f32(s + 4 * v), vm));
            float32x4_t p1 = exp2_neg(vsubq_f32(vld1q_f32(s + 4 * v + 4), vm));
            vst1q_f32(s + 4 * v, p0);
            vst1q_f32(s + 4 * v + 4, p1);
            sum0 = vaddq_f32(sum0, p0);
            sum1 = vaddq_f32(sum1, p1);
        }
        if (v < nv) {
            float32x4_t p0 = exp2_neg(vsubq_f32(vld1q_f32(s + 4 * v), vm));
            vst1q_f32(s + 4 * v, p0);
            sum0 = vaddq_f32(sum0, p0);
        }
        rs[r] = vaddvq_f32(vaddq_f32(sum0, sum1));
        mu[r] = m_use;
        mn[r] = m_new;
    }
    /* alpha = exp2(m_old - m_use), l = alpha * l + rowsum, for the rows in two vectors
     * (MR = 8 fills them; with a smaller MR the lanes past it would compute exp2(0) on
     * zeros and be dropped) */
    float mold[8] = {0}, lold[8] = {0}, al[8], ln[8];
    memcpy(mold, a->m, MR * sizeof(float));
    memcpy(lold, a->l, MR * sizeof(float));
#pragma GCC unroll 2
    for (int h = 0; h < 8; h += 4) {
        float32x4_t alpha = exp2_neg(vsubq_f32(vld1q_f32(mold + h), vld1q_f32(mu + h)));
        vst1q_f32(al + h, alpha);
        vst1q_f32(ln + h, vfmaq_f32(vld1q_f32(rs + h), vld1q_f32(lold + h), alpha));
    }
    memcpy(a->alpha, al, MR * sizeof(float));
    memcpy(a->l, ln, MR * sizeof(float));
    memcpy(a->m, mn, MR * sizeof(float));
}

/* ---- pv: O = alpha O + P V -------------------------------------------------------- */

/* Rows r0..r0+PV_ROWS-1, NVV vectors of columns from c0. With PART the last vector has
 * nlast (1..3) valid columns and only those are read from v. O rows are padded to a
 * multiple of 4 (scratch columns), so O is loaded and stored in whole vectors. Steps of
 * 4 keys load one vector of P per row and use its lanes with FMLA by element. */
#define PV_LOADV(b, vr)                                                                        \
    do {                                                                                       \
        _Pragma("GCC unroll 4") for (int v = 0; v < NVV_ - 1; v++)                             \
            b[v] = vld1q_f32((vr) + 4 * v);                                                    \
        b[NVV_ - 1] = PART_ ? load_f32_part((vr) + 4 * (NVV_ - 1), nlast)                      \
                            : vld1q_f32((vr) + 4 * (NVV_ - 1));                                \
    } while (0)
#define PV_STEP(k)                                                                             \
    do {                                                                                       \
        float32x4_t b[NVV_];                                                                   \
        PV_LOADV(b, vb + (j + (k)) * ldv);                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NVV_; v++)                             \
                acc[r][v] = vfmaq_laneq_f32(acc[r][v], b[v], pr[r], (k));                      \
    } while (0)
#define PV_BLOCK(NAME, NVV, PART)                                                              \
    static void __attribute__((noinline)) NAME(const tp_pv_args *a, int64_t r0, int64_t c0,    \
                                               int64_t nlast)                                  \
    {                                                                                          \
        enum { NVV_ = NVV, PART_ = PART };                                                     \
        float32x4_t acc[PV_ROWS][NVV_];                                                        \
        float *o = a->o + r0 * a->ldo + c0;                                                    \
        const int64_t ldo = a->ldo, ldv = a->ldv, ldp = a->ldp, nk = a->nk;                    \
        _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++) {                            \
            const float32x4_t al = vdupq_n_f32(a->alpha[r0 + r]);                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NVV_; v++)                             \
                acc[r][v] = vmulq_f32(al, vld1q_f32(o + r * ldo + 4 * v));                     \
        }                                                                                      \
        const float *p = a->p + r0 * ldp;                                                      \
        const float *vb = a->v + c0;                                                           \
        int64_t j = 0;                                                                         \
        for (; j + 4 <= nk; j += 4) {                                                          \
            float32x4_t pr[PV_ROWS];                                                           \
            _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++)                          \
                pr[r] = vld1q_f32(p + r * ldp + j);                                            \
            PV_STEP(0);                                                                        \
            PV_STEP(1);                                                                        \
            PV_STEP(2);                                                                        \
            PV_STEP(3);                                                                        \
        }                                                                                      \
        for (; j < nk; j++) { /* nk % 4 tail: one key at a time */                             \
            float32x4_t b[NVV_];                                                               \
            PV_LOADV(b, vb + j * ldv);                                                         \
            _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++) {                        \
                const float x = p[r * ldp + j];                                                \
                _Pragma("GCC unroll 4") for (int v = 0; v < NVV_; v++)                         \
                    acc[r][v] = vfmaq_n_f32(acc[r][v], b[v], x);                               \
            }                                                                                  \
        }                                                                                      \
        _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < NVV_; v++)                             \
                vst1q_f32(o + r * ldo + 4 * v, acc[r][v]);                                     \
    }
PV_BLOCK(pv_block_1, 1, 0)
PV_BLOCK(pv_block_2, 2, 0)
PV_BLOCK(pv_block_1p, 1, 1)
PV_BLOCK(pv_block_2p, 2, 1)

static void pv(const tp_pv_args *a)
{
    const int64_t nvec = (a->Dv + 3) / 4;
    const int64_t ntail = a->Dv - (nvec - 1) * 4;
    /* column blocks outermost: the 8 columns of v of one block stay in L1 while the row
     * blocks stream P */
    for (int64_t v0 = 0; v0 < nvec; v0 += PV_NV) {
        const int64_t nv = TP_MIN(PV_NV, nvec - v0);
        const int64_t nlast = v0 + nv == nvec ? ntail : 4;
        for (int64_t r0 = 0; r0 < a->rows; r0 += PV_ROWS) {
            if (nlast == 4) {
                if (nv == 2) pv_block_2(a, r0, v0 * 4, nlast);
                else pv_block_1(a, r0, v0 * 4, nlast);
            } else {
                if (nv == 2) pv_block_2p(a, r0, v0 * 4, nlast);
                else pv_block_1p(a, r0, v0 * 4, nlast);
            }
        }
    }
}

/* ---- output ---------------------------------------------------------------------- */

static void store_row(const float *o, float inv, int64_t n, char *dst, tprim_dtype dt, int64_t sd)
{
    const float32x4_t vi = vdupq_n_f32(inv);
    if (sd != 1) {
        for (int64_t c = 0; c < n; c++)
            tp_store_f32(dst + c * sd * (int64_t)tprim_dtype_size(dt), dt, o[c] * inv);
        return;
    }
    /* o is a row of O, padded to a multiple of 4: whole-vector loads stay inside it */
    for (int64_t c = 0; c < n; c += 4) {
        const int64_t m = TP_MIN(4, n - c);
        float32x4_t x = vmulq_f32(vld1q_f32(o + c), vi);
        if (dt == TPRIM_F32) {
            store_f32_part((float *)dst + c, x, m);
            continue;
        }
        uint16x4_t h = dt == TPRIM_BF16 ? bf16_round4(x)
                                        : vreinterpret_u16_f16(vcvt_f16_f32(x)); /* RNE */
        if (m == 4) {
            vst1_u16((uint16_t *)dst + c, h);
        } else {
            uint16_t tmp[4];
            vst1_u16(tmp, h);
            memcpy((uint16_t *)dst + c, tmp, (size_t)m * 2);
        }
    }
}

/* ---- backward: P = exp2(S - lse2), dS = P (dP - delta) ------------------------------ */

static void bwd_ds(const tp_bwd_ds_args *a)
{
    const int64_t nv = a->ncols / 4;
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * a->lds, *dp = a->dp + r * a->lddp;
        if (a->row_lse2) {
            const float32x4_t l2 = vdupq_n_f32(a->row_lse2[r]), dl = vdupq_n_f32(a->row_delta[r]);
            for (int64_t v = 0; v < nv; v++) {
                float32x4_t p = exp2_neg(vsubq_f32(vld1q_f32(s + 4 * v), l2));
                vst1q_f32(s + 4 * v, p);
                vst1q_f32(dp + 4 * v, vmulq_f32(p, vsubq_f32(vld1q_f32(dp + 4 * v), dl)));
            }
        } else {
            for (int64_t v = 0; v < nv; v++) {
                float32x4_t p = exp2_neg(vsubq_f32(vld1q_f32(s + 4 * v), vld1q_f32(a->col_lse2 + 4 * v)));
                vst1q_f32(s + 4 * v, p);
                float32x4_t d = vsubq_f32(vld1q_f32(dp + 4 * v), vld1q_f32(a->col_delta + 4 * v));
                vst1q_f32(dp + 4 * v, vmulq_f32(p, d));
            }
        }
    }
}

static void acc_row(float *dst, const float *src, int64_t n)
{
    int64_t c = 0;
    for (; c + 4 <= n; c += 4) vst1q_f32(dst + c, vaddq_f32(vld1q_f32(dst + c), vld1q_f32(src + c)));
    for (; c < n; c++) dst[c] += src[c];
}

static const tp_flash_ukr neon_ukr = {
    .mr = MR,
    .bc = BC,
    .bk = BK,
    .vw = 4,
    .rows_max = ROWS_MAX,
    .pack_rows = pack_rows,
    .pack_kt = pack_kt,
    .qk = qk,
    .softmax = softmax,
    .pv = pv,
    .bwd_ds = bwd_ds,
    .acc_row = acc_row,
    .store_row = store_row,
};

TP_FLASH_KERNEL(tp_attn_neon_kernel, "neon", TP_FAMILY_NEON, 20, neon_ukr);
