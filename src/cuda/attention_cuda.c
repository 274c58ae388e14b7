/* attention_cuda.c -- the CUDA attention kernels as dispatch sees them: what each
 * accepts, and the launch (problem -> tp_cu_attn, tile configuration, grid, stream).
 *
 * Tile configuration of the tensor-core kernel, per padded head size kD (the smallest
 * of 32, 64, 96, 128, 256 that holds max(D, Dv)) and path (plain, or full: biases,
 * ALiBi, soft-cap, key mask), chosen here and only here (attention_mma_*.cu instantiate
 * the same list):
 *   plain, kD <= 128: 4 warps of 2 m-tiles (32 rows each, 128 rows a block), 64 keys a
 *       tile. Each K/V fragment read from shared memory feeds two products: at one
 *       m-tile a warp, one ldmatrix per two mma keeps the shared-memory port as busy
 *       as the tensor cores (measured: 149 TFLOP/s at D = 128 on an H100). Q is held
 *       in registers up to kD = 64; above, the O accumulator (kD registers a thread)
 *       leaves no room and Q is read from shared memory at each k-step.
 *   staged full (feat 2: f32 biases of unit key stride, kD <= 64): 8 warps of 1 m-tile,
 *       the bias tiles double-buffered in shared memory beside K and V, 2 blocks a SM
 *       (128 registers; the evoformer shapes: see attention_mma.cuh).
 *   full, 64 <= kD <= 128: 8 warps of 1 m-tile (the per-tile bias registers do not fit
 *       beside two m-tiles without spilling); kD = 32 keeps 2 m-tiles (the evoformer
 *       shape, where the bias, not the products, sets the pace).
 *   kD = 256: 4 warps of 1 m-tile, 32 keys a tile (O alone is 128 registers a thread).
 * Shared memory: (rows + 4 x keys) x (kD + 8) x 2 bytes (Q, double-buffered K and V).
 *
 * f32 inputs with max(D, Dv) <= 128 run the same kernel on the tf32 tensor cores, three
 * products a product (attention_mma.cuh), from f32 tiles: (rows + 4 x keys) x (kD + 4)
 * x 4 bytes, twice the 16-bit tiles, so the tiles are smaller where that keeps two blocks
 * a SM: plain kD = 32 and 64 as above (55 and 104 KB; 3 and 2 blocks); plain kD = 128
 * (max(D, Dv) 65 .. 128; no 96 here): 4 warps of 1 m-tile, 32 keys a tile (101 KB, 2
 * blocks); full: 8 warps of 1 m-tile, 64 keys (32 at kD = 128); staged: 32 keys a tile
 * (78 and 111 KB with the bias tiles). Q is
 * read from shared memory (its split pieces would double its registers). Above 128, f32
 * runs the SIMT kernel.
 *
 * On sm_90 the plain path with max(D, Dv) <= 256, and at max(D, Dv) <= 32 one or two
 * biases of unit key stride, all f32 or all of the input dtype (the second, if any, one
 * row for every query), run the
 * wgmma kernel (attention_wgmma.cuh, "cuda_wgmma"): 2 warpgroups x 64 rows, 128 keys a
 * tile (64 at kD = 256); its reasons are written there. The evoformer kernel with both
 * biases in the products (attention_wgmma_bias.cuh) runs four warpgroups a block, or two
 * warpgroups and two blocks a SM when Sq rounds up to 128 rows with fewer rows than to
 * 256 (wgmma_run).
 * Blocks run the query tiles heaviest-first (causal), and when a bias is shared across
 * the batch (the OpenFold pair bias over N rows) the batch index varies fastest, so
 * the blocks in flight together read the same bias tile from L2. */
#include "cuda_attn.h"
#include "cuda_driver.h"
#include "scale_units.h"
#include "evo_plan.h"
#include "tmap_plan.h"

#include "../ops/attention.h"

#include <stdio.h>
#include <string.h>

