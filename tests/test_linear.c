/* test_linear.c -- every runnable kernel variant of TPRIM_OP_LINEAR against the float64
 * oracle: tprim_linear on tail sizes, layouts (transposed, padded, permuted leading
 * dims, stride-0 inputs), ranks 1..6, every dtype, bias on/off/strided, thread counts;
 * and tp_gemm directly for what only the internal API reaches (accumulate, batch dims
 * with broadcast, C of any layout and dtype, B packed in chunks). Every output starts
 * poisoned (NaN), sits between guard bytes, and its gaps must stay untouched. */
#include "gemm_oracle.h"

#include "ops/gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Names of the runnable variants of TPRIM_OP_LINEAR. */
static int runnable_variants(const char **names, int cap)
{
    int n = 0;
    for (int i = 0; i < tprim_kernel_count(TPRIM_OP_LINEAR) && n < cap; i++) {
        tprim_kernel_desc kd;
        if (tprim_kernel_get(TPRIM_OP_LINEAR, i, &kd) == TPRIM_OK && kd.runnable)
            names[n++] = kd.name;
    }
    return n;
}

static double tol_for(tprim_dtype out_dt)
{
    return out_dt == TPRIM_BF16 ? 6e-3 : out_dt == TPRIM_F16 ? 1.5e-3 : 1e-5;
}

/* 1 for every byte of g's span that belongs to a logical element. */
static unsigned char *element_mask(const gtensor *g)
{
    unsigned char *mask = calloc(g->span + 1, 1);
    const size_t es = tprim_dtype_size(g->t.dtype);
    const int64_t n = gt_numel(g);
    for (int64_t i = 0; i < n; i++) memset(mask + gt_offset(g, i) - GUARD, 1, es);
    return mask;
}

/* Check output y after a successful call: guards intact, gaps (bytes of no element)
 * as in `before`, every element finite, norm-wise relative error against ref (or the
 * absolute norm when ref is all zero) within tol. Returns the error. */
static double check_output(const gtensor *y, const unsigned char *before, const double *ref,
                           double tol, const char *label)
{
    CHECK(gt_guards_ok(y), "%s: guard bytes of the output overwritten", label);
    unsigned char *mask = element_mask(y);
    size_t bad_gap = 0;
    for (size_t i = 0; i < y->span; i++)
        if (!mask[i] && y->raw[GUARD + i] != before[GUARD + i]) bad_gap++;
    free(mask);
    CHECK(bad_gap == 0, "%s: %zu bytes between output elements were written", label, bad_gap);
    const int64_t n = gt_numel(y);
    int64_t nonfinite = 0;
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = gt_get(y, i);
        if (!isfinite(v)) {
            nonfinite++;
            continue;
        }
        num += (v - ref[i]) * (v - ref[i]);
        den += ref[i] * ref[i];
    }
    CHECK(nonfinite == 0, "%s: %lld of %lld output elements not finite (unwritten?)", label,
          (long long)nonfinite, (long long)n);
    double err = den > 0.0 ? sqrt(num / den) : sqrt(num);
    CHECK(err <= tol, "%s: relative error %.3g > %.3g", label, err, tol);
    return err;
}

/* ---- tprim_linear cases ---------------------------------------------------------- */

enum { L_ROW = 0, L_PAD, L_TRANS, L_PERM, L_COUNT_ };
static const char *const layout_names[] = {"row", "pad", "trans", "perm"};

typedef struct lin_case {
    int rank;          /* of x and y, 1..6 */
    int64_t lead[5];   /* leading dims (rank - 1 of them) */
    int64_t in, out;
    tprim_dtype dt;
    int bias;          /* 0 none, 1 [out], 2 [out] with stride 2 */
    tprim_dtype bdt;   /* dtype of the bias */
    int xl, wl, yl;    /* layouts L_* (w: row, pad or trans) */
    int xbcast;        /* 1: x has stride 0 over its last dim; 2: w has stride 0 over out */
    int threads;       /* 0: the context's default */
} lin_case;

