/* attention_ref.c -- the reference attention kernel: plain C that anyone can check by
 * eye, always built, accepts every call. One query row at a time, keys in blocks of
 * REF_BLOCK with an online softmax, so memory stays O(D + Dv) per thread. */
#include "../../ops/attention.h"

#include <math.h>

#define REF_BLOCK 64 /* keys per block */
#define REF_ROWS 16  /* query rows per work item */

typedef struct ref_job {
    const tp_attn_problem *p;
    char *ws;          /* per-thread scratch, `stride` bytes each */
    size_t stride;
    int64_t row_blocks; /* ceil(Sq / REF_ROWS) */
} ref_job;

static size_t ref_workspace(const void *prob, int nthreads, int *ok)
{
    const tp_attn_problem *p = prob;
    size_t per = 0, total = 0;
    /* q row (D) + accumulator (Dv) + one block of scores */
    if (!tp_mul_size((size_t)(p->D + p->Dv + REF_BLOCK), sizeof(float), &per) ||
        !tp_align_size(per, &per) || !tp_mul_size(per, (size_t)nthreads, &total)) {
        *ok = 0;
        return 0;
    }
    return total;
}

static void ref_row(const tp_attn_problem *p, int64_t b, int64_t h, int64_t i, float *qf,
                    float *acc, float *s)
{
    const int64_t hk = h / p->G;
    const int64_t kl = tp_key_len(p, b);
    const int64_t ia = i + (kl - p->Sq);
    const float slope = tp_alibi_slope(p, b, h);
    int64_t lo, hi, bi[3];
    tp_row_range(p, kl, i, &lo, &hi);
    tp_batch_idx(p, b, bi);

    for (int64_t d = 0; d < p->D; d++)
        qf[d] = p->scale * tp_load_f32(tp_at(p, &p->q, b, h, i, d), p->dtype);
    for (int64_t d = 0; d < p->Dv; d++) acc[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    for (int64_t j0 = lo; j0 < hi; j0 += REF_BLOCK) {
        int64_t n = TP_MIN(REF_BLOCK, hi - j0);
        float bm = -INFINITY;
        for (int64_t t = 0; t < n; t++) {
            int64_t j = j0 + t;
            if (!tp_key_visible(p, bi, j)) { /* hidden by the key mask */
                s[t] = -INFINITY;
                continue;
            }
            float dot = 0.0f;
            for (int64_t d = 0; d < p->D; d++)
                dot += qf[d] * tp_load_f32(tp_at(p, &p->k, b, hk, j, d), p->dtype);
            if (p->softcap > 0.0f) dot = p->softcap * tanhf(dot / p->softcap);
            for (int bi = 0; bi < p->nbias; bi++)
                dot += tp_load_f32(tp_at(p, &p->bias[bi], b, h, i, j), p->bias[bi].dtype);
            if (p->has_alibi) dot -= slope * fabsf((float)(ia - j));
            s[t] = dot;
            bm = fmaxf(bm, dot);
        }
        float m_new = fmaxf(m, bm);
        if (m_new == -INFINITY) continue; /* every key so far masked by a -inf bias */
        float alpha = expf(m - m_new);     /* 0 when m was -inf */
        l *= alpha;
        for (int64_t d = 0; d < p->Dv; d++) acc[d] *= alpha;
        for (int64_t t = 0; t < n; t++) {
            if (s[t] == -INFINITY) continue; /* masked: no contribution */
            float e = expf(s[t] - m_new);
            l += e;
            for (int64_t d = 0; d < p->Dv; d++)
                acc[d] += e * tp_load_f32(tp_at(p, &p->v, b, hk, j0 + t, d), p->dtype);
        }
        m = m_new;
    }

    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t d = 0; d < p->Dv; d++)
        tp_store_f32((void *)tp_at(p, &p->out, b, h, i, d), p->dtype, acc[d] * inv);
    if (p->has_lse)
        tp_store_f32((void *)tp_at(p, &p->lse, b, h, i, 0), TPRIM_F32,
                     l > 0.0f ? m + logf(l) : -INFINITY);
}

static void ref_task(void *arg, int64_t item, int tid)
{
    const ref_job *job = arg;
    const tp_attn_problem *p = job->p;
    int64_t rb = item % job->row_blocks;
    int64_t bh = item / job->row_blocks;
    int64_t h = bh % p->Hq, b = bh / p->Hq;
    float *qf = (float *)(job->ws + (size_t)tid * job->stride);
    float *acc = qf + p->D;
    float *s = acc + p->Dv;
    int64_t i1 = TP_MIN(p->Sq, (rb + 1) * REF_ROWS);
    for (int64_t i = rb * REF_ROWS; i < i1; i++) ref_row(p, b, h, i, qf, acc, s);
}

static void ref_run(const void *prob, void *ws, tp_pool *pool, int nthreads)
{
    const tp_attn_problem *p = prob;
    int ok = 1;
    ref_job job = {p, ws, ref_workspace(prob, 1, &ok), (p->Sq + REF_ROWS - 1) / REF_ROWS};
    tp_pool_run(pool, nthreads, p->nbatch * p->Hq * job.row_blocks, ref_task, &job);
}

const tp_kernel tp_attn_ref_kernel = {
    .name = "ref",
    .family = TP_FAMILY_REF,
    .priority = 0,
    .accepts = NULL,
    .workspace = ref_workspace,
    .run = ref_run,
    .impl = NULL,
};
