/* attention_flash_bwd.c -- the generic flash-attention backward driver shared by the
 * SIMD kernels. Scores are recomputed tile by tile from q, k and the forward's lse; no
 * Sq x Sk buffer exists. Three phases, each a parallel loop over work items that own
 * their outputs, so every sum is taken in one fixed order (deterministic results):
 *
 *   0. delta[b,h,i] = dout[i,:] . out[i,:]                       (items: batch x head)
 *   1. dk, dv: items own a block of keys of one kv head; they walk every query of the
 *      G heads in the transposed orientation (keys are rows):
 *        S^T = K Q^T, dP^T = V dO^T, P^T = exp2(S^T - lse2), dS^T = P^T (dP^T - delta),
 *        dV += P^T dO, dK += dS^T Q
 *   2. dq and the bias gradients: items own query rows:
 *        S = Q K^T, dP = dO V^T, P, dS as above, dQ += dS K, dbias += dS
 *      A bias gradient summed over broadcast dims (the pair bias over N) must have one
 *      owner: the broadcast batch/head dims are "grouped" into one item that visits its
 *      cells in a fixed order, and a bias broadcast over query rows puts all query blocks
 *      of a cell in the same item.
 *
 * Flops: phase 1 does four tile products (S, dP, dV, dK), phase 2 three (S, dP, dQ):
 * 7 x 2 x (D ~ Dv) flops per visible (query, key) pair, 1.75 x the forward. */
#include "attention_flash.h"

#include <math.h>
#include <string.h>

typedef struct bwd_geom {
    int64_t R;           /* rows per item (queries in phase 2, keys in phase 1), mr multiple */
    int64_t nqb, nkb;    /* query blocks, key blocks of R */
    int64_t ldd, lddv;   /* D, Dv rounded up to the vector width */
    size_t delta_bytes;  /* global: delta [nbatch][Hq][Sq] */
    size_t per_thread;
    /* phase 2 offsets */
    size_t q_q, q_do, q_dq, q_lo, q_hi, q_l2, q_dl, q_s, q_dp, q_kt, q_vt, q_kb, q_bb;
    /* phase 1 offsets */
    size_t k_ks, k_vr, k_dk, k_dv, k_lo, k_hi, k_st, k_dpt, k_qt, k_dot, k_bt, k_qr, k_dor, k_cl,
        k_cd;
    /* shared small buffers */
    size_t s_lot, s_hit, s_al, s_ald, s_act, s_ones;
} bwd_geom;

static int reserve(size_t *end, size_t *off, int64_t n, size_t es)
{
    size_t bytes, at;
    if (n < 0 || !tp_mul_size((size_t)n, es, &bytes) || !tp_align_size(*end, &at) ||
        !tp_add_size(at, bytes, end))
        return 0;
    *off = at;
    return 1;
}

static int mul3(int64_t a, int64_t b, int64_t c, int64_t *out)
{
    int64_t t;
    return tp_mul_i64(a, b, &t) && tp_mul_i64(t, c, out);
}