typedef struct mma_cfg {
    int kd, feat, mt, bn, warps; /* rows per block = warps x 16 x mt */
} mma_cfg;

static const mma_cfg g_cfgs[] = {
    {32, 0, 2, 64, 4},  {32, 2, 1, 64, 8},  {32, 1, 1, 64, 8},  {64, 0, 2, 64, 4},
    {64, 2, 1, 64, 8},  {64, 1, 1, 64, 8},
    {96, 0, 2, 64, 4},  {96, 1, 1, 64, 8},  {128, 0, 2, 64, 4}, {128, 1, 1, 64, 8},
    {256, 0, 1, 32, 4}, {256, 1, 1, 32, 4},
};
/* f32 inputs (attention_mma_f32.cu instantiates the same list) */
static const mma_cfg g_cfgs_f32[] = {
    {32, 0, 2, 64, 4}, {32, 2, 1, 32, 8}, {32, 1, 1, 64, 8},  {64, 0, 2, 64, 4},
    {64, 2, 1, 32, 8}, {64, 1, 1, 64, 8}, {128, 0, 1, 32, 4}, {128, 1, 1, 32, 8},
};

static int needs_full(const tp_attn_problem *p)
{
    return p->nbias || p->has_alibi || p->softcap > 0.0f || p->has_kmask;
}

static int is_vec(const tp_operand *o, int64_t es);

/* The staged-bias path (feat 2) takes f32 biases of unit key stride with 16-byte
 * aligned rows (cp.async); others are read element by element (feat 1). */
static int biases_stageable(const tp_attn_problem *p)
{
    if (!p->nbias) return 0;
    for (int x = 0; x < p->nbias; x++)
        if (p->bias[x].dtype != TPRIM_F32 || !is_vec(&p->bias[x], 4)) return 0;
    return 1;
}

static const mma_cfg *pick_cfg(const tp_attn_problem *p)
{
    int64_t need = p->D > p->Dv ? p->D : p->Dv;
    int feat = needs_full(p);
    int stage = feat && biases_stageable(p);
    const int f32 = p->dtype == TPRIM_F32;
    const size_t n = f32 ? sizeof g_cfgs_f32 / sizeof g_cfgs_f32[0] : sizeof g_cfgs / sizeof g_cfgs[0];
    for (size_t i = 0; i < n; i++) {
        const mma_cfg *c = f32 ? &g_cfgs_f32[i] : &g_cfgs[i];
        if (need > c->kd || (c->feat == 0) != (feat == 0)) continue;
        if (c->feat == 2 && !stage) continue;
        return c;
    }
    return NULL;
}

static const char *cuda_common_accepts(const tp_attn_problem *p)
{
    if (p->device != TPRIM_DEVICE_CUDA) return "the tensors are in host memory";
    return NULL;
}

static const char *mma_accepts(const void *prob)
{
    const tp_attn_problem *p = prob;
    const char *why = cuda_common_accepts(p);
    if (why) return why;
    if (!pick_cfg(p)) return p->dtype == TPRIM_F32 ? "f32 inputs with D or Dv > 128" : "D or Dv > 256";
    int arch = tp_cu_arch(p->device_id);
    if (arch && arch < 80) return "the GPU is older than sm_80";
    return NULL;
}

static const char *simt_accepts(const void *prob)
{
    const tp_attn_problem *p = prob;
    const char *why = cuda_common_accepts(p);
    if (why) return why;
    /* the q row, the output row and 32 probabilities of 4 warps in 48 KiB */
    if ((p->D + p->Dv + 32) * 4 * 4 > 48 * 1024) return "D + Dv > 3000";
    return NULL;
}

static int is_vec(const tp_operand *o, int64_t es)
{
    if (o->sj != 1 || ((uintptr_t)o->data % 16) != 0) return 0;
    const int64_t s[5] = {o->sb[0], o->sb[1], o->sb[2], o->sh, o->si};
    for (int i = 0; i < 5; i++)
        if ((s[i] * es) % 16 != 0) return 0;
    return 1;
}

