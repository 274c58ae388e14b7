/* suite_cuda.c -- `tprim bench --device cuda`: attention and evoformer shapes on GPU 0.
 * Inputs are made on the host (the same generator as the CPU suites), copied to the
 * device once; each timed repetition is one call and a stream synchronisation, so a
 * result includes the launch. The error is measured on sampled rows against the
 * float64 oracle from the host copies. Peers (PyTorch SDPA, plain PyTorch) are timed
 * by bench/gpu/torch_peers.py in the same run of bench/gpu/run.sh.
 *
 * The two numbers of a case: flops 2 (D + Dv) per visible pair, at the GPU's matrix
 * rate (--gpu-peak, measured by the peers script); bytes q, k, v, out once each (+ the
 * biases once), at the copy bandwidth this suite measures. */
#include "attn_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const attn_shape attn_shapes[] = {
    {"b4_h16_s4096_d128", 4, 16, 16, 4096, 128, 0, 0},
    {"b4_h16_s4096_d128_causal", 4, 16, 16, 4096, 128, 1, 0},
    {"b4_h16_s4096_d64", 4, 16, 16, 4096, 64, 0, 0},
    {"b2_h16_s4096_d256", 2, 16, 16, 4096, 256, 0, 0},
    {"gqa32_8_s8192_d128_causal", 1, 32, 8, 8192, 128, 1, 0},
    {"b8_h16_s4096_d32", 8, 16, 16, 4096, 32, 0, 0}, /* the plain D = 32 kernel (no bias) */
};
/* evoformer: B is the flattened batch B x N; the mask bias is [B*N, 1, 1, L] and the
 * pair bias [1, H, L, L] is shared by every row (OpenFold's [B, N, 1, 1, L] and
 * [B, 1, H, L, L] with B = 1). The biases are in the input dtype (bf16, as OpenFold's
 * bf16 runs make them and as the PyTorch peers take them), or f32 (_f32bias: with bf16,
 * f16 and f32 inputs, the last as OpenFold runs in f32). */
static const attn_shape evo_shapes[] = {
    {"tri_start_n768", 768, 4, 4, 768, 32, 0, 2},
    {"tri_start_n768_f32bias", 768, 4, 4, 768, 32, 0, 1},
    {"msa_row_n512_l384", 512, 8, 8, 384, 32, 0, 2},
    {"msa_row_n512_l384_f32bias", 512, 8, 8, 384, 32, 0, 1},
};

typedef struct dev_set {
    attn_set d;  /* views of device memory */
    void *mem[6];
} dev_set;

static void *to_dev(const void *h, size_t bytes, void **slot, int *ok)
{
    *slot = NULL;
    if (!h) return NULL;
    if (tprim_cuda_malloc(0, bytes, slot) != TPRIM_OK ||
        tprim_cuda_memcpy(*slot, h, bytes, TPRIM_COPY_HOST_TO_DEVICE) != TPRIM_OK)
        *ok = 0;
    return *slot;
}

/* A bias to the device in dtype bdt: a 16-bit copy is made on the host, and the host's
 * f32 values are replaced by the rounded ones, so that the oracle sees what the GPU
 * sees. bf16 only (the -1e9 mask bias has no f16 value). */
static void *bias_to_dev(float *h, size_t n, tprim_dtype bdt, void **slot, int *ok)
{
    if (bdt == TPRIM_F32) return to_dev(h, n * sizeof(float), slot, ok);
    uint16_t *t = malloc(n * 2);
    if (!t) {
        *ok = 0;
        *slot = NULL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &h[i], 4);
        t[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        u = (uint32_t)t[i] << 16;
        memcpy(&h[i], &u, 4);
    }
    void *d = to_dev(t, n * 2, slot, ok);
    free(t);
    return d;
}

