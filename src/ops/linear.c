/* linear.c -- the tprim_linear front-end: check every argument (nothing is written on
 * error), turn x [..., in], w [out, in] and y [..., out] into one strided, batched
 * GEMM (y = x w^T + b), dispatch it through tp_gemm. */
#include "check.h"
#include "gemm.h"

#include <string.h>

/* The leading dims of x and y (all but the last), merged where the strides of both
 * allow (size-1 dims dropped), innermost group first. Returns the number of groups. */
static int collapse_rows(const tprim_tensor *x, const tprim_tensor *y, int64_t *size,
                         int64_t *xs, int64_t *ys)
{
    int ng = 0;
    for (int d = x->rank - 2; d >= 0; d--) {
        const int64_t s = x->shape[d];
        if (s == 1) continue;
        if (ng > 0 && x->strides[d] == xs[ng - 1] * size[ng - 1] &&
            y->strides[d] == ys[ng - 1] * size[ng - 1]) {
            size[ng - 1] *= s; /* cannot overflow: y's element count did not */
            continue;
        }
        size[ng] = s;
        xs[ng] = x->strides[d];
        ys[ng] = y->strides[d];
        ng++;
    }
    return ng;
}

static tprim_status build_problem(tprim_ctx *ctx, const tprim_tensor *x, const tprim_tensor *w,
                                  const tprim_tensor *b, const tprim_tensor *y, tp_gemm_problem *p)
{
    TP_TRY(tp_check_tensor(ctx, "x", x));
    TP_TRY(tp_check_tensor(ctx, "w", w));
    if (b) TP_TRY(tp_check_tensor(ctx, "b", b));
    TP_TRY(tp_check_tensor(ctx, "y", y));
    const int r = x->rank;
    if (r < 1)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "x has rank 0: linear needs rank 1..%d ([..., in])",
                       TPRIM_MAX_RANK);
    if (w->rank != 2)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "w has rank %d: it must be [out, in] (rank 2)",
                       (int)w->rank);
    const int64_t in = x->shape[r - 1], out = w->shape[0];
    if (w->shape[1] != in)
        return tp_fail(ctx, TPRIM_ERR_SHAPE,
                       "w is [%lld, %lld] but x has in = %lld (its last dim): w must be [out, in]",
                       (long long)w->shape[0], (long long)w->shape[1], (long long)in);
    if (b && b->rank != 1)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "b has rank %d: it must be [out] (rank 1)",
                       (int)b->rank);
    if (b && b->shape[0] != out)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "b has %lld entries but w has out = %lld",
                       (long long)b->shape[0], (long long)out);
    if (y->rank != r)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "y has rank %d but x has rank %d", (int)y->rank, r);
    for (int d = 0; d < r - 1; d++)
        if (y->shape[d] != x->shape[d])
            return tp_fail(ctx, TPRIM_ERR_SHAPE, "y dim %d is %lld but x's is %lld", d,
                           (long long)y->shape[d], (long long)x->shape[d]);
    if (y->shape[r - 1] != out)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "y has %lld in its last dim but w has out = %lld",
                       (long long)y->shape[r - 1], (long long)out);
    if (!tp_is_float_dtype(x->dtype))
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "x is %s: linear takes f32, bf16 or f16",
                       tprim_dtype_name(x->dtype));
    if (w->dtype != x->dtype)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "w is %s but x is %s: x and w must share one dtype",
                       tprim_dtype_name(w->dtype), tprim_dtype_name(x->dtype));
    if (b && b->dtype != TPRIM_F32 && b->dtype != x->dtype)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "b is %s: the bias is f32 or the dtype of x (%s)",
                       tprim_dtype_name(b->dtype), tprim_dtype_name(x->dtype));
    if (y->dtype != x->dtype)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "y is %s but x is %s: y has the dtype of x",
                       tprim_dtype_name(y->dtype), tprim_dtype_name(x->dtype));
    TP_TRY(tp_check_no_broadcast(ctx, "y", y));

    tp_gemm_problem_init(p, 0, out, in);
    p->a.data = (const char *)x->data;
    p->a.dtype = x->dtype;
    p->a.cs = x->strides[r - 1];
    p->b.data = (const char *)w->data; /* B[k][n] = w[n][k] */
    p->b.dtype = w->dtype;
    p->b.rs = w->strides[1];
    p->b.cs = w->strides[0];
    if (b && out > 0) {
        p->bias.data = (const char *)b->data;
        p->bias.dtype = b->dtype;
        p->bias.cs = b->strides[0];
    }
    p->c.data = (const char *)y->data;
    p->c.dtype = y->dtype;
    p->c.cs = y->strides[r - 1];
    if (tprim_tensor_numel(y) == 0) return TPRIM_OK; /* m = 0: nothing to write */

    int64_t size[TPRIM_MAX_RANK], xs[TPRIM_MAX_RANK], ys[TPRIM_MAX_RANK];
    const int ng = collapse_rows(x, y, size, xs, ys);
    p->m = ng > 0 ? size[0] : 1;
    p->a.rs = ng > 0 ? xs[0] : 0;
    p->c.rs = ng > 0 ? ys[0] : 0;
    p->nbd = ng > 1 ? ng - 1 : 0; /* at most rank - 2 <= 4 batch groups */
    for (int gi = 1; gi < ng; gi++) {
        const int d = ng - 1 - gi; /* outermost first */
        p->bdim[d] = size[gi];
        p->a.bs[d] = xs[gi];
        p->c.bs[d] = ys[gi];
    }
    return TPRIM_OK;
}

tprim_status tprim_linear(tprim_ctx *ctx, const tprim_tensor *x, const tprim_tensor *w,
                          const tprim_tensor *b, tprim_tensor *y)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    tp_gemm_problem p;
    TP_TRY(build_problem(ctx, x, w, b, y, &p));
    return tp_gemm(ctx, &p);
}