static void put_op(tp_cu_op *d, const tp_operand *o)
{
    d->data = o->data;
    for (int i = 0; i < 3; i++) d->sb[i] = o->sb[i];
    d->sh = o->sh;
    d->si = o->si;
    d->sj = o->sj;
    d->dtype = (int32_t)o->dtype;
    d->vec = is_vec(o, (int64_t)tprim_dtype_size(o->dtype));
}

static void to_cu(const tp_attn_problem *p, tp_cu_attn *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 3; i++) a->bdim[i] = p->bdim[i];
    a->nbatch = p->nbatch;
    a->Hq = p->Hq, a->Hkv = p->Hkv, a->G = p->G;
    a->Sq = p->Sq, a->Sk = p->Sk, a->D = p->D, a->Dv = p->Dv;
    a->wl = p->wl, a->wr = p->wr;
    a->scale = p->scale, a->softcap = p->softcap;
    a->dtype = (int32_t)p->dtype;
    a->nbias = p->nbias, a->has_alibi = p->has_alibi, a->has_klen = p->has_klen;
    a->has_kmask = p->has_kmask, a->has_lse = p->has_lse;
    a->batch_inner = tp_attn_shared_bias(p);
    put_op(&a->q, &p->q), put_op(&a->k, &p->k), put_op(&a->v, &p->v), put_op(&a->out, &p->out);
    for (int x = 0; x < p->nbias; x++) put_op(&a->bias[x], &p->bias[x]);
    if (p->has_alibi) put_op(&a->alibi, &p->alibi);
    if (p->has_klen) put_op(&a->klen, &p->klen);
    if (p->has_kmask) put_op(&a->kmask, &p->kmask);
    if (p->has_lse) put_op(&a->lse, &p->lse);
    a->fd_nb = tp_cu_fdiv_make(p->nbatch), a->fd_nh = tp_cu_fdiv_make(p->Hq);
    a->fd_b2 = tp_cu_fdiv_make(p->bdim[2]), a->fd_b1 = tp_cu_fdiv_make(p->bdim[1]);
    a->fd_g = tp_cu_fdiv_make(p->G);
}

static tprim_status launch2(tprim_ctx *ctx, const tp_attn_problem *p, const char *name, int64_t blocks,
                            unsigned threads, size_t smem, tp_cu_attn *a, tp_cu_tmaps *tm)
{
    if (blocks == 0) return TPRIM_OK;
    if (blocks > 0x7fffffffLL)
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "%lld thread blocks: more than one CUDA launch takes (2^31 - 1)",
                       (long long)blocks);
    void *stream;
    tprim_status s = tp_ctx_cuda_stream(ctx, p->device_id, &stream);
    if (s != TPRIM_OK) return s;
    char msg[256];
    const unsigned grid[3] = {(unsigned)blocks, 1, 1}, block[3] = {threads, 1, 1};
    void *args[2] = {a, tm};
    s = tp_cu_launch(p->device_id, name, grid, block, smem, stream, args, msg, sizeof msg);
    if (s != TPRIM_OK) return tp_fail(ctx, s, "attention on cuda:%d: %s", (int)p->device_id, msg);
    return TPRIM_OK;
}

static tprim_status launch(tprim_ctx *ctx, const tp_attn_problem *p, const char *name,
                           int64_t blocks, unsigned threads, size_t smem, tp_cu_attn *a)
{
    return launch2(ctx, p, name, blocks, threads, smem, a, NULL);
}

/* The tensor maps of the evoformer kernel's TMA forms (_b2hw3, _b2hm4; cuda_attn.h): q,
 * k, v (boxes of qrows = 192 or 256, 128, 128 rows x 32 columns, the 64-byte swizzle),
 * bias 0 (64 keys x 64 rows) and bias 1's row (64 keys x 1), the 128-byte swizzle; 5D,
 * as tmap_plan.h lays them out. Returns NULL, or why the form cannot run (the cp.async
 * form runs instead). */