static int dev_make(dev_set *ds, attn_set *h, const attn_shape *sh, tprim_dtype dt)
{
    memset(ds, 0, sizeof *ds);
    const size_t es = tprim_dtype_size(dt);
    const size_t nq = (size_t)(sh->B * sh->Hq * sh->S * sh->D) * es;
    const size_t nk = (size_t)(sh->B * sh->Hkv * sh->S * sh->D) * es;
    int ok = 1;
    ds->d = *h;
    ds->d.q = to_dev(h->q, nq, &ds->mem[0], &ok);
    ds->d.k = to_dev(h->k, nk, &ds->mem[1], &ok);
    ds->d.v = to_dev(h->v, nk, &ds->mem[2], &ok);
    ds->d.out = to_dev(h->out, nq, &ds->mem[3], &ok);
    const tprim_dtype bdt = sh->bias == 2 ? dt : TPRIM_F32;
    if (sh->bias) {
        ds->d.mask = bias_to_dev(h->mask, (size_t)(sh->B * sh->S), bdt, &ds->mem[4], &ok);
        ds->d.pair = bias_to_dev(h->pair, (size_t)(sh->Hq * sh->S * sh->S), bdt, &ds->mem[5], &ok);
        ds->d.tmask.dtype = ds->d.tpair.dtype = bdt;
    }
    tprim_tensor *t[6] = {&ds->d.tq, &ds->d.tk, &ds->d.tv, &ds->d.to, &ds->d.tmask, &ds->d.tpair};
    void *p[6] = {ds->d.q, ds->d.k, ds->d.v, ds->d.out, ds->d.mask, ds->d.pair};
    for (int i = 0; i < 6; i++) {
        t[i]->data = p[i];
        t[i]->device = TPRIM_DEVICE_CUDA;
        t[i]->device_id = 0;
    }
    ds->d.pa.bias[0] = sh->bias ? &ds->d.tmask : NULL;
    ds->d.pa.bias[1] = sh->bias ? &ds->d.tpair : NULL;
    return ok;
}

static void dev_free(dev_set *ds)
{
    for (int i = 0; i < 6; i++) tprim_cuda_free(ds->mem[i]);
}

typedef struct dev_arg {
    tprim_ctx *ctx;
    dev_set *s;
    tprim_status st;
} dev_arg;

static void run_dev(void *arg, int rep)
{
    dev_arg *a = arg;
    (void)rep;
    attn_set *s = &a->s->d;
    tprim_status st = tprim_attention(a->ctx, &s->tq, &s->tk, &s->tv, &s->to, &s->pa);
    if (st == TPRIM_OK) st = tprim_ctx_synchronize(a->ctx);
    if (st != TPRIM_OK) a->st = st;
}

/* device-to-device copy of 1 GiB, bytes read + written per second */
static double measure_bandwidth(tprim_ctx *ctx)
{
    const size_t n = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    double best = 0;
    if (tprim_cuda_malloc(0, n, &a) == TPRIM_OK && tprim_cuda_malloc(0, n, &b) == TPRIM_OK) {
        tprim_cuda_memcpy(b, a, n, TPRIM_COPY_DEVICE_TO_DEVICE);
        for (int i = 0; i < 5; i++) {
            double t0 = now_sec();
            tprim_cuda_memcpy(b, a, n, TPRIM_COPY_DEVICE_TO_DEVICE);
            tprim_ctx_synchronize(ctx);
            double gbps = 2.0 * (double)n / (now_sec() - t0) * 1e-9;
            if (gbps > best) best = gbps;
        }
    }
    tprim_cuda_free(a);
    tprim_cuda_free(b);
    return best;
}

