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
             "win=%d(%lld,%lld) cap=%g scale=%g alibi=%d bias=%d,%d klen=%d lse=%d",
             tprim_dtype_name(c->dt), c->nbd, (long long)c->Hq, (long long)c->Hkv,
             (long long)c->Sq, (long long)c->Sk, (long long)c->D, (long long)c->Dv, c->layout,
             c->causal, c->use_window, (long long)c->wl, (long long)c->wr, (double)c->softcap,
             (double)c->scale, c->alibi, c->bias[0], c->bias[1], c->klen, c->lse);
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
    tprim_dtype dt = TPRIM_F32;
    int order[TPRIM_MAX_RANK];
    const int *ord = NULL;
    switch (kind) {
    case BIAS_MASK:
        shape[c->nbd] = 1;
        shape[c->nbd + 1] = 1;
        break;
    case BIAS_PAIR:
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
    } else if (kind == BIAS_NEG_INF) {
        int64_t last = g->t.shape[r - 1];
        for (int64_t i = 0; i < n; i++)
            if ((rng_u64(R) % 5) == 0) gt_set(g, i, -INFINITY);
        if (n >= last) /* one fully masked row */
            for (int64_t j = 0; j < last; j++) gt_set(g, j, -INFINITY);
    }
}

double attn_case_run(tprim_ctx *ctx, const attn_case *c, uint64_t seed, const char *label,
                     unsigned char **out_copy, size_t *out_bytes)
{
    rng R = {seed};
    char desc[400];
    attn_case_str(c, desc, sizeof desc);
    gtensor q, k, v, o, b[2], al, kl, ls;
    int lq = c->layout == LAYOUT_MIXED ? LAYOUT_BHSD : c->layout;
    int lk = c->layout == LAYOUT_MIXED ? LAYOUT_BSHD : c->layout;
    int lv = c->layout == LAYOUT_MIXED ? LAYOUT_PADDED : c->layout;
    int lo = c->layout == LAYOUT_MIXED ? LAYOUT_BSHD : c->layout;
    make_qkvo(&q, c, c->Hq, c->Sq, c->D, lq);
    make_qkvo(&k, c, c->Hkv, c->Sk, c->D, lk);
    make_qkvo(&v, c, c->Hkv, c->Sk, c->Dv, lv);
    make_qkvo(&o, c, c->Hq, c->Sq, c->Dv, lo);
    gt_fill_random(&q, &R, 1.0);
    gt_fill_random(&k, &R, 1.0);
    gt_fill_random(&v, &R, 1.0);

    tprim_attn_params pa;
    memset(&pa, 0, sizeof pa);
    pa.scale = c->scale;
    pa.causal = c->causal;
    pa.use_window = c->use_window;
    pa.window_left = c->wl;
    pa.window_right = c->wr;
    pa.softcap = c->softcap;
    int nb_used = 0;
    for (int x = 0; x < 2; x++) {
        if (!c->bias[x]) continue;
        make_bias(&b[x], c, c->bias[x], &R);
        pa.bias[x] = &b[x].t;
        nb_used |= 1 << x;
    }
    int64_t nbatch = 1;
    for (int d = 0; d < c->nbd; d++) nbatch *= c->bd[d];
    if (c->alibi) {
        int64_t shape[4];
        int r = 1;
        if (c->alibi == 2) {
            for (int d = 0; d < c->nbd; d++) shape[d] = c->bd[d];
            r = c->nbd + 1;
        }
        shape[r - 1] = c->Hq;
        gt_make(&al, TPRIM_F32, r, shape, NULL, 0);
        int64_t n = gt_numel(&al);
        for (int64_t i = 0; i < n; i++) gt_set(&al, i, 0.05 + 0.5 * fabs(rng_uniform(&R)));
        pa.alibi_slopes = &al.t;
    }
    if (c->klen) {
        if (c->klen == 2 || c->nbd == 0) {
            int64_t shape[1] = {nbatch};
            gt_make(&kl, TPRIM_I64, 1, shape, NULL, 0);
        } else {
            gt_make(&kl, TPRIM_I32, c->nbd, c->bd, NULL, 0);
        }
        for (int64_t i = 0; i < nbatch; i++) {
            int64_t len = (int64_t)(rng_u64(&R) % (uint64_t)(c->Sk + 1));
            if (c->klen == 3 && i == 0) len = 0;
            if (c->klen == 3 && i == 1) len = c->Sk;
            gt_set(&kl, i, (double)len);
        }
        pa.key_lens = &kl.t;
    }
    if (c->lse) {
        int64_t shape[TPRIM_MAX_RANK];
        for (int d = 0; d < c->nbd; d++) shape[d] = c->bd[d];
        shape[c->nbd] = c->Hq;
        shape[c->nbd + 1] = c->Sq;
        gt_make(&ls, TPRIM_F32, c->nbd + 2, shape, NULL, c->layout == LAYOUT_PADDED ? 2 : 0);
        pa.lse = &ls.t;
    }

    unsigned char *sq = gt_snapshot(&q), *sk = gt_snapshot(&k), *sv = gt_snapshot(&v);
    unsigned char *so = gt_snapshot(&o);
    tprim_status st = tprim_attention(ctx, &q.t, &k.t, &v.t, &o.t, &pa);
    double rel = -1.0;
    if (CHECK(st == TPRIM_OK, "%s: status %s (%s) for %s", label, tprim_status_str(st),
              tprim_ctx_last_error(ctx), desc)) {
        const int64_t nrow = nbatch * c->Hq * c->Sq;
        double *ref = malloc(sizeof(double) * (size_t)(nrow * c->Dv + 1));
        double *rlse = malloc(sizeof(double) * (size_t)(nrow + 1));
        oracle_attention(&q.t, &k.t, &v.t, &pa, ref, rlse);
        double e2 = 0, r2 = 0;
        long nan_count = 0, masked_bad = 0, lse_bad = 0;
        for (int64_t row = 0; row < nrow; row++) {
            for (int64_t d = 0; d < c->Dv; d++) {
                double got = gt_get(&o, row * c->Dv + d), want = ref[row * c->Dv + d];
                if (isnan(got)) nan_count++;
                if (rlse[row] == -INFINITY && got != 0.0) masked_bad++;
                e2 += (got - want) * (got - want);
                r2 += want * want;
            }
            if (c->lse) {
                double got = gt_get(&ls, row), want = rlse[row];
                if (want == -INFINITY ? got != -INFINITY : !(fabs(got - want) <= 2e-4 * (1 + fabs(want))))
                    lse_bad++;
            }
        }
        rel = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
        CHECK(nan_count == 0, "%s: %ld NaN/unwritten outputs for %s", label, nan_count, desc);
        CHECK(masked_bad == 0, "%s: %ld nonzero outputs in fully masked rows for %s", label,
              masked_bad, desc);
        CHECK(rel <= attn_tol(c->dt), "%s: relative error %.3g > %.3g for %s", label, rel,
              attn_tol(c->dt), desc);
        if (c->lse) CHECK(lse_bad == 0, "%s: %ld wrong lse values for %s", label, lse_bad, desc);
        free(ref);
        free(rlse);
    }
    CHECK(gt_guards_ok(&o) && gt_guards_ok(&q) && gt_guards_ok(&k) && gt_guards_ok(&v) &&
              (!c->lse || gt_guards_ok(&ls)),
          "%s: guard bytes overwritten for %s", label, desc);
    CHECK(gt_same_as(&q, sq) && gt_same_as(&k, sk) && gt_same_as(&v, sv),
          "%s: inputs modified for %s", label, desc);
    /* nothing but the view's own elements may change: copy them into the snapshot of
     * the poisoned buffer, then the whole allocation must match it */
    {
        int64_t n = gt_numel(&o);
        size_t es = tprim_dtype_size(o.t.dtype);
        for (int64_t i = 0; i < n; i++) {
            size_t off = gt_offset(&o, i);
            memcpy(so + off, o.raw + off, es);
        }
        CHECK(gt_same_as(&o, so), "%s: bytes outside the output view written for %s", label, desc);
    }
    if (out_copy) {
        *out_bytes = o.span;
        *out_copy = malloc(o.span);
        memcpy(*out_copy, o.t.data, o.span);
    }
    free(sq);
    free(sk);
    free(sv);
    free(so);
    gt_free(&q);
    gt_free(&k);
    gt_free(&v);
    gt_free(&o);
    for (int x = 0; x < 2; x++)
        if (nb_used & (1 << x)) gt_free(&b[x]);
    if (c->alibi) gt_free(&al);
    if (c->klen) gt_free(&kl);
    if (c->lse) gt_free(&ls);
    return rel;
}
