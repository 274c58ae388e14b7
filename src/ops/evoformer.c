/* evoformer.c -- the Evoformer attention modules (tprim_evo_forward / _backward): the
 * LayerNorms, projections, gate and output projection of OpenFold's Attention around
 * the flash attention core, computed in chunks of rows so that the working memory stays
 * under the context's budget.
 *
 * Every kind is reduced to one picture: a view x[b, n, l, c] (n: the rows that are
 * independent attention problems, l: the attended positions, c: channels) obtained from
 * m or z by choosing strides (columns and the ending node are transposes, no copies),
 * a mask[b, n, l], and for the MSA row and triangle kinds a bias
 *   bias[b, h, q, k] = W_bias . LN(src[b, q, k, :])
 * shared by all rows n, with src = z (MSA row) or x itself (triangle).
 *
 * Per chunk of rows, for the gated kinds:
 *   X = LN(x)            [nc][L][C]      q = X Wq^T, k = X Wk^T, v = X Wv^T  [nc][L][H*D]
 *   a = attention(q, k, v; mask bias [nc,1,1,L], bias [1,H,L,L])            [nc][L][H*D]
 *   g = sigmoid(X Wg^T + bg)    o = a * g    out = o Wo^T + bo
 * The global column kind uses one query per row (the masked mean of X over l) and a
 * single key/value head. */
#include "attention.h"
#include "gemm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TRY(x)                         \
    do {                               \
        tprim_status s_ = (x);         \
        if (s_ != TPRIM_OK) return s_; \
    } while (0)

#define EVO_MEAN_EPS 1e-10f /* OpenFold's GlobalAttention eps of the masked mean */

/* A 4-d view (b, n, l, c) of a tensor; absent dims have stride 0. */
typedef struct evo_view {
    char *data;
    tprim_dtype dt;
    int64_t sb, sn, sl, sc;
} evo_view;

static inline char *ev_at(const evo_view *v, int64_t b, int64_t n, int64_t l, int64_t c)
{
    return v->data + (b * v->sb + n * v->sn + l * v->sl + c * v->sc) * (int64_t)tprim_dtype_size(v->dt);
}

static inline float ev_get(const evo_view *v, int64_t b, int64_t n, int64_t l, int64_t c)
{
    const char *p = ev_at(v, b, n, l, c);
    if (v->dt == TPRIM_BOOL) return *(const unsigned char *)p ? 1.0f : 0.0f;
    return tp_load_f32(p, v->dt);
}

typedef struct evo_plan {
    const tprim_evo_block *blk;
    int kind;
    int64_t B, N, L, C, Cz, H, D, HD;
    evo_view x, mask, out, z, dout, dx, dz;
    int has_mask, has_bias, bias_from_x;
    float inf, eps, eps_z;
    int64_t nc;         /* rows per chunk */
} evo_plan;

/* ---- small parallel helpers ---------------------------------------------------- */

typedef struct ln_job {
    const evo_view *src;        /* rows (b fixed): src(b, n0 + r / L, r % L, c) */
    int64_t b, n0, L, C, rows;
    const tprim_tensor *gamma, *beta;
    float eps;
    float *out;                 /* [rows][C] */
    float *mean, *rstd;         /* [rows] */
    /* backward */
    const float *dxh;           /* [rows][C] gradient of the normalised output */
    evo_view *dst;              /* dx view; written (or added to) */
    int accumulate;
    float *part;                /* [nblocks][2C] dgamma, dbeta partials */
} ln_job;

#define LN_BLOCK 64

static float opt_get(const tprim_tensor *t, int64_t c, float dflt)
{
    if (!t) return dflt;
    return tp_load_f32((const char *)t->data + c * t->strides[0] * (int64_t)tprim_dtype_size(t->dtype), t->dtype);
}

static void ln_fwd_task(void *arg, int64_t blk, int tid)
{
    const ln_job *j = arg;
    const int64_t C = j->C;
    for (int64_t r = blk * LN_BLOCK; r < TP_MIN(j->rows, (blk + 1) * LN_BLOCK); r++) {
        const int64_t n = j->n0 + r / j->L, l = r % j->L;
        float *o = j->out + r * C;
        double s = 0, s2 = 0;
        for (int64_t c = 0; c < C; c++) {
            o[c] = ev_get(j->src, j->b, n, l, c);
            s += o[c];
        }
        const double mean = s / (double)C;
        for (int64_t c = 0; c < C; c++) s2 += (o[c] - mean) * (o[c] - mean);
        const float rstd = (float)(1.0 / sqrt(s2 / (double)C + j->eps));
        for (int64_t c = 0; c < C; c++)
            o[c] = ((o[c] - (float)mean) * rstd) * opt_get(j->gamma, c, 1.0f) + opt_get(j->beta, c, 0.0f);
        if (j->mean) {
            j->mean[r] = (float)mean;
            j->rstd[r] = rstd;
        }
    }
}

/* out[r][:] = LN(src(b, n0 + r / L, r % L, :)) for r < nrows */
static void layer_norm(tprim_ctx *ctx, const evo_view *src, int64_t b, int64_t n0, int64_t L,
                       int64_t C, int64_t rows, const tprim_evo_norm *nm, float eps, float *out,
                       float *mean, float *rstd)
{
    ln_job j = {src, b, n0, L, C, rows, nm->gamma, nm->beta, eps, out, mean, rstd, NULL, NULL, 0, NULL};
    tp_pool_run(ctx->pool, ctx->nthreads, (rows + LN_BLOCK - 1) / LN_BLOCK, ln_fwd_task, &j);
}