static const char *make_tmaps(tprim_ctx *ctx, const tp_cu_attn *a, tp_cu_tmaps *tm, unsigned qrows)
{
    if (!tp_cu_has_tmaps()) return "the CUDA driver makes no tensor maps";
    const struct {
        const tp_cu_op *o;
        int64_t rows, cols, heads;
        unsigned box0, box1;
        int swizzle;
    } d[TP_CU_TMAPS] = {
        {&a->q, a->Sq, a->D, a->Hq, 32, qrows, 64},       {&a->k, a->Sk, a->D, a->Hkv, 32, 128, 64},
        {&a->v, a->Sk, a->Dv, a->Hkv, 32, 128, 64},     {&a->bias[0], a->Sq, a->Sk, a->Hq, 64, 64, 128},
        {&a->bias[1], 1, a->Sk, a->Hq, 64, 1, 128},
    };
    for (int x = 0; x < TP_CU_TMAPS; x++) {
        const tp_cu_op *o = d[x].o;
        const int64_t outer[4] = {d[x].heads, a->bdim[2], a->bdim[1], a->bdim[0]};
        tp_tmap_plan pl;
        const char *why = tp_tmap_plan_make(&pl, o, d[x].rows, d[x].cols, outer);
        if (why) return why;
        tm->sel[x] = pl.sel;
        const unsigned box[5] = {d[x].box0, d[x].box1, 1, 1, 1};
        char msg[160];
        if (tp_cu_tmap_encode(&tm->m[x], a->dtype == TP_CU_BF16, o->data, pl.dim, pl.stride, box, d[x].swizzle, msg,
                              sizeof msg) != TPRIM_OK) {
            static const char *const names[TP_CU_TMAPS] = {"q", "k", "v", "bias 0", "bias 1"};
            tp_log(ctx, TPRIM_LOG_DEBUG, "attention cuda: the tensor map of %s: %s", names[x], msg);
            return "cuTensorMapEncodeTiled refused an operand";
        }
    }
    return NULL;
}

/* One block per (query tile of bm rows, head, batch entry); sets a->n_qtiles. */
static int64_t grid_blocks(tp_cu_attn *a, const tp_attn_problem *p, int bm)
{
    const int64_t nq = (p->Sq + bm - 1) / bm;
    a->n_qtiles = (int32_t)(nq > 0x7fffffff ? 0x7fffffff : nq); /* launch() refuses such grids */
    a->fd_nq = tp_cu_fdiv_make(a->n_qtiles);
    return nq * p->Hq * p->nbatch;
}

static tprim_status mma_run(tprim_ctx *ctx, const void *prob)
{
    const tp_attn_problem *p = prob;
    const mma_cfg *c = pick_cfg(p);
    tp_cu_attn a;
    to_cu(p, &a);
    char name[64];
    snprintf(name, sizeof name, "tp_attn_mma_%s_d%d_f%d",
             p->dtype == TPRIM_BF16 ? "bf16" : p->dtype == TPRIM_F16 ? "f16" : "f32", c->kd, c->feat);
    const int bm = c->warps * 16 * c->mt;
    const int64_t blocks = grid_blocks(&a, p, bm);
    const size_t es = tprim_dtype_size(p->dtype); /* rows padded by 16 bytes */
    size_t smem = (size_t)(bm + 4 * c->bn) * ((size_t)c->kd + 16 / es) * es;
    if (c->feat == 2) { /* double-buffered bias tiles: one row when broadcast over queries */
        for (int x = 0; x < p->nbias; x++) a.bstage[x] = p->bias[x].si == 0 ? 1 : bm;
        smem += (size_t)2 * (size_t)(a.bstage[0] + a.bstage[1]) * (size_t)(c->bn + 8) * 4;
    }
    tp_log(ctx, TPRIM_LOG_DEBUG, "attention cuda: %s, %lld blocks of %d threads, %zu B shared%s",
           name, (long long)blocks, c->warps * 32, smem, a.batch_inner ? ", batch innermost (shared bias)" : "");
    return launch(ctx, p, name, blocks, (unsigned)c->warps * 32, smem, &a);
}

