/* registry.c -- every kernel variant of every op, in one place. A new kernel is a new
 * file plus one line here; dispatch picks among the runnable ones by priority. */
#include "internal.h"

extern const tp_kernel tp_attn_ref_kernel, tp_attn_bwd_ref_kernel, tp_gemm_ref_kernel;
#ifdef TPRIM_HAVE_AVX2
extern const tp_kernel tp_attn_avx2_kernel, tp_attn_avx2_kernel_bwd, tp_gemm_avx2_kernel;
#define TP_N_AVX2 1
#else
#define TP_N_AVX2 0
#endif
#ifdef TPRIM_HAVE_AVX512
extern const tp_kernel tp_attn_avx512_kernel, tp_attn_avx512_kernel_bwd, tp_gemm_avx512_kernel;
#define TP_N_AVX512 1
#else
#define TP_N_AVX512 0
#endif
#ifdef TPRIM_HAVE_NEON
extern const tp_kernel tp_attn_neon_kernel, tp_attn_neon_kernel_bwd, tp_gemm_neon_kernel;
#define TP_N_NEON 1
#else
#define TP_N_NEON 0
#endif
#ifdef TPRIM_HAVE_CUDA
extern const tp_kernel tp_attn_cuda_wgmma_kernel, tp_attn_cuda_kernel, tp_attn_cuda_simt_kernel;
#endif
/* the number of SIMD variants built for this target */
#define TP_N_SIMD (TP_N_AVX2 + TP_N_AVX512 + TP_N_NEON)

/* One table per op: ref first, then the SIMD variants built for this target. */
#ifdef TPRIM_HAVE_AVX2
#define TP_AVX2_(x) &x,
#else
#define TP_AVX2_(x)
#endif
#ifdef TPRIM_HAVE_AVX512
#define TP_AVX512_(x) &x,
#else
#define TP_AVX512_(x)
#endif
#ifdef TPRIM_HAVE_NEON
#define TP_NEON_(x) &x,
#else
#define TP_NEON_(x)
#endif
#define TP_TABLE(name, ref, avx2, avx512, neon)                                              \
    static const tp_kernel_table name = {                                                  \
        .count = 1 + TP_N_SIMD, .k = {&ref, TP_AVX2_(avx2) TP_AVX512_(avx512) TP_NEON_(neon)}}

#ifdef TPRIM_HAVE_CUDA
/* attention also has the CUDA kernels, taken only for CUDA tensors */
static const tp_kernel_table attention_table = {
    .count = 4 + TP_N_SIMD,
    .k = {&tp_attn_ref_kernel, TP_AVX2_(tp_attn_avx2_kernel) TP_AVX512_(tp_attn_avx512_kernel)
              TP_NEON_(tp_attn_neon_kernel) & tp_attn_cuda_wgmma_kernel, &tp_attn_cuda_kernel,
          &tp_attn_cuda_simt_kernel}};
#else
TP_TABLE(attention_table, tp_attn_ref_kernel, tp_attn_avx2_kernel, tp_attn_avx512_kernel,
         tp_attn_neon_kernel);
#endif
TP_TABLE(attention_backward_table, tp_attn_bwd_ref_kernel, tp_attn_avx2_kernel_bwd,
         tp_attn_avx512_kernel_bwd, tp_attn_neon_kernel_bwd);
/* TPRIM_OP_LINEAR: tprim_linear and every tp_gemm call inside the library */
TP_TABLE(linear_table, tp_gemm_ref_kernel, tp_gemm_avx2_kernel, tp_gemm_avx512_kernel,
         tp_gemm_neon_kernel);

const tp_kernel_table *tp_kernels(tprim_op op)
{
    switch (op) {
    case TPRIM_OP_ATTENTION: return &attention_table;
    case TPRIM_OP_LINEAR: return &linear_table;
    case TPRIM_OP_ATTENTION_BACKWARD: return &attention_backward_table;
    default: return NULL;
    }
}
