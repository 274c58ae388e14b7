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
