/* test_attention.c -- every attention kernel variant this machine can run, against the
 * float64 oracle: sizes and tails, every head dim, every option alone and combined,
 * every dtype and layout, fully masked rows, determinism, statistics. */
#include "attn_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static attn_case base_case(void)
{
    attn_case c;
    memset(&c, 0, sizeof c);
    c.nbd = 1;
    c.bd[0] = 2;
    c.Hq = 4;
    c.Hkv = 2;
    c.Sq = 33;
    c.Sk = 70;
    c.D = 40;
    c.Dv = 40;
    c.dt = TPRIM_F32;
    return c;
}

/* The case table. Kept small enough to run under qemu and the sanitizers. */
int attn_build_cases(attn_case *cs, int cap)
{
    int n = 0;
    /* A. every (Sq, Sk) from the tail sizes, head dims rotating, causal every other */
    static const int64_t sizes[] = {1, 3, 17, 100, 1000};
    static const int64_t dims[] = {64, 72, 24, 128, 8, 96, 80, 1, 200, 256};
    int di = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) {
            attn_case c = base_case();
            c.nbd = 0;
            c.Sq = sizes[a];
            c.Sk = sizes[b];
            c.D = c.Dv = dims[di++ % 10];
            c.Hq = 2;
            c.Hkv = 1;
            if (c.Sq * c.Sk >= 100000) { /* keep the oracle cheap */
                c.Hq = c.Hkv = 1;
                if (c.D > 64) c.D = c.Dv = 64;
            }
            c.causal = (a + b) & 1;
            c.lse = 1;
            ATTN_CASE_ADD(c);
        }
    /* B. every head dim, Dv different from D too, BSHD layout */
    for (int i = 0; i < 10; i++) {
        attn_case c = base_case();
        c.Sq = 17;
        c.Sk = 100;
        c.D = dims[i];
        c.Dv = (i & 1) ? dims[(i + 3) % 10] : dims[i];
        c.layout = LAYOUT_BSHD;
        ATTN_CASE_ADD(c);
    }
    /* C. each option alone */
    {
        attn_case c = base_case();
        c.causal = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.use_window = 1; c.wl = 10; c.wr = 5; ATTN_CASE_ADD(c);
        c = base_case(); c.use_window = 1; c.wl = 0; c.wr = 0; ATTN_CASE_ADD(c);
        c = base_case(); c.use_window = 1; c.wl = 7; c.wr = 1000; ATTN_CASE_ADD(c);
        c = base_case(); c.use_window = 1; c.wl = 3; c.wr = 2; c.causal = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.softcap = 5.0f; ATTN_CASE_ADD(c);
        c = base_case(); c.softcap = 0.5f; c.scale = 2.0f; ATTN_CASE_ADD(c);
        c = base_case(); c.scale = 0.3f; ATTN_CASE_ADD(c);
        c = base_case(); c.alibi = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.alibi = 2; c.causal = 1; ATTN_CASE_ADD(c);
        for (int b = 1; b < BIAS_COUNT_; b++) {
            c = base_case();
            c.bias[0] = b;
            ATTN_CASE_ADD(c);
        }
        c = base_case(); c.bias[1] = BIAS_PAIR; ATTN_CASE_ADD(c);
        c = base_case(); c.bias[0] = BIAS_MASK; c.bias[1] = BIAS_PAIR; ATTN_CASE_ADD(c);
        c = base_case(); c.klen = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.klen = 2; c.causal = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.klen = 3; c.lse = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.lse = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.kmask = 1; c.lse = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.kmask = 2; c.lse = 1; c.Sk = 300; ATTN_CASE_ADD(c);
        c = base_case(); c.kmask = 3; c.causal = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.nbd = 2; c.bd[0] = 2; c.bd[1] = 3; c.Hq = c.Hkv = 2; c.Sk = 200;
        c.kmask = 2; c.bias[0] = BIAS_MASK; c.bias[1] = BIAS_PAIR; c.lse = 1; ATTN_CASE_ADD(c);
    }
    /* D. heads and batch dims */
    {
        attn_case c = base_case();
        c.Hq = 8; c.Hkv = 1; ATTN_CASE_ADD(c);                         /* MQA */
        c = base_case(); c.Hq = c.Hkv = 3; ATTN_CASE_ADD(c);            /* MHA */
        c = base_case(); c.Hq = 6; c.Hkv = 2; c.Sq = 1; c.Sk = 300; ATTN_CASE_ADD(c); /* GQA decode */
        c = base_case(); c.Hq = 32; c.Hkv = 4; c.Sq = 2; c.Sk = 50; c.causal = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.nbd = 0; ATTN_CASE_ADD(c);
        c = base_case(); c.nbd = 2; c.bd[0] = 2; c.bd[1] = 3; c.Hq = c.Hkv = 2; ATTN_CASE_ADD(c);
        c = base_case(); c.nbd = 3; c.bd[0] = 1; c.bd[1] = 2; c.bd[2] = 2; c.Hq = 2; c.Hkv = 1;
        c.bias[0] = BIAS_MASK; c.bias[1] = BIAS_PAIR; c.klen = 1; c.alibi = 2; ATTN_CASE_ADD(c);
    }
    /* E. masking corner cases */
    {
        attn_case c = base_case();
        c.Sq = 90; c.Sk = 40; c.causal = 1; c.lse = 1; ATTN_CASE_ADD(c);  /* top rows see nothing */
        c = base_case(); c.Sk = 0; c.lse = 1; ATTN_CASE_ADD(c);            /* no keys at all */
        c = base_case(); c.Sq = 0; ATTN_CASE_ADD(c);                       /* nothing to do */
        c = base_case(); c.bias[0] = BIAS_NEG_INF; c.lse = 1; ATTN_CASE_ADD(c);
        c = base_case(); c.use_window = 1; c.wl = 0; c.wr = 0; c.Sq = 70; c.klen = 3; c.lse = 1; ATTN_CASE_ADD(c);
    }
    /* F. layouts with everything on */
    for (int layout = 0; layout < 4; layout++) {
        attn_case c = base_case();
        c.layout = layout;
        c.causal = 1;
        c.use_window = 1;
        c.wl = 20;
        c.wr = 0;
        c.softcap = 8.0f;
        c.alibi = 1;
        c.bias[0] = BIAS_MASK;
        c.bias[1] = BIAS_FULL;
        c.klen = 1;
        c.kmask = 1;
        c.lse = 1;
        ATTN_CASE_ADD(c);
    }
    /* G. the low-precision dtypes over a selection of the above */
    int nf32 = n;
    for (int dt = 1; dt <= 2; dt++)
        for (int i = 0; i < nf32; i += 3) {
            attn_case c = cs[i];
            c.dt = dt == 1 ? TPRIM_BF16 : TPRIM_F16;
            if (c.Sq * c.Sk >= 100000) continue;
            ATTN_CASE_ADD(c);
        }
    {
        attn_case c = base_case();
        c.dt = TPRIM_BF16; c.bias[0] = BIAS_QTYPE_T; c.bias[1] = BIAS_PAIR; c.lse = 1; ATTN_CASE_ADD(c);
        c.dt = TPRIM_F16; c.layout = LAYOUT_MIXED; ATTN_CASE_ADD(c);
    }
    return n;
}