static void lin_str(const lin_case *c, char *buf, size_t n)
{
    int w = snprintf(buf, n, "x [");
    for (int d = 0; d < c->rank - 1; d++)
        w += snprintf(buf + w, n - (size_t)w, "%lld,", (long long)c->lead[d]);
    snprintf(buf + w, n - (size_t)w,
             "%lld] out %lld %s bias %d (%s) layouts x %s w %s y %s%s%s threads %d",
             (long long)c->in, (long long)c->out, tprim_dtype_name(c->dt), c->bias,
             tprim_dtype_name(c->bdt), layout_names[c->xl], layout_names[c->wl],
             layout_names[c->yl], c->xbcast == 1 ? " x-bcast" : "",
             c->xbcast == 2 ? " w-bcast" : "", c->threads);
}

/* memory order and padding of a layout for rank r */
static int layout_order(int layout, int r, int *order)
{
    for (int d = 0; d < r; d++) order[d] = d;
    if (layout == L_TRANS && r >= 2) { /* last dim outermost */
        order[0] = r - 1;
        for (int d = 1; d < r; d++) order[d] = d - 1;
    } else if (layout == L_PERM && r >= 3) { /* leading dims reversed */
        for (int d = 0; d < r - 1; d++) order[d] = r - 2 - d;
    }
    return layout == L_PAD ? 3 : layout == L_PERM ? 1 : 0;
}

typedef struct lin_built {
    gtensor x, w, b, y, xsrc, wsrc;
    tprim_tensor bv; /* the bias view passed (strided for bias == 2) */
    double *ref;
    int64_t rows;
} lin_built;

static void lin_build(const lin_case *c, uint64_t seed, lin_built *lb)
{
    memset(lb, 0, sizeof *lb);
    rng R = {seed};
    int64_t xs[TPRIM_MAX_RANK], ys[TPRIM_MAX_RANK], ws[2] = {c->out, c->in};
    int r = c->rank, order[TPRIM_MAX_RANK];
    lb->rows = 1;
    for (int d = 0; d < r - 1; d++) {
        xs[d] = ys[d] = c->lead[d];
        lb->rows *= c->lead[d];
    }
    xs[r - 1] = c->in;
    ys[r - 1] = c->out;
    int pad = layout_order(c->xl, r, order);
    if (c->xbcast == 1) { /* x[..., i] = x[..., 0]: a [..., 1] tensor viewed with stride 0 */
        int64_t s1[TPRIM_MAX_RANK];
        memcpy(s1, xs, sizeof s1);
        s1[r - 1] = 1;
        gt_make(&lb->x, c->dt, r, s1, order, pad);
        gt_fill_random(&lb->x, &R, 1.0);
        lb->x.t.shape[r - 1] = c->in;
        lb->x.t.strides[r - 1] = 0;
    } else {
        gt_make(&lb->x, c->dt, r, xs, order, pad);
        gt_fill_random(&lb->x, &R, 1.0);
    }
    int worder[2];
    int wpad = layout_order(c->wl, 2, worder);
    if (c->xbcast == 2) { /* every output row uses the same weights */
        int64_t s1[2] = {1, c->in};
        gt_make(&lb->w, c->dt, 2, s1, worder, wpad);
        gt_fill_random(&lb->w, &R, 1.0);
        lb->w.t.shape[0] = c->out;
        lb->w.t.strides[0] = 0;
    } else {
        gt_make(&lb->w, c->dt, 2, ws, worder, wpad);
        gt_fill_random(&lb->w, &R, 1.0);
    }
    if (c->bias) {
        int64_t bs[2] = {c->out, 2};
        gt_make(&lb->b, c->bdt, 2, bs, NULL, 0);
        gt_fill_random(&lb->b, &R, 1.0);
        lb->bv = lb->b.t; /* [out] view: column 0 (stride 2) or the first `out` elements */
        lb->bv.rank = 1;
        lb->bv.strides[0] = c->bias == 2 ? 2 : 1;
    }
    pad = layout_order(c->yl, r, order);
    gt_make(&lb->y, c->dt, r, ys, order, pad);
    lb->ref = malloc(sizeof(double) * (size_t)(lb->rows * c->out + 1));
    oracle_linear(&lb->x.t, &lb->w.t, c->bias ? &lb->bv : NULL, lb->ref);
}

