/* gemm_blocked.c -- the generic BLIS-style GEMM driver shared by the SIMD kernels:
 * blocking, packing, work items, edge tiles and output conversion. The arithmetic lives
 * in the ISA micro-kernels (tp_gemm_ukr); gemm_blocked.h has the loop structure.
 *
 * Per call (for each chunk of columns and group of batch entries, usually just one):
 *   phase 1: all threads pack B into panels of nr columns x all of K (shared, read-only
 *            afterwards); one item per (batch entry, group of GEMM_PACK_GROUP panels);
 *   phase 2: all threads run work items (batch entry, up to mc rows, a range of
 *            columns), each with its own slice of the workspace (packed A, edge tile,
 *            bias, scratch).
 * Items are independent: no locks, no barriers beyond the end of each phase.
 *
 * Memory: packed B is bounded by GEMM_B_BUDGET bytes (more only when a single panel of
 * nr x K is larger); the per-thread slice depends on the blocksizes only. */
#include "gemm_blocked.h"

#include <string.h>

/* Bytes of packed B held at once: at most this many columns / batch entries are packed
 * per phase 1 (a single panel of nr x K may exceed it). 8 MiB stays in a server L3. */
#define GEMM_B_BUDGET ((size_t)8 << 20)
/* Smallest work item worth handing to another thread (flops). */
#define GEMM_MIN_ITEM_FLOPS 2097152.0
/* Panels of B packed by one phase-1 item. */
#define GEMM_PACK_GROUP 4
/* Work items per thread to aim for (dynamic scheduling evens out the rest). */
#define GEMM_ITEMS_PER_THREAD 4

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
static int64_t cdiv(int64_t x, int64_t y) { return (x + y - 1) / y; }

typedef struct gemm_geom {
    int64_t nbatch;       /* batch entries */
    int64_t kcb, nkb;     /* K block size and count (nkb >= 1; kcb = 0 when K = 0) */
    int64_t chunk_w;      /* columns of B packed per phase 1 (a multiple of nr, or n) */
    int64_t chunk_pan;    /* nr-panels per chunk */
    int64_t panel_elems;  /* floats per packed panel: K * nr */
    int b_shared;         /* B is the same for every batch entry (all batch strides 0) */
    int64_t group;        /* batch entries per phase (all of them when b_shared) */
    int64_t mcb, ncb;     /* rows and columns per work item */
    int64_t nsub;         /* columns per B block kept in L2 while A's micro-panels pass */
    int64_t apan_elems;   /* floats per packed A micro-panel: kcb x pa_ld */
    int direct;           /* C is f32 with unit column stride: tiles go straight to C */
    int scratch;          /* not direct and nkb > 1: per-item f32 accumulator [mcb][ldscr] */
    int64_t ldscr;
    size_t bpack_bytes;   /* shared packed B: group (or 1) x chunk_pan panels */
    size_t off_apan, off_tile, off_bias, off_scr, per_thread;
} gemm_geom;

/* Reserve n floats at the end of the layout (aligned). 0 on overflow. */
static int reserve(size_t *end, size_t *off, int64_t n)
{
    size_t bytes, at;
    if (n < 0 || !tp_mul_size((size_t)n, sizeof(float), &bytes) || !tp_align_size(*end, &at) ||
        !tp_add_size(at, bytes, end))
        return 0;
    *off = at;
    return 1;
}

