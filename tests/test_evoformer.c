/* test_evoformer.c -- the Evoformer attention modules: forward against a float64 oracle
 * composed from OpenFold's definitions, backward (every input and parameter gradient)
 * against central differences of that oracle, chunked against unchunked, determinism,
 * transposed views, invalid inputs. */
#include "oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One module instance: every tensor twice, f32 (or the test dtype) for tprim and f64
 * with the same values for the oracle. */
typedef struct evo_fx {
    tprim_evo_block blk, blk64;
    gtensor x, x64, mask, z, z64, out, dout, dx, dz;
    gtensor w[8], w64[8];       /* wq wk wv wg bg wo bo w_bias */
    gtensor nrm[4], nrm64[4];   /* gamma beta gamma_z beta_z */
    gtensor gw[8], gn[4];       /* parameter gradients */
    int has_z;
    int64_t xs[4];
    int xr;
} evo_fx;

static void pair(gtensor *a, gtensor *a64, tprim_dtype dt, int rank, const int64_t *shape, rng *R,
                 double amp, double base)
{
    gt_make(a, dt, rank, shape, NULL, 0);
    gt_make(a64, TPRIM_F64, rank, shape, NULL, 0);
    int64_t n = gt_numel(a);
    for (int64_t i = 0; i < n; i++) {
        gt_set(a, i, base + amp * rng_uniform(R));
        gt_set(a64, i, gt_get(a, i)); /* exactly the stored value */
    }
}

