/* test_cuda.c -- the CUDA attention kernels against the float64 oracle, on the GPU.
 * The whole forward case table of test_attention.c runs through each CUDA kernel: the
 * tensor-core kernel ("cuda") in bf16 and f16 (every f32 case of the table is run in
 * both, and in f32 on its tf32 path where max(D, Dv) <= 128), the f32 kernel
 * ("cuda_simt") in the table's own dtypes, and the automatic
 * choice; every tensor is mirrored in device memory with its guard bytes (attn_case.c),
 * outputs are poisoned, and larger shapes exercise several query and key tiles, the
 * shared-bias schedule and the vector and strided load paths. Without a GPU the suite
 * says so and checks only that CUDA tensors are refused cleanly. */
#include "attn_case.h"
#include "cuda/evo_plan.h"
#include "cuda/fast_div.h"
#include "cuda/scale_units.h"
#include "cuda/tmap_plan.h"
#include "cuda/tf32_split.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t dmax(const attn_case *c) { return c->D > c->Dv ? c->D : c->Dv; }

static int add_gpu_cases(attn_case *cs, int n, int cap)
{
    attn_case c;
    /* f32 on the tf32 path: several tiles of each configuration (plain D = 128 causal
     * with lse; D = 64 with window, ALiBi, soft-cap and key lengths; the evoformer shape
     * with f32 mask and pair biases, staged; the full path at D = 32 and 128 below, whose
     * kernels no case of the CPU table reaches in f32) */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 4, c.Hkv = 2, c.Sq = 300, c.Sk = 650, c.D = c.Dv = 128;
    c.dt = TPRIM_F32, c.causal = 1, c.lse = 1;
    ATTN_CASE_ADD(c);
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 4, c.Hkv = 1, c.Sq = 200, c.Sk = 333, c.D = 64, c.Dv = 48;
    c.dt = TPRIM_F32, c.use_window = 1, c.wl = 90, c.wr = 10, c.alibi = 1, c.softcap = 15.0f;
    c.klen = 3, c.lse = 1, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    memset(&c, 0, sizeof c);
    c.nbd = 2, c.bd[0] = 1, c.bd[1] = 5, c.Hq = c.Hkv = 4, c.Sq = c.Sk = 150, c.D = c.Dv = 32;
    c.dt = TPRIM_F32, c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR, c.lse = 1;
    ATTN_CASE_ADD(c);
    c.layout = LAYOUT_PADDED, c.Sq = 70; /* strided rows: the scalar loads */
    ATTN_CASE_ADD(c);
    /* the full path without staged biases at kD = 32 (ALiBi, soft-cap, key mask) and at
     * kD = 128 (-inf bias entries, a fully masked row, key mask) */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 4, c.Hkv = 2, c.Sq = 170, c.Sk = 230, c.D = 32, c.Dv = 24;
    c.dt = TPRIM_F32, c.alibi = 1, c.softcap = 10.0f, c.kmask = 2, c.lse = 1, c.causal = 1;
    ATTN_CASE_ADD(c);
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 2, c.Hkv = 1, c.Sq = 140, c.Sk = 190, c.D = c.Dv = 96;
    c.dt = TPRIM_F32, c.bias[0] = BIAS_NEG_INF, c.kmask = 1, c.lse = 1, c.layout = LAYOUT_MIXED;
    ATTN_CASE_ADD(c);
    /* several query and key tiles, causal bottom-right with Sq < Sk, lse */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 4, c.Hkv = 4, c.Sq = 300, c.Sk = 650, c.D = c.Dv = 128;
    c.dt = TPRIM_BF16, c.causal = 1, c.lse = 1;
    ATTN_CASE_ADD(c);
    c.dt = TPRIM_F16, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    /* D = 256 (the 4-warp configuration), Dv < D, padded strides (scalar loads) */
    memset(&c, 0, sizeof c);
    c.nbd = 0, c.Hq = 2, c.Hkv = 1, c.Sq = 150, c.Sk = 333, c.D = 256, c.Dv = 200;
    c.dt = TPRIM_BF16, c.layout = LAYOUT_PADDED, c.lse = 1;
    ATTN_CASE_ADD(c);
    /* triangle attention: [B, N] batch, mask bias over keys + pair bias shared over N */
    memset(&c, 0, sizeof c);
    c.nbd = 2, c.bd[0] = 1, c.bd[1] = 6, c.Hq = c.Hkv = 4, c.Sq = c.Sk = 200, c.D = c.Dv = 32;
    c.dt = TPRIM_BF16, c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    c.dt = TPRIM_F16, c.bias[1] = BIAS_QTYPE_T, c.kmask = 2, c.lse = 1;
    ATTN_CASE_ADD(c);
    /* GQA with a sliding window, ALiBi, soft-cap and key lengths */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 3, c.Hq = 8, c.Hkv = 2, c.Sq = 257, c.Sk = 257, c.D = c.Dv = 64;
    c.dt = TPRIM_BF16, c.use_window = 1, c.wl = 70, c.wr = 5, c.alibi = 1, c.softcap = 20.0f;
    c.klen = 3, c.lse = 1;
    ATTN_CASE_ADD(c);
    /* D = 96 with -inf bias entries and a fully masked row */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 2, c.Hkv = 1, c.Sq = 140, c.Sk = 190, c.D = c.Dv = 96;
    c.dt = TPRIM_F16, c.bias[0] = BIAS_NEG_INF, c.lse = 1, c.layout = LAYOUT_MIXED;
    ATTN_CASE_ADD(c);
    /* plain-path shapes of the Hopper kernel: each head size, several tiles, tails */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 4, c.Hkv = 2, c.Sq = 513, c.Sk = 1000, c.D = c.Dv = 64;
    c.dt = TPRIM_BF16, c.lse = 1;
    ATTN_CASE_ADD(c);
    c.causal = 1, c.dt = TPRIM_F16, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 2, c.Hkv = 2, c.Sq = 260, c.Sk = 300, c.D = c.Dv = 256;
    c.dt = TPRIM_BF16, c.klen = 3, c.lse = 1, c.causal = 1;
    ATTN_CASE_ADD(c);
    memset(&c, 0, sizeof c);
    c.nbd = 0, c.Hq = 3, c.Hkv = 1, c.Sq = 129, c.Sk = 700, c.D = 80, c.Dv = 72;
    c.dt = TPRIM_F16, c.use_window = 1, c.wl = 200, c.wr = 30, c.lse = 1;
    ATTN_CASE_ADD(c);
    /* the biased paths of the Hopper kernel (max(D, Dv) <= 32, f32 biases of unit key
     * stride, f32 or of the input dtype): each kind alone and in pairs (per-row + shared-by-every-query in both
     * orders; two per-row biases, which it refuses), several query and key tiles with
     * tails, a warpgroup wholly past Sq, causal, window, key lengths, lse */
    static const int kinds[][2] = {
        {BIAS_MASK, BIAS_PAIR}, {BIAS_PAIR, BIAS_MASK}, {BIAS_FULL, BIAS_NONE}, {BIAS_MASK, BIAS_NONE},
        {BIAS_2D, BIAS_NONE},   {BIAS_NEG_INF, BIAS_NONE}, {BIAS_FULL, BIAS_2D}, {BIAS_MASK, BIAS_MASK},
        {BIAS_2D, BIAS_MASK},   {BIAS_PAIR, BIAS_NONE},
    };
    const int nkinds = (int)(sizeof kinds / sizeof kinds[0]);
    for (int i = 0; i < 2 * nkinds; i++) { /* f32 biases, then biases of the input dtype */
        memset(&c, 0, sizeof c);
        c.bias_qtype = i >= nkinds;
        c.nbd = 2, c.bd[0] = 1, c.bd[1] = 3, c.Hq = 4, c.Hkv = i & 1 ? 2 : 4;
        c.Sq = i % 4 == 3 ? 50 : 300, c.Sk = i % 3 == 2 ? 1000 : 260;
        c.D = c.Dv = 32;
        if (i % 5 == 4) c.D = 24, c.Dv = 16;
        c.dt = i & 1 ? TPRIM_F16 : TPRIM_BF16;
        c.bias[0] = kinds[i % nkinds][0], c.bias[1] = kinds[i % nkinds][1];
        c.causal = i % 3 == 1;
        if (i % 3 == 2) c.use_window = 1, c.wl = 150, c.wr = 40;
        if (i % 4 == 2) c.klen = 3;
        c.lse = i % 2 == 0;
        c.layout = i % 4 == 1 ? LAYOUT_BSHD : LAYOUT_BHSD;
        ATTN_CASE_ADD(c);
    }
    /* the biases through the tensor cores (16-bit biases, a bias shared by every query
     * beside a per-row one): a general key row with -inf entries in both orders and
     * dtypes; scales 1/sqrt(D) and 0.9 run the kernel with both biases in the products
     * (_b2ht2 at these Sq), 3 the one with the mask bias only (_b2hk), 2^-11 and 1500 the
     * staged one (_b2h) */
    static const float kscales[] = {0.0f, 0.9f, 3.0f, 0x1p-11f, 1500.0f};
    for (int i = 0; i < 5; i++) {
        memset(&c, 0, sizeof c);
        c.bias_qtype = 1;
        c.nbd = 2, c.bd[0] = 2, c.bd[1] = 3, c.Hq = c.Hkv = 2, c.Sq = 270, c.Sk = 390, c.D = c.Dv = 32;
        c.dt = i & 1 ? TPRIM_F16 : TPRIM_BF16;
        c.bias[0] = i & 1 ? BIAS_PAIR : BIAS_KEYROW, c.bias[1] = i & 1 ? BIAS_KEYROW : BIAS_PAIR;
        c.scale = kscales[i];
        c.causal = i == 2, c.klen = i == 3 ? 3 : 0, c.lse = 1;
        c.layout = i & 1 ? LAYOUT_BSHD : LAYOUT_BHSD;
        ATTN_CASE_ADD(c);
    }
    /* a per-row bias with -inf entries beside the mask bias (16-bit): the kernel with both
     * biases in S's chain takes the -inf as S's start value (v15-v19 got NaN row sums from
     * the identity product and recomputed those blocks) */
    memset(&c, 0, sizeof c);
    c.bias_qtype = 1;
    c.nbd = 1, c.bd[0] = 2, c.Hq = c.Hkv = 2, c.Sq = 260, c.Sk = 300, c.D = c.Dv = 32;
    c.dt = TPRIM_BF16, c.bias[0] = BIAS_NEG_INF, c.bias[1] = BIAS_MASK, c.lse = 1;
    ATTN_CASE_ADD(c);
    c.dt = TPRIM_F16, c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_NEG_INF, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    /* the plain path at D <= 32 on the Hopper kernel */
    memset(&c, 0, sizeof c);
    c.nbd = 1, c.bd[0] = 2, c.Hq = 4, c.Hkv = 1, c.Sq = 333, c.Sk = 517, c.D = c.Dv = 32;
    c.dt = TPRIM_BF16, c.causal = 1, c.lse = 1;
    ATTN_CASE_ADD(c);
    c.D = 16, c.Dv = 8, c.causal = 0, c.dt = TPRIM_F16, c.use_window = 1, c.wl = 30, c.wr = 100;
    ATTN_CASE_ADD(c);
    return n;
}