static int geom_init(const tp_gemm_ukr *u, const tp_gemm_problem *p, int nthreads,
                     gemm_geom *g)
{
    const int64_t mr = u->mr, nr = u->nr, K = p->k;
    memset(g, 0, sizeof *g);
    g->nbatch = tp_gemm_nbatch(p);

    /* K blocks of near-equal size */
    g->nkb = K > 0 ? cdiv(K, u->kc) : 1;
    g->kcb = K > 0 ? cdiv(K, g->nkb) : 0;

    /* B chunks: all columns unless one batch entry's packed B exceeds the budget */
    size_t panel_bytes, full_bytes;
    if (!tp_mul_i64(K, nr, &g->panel_elems) ||
        !tp_mul_size((size_t)g->panel_elems, sizeof(float), &panel_bytes))
        return 0;
    const int64_t npan_all = cdiv(p->n, nr);
    if (!tp_mul_size(panel_bytes, (size_t)npan_all, &full_bytes)) full_bytes = SIZE_MAX;
    if (full_bytes <= GEMM_B_BUDGET || panel_bytes == 0) {
        g->chunk_pan = npan_all;
        g->chunk_w = p->n;
    } else {
        int64_t fit = (int64_t)(GEMM_B_BUDGET / panel_bytes);
        g->chunk_pan = TP_MAX(1, TP_MIN(fit, npan_all));
        g->chunk_w = g->chunk_pan * nr;
    }
    g->b_shared = 1;
    for (int d = 0; d < p->nbd; d++)
        if (p->b.bs[d] != 0 && p->bdim[d] > 1) g->b_shared = 0;
    size_t chunk_bytes;
    if (!tp_mul_size(panel_bytes, (size_t)g->chunk_pan, &chunk_bytes)) return 0;
    if (g->b_shared || chunk_bytes == 0) {
        g->group = g->nbatch;
    } else {
        int64_t fit = (int64_t)(GEMM_B_BUDGET / chunk_bytes);
        g->group = TP_MAX(1, TP_MIN(fit, g->nbatch));
    }
    if (!tp_mul_size(chunk_bytes, g->b_shared ? 1 : (size_t)g->group, &g->bpack_bytes))
        return 0;

    /* work items: near-equal blocks of at most mc rows x all the chunk's columns (A is
     * packed once per item and K block). With several threads they are split until
     * every thread has a few items (not below ~2 Mflop per item), always halving the
     * longer side: each item reads its rows of A and its columns of packed B, so square
     * items read the least (rows x K + K x columns per item). */
    g->direct = p->c.dtype == TPRIM_F32 && p->c.cs == 1;
    g->scratch = !g->direct && g->nkb > 1;
    const int64_t cw = TP_MAX(1, TP_MIN(g->chunk_w, p->n)), m = TP_MAX(1, p->m);
    const int64_t wmax = g->scratch ? u->nc : cw; /* bounded scratch */
    g->mcb = round_up(cdiv(m, cdiv(m, u->mc)), mr);
    g->ncb = round_up(cdiv(cw, cdiv(cw, wmax)), nr);
    if (nthreads > 1) {
        /* estimates in double: the products need not fit in int64 */
        const double target = GEMM_ITEMS_PER_THREAD * (double)nthreads;
        const double kk2 = 2.0 * (double)TP_MAX(K, 1), min_flops = GEMM_MIN_ITEM_FLOPS;
        for (;;) {
            const double items = (double)TP_MIN(g->group, g->nbatch) *
                                 (double)cdiv(m, g->mcb) * (double)cdiv(cw, g->ncb);
            if (items >= target) break;
            const int64_t half_m = round_up(cdiv(g->mcb, 2), mr);
            const int64_t half_n = round_up(cdiv(g->ncb, 2), nr);
            const int can_m = g->mcb > mr && (double)half_m * (double)g->ncb * kk2 >= min_flops;
            const int can_n = g->ncb > nr && (double)g->mcb * (double)half_n * kk2 >= min_flops;
            if (can_m && (g->mcb >= g->ncb || !can_n)) g->mcb = half_m;
            else if (can_n) g->ncb = half_n;
            else break;
        }
    }
    g->nsub = TP_MIN(g->ncb, (int64_t)u->nc);
    g->ldscr = g->ncb;
    g->apan_elems = u->pa_ld * TP_MAX(g->kcb, 1);
    size_t end = 0;
    int ok = reserve(&end, &g->off_apan, g->mcb / mr * g->apan_elems) &&
             reserve(&end, &g->off_tile, mr * nr) && reserve(&end, &g->off_bias, g->ncb) &&
             reserve(&end, &g->off_scr, g->scratch ? g->mcb * g->ldscr : 0) &&
             tp_align_size(end, &g->per_thread);
    return ok;
}