static void fx_make(evo_fx *f, int kind, int batch, tprim_dtype xdt, int skip, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    rng R = {seed};
    const int64_t H = 2, D = 3, HD = H * D, C = 5, Cz = 4;
    int64_t A0 = 4, A1 = 6;
    if (kind == TPRIM_EVO_TRIANGLE_START || kind == TPRIM_EVO_TRIANGLE_END) A0 = A1 = 5;
    int o = batch ? 1 : 0;
    f->xr = 3 + o;
    if (o) f->xs[0] = 2;
    f->xs[o] = A0;
    f->xs[o + 1] = A1;
    f->xs[o + 2] = C;
    pair(&f->x, &f->x64, xdt, f->xr, f->xs, &R, 1.0, 0.0);
    gt_make(&f->out, xdt, f->xr, f->xs, NULL, 0);
    gt_make(&f->dout, xdt, f->xr, f->xs, NULL, 0);
    gt_fill_random(&f->dout, &R, 1.0);
    gt_make(&f->dx, xdt, f->xr, f->xs, NULL, 0);
    /* mask: a quarter absent, never a whole row of keys in additive mode */
    gt_make(&f->mask, TPRIM_F32, f->xr - 1, f->xs, NULL, 0);
    int64_t nm = gt_numel(&f->mask);
    for (int64_t i = 0; i < nm; i++)
        gt_set(&f->mask, i, (rng_u64(&R) % 4) != 0 || i % A1 == 0 || (i / A1) % A0 == 0);
    int global = kind == TPRIM_EVO_GLOBAL_COLUMN;
    int64_t swq[2] = {HD, C}, skv[2] = {global ? D : HD, C}, sbg[1] = {HD}, swo[2] = {C, HD}, sbo[1] = {C};
    const int64_t *shp[7] = {swq, skv, skv, swq, sbg, swo, sbo};
    int rk[7] = {2, 2, 2, 2, 1, 2, 1};
    for (int i = 0; i < 7; i++) {
        pair(&f->w[i], &f->w64[i], TPRIM_F32, rk[i], shp[i], &R, 0.5, 0.0);
        gt_make(&f->gw[i], TPRIM_F32, rk[i], shp[i], NULL, 0);
    }
    int64_t sc[1] = {C}, scz[1] = {Cz};
    pair(&f->nrm[0], &f->nrm64[0], TPRIM_F32, 1, sc, &R, 0.3, 1.0);
    pair(&f->nrm[1], &f->nrm64[1], TPRIM_F32, 1, sc, &R, 0.3, 0.0);
    gt_make(&f->gn[0], TPRIM_F32, 1, sc, NULL, 0);
    gt_make(&f->gn[1], TPRIM_F32, 1, sc, NULL, 0);
    tprim_evo_block *b = &f->blk, *b64 = &f->blk64;
    b->kind = b64->kind = (tprim_evo_kind)kind;
    b->attn.heads = b64->attn.heads = (int32_t)H;
    b->attn.head_dim = b64->attn.head_dim = (int32_t)D;
    const tprim_tensor **wp[7] = {&b->attn.wq, &b->attn.wk, &b->attn.wv, &b->attn.wg, &b->attn.bg, &b->attn.wo, &b->attn.bo};
    const tprim_tensor **wp64[7] = {&b64->attn.wq, &b64->attn.wk, &b64->attn.wv, &b64->attn.wg, &b64->attn.bg, &b64->attn.wo, &b64->attn.bo};
    for (int i = 0; i < 7; i++) {
        *wp[i] = &f->w[i].t;
        *wp64[i] = &f->w64[i].t;
    }
    b->norm.gamma = &f->nrm[0].t;
    b->norm.beta = &f->nrm[1].t;
    b64->norm.gamma = &f->nrm64[0].t;
    b64->norm.beta = &f->nrm64[1].t;
    b->skip_masked_keys = b64->skip_masked_keys = skip;
    if (kind == TPRIM_EVO_MSA_ROW) {
        int64_t zs[4];
        if (o) zs[0] = 2;
        zs[o] = zs[o + 1] = A1;
        zs[o + 2] = Cz;
        pair(&f->z, &f->z64, xdt, f->xr, zs, &R, 1.0, 0.0);
        gt_make(&f->dz, xdt, f->xr, zs, NULL, 0);
        f->has_z = 1;
        pair(&f->nrm[2], &f->nrm64[2], TPRIM_F32, 1, scz, &R, 0.3, 1.0);
        pair(&f->nrm[3], &f->nrm64[3], TPRIM_F32, 1, scz, &R, 0.3, 0.0);
        gt_make(&f->gn[2], TPRIM_F32, 1, scz, NULL, 0);
        gt_make(&f->gn[3], TPRIM_F32, 1, scz, NULL, 0);
        b->norm_z.gamma = &f->nrm[2].t;
        b->norm_z.beta = &f->nrm[3].t;
        b64->norm_z.gamma = &f->nrm64[2].t;
        b64->norm_z.beta = &f->nrm64[3].t;
    }
    if (kind == TPRIM_EVO_MSA_ROW || kind == TPRIM_EVO_TRIANGLE_START || kind == TPRIM_EVO_TRIANGLE_END) {
        int64_t sb[2] = {H, kind == TPRIM_EVO_MSA_ROW ? Cz : C};
        pair(&f->w[7], &f->w64[7], TPRIM_F32, 2, sb, &R, 0.5, 0.0);
        gt_make(&f->gw[7], TPRIM_F32, 2, sb, NULL, 0);
        b->w_bias = &f->w[7].t;
        b64->w_bias = &f->w64[7].t;
    }
}

static void fx_free(evo_fx *f)
{
    gtensor *all[] = {&f->x, &f->x64, &f->mask, &f->out, &f->dout, &f->dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gt_free(all[i]);
    for (int i = 0; i < 8; i++) {
        if (f->w[i].raw) gt_free(&f->w[i]);
        if (f->w64[i].raw) gt_free(&f->w64[i]);
        if (f->gw[i].raw) gt_free(&f->gw[i]);
    }
    for (int i = 0; i < 4; i++) {
        if (f->nrm[i].raw) gt_free(&f->nrm[i]);
        if (f->nrm64[i].raw) gt_free(&f->nrm64[i]);
        if (f->gn[i].raw) gt_free(&f->gn[i]);
    }
    if (f->has_z) {
        gt_free(&f->z);
        gt_free(&f->z64);
        gt_free(&f->dz);
    }
}

static double rel_err(const gtensor *g, const double *ref)
{
    int64_t n = gt_numel(g);
    double e2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = gt_get(g, i) - ref[i];
        e2 += d * d;
        r2 += ref[i] * ref[i];
    }
    /* a gradient that is zero in exact arithmetic (norm_z.beta shifts every logit of a
     * head equally) is judged by its RMS absolute error */
    if (r2 < 1e-12 * (double)n) return n ? sqrt(e2 / (double)n) : 0;
    return sqrt(e2 / r2);
}

