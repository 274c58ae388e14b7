/* gemm_oracle.c -- float64 oracles for linear and GEMM (see gemm_oracle.h). */
#include "gemm_oracle.h"

#include <stdlib.h>
#include <string.h>

static double load(const char *p, tprim_dtype dt)
{
    switch (dt) {
    case TPRIM_F32: { float f; memcpy(&f, p, 4); return f; }
    case TPRIM_F64: { double d; memcpy(&d, p, 8); return d; }
    case TPRIM_BF16: { uint16_t h; memcpy(&h, p, 2); return t_bf16_to_double(h); }
    case TPRIM_F16: { uint16_t h; memcpy(&h, p, 2); return t_f16_to_double(h); }
    default: return 0.0;
    }
}

static int64_t esize(tprim_dtype dt)
{
    return dt == TPRIM_F64 ? 8 : dt == TPRIM_F32 ? 4 : 2;
}

double tensor_get(const tprim_tensor *t, int64_t flat)
{
    int64_t off = 0;
    for (int d = t->rank - 1; d >= 0; d--) {
        off += (flat % t->shape[d]) * t->strides[d];
        flat /= t->shape[d];
    }
    return load((const char *)t->data + off * esize(t->dtype), t->dtype);
}

void oracle_linear(const tprim_tensor *x, const tprim_tensor *w, const tprim_tensor *b,
                   double *y_ref)
{
    const int64_t in = x->shape[x->rank - 1], out = w->shape[0];
    int64_t rows = 1;
    for (int d = 0; d < x->rank - 1; d++) rows *= x->shape[d];
    /* dense double copies first: every element is read many times */
    double *xd = malloc(sizeof(double) * (size_t)(rows * in + 1));
    double *wd = malloc(sizeof(double) * (size_t)(out * in + 1));
    for (int64_t i = 0; i < rows * in; i++) xd[i] = tensor_get(x, i);
    for (int64_t i = 0; i < out * in; i++) wd[i] = tensor_get(w, i);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? tensor_get(b, o) : 0.0;
            const double *xr = xd + r * in, *wr = wd + o * in;
            for (int64_t i = 0; i < in; i++) s += xr[i] * wr[i];
            y_ref[r * out + o] = s;
        }
    free(xd);
    free(wd);
}

static double mat_get(const omat *o, int nbd, const int64_t *bdim, int64_t bi, int64_t r,
                      int64_t c)
{
    int64_t off = r * o->rs + c * o->cs;
    for (int d = nbd - 1; d >= 0; d--) {
        off += (bi % bdim[d]) * o->bs[d];
        bi /= bdim[d];
    }
    return load((const char *)o->data + off * esize(o->dt), o->dt);
}

void oracle_gemm(int nbd, const int64_t *bdim, int64_t m, int64_t n, int64_t k, const omat *a,
                 const omat *b, const omat *bias, const omat *c0, double *ref)
{
    int64_t nb = 1;
    for (int d = 0; d < nbd; d++) nb *= bdim[d];
    for (int64_t bi = 0; bi < nb; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0.0;
                for (int64_t p = 0; p < k; p++)
                    s += mat_get(a, nbd, bdim, bi, i, p) * mat_get(b, nbd, bdim, bi, p, j);
                if (bias) s += mat_get(bias, nbd, bdim, bi, 0, j);
                if (c0) s += mat_get(c0, nbd, bdim, bi, i, j);
                ref[(bi * m + i) * n + j] = s;
            }
}
