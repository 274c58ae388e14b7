/* tensor.c -- tensor views. */
#include "internal.h"

tprim_status tprim_tensor_init(tprim_tensor *t, void *data, tprim_dtype dtype, int32_t rank,
                               const int64_t *shape, const int64_t *strides)
{
    if (!t) return TPRIM_ERR_NULL_POINTER;
    if (rank < 0 || rank > TPRIM_MAX_RANK) return TPRIM_ERR_INVALID_ARGUMENT;
    if (rank > 0 && !shape) return TPRIM_ERR_NULL_POINTER;
    size_t es = tprim_dtype_size(dtype);
    if (es == 0) return TPRIM_ERR_INVALID_ARGUMENT;
    tprim_tensor r = {0};
    r.data = data;
    r.dtype = dtype;
    r.rank = rank;
    r.device = TPRIM_DEVICE_CPU;
    int64_t n = 1;
    for (int i = rank - 1; i >= 0; i--) {
        if (shape[i] < 0) return TPRIM_ERR_INVALID_ARGUMENT;
        r.shape[i] = shape[i];
        r.strides[i] = strides ? strides[i] : n;
        if (!tp_mul_i64(n, shape[i], &n)) return TPRIM_ERR_OVERFLOW;
    }
    int64_t bytes;
    if (!tp_mul_i64(n, (int64_t)es, &bytes)) return TPRIM_ERR_OVERFLOW;
    *t = r;
    return TPRIM_OK;
}

int64_t tprim_tensor_numel(const tprim_tensor *t)
{
    if (!t || t->rank < 0 || t->rank > TPRIM_MAX_RANK) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] < 0 || !tp_mul_i64(n, t->shape[i], &n)) return -1;
    return n;
}
