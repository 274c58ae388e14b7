/* convert.c -- exact scalar conversions between f32 and bf16 / f16, by bit
 * manipulation, so that results do not depend on the compiler or the CPU. */
#include "internal.h"

#include <string.h>

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float tp_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t tp_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet and a NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float tp_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* inf / NaN */
        return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24, exact in f32 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t tp_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) { /* below the smallest normal half (2^-14): subnormal or 0 */
        /* value / 2^-24 rounded to nearest even; the float arithmetic is exact up to
         * the final rounding, which is round-to-nearest-even in the default mode */
        float v = bits_f32(a) * 0x1p24f;
        float r = v + 0x1p23f - 0x1p23f; /* v < 2^10: rounding to an integer, RNE */
        return (uint16_t)(sign | (uint16_t)r);
    }
    /* normal: rebias exponent, round mantissa to nearest even */
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
    r -= 0x38000000u; /* exponent bias 127 -> 15 */
    return (uint16_t)(sign | (uint16_t)(r >> 13));
}

float tp_load_f32(const void *p, tprim_dtype dt)
{
    switch (dt) {
    case TPRIM_F32: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    case TPRIM_BF16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return tp_bf16_to_f32(h);
    }
    case TPRIM_F16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return tp_f16_to_f32(h);
    }
    case TPRIM_F64: {
        double d;
        memcpy(&d, p, 8);
        return (float)d;
    }
    default: return 0.0f;
    }
}

void tp_store_f32(void *p, tprim_dtype dt, float x)
{
    switch (dt) {
    case TPRIM_F32: memcpy(p, &x, 4); break;
    case TPRIM_BF16: {
        uint16_t h = tp_f32_to_bf16(x);
        memcpy(p, &h, 2);
        break;
    }
    case TPRIM_F16: {
        uint16_t h = tp_f32_to_f16(x);
        memcpy(p, &h, 2);
        break;
    }
    case TPRIM_F64: {
        double d = x;
        memcpy(p, &d, 8);
        break;
    }
    default: break;
    }
}