static int geom_init(const tp_flash_ukr *u, const tp_attn_problem *p, bwd_geom *g)
{
    const int64_t mr = u->mr, bc = u->bc, bk = u->bk, vw = u->vw;
    g->R = tp_flash_rows(u, p, u->bk + p->D); /* S and dP, dQ (or dK) per row */
    g->nqb = (p->Sq + g->R - 1) / g->R;
    g->nkb = (p->Sk + g->R - 1) / g->R;
    g->ldd = (p->D + vw - 1) / vw * vw;
    g->lddv = TP_MAX(1, (p->Dv + vw - 1) / vw) * vw;
    const int64_t R = g->R, D = p->D, Dv = p->Dv;
    int64_t nd;
    if (!mul3(p->nbatch, p->Hq, p->Sq, &nd) || !tp_mul_size((size_t)nd, 4, &g->delta_bytes) ||
        !tp_align_size(g->delta_bytes, &g->delta_bytes))
        return 0;
    size_t e2 = 0, e1 = 0, es = 0;
    int ok = reserve(&e2, &g->q_q, R * D, 4) && reserve(&e2, &g->q_do, R * Dv, 4) &&
             reserve(&e2, &g->q_dq, R * g->ldd, 4) && reserve(&e2, &g->q_lo, R, 8) &&
             reserve(&e2, &g->q_hi, R, 8) && reserve(&e2, &g->q_l2, R, 4) &&
             reserve(&e2, &g->q_dl, R, 4) && reserve(&e2, &g->q_s, R * bk, 4) &&
             reserve(&e2, &g->q_dp, R * bk, 4) && reserve(&e2, &g->q_kt, D * bc, 4) &&
             reserve(&e2, &g->q_vt, Dv * bc, 4) && reserve(&e2, &g->q_kb, bk * g->ldd, 4) &&
             reserve(&e2, &g->q_bb, 2 * mr * bc, 4);
    ok = ok && reserve(&e1, &g->k_ks, R * D, 4) && reserve(&e1, &g->k_vr, R * Dv, 4) &&
         reserve(&e1, &g->k_dk, R * g->ldd, 4) && reserve(&e1, &g->k_dv, R * g->lddv, 4) &&
         reserve(&e1, &g->k_lo, R, 8) && reserve(&e1, &g->k_hi, R, 8) &&
         reserve(&e1, &g->k_st, R * bk, 4) && reserve(&e1, &g->k_dpt, R * bk, 4) &&
         reserve(&e1, &g->k_qt, D * bc, 4) && reserve(&e1, &g->k_dot, Dv * bc, 4) &&
         reserve(&e1, &g->k_bt, 2 * R * bc, 4) && reserve(&e1, &g->k_qr, bk * g->ldd, 4) &&
         reserve(&e1, &g->k_dor, bk * g->lddv, 4) && reserve(&e1, &g->k_cl, bk, 4) &&
         reserve(&e1, &g->k_cd, bk, 4);
    size_t base = TP_MAX(e1, e2);
    es = base;
    ok = ok && reserve(&es, &g->s_lot, mr, 4) && reserve(&es, &g->s_hit, mr, 4) &&
         reserve(&es, &g->s_al, mr, 4) && reserve(&es, &g->s_ald, mr, 4) &&
         reserve(&es, &g->s_act, R / mr + 1, 1) && reserve(&es, &g->s_ones, R, 4) &&
         tp_align_size(es, &g->per_thread);
    return ok;
}

size_t tp_flash_bwd_workspace(const tp_flash_ukr *u, const tp_attn_problem *p, int nthreads,
                              int *ok)
{
    bwd_geom g;
    size_t t, total;
    if (!geom_init(u, p, &g) || !tp_mul_size(g.per_thread, (size_t)nthreads, &t) ||
        !tp_add_size(t, g.delta_bytes, &total)) {
        *ok = 0;
        return 0;
    }
    return total;
}

const char *tp_flash_bwd_accepts(const void *prob)
{
    const tp_attn_problem *p = prob;
    if (p->softcap > 0.0f) return "soft-cap backward runs on the reference kernel";
    return NULL;
}

typedef struct bwd_job {
    const tp_flash_ukr *u;
    const tp_attn_problem *p;
    bwd_geom g;
    float *delta; /* [nbatch][Hq][Sq] */
    char *ws;     /* per-thread slices */
    /* phase 2 item decomposition */
    int grouped[4]; /* b0, b1, b2, h */
    int i_red;
    int64_t extent[4];
} bwd_job;

static float lse2_of(const tp_attn_problem *p, const int64_t *bi, int64_t h, int64_t i)
{
    float l;
    memcpy(&l, tp_atb(&p->lse_in, bi, h, i, 0), 4);
    return l == -INFINITY ? INFINITY : l * TP_LOG2E; /* +inf: P = 0 in a fully masked row */
}

/* ---- phase 0: delta ------------------------------------------------------------- */

