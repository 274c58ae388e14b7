/* suite_evoformer.c -- `tprim bench --suite evoformer`: the attention of OpenFold /
 * AlphaFold with the mask bias [*, N, 1, 1, L] and the pair bias [*, 1, H, L, L], forward
 * and backward, f32 and bf16, against the naive baseline (OpenFold's _attention written
 * plainly in C: the logits of every (row, head) materialised), plus the AF3 pairformer
 * triangle attention module (LayerNorm, projections, gate) through tprim_evo_forward.
 *
 * The two numbers of a core case: flops = 4 N H L^2 D forward (2.5x that backward, the
 * FlashAttention convention: five products instead of two); bytes = q, k, v, out and the
 * two biases once. peak_extra_bytes: tprim's context memory peak during the call; for
 * the naive baseline the logits and probabilities it materialises for the whole problem
 * (it is timed on a subset of rows, see naive_units_timed). */
#include "attn_bench.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct evo_case {
    const char *name;
    int64_t N, H, L, D;   /* rows, heads, attended length, head dim */
    int pair;             /* 1: pair bias [1, 1, H, L, L]; -1: no bias at all (for comparison) */
    int transposed;       /* q, k, v, out as [1, L, N, H, D] memory (the ending node / column view) */
} evo_case;

static const evo_case cases[] = {
    {"msa_row_s512_r384", 512, 8, 384, 32, 1, 0},
    {"msa_col_r384_s512", 384, 8, 512, 32, 0, 1},
    {"tri_start_n384", 384, 4, 384, 32, 1, 0},
    {"tri_start_n384_nobias", 384, 4, 384, 32, -1, 0},
    {"tri_end_n384", 384, 4, 384, 32, 1, 1},
    {"tri_start_n768", 768, 4, 768, 32, 1, 0},
    {"tri_end_n768", 768, 4, 768, 32, 1, 1},
    {"tri_start_n1024", 1024, 4, 1024, 32, 1, 0},
};

typedef struct evo_inputs {
    const evo_case *c;
    tprim_dtype dt;
    void *q, *k, *v, *o, *dout, *dq, *dk, *dv;
    float *mask, *pair, *lse, *dpair;
    tprim_tensor tq, tk, tv, to, tdo, tdq, tdk, tdv, tmask, tpair, tlse, tdpair;
    tprim_attn_params pa;
} evo_inputs;

static void init_view(tprim_tensor *t, void *data, tprim_dtype dt, const evo_case *c)
{
    /* logical [1, N, H, L, D]; memory [1, N, H, L, D] or [1, L, N, H, D] */
    int64_t shape[5] = {1, c->N, c->H, c->L, c->D}, st[5];
    if (!c->transposed) {
        st[4] = 1, st[3] = c->D, st[2] = c->L * c->D, st[1] = c->H * c->L * c->D;
    } else {
        st[4] = 1, st[2] = c->D, st[1] = c->H * c->D, st[3] = c->N * c->H * c->D;
    }
    st[0] = c->N * c->H * c->L * c->D;
    tprim_tensor_init(t, data, dt, 5, shape, st);
}

static void inputs_make(evo_inputs *e, const evo_case *c, tprim_dtype dt, int backward)
{
    memset(e, 0, sizeof *e);
    e->c = c;
    e->dt = dt;
    size_t es = tprim_dtype_size(dt);
    int64_t n = c->N * c->H * c->L * c->D;
    void **bufs[8] = {&e->q, &e->k, &e->v, &e->o, &e->dout, &e->dq, &e->dk, &e->dv};
    tprim_tensor *ts[8] = {&e->tq, &e->tk, &e->tv, &e->to, &e->tdo, &e->tdq, &e->tdk, &e->tdv};
    for (int i = 0; i < (backward ? 8 : 4); i++) {
        *bufs[i] = malloc((size_t)n * es);
        bench_fill(*bufs[i], dt, n, (uint64_t)(i + 1) * 31, 1.0f);
        init_view(ts[i], *bufs[i], dt, c);
    }
    int64_t ms[5] = {1, c->N, 1, 1, c->L}, ps[5] = {1, 1, c->H, c->L, c->L}, ls[4] = {1, c->N, c->H, c->L};
    e->mask = malloc(sizeof(float) * (size_t)(c->N * c->L));
    for (int64_t i = 0; i < c->N * c->L; i++) /* OpenFold: 1e9 * (mask - 1); padding at the end of some rows */
        e->mask[i] = (i % c->L) >= c->L - (i / c->L) % 7 ? -1e9f : 0.0f;
    tprim_tensor_init(&e->tmask, e->mask, TPRIM_F32, 5, ms, NULL);
    if (c->pair >= 0) e->pa.bias[0] = &e->tmask;
    if (c->pair > 0) {
        e->pair = malloc(sizeof(float) * (size_t)(c->H * c->L * c->L));
        bench_fill(e->pair, TPRIM_F32, c->H * c->L * c->L, 99, 2.0f);
        tprim_tensor_init(&e->tpair, e->pair, TPRIM_F32, 5, ps, NULL);
        e->pa.bias[1] = &e->tpair;
        if (backward) {
            e->dpair = malloc(sizeof(float) * (size_t)(c->H * c->L * c->L));
            tprim_tensor_init(&e->tdpair, e->dpair, TPRIM_F32, 5, ps, NULL);
        }
    }
    e->lse = malloc(sizeof(float) * (size_t)(c->N * c->H * c->L));
    tprim_tensor_init(&e->tlse, e->lse, TPRIM_F32, 4, ls, NULL);
}

