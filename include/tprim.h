/*
 * tprim.h -- fast, exact attention and transformer primitives for CPUs and GPUs.
 *
 * This is the only header a user includes. It is also the manual: every function
 * below states its math, its shapes and broadcast rules, who owns what, and which
 * errors it returns.
 *
 * Conventions used throughout
 * ---------------------------
 *  - Every call returns a tprim_status. TPRIM_OK is 0. Codes are pinned forever.
 *  - When a call fails it writes nothing to its outputs, frees whatever it took, and
 *    (where it has a context) leaves a one-line human message in
 *    tprim_ctx_last_error(ctx), naming the offending argument.
 *  - The library never aborts and never prints unless asked (TPRIM_LOG or
 *    tprim_ctx_set_log).
 *  - Tensors are views (tprim_tensor): the caller owns the memory, tprim never
 *    keeps a pointer past the call that received it.
 *  - Shapes are written outermost first, e.g. q: [batch..., Hq, Sq, D]. "batch..."
 *    means zero to three leading batch dimensions.
 *  - A context (tprim_ctx) is not thread-safe: use one context per calling thread,
 *    or serialise calls on a shared one. Different contexts are independent.
 */
#ifndef TPRIM_H
#define TPRIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(TPRIM_SHARED_BUILD)
#define TPRIM_API __declspec(dllexport)
#elif defined(_WIN32) && defined(TPRIM_SHARED)
#define TPRIM_API __declspec(dllimport)
#elif defined(__GNUC__)
#define TPRIM_API __attribute__((visibility("default")))
#else
#define TPRIM_API
#endif

/* ------------------------------------------------------------------------- */
/* Version                                                                    */
/* ------------------------------------------------------------------------- */

#define TPRIM_VERSION_MAJOR 0
#define TPRIM_VERSION_MINOR 1
#define TPRIM_VERSION_PATCH 0
/* MAJOR*10000 + MINOR*100 + PATCH, e.g. 100 for 0.1.0 */
#define TPRIM_VERSION_NUMBER \
    (TPRIM_VERSION_MAJOR * 10000 + TPRIM_VERSION_MINOR * 100 + TPRIM_VERSION_PATCH)
#define TPRIM_VERSION_STRING "0.1.0"

/* The version of the library actually linked (compare with TPRIM_VERSION_NUMBER). */
TPRIM_API unsigned tprim_version_number(void);
TPRIM_API const char *tprim_version_string(void);

/* ------------------------------------------------------------------------- */
/* Status codes                                                               */
/* ------------------------------------------------------------------------- */

/* One list makes the enum and the strings. Values are pinned: append only. */
#define TPRIM_STATUS_LIST(X)                                                       \
    X(TPRIM_OK, 0, "success")                                                      \
    X(TPRIM_ERR_INVALID_ARGUMENT, 1, "an argument has a value out of its range")   \
    X(TPRIM_ERR_NULL_POINTER, 2, "a required pointer is NULL")                     \
    X(TPRIM_ERR_SHAPE, 3, "ranks or dimensions do not match")                      \
    X(TPRIM_ERR_DTYPE, 4, "unsupported dtype or mix of dtypes")                    \
    X(TPRIM_ERR_OVERFLOW, 5, "a size or byte count overflows")                     \
    X(TPRIM_ERR_OUT_OF_MEMORY, 6, "memory allocation failed")                      \
    X(TPRIM_ERR_UNSUPPORTED, 7, "not supported by this build, machine or device")  \
    X(TPRIM_ERR_DEVICE, 8, "the device runtime reported an error")                 \
    X(TPRIM_ERR_INTERNAL, 9, "internal error (a bug in tprim)")

typedef enum tprim_status {
#define TPRIM_X_ENUM_(name, value, desc) name = value,
    TPRIM_STATUS_LIST(TPRIM_X_ENUM_)
#undef TPRIM_X_ENUM_
    TPRIM_STATUS_COUNT_
} tprim_status;

/* "TPRIM_ERR_SHAPE" for TPRIM_ERR_SHAPE; "TPRIM_UNKNOWN_STATUS" for other values. */
TPRIM_API const char *tprim_status_str(tprim_status s);
/* A short description: "ranks or dimensions do not match". */
TPRIM_API const char *tprim_status_desc(tprim_status s);

/* ------------------------------------------------------------------------- */
/* Tensors                                                                    */
/* ------------------------------------------------------------------------- */

/* Element types. Values are pinned. */
typedef enum tprim_dtype {
    TPRIM_F32 = 0,  /* IEEE binary32 */
    TPRIM_BF16 = 1, /* bfloat16: the upper 16 bits of a binary32 */
    TPRIM_F16 = 2,  /* IEEE binary16 */
    TPRIM_F64 = 3,  /* IEEE binary64 (used by a few arguments only) */
    TPRIM_I32 = 4,  /* int32_t (indices, lengths) */
    TPRIM_I64 = 5,  /* int64_t (indices, lengths) */
    TPRIM_BOOL = 6  /* one byte: 0 is false, anything else true (masks) */
} tprim_dtype;

/* Size of one element in bytes (0 for an unknown dtype). */
TPRIM_API size_t tprim_dtype_size(tprim_dtype dt);
/* "f32", "bf16", "f16", "f64", "i32", "i64", "bool"; "?" for an unknown dtype. */
TPRIM_API const char *tprim_dtype_name(tprim_dtype dt);

