/* naive_attention.c -- the baseline every attention result is compared with: the
 * textbook algorithm in plain C, compiled with the same flags as everything else in
 * this binary and run on the same number of threads. It materialises the Sq x Sk
 * score matrix of each (batch, head), which is what flash attention avoids. */
#include "attn_bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct naive_job {
    const attn_shape *sh;
    tprim_dtype dt;
    const attn_set *in;
    void *out;
    int64_t units;
    atomic_int_fast64_t next;
} naive_job;

static void store(void *p, int64_t i, tprim_dtype dt, float x)
{
    if (dt == TPRIM_F32) {
        ((float *)p)[i] = x;
        return;
    }
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t h;
    if (dt == TPRIM_BF16) {
        h = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    } else {
        uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
        h = 0;
        if (a >= 0x477ff000u) h = 0x7c00;
        else if (a >= 0x38800000u) h = (uint16_t)((a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u) >> 13);
        h = (uint16_t)(h | sign);
    }
    ((uint16_t *)p)[i] = h;
}

static void *naive_thread(void *arg)
{
    naive_job *job = arg;
    const attn_shape *sh = job->sh;
    const int64_t S = sh->S, D = sh->D, G = sh->Hq / sh->Hkv;
    float *s = malloc(sizeof(float) * (size_t)(S * S));
    float *q = malloc(sizeof(float) * (size_t)(S * D));
    float *k = malloc(sizeof(float) * (size_t)(S * D));
    float *v = malloc(sizeof(float) * (size_t)(S * D));
    float *o = malloc(sizeof(float) * (size_t)(S * D));
    const float scale = 1.0f / sqrtf((float)D);
    for (;;) {
        int64_t u = atomic_fetch_add(&job->next, 1);
        if (u >= job->units) break;
        int64_t b = u / sh->Hq, h = u % sh->Hq, hk = h / G;
        int64_t qoff = (b * sh->Hq + h) * S * D, koff = (b * sh->Hkv + hk) * S * D;
        for (int64_t i = 0; i < S * D; i++) {
            q[i] = ab_load(job->in->q, qoff + i, job->dt);
            k[i] = ab_load(job->in->k, koff + i, job->dt);
            v[i] = ab_load(job->in->v, koff + i, job->dt);
        }
        /* scores */
        for (int64_t i = 0; i < S; i++)
            for (int64_t j = 0; j < S; j++) {
                float acc = 0.0f;
                for (int64_t d = 0; d < D; d++) acc += q[i * D + d] * k[j * D + d];
                acc *= scale;
                if (sh->bias) acc += job->in->mask[b * S + j] + job->in->pair[(h * S + i) * S + j];
                if (sh->causal && j > i) acc = -INFINITY;
                s[i * S + j] = acc;
            }
        /* softmax of each row */
        for (int64_t i = 0; i < S; i++) {
            float m = -INFINITY, sum = 0.0f;
            for (int64_t j = 0; j < S; j++) m = fmaxf(m, s[i * S + j]);
            for (int64_t j = 0; j < S; j++) {
                s[i * S + j] = expf(s[i * S + j] - m);
                sum += s[i * S + j];
            }
            for (int64_t j = 0; j < S; j++) s[i * S + j] /= sum;
        }
        /* O = P V */
        for (int64_t i = 0; i < S; i++) {
            for (int64_t d = 0; d < D; d++) o[i * D + d] = 0.0f;
            for (int64_t j = 0; j < S; j++) {
                float p = s[i * S + j];
                for (int64_t d = 0; d < D; d++) o[i * D + d] += p * v[j * D + d];
            }
        }
        for (int64_t i = 0; i < S * D; i++) store(job->out, qoff + i, job->dt, o[i]);
    }
    free(s);
    free(q);
    free(k);
    free(v);
    free(o);
    return NULL;
}

void naive_attention(const attn_shape *sh, tprim_dtype dt, const attn_set *in, void *out,
                     int64_t units, int threads)
{
    naive_job job = {sh, dt, in, out, units, 0};
    if (threads > 256) threads = 256;
    pthread_t th[256];
    for (int t = 1; t < threads; t++) pthread_create(&th[t], NULL, naive_thread, &job);
    naive_thread(&job);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
}
