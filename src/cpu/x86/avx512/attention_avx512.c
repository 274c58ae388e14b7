/* attention_avx512.c -- AVX-512 micro-kernels for the flash-attention driver.
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512dq (+avx2, fma, f16c) and called
 * only when the CPU and OS have all of them (see dispatch.c).
 *
 * Blocksizes (one place; docs/notes/attention_cpu.md has the measurements):
 *   qk: MR = 12 rows x NV = 2 vectors (BC = 32 keys) = 24 zmm accumulators; each step
 *       over d loads 2 vectors of kt and broadcasts 12 q values (14 loads for 24 FMAs,
 *       under the 2 loads/cycle the core allows); kt [D][32] stays in L1 (16 KiB at
 *       D = 128).
 *   BK = 128 keys per tile: one horizontal max and sum per row and tile in the softmax
 *       pass, and a pv loop of 128 keys per load and store of O.
 *   pv: 6 rows x 4 vectors (64 columns of Dv) = 24 accumulators; each key step loads 4
 *       vectors of the packed V tile and broadcasts 6 probabilities.
 *   ROWS_MAX = 384 rows per work item (fewer for large D, see tp_flash_rows): every
 *       packed K sub-tile and V tile serves up to 384 rows.
 */
#include "../../attention_flash.h"

#include <immintrin.h>
#include "avx512_util.h"
#include <math.h>
#include <string.h>

#define MR 12
#define NV 2
#define BC (16 * NV)
#define BK 128
#define ROWS_MAX 384
#define PV_ROWS 6
#define PV_NV 4

/* ---- conversions ------------------------------------------------------------ */

/* ---- exp2 ------------------------------------------------------------------- */

/* 2^x for x <= 0 (also -inf -> 0 and NaN -> NaN). Results below 2^-126 flush to 0
 * so that no subnormal ever enters the arithmetic. Degree-5 polynomial for 2^f on
 * [-1/2, 1/2] (relative error < 2e-7, fitted for tprim), scaled by 2^n with scalef. */
static inline __m512 exp2_neg(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-126.0f);
    __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ); /* x >= -126 or NaN */
    x = _mm512_max_ps(lo, x);                                /* NaN stays NaN */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(0x1.5bba0ep-10f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.3cea88p-7f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.c6b752p-5f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.ebf9bcp-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.62e42ap-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(keep, p, n);
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1), evaluated through exp2 of -|2x log2 e| for
 * stability, sign restored. */
static inline __m512 tanh_ps(__m512 x)
{
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    __m512 ax = _mm512_andnot_ps(sign, x);
    __m512 e = exp2_neg(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f * TP_LOG2E))); /* e^-2|x| */
    __m512 t = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), e),
                             _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    return _mm512_or_ps(t, _mm512_and_ps(x, sign));
}

/* ---- packing ------------------------------------------------------------------ */

