/* attention_mma_d32_64.cu -- instances of the tensor-core attention kernel (attention_mma.cuh)
 * for these head sizes; one file per group so that nvcc runs them in parallel.
 * Arguments: dtype, kD, m-tiles per warp, keys per tile, warps, Q held in registers,
 * full path, blocks per SM the registers must allow (attention_cuda.c has the reasons). */
#include "attention_mma.cuh"

TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 32, 2, 64, 4, true, 0, 3)
TP_ATTN_MMA_KERNEL(f16, __half, 32, 2, 64, 4, true, 0, 3)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 32, 1, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 32, 1, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 32, 1, 64, 8, true, 2, 2)
TP_ATTN_MMA_KERNEL(f16, __half, 32, 1, 64, 8, true, 2, 2)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 64, 2, 64, 4, true, 0, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 64, 2, 64, 4, true, 0, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 64, 1, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 64, 1, 64, 8, true, 1, 1)
TP_ATTN_MMA_KERNEL(bf16, __nv_bfloat16, 64, 1, 64, 8, true, 2, 1)
TP_ATTN_MMA_KERNEL(f16, __half, 64, 1, 64, 8, true, 2, 1)