static void ln_bwd_task(void *arg, int64_t blk, int tid)
{
    const ln_job *j = arg;
    const int64_t C = j->C;
    float *pg = j->part + blk * 2 * C, *pb = pg + C;
    for (int64_t c = 0; c < 2 * C; c++) pg[c] = 0.0f;
    for (int64_t r = blk * LN_BLOCK; r < TP_MIN(j->rows, (blk + 1) * LN_BLOCK); r++) {
        const int64_t n = j->n0 + r / j->L, l = r % j->L;
        const float *dy = j->dxh + r * C;
        const float mean = j->mean[r], rstd = j->rstd[r];
        double a = 0, b = 0; /* mean of gamma * dy, and of gamma * dy * xhat */
        for (int64_t c = 0; c < C; c++) {
            float xh = (ev_get(j->src, j->b, n, l, c) - mean) * rstd;
            float gd = opt_get(j->gamma, c, 1.0f) * dy[c];
            a += gd;
            b += gd * xh;
            pg[c] += dy[c] * xh;
            pb[c] += dy[c];
        }
        a /= (double)C;
        b /= (double)C;
        for (int64_t c = 0; c < C; c++) {
            float xh = (ev_get(j->src, j->b, n, l, c) - mean) * rstd;
            float gd = opt_get(j->gamma, c, 1.0f) * dy[c];
            float d = rstd * (gd - (float)a - xh * (float)b);
            char *p = ev_at(j->dst, j->b, n, l, c);
            if (j->accumulate) d += tp_load_f32(p, j->dst->dt);
            tp_store_f32(p, j->dst->dt, d);
        }
    }
}

/* dst(b, n, l, :) (+)= LN backward of dxh; dgamma/dbeta (f32 [C], may be NULL) += the
 * partials, summed in block order (deterministic). part: [nblocks][2C] scratch. */
static void layer_norm_backward(tprim_ctx *ctx, const evo_view *src, int64_t b, int64_t n0,
                                int64_t L, int64_t C, int64_t rows, const tprim_evo_norm *nm,
                                const float *mean, const float *rstd, const float *dxh,
                                evo_view *dst, int accumulate, float *part, float *dgamma,
                                float *dbeta)
{
    ln_job j = {src, b, n0, L, C, rows, nm->gamma, nm->beta, 0, NULL, (float *)mean, (float *)rstd,
                dxh, dst, accumulate, part};
    const int64_t nblk = (rows + LN_BLOCK - 1) / LN_BLOCK;
    tp_pool_run(ctx->pool, ctx->nthreads, nblk, ln_bwd_task, &j);
    for (int64_t k = 0; k < nblk; k++)
        for (int64_t c = 0; c < C; c++) {
            if (dgamma) dgamma[c] += part[k * 2 * C + c];
            if (dbeta) dbeta[c] += part[k * 2 * C + C + c];
        }
}

/* ---- matrix products through tp_gemm --------------------------------------------- */

/* C[m][n] (+)= A[m][k] B[k][n] (+ bias) with the given strides; batch-free. */
static tprim_status mm(tprim_ctx *ctx, int64_t m, int64_t n, int64_t k, const void *a,
                       tprim_dtype adt, int64_t ars, int64_t acs, const void *b, tprim_dtype bdt,
                       int64_t brs, int64_t bcs, const tprim_tensor *bias, void *c,
                       tprim_dtype cdt, int64_t crs, int64_t ccs, int accumulate)
{
    tp_gemm_problem p;
    tp_gemm_problem_init(&p, m, n, k);
    p.a.data = a;
    p.a.dtype = adt;
    p.a.rs = ars;
    p.a.cs = acs;
    p.b.data = b;
    p.b.dtype = bdt;
    p.b.rs = brs;
    p.b.cs = bcs;
    if (bias) {
        p.bias.data = bias->data;
        p.bias.dtype = bias->dtype;
        p.bias.cs = bias->strides[0];
    }
    p.c.data = c;
    p.c.dtype = cdt;
    p.c.rs = crs;
    p.c.cs = ccs;
    p.accumulate = accumulate;
    return tp_gemm(ctx, &p);
}

/* Y[rows][out] = X[rows][in] W^T (+ bias), X f32 contiguous (ld in), W [out, in] */
static tprim_status linear_f32(tprim_ctx *ctx, const float *X, int64_t rows, int64_t in,
                               const tprim_tensor *W, const tprim_tensor *bias, float *Y,
                               int64_t out)
{
    return mm(ctx, rows, out, in, X, TPRIM_F32, in, 1, W->data, W->dtype, W->strides[1],
              W->strides[0], bias, Y, TPRIM_F32, out, 1, 0);
}

/* dX[rows][in] (+)= dY[rows][out] W */
static tprim_status linear_dx(tprim_ctx *ctx, const float *dY, int64_t rows, int64_t out,
                              const tprim_tensor *W, float *dX, int64_t in, int accumulate)
{
    return mm(ctx, rows, in, out, dY, TPRIM_F32, out, 1, W->data, W->dtype, W->strides[0],
              W->strides[1], NULL, dX, TPRIM_F32, in, 1, accumulate);
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* ---- argument checks -------------------------------------------------------------- */

static tprim_status check_weight(tprim_ctx *ctx, const char *name, const tprim_tensor *w,
                                 int64_t rows, int64_t cols)
{
    if (!w) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "%s is NULL", name);
    TRY(tp_check_tensor(ctx, name, w));
    if (w->dtype != TPRIM_F32 && w->dtype != TPRIM_BF16 && w->dtype != TPRIM_F16)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "%s is %s: weights are f32, bf16 or f16", name,
                       tprim_dtype_name(w->dtype));
    int rank = cols > 0 ? 2 : 1;
    if (w->rank != rank)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s has rank %d: it must have rank %d", name, (int)w->rank, rank);
    if (w->shape[0] != rows || (rank == 2 && w->shape[1] != cols)) {
        if (rank == 2)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s is [%lld, %lld] but must be [%lld, %lld]", name,
                           (long long)w->shape[0], (long long)w->shape[1], (long long)rows, (long long)cols);
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s is [%lld] but must be [%lld]", name,
                       (long long)w->shape[0], (long long)rows);
    }
    return TPRIM_OK;
}

static tprim_status check_norm(tprim_ctx *ctx, const char *name, const tprim_evo_norm *nm, int64_t C)
{
    char buf[64];
    if (!isfinite(nm->eps) || nm->eps < 0)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s.eps is %g: it must be finite and >= 0",
                       name, (double)nm->eps);
    if (nm->gamma) {
        snprintf(buf, sizeof buf, "%s.gamma", name);
        TRY(check_weight(ctx, buf, nm->gamma, C, 0));
    }
    if (nm->beta) {
        snprintf(buf, sizeof buf, "%s.beta", name);
        TRY(check_weight(ctx, buf, nm->beta, C, 0));
    }
    return TPRIM_OK;
}