static void pack_rows(const char *src, tprim_dtype dt, int64_t sr, int64_t ss, int64_t rows,
                      int64_t cols, float scale, float *dst, int64_t ldd)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    const __m512 vs = _mm512_set1_ps(scale);
    for (int64_t r = 0; r < rows; r++) {
        const char *s = src + r * sr * es;
        float *d = dst + r * ldd;
        if (ss == 1) {
            int64_t c = 0;
            for (; c + 16 <= cols; c += 16)
                _mm512_storeu_ps(d + c, _mm512_mul_ps(vs, load16(s + c * es, dt, 0xffff)));
            if (c < cols) {
                __mmask16 k = tail_mask(cols - c);
                _mm512_mask_storeu_ps(d + c, k, _mm512_mul_ps(vs, load16(s + c * es, dt, k)));
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
    for (int64_t c0 = 0; c0 < BC; c0 += 16)
        for (int64_t d0 = 0; d0 < D; d0 += 16) {
            __mmask16 kd = tail_mask(D - d0);
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = c0 + i < nk ? load16(k + ((c0 + i) * sk + d0) * es, dt, kd)
                                   : _mm512_setzero_ps();
            transpose16(r);
            if (D - d0 >= 16) {
#pragma GCC unroll 16
                for (int j = 0; j < 16; j++) _mm512_storeu_ps(kt + (d0 + j) * BC + c0, r[j]);
            } else {
                for (int64_t j = 0; j < D - d0; j++) _mm512_storeu_ps(kt + (d0 + j) * BC + c0, r[j]);
            }
        }
}

/* ---- qk: S = Q Kt with biases, ALiBi, soft-cap and masks -------------------------- */

static void qk(const tp_qk_args *a)
{
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    const float *q = a->q, *kt = a->kt;
    const int64_t ldq = a->ldq, D = a->D;
    for (int64_t d = 0; d < D; d++, kt += BC, q++) {
        __m512 b[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(kt + 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(q[r * ldq]);
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(x, b[v], acc[r][v]);
        }
    }

    const int plain = !a->masked && a->nbias == 0 && !a->alibi && a->softcap == 0.0f;
    if (plain) { /* the common case: store the tile as it is */
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(a->s + r * a->lds + 16 * v, acc[r][v]);
        return;
    }
    if (!a->masked && !a->alibi && a->softcap == 0.0f) {
        /* the biased case of the Evoformer (mask bias + pair bias), branch-free */
        const __m512 l2e = _mm512_set1_ps(TP_LOG2E);
        const float *b0 = a->bias[0], *b1 = a->bias[1];
        const int64_t ld0 = a->bias_ld[0], ld1 = a->bias_ld[1];
        if (a->nbias == 1) {
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++)
                    _mm512_storeu_ps(a->s + r * a->lds + 16 * v,
                                     _mm512_fmadd_ps(_mm512_loadu_ps(b0 + r * ld0 + 16 * v), l2e, acc[r][v]));
        } else {
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++) {
                    __m512 bsum = _mm512_add_ps(_mm512_loadu_ps(b0 + r * ld0 + 16 * v),
                                                _mm512_loadu_ps(b1 + r * ld1 + 16 * v));
                    _mm512_storeu_ps(a->s + r * a->lds + 16 * v, _mm512_fmadd_ps(bsum, l2e, acc[r][v]));
                }
        }
        return;
    }
    const __m512 ninf = _mm512_set1_ps(-INFINITY), log2e = _mm512_set1_ps(TP_LOG2E);
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        __mmask16 km[NV];
        if (a->masked) {
            uint32_t lo = (uint32_t)a->lo[r], hi = (uint32_t)a->hi[r];
            uint64_t bits = (hi >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << hi) - 1)) & ~(((uint64_t)1 << lo) - 1);
            for (int v = 0; v < NV; v++) km[v] = (__mmask16)(bits >> (16 * v));
        } else {
            for (int v = 0; v < NV; v++) km[v] = 0xffff;
        }
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
            __m512 t = acc[r][v];
            if (a->softcap != 0.0f) t = _mm512_mul_ps(tanh_ps(t), _mm512_set1_ps(a->softcap));
            for (int x = 0; x < a->nbias; x++) {
                __m512 bv = _mm512_maskz_loadu_ps(km[v], a->bias[x] + r * a->bias_ld[x] + 16 * v);
                t = _mm512_fmadd_ps(bv, log2e, t);
            }
            if (a->alibi) {
                __m512 dist = _mm512_sub_ps(_mm512_set1_ps(a->alibi_d[r]),
                                            _mm512_add_ps(iota, _mm512_set1_ps((float)(16 * v))));
                t = _mm512_fmadd_ps(_mm512_abs_ps(dist), _mm512_set1_ps(a->alibi[r]), t);
            }
            _mm512_storeu_ps(a->s + r * a->lds + 16 * v, _mm512_mask_mov_ps(ninf, km[v], t));
        }
    }
}

/* ---- softmax: online update over one tile ------------------------------------------ */

