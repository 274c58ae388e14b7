/* probe.c -- run the peak and bandwidth probes on several threads at once. */
#include "probe.h"

#include "tprim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef float (*fma_loop)(int64_t iters);

static float fma_scalar(int64_t iters)
{
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = 1.0f + 0.1f * (float)i;
    for (int64_t i = 0; i < iters; i++) {
        for (int j = 0; j < 12; j++) a[j] = a[j] * 0.999999f + 1e-6f;
        __asm__ volatile("" : : "r"(a) : "memory");
    }
    float s = 0;
    for (int i = 0; i < 12; i++) s += a[i];
    return s;
}

typedef struct peak_arg {
    fma_loop fn;
    int64_t iters;
    pthread_barrier_t *bar;
    volatile float sink;
} peak_arg;

static void *peak_thread(void *v)
{
    peak_arg *a = v;
    pthread_barrier_wait(a->bar);
    a->sink = a->fn(a->iters);
    return NULL;
}

/* Run fn(iters) on n threads started together; return the wall time. */
static double run_threads(int n, fma_loop fn, int64_t iters)
{
    pthread_t th[256];
    peak_arg args[256];
    pthread_barrier_t bar;
    if (n > 256) n = 256;
    pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        args[i].fn = fn;
        args[i].iters = iters;
        args[i].bar = &bar;
        pthread_create(&th[i], NULL, peak_thread, &args[i]);
    }
    double t0 = now_sec();
    pthread_barrier_wait(&bar);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    double t = now_sec() - t0;
    pthread_barrier_destroy(&bar);
    return t;
}

probe_peak probe_fp32_peak(int threads)
{
    tprim_hw_info hw;
    tprim_hw_query(&hw);
    fma_loop fn = fma_scalar;
    double flops_per_iter = 12 * 2;
    const char *isa = "scalar";
#if defined(__x86_64__) && defined(TPRIM_HAVE_AVX512)
    if ((hw.features & (TPRIM_CPU_AVX512F | TPRIM_CPU_FMA)) == (TPRIM_CPU_AVX512F | TPRIM_CPU_FMA)) {
        fn = tp_probe_fma_avx512;
        flops_per_iter = 12 * 16 * 2;
        isa = "avx512";
    } else
#endif
#if defined(__x86_64__) && defined(TPRIM_HAVE_AVX2)
    if ((hw.features & (TPRIM_CPU_AVX2 | TPRIM_CPU_FMA)) == (TPRIM_CPU_AVX2 | TPRIM_CPU_FMA)) {
        fn = tp_probe_fma_avx2;
        flops_per_iter = 12 * 8 * 2;
        isa = "avx2";
    } else
#endif
#if defined(__aarch64__) && defined(TPRIM_HAVE_NEON)
    if (hw.features & TPRIM_CPU_NEON) {
        fn = tp_probe_fma_neon;
        flops_per_iter = 12 * 4 * 2;
        isa = "neon";
    } else
#endif
    {
    }
    /* calibrate one thread to ~50 ms, then time all threads at ~0.15 s, best of 5 */
    int64_t iters = 1 << 16;
    for (;;) {
        double t = run_threads(1, fn, iters);
        if (t > 0.05 || iters > ((int64_t)1 << 40)) {
            iters = (int64_t)((double)iters * 0.15 / (t > 1e-6 ? t : 1e-6));
            break;
        }
        iters *= 4;
    }
    if (iters < 1) iters = 1;
    double best = 0;
    for (int trial = 0; trial < 5; trial++) {
        double t = run_threads(threads, fn, iters);
        double g = flops_per_iter * (double)iters * threads / t * 1e-9;
        if (g > best) best = g;
    }
    probe_peak r = {best, threads, isa};
    return r;
}

typedef struct bw_arg {
    char *dst;
    const char *src;
    size_t n;
    pthread_barrier_t *bar;
} bw_arg;

static void *bw_thread(void *v)
{
    bw_arg *a = v;
    pthread_barrier_wait(a->bar);
    memcpy(a->dst, a->src, a->n);
    return NULL;
}

probe_bw probe_bandwidth(int threads)
{
    probe_bw r = {0, threads, 0};
    size_t n = (size_t)128 << 20; /* far larger than any last-level cache here */
    char *src = malloc(n), *dst = malloc(n);
    if (!src || !dst) {
        free(src);
        free(dst);
        return r;
    }
    memset(src, 1, n);
    memset(dst, 2, n); /* touch every page before timing */
    if (threads > 256) threads = 256;
    size_t chunk = n / (size_t)threads / 64 * 64;
    double best = 0;
    for (int trial = 0; trial < 3; trial++) {
        pthread_t th[256];
        bw_arg args[256];
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++) {
            args[i].dst = dst + (size_t)i * chunk;
            args[i].src = src + (size_t)i * chunk;
            args[i].n = chunk;
            args[i].bar = &bar;
            pthread_create(&th[i], NULL, bw_thread, &args[i]);
        }
        double t0 = now_sec();
        pthread_barrier_wait(&bar);
        for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
        double t = now_sec() - t0;
        pthread_barrier_destroy(&bar);
        double g = 2.0 * (double)(chunk * (size_t)threads) / t * 1e-9;
        if (g > best) best = g;
    }
    free(src);
    free(dst);
    r.gbps = best;
    r.bytes = (int64_t)n;
    return r;
}
