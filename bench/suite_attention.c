/* suite_attention.c -- the default workload: LLM and evoformer-like attention shapes in
 * f32, bf16 and f16. For each case: tprim's median time, GFLOP/s, fraction of the
 * measured peak, the naive baseline measured in the same run, the speed-up, and the
 * error against float64 on sampled rows.
 *
 * The two numbers of a case: flops = 2 (D + Dv) per visible (query, key) pair (causal
 * counts only the visible half); bytes = q, k, v and out once, plus the biases. */
#include "attn_bench.h"

#include <stdlib.h>
#include <string.h>

static const attn_shape shapes[] = {
    {"b1_h16_s2048_d128", 1, 16, 16, 2048, 128, 0, 0},
    {"b1_h16_s2048_d128_causal", 1, 16, 16, 2048, 128, 1, 0},
    {"gqa32_8_s2048_d128_causal", 1, 32, 8, 2048, 128, 1, 0},
    {"b1_h16_s2048_d64", 1, 16, 16, 2048, 64, 0, 0},
    {"b1_h16_s2048_d96", 1, 16, 16, 2048, 96, 0, 0},
    {"evo_n8_h8_s512_d32_bias", 8, 8, 8, 512, 32, 0, 1},
};
static const tprim_dtype dtypes[] = {TPRIM_F32, TPRIM_BF16, TPRIM_F16};

static double visible_pairs(const attn_shape *sh)
{
    return sh->causal ? (double)sh->S * (double)(sh->S + 1) / 2 : (double)sh->S * (double)sh->S;
}

double attn_shape_flops(const attn_shape *sh)
{
    return visible_pairs(sh) * 2.0 * (double)(2 * sh->D) * (double)(sh->B * sh->Hq);
}

double attn_shape_bytes(const attn_shape *sh, tprim_dtype dt)
{
    double bytes = (double)tprim_dtype_size(dt) *
                   (double)(2 * sh->B * sh->Hq * sh->S * sh->D + 2 * sh->B * sh->Hkv * sh->S * sh->D);
    if (sh->bias)
        bytes += (sh->bias == 2 ? (double)tprim_dtype_size(dt) : 4.0) * (double)(sh->B * sh->S + sh->Hq * sh->S * sh->S);
    return bytes;
}

void attn_set_alloc(attn_set *st, const attn_shape *sh, tprim_dtype dt, uint64_t seed)
{
    memset(st, 0, sizeof *st);
    size_t es = tprim_dtype_size(dt);
    int64_t nq = sh->B * sh->Hq * sh->S * sh->D, nk = sh->B * sh->Hkv * sh->S * sh->D;
    st->q = malloc((size_t)nq * es);
    st->k = malloc((size_t)nk * es);
    st->v = malloc((size_t)nk * es);
    st->out = malloc((size_t)nq * es);
    bench_fill(st->q, dt, nq, seed * 4 + 1, 1.0f);
    bench_fill(st->k, dt, nk, seed * 4 + 2, 1.0f);
    bench_fill(st->v, dt, nk, seed * 4 + 3, 1.0f);
    bench_fill(st->out, dt, nq, seed * 4 + 4, 1.0f);
    int64_t qs[4] = {sh->B, sh->Hq, sh->S, sh->D}, ks[4] = {sh->B, sh->Hkv, sh->S, sh->D};
    tprim_tensor_init(&st->tq, st->q, dt, 4, qs, NULL);
    tprim_tensor_init(&st->tk, st->k, dt, 4, ks, NULL);
    tprim_tensor_init(&st->tv, st->v, dt, 4, ks, NULL);
    tprim_tensor_init(&st->to, st->out, dt, 4, qs, NULL);
    st->pa.causal = sh->causal;
    if (sh->bias) {
        int64_t ms[4] = {sh->B, 1, 1, sh->S}, ps[4] = {1, sh->Hq, sh->S, sh->S};
        st->mask = malloc(sizeof(float) * (size_t)(sh->B * sh->S));
        st->pair = malloc(sizeof(float) * (size_t)(sh->Hq * sh->S * sh->S));
        bench_fill(st->pair, TPRIM_F32, sh->Hq * sh->S * sh->S, seed * 4 + 5, 2.0f);
        for (int64_t i = 0; i < sh->B * sh->S; i++) /* OpenFold: 1e9 * (mask - 1), a tenth masked */
            st->mask[i] = (i * 7919) % 10 == 3 ? -1e9f : 0.0f;
        tprim_tensor_init(&st->tmask, st->mask, TPRIM_F32, 4, ms, NULL);
        tprim_tensor_init(&st->tpair, st->pair, TPRIM_F32, 4, ps, NULL);
        st->pa.bias[0] = &st->tmask;
        st->pa.bias[1] = &st->tpair;
    }
}

void attn_set_free(attn_set *st)
{
    free(st->q);
    free(st->k);
    free(st->v);
    free(st->out);
    free(st->mask);
    free(st->pair);
}

typedef struct run_arg {
    bench_run *b;
    attn_set *sets;
    int nsets;
    tprim_status st;
} run_arg;

static void run_tprim(void *arg, int rep)
{
    run_arg *a = arg;
    attn_set *s = &a->sets[rep % a->nsets];
    tprim_status st = tprim_attention(a->b->ctx, &s->tq, &s->tk, &s->tv, &s->to, &s->pa);
    if (st != TPRIM_OK) a->st = st;
}