/* A 4-d view of a rank 3 or 4 tensor [*, A, B, C] with dims a/b swapped when `swap`. */
static evo_view view_of(const tprim_tensor *t, int swap)
{
    evo_view v;
    int r = t->rank, o = r - 3;
    v.data = t->data;
    v.dt = t->dtype;
    v.sb = o ? t->strides[0] : 0;
    v.sn = t->strides[o + (swap ? 1 : 0)];
    v.sl = t->strides[o + (swap ? 0 : 1)];
    v.sc = t->strides[o + 2];
    return v;
}

/* mask [*, A, B] as a view (b, n, l) */
static evo_view mask_view(const tprim_tensor *t, int swap)
{
    evo_view v;
    int o = t->rank - 2;
    v.data = t->data;
    v.dt = t->dtype;
    v.sb = o ? t->strides[0] : 0;
    v.sn = t->strides[o + (swap ? 1 : 0)];
    v.sl = t->strides[o + (swap ? 0 : 1)];
    v.sc = 0;
    return v;
}

static tprim_status same_shape(tprim_ctx *ctx, const char *name, const tprim_tensor *t,
                               const char *ref_name, const tprim_tensor *ref, int with_dtype)
{
    if (!t) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "%s is NULL", name);
    TRY(tp_check_same_shape(ctx, name, t, ref_name, ref));
    if (with_dtype && t->dtype != ref->dtype)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "%s is %s but %s is %s", name, tprim_dtype_name(t->dtype),
                       ref_name, tprim_dtype_name(ref->dtype));
    return TPRIM_OK;
}

static tprim_status plan_build(tprim_ctx *ctx, const tprim_evo_block *blk, const tprim_tensor *x,
                               const tprim_tensor *mask, const tprim_tensor *z,
                               const tprim_tensor *out, evo_plan *P)
{
    if (!blk) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "blk is NULL");
    memset(P, 0, sizeof *P);
    P->blk = blk;
    P->kind = blk->kind;
    if (P->kind < TPRIM_EVO_MSA_ROW || P->kind > TPRIM_EVO_GLOBAL_COLUMN)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "blk->kind is %d: not a tprim_evo_kind", P->kind);
    if (!x) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "x is NULL");
    TRY(tp_check_tensor(ctx, "x", x));
    if (x->rank != 3 && x->rank != 4)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "x has rank %d: it must be [*, A, B, C] with 0 or 1 batch dim (rank 3 or 4)",
                       (int)x->rank);
    if (x->dtype != TPRIM_F32 && x->dtype != TPRIM_BF16)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "x is %s: it must be f32 or bf16", tprim_dtype_name(x->dtype));
    TRY(same_shape(ctx, "out", out, "x", x, 1));
    const int o = x->rank - 3;
    const int swap = P->kind == TPRIM_EVO_MSA_COLUMN || P->kind == TPRIM_EVO_TRIANGLE_END ||
                     P->kind == TPRIM_EVO_GLOBAL_COLUMN;
    P->B = o ? x->shape[0] : 1;
    P->N = x->shape[o + (swap ? 1 : 0)];
    P->L = x->shape[o + (swap ? 0 : 1)];
    P->C = x->shape[o + 2];
    P->x = view_of(x, swap);
    P->out = view_of(out, swap);
    const tprim_evo_weights *w = &blk->attn;
    if (w->heads < 1 || w->head_dim < 1)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "attn.heads is %d and attn.head_dim %d: both must be >= 1",
                       (int)w->heads, (int)w->head_dim);
    P->H = w->heads;
    P->D = w->head_dim;
    P->HD = P->H * P->D;
    const int global = P->kind == TPRIM_EVO_GLOBAL_COLUMN;
    TRY(check_weight(ctx, "attn.wq", w->wq, P->HD, P->C));
    TRY(check_weight(ctx, "attn.wk", w->wk, global ? P->D : P->HD, P->C));
    TRY(check_weight(ctx, "attn.wv", w->wv, global ? P->D : P->HD, P->C));
    if (w->wg) {
        TRY(check_weight(ctx, "attn.wg", w->wg, P->HD, P->C));
        if (w->bg) TRY(check_weight(ctx, "attn.bg", w->bg, P->HD, 0));
    } else if (global) {
        return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "attn.wg is NULL: global column attention is gated");
    }
    TRY(check_weight(ctx, "attn.wo", w->wo, P->C, P->HD));
    if (w->bo) TRY(check_weight(ctx, "attn.bo", w->bo, P->C, 0));
    TRY(check_norm(ctx, "norm", &blk->norm, P->C));
    P->eps = blk->norm.eps > 0 ? blk->norm.eps : 1e-5f;
    if (!isfinite(blk->inf) || blk->inf < 0)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "blk->inf is %g: it must be finite and >= 0", (double)blk->inf);
    P->inf = blk->inf > 0 ? blk->inf : 1e9f;
    if (mask) {
        TRY(tp_check_tensor(ctx, "mask", mask));
        if (mask->dtype != TPRIM_F32 && mask->dtype != TPRIM_BF16 && mask->dtype != TPRIM_BOOL)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "mask is %s: it must be f32, bf16 or bool", tprim_dtype_name(mask->dtype));
        if (mask->rank != x->rank - 1)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "mask has rank %d: it must be x's shape without channels (rank %d)",
                           (int)mask->rank, (int)x->rank - 1);
        for (int d = 0; d < mask->rank; d++)
            if (mask->shape[d] != x->shape[d])
                return tp_fail(ctx, TPRIM_ERR_SHAPE, "mask dim %d is %lld but x's is %lld", d,
                               (long long)mask->shape[d], (long long)x->shape[d]);
        P->mask = mask_view(mask, swap);
        P->has_mask = 1;
    }
    if (P->kind == TPRIM_EVO_MSA_ROW) {
        if (!z) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "z is NULL: MSA row attention takes the pair representation");
        TRY(tp_check_tensor(ctx, "z", z));
        if (z->rank != x->rank || (o && z->shape[0] != x->shape[0]) || z->shape[o] != P->L || z->shape[o + 1] != P->L)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "z must be [*, R, R, c_z] with R = %lld and x's batch dim", (long long)P->L);
        if (z->dtype != TPRIM_F32 && z->dtype != TPRIM_BF16)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "z is %s: it must be f32 or bf16", tprim_dtype_name(z->dtype));
        P->Cz = z->shape[o + 2];
        P->z = view_of(z, 0);
        TRY(check_norm(ctx, "norm_z", &blk->norm_z, P->Cz));
        P->eps_z = blk->norm_z.eps > 0 ? blk->norm_z.eps : 1e-5f;
        TRY(check_weight(ctx, "w_bias", blk->w_bias, P->H, P->Cz));
        P->has_bias = 1;
    } else if (P->kind == TPRIM_EVO_TRIANGLE_START || P->kind == TPRIM_EVO_TRIANGLE_END) {
        if (P->N != P->L)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "x is [*, %lld, %lld, c]: triangle attention needs a square pair tensor",
                           (long long)P->N, (long long)P->L);
        TRY(check_weight(ctx, "w_bias", blk->w_bias, P->H, P->C));
        P->Cz = P->C;
        P->z = P->x;
        P->eps_z = P->eps;
        P->has_bias = 1;
        P->bias_from_x = 1;
    } else if (z || blk->w_bias) {
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s is given but this kind takes no pair bias",
                       z ? "z" : "w_bias");
    }
    return TPRIM_OK;
}

