/* attention_avx2.c -- AVX2 + FMA (+F16C) micro-kernels for the flash-attention driver.
 *
 * Blocksizes (16 ymm registers):
 *   qk: MR = 6 rows x NV = 2 vectors (BC = 16 keys) = 12 accumulators + 2 kt vectors + 1
 *       broadcast, the shape of BLIS's Haswell sgemm kernel.
 *   BK = 128 keys per tile (one horizontal max and sum per row and tile).
 *   pv: 6 rows x 2 vectors (16 columns of Dv) = 12 accumulators over 128 keys.
 *   ROWS_MAX = 384 rows per work item (fewer for large D, see tp_flash_rows).
 */
#include "../../attention_flash.h"

#include <immintrin.h>
#include "avx2_util.h"
#include <math.h>
#include <string.h>

#define MR 6
#define NV 2
#define BC (8 * NV)
#define BK 128
#define ROWS_MAX 384
#define PV_ROWS 6
#define PV_NV 2

/* all-ones in lanes lo <= lane < hi (lanes counted from `base`) */
static inline __m256i lane_mask(int64_t lo, int64_t hi)
{
    __m256i i = _mm256_loadu_si256((const __m256i *)iota_i32);
    __m256i ge = _mm256_cmpgt_epi32(i, _mm256_set1_epi32((int)lo - 1));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), i);
    return _mm256_and_si256(ge, lt);
}

static inline float hmax8(__m256 x)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hsum8(__m256 x)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 2^x for x <= 0; -inf -> 0, NaN -> NaN, results below 2^-126 flush to 0. Same
 * polynomial as the AVX-512 kernel; 2^n built in the exponent field. */
static inline __m256 exp2_neg(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-126.0f);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_NLT_UQ);
    x = _mm256_max_ps(lo, x);
    __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(0x1.5bba0ep-10f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.3cea88p-7f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.c6b752p-5f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.ebf9bcp-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.62e42ap-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    /* NaN lanes: cvtps gives INT_MIN, the product stays NaN because p is NaN */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

static inline __m256 tanh_ps(__m256 x)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 e = exp2_neg(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f * TP_LOG2E)));
    __m256 t = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), e),
                             _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_or_ps(t, _mm256_and_ps(x, sign));
}

static void pack_rows(const char *src, tprim_dtype dt, int64_t sr, int64_t ss, int64_t rows,
                      int64_t cols, float scale, float *dst, int64_t ldd)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t r = 0; r < rows; r++) {
        const char *s = src + r * sr * es;
        float *d = dst + r * ldd;
        if (ss == 1) {
            int64_t c = 0;
            for (; c + 8 <= cols; c += 8) _mm256_storeu_ps(d + c, _mm256_mul_ps(vs, load8(s + c * es, dt, 8)));
            if (c < cols)
                _mm256_maskstore_ps(d + c, tail_mask(cols - c),
                                    _mm256_mul_ps(vs, load8(s + c * es, dt, cols - c)));
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
    for (int64_t c0 = 0; c0 < BC; c0 += 8)
        for (int64_t d0 = 0; d0 < D; d0 += 8) {
            int64_t nd = TP_MIN(8, D - d0);
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = c0 + i < nk ? load8(k + ((c0 + i) * sk + d0) * es, dt, nd) : _mm256_setzero_ps();
            transpose8(r);
            for (int64_t j = 0; j < nd; j++) _mm256_storeu_ps(kt + (d0 + j) * BC + c0, r[j]);
        }
}

static void qk(const tp_qk_args *a)
{
    __m256 acc[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    const float *q = a->q, *kt = a->kt;
    const int64_t ldq = a->ldq, D = a->D;
    for (int64_t d = 0; d < D; d++, kt += BC, q++) {
        __m256 b0 = _mm256_loadu_ps(kt);
        __m256 b1 = _mm256_loadu_ps(kt + 8);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m256 x = _mm256_broadcast_ss(q + r * ldq);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    if (!a->masked && !a->alibi && a->softcap == 0.0f) {
        /* no mask, no ALiBi, no soft-cap (the Evoformer's biases): branch-free */
        const __m256 l2e = _mm256_set1_ps(TP_LOG2E);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                __m256 t = acc[r][v];
                if (a->nbias == 1)
                    t = _mm256_fmadd_ps(_mm256_loadu_ps(a->bias[0] + r * a->bias_ld[0] + 8 * v), l2e, t);
                else if (a->nbias == 2)
                    t = _mm256_fmadd_ps(_mm256_add_ps(_mm256_loadu_ps(a->bias[0] + r * a->bias_ld[0] + 8 * v),
                                                      _mm256_loadu_ps(a->bias[1] + r * a->bias_ld[1] + 8 * v)),
                                        l2e, t);
                _mm256_storeu_ps(a->s + r * a->lds + 8 * v, t);
            }
        return;
    }
    const __m256 ninf = _mm256_set1_ps(-INFINITY), log2e = _mm256_set1_ps(TP_LOG2E);
    const __m256 iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m256 t = acc[r][v];
            __m256i km = a->masked ? lane_mask(a->lo[r] - 8 * v, a->hi[r] - 8 * v) : _mm256_set1_epi32(-1);
            if (a->softcap != 0.0f) t = _mm256_mul_ps(tanh_ps(t), _mm256_set1_ps(a->softcap));
            for (int x = 0; x < a->nbias; x++) {
                __m256 bv = _mm256_maskload_ps(a->bias[x] + r * a->bias_ld[x] + 8 * v, km);
                t = _mm256_fmadd_ps(bv, log2e, t);
            }
            if (a->alibi) {
                __m256 dist = _mm256_sub_ps(_mm256_set1_ps(a->alibi_d[r]),
                                            _mm256_add_ps(iota, _mm256_set1_ps((float)(8 * v))));
                t = _mm256_fmadd_ps(_mm256_and_ps(dist, abs_mask), _mm256_set1_ps(a->alibi[r]), t);
            }
            if (a->masked) t = _mm256_blendv_ps(ninf, t, _mm256_castsi256_ps(km));
            _mm256_storeu_ps(a->s + r * a->lds + 8 * v, t);
        }
    }
}

