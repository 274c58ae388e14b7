/* attention_flash.h -- the contract between the generic flash-attention driver
 * (attention_flash.c) and the per-ISA micro-kernels, in the manner of BLIS: the
 * driver tiles, packs, masks and schedules; an ISA supplies a small table of
 * register-blocked micro-kernels and its blocksizes.
 *
 * Scores are kept in log2 units: with q pre-multiplied by scale*log2(e), the tile
 * t = q.k is already scale*q.k*log2(e), so the softmax needs exp2 only. Biases and
 * ALiBi are multiplied by log2(e) inside the micro-kernel.
 *
 * One work item is a block of query rows that share one key/value head: up to
 * `rows_max` rows made of `ng` heads x `nq` consecutive queries (ng > 1 only when
 * Sq is small, e.g. decode with GQA). For every key tile of `bk` keys:
 *   1. for each sub-tile of `bc` keys: pack_kt (K -> kt [D][bc] f32, transposed),
 *      then qk for each block of `mr` rows: S = Q kt plus biases, ALiBi, soft-cap,
 *      -inf where masked, into the score tile S [rows][bk];
 *   2. softmax for each block of `mr` rows: the online softmax update of m and l,
 *      P = exp2(S - m) in place of S, alpha = exp2(m_old - m);
 *   3. pv over the active rows: O = alpha * O + P V, one long loop over bk keys.
 * The split keeps the horizontal reductions of the softmax to one per row and tile
 * of bk keys, and the pv loop long enough to amortise loading and storing O.
 * At the end out = O / l, lse = (m + log2 l) * ln 2.
 */
#ifndef TPRIM_CPU_ATTENTION_FLASH_H
#define TPRIM_CPU_ATTENTION_FLASH_H

#include "../ops/attention.h"

#define TP_LOG2E 1.44269504088896340736f
#define TP_LN2 0.69314718055994530942f

/* Arguments of one qk micro-kernel call: `mr` rows against one sub-tile of bc keys. */
typedef struct tp_qk_args {
    const float *q;         /* [mr][ldq] packed query rows (pre-multiplied, see above) */
    int64_t ldq;
    const float *kt;        /* [D][bc] packed keys, transposed; columns >= nk are 0 */
    int64_t D;
    int32_t nbias;          /* biases to add, 0..2 */
    const float *bias[2];   /* row r at bias[x] + r * bias_ld[x], column c at +c (f32) */
    int64_t bias_ld[2];
    int32_t masked;         /* 0: all rows see all bc columns; 1: use lo/hi */
    const int32_t *lo, *hi; /* [mr] row r sees columns lo[r] <= c < hi[r] (0..bc) */
    const float *alibi;     /* NULL, or [mr]: -slope * log2(e) of each row */
    const float *alibi_d;   /* [mr]: aligned query position of row r minus the
                             * sub-tile's first key; |logit distance| = |alibi_d[r] - c| */
    float softcap;          /* cap * log2(e), 0 = off (q then pre-multiplied by scale/cap) */
    float *s;               /* [mr][lds] out: scores in log2 units, -inf where masked */
    int64_t lds;
} tp_qk_args;

/* Arguments of one softmax call over `mr` rows of a score tile. */
typedef struct tp_softmax_args {
    float *s;               /* [mr][lds] scores in, exp2(s - m) out */
    int64_t lds;
    int64_t ncols;          /* columns to process, a multiple of vw (<= bk) */
    float *m;               /* [mr] running max, log2 units, -inf before any key */
    float *l;               /* [mr] running sum of exp2(t - m) */
    float *alpha;           /* [mr] out: factor for the rows of O */
} tp_softmax_args;

/* Arguments of one pv micro-kernel call: O[rows] = alpha * O[rows] + P[rows] V. */
typedef struct tp_pv_args {
    const float *p;         /* [rows][ldp] */
    int64_t ldp;
    const float *v;         /* row j (j < nk) at v + j * ldv, unit column stride */
    int64_t ldv;
    int64_t nk;             /* keys in the tile; rows >= nk of v must not be read */
    float *o;               /* [rows][ldo]; columns Dv..ldo-1 are scratch */
    int64_t ldo;
    const float *alpha;     /* [rows] */
    int64_t rows;           /* a multiple of mr */
    int64_t Dv;
} tp_pv_args;

/* Arguments of one backward elementwise call over `mr` rows of a tile:
 *   P = exp2(S - lse2),  dS = P * (dP - delta)
 * with lse2 (the forward's lse in log2 units; +inf for a fully masked row, so that P = 0)
 * and delta given per row (tiles of queries x keys) or per column (keys x queries). */
