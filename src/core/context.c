/* context.c -- tprim_ctx: configuration (API first, environment as defaults), the
 * last-error message, logging, the thread pool and the workspace arena. */
#include "internal.h"
#ifdef TPRIM_HAVE_CUDA
#include "../cuda/cuda_driver.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_create_err[256];

const char *tprim_ctx_create_error(void) { return g_create_err; }

static int streq_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return *a == *b;
}

static int parse_log_level(const char *s, tprim_log_level *out)
{
    static const char *names[] = {"off", "error", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (streq_ci(s, names[i]) || (s[0] == (char)('0' + i) && s[1] == 0)) {
            *out = (tprim_log_level)i;
            return 1;
        }
    return 0;
}

static int parse_memory_mode(const char *s, tprim_memory_mode *out)
{
    if (streq_ci(s, "balanced")) *out = TPRIM_MEMORY_BALANCED;
    else if (streq_ci(s, "minimal")) *out = TPRIM_MEMORY_MINIMAL;
    else if (streq_ci(s, "performance")) *out = TPRIM_MEMORY_PERFORMANCE;
    else return 0;
    return 1;
}

/* Non-empty value of an environment variable, or NULL. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

static tprim_status create_fail(tprim_ctx *ctx, tprim_status s, const char *fmt, const char *a,
                                const char *b)
{
    snprintf(g_create_err, sizeof g_create_err, fmt, a, b);
    tprim_ctx_free(ctx);
    return s;
}

tprim_status tprim_ctx_create(tprim_ctx **out)
{
    g_create_err[0] = 0;
    if (!out) {
        snprintf(g_create_err, sizeof g_create_err, "out is NULL");
        return TPRIM_ERR_NULL_POINTER;
    }
    *out = NULL;
    tprim_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(g_create_err, sizeof g_create_err, "out of memory allocating the context");
        return TPRIM_ERR_OUT_OF_MEMORY;
    }
    for (int op = 0; op < TPRIM_OP_COUNT_; op++) ctx->pinned[op] = ctx->last[op] = -1;
    ctx->nthreads = tp_hw()->num_cpus;
    ctx->family = TP_FAMILY_AUTO;
    ctx->memory = TPRIM_MEMORY_BALANCED;
    ctx->log_level = TPRIM_LOG_OFF;

    const char *v;
    if ((v = env("TPRIM_LOG")) && !parse_log_level(v, &ctx->log_level))
        return create_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                           "TPRIM_LOG='%s' is not a log level (%s)", v, "off, error, info, debug");
    if ((v = env("TPRIM_NUM_THREADS"))) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end != 0 || n < 1 || n > 1024)
            return create_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                               "TPRIM_NUM_THREADS='%s' is not a thread count (%s)", v, "1..1024");
        ctx->nthreads = (int32_t)n;
    }
    if ((v = env("TPRIM_ISA"))) {
        tp_family f;
        if (!tp_family_parse(v, &f) || f == TP_FAMILY_CUDA)
            return create_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                               "TPRIM_ISA='%s' is not a kernel family (%s)", v,
                               "auto, ref, avx2, avx512, neon");
        if (!tp_family_runnable(f))
            return create_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                               "TPRIM_ISA='%s': this %s cannot run that kernel family", v,
                               "machine or build");
        ctx->family = f;
    }
    if ((v = env("TPRIM_MEMORY")) && !parse_memory_mode(v, &ctx->memory))
        return create_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                           "TPRIM_MEMORY='%s' is not a memory mode (%s)", v,
                           "minimal, balanced, performance");
    ctx->cuda_evo_form = TP_EVO_PRODUCER;
    if ((v = env("TPRIM_CUDA_STREAM"))) {
        static const char *const forms[4] = {"cpasync", "tma", "producer", "deferpv"}; /* tp_evo_form order */
        int f = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(v, forms[i]) == 0) f = i;
        if (f < 0)
            return create_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "TPRIM_CUDA_STREAM='%s' is not %s", v,
                               "producer, tma, cpasync or deferpv");
        ctx->cuda_evo_form = f;
    }
    if (tp_pool_create(ctx->nthreads, &ctx->pool) != TPRIM_OK)
        return create_fail(ctx, TPRIM_ERR_OUT_OF_MEMORY, "could not start the worker threads%s%s", "", "");
    tp_log(ctx, TPRIM_LOG_INFO, "context: %d threads, isa %s, memory %d", (int)ctx->nthreads,
           tp_family_name(ctx->family), (int)ctx->memory);
    *out = ctx;
    return TPRIM_OK;
}

