/* registry.c -- every kernel variant of every op, in one place. A new kernel is a new
 * file plus one line here; dispatch picks among the runnable ones by priority. */
#include "internal.h"

extern const tp_kernel tp_attn_ref_kernel, tp_attn_bwd_ref_kernel;
#ifdef TPRIM_HAVE_AVX2
extern const tp_kernel tp_attn_avx2_kernel, tp_attn_avx2_kernel_bwd;
#endif
#ifdef TPRIM_HAVE_AVX512
extern const tp_kernel tp_attn_avx512_kernel, tp_attn_avx512_kernel_bwd;
#endif
#ifdef TPRIM_HAVE_NEON
extern const tp_kernel tp_attn_neon_kernel, tp_attn_neon_kernel_bwd;
#endif

/* the number of SIMD variants built for this target */
#define TP_N_SIMD (0 + TP_N_AVX2 + TP_N_AVX512 + TP_N_NEON)
#ifdef TPRIM_HAVE_AVX2
#define TP_N_AVX2 1
#else
#define TP_N_AVX2 0
#endif
#ifdef TPRIM_HAVE_AVX512
#define TP_N_AVX512 1
#else
#define TP_N_AVX512 0
#endif
#ifdef TPRIM_HAVE_NEON
#define TP_N_NEON 1
#else
#define TP_N_NEON 0
#endif

static const tp_kernel_table attention_table = {
    .count = 1 + TP_N_SIMD,
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

static const tp_kernel_table attention_backward_table = {
    .count = 1 + TP_N_SIMD,
    .k = {
        &tp_attn_bwd_ref_kernel,
#ifdef TPRIM_HAVE_AVX2
        &tp_attn_avx2_kernel_bwd,
#endif
#ifdef TPRIM_HAVE_AVX512
        &tp_attn_avx512_kernel_bwd,
#endif
#ifdef TPRIM_HAVE_NEON
        &tp_attn_neon_kernel_bwd,
#endif
    }};

const tp_kernel_table *tp_kernels(tprim_op op)
{
    switch (op) {
    case TPRIM_OP_ATTENTION: return &attention_table;
    case TPRIM_OP_ATTENTION_BACKWARD: return &attention_backward_table;
    default: return NULL;
    }
}
