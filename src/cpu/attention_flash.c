/* attention_flash.c -- the generic flash-attention driver shared by the SIMD kernels:
 * work items, per-row masks, packing, tile skipping and scheduling. The arithmetic
 * lives in the ISA micro-kernels (tp_flash_ukr); see attention_flash.h.
 *
 * Scheduling: work items are (batch, kv head, head group, query block), query blocks
 * innermost so that the blocks of one head run back to back while its keys and values
 * are in cache, and in each head the last query blocks (the most keys under a causal
 * mask) first. Threads take items from one counter, so the short blocks of the last
 * head balance the threads at the end.
 *
 * Memory: each thread owns one slice of the workspace whose size depends on D, Dv and
 * the blocksizes only, never on Sq or Sk. */
#include "attention_flash.h"

#include <math.h>
#include <string.h>

typedef struct flash_geom {
    int64_t bq;       /* queries per block */
    int64_t gb;       /* heads per block (> 1 only when Sq < rows_max) */
    int64_t nqb, nhg; /* query blocks, head groups */
    int64_t rows_pad; /* rows per block, padded to a multiple of mr */
    int64_t ldq, ldo; /* row strides of the packed Q and of O */
    size_t off_q, off_o, off_m, off_l, off_a, off_p, off_kt, off_v, off_bias;
    size_t off_lo, off_hi, off_ia, off_sl, off_lot, off_hit, off_al, off_ald, off_act;
    size_t per_thread;
} flash_geom;

/* Reserve n elements of size es at the end of the layout (aligned). 0 on overflow. */
static int reserve(size_t *end, size_t *off, int64_t n, size_t es)
{
    size_t bytes, at;
    if (n < 0 || !tp_mul_size((size_t)n, es, &bytes) || !tp_align_size(*end, &at) ||
        !tp_add_size(at, bytes, end))
        return 0;
    *off = at;
    return 1;
}

static int geom_init(const tp_flash_ukr *u, const tp_attn_problem *p, flash_geom *g)
{
    const int64_t mr = u->mr, bc = u->bc, bk = u->bk;
    const int64_t rows_max = tp_flash_rows(u, p, 0);
    g->bq = TP_MAX(1, TP_MIN(p->Sq, rows_max));
    g->gb = TP_MAX(1, TP_MIN(p->G, rows_max / g->bq));
    g->nqb = (p->Sq + g->bq - 1) / g->bq;
    g->nhg = (p->G + g->gb - 1) / g->gb;
    g->rows_pad = (g->gb * g->bq + mr - 1) / mr * mr;
    g->ldq = p->D;
    g->ldo = TP_MAX(1, (p->Dv + u->vw - 1) / u->vw) * u->vw;
    int64_t R = g->rows_pad, nmb = R / mr, kt_n, q_n, o_n, v_n;
    if (!tp_mul_i64(R, g->ldq, &q_n) || !tp_mul_i64(R, g->ldo, &o_n) ||
        !tp_mul_i64(p->D, bc, &kt_n) || !tp_mul_i64(bk, g->ldo, &v_n))
        return 0;
    size_t end = 0;
    int ok = reserve(&end, &g->off_q, q_n, 4) && reserve(&end, &g->off_o, o_n, 4) &&
             reserve(&end, &g->off_m, R, 4) && reserve(&end, &g->off_l, R, 4) &&
             reserve(&end, &g->off_a, R, 4) && reserve(&end, &g->off_p, R * bk, 4) &&
             reserve(&end, &g->off_kt, kt_n, 4) && reserve(&end, &g->off_v, v_n, 4) &&
             reserve(&end, &g->off_bias, 2 * mr * bc, 4) && reserve(&end, &g->off_lo, R, 8) &&
             reserve(&end, &g->off_hi, R, 8) && reserve(&end, &g->off_ia, R, 8) &&
             reserve(&end, &g->off_sl, R, 4) && reserve(&end, &g->off_lot, mr, 4) &&
             reserve(&end, &g->off_hit, mr, 4) && reserve(&end, &g->off_al, mr, 4) &&
             reserve(&end, &g->off_ald, mr, 4) && reserve(&end, &g->off_act, nmb, 1) &&
             tp_align_size(end, &g->per_thread);
    return ok;
}