typedef struct naive_arg {
    const attn_shape *sh;
    tprim_dtype dt;
    attn_set *set;
    void *out;
    int64_t units;
    int threads;
} naive_arg;

static void run_naive(void *arg, int rep)
{
    naive_arg *a = arg;
    naive_attention(a->sh, a->dt, a->set, a->out, a->units, a->threads);
}

static void fill_common(bench_record *r, const attn_shape *sh, tprim_dtype dt, int threads)
{
    r->dtype = dt;
    r->threads = threads;
    r->B = sh->B;
    r->Hq = sh->Hq;
    r->Hkv = sh->Hkv;
    r->Sq = r->Sk = sh->S;
    r->D = r->Dv = sh->D;
    r->causal = sh->causal;
    if (sh->bias) bench_extra_str(r, "bias", "mask[B,1,1,S]+pair[1,H,S,S] f32");
}

int suite_attention(bench_run *b)
{
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]), ndt = 3;
    for (int si = 0; si < nshapes; si++) b->case_total += bench_selected(b, shapes[si].name) ? ndt : 0;
    int rc = 0;
    for (int si = 0; si < nshapes; si++)
        for (int di = 0; di < ndt; di++) {
            const attn_shape *sh = &shapes[si];
            const tprim_dtype dt = dtypes[di];
            if (!bench_selected(b, sh->name)) continue;
            b->case_no++;
            bench_progress(b, "attention", sh->name, tprim_dtype_name(dt));
            const double flops = attn_shape_flops(sh), bytes = attn_shape_bytes(sh, dt);
            /* enough input sets that rotating among them defeats the last-level cache */
            const double set_bytes = bytes;
            int nsets = (int)ceil(2.0 * (double)b->machine->hw.l3_bytes / set_bytes);
            nsets = nsets < 1 ? 1 : nsets > 4 ? 4 : nsets;
            attn_set sets[4];
            for (int s = 0; s < nsets; s++) attn_set_alloc(&sets[s], sh, dt, (uint64_t)(si * 10 + di * 100 + s));

            /* tprim */
            run_arg ra = {b, sets, nsets, TPRIM_OK};
            double ms = bench_median_ms(run_tprim, &ra, 1, b->quick ? 3 : 5, 200, b->quick ? 0.3 : 1.5);
            bench_record r;
            bench_record_init(&r, "attention", sh->name, "attention", "tprim");
            fill_common(&r, sh, dt, b->threads);
            if (ra.st != TPRIM_OK) {
                fprintf(stderr, "\ntprim_attention failed on %s: %s\n", sh->name,
                        tprim_ctx_last_error(b->ctx));
                rc = 1;
            } else {
                const char *k = tprim_ctx_last_kernel(b->ctx, TPRIM_OP_ATTENTION);
                snprintf(r.kernel, sizeof r.kernel, "%s", k ? k : "");
                r.ms = ms;
                r.gflops = flops / (ms * 1e-3) * 1e-9;
                r.gbps = bytes / (ms * 1e-3) * 1e-9;
                r.peak_frac = r.gflops / b->machine->peak.gflops;
                /* the last call wrote sets[(reps - 1) % nsets]; recompute set 0 to check it */
                run_tprim(&ra, 0);
                int64_t units[3] = {0, (sh->B * sh->Hq) / 2, sh->B * sh->Hq - 1};
                r.rel_err = oracle_sample_err(sh, dt, &sets[0], sets[0].out, units, 3, b->quick ? 4 : 12);
            }

            /* naive, on enough (batch, head) units for about a second; the time is
             * scaled to all units (each unit is the same independent work) */
            const int64_t total_units = sh->B * sh->Hq;
            const double unit_flops = 2.0 * (double)sh->S * (double)sh->S * (double)(2 * sh->D);
            const double target_s = b->quick ? 0.3 : 1.0, est_rate = 1.5e9 * b->threads;
            int64_t units = (int64_t)ceil(target_s * est_rate / unit_flops);
            if (units < b->threads) units = b->threads;
            if (units > total_units) units = total_units;
            bench_progress(b, "attention", sh->name, "naive");
            naive_arg na = {sh, dt, &sets[0], sets[0].out, units, b->threads};
            double nms = bench_median_ms(run_naive, &na, 0, b->quick ? 1 : 3, b->quick ? 1 : 3, 0.0);
            nms *= (double)total_units / (double)units;
            bench_record n;
            bench_record_init(&n, "attention", sh->name, "attention", "naive");
            fill_common(&n, sh, dt, b->threads);
            bench_extra_num(&n, "naive_units_timed", (double)units);
            n.ms = nms;
            n.gflops = flops / (nms * 1e-3) * 1e-9;
            n.gbps = bytes / (nms * 1e-3) * 1e-9;
            n.peak_frac = n.gflops / b->machine->peak.gflops;
            n.speedup = 1.0;
            int64_t nunit[1] = {0};
            n.rel_err = oracle_sample_err(sh, dt, &sets[0], sets[0].out, nunit, 1, b->quick ? 4 : 12);
            if (!isnan(r.ms)) r.speedup = nms / r.ms;
            bench_add(b, &r);
            bench_add(b, &n);
            for (int s = 0; s < nsets; s++) attn_set_free(&sets[s]);
        }
    return rc;
}