static int run_case(bench_run *b, const char *suite, const attn_shape *sh, tprim_dtype dt, int si)
{
    b->case_no++;
    bench_progress(b, suite, sh->name, tprim_dtype_name(dt));
    attn_set h;
    attn_set_alloc(&h, sh, dt, (uint64_t)(si * 10 + (int)dt));
    dev_set ds;
    int rc = 0;
    bench_record r;
    bench_record_init(&r, suite, sh->name, "attention", "tprim");
    r.dtype = dt;
    r.threads = 0;
    r.B = sh->B, r.Hq = sh->Hq, r.Hkv = sh->Hkv, r.Sq = r.Sk = sh->S, r.D = r.Dv = sh->D;
    r.causal = sh->causal;
    bench_extra_str(&r, "device", "cuda:0");
    if (sh->bias)
        bench_extra_str(&r, "bias", sh->bias == 2 ? "mask[B*N,1,1,L]+pair[1,H,L,L] in the input dtype"
                                                  : "mask[B*N,1,1,L]+pair[1,H,L,L] f32");
    if (!dev_make(&ds, &h, sh, dt)) {
        fprintf(stderr, "\n%s %s: out of device memory\n", sh->name, tprim_dtype_name(dt));
        dev_free(&ds);
        attn_set_free(&h);
        return 1;
    }
    dev_arg a = {b->ctx, &ds, TPRIM_OK};
    double ms = bench_median_ms(run_dev, &a, 3, b->quick ? 5 : 10, 200, b->quick ? 0.3 : 1.0);
    if (a.st != TPRIM_OK) {
        fprintf(stderr, "\ntprim_attention failed on %s (cuda): %s\n", sh->name,
                tprim_ctx_last_error(b->ctx));
        rc = 1;
    } else {
        const double flops = attn_shape_flops(sh), bytes = attn_shape_bytes(sh, dt);
        const size_t es = tprim_dtype_size(dt);
        const char *k = tprim_ctx_last_kernel(b->ctx, TPRIM_OP_ATTENTION);
        snprintf(r.kernel, sizeof r.kernel, "%s", k ? k : "");
        r.ms = ms;
        r.gflops = flops / (ms * 1e-3) * 1e-9;
        r.gbps = bytes / (ms * 1e-3) * 1e-9;
        r.peak_frac = b->gpu_tflops > 0 ? r.gflops / (b->gpu_tflops * 1e3) : NAN;
        bench_extra_num(&r, "floor_ms_flops", b->gpu_tflops > 0 ? flops / (b->gpu_tflops * 1e12) * 1e3 : NAN);
        bench_extra_num(&r, "floor_ms_bytes", b->gpu_gbps > 0 ? bytes / (b->gpu_gbps * 1e9) * 1e3 : NAN);
        r.peak_extra_bytes = 0; /* the CUDA kernels take no workspace */
        /* the error, on sampled rows of three (batch, head) units */
        size_t ob = (size_t)(sh->B * sh->Hq * sh->S * sh->D) * es;
        if (tprim_cuda_memcpy(h.out, ds.d.out, ob, TPRIM_COPY_DEVICE_TO_HOST) == TPRIM_OK) {
            int64_t units[3] = {0, (sh->B * sh->Hq) / 2, sh->B * sh->Hq - 1};
            r.rel_err = oracle_sample_err(sh, dt, &h, h.out, units, 3, b->quick ? 4 : 16);
        }
    }
    bench_add(b, &r);
    dev_free(&ds);
    attn_set_free(&h);
    return rc;
}

/* dtypes a shape runs in (dts[0 .. n)): f32 inputs on the first attention shape only;
 * evoformer biases in the input dtype: bf16 only (-1e9 has no f16 value); f32 biases:
 * bf16, f16 and f32 inputs */
static int attn_ndt(int i) { return i == 0 ? 3 : 2; }
static int evo_ndt(const attn_shape *sh) { return sh->bias == 2 ? 1 : 3; }

int suite_cuda(bench_run *b, const char *suite)
{
    if (tprim_cuda_device_count() == 0) {
        fprintf(stderr, "tprim bench --device cuda: no CUDA GPU on this machine\n");
        return 1;
    }
    b->gpu_gbps = measure_bandwidth(b->ctx);
    const int all = strcmp(suite, "all") == 0;
    const int na = (int)(sizeof attn_shapes / sizeof attn_shapes[0]);
    const int ne = (int)(sizeof evo_shapes / sizeof evo_shapes[0]);
    const tprim_dtype dts[3] = {TPRIM_BF16, TPRIM_F16, TPRIM_F32};
    int rc = 0;
    if (all || strcmp(suite, "attention") == 0) {
        for (int i = 0; i < na; i++) b->case_total += bench_selected(b, attn_shapes[i].name) ? attn_ndt(i) : 0;
    }
    if (all || strcmp(suite, "evoformer") == 0)
        for (int i = 0; i < ne; i++)
            b->case_total += bench_selected(b, evo_shapes[i].name) ? evo_ndt(&evo_shapes[i]) : 0;
    if (all || strcmp(suite, "attention") == 0)
        for (int i = 0; i < na; i++) {
            if (!bench_selected(b, attn_shapes[i].name)) continue;
            for (int d = 0; d < attn_ndt(i); d++)
                rc |= run_case(b, "attention", &attn_shapes[i], dts[d], i);
        }
    if (all || strcmp(suite, "evoformer") == 0)
        for (int i = 0; i < ne; i++) {
            if (!bench_selected(b, evo_shapes[i].name)) continue;
            for (int d = 0; d < evo_ndt(&evo_shapes[i]); d++)
                rc |= run_case(b, "evoformer", &evo_shapes[i], dts[d], 100 + i);
        }
    return rc;
}