/* Where a tensor's memory lives. Values are pinned. */
typedef enum tprim_device_type {
    TPRIM_DEVICE_CPU = 0, /* host memory */
    TPRIM_DEVICE_CUDA = 1 /* CUDA device memory; device_id selects the GPU */
} tprim_device_type;

#define TPRIM_MAX_RANK 6

/*
 * A tensor view, DLPack's convention: element (i0, ..., i{r-1}) lives at
 *     (char *)data + (i0*strides[0] + ... + i{r-1}*strides[r-1]) * dtype_size.
 * Strides are in elements, may be zero (broadcast) or negative, and need not be
 * contiguous: BSHD and BHSD memory orders are the same logical tensor with
 * different strides. Entries at index >= rank are ignored.
 * A zero-initialised tprim_tensor is an empty f32 CPU tensor of rank 0.
 */
typedef struct tprim_tensor {
    void *data;                      /* first element (owned by the caller) */
    int64_t shape[TPRIM_MAX_RANK];   /* sizes, outermost first, each >= 0 */
    int64_t strides[TPRIM_MAX_RANK]; /* element strides, outermost first */
    int32_t rank;                    /* 0 .. TPRIM_MAX_RANK */
    tprim_dtype dtype;
    tprim_device_type device;        /* TPRIM_DEVICE_CPU unless set */
    int32_t device_id;               /* GPU ordinal for TPRIM_DEVICE_CUDA */
} tprim_tensor;

/*
 * Fill *t as a view of `data` with the given rank, shape and strides on the CPU.
 * strides == NULL means contiguous row-major (the last dimension has stride 1).
 * Errors: TPRIM_ERR_NULL_POINTER (t, or shape with rank > 0),
 *         TPRIM_ERR_INVALID_ARGUMENT (rank outside 0..6, a negative size, unknown dtype),
 *         TPRIM_ERR_OVERFLOW (the element count or its byte size overflows int64).
 * On error *t is left untouched.
 */
TPRIM_API tprim_status tprim_tensor_init(tprim_tensor *t, void *data, tprim_dtype dtype,
                                         int32_t rank, const int64_t *shape,
                                         const int64_t *strides);

/* Number of elements (product of the shape; 1 for rank 0), or -1 if it overflows. */
TPRIM_API int64_t tprim_tensor_numel(const tprim_tensor *t);

/* ------------------------------------------------------------------------- */
/* Hardware                                                                   */
/* ------------------------------------------------------------------------- */

/* CPU feature bits (tprim_hw_info.features). Values are pinned. */
#define TPRIM_CPU_SSE2 (1ull << 0)
#define TPRIM_CPU_AVX (1ull << 1)
#define TPRIM_CPU_AVX2 (1ull << 2)
#define TPRIM_CPU_FMA (1ull << 3)
#define TPRIM_CPU_F16C (1ull << 4)
#define TPRIM_CPU_AVX512F (1ull << 5)
#define TPRIM_CPU_AVX512BW (1ull << 6)
#define TPRIM_CPU_AVX512VL (1ull << 7)
#define TPRIM_CPU_AVX512DQ (1ull << 8)
#define TPRIM_CPU_AVX512_BF16 (1ull << 9)
#define TPRIM_CPU_AVX512_FP16 (1ull << 10)
#define TPRIM_CPU_AMX_TILE (1ull << 11)
#define TPRIM_CPU_AMX_BF16 (1ull << 12)
#define TPRIM_CPU_AMX_INT8 (1ull << 13)
#define TPRIM_CPU_AVX512_VNNI (1ull << 14)
#define TPRIM_CPU_NEON (1ull << 32)
#define TPRIM_CPU_ARM_FP16 (1ull << 33) /* half-precision arithmetic (asimdhp) */
#define TPRIM_CPU_ARM_BF16 (1ull << 34)
#define TPRIM_CPU_ARM_I8MM (1ull << 35)
#define TPRIM_CPU_ARM_DOTPROD (1ull << 36)
#define TPRIM_CPU_ARM_SVE (1ull << 37)

/*
 * What this machine has, detected once per process: cpuid + XCR0 on x86-64 (a feature
 * counts only if the OS saves its registers; AMX only after the Linux permission
 * request succeeded), hwcaps / sysctl on AArch64.
 */
typedef struct tprim_hw_info {
    char arch[16];          /* "x86_64", "aarch64" or "unknown" */
    char cpu_name[64];      /* brand string when the CPU reports one, else "" */
    uint64_t features;      /* TPRIM_CPU_* bits */
    int32_t num_cpus;       /* logical CPUs this process may run on */
    int64_t l1d_bytes;      /* per core; 0 when unknown */
    int64_t l2_bytes;       /* per core (or per cluster); 0 when unknown */
    int64_t l3_bytes;       /* shared last level; 0 when unknown */
} tprim_hw_info;

/* Fill *out. Errors: TPRIM_ERR_NULL_POINTER. */
TPRIM_API tprim_status tprim_hw_query(tprim_hw_info *out);

/* Name of one feature bit ("avx512f"), or NULL for a bit that has no name. */
TPRIM_API const char *tprim_cpu_feature_name(uint64_t bit);

/* ------------------------------------------------------------------------- */
/* Context                                                                    */
/* ------------------------------------------------------------------------- */

typedef struct tprim_ctx tprim_ctx;

