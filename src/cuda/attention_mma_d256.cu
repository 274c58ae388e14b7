/* attention_mma_d256.cu -- instances of the tensor-core attention kernel (attention_mma.cuh)
 * for these head sizes; one file per group so that nvcc runs them in parallel. */
#include "attention_mma.cuh"

TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 256, 64, 32, 4, false, 0, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 256, 64, 32, 4, false, 1, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 256, 64, 32, 4, false, 0, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 256, 64, 32, 4, false, 1, 1)
