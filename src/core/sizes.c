/* sizes.c -- overflow-checked size arithmetic. Each returns 1 and stores the result,
 * or returns 0 (and leaves *out alone) when the exact result does not fit. */
#include "internal.h"

int tp_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

int tp_add_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

int tp_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

int tp_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

int tp_align_size(size_t x, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(x, (size_t)(TP_ALIGN - 1), &r)) return 0;
    *out = r & ~(size_t)(TP_ALIGN - 1);
    return 1;
}
