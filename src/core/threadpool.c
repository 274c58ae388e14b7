/* threadpool.c -- a fixed set of worker threads that run "parallel for" jobs.
 *
 * One job at a time: the caller publishes (fn, arg, n_items, nthreads), bumps the
 * generation, wakes the workers and works as thread 0. Items come from one atomic
 * counter. Workers spin briefly before sleeping so that back-to-back small calls
 * (decode) do not pay a wake-up each. */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct tp_pool {
    int nthreads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    /* current job (written by the caller under mu before the generation bump) */
    tp_task_fn fn;
    void *arg;
    int64_t n_items;
    int active; /* threads taking part in the current job, including the caller */
    atomic_int_fast64_t next;
    atomic_int running; /* workers still inside the current job */
    atomic_uint generation;
    int stop;
};

typedef struct worker_arg {
    tp_pool *pool;
    int tid;
} worker_arg;

static void run_items(tp_pool *p, int tid)
{
    for (;;) {
        int64_t it = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (it >= p->n_items) break;
        p->fn(p->arg, it, tid);
    }
}

static void *worker_main(void *varg)
{
    worker_arg wa = *(worker_arg *)varg;
    free(varg);
    tp_pool *p = wa.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int spin = 0; gen == seen && spin < 20000; spin++) {
            sched_yield();
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while (!p->stop && atomic_load_explicit(&p->generation, memory_order_acquire) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        seen = gen;
        /* every worker checks in for every job, so that the caller never rewrites the
         * job fields while a worker might still read them */
        if (wa.tid < p->active) run_items(p, wa.tid);
        if (atomic_fetch_sub_explicit(&p->running, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

tprim_status tp_pool_create(int nthreads, tp_pool **out)
{
    if (nthreads < 1) nthreads = 1;
    tp_pool *p = calloc(1, sizeof *p);
    if (!p) return TPRIM_ERR_OUT_OF_MEMORY;
    p->nthreads = nthreads;
    atomic_init(&p->next, 0);
    atomic_init(&p->running, 0);
    atomic_init(&p->generation, 0u);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return TPRIM_ERR_OUT_OF_MEMORY;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (nthreads > 1) {
        p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
        if (!p->threads) {
            tp_pool_free(p);
            return TPRIM_ERR_OUT_OF_MEMORY;
        }
        for (int i = 1; i < nthreads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (wa) {
                wa->pool = p;
                wa->tid = i;
            }
            if (!wa || pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
                free(wa);
                p->nthreads = i; /* only threads 1..i-1 exist */
                tp_pool_free(p);
                return TPRIM_ERR_OUT_OF_MEMORY;
            }
        }
    }
    *out = p;
    return TPRIM_OK;
}

void tp_pool_free(tp_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add_explicit(&p->generation, 1u, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int tp_pool_size(const tp_pool *p) { return p ? p->nthreads : 1; }

void tp_pool_run(tp_pool *p, int nthreads, int64_t n_items, tp_task_fn fn, void *arg)
{
    if (n_items <= 0) return;
    if (nthreads > p->nthreads) nthreads = p->nthreads;
    if (nthreads > n_items) nthreads = (int)n_items;
    if (nthreads <= 1 || p->nthreads == 1) {
        for (int64_t i = 0; i < n_items; i++) fn(arg, i, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_items = n_items;
    p->active = nthreads;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->running, p->nthreads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1u, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_items(p, 0);

    /* wait for every worker to check in */
    for (int spin = 0; spin < 1000; spin++) {
        if (atomic_load_explicit(&p->running, memory_order_acquire) == 0) return;
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->running, memory_order_acquire) != 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