size_t tp_flash_workspace(const tp_flash_ukr *u, const tp_attn_problem *p, int nthreads, int *ok)
{
    flash_geom g;
    size_t total;
    if (!geom_init(u, p, &g) || !tp_mul_size(g.per_thread, (size_t)nthreads, &total)) {
        *ok = 0;
        return 0;
    }
    return total;
}

typedef struct flash_job {
    const tp_flash_ukr *u;
    const tp_attn_problem *p;
    flash_geom g;
    char *ws;
    int batch_inner; /* schedule batch entries innermost (see tp_attn_shared_bias) */
} flash_job;

/* One block of rows: ng heads x nq queries starting at (head g0 of kv head hkv, i0). */
static void flash_block(const flash_job *job, char *ws, int64_t b, int64_t hkv, int64_t g0,
                        int64_t i0)
{
    const tp_attn_problem *p = job->p;
    const tp_flash_ukr *u = job->u;
    const flash_geom *g = &job->g;
    const int64_t mr = u->mr, bc = u->bc, bk = u->bk, ldq = g->ldq, ldo = g->ldo;
    float *Q = (float *)(ws + g->off_q);     /* [rows_pad][ldq] */
    float *O = (float *)(ws + g->off_o);     /* [rows_pad][ldo] */
    float *M = (float *)(ws + g->off_m);     /* [rows_pad] */
    float *L = (float *)(ws + g->off_l);     /* [rows_pad] */
    float *A = (float *)(ws + g->off_a);     /* [rows_pad] */
    float *S = (float *)(ws + g->off_p);     /* [rows_pad][bk] scores, then P */
    float *KT = (float *)(ws + g->off_kt);   /* [D][bc] */
    float *VB = (float *)(ws + g->off_v);    /* [bk][ldo] */
    float *BB = (float *)(ws + g->off_bias); /* [2][mr][bc] */
    int64_t *LO = (int64_t *)(ws + g->off_lo), *HI = (int64_t *)(ws + g->off_hi);
    int64_t *IA = (int64_t *)(ws + g->off_ia); /* [rows_pad] aligned query positions */
    float *SL = (float *)(ws + g->off_sl);     /* [rows_pad] -slope * log2(e) */
    int32_t *LOT = (int32_t *)(ws + g->off_lot), *HIT = (int32_t *)(ws + g->off_hit);
    float *AL = (float *)(ws + g->off_al), *ALD = (float *)(ws + g->off_ald);
    unsigned char *ACT = (unsigned char *)(ws + g->off_act);

    const int64_t nq = TP_MIN(g->bq, p->Sq - i0), ng = TP_MIN(g->gb, p->G - g0);
    const int64_t rows = ng * nq, rows_pad = (rows + mr - 1) / mr * mr, nmb = rows_pad / mr;
    const int64_t kl = tp_key_len(p, b);
    int64_t bi[3];
    tp_batch_idx(p, b, bi);
    const float qscale = p->softcap > 0.0f ? p->scale / p->softcap : p->scale * TP_LOG2E;

    /* per-row visible key ranges, alibi terms; union of the ranges */
    int64_t jlo = INT64_MAX, jhi = 0;
    for (int64_t r = 0; r < rows_pad; r++) {
        if (r < rows) {
            int64_t i = i0 + r % nq, h = hkv * p->G + g0 + r / nq;
            tp_row_range(p, kl, i, &LO[r], &HI[r]);
            IA[r] = i + (kl - p->Sq);
            SL[r] = -tp_alibi_slope(p, b, h) * TP_LOG2E;
            if (LO[r] < HI[r]) {
                jlo = TP_MIN(jlo, LO[r]);
                jhi = TP_MAX(jhi, HI[r]);
            }
        } else {
            LO[r] = HI[r] = IA[r] = 0; /* padding rows see nothing */
            SL[r] = 0.0f;
        }
    }
    for (int64_t gi = 0; gi < ng; gi++) {
        int64_t h = hkv * p->G + g0 + gi;
        u->pack_rows(tp_atb(&p->q, bi, h, i0, 0), p->dtype, p->q.si, p->q.sj, nq, p->D, qscale,
                     Q + gi * nq * ldq, ldq);
    }
    memset(Q + rows * ldq, 0, (size_t)((rows_pad - rows) * ldq) * sizeof(float));
    memset(O, 0, (size_t)(rows_pad * ldo) * sizeof(float));
    for (int64_t r = 0; r < rows_pad; r++) {
        M[r] = -INFINITY;
        L[r] = 0.0f;
    }
    const float softcap2 = p->softcap > 0.0f ? p->softcap * TP_LOG2E : 0.0f;

    for (int64_t j0 = jlo < jhi ? jlo / bk * bk : jhi; j0 < jhi; j0 += bk) {
        const int64_t nk = TP_MIN(bk, p->Sk - j0);
        uint64_t kbits[8];
        if (p->has_kmask && !tp_kmask_bits(p, bi, j0, nk, kbits)) continue; /* all hidden */
        if (!tp_flash_active(LO, HI, nmb, mr, j0, nk, ACT)) continue;

        /* 1. scores, one sub-tile of bc keys at a time */
        for (int64_t s0 = 0; s0 < nk; s0 += bc) {
            const int64_t js = j0 + s0, ns = TP_MIN(bc, nk - s0);
            int khide, kall; /* the key mask hides some / every key of the sub-tile */
            const uint64_t sbits = tp_kmask_sub(p, kbits, s0, ns, &khide, &kall);
            int packed = 0;
            for (int64_t mb = 0; mb < nmb; mb++) {
                if (!ACT[mb]) continue;
                const int64_t r0 = mb * mr;
                float *srow = S + r0 * bk + s0;
                int vis = 0, full = 1;
                for (int64_t r = 0; r < mr; r++) {
                    int64_t lo = TP_MAX(LO[r0 + r] - js, 0), hi = TP_MIN(HI[r0 + r] - js, bc);
                    if (lo < hi) vis = 1;
                    else lo = hi = 0;
                    if (lo > 0 || hi < bc) full = 0;
                    LOT[r] = (int32_t)lo;
                    HIT[r] = (int32_t)hi;
                }
                if (!vis || kall) { /* the block is active in the tile but sees nothing here */
                    for (int64_t r = 0; r < mr; r++)
                        for (int64_t c = 0; c < bc; c++) srow[r * bk + c] = -INFINITY;
                    continue;
                }
                if (!packed) {
                    u->pack_kt(tp_atb(&p->k, bi, hkv, js, 0), p->dtype, p->k.si, p->k.sj, ns,
                               p->D, KT);
                    packed = 1;
                }
                tp_qk_args a;
                a.q = Q + r0 * ldq;
                a.ldq = ldq;
                a.kt = KT;
                a.D = p->D;
                a.nbias = p->nbias;
                a.masked = !full;
                a.lo = LOT;
                a.hi = HIT;
                a.alibi = NULL;
                a.alibi_d = NULL;
                a.softcap = softcap2;
                a.s = srow;
                a.lds = bk;
                const int64_t rlast = TP_MIN(r0 + mr, rows) - 1; /* last real row */
                const int one_head = r0 / nq == rlast / nq;
                for (int x = 0; x < p->nbias; x++) {
                    const tp_operand *bo = &p->bias[x];
                    if (bo->dtype == TPRIM_F32 && bo->sj == 1 && one_head) {
                        int64_t h = hkv * p->G + g0 + r0 / nq;
                        a.bias[x] = (const float *)tp_atb(bo, bi, h, i0 + r0 % nq, js);
                        a.bias_ld[x] = bo->si;
                    } else {
                        float *dst = BB + x * mr * bc;
                        for (int64_t r = r0; r <= rlast; r++) {
                            if (HIT[r - r0] == 0) continue; /* not read */
                            int64_t h = hkv * p->G + g0 + r / nq;
                            u->pack_rows(tp_atb(bo, bi, h, i0 + r % nq, js), bo->dtype, 0, bo->sj,
                                         1, ns, 1.0f, dst + (r - r0) * bc, bc);
                        }
                        a.bias[x] = dst;
                        a.bias_ld[x] = bc;
                    }
                }
                if (p->has_alibi) {
                    for (int64_t r = 0; r < mr; r++) {
                        AL[r] = SL[r0 + r];
                        ALD[r] = (float)(IA[r0 + r] - js);
                    }
                    a.alibi = AL;
                    a.alibi_d = ALD;
                }
                u->qk(&a);
                if (khide) tp_kmask_apply(srow, bk, mr, sbits, ns);
            }
        }

        /* 2. online softmax over the tile, row block by row block */
        for (int64_t mb = 0; mb < nmb; mb++) {
            if (!ACT[mb]) continue;
            tp_softmax_args sa;
            sa.s = S + mb * mr * bk;
            sa.lds = bk;
            sa.ncols = (nk + u->vw - 1) / u->vw * u->vw;
            sa.m = M + mb * mr;
            sa.l = L + mb * mr;
            sa.alpha = A + mb * mr;
            u->softmax(&sa);
        }

        /* 3. O = alpha O + P V over each run of active row blocks. V is always copied
         * into VB, f32 too: pv then streams one compact tile that the copy has just
         * brought into cache (measured faster than reading the caller's rows). */
        u->pack_rows(tp_atb(&p->v, bi, hkv, j0, 0), p->dtype, p->v.si, p->v.sj, nk, p->Dv, 1.0f,
                     VB, ldo);
        const tp_pv_args pv = {.p = S, .ldp = bk, .v = VB, .ldv = ldo, .nk = nk,
                               .o = O, .ldo = ldo, .alpha = A, .Dv = p->Dv};
        tp_flash_pv_active(u, ACT, nmb, &pv, 1);
    }

    for (int64_t r = 0; r < rows; r++) {
        int64_t i = i0 + r % nq, h = hkv * p->G + g0 + r / nq;
        float l = L[r];
        u->store_row(O + r * ldo, l > 0.0f ? 1.0f / l : 0.0f, p->Dv,
                     (char *)tp_atb(&p->out, bi, h, i, 0), p->dtype, p->out.sj);
        if (p->has_lse) {
            float lse = l > 0.0f ? (M[r] + log2f(l)) * TP_LN2 : -INFINITY;
            memcpy((char *)tp_atb(&p->lse, bi, h, i, 0), &lse, 4);
        }
    }
}

