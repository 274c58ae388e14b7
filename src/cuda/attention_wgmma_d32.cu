/* attention_wgmma_d32.cu -- instances of the Hopper attention kernel (attention_wgmma.cuh)
 * for kD = 32 (64-byte swizzled tiles): the plain path, two blocks a SM (57 KiB of shared
 * memory, 128 registers), and the bias paths of the evoformer shapes: _b1 one bias,
 * _b2 a bias over (query, key) plus one shared by every query (the mask bias), f32
 * biases, or (_b1h, _b2h) biases of the input dtype; one block a SM (the staged f32 bias
 * tiles take 139 / 141 KiB, 16-bit ones 70 / 71 KiB). */
#include "attention_wgmma.cuh"

#define TP_WG32(TNAME, T, B, TB, SUFFIX, MINB)                                              \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d32##SUFFIX, T, 32, 128, MINB,            \
                         (tp_attn_wgmma3_body<T, 32, 128, B, TB>))

TP_WG32(bf16, __nv_bfloat16, 0, float, , 2)
TP_WG32(f16, __half, 0, float, , 2)
TP_WG32(bf16, __nv_bfloat16, 1, float, _b1, 1)
TP_WG32(f16, __half, 1, float, _b1, 1)
TP_WG32(bf16, __nv_bfloat16, 2, float, _b2, 1)
TP_WG32(f16, __half, 2, float, _b2, 1)
TP_WG32(bf16, __nv_bfloat16, 1, __nv_bfloat16, _b1h, 1)
TP_WG32(f16, __half, 1, __half, _b1h, 1)
TP_WG32(bf16, __nv_bfloat16, 2, __nv_bfloat16, _b2h, 1)
TP_WG32(f16, __half, 2, __half, _b2h, 1)