/* Log levels for TPRIM_LOG / tprim_ctx_set_log. Values are pinned. */
typedef enum tprim_log_level {
    TPRIM_LOG_OFF = 0,
    TPRIM_LOG_ERROR = 1, /* every failed call, with its message */
    TPRIM_LOG_INFO = 2,  /* plus one line per configuration change */
    TPRIM_LOG_DEBUG = 3  /* plus, per call, which kernel ran and why */
} tprim_log_level;

/* Receives one line (no trailing newline). */
typedef void (*tprim_log_fn)(void *user, tprim_log_level level, const char *line);

/*
 * Create a context: configuration, a thread pool, a workspace arena and statistics.
 * Defaults come from the environment:
 *   TPRIM_NUM_THREADS  threads to use (default: the CPUs this process may run on)
 *   TPRIM_ISA          kernel family to force: auto | ref | avx2 | avx512 | neon
 *   TPRIM_LOG          off | error | info | debug  (lines go to stderr)
 *   TPRIM_MEMORY       minimal | balanced | performance (working-memory budget)
 *   TPRIM_CUDA_STREAM  producer | deferpv | tma | cpasync: the form of the Hopper
 *                      evoformer stream kernel: loads by TMA from a producer warpgroup
 *                      (default), the same with each tile's P V issued together with
 *                      the next tile's S (deferpv), by TMA from a computing thread, or by
 *                      cp.async from the computing threads (all but the default for
 *                      development and comparison)
 * Errors: TPRIM_ERR_NULL_POINTER (out), TPRIM_ERR_OUT_OF_MEMORY,
 *         TPRIM_ERR_INVALID_ARGUMENT (an environment variable has a value that is not
 *         allowed), TPRIM_ERR_UNSUPPORTED (TPRIM_ISA names a family this machine or
 *         build cannot run). On error *out is NULL and tprim_ctx_create_error()
 *         returns the message.
 * Free with tprim_ctx_free.
 */
TPRIM_API tprim_status tprim_ctx_create(tprim_ctx **out);
/* Message of the last failed tprim_ctx_create on this thread ("" if none). */
TPRIM_API const char *tprim_ctx_create_error(void);
/* Stop the threads and free everything the context owns. NULL is a no-op. */
TPRIM_API void tprim_ctx_free(tprim_ctx *ctx);

/* The message of the last failed call on this context ("" after a success). */
TPRIM_API const char *tprim_ctx_last_error(const tprim_ctx *ctx);

/* Threads used by later calls: 1 .. 1024. 0 means "the CPUs this process may run on". */
TPRIM_API tprim_status tprim_ctx_set_num_threads(tprim_ctx *ctx, int32_t n);
TPRIM_API int32_t tprim_ctx_num_threads(const tprim_ctx *ctx);

/*
 * Force a kernel family for every op: "auto" (best available), "ref", "avx2",
 * "avx512", "neon". A family this machine or build cannot run gives
 * TPRIM_ERR_UNSUPPORTED; an unknown name TPRIM_ERR_INVALID_ARGUMENT.
 * When the forced family has no kernel that accepts a call, the call runs the
 * reference kernel and the log says so.
 */
TPRIM_API tprim_status tprim_ctx_set_isa(tprim_ctx *ctx, const char *family);

/* Set the log level and sink. fn == NULL writes to stderr. */
TPRIM_API tprim_status tprim_ctx_set_log(tprim_ctx *ctx, tprim_log_level level,
                                         tprim_log_fn fn, void *user);

/* Working-memory modes (TPRIM_MEMORY). Values are pinned. */
typedef enum tprim_memory_mode {
    TPRIM_MEMORY_BALANCED = 0,   /* default */
    TPRIM_MEMORY_MINIMAL = 1,    /* smallest working memory, may be slower */
    TPRIM_MEMORY_PERFORMANCE = 2 /* more working memory when it buys speed */
} tprim_memory_mode;
TPRIM_API tprim_status tprim_ctx_set_memory_mode(tprim_ctx *ctx, tprim_memory_mode mode);
/* Working-memory budget in bytes for ops that work in chunks (the Evoformer modules);
 * 0 = the memory mode's (minimal 64 MiB, balanced 512 MiB, performance 4 GiB). A
 * budget below one chunk's need gives chunks of one row. */
TPRIM_API tprim_status tprim_ctx_set_memory_budget(tprim_ctx *ctx, size_t bytes);

/* ------------------------------------------------------------------------- */
/* Ops, kernels, dispatch and statistics                                      */
/* ------------------------------------------------------------------------- */

/* Op families. Values are pinned. */
typedef enum tprim_op {
    TPRIM_OP_ATTENTION = 0,          /* tprim_attention (forward) */
    TPRIM_OP_LINEAR = 1,             /* tprim_linear, and the matrix multiplies inside other ops */
    TPRIM_OP_ATTENTION_BACKWARD = 2, /* tprim_attention_backward */
    TPRIM_OP_COUNT_
} tprim_op;

/* "attention", "linear" etc.; NULL for an unknown op. */
TPRIM_API const char *tprim_op_name(tprim_op op);

/* One registered kernel variant of an op. */
typedef struct tprim_kernel_desc {
    const char *name;   /* unique within the op: "ref", "avx2", "avx512", "neon" */
    const char *family; /* the TPRIM_ISA family it belongs to */
    int32_t priority;   /* higher wins when several accept a call */
    int32_t runnable;   /* 1 if this machine and build can run it */
} tprim_kernel_desc;