static void run_variant(tprim_ctx *ctx, const char *name, const attn_case *cs, int n)
{
    char label[64];
    snprintf(label, sizeof label, "attention[%s]", name);
    uint64_t before = tprim_ctx_kernel_calls(ctx, TPRIM_OP_ATTENTION, name);
    int ok_runs = 0;
    double worst[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        double rel = attn_case_run(ctx, &cs[i], 1000 + (uint64_t)i, label, NULL, NULL);
        if (rel >= 0) {
            ok_runs++;
            int w = cs[i].dt == TPRIM_F32 ? 0 : cs[i].dt == TPRIM_BF16 ? 1 : 2;
            if (rel > worst[w]) worst[w] = rel;
        }
    }
    uint64_t after = tprim_ctx_kernel_calls(ctx, TPRIM_OP_ATTENTION, name);
    CHECK(after - before == (uint64_t)ok_runs, "%s: statistics counted %llu calls, expected %d",
          label, (unsigned long long)(after - before), ok_runs);
    const char *last = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
    CHECK(last && strcmp(last, name) == 0, "%s: last kernel is %s", label, last ? last : "(none)");
    if (g_verbose)
        printf("  %-8s %d cases, worst relative error f32 %.2e, bf16 %.2e, f16 %.2e\n", name, n,
               worst[0], worst[1], worst[2]);
}