static void lin_free(lin_built *lb)
{
    gt_free(&lb->x);
    gt_free(&lb->w);
    gt_free(&lb->b);
    gt_free(&lb->y);
    free(lb->ref);
}

/* Run one case on every variant. */
static void lin_run(tprim_ctx *ctx, const lin_case *c, uint64_t seed)
{
    const char *names[8];
    const int nv = runnable_variants(names, 8);
    char desc[256], label[320];
    lin_str(c, desc, sizeof desc);
    lin_built lb;
    lin_build(c, seed, &lb);
    unsigned char *sx = gt_snapshot(&lb.x), *sw = gt_snapshot(&lb.w);
    unsigned char *sb = c->bias ? gt_snapshot(&lb.b) : NULL;
    tprim_ctx_set_num_threads(ctx, c->threads);
    for (int v = 0; v < nv; v++) {
        snprintf(label, sizeof label, "linear[%s] %s", names[v], desc);
        CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, names[v]) == TPRIM_OK, "%s: pin", label);
        gt_poison(&lb.y);
        unsigned char *sy = gt_snapshot(&lb.y);
        uint64_t calls = tprim_ctx_kernel_calls(ctx, TPRIM_OP_LINEAR, names[v]);
        tprim_tensor y = lb.y.t;
        tprim_status st = tprim_linear(ctx, &lb.x.t, &lb.w.t, c->bias ? &lb.bv : NULL, &y);
        if (CHECK(st == TPRIM_OK, "%s: status %s (%s)", label, tprim_status_str(st),
                  tprim_ctx_last_error(ctx))) {
            check_output(&lb.y, sy, lb.ref, tol_for(c->dt), label);
            CHECK(tprim_ctx_kernel_calls(ctx, TPRIM_OP_LINEAR, names[v]) == calls + 1 &&
                      strcmp(tprim_ctx_last_kernel(ctx, TPRIM_OP_LINEAR), names[v]) == 0,
                  "%s: statistics count the call", label);
        }
        CHECK(gt_same_as(&lb.x, sx) && gt_same_as(&lb.w, sw) && (!sb || gt_same_as(&lb.b, sb)),
              "%s: an input was modified", label);
        free(sy);
    }
    tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, NULL);
    tprim_ctx_set_num_threads(ctx, 0);
    free(sx);
    free(sw);
    free(sb);
    lin_free(&lb);
}

static lin_case lin_base(int64_t rows, int64_t out, int64_t in)
{
    lin_case c;
    memset(&c, 0, sizeof c);
    c.rank = 2;
    c.lead[0] = rows;
    c.in = in;
    c.out = out;
    c.dt = TPRIM_F32;
    c.bdt = TPRIM_F32;
    return c;
}

