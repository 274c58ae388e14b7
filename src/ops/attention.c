/* attention.c -- the tprim_attention front-end: check every argument (nothing is
 * written on error), normalise shapes and strides into a tp_attn_problem, dispatch. */
#include "attention.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *dim_role(int t, int r)
{
    static const char *const roles[] = {"Sk", "Sq", "Hq"};
    int from_end = r - 1 - t;
    return from_end < 3 ? roles[from_end] : "batch";
}

/* Broadcast tensor t (rank <= r) against target shape tgt[r], right-aligned; on
 * success fill str[r] with strides (0 where broadcast). */
tprim_status tp_broadcast(tprim_ctx *ctx, const char *name, const tprim_tensor *t, int r,
                              const int64_t *tgt, int64_t *str, int roles)
{
    if (t->rank > r)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s has rank %d: it must broadcast to rank %d", name,
                       (int)t->rank, r);
    int lead = r - t->rank;
    for (int d = 0; d < r; d++) {
        if (d < lead) {
            str[d] = 0;
            continue;
        }
        int64_t s = t->shape[d - lead];
        if (s == tgt[d]) str[d] = (s == 1) ? 0 : t->strides[d - lead];
        else if (s == 1) str[d] = 0;
        else
            return tp_fail(ctx, TPRIM_ERR_SHAPE,
                           "%s dim %d is %lld: not broadcastable to %lld (the %s dimension)", name,
                           d - lead, (long long)s, (long long)tgt[d],
                           roles ? dim_role(d, r) : "batch/head");
    }
    return TPRIM_OK;
}

/* Put the strides of a tensor of logical layout [batch(nbd)..., rest(nrest)...] into
 * an operand: batch strides right-aligned into sb[3]. */
void tp_fill_operand(tp_operand *o, const tprim_tensor *t, int nbd, const int64_t *str,
                         int nrest)
{
    o->data = (const char *)t->data;
    o->dtype = t->dtype;
    o->sb[0] = o->sb[1] = o->sb[2] = 0;
    for (int i = 0; i < nbd; i++) o->sb[3 - nbd + i] = str[i];
    o->sh = nrest > 0 ? str[nbd] : 0;
    o->si = nrest > 1 ? str[nbd + 1] : 0;
    o->sj = nrest > 2 ? str[nbd + 2] : 0;
}

static tprim_status check_same_dim(tprim_ctx *ctx, const char *a, const tprim_tensor *ta, int da,
                                   const char *b, const tprim_tensor *tb, int db, const char *what)
{
    if (ta->shape[da] != tb->shape[db])
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s has %s = %lld but %s has %lld", a, what,
                       (long long)ta->shape[da], b, (long long)tb->shape[db]);
    return TPRIM_OK;
}

#define TRY(x)                             \
    do {                                   \
        tprim_status s_ = (x);             \
        if (s_ != TPRIM_OK) return s_;     \
    } while (0)

tprim_status tp_check_same_shape(tprim_ctx *ctx, const char *name, const tprim_tensor *t,
                                 const char *ref_name, const tprim_tensor *ref)
{
    TRY(tp_check_tensor(ctx, name, t));
    if (t->rank != ref->rank)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s has rank %d but %s has rank %d", name,
                       (int)t->rank, ref_name, (int)ref->rank);
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] != ref->shape[d])
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s dim %d is %lld but %s's is %lld", name, d,
                           (long long)t->shape[d], ref_name, (long long)ref->shape[d]);
    return TPRIM_OK;
}

/* An operand of attention: checked like any tensor, CUDA allowed, and on q's device. */
static tprim_status check_on(tprim_ctx *ctx, const char *name, const tprim_tensor *t,
                             const tprim_tensor *q)
{
    TRY(tp_check_tensor_dev(ctx, name, t, 1));
    if (t != q && (t->device != q->device ||
                   (t->device == TPRIM_DEVICE_CUDA && t->device_id != q->device_id)))
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                       "%s is on %s %d but q is on %s %d: every tensor of a call must be on one "
                       "device",
                       name, t->device == TPRIM_DEVICE_CUDA ? "cuda" : "cpu", (int)t->device_id,
                       q->device == TPRIM_DEVICE_CUDA ? "cuda" : "cpu", (int)q->device_id);
    return TPRIM_OK;
}