/* The Hopper path with both 16-bit biases in the products (scale <= 1): two warpgroups
 * and two blocks a SM (_b2ht2) where Sq rounds up to 128 rows with fewer rows than to
 * 256, else four warpgroups (_b2ht4). Many work items (480, more than one a SM on a GPU of
 * up to ~160 SMs); one to three key tiles with tails, warpgroups wholly or partly past Sq,
 * column tails, and pair biases with -inf entries in head 0 only (a block with and one
 * without them); the stream form (_b2hs4) where the keys allow. Key counts are multiples
 * of 8 (the kernel copies 16-byte bias rows); small rows keep the oracle cheap; only
 * cuda_wgmma runs them. */
static int add_tcb_cases(attn_case *cs, int cap)
{
    int n = 0;
    attn_case c;
    memset(&c, 0, sizeof c);
    c.bias_qtype = 1;
    c.nbd = 2, c.bd[0] = 2, c.bd[1] = 60, c.Hq = c.Hkv = 4, c.Sq = 70, c.Sk = 136, c.D = c.Dv = 32;
    c.dt = TPRIM_BF16, c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR, c.lse = 1, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    /* a mask row of random values with -inf entries (not only 0 / -1e9) */
    c.Sq = 40, c.Sk = 56, c.dt = TPRIM_F16, c.scale = 0.9f;
    c.bias[0] = BIAS_PAIR, c.bias[1] = BIAS_KEYROW, c.lse = 0, c.layout = LAYOUT_BHSD;
    ATTN_CASE_ADD(c);
    c.bd[0] = 1, c.bd[1] = 120, c.Sq = 100, c.Sk = 152, c.D = 24, c.Dv = 16, c.scale = 0.0f, c.lse = 1;
    ATTN_CASE_ADD(c);
    c.bd[1] = 100, c.Sq = 64, c.Sk = 144, c.D = c.Dv = 32, c.dt = TPRIM_BF16, c.lse = 0;
    c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR_INF;
    ATTN_CASE_ADD(c);
    /* four warpgroups: one block with its last warpgroup partly past Sq; three blocks, the
     * last with one warpgroup partly and one wholly past Sq, three key tiles with a tail,
     * -inf pair-bias entries */
    c.bd[1] = 4, c.Hq = c.Hkv = 2, c.Sq = 200, c.Sk = 136, c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR;
    c.layout = LAYOUT_BSHD, c.causal = 1; /* (causal: not the stream form) */
    for (int v = 0; v < 4; v++) { /* each dtype with and without lse (f32 or tensor-core row sums) */
        c.dt = v & 1 ? TPRIM_F16 : TPRIM_BF16, c.lse = v >> 1;
        ATTN_CASE_ADD(c);
    }
    /* MSA rows (Sq = 300: 192-row items add no rows to 128-row ones, the producer form)
     * whose q has four head and batch dims that are not broadcast: no tensor map takes it,
     * so the two-warpgroup blocks (_b2ht2) run, not the cp.async form's 256-row items
     * (evo_plan.h, tp_evo_plan_no_tma; the log says so: run_wgmma) */
    c.nbd = 3, c.bd[0] = 2, c.bd[1] = 2, c.bd[2] = 3, c.Hq = c.Hkv = 2, c.Sq = 300, c.Sk = 264, c.scale = 0.0f;
    c.dt = TPRIM_BF16, c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR, c.lse = 1, c.causal = 0;
    ATTN_CASE_ADD(c);
    c.nbd = 2, c.bd[0] = 1, c.bd[1] = 4, c.bd[2] = 0;
    c.causal = 0, c.lse = 1;
    c.Sq = 700, c.Sk = 264, c.dt = TPRIM_F16, c.scale = 0.5f, c.bias[0] = BIAS_PAIR_INF, c.bias[1] = BIAS_MASK;
    c.layout = LAYOUT_BHSD;
    ATTN_CASE_ADD(c);
    /* the stream form (_b2hs4: four warpgroups, keys the same for every item, two or more
     * key tiles): more items than SMs, so that blocks run several; items of one query tile
     * with two key tiles and no tail (Q buffers reused every other item), GQA; then two
     * query tiles with eight key tiles and a tail, lse */
    c.bd[1] = 50, c.Hq = 4, c.Hkv = 2, c.Sq = 256, c.Sk = 256, c.dt = TPRIM_BF16, c.scale = 0.0f;
    c.bias[0] = BIAS_PAIR_INF, c.bias[1] = BIAS_MASK, c.lse = 0, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    c.bd[1] = 36, c.Hq = c.Hkv = 2, c.Sq = 480, c.Sk = 904, c.dt = TPRIM_BF16, c.scale = 0.8f;
    c.bias[0] = BIAS_KEYROW, c.bias[1] = BIAS_PAIR, c.lse = 1, c.layout = LAYOUT_BHSD;
    ATTN_CASE_ADD(c);
    /* a per-row bias of every batch entry (no bias shared across the batch: the items in
     * head-innermost order, the decode's other branch) */
    c.bd[1] = 40, c.Sq = 256, c.Sk = 384, c.dt = TPRIM_F16, c.scale = 0.0f;
    c.bias[0] = BIAS_FULL, c.bias[1] = BIAS_MASK, c.lse = 0;
    ATTN_CASE_ADD(c);
    /* the producer form (_b2hw3, items of 192 rows where they add no rows to the four
     * warpgroups' 256; the first stream case above takes it too, f16 with lse): Sq = 760
     * with more items than SMs, GQA and a key tail; Sq = 740 (the last item's rows partly
     * past Sq) with the other dtype; Sq = 760 with lse */
    c.bd[1] = 34, c.Hq = 2, c.Hkv = 1, c.Sq = 760, c.Sk = 200, c.dt = TPRIM_BF16, c.scale = 0.7f;
    c.bias[0] = BIAS_MASK, c.bias[1] = BIAS_PAIR_INF, c.lse = 0, c.layout = LAYOUT_BSHD;
    ATTN_CASE_ADD(c);
    c.bd[1] = 4, c.Hq = c.Hkv = 2, c.Sq = 740, c.Sk = 520, c.dt = TPRIM_F16, c.scale = 0.0f;
    c.bias[0] = BIAS_PAIR, c.bias[1] = BIAS_KEYROW, c.layout = LAYOUT_BHSD;
    ATTN_CASE_ADD(c);
    c.Sq = 760, c.Sk = 296, c.dt = TPRIM_BF16, c.lse = 1; /* (bias rows of 16-byte multiples: TMA) */
    ATTN_CASE_ADD(c);
    /* the producer form under pair biases rising along the keys (no key tail): three heads
     * whose logits rise by ~6, ~17 and ~43 log2 units a tile, so that every tile's row
     * maxima move and O and the row sums are rescaled far (bf16, then f16, whose P has the
     * smaller range) */
    c.bd[1] = 3, c.Hq = c.Hkv = 3, c.Sq = 740, c.Sk = 640, c.dt = TPRIM_BF16, c.scale = 0.0f, c.lse = 0;
    c.bias[0] = BIAS_PAIR_RAMP, c.bias[1] = BIAS_MASK, c.layout = LAYOUT_BHSD;
    ATTN_CASE_ADD(c);
    c.dt = TPRIM_F16, c.Sq = 760, c.bias[0] = BIAS_KEYROW, c.bias[1] = BIAS_PAIR_RAMP;
    ATTN_CASE_ADD(c);
    /* the producer form with pair biases 40 below the logits in heads 0 and 3 and on half the
     * keys in head 1: warps whose row maxima are negative (the softmax's float maxima, not
     * its integer ones), next to rows of maxima >= 0 in head 2; bf16, then f16 with lse */
    c.Hq = c.Hkv = 4, c.Sq = 740, c.Sk = 512, c.dt = TPRIM_BF16, c.bias[0] = BIAS_PAIR_NEG, c.bias[1] = BIAS_MASK;
    ATTN_CASE_ADD(c);
    c.dt = TPRIM_F16, c.Sq = 760, c.bias[0] = BIAS_KEYROW, c.bias[1] = BIAS_PAIR_NEG, c.lse = 1;
    ATTN_CASE_ADD(c);
    /* a full list may have dropped cases (only a GPU runs it: CI's sanitizer builds would
     * not see an overflow, hence the bound) */
    CHECK(n < cap, "add_tcb_cases: %d cases fill its room of %d; make it larger", n, cap);
    return n;
}
/* where add_tcb_cases's four stream cases start (the Sq = 700 case, then the three after
 * it): before its last seven, the producer form's */