void suite_linear(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx")) return;
    uint64_t seed = 1000;

    /* A. tail sizes: every (rows, out, in) from {1, 3, 17, 100, 257} (the largest
     * products skipped), layouts and bias rotating */
    static const int64_t sz[] = {1, 3, 17, 100, 257};
    int idx = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int k = 0; k < 5; k++) {
                if (sz[a] * sz[b] * sz[k] > 1200000) continue;
                lin_case c = lin_base(sz[a], sz[b], sz[k]);
                static const int wls[3] = {L_ROW, L_TRANS, L_PAD};
                static const int yls[3] = {L_ROW, L_PAD, L_TRANS};
                c.xl = idx % 4 == 3 ? L_PAD : idx % 4;
                c.wl = wls[(idx / 4) % 3];
                c.yl = yls[(idx / 12) % 3];
                c.bias = idx % 2;
                lin_run(ctx, &c, seed++);
                idx++;
            }

    /* B. larger: several K blocks, N not a multiple of any NR, many work items */
    {
        lin_case c = lin_base(530, 200, 600);
        c.bias = 1;
        lin_run(ctx, &c, seed++);
        c = lin_base(97, 333, 1030);
        c.xl = L_TRANS;
        c.wl = L_TRANS;
        lin_run(ctx, &c, seed++);
        /* in = 16 q + r for r near 16: the tails of the 16 x 16 (8 x 8, 4 x 4) packing
         * transposes, with N beyond one panel so an overrun would hit a neighbour */
        static const int64_t odd[][3] = {{45, 70, 31}, {20, 100, 47}, {33, 40, 15}, {9, 65, 63}};
        for (int s = 0; s < 4; s++) {
            c = lin_base(odd[s][0], odd[s][1], odd[s][2]);
            c.xl = s % 2 ? L_TRANS : L_ROW;
            c.wl = s % 3 == 2 ? L_TRANS : L_ROW;
            lin_run(ctx, &c, seed++);
        }
        c = lin_base(1024, 128, 128);
        c.bias = 1;
        c.yl = L_PAD;
        lin_run(ctx, &c, seed++);
    }

    /* C. ranks and leading dims: merged into one matrix or run as a batch */
    {
        lin_case c = lin_base(1, 7, 19);
        c.rank = 1;
        c.bias = 1;
        lin_run(ctx, &c, seed++); /* x [in] -> y [out] */
        c = lin_base(0, 33, 40);
        c.rank = 4;
        c.lead[0] = 2; c.lead[1] = 3; c.lead[2] = 5;
        c.bias = 1;
        for (int l = 0; l < L_COUNT_; l++) {
            c.xl = l;
            c.yl = (l + 1) % L_COUNT_;
            lin_run(ctx, &c, seed++);
        }
        c = lin_base(0, 20, 24);
        c.rank = 6;
        c.lead[0] = 2; c.lead[1] = 1; c.lead[2] = 3; c.lead[3] = 1; c.lead[4] = 2;
        c.xl = L_PERM;
        c.yl = L_PERM;
        c.bias = 1;
        lin_run(ctx, &c, seed++);
        c.xl = L_ROW;
        c.yl = L_PERM;
        lin_run(ctx, &c, seed++);
        c = lin_base(0, 16, 8);
        c.rank = 3;
        c.lead[0] = 4; c.lead[1] = 0; /* a zero leading dim: nothing to write */
        c.bias = 1;
        lin_run(ctx, &c, seed++);
        c = lin_base(5, 7, 0); /* in = 0: y = b */
        c.bias = 1;
        lin_run(ctx, &c, seed++);
        c.bias = 0; /* y = 0 */
        lin_run(ctx, &c, seed++);
        c = lin_base(6, 0, 9); /* out = 0 */
        c.bias = 1;
        lin_run(ctx, &c, seed++);
    }

    /* D. dtypes: bf16 and f16 with f32 or same-dtype bias, layouts, tails, K blocks */
    {
        static const tprim_dtype dts[2] = {TPRIM_BF16, TPRIM_F16};
        static const int64_t shapes[][3] = {{17, 33, 100}, {100, 17, 3}, {257, 64, 300},
                                            {3, 100, 17}, {40, 48, 600}};
        for (int d = 0; d < 2; d++)
            for (int s = 0; s < 5; s++) {
                lin_case c = lin_base(shapes[s][0], shapes[s][1], shapes[s][2]);
                c.dt = dts[d];
                c.bias = 1 + (s % 2);
                c.bdt = s % 3 == 0 ? TPRIM_F32 : dts[d];
                c.xl = s % 3;
                c.wl = s % 2 ? L_TRANS : L_ROW;
                c.yl = (s + d) % 3;
                lin_run(ctx, &c, seed++);
            }
        lin_case c = lin_base(0, 24, 40);
        c.rank = 3;
        c.lead[0] = 3; c.lead[1] = 7;
        c.dt = TPRIM_BF16;
        c.bias = 1;
        c.bdt = TPRIM_BF16;
        c.xl = L_PERM;
        c.yl = L_TRANS;
        lin_run(ctx, &c, seed++);
    }

    /* E. strided bias, stride-0 inputs, thread counts */
    {
        lin_case c = lin_base(23, 45, 31);
        c.bias = 2;
        lin_run(ctx, &c, seed++);
        c.xbcast = 1;
        lin_run(ctx, &c, seed++);
        c.xbcast = 2;
        c.xl = L_TRANS;
        lin_run(ctx, &c, seed++);
        c = lin_base(300, 70, 90);
        c.bias = 1;
        for (int t = 1; t <= 3; t++) {
            c.threads = t;
            lin_run(ctx, &c, seed++);
        }
    }
    tprim_ctx_free(ctx);
}

