/* avx512_util.h -- AVX-512 helpers shared by the attention and GEMM kernels: tail masks,
 * loads of f32/bf16/f16 as f32, f32 -> bf16 rounding, a 16x16 transpose. Included only
 * by files built with the AVX-512 flags. */
#ifndef TPRIM_CPU_AVX512_UTIL_H
#define TPRIM_CPU_AVX512_UTIL_H

#include <immintrin.h>
#include <stdint.h>

#include "tprim.h"

static inline __mmask16 tail_mask(int64_t n) /* first n lanes, n in 0..16 */
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* Lanes selected by k of dtype dt at p (unit stride) as f32; other lanes are 0 and
 * their memory is not touched. */
static inline __m512 load16(const char *p, tprim_dtype dt, __mmask16 k)
{
    switch (dt) {
    case TPRIM_F32: return _mm512_maskz_loadu_ps(k, p);
    case TPRIM_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(k, p);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    default: /* TPRIM_F16 */
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
    }
}

/* f32 -> bf16 bits in the low half of each lane, round to nearest even, NaN kept. */
static inline __m512i f32_to_bf16_lanes(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __m512i qn = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_mask_mov_epi32(r, nan, qn);
}

/* Transpose 16 rows of 16 floats in place: r[i][j] -> r[j][i]. */
static inline void transpose16(__m512 r[16])
{
    __m512 a[16], b[16];
#pragma GCC unroll 16
    for (int k = 0; k < 8; k++) {
        a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
#pragma GCC unroll 16
    for (int m = 0; m < 4; m++) {
        __m512d x0 = _mm512_castps_pd(a[4 * m]), x1 = _mm512_castps_pd(a[4 * m + 1]);
        __m512d x2 = _mm512_castps_pd(a[4 * m + 2]), x3 = _mm512_castps_pd(a[4 * m + 3]);
        b[4 * m] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, x2));
        b[4 * m + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, x2));
        b[4 * m + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, x3));
        b[4 * m + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, x3));
    }
    /* b[4m + c], lane L: rows 4m..4m+3 of column 4L + c; transpose the 4x4 lanes */
#pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xee);
        __m512 y0 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44);
        __m512 y1 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xee);
        r[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
        r[8 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
    }
}

#endif
