/* test_attention_backward.c -- tprim_attention_backward: the float64 oracle checked by
 * finite differences, every backward kernel variant against the oracle (sizes, tails,
 * every option and bias shape, dtypes, layouts, fully masked rows), determinism across
 * thread counts, and every invalid input. */
#include "attn_case.h"
#include "oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static attn_case bcase(void)
{
    attn_case c;
    memset(&c, 0, sizeof c);
    c.nbd = 1;
    c.bd[0] = 2;
    c.Hq = 4;
    c.Hkv = 2;
    c.Sq = 29;
    c.Sk = 45;
    c.D = 24;
    c.Dv = 24;
    c.dt = TPRIM_F32;
    return c;
}

static int build_cases(attn_case *cs, int cap)
{
    int n = 0;
    static const int64_t sizes[] = {1, 3, 17, 100, 300};
    static const int64_t dims[] = {8, 32, 64, 1, 72, 128, 24, 16, 96, 40};
    int di = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b += 2) {
            attn_case c = bcase();
            c.nbd = 0;
            c.Hq = 2;
            c.Hkv = 1;
            c.Sq = sizes[a];
            c.Sk = sizes[b];
            c.D = c.Dv = dims[di++ % 10];
            c.causal = (a + b) & 1;
            ATTN_CASE_ADD(c);
        }
    {
        attn_case c = bcase();
        c.D = 32; c.Dv = 8; ATTN_CASE_ADD(c);
        c = bcase(); c.causal = 1; ATTN_CASE_ADD(c);
        c = bcase(); c.Sq = 60; c.Sk = 20; c.causal = 1; ATTN_CASE_ADD(c); /* fully masked rows */
        c = bcase(); c.use_window = 1; c.wl = 7; c.wr = 3; ATTN_CASE_ADD(c);
        c = bcase(); c.alibi = 1; c.causal = 1; ATTN_CASE_ADD(c);
        c = bcase(); c.scale = 0.7f; ATTN_CASE_ADD(c);
        c = bcase(); c.softcap = 3.0f; ATTN_CASE_ADD(c);
        c = bcase(); c.klen = 3; ATTN_CASE_ADD(c);
        c = bcase(); c.kmask = 1; ATTN_CASE_ADD(c);
        c = bcase(); c.kmask = 2; c.Sk = 260; c.causal = 1; ATTN_CASE_ADD(c);
        c = bcase(); c.kmask = 3; c.bias[0] = BIAS_PAIR; ATTN_CASE_ADD(c);
        for (int b = 1; b < BIAS_COUNT_; b++) {
            c = bcase();
            c.bias[0] = b;
            ATTN_CASE_ADD(c);
        }
        /* the OpenFold pair: mask bias [B,N,1,1,L] and pair bias [B,1,H,L,L] */
        c = bcase(); c.nbd = 2; c.bd[0] = 2; c.bd[1] = 3; c.Hq = c.Hkv = 2; c.Sq = c.Sk = 37; c.D = c.Dv = 16;
        c.bias[0] = BIAS_MASK; c.bias[1] = BIAS_PAIR; ATTN_CASE_ADD(c);
        c.layout = LAYOUT_MIXED; ATTN_CASE_ADD(c);
        c = bcase(); c.Hq = 8; c.Hkv = 1; c.Sq = 3; c.Sk = 150; ATTN_CASE_ADD(c);     /* MQA, decode-like */
        c = bcase(); c.Sq = 250; c.Sk = 230; c.D = c.Dv = 32; c.causal = 1; c.bias[0] = BIAS_FULL; ATTN_CASE_ADD(c);
        c = bcase(); c.layout = LAYOUT_BSHD; c.bias[0] = BIAS_2D; c.bias[1] = BIAS_ROWCONST; ATTN_CASE_ADD(c);
        c = bcase(); c.layout = LAYOUT_PADDED; c.klen = 1; c.causal = 1; c.alibi = 2; ATTN_CASE_ADD(c);
    }
    int nf = n;
    for (int i = 0; i < nf; i += 4) {
        attn_case c = cs[i];
        c.dt = TPRIM_BF16;
        ATTN_CASE_ADD(c);
        c.dt = TPRIM_F16;
        ATTN_CASE_ADD(c);
    }
    return n;
}

