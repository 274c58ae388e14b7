/* attn_case.c -- build, run and check one attention case (see attn_case.h). */
#include "attn_case.h"

#include "oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double attn_tol(tprim_dtype dt)
{
    switch (dt) {
    case TPRIM_F32: return 1e-5;
    case TPRIM_F16: return 2e-3;
    default: return 6e-3; /* bf16: 8 bits of mantissa in the output */
    }
}

void attn_case_str(const attn_case *c, char *buf, size_t n)
{
    snprintf(buf, n,
             "%s nbd=%d Hq=%lld Hkv=%lld Sq=%lld Sk=%lld D=%lld Dv=%lld layout=%d causal=%d "
             "win=%d(%lld,%lld) cap=%g scale=%g alibi=%d bias=%d,%d%s klen=%d kmask=%d lse=%d",
             tprim_dtype_name(c->dt), c->nbd, (long long)c->Hq, (long long)c->Hkv,
             (long long)c->Sq, (long long)c->Sk, (long long)c->D, (long long)c->Dv, c->layout,
             c->causal, c->use_window, (long long)c->wl, (long long)c->wr, (double)c->softcap,
             (double)c->scale, c->alibi, c->bias[0], c->bias[1], c->bias_qtype ? "(q dtype)" : "", c->klen,
             c->kmask, c->lse);
}

/* shape [batch..., H, S, F] with a memory order for the layout */
static void make_qkvo(gtensor *g, const attn_case *c, int64_t H, int64_t S, int64_t F, int layout)
{
    int64_t shape[TPRIM_MAX_RANK];
    int order[TPRIM_MAX_RANK];
    int r = c->nbd + 3;
    for (int d = 0; d < c->nbd; d++) {
        shape[d] = c->bd[d];
        order[d] = d;
    }
    shape[c->nbd] = H;
    shape[c->nbd + 1] = S;
    shape[c->nbd + 2] = F;
    order[c->nbd] = c->nbd;
    order[c->nbd + 1] = c->nbd + 1;
    order[c->nbd + 2] = c->nbd + 2;
    int pad = 0;
    if (layout == LAYOUT_BSHD) { /* [B, S, H, D] memory */
        order[c->nbd] = c->nbd + 1;
        order[c->nbd + 1] = c->nbd;
    } else if (layout == LAYOUT_PADDED) {
        pad = 3;
    }
    gt_make(g, c->dt, r, shape, order, pad);
}

static void make_bias(gtensor *g, const attn_case *c, int kind, rng *R)
{
    int r = c->nbd + 3;
    int64_t shape[TPRIM_MAX_RANK];
    for (int d = 0; d < c->nbd; d++) shape[d] = c->bd[d];
    shape[c->nbd] = c->Hq;
    shape[c->nbd + 1] = c->Sq;
    shape[c->nbd + 2] = c->Sk;
    tprim_dtype dt = c->bias_qtype ? c->dt : TPRIM_F32;
    int order[TPRIM_MAX_RANK];
    const int *ord = NULL;
    switch (kind) {
    case BIAS_MASK:
    case BIAS_KEYROW:
        shape[c->nbd] = 1;
        shape[c->nbd + 1] = 1;
        break;
    case BIAS_PAIR:
    case BIAS_PAIR_INF:
    case BIAS_PAIR_RAMP:
    case BIAS_PAIR_NEG:
        for (int d = 0; d < c->nbd; d++) shape[d] = 1;
        break;
    case BIAS_2D:
        shape[0] = c->Sq;
        shape[1] = c->Sk;
        r = 2;
        break;
    case BIAS_QTYPE_T:
        dt = c->dt;
        for (int d = 0; d < r; d++) order[d] = d;
        order[r - 2] = r - 1; /* keys outermost of the last two */
        order[r - 1] = r - 2;
        ord = order;
        break;
    case BIAS_ROWCONST: shape[c->nbd + 2] = 1; break;
    default: break;
    }
    gt_make(g, dt, r, shape, ord, 0);
    gt_fill_random(g, R, 2.0);
    int64_t n = gt_numel(g);
    if (kind == BIAS_MASK) {
        for (int64_t i = 0; i < n; i++)
            if ((rng_u64(R) & 3) == 0) gt_set(g, i, -1e9);
            else gt_set(g, i, 0.0);
    } else if (kind == BIAS_KEYROW) {
        for (int64_t i = 0; i < n; i++)
            if ((rng_u64(R) % 7) == 0) gt_set(g, i, -INFINITY);
    } else if (kind == BIAS_PAIR_INF) { /* head 0: the first Sq x Sk elements (contiguous) */
        const int64_t n0 = c->Sq * c->Sk;
        for (int64_t i = 0; i < n0 && i < n; i++)
            if ((rng_u64(R) % 97) == 0) gt_set(g, i, -INFINITY);
    } else if (kind == BIAS_PAIR_RAMP) { /* contiguous [Hq, Sq, Sk] */
        static const double rise[3] = {4.0, 12.0, 30.0};
        for (int64_t i = 0; i < n; i++) {
            const int64_t j = i % c->Sk, h = i / (c->Sq * c->Sk) % c->Hq;
            gt_set(g, i, gt_get(g, i) + rise[h % 3] * (double)j / 128.0);
        }
    } else if (kind == BIAS_PAIR_NEG) { /* contiguous [Hq, Sq, Sk] */
        for (int64_t i = 0; i < n; i++) {
            const int64_t j = i % c->Sk, h = i / (c->Sq * c->Sk) % c->Hq;
            if (h % 3 == 0 || (h % 3 == 1 && 2 * j < c->Sk)) gt_set(g, i, gt_get(g, i) - 40.0);
        }
    } else if (kind == BIAS_NEG_INF) {
        int64_t last = g->t.shape[r - 1];
        for (int64_t i = 0; i < n; i++)
            if ((rng_u64(R) % 5) == 0) gt_set(g, i, -INFINITY);
        if (n >= last) /* one fully masked row */
            for (int64_t j = 0; j < last; j++) gt_set(g, j, -INFINITY);
    }
}

