/* oracle_sample.c -- float64 reference rows for the benchmark's error column. */
#include "attn_bench.h"

#include <stdlib.h>

double oracle_sample_err(const attn_shape *sh, tprim_dtype dt, const attn_set *in,
                         const void *out, const int64_t *units, int nunits, int rows)
{
    const int64_t S = sh->S, D = sh->D, G = sh->Hq / sh->Hkv;
    const double scale = 1.0 / sqrt((double)D);
    double *logit = malloc(sizeof(double) * (size_t)S), *ref = malloc(sizeof(double) * (size_t)D);
    double e2 = 0, r2 = 0;
    for (int ui = 0; ui < nunits; ui++) {
        int64_t u = units[ui], b = u / sh->Hq, h = u % sh->Hq, hk = h / G;
        int64_t qoff = (b * sh->Hq + h) * S * D, koff = (b * sh->Hkv + hk) * S * D;
        for (int ri = 0; ri < rows; ri++) {
            int64_t i = rows > 1 ? (S - 1) * ri / (rows - 1) : S - 1;
            double m = -INFINITY;
            for (int64_t j = 0; j < S; j++) {
                double acc = 0;
                for (int64_t d = 0; d < D; d++)
                    acc += (double)ab_load(in->q, qoff + i * D + d, dt) *
                           (double)ab_load(in->k, koff + j * D + d, dt);
                acc *= scale;
                if (sh->bias) acc += (double)in->mask[b * S + j] + (double)in->pair[(h * S + i) * S + j];
                if (sh->causal && j > i) acc = -INFINITY;
                logit[j] = acc;
                if (acc > m) m = acc;
            }
            double sum = 0;
            for (int64_t d = 0; d < D; d++) ref[d] = 0;
            for (int64_t j = 0; j < S; j++) {
                if (logit[j] == -INFINITY) continue;
                double e = exp(logit[j] - m);
                sum += e;
                for (int64_t d = 0; d < D; d++) ref[d] += e * (double)ab_load(in->v, koff + j * D + d, dt);
            }
            for (int64_t d = 0; d < D; d++) {
                double want = ref[d] / sum, got = ab_load(out, qoff + i * D + d, dt);
                e2 += (got - want) * (got - want);
                r2 += want * want;
            }
        }
    }
    free(logit);
    free(ref);
    return r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
}