enum { TCB_STREAM_FROM_END = 11 };

static int run_cases(tprim_ctx *ctx, const char *kernel, const attn_case *cs, int n)
{
    char label[64];
    snprintf(label, sizeof label, "cuda[%s]", kernel);
    if (kernel) CHECK(tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, kernel) == TPRIM_OK, "pin %s: %s",
                      kernel, tprim_ctx_last_error(ctx));
    else tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, NULL);
    double worst[3] = {0, 0, 0};
    int ran = 0;
    for (int i = 0; i < n; i++) {
        double rel = attn_case_run(ctx, &cs[i], 5000 + (uint64_t)i, label, NULL, NULL);
        if (rel >= 0) {
            int w = cs[i].dt == TPRIM_F32 ? 0 : cs[i].dt == TPRIM_BF16 ? 1 : 2;
            if (rel > worst[w]) worst[w] = rel;
            ran++;
        }
    }
    printf("  %-10s %d cases, worst relative error f32 %.2e, bf16 %.2e, f16 %.2e\n",
           kernel ? kernel : "auto", ran, worst[0], worst[1], worst[2]);
    return ran;
}

static void check_refusals(tprim_ctx *ctx)
{
    /* host memory marked as CUDA must be refused before any kernel runs: backward and
     * linear are CPU-only; a device_id with no GPU */
    float buf[2 * 3 * 4] = {0};
    int64_t sh[3] = {2, 3, 4};
    tprim_tensor t;
    tprim_tensor_init(&t, buf, TPRIM_F32, 3, sh, NULL);
    t.device = TPRIM_DEVICE_CUDA;
    t.device_id = 9999;
    tprim_tensor o = t;
    tprim_status st = tprim_attention(ctx, &t, &t, &t, &o, NULL);
    CHECK(st == TPRIM_ERR_INVALID_ARGUMENT || st == TPRIM_ERR_UNSUPPORTED,
          "device_id 9999: status %s (%s)", tprim_status_str(st), tprim_ctx_last_error(ctx));
    t.device_id = 0;
    o = t;
    tprim_tensor lse;
    int64_t lsh[2] = {2, 3};
    tprim_tensor_init(&lse, buf, TPRIM_F32, 2, lsh, NULL);
    lse.device = TPRIM_DEVICE_CUDA;
    tprim_tensor dq = t, dk = t, dv = t;
    tprim_attn_grads g = {&dq, &dk, &dv, {NULL, NULL}};
    st = tprim_attention_backward(ctx, &t, &t, &t, &o, &o, &lse, NULL, &g);
    CHECK(st == TPRIM_ERR_UNSUPPORTED && strstr(tprim_ctx_last_error(ctx), "CPU"),
          "backward on CUDA tensors: status %s (%s)", tprim_status_str(st),
          tprim_ctx_last_error(ctx));
}