static void delta_task(void *arg, int64_t item, int tid)
{
    const bwd_job *job = arg;
    const tp_attn_problem *p = job->p;
    const int64_t b = item / p->Hq, h = item % p->Hq, R = job->g.R;
    int64_t bi[3];
    tp_batch_idx(p, b, bi);
    float *a = (float *)(job->ws + (size_t)tid * job->g.per_thread); /* [R][Dv] x 2 */
    float *c = a + R * p->Dv;
    float *dst = job->delta + (b * p->Hq + h) * p->Sq;
    for (int64_t i0 = 0; i0 < p->Sq; i0 += R) {
        int64_t n = TP_MIN(R, p->Sq - i0);
        job->u->pack_rows(tp_atb(&p->dout, bi, h, i0, 0), p->dtype, p->dout.si, p->dout.sj, n,
                          p->Dv, 1.0f, a, p->Dv);
        job->u->pack_rows(tp_atb(&p->out, bi, h, i0, 0), p->dtype, p->out.si, p->out.sj, n,
                          p->Dv, 1.0f, c, p->Dv);
        for (int64_t r = 0; r < n; r++) {
            float s = 0.0f;
            for (int64_t d = 0; d < p->Dv; d++) s += a[r * p->Dv + d] * c[r * p->Dv + d];
            dst[i0 + r] = s;
        }
    }
}

/* dst[c * stride] += src[c] */
static void add_row(const tp_flash_ukr *u, float *dst, int64_t stride, const float *src, int64_t n)
{
    if (stride == 1) u->acc_row(dst, src, n);
    else
        for (int64_t c = 0; c < n; c++) dst[c * stride] += src[c];
}

/* out[r][c] (c < n) = scale * acc[r][c], converted to the dtype of the operand */
static void store_rows(const tp_flash_ukr *u, const tp_attn_problem *p, const tp_operand *o,
                       const int64_t *bi, int64_t h, int64_t r0, int64_t rows, const float *acc,
                       int64_t ld, int64_t n, float scale)
{
    for (int64_t r = 0; r < rows; r++)
        u->store_row(acc + r * ld, scale, n, (char *)tp_atb(o, bi, h, r0 + r, 0), o->dtype, o->sj);
}

/* ---- phase 1: dk, dv ---------------------------------------------------------------- */

