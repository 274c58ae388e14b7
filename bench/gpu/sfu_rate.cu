/* sfu_rate.cu -- how many exponentials a second the GPU's special-function units give, for
 * the softmax floor of attention with small head dimensions (at D = 32 an exponential
 * costs as much as 4 D = 128 multiply-adds of the two products, and the units give far
 * fewer of them a clock than the tensor cores give multiply-adds).
 *
 *   nvcc -arch=sm_90a -O3 -o /tmp/sfu_rate bench/gpu/sfu_rate.cu && /tmp/sfu_rate
 *
 * Each thread runs 16 independent chains y = 2^(-y) (the negation is an input modifier of
 * the instruction, not an instruction of its own); every multiprocessor is filled with
 * warps. Printed per instruction form: results a second (a packed x2 instruction gives
 * two), results a clock a multiprocessor (the clock read by clock64 over the same run) and
 * the implied floor of one exponential for each score of triangle attention, B = 1,
 * N = L = 768, H = 4 (1.81e9 scores).
 *
 * H100 (2026-12-07): ex2.approx.ftz.f32 4 176 G results/s, 16 a clock a SM (0.434 ms for
 * the triangle's scores); the packed bf16x2 and f16x2 forms give the same results a
 * second: ptxas makes each two MUFU.EX2 (one a half) and a PRMT, so on sm_90 packing
 * does not double the rate. The softmax's pack of P (cvt.rn.bf16x2.f32, F2FP): 16 534 G/s,
 * 63 a clock a SM; two exponentials and a pack a round: 24 instructions a clock a SM, the
 * exponentials' 16: the pack does not use the exponential's unit (H100, 2026-12-07). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

#define CHECK(x)                                                                                            \
    do {                                                                                                    \
        cudaError_t e_ = (x);                                                                               \
        if (e_ != cudaSuccess) {                                                                            \
            fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                                        \
            return 1;                                                                                       \
        }                                                                                                   \
    } while (0)

constexpr int kChains = 16;

__device__ __forceinline__ float ex2_f32(float x)
{
    float y;
    asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(-x));
    return y;
}
__device__ __forceinline__ unsigned ex2_bf16x2(unsigned x)
{
    unsigned y;
    asm volatile("ex2.approx.ftz.bf16x2 %0, %1;" : "=r"(y) : "r"(x ^ 0x80008000u));
    return y;
}
/* the softmax's pack of two probabilities into the bf16 pair of P V's A fragment
 * (F2FP.BF16.F32.PACK_AB); the result's bits read as an f32 stay near the input, so that a
 * chain needs no instruction besides it */
__device__ __forceinline__ float cvt_bf16x2(float x)
{
    unsigned y;
    asm volatile("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(y) : "f"(x), "f"(x));
    return __uint_as_float(y);
}
__device__ __forceinline__ unsigned ex2_f16x2(unsigned x)
{
    unsigned y;
    asm volatile("ex2.approx.f16x2 %0, %1;" : "=r"(y) : "r"(x ^ 0x80008000u));
    return y;
}

/* form 0: f32, 1: bf16x2, 2: f16x2, 3: the bf16x2 pack alone, 4: two f32 exponentials and
 * one pack (the softmax's mix: if the pack shares the exponential's unit, a round takes 3
 * of its issue slots, else 2). out[blockIdx] keeps the chains alive; cyc[blockIdx]
 * the block's clock64 span (thread 0). */
template <int kForm> __global__ void chains(int iters, float seed, float *out, long long *cyc)
{
    const long long c0 = clock64();
    float f[kChains];
    unsigned u[kChains];
#pragma unroll
    for (int c = 0; c < kChains; c++) {
        f[c] = seed + 0.01f * (float)(c + threadIdx.x % 7);
        const __half2 h = __floats2half2_rn(f[c], f[c] + 0.5f);
        const __nv_bfloat162 b = __floats2bfloat162_rn(f[c], f[c] + 0.5f);
        unsigned ub, uh;
        memcpy(&ub, &b, sizeof ub);
        memcpy(&uh, &h, sizeof uh);
        u[c] = kForm == 1 ? ub : uh;
    }
    for (int i = 0; i < iters; i++) {
#pragma unroll
        for (int c = 0; c < kChains; c++) {
            if (kForm == 0) f[c] = ex2_f32(f[c]);
            else if (kForm == 3) f[c] = cvt_bf16x2(f[c]);
            else if (kForm == 4) f[c] = cvt_bf16x2(ex2_f32(ex2_f32(f[c])));
            else if (kForm == 1) u[c] = ex2_bf16x2(u[c]);
            else u[c] = ex2_f16x2(u[c]);
        }
    }
    float s = 0.0f;
#pragma unroll
    for (int c = 0; c < kChains; c++) s += kForm == 0 || kForm >= 3 ? f[c] : (float)(u[c] & 0xffffu);
    if (s == 12345.678f) out[blockIdx.x] = s; /* never true in practice; keeps the work */
    if (threadIdx.x == 0) cyc[blockIdx.x] = clock64() - c0;
}

template <int kForm> static int run(const char *name, int per_instr, int sms, float *out, long long *cyc)
{
    const int threads = 1024, blocks = sms, iters = 16384; /* one block a multiprocessor */
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    chains<kForm><<<blocks, threads>>>(64, 0.5f, out, cyc); /* warm-up */
    CHECK(cudaGetLastError());
    float best = 1e30f;
    long long cbest = 0;
    for (int r = 0; r < 5; r++) {
        CHECK(cudaEventRecord(e0));
        chains<kForm><<<blocks, threads>>>(iters, 0.5f, out, cyc);
        CHECK(cudaEventRecord(e1));
        CHECK(cudaEventSynchronize(e1));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        long long c;
        CHECK(cudaMemcpy(&c, cyc, sizeof c, cudaMemcpyDeviceToHost));
        if (ms < best) best = ms, cbest = c;
    }
    const double results = (double)blocks * threads * iters * kChains * per_instr;
    const double per_s = results / (best * 1e-3);
    /* one block a multiprocessor, all at once: block 0's span over the time is the clock */
    const double ghz = (double)cbest / (best * 1e-3) / 1e9;
    const double per_clk_sm = per_s / (ghz * 1e9) / sms;
    printf("%-22s %9.1f G results/s  %6.2f a clock a multiprocessor (clock %.2f GHz)  "
           "triangle-768 floor %.3f ms\n",
           name, per_s / 1e9, per_clk_sm, ghz, 1.812e9 / per_s * 1e3);
    return 0;
}

int main()
{
    cudaDeviceProp p;
    CHECK(cudaGetDeviceProperties(&p, 0));
    printf("%s, %d multiprocessors\n", p.name, p.multiProcessorCount);
    float *out;
    long long *cyc;
    CHECK(cudaMalloc(&out, 4096 * sizeof(float)));
    CHECK(cudaMalloc(&cyc, 4096 * sizeof(long long)));
    int rc = run<0>("ex2.approx.ftz.f32", 1, p.multiProcessorCount, out, cyc);
    rc |= run<1>("ex2.approx.ftz.bf16x2", 2, p.multiProcessorCount, out, cyc);
    rc |= run<2>("ex2.approx.f16x2", 2, p.multiProcessorCount, out, cyc);
    rc |= run<3>("cvt.rn.bf16x2.f32", 1, p.multiProcessorCount, out, cyc);
    rc |= run<4>("2 ex2 + 1 cvt (instrs)", 3, p.multiProcessorCount, out, cyc);
    cudaFree(out);
    cudaFree(cyc);
    return rc;
}