static void softmax(const tp_softmax_args *a)
{
    const int64_t nv = a->ncols / 8, lds = a->lds;
    float mu[8] = {0}, rs[8] = {0}, mn[8];
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * lds;
        __m256 mx = _mm256_loadu_ps(s);
        for (int64_t v = 1; v < nv; v++) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + 8 * v));
        float rowmax = hmax8(mx);
        float mo = a->m[r];
        float m_new = rowmax > mo ? rowmax : mo;
        float m_use = m_new == -INFINITY ? 0.0f : m_new;
        __m256 vm = _mm256_set1_ps(m_use);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t v = 0; v < nv; v++) {
            __m256 pv = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * v), vm));
            _mm256_storeu_ps(s + 8 * v, pv);
            sum = _mm256_add_ps(sum, pv);
        }
        rs[r] = hsum8(sum);
        mu[r] = m_use;
        mn[r] = m_new;
    }
    float mold[8] = {0}, lold[8] = {0};
    memcpy(mold, a->m, MR * sizeof(float));
    memcpy(lold, a->l, MR * sizeof(float));
    __m256 alpha = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(mold), _mm256_loadu_ps(mu)));
    __m256 l = _mm256_fmadd_ps(_mm256_loadu_ps(lold), alpha, _mm256_loadu_ps(rs));
    float al[8], ln[8];
    _mm256_storeu_ps(al, alpha);
    _mm256_storeu_ps(ln, l);
    memcpy(a->alpha, al, MR * sizeof(float));
    memcpy(a->l, ln, MR * sizeof(float));
    memcpy(a->m, mn, MR * sizeof(float));
}

#define PV_BLOCK(NVV)                                                                         \
    static inline void pv_block_##NVV(const tp_pv_args *a, int64_t r0, int64_t c0,            \
                                      int64_t nlast)                                          \
    {                                                                                         \
        __m256 acc[PV_ROWS][NVV];                                                             \
        const __m256i klast = tail_mask(nlast);                                               \
        float *o = a->o + r0 * a->ldo + c0;                                                   \
        const int64_t ldo = a->ldo, ldv = a->ldv, ldp = a->ldp, nk = a->nk;                   \
        _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++) {                           \
            __m256 al = _mm256_set1_ps(a->alpha[r0 + r]);                                     \
            _Pragma("GCC unroll 8") for (int v = 0; v < NVV; v++)                             \
                acc[r][v] = _mm256_mul_ps(al, _mm256_loadu_ps(o + r * ldo + 8 * v));          \
        }                                                                                     \
        const float *p = a->p + r0 * ldp;                                                     \
        const float *vr = a->v + c0;                                                          \
        for (int64_t j = 0; j < nk; j++, vr += ldv, p++) {                                    \
            __m256 b[NVV];                                                                    \
            _Pragma("GCC unroll 8") for (int v = 0; v < NVV - 1; v++)                         \
                b[v] = _mm256_loadu_ps(vr + 8 * v);                                           \
            b[NVV - 1] = nlast >= 8 ? _mm256_loadu_ps(vr + 8 * (NVV - 1))                     \
                                    : _mm256_maskload_ps(vr + 8 * (NVV - 1), klast);          \
            _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++) {                       \
                __m256 x = _mm256_broadcast_ss(p + r * ldp);                                  \
                _Pragma("GCC unroll 8") for (int v = 0; v < NVV; v++)                         \
                    acc[r][v] = _mm256_fmadd_ps(x, b[v], acc[r][v]);                          \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < PV_ROWS; r++)                             \
            _Pragma("GCC unroll 8") for (int v = 0; v < NVV; v++)                             \
                _mm256_storeu_ps(o + r * ldo + 8 * v, acc[r][v]);                             \
    }