static void dkdv_task(void *arg, int64_t item, int tid)
{
    const bwd_job *job = arg;
    const tp_attn_problem *p = job->p;
    const tp_flash_ukr *u = job->u;
    const bwd_geom *g = &job->g;
    char *ws = job->ws + (size_t)tid * g->per_thread;
    const int64_t mr = u->mr, bc = u->bc, bk = u->bk, D = p->D, Dv = p->Dv;
    const int64_t kb = item % g->nkb, rest = item / g->nkb;
    const int64_t hkv = rest % p->Hkv, b = rest / p->Hkv;
    const int64_t j0 = kb * g->R, nkr = TP_MIN(g->R, p->Sk - j0);
    const int64_t rows_pad = (nkr + mr - 1) / mr * mr, nmb = rows_pad / mr;
    float *KS = (float *)(ws + g->k_ks), *VR = (float *)(ws + g->k_vr);
    float *DK = (float *)(ws + g->k_dk), *DV = (float *)(ws + g->k_dv);
    int64_t *QLO = (int64_t *)(ws + g->k_lo), *QHI = (int64_t *)(ws + g->k_hi);
    float *ST = (float *)(ws + g->k_st), *DPT = (float *)(ws + g->k_dpt);
    float *QT = (float *)(ws + g->k_qt), *DOT = (float *)(ws + g->k_dot);
    float *BT = (float *)(ws + g->k_bt), *QR = (float *)(ws + g->k_qr), *DOR = (float *)(ws + g->k_dor);
    float *CL = (float *)(ws + g->k_cl), *CD = (float *)(ws + g->k_cd);
    int32_t *LOT = (int32_t *)(ws + g->s_lot), *HIT = (int32_t *)(ws + g->s_hit);
    float *AL = (float *)(ws + g->s_al), *ALD = (float *)(ws + g->s_ald), *ONES = (float *)(ws + g->s_ones);
    unsigned char *ACT = (unsigned char *)(ws + g->s_act);

    const int64_t kl = tp_key_len(p, b), off = kl - p->Sq;
    int64_t bi[3];
    tp_batch_idx(p, b, bi);
    /* visible queries of each key row: i' - wl <= j <= i' + wr, i' = i + off */
    int64_t qmin = INT64_MAX, qmax = 0;
    for (int64_t r = 0; r < rows_pad; r++) {
        int64_t j = j0 + r, lo = 0, hi = 0;
        if (r < nkr && j < kl && tp_key_visible(p, bi, j)) {
            lo = p->wr >= TP_UNBOUNDED ? 0 : j - p->wr - off;
            hi = p->wl >= TP_UNBOUNDED ? p->Sq : j + p->wl - off + 1;
            lo = TP_MAX(lo, 0);
            hi = TP_MIN(hi, p->Sq);
            if (lo >= hi) lo = hi = 0;
        }
        QLO[r] = lo;
        QHI[r] = hi;
        if (lo < hi) {
            qmin = TP_MIN(qmin, lo);
            qmax = TP_MAX(qmax, hi);
        }
    }
    const float ks = p->scale * TP_LOG2E;
    u->pack_rows(tp_atb(&p->k, bi, hkv, j0, 0), p->dtype, p->k.si, p->k.sj, nkr, D, ks, KS, D);
    u->pack_rows(tp_atb(&p->v, bi, hkv, j0, 0), p->dtype, p->v.si, p->v.sj, nkr, Dv, 1.0f, VR, Dv);
    memset(KS + nkr * D, 0, (size_t)((rows_pad - nkr) * D) * sizeof(float));
    memset(VR + nkr * Dv, 0, (size_t)((rows_pad - nkr) * Dv) * sizeof(float));
    memset(DK, 0, (size_t)(rows_pad * g->ldd) * sizeof(float));
    memset(DV, 0, (size_t)(rows_pad * g->lddv) * sizeof(float));
    for (int64_t r = 0; r < rows_pad; r++) ONES[r] = 1.0f;

    for (int64_t gi = 0; gi < p->G && qmin < qmax; gi++) {
        const int64_t h = hkv * p->G + gi;
        const float slope2 = -tp_alibi_slope(p, b, h) * TP_LOG2E;
        const float *dl = job->delta + (b * p->Hq + h) * p->Sq;
        for (int64_t i0 = qmin / bk * bk; i0 < qmax; i0 += bk) {
            const int64_t nq = TP_MIN(bk, p->Sq - i0);
            if (!tp_flash_active(QLO, QHI, nmb, mr, i0, nq, ACT)) continue;
            const int64_t ncols = (nq + u->vw - 1) / u->vw * u->vw;
            for (int64_t c = 0; c < ncols; c++) {
                CL[c] = c < nq ? lse2_of(p, bi, h, i0 + c) : INFINITY;
                CD[c] = c < nq ? dl[i0 + c] : 0.0f;
            }
            for (int64_t s0 = 0; s0 < nq; s0 += bc) {
                const int64_t is = i0 + s0, ns = TP_MIN(bc, nq - s0);
                u->pack_kt(tp_atb(&p->q, bi, h, is, 0), p->dtype, p->q.si, p->q.sj, ns, D, QT);
                u->pack_kt(tp_atb(&p->dout, bi, h, is, 0), p->dtype, p->dout.si, p->dout.sj, ns, Dv, DOT);
                for (int x = 0; x < p->nbias; x++) { /* bias^T [keys][bc] */
                    const tp_operand *bo = &p->bias[x];
                    u->pack_kt(tp_atb(bo, bi, h, is, j0), bo->dtype, bo->si, bo->sj, ns, nkr,
                               BT + x * g->R * bc);
                }
                for (int64_t mb = 0; mb < nmb; mb++) {
                    if (!ACT[mb]) continue;
                    const int64_t r0 = mb * mr;
                    int vis = 0, full = 1;
                    for (int64_t r = 0; r < mr; r++) {
                        int64_t lo = TP_MAX(QLO[r0 + r] - is, 0), hi = TP_MIN(QHI[r0 + r] - is, bc);
                        if (lo < hi) vis = 1;
                        else lo = hi = 0;
                        if (lo > 0 || hi < bc) full = 0;
                        LOT[r] = (int32_t)lo;
                        HIT[r] = (int32_t)hi;
                    }
                    float *st = ST + r0 * bk + s0, *dpt = DPT + r0 * bk + s0;
                    if (!vis) {
                        for (int64_t r = 0; r < mr; r++)
                            for (int64_t c = 0; c < bc; c++) {
                                st[r * bk + c] = -INFINITY;
                                dpt[r * bk + c] = 0.0f;
                            }
                        continue;
                    }
                    tp_qk_args a;
                    memset(&a, 0, sizeof a);
                    a.q = KS + r0 * D;
                    a.ldq = D;
                    a.kt = QT;
                    a.D = D;
                    a.nbias = p->nbias;
                    for (int x = 0; x < p->nbias; x++) {
                        a.bias[x] = BT + x * g->R * bc + r0 * bc;
                        a.bias_ld[x] = bc;
                    }
                    a.masked = !full;
                    a.lo = LOT;
                    a.hi = HIT;
                    if (p->has_alibi) {
                        for (int64_t r = 0; r < mr; r++) {
                            AL[r] = slope2;
                            ALD[r] = (float)(j0 + r0 + r - (is + off));
                        }
                        a.alibi = AL;
                        a.alibi_d = ALD;
                    }
                    a.s = st;
                    a.lds = bk;
                    u->qk(&a);
                    tp_qk_args d;
                    memset(&d, 0, sizeof d);
                    d.q = VR + r0 * Dv;
                    d.ldq = Dv;
                    d.kt = DOT;
                    d.D = Dv;
                    d.s = dpt;
                    d.lds = bk;
                    u->qk(&d);
                }
            }
            for (int64_t mb = 0; mb < nmb; mb++) {
                if (!ACT[mb]) continue;
                tp_bwd_ds_args e;
                memset(&e, 0, sizeof e);
                e.s = ST + mb * mr * bk;
                e.lds = bk;
                e.dp = DPT + mb * mr * bk;
                e.lddp = bk;
                e.ncols = ncols;
                e.col_lse2 = CL;
                e.col_delta = CD;
                u->bwd_ds(&e);
            }
            u->pack_rows(tp_atb(&p->dout, bi, h, i0, 0), p->dtype, p->dout.si, p->dout.sj, nq, Dv,
                         1.0f, DOR, g->lddv);
            u->pack_rows(tp_atb(&p->q, bi, h, i0, 0), p->dtype, p->q.si, p->q.sj, nq, D, 1.0f, QR,
                         g->ldd);
            /* dv += P^T dout, dk += dS^T q over the active key blocks */
            const tp_pv_args pdv = {.p = ST, .ldp = bk, .v = DOR, .ldv = g->lddv, .nk = nq,
                                    .o = DV, .ldo = g->lddv, .alpha = ONES, .Dv = Dv};
            const tp_pv_args pdk = {.p = DPT, .ldp = bk, .v = QR, .ldv = g->ldd, .nk = nq,
                                    .o = DK, .ldo = g->ldd, .alpha = ONES, .Dv = D};
            tp_flash_pv_active(u, ACT, nmb, &pdv, 0);
            tp_flash_pv_active(u, ACT, nmb, &pdk, 0);
        }
    }
    store_rows(u, p, &p->dk, bi, hkv, j0, nkr, DK, g->ldd, D, p->scale);
    store_rows(u, p, &p->dv, bi, hkv, j0, nkr, DV, g->lddv, Dv, 1.0f);
}

