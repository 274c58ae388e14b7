/* evo_plan.h -- which block the Hopper kernel's evoformer path runs (attention_cuda.c,
 * attention_wgmma_d32.cu): the choice as a pure function of the query length, the work
 * items' count and the context's stream form, so that tests/test_cuda.c checks it on any
 * machine. Host code.
 *
 * The path (both biases through the tensor cores, kD = 32) has these blocks:
 *   _b2ht2  two warpgroups, 128 query rows a block, two blocks a SM;
 *   _b2ht4  four warpgroups, 256 rows: when rounding Sq up to 256 rows costs no more
 *           rows than rounding it up to 128. H200 (bench/gpu/ab.sh, medians of 3, one
 *           call): triangle attention (Sq = 768) 1.441 ms with four, 1.473 with two;
 *           MSA rows (Sq = 384) 0.762 with four, 0.555 with two;
 *   the stream forms of _b2ht4, one block a SM running work items blockIdx.x, +
 *   gridDim.x, .. as one stream of key tiles (the caller says whether the items all see
 *   the same keys and have two or more key tiles, and the SM count is known):
 *   _b2hs4  loads by cp.async from the computing threads (TPRIM_CUDA_STREAM=cpasync, and
 *           where a TMA form cannot run). H200, triangle: 1.297 ms against 1.368 for
 *           _b2ht4 (the fast item decode);
 *   _b2hm4  loads by TMA from a computing thread (TPRIM_CUDA_STREAM=tma; slower: H100,
 *           1.321 ms against 1.272 for _b2hs4);
 *   _b2hw3  a producer warpgroup loads by TMA, three warpgroups compute 192-row items
 *           (the default, TPRIM_CUDA_STREAM=producer) where rounding Sq up to 192 rows
 *           costs no more rows than rounding it up to 256 (Sq = 700 .. 768, 1 344 ..
 *           1 536, ..). H200 (2026-12-06, one call, same-run medians), triangle
 *           attention N = L = 768: 1.150 ms against 1.266 for _b2hs4. Also where the
 *           blocks would be of two warpgroups and 192-row items add no rows to 128-row
 *           ones (MSA rows, Sq = 384): H100 (2026-12-07, bench/gpu/ab.sh, medians of 3,
 *           one call) 0.418 ms against 0.547 for _b2ht2. With P V and the row sums as
 *           one m64n40 wgmma a k-step (H100, 2026-12-07, one call): triangle 1.068 ms
 *           against 1.102, MSA rows 0.396 against 0.406;
 *   _b2hp3  _b2hw3 with each tile's P V issued in the warpgroup's next turn, together
 *           with the next tile's S (TPRIM_CUDA_STREAM=deferpv; taken where _b2hw3 would
 *           be). H100 (2026-12-07, bench/gpu/ab.sh, medians of 3, one call): 1.132 ms
 *           against 1.128 for _b2hw3 (with its tile loop calling the same tile_s), 1.153
 *           before; no faster, so not the default.
 * The TMA forms also need tensor maps of every operand; where the launcher cannot make
 * them, tp_evo_plan_no_tma gives the block instead: _b2hs4 for shapes of four-warpgroup
 * blocks, _b2ht2 for those whose producer form replaced two-warpgroup blocks (MSA rows:
 * _b2hs4 would compute 512 rows where _b2ht2 computes 384). */
#ifndef TPRIM_CUDA_EVO_PLAN_H
#define TPRIM_CUDA_EVO_PLAN_H

#include <stdint.h>

#include "../core/internal.h" /* enum tp_evo_form */

/* the blocks, in the order of their name suffixes tp_evo_suffix[] */
typedef enum { TP_EVO_T2, TP_EVO_T4, TP_EVO_S4, TP_EVO_M4, TP_EVO_W3, TP_EVO_P3 } tp_evo_blk;
static const char *const tp_evo_suffix[6] = {"t2", "t4", "s4", "m4", "w3", "p3"};

typedef struct {
    tp_evo_blk blk;
    int nwg;         /* warpgroups of threads a block (the producer's counted): 2 or 4 */
    int qrows;       /* query rows a work item: 128, 256 or 192 */
    const char *why; /* why no TMA form (NULL when blk is _b2hm4, _b2hw3 or _b2hp3) */
} tp_evo_plan;

/* The block for Sq query rows; heads_batch: heads x batch entries (work items = that x
 * the query tiles, below 2^31 for a stream form); stream: the caller's conditions above
 * hold; form: the context's tp_evo_form. */
static inline tp_evo_plan tp_evo_plan_make(int64_t Sq, int64_t heads_batch, int stream, int form)
{
    const int64_t lim = 0x7fffffffLL, t128 = (Sq + 127) / 128, t192 = (Sq + 191) / 192, t256 = (Sq + 255) / 256;
    tp_evo_plan p;
    p.nwg = t256 * 2 == t128 ? 4 : 2;
    p.qrows = 64 * p.nwg;
    p.blk = p.nwg == 4 ? TP_EVO_T4 : TP_EVO_T2;
    p.why = p.nwg == 4 ? "not a stream shape (a window, causal, key lengths, one key tile)"
                       : "blocks of two warpgroups";
    if (!stream) return p;
    if (form == TP_EVO_PRODUCER || form == TP_EVO_DEFERPV) {
        /* 192-row items where they add no rows to the blocks otherwise taken */
        if (t192 * 192 > (p.nwg == 4 ? t256 * 256 : t128 * 128))
            p.why = "items of 192 rows would add rows (the producer form)";
        else if (t192 * heads_batch > lim) p.why = "too many work items";
        else {
            p.blk = form == TP_EVO_DEFERPV ? TP_EVO_P3 : TP_EVO_W3, p.nwg = 4, p.qrows = 192, p.why = NULL;
            return p;
        }
    }
    if (p.nwg != 4) return p;
    if (t256 * heads_batch > lim) {
        p.why = "too many work items";
        return p;
    }
    p.blk = TP_EVO_S4;
    if (form == TP_EVO_CPASYNC) p.why = "TPRIM_CUDA_STREAM=cpasync";
    else if (form == TP_EVO_TMA) p.blk = TP_EVO_M4, p.why = NULL;
    return p;
}

/* The block where the plan was a TMA form (_b2hm4, _b2hw3, _b2hp3) but the launcher could
 * not make the tensor maps: the cp.async form's plan for the same shape, with why, the
 * launcher's reason. */
static inline tp_evo_plan tp_evo_plan_no_tma(int64_t Sq, int64_t heads_batch, const char *why)
{
    tp_evo_plan p = tp_evo_plan_make(Sq, heads_batch, 1, TP_EVO_CPASYNC);
    p.why = why;
    return p;
}

#endif