/* Rows per chunk under the memory mode's budget, for `per_row` bytes per row. */
static int64_t chunk_rows(const tprim_ctx *ctx, const evo_plan *P, int64_t per_row, int64_t fixed)
{
    int64_t budget = ctx->memory_budget                        ? (int64_t)TP_MIN(ctx->memory_budget, (size_t)INT64_MAX / 2)
                     : ctx->memory == TPRIM_MEMORY_MINIMAL       ? ((int64_t)64 << 20)
                     : ctx->memory == TPRIM_MEMORY_PERFORMANCE ? ((int64_t)4 << 30)
                                                               : ((int64_t)512 << 20);
    int64_t nc = (budget - fixed) / (per_row > 0 ? per_row : 1);
    return TP_MAX(1, TP_MIN(nc, P->N));
}

/* ---- shared pieces of forward and backward ----------------------------------------- */

/* bias[h][q][k] = w_bias . LN(src(b, q, k, :)) for all q, k < L; returns the LN stats
 * when wanted (for the backward). f32 [H][L][L]; computed L rows of src at a time. */
static tprim_status pair_bias(tprim_ctx *ctx, const evo_plan *P, int64_t b, float *bias,
                              float *scratch /* [L][Cz] */, float *mean, float *rstd)
{
    const tprim_evo_norm *nm = P->bias_from_x ? &P->blk->norm : &P->blk->norm_z;
    const int64_t L = P->L;
    for (int64_t q = 0; q < L; q++) {
        layer_norm(ctx, &P->z, b, q, L, P->Cz, L, nm, P->eps_z, scratch, mean ? mean + q * L : NULL,
                   rstd ? rstd + q * L : NULL);
        /* bias[h][q][k] for k < L: C[m = k][n = h] at h*L*L + q*L + k */
        TRY(mm(ctx, L, P->H, P->Cz, scratch, TPRIM_F32, P->Cz, 1, P->blk->w_bias->data,
               P->blk->w_bias->dtype, P->blk->w_bias->strides[1], P->blk->w_bias->strides[0], NULL,
               bias + q * L, TPRIM_F32, 1, L * L, 0));
    }
    return TPRIM_OK;
}

/* The mask of rows [n0, n0 + nc) of batch b: additive inf * (mask - 1) [nc][L] f32, or
 * a boolean key mask [nc][L]. */
static void mask_rows(const evo_plan *P, int64_t b, int64_t n0, int64_t nc, float *mb, unsigned char *km)
{
    for (int64_t n = 0; n < nc; n++)
        for (int64_t l = 0; l < P->L; l++) {
            float m = P->has_mask ? ev_get(&P->mask, b, n0 + n, l, 0) : 1.0f;
            if (km) km[n * P->L + l] = m != 0.0f;
            else mb[n * P->L + l] = P->inf * (m - 1.0f);
        }
}

/* Attention views of the chunk buffers: q/k/v/a [nc][L][HD] as [nc, H, L, D] */
static void head_view(tprim_tensor *t, float *data, int64_t nc, int64_t H, int64_t L, int64_t D, int64_t ldrow)
{
    int64_t shape[4] = {nc, H, L, D}, strides[4] = {L * ldrow, D, ldrow, 1};
    tprim_tensor_init(t, data, TPRIM_F32, 4, shape, strides);
}

typedef struct chunk_bufs {
    float *X, *q, *k, *v, *a, *g, *o, *mb, *mean, *rstd, *lse;
    unsigned char *km;
    float *qm, *msum;             /* global: masked mean [nc][C], mask sums [nc] */
    float *dX, *dq, *dk, *dv, *dO, *da, *dout, *dqm, *part;  /* backward */
    float *bias, *dbias, *dbias_tot, *bscratch, *bmean, *brstd; /* pair / triangle bias */
    void *mem;
    size_t bytes;
} chunk_bufs;

static float *carve(char **cur, int64_t n)
{
    float *p = (float *)*cur;
    *cur += (n * 4 + 63) / 64 * 64;
    return p;
}

