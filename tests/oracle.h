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