typedef struct tp_bwd_ds_args {
    float *s;               /* [mr][lds] scores in log2 units in, P out */
    int64_t lds;
    float *dp;              /* [mr][lddp] dP in, dS out */
    int64_t lddp;
    int64_t ncols;          /* a multiple of vw */
    const float *row_lse2, *row_delta; /* [mr], or NULL */
    const float *col_lse2, *col_delta; /* [ncols], or NULL */
} tp_bwd_ds_args;

/* One ISA's micro-kernels and blocksizes. */
typedef struct tp_flash_ukr {
    int32_t mr;       /* rows per qk and softmax call */
    int32_t bc;       /* keys per qk call (K sub-tile) */
    int32_t bk;       /* keys per tile (a multiple of bc) */
    int32_t vw;       /* vector width in floats: O rows are padded to a multiple */
    int32_t rows_max; /* most rows per work item (a multiple of mr); see tp_flash_rows */
    /* dst[r][c] = scale * src[r*sr + c*ss] (converted from dt to f32), r < rows,
     * c < cols; ldd = dst row stride. */
    void (*pack_rows)(const char *src, tprim_dtype dt, int64_t sr, int64_t ss, int64_t rows,
                      int64_t cols, float scale, float *dst, int64_t ldd);
    /* kt[d][c] = k[c*sk + d*sd] for c < nk, 0 for nk <= c < bc; d < D. */
    void (*pack_kt)(const char *k, tprim_dtype dt, int64_t sk, int64_t sd, int64_t nk, int64_t D,
                    float *kt);
    void (*qk)(const tp_qk_args *a);
    void (*softmax)(const tp_softmax_args *a);
    void (*pv)(const tp_pv_args *a);
    void (*bwd_ds)(const tp_bwd_ds_args *a);
    /* dst[c] += src[c], c < n (bias gradients) */
    void (*acc_row)(float *dst, const float *src, int64_t n);
    /* dst[c*sd] = o[c] * inv converted to dt (round to nearest even), c < n. */
    void (*store_row)(const float *o, float inv, int64_t n, char *dst, tprim_dtype dt,
                      int64_t sd);
} tp_flash_ukr;

/* The boolean key mask of keys [j0, j0 + n), n <= 512, as bits (bit c of w[c / 64]);
 * returns whether any key is visible. Without a key mask every bit is set. */
static inline int tp_kmask_bits(const tp_attn_problem *p, const int64_t bi[3], int64_t j0, int64_t n,
                                uint64_t w[8])
{
    int any = 0;
    for (int i = 0; i < 8; i++) w[i] = 0;
    for (int64_t c = 0; c < n; c++)
        if (tp_key_visible(p, bi, j0 + c)) {
            w[c >> 6] |= (uint64_t)1 << (c & 63);
            any = 1;
        }
    return any;
}

/* Bits c0 .. c0 + n - 1 (n <= 64, c0 a multiple of n's block) of a tp_kmask_bits set. */
static inline uint64_t tp_kmask_slice(const uint64_t w[8], int64_t c0, int64_t n)
{
    uint64_t v = w[c0 >> 6] >> (c0 & 63);
    if ((c0 & 63) + n > 64) v |= w[(c0 >> 6) + 1] << (64 - (c0 & 63));
    return n >= 64 ? v : v & (((uint64_t)1 << n) - 1);
}

/* After a qk call: -inf in the columns (c < n) of an mr-row score block whose key the
 * key mask hides. */
static inline void tp_kmask_apply(float *s, int64_t lds, int64_t mr, uint64_t bits, int64_t n)
{
    for (int64_t c = 0; c < n; c++)
        if (!((bits >> c) & 1))
            for (int64_t r = 0; r < mr; r++) s[r * lds + c] = -__builtin_inff();
}

/* Which mr-row micro-blocks of a work item see any key of [j0, j0 + nk): ACT[mb] for
 * mb < nmb, from the rows' visible ranges [LO[r], HI[r]); returns whether any does. */
static inline int tp_flash_active(const int64_t *LO, const int64_t *HI, int64_t nmb, int64_t mr,
                                  int64_t j0, int64_t nk, unsigned char *ACT)
{
    int any = 0;
    for (int64_t mb = 0; mb < nmb; mb++) {
        int vis = 0;
        for (int64_t r = mb * mr; r < (mb + 1) * mr; r++)
            vis |= TP_MAX(LO[r], j0) < TP_MIN(HI[r], j0 + nk);
        ACT[mb] = (unsigned char)vis;
        any |= vis;
    }
    return any;
}

/* The key-mask bits of a sub-tile of ns keys (bits c0.. of kbits), and whether the mask
 * hides some of its keys (*khide) or all of them (*kall); all 0 without a key mask. */