typedef struct attn_tensors {
    gtensor q, k, v, o, b[2], al, kl, ls, km;
    int used; /* bit 0/1: bias 0/1, 2: alibi, 3: key_lens, 4: lse, 5: key_mask */
    int64_t nbatch;
    tprim_attn_params pa;
} attn_tensors;

static void build_inputs(const attn_case *c, rng *R, attn_tensors *T, int want_lse)
{
    memset(T, 0, sizeof *T);
    int lq = c->layout == LAYOUT_MIXED ? LAYOUT_BHSD : c->layout;
    int lk = c->layout == LAYOUT_MIXED ? LAYOUT_BSHD : c->layout;
    int lv = c->layout == LAYOUT_MIXED ? LAYOUT_PADDED : c->layout;
    int lo = c->layout == LAYOUT_MIXED ? LAYOUT_BSHD : c->layout;
    make_qkvo(&T->q, c, c->Hq, c->Sq, c->D, lq);
    make_qkvo(&T->k, c, c->Hkv, c->Sk, c->D, lk);
    make_qkvo(&T->v, c, c->Hkv, c->Sk, c->Dv, lv);
    make_qkvo(&T->o, c, c->Hq, c->Sq, c->Dv, lo);
    gt_fill_random(&T->q, R, 1.0);
    gt_fill_random(&T->k, R, 1.0);
    gt_fill_random(&T->v, R, 1.0);
    tprim_attn_params *pa = &T->pa;
    pa->scale = c->scale;
    pa->causal = c->causal;
    pa->use_window = c->use_window;
    pa->window_left = c->wl;
    pa->window_right = c->wr;
    pa->softcap = c->softcap;
    for (int x = 0; x < 2; x++) {
        if (!c->bias[x]) continue;
        make_bias(&T->b[x], c, c->bias[x], R);
        pa->bias[x] = &T->b[x].t;
        T->used |= 1 << x;
    }
    int64_t nbatch = 1;
    for (int d = 0; d < c->nbd; d++) nbatch *= c->bd[d];
    T->nbatch = nbatch;
    if (c->alibi) {
        int64_t shape[4];
        int r = 1;
        if (c->alibi == 2) {
            for (int d = 0; d < c->nbd; d++) shape[d] = c->bd[d];
            r = c->nbd + 1;
        }
        shape[r - 1] = c->Hq;
        gt_make(&T->al, TPRIM_F32, r, shape, NULL, 0);
        int64_t n = gt_numel(&T->al);
        for (int64_t i = 0; i < n; i++) gt_set(&T->al, i, 0.05 + 0.5 * fabs(rng_uniform(R)));
        pa->alibi_slopes = &T->al.t;
        T->used |= 4;
    }
    if (c->klen) {
        if (c->klen == 2 || c->nbd == 0) {
            int64_t shape[1] = {nbatch};
            gt_make(&T->kl, TPRIM_I64, 1, shape, NULL, 0);
        } else {
            gt_make(&T->kl, TPRIM_I32, c->nbd, c->bd, NULL, 0);
        }
        for (int64_t i = 0; i < nbatch; i++) {
            int64_t len = (int64_t)(rng_u64(R) % (uint64_t)(c->Sk + 1));
            if (c->klen == 3 && i == 0) len = 0;
            if (c->klen == 3 && i == 1) len = c->Sk;
            gt_set(&T->kl, i, (double)len);
        }
        pa->key_lens = &T->kl.t;
        T->used |= 8;
    }
    if (c->kmask) {
        int64_t shape[TPRIM_MAX_RANK];
        for (int d = 0; d < c->nbd; d++) shape[d] = c->kmask == 3 ? 1 : c->bd[d];
        shape[c->nbd] = c->Sk;
        gt_make(&T->km, TPRIM_BOOL, c->nbd + 1, shape, NULL, c->layout == LAYOUT_PADDED ? 5 : 0);
        int64_t rows = gt_numel(&T->km) / (c->Sk > 0 ? c->Sk : 1);
        for (int64_t r = 0; r < rows; r++) {
            /* mode 2: keys [0, len) visible, the rest padding; row 1 sees no key at all */
            int64_t len = c->Sk - (int64_t)(rng_u64(R) % 3) * c->Sk / 4 - r % 2;
            for (int64_t j = 0; j < c->Sk; j++) {
                int on = c->kmask == 2 ? (r != 1 && j < len) : (rng_u64(R) % 4) != 0;
                gt_set(&T->km, r * c->Sk + j, on);
            }
        }
        pa->key_mask = &T->km.t;
        T->used |= 32;
    }
    if (want_lse) {
        int64_t shape[TPRIM_MAX_RANK];
        for (int d = 0; d < c->nbd; d++) shape[d] = c->bd[d];
        shape[c->nbd] = c->Hq;
        shape[c->nbd + 1] = c->Sq;
        gt_make(&T->ls, TPRIM_F32, c->nbd + 2, shape, NULL, c->layout == LAYOUT_PADDED ? 2 : 0);
        pa->lse = &T->ls.t;
        T->used |= 16;
    }
}