/* Number of variants registered for op (0 for an unknown op). */
TPRIM_API int32_t tprim_kernel_count(tprim_op op);
/* Describe variant `index` of `op`. Errors: NULL_POINTER, INVALID_ARGUMENT (index). */
TPRIM_API tprim_status tprim_kernel_get(tprim_op op, int32_t index, tprim_kernel_desc *out);

/*
 * Pin one variant of op by name for later calls on ctx (tests and benchmarks use
 * this to reach every variant); NULL or "auto" returns to automatic choice.
 * A pinned variant that does not accept a call makes that call fail with
 * TPRIM_ERR_UNSUPPORTED (never a silent fallback).
 * Errors: INVALID_ARGUMENT (unknown op or name), UNSUPPORTED (not runnable here).
 */
TPRIM_API tprim_status tprim_ctx_set_kernel(tprim_ctx *ctx, tprim_op op, const char *name);

/* Number of successful calls of op that ran variant `name` on ctx. */
TPRIM_API uint64_t tprim_ctx_kernel_calls(const tprim_ctx *ctx, tprim_op op, const char *name);
/* Name of the variant the last successful call of op ran on ctx (NULL if none yet). */
TPRIM_API const char *tprim_ctx_last_kernel(const tprim_ctx *ctx, tprim_op op);
/* Zero every counter, and set the memory peak to the memory held now. */
TPRIM_API void tprim_ctx_reset_stats(tprim_ctx *ctx);

/* Working memory of the context in bytes: what it holds now (the workspace arena plus
 * buffers of calls in progress) and the most it held at once since creation or the
 * last tprim_ctx_reset_stats. This is the memory tprim allocates beyond the caller's
 * inputs and outputs. */
TPRIM_API size_t tprim_ctx_memory_now(const tprim_ctx *ctx);
TPRIM_API size_t tprim_ctx_memory_peak(const tprim_ctx *ctx);

/* ------------------------------------------------------------------------- */
/* CUDA                                                                       */
/* ------------------------------------------------------------------------- */
/*
 * Builds with the CUDA backend (TPRIM_CUDA, on when nvcc is found) take tensors with
 * device = TPRIM_DEVICE_CUDA in tprim_attention: their data are device pointers (from
 * cudaMalloc, PyTorch, tprim_cuda_malloc...), all on the GPU device_id. libtprim links
 * no CUDA library: it opens the driver (libcuda.so.1) at the first CUDA call and uses
 * the device's primary context, the one the CUDA runtime and PyTorch use.
 *
 * CUDA calls are asynchronous: they enqueue kernels on the context's stream and return;
 * the outputs are ready once the stream is synchronised (tprim_ctx_synchronize, or any
 * later work ordered after that stream). Argument errors are reported at once, exactly
 * as on the CPU; errors of the device itself may surface at a later call or at
 * tprim_ctx_synchronize as TPRIM_ERR_DEVICE. No call allocates device memory.
 * Ops other than tprim_attention refuse CUDA tensors with TPRIM_ERR_UNSUPPORTED.
 */

/* Number of CUDA GPUs usable by tprim: 0 in a build without CUDA, or without a driver
 * or a GPU. */
TPRIM_API int32_t tprim_cuda_device_count(void);

/* Set the stream (a CUstream / cudaStream_t, NULL = the legacy default stream) on which
 * this context enqueues its CUDA work. Until one is set, the context creates its own
 * non-blocking stream on first use (on the device of that call) and destroys it in
 * tprim_ctx_free. Setting a stream first waits for the context's own one.
 * Errors: TPRIM_ERR_UNSUPPORTED (no CUDA in this build), TPRIM_ERR_DEVICE. */
TPRIM_API tprim_status tprim_ctx_set_cuda_stream(tprim_ctx *ctx, void *stream);
/* The stream CUDA calls of ctx use (NULL before the first one when none was set). */
TPRIM_API void *tprim_ctx_cuda_stream(const tprim_ctx *ctx);
/* Wait until every CUDA call made through ctx has finished; returns the first device
 * error (TPRIM_ERR_DEVICE, with a message). A no-op without CUDA. */
TPRIM_API tprim_status tprim_ctx_synchronize(tprim_ctx *ctx);

/* Small conveniences for programs without the CUDA runtime (tests, the tprim command):
 * device memory in the primary context of device_id, and synchronous copies. */
typedef enum tprim_copy_kind {
    TPRIM_COPY_HOST_TO_DEVICE = 0,
    TPRIM_COPY_DEVICE_TO_HOST = 1,
    TPRIM_COPY_DEVICE_TO_DEVICE = 2
} tprim_copy_kind;
/* tprim_cuda_malloc: *ptr = `bytes` of device memory (at least 1 byte; 256-byte aligned).
 * Errors (*ptr untouched): TPRIM_ERR_NULL_POINTER (ptr), TPRIM_ERR_UNSUPPORTED (no CUDA
 * in this build, or no GPU), TPRIM_ERR_INVALID_ARGUMENT (no GPU device_id),
 * TPRIM_ERR_OUT_OF_MEMORY. */