/* evo_plan.h: the evoformer path's block for each query length and stream form; runs on
 * any machine (the GPU cases check that each block ran, not which one a shape gets). */
static void check_evo_plan(void)
{
    static const struct {
        int64_t Sq, hb;
        int stream, form;
        tp_evo_blk blk;
        int nwg, qrows;
    } c[] = {
        {768, 3072, 1, TP_EVO_PRODUCER, TP_EVO_W3, 4, 192},  /* triangle attention */
        {700, 8, 1, TP_EVO_PRODUCER, TP_EVO_W3, 4, 192},
        {1536, 8, 1, TP_EVO_PRODUCER, TP_EVO_W3, 4, 192},
        {256, 200, 1, TP_EVO_PRODUCER, TP_EVO_S4, 4, 256},   /* 192-row items add rows */
        {480, 72, 1, TP_EVO_PRODUCER, TP_EVO_S4, 4, 256},
        {384, 4096, 1, TP_EVO_PRODUCER, TP_EVO_W3, 4, 192},  /* MSA rows: 192 rows add none */
        {300, 8, 1, TP_EVO_DEFERPV, TP_EVO_P3, 4, 192},
        {640, 8, 1, TP_EVO_PRODUCER, TP_EVO_T2, 2, 128},    /* 768 rows against 640 */
        {100, 8, 1, TP_EVO_PRODUCER, TP_EVO_T2, 2, 128},
        {768, 3072, 0, TP_EVO_PRODUCER, TP_EVO_T4, 4, 256},  /* not a stream shape */
        {768, 3072, 1, TP_EVO_CPASYNC, TP_EVO_S4, 4, 256},
        {768, 3072, 1, TP_EVO_TMA, TP_EVO_M4, 4, 256},
        {768, 3072, 1, TP_EVO_DEFERPV, TP_EVO_P3, 4, 192},   /* the producer form, P V deferred */
        {480, 72, 1, TP_EVO_DEFERPV, TP_EVO_S4, 4, 256},
        {768, 600000000, 1, TP_EVO_PRODUCER, TP_EVO_S4, 4, 256}, /* 4 x that > 2^31 - 1 > 3 x */
        {768, 800000000, 1, TP_EVO_PRODUCER, TP_EVO_T4, 4, 256}, /* no stream form at all */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const tp_evo_plan p = tp_evo_plan_make(c[i].Sq, c[i].hb, c[i].stream, c[i].form);
        CHECK(p.blk == c[i].blk && p.nwg == c[i].nwg && p.qrows == c[i].qrows &&
                  (p.why == NULL) == (p.blk == TP_EVO_W3 || p.blk == TP_EVO_P3 || p.blk == TP_EVO_M4),
              "evo plan Sq %lld form %d: _b2h%s, %d warpgroups, %d rows (%s); want _b2h%s, %d, %d",
              (long long)c[i].Sq, c[i].form, tp_evo_suffix[p.blk], p.nwg, p.qrows, p.why ? p.why : "-",
              tp_evo_suffix[c[i].blk], c[i].nwg, c[i].qrows);
    }
    /* no tensor maps: triangle attention on _b2hs4, MSA rows back on two-warpgroup blocks */
    static const struct {
        int64_t Sq;
        tp_evo_blk blk;
        int nwg, qrows;
    } n[] = {{768, TP_EVO_S4, 4, 256}, {384, TP_EVO_T2, 2, 128}, {300, TP_EVO_T2, 2, 128}, {1536, TP_EVO_S4, 4, 256}};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        const tp_evo_plan p = tp_evo_plan_no_tma(n[i].Sq, 8, "no maps");
        CHECK(p.blk == n[i].blk && p.nwg == n[i].nwg && p.qrows == n[i].qrows && p.why && !strcmp(p.why, "no maps"),
              "evo plan without tensor maps, Sq %lld: _b2h%s, %d warpgroups, %d rows (%s); want _b2h%s, %d, %d",
              (long long)n[i].Sq, tp_evo_suffix[p.blk], p.nwg, p.qrows, p.why ? p.why : "-",
              tp_evo_suffix[n[i].blk], n[i].nwg, n[i].qrows);
    }
}

/* A map's coordinates 2 .. 4 (tp_tmap_coord, the kernels' side) address the element the
 * kernels' offsets do: sum of coordinate x byte stride / 2 = bi . sb + h sh, over indices
 * inside outer[] (broadcast dims drop out of both sides). */
static int tmap_offsets_agree(const tp_tmap_plan *pl, const tp_cu_op *o, const int64_t outer[4])
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int n = 0; n < 200; n++) {
        int64_t idx[4]; /* head, batch 2, batch 1, batch 0 */
        for (int l = 0; l < 4; l++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, idx[l] = (int64_t)(x % (uint64_t)outer[l]);
        const int64_t bi[3] = {idx[3], idx[2], idx[1]};
        const int64_t want = bi[0] * o->sb[0] + bi[1] * o->sb[1] + bi[2] * o->sb[2] + idx[0] * o->sh;
        int64_t got = 0;
        for (int k = 0; k < 3; k++) got += (int64_t)tp_tmap_coord(pl->sel, k, idx[0], bi) * (int64_t)(pl->stride[k + 1] / 2);
        if (got != want) return 0;
    }
    return 1;
}