/* The oracle's gradient against central differences of the oracle's forward. */
static void check_oracle_fd(void)
{
    rng R = {99};
    int64_t qs[4] = {2, 2, 5, 3}, ks[4] = {2, 1, 6, 3}, vs[4] = {2, 1, 6, 4}, os[4] = {2, 2, 5, 4};
    int64_t bs[4] = {2, 1, 5, 6};
    gtensor q, k, v, g, bias;
    gt_make(&q, TPRIM_F64, 4, qs, NULL, 0);
    gt_make(&k, TPRIM_F64, 4, ks, NULL, 0);
    gt_make(&v, TPRIM_F64, 4, vs, NULL, 0);
    gt_make(&g, TPRIM_F64, 4, os, NULL, 0);
    gt_make(&bias, TPRIM_F64, 4, bs, NULL, 0);
    gt_fill_random(&q, &R, 1);
    gt_fill_random(&k, &R, 1);
    gt_fill_random(&v, &R, 1);
    gt_fill_random(&g, &R, 1);
    gt_fill_random(&bias, &R, 1);
    tprim_attn_params pa;
    memset(&pa, 0, sizeof pa);
    pa.softcap = 2.0f;
    pa.causal = 1;
    pa.bias[0] = &bias.t;
    double dq[60], dk[36], dv[48], db[60], out[80];
    oracle_attention_backward(&q.t, &k.t, &v.t, &pa, &g.t, dq, dk, dv, db, NULL);
    struct { gtensor *t; double *grad; const char *name; } params[4] = {
        {&q, dq, "q"}, {&k, dk, "k"}, {&v, dv, "v"}, {&bias, db, "bias"}};
    double worst = 0;
    for (int p = 0; p < 4; p++) {
        int64_t n = gt_numel(params[p].t);
        for (int64_t i = 0; i < n; i++) {
            double x0 = gt_get(params[p].t, i), h = 1e-6, f[2];
            for (int s = 0; s < 2; s++) {
                gt_set(params[p].t, i, x0 + (s ? h : -h));
                oracle_attention(&q.t, &k.t, &v.t, &pa, out, NULL);
                f[s] = 0;
                for (int64_t e = 0; e < 80; e++) f[s] += out[e] * gt_get(&g, e);
            }
            gt_set(params[p].t, i, x0);
            double fd = (f[1] - f[0]) / (2 * h), err = fabs(fd - params[p].grad[i]) / (1 + fabs(fd));
            if (err > worst) worst = err;
        }
    }
    CHECK(worst < 1e-6, "float64 oracle gradients match central differences (worst %.2g)", worst);
    gt_free(&q);
    gt_free(&k);
    gt_free(&v);
    gt_free(&g);
    gt_free(&bias);
}

static void check_determinism(tprim_ctx *ctx, const char *name)
{
    attn_case c = bcase();
    c.nbd = 2; c.bd[0] = 2; c.bd[1] = 3; c.Hq = c.Hkv = 2; c.Sq = c.Sk = 230; c.D = c.Dv = 32;
    c.bias[0] = BIAS_MASK; c.bias[1] = BIAS_PAIR; c.causal = 1; c.kmask = 2;
    char label[64];
    snprintf(label, sizeof label, "backward determinism[%s]", name);
    unsigned char *ref = NULL;
    size_t ref_n = 0;
    int nt = tprim_ctx_num_threads(ctx);
    for (int t = 1; t <= 2; t++) {
        tprim_ctx_set_num_threads(ctx, t);
        for (int rep = 0; rep < 2; rep++) {
            unsigned char *out = NULL;
            size_t bytes = 0;
            attn_case_run_backward(ctx, &c, 5, label, 0, &out, &bytes);
            if (!ref) {
                ref = out;
                ref_n = bytes;
                continue;
            }
            CHECK(out && bytes == ref_n && memcmp(out, ref, bytes) == 0,
                  "%s: gradient bits differ (threads %d, repeat %d)", label, t, rep);
            free(out);
        }
    }
    free(ref);
    tprim_ctx_set_num_threads(ctx, nt);
}

