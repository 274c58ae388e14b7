/* oracle_evo.c -- float64 Evoformer attention modules from OpenFold's definitions:
 * LayerNorm, linear layers, per-head softmax attention with the mask bias and the
 * pair / triangle bias, sigmoid gate, output projection; the global column attention
 * of the extra-MSA stack. Plain loops over logical indices. */
#include "oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double t1(const tprim_tensor *t, int64_t i)
{
    int64_t idx[1] = {i};
    return oracle_elem(t, idx);
}

static double t2(const tprim_tensor *t, int64_t i, int64_t j)
{
    int64_t idx[2] = {i, j};
    return oracle_elem(t, idx);
}

/* x[b][a0][a1][c] of a rank 3 or 4 tensor */
static double t4(const tprim_tensor *t, int64_t b, int64_t a0, int64_t a1, int64_t c)
{
    int64_t idx[4];
    int o = t->rank - 3;
    if (o) idx[0] = b;
    idx[o] = a0;
    idx[o + 1] = a1;
    idx[o + 2] = c;
    return oracle_elem(t, idx);
}

static double m3(const tprim_tensor *t, int64_t b, int64_t a0, int64_t a1)
{
    if (!t) return 1.0;
    int64_t idx[3];
    int o = t->rank - 2;
    if (o) idx[0] = b;
    idx[o] = a0;
    idx[o + 1] = a1;
    return oracle_elem(t, idx);
}