/* ---- phase 2: dq and bias gradients ------------------------------------------------ */

/* One cell: batch b, head h, query rows [i0, i0 + nq). zero[x]: this cell is the first
 * to touch its part of dbias[x]. */
static void dq_cell(const bwd_job *job, char *ws, int64_t b, int64_t h, int64_t i0, const int *zero)
{
    const tp_attn_problem *p = job->p;
    const tp_flash_ukr *u = job->u;
    const bwd_geom *g = &job->g;
    const int64_t mr = u->mr, bc = u->bc, bk = u->bk, D = p->D, Dv = p->Dv;
    const int64_t nq = TP_MIN(g->R, p->Sq - i0), rows_pad = (nq + mr - 1) / mr * mr, nmb = rows_pad / mr;
    const int64_t hkv = h / p->G;
    float *Q = (float *)(ws + g->q_q), *DO = (float *)(ws + g->q_do), *DQ = (float *)(ws + g->q_dq);
    int64_t *LO = (int64_t *)(ws + g->q_lo), *HI = (int64_t *)(ws + g->q_hi);
    float *L2 = (float *)(ws + g->q_l2), *DL = (float *)(ws + g->q_dl);
    float *S = (float *)(ws + g->q_s), *DP = (float *)(ws + g->q_dp);
    float *KT = (float *)(ws + g->q_kt), *VT = (float *)(ws + g->q_vt), *KB = (float *)(ws + g->q_kb);
    float *BB = (float *)(ws + g->q_bb);
    int32_t *LOT = (int32_t *)(ws + g->s_lot), *HIT = (int32_t *)(ws + g->s_hit);
    float *AL = (float *)(ws + g->s_al), *ALD = (float *)(ws + g->s_ald), *ONES = (float *)(ws + g->s_ones);
    unsigned char *ACT = (unsigned char *)(ws + g->s_act);

    const int64_t kl = tp_key_len(p, b), off = kl - p->Sq;
    int64_t bi[3];
    tp_batch_idx(p, b, bi);
    const float slope2 = -tp_alibi_slope(p, b, h) * TP_LOG2E;
    const float *dl = job->delta + (b * p->Hq + h) * p->Sq;
    int64_t jlo = INT64_MAX, jhi = 0;
    for (int64_t r = 0; r < rows_pad; r++) {
        if (r < nq) {
            tp_row_range(p, kl, i0 + r, &LO[r], &HI[r]);
            L2[r] = lse2_of(p, bi, h, i0 + r);
            DL[r] = dl[i0 + r];
            if (LO[r] < HI[r]) {
                jlo = TP_MIN(jlo, LO[r]);
                jhi = TP_MAX(jhi, HI[r]);
            }
        } else {
            LO[r] = HI[r] = 0;
            L2[r] = INFINITY;
            DL[r] = 0.0f;
        }
        ONES[r] = 1.0f;
    }
    /* zero this cell's part of each bias gradient it is the first to touch */
    for (int x = 0; x < p->nbias; x++) {
        if (!p->has_dbias[x] || !zero[x]) continue;
        for (int64_t r = 0; r < nq; r++) {
            float *d = (float *)tp_atb(&p->dbias[x], bi, h, i0 + r, 0);
            for (int64_t j = 0; j < p->Sk; j++) d[j * p->dbias[x].sj] = 0.0f;
        }
    }
    u->pack_rows(tp_atb(&p->q, bi, h, i0, 0), p->dtype, p->q.si, p->q.sj, nq, D, p->scale * TP_LOG2E, Q, D);
    u->pack_rows(tp_atb(&p->dout, bi, h, i0, 0), p->dtype, p->dout.si, p->dout.sj, nq, Dv, 1.0f, DO, Dv);
    memset(Q + nq * D, 0, (size_t)((rows_pad - nq) * D) * sizeof(float));
    memset(DO + nq * Dv, 0, (size_t)((rows_pad - nq) * Dv) * sizeof(float));
    memset(DQ, 0, (size_t)(rows_pad * g->ldd) * sizeof(float));

    for (int64_t j0 = jlo < jhi ? jlo / bk * bk : jhi; j0 < jhi; j0 += bk) {
        const int64_t nk = TP_MIN(bk, p->Sk - j0);
        uint64_t kbits[8];
        if (p->has_kmask && !tp_kmask_bits(p, bi, j0, nk, kbits)) continue; /* all hidden */
        if (!tp_flash_active(LO, HI, nmb, mr, j0, nk, ACT)) continue;
        for (int64_t s0 = 0; s0 < nk; s0 += bc) {
            const int64_t js = j0 + s0, ns = TP_MIN(bc, nk - s0);
            int khide, kall;
            const uint64_t sbits = tp_kmask_sub(p, kbits, s0, ns, &khide, &kall);
            u->pack_kt(tp_atb(&p->k, bi, hkv, js, 0), p->dtype, p->k.si, p->k.sj, ns, D, KT);
            u->pack_kt(tp_atb(&p->v, bi, hkv, js, 0), p->dtype, p->v.si, p->v.sj, ns, Dv, VT);
            for (int64_t mb = 0; mb < nmb; mb++) {
                if (!ACT[mb]) continue;
                const int64_t r0 = mb * mr;
                int vis = 0, full = 1;
                for (int64_t r = 0; r < mr; r++) {
                    int64_t lo = TP_MAX(LO[r0 + r] - js, 0), hi = TP_MIN(HI[r0 + r] - js, bc);
                    if (lo < hi) vis = 1;
                    else lo = hi = 0;
                    if (lo > 0 || hi < bc) full = 0;
                    LOT[r] = (int32_t)lo;
                    HIT[r] = (int32_t)hi;
                }
                float *srow = S + r0 * bk + s0, *dprow = DP + r0 * bk + s0;
                if (!vis || kall) {
                    for (int64_t r = 0; r < mr; r++)
                        for (int64_t c = 0; c < bc; c++) {
                            srow[r * bk + c] = -INFINITY;
                            dprow[r * bk + c] = 0.0f;
                        }
                    continue;
                }
                tp_qk_args a;
                memset(&a, 0, sizeof a);
                a.q = Q + r0 * D;
                a.ldq = D;
                a.kt = KT;
                a.D = D;
                a.nbias = p->nbias;
                a.masked = !full;
                a.lo = LOT;
                a.hi = HIT;
                const int64_t rlast = TP_MIN(r0 + mr, nq) - 1;
                for (int x = 0; x < p->nbias; x++) {
                    const tp_operand *bo = &p->bias[x];
                    if (bo->dtype == TPRIM_F32 && bo->sj == 1) {
                        a.bias[x] = (const float *)tp_atb(bo, bi, h, i0 + r0, js);
                        a.bias_ld[x] = bo->si;
                    } else {
                        float *dst = BB + x * mr * bc;
                        for (int64_t r = r0; r <= rlast; r++)
                            if (HIT[r - r0] > 0)
                                u->pack_rows(tp_atb(bo, bi, h, i0 + r, js), bo->dtype, 0, bo->sj, 1,
                                             ns, 1.0f, dst + (r - r0) * bc, bc);
                        a.bias[x] = dst;
                        a.bias_ld[x] = bc;
                    }
                }
                if (p->has_alibi) {
                    for (int64_t r = 0; r < mr; r++) {
                        AL[r] = slope2;
                        ALD[r] = (float)(i0 + r0 + r + off - js);
                    }
                    a.alibi = AL;
                    a.alibi_d = ALD;
                }
                a.s = srow;
                a.lds = bk;
                u->qk(&a);
                if (khide) tp_kmask_apply(srow, bk, mr, sbits, ns);
                tp_qk_args d;
                memset(&d, 0, sizeof d);
                d.q = DO + r0 * Dv;
                d.ldq = Dv;
                d.kt = VT;
                d.D = Dv;
                d.s = dprow;
                d.lds = bk;
                u->qk(&d);
            }
        }
        const int64_t ncols = (nk + u->vw - 1) / u->vw * u->vw;
        for (int64_t mb = 0; mb < nmb; mb++) {
            if (!ACT[mb]) continue;
            tp_bwd_ds_args e;
            memset(&e, 0, sizeof e);
            e.s = S + mb * mr * bk;
            e.lds = bk;
            e.dp = DP + mb * mr * bk;
            e.lddp = bk;
            e.ncols = ncols;
            e.row_lse2 = L2 + mb * mr;
            e.row_delta = DL + mb * mr;
            u->bwd_ds(&e);
            for (int x = 0; x < p->nbias; x++) {
                if (!p->has_dbias[x]) continue;
                for (int64_t r = mb * mr; r < TP_MIN((mb + 1) * mr, nq); r++)
                    add_row(u, (float *)tp_atb(&p->dbias[x], bi, h, i0 + r, j0), p->dbias[x].sj,
                            DP + r * bk, nk);
            }
        }
        u->pack_rows(tp_atb(&p->k, bi, hkv, j0, 0), p->dtype, p->k.si, p->k.sj, nk, D, 1.0f, KB, g->ldd);
        const tp_pv_args pdq = {.p = DP, .ldp = bk, .v = KB, .ldv = g->ldd, .nk = nk,
                                .o = DQ, .ldo = g->ldd, .alpha = ONES, .Dv = D};
        tp_flash_pv_active(u, ACT, nmb, &pdq, 0);
    }
    store_rows(u, p, &p->dq, bi, h, i0, nq, DQ, g->ldd, D, p->scale);
}