static inline uint64_t tp_kmask_sub(const tp_attn_problem *p, const uint64_t kbits[8], int64_t c0,
                                    int64_t ns, int *khide, int *kall)
{
    const uint64_t sbits = p->has_kmask ? tp_kmask_slice(kbits, c0, ns) : 0;
    *khide = p->has_kmask && sbits != (ns >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << ns) - 1);
    *kall = p->has_kmask && sbits == 0;
    return sbits;
}

/* u->pv over each run of consecutive active micro-blocks (ACT): `a` describes row 0;
 * the call for rows mb*mr.. moves p, o and alpha down by that many rows (alpha by
 * alpha_step per row: 0 for one shared column of ones). */
static inline void tp_flash_pv_active(const tp_flash_ukr *u, const unsigned char *ACT,
                                      int64_t nmb, const tp_pv_args *a, int64_t alpha_step)
{
    const int64_t mr = u->mr;
    for (int64_t mb = 0; mb < nmb;) {
        if (!ACT[mb]) {
            mb++;
            continue;
        }
        int64_t me = mb;
        while (me < nmb && ACT[me]) me++;
        tp_pv_args pv = *a;
        pv.p = a->p + mb * mr * a->ldp;
        pv.o = a->o + mb * mr * a->ldo;
        pv.alpha = a->alpha + mb * mr * alpha_step;
        pv.rows = (me - mb) * mr;
        u->pv(&pv);
        mb = me;
    }
}

/* Rows per work item: rows_max, halved (staying a multiple of mr) while the per-row
 * buffers -- packed q, O and the score row (f32), `extra` more floats per row -- would
 * pass 640 KiB, so that one item's rows stay in a 1 MiB L2 next to the K and V tiles.
 * More rows per item means fewer packings of each K and V tile. */
static inline int64_t tp_flash_rows(const tp_flash_ukr *u, const tp_attn_problem *p, int64_t extra)
{
    int64_t rows = u->rows_max;
    const int64_t per = 4 * (p->D + p->Dv + u->bk + extra);
    while (rows >= 4 * u->mr && rows * per > (640 << 10)) rows = rows / 2 / u->mr * u->mr;
    return rows;
}

/* The generic drivers: tp_kernel callbacks parameterised by kernel->impl (a ukr). */
size_t tp_flash_workspace(const tp_flash_ukr *u, const tp_attn_problem *p, int nthreads, int *ok);
void tp_flash_run(const tp_flash_ukr *u, const tp_attn_problem *p, void *ws, tp_pool *pool,
                  int nthreads);
size_t tp_flash_bwd_workspace(const tp_flash_ukr *u, const tp_attn_problem *p, int nthreads,
                              int *ok);
void tp_flash_bwd_run(const tp_flash_ukr *u, const tp_attn_problem *p, void *ws, tp_pool *pool,
                      int nthreads);
const char *tp_flash_bwd_accepts(const void *prob);

/* Define the forward (sym) and backward (sym##_bwd) tp_kernels of a flash variant from its
 * ukr table. */
#define TP_FLASH_KERNEL(sym, kname, kfamily, kprio, ukr)                                   \
    static size_t sym##_workspace(const void *prob, int nthreads, int *ok)                \
    {                                                                                      \
        return tp_flash_workspace(&(ukr), (const tp_attn_problem *)prob, nthreads, ok);    \
    }                                                                                      \
    static void sym##_run(const void *prob, void *ws, tp_pool *pool, int nthreads)         \
    {                                                                                      \
        tp_flash_run(&(ukr), (const tp_attn_problem *)prob, ws, pool, nthreads);           \
    }                                                                                      \
    const tp_kernel sym = {.name = (kname),                                                \
                           .family = (kfamily),                                            \
                           .priority = (kprio),                                            \
                           .accepts = NULL,                                                \
                           .workspace = sym##_workspace,                                   \
                           .run = sym##_run,                                               \
                           .impl = &(ukr)};                                                \
    static size_t sym##_bwd_workspace(const void *prob, int nthreads, int *ok)            \
    {                                                                                      \
        return tp_flash_bwd_workspace(&(ukr), (const tp_attn_problem *)prob, nthreads, ok); \
    }                                                                                      \
    static void sym##_bwd_run(const void *prob, void *ws, tp_pool *pool, int nthreads)     \
    {                                                                                      \
        tp_flash_bwd_run(&(ukr), (const tp_attn_problem *)prob, ws, pool, nthreads);       \
    }                                                                                      \
    const tp_kernel sym##_bwd = {.name = (kname),                                          \
                                 .family = (kfamily),                                      \
                                 .priority = (kprio),                                      \
                                 .accepts = tp_flash_bwd_accepts,                          \
                                 .workspace = sym##_bwd_workspace,                         \
                                 .run = sym##_bwd_run,                                     \
                                 .impl = &(ukr)}

#endif /* TPRIM_CPU_ATTENTION_FLASH_H */
