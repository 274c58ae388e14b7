/* arena.c -- the context's workspace: one cache-line-aligned block that grows to the
 * largest request seen and is then reused, so steady-state calls allocate nothing. */
#include "internal.h"

#include <stdlib.h>

void *tp_arena_get(tp_arena *a, size_t bytes)
{
    if (bytes == 0) bytes = TP_ALIGN;
    if (bytes > a->high_water) a->high_water = bytes;
    if (bytes <= a->cap) return a->base;
    size_t cap;
    if (!tp_align_size(bytes, &cap)) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, TP_ALIGN, cap) != 0) return NULL;
    free(a->base);
    a->base = p;
    a->cap = cap;
    return p;
}

void tp_arena_release(tp_arena *a)
{
    free(a->base);
    a->base = NULL;
    a->cap = 0;
}

void tp_mem_note(tprim_ctx *ctx)
{
    size_t now = ctx->arena.cap + ctx->mem_held;
    if (now > ctx->mem_peak) ctx->mem_peak = now;
}

void *tp_mem_alloc(tprim_ctx *ctx, size_t bytes)
{
    size_t cap;
    void *p = NULL;
    if (!tp_align_size(bytes ? bytes : 1, &cap) || posix_memalign(&p, TP_ALIGN, cap) != 0) return NULL;
    ctx->mem_held += cap;
    tp_mem_note(ctx);
    return p;
}

void tp_mem_free(tprim_ctx *ctx, void *p, size_t bytes)
{
    size_t cap;
    if (!p) return;
    free(p);
    if (tp_align_size(bytes ? bytes : 1, &cap)) ctx->mem_held -= cap;
}

size_t tprim_ctx_memory_now(const tprim_ctx *ctx) { return ctx ? ctx->arena.cap + ctx->mem_held : 0; }
size_t tprim_ctx_memory_peak(const tprim_ctx *ctx) { return ctx ? ctx->mem_peak : 0; }