/* The Hopper kernel (attention_wgmma.cuh): padded head size 32, 64, 128 or 256, keys a
 * tile 128 (64 at kD = 256: the S accumulator is kBN / 2 registers a thread beside kD / 2
 * of O). */
static int wgmma_kd(const tp_attn_problem *p, int *bn)
{
    const int64_t need = p->D > p->Dv ? p->D : p->Dv;
    *bn = need <= 128 ? 128 : 64;
    return need <= 32 ? 32 : need <= 64 ? 64 : need <= 128 ? 128 : need <= 256 ? 256 : -1;
}

/* The wgmma kernel's bias variant: 0 none, 1 one bias, 2 two with the second one row for
 * every query (row stride 0: the mask bias); -1 when it cannot take the biases. The
 * biases must be all f32 or all of the input dtype (*half = 1), of unit key stride with
 * 16-byte aligned rows (cp.async), at kD = 32 (the evoformer shapes; the staged tiles
 * leave no room beside larger K, V). */
static int wgmma_bias_kind(const tp_attn_problem *p, int *half)
{
    *half = 0;
    if (!p->nbias) return 0;
    if (!biases_stageable(p)) {
        for (int x = 0; x < p->nbias; x++)
            if (p->bias[x].dtype != p->dtype || !is_vec(&p->bias[x], 2)) return -1;
        *half = 1;
    }
    if (p->nbias == 1) return 1;
    return p->bias[0].si == 0 || p->bias[1].si == 0 ? 2 : -1;
}

static const char *wgmma_accepts(const void *prob)
{
    const tp_attn_problem *p = prob;
    const char *why = cuda_common_accepts(p);
    if (why) return why;
    if (p->dtype != TPRIM_BF16 && p->dtype != TPRIM_F16)
        return "f32 inputs (the tensor-core kernels take bf16 and f16)";
    if (p->has_alibi || p->softcap > 0.0f || p->has_kmask)
        return "ALiBi, soft-cap or a key mask (the wgmma kernel takes biases only)";
    int bn;
    const int kd = wgmma_kd(p, &bn);
    if (kd < 0) return "D or Dv > 256";
    if (p->nbias && kd != 32) return "a bias with max(D, Dv) > 32 (the wgmma kernel stages biases at D <= 32)";
    int half;
    const int bk = wgmma_bias_kind(p, &half);
    if (bk < 0)
        return p->nbias == 2 && p->bias[0].si && p->bias[1].si
                   ? "two biases that both vary over query rows (the wgmma kernel stages one)"
                   : "biases not all f32 or all of the input dtype with unit key stride and 16-byte aligned rows";
    const int64_t es = (int64_t)tprim_dtype_size(p->dtype);
    if (!is_vec(&p->q, es) || !is_vec(&p->k, es) || !is_vec(&p->v, es))
        return "q, k or v rows are not 16-byte aligned with unit column stride (cp.async)";
    int arch = tp_cu_arch(p->device_id);
    if (arch != 90) return "the GPU is not sm_90 (wgmma needs Hopper)";
    return NULL;
}

