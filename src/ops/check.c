/* check.c -- argument checks shared by the op front-ends (see check.h). */
#include "check.h"

tprim_status tp_check_tensor(tprim_ctx *ctx, const char *name, const tprim_tensor *t)
{
    return tp_check_tensor_dev(ctx, name, t, 0);
}

tprim_status tp_check_tensor_dev(tprim_ctx *ctx, const char *name, const tprim_tensor *t,
                                 int allow_cuda)
{
    if (!t) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "%s is NULL", name);
#ifdef TPRIM_HAVE_CUDA
    if (t->device == TPRIM_DEVICE_CUDA && !allow_cuda)
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "%s is a CUDA tensor: this op runs on the CPU only (pass host tensors)",
                       name);
    if (t->device == TPRIM_DEVICE_CUDA && t->device_id < 0)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s has device_id %d: must be >= 0",
                       name, (int)t->device_id);
#else
    (void)allow_cuda;
    if (t->device == TPRIM_DEVICE_CUDA)
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "%s is a CUDA tensor but this build has no CUDA backend", name);
#endif
    if (t->device != TPRIM_DEVICE_CPU && t->device != TPRIM_DEVICE_CUDA)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s has device type %d: not a device",
                       name, (int)t->device);
    if (t->rank < 0 || t->rank > TPRIM_MAX_RANK)
        return tp_fail(ctx, TPRIM_ERR_SHAPE, "%s has rank %d: ranks are 0..%d", name, (int)t->rank,
                       TPRIM_MAX_RANK);
    size_t es = tprim_dtype_size(t->dtype);
    if (es == 0)
        return tp_fail(ctx, TPRIM_ERR_DTYPE, "%s has dtype %d: not a dtype", name, (int)t->dtype);
    int64_t n = 1, span = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "%s dim %d is %lld: sizes must be >= 0",
                           name, i, (long long)t->shape[i]);
        if (!tp_mul_i64(n, t->shape[i], &n))
            return tp_fail(ctx, TPRIM_ERR_OVERFLOW, "%s: the element count overflows", name);
    }
    if (n == 0) return TPRIM_OK;
    for (int i = 0; i < t->rank; i++) {
        int64_t s = t->strides[i], term;
        if (s == INT64_MIN || !tp_mul_i64(t->shape[i] - 1, s < 0 ? -s : s, &term) ||
            !tp_add_i64(span, term, &span))
            return tp_fail(ctx, TPRIM_ERR_OVERFLOW, "%s: the byte extent of its strides overflows",
                           name);
    }
    int64_t bytes;
    if (!tp_add_i64(span, 1, &span) || !tp_mul_i64(span, (int64_t)es, &bytes))
        return tp_fail(ctx, TPRIM_ERR_OVERFLOW, "%s: the byte extent of its strides overflows",
                       name);
    if (!t->data) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "%s->data is NULL", name);
    return TPRIM_OK;
}

tprim_status tp_check_no_broadcast(tprim_ctx *ctx, const char *name, const tprim_tensor *t)
{
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] > 1 && t->strides[i] == 0)
            return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                           "%s dim %d has stride 0: an output cannot broadcast (it would write "
                           "one element %lld times)",
                           name, i, (long long)t->shape[i]);
    return TPRIM_OK;
}

int tp_is_float_dtype(tprim_dtype d)
{
    return d == TPRIM_F32 || d == TPRIM_BF16 || d == TPRIM_F16;
}