static void free_inputs(attn_tensors *T)
{
    gt_free(&T->q);
    gt_free(&T->k);
    gt_free(&T->v);
    gt_free(&T->o);
    for (int x = 0; x < 2; x++)
        if (T->used & (1 << x)) gt_free(&T->b[x]);
    if (T->used & 4) gt_free(&T->al);
    if (T->used & 8) gt_free(&T->kl);
    if (T->used & 16) gt_free(&T->ls);
    if (T->used & 32) gt_free(&T->km);
}

int g_attn_refusal_ok;
int g_attn_cuda = 0;

/* CUDA mode: every tensor of the call is mirrored in device memory, guards included
 * (the whole host allocation is copied), the call runs on the device views, and the
 * outputs' allocations come back whole, so that the guard, poison and
 * untouched-bytes checks below judge the device kernel exactly as a host one. */
typedef struct dev_mirror {
    gtensor *g[10];
    void *d[10];
    tprim_tensor view[10];
    int n;
} dev_mirror;

static const tprim_tensor *mirror(dev_mirror *m, gtensor *g)
{
    size_t bytes = g->span + 2 * GUARD;
    void *d = NULL;
    if (tprim_cuda_malloc(0, bytes, &d) != TPRIM_OK ||
        tprim_cuda_memcpy(d, g->raw, bytes, TPRIM_COPY_HOST_TO_DEVICE) != TPRIM_OK) {
        tprim_cuda_free(d);
        return NULL;
    }
    m->g[m->n] = g;
    m->d[m->n] = d;
    m->view[m->n] = g->t;
    m->view[m->n].data = (char *)d + ((unsigned char *)g->t.data - g->raw);
    m->view[m->n].device = TPRIM_DEVICE_CUDA;
    m->view[m->n].device_id = 0;
    return &m->view[m->n++];
}

static void mirror_back(dev_mirror *m, const gtensor *g)
{
    for (int i = 0; i < m->n; i++)
        if (m->g[i] == g)
            CHECK(tprim_cuda_memcpy(g->raw, m->d[i], g->span + 2 * GUARD,
                                    TPRIM_COPY_DEVICE_TO_HOST) == TPRIM_OK,
                  "copy from the device");
}