/* scale_units.h: for scales of both kinds (powers of two, where g = 1 and one piece;
 * others) and both dtypes, 2^e is a power of two with scale / 2^e in [1, 2); g is its
 * inverse to f32 rounding and sc its product with log2(e); the pieces are of the dtype,
 * none negative, the zero ones last (n1 counts the others), and their sum is g exactly. */
static void check_scale_units(void)
{
    float scales[40] = {0x1p-10f, 0.125f, 0.5f, 1.0f, 0.9f, 0.8f, 0.3f, 0.17677669529663687f /* D = 32 */,
                        0.0883883476483184f /* D = 128 */, 0.10206207261596575f /* D = 96 */};
    uint64_t x = 88172645463325252ull;
    for (int i = 10; i < 40; i++) { /* random scales in [2^-10, 1] */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        scales[i] = ldexpf(1.0f + (float)(x >> 40) * 0x1p-24f, -(int)(x % 10) - 1);
    }
    int bad = 0, n1s[4] = {0, 0, 0, 0};
    for (int i = 0; i < 40; i++)
        for (int d = 0; d < 2; d++) {
            const int32_t dt = d ? TP_CU_F16 : TP_CU_BF16;
            tp_cu_units u;
            tp_cu_units_make(&u, scales[i], dt);
            int e;
            const int pow2 = frexpf(u.qmul, &e) == 0.5f;
            const double f = (double)scales[i] / u.qmul;
            int ok = pow2 && f >= 1.0 && f < 2.0 && fabs(u.g * f - 1.0) <= 0x1p-24 * 2 &&
                     fabs(u.sc / f / 1.4426950408889634 - 1.0) <= 0x1p-23 && u.n1 >= 1 && u.n1 <= 3;
            double sum = 0;
            for (int k = 0; k < 3; k++) {
                const float p = u.p[k];
                uint32_t b;
                memcpy(&b, &p, 4);
                const int repr = dt == TP_CU_BF16 ? (b & 0xffffu) == 0
                                                  : (p >= 0x1p-14f ? (b & 0x1fffu) == 0 && p <= 65504.0f
                                                                   : p * 0x1p24f == floorf(p * 0x1p24f));
                ok = ok && repr && p >= 0.0f && ((k < u.n1) == (p != 0.0f));
                sum += p;
            }
            ok = ok && sum == (double)u.g;
            if (u.n1 >= 1 && u.n1 <= 3) n1s[u.n1]++;
            if (!ok && bad++ < 3)
                CHECK(0, "scale units of %a (%s): qmul %a g %a sc %a pieces %a %a %a n1 %d", scales[i],
                      d ? "f16" : "bf16", u.qmul, u.g, u.sc, u.p[0], u.p[1], u.p[2], u.n1);
        }
    CHECK(bad == 0, "scale units: %d of 80 wrong", bad);
    CHECK(n1s[1] > 0 && n1s[3] > 0, "scale units: the cases cover one and three pieces (%d, %d, %d)", n1s[1],
          n1s[2], n1s[3]);
}

/* tmap_plan.h: the dims, byte strides and coordinate selectors of the TMA form's maps for
 * the layouts the evoformer shapes come in, and its refusals. */
static void check_tmap_plan(void)
{
    tp_tmap_plan pl;
    tp_cu_op o;
    /* q of triangle attention, [N, H, L, D] in BHSD order (batch dim 2 = N) */
    memset(&o, 0, sizeof o);
    const int64_t N = 768, H = 4, L = 768, D = 32;
    o.sb[2] = H * L * D, o.sh = L * D, o.si = D, o.sj = 1;
    const int64_t outer_q[4] = {H, N, 1, 1};
    const char *why = tp_tmap_plan_make(&pl, &o, L, D, outer_q);
    CHECK(!why && pl.dim[0] == 32 && pl.dim[1] == 768 && pl.dim[2] == 4 && pl.dim[3] == 768 && pl.dim[4] == 1,
          "q map dims: %s", why ? why : "wrong");
    CHECK(!why && pl.stride[0] == 64 && pl.stride[1] == 2 * 768 * 32 && pl.stride[2] == 2 * 4 * 768 * 32 &&
              pl.stride[3] == pl.stride[2] && pl.sel == 0xf10u,
          "q map strides %llu %llu %llu %llu, sel %x", (unsigned long long)pl.stride[0],
          (unsigned long long)pl.stride[1], (unsigned long long)pl.stride[2], (unsigned long long)pl.stride[3],
          pl.sel);
    CHECK(!why && tmap_offsets_agree(&pl, &o, outer_q), "q map: coordinates and offsets disagree");
    /* the pair bias [H, L, L] shared by the N rows (batch stride 0): head only */
    memset(&o, 0, sizeof o);
    o.sh = L * L, o.si = L, o.sj = 1;
    why = tp_tmap_plan_make(&pl, &o, L, L, outer_q);
    CHECK(!why && pl.dim[2] == 4 && pl.dim[3] == 1 && pl.sel == 0xff0u && pl.stride[1] == 2 * 768 * 768,
          "pair-bias map: %s, sel %x", why ? why : "", pl.sel);
    CHECK(!why && tmap_offsets_agree(&pl, &o, outer_q), "pair-bias map: coordinates and offsets disagree");
    /* the mask bias [N, L] shared by heads and query rows: one row, batch dim 2 */
    memset(&o, 0, sizeof o);
    o.sb[2] = L, o.sj = 1;
    why = tp_tmap_plan_make(&pl, &o, 1, L, outer_q);
    CHECK(!why && pl.dim[1] == 1 && pl.stride[0] == 1536 && pl.dim[2] == 768 && pl.stride[1] == 1536 &&
              pl.sel == 0xff1u,
          "mask-bias map: %s, sel %x, stride %llu", why ? why : "", pl.sel, (unsigned long long)pl.stride[0]);
    CHECK(!why && tmap_offsets_agree(&pl, &o, outer_q), "mask-bias map: coordinates and offsets disagree");
    /* a single row of 20 columns (40 bytes): the row stride rounds up to 48 */
    why = tp_tmap_plan_make(&pl, &o, 1, 20, outer_q);
    CHECK(!why && pl.stride[0] == 48, "one row of 20: stride %llu", (unsigned long long)pl.stride[0]);
    /* three batch dims and heads, none broadcast: one too many */
    memset(&o, 0, sizeof o);
    o.sb[0] = 8 * 3 * 2 * 64 * 32, o.sb[1] = 3 * 2 * 64 * 32, o.sb[2] = 2 * 64 * 32, o.sh = 64 * 32, o.si = 32;
    const int64_t outer4[4] = {2, 3, 8, 5};
    why = tp_tmap_plan_make(&pl, &o, 64, 32, outer4);
    CHECK(why && strstr(why, "three"), "four outer dims: %s", why ? why : "accepted");
    /* the same with batch dim 1 of size 1: fits, head, batch 2, batch 0 */
    const int64_t outer3[4] = {2, 3, 1, 5};
    why = tp_tmap_plan_make(&pl, &o, 64, 32, outer3);
    CHECK(!why && pl.sel == 0x310u && pl.dim[4] == 5, "three outer dims: %s, sel %x", why ? why : "", pl.sel);
    CHECK(!why && tmap_offsets_agree(&pl, &o, outer3), "three outer dims: coordinates and offsets disagree");
    /* refusals: a negative head stride, 2^31 rows, a row stride at 2^40 bytes */
    o.sh = -64 * 32;
    why = tp_tmap_plan_make(&pl, &o, 64, 32, outer3);
    CHECK(why && strstr(why, "stride"), "negative head stride: %s", why ? why : "accepted");
    o.sh = 64 * 32;
    why = tp_tmap_plan_make(&pl, &o, (int64_t)1 << 31, 32, outer3);
    CHECK(why && strstr(why, "2^31"), "2^31 rows: %s", why ? why : "accepted");
    o.si = (int64_t)1 << 39;
    why = tp_tmap_plan_make(&pl, &o, 64, 32, outer3);
    CHECK(why && strstr(why, "row stride"), "2^40-byte rows: %s", why ? why : "accepted");
}

