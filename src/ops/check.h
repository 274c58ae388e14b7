/* check.h -- argument checks shared by the op front-ends. Each records a message that
 * names the argument (tp_fail) and returns its status; TPRIM_OK when the check passes. */
#ifndef TPRIM_OPS_CHECK_H
#define TPRIM_OPS_CHECK_H

#include "../core/internal.h"

/* Present, on the CPU, rank 0..TPRIM_MAX_RANK, a known dtype, sizes >= 0, an element
 * count and a byte extent of its strides that fit in int64, and data unless empty. */
tprim_status tp_check_tensor(tprim_ctx *ctx, const char *name, const tprim_tensor *t);
/* The same, also accepting CUDA tensors when allow_cuda and the build has CUDA. */
tprim_status tp_check_tensor_dev(tprim_ctx *ctx, const char *name, const tprim_tensor *t,
                                 int allow_cuda);

/* An output view must not write one element twice: no stride 0 over a dim of size > 1. */
tprim_status tp_check_no_broadcast(tprim_ctx *ctx, const char *name, const tprim_tensor *t);

/* f32, bf16 or f16 */
int tp_is_float_dtype(tprim_dtype d);

#define TP_TRY(x)                          \
    do {                                   \
        tprim_status s_ = (x);             \
        if (s_ != TPRIM_OK) return s_;     \
    } while (0)

#endif /* TPRIM_OPS_CHECK_H */
