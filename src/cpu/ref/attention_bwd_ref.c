/* attention_bwd_ref.c -- the reference attention backward: plain C, one row at a time,
 * accepts every call (the soft-cap too). It runs on one thread: every gradient is summed
 * in one obvious order. dk and dv are accumulated in an f32 workspace of the size of k
 * and v, then converted. */
#include "../../ops/attention.h"

#include <math.h>
#include <string.h>

typedef struct ref_ws {
    float *dk, *dv; /* [nbatch][Hkv][Sk][D], [..][Dv] */
    float *qf, *dqf, *dof; /* [D], [D], [Dv] */
} ref_ws;

static int layout(const tp_attn_problem *p, size_t *bytes)
{
    int64_t nk, a, b, t;
    if (!tp_mul_i64(p->nbatch, p->Hkv, &nk) || !tp_mul_i64(nk, p->Sk, &nk) ||
        !tp_mul_i64(nk, p->D, &a) || !tp_mul_i64(nk, p->Dv, &b) || !tp_add_i64(a, b, &t) ||
        !tp_add_i64(t, 2 * p->D + p->Dv, &t) || !tp_mul_size((size_t)t, sizeof(float), bytes))
        return 0;
    return 1;
}

static size_t bwd_ref_workspace(const void *prob, int nthreads, int *ok)
{
    size_t bytes;
    if (!layout(prob, &bytes)) {
        *ok = 0;
        return 0;
    }
    return bytes;
}

static float ld(const tp_attn_problem *p, const tp_operand *o, int64_t b, int64_t h, int64_t i, int64_t j)
{
    return tp_load_f32(tp_at(p, o, b, h, i, j), o->dtype);
}

static void bwd_ref_task(void *arg, int64_t item, int tid)
{
    const tp_attn_problem *p = ((void **)arg)[0];
    float *ws = ((void **)arg)[1];
    const int64_t D = p->D, Dv = p->Dv, nk = p->nbatch * p->Hkv * p->Sk;
    float *dk = ws, *dv = dk + nk * D, *qf = dv + nk * Dv, *dqf = qf + D, *dof = dqf + D;
    memset(dk, 0, (size_t)(nk * (D + Dv)) * sizeof(float));
    /* zero every bias gradient (over the full broadcast space: simple, not fast) */
    for (int x = 0; x < p->nbias; x++) {
        if (!p->has_dbias[x]) continue;
        for (int64_t b = 0; b < p->nbatch; b++)
            for (int64_t h = 0; h < p->Hq; h++)
                for (int64_t i = 0; i < p->Sq; i++)
                    for (int64_t j = 0; j < p->Sk; j++)
                        memset((char *)tp_at(p, &p->dbias[x], b, h, i, j), 0, 4);
    }
    for (int64_t b = 0; b < p->nbatch; b++) {
        const int64_t kl = tp_key_len(p, b);
        int64_t bi[3];
        tp_batch_idx(p, b, bi);
        for (int64_t h = 0; h < p->Hq; h++) {
            const int64_t hk = h / p->G;
            const float slope = tp_alibi_slope(p, b, h);
            float *dkh = dk + (b * p->Hkv + hk) * p->Sk * D, *dvh = dv + (b * p->Hkv + hk) * p->Sk * Dv;
            for (int64_t i = 0; i < p->Sq; i++) {
                int64_t lo, hi;
                tp_row_range(p, kl, i, &lo, &hi);
                const int64_t ia = i + (kl - p->Sq);
                float lse;
                memcpy(&lse, tp_at(p, &p->lse_in, b, h, i, 0), 4);
                float delta = 0.0f;
                for (int64_t d = 0; d < Dv; d++) {
                    dof[d] = ld(p, &p->dout, b, h, i, d);
                    delta += dof[d] * ld(p, &p->out, b, h, i, d);
                }
                for (int64_t d = 0; d < D; d++) {
                    qf[d] = ld(p, &p->q, b, h, i, d);
                    dqf[d] = 0.0f;
                }
                for (int64_t j = lo; j < hi && lse != -INFINITY; j++) {
                    if (!tp_key_visible(p, bi, j)) continue;
                    float s = 0.0f;
                    for (int64_t d = 0; d < D; d++) s += qf[d] * ld(p, &p->k, b, hk, j, d);
                    s *= p->scale;
                    float c = s, tc = 0.0f;
                    if (p->softcap > 0.0f) {
                        tc = tanhf(s / p->softcap);
                        c = p->softcap * tc;
                    }
                    float logit = c;
                    for (int x = 0; x < p->nbias; x++) logit += ld(p, &p->bias[x], b, h, i, j);
                    if (p->has_alibi) logit -= slope * fabsf((float)(ia - j));
                    float pr = logit == -INFINITY ? 0.0f : expf(logit - lse);
                    float dp = 0.0f;
                    for (int64_t d = 0; d < Dv; d++) dp += dof[d] * ld(p, &p->v, b, hk, j, d);
                    float ds = pr * (dp - delta);
                    for (int x = 0; x < p->nbias; x++)
                        if (p->has_dbias[x]) *(float *)tp_at(p, &p->dbias[x], b, h, i, j) += ds;
                    float dsq = p->softcap > 0.0f ? ds * (1.0f - tc * tc) : ds;
                    for (int64_t d = 0; d < D; d++) {
                        dqf[d] += dsq * ld(p, &p->k, b, hk, j, d);
                        dkh[j * D + d] += dsq * qf[d];
                    }
                    for (int64_t d = 0; d < Dv; d++) dvh[j * Dv + d] += pr * dof[d];
                }
                for (int64_t d = 0; d < D; d++)
                    tp_store_f32((char *)tp_at(p, &p->dq, b, h, i, d), p->dtype, p->scale * dqf[d]);
            }
        }
    }
    for (int64_t b = 0; b < p->nbatch; b++)
        for (int64_t hk = 0; hk < p->Hkv; hk++)
            for (int64_t j = 0; j < p->Sk; j++) {
                const int64_t row = (b * p->Hkv + hk) * p->Sk + j;
                for (int64_t d = 0; d < D; d++)
                    tp_store_f32((char *)tp_at(p, &p->dk, b, hk, j, d), p->dtype, p->scale * dk[row * D + d]);
                for (int64_t d = 0; d < Dv; d++)
                    tp_store_f32((char *)tp_at(p, &p->dv, b, hk, j, d), p->dtype, dv[row * Dv + d]);
            }
}

static void bwd_ref_run(const void *prob, void *ws, tp_pool *pool, int nthreads)
{
    void *arg[2] = {(void *)prob, ws};
    tp_pool_run(pool, 1, 1, bwd_ref_task, arg);
}

const tp_kernel tp_attn_bwd_ref_kernel = {
    .name = "ref",
    .family = TP_FAMILY_REF,
    .priority = 0,
    .accepts = NULL,
    .workspace = bwd_ref_workspace,
    .run = bwd_ref_run,
    .impl = NULL,
};