static void layer_norm(const double *x, int64_t C, const tprim_evo_norm *nm, double *y)
{
    double mean = 0, var = 0, eps = nm->eps > 0 ? nm->eps : 1e-5;
    for (int64_t c = 0; c < C; c++) mean += x[c];
    mean /= (double)C;
    for (int64_t c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
    var /= (double)C;
    for (int64_t c = 0; c < C; c++)
        y[c] = (x[c] - mean) / sqrt(var + eps) * (nm->gamma ? t1(nm->gamma, c) : 1.0) +
               (nm->beta ? t1(nm->beta, c) : 0.0);
}

/* y[o] = sum_i W[o][i] x[i] + b[o] */
static void linear(const double *x, int64_t in, const tprim_tensor *W, const tprim_tensor *b,
                   double *y, int64_t out)
{
    for (int64_t o = 0; o < out; o++) {
        double s = b ? t1(b, o) : 0.0;
        for (int64_t i = 0; i < in; i++) s += t2(W, o, i) * x[i];
        y[o] = s;
    }
}

void oracle_evo_forward(const tprim_evo_block *blk, const tprim_tensor *x,
                        const tprim_tensor *mask, const tprim_tensor *z, double *out)
{
    const int kind = blk->kind, o = x->rank - 3;
    const int64_t B = o ? x->shape[0] : 1, A0 = x->shape[o], A1 = x->shape[o + 1], C = x->shape[o + 2];
    const int swap = kind == TPRIM_EVO_MSA_COLUMN || kind == TPRIM_EVO_TRIANGLE_END ||
                     kind == TPRIM_EVO_GLOBAL_COLUMN;
    const int64_t N = swap ? A1 : A0, L = swap ? A0 : A1;
    const tprim_evo_weights *w = &blk->attn;
    const int64_t H = w->heads, D = w->head_dim, HD = H * D;
    const double inf = blk->inf > 0 ? blk->inf : 1e9;
    const int global = kind == TPRIM_EVO_GLOBAL_COLUMN;
    double *X = malloc(sizeof(double) * (size_t)(L * C)), *xr = malloc(sizeof(double) * (size_t)(C + 1));
    double *q = malloc(sizeof(double) * (size_t)(L * HD)), *k = malloc(sizeof(double) * (size_t)(L * HD));
    double *v = malloc(sizeof(double) * (size_t)(L * HD)), *g = malloc(sizeof(double) * (size_t)(L * HD));
    double *a = malloc(sizeof(double) * (size_t)(L * HD)), *lg = malloc(sizeof(double) * (size_t)(L + 1));
    double *bias = NULL;
    for (int64_t b = 0; b < B; b++) {
        if (kind == TPRIM_EVO_MSA_ROW || kind == TPRIM_EVO_TRIANGLE_START || kind == TPRIM_EVO_TRIANGLE_END) {
            /* bias[h][q][k] = w_bias . LN(src[q][k]) */
            const tprim_tensor *src = kind == TPRIM_EVO_MSA_ROW ? z : x;
            const tprim_evo_norm *nm = kind == TPRIM_EVO_MSA_ROW ? &blk->norm_z : &blk->norm;
            const int64_t Cz = src->shape[src->rank - 1];
            double *zr = malloc(sizeof(double) * (size_t)Cz), *zn = malloc(sizeof(double) * (size_t)Cz);
            free(bias);
            bias = malloc(sizeof(double) * (size_t)(H * L * L));
            for (int64_t qi = 0; qi < L; qi++)
                for (int64_t ki = 0; ki < L; ki++) {
                    for (int64_t c = 0; c < Cz; c++)
                        zr[c] = kind == TPRIM_EVO_TRIANGLE_END ? t4(src, b, ki, qi, c) : t4(src, b, qi, ki, c);
                    layer_norm(zr, Cz, nm, zn);
                    for (int64_t h = 0; h < H; h++) {
                        double s = 0;
                        for (int64_t c = 0; c < Cz; c++) s += t2(blk->w_bias, h, c) * zn[c];
                        bias[(h * L + qi) * L + ki] = s;
                    }
                }
            free(zr);
            free(zn);
        }
        for (int64_t n = 0; n < N; n++) {
            /* the row: X[l] = LN(x at (n, l)) */
            for (int64_t l = 0; l < L; l++) {
                for (int64_t c = 0; c < C; c++) xr[c] = swap ? t4(x, b, l, n, c) : t4(x, b, n, l, c);
                layer_norm(xr, C, &blk->norm, X + l * C);
            }
            /* mask of key l for this row */
            for (int64_t l = 0; l < L; l++) lg[l] = swap ? m3(mask, b, l, n) : m3(mask, b, n, l);
            int nq = global ? 1 : (int)L;
            if (global) {
                double ms = 0;
                for (int64_t c = 0; c < C; c++) xr[c] = 0;
                for (int64_t l = 0; l < L; l++) {
                    ms += lg[l];
                    for (int64_t c = 0; c < C; c++) xr[c] += lg[l] * X[l * C + c];
                }
                for (int64_t c = 0; c < C; c++) xr[c] /= ms + 1e-10;
                linear(xr, C, w->wq, NULL, q, HD);
                for (int64_t l = 0; l < L; l++) {
                    linear(X + l * C, C, w->wk, NULL, k + l * D, D);
                    linear(X + l * C, C, w->wv, NULL, v + l * D, D);
                }
            } else {
                for (int64_t l = 0; l < L; l++) {
                    linear(X + l * C, C, w->wq, NULL, q + l * HD, HD);
                    linear(X + l * C, C, w->wk, NULL, k + l * HD, HD);
                    linear(X + l * C, C, w->wv, NULL, v + l * HD, HD);
                }
            }
            for (int64_t qi = 0; qi < nq; qi++)
                for (int64_t h = 0; h < H; h++) {
                    double *lo = malloc(sizeof(double) * (size_t)L), mx = -INFINITY, sum = 0;
                    for (int64_t ki = 0; ki < L; ki++) {
                        const double *kk = global ? k + ki * D : k + ki * HD + h * D;
                        double s = 0;
                        for (int64_t d = 0; d < D; d++) s += q[qi * HD + h * D + d] * kk[d];
                        s /= sqrt((double)D);
                        if (blk->skip_masked_keys) {
                            if (lg[ki] == 0) s = -INFINITY;
                        } else {
                            s += inf * (lg[ki] - 1.0);
                        }
                        if (bias) s += bias[(h * L + qi) * L + ki];
                        lo[ki] = s;
                        if (s > mx) mx = s;
                    }
                    for (int64_t d = 0; d < D; d++) a[qi * HD + h * D + d] = 0;
                    if (mx > -INFINITY) {
                        for (int64_t ki = 0; ki < L; ki++) {
                            lo[ki] = lo[ki] == -INFINITY ? 0 : exp(lo[ki] - mx);
                            sum += lo[ki];
                        }
                        for (int64_t ki = 0; ki < L; ki++) {
                            const double *vv = global ? v + ki * D : v + ki * HD + h * D;
                            for (int64_t d = 0; d < D; d++) a[qi * HD + h * D + d] += lo[ki] / sum * vv[d];
                        }
                    }
                    free(lo);
                }
            for (int64_t l = 0; l < L; l++) {
                double *gl = g + l * HD, *res = xr;
                const double *al = global ? a : a + l * HD;
                if (w->wg) {
                    linear(X + l * C, C, w->wg, w->bg, gl, HD);
                    for (int64_t e = 0; e < HD; e++) gl[e] = al[e] / (1.0 + exp(-gl[e]));
                } else {
                    for (int64_t e = 0; e < HD; e++) gl[e] = al[e];
                }
                linear(gl, HD, w->wo, w->bo, res, C);
                /* out in x's logical layout */
                int64_t a0 = swap ? l : n, a1 = swap ? n : l;
                for (int64_t c = 0; c < C; c++) out[((b * A0 + a0) * A1 + a1) * C + c] = res[c];
            }
        }
    }
    free(X);
    free(xr);
    free(q);
    free(k);
    free(v);
    free(g);
    free(a);
    free(lg);
    free(bias);
}
