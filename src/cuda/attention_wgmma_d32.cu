/* attention_wgmma_d32.cu -- instances of the Hopper attention kernel (attention_wgmma.cuh)
 * for kD = 32 (64-byte swizzled tiles):
 *   plain: two warpgroups, two blocks a SM (57 KiB of shared memory, <= 128 registers);
 *   _b1 / _b2, f32 biases (one bias; a bias over (query, key) plus one shared by every
 *       query, the mask bias): two warpgroups, one block a SM (the staged bias tiles
 *       take 139 / 141 KiB);
 *   _b1h / _b2h, biases of the input dtype: three warpgroups (192 rows a block), one
 *       block a SM (12 warps: the softmax of one warpgroup has two others to hide its
 *       latencies behind; 16-bit bias tiles 3 x 35 KiB);
 *   _b2hk, as _b2h with the mask bias added by the tensor cores (kMaskK; the launcher
 *       picks it when 1 < scale <= 2^10), warpgroups not taking turns;
 *   _b2ht2 / _b2ht4, both biases in S's accumulator chain (attention_wgmma_bias.cuh;
 *       scale <= 1; <= 128 registers): two warpgroups and two blocks a SM, or four
 *       warpgroups; _b2hs4, the stream form of _b2ht4 (one block a SM running work items
 *       in turn); _b2hm4, the stream form with its loads by TMA from tensor maps (a
 *       second kernel parameter; TPRIM_CUDA_STREAM=tma); _b2hw3, the stream form with a
 *       producer warpgroup (three computing warpgroups, 192-row items; the default);
 *       _b2hp3, that form with each tile's P V issued in the next turn (deferpv);
 *       each with the row sums on
 *       the tensor cores, and as _l (_b2ht2l, ..) with the softmax's f32 sums, which the
 *       launcher picks when lse is asked for.
 * Arguments: dtype, warpgroups, bias variant, bias element type, name suffix, blocks a SM. */
#include "attention_wgmma_bias.cuh"

#define TP_WG32(TNAME, T, WG, B, TB, SUFFIX, MINB)                                            \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d32##SUFFIX, 128 * WG, MINB,               \
                         (tp_attn_wgmma3_body<T, 32, 128, WG, B, TB>))

TP_WG32(bf16, __nv_bfloat16, 2, 0, float, , 2)
TP_WG32(f16, __half, 2, 0, float, , 2)
TP_WG32(bf16, __nv_bfloat16, 2, 1, float, _b1, 1)
TP_WG32(f16, __half, 2, 1, float, _b1, 1)
TP_WG32(bf16, __nv_bfloat16, 2, 2, float, _b2, 1)
TP_WG32(f16, __half, 2, 2, float, _b2, 1)
TP_WG32(bf16, __nv_bfloat16, 3, 1, __nv_bfloat16, _b1h, 1)
TP_WG32(f16, __half, 3, 1, __half, _b1h, 1)
TP_WG32(bf16, __nv_bfloat16, 3, 2, __nv_bfloat16, _b2h, 1)
TP_WG32(f16, __half, 3, 2, __half, _b2h, 1)
#define TP_WG32K(TNAME, T)                                                                     \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2hk, 384, 1,                           \
                         (tp_attn_wgmma3_body<T, 32, 128, 3, 2, T, true>))
TP_WG32K(bf16, __nv_bfloat16)
TP_WG32K(f16, __half)
#define TP_WG32T(TNAME, T, L, TCL)                                                                  \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2ht2##L, 256, 2, (tp_attn_wgmma_tcb_body<T, 2, TCL>)) \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2ht4##L, 512, 1, (tp_attn_wgmma_tcb_body<T, 4, TCL>)) \
    TP_ATTN_WGMMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2hs4##L, 512, 1, (tp_attn_wgmma_tcbs_body<T, 4, TCL>))
TP_WG32T(bf16, __nv_bfloat16, , true)
TP_WG32T(f16, __half, , true)
TP_WG32T(bf16, __nv_bfloat16, l, false)
TP_WG32T(f16, __half, l, false)
#define TP_WG32M(TNAME, T, L, TCL)                                                                  \
    TP_ATTN_WGMMA_TMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2hm4##L, 512, 1, (tp_attn_wgmma_tcbm_body<T, 4, TCL>))
TP_WG32M(bf16, __nv_bfloat16, , true)
TP_WG32M(f16, __half, , true)
TP_WG32M(bf16, __nv_bfloat16, l, false)
TP_WG32M(f16, __half, l, false)
/* the stream form with a producer warpgroup (attention_wgmma_ws.cuh) */
#include "attention_wgmma_ws.cuh"
#define TP_WG32W(TNAME, T, L, TCL)                                                                  \
    TP_ATTN_WGMMA_TMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2hw3##L, 512, 1, (tp_attn_wgmma_tcbw_body<T, TCL>))
TP_WG32W(bf16, __nv_bfloat16, , true)
TP_WG32W(f16, __half, , true)
TP_WG32W(bf16, __nv_bfloat16, l, false)
TP_WG32W(f16, __half, l, false)
/* the producer form with P V in the next turn (_b2hp3, TPRIM_CUDA_STREAM=deferpv) */
#define TP_WG32P(TNAME, T, L, TCL)                                                                  \
    TP_ATTN_WGMMA_TMA_KERNEL(tp_attn_wgmma_##TNAME##_d32_b2hp3##L, 512, 1, (tp_attn_wgmma_tcbw_body<T, TCL, true>))
TP_WG32P(bf16, __nv_bfloat16, , true)
TP_WG32P(f16, __half, , true)
TP_WG32P(bf16, __nv_bfloat16, l, false)
TP_WG32P(f16, __half, l, false)