static void flash_task(void *arg, int64_t item, int tid)
{
    const flash_job *job = arg;
    const tp_attn_problem *p = job->p;
    const flash_geom *g = &job->g;
    int64_t qb, hg, hkv, b, rest = item;
    if (job->batch_inner) {
        /* batch entries innermost: consecutive items read the same tiles of a bias that
         * is shared by the batch (the pair bias of N rows) while it is in cache */
        b = rest % p->nbatch;
        rest /= p->nbatch;
        qb = g->nqb - 1 - rest % g->nqb;
        rest /= g->nqb;
        hg = rest % g->nhg;
        hkv = rest / g->nhg;
    } else {
        /* query blocks innermost, last first: the blocks of one head run back to back
         * (its keys and values stay in cache), the longest causal blocks first */
        qb = g->nqb - 1 - rest % g->nqb;
        rest /= g->nqb;
        hg = rest % g->nhg;
        rest /= g->nhg;
        hkv = rest % p->Hkv;
        b = rest / p->Hkv;
    }
    flash_block(job, job->ws + (size_t)tid * g->per_thread, b, hkv, hg * g->gb, qb * g->bq);
}

void tp_flash_run(const tp_flash_ukr *u, const tp_attn_problem *p, void *ws, tp_pool *pool,
                  int nthreads)
{
    flash_job job;
    job.u = u;
    job.p = p;
    job.ws = ws;
    job.batch_inner = tp_attn_shared_bias(p);
    if (!geom_init(u, p, &job.g)) return; /* cannot happen: workspace() checked it */
    int64_t items = job.g.nqb * p->nbatch * p->Hkv * job.g.nhg;
    tp_pool_run(pool, nthreads, items, flash_task, &job);
}