/* ---- tp_gemm directly ------------------------------------------------------------ */

/* A matrix operand of a GEMM test: a guarded tensor of shape [bdim..., rows, cols]
 * (dims of size 1 where the operand broadcasts over a batch dim), in a chosen order. */
typedef struct gm_case {
    int nbd;
    int64_t bdim[2];
    int64_t m, n, k;
    tprim_dtype adt, bdt, cdt, biasdt;
    int bias, accumulate;
    int a_colmajor, b_colmajor, c_colmajor; /* memory order of the two innermost dims */
    int a_bcast, b_bcast, bias_bcast;       /* bit d: broadcast over batch dim d */
    int threads;
} gm_case;

static void gm_str(const gm_case *c, char *buf, size_t n)
{
    snprintf(buf, n,
             "gemm batch [%lld,%lld](nbd %d) m %lld n %lld k %lld %s x %s -> %s bias %d (%s) "
             "acc %d col-major a %d b %d c %d bcast a %d b %d bias %d threads %d",
             (long long)c->bdim[0], (long long)c->bdim[1], c->nbd, (long long)c->m,
             (long long)c->n, (long long)c->k, tprim_dtype_name(c->adt), tprim_dtype_name(c->bdt),
             tprim_dtype_name(c->cdt), c->bias, tprim_dtype_name(c->biasdt), c->accumulate,
             c->a_colmajor, c->b_colmajor, c->c_colmajor, c->a_bcast, c->b_bcast, c->bias_bcast,
             c->threads);
}

/* Make g of shape [bdim (1 where bcast)..., rows, cols] and fill o (the operand seen by
 * the library) and om (seen by the oracle) with its strides; broadcast batch dims get
 * stride 0. */
static void gm_operand(gtensor *g, const gm_case *c, int bcast, int64_t rows, int64_t cols,
                       int colmajor, tprim_dtype dt, int pad, tp_gemm_operand *o, omat *om)
{
    int64_t shape[4];
    int order[4], r = c->nbd + 2;
    for (int d = 0; d < c->nbd; d++) {
        shape[d] = (bcast >> d) & 1 ? 1 : c->bdim[d];
        order[d] = d;
    }
    shape[c->nbd] = rows;
    shape[c->nbd + 1] = cols;
    order[c->nbd] = colmajor ? c->nbd + 1 : c->nbd;
    order[c->nbd + 1] = colmajor ? c->nbd : c->nbd + 1;
    gt_make(g, dt, r, shape, order, pad);
    memset(o, 0, sizeof *o);
    memset(om, 0, sizeof *om);
    o->data = (const char *)g->t.data;
    om->data = g->t.data;
    o->dtype = om->dt = dt;
    o->rs = om->rs = g->t.strides[c->nbd];
    o->cs = om->cs = g->t.strides[c->nbd + 1];
    for (int d = 0; d < c->nbd; d++) o->bs[d] = om->bs[d] = (bcast >> d) & 1 ? 0 : g->t.strides[d];
}

