/* internal.h -- what the core, the op front-ends and the kernels share.
 * Nothing here is public API; users include tprim.h only. */
#ifndef TPRIM_INTERNAL_H
#define TPRIM_INTERNAL_H

#include "tprim.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define TP_LIKELY(x) __builtin_expect(!!(x), 1)
#define TP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TP_PRINTF(a, b)
#define TP_LIKELY(x) (x)
#define TP_UNLIKELY(x) (x)
#endif

#define TP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TP_ALIGN 64 /* every workspace block starts on a cache line */

/* ---- overflow-checked size arithmetic (return 0 on overflow) ---------------- */
int tp_mul_i64(int64_t a, int64_t b, int64_t *out);
int tp_add_i64(int64_t a, int64_t b, int64_t *out);
int tp_mul_size(size_t a, size_t b, size_t *out);
int tp_add_size(size_t a, size_t b, size_t *out);
/* round x up to a multiple of TP_ALIGN; 0 on overflow */
int tp_align_size(size_t x, size_t *out);

/* ---- thread pool ------------------------------------------------------------ */
typedef struct tp_pool tp_pool;
/* fn(arg, item, tid) is called once for every item in [0, n_items); tid in [0, nthreads).
 * Items are handed out in increasing order from one atomic counter, so a caller that
 * sorts its items by decreasing cost gets longest-first scheduling. */
typedef void (*tp_task_fn)(void *arg, int64_t item, int tid);
tprim_status tp_pool_create(int nthreads, tp_pool **out);
void tp_pool_free(tp_pool *pool);
int tp_pool_size(const tp_pool *pool);
/* Run on min(nthreads, pool size) threads (the caller is thread 0). */
void tp_pool_run(tp_pool *pool, int nthreads, int64_t n_items, tp_task_fn fn, void *arg);

/* ---- workspace arena ("tensor pool") -------------------------------------- */
/* One growing, cache-line-aligned block per context. After warm-up a call of the same
 * size allocates nothing. */
typedef struct tp_arena {
    void *base;
    size_t cap;
    size_t high_water; /* largest request so far (statistics) */
} tp_arena;
void *tp_arena_get(tp_arena *a, size_t bytes); /* NULL on allocation failure */
void tp_arena_release(tp_arena *a);

/* Buffers that live across several kernel calls of one op (a module's intermediates):
 * counted in the context's memory statistics with the arena. */
void *tp_mem_alloc(tprim_ctx *ctx, size_t bytes); /* 64-byte aligned; NULL on failure */
void tp_mem_free(tprim_ctx *ctx, void *p, size_t bytes);

/* ---- hardware ---------------------------------------------------------------- */
const tprim_hw_info *tp_hw(void); /* detected once, thread-safe */

/* ---- kernel families and dispatch ------------------------------------------- */
typedef enum tp_family {
    TP_FAMILY_AUTO = 0,
    TP_FAMILY_REF,
    TP_FAMILY_AVX2,
    TP_FAMILY_AVX512,
    TP_FAMILY_NEON,
    TP_FAMILY_CUDA, /* kernels for tensors in CUDA device memory */
    TP_FAMILY_COUNT_
} tp_family;
const char *tp_family_name(tp_family f);
int tp_family_parse(const char *s, tp_family *out); /* 1 on success */
int tp_family_runnable(tp_family f);                 /* built and supported by the CPU */
uint64_t tp_family_features(tp_family f);            /* CPU features it needs */

#define TP_MAX_VARIANTS 8

/* One kernel variant of an op. `prob` is the op's normalised problem struct. */
typedef struct tp_kernel {
    const char *name;
    tp_family family;
    int priority;
    /* NULL if the kernel accepts the problem, else a short reason ("D > 256"). */
    const char *(*accepts)(const void *prob);
    /* Bytes of workspace for nthreads threads; 0 on overflow (sets *ok = 0). */
    size_t (*workspace)(const void *prob, int nthreads, int *ok);
    /* Run. Never fails: everything was checked and allocated before. */
    void (*run)(const void *prob, void *ws, tp_pool *pool, int nthreads);
    /* Device kernels (family CUDA) instead: enqueue on the context's stream; may fail
     * with a device error (message set through tp_fail). */
    tprim_status (*run_device)(tprim_ctx *ctx, const void *prob);
    const void *impl; /* kernel-specific table (micro-kernels) */
} tp_kernel;

typedef struct tp_kernel_table {
    int count;
    const tp_kernel *k[TP_MAX_VARIANTS];
} tp_kernel_table;