tprim_status tp_attn_build(tprim_ctx *ctx, const tprim_tensor *q, const tprim_tensor *k,
                           const tprim_tensor *v, const tprim_tensor *out,
                           const tprim_attn_params *pa, int with_lse, tp_attn_problem *p)
{
    TRY(check_on(ctx, "q", q, q));
    TRY(check_on(ctx, "k", k, q));
    TRY(check_on(ctx, "v", v, q));
    TRY(check_on(ctx, "out", out, q));
    TRY(tp_check_no_broadcast(ctx, "out", out));
    int r = q->rank;
    if (r < 3)
        return tp_fail(ctx, TPRIM_ERR_SHAPE,
                       "q has rank %d: attention needs rank 3..6 ([batch..., H, S, D])", r);
    const char *names[4] = {"k", "v", "out", NULL};
    const tprim_tensor *others[3] = {k, v, out};
    for (int i = 0; i < 3; i++)
        if (others[i]->rank != r)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s has rank %d but q has rank %d", names[i],
                           (int)others[i]->rank, r);
    int nbd = r - 3;
    for (int i = 0; i < 3; i++)
        for (int d = 0; d < nbd; d++)
            if (others[i]->shape[d] != q->shape[d])
                return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s batch dim %d is %lld but q's is %lld",
                               names[i], d, (long long)others[i]->shape[d], (long long)q->shape[d]);
    const int H = nbd, S = nbd + 1, F = nbd + 2; /* dim indices of heads, rows, features */
    TRY(check_same_dim(ctx, "v", v, H, "k", k, H, "heads"));
    TRY(check_same_dim(ctx, "out", out, H, "q", q, H, "heads"));
    TRY(check_same_dim(ctx, "v", v, S, "k", k, S, "Sk (keys)"));
    TRY(check_same_dim(ctx, "out", out, S, "q", q, S, "Sq (queries)"));
    TRY(check_same_dim(ctx, "k", k, F, "q", q, F, "D (feature size)"));
    TRY(check_same_dim(ctx, "out", out, F, "v", v, F, "Dv (value size)"));
    int64_t Hq = q->shape[H], Hkv = k->shape[H];
    if (Hkv == 0 ? Hq != 0 : Hq % Hkv != 0)
        return tp_fail(ctx, TPRIM_ERR_SHAPE,
                       "k has %lld heads, q has %lld: q heads must be a multiple of k heads",
                       (long long)Hkv, (long long)Hq);
    if (q->shape[F] < 1)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "q has D = %lld: the feature size must be >= 1",
                       (long long)q->shape[F]);
    if (!tp_is_float_dtype(q->dtype))
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "q is %s: attention takes f32, bf16 or f16",
                       tprim_dtype_name(q->dtype));
    for (int i = 0; i < 3; i++)
        if (others[i]->dtype != q->dtype)
            return tp_fail(ctx, TPRIM_ERR_DTYPE,
                           "%s is %s but q is %s: q, k, v and out must share one dtype", names[i],
                           tprim_dtype_name(others[i]->dtype), tprim_dtype_name(q->dtype));

    memset(p, 0, sizeof *p);
    p->bdim[0] = p->bdim[1] = p->bdim[2] = 1;
    p->nbatch = 1;
    for (int d = 0; d < nbd; d++) {
        p->bdim[3 - nbd + d] = q->shape[d];
        p->nbatch *= q->shape[d]; /* cannot overflow: q's element count did not */
    }
    p->Hq = Hq;
    p->Hkv = Hkv;
    p->G = Hkv ? Hq / Hkv : 1;
    p->Sq = q->shape[S];
    p->Sk = k->shape[S];
    p->D = q->shape[F];
    p->Dv = v->shape[F];
    p->dtype = q->dtype;
    tp_fill_operand(&p->q, q, nbd, q->strides, 3);
    tp_fill_operand(&p->k, k, nbd, k->strides, 3);
    tp_fill_operand(&p->v, v, nbd, v->strides, 3);
    tp_fill_operand(&p->out, out, nbd, out->strides, 3);
    p->scale = 1.0f / sqrtf((float)p->D);
    p->wl = TP_UNBOUNDED;
    p->wr = TP_UNBOUNDED;
    p->memory = (int32_t)ctx->memory;
    p->device = q->device;
    p->device_id = q->device == TPRIM_DEVICE_CUDA ? q->device_id : 0;
    if (!pa) return TPRIM_OK;

    if (!isfinite(pa->scale))
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "scale is %g: it must be finite",
                       (double)pa->scale);
    if (pa->scale != 0.0f) p->scale = pa->scale;
    if (!isfinite(pa->softcap) || pa->softcap < 0.0f)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                       "softcap is %g: it must be finite and >= 0 (0 = off)", (double)pa->softcap);
    p->softcap = pa->softcap;
    if (pa->use_window) {
        if (pa->window_left < 0)
            return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "window_left is %lld: it must be >= 0",
                           (long long)pa->window_left);
        if (pa->window_right < 0)
            return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "window_right is %lld: it must be >= 0",
                           (long long)pa->window_right);
        p->wl = TP_MIN(pa->window_left, TP_UNBOUNDED);
        p->wr = TP_MIN(pa->window_right, TP_UNBOUNDED);
    }
    if (pa->causal) p->wr = TP_MIN(p->wr, 0);

    /* biases: broadcast to [batch..., Hq, Sq, Sk] */
    int64_t tgt[TPRIM_MAX_RANK], str[TPRIM_MAX_RANK];
    for (int d = 0; d < nbd; d++) tgt[d] = q->shape[d];
    tgt[H] = Hq;
    tgt[S] = p->Sq;
    tgt[F] = p->Sk;
    for (int bi = 0; bi < 2; bi++) {
        const tprim_tensor *b = pa->bias[bi];
        if (!b) continue;
        const char *bn = bi == 0 ? "bias[0]" : "bias[1]";
        TRY(check_on(ctx, bn, b, q));
        if (b->dtype != TPRIM_F32 && b->dtype != q->dtype)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "%s is %s: a bias is f32 or the dtype of q (%s)",
                           bn, tprim_dtype_name(b->dtype), tprim_dtype_name(q->dtype));
        TRY(tp_broadcast(ctx, bn, b, r, tgt, str, 1));
        tp_fill_operand(&p->bias[p->nbias], b, nbd, str, 3);
        p->nbias++;
    }
    if (pa->alibi_slopes) {
        const tprim_tensor *a = pa->alibi_slopes;
        TRY(check_on(ctx, "alibi_slopes", a, q));
        if (a->dtype != TPRIM_F32)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "alibi_slopes is %s: it must be f32",
                           tprim_dtype_name(a->dtype));
        if (a->rank < 1)
            return tp_fail(ctx, TPRIM_ERR_SHAPE,
                           "alibi_slopes has rank 0: it must be [Hq] or [batch..., Hq]");
        TRY(tp_broadcast(ctx, "alibi_slopes", a, nbd + 1, tgt, str, 0));
        tp_fill_operand(&p->alibi, a, nbd, str, 1);
        p->has_alibi = 1;
    }
    if (pa->key_mask) {
        const tprim_tensor *km = pa->key_mask;
        TRY(check_on(ctx, "key_mask", km, q));
        if (km->dtype != TPRIM_BOOL)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "key_mask is %s: it must be bool",
                           tprim_dtype_name(km->dtype));
        if (km->rank < 1)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "key_mask has rank 0: it must be [batch..., Sk]");
        int64_t kt[TPRIM_MAX_RANK];
        for (int d = 0; d < nbd; d++) kt[d] = q->shape[d];
        kt[nbd] = p->Sk;
        TRY(tp_broadcast(ctx, "key_mask", km, nbd + 1, kt, str, 0));
        tp_fill_operand(&p->kmask, km, nbd, str, 1);
        p->kmask.sj = p->kmask.sh; /* the last dim is the key */
        p->kmask.sh = 0;
        p->has_kmask = 1;
    }
    if (pa->key_lens) {
        const tprim_tensor *kl = pa->key_lens;
        TRY(check_on(ctx, "key_lens", kl, q));
        if (kl->dtype != TPRIM_I32 && kl->dtype != TPRIM_I64)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "key_lens is %s: it must be i32 or i64",
                           tprim_dtype_name(kl->dtype));
        tp_operand *o = &p->klen;
        o->data = (const char *)kl->data;
        o->dtype = kl->dtype;
        if (kl->rank == nbd && nbd > 0) {
            for (int d = 0; d < nbd; d++)
                if (kl->shape[d] != q->shape[d])
                    return tp_fail(ctx, TPRIM_ERR_SHAPE,
                                   "key_lens dim %d is %lld but q's batch dim %d is %lld", d,
                                   (long long)kl->shape[d], d, (long long)q->shape[d]);
            for (int d = 0; d < nbd; d++) o->sb[3 - nbd + d] = kl->strides[d];
        } else if (kl->rank == 1 || (kl->rank == 0 && nbd == 0)) {
            int64_t n = kl->rank == 1 ? kl->shape[0] : 1;
            if (n != p->nbatch)
                return tp_fail(ctx, TPRIM_ERR_SHAPE,
                               "key_lens has %lld entries but q has %lld batch entries",
                               (long long)n, (long long)p->nbatch);
            int64_t s = kl->rank == 1 ? kl->strides[0] : 0;
            o->sb[2] = s;
            o->sb[1] = s * p->bdim[2];
            o->sb[0] = s * p->bdim[2] * p->bdim[1];
        } else {
            return tp_fail(ctx, TPRIM_ERR_SHAPE,
                           "key_lens has rank %d: it must be [batch...] (rank %d) or flat (rank 1)",
                           (int)kl->rank, nbd);
        }
        p->has_klen = 1;
        /* on the host every entry is checked; device-resident key_lens are not read back
         * (that would cost a synchronisation per call): the CUDA kernels clamp them */
        for (int64_t b = 0; p->device == TPRIM_DEVICE_CPU && b < p->nbatch; b++) {
            int64_t len = tp_key_len(p, b);
            if (len < 0 || len > p->Sk)
                return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                               "key_lens[%lld] is %lld: it must be in 0..Sk (%lld)", (long long)b,
                               (long long)len, (long long)p->Sk);
        }
    }
    if (pa->lse && with_lse) {
        const tprim_tensor *l = pa->lse;
        TRY(check_on(ctx, "lse", l, q));
        TRY(tp_check_no_broadcast(ctx, "lse", l));
        if (l->dtype != TPRIM_F32)
            return tp_fail(ctx, TPRIM_ERR_DTYPE, "lse is %s: it must be f32",
                           tprim_dtype_name(l->dtype));
        if (l->rank != r - 1)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "lse has rank %d: it must be [batch..., Hq, Sq] (rank %d)",
                           (int)l->rank, r - 1);
        for (int d = 0; d < r - 1; d++)
            if (l->shape[d] != tgt[d])
                return tp_fail(ctx, TPRIM_ERR_SHAPE, "lse dim %d is %lld but must be %lld", d,
                               (long long)l->shape[d], (long long)tgt[d]);
        tp_fill_operand(&p->lse, l, nbd, l->strides, 2);
        p->has_lse = 1;
    }
    return TPRIM_OK;
}