void tprim_ctx_free(tprim_ctx *ctx)
{
    if (!ctx) return;
#ifdef TPRIM_HAVE_CUDA
    if (ctx->cuda_stream_owned) tp_cu_stream_destroy(ctx->cuda_stream);
#endif
    tp_pool_free(ctx->pool);
    tp_arena_release(&ctx->arena);
    free(ctx);
}

const char *tprim_ctx_last_error(const tprim_ctx *ctx) { return ctx ? ctx->err : "ctx is NULL"; }

tprim_status tp_fail(tprim_ctx *ctx, tprim_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    tp_log(ctx, TPRIM_LOG_ERROR, "%s: %s", tprim_status_str(s), ctx->err);
    return s;
}

void tp_log(const tprim_ctx *ctx, tprim_log_level level, const char *fmt, ...)
{
    if (!ctx || level > ctx->log_level || level == TPRIM_LOG_OFF) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (ctx->log_fn) ctx->log_fn(ctx->log_user, level, line);
    else fprintf(stderr, "[tprim] %s\n", line);
}

tprim_status tprim_ctx_set_num_threads(tprim_ctx *ctx, int32_t n)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    if (n < 0 || n > 1024)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "n is %d: thread count must be 0..1024",
                       (int)n);
    if (n == 0) n = tp_hw()->num_cpus;
    if (n > tp_pool_size(ctx->pool)) {
        tp_pool *p;
        if (tp_pool_create(n, &p) != TPRIM_OK)
            return tp_fail(ctx, TPRIM_ERR_OUT_OF_MEMORY, "could not start %d threads", (int)n);
        tp_pool_free(ctx->pool);
        ctx->pool = p;
    }
    ctx->nthreads = n;
    ctx->err[0] = 0;
    tp_log(ctx, TPRIM_LOG_INFO, "context: %d threads", (int)n);
    return TPRIM_OK;
}

int32_t tprim_ctx_num_threads(const tprim_ctx *ctx) { return ctx ? ctx->nthreads : 0; }

tprim_status tprim_ctx_set_isa(tprim_ctx *ctx, const char *family)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    if (!family) return tp_fail(ctx, TPRIM_ERR_NULL_POINTER, "family is NULL");
    tp_family f;
    if (!tp_family_parse(family, &f) || f == TP_FAMILY_CUDA)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT,
                       "family '%s' is not a kernel family (auto, ref, avx2, avx512, neon)", family);
    if (!tp_family_runnable(f))
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "family '%s': this machine or build cannot run it", family);
    ctx->family = f;
    ctx->err[0] = 0;
    tp_log(ctx, TPRIM_LOG_INFO, "context: isa %s", tp_family_name(f));
    return TPRIM_OK;
}

tprim_status tprim_ctx_set_log(tprim_ctx *ctx, tprim_log_level level, tprim_log_fn fn, void *user)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    if ((int)level < TPRIM_LOG_OFF || (int)level > TPRIM_LOG_DEBUG)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "level is %d: must be 0..3", (int)level);
    ctx->log_level = level;
    ctx->log_fn = fn;
    ctx->log_user = user;
    ctx->err[0] = 0;
    return TPRIM_OK;
}

tprim_status tprim_ctx_set_memory_mode(tprim_ctx *ctx, tprim_memory_mode mode)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    if ((int)mode < 0 || (int)mode > 2)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "mode is %d: must be 0..2", (int)mode);
    ctx->memory = mode;
    ctx->err[0] = 0;
    return TPRIM_OK;
}

tprim_status tprim_ctx_set_memory_budget(tprim_ctx *ctx, size_t bytes)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    ctx->memory_budget = bytes;
    ctx->err[0] = 0;
    return TPRIM_OK;
}

/* ---- CUDA: the context's stream, device memory helpers ------------------------- */

