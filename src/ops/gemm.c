/* gemm.c -- tp_gemm: the internal matrix multiply's entry point (see gemm.h). It
 * dispatches through the TPRIM_OP_LINEAR kernel table and runs on the context. */
#include "gemm.h"

#include <stdio.h>
#include <string.h>

void tp_gemm_problem_init(tp_gemm_problem *p, int64_t m, int64_t n, int64_t k)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->n = n;
    p->k = k;
    p->a.dtype = p->b.dtype = p->bias.dtype = p->c.dtype = TPRIM_F32;
}

int64_t tp_gemm_nbatch(const tp_gemm_problem *p)
{
    int64_t nb = 1;
    for (int d = 0; d < p->nbd; d++) nb *= p->bdim[d];
    return nb;
}

tprim_status tp_gemm(tprim_ctx *ctx, const tp_gemm_problem *p)
{
    char what[160] = "";
    if (ctx->log_level >= TPRIM_LOG_DEBUG || ctx->pinned[TPRIM_OP_LINEAR] >= 0)
        snprintf(what, sizeof what, "%s x %s -> %s batch=%lld m=%lld n=%lld k=%lld%s%s",
                 tprim_dtype_name(p->a.dtype), tprim_dtype_name(p->b.dtype),
                 tprim_dtype_name(p->c.dtype), (long long)tp_gemm_nbatch(p), (long long)p->m,
                 (long long)p->n, (long long)p->k, p->bias.data ? " bias" : "",
                 p->accumulate ? " accumulate" : "");
    int variant;
    tprim_status s = tp_dispatch(ctx, TPRIM_OP_LINEAR, p, what, &variant);
    if (s != TPRIM_OK) return s;
    return tp_run_kernel(ctx, TPRIM_OP_LINEAR, variant, p);
}