const tp_kernel_table *tp_kernels(tprim_op op);

/* ---- context ---------------------------------------------------------------- */
/* The forms of the Hopper evoformer stream kernel (attention_wgmma_bias.cuh,
 * attention_wgmma_ws.cuh), chosen per context (TPRIM_CUDA_STREAM): loads by cp.async from
 * the computing threads (_b2hs4), by TMA from a computing thread (_b2hm4), by TMA from a
 * producer warpgroup (_b2hw3, the default), or that with each tile's P V issued in the
 * next turn (_b2hp3, deferpv). The TMA forms need tensor maps of every
 * operand; without them the cp.async form runs and the debug log says why. */
enum tp_evo_form { TP_EVO_CPASYNC = 0, TP_EVO_TMA = 1, TP_EVO_PRODUCER = 2, TP_EVO_DEFERPV = 3 };

struct tprim_ctx {
    int32_t nthreads;          /* threads used by calls */
    tp_family family;          /* TP_FAMILY_AUTO unless forced */
    tprim_memory_mode memory;  /* working-memory mode */
    size_t memory_budget;      /* bytes, 0 = from the mode */
    tprim_log_level log_level;
    tprim_log_fn log_fn; /* NULL: stderr */
    void *log_user;
    int pinned[TPRIM_OP_COUNT_];        /* variant index, -1 = automatic */
    int last[TPRIM_OP_COUNT_];          /* variant of the last successful call, -1 */
    uint64_t calls[TPRIM_OP_COUNT_][TP_MAX_VARIANTS];
    tp_pool *pool;
    tp_arena arena;
    size_t mem_held;  /* bytes in tp_mem_alloc buffers */
    size_t mem_peak;  /* most of arena.cap + mem_held at once */
    void *cuda_stream;        /* CUstream for CUDA calls; NULL until first use or set */
    int cuda_stream_owned;    /* 1: created by tprim, destroyed with the context */
    int cuda_stream_dev;      /* device of an owned stream */
    int cuda_stream_set;      /* 1: the caller set the stream (NULL = legacy default) */
    int cuda_stream_used;     /* 1: CUDA work was enqueued since the stream was chosen */
    int cuda_evo_form;        /* the Hopper evoformer stream kernel's form (tp_evo_form;
                                 TPRIM_CUDA_STREAM) */
    char err[512];
};
/* Update the memory peak after the arena or a buffer grew. */
void tp_mem_note(tprim_ctx *ctx);

/* Record an error message on ctx (and log it), return status. */
tprim_status tp_fail(tprim_ctx *ctx, tprim_status s, const char *fmt, ...) TP_PRINTF(3, 4);
/* Log a line at `level` if the context's level allows it. */
void tp_log(const tprim_ctx *ctx, tprim_log_level level, const char *fmt, ...) TP_PRINTF(3, 4);

/*
 * Pick the kernel for a problem: the pinned variant if any, else the best-priority
 * runnable variant of the forced family (or any family under auto) that accepts it;
 * under a forced family with no taker, the reference kernel. Logs the choice and the
 * reasons at debug level. Stores the variant index in *variant, or returns the
 * error status after tp_fail.
 */
tprim_status tp_dispatch(tprim_ctx *ctx, tprim_op op, const void *prob, const char *what,
                         int *variant);
/* The same for a problem whose tensors live on `device` (CUDA calls take only CUDA
 * kernels, host calls only CPU kernels). */
tprim_status tp_dispatch_dev(tprim_ctx *ctx, tprim_op op, const void *prob, const char *what,
                             tprim_device_type device, int *variant);
/* The CUDA stream of ctx for device dev, created on first use. */
tprim_status tp_ctx_cuda_stream(tprim_ctx *ctx, int dev, void **stream);

/* Allocate workspace, run the chosen kernel on the pool, count the call. */
tprim_status tp_run_kernel(tprim_ctx *ctx, tprim_op op, int variant, const void *prob);

/* ---- element conversion (portable, exact) ----------------------------------- */
float tp_bf16_to_f32(uint16_t h);
uint16_t tp_f32_to_bf16(float f); /* round to nearest even, NaN stays NaN */
float tp_f16_to_f32(uint16_t h);
uint16_t tp_f32_to_f16(float f); /* round to nearest even, overflow to inf */
/* load one element of dtype (f32/bf16/f16/f64) at p as float */
float tp_load_f32(const void *p, tprim_dtype dt);
void tp_store_f32(void *p, tprim_dtype dt, float x);

#endif /* TPRIM_INTERNAL_H */
