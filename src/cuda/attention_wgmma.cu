/* attention_wgmma.cu -- instances of the Hopper attention kernel (attention_wgmma.cuh)
 * for kD = 64, 128 (three stages, two warpgroups in ping-pong) and 256 (two stages),
 * plain path. */
#include "attention_wgmma.cuh"

#define TP_WG3(TNAME, T, KD) \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d##KD, 256, 1, (tp_attn_wgmma3_body<T, KD, 128, 2, 0>))
#define TP_WG2(TNAME, T, KD) \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d##KD, 256, 1, (tp_attn_wgmma_body<T, KD, 64>))

TP_WG3(bf16, __nv_bfloat16, 64)
TP_WG3(f16, __half, 64)
TP_WG3(bf16, __nv_bfloat16, 128)
TP_WG3(f16, __half, 128)
TP_WG2(bf16, __nv_bfloat16, 256)
TP_WG2(f16, __half, 256)
