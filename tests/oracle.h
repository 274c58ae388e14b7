/* oracle.h -- float64 attention oracle, written from the header's definition alone
 * (it shares no code with the library). */
#ifndef TPRIM_TEST_ORACLE_H
#define TPRIM_TEST_ORACLE_H

#include "util.h"

/* out: [nbatch][Hq][Sq][Dv] doubles, lse: [nbatch][Hq][Sq] (may be NULL).
 * Reads q, k, v, biases etc. through their strides and dtypes. */
void oracle_attention(const tprim_tensor *q, const tprim_tensor *k, const tprim_tensor *v,
                      const tprim_attn_params *pa, double *out, double *lse);

#endif

/* Float64 gradients of loss = sum(dout * out) for the same call, from the definition.
 * dq [nbatch][Hq][Sq][D], dk [nbatch][Hkv][Sk][D], dv [nbatch][Hkv][Sk][Dv] (row-major
 * over the logical shapes); dbias[x] (may be NULL) indexed like the flat row-major
 * elements of params->bias[x], i.e. already summed over its broadcast dims. */
void oracle_attention_backward(const tprim_tensor *q, const tprim_tensor *k,
                               const tprim_tensor *v, const tprim_attn_params *pa,
                               const tprim_tensor *dout, double *dq, double *dk, double *dv,
                               double *dbias0, double *dbias1);

/* element idx[0..rank) of any tensor as double (bool: 0 or 1) */
double oracle_elem(const tprim_tensor *t, const int64_t *idx);

/* Float64 forward of tprim_evo_forward, written from OpenFold's definitions (its own
 * loops; no code shared with the library). out: x's logical shape, row-major. */
void oracle_evo_forward(const tprim_evo_block *blk, const tprim_tensor *x,
                        const tprim_tensor *mask, const tprim_tensor *z, double *out);
