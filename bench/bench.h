/* bench.h -- the benchmark runner shared by the suites: records, timing, progress,
 * the results table and the JSON output (contract in docs/bench.md). */
#ifndef TPRIM_BENCH_BENCH_H
#define TPRIM_BENCH_BENCH_H

#include "tool.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define BENCH_MAX_EXTRA 8

/* One result line: one implementation of one case. Doubles that are NaN are written
 * as null. */
typedef struct bench_record {
    char suite[32];
    char name[64];     /* the case */
    char op[48];       /* "attention", "attention_backward", ... */
    char impl[24];     /* "tprim", "naive", or a peer's name */
    char kernel[24];   /* for tprim: the variant that ran */
    tprim_dtype dtype;
    int threads;
    int64_t B, Hq, Hkv, Sq, Sk, D, Dv;
    int causal;
    int nextra;        /* further params: name -> string or number */
    char extra_key[BENCH_MAX_EXTRA][24];
    char extra_str[BENCH_MAX_EXTRA][48]; /* used when non-empty */
    double extra_num[BENCH_MAX_EXTRA];
    double ms, gflops, gbps, peak_frac, speedup, rel_err;
    double peak_extra_bytes;
} bench_record;

void bench_record_init(bench_record *r, const char *suite, const char *name, const char *op,
                       const char *impl);
void bench_extra_str(bench_record *r, const char *key, const char *val);
void bench_extra_num(bench_record *r, const char *key, double val);

typedef struct bench_run {
    tprim_ctx *ctx;
    int threads;
    int quick;
    const char *filter;      /* run only cases whose name contains it (NULL: all) */
    int cuda;                /* --device cuda */
    double gpu_tflops;       /* --gpu-peak: the GPU's measured matrix rate (0: unknown) */
    double gpu_gbps;         /* device-to-device copy bandwidth measured by the suite */
    const machine_info *machine;
    bench_record *recs;
    int nrec, cap;
    int case_no, case_total; /* progress */
} bench_run;

void bench_add(bench_run *b, const bench_record *r);
/* "\r[3/18] attention llm_s2048_d128 bf16" on stderr */
void bench_progress(bench_run *b, const char *suite, const char *name, const char *what);

/* Time fn(arg, rep): `warmup` untimed calls, then at least min_reps and until
 * min_seconds have passed (never beyond max_reps); returns the median in ms. */
double bench_median_ms(void (*fn)(void *arg, int rep), void *arg, int warmup, int min_reps,
                       int max_reps, double min_seconds);

/* Fill n elements of dtype at p with uniform values in [-amp, amp). */
void bench_fill(void *p, tprim_dtype dt, int64_t n, uint64_t seed, float amp);

/* Whether case `name` passes the --filter: the name contains the filter's text, or, when
 * the filter ends in '$', ends with the text before it ("tri_start_n768$" keeps that case
 * and not tri_start_n768_f32bias). */
static inline int bench_selected(const bench_run *b, const char *name)
{
    if (!b->filter) return 1;
    const size_t nf = strlen(b->filter), nn = strlen(name);
    if (nf > 0 && b->filter[nf - 1] == '$') return nf - 1 <= nn && strncmp(name + nn - (nf - 1), b->filter, nf - 1) == 0;
    return strstr(name, b->filter) != NULL;
}

/* Suites */
int suite_attention(bench_run *b);
int suite_evoformer(bench_run *b);
int suite_evoformer_module(bench_run *b);
/* `tprim bench --device cuda`: the attention and evoformer shapes on the GPU */
int suite_cuda(bench_run *b, const char *suite);

#endif
