/* dispatch.c -- kernel families, the choice of a kernel for each call (and why),
 * running it on the pool with its workspace, and per-variant statistics. */
#include "internal.h"
#ifdef TPRIM_HAVE_CUDA
#include "../cuda/cuda_driver.h"
#endif

#include <stdio.h>
#include <string.h>

static const char *const family_names[TP_FAMILY_COUNT_] = {"auto", "ref",  "avx2",
                                                           "avx512", "neon", "cuda"};

const char *tp_family_name(tp_family f)
{
    return (f >= 0 && f < TP_FAMILY_COUNT_) ? family_names[f] : "?";
}

int tp_family_parse(const char *s, tp_family *out)
{
    for (int f = 0; f < TP_FAMILY_COUNT_; f++)
        if (strcmp(s, family_names[f]) == 0) {
            *out = (tp_family)f;
            return 1;
        }
    return 0;
}

uint64_t tp_family_features(tp_family f)
{
    switch (f) {
    case TP_FAMILY_AVX2: return TPRIM_CPU_AVX2 | TPRIM_CPU_FMA | TPRIM_CPU_F16C;
    case TP_FAMILY_AVX512:
        return TPRIM_CPU_AVX512F | TPRIM_CPU_AVX512BW | TPRIM_CPU_AVX512VL | TPRIM_CPU_AVX512DQ |
               TPRIM_CPU_AVX2 | TPRIM_CPU_FMA | TPRIM_CPU_F16C;
    case TP_FAMILY_NEON: return TPRIM_CPU_NEON;
    default: return 0;
    }
}

static int family_built(tp_family f)
{
    switch (f) {
    case TP_FAMILY_AUTO:
    case TP_FAMILY_REF: return 1;
#ifdef TPRIM_HAVE_AVX2
    case TP_FAMILY_AVX2: return 1;
#endif
#ifdef TPRIM_HAVE_AVX512
    case TP_FAMILY_AVX512: return 1;
#endif
#ifdef TPRIM_HAVE_NEON
    case TP_FAMILY_NEON: return 1;
#endif
#ifdef TPRIM_HAVE_CUDA
    case TP_FAMILY_CUDA: return 1;
#endif
    default: return 0;
    }
}

int tp_family_runnable(tp_family f)
{
    if (!family_built(f)) return 0;
#ifdef TPRIM_HAVE_CUDA
    if (f == TP_FAMILY_CUDA) return tp_cu_device_count() > 0;
#endif
    uint64_t need = tp_family_features(f);
    return (tp_hw()->features & need) == need;
}

int32_t tprim_kernel_count(tprim_op op)
{
    const tp_kernel_table *t = tp_kernels(op);
    return t ? t->count : 0;
}

tprim_status tprim_kernel_get(tprim_op op, int32_t index, tprim_kernel_desc *out)
{
    if (!out) return TPRIM_ERR_NULL_POINTER;
    const tp_kernel_table *t = tp_kernels(op);
    if (!t || index < 0 || index >= t->count) return TPRIM_ERR_INVALID_ARGUMENT;
    const tp_kernel *k = t->k[index];
    out->name = k->name;
    out->family = tp_family_name(k->family);
    out->priority = k->priority;
    out->runnable = tp_family_runnable(k->family);
    return TPRIM_OK;
}

static int find_variant(const tp_kernel_table *t, const char *name)
{
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->k[i]->name, name) == 0) return i;
    return -1;
}

tprim_status tprim_ctx_set_kernel(tprim_ctx *ctx, tprim_op op, const char *name)
{
    if (!ctx) return TPRIM_ERR_NULL_POINTER;
    const tp_kernel_table *t = tp_kernels(op);
    if (!t) return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "op %d is not an op", (int)op);
    if (!name || strcmp(name, "auto") == 0) {
        ctx->pinned[op] = -1;
        ctx->err[0] = 0;
        return TPRIM_OK;
    }
    int i = find_variant(t, name);
    if (i < 0)
        return tp_fail(ctx, TPRIM_ERR_INVALID_ARGUMENT, "name '%s' is not a kernel of %s", name,
                       tprim_op_name(op));
    if (!tp_family_runnable(t->k[i]->family))
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED,
                       "kernel '%s' of %s cannot run on this machine or build", name,
                       tprim_op_name(op));
    ctx->pinned[op] = i;
    ctx->err[0] = 0;
    return TPRIM_OK;
}

uint64_t tprim_ctx_kernel_calls(const tprim_ctx *ctx, tprim_op op, const char *name)
{
    const tp_kernel_table *t = tp_kernels(op);
    if (!ctx || !t || !name) return 0;
    int i = find_variant(t, name);
    return i < 0 ? 0 : ctx->calls[op][i];
}

const char *tprim_ctx_last_kernel(const tprim_ctx *ctx, tprim_op op)
{
    const tp_kernel_table *t = tp_kernels(op);
    if (!ctx || !t || ctx->last[op] < 0) return NULL;
    return t->k[ctx->last[op]]->name;
}

void tprim_ctx_reset_stats(tprim_ctx *ctx)
{
    if (!ctx) return;
    memset(ctx->calls, 0, sizeof ctx->calls);
    for (int op = 0; op < TPRIM_OP_COUNT_; op++) ctx->last[op] = -1;
    ctx->mem_peak = ctx->arena.cap + ctx->mem_held;
}