static double loss(evo_fx *f, double *buf)
{
    oracle_evo_forward(&f->blk64, &f->x64.t, &f->mask.t, f->has_z ? &f->z64.t : NULL, buf);
    int64_t n = gt_numel(&f->out);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += buf[i] * gt_get(&f->dout, i);
    return s;
}

/* central differences of the oracle loss over every element of p64 */
static void fd_grad(evo_fx *f, gtensor *p64, double *grad, double *buf)
{
    int64_t n = gt_numel(p64);
    for (int64_t i = 0; i < n; i++) {
        double x0 = gt_get(p64, i), h = 1e-5 * (1.0 + fabs(x0));
        gt_set(p64, i, x0 + h);
        double lp = loss(f, buf);
        gt_set(p64, i, x0 - h);
        double lm = loss(f, buf);
        gt_set(p64, i, x0);
        grad[i] = (lp - lm) / (2 * h);
    }
}

static const char *kind_name(int k)
{
    static const char *n[] = {"msa_row", "msa_column", "triangle_start", "triangle_end", "global_column"};
    return n[k];
}

static void run_case(tprim_ctx *ctx, int kind, int batch, tprim_dtype dt, int skip, int check_grads)
{
    evo_fx f;
    fx_make(&f, kind, batch, dt, skip, 1000 + (uint64_t)kind * 7 + (uint64_t)batch);
    char label[96];
    snprintf(label, sizeof label, "evo %s batch=%d %s%s", kind_name(kind), batch, tprim_dtype_name(dt),
             skip ? " skip-masked" : "");
    const double tol = dt == TPRIM_F32 ? 2e-5 : 1e-2;
    int64_t n = gt_numel(&f.out);
    double *ref = malloc(sizeof(double) * (size_t)n), *buf = malloc(sizeof(double) * (size_t)n);
    oracle_evo_forward(&f.blk64, &f.x64.t, &f.mask.t, f.has_z ? &f.z64.t : NULL, ref);
    tprim_status st = tprim_evo_forward(ctx, &f.blk, &f.x.t, &f.mask.t, f.has_z ? &f.z.t : NULL, &f.out.t);
    if (CHECK(st == TPRIM_OK, "%s forward: %s", label, tprim_ctx_last_error(ctx))) {
        double e = rel_err(&f.out, ref);
        CHECK(e <= tol, "%s forward: relative error %.2g > %.2g", label, e, tol);
        if (g_verbose) printf("  %-40s forward %.2e", label, e);
    }
    if (check_grads) {
        tprim_evo_block_grads G;
        memset(&G, 0, sizeof G);
        G.wq = &f.gw[0].t;
        G.wk = &f.gw[1].t;
        G.wv = &f.gw[2].t;
        G.wg = &f.gw[3].t;
        G.bg = &f.gw[4].t;
        G.wo = &f.gw[5].t;
        G.bo = &f.gw[6].t;
        if (f.gw[7].raw) G.w_bias = &f.gw[7].t;
        G.norm_gamma = &f.gn[0].t;
        G.norm_beta = &f.gn[1].t;
        if (f.has_z) {
            G.norm_z_gamma = &f.gn[2].t;
            G.norm_z_beta = &f.gn[3].t;
        }
        st = tprim_evo_backward(ctx, &f.blk, &f.x.t, &f.mask.t, f.has_z ? &f.z.t : NULL, &f.dout.t,
                                &f.dx.t, f.has_z ? &f.dz.t : NULL, &G);
        if (CHECK(st == TPRIM_OK, "%s backward: %s", label, tprim_ctx_last_error(ctx))) {
            typedef struct gitem { gtensor *g, *p64; const char *name; } gitem;
            gitem items[14];
            int ni = 0;
            items[ni++] = (gitem){&f.dx, &f.x64, "dx"};
            if (f.has_z) items[ni++] = (gitem){&f.dz, &f.z64, "dz"};
            static const char *wn[8] = {"wq", "wk", "wv", "wg", "bg", "wo", "bo", "w_bias"};
            for (int i = 0; i < 8; i++)
                if (f.gw[i].raw) items[ni++] = (gitem){&f.gw[i], &f.w64[i], wn[i]};
            static const char *nn[4] = {"norm.gamma", "norm.beta", "norm_z.gamma", "norm_z.beta"};
            for (int i = 0; i < 4; i++)
                if (f.gn[i].raw) items[ni++] = (gitem){&f.gn[i], &f.nrm64[i], nn[i]};
            double worst = 0;
            for (int i = 0; i < ni; i++) {
                int64_t m = gt_numel(items[i].p64);
                double *gr = malloc(sizeof(double) * (size_t)m);
                fd_grad(&f, items[i].p64, gr, buf);
                double e = rel_err(items[i].g, gr);
                if (g_verbose > 2)
                    for (int64_t t = 0; t < m && t < 4; t++)
                        printf("    %s[%lld] tprim %.3g fd %.3g\n", items[i].name, (long long)t, gt_get(items[i].g, t), gr[t]);
                CHECK(e <= tol, "%s backward: gradient of %s relative error %.2g > %.2g", label, items[i].name, e, tol);
                if (e > worst) worst = e;
                free(gr);
            }
            if (g_verbose) printf(", gradients (%d tensors) worst %.2e", ni, worst);
        }
    }
    if (g_verbose) printf("\n");
    free(ref);
    free(buf);
    fx_free(&f);
}