static void gm_run(tprim_ctx *ctx, const gm_case *c, uint64_t seed)
{
    const char *names[8];
    const int nv = runnable_variants(names, 8);
    char desc[300], label[360];
    gm_str(c, desc, sizeof desc);
    rng R = {seed};
    gtensor ga, gb, gbias, gc;
    omat oa, ob, obias, oc;
    tp_gemm_problem p;
    tp_gemm_problem_init(&p, c->m, c->n, c->k);
    p.nbd = c->nbd;
    for (int d = 0; d < c->nbd; d++) p.bdim[d] = c->bdim[d];
    p.accumulate = c->accumulate;
    gm_operand(&ga, c, c->a_bcast, c->m, c->k, c->a_colmajor, c->adt, 1, &p.a, &oa);
    gm_operand(&gb, c, c->b_bcast, c->k, c->n, c->b_colmajor, c->bdt, 2, &p.b, &ob);
    gm_operand(&gc, c, 0, c->m, c->n, c->c_colmajor, c->cdt, 3, &p.c, &oc);
    gt_fill_random(&ga, &R, 1.0);
    gt_fill_random(&gb, &R, 1.0);
    tp_gemm_operand bias_op;
    memset(&gbias, 0, sizeof gbias);
    if (c->bias) {
        gm_operand(&gbias, c, c->bias_bcast, 1, c->n, 0, c->biasdt, 0, &bias_op, &obias);
        gt_fill_random(&gbias, &R, 1.0);
        p.bias = bias_op;
    }
    int64_t nb = 1;
    for (int d = 0; d < c->nbd; d++) nb *= c->bdim[d];
    double *ref = malloc(sizeof(double) * (size_t)(nb * c->m * c->n + 1));
    /* the initial C (accumulate) is random; otherwise poison */
    gtensor c0;
    omat oc0 = oc;
    if (c->accumulate) {
        gt_fill_random(&gc, &R, 1.0);
        int64_t shape[4];
        for (int d = 0; d < gc.t.rank; d++) shape[d] = gc.t.shape[d];
        gt_make(&c0, c->cdt, gc.t.rank, shape, NULL, 0);
        for (int64_t i = 0; i < gt_numel(&gc); i++) gt_set(&c0, i, gt_get(&gc, i));
        oc0.data = c0.t.data;
        oc0.rs = c0.t.strides[c->nbd];
        oc0.cs = c0.t.strides[c->nbd + 1];
        for (int d = 0; d < c->nbd; d++) oc0.bs[d] = c0.t.strides[d];
    }
    oracle_gemm(c->nbd, c->bdim, c->m, c->n, c->k, &oa, &ob, c->bias ? &obias : NULL,
                c->accumulate ? &oc0 : NULL, ref);
    tprim_ctx_set_num_threads(ctx, c->threads);
    for (int v = 0; v < nv; v++) {
        snprintf(label, sizeof label, "tp_gemm[%s] %s", names[v], desc);
        CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, names[v]) == TPRIM_OK, "%s: pin", label);
        if (c->accumulate) {
            for (int64_t i = 0; i < gt_numel(&gc); i++) gt_set(&gc, i, gt_get(&c0, i));
        } else {
            gt_poison(&gc);
        }
        unsigned char *sc = gt_snapshot(&gc);
        tprim_status st = tp_gemm(ctx, &p);
        if (CHECK(st == TPRIM_OK, "%s: status %s (%s)", label, tprim_status_str(st),
                  tprim_ctx_last_error(ctx))) {
            /* the ref is [batch][m][n] row-major: the logical order of gc */
            check_output(&gc, sc, ref, tol_for(c->cdt), label);
            CHECK(strcmp(tprim_ctx_last_kernel(ctx, TPRIM_OP_LINEAR), names[v]) == 0,
                  "%s: counted under linear", label);
        }
        free(sc);
    }
    tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, NULL);
    tprim_ctx_set_num_threads(ctx, 0);
    if (c->accumulate) gt_free(&c0);
    free(ref);
    gt_free(&ga);
    gt_free(&gb);
    gt_free(&gc);
    if (c->bias) gt_free(&gbias);
}

static gm_case gm_base(int64_t m, int64_t n, int64_t k)
{
    gm_case c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.n = n;
    c.k = k;
    c.adt = c.bdt = c.cdt = c.biasdt = TPRIM_F32;
    return c;
}

