/* attention_mma_f32.cu -- instances of the tensor-core attention kernel (attention_mma.cuh)
 * for f32 inputs: three tf32 products a product, kD <= 128. Arguments as in
 * attention_mma_d32_64.cu (Q is always read from shared memory here); attention_cuda.c
 * has the reasons for the tiles. */
#include "attention_mma.cuh"

TP_ATTN_MMA_KERNEL(f32, float, 32, 2, 64, 4, false, 0, 3)
TP_ATTN_MMA_KERNEL(f32, float, 32, 1, 64, 8, false, 1, 1)
TP_ATTN_MMA_KERNEL(f32, float, 32, 1, 32, 8, false, 2, 2)
TP_ATTN_MMA_KERNEL(f32, float, 64, 2, 64, 4, false, 0, 1)
TP_ATTN_MMA_KERNEL(f32, float, 64, 1, 64, 8, false, 1, 1)
TP_ATTN_MMA_KERNEL(f32, float, 64, 1, 32, 8, false, 2, 2)
TP_ATTN_MMA_KERNEL(f32, float, 128, 1, 32, 4, false, 0, 2)
TP_ATTN_MMA_KERNEL(f32, float, 128, 1, 32, 8, false, 1, 1)