static void dq_task(void *arg, int64_t item, int tid)
{
    const bwd_job *job = arg;
    const tp_attn_problem *p = job->p;
    const bwd_geom *g = &job->g;
    char *ws = job->ws + (size_t)tid * g->per_thread;
    /* fixed indices of the non-grouped dims, then the query block */
    int64_t fixed[4], qb = -1;
    int64_t rest = item;
    if (!job->i_red) {
        qb = g->nqb - 1 - rest % g->nqb;
        rest /= g->nqb;
    }
    for (int d = 3; d >= 0; d--) {
        fixed[d] = rest % job->extent[d];
        rest /= job->extent[d];
    }
    const int64_t size[4] = {p->bdim[0], p->bdim[1], p->bdim[2], p->Hq};
    int64_t idx[4];
    for (int d = 0; d < 4; d++) idx[d] = job->grouped[d] ? 0 : fixed[d];
    for (;;) { /* every combination of the grouped dims, in lexicographic order */
        const int64_t b = (idx[0] * p->bdim[1] + idx[1]) * p->bdim[2] + idx[2], h = idx[3];
        int64_t qb0 = qb >= 0 ? qb : 0, qb1 = qb >= 0 ? qb + 1 : g->nqb;
        for (int64_t q = qb0; q < qb1; q++) {
            int zero[2] = {0, 0};
            for (int x = 0; x < p->nbias; x++) {
                if (!p->has_dbias[x]) continue;
                const tp_operand *o = &p->dbias[x];
                const int64_t st[4] = {o->sb[0], o->sb[1], o->sb[2], o->sh};
                int first = 1;
                for (int d = 0; d < 4; d++)
                    if (job->grouped[d] && st[d] == 0 && idx[d] != 0) first = 0;
                if (o->si == 0 && q != qb0) first = 0;
                zero[x] = first;
            }
            dq_cell(job, ws, b, h, q * g->R, zero);
        }
        int d = 3;
        for (; d >= 0; d--) {
            if (!job->grouped[d]) continue;
            if (++idx[d] < size[d]) break;
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}

void tp_flash_bwd_run(const tp_flash_ukr *u, const tp_attn_problem *p, void *ws, tp_pool *pool,
                      int nthreads)
{
    bwd_job job;
    memset(&job, 0, sizeof job);
    job.u = u;
    job.p = p;
    if (!geom_init(u, p, &job.g)) return; /* cannot happen: workspace() checked it */
    job.delta = (float *)ws;
    job.ws = (char *)ws + job.g.delta_bytes;
    tp_pool_run(pool, nthreads, p->nbatch * p->Hq, delta_task, &job);
    tp_pool_run(pool, nthreads, p->nbatch * p->Hkv * job.g.nkb, dkdv_task, &job);

    const int64_t size[4] = {p->bdim[0], p->bdim[1], p->bdim[2], p->Hq};
    for (int x = 0; x < p->nbias; x++) {
        if (!p->has_dbias[x]) continue;
        const tp_operand *o = &p->dbias[x];
        const int64_t st[4] = {o->sb[0], o->sb[1], o->sb[2], o->sh};
        for (int d = 0; d < 4; d++)
            if (st[d] == 0 && size[d] > 1) job.grouped[d] = 1;
        if (o->si == 0 && job.g.nqb > 1) job.i_red = 1;
    }
    int64_t items = job.i_red ? 1 : job.g.nqb;
    for (int d = 0; d < 4; d++) {
        job.extent[d] = job.grouped[d] ? 1 : size[d];
        items *= job.extent[d];
    }
    tp_pool_run(pool, nthreads, items, dq_task, &job);
}