/* fast_div.h against the division: every divisor to 3000, powers of two and their
 * neighbours, random ones up to 2^31 - 1; for each, dividends at and around multiples of
 * it, random ones, and the ends (0, 2^31 - 1); divisors past 2^31 - 1 and below 1 are
 * refused (d = 0). */
static void check_fast_div(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int bad = 0;
    long n = 0;
    for (int i = 0; i < 3000 + 93 + 600 && bad < 5; i++) {
        int64_t d;
        if (i < 3000) d = i + 1;
        else if (i < 3093) d = ((int64_t)1 << ((i - 3000) / 3 % 31)) + (i - 3000) % 3 - 1;
        else x ^= x << 13, x ^= x >> 7, x ^= x << 17, d = (int64_t)(x % 0x7fffffffull) + 1;
        if (d < 1) continue;
        const tp_cu_fdiv f = tp_cu_fdiv_make(d);
        for (int j = 0; j < 64 && bad < 5; j++) {
            int64_t v;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (j < 2) v = j ? 0x7fffffff : 0;
            else if (j < 32) v = ((int64_t)(x % ((uint64_t)0x7fffffff / (uint64_t)d + 1))) * d + (j % 3) - 1;
            else v = (int64_t)(x & 0x7fffffff);
            if (v < 0 || v > 0x7fffffff) continue;
            const uint32_t q = tp_cu_fdiv_q((uint32_t)v, f);
            n++;
            if (f.d != (uint32_t)d || (int64_t)q != v / d) {
                bad++;
                CHECK(0, "fast division %lld / %lld: %u (m %u, s %u)", (long long)v, (long long)d, q, f.m, f.s);
            }
        }
    }
    CHECK(tp_cu_fdiv_make(0).d == 0 && tp_cu_fdiv_make((int64_t)1 << 31).d == 0,
          "fast division takes a divisor outside [1, 2^31 - 1]");
    CHECK(n > 200000, "fast division checked only %ld quotients", n);
}

static float bits_f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* The split of the f32 path (src/cuda/tf32_split.h; host code, no GPU needed): both
 * pieces are tf32 (13 low bits zero) and |x - big - small| <= 2^-22 |x| + 2^-137, over
 * random bit patterns of every finite exponent, values at rounding ties and at the ends
 * of the range; NaN and infinite inputs give a NaN small. */
static void check_tf32_split(void)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    int bad = 0;
    long n = 0;
    double worst = 0;
    for (long i = 0; i < 400000 && bad < 5; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t u = (uint32_t)(x >> 11);
        if (i % 8 == 0) u = (u & 0xffffe000u) | 0x1000u; /* an exact tie */
        if (i % 8 == 1) u = (u & 0x807fffffu) | ((uint32_t)(i % 3) << 23); /* subnormal, tiny */
        const float f = bits_f(u);
        if (!isfinite(f) || fabsf(f) > FLT_MAX * (1.0f - 0x1p-11f)) continue;
        uint32_t b, sm;
        tp_tf32_split_bits(f, &b, &sm);
        const double err = fabs((double)f - ((double)bits_f(b) + (double)bits_f(sm)));
        const double bound = 0x1p-22 * fabs((double)f) + 0x1p-137;
        n++;
        if (f != 0.0f && err / fabs((double)f) > worst) worst = err / fabs((double)f);
        if ((b & 0x1fffu) || (sm & 0x1fffu) || !(err <= bound)) {
            bad++;
            CHECK(0, "tf32 split of %a (bits %08x): big %a, small %a, error %g > %g", (double)f, u,
                  (double)bits_f(b), (double)bits_f(sm), err, bound);
        }
    }
    /* ties round away from zero: 1 + 2^-11 -> 1 + 2^-10; the largest value that does not
     * round to infinity, and NaN / infinity giving a NaN small */
    uint32_t b, sm;
    tp_tf32_split_bits(1.0f + 0x1p-11f, &b, &sm);
    CHECK(bits_f(b) == 1.0f + 0x1p-10f && bits_f(sm) == -0x1p-11f, "tf32 tie: big %a small %a",
          (double)bits_f(b), (double)bits_f(sm));
    tp_tf32_split_bits(-(1.0f + 0x1p-11f), &b, &sm);
    CHECK(bits_f(b) == -(1.0f + 0x1p-10f), "tf32 negative tie: big %a", (double)bits_f(b));
    const float fmax_ok = bits_f(0x7f7fefffu);
    tp_tf32_split_bits(fmax_ok, &b, &sm);
    CHECK(isfinite(bits_f(b)) && isfinite(bits_f(sm)) &&
              fabs((double)fmax_ok - (double)bits_f(b) - (double)bits_f(sm)) <= 0x1p-22 * (double)fmax_ok,
          "tf32 split of %a: big %a small %a", (double)fmax_ok, (double)bits_f(b), (double)bits_f(sm));
    const float odd[3] = {INFINITY, -INFINITY, NAN};
    for (int i = 0; i < 3; i++) {
        tp_tf32_split_bits(odd[i], &b, &sm);
        CHECK(isnan(bits_f(sm)), "tf32 split of %g: small %g, not NaN", (double)odd[i], (double)bits_f(sm));
    }
    CHECK(n > 300000, "tf32 split: only %ld values checked", n);
    CHECK(worst > 0x1p-24, "tf32 split: worst relative error %g, suspiciously small", worst);
}

