/* avx2_util.h -- AVX2 helpers shared by the attention and GEMM kernels: lane masks,
 * loads of f32/bf16/f16 as f32, f32 -> bf16 rounding, an 8x8 transpose. Included only by
 * files built with the AVX2/FMA/F16C flags. */
#ifndef TPRIM_CPU_AVX2_UTIL_H
#define TPRIM_CPU_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "tprim.h"

static const int32_t iota_i32[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* all-ones in the first n lanes (n clamped to 0..8) */
static inline __m256i tail_mask(int64_t n)
{
    int32_t k = n < 0 ? 0 : n > 8 ? 8 : (int32_t)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_loadu_si256((const __m256i *)iota_i32));
}

/* The first n (clamped to 0..8) elements of dt at p as f32; other lanes are 0 and
 * their memory is not touched. */
static inline __m256 load8(const char *p, tprim_dtype dt, int64_t n)
{
    if (n > 8) n = 8;
    if (n < 0) n = 0;
    if (dt == TPRIM_F32) {
        if (n == 8) return _mm256_loadu_ps((const float *)p);
        return _mm256_maskload_ps((const float *)p, tail_mask(n));
    }
    __m128i h;
    if (n == 8) {
        h = _mm_loadu_si128((const __m128i *)p);
    } else {
        uint16_t tmp[8] = {0};
        memcpy(tmp, p, (size_t)n * 2);
        h = _mm_loadu_si128((const __m128i *)tmp);
    }
    if (dt == TPRIM_BF16)
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

/* f32 -> bf16, round to nearest even, NaN kept (quiet) */
static inline __m128i bf16_round8(__m256 x)
{
    __m256i u = _mm256_castps_si256(x);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    __m256i qn = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    r = _mm256_blendv_epi8(r, qn, nan);
    __m256i packed = _mm256_packus_epi32(r, r); /* [r0..3, r0..3 | r4..7, r4..7] */
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

/* Transpose 8 rows of 8 floats in place. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* t[2k], lane pairs: (r2k[0], r2k+1[0], r2k[1], r2k+1[1]) per 128-bit half */
#pragma GCC unroll 8
    for (int k = 0; k < 2; k++) {
        u[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xee);
        u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xee);
    }
    /* u[c] (c < 4): column c (low half) and c + 4 (high half) of rows 0..3; u[4 + c]: rows 4..7 */
#pragma GCC unroll 8
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

#endif