static void mirror_free(dev_mirror *m)
{
    for (int i = 0; i < m->n; i++) tprim_cuda_free(m->d[i]);
    m->n = 0;
}

static tprim_status run_on_cuda(tprim_ctx *ctx, attn_tensors *T, const attn_case *c)
{
    dev_mirror m = {.n = 0};
    tprim_attn_params pa = T->pa;
    const tprim_tensor *q = mirror(&m, &T->q), *k = mirror(&m, &T->k), *v = mirror(&m, &T->v);
    tprim_tensor *o = (tprim_tensor *)mirror(&m, &T->o);
    int ok = q && k && v && o;
    for (int x = 0; x < 2; x++)
        if (T->used & (1 << x)) ok &= (pa.bias[x] = mirror(&m, &T->b[x])) != NULL;
    if (T->used & 4) ok &= (pa.alibi_slopes = mirror(&m, &T->al)) != NULL;
    if (T->used & 8) ok &= (pa.key_lens = mirror(&m, &T->kl)) != NULL;
    if (T->used & 32) ok &= (pa.key_mask = mirror(&m, &T->km)) != NULL;
    if (c->lse) ok &= (pa.lse = (tprim_tensor *)mirror(&m, &T->ls)) != NULL;
    tprim_status st = TPRIM_ERR_DEVICE;
    if (CHECK(ok, "device buffers for a CUDA case")) {
        st = tprim_attention(ctx, q, k, v, o, &pa);
        if (st == TPRIM_OK) st = tprim_ctx_synchronize(ctx);
        if (st == TPRIM_OK) {
            mirror_back(&m, &T->o);
            if (c->lse) mirror_back(&m, &T->ls);
        }
    }
    mirror_free(&m);
    return st;
}

double attn_case_run(tprim_ctx *ctx, const attn_case *c, uint64_t seed, const char *label,
                     unsigned char **out_copy, size_t *out_bytes)
{
    rng R = {seed};
    char desc[400];
    attn_case_str(c, desc, sizeof desc);
    attn_tensors T;
    build_inputs(c, &R, &T, c->lse);
    gtensor *qq = &T.q, *kk = &T.k, *vv = &T.v, *oo = &T.o, *ls = &T.ls;
    tprim_attn_params pa = T.pa;
    const int64_t nbatch = T.nbatch;
    unsigned char *sq = gt_snapshot(qq), *sk = gt_snapshot(kk), *sv = gt_snapshot(vv);
    unsigned char *so = gt_snapshot(oo);
    tprim_status st = g_attn_cuda ? run_on_cuda(ctx, &T, c)
                                  : tprim_attention(ctx, &qq->t, &kk->t, &vv->t, &oo->t, &pa);
    double rel = -1.0;
    /* a pinned kernel that refuses the case (g_attn_refusal_ok): not run, not a failure */
    const int refused = g_attn_refusal_ok && st == TPRIM_ERR_UNSUPPORTED &&
                        strstr(tprim_ctx_last_error(ctx), "(pinned) does not accept") != NULL;
    if (!refused && CHECK(st == TPRIM_OK, "%s: status %s (%s) for %s", label, tprim_status_str(st),
              tprim_ctx_last_error(ctx), desc)) {
        const int64_t nrow = nbatch * c->Hq * c->Sq;
        double *ref = malloc(sizeof(double) * (size_t)(nrow * c->Dv + 1));
        double *rlse = malloc(sizeof(double) * (size_t)(nrow + 1));
        oracle_attention(&qq->t, &kk->t, &vv->t, &pa, ref, rlse);
        double e2 = 0, r2 = 0;
        long nan_count = 0, masked_bad = 0, lse_bad = 0;
        for (int64_t row = 0; row < nrow; row++) {
            /* A row whose every visible key carries the -1e9 mask bias is ill-conditioned
             * in f32: its logits round to multiples of 64, so any f32 kernel (tprim's,
             * PyTorch's) averages those keys uniformly while the float64 oracle still
             * resolves them. Such rows are checked for NaN only. */
            const int illcond = rlse[row] < -1e8 && rlse[row] > -INFINITY;
            for (int64_t d = 0; d < c->Dv; d++) {
                double got = gt_get(oo, row * c->Dv + d), want = ref[row * c->Dv + d];
                if (isnan(got)) nan_count++;
                if (rlse[row] == -INFINITY && got != 0.0) masked_bad++;
                if (illcond) continue;
                e2 += (got - want) * (got - want);
                r2 += want * want;
            }
            if (c->lse) {
                double got = gt_get(ls, row), want = rlse[row];
                if (want == -INFINITY ? got != -INFINITY : !(fabs(got - want) <= 2e-4 * (1 + fabs(want))))
                    lse_bad++;
            }
        }
        rel = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
        CHECK(nan_count == 0, "%s: %ld NaN/unwritten outputs for %s", label, nan_count, desc);
        CHECK(masked_bad == 0, "%s: %ld nonzero outputs in fully masked rows for %s", label,
              masked_bad, desc);
        /* the tensor-core kernels round the probabilities to bf16/f16 before the
         * product with v (as every flash kernel does): the GPU bound is 1e-2 */
        const double tol = g_attn_cuda && c->dt != TPRIM_F32 ? 1e-2 : attn_tol(c->dt);
        CHECK(rel <= tol, "%s: relative error %.3g > %.3g for %s", label, rel, tol, desc);
        if (c->lse) CHECK(lse_bad == 0, "%s: %ld wrong lse values for %s", label, lse_bad, desc);
        free(ref);
        free(rlse);
    }
    CHECK(gt_guards_ok(oo) && gt_guards_ok(qq) && gt_guards_ok(kk) && gt_guards_ok(vv) &&
              (!c->lse || gt_guards_ok(ls)),
          "%s: guard bytes overwritten for %s", label, desc);
    CHECK(gt_same_as(qq, sq) && gt_same_as(kk, sk) && gt_same_as(vv, sv),
          "%s: inputs modified for %s", label, desc);
    /* nothing but the view's own elements may change: copy them into the snapshot of
     * the poisoned buffer, then the whole allocation must match it */
    {
        int64_t n = gt_numel(oo);
        size_t es = tprim_dtype_size(oo->t.dtype);
        for (int64_t i = 0; i < n; i++) {
            size_t off = gt_offset(oo, i);
            memcpy(so + off, oo->raw + off, es);
        }
        CHECK(gt_same_as(oo, so), "%s: bytes outside the output view written for %s", label, desc);
    }
    if (out_copy) {
        *out_bytes = oo->span;
        *out_copy = malloc(oo->span);
        memcpy(*out_copy, oo->t.data, oo->span);
    }
    free(sq);
    free(sk);
    free(sv);
    free(so);
    free_inputs(&T);
    return rel;
}