void suite_gemm(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx")) return;
    uint64_t seed = 5000;

    /* accumulate: direct C, one and several K blocks, edge tiles, with bias */
    static const int64_t acc_shapes[][3] = {
        {17, 33, 5}, {100, 100, 300}, {13, 70, 1100}, {1, 1, 1}};
    for (int s = 0; s < 4; s++) {
        gm_case c = gm_base(acc_shapes[s][0], acc_shapes[s][1], acc_shapes[s][2]);
        c.accumulate = 1;
        c.bias = s % 2;
        gm_run(ctx, &c, seed++);
    }
    /* column-major C (no unit column stride): single and multiple K blocks, accumulate */
    for (int s = 0; s < 3; s++) {
        gm_case c = gm_base(acc_shapes[s][0], acc_shapes[s][1], acc_shapes[s][2]);
        c.c_colmajor = 1;
        c.accumulate = s != 1;
        c.bias = 1;
        c.a_colmajor = s == 2;
        c.b_colmajor = s == 1;
        gm_run(ctx, &c, seed++);
    }
    /* bf16 / f16 C with accumulate (read, add once, round once), mixed input dtypes */
    {
        gm_case c = gm_base(37, 45, 20);
        c.adt = TPRIM_BF16;
        c.bdt = TPRIM_F16;
        c.cdt = TPRIM_BF16;
        c.biasdt = TPRIM_F16;
        c.bias = 1;
        c.accumulate = 1;
        gm_run(ctx, &c, seed++);
        c.k = 1100; /* several K blocks (any KC up to 1024): the f32 scratch path */
        c.cdt = TPRIM_F16;
        gm_run(ctx, &c, seed++);
        c.c_colmajor = 1;
        c.accumulate = 0;
        gm_run(ctx, &c, seed++);
        c = gm_base(50, 40, 30);
        c.adt = TPRIM_F16;
        c.bdt = TPRIM_BF16; /* converted inputs, f32 output */
        c.b_colmajor = 1;
        gm_run(ctx, &c, seed++);
    }
    /* k = 0: C = (accumulate ? C : 0) + bias */
    {
        gm_case c = gm_base(9, 35, 0);
        c.bias = 1;
        gm_run(ctx, &c, seed++);
        c.accumulate = 1;
        gm_run(ctx, &c, seed++);
        c.cdt = TPRIM_BF16;
        gm_run(ctx, &c, seed++);
    }
    /* batch dims with broadcast operands */
    {
        gm_case c = gm_base(19, 37, 23);
        c.nbd = 2;
        c.bdim[0] = 2;
        c.bdim[1] = 3;
        c.bias = 1;
        c.b_bcast = 1;    /* B shared over dim 0 */
        c.bias_bcast = 2; /* bias shared over dim 1 */
        gm_run(ctx, &c, seed++);
        c.a_bcast = 2;
        c.b_bcast = 0;
        c.accumulate = 1;
        c.a_colmajor = 1;
        gm_run(ctx, &c, seed++);
        c.b_bcast = 3; /* one B for all: packed once */
        c.a_bcast = 0;
        c.k = 300;
        c.m = 130;
        gm_run(ctx, &c, seed++);
        c = gm_base(5, 6, 7);
        c.nbd = 1;
        c.bdim[0] = 40; /* many tiny products */
        c.bias = 1;
        gm_run(ctx, &c, seed++);
    }
    /* B too large to pack at once: column chunks and one batch entry per phase */
    {
        gm_case c = gm_base(3, 1100, 2048);
        c.nbd = 1;
        c.bdim[0] = 2;
        c.bias = 1;
        gm_run(ctx, &c, seed++);
    }
    /* thread counts */
    for (int t = 1; t <= 3; t++) {
        gm_case c = gm_base(150, 90, 260);
        c.threads = t;
        c.accumulate = t == 2;
        gm_run(ctx, &c, seed++);
    }
    tprim_ctx_free(ctx);
}