static void inputs_free(evo_inputs *e)
{
    void *p[] = {e->q, e->k, e->v, e->o, e->dout, e->dq, e->dk, e->dv, e->mask, e->pair, e->lse, e->dpair};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

/* ---- the naive baseline: OpenFold's _attention, every logit of a (row, head) stored -- */

static float ld(const tprim_tensor *t, int64_t n, int64_t h, int64_t l, int64_t d)
{
    int64_t off = n * t->strides[1] + h * t->strides[2] + l * t->strides[3] + d * t->strides[4];
    return ab_load(t->data, off, t->dtype);
}

static void st(const tprim_tensor *t, int64_t n, int64_t h, int64_t l, int64_t d, float x)
{
    int64_t off = n * t->strides[1] + h * t->strides[2] + l * t->strides[3] + d * t->strides[4];
    if (t->dtype == TPRIM_F32) ((float *)t->data)[off] = x;
    else {
        uint32_t u;
        memcpy(&u, &x, 4);
        ((uint16_t *)t->data)[off] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

typedef struct naive_job {
    evo_inputs *e;
    int64_t units;
    int backward;
    _Atomic int64_t next;
    float *dpair_part; /* [threads][H][L][L] for the backward (summed at the end) */
    int threads;
} naive_job;

typedef struct naive_thread_arg {
    naive_job *job;
    int tid;
} naive_thread_arg;

static void *naive_thread(void *v)
{
    naive_thread_arg *ta = v;
    naive_job *job = ta->job;
    evo_inputs *e = job->e;
    const evo_case *c = e->c;
    const int64_t L = c->L, D = c->D;
    const float scale = 1.0f / sqrtf((float)D);
    float *P = malloc(sizeof(float) * (size_t)(L * L)), *dP = job->backward ? malloc(sizeof(float) * (size_t)(L * L)) : NULL;
    /* the unit's rows as plain float arrays [L][D]: q k v (forward), and dout, out, dq,
     * dk, dv (backward) */
    float *buf = malloc(sizeof(float) * (size_t)(8 * L * D));
    float *Q = buf, *K = Q + L * D, *V = K + L * D, *DO = V + L * D, *O = DO + L * D, *GQ = O + L * D,
          *GK = GQ + L * D, *GV = GK + L * D;
    for (;;) {
        int64_t u = job->next++;
        if (u >= job->units) break;
        const int64_t n = u / c->H, h = u % c->H;
        for (int64_t i = 0; i < L; i++)
            for (int64_t d = 0; d < D; d++) {
                Q[i * D + d] = ld(&e->tq, n, h, i, d);
                K[i * D + d] = ld(&e->tk, n, h, i, d);
                V[i * D + d] = ld(&e->tv, n, h, i, d);
                if (job->backward) {
                    DO[i * D + d] = ld(&e->tdo, n, h, i, d);
                    O[i * D + d] = ld(&e->to, n, h, i, d);
                }
            }
        /* logits, materialised, and their softmax */
        for (int64_t i = 0; i < L; i++) {
            float m = -INFINITY;
            for (int64_t j = 0; j < L; j++) {
                float s = 0;
                for (int64_t d = 0; d < D; d++) s += Q[i * D + d] * K[j * D + d];
                s = s * scale + (c->pair >= 0 ? e->mask[n * L + j] : 0.0f) +
                    (c->pair > 0 ? e->pair[(h * L + i) * L + j] : 0.0f);
                P[i * L + j] = s;
                m = fmaxf(m, s);
            }
            float sum = 0;
            for (int64_t j = 0; j < L; j++) {
                P[i * L + j] = expf(P[i * L + j] - m);
                sum += P[i * L + j];
            }
            for (int64_t j = 0; j < L; j++) P[i * L + j] /= sum;
        }
        if (!job->backward) {
            for (int64_t i = 0; i < L; i++) {
                for (int64_t d = 0; d < D; d++) O[i * D + d] = 0;
                for (int64_t j = 0; j < L; j++)
                    for (int64_t d = 0; d < D; d++) O[i * D + d] += P[i * L + j] * V[j * D + d];
                for (int64_t d = 0; d < D; d++) st(&e->to, n, h, i, d, O[i * D + d]);
            }
            continue;
        }
        /* backward: dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dO * O)), dQ, dK, dbias */
        float *dpair = job->dpair_part ? job->dpair_part + (size_t)ta->tid * (size_t)(c->H * L * L) : NULL;
        for (int64_t x = 0; x < L * D; x++) GQ[x] = GK[x] = GV[x] = 0;
        for (int64_t i = 0; i < L; i++) {
            float delta = 0;
            for (int64_t d = 0; d < D; d++) delta += DO[i * D + d] * O[i * D + d];
            for (int64_t j = 0; j < L; j++) {
                float s = 0;
                for (int64_t d = 0; d < D; d++) s += DO[i * D + d] * V[j * D + d];
                dP[i * L + j] = P[i * L + j] * (s - delta);
                if (dpair) dpair[(h * L + i) * L + j] += dP[i * L + j];
            }
        }
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < L; j++) {
                const float p = P[i * L + j], ds = dP[i * L + j];
                for (int64_t d = 0; d < D; d++) {
                    GV[j * D + d] += p * DO[i * D + d];
                    GQ[i * D + d] += ds * K[j * D + d];
                    GK[j * D + d] += ds * Q[i * D + d];
                }
            }
        for (int64_t i = 0; i < L; i++)
            for (int64_t d = 0; d < D; d++) {
                st(&e->tdq, n, h, i, d, GQ[i * D + d] * scale);
                st(&e->tdk, n, h, i, d, GK[i * D + d] * scale);
                st(&e->tdv, n, h, i, d, GV[i * D + d]);
            }
    }
    free(P);
    free(dP);
    free(buf);
    return NULL;
}

static void naive_run(evo_inputs *e, int64_t units, int threads, int backward)
{
    naive_job job;
    memset(&job, 0, sizeof job);
    job.e = e;
    job.units = units;
    job.backward = backward;
    job.threads = threads;
    if (backward && e->c->pair > 0)
        job.dpair_part = calloc((size_t)threads * (size_t)(e->c->H * e->c->L * e->c->L), sizeof(float));
    pthread_t th[64];
    naive_thread_arg args[64];
    if (threads > 64) threads = 64;
    for (int t = 0; t < threads; t++) {
        args[t].job = &job;
        args[t].tid = t;
        if (t) pthread_create(&th[t], NULL, naive_thread, &args[t]);
    }
    naive_thread(&args[0]);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
    free(job.dpair_part);
}

/* ---- float64 check of two (row, head) units ------------------------------------------ */

static double unit_error(evo_inputs *e, int bwd)
{
    const evo_case *c = e->c;
    const int64_t L = c->L, D = c->D;
    const double scale = 1.0 / sqrt((double)D);
    double *P = malloc(sizeof(double) * (size_t)(L * L)), *dS = malloc(sizeof(double) * (size_t)(L * L));
    double e2 = 0, r2 = 0;
    const int64_t units[2] = {0, c->N * c->H - 1};
    for (int u = 0; u < 2; u++) {
        const int64_t n = units[u] / c->H, h = units[u] % c->H;
        for (int64_t i = 0; i < L; i++) {
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < L; j++) {
                double s = 0;
                for (int64_t d = 0; d < D; d++) s += (double)ld(&e->tq, n, h, i, d) * ld(&e->tk, n, h, j, d);
                s = s * scale + (c->pair >= 0 ? e->mask[n * L + j] : 0.0) + (c->pair > 0 ? e->pair[(h * L + i) * L + j] : 0.0);
                P[i * L + j] = s;
                m = s > m ? s : m;
            }
            for (int64_t j = 0; j < L; j++) sum += (P[i * L + j] = exp(P[i * L + j] - m));
            for (int64_t j = 0; j < L; j++) P[i * L + j] /= sum;
        }
        if (!bwd) {
            for (int64_t i = 0; i < L; i++)
                for (int64_t d = 0; d < D; d++) {
                    double s = 0;
                    for (int64_t j = 0; j < L; j++) s += P[i * L + j] * ld(&e->tv, n, h, j, d);
                    double got = ld(&e->to, n, h, i, d);
                    e2 += (got - s) * (got - s);
                    r2 += s * s;
                }
            continue;
        }
        for (int64_t i = 0; i < L; i++) {
            double delta = 0, o;
            for (int64_t d = 0; d < D; d++) {
                o = 0;
                for (int64_t j = 0; j < L; j++) o += P[i * L + j] * ld(&e->tv, n, h, j, d);
                delta += o * ld(&e->tdo, n, h, i, d);
            }
            for (int64_t j = 0; j < L; j++) {
                double dp = 0;
                for (int64_t d = 0; d < D; d++) dp += (double)ld(&e->tdo, n, h, i, d) * ld(&e->tv, n, h, j, d);
                dS[i * L + j] = P[i * L + j] * (dp - delta);
            }
        }
        for (int64_t x = 0; x < L; x++)
            for (int64_t d = 0; d < D; d++) {
                double dq = 0, dk = 0, dv = 0;
                for (int64_t y = 0; y < L; y++) {
                    dq += dS[x * L + y] * ld(&e->tk, n, h, y, d) * scale;
                    dk += dS[y * L + x] * ld(&e->tq, n, h, y, d) * scale;
                    dv += P[y * L + x] * ld(&e->tdo, n, h, y, d);
                }
                double g[3] = {ld(&e->tdq, n, h, x, d), ld(&e->tdk, n, h, x, d), ld(&e->tdv, n, h, x, d)};
                double w[3] = {dq, dk, dv};
                for (int t = 0; t < 3; t++) {
                    e2 += (g[t] - w[t]) * (g[t] - w[t]);
                    r2 += w[t] * w[t];
                }
            }
    }
    free(P);
    free(dS);
    return r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
}

/* ---- the suite ----------------------------------------------------------------------- */

typedef struct run_arg {
    bench_run *b;
    evo_inputs *e;
    int backward;
    tprim_status st;
} run_arg;

static void run_tprim(void *arg, int rep)
{
    run_arg *a = arg;
    evo_inputs *e = a->e;
    tprim_status st;
    if (!a->backward) {
        e->pa.lse = &e->tlse;
        st = tprim_attention(a->b->ctx, &e->tq, &e->tk, &e->tv, &e->to, &e->pa);
    } else {
        tprim_attn_grads g = {&e->tdq, &e->tdk, &e->tdv, {NULL, e->c->pair > 0 ? &e->tdpair : NULL}};
        st = tprim_attention_backward(a->b->ctx, &e->tq, &e->tk, &e->tv, &e->to, &e->tdo, &e->tlse, &e->pa, &g);
    }
    if (st != TPRIM_OK) a->st = st;
}

typedef struct naive_arg {
    evo_inputs *e;
    int64_t units;
    int threads, backward;
} naive_arg;

static void run_naive(void *arg, int rep)
{
    naive_arg *a = arg;
    naive_run(a->e, a->units, a->threads, a->backward);
}

static void fill(bench_record *r, const evo_case *c, tprim_dtype dt, int threads)
{
    r->dtype = dt;
    r->threads = threads;
    r->B = c->N;
    r->Hq = r->Hkv = c->H;
    r->Sq = r->Sk = c->L;
    r->D = r->Dv = c->D;
    bench_extra_str(r, "bias", c->pair > 0 ? "mask[1,N,1,1,L]+pair[1,1,H,L,L] f32"
                               : c->pair == 0 ? "mask[1,N,1,1,L] f32" : "none");
    bench_extra_str(r, "layout", c->transposed ? "[1,L,N,H,D] memory (transposed view)" : "[1,N,H,L,D]");
}

static int core_cases(bench_run *b)
{
    static const tprim_dtype dts[2] = {TPRIM_F32, TPRIM_BF16};
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    int rc = 0;
    for (int ci = 0; ci < ncases; ci++)
        for (int di = 0; di < 2; di++) {
            const evo_case *c = &cases[ci];
            const tprim_dtype dt = dts[di];
            if (c->N >= 1024 && dt != TPRIM_F32) continue; /* the memory check needs f32 only */
            if (!bench_selected(b, c->name)) continue;
            for (int bwd = 0; bwd < 2; bwd++) {
                b->case_no++;
                bench_progress(b, "evoformer", c->name, bwd ? "backward" : "forward");
                evo_inputs e;
                inputs_make(&e, c, dt, 1);
                const double fflops = 4.0 * (double)c->N * (double)c->H * (double)c->L * (double)c->L * (double)c->D;
                const double flops = bwd ? 2.5 * fflops : fflops;
                const double es = (double)tprim_dtype_size(dt);
                double bytes = es * 4.0 * (double)(c->N * c->H * c->L * c->D) + 4.0 * (double)(c->N * c->L) +
                               (c->pair > 0 ? 4.0 * (double)(c->H * c->L * c->L) : 0.0);
                if (bwd) bytes *= 2.0;
                /* a context of its own, so that its memory peak is this case's alone */
                bench_run own = *b;
                if (tprim_ctx_create(&own.ctx) != TPRIM_OK ||
                    tprim_ctx_set_num_threads(own.ctx, b->threads) != TPRIM_OK) {
                    fprintf(stderr, "\n%s\n", tprim_ctx_create_error());
                    inputs_free(&e);
                    return 1;
                }
                run_arg ra = {&own, &e, 0, TPRIM_OK};
                run_tprim(&ra, 0); /* the forward provides out and lse for the backward */
                ra.backward = bwd;
                tprim_ctx_reset_stats(own.ctx);
                double ms = bench_median_ms(run_tprim, &ra, 1, b->quick ? 2 : 3, 50, b->quick ? 0.2 : 1.0);
                size_t peak = tprim_ctx_memory_peak(own.ctx);
                bench_record r;
                bench_record_init(&r, "evoformer", c->name, bwd ? "attention_backward" : "attention", "tprim");
                fill(&r, c, dt, b->threads);
                if (ra.st != TPRIM_OK) {
                    fprintf(stderr, "\n%s failed: %s\n", c->name, tprim_ctx_last_error(own.ctx));
                    rc = 1;
                } else {
                    const char *k = tprim_ctx_last_kernel(own.ctx, bwd ? TPRIM_OP_ATTENTION_BACKWARD : TPRIM_OP_ATTENTION);
                    snprintf(r.kernel, sizeof r.kernel, "%s", k ? k : "");
                    r.ms = ms;
                    r.gflops = flops / (ms * 1e-3) * 1e-9;
                    r.gbps = bytes / (ms * 1e-3) * 1e-9;
                    r.peak_frac = r.gflops / b->machine->peak.gflops;
                    r.peak_extra_bytes = (double)peak;
                }
                /* naive on a subset of (row, head) units, scaled */
                const int64_t total = c->N * c->H;
                const double unit = 4.0 * (double)c->L * (double)c->L * (double)c->D * (bwd ? 2.5 : 1.0);
                int64_t units = (int64_t)ceil((b->quick ? 0.3 : 1.0) * 1.0e9 * b->threads / unit);
                units = units < b->threads ? b->threads : units > total ? total : units;
                naive_arg na = {&e, units, b->threads, bwd};
                bench_progress(b, "evoformer", c->name, bwd ? "naive backward" : "naive forward");
                double nms = bench_median_ms(run_naive, &na, 0, 1, 1, 0.0) * (double)total / (double)units;
                bench_record n;
                bench_record_init(&n, "evoformer", c->name, bwd ? "attention_backward" : "attention", "naive");
                fill(&n, c, dt, b->threads);
                bench_extra_num(&n, "naive_units_timed", (double)units);
                n.ms = nms;
                n.gflops = flops / (nms * 1e-3) * 1e-9;
                n.peak_frac = n.gflops / b->machine->peak.gflops;
                n.speedup = 1.0;
                /* logits + probabilities of every (row, head) as OpenFold materialises them
                 * (f32), plus dP in the backward */
                n.peak_extra_bytes = 4.0 * (double)total * (double)c->L * (double)c->L * (bwd ? 3.0 : 2.0);
                if (!isnan(r.ms)) r.speedup = nms / r.ms;
                /* tprim against float64 on two (row, head) units: out, or dq, dk, dv */
                if (ra.st == TPRIM_OK) {
                    run_tprim(&ra, 0);
                    r.rel_err = unit_error(&e, bwd);
                }
                tprim_ctx_free(own.ctx);
                bench_add(b, &r);
                bench_add(b, &n);
                inputs_free(&e);
            }
        }
    return rc;
}

int suite_evoformer(bench_run *b)
{
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < ncases; i++)
        if (bench_selected(b, cases[i].name)) b->case_total += cases[i].N >= 1024 ? 2 : 4;
    if (bench_selected(b, "af3_triangle_module_n768")) b->case_total += 4;
    int rc = core_cases(b);
    return rc | suite_evoformer_module(b);
}