static void check_errors(tprim_ctx *ctx)
{
    float buf[2 * 4 * 8 * 16], o[2 * 4 * 8 * 16], g[2 * 4 * 8 * 16], l[2 * 4 * 8];
    float dq[2 * 4 * 8 * 16], dk[2 * 4 * 8 * 16], dv[2 * 4 * 8 * 16], db[8 * 8];
    rng R = {1};
    for (size_t i = 0; i < sizeof buf / 4; i++) buf[i] = (float)rng_uniform(&R);
    int64_t s4[4] = {2, 4, 8, 16}, s3[3] = {2, 4, 8}, sb[2] = {8, 8};
    tprim_tensor q, out, dout, lse, tdq, tdk, tdv, bias, tdb;
    tprim_tensor_init(&q, buf, TPRIM_F32, 4, s4, NULL);
    tprim_tensor_init(&out, o, TPRIM_F32, 4, s4, NULL);
    tprim_tensor_init(&dout, g, TPRIM_F32, 4, s4, NULL);
    tprim_tensor_init(&lse, l, TPRIM_F32, 3, s3, NULL);
    tprim_tensor_init(&tdq, dq, TPRIM_F32, 4, s4, NULL);
    tprim_tensor_init(&tdk, dk, TPRIM_F32, 4, s4, NULL);
    tprim_tensor_init(&tdv, dv, TPRIM_F32, 4, s4, NULL);
    tprim_tensor_init(&bias, buf, TPRIM_F32, 2, sb, NULL);
    tprim_tensor_init(&tdb, db, TPRIM_F32, 2, sb, NULL);
    tprim_attn_params pa;
    memset(&pa, 0, sizeof pa);
    pa.lse = &lse;
    CHECK(tprim_attention(ctx, &q, &q, &q, &out, &pa) == TPRIM_OK, "forward for the error tests");
    for (size_t i = 0; i < sizeof g / 4; i++) g[i] = (float)rng_uniform(&R);
    tprim_attn_grads gr = {&tdq, &tdk, &tdv, {NULL, NULL}};
    memset(dq, 0xff, sizeof dq); /* NaN poison: must survive every failed call */
    CHECK(tprim_attention_backward(ctx, &q, &q, &q, &out, &dout, &lse, NULL, &gr) == TPRIM_OK,
          "valid backward call: %s", tprim_ctx_last_error(ctx));
    struct {
        const char *what, *needle;
        tprim_status want;
    } cases[] = {
        {"grads NULL", "grads is NULL", TPRIM_ERR_NULL_POINTER},
        {"dq NULL", "grads->dq is NULL", TPRIM_ERR_NULL_POINTER},
        {"dout wrong shape", "dout dim 2 is 7", TPRIM_ERR_SHAPE},
        {"dk wrong dtype", "grads->dk is bf16", TPRIM_ERR_DTYPE},
        {"lse NULL", "lse is NULL", TPRIM_ERR_NULL_POINTER},
        {"lse wrong shape", "lse dim 1 is 3", TPRIM_ERR_SHAPE},
        {"lse wrong dtype", "lse is f16", TPRIM_ERR_DTYPE},
        {"dbias without bias", "no bias[0]", TPRIM_ERR_SHAPE},
        {"dbias wrong shape", "grads->dbias[0] dim 1 is 4", TPRIM_ERR_SHAPE},
        {"dbias not f32", "grads->dbias[0] is bf16", TPRIM_ERR_DTYPE},
        {"window < 0", "window_left is -2", TPRIM_ERR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tprim_attn_grads g2 = gr;
        tprim_tensor d2 = dout, l2 = lse, k2 = tdk, b2 = tdb;
        const tprim_tensor *lp = &l2;
        tprim_attn_params p2;
        memset(&p2, 0, sizeof p2);
        tprim_attn_grads *gp = &g2;
        switch (i) {
        case 0: gp = NULL; break;
        case 1: g2.dq = NULL; break;
        case 2: d2.shape[2] = 7; break;
        case 3: k2.dtype = TPRIM_BF16; g2.dk = &k2; break;
        case 4: lp = NULL; break;
        case 5: l2.shape[1] = 3; break;
        case 6: l2.dtype = TPRIM_F16; break;
        case 7: g2.dbias[0] = &tdb; break;
        case 8: p2.bias[0] = &bias; b2.shape[1] = 4; g2.dbias[0] = &b2; break;
        case 9: p2.bias[0] = &bias; b2.dtype = TPRIM_BF16; g2.dbias[0] = &b2; break;
        case 10: p2.use_window = 1; p2.window_left = -2; break;
        }
        memset(dq, 0xff, sizeof dq);
        tprim_status st = tprim_attention_backward(ctx, &q, &q, &q, &out, &d2, lp, &p2, gp);
        const char *msg = tprim_ctx_last_error(ctx);
        int untouched = 1;
        for (size_t e = 0; e < sizeof dq / 4; e++) untouched &= dq[e] != dq[e];
        CHECK(st == cases[i].want && strstr(msg, cases[i].needle) && untouched,
              "backward %s: %s (%s), dq untouched %d", cases[i].what, tprim_status_str(st), msg, untouched);
    }
}

void suite_attention_backward(void)
{
    check_oracle_fd();
    static attn_case cs[128];
    int n = build_cases(cs, 128);
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx")) return;
    int nk = tprim_kernel_count(TPRIM_OP_ATTENTION_BACKWARD), ran = 0;
    for (int i = 0; i < nk; i++) {
        tprim_kernel_desc kd;
        tprim_kernel_get(TPRIM_OP_ATTENTION_BACKWARD, i, &kd);
        if (!kd.runnable) continue;
        tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION_BACKWARD, kd.name);
        char label[64];
        snprintf(label, sizeof label, "attention_backward[%s]", kd.name);
        double worst[3] = {0, 0, 0};
        for (int j = 0; j < n; j++) {
            int refuse = strcmp(kd.name, "ref") != 0 && cs[j].softcap > 0.0f;
            double e = attn_case_run_backward(ctx, &cs[j], 500 + (uint64_t)j, label, refuse, NULL, NULL);
            int w = cs[j].dt == TPRIM_F32 ? 0 : cs[j].dt == TPRIM_BF16 ? 1 : 2;
            if (e > worst[w]) worst[w] = e;
        }
        if (g_verbose)
            printf("  %-8s %d cases, worst gradient error f32 %.2e, bf16 %.2e, f16 %.2e\n", kd.name, n,
                   worst[0], worst[1], worst[2]);
        check_determinism(ctx, kd.name);
        ran++;
    }
    CHECK(ran >= 2, "the reference and at least one SIMD backward kernel ran (%d)", ran);
    tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION_BACKWARD, NULL);
    check_errors(ctx);
    tprim_ctx_free(ctx);
}
