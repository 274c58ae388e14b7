/* probe.h -- small built-in measurements of this machine's ceilings: the fp32 FMA
 * peak and the memory copy bandwidth, each with a given number of threads. */
#ifndef TPRIM_TOOLS_PROBE_H
#define TPRIM_TOOLS_PROBE_H

#include <stdint.h>

double now_sec(void);

typedef struct probe_peak {
    double gflops;   /* best of several trials, all threads at once */
    int threads;
    const char *isa; /* the instruction set the probe ran: "avx512", "avx2", "neon", "scalar" */
} probe_peak;

typedef struct probe_bw {
    double gbps;     /* bytes read + bytes written per second, best of several trials */
    int threads;
    int64_t bytes;   /* size of the source buffer */
} probe_bw;

/* Each runs for well under a second. */
probe_peak probe_fp32_peak(int threads);
probe_bw probe_bandwidth(int threads);

/* ISA loops: `iters` iterations of 12 independent vector FMAs; return a value that
 * depends on the result (so that the loop cannot be removed). Defined in
 * probe_<isa>.c, each built with its own flags; flops per iteration below. */
float tp_probe_fma_avx512(int64_t iters); /* 12 * 16 * 2 flops / iteration */
float tp_probe_fma_avx2(int64_t iters);   /* 12 * 8 * 2 */
float tp_probe_fma_neon(int64_t iters);   /* 12 * 4 * 2 */

#endif