/* chunks of one row give the same results as one chunk; backward is bit-reproducible */
static void check_chunks_and_determinism(tprim_ctx *ctx, int kind)
{
    evo_fx f;
    fx_make(&f, kind, 1, TPRIM_F32, 0, 77);
    tprim_evo_block_grads G;
    memset(&G, 0, sizeof G);
    G.wq = &f.gw[0].t;
    G.wo = &f.gw[5].t;
    int64_t n = gt_numel(&f.out), nx = gt_numel(&f.dx), nw = gt_numel(&f.gw[0]);
    double *o1 = malloc(sizeof(double) * (size_t)n), *d1 = malloc(sizeof(double) * (size_t)nx),
           *w1 = malloc(sizeof(double) * (size_t)nw);
    const tprim_tensor *zt = f.has_z ? &f.z.t : NULL;
    tprim_evo_forward(ctx, &f.blk, &f.x.t, &f.mask.t, zt, &f.out.t);
    tprim_evo_backward(ctx, &f.blk, &f.x.t, &f.mask.t, zt, &f.dout.t, &f.dx.t, f.has_z ? &f.dz.t : NULL, &G);
    for (int64_t i = 0; i < n; i++) o1[i] = gt_get(&f.out, i);
    for (int64_t i = 0; i < nx; i++) d1[i] = gt_get(&f.dx, i);
    for (int64_t i = 0; i < nw; i++) w1[i] = gt_get(&f.gw[0], i);
    unsigned char *bits = gt_snapshot(&f.dx);
    tprim_evo_backward(ctx, &f.blk, &f.x.t, &f.mask.t, zt, &f.dout.t, &f.dx.t, f.has_z ? &f.dz.t : NULL, &G);
    CHECK(gt_same_as(&f.dx, bits), "evo %s: backward repeated gives the same bits", kind_name(kind));
    free(bits);
    tprim_ctx_set_memory_budget(ctx, 1); /* one row per chunk */
    tprim_evo_forward(ctx, &f.blk, &f.x.t, &f.mask.t, zt, &f.out.t);
    tprim_evo_backward(ctx, &f.blk, &f.x.t, &f.mask.t, zt, &f.dout.t, &f.dx.t, f.has_z ? &f.dz.t : NULL, &G);
    tprim_ctx_set_memory_budget(ctx, 0);
    CHECK(rel_err(&f.out, o1) < 1e-6 && rel_err(&f.dx, d1) < 1e-6 && rel_err(&f.gw[0], w1) < 1e-6,
          "evo %s: one-row chunks agree with one chunk (out %.2g, dx %.2g, dwq %.2g)", kind_name(kind),
          rel_err(&f.out, o1), rel_err(&f.dx, d1), rel_err(&f.gw[0], w1));
    free(o1);
    free(d1);
    free(w1);
    fx_free(&f);
}

