/* util.c -- test harness helpers (see util.h). */
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long g_passed, g_failed;
int g_verbose;

int check_(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok) g_passed++;
    else g_failed++;
    if (!ok || g_verbose > 1) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s %s:%d: ", ok ? "ok  " : "FAIL", file, line);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    return ok;
}

uint64_t rng_u64(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double rng_uniform(rng *r) { return (double)(rng_u64(r) >> 11) * 0x1p-52 - 1.0; }

/* ---- conversions (independent of src/core/convert.c) ---- */
double t_bf16_to_double(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double t_f16_to_double(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp((double)m, -24);
    else v = ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

uint16_t t_double_to_bf16(double x)
{
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, 4);
    if (isnan(f)) return 0x7fc0;
    uint32_t lower = u & 0xffff, upper = u >> 16;
    if (lower > 0x8000 || (lower == 0x8000 && (upper & 1))) upper++;
    return (uint16_t)upper;
}

uint16_t t_double_to_f16(double x)
{
    /* search the nearest half by value (used only to make test inputs) */
    if (isnan(x)) return 0x7e00;
    uint16_t sign = x < 0 ? 0x8000 : 0;
    double a = fabs(x);
    if (a >= 65520.0) return sign | 0x7c00;
    int e;
    frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
    int ulp_exp = (e - 1) - 10;
    if (ulp_exp < -24) ulp_exp = -24;
    double q = a / ldexp(1.0, ulp_exp);
    double r = nearbyint(q); /* round half to even in the default mode */
    double v = r * ldexp(1.0, ulp_exp);
    /* re-encode v */
    if (v == 0) return sign;
    int ev;
    double fv = frexp(v, &ev); /* v = fv * 2^ev */
    int be = ev - 1 + 15;      /* biased exponent of 1.x form */
    if (be <= 0) return (uint16_t)(sign | (uint16_t)(v / ldexp(1.0, -24)));
    uint16_t man = (uint16_t)((fv * 2.0 - 1.0) * 1024.0 + 0.5);
    return (uint16_t)(sign | (be << 10) | man);
}

/* ---- guarded tensors ---- */
int64_t gt_numel(const gtensor *g)
{
    int64_t n = 1;
    for (int i = 0; i < g->t.rank; i++) n *= g->t.shape[i];
    return n;
}

void gt_make(gtensor *g, tprim_dtype dt, int rank, const int64_t *shape, const int *order, int pad)
{
    memset(g, 0, sizeof *g);
    int ord[TPRIM_MAX_RANK];
    for (int i = 0; i < rank; i++) ord[i] = order ? order[i] : i;
    int64_t strides[TPRIM_MAX_RANK] = {0};
    int64_t s = 1;
    for (int k = rank - 1; k >= 0; k--) { /* innermost memory dim first */
        int d = ord[k];
        strides[d] = s;
        s = s * shape[d] + (k > 0 ? pad : 0);
        if (shape[d] == 0) s += 1;
    }
    size_t es = tprim_dtype_size(dt);
    int64_t span_elems = 1;
    for (int i = 0; i < rank; i++)
        if (shape[i] > 0) span_elems += (shape[i] - 1) * strides[i];
    g->span = (size_t)span_elems * es;
    g->raw = malloc(g->span + 2 * GUARD);
    memset(g->raw, 0xA5, GUARD);
    memset(g->raw + GUARD + g->span, 0xA5, GUARD);
    tprim_tensor_init(&g->t, g->raw + GUARD, dt, rank, shape, strides);
    gt_poison(g);
}

void gt_free(gtensor *g)
{
    free(g->raw);
    g->raw = NULL;
}

int gt_guards_ok(const gtensor *g)
{
    for (int i = 0; i < GUARD; i++)
        if (g->raw[i] != 0xA5 || g->raw[GUARD + g->span + i] != 0xA5) return 0;
    return 1;
}

void gt_poison(gtensor *g)
{
    unsigned char *p = g->raw + GUARD;
    size_t es = tprim_dtype_size(g->t.dtype);
    for (size_t i = 0; i + es <= g->span; i += es) {
        switch (g->t.dtype) {
        case TPRIM_F32: { uint32_t u = 0x7fc0dead; memcpy(p + i, &u, 4); break; }
        case TPRIM_BF16: { uint16_t u = 0x7fc1; memcpy(p + i, &u, 2); break; }
        case TPRIM_F16: { uint16_t u = 0x7e01; memcpy(p + i, &u, 2); break; }
        default: memset(p + i, 0x5a, es); break;
        }
    }
}

static char *elem_ptr(const gtensor *g, int64_t flat)
{
    int64_t off = 0;
    for (int i = g->t.rank - 1; i >= 0; i--) {
        int64_t idx = flat % g->t.shape[i];
        flat /= g->t.shape[i];
        off += idx * g->t.strides[i];
    }
    return (char *)g->t.data + off * (int64_t)tprim_dtype_size(g->t.dtype);
}

size_t gt_offset(const gtensor *g, int64_t flat)
{
    return (size_t)(elem_ptr(g, flat) - (char *)g->raw);
}

double gt_get(const gtensor *g, int64_t flat)
{
    const char *p = elem_ptr(g, flat);
    switch (g->t.dtype) {
    case TPRIM_F32: { float f; memcpy(&f, p, 4); return f; }
    case TPRIM_F64: { double d; memcpy(&d, p, 8); return d; }
    case TPRIM_BF16: { uint16_t h; memcpy(&h, p, 2); return t_bf16_to_double(h); }
    case TPRIM_F16: { uint16_t h; memcpy(&h, p, 2); return t_f16_to_double(h); }
    case TPRIM_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TPRIM_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case TPRIM_BOOL: return *(const unsigned char *)p;
    }
    return 0;
}

void gt_set(gtensor *g, int64_t flat, double x)
{
    char *p = elem_ptr(g, flat);
    switch (g->t.dtype) {
    case TPRIM_F32: { float f = (float)x; memcpy(p, &f, 4); break; }
    case TPRIM_F64: memcpy(p, &x, 8); break;
    case TPRIM_BF16: { uint16_t h = t_double_to_bf16(x); memcpy(p, &h, 2); break; }
    case TPRIM_F16: { uint16_t h = t_double_to_f16(x); memcpy(p, &h, 2); break; }
    case TPRIM_I32: { int32_t v = (int32_t)x; memcpy(p, &v, 4); break; }
    case TPRIM_I64: { int64_t v = (int64_t)x; memcpy(p, &v, 8); break; }
    case TPRIM_BOOL: *(unsigned char *)p = x != 0 ? (unsigned char)(1 + ((int64_t)x & 3)) : 0; break;
    }
}

void gt_fill_random(gtensor *g, rng *r, double amp)
{
    int64_t n = gt_numel(g);
    for (int64_t i = 0; i < n; i++) gt_set(g, i, amp * rng_uniform(r));
}

unsigned char *gt_snapshot(const gtensor *g)
{
    unsigned char *s = malloc(g->span + 2 * GUARD);
    memcpy(s, g->raw, g->span + 2 * GUARD);
    return s;
}

int gt_same_as(const gtensor *g, const unsigned char *snap)
{
    return memcmp(g->raw, snap, g->span + 2 * GUARD) == 0;
}
