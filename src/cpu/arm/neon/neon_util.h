/* neon_util.h -- NEON helpers shared by the attention and GEMM kernels: partial loads,
 * loads of f32/bf16/f16 as f32, f32 -> bf16 rounding, a 4x4 transpose. */
#ifndef TPRIM_CPU_NEON_UTIL_H
#define TPRIM_CPU_NEON_UTIL_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "tprim.h"

/* n (0..4) floats at p, lanes >= n zero; p[n..3] is never read. */
static inline float32x4_t load_f32_part(const float *p, int64_t n)
{
    if (n >= 4) return vld1q_f32(p);
    const float32x2_t z = vdup_n_f32(0.0f);
    if (n <= 0) return vcombine_f32(z, z);
    float32x2_t lo = n >= 2 ? vld1_f32(p) : vld1_lane_f32(p, z, 0);
    float32x4_t v = vcombine_f32(lo, z);
    if (n == 3) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}

/* n (0..4) elements of dt at p (unit stride) as f32; lanes >= n are 0 and their memory
 * untouched (16-bit tails go through a small stack buffer). */
static inline float32x4_t load4(const char *p, tprim_dtype dt, int64_t n)
{
    if (dt == TPRIM_F32) return load_f32_part((const float *)p, n);
    uint16x4_t h;
    if (n >= 4) {
        h = vld1_u16((const uint16_t *)p);
    } else {
        uint16_t tmp[4] = {0, 0, 0, 0};
        if (n > 0) memcpy(tmp, p, (size_t)n * 2);
        h = vld1_u16(tmp);
    }
    if (dt == TPRIM_BF16) return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); /* bits << 16 */
    return vcvt_f32_f16(vreinterpret_f16_u16(h));                          /* f16, exact */
}

/* f32 -> bf16 bits, round to nearest even; NaN stays a NaN and becomes quiet. Integer
 * arithmetic only, as tp_f32_to_bf16. */
static inline uint16x4_t bf16_round4(float32x4_t x)
{
    uint32x4_t u = vreinterpretq_u32_f32(x);
    uint32x4_t hi = vshrq_n_u32(u, 16);
    uint32x4_t lsb = vandq_u32(hi, vdupq_n_u32(1));
    uint32x4_t r = vshrq_n_u32(vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7fff))), 16);
    uint32x4_t qn = vorrq_u32(hi, vdupq_n_u32(0x40));
    uint32x4_t num = vceqq_f32(x, x); /* false only for NaN */
    return vmovn_u32(vbslq_u32(num, r, qn));
}

/* Transpose 4 rows of 4 floats in place: r[i][j] -> r[j][i]. */
static inline void transpose4(float32x4_t r[4])
{
    float32x4_t t0 = vtrn1q_f32(r[0], r[1]); /* a0 b0 a2 b2 */
    float32x4_t t1 = vtrn2q_f32(r[0], r[1]); /* a1 b1 a3 b3 */
    float32x4_t t2 = vtrn1q_f32(r[2], r[3]); /* c0 d0 c2 d2 */
    float32x4_t t3 = vtrn2q_f32(r[2], r[3]); /* c1 d1 c3 d3 */
    float64x2_t u0 = vreinterpretq_f64_f32(t0), u1 = vreinterpretq_f64_f32(t1);
    float64x2_t u2 = vreinterpretq_f64_f32(t2), u3 = vreinterpretq_f64_f32(t3);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(u0, u2));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(u1, u3));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(u0, u2));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(u1, u3));
}

#endif