size_t tp_gemm_blocked_workspace(const tp_gemm_ukr *u, const tp_gemm_problem *p, int nthreads,
                                 int *ok)
{
    gemm_geom g;
    size_t thr, bp, total;
    if (p->m == 0 || p->n == 0 || tp_gemm_nbatch(p) == 0) return 0;
    if (!geom_init(u, p, nthreads, &g) || !tp_mul_size(g.per_thread, (size_t)nthreads, &thr) ||
        !tp_align_size(g.bpack_bytes, &bp) || !tp_add_size(thr, bp, &total)) {
        *ok = 0;
        return 0;
    }
    return total;
}

typedef struct gemm_job {
    const tp_gemm_ukr *u;
    const tp_gemm_problem *p;
    gemm_geom g;
    float *bpack;    /* shared packed B */
    char *thr;       /* per-thread slices */
    int64_t jc0;     /* first column of the current chunk */
    int64_t cols;    /* columns in the current chunk */
    int64_t b0, nb;  /* batch entries of the current group */
    int64_t npan;    /* panels in the current chunk */
    int64_t ngrp;    /* groups of GEMM_PACK_GROUP panels (phase 1 items per batch entry) */
    int64_t nmb, nnb; /* row and column blocks of the current phase 2 */
} gemm_job;

static const char *elem(const tp_gemm_operand *o, int64_t off)
{
    return o->data + off * (int64_t)tprim_dtype_size(o->dtype);
}

/* phase 1: a group of panels of one batch entry. When the columns of B are contiguous
 * (row-major B) its rows are read 16 at a time across all the group's panels, so that
 * every row is read in one long run; otherwise (k contiguous, e.g. B = w^T) panel by
 * panel over all of K. */
static void pack_b_task(void *arg, int64_t item, int tid)
{
    const gemm_job *job = arg;
    const tp_gemm_problem *p = job->p;
    const int64_t nr = job->u->nr, K = p->k;
    const int64_t gi = item / job->ngrp, pan0 = item % job->ngrp * GEMM_PACK_GROUP;
    const int64_t pan1 = TP_MIN(job->npan, pan0 + GEMM_PACK_GROUP);
    const int64_t boff = tp_gemm_boff(p, &p->b, job->b0 + gi);
    float *dst = job->bpack + gi * job->npan * job->g.panel_elems;
    const int64_t qb = p->b.cs == 1 && p->b.rs != 1 ? 16 : K;
    for (int64_t q0 = 0; q0 < K; q0 += qb)
        for (int64_t pan = pan0; pan < pan1; pan++) {
            const int64_t j = job->jc0 + pan * nr;
            job->u->pack(elem(&p->b, boff + j * p->b.cs + q0 * p->b.rs), p->b.dtype, p->b.cs,
                         p->b.rs, TP_MIN(nr, p->n - j), TP_MIN(qb, K - q0), (int32_t)nr,
                         dst + pan * job->g.panel_elems + q0 * nr);
        }
}

/* A full or edge tile into C (direct: f32, unit column stride). */
static void tile_direct(const tp_gemm_ukr *u, int64_t kc, const float *ap, const float *bp,
                        float *cp, int64_t ldc, int beta, const float *bias, int64_t mre,
                        int64_t nre, float *tile)
{
    const int64_t mr = u->mr, nr = u->nr;
    if (mre == mr && nre == nr) {
        u->kernel(kc, ap, bp, cp, ldc, beta, bias);
        return;
    }
    if (beta) {
        memset(tile, 0, (size_t)(mr * nr) * sizeof(float));
        for (int64_t r = 0; r < mre; r++)
            memcpy(tile + r * nr, cp + r * ldc, (size_t)nre * sizeof(float));
    }
    u->kernel(kc, ap, bp, tile, nr, beta, bias);
    for (int64_t r = 0; r < mre; r++)
        memcpy(cp + r * ldc, tile + r * nr, (size_t)nre * sizeof(float));
}

/* What the tiles of one work item share. */
typedef struct item_ctx {
    int64_t i0, i1;    /* rows of C */
    int64_t j0, j1;    /* columns, relative to the chunk */
    int64_t coff;      /* element offset of C's batch entry */
    const float *bpan; /* packed B of the batch entry: panels of the chunk */
    const float *bias; /* [ncb] f32 bias of the item's columns (zero padded), or NULL */
    float *apack;      /* [mcb / mr][kcb][pa_ld] packed A micro-panels */
    float *tile;       /* [mr][nr] edge / conversion tile */
    float *scr;        /* [mcb][ldscr] f32 accumulator (scratch mode) */
} item_ctx;