/* Lay out (or, with mem == NULL, measure) the buffers for nc rows; returns bytes. */
static int64_t layout(const evo_plan *P, int backward, int64_t nc, chunk_bufs *cb, char *mem)
{
    const int64_t L = P->L, C = P->C, HD = P->HD, R = nc * L, H = P->H;
    char *cur = mem ? mem : (char *)64; /* measure from a non-null base */
    char *start = cur;
    chunk_bufs t;
    chunk_bufs *c = cb ? cb : &t;
    memset(c, 0, sizeof *c);
    c->X = carve(&cur, R * C);
    c->q = carve(&cur, R * HD);
    c->k = carve(&cur, R * HD);
    c->v = carve(&cur, R * HD);
    c->a = carve(&cur, R * HD);
    c->g = carve(&cur, R * HD);
    c->o = carve(&cur, R * HD);
    c->mb = carve(&cur, R);
    c->km = (unsigned char *)carve(&cur, (R + 3) / 4);
    c->mean = carve(&cur, R);
    c->rstd = carve(&cur, R);
    c->lse = carve(&cur, nc * H * L);
    c->qm = carve(&cur, nc * C);
    c->msum = carve(&cur, nc);
    if (backward) {
        c->dX = carve(&cur, R * C);
        c->dq = carve(&cur, R * HD);
        c->dk = carve(&cur, R * HD);
        c->dv = carve(&cur, R * HD);
        c->dO = carve(&cur, R * HD);
        c->da = carve(&cur, R * HD);
        c->dout = carve(&cur, R * C);
        c->dqm = carve(&cur, nc * C);
        int64_t blocks = TP_MAX(R, L) / 64 + 2;
        c->part = carve(&cur, blocks * 2 * TP_MAX(C, P->Cz));
    }
    if (P->has_bias) {
        c->bias = carve(&cur, H * L * L);
        c->bscratch = carve(&cur, L * P->Cz);
        if (backward) {
            c->dbias = carve(&cur, H * L * L);
            c->dbias_tot = carve(&cur, H * L * L);
            c->bmean = carve(&cur, L * L);
            c->brstd = carve(&cur, L * L);
        }
    }
    return cur - start;
}

static tprim_status alloc_bufs(tprim_ctx *ctx, evo_plan *P, int backward, chunk_bufs *cb)
{
    /* bytes grow linearly with nc: per row = size(2) - size(1), fixed = size(1) - per row */
    int64_t one = layout(P, backward, 1, NULL, NULL), two = layout(P, backward, 2, NULL, NULL);
    int64_t per_row = two - one, fixed = one - per_row;
    P->nc = chunk_rows(ctx, P, per_row, fixed);
    int64_t total = layout(P, backward, P->nc, NULL, NULL);
    void *mem = tp_mem_alloc(ctx, (size_t)total);
    if (!mem)
        return tp_fail(ctx, TPRIM_ERR_OUT_OF_MEMORY, "evoformer: cannot allocate %lld bytes of working memory",
                       (long long)total);
    layout(P, backward, P->nc, cb, mem);
    cb->mem = mem;
    cb->bytes = (size_t)total;
    tp_log(ctx, TPRIM_LOG_DEBUG, "evoformer kind %d: %lld rows of %lld per chunk, %lld bytes of working memory",
           P->kind, (long long)P->nc, (long long)P->N, (long long)total);
    return TPRIM_OK;
}

/* Forward of one chunk up to a (attention output), g (gate) and o = a * g. */
static tprim_status chunk_forward(tprim_ctx *ctx, const evo_plan *P, int64_t b, int64_t n0,
                                  int64_t nc, chunk_bufs *cb, int want_lse)
{
    const tprim_evo_weights *w = &P->blk->attn;
    const int64_t L = P->L, C = P->C, H = P->H, D = P->D, HD = P->HD, rows = nc * L;
    const int global = P->kind == TPRIM_EVO_GLOBAL_COLUMN;
    layer_norm(ctx, &P->x, b, n0, L, C, rows, &P->blk->norm, P->eps, cb->X, cb->mean, cb->rstd);
    tprim_attn_params pa;
    memset(&pa, 0, sizeof pa);
    tprim_tensor tq, tk, tv, ta, tmb, tbias, tkm, tl;
    if (P->blk->skip_masked_keys) {
        mask_rows(P, b, n0, nc, NULL, cb->km);
        int64_t ks[2] = {nc, L};
        tprim_tensor_init(&tkm, cb->km, TPRIM_BOOL, 2, ks, NULL);
        pa.key_mask = &tkm;
    } else {
        mask_rows(P, b, n0, nc, cb->mb, NULL);
        int64_t ms[4] = {nc, 1, 1, L};
        tprim_tensor_init(&tmb, cb->mb, TPRIM_F32, 4, ms, NULL);
        pa.bias[0] = &tmb;
    }
    if (P->has_bias) {
        int64_t bs[4] = {1, H, L, L};
        tprim_tensor_init(&tbias, cb->bias, TPRIM_F32, 4, bs, NULL);
        pa.bias[1] = &tbias;
    }
    if (want_lse) {
        int64_t ls[3] = {nc, H, global ? 1 : L};
        tprim_tensor_init(&tl, cb->lse, TPRIM_F32, 3, ls, NULL);
        pa.lse = &tl;
    }
    if (!global) {
        TRY(linear_f32(ctx, cb->X, rows, C, w->wq, NULL, cb->q, HD));
        TRY(linear_f32(ctx, cb->X, rows, C, w->wk, NULL, cb->k, HD));
        TRY(linear_f32(ctx, cb->X, rows, C, w->wv, NULL, cb->v, HD));
        head_view(&tq, cb->q, nc, H, L, D, HD);
        head_view(&tk, cb->k, nc, H, L, D, HD);
        head_view(&tv, cb->v, nc, H, L, D, HD);
        head_view(&ta, cb->a, nc, H, L, D, HD);
    } else {
        /* one query per row: the masked mean of X over l */
        for (int64_t n = 0; n < nc; n++) {
            float sm = 0.0f;
            for (int64_t c = 0; c < C; c++) cb->qm[n * C + c] = 0.0f;
            for (int64_t l = 0; l < L; l++) {
                float m = P->has_mask ? ev_get(&P->mask, b, n0 + n, l, 0) : 1.0f;
                sm += m;
                for (int64_t c = 0; c < C; c++) cb->qm[n * C + c] += m * cb->X[(n * L + l) * C + c];
            }
            cb->msum[n] = sm + EVO_MEAN_EPS;
            for (int64_t c = 0; c < C; c++) cb->qm[n * C + c] /= cb->msum[n];
        }
        TRY(linear_f32(ctx, cb->qm, nc, C, w->wq, NULL, cb->q, HD));
        TRY(linear_f32(ctx, cb->X, rows, C, w->wk, NULL, cb->k, D));
        TRY(linear_f32(ctx, cb->X, rows, C, w->wv, NULL, cb->v, D));
        int64_t qs[4] = {nc, H, 1, D}, qst[4] = {HD, D, HD, 1};
        int64_t ks[4] = {nc, 1, L, D}, kst[4] = {L * D, L * D, D, 1};
        tprim_tensor_init(&tq, cb->q, TPRIM_F32, 4, qs, qst);
        tprim_tensor_init(&ta, cb->a, TPRIM_F32, 4, qs, qst);
        tprim_tensor_init(&tk, cb->k, TPRIM_F32, 4, ks, kst);
        tprim_tensor_init(&tv, cb->v, TPRIM_F32, 4, ks, kst);
    }
    TRY(tprim_attention(ctx, &tq, &tk, &tv, &ta, &pa));
    if (w->wg) {
        TRY(linear_f32(ctx, cb->X, rows, C, w->wg, w->bg, cb->g, HD));
        for (int64_t r = 0; r < rows; r++) {
            const float *a = global ? cb->a + (r / L) * HD : cb->a + r * HD;
            for (int64_t e = 0; e < HD; e++) {
                float g = sigmoidf(cb->g[r * HD + e]);
                cb->g[r * HD + e] = g;
                cb->o[r * HD + e] = a[e] * g;
            }
        }
    } else {
        memcpy(cb->o, cb->a, sizeof(float) * (size_t)(rows * HD));
    }
    return TPRIM_OK;
}