static tprim_status wgmma_run(tprim_ctx *ctx, const void *prob)
{
    const tp_attn_problem *p = prob;
    int bn;
    const int kd = wgmma_kd(p, &bn);
    int half;
    const int bk = wgmma_bias_kind(p, &half);
    int nwg = bk && half ? 3 : 2; /* warpgroups a block: attention_wgmma_d32.cu */
    tp_cu_attn a;
    to_cu(p, &a);
    if (bk == 2 && a.bias[1].si != 0) { /* the bias shared by every query goes second */
        tp_cu_op t = a.bias[0];
        a.bias[0] = a.bias[1];
        a.bias[1] = t;
    }
    /* mask bias in the products (_b2hk, kMaskK): 16-bit biases and a scale whose inverse
     * three pieces of the dtype hold to 24 bits (both dtypes' normal range) */
    const int maskk = bk == 2 && half && p->scale >= 0x1p-10f && p->scale <= 0x1p10f;
    /* both biases through the tensor cores (attention_wgmma_bias.cuh, attention_wgmma_ws.cuh)
     * when scale q cannot overflow the dtype: scale <= 1; the block from evo_plan.h (its
     * stream forms for items that all see the same keys, no window, not causal, no key
     * lengths, and two or more key tiles); the TMA forms (_b2hw3, _b2hp3, _b2hm4) when every
     * operand fits a tensor map, else tp_evo_plan_no_tma's block (_b2hs4 or _b2ht2) */
    const int tcb = maskk && p->scale <= 1.0f;
    const int keys_same = a.wl >= TP_CU_UNBOUNDED && a.wr >= TP_CU_UNBOUNDED && !a.has_klen && p->Sk > bn;
    const int sms = tcb && keys_same ? tp_cu_sm_count(p->device_id) : 0;
    tp_evo_plan ep = {TP_EVO_T2, nwg, 64 * nwg, "not the tensor-core-bias path"};
    if (tcb) ep = tp_evo_plan_make(p->Sq, (int64_t)p->Hq * p->nbatch, sms > 0, ctx->cuda_evo_form);
    tp_cu_tmaps tm;
    const char *no_tma = ep.why;
    if (ep.blk >= TP_EVO_M4) { /* _b2hm4, _b2hw3, _b2hp3 */
        no_tma = make_tmaps(ctx, &a, &tm, (unsigned)ep.qrows);
        if (no_tma) ep = tp_evo_plan_no_tma(p->Sq, (int64_t)p->Hq * p->nbatch, no_tma);
    }
    nwg = ep.nwg;
    const int stream = tcb && ep.blk >= TP_EVO_S4, ws = tcb && ep.blk >= TP_EVO_W3;
    if (ws) tp_cu_units_make(&a.un, p->scale, a.dtype); /* S in units of 1 / f (scale_units.h) */
    int64_t blocks = grid_blocks(&a, p, ep.qrows);
    if (stream && blocks > sms) blocks = sms;
    char name[64];
    snprintf(name, sizeof name, "tp_attn_wgmma_%s_d%d%s%s%s%s", p->dtype == TPRIM_BF16 ? "bf16" : "f16", kd,
             bk == 0 ? "" : bk == 1 ? "_b1" : "_b2", half ? "h" : "",
             tcb ? tp_evo_suffix[ep.blk] : maskk ? "k" : "", tcb && p->has_lse ? "l" : "");
    /* Q (64 rows a warpgroup), K and V in 3 stages (2 at kD = 256) with 6 mbarriers (64 B),
     * 1 KiB to align the swizzled tiles; biases: 2 buffers a warpgroup x (64 [+ 1] rows)
     * x (bn + 8) elements of 4 (f32) or 2 bytes, and with a second bias 2 f32 rows of bn
     * a warpgroup; with the mask bias in the products, second 64-byte column blocks of Q
     * and of each K stage instead of the mask rows */
    size_t smem;
    if (ws) { /* attention_wgmma_ws.cuh: Q 2 x 2 x 192 x 64, K / V 6 x 8192, bias 3 x 2 x 2 x 80
                 x 128, the ones blocks and 18 mbarriers (5 KiB), the ones of P V's row-sum
                 columns (1 KiB), 1 KiB alignment */
        smem = (size_t)4 * 192 * 64 + 6 * 8192 + 6 * 2 * 80 * 128 + 5120 + 1024 + 1024;
    } else if (tcb) { /* attention_wgmma_bias.cuh: Q as two pieces, K and V in 3 stages, 2 bias
                         blocks a warpgroup of 80 rows x 128 bytes, the ones block (64 x 64
                         bytes), the 6 mbarriers (in 128 bytes), the all-ones block of the row
                         sums (512 bytes), 1 KiB alignment; the stream form has two Q buffers */
        smem = (size_t)((stream ? 4 : 2) * 64 * nwg + 6 * bn) * 64 + (size_t)nwg * 2 * 80 * 128 + 64 * 64 + 128 + 512 + 1024;
        if (stream && !no_tma) smem += 64 + 32 * (size_t)nwg; /* the producers' state (_b2hm4) */
    } else {
        smem = kd <= 128 ? (size_t)(64 * nwg + 6 * bn) * (size_t)kd * 2 + 64 + 1024
                         : (size_t)(128 + 4 * bn) * (size_t)kd * 2 + 1024;
        if (bk)
            smem += (size_t)(2 * nwg) * (size_t)(bk == 1 || maskk ? 64 : 65) * (size_t)(bn + 8) * (half ? 2 : 4);
        if (bk == 2 && !maskk) smem += (size_t)(2 * nwg) * (size_t)bn * 4; /* f32 log2 copies of bias 1's row */
        if (maskk) smem += (size_t)(64 * nwg + 3 * bn) * 64;
    }
    tp_log(ctx, TPRIM_LOG_DEBUG, "attention cuda: %s, %lld blocks of %d threads, %zu B shared%s%s%s", name,
           (long long)blocks, 128 * nwg, smem, a.batch_inner ? ", batch innermost (shared bias)" : "",
           !tcb || !no_tma ? "" : stream ? ", loads by cp.async: " : ", not a stream form: ", tcb && no_tma ? no_tma : "");
    const tprim_status st = launch2(ctx, p, name, blocks, (unsigned)(128 * nwg), smem, &a, stream && !no_tma ? &tm : NULL);
#ifdef TP_WS_TRACE
    /* debugging builds (bench/gpu/ws_timeline.sh): the producer form's timeline printed by
     * a kernel of its own (attention_wgmma_ws.cuh), so that the traced one has no call */
    void *sm;
    char m[256];
    const unsigned one[3] = {1, 1, 1};
    if (st == TPRIM_OK && ws && tp_ctx_cuda_stream(ctx, p->device_id, &sm) == TPRIM_OK)
        (void)tp_cu_launch(p->device_id, "tp_ws_trace_dump", one, one, 0, sm, NULL, m, sizeof m);
#endif
    return st;
}

static tprim_status simt_run(tprim_ctx *ctx, const void *prob)
{
    const tp_attn_problem *p = prob;
    tp_cu_attn a;
    to_cu(p, &a);
    const int64_t blocks = (p->Sq + 3) / 4 * p->Hq * p->nbatch;
    const size_t smem = (size_t)(p->D + p->Dv + 32) * 4 * 4;
    return launch(ctx, p, "tp_attn_simt", blocks, 128, smem, &a);
}

const tp_kernel tp_attn_cuda_wgmma_kernel = {
    .name = "cuda_wgmma",
    .family = TP_FAMILY_CUDA,
    .priority = 30,
    .accepts = wgmma_accepts,
    .run_device = wgmma_run,
};

const tp_kernel tp_attn_cuda_kernel = {
    .name = "cuda",
    .family = TP_FAMILY_CUDA,
    .priority = 20,
    .accepts = mma_accepts,
    .run_device = mma_run,
};

const tp_kernel tp_attn_cuda_simt_kernel = {
    .name = "cuda_simt",
    .family = TP_FAMILY_CUDA,
    .priority = 10,
    .accepts = simt_accepts,
    .run_device = simt_run,
};
