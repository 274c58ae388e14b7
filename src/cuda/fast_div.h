/* fast_div.h -- division of 31-bit unsigned integers by a divisor fixed at launch, as a
 * multiply-high and a shift (Granlund and Montgomery's method): the host makes the
 * constants, the kernels divide with two instructions where a 32-bit division takes ~20.
 *
 * For d >= 2, l = ceil(log2 d), p = 31 + l, m = ceil(2^p / d) < 2^32 and s = l - 1:
 *   q = (n m) >> p = umulhi(n, m) >> s = floor(n / d)  for every n < 2^31,
 * because m d - 2^p = e with 0 <= e < d, so n m / 2^p = n / d + n e / (d 2^p) and the
 * second term is below 2^31 / 2^p = 2^-l <= 1 / d, less than the gap from n / d to the
 * next integer. d = 1 is a special case (q = n). Shared by C (the launcher, the test in
 * tests/test_cuda.c) and CUDA C++. */
#ifndef TPRIM_CUDA_FAST_DIV_H
#define TPRIM_CUDA_FAST_DIV_H

#include <stdint.h>

#ifdef __CUDACC__
#define TP_FDIV_FN __host__ __device__ __forceinline__
#else
#define TP_FDIV_FN static inline
#endif

typedef struct tp_cu_fdiv {
    uint32_t d, m, s; /* the divisor (0: not made, n not below 2^31), multiplier, shift */
} tp_cu_fdiv;

/* the constants for divisor d (1 <= d < 2^31; otherwise d = 0: unusable) */
TP_FDIV_FN tp_cu_fdiv tp_cu_fdiv_make(int64_t d)
{
    tp_cu_fdiv f = {0u, 0u, 0u};
    if (d < 1 || d > 0x7fffffff) return f;
    f.d = (uint32_t)d;
    if (d == 1) return f;
    int l = 0;
    while (((int64_t)1 << l) < d) l++;
    f.m = (uint32_t)((((uint64_t)1 << (31 + l)) + (uint64_t)d - 1) / (uint64_t)d);
    f.s = (uint32_t)(l - 1);
    return f;
}

/* floor(n / f.d) for n < 2^31 */
TP_FDIV_FN uint32_t tp_cu_fdiv_q(uint32_t n, tp_cu_fdiv f)
{
    return f.d == 1 ? n : (uint32_t)(((uint64_t)n * f.m) >> 32) >> f.s;
}

#endif