/* Same inputs, 1 and 2 threads, twice each: the same bits every time. */
static void check_determinism(tprim_ctx *ctx, const char *name)
{
    attn_case c = base_case();
    c.Sq = 200;
    c.Sk = 300;
    c.causal = 1;
    c.bias[0] = BIAS_FULL;
    unsigned char *ref = NULL;
    size_t ref_n = 0;
    char label[64];
    snprintf(label, sizeof label, "determinism[%s]", name);
    int nt = tprim_ctx_num_threads(ctx);
    for (int t = 1; t <= 2; t++) {
        tprim_ctx_set_num_threads(ctx, t);
        for (int rep = 0; rep < 2; rep++) {
            unsigned char *out = NULL;
            size_t bytes = 0;
            attn_case_run(ctx, &c, 77, label, &out, &bytes);
            if (!ref) {
                ref = out;
                ref_n = bytes;
                continue;
            }
            CHECK(bytes == ref_n && memcmp(out, ref, bytes) == 0,
                  "%s: output bits differ (threads %d, repeat %d)", label, t, rep);
            free(out);
        }
    }
    free(ref);
    tprim_ctx_set_num_threads(ctx, nt);
}

void suite_attention(void)
{
    static attn_case cs[256];
    int n = attn_build_cases(cs, 256);
    CHECK(n < 256, "the case table is full (%d): cases were dropped", n);
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx: %s", tprim_ctx_create_error())) return;
    int nk = tprim_kernel_count(TPRIM_OP_ATTENTION);
    int ran = 0;
    for (int i = 0; i < nk; i++) {
        tprim_kernel_desc kd;
        tprim_kernel_get(TPRIM_OP_ATTENTION, i, &kd);
        if (strcmp(kd.family, "cuda") == 0) continue; /* tests/test_cuda.c */
        if (!kd.runnable) {
            printf("  attention kernel %s: not runnable on this machine, skipped\n", kd.name);
            continue;
        }
        CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, kd.name) == TPRIM_OK, "pin %s",
              kd.name);
        run_variant(ctx, kd.name, cs, n);
        check_determinism(ctx, kd.name);
        ran++;
    }
    CHECK(ran >= 2, "at least the reference and one SIMD kernel ran (%d ran)", ran);
    /* automatic choice picks the highest-priority runnable kernel */
    tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, NULL);
    attn_case c = base_case();
    attn_case_run(ctx, &c, 5, "attention[auto]", NULL, NULL);
    const char *best = NULL;
    int best_prio = -1;
    for (int i = 0; i < nk; i++) {
        tprim_kernel_desc kd;
        tprim_kernel_get(TPRIM_OP_ATTENTION, i, &kd);
        if (kd.runnable && strcmp(kd.family, "cuda") != 0 && kd.priority > best_prio) {
            best_prio = kd.priority;
            best = kd.name;
        }
    }
    const char *last = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
    CHECK(last && best && strcmp(last, best) == 0, "auto dispatch ran %s, best runnable is %s",
          last ? last : "(none)", best ? best : "(none)");
    tprim_ctx_free(ctx);
}