static void softmax(const tp_softmax_args *a)
{
    const int64_t nv = a->ncols / 16, lds = a->lds;
    float mu[16], rs[16], mn[16];
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * lds;
        __m512 mx = _mm512_loadu_ps(s);
        for (int64_t v = 1; v < nv; v++) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + 16 * v));
        float rowmax = _mm512_reduce_max_ps(mx);
        float mo = a->m[r];
        float m_new = rowmax > mo ? rowmax : mo;
        float m_use = m_new == -INFINITY ? 0.0f : m_new;
        __m512 vm = _mm512_set1_ps(m_use);
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        int64_t v = 0;
        for (; v + 2 <= nv; v += 2) {
            __m512 p0 = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * v), vm));
            __m512 p1 = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * v + 16), vm));
            _mm512_storeu_ps(s + 16 * v, p0);
            _mm512_storeu_ps(s + 16 * v + 16, p1);
            sum0 = _mm512_add_ps(sum0, p0);
            sum1 = _mm512_add_ps(sum1, p1);
        }
        if (v < nv) {
            __m512 p0 = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * v), vm));
            _mm512_storeu_ps(s + 16 * v, p0);
            sum0 = _mm512_add_ps(sum0, p0);
        }
        rs[r] = _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
        mu[r] = m_use;
        mn[r] = m_new;
    }
    /* alpha = exp2(m_old - m_use) and l = alpha * l + rowsum for all rows at once */
    const __mmask16 kr = tail_mask(MR);
    __m512 mold = _mm512_maskz_loadu_ps(kr, a->m);
    __m512 alpha = exp2_neg(_mm512_sub_ps(mold, _mm512_maskz_loadu_ps(kr, mu)));
    __m512 l = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kr, a->l), alpha, _mm512_maskz_loadu_ps(kr, rs));
    _mm512_mask_storeu_ps(a->alpha, kr, alpha);
    _mm512_mask_storeu_ps(a->l, kr, l);
    memcpy(a->m, mn, MR * sizeof(float));
}

/* ---- pv: O = alpha O + P V -------------------------------------------------------- */

