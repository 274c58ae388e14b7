/* gemm_time.c -- a small timing program for the GEMM kernels (docs/notes/gemm_cpu.md).
 *
 *   tprim_gemm_time [--op gemm|linear] [--kernel NAME] [--threads N] [--dtype f32|bf16|f16]
 *                   [--reps R] [--bias] M N K
 *
 * gemm:   C[M][N] = A[M][K] B[K][N], all row-major (tp_gemm directly);
 * linear: y[M][N] = x[M][K] w[N][K]^T (+ b), tprim_linear (w in nn.Linear layout).
 * Prints the median, min and max over R timed runs (after 2 warm-up runs) in ms and
 * GFLOP/s, counting 2*M*N*K flops. */
#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *fill(int64_t n, tprim_dtype dt, uint64_t seed)
{
    size_t es = tprim_dtype_size(dt);
    char *p = NULL; /* 64-byte aligned, as tensors from frameworks are */
    if (posix_memalign((void **)&p, 64, (size_t)(n > 0 ? n : 1) * es) != 0) return NULL;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(seed >> 11) * 0x1p-53 - 0.5);
        tp_store_f32(p + i * (int64_t)es, dt, v);
    }
    return p;
}

int main(int argc, char **argv)
{
    const char *op = "gemm", *kernel = NULL;
    int threads = 0, reps = 10, bias = 0;
    tprim_dtype dt = TPRIM_F32;
    int64_t dims[3];
    int nd = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--op") && i + 1 < argc) op = argv[++i];
        else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) kernel = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bias")) bias = 1;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            i++;
            dt = !strcmp(argv[i], "bf16")  ? TPRIM_BF16
                 : !strcmp(argv[i], "f16") ? TPRIM_F16
                                           : TPRIM_F32;
        } else if (nd < 3) dims[nd++] = atoll(argv[i]);
    }
    if (nd != 3 || reps < 1) {
        fprintf(stderr, "usage: %s [--op gemm|linear] [--kernel NAME] [--threads N] "
                        "[--dtype f32|bf16|f16] [--reps R] [--bias] M N K\n", argv[0]);
        return 2;
    }
    const int64_t M = dims[0], N = dims[1], K = dims[2];
    tprim_ctx *ctx;
    if (tprim_ctx_create(&ctx) != TPRIM_OK) return 1;
    if (threads > 0) tprim_ctx_set_num_threads(ctx, threads);
    if (kernel && tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, kernel) != TPRIM_OK) {
        fprintf(stderr, "%s\n", tprim_ctx_last_error(ctx));
        return 1;
    }
    void *a = fill(M * K, dt, 1), *b = fill(K * N, dt, 2), *bv = fill(N, dt, 3);
    void *c = fill(M * N, dt, 4);
    if (!a || !b || !bv || !c) return 1;
    tp_gemm_problem p;
    tp_gemm_problem_init(&p, M, N, K);
    p.a.data = a; p.a.dtype = dt; p.a.rs = K; p.a.cs = 1;
    p.b.data = b; p.b.dtype = dt; p.b.rs = N; p.b.cs = 1;
    p.c.data = c; p.c.dtype = dt; p.c.rs = N; p.c.cs = 1;
    if (bias) { p.bias.data = bv; p.bias.dtype = dt; p.bias.cs = 1; }
    tprim_tensor x, w, bt, y;
    int64_t sx[2] = {M, K}, sw[2] = {N, K}, sy[2] = {M, N};
    tprim_tensor_init(&x, a, dt, 2, sx, NULL);
    tprim_tensor_init(&w, b, dt, 2, sw, NULL);
    tprim_tensor_init(&bt, bv, dt, 1, &N, NULL);
    tprim_tensor_init(&y, c, dt, 2, sy, NULL);
    const int lin = !strcmp(op, "linear");
    double *t = malloc(sizeof(double) * (size_t)reps);
    for (int r = -2; r < reps; r++) {
        double t0 = now_s();
        tprim_status s = lin ? tprim_linear(ctx, &x, &w, bias ? &bt : NULL, &y) : tp_gemm(ctx, &p);
        double t1 = now_s();
        if (s != TPRIM_OK) {
            fprintf(stderr, "error: %s\n", tprim_ctx_last_error(ctx));
            return 1;
        }
        if (r >= 0) t[r] = t1 - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    const double flop = 2.0 * (double)M * (double)N * (double)K;
    printf("%s %s kernel=%s threads=%d M=%lld N=%lld K=%lld: median %.3f ms %.1f GFLOP/s "
           "(min %.3f ms %.1f, max %.3f ms %.1f)\n",
           op, tprim_dtype_name(dt), tprim_ctx_last_kernel(ctx, TPRIM_OP_LINEAR),
           (int)tprim_ctx_num_threads(ctx), (long long)M, (long long)N, (long long)K,
           1e3 * t[reps / 2], flop / t[reps / 2] * 1e-9, 1e3 * t[0], flop / t[0] * 1e-9,
           1e3 * t[reps - 1], flop / t[reps - 1] * 1e-9);
    free(t);
    free(a); free(b); free(bv); free(c);
    tprim_ctx_free(ctx);
    return 0;
}