/* Append to a fixed buffer without overflowing it. */
static void add_note(char *buf, size_t cap, const char *name, const char *why)
{
    size_t n = strlen(buf);
    if (n + 1 < cap) snprintf(buf + n, cap - n, "%s%s (%s)", n ? "; " : "", name, why);
}

tprim_status tp_dispatch(tprim_ctx *ctx, tprim_op op, const void *prob, const char *what,
                         int *variant)
{
    return tp_dispatch_dev(ctx, op, prob, what, TPRIM_DEVICE_CPU, variant);
}

tprim_status tp_dispatch_dev(tprim_ctx *ctx, tprim_op op, const void *prob, const char *what,
                             tprim_device_type device, int *variant)
{
    const tp_kernel_table *t = tp_kernels(op);
    const char *opname = tprim_op_name(op);
    const int on_cuda = device == TPRIM_DEVICE_CUDA;
    if (ctx->pinned[op] >= 0) {
        const tp_kernel *k = t->k[ctx->pinned[op]];
        const char *why = k->accepts ? k->accepts(prob) : NULL;
        if ((k->family == TP_FAMILY_CUDA) != on_cuda)
            why = on_cuda ? "the tensors are in CUDA memory" : "the tensors are in host memory";
        if (why)
            return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED, "kernel '%s' (pinned) does not accept %s: %s",
                           k->name, what, why);
        tp_log(ctx, TPRIM_LOG_DEBUG, "%s %s: kernel %s (pinned by tprim_ctx_set_kernel)", opname,
               what, k->name);
        *variant = ctx->pinned[op];
        return TPRIM_OK;
    }
    char skipped[512] = "";
    int best = -1, ref = -1;
    for (int i = 0; i < t->count; i++) {
        const tp_kernel *k = t->k[i];
        if (k->family == TP_FAMILY_REF) ref = i;
        if ((k->family == TP_FAMILY_CUDA) != on_cuda) {
            add_note(skipped, sizeof skipped, k->name,
                     on_cuda ? "host kernel, CUDA tensors" : "CUDA kernel, host tensors");
            continue;
        }
        if (!tp_family_runnable(k->family)) {
            add_note(skipped, sizeof skipped, k->name,
                     !family_built(k->family)           ? "not built"
                     : k->family == TP_FAMILY_CUDA ? "no usable CUDA GPU"
                                                   : "CPU lacks its features");
            continue;
        }
        if (!on_cuda && ctx->family != TP_FAMILY_AUTO && k->family != ctx->family) {
            add_note(skipped, sizeof skipped, k->name, "TPRIM_ISA forces another family");
            continue;
        }
        const char *why = k->accepts ? k->accepts(prob) : NULL;
        if (why) {
            add_note(skipped, sizeof skipped, k->name, why);
            continue;
        }
        if (best < 0 || k->priority > t->k[best]->priority) best = i;
    }
    if (best >= 0) {
        tp_log(ctx, TPRIM_LOG_DEBUG, "%s %s: kernel %s (priority %d, best that accepts the call%s%s)",
               opname, what, t->k[best]->name, t->k[best]->priority, skipped[0] ? "; skipped: " : "",
               skipped);
        *variant = best;
        return TPRIM_OK;
    }
    if (on_cuda)
        return tp_fail(ctx, TPRIM_ERR_UNSUPPORTED, "%s %s: no CUDA kernel can run it (%s)", opname,
                       what, skipped);
    if (ref >= 0 && ctx->family != TP_FAMILY_AUTO) {
        tp_log(ctx, TPRIM_LOG_INFO,
               "%s %s: forced family %s has no kernel for this call; running ref (skipped: %s)",
               opname, what, tp_family_name(ctx->family), skipped);
        *variant = ref;
        return TPRIM_OK;
    }
    return tp_fail(ctx, TPRIM_ERR_INTERNAL, "%s %s: no kernel accepts the call (%s)", opname, what,
                   skipped);
}

tprim_status tp_run_kernel(tprim_ctx *ctx, tprim_op op, int variant, const void *prob)
{
    const tp_kernel *k = tp_kernels(op)->k[variant];
    if (k->run_device) {
        tprim_status s = k->run_device(ctx, prob);
        if (s != TPRIM_OK) return s;
        ctx->calls[op][variant]++;
        ctx->last[op] = variant;
        ctx->err[0] = 0;
        return TPRIM_OK;
    }
    int nthreads = ctx->nthreads;
    if (nthreads > tp_pool_size(ctx->pool)) nthreads = tp_pool_size(ctx->pool);
    int ok = 1;
    size_t bytes = k->workspace ? k->workspace(prob, nthreads, &ok) : 0;
    if (!ok)
        return tp_fail(ctx, TPRIM_ERR_OVERFLOW, "%s: the workspace size overflows",
                       tprim_op_name(op));
    void *ws = NULL;
    if (bytes) {
        ws = tp_arena_get(&ctx->arena, bytes);
        tp_mem_note(ctx);
        if (!ws)
            return tp_fail(ctx, TPRIM_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes of workspace",
                           tprim_op_name(op), bytes);
    }
    k->run(prob, ws, ctx->pool, nthreads);
    ctx->calls[op][variant]++;
    ctx->last[op] = variant;
    ctx->err[0] = 0;
    return TPRIM_OK;
}