TPRIM_API tprim_status tprim_cuda_malloc(int32_t device_id, size_t bytes, void **ptr);
TPRIM_API void tprim_cuda_free(void *ptr); /* NULL is a no-op */
/* Copy `bytes` (0 is a no-op) in the direction `kind`; returns when the copy is done.
 * Errors (nothing copied): TPRIM_ERR_NULL_POINTER (dst or src with bytes > 0),
 * TPRIM_ERR_INVALID_ARGUMENT (kind not a tprim_copy_kind), TPRIM_ERR_UNSUPPORTED (no
 * CUDA in this build, or no GPU), TPRIM_ERR_DEVICE (the driver refused the copy). */
TPRIM_API tprim_status tprim_cuda_memcpy(void *dst, const void *src, size_t bytes,
                                         tprim_copy_kind kind);

/* ------------------------------------------------------------------------- */
/* Attention                                                                  */
/* ------------------------------------------------------------------------- */

/*
 * Optional parts of an attention call. A zero-initialised struct (or NULL) means:
 * default scale, no mask, no bias, no lse output.
 */
typedef struct tprim_attn_params {
    /* Multiplies q.k. 0 means 1/sqrt(D). Must be finite. */
    float scale;
    /* Nonzero: key j is visible to query i only if j <= i + (Sk - Sq) (bottom-right
     * aligned: the last query sees every key). With key_lens, Sk is that batch's
     * key length. */
    int32_t causal;
    /* Nonzero enables the sliding window: key j is visible to query i only if
     *   i' - window_left <= j <= i' + window_right,   i' = i + (Sk - Sq).
     * Both must be >= 0 (values >= Sk act as "unbounded"). Combined with causal the
     * right edge is min(window_right, 0). */
    int32_t use_window;
    int64_t window_left;
    int64_t window_right;
    /* > 0: logits are soft-capped, s -> softcap * tanh(s / softcap), where
     * s = scale * q.k (before biases and ALiBi). 0: off. Must be finite and >= 0. */
    float softcap;
    /* ALiBi: f32 slopes, shape [Hq] or [batch..., Hq] (broadcast like a bias). Adds
     *   -slope[h] * |i' - j|,   i' = i + (Sk - Sq),   to every logit of head h. */
    const tprim_tensor *alibi_slopes;
    /* Up to two additive biases, each broadcastable (numpy rules, right-aligned,
     * size-1 dims or missing leading dims broadcast) to [batch..., Hq, Sq, Sk].
     * dtype f32 or the dtype of q. The OpenFold pair: mask bias [B, N, 1, 1, Sk] and
     * pair bias [B, 1, Hq, Sq, Sk]. A bias of -inf masks a key. */
    const tprim_tensor *bias[2];
    /* Boolean key mask, TPRIM_BOOL, broadcastable to [batch..., Sk]: keys whose entry is
     * 0 are hidden from every query of that batch entry (like a -inf bias, the OpenFold
     * msa/pair mask). Unlike a bias it is not read per query: tiles whose keys are all
     * hidden are skipped, so padding costs no arithmetic. */
    const tprim_tensor *key_mask;
    /* Per-batch key lengths, i32 or i64, shape [batch...] (all batch dims of q, or a
     * rank-1 tensor of their product). Keys j >= key_lens[b] are masked. Each value
     * must lie in 0..Sk (checked for host tensors; on CUDA the kernels do not read
     * them back to the host and clamp out-of-range values into 0..Sk). */
    const tprim_tensor *key_lens;
    /* Output (optional): f32 [batch..., Hq, Sq], the natural log of the softmax
     * denominator, lse = log(sum_j exp(logit_ij)); -inf for a fully masked row. */
    tprim_tensor *lse;
} tprim_attn_params;