/* Tile (rows i.., columns j.. of the chunk) for the K block [p0, p0 + kc). */
static void run_tile(const gemm_job *job, const item_ctx *it, const float *ap, int64_t i,
                     int64_t j, int64_t kc, int64_t p0, int first)
{
    const tp_gemm_problem *p = job->p;
    const tp_gemm_ukr *u = job->u;
    const gemm_geom *g = &job->g;
    const int64_t mr = u->mr, nr = u->nr;
    const int64_t mre = TP_MIN(mr, it->i1 - i), nre = TP_MIN(nr, it->j1 - j);
    const float *bp = it->bpan + (j / nr) * g->panel_elems + p0 * nr;
    const float *bb = first && it->bias ? it->bias + (j - it->j0) : NULL;
    if (g->direct) {
        float *cp = (float *)elem(&p->c, it->coff + i * p->c.rs + job->jc0 + j);
        tile_direct(u, kc, ap, bp, cp, p->c.rs, !first || p->accumulate, bb, mre, nre,
                    it->tile);
    } else if (g->scratch) {
        u->kernel(kc, ap, bp, it->scr + (i - it->i0) * g->ldscr + (j - it->j0), g->ldscr,
                  !first, bb);
    } else {
        u->kernel(kc, ap, bp, it->tile, nr, 0, bb);
        const int64_t c0 = it->coff + (job->jc0 + j) * p->c.cs;
        for (int64_t r = 0; r < mre; r++)
            u->store_row(it->tile + r * nr, nre, (char *)elem(&p->c, c0 + (i + r) * p->c.rs),
                         p->c.dtype, p->c.cs, p->accumulate);
    }
}

/* phase 2: one work item (batch entry, row block, column block) */
static void item_task(void *arg, int64_t item, int tid)
{
    const gemm_job *job = arg;
    const tp_gemm_problem *p = job->p;
    const tp_gemm_ukr *u = job->u;
    const gemm_geom *g = &job->g;
    const int64_t mr = u->mr, nr = u->nr, K = p->k;
    char *ws = job->thr + (size_t)tid * g->per_thread;
    const int64_t jn = item % job->nnb, ib = (item / job->nnb) % job->nmb;
    const int64_t gi = item / job->nnb / job->nmb, bi = job->b0 + gi;
    item_ctx it;
    it.i0 = ib * g->mcb;
    it.i1 = TP_MIN(p->m, it.i0 + g->mcb);
    it.j0 = jn * g->ncb;
    it.j1 = TP_MIN(job->cols, it.j0 + g->ncb);
    it.coff = tp_gemm_boff(p, &p->c, bi);
    it.bpan = job->bpack + (g->b_shared ? 0 : gi) * job->npan * g->panel_elems;
    it.apack = (float *)(ws + g->off_apan);
    it.tile = (float *)(ws + g->off_tile);
    it.scr = (float *)(ws + g->off_scr);
    it.bias = NULL;
    const int64_t jc = job->jc0 + it.j0; /* first column of the item in C */
    if (p->bias.data) {
        float *bias = (float *)(ws + g->off_bias);
        const int64_t off = tp_gemm_boff(p, &p->bias, bi), nj = it.j1 - it.j0;
        for (int64_t j = 0; j < nj; j++)
            bias[j] = tp_load_f32(elem(&p->bias, off + (jc + j) * p->bias.cs), p->bias.dtype);
        for (int64_t j = nj; j < round_up(nj, nr); j++) bias[j] = 0.0f;
        it.bias = bias;
    }
    const int64_t aoff = tp_gemm_boff(p, &p->a, bi);

    for (int64_t pc = 0; pc < g->nkb; pc++) {
        const int64_t p0 = pc * g->kcb, kc = TP_MIN(g->kcb, K - p0);
        /* one L2-sized block of B at a time; each A micro-panel (in L1) against its
         * panels. The micro-panels are packed during the first block, each just before
         * its first use, and reused by the later blocks. (Software prefetch of the next
         * micro-panel's source was measured slower: the bursts stall the core.) */
        for (int64_t js = it.j0; js < it.j1; js += g->nsub) {
            const int64_t je = TP_MIN(it.j1, js + g->nsub);
            for (int64_t i = it.i0; i < it.i1; i += mr) {
                float *ap = it.apack + (i - it.i0) / mr * g->apan_elems;
                if (js == it.j0 && kc > 0) /* K = 0: A (maybe without data) untouched */
                    u->pack(elem(&p->a, aoff + i * p->a.rs + p0 * p->a.cs), p->a.dtype,
                            p->a.rs, p->a.cs, TP_MIN(mr, it.i1 - i), kc, u->pa_ld, ap);
                for (int64_t j = js; j < je; j += nr) run_tile(job, &it, ap, i, j, kc, p0, pc == 0);
            }
        }
    }
    if (g->scratch)
        for (int64_t i = it.i0; i < it.i1; i++)
            u->store_row(it.scr + (i - it.i0) * g->ldscr, it.j1 - it.j0,
                         (char *)elem(&p->c, it.coff + i * p->c.rs + jc * p->c.cs), p->c.dtype,
                         p->c.cs, p->accumulate);
}

