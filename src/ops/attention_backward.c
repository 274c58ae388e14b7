/* attention_backward.c -- the tprim_attention_backward front-end: the forward's checks,
 * then dout, lse and every gradient; nothing is written before all of them pass. */
#include "attention.h"

#include <stdio.h>
#include <string.h>

#define TRY(x)                         \
    do {                               \
        tprim_status s_ = (x);         \
        if (s_ != TPRIM_OK) return s_; \
    } while (0)

static tprim_status check_grad(tprim_ctx *ctx, const char *name, const tprim_tensor *g,
                               const char *ref_name, const tprim_tensor *ref, tprim_dtype dt)
{
    if (!g) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "%s is NULL", name);
    TRY(tp_check_same_shape(ctx, name, g, ref_name, ref));
    TRY(tp_check_no_broadcast(ctx, name, g));
    if (g->dtype != dt)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "%s is %s but must be %s", name,
                       tprim_dtype_name(g->dtype), tprim_dtype_name(dt));
    return TPRIM_OK;
}

static tprim_status build(tprim_ctx *ctx, const tprim_tensor *q, const tprim_tensor *k,
                          const tprim_tensor *v, const tprim_tensor *out, const tprim_tensor *dout,
                          const tprim_tensor *lse, const tprim_attn_params *pa,
                          const tprim_attn_grads *g, tp_attn_problem *p)
{
    TRY(tp_attn_build(ctx, q, k, v, out, pa, 0, p));
    if (p->device != TPRIM_DEVICE_CPU)
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "q is a CUDA tensor: tprim_attention_backward runs on the CPU only in this "
                       "version");
    const int r = q->rank, nbd = r - 3;
    TRY(check_grad(ctx, "dout", dout, "out", out, q->dtype));
    if (!lse) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "lse is NULL");
    TRY(tp_check_tensor(ctx, "lse", lse));
    if (lse->dtype != TPRIM_F32)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "lse is %s: it must be f32", tprim_dtype_name(lse->dtype));
    if (lse->rank != r - 1)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "lse has rank %d: it must be [batch..., Hq, Sq] (rank %d)",
                       (int)lse->rank, r - 1);
    for (int d = 0; d < r - 1; d++)
        if (lse->shape[d] != q->shape[d])
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "lse dim %d is %lld but must be %lld", d,
                           (long long)lse->shape[d], (long long)q->shape[d]);
    if (!g) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "grads is NULL");
    TRY(check_grad(ctx, "grads->dq", g->dq, "q", q, q->dtype));
    TRY(check_grad(ctx, "grads->dk", g->dk, "k", k, q->dtype));
    TRY(check_grad(ctx, "grads->dv", g->dv, "v", v, q->dtype));
    tp_fill_operand(&p->dout, dout, nbd, dout->strides, 3);
    tp_fill_operand(&p->lse_in, lse, nbd, lse->strides, 2);
    tp_fill_operand(&p->dq, g->dq, nbd, g->dq->strides, 3);
    tp_fill_operand(&p->dk, g->dk, nbd, g->dk->strides, 3);
    tp_fill_operand(&p->dv, g->dv, nbd, g->dv->strides, 3);
    int64_t tgt[TPRIM_MAX_RANK], str[TPRIM_MAX_RANK];
    for (int d = 0; d < nbd; d++) tgt[d] = q->shape[d];
    tgt[nbd] = p->Hq;
    tgt[nbd + 1] = p->Sq;
    tgt[nbd + 2] = p->Sk;
    int xi = 0; /* index among the biases present (p->bias is packed) */
    for (int x = 0; x < 2; x++) {
        const tprim_tensor *b = pa ? pa->bias[x] : NULL, *db = g->dbias[x];
        const char *name = x == 0 ? "grads->dbias[0]" : "grads->dbias[1]";
        if (db && !b)
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s is given but the call has no bias[%d]", name, x);
        if (!b) continue;
        if (db) {
            TRY(check_grad(ctx, name, db, x == 0 ? "bias[0]" : "bias[1]", b, TPRIM_F32));
            TRY(tp_broadcast(ctx, name, db, r, tgt, str, 1));
            tp_fill_operand(&p->dbias[xi], db, nbd, str, 3);
            p->has_dbias[xi] = 1;
        }
        xi++;
    }
    return TPRIM_OK;
}

tprim_status tprim_attention_backward(tprim_ctx *ctx, const tprim_tensor *q, const tprim_tensor *k,
                                      const tprim_tensor *v, const tprim_tensor *out,
                                      const tprim_tensor *dout, const tprim_tensor *lse,
                                      const tprim_attn_params *params, const tprim_attn_grads *grads)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    tp_attn_problem p;
    TRY(build(ctx, q, k, v, out, dout, lse, params, grads, &p));
    char what[160] = "";
    if (ctx->log_level >= TPRIM_LOG_DEBUG || ctx->pinned[TPRIM_OP_ATTENTION_BACKWARD] >= 0)
        snprintf(what, sizeof what, "%s B=%lld Hq=%lld Hkv=%lld Sq=%lld Sk=%lld D=%lld Dv=%lld%s%s",
                 tprim_dtype_name(p.dtype), (long long)p.nbatch, (long long)p.Hq, (long long)p.Hkv,
                 (long long)p.Sq, (long long)p.Sk, (long long)p.D, (long long)p.Dv,
                 p.wr == 0 ? " causal" : "", p.nbias ? " bias" : "");
    int variant;
    TRY(tp_dispatch(ctx, TPRIM_OP_ATTENTION_BACKWARD, &p, what, &variant));
    return tp_run_kernel(ctx, TPRIM_OP_ATTENTION_BACKWARD, variant, &p);
}