/*
 * Exact attention, computed in tiles with an online softmax (memory does not grow
 * with Sq*Sk):
 *
 *   logit[b,h,i,j] = cap(scale * q[b,h,i,:] . k[b,h/G,j,:]) + bias0 + bias1 + alibi
 *   logit = -inf where a mask (causal, window, key_lens, key_mask) hides key j from query i
 *   out[b,h,i,:]   = sum_j softmax_j(logit[b,h,i,:]) * v[b,h/G,j,:]
 *
 * Shapes (all of q, k, v, out share the same batch dims, 0 to 3 of them):
 *   q   [batch..., Hq,  Sq, D ]
 *   k   [batch..., Hkv, Sk, D ]
 *   v   [batch..., Hkv, Sk, Dv]
 *   out [batch..., Hq,  Sq, Dv]
 * Hq must be a multiple of Hkv; G = Hq / Hkv query heads share one key/value head
 * (MHA: G = 1, GQA: 1 < G < Hq, MQA: Hkv = 1). D >= 1, Dv >= 0, any size.
 * Any strides: [B, S, H, D] memory (BSHD) is passed with permuted strides, no copy.
 *
 * dtypes: q, k, v, out all f32, all bf16 or all f16; arithmetic and accumulation
 * are f32; bf16/f16 results are rounded to nearest even once, at the end.
 * A query row whose keys are all masked gives out = 0 and lse = -inf (never NaN).
 * out must not overlap any input.
 *
 * CUDA (tensors with device = TPRIM_DEVICE_CUDA, all on one GPU; see "CUDA" above):
 * the same contract, enqueued on the context's stream. bf16/f16 with D, Dv <= 256 run
 * on the tensor cores (products of bf16/f16 operands, f32 accumulation, the
 * probabilities rounded to the input dtype before the product with v, as in every
 * flash kernel). f32 inputs with D, Dv <= 128 run on the tf32 tensor cores ("cuda"):
 * each operand of both products (q, k; the probabilities, v) is split into two tf32
 * pieces, x = big + small with |x - big - small| <= 2^-22 |x|, and each product is
 * summed from three tf32 products (small big + big small + big big) in the tensor
 * cores' f32 accumulators, P v a key tile at a time and added to out's f32 sum once a
 * tile: relative error below 1e-5 (worst 5.6e-7 over the test table on an H200, where
 * exact f32 arithmetic gives 7.4e-7; an infinite q, k or v element gives NaN there).
 * Larger D, and the pinned kernel "cuda_simt", use exact f32 arithmetic on the CUDA
 * cores. Kernels: "cuda_wgmma" (Hopper, sm_90: max(D, Dv) <= 256 with causal,
 * window, key lengths and lse, no ALiBi, soft-cap or key mask; at max(D, Dv) <= 32
 * also one or two additive biases, all f32 or all of the input dtype, of unit key
 * stride with 16-byte aligned rows, two only when one of them is a single row shared
 * by every query (the evoformer mask bias). With 16-bit biases and scale <= 1 the tensor
 * cores add both: scale q is split into two pieces of the dtype (hi + lo, 16 bits of it
 * for bf16, 22 for f16), the per-row bias is the f32 accumulator's start value and the
 * mask bias enters as ones times its row, every product exact and summed in f32 (IEEE
 * semantics for infinite biases); the default form for batches of rows that see the same
 * keys (the producer form) holds the logits in units of 1 / f instead, scale = 2^e f
 * with f in [1, 2): 2^e q exact, the per-row bias times 1 / f in f32, the mask bias
 * against 1 / f in three pieces of the dtype (exact), f applied in the exponent.
 * With 1 < scale <= 2^10
 * the tensor cores add the mask bias only (one more k-step of q.k, 1 / scale in three
 * pieces). q, k, v rows 16-byte aligned with unit column stride; chosen first where it
 * accepts), "cuda" (tensor cores, sm_80+, every option; bf16, f16, and f32 as above)
 * and "cuda_simt".
 *
 * Errors (nothing is written on error):
 *   TPRIM_ERR_NULL_POINTER      ctx, q, k, v, out or a data pointer of a non-empty tensor
 *   TPRIM_ERR_SHAPE             ranks, batch dims, heads, Sq/Sk/D/Dv disagree; Hq not a
 *                               multiple of Hkv; bias/alibi/key_lens/lse not of the
 *                               documented shapes or not broadcastable
 *   TPRIM_ERR_DTYPE             mixed or unsupported dtypes (key_mask not bool)
 *   TPRIM_ERR_INVALID_ARGUMENT  scale/softcap not finite, softcap < 0, window < 0,
 *                               key_lens value outside 0..Sk
 *   TPRIM_ERR_OVERFLOW          a tensor's byte extent overflows
 *   TPRIM_ERR_UNSUPPORTED       CUDA tensors in a build without CUDA, or a pinned
 *                               kernel that does not accept the call
 *   TPRIM_ERR_INVALID_ARGUMENT  tensors on different devices, a device_id with no GPU
 *   TPRIM_ERR_DEVICE            the CUDA driver failed to launch the kernel
 *   TPRIM_ERR_OUT_OF_MEMORY     the workspace could not be allocated
 */
TPRIM_API tprim_status tprim_attention(tprim_ctx *ctx, const tprim_tensor *q,
                                       const tprim_tensor *k, const tprim_tensor *v,
                                       tprim_tensor *out, const tprim_attn_params *params);

/* Gradients written by tprim_attention_backward. */
typedef struct tprim_attn_grads {
    tprim_tensor *dq;      /* shape of q, dtype of q (required) */
    tprim_tensor *dk;      /* shape of k (required) */
    tprim_tensor *dv;      /* shape of v (required) */
    /* Optional, one per bias of the forward call: the gradient of params->bias[x], f32,
     * with the shape of that bias: the full gradient summed over the dimensions the bias
     * broadcasts over (the OpenFold pair bias [B, 1, H, L, L] gets the sum over N).
     * NULL skips it. */
    tprim_tensor *dbias[2];
} tprim_attn_grads;

/*
 * Backward of tprim_attention. With P = softmax(logit) of the forward call and
 * dlogit = P * (dP - delta), dP[i,j] = dout[i,:] . v[j,:], delta[i] = dout[i,:] . out[i,:]:
 *
 *   dq[i,:] = scale * sum_j dlogit[i,j] k[j,:]
 *   dk[j,:] = scale * sum_i dlogit[i,j] q[i,:]      (summed over the G query heads of a kv head)
 *   dv[j,:] = sum_i P[i,j] dout[i,:]                 (likewise)
 *   dbias_x = dlogit summed over the broadcast dimensions of bias x
 *
 * (with a soft-cap, dlogit is multiplied by 1 - tanh^2(s / cap) before it reaches q and k.)
 * The forward's scores are recomputed tile by tile from q, k and lse, never stored, so
 * memory does not grow with Sq * Sk (beyond one f32 value per query row).
 *
 * Arguments: q, k, v, params exactly as given to the forward call (params->lse is
 * ignored); out and lse as the forward call produced them (lse f32 [batch..., Hq, Sq]);
 * dout the gradient of out (shape and dtype of out). dq, dk, dv are overwritten (dtype
 * of q); each non-NULL dbias is overwritten.
 *
 * Results are deterministic: the same bits for the same inputs and thread count (every
 * sum is taken in a fixed order by one thread).
 *
 * Errors: as tprim_attention for the shared arguments, plus TPRIM_ERR_NULL_POINTER
 * (out, dout, lse, grads, dq, dk, dv), TPRIM_ERR_SHAPE (a gradient or dout, lse of the
 * wrong shape, dbias given for a bias the call does not have), TPRIM_ERR_DTYPE (dbias not
 * f32, lse not f32, dout not the dtype of q). Nothing is written on error.
 */