/* ---- forward ------------------------------------------------------------------------ */

static tprim_status evo_forward(tprim_ctx *ctx, evo_plan *P, chunk_bufs *cb)
{
    const tprim_evo_weights *w = &P->blk->attn;
    for (int64_t b = 0; b < P->B; b++) {
        if (P->has_bias) TRY(pair_bias(ctx, P, b, cb->bias, cb->bscratch, NULL, NULL));
        for (int64_t n0 = 0; n0 < P->N; n0 += P->nc) {
            const int64_t nc = TP_MIN(P->nc, P->N - n0);
            TRY(chunk_forward(ctx, P, b, n0, nc, cb, 0));
            /* out(b, n0 + n, l, :) = o Wo^T + bo, written through the view: one product per
             * row n (rows l at stride sl) */
            for (int64_t n = 0; n < nc; n++)
                TRY(mm(ctx, P->L, P->C, P->HD, cb->o + n * P->L * P->HD, TPRIM_F32, P->HD, 1,
                       w->wo->data, w->wo->dtype, w->wo->strides[1], w->wo->strides[0], w->bo,
                       ev_at(&P->out, b, n0 + n, 0, 0), P->out.dt, P->out.sl, P->out.sc, 0));
        }
    }
    return TPRIM_OK;
}

tprim_status tprim_evo_forward(tprim_ctx *ctx, const tprim_evo_block *blk, const tprim_tensor *x,
                               const tprim_tensor *mask, const tprim_tensor *z, tprim_tensor *out)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    evo_plan P;
    TRY(plan_build(ctx, blk, x, mask, z, out, &P));
    chunk_bufs cb;
    TRY(alloc_bufs(ctx, &P, 0, &cb));
    tprim_status st = evo_forward(ctx, &P, &cb);
    tp_mem_free(ctx, cb.mem, cb.bytes);
    if (st == TPRIM_OK) ctx->err[0] = 0;
    return st;
}

/* ---- backward ----------------------------------------------------------------------- */

static tprim_status check_grad_t(tprim_ctx *ctx, const char *name, const tprim_tensor *g,
                                 const tprim_tensor *ref)
{
    if (!g) return TPRIM_OK;
    if (!ref) return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s is given but its parameter is not", name);
    TRY(tp_check_same_shape(ctx, name, g, "its parameter", ref));
    if (g->dtype != TPRIM_F32)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "%s is %s: parameter gradients are f32", name, tprim_dtype_name(g->dtype));
    return TPRIM_OK;
}

/* zero a rank 1 or 2 f32 tensor through its strides */
static void zero_t(tprim_tensor *t)
{
    if (!t) return;
    int64_t r0 = t->shape[0], r1 = t->rank == 2 ? t->shape[1] : 1, s1 = t->rank == 2 ? t->strides[1] : 0;
    for (int64_t i = 0; i < r0; i++)
        for (int64_t j = 0; j < r1; j++) ((float *)t->data)[i * t->strides[0] + j * s1] = 0.0f;
}

static float *vec_at(tprim_tensor *t, int64_t i) { return (float *)t->data + i * t->strides[0]; }

/* dW (+)= dY^T X into a gradient tensor [out, in] (f32, any strides) */
static tprim_status grad_w(tprim_ctx *ctx, tprim_tensor *dw, const float *dY, int64_t rows,
                           int64_t out, const float *X, int64_t in, int accumulate)
{
    if (!dw) return TPRIM_OK;
    return mm(ctx, out, in, rows, dY, TPRIM_F32, 1, out, X, TPRIM_F32, in, 1, NULL, dw->data,
              TPRIM_F32, dw->strides[0], dw->strides[1], accumulate);
}

static void grad_bias(tprim_tensor *db, const float *dY, int64_t rows, int64_t cols)
{
    if (!db) return;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) *vec_at(db, c) += dY[r * cols + c];
}

