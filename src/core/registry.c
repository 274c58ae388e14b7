/* registry.c -- every kernel variant of every op, in one place. A new kernel is a new
 * file plus one line here; dispatch picks among the runnable ones by priority. */
#include "internal.h"

extern const tp_kernel tp_attn_ref_kernel;
#ifdef TPRIM_HAVE_AVX2
extern const tp_kernel tp_attn_avx2_kernel;
#endif
#ifdef TPRIM_HAVE_AVX512
extern const tp_kernel tp_attn_avx512_kernel;
#endif
#ifdef TPRIM_HAVE_NEON
extern const tp_kernel tp_attn_neon_kernel;
#endif

static const tp_kernel_table attention_table = {
    .count = 1
#ifdef TPRIM_HAVE_AVX2
             + 1
#endif
#ifdef TPRIM_HAVE_AVX512
             + 1
#endif
#ifdef TPRIM_HAVE_NEON
             + 1
#endif
    ,
    .k = {
        &tp_attn_ref_kernel,
#ifdef TPRIM_HAVE_AVX2
        &tp_attn_avx2_kernel,
#endif
#ifdef TPRIM_HAVE_AVX512
        &tp_attn_avx512_kernel,
#endif
#ifdef TPRIM_HAVE_NEON
        &tp_attn_neon_kernel,
#endif
    }};

extern const tp_kernel tp_gemm_ref_kernel;
#ifdef TPRIM_HAVE_AVX2
extern const tp_kernel tp_gemm_avx2_kernel;
#endif
#ifdef TPRIM_HAVE_AVX512
extern const tp_kernel tp_gemm_avx512_kernel;
#endif
#ifdef TPRIM_HAVE_NEON
extern const tp_kernel tp_gemm_neon_kernel;
#endif

/* TPRIM_OP_LINEAR: tprim_linear and every tp_gemm call inside the library */
static const tp_kernel_table linear_table = {
    .count = 1
#ifdef TPRIM_HAVE_AVX2
             + 1
#endif
#ifdef TPRIM_HAVE_AVX512
             + 1
#endif
#ifdef TPRIM_HAVE_NEON
             + 1
#endif
    ,
    .k = {
        &tp_gemm_ref_kernel,
#ifdef TPRIM_HAVE_AVX2
        &tp_gemm_avx2_kernel,
#endif
#ifdef TPRIM_HAVE_AVX512
        &tp_gemm_avx512_kernel,
#endif
#ifdef TPRIM_HAVE_NEON
        &tp_gemm_neon_kernel,
#endif
    }};

const tp_kernel_table *tp_kernels(tprim_op op)
{
    switch (op) {
    case TPRIM_OP_ATTENTION: return &attention_table;
    case TPRIM_OP_LINEAR: return &linear_table;
    default: return NULL;
    }
}
