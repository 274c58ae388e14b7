/* probe_neon.c -- the NEON FMA peak loop. */
#include "probe.h"

#include <arm_neon.h>

float tp_probe_fma_neon(int64_t iters)
{
    float32x4_t a0 = vdupq_n_f32(1.0f), a1 = vdupq_n_f32(1.1f), a2 = vdupq_n_f32(1.2f),
                a3 = vdupq_n_f32(1.3f), a4 = vdupq_n_f32(1.4f), a5 = vdupq_n_f32(1.5f),
                a6 = vdupq_n_f32(1.6f), a7 = vdupq_n_f32(1.7f), a8 = vdupq_n_f32(1.8f),
                a9 = vdupq_n_f32(1.9f), a10 = vdupq_n_f32(2.0f), a11 = vdupq_n_f32(2.1f);
    const float32x4_t x = vdupq_n_f32(0.999999f), y = vdupq_n_f32(1e-6f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = vfmaq_f32(y, a0, x);
        a1 = vfmaq_f32(y, a1, x);
        a2 = vfmaq_f32(y, a2, x);
        a3 = vfmaq_f32(y, a3, x);
        a4 = vfmaq_f32(y, a4, x);
        a5 = vfmaq_f32(y, a5, x);
        a6 = vfmaq_f32(y, a6, x);
        a7 = vfmaq_f32(y, a7, x);
        a8 = vfmaq_f32(y, a8, x);
        a9 = vfmaq_f32(y, a9, x);
        a10 = vfmaq_f32(y, a10, x);
        a11 = vfmaq_f32(y, a11, x);
        __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "+w"(a4), "+w"(a5), "+w"(a6),
                         "+w"(a7), "+w"(a8), "+w"(a9), "+w"(a10), "+w"(a11));
    }
    float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)),
                              vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11)));
    return vaddvq_f32(s);
}