static tprim_status evo_backward(tprim_ctx *ctx, evo_plan *P, chunk_bufs *cb,
                                 const tprim_evo_block_grads *G)
{
    const tprim_evo_block *blk = P->blk;
    const tprim_evo_weights *w = &blk->attn;
    const int64_t L = P->L, C = P->C, H = P->H, D = P->D, HD = P->HD;
    const int global = P->kind == TPRIM_EVO_GLOBAL_COLUMN;
    tprim_evo_block_grads none;
    memset(&none, 0, sizeof none);
    if (!G) G = &none;
    tprim_tensor *gv[] = {G->bg, G->bo, G->norm_gamma, G->norm_beta, G->norm_z_gamma, G->norm_z_beta};
    for (size_t i = 0; i < sizeof gv / sizeof gv[0]; i++) zero_t(gv[i]);
    float *dgam = G->norm_gamma ? (float *)G->norm_gamma->data : NULL; /* contiguous checked */
    float *dbet = G->norm_beta ? (float *)G->norm_beta->data : NULL;
    int first = 1; /* the first chunk overwrites the weight gradients, later ones add */
    for (int64_t b = 0; b < P->B; b++) {
        if (P->has_bias) {
            TRY(pair_bias(ctx, P, b, cb->bias, cb->bscratch, cb->bmean, cb->brstd));
            memset(cb->dbias_tot, 0, sizeof(float) * (size_t)(H * L * L));
        }
        for (int64_t n0 = 0; n0 < P->N; n0 += P->nc) {
            const int64_t nc = TP_MIN(P->nc, P->N - n0), rows = nc * L;
            TRY(chunk_forward(ctx, P, b, n0, nc, cb, 1));
            for (int64_t n = 0; n < nc; n++)
                for (int64_t l = 0; l < L; l++)
                    for (int64_t c = 0; c < C; c++)
                        cb->dout[(n * L + l) * C + c] = ev_get(&P->dout, b, n0 + n, l, c);
            /* output projection */
            TRY(grad_w(ctx, G->wo, cb->dout, rows, C, cb->o, HD, !first));
            grad_bias(G->bo, cb->dout, rows, C);
            TRY(linear_dx(ctx, cb->dout, rows, C, w->wo, cb->dO, HD, 0));
            /* gate: da, and d(gate logit) into dq's buffer (used before dq is) */
            float *dgl = cb->dq;
            if (w->wg) {
                if (global) memset(cb->da, 0, sizeof(float) * (size_t)(nc * HD));
                for (int64_t r = 0; r < rows; r++) {
                    const float *a = global ? cb->a + (r / L) * HD : cb->a + r * HD;
                    float *da = global ? cb->da + (r / L) * HD : cb->da + r * HD;
                    for (int64_t e = 0; e < HD; e++) {
                        float g = cb->g[r * HD + e], d = cb->dO[r * HD + e];
                        if (global) da[e] += d * g;
                        else da[e] = d * g;
                        dgl[r * HD + e] = d * a[e] * g * (1.0f - g);
                    }
                }
                TRY(grad_w(ctx, G->wg, dgl, rows, HD, cb->X, C, !first));
                grad_bias(G->bg, dgl, rows, HD);
                TRY(linear_dx(ctx, dgl, rows, HD, w->wg, cb->dX, C, 0));
            } else {
                memcpy(cb->da, cb->dO, sizeof(float) * (size_t)(rows * HD));
                memset(cb->dX, 0, sizeof(float) * (size_t)(rows * C));
            }
            /* attention core */
            tprim_attn_params pa;
            memset(&pa, 0, sizeof pa);
            tprim_tensor tq, tk, tv, ta, tda, tdq, tdk, tdv, tmb, tbias, tkm, tl, tdb;
            if (blk->skip_masked_keys) {
                int64_t ks[2] = {nc, L};
                tprim_tensor_init(&tkm, cb->km, TPRIM_BOOL, 2, ks, NULL);
                pa.key_mask = &tkm;
            } else {
                int64_t ms[4] = {nc, 1, 1, L};
                tprim_tensor_init(&tmb, cb->mb, TPRIM_F32, 4, ms, NULL);
                pa.bias[0] = &tmb;
            }
            tprim_attn_grads ag;
            memset(&ag, 0, sizeof ag);
            if (P->has_bias) {
                int64_t bs[4] = {1, H, L, L};
                tprim_tensor_init(&tbias, cb->bias, TPRIM_F32, 4, bs, NULL);
                tprim_tensor_init(&tdb, cb->dbias, TPRIM_F32, 4, bs, NULL);
                pa.bias[1] = &tbias;
                ag.dbias[1] = &tdb;
            }
            int64_t ls[3] = {nc, H, global ? 1 : L};
            tprim_tensor_init(&tl, cb->lse, TPRIM_F32, 3, ls, NULL);
            if (!global) {
                head_view(&tq, cb->q, nc, H, L, D, HD);
                head_view(&tk, cb->k, nc, H, L, D, HD);
                head_view(&tv, cb->v, nc, H, L, D, HD);
                head_view(&ta, cb->a, nc, H, L, D, HD);
                head_view(&tda, cb->da, nc, H, L, D, HD);
                head_view(&tdq, cb->dq, nc, H, L, D, HD);
                head_view(&tdk, cb->dk, nc, H, L, D, HD);
                head_view(&tdv, cb->dv, nc, H, L, D, HD);
            } else {
                int64_t qs[4] = {nc, H, 1, D}, qst[4] = {HD, D, HD, 1};
                int64_t ks[4] = {nc, 1, L, D}, kst[4] = {L * D, L * D, D, 1};
                tprim_tensor_init(&tq, cb->q, TPRIM_F32, 4, qs, qst);
                tprim_tensor_init(&ta, cb->a, TPRIM_F32, 4, qs, qst);
                tprim_tensor_init(&tda, cb->da, TPRIM_F32, 4, qs, qst);
                tprim_tensor_init(&tdq, cb->dq, TPRIM_F32, 4, qs, qst);
                tprim_tensor_init(&tk, cb->k, TPRIM_F32, 4, ks, kst);
                tprim_tensor_init(&tv, cb->v, TPRIM_F32, 4, ks, kst);
                tprim_tensor_init(&tdk, cb->dk, TPRIM_F32, 4, ks, kst);
                tprim_tensor_init(&tdv, cb->dv, TPRIM_F32, 4, ks, kst);
            }
            ag.dq = &tdq;
            ag.dk = &tdk;
            ag.dv = &tdv;
            TRY(tprim_attention_backward(ctx, &tq, &tk, &tv, &ta, &tda, &tl, &pa, &ag));
            if (P->has_bias)
                for (int64_t e = 0; e < H * L * L; e++) cb->dbias_tot[e] += cb->dbias[e];
            /* projections q, k, v */
            const int64_t kvw = global ? D : HD;
            if (!global) {
                TRY(grad_w(ctx, G->wq, cb->dq, rows, HD, cb->X, C, !first));
                TRY(linear_dx(ctx, cb->dq, rows, HD, w->wq, cb->dX, C, 1));
            } else {
                TRY(grad_w(ctx, G->wq, cb->dq, nc, HD, cb->qm, C, !first));
                TRY(linear_dx(ctx, cb->dq, nc, HD, w->wq, cb->dqm, C, 0));
                for (int64_t n = 0; n < nc; n++)
                    for (int64_t l = 0; l < L; l++) {
                        float m = (P->has_mask ? ev_get(&P->mask, b, n0 + n, l, 0) : 1.0f) / cb->msum[n];
                        for (int64_t c = 0; c < C; c++) cb->dX[(n * L + l) * C + c] += m * cb->dqm[n * C + c];
                    }
            }
            TRY(grad_w(ctx, G->wk, cb->dk, rows, kvw, cb->X, C, !first));
            TRY(linear_dx(ctx, cb->dk, rows, kvw, w->wk, cb->dX, C, 1));
            TRY(grad_w(ctx, G->wv, cb->dv, rows, kvw, cb->X, C, !first));
            TRY(linear_dx(ctx, cb->dv, rows, kvw, w->wv, cb->dX, C, 1));
            /* the LayerNorm of x */
            layer_norm_backward(ctx, &P->x, b, n0, L, C, rows, &blk->norm, cb->mean, cb->rstd, cb->dX,
                                &P->dx, 0, cb->part, dgam, dbet);
            first = 0;
        }
        if (P->has_bias) {
            /* bias[h][q][k] = Wb . LN(src[q][k]): per source row q */
            const tprim_evo_norm *nm = P->bias_from_x ? &blk->norm : &blk->norm_z;
            evo_view sink = {(char *)cb->bscratch, TPRIM_F32, 0, 0, P->Cz, 1}; /* dz not wanted */
            evo_view *dst = P->bias_from_x ? &P->dx : P->dz.data ? &P->dz : &sink;
            float *dg = P->bias_from_x ? dgam : G->norm_z_gamma ? (float *)G->norm_z_gamma->data : NULL;
            float *db = P->bias_from_x ? dbet : G->norm_z_beta ? (float *)G->norm_z_beta->data : NULL;
            const tprim_tensor *wb = blk->w_bias;
            for (int64_t q = 0; q < L; q++) {
                layer_norm(ctx, &P->z, b, q, L, P->Cz, L, nm, P->eps_z, cb->bscratch, NULL, NULL);
                const float *dbq = cb->dbias_tot + q * L; /* element (k, h) at h*L*L + k */
                if (G->w_bias)
                    TRY(mm(ctx, H, P->Cz, L, dbq, TPRIM_F32, L * L, 1, cb->bscratch, TPRIM_F32, P->Cz, 1,
                           NULL, G->w_bias->data, TPRIM_F32, G->w_bias->strides[0], G->w_bias->strides[1],
                           b > 0 || q > 0));
                /* d LN(src[q][k]) = sum_h dbias[h][q][k] Wb[h] -> [L][Cz] in dX's buffer */
                TRY(mm(ctx, L, P->Cz, H, dbq, TPRIM_F32, 1, L * L, wb->data, wb->dtype, wb->strides[0],
                       wb->strides[1], NULL, cb->dX, TPRIM_F32, P->Cz, 1, 0));
                layer_norm_backward(ctx, &P->z, b, q, L, P->Cz, L, nm, cb->bmean + q * L,
                                        cb->brstd + q * L, cb->dX, dst, P->bias_from_x, cb->part, dg, db);
            }
        }
    }
    return TPRIM_OK;
}