/* A context when a CUDA GPU is there; else NULL, having said why the GPU cases are
 * skipped. */
static tprim_ctx *gpu_ctx(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "ctx: %s", tprim_ctx_create_error())) return NULL;
    if (tprim_cuda_device_count() == 0) {
        printf("  no CUDA GPU on this machine: the GPU cases are skipped (they run on a GPU "
               "machine through bench/gpu/run.sh)\n");
        tprim_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The tensor-core kernels' table (tc, room for 960): every case of the CPU table (n of
 * them left in table, room for 320) in bf16 and f16 (and the f32 ones in f32 too, up to
 * max(D, Dv) = 128: the tf32 path), then the GPU cases; returns its size. */
static int build_tc_cases(attn_case *table, int *n, attn_case *tc)
{
    *n = attn_build_cases(table, 256);
    int m = 0;
    for (int i = 0; i < *n; i++) {
        attn_case c = table[i];
        if (c.dt == TPRIM_F32) {
            if (dmax(&c) <= 128) tc[m++] = c;
            c.dt = TPRIM_BF16;
            tc[m++] = c;
            c.dt = TPRIM_F16;
        }
        tc[m++] = c;
    }
    return add_gpu_cases(tc, m, 960);
}

/* The evoformer instances (attention_wgmma_d32.cu: _b2h + t2, t4, s4, m4, w3, p3, each as
 * is and as _l, bf16 and f16) that the debug log says ran. */
#define TCB_NFORMS 12
static const char *const g_tcb_forms[TCB_NFORMS] = {"t2", "t4", "s4", "m4", "w3", "p3",
                                                    "t2l", "t4l", "s4l", "m4l", "w3l", "p3l"};
static int g_tcb_no_tma_t2; /* the MSA case without tensor maps ran on _b2ht2 */
static void tcb_log_sink(void *user, tprim_log_level level, const char *line)
{
    (void)level;
    unsigned char *seen = user;
    const char *p = strstr(line, "attention cuda: tp_attn_wgmma_");
    if (!p) return;
    p += strlen("attention cuda: tp_attn_wgmma_");
    const int f16 = strncmp(p, "f16_", 4) == 0;
    const char *q = strstr(p, "_d32_b2h");
    if (!q) return;
    q += strlen("_d32_b2h");
    if (strncmp(q, "t2l,", 4) == 0 && strstr(q, "not a stream form: more than three head")) g_tcb_no_tma_t2 = 1;
    for (int i = 0; i < TCB_NFORMS; i++) {
        const size_t k = strlen(g_tcb_forms[i]);
        if (strncmp(q, g_tcb_forms[i], k) == 0 && (q[k] == ',' || q[k] == 0)) seen[f16 * TCB_NFORMS + i] = 1;
    }
}

/* The Hopper kernel (cuda_wgmma) on the tensor-core-bias cases: they run on the default
 * context (the stream form with a producer warpgroup, _b2hw3, where its 192-row items add
 * no rows, else _b2hs4); the four stream cases run again on contexts made with
 * TPRIM_CUDA_STREAM=cpasync (_b2hs4) and =tma (_b2hm4), and the nine stream cases on one
 * made with =deferpv (_b2hp3 where _b2hw3 ran). Where any ran (sm_90), all of them must
 * have, and every one of the 24 evoformer instances (the kernel names from the debug
 * log). Returns how many of the cases on the default context ran; *np their count. */
static int run_tcb(tprim_ctx *ctx, int *np)
{
    g_attn_refusal_ok = 1;
    attn_case pc[24];
    *np = add_tcb_cases(pc, (int)(sizeof pc / sizeof pc[0]));
    unsigned char seen[2 * TCB_NFORMS] = {0};
    tprim_ctx_set_log(ctx, TPRIM_LOG_DEBUG, tcb_log_sink, seen);
    const int npr = run_cases(ctx, "cuda_wgmma", pc, *np);
    tprim_ctx_set_log(ctx, TPRIM_LOG_OFF, NULL, NULL);
    int nfr[3] = {0, 0, 0};
    static const char *const forms[3] = {"cpasync", "tma", "deferpv"};
    for (int f = 0; f < 3; f++) {
        tprim_ctx *fc = NULL;
        setenv("TPRIM_CUDA_STREAM", forms[f], 1);
        if (CHECK(tprim_ctx_create(&fc) == TPRIM_OK, "ctx with TPRIM_CUDA_STREAM=%s: %s", forms[f],
                  tprim_ctx_create_error())) {
            tprim_ctx_set_log(fc, TPRIM_LOG_DEBUG, tcb_log_sink, seen);
            nfr[f] = run_cases(fc, "cuda_wgmma", pc + *np - TCB_STREAM_FROM_END, f == 2 ? TCB_STREAM_FROM_END : 4);
            tprim_ctx_free(fc);
        }
        unsetenv("TPRIM_CUDA_STREAM");
    }
    g_attn_refusal_ok = 0;
    CHECK(npr == 0 || (npr == *np && nfr[0] == 4 && nfr[1] == 4 && nfr[2] == TCB_STREAM_FROM_END),
          "cuda_wgmma ran %d of the %d tensor-core-bias cases, %d of 4 by cp.async, %d of 4 by TMA, %d of %d with P V "
          "deferred", npr, *np, nfr[0], nfr[1], nfr[2], (int)TCB_STREAM_FROM_END);
    CHECK(npr == 0 || g_tcb_no_tma_t2, "the MSA case without tensor maps did not run on _b2ht2 (tp_evo_plan_no_tma)");
    if (npr > 0)
        for (int i = 0; i < 2 * TCB_NFORMS; i++)
            CHECK(seen[i], "the evoformer instance %s _b2h%s never ran", i < TCB_NFORMS ? "bf16" : "f16",
                  g_tcb_forms[i % TCB_NFORMS]);
    return npr;
}

/* Says why cuda_wgmma ran nothing: it must be the GPU (not sm_90); w is a plain case that
 * the kernel takes on sm_90. */
static void check_not_sm90(tprim_ctx *ctx, attn_case w)
{
    tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, "cuda_wgmma");
    g_attn_refusal_ok = 1;
    attn_case_run(ctx, &w, 1, "cuda_wgmma", NULL, NULL);
    g_attn_refusal_ok = 0;
    CHECK(strstr(tprim_ctx_last_error(ctx), "sm_90") != NULL, "cuda_wgmma ran no case, and not because of the GPU: %s",
          tprim_ctx_last_error(ctx));
    printf("  cuda_wgmma: not this GPU (%s)\n", tprim_ctx_last_error(ctx));
}

/* The Hopper kernel (cuda_wgmma) on the tensor-core-bias cases (run_tcb) and the table
 * tc[0 .. m); returns how many table cases it ran (0 off sm_90, which is checked to be the
 * reason). */
