/* attention_mma_d96_128.cu -- instances of the tensor-core attention kernel (attention_mma.cuh)
 * for these head sizes; one file per group so that nvcc runs them in parallel. */
#include "attention_mma.cuh"

TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 96, 128, 64, 8, true, 0, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 96, 128, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 96, 128, 64, 8, true, 0, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 96, 128, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 128, 128, 64, 8, true, 0, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 128, 128, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 128, 128, 64, 8, true, 0, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 128, 128, 64, 8, true, 1, 1)