tprim_status tprim_evo_backward(tprim_ctx *ctx, const tprim_evo_block *blk, const tprim_tensor *x,
                                const tprim_tensor *mask, const tprim_tensor *z, const tprim_tensor *dout,
                                tprim_tensor *dx, tprim_tensor *dz, const tprim_evo_block_grads *grads)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    evo_plan P;
    TRY(plan_build(ctx, blk, x, mask, z, dout, &P));
    TRY(same_shape(ctx, "dx", dx, "x", x, 1));
    const int swap = P.kind == TPRIM_EVO_MSA_COLUMN || P.kind == TPRIM_EVO_TRIANGLE_END ||
                     P.kind == TPRIM_EVO_GLOBAL_COLUMN;
    P.dout = view_of(dout, swap);
    P.dx = view_of(dx, swap);
    if (dz) {
        if (P.kind != TPRIM_EVO_MSA_ROW)
            return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "dz is given but only MSA row attention takes z");
        TRY(same_shape(ctx, "dz", dz, "z", z, 1));
        P.dz = view_of(dz, 0);
    }
    if (grads) {
        const tprim_evo_weights *w = &blk->attn;
        TRY(check_grad_t(ctx, "grads->wq", grads->wq, w->wq));
        TRY(check_grad_t(ctx, "grads->wk", grads->wk, w->wk));
        TRY(check_grad_t(ctx, "grads->wv", grads->wv, w->wv));
        TRY(check_grad_t(ctx, "grads->wg", grads->wg, w->wg));
        TRY(check_grad_t(ctx, "grads->bg", grads->bg, w->bg));
        TRY(check_grad_t(ctx, "grads->wo", grads->wo, w->wo));
        TRY(check_grad_t(ctx, "grads->bo", grads->bo, w->bo));
        TRY(check_grad_t(ctx, "grads->w_bias", grads->w_bias, blk->w_bias));
        const char *vn[4] = {"grads->norm_gamma", "grads->norm_beta", "grads->norm_z_gamma", "grads->norm_z_beta"};
        tprim_tensor *vg[4] = {grads->norm_gamma, grads->norm_beta, grads->norm_z_gamma, grads->norm_z_beta};
        int64_t vc[4] = {P.C, P.C, P.Cz, P.Cz};
        for (int i = 0; i < 4; i++) {
            if (!vg[i]) continue;
            if (i >= 2 && P.kind != TPRIM_EVO_MSA_ROW)
                return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s is given but this kind has no norm_z", vn[i]);
            TRY(tp_check_tensor(ctx, vn[i], vg[i]));
            if (vg[i]->rank != 1 || vg[i]->shape[0] != vc[i] || vg[i]->strides[0] != 1 || vg[i]->dtype != TPRIM_F32)
                return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s must be a contiguous f32 [%lld]", vn[i], (long long)vc[i]);
        }
    }
    chunk_bufs cb;
    TRY(alloc_bufs(ctx, &P, 1, &cb));
    tprim_status st = evo_backward(ctx, &P, &cb, grads);
    tp_mem_free(ctx, cb.mem, cb.bytes);
    if (st == TPRIM_OK) ctx->err[0] = 0;
    return st;
}