static int run_wgmma(tprim_ctx *ctx, const attn_case *tc, int m)
{
    int np;
    const int npr = run_tcb(ctx, &np);
    /* the Hopper kernel takes the plain cases with 16-byte aligned rows on sm_90 */
    g_attn_refusal_ok = 1;
    const int nw = run_cases(ctx, "cuda_wgmma", tc, m);
    g_attn_refusal_ok = 0;
    CHECK(nw == 0 || npr == np, "cuda_wgmma ran %d table cases but %d of the %d tensor-core-bias cases", nw, npr, np);
    if (nw == 0) check_not_sm90(ctx, tc[m - 1]); /* a plain D = 16 case: refused only for the GPU */
    return nw;
}

/* The checks of the launchers' host-side helpers (no GPU needed): both suites run them. */
static void check_host_helpers(void)
{
    check_tf32_split();
    check_fast_div();
    check_tmap_plan();
    check_scale_units();
    check_evo_plan();
}

/* Only the Hopper kernel's part of suite_cuda (named with --suite cuda_wgmma; not run
 * by default, suite cuda contains it): to check changes to the wgmma kernels on the GPU
 * machine without the mma.sync, SIMT and automatic-choice passes. */
void suite_cuda_wgmma(void)
{
    check_host_helpers();
    tprim_ctx *ctx = gpu_ctx();
    if (!ctx) return;
    static attn_case table[320], tc[960];
    int n;
    const int m = build_tc_cases(table, &n, tc);
    g_attn_cuda = 1;
    run_wgmma(ctx, tc, m);
    g_attn_cuda = 0;
    tprim_ctx_free(ctx);
}

/* Only the tensor-core-bias (evoformer) cases of the Hopper kernel (named with --suite
 * cuda_evo; suites cuda and cuda_wgmma contain them): the quick check of a change to the
 * D = 32 evoformer kernels on the GPU machine (no table of plain cases: ~50 s of oracle on
 * the H100 machine, against ~190 s for cuda_wgmma). */
void suite_cuda_evo(void)
{
    check_host_helpers();
    tprim_ctx *ctx = gpu_ctx();
    if (!ctx) return;
    g_attn_cuda = 1;
    int np;
    if (run_tcb(ctx, &np) == 0) {
        static attn_case table[320], tc[960];
        int n;
        const int m = build_tc_cases(table, &n, tc);
        check_not_sm90(ctx, tc[m - 1]);
    }
    g_attn_cuda = 0;
    tprim_ctx_free(ctx);
}

void suite_cuda(void)
{
    check_host_helpers();
    tprim_ctx *ctx = gpu_ctx();
    if (!ctx) return;
    check_refusals(ctx);
    static attn_case table[320], tc[960];
    int n;
    const int m = build_tc_cases(table, &n, tc);
    g_attn_cuda = 1;
    const int nw = run_wgmma(ctx, tc, m);
    run_cases(ctx, "cuda", tc, m);
    int ns = add_gpu_cases(table, n, 320);
    CHECK(m < 960 && ns < 320, "the GPU case tables are full (%d, %d): cases were dropped", m, ns);
    run_cases(ctx, "cuda_simt", table, ns);
    run_cases(ctx, NULL, table, ns);
    /* the automatic choice: the tensor-core kernel for bf16 */
    int ib = m - 1; /* the last case with a bias and D > 32: the mma.sync kernel's */
    while (ib > 0 && (tc[ib].bias[0] == BIAS_NONE || tc[ib].D <= 32)) ib--;
    attn_case c = tc[ib];
    attn_case_run(ctx, &c, 3, "cuda[auto]", NULL, NULL);
    const char *last = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
    CHECK(last && strcmp(last, "cuda") == 0, "auto choice for f16 with a bias on CUDA: %s",
          last ? last : "-");
    int it = m - 1; /* the last evoformer-shaped case (mask + pair bias, D = 32) */
    while (it > 0 && !(tc[it].bias[0] == BIAS_PAIR && tc[it].bias[1] == BIAS_MASK)) it--;
    c = tc[it];
    attn_case_run(ctx, &c, 3, "cuda[auto]", NULL, NULL);
    last = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
    CHECK(last && strcmp(last, nw ? "cuda_wgmma" : "cuda") == 0,
          "auto choice for the evoformer shape on CUDA: %s", last ? last : "-");
    c = tc[m - 1];
    attn_case_run(ctx, &c, 3, "cuda[auto]", NULL, NULL);
    last = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
    CHECK(last && strcmp(last, nw ? "cuda_wgmma" : "cuda") == 0, "auto choice for plain f16 on CUDA: %s",
          last ? last : "-");
    /* f32: the tf32 path of the tensor-core kernel up to max(D, Dv) = 128, SIMT above */
    int i32[2] = {-1, -1}; /* the first f32 case with max(D, Dv) <= 128, and above */
    for (int i = 0; i < ns; i++)
        if (table[i].dt == TPRIM_F32 && i32[dmax(&table[i]) > 128] < 0) i32[dmax(&table[i]) > 128] = i;
    for (int big = 0; big < 2; big++) {
        const char *want = big ? "cuda_simt" : "cuda";
        if (!CHECK(i32[big] >= 0, "no f32 case with max(D, Dv) %s 128 in the table", big ? ">" : "<=")) continue;
        attn_case_run(ctx, &table[i32[big]], 4 + (uint64_t)big, "cuda[auto]", NULL, NULL);
        last = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
        CHECK(last && strcmp(last, want) == 0, "auto choice for f32 with max(D, Dv) %s 128 on CUDA: %s (not %s)",
              big ? ">" : "<=", last ? last : "-", want);
    }
    if (i32[1] >= 0) { /* pinned, the tensor-core kernel refuses f32 above 128 and says why */
        tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, "cuda");
        g_attn_refusal_ok = 1;
        attn_case_run(ctx, &table[i32[1]], 6, "cuda[f32 > 128]", NULL, NULL);
        g_attn_refusal_ok = 0;
        CHECK(strstr(tprim_ctx_last_error(ctx), "f32 inputs with D or Dv > 128") != NULL,
              "pinned cuda on f32 with max(D, Dv) > 128: %s", tprim_ctx_last_error(ctx));
        tprim_ctx_set_kernel(ctx, TPRIM_OP_ATTENTION, NULL);
    }
    /* determinism: the same bits twice */
    unsigned char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    attn_case_run(ctx, &tc[m - 3], 11, "cuda[determinism]", &a, &na); /* pair bias, D = 32 */
    attn_case_run(ctx, &tc[m - 3], 11, "cuda[determinism]", &b, &nb);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0, "cuda: output bits differ between runs");
    free(a);
    free(b);
    a = b = NULL;
    attn_case_run(ctx, &tc[ib], 12, "cuda[determinism]", &a, &na);
    attn_case_run(ctx, &tc[ib], 12, "cuda[determinism]", &b, &nb);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0, "cuda: output bits differ between runs (bias)");
    free(a);
    free(b);
    g_attn_cuda = 0;
    tprim_ctx_free(ctx);
}