/* rows r0..r0+PV_ROWS-1, NVV vectors of columns starting at column c0 */
#define PV_BLOCK(NVV)                                                                         \
    static inline void pv_block_##NVV(const tp_pv_args *a, int64_t r0, int64_t c0,            \
                                      __mmask16 klast)                                       \
    {                                                                                         \
        __m512 acc[PV_ROWS][NVV];                                                             \
        float *o = a->o + r0 * a->ldo + c0;                                                   \
        const int64_t ldo = a->ldo, ldv = a->ldv, nk = a->nk;                                 \
        _Pragma("GCC unroll 16") for (int r = 0; r < PV_ROWS; r++) {                           \
            __m512 al = _mm512_set1_ps(a->alpha[r0 + r]);                                     \
            _Pragma("GCC unroll 16") for (int v = 0; v < NVV; v++)                             \
                acc[r][v] = _mm512_mul_ps(al, _mm512_loadu_ps(o + r * ldo + 16 * v));         \
        }                                                                                     \
        const float *p = a->p + r0 * a->ldp;                                                  \
        const int64_t ldp = a->ldp;                                                           \
        const float *vr = a->v + c0;                                                          \
        for (int64_t j = 0; j < nk; j++, vr += ldv, p++) {                                    \
            __m512 b[NVV];                                                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < NVV - 1; v++)                         \
                b[v] = _mm512_loadu_ps(vr + 16 * v);                                          \
            b[NVV - 1] = _mm512_maskz_loadu_ps(klast, vr + 16 * (NVV - 1));                   \
            _Pragma("GCC unroll 16") for (int r = 0; r < PV_ROWS; r++) {                       \
                __m512 x = _mm512_set1_ps(p[r * ldp]);                                         \
                _Pragma("GCC unroll 16") for (int v = 0; v < NVV; v++)                         \
                    acc[r][v] = _mm512_fmadd_ps(x, b[v], acc[r][v]);                          \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 16") for (int r = 0; r < PV_ROWS; r++)                             \
            _Pragma("GCC unroll 16") for (int v = 0; v < NVV; v++)                             \
                _mm512_storeu_ps(o + r * ldo + 16 * v, acc[r][v]);                            \
    }
PV_BLOCK(1)
PV_BLOCK(2)
PV_BLOCK(3)
PV_BLOCK(4)

static void pv(const tp_pv_args *a)
{
    const int64_t nvec = (a->Dv + 15) / 16;
    const __mmask16 ktail = tail_mask(a->Dv - (nvec - 1) * 16);
    for (int64_t v0 = 0; v0 < nvec; v0 += PV_NV) {
        int64_t nv = TP_MIN(PV_NV, nvec - v0);
        __mmask16 kl = v0 + nv == nvec ? ktail : (__mmask16)0xffff;
        for (int64_t r0 = 0; r0 < a->rows; r0 += PV_ROWS) {
            switch (nv) {
            case 4: pv_block_4(a, r0, v0 * 16, kl); break;
            case 3: pv_block_3(a, r0, v0 * 16, kl); break;
            case 2: pv_block_2(a, r0, v0 * 16, kl); break;
            default: pv_block_1(a, r0, v0 * 16, kl); break;
            }
        }
    }
}

/* ---- backward: P = exp2(S - lse2), dS = P (dP - delta) ------------------------------ */

static void bwd_ds(const tp_bwd_ds_args *a)
{
    const int64_t nv = a->ncols / 16;
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * a->lds, *dp = a->dp + r * a->lddp;
        if (a->row_lse2) {
            const __m512 l2 = _mm512_set1_ps(a->row_lse2[r]), dl = _mm512_set1_ps(a->row_delta[r]);
            for (int64_t v = 0; v < nv; v++) {
                __m512 p = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * v), l2));
                _mm512_storeu_ps(s + 16 * v, p);
                _mm512_storeu_ps(dp + 16 * v, _mm512_mul_ps(p, _mm512_sub_ps(_mm512_loadu_ps(dp + 16 * v), dl)));
            }
        } else {
            for (int64_t v = 0; v < nv; v++) {
                __m512 p = exp2_neg(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * v),
                                                  _mm512_loadu_ps(a->col_lse2 + 16 * v)));
                _mm512_storeu_ps(s + 16 * v, p);
                __m512 d = _mm512_sub_ps(_mm512_loadu_ps(dp + 16 * v), _mm512_loadu_ps(a->col_delta + 16 * v));
                _mm512_storeu_ps(dp + 16 * v, _mm512_mul_ps(p, d));
            }
        }
    }
}

static void acc_row(float *dst, const float *src, int64_t n)
{
    for (int64_t c = 0; c < n; c += 16) {
        __mmask16 k = tail_mask(n - c);
        _mm512_mask_storeu_ps(dst + c, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, dst + c),
                                                        _mm512_maskz_loadu_ps(k, src + c)));
    }
}

/* ---- output ---------------------------------------------------------------------- */

static void store_row(const float *o, float inv, int64_t n, char *dst, tprim_dtype dt, int64_t sd)
{
    const __m512 vi = _mm512_set1_ps(inv);
    if (sd != 1) {
        for (int64_t c = 0; c < n; c++)
            tp_store_f32(dst + c * sd * (int64_t)tprim_dtype_size(dt), dt, o[c] * inv);
        return;
    }
    for (int64_t c = 0; c < n; c += 16) {
        __mmask16 k = tail_mask(n - c);
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(o + c), vi);
        switch (dt) {
        case TPRIM_F32: _mm512_mask_storeu_ps((float *)dst + c, k, x); break;
        case TPRIM_BF16:
            _mm256_mask_storeu_epi16((uint16_t *)dst + c, k, _mm512_cvtepi32_epi16(f32_to_bf16_lanes(x)));
            break;
        default:
            _mm256_mask_storeu_epi16((uint16_t *)dst + c, k,
                                     _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            break;
        }
    }
}

static const tp_flash_ukr avx512_ukr = {
    .mr = MR,
    .bc = BC,
    .bk = BK,
    .vw = 16,
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

TP_FLASH_KERNEL(tp_attn_avx512_kernel, "avx512", TP_FAMILY_AVX512, 30, avx512_ukr);
