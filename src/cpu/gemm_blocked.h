/* gemm_blocked.h -- the contract between the generic BLIS-style GEMM driver
 * (gemm_blocked.c) and the per-ISA micro-kernels.
 *
 * B is packed once per call (or per chunk of columns / group of batch entries when it
 * would exceed a budget) by all threads, into panels of nr columns: panel [K][nr], zero
 * beyond the last column. C is cut into work items of up to mc rows by a range of
 * columns (one batch entry each; all columns unless the threads need more items), and
 * K into blocks of up to kc. A work item, for each K block:
 *
 *   for each block of nc columns (its kc x nc slice of packed B stays in L2):
 *     for each micro-panel of mr rows of A ([kc][pa_ld], packed from A during the
 *         first column block, just before its first use; reused by later ones):
 *       for each panel of nr columns:  micro-kernel (an mr x nr tile of C)
 *
 * The micro-kernel only ever sees full mr x nr tiles: the driver routes edge tiles
 * through a small f32 tile buffer. C that is not f32 with unit column stride goes
 * through f32 buffers too (a tile, or a per-item scratch when K takes several blocks)
 * and reaches C, converted and accumulated, via store_row.
 */
#ifndef TPRIM_CPU_GEMM_BLOCKED_H
#define TPRIM_CPU_GEMM_BLOCKED_H

#include "../ops/gemm.h"

typedef struct tp_gemm_ukr {
    int32_t mr, nr; /* micro-tile: mr rows (broadcast from A) x nr columns (vectors of B) */
    int32_t pa_ld;  /* floats per k step of a packed A micro-panel (>= mr; the lanes
                     * mr..pa_ld-1 are packed as zeros, e.g. to store whole vectors) */
    int32_t kc;     /* K block: a C tile is read and written once per K block */
    int32_t mc;     /* rows per work item (a multiple of mr) */
    int32_t nc;     /* columns per B block (a multiple of nr): kc x nc floats in L2 */
    /*
     * Pack `kc` steps of `nl` lanes into dst [kc][W] (W = pa_ld for A, nr for B):
     *   dst[p * W + l] = src[l * ls + p * ss]   (converted from dt to f32), l < nl,
     *   dst[p * W + l] = 0                      nl <= l < W.
     * A is packed with (ls, ss) = (rs, cs), B with (cs, rs). dst is 64-byte aligned.
     */
    void (*pack)(const char *src, tprim_dtype dt, int64_t ls, int64_t ss, int64_t nl,
                 int64_t kc, int32_t W, float *dst);
    /*
     * One full tile, c row r at c + r * ldc, columns 0..nr-1 contiguous:
     *   c[r][j] = (beta ? c[r][j] : 0) + (bias ? bias[j] : 0) + sum_p a[p*pa_ld + r] * b[p*nr + j]
     * for r < mr, j < nr, p < k (k may be 0). beta == 0 never reads c. a, b are
     * 64-byte aligned packed panels.
     */
    void (*kernel)(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int beta,
                   const float *bias);
    /* c[j * cs] = (accumulate ? c[j * cs] : 0) + t[j], converted to dt (round to nearest
     * even), j < n. */
    void (*store_row)(const float *t, int64_t n, char *c, tprim_dtype dt, int64_t cs,
                      int accumulate);
} tp_gemm_ukr;

/* The generic driver: tp_kernel callbacks parameterised by a ukr table. */
size_t tp_gemm_blocked_workspace(const tp_gemm_ukr *u, const tp_gemm_problem *p, int nthreads,
                                 int *ok);
void tp_gemm_blocked_run(const tp_gemm_ukr *u, const tp_gemm_problem *p, void *ws, tp_pool *pool,
                         int nthreads);

/* Portable pieces an ISA may use for the cases it does not vectorise. */
void tp_gemm_pack_generic(const char *src, tprim_dtype dt, int64_t ls, int64_t ss, int64_t nl,
                          int64_t kc, int32_t W, float *dst);
void tp_gemm_store_row_generic(const float *t, int64_t n, char *c, tprim_dtype dt, int64_t cs,
                               int accumulate);

/* Define the tp_kernel of a blocked GEMM variant from its ukr table. */
#define TP_GEMM_KERNEL(sym, kname, kfamily, kprio, ukr)                                     \
    static size_t sym##_workspace(const void *prob, int nthreads, int *ok)                 \
    {                                                                                       \
        return tp_gemm_blocked_workspace(&(ukr), (const tp_gemm_problem *)prob, nthreads,   \
                                         ok);                                               \
    }                                                                                       \
    static void sym##_run(const void *prob, void *ws, tp_pool *pool, int nthreads)          \
    {                                                                                       \
        tp_gemm_blocked_run(&(ukr), (const tp_gemm_problem *)prob, ws, pool, nthreads);     \
    }                                                                                       \
    const tp_kernel sym = {.name = (kname),                                                 \
                           .family = (kfamily),                                             \
                           .priority = (kprio),                                             \
                           .accepts = NULL,                                                 \
                           .workspace = sym##_workspace,                                    \
                           .run = sym##_run,                                                \
                           .impl = &(ukr)}

#endif /* TPRIM_CPU_GEMM_BLOCKED_H */