int32_t tprim_cuda_device_count(void)
{
#ifdef TPRIM_HAVE_CUDA
    return tp_cu_device_count();
#else
    return 0;
#endif
}

tprim_status tprim_ctx_set_cuda_stream(tprim_ctx *ctx, void *stream)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
#ifdef TPRIM_HAVE_CUDA
    if (ctx->cuda_stream_owned) {
        tprim_status s =
            tp_cu_stream_sync(ctx->cuda_stream_dev, ctx->cuda_stream, ctx->err, sizeof ctx->err);
        tp_cu_stream_destroy(ctx->cuda_stream);
        ctx->cuda_stream_owned = 0;
        ctx->cuda_stream = NULL;
        if (s != TPRIM_OK) return tp_fail(ctx, s, "%s", ctx->err);
    }
    ctx->cuda_stream = stream;
    ctx->cuda_stream_set = 1;
    ctx->cuda_stream_used = 0;
    ctx->err[0] = 0;
    return TPRIM_OK;
#else
    (void)stream;
    return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED, "this build has no CUDA backend");
#endif
}

void *tprim_ctx_cuda_stream(const tprim_ctx *ctx) { return ctx ? ctx->cuda_stream : NULL; }

tprim_status tp_ctx_cuda_stream(tprim_ctx *ctx, int dev, void **stream)
{
#ifdef TPRIM_HAVE_CUDA
    if (!ctx->cuda_stream && !ctx->cuda_stream_set) {
        char msg[256];
        tprim_status s = tp_cu_stream_create(dev, &ctx->cuda_stream, msg, sizeof msg);
        if (s != TPRIM_OK) return tp_fail(ctx, s, "%s", msg);
        ctx->cuda_stream_owned = 1;
        ctx->cuda_stream_dev = dev;
    } else if (ctx->cuda_stream_owned && ctx->cuda_stream_dev != dev) {
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "the tensors are on CUDA device %d but this context's stream is on device "
                       "%d: use one context per device, or set a stream",
                       dev, ctx->cuda_stream_dev);
    }
    *stream = ctx->cuda_stream;
    ctx->cuda_stream_used = 1;
    return TPRIM_OK;
#else
    (void)dev;
    (void)stream;
    return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED, "this build has no CUDA backend");
#endif
}

tprim_status tprim_ctx_synchronize(tprim_ctx *ctx)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
#ifdef TPRIM_HAVE_CUDA
    char msg[256];
    if (ctx->cuda_stream_used) { /* else no CUDA work was ever enqueued through ctx */
        tprim_status s = tp_cu_stream_sync(ctx->cuda_stream_owned ? ctx->cuda_stream_dev : 0,
                                           ctx->cuda_stream, msg, sizeof msg);
        if (s != TPRIM_OK) return tp_fail(ctx, s, "%s", msg);
    }
#endif
    ctx->err[0] = 0;
    return TPRIM_OK;
}

tprim_status tprim_cuda_malloc(int32_t device_id, size_t bytes, void **ptr)
{
    if (!ptr) return TPRIM_ERR_NULL_POINTER;
#ifdef TPRIM_HAVE_CUDA
    return tp_cu_malloc(device_id, bytes, ptr, NULL, 0);
#else
    (void)device_id;
    (void)bytes;
    return TPRIM_ERR_UNSUPPORTED;
#endif
}

void tprim_cuda_free(void *ptr)
{
#ifdef TPRIM_HAVE_CUDA
    tp_cu_free(ptr);
#else
    (void)ptr;
#endif
}

tprim_status tprim_cuda_memcpy(void *dst, const void *src, size_t bytes, tprim_copy_kind kind)
{
    if ((!dst || !src) && bytes) return TPRIM_ERR_NULL_POINTER;
    if ((int)kind < 0 || (int)kind > 2) return TPRIM_ERR_INVALID_ARGUMENT;
    if (!bytes) return TPRIM_OK;
#ifdef TPRIM_HAVE_CUDA
    return tp_cu_memcpy(dst, src, bytes, (int)kind, NULL, 0);
#else
    return TPRIM_ERR_UNSUPPORTED;
#endif
}
