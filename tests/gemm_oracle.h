/* gemm_oracle.h -- float64 oracles for tprim_linear and the internal GEMM, written from
 * the header's definitions alone (they share no code with the library). */
#ifndef TPRIM_TEST_GEMM_ORACLE_H
#define TPRIM_TEST_GEMM_ORACLE_H

#include "util.h"

/* Element `flat` (row-major over the logical shape) of t, through its strides and dtype. */
double tensor_get(const tprim_tensor *t, int64_t flat);

/* y_ref[r][o] = sum_i x[r][i] * w[o][i] + b[o], r over the flattened leading dims of x
 * (row-major), o < out. b may be NULL. y_ref: [rows][out] doubles. */
void oracle_linear(const tprim_tensor *x, const tprim_tensor *w, const tprim_tensor *b,
                   double *y_ref);

/* One operand of a batched product as the oracle reads it: element (bi, r, c) at
 * data + (batch offset + r*rs + c*cs) * size, batch offset = sum_d b_d * bs[d] for the
 * batch index bi decomposed over bdim (outermost first). */
typedef struct omat {
    const void *data;
    tprim_dtype dt;
    int64_t rs, cs, bs[4];
} omat;

/* ref[bi][i][j] = (c0 ? C0(bi, i, j) : 0) + (bias ? bias(bi, 0, j) : 0)
 *                 + sum_p A(bi, i, p) * B(bi, p, j); ref: [nbatch][m][n] doubles. */
void oracle_gemm(int nbd, const int64_t *bdim, int64_t m, int64_t n, int64_t k, const omat *a,
                 const omat *b, const omat *bias, const omat *c0, double *ref);

#endif