TPRIM_API tprim_status tprim_attention_backward(tprim_ctx *ctx, const tprim_tensor *q,
                                                const tprim_tensor *k, const tprim_tensor *v,
                                                const tprim_tensor *out,
                                                const tprim_tensor *dout,
                                                const tprim_tensor *lse,
                                                const tprim_attn_params *params,
                                                const tprim_attn_grads *grads);

/* ------------------------------------------------------------------------- */
/* Evoformer attention modules (OpenFold, AlphaFold 2/3, Boltz)               */
/* ------------------------------------------------------------------------- */

/*
 * The gated multi-head attention of OpenFold's `Attention` module. Weights use the
 * PyTorch nn.Linear layout (weight [out, in]) and any dtype tprim_linear takes; the
 * call owns no model and keeps no pointer.
 *
 *   q = (x_q Wq^T) / sqrt(D),  k = x_kv Wk^T,  v = x_kv Wv^T          (no bias; H heads of D)
 *   a = softmax(q k^T + biases + masks) v                              (per head)
 *   g = sigmoid(x_q Wg^T + bg)                                         (when wg is given)
 *   out = (a * g) Wo^T + bo
 */
typedef struct tprim_evo_weights {
    int32_t heads;                /* H */
    int32_t head_dim;             /* D (OpenFold's c_hidden) */
    const tprim_tensor *wq;       /* [H*D, c_q] */
    const tprim_tensor *wk;       /* [H*D, c_kv]; global column attention: [D, c] */
    const tprim_tensor *wv;       /* [H*D, c_kv]; global column attention: [D, c] */
    const tprim_tensor *wg, *bg;  /* [H*D, c_q], [H*D]; wg NULL: no gating */
    const tprim_tensor *wo, *bo;  /* [c_q, H*D], [c_q] (bo may be NULL) */
} tprim_evo_weights;

/* LayerNorm over the channel (last) dimension: (x - mean) / sqrt(var + eps) * gamma + beta
 * (biased variance, as torch.nn.LayerNorm). gamma, beta [C] or NULL (1 and 0); eps 0
 * means 1e-5. */
typedef struct tprim_evo_norm {
    const tprim_tensor *gamma, *beta;
    float eps;
} tprim_evo_norm;

/* Which of the Evoformer / Pairformer attentions a tprim_evo_block computes. Pinned. */
typedef enum tprim_evo_kind {
    /* m [*, S, R, c_m] attends over residues R per sequence row, with the pair bias
     * Wz LN_z(z) from z [*, R, R, c_z] (Wz [H, c_z], no bias); mask [*, S, R]. */
    TPRIM_EVO_MSA_ROW = 0,
    /* m [*, S, R, c_m] attends over sequences S per residue column; mask [*, S, R]. */
    TPRIM_EVO_MSA_COLUMN = 1,
    /* z [*, I, J, c_z]: row i attends over j, with the triangle bias Wb LN(z)
     * [*, 1, H, I(q), J(k)] (Wb [H, c_z]); mask [*, I, J]. */
    TPRIM_EVO_TRIANGLE_START = 2,
    /* The same on the transpose of z (column j attends over i): OpenFold's
     * TriangleAttentionEndingNode, computed through strides, without a copy of z. */
    TPRIM_EVO_TRIANGLE_END = 3,
    /* The extra-MSA stack's global column attention: per residue column one query per
     * head, the mask-weighted mean of LN(m) over sequences; single-head k and v
     * (wk, wv [D, c_m]); the gate is per sequence. mask [*, S, R]. */
    TPRIM_EVO_GLOBAL_COLUMN = 4
} tprim_evo_kind;

/* One attention module of the Evoformer with its LayerNorm(s), as OpenFold computes it
 * (the residual add and dropout stay with the caller). */
typedef struct tprim_evo_block {
    tprim_evo_kind kind;
    tprim_evo_weights attn;
    tprim_evo_norm norm;          /* LayerNorm of the attended tensor (m or z) */
    tprim_evo_norm norm_z;        /* MSA row only: LayerNorm of z before Wz */
    const tprim_tensor *w_bias;   /* MSA row: Wz [H, c_z]; triangle: Wb [H, c_z]; else NULL */
    float inf;                    /* the mask value of OpenFold (inf * (mask - 1)); 0 = 1e9 */
    /* Nonzero: masked keys are skipped (tprim_attn_params.key_mask) instead of the
     * additive inf * (mask - 1). The two differ only for rows whose keys are all masked
     * (OpenFold's additive mask gives a uniform average there, the key mask zeros). */
    int32_t skip_masked_keys;
} tprim_evo_block;

/* Gradients of a block's parameters (shapes of the weights; f32). Each NULL is skipped;
 * each given one is overwritten. */
typedef struct tprim_evo_block_grads {
    tprim_tensor *wq, *wk, *wv, *wg, *bg, *wo, *bo;
    tprim_tensor *norm_gamma, *norm_beta;
    tprim_tensor *norm_z_gamma, *norm_z_beta;
    tprim_tensor *w_bias;
} tprim_evo_block_grads;

