/* tf32_split.h -- an f32 value as the sum of two tf32 values, for the f32 path of the
 * tensor-core kernel (attention_mma.cuh): x = big + small, each rounded to nearest (ties
 * away from zero) by integer arithmetic on the bits, 5 instructions. tf32 keeps the sign,
 * the 8 exponent bits and the top 10 mantissa bits of an f32 (the 13 low bits zero), so
 * |x - big| <= 2^-11 |x| and small = x - big, exact in f32, is rounded again:
 *   |x - big - small| <= 2^-22 |x| + 2^-137 (the second term: subnormal results).
 * A NaN x, an infinite one, or one within 2^-11 of the end of the f32 range (big rounds to
 * infinity) gives a NaN small (inf - inf), so the products come out NaN. Shared by C (the
 * test, tests/test_cuda.c) and CUDA C++. */
#ifndef TPRIM_CUDA_TF32_SPLIT_H
#define TPRIM_CUDA_TF32_SPLIT_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define TP_TF32_FN __host__ __device__ __forceinline__
#else
#define TP_TF32_FN static inline
#endif

/* the f32 bits u rounded to the nearest tf32, ties away from zero */
TP_TF32_FN uint32_t tp_tf32_round(uint32_t u) { return (u + 0x1000u) & 0xffffe000u; }

/* x = big + small (bits of two tf32 values) */
TP_TF32_FN void tp_tf32_split_bits(float x, uint32_t *big, uint32_t *small)
{
#ifdef __CUDA_ARCH__
    *big = tp_tf32_round(__float_as_uint(x));
    *small = tp_tf32_round(__float_as_uint(x - __uint_as_float(*big)));
#else
    uint32_t u, v;
    float b, r;
    memcpy(&u, &x, 4);
    u = tp_tf32_round(u);
    memcpy(&b, &u, 4);
    r = x - b;
    memcpy(&v, &r, 4);
    *big = u;
    *small = tp_tf32_round(v);
#endif
}

#endif