/* norm-wise relative error of a gradient tensor against float64 values (row-major over
 * its logical shape); counts NaNs */
static double grad_err(const gtensor *g, const double *ref, long *nans)
{
    int64_t n = gt_numel(g);
    double e2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double got = gt_get(g, i);
        if (isnan(got)) (*nans)++;
        e2 += (got - ref[i]) * (got - ref[i]);
        r2 += ref[i] * ref[i];
    }
    /* A gradient that is zero in exact arithmetic (a bias constant along the keys, dq
     * and dk when a row sees a single key) has no relative error: it is judged by its
     * root-mean-square absolute error instead. */
    if (r2 < 1e-12 * (double)n) return n ? sqrt(e2 / (double)n) : 0.0;
    return sqrt(e2 / r2);
}

double attn_case_run_backward(tprim_ctx *ctx, const attn_case *c, uint64_t seed, const char *label,
                              int expect_unsupported, unsigned char **copy, size_t *copy_bytes)
{
    rng R = {seed};
    char desc[400];
    attn_case_str(c, desc, sizeof desc);
    attn_tensors T;
    build_inputs(c, &R, &T, 1);
    /* the forward call provides out and lse (whatever kernel the context picks) */
    tprim_status st = tprim_attention(ctx, &T.q.t, &T.k.t, &T.v.t, &T.o.t, &T.pa);
    if (!CHECK(st == TPRIM_OK, "%s: forward failed: %s", label, tprim_ctx_last_error(ctx))) {
        free_inputs(&T);
        return -1;
    }
    int lq = c->layout == LAYOUT_MIXED ? LAYOUT_PADDED : c->layout;
    int lk = c->layout == LAYOUT_MIXED ? LAYOUT_BHSD : c->layout;
    gtensor dout, dq, dk, dv, db[2];
    make_qkvo(&dout, c, c->Hq, c->Sq, c->Dv, c->layout == LAYOUT_MIXED ? LAYOUT_BSHD : c->layout);
    gt_fill_random(&dout, &R, 1.0);
    make_qkvo(&dq, c, c->Hq, c->Sq, c->D, lq);
    make_qkvo(&dk, c, c->Hkv, c->Sk, c->D, lk);
    make_qkvo(&dv, c, c->Hkv, c->Sk, c->Dv, lk);
    tprim_attn_grads gr;
    memset(&gr, 0, sizeof gr);
    gr.dq = &dq.t;
    gr.dk = &dk.t;
    gr.dv = &dv.t;
    for (int x = 0; x < 2; x++)
        if (T.used & (1 << x)) {
            gt_make(&db[x], TPRIM_F32, T.b[x].t.rank, T.b[x].t.shape, NULL, 0);
            gr.dbias[x] = &db[x].t;
        }
    unsigned char *sq = gt_snapshot(&T.q), *sk = gt_snapshot(&T.k), *sv = gt_snapshot(&T.v),
                  *so = gt_snapshot(&T.o), *sd = gt_snapshot(&dout);
    st = tprim_attention_backward(ctx, &T.q.t, &T.k.t, &T.v.t, &T.o.t, &dout.t, &T.ls.t, &T.pa, &gr);
    double worst = -1;
    if (expect_unsupported) {
        CHECK(st == TPRIM_ERR_UNSUPPORTED && gt_get(&dq, 0) != gt_get(&dq, 0),
              "%s: expected TPRIM_ERR_UNSUPPORTED and untouched dq, got %s for %s", label,
              tprim_status_str(st), desc);
    } else if (CHECK(st == TPRIM_OK, "%s: backward status %s (%s) for %s", label,
                     tprim_status_str(st), tprim_ctx_last_error(ctx), desc)) {
        int64_t nq = gt_numel(&dq), nk = gt_numel(&dk), nv = gt_numel(&dv);
        double *rq = malloc(sizeof(double) * (size_t)(nq + 1)), *rk = malloc(sizeof(double) * (size_t)(nk + 1)),
               *rv = malloc(sizeof(double) * (size_t)(nv + 1)), *rb[2] = {NULL, NULL};
        for (int x = 0; x < 2; x++)
            if (gr.dbias[x]) rb[x] = malloc(sizeof(double) * (size_t)(gt_numel(&db[x]) + 1));
        oracle_attention_backward(&T.q.t, &T.k.t, &T.v.t, &T.pa, &dout.t, rq, rk, rv, rb[0], rb[1]);
        long nans = 0;
        double e[5] = {grad_err(&dq, rq, &nans), grad_err(&dk, rk, &nans), grad_err(&dv, rv, &nans), 0, 0};
        for (int x = 0; x < 2; x++)
            if (gr.dbias[x]) e[3 + x] = grad_err(&db[x], rb[x], &nans);
        double tol = c->dt == TPRIM_F32 ? 2e-5 : 1e-2;
        worst = 0;
        for (int i = 0; i < 5; i++) worst = e[i] > worst ? e[i] : worst;
        CHECK(nans == 0, "%s: %ld NaN/unwritten gradient values for %s", label, nans, desc);
        CHECK(worst <= tol, "%s: gradient errors dq %.2g dk %.2g dv %.2g dbias %.2g %.2g > %.2g for %s",
              label, e[0], e[1], e[2], e[3], e[4], tol, desc);
        free(rq);
        free(rk);
        free(rv);
        free(rb[0]);
        free(rb[1]);
    }
    CHECK(gt_same_as(&T.q, sq) && gt_same_as(&T.k, sk) && gt_same_as(&T.v, sv) &&
              gt_same_as(&T.o, so) && gt_same_as(&dout, sd),
          "%s: backward modified an input for %s", label, desc);
    CHECK(gt_guards_ok(&dq) && gt_guards_ok(&dk) && gt_guards_ok(&dv) &&
              (!gr.dbias[0] || gt_guards_ok(&db[0])) && (!gr.dbias[1] || gt_guards_ok(&db[1])),
          "%s: guard bytes of a gradient overwritten for %s", label, desc);
    if (copy) {
        size_t n = dq.span + dk.span + dv.span;
        *copy = malloc(n);
        memcpy(*copy, dq.t.data, dq.span);
        memcpy(*copy + dq.span, dk.t.data, dk.span);
        memcpy(*copy + dq.span + dk.span, dv.t.data, dv.span);
        *copy_bytes = n;
    }
    free(sq);
    free(sk);
    free(sv);
    free(so);
    free(sd);
    gt_free(&dout);
    gt_free(&dq);
    gt_free(&dk);
    gt_free(&dv);
    for (int x = 0; x < 2; x++)
        if (gr.dbias[x]) gt_free(&db[x]);
    free_inputs(&T);
    return worst;
}