static void check_errors(tprim_ctx *ctx)
{
    evo_fx f;
    fx_make(&f, TPRIM_EVO_MSA_ROW, 1, TPRIM_F32, 0, 5);
    unsigned char *snap = gt_snapshot(&f.out);
    struct { const char *what, *needle; tprim_status want; } cases[] = {
        {"bad kind", "not a tprim_evo_kind", TPRIM_ERR_INVALID_ARGUMENT},
        {"z missing", "z is NULL", TPRIM_ERR_NULL_POINTER},
        {"wq wrong shape", "attn.wq is [6, 4] but must be [6, 5]", TPRIM_ERR_SHAPE},
        {"heads 0", "attn.heads is 0", TPRIM_ERR_INVALID_ARGUMENT},
        {"out dtype", "out is bf16 but x is f32", TPRIM_ERR_DTYPE},
        {"mask shape", "mask dim 1 is 3", TPRIM_ERR_SHAPE},
        {"w_bias missing", "w_bias is NULL", TPRIM_ERR_NULL_POINTER},
        {"negative eps", "norm.eps is -1", TPRIM_ERR_INVALID_ARGUMENT},
        {"x rank 2", "x has rank 2", TPRIM_ERR_SHAPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tprim_evo_block b = f.blk;
        tprim_tensor x = f.x.t, out = f.out.t, mask = f.mask.t, wq = f.w[0].t;
        const tprim_tensor *z = &f.z.t;
        switch (i) {
        case 0: b.kind = (tprim_evo_kind)9; break;
        case 1: z = NULL; break;
        case 2: wq.shape[1] = 4; b.attn.wq = &wq; break;
        case 3: b.attn.heads = 0; break;
        case 4: out.dtype = TPRIM_BF16; break;
        case 5: mask.shape[1] = 3; break;
        case 6: b.w_bias = NULL; break;
        case 7: b.norm.eps = -1; break;
        case 8: x.rank = 2; break;
        }
        tprim_status st = tprim_evo_forward(ctx, &b, &x, &mask, z, &out);
        const char *msg = tprim_ctx_last_error(ctx);
        CHECK(st == cases[i].want && strstr(msg, cases[i].needle) && gt_same_as(&f.out, snap),
              "evo forward %s: %s (%s)", cases[i].what, tprim_status_str(st), msg);
    }
    tprim_status st = tprim_evo_backward(ctx, &f.blk, &f.x.t, &f.mask.t, &f.z.t, &f.dout.t, NULL, NULL, NULL);
    CHECK(st == TPRIM_ERR_NULL_POINTER && strstr(tprim_ctx_last_error(ctx), "dx is NULL"), "evo backward without dx: %s",
          tprim_ctx_last_error(ctx));
    free(snap);
    fx_free(&f);
}

void suite_evoformer(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx")) return;
    for (int kind = 0; kind <= TPRIM_EVO_GLOBAL_COLUMN; kind++) {
        run_case(ctx, kind, 1, TPRIM_F32, 0, 1);
        run_case(ctx, kind, 0, TPRIM_F32, 0, 0);
        run_case(ctx, kind, 1, TPRIM_BF16, 0, 0);
        if (kind != TPRIM_EVO_GLOBAL_COLUMN) run_case(ctx, kind, 1, TPRIM_F32, 1, 1);
        check_chunks_and_determinism(ctx, kind);
    }
    check_errors(ctx);
    tprim_ctx_free(ctx);
}
