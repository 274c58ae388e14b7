/* gemm_ref.c -- the reference GEMM kernel: plain C that anyone can check by eye, always
 * built, accepts every call. One row of C per work item: the row is accumulated in f32
 * (acc[j] += A[i][p] * B[p][j], p ascending), then bias and the old C are added and the
 * result converted once. Memory: n floats per thread. */
#include "../../ops/gemm.h"

#include <string.h>

typedef struct ref_job {
    const tp_gemm_problem *p;
    char *ws;      /* per-thread row accumulators, `stride` bytes each */
    size_t stride;
} ref_job;

static size_t ref_workspace(const void *prob, int nthreads, int *ok)
{
    const tp_gemm_problem *p = prob;
    size_t per = 0, total = 0;
    if (!tp_mul_size((size_t)p->n, sizeof(float), &per) || !tp_align_size(per, &per) ||
        !tp_mul_size(per, (size_t)nthreads, &total)) {
        *ok = 0;
        return 0;
    }
    return total;
}

/* Byte address of element (r, c) of operand o in batch entry bi. */
static const char *at(const tp_gemm_problem *p, const tp_gemm_operand *o, int64_t bi, int64_t r,
                      int64_t c)
{
    int64_t off = tp_gemm_boff(p, o, bi) + r * o->rs + c * o->cs;
    return o->data + off * (int64_t)tprim_dtype_size(o->dtype);
}

static void ref_task(void *arg, int64_t item, int tid)
{
    const ref_job *job = arg;
    const tp_gemm_problem *p = job->p;
    float *acc = (float *)(job->ws + (size_t)tid * job->stride);
    const int64_t bi = item / p->m, i = item % p->m;
    for (int64_t j = 0; j < p->n; j++) acc[j] = 0.0f;
    const int b_f32_rows = p->b.dtype == TPRIM_F32 && p->b.cs == 1;
    for (int64_t q = 0; q < p->k; q++) {
        const float a = tp_load_f32(at(p, &p->a, bi, i, q), p->a.dtype);
        const char *brow = at(p, &p->b, bi, q, 0);
        if (b_f32_rows) { /* the common case, spelled out so that the compiler vectorises it */
            for (int64_t j = 0; j < p->n; j++) {
                float b;
                memcpy(&b, brow + 4 * j, 4);
                acc[j] += a * b;
            }
        } else {
            for (int64_t j = 0; j < p->n; j++)
                acc[j] += a * tp_load_f32(at(p, &p->b, bi, q, j), p->b.dtype);
        }
    }
    for (int64_t j = 0; j < p->n; j++) {
        float v = acc[j];
        if (p->bias.data) v += tp_load_f32(at(p, &p->bias, bi, 0, j), p->bias.dtype);
        char *c = (char *)at(p, &p->c, bi, i, j);
        if (p->accumulate) v = tp_load_f32(c, p->c.dtype) + v;
        tp_store_f32(c, p->c.dtype, v);
    }
}

static void ref_run(const void *prob, void *ws, tp_pool *pool, int nthreads)
{
    const tp_gemm_problem *p = prob;
    ref_job job;
    job.p = p;
    job.ws = ws;
    int ok = 1;
    job.stride = ref_workspace(prob, 1, &ok);
    if (p->n == 0) return;
    tp_pool_run(pool, nthreads, tp_gemm_nbatch(p) * p->m, ref_task, &job);
}

const tp_kernel tp_gemm_ref_kernel = {
    .name = "ref",
    .family = TP_FAMILY_REF,
    .priority = 0,
    .accepts = NULL,
    .workspace = ref_workspace,
    .run = ref_run,
    .impl = NULL,
};