void tp_gemm_blocked_run(const tp_gemm_ukr *u, const tp_gemm_problem *p, void *ws, tp_pool *pool,
                         int nthreads)
{
    gemm_job job;
    if (p->m == 0 || p->n == 0 || tp_gemm_nbatch(p) == 0) return;
    if (!geom_init(u, p, nthreads, &job.g)) return; /* cannot happen: workspace() checked it */
    const gemm_geom *g = &job.g;
    size_t bp;
    tp_align_size(g->bpack_bytes, &bp);
    job.u = u;
    job.p = p;
    job.bpack = (float *)ws;
    job.thr = (char *)ws + bp;
    for (int64_t jc0 = 0; jc0 < p->n; jc0 += g->chunk_w) {
        job.jc0 = jc0;
        job.cols = TP_MIN(g->chunk_w, p->n - jc0);
        job.npan = cdiv(job.cols, u->nr);
        job.nmb = cdiv(p->m, g->mcb);
        job.nnb = cdiv(job.cols, g->ncb);
        for (int64_t b0 = 0; b0 < g->nbatch; b0 += g->group) {
            job.b0 = b0;
            job.nb = TP_MIN(g->group, g->nbatch - b0);
            job.ngrp = cdiv(job.npan, GEMM_PACK_GROUP);
            if (p->k > 0)
                tp_pool_run(pool, nthreads, (g->b_shared ? 1 : job.nb) * job.ngrp, pack_b_task,
                            &job);
            tp_pool_run(pool, nthreads, job.nb * job.nmb * job.nnb, item_task, &job);
        }
    }
}

/* ---- portable pieces -------------------------------------------------------- */

void tp_gemm_pack_generic(const char *src, tprim_dtype dt, int64_t ls, int64_t ss, int64_t nl,
                          int64_t kc, int32_t W, float *dst)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    for (int64_t l = 0; l < W; l++) {
        if (l >= nl) {
            for (int64_t q = 0; q < kc; q++) dst[q * W + l] = 0.0f;
            continue;
        }
        const char *s = src + l * ls * es;
        if (dt == TPRIM_F32) {
            for (int64_t q = 0; q < kc; q++) memcpy(&dst[q * W + l], s + q * ss * es, 4);
        } else {
            for (int64_t q = 0; q < kc; q++) dst[q * W + l] = tp_load_f32(s + q * ss * es, dt);
        }
    }
}

void tp_gemm_store_row_generic(const float *t, int64_t n, char *c, tprim_dtype dt, int64_t cs,
                               int accumulate)
{
    const int64_t es = (int64_t)tprim_dtype_size(dt);
    for (int64_t j = 0; j < n; j++) {
        char *q = c + j * cs * es;
        float v = t[j];
        if (accumulate) v = tp_load_f32(q, dt) + v;
        tp_store_f32(q, dt, v);
    }
}