tprim_status tprim_attention(tprim_ctx *ctx, const tprim_tensor *q, const tprim_tensor *k,
                             const tprim_tensor *v, tprim_tensor *out,
                             const tprim_attn_params *params)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    tp_attn_problem p;
    TRY(tp_attn_build(ctx, q, k, v, out, params, 1, &p));
    char what[160] = "";
    if (ctx->log_level >= TPRIM_LOG_DEBUG || ctx->pinned[TPRIM_OP_ATTENTION] >= 0)
        snprintf(what, sizeof what, "%s%s B=%lld Hq=%lld Hkv=%lld Sq=%lld Sk=%lld D=%lld Dv=%lld%s%s",
                 p.device == TPRIM_DEVICE_CUDA ? "cuda " : "", tprim_dtype_name(p.dtype), (long long)p.nbatch, (long long)p.Hq,
                 (long long)p.Hkv, (long long)p.Sq, (long long)p.Sk, (long long)p.D,
                 (long long)p.Dv, p.wr == 0 ? " causal" : "", p.nbias ? " bias" : "");
    int variant;
    TRY(tp_dispatch_dev(ctx, TPRIM_OP_ATTENTION, &p, what, p.device, &variant));
    return tp_run_kernel(ctx, TPRIM_OP_ATTENTION, variant, &p);
}