PV_BLOCK(1)
PV_BLOCK(2)

static void pv(const tp_pv_args *a)
{
    const int64_t nvec = (a->Dv + 7) / 8;
    const int64_t ntail = a->Dv - (nvec - 1) * 8;
    for (int64_t v0 = 0; v0 < nvec; v0 += PV_NV) {
        int64_t nv = TP_MIN(PV_NV, nvec - v0);
        int64_t nlast = v0 + nv == nvec ? ntail : 8;
        for (int64_t r0 = 0; r0 < a->rows; r0 += PV_ROWS) {
            if (nv == 2) pv_block_2(a, r0, v0 * 8, nlast);
            else pv_block_1(a, r0, v0 * 8, nlast);
        }
    }
}

static void bwd_ds(const tp_bwd_ds_args *a)
{
    const int64_t nv = a->ncols / 8;
    for (int r = 0; r < MR; r++) {
        float *s = a->s + r * a->lds, *dp = a->dp + r * a->lddp;
        if (a->row_lse2) {
            const __m256 l2 = _mm256_set1_ps(a->row_lse2[r]), dl = _mm256_set1_ps(a->row_delta[r]);
            for (int64_t v = 0; v < nv; v++) {
                __m256 p = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * v), l2));
                _mm256_storeu_ps(s + 8 * v, p);
                _mm256_storeu_ps(dp + 8 * v, _mm256_mul_ps(p, _mm256_sub_ps(_mm256_loadu_ps(dp + 8 * v), dl)));
            }
        } else {
            for (int64_t v = 0; v < nv; v++) {
                __m256 p = exp2_neg(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * v),
                                                  _mm256_loadu_ps(a->col_lse2 + 8 * v)));
                _mm256_storeu_ps(s + 8 * v, p);
                __m256 d = _mm256_sub_ps(_mm256_loadu_ps(dp + 8 * v), _mm256_loadu_ps(a->col_delta + 8 * v));
                _mm256_storeu_ps(dp + 8 * v, _mm256_mul_ps(p, d));
            }
        }
    }
}

static void acc_row(float *dst, const float *src, int64_t n)
{
    int64_t c = 0;
    for (; c + 8 <= n; c += 8)
        _mm256_storeu_ps(dst + c, _mm256_add_ps(_mm256_loadu_ps(dst + c), _mm256_loadu_ps(src + c)));
    for (; c < n; c++) dst[c] += src[c];
}

static void store_row(const float *o, float inv, int64_t n, char *dst, tprim_dtype dt, int64_t sd)
{
    const __m256 vi = _mm256_set1_ps(inv);
    if (sd != 1) {
        for (int64_t c = 0; c < n; c++)
            tp_store_f32(dst + c * sd * (int64_t)tprim_dtype_size(dt), dt, o[c] * inv);
        return;
    }
    for (int64_t c = 0; c < n; c += 8) {
        int64_t m = TP_MIN(8, n - c);
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(o + c), vi);
        if (dt == TPRIM_F32) {
            _mm256_maskstore_ps((float *)dst + c, tail_mask(m), x);
            continue;
        }
        __m128i h = dt == TPRIM_BF16 ? bf16_round8(x)
                                     : _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if (m == 8) {
            _mm_storeu_si128((__m128i *)((uint16_t *)dst + c), h);
        } else {
            uint16_t tmp[8];
            _mm_storeu_si128((__m128i *)tmp, h);
            memcpy((uint16_t *)dst + c, tmp, (size_t)m * 2);
        }
    }
}

static const tp_flash_ukr avx2_ukr = {
    .mr = MR,
    .bc = BC,
    .bk = BK,
    .vw = 8,
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

TP_FLASH_KERNEL(tp_attn_avx2_kernel, "avx2", TP_FAMILY_AVX2, 20, avx2_ukr);
