/* gemm.h -- the library's internal matrix multiply, for op front-ends (tprim_linear,
 * the evoformer module, backward passes) that need C = A B on the CPU.
 *
 *   C[b][i][j] = (accumulate ? C[b][i][j] : 0) + bias[b][j] + sum_p A[b][i][p] * B[b][p][j]
 *
 * for every batch index b (up to TP_GEMM_MAX_BDIMS dims), i < m, j < n, p < k.
 *
 * Every operand is a strided view: element (i, p) of A lives at
 *   a.data + (b-offset + i * a.rs + p * a.cs) * sizeof(a.dtype)
 * with any strides (negative, zero, transposed), so A^T or B^T cost no copy: pass the
 * swapped strides. The batch offset is sum_d b_d * bs[d] over the batch dims; a batch
 * stride of 0 broadcasts the operand over that dim (one weight matrix for all batches).
 *
 * dtypes: A and B f32, bf16 or f16 (each its own; converted to f32 while packing);
 * bias f32, bf16 or f16; C f32, bf16 or f16. Products and sums are f32; a bf16/f16 C is
 * rounded to nearest even once, after the last term, and with accumulate its old value
 * is read as f32 and added once.
 * k = 0 is allowed: C = (accumulate ? C : 0) + bias. m = 0, n = 0 or no batch entries:
 * nothing is read or written.
 *
 * Contract (the caller checks it; tp_gemm does not repeat the checks):
 *   - every element the shapes and strides reach is readable (A, B, bias) or writable (C);
 *   - distinct (b, i, j) of C are distinct memory (no zero strides over dims of size > 1)
 *     and C overlaps no input;
 *   - byte offsets of all reachable elements fit in int64 (front-ends check the extents);
 *   - not called from inside a thread-pool task (the pool runs one job at a time).
 */
#ifndef TPRIM_OPS_GEMM_H
#define TPRIM_OPS_GEMM_H

#include "../core/internal.h"

#define TP_GEMM_MAX_BDIMS 4

/* One operand as [batch..., rows, cols]. */
typedef struct tp_gemm_operand {
    const char *data;               /* element (0, ..., 0); bias: NULL = no bias */
    tprim_dtype dtype;
    int64_t rs;                     /* row stride (elements); unused for bias */
    int64_t cs;                     /* column stride (elements) */
    int64_t bs[TP_GEMM_MAX_BDIMS];  /* batch strides, aligned with tp_gemm_problem.bdim */
} tp_gemm_operand;

typedef struct tp_gemm_problem {
    int64_t m, n, k;                /* each >= 0 */
    int32_t nbd;                    /* batch dims, 0..TP_GEMM_MAX_BDIMS */
    int64_t bdim[TP_GEMM_MAX_BDIMS];/* batch sizes, outermost first (first nbd used) */
    tp_gemm_operand a;              /* [batch..., m, k] */
    tp_gemm_operand b;              /* [batch..., k, n] */
    tp_gemm_operand bias;           /* [batch..., n] (cs along n), or data == NULL */
    tp_gemm_operand c;              /* [batch..., m, n] (written) */
    int32_t accumulate;             /* nonzero: add to C instead of overwriting it */
} tp_gemm_problem;

/* A zeroed problem of shape m x n x k without batch dims, bias or accumulate. */
void tp_gemm_problem_init(tp_gemm_problem *p, int64_t m, int64_t n, int64_t k);

/* Number of batch entries (product of bdim; 1 without batch dims). Cannot overflow
 * for problems built from valid tensors. */
int64_t tp_gemm_nbatch(const tp_gemm_problem *p);

/* Element offset of flat batch entry `bi` of operand o. */
static inline int64_t tp_gemm_boff(const tp_gemm_problem *p, const tp_gemm_operand *o,
                                   int64_t bi)
{
    int64_t off = 0;
    for (int d = p->nbd - 1; d >= 0; d--) {
        off += (bi % p->bdim[d]) * o->bs[d];
        bi /= p->bdim[d];
    }
    return off;
}

/*
 * Run the problem: pick the kernel (the TPRIM_OP_LINEAR table: pinning, TPRIM_ISA and
 * the statistics of tprim_ctx_* apply), take the workspace from the context's arena,
 * run on the context's threads. Returns TPRIM_OK, or TPRIM_ERR_OVERFLOW /
 * TPRIM_ERR_OUT_OF_MEMORY / TPRIM_ERR_UNSUPPORTED (pinned kernel refuses) after
 * tp_fail; nothing is written then.
 */
tprim_status tp_gemm(tprim_ctx *ctx, const tp_gemm_problem *p);

#endif /* TPRIM_OPS_GEMM_H */