/*
 * Forward of one Evoformer attention block.
 *   x     m [*, S, R, c_m] (MSA kinds) or z [*, I, J, c_z] (triangle kinds); * is zero
 *         or one batch dim; any strides; f32 or bf16 (computed in f32).
 *   mask  f32, bf16 or bool of shape x.shape[:-1] (1 = present), or NULL (all present).
 *   z     MSA row only: [*, R, R, c_z]; NULL otherwise.
 *   out   shape and dtype of x.
 * Working memory: the projections of a chunk of rows (the leading S, R or I dim); the
 * chunk is as large as the context's memory mode allows (TPRIM_MEMORY: minimal 64 MiB,
 * balanced 512 MiB, performance 4 GiB) and is named in the debug log. Scores are never
 * materialised.
 * Errors: as tprim_attention and tprim_linear for the weights (their shapes must agree
 * with heads, head_dim and the channel sizes of x and z), TPRIM_ERR_INVALID_ARGUMENT
 * (kind, heads or head_dim < 1, eps or inf not finite or negative).
 */
TPRIM_API tprim_status tprim_evo_forward(tprim_ctx *ctx, const tprim_evo_block *blk,
                                         const tprim_tensor *x, const tprim_tensor *mask,
                                         const tprim_tensor *z, tprim_tensor *out);

/*
 * Backward of tprim_evo_forward: from dout (shape and dtype of out) the gradients of x
 * (dx, shape of x, required), of z (dz, MSA row only, may be NULL) and of every
 * parameter in `grads` (may be NULL). Forward quantities are recomputed chunk by chunk;
 * the attention core recomputes its tiles. Deterministic for a given thread count.
 * Errors: as tprim_evo_forward, plus the shapes and dtypes of the gradients.
 */
TPRIM_API tprim_status tprim_evo_backward(tprim_ctx *ctx, const tprim_evo_block *blk,
                                          const tprim_tensor *x, const tprim_tensor *mask,
                                          const tprim_tensor *z, const tprim_tensor *dout,
                                          tprim_tensor *dx, tprim_tensor *dz,
                                          const tprim_evo_block_grads *grads);
/* ------------------------------------------------------------------------- */
/* Linear                                                                     */
/* ------------------------------------------------------------------------- */

/*
 * A fully connected layer, PyTorch's nn.Linear: for every leading index (...)
 *
 *   y[..., o] = sum_i x[..., i] * w[o, i]  +  b[o]          (b[o] = 0 when b is NULL)
 *
 * Shapes:
 *   x [..., in]    rank 1..6: any number (0 to 5) of leading dims, each any size
 *   w [out, in]    rank 2 (the nn.Linear layout: one row per output feature)
 *   b [out]        rank 1, or NULL for no bias
 *   y [..., out]   the leading dims of x, then out
 * No broadcasting: y's leading dims equal x's. in = 0 gives y = b (or 0); a zero
 * leading dim or out = 0 writes nothing.
 * Any strides, including transposed or permuted views of x, w and y, and stride 0 in
 * x or w (a broadcast input); leading dims are merged into one long matrix product
 * where the strides of x and y allow it and run as a batch otherwise (no copy either
 * way). w^T stored as [in, out] is passed as the view [out, in] with swapped strides.
 *
 * dtypes: x, w and y share one dtype, f32, bf16 or f16; b is f32 or that dtype.
 * Products and sums are f32 (bf16/f16 inputs are converted exactly); a bf16/f16 y is
 * rounded to nearest even once, at the end. y must not overlap x, w, b or itself.
 *
 * Threads: the context's threads; the workspace (packed panels of w and x, a few
 * hundred KiB per thread plus at most about 8 MiB of packed w) comes from the
 * context's arena and is reused by later calls.
 * Kernels ("ref", "avx2", "avx512", "neon") are counted under TPRIM_OP_LINEAR and can
 * be pinned with tprim_ctx_set_kernel(ctx, TPRIM_OP_LINEAR, name).
 *
 * Errors (nothing is written on error):
 *   TPRIM_ERR_NULL_POINTER      ctx, x, w or y, or the data of a non-empty tensor
 *   TPRIM_ERR_SHAPE             x of rank 0; w not rank 2 or its in != x's last dim; b
 *                               not rank 1 or not of size out; y's rank, leading dims or
 *                               last dim (out) disagree; a rank above 6
 *   TPRIM_ERR_DTYPE             x not f32/bf16/f16; w or y of another dtype than x; b
 *                               neither f32 nor x's dtype; an unknown dtype
 *   TPRIM_ERR_INVALID_ARGUMENT  a negative size; y with stride 0 over a dim of size > 1
 *   TPRIM_ERR_OVERFLOW          a tensor's element count or byte extent overflows
 *   TPRIM_ERR_UNSUPPORTED       CUDA tensors in a build without CUDA, or a pinned kernel
 *                               that does not accept the call
 *   TPRIM_ERR_OUT_OF_MEMORY     the workspace could not be allocated
 */
TPRIM_API tprim_status tprim_linear(tprim_ctx *ctx, const tprim_tensor *x, const tprim_tensor *w,
                                    const tprim_tensor *b, tprim_tensor *y);

#ifdef __cplusplus
}
#endif

#endif /* TPRIM_H */
