/* oracle.c -- float64 attention, straight from the definition in tprim.h:
 *   logit = cap(scale q.k) + bias0 + bias1 - slope |i + (kl - Sq) - j|, masked -> -inf
 *   out = softmax(logit) v ; lse = log sum exp(logit)
 * One row at a time, every key, no tiling, no shared code with the library; the
 * (batch entry, head) pairs shared out over threads (each row is computed alone, so the
 * bits do not depend on the thread count). */
#include "oracle.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double oracle_elem(const tprim_tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int i = 0; i < t->rank; i++) off += idx[i] * t->strides[i];
    const char *p = (const char *)t->data + off * (int64_t)tprim_dtype_size(t->dtype);
    switch (t->dtype) {
    case TPRIM_F32: { float f; memcpy(&f, p, 4); return f; }
    case TPRIM_F64: { double d; memcpy(&d, p, 8); return d; }
    case TPRIM_BF16: { uint16_t h; memcpy(&h, p, 2); return t_bf16_to_double(h); }
    case TPRIM_F16: { uint16_t h; memcpy(&h, p, 2); return t_f16_to_double(h); }
    case TPRIM_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TPRIM_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case TPRIM_BOOL: return *(const unsigned char *)p != 0;
    }
    return NAN;
}

/* element of t broadcast (right-aligned, size-1 dims broadcast) at full index idx[r] */
static double elem_bcast(const tprim_tensor *t, const int64_t *idx, int r)
{
    int64_t sub[TPRIM_MAX_RANK];
    int lead = r - t->rank;
    for (int d = 0; d < t->rank; d++) sub[d] = t->shape[d] == 1 ? 0 : idx[lead + d];
    return oracle_elem(t, sub);
}

/* Batch entry b (of q's leading nbd dims): its indices into idx[0 .. nbd), and its key
 * length (key_lens, else Sk). */
static int64_t batch_entry(const tprim_tensor *q, const tprim_attn_params *pa, int nbd, int64_t b, int64_t Sk,
                           int64_t *idx)
{
    int64_t rem = b;
    for (int d = nbd - 1; d >= 0; d--) {
        idx[d] = rem % q->shape[d];
        rem /= q->shape[d];
    }
    if (!pa->key_lens) return Sk;
    int64_t kidx[TPRIM_MAX_RANK] = {0};
    if (pa->key_lens->rank == nbd && nbd > 0) memcpy(kidx, idx, sizeof(int64_t) * (size_t)nbd);
    else kidx[0] = b;
    return (int64_t)oracle_elem(pa->key_lens, kidx);
}

/* Whether key j is visible to the query at aligned position ia (i + kl - Sq) of the batch
 * entry idx[0 .. nbd): within the key length, the key mask, causal, the window. */
static int key_visible(const tprim_attn_params *pa, const int64_t *idx, int nbd, int64_t j, int64_t kl, int64_t ia)
{
    if (j >= kl || (pa->causal && j > ia)) return 0;
    if (pa->use_window && (j < ia - pa->window_left || j > ia + pa->window_right)) return 0;
    if (pa->key_mask) {
        int64_t kidx[TPRIM_MAX_RANK];
        memcpy(kidx, idx, sizeof(int64_t) * (size_t)nbd);
        kidx[nbd] = j;
        if (elem_bcast(pa->key_mask, kidx, nbd + 1) == 0) return 0;
    }
    return 1;
}

/* Head h's ALiBi slope for the batch entry in idx[0 .. nbd) (0 without slopes); idx[nbd]
 * is left changed. */
static double alibi_slope(const tprim_attn_params *pa, int64_t *idx, int nbd, int64_t h)
{
    if (!pa->alibi_slopes) return 0;
    idx[nbd] = h;
    return elem_bcast(pa->alibi_slopes, idx, nbd + 1);
}

/* The logits of query row i of batch entry idx[0 .. nbd) (key length kl), head h (kv head
 * hk): logit[j] = softcap(scale q.k_j) + biases - alibi, -inf for keys not visible; with
 * capd, the soft-cap's derivative at each visible key there (1 elsewhere). Returns the
 * row's maximum (-inf when no key is visible). idx[nbd ..] is left changed. */
static double row_logits(const tprim_tensor *q, const tprim_tensor *k, const tprim_attn_params *pa, double scale,
                         int r, int nbd, int64_t *idx, int64_t h, int64_t hk, int64_t i, int64_t kl, int64_t Sq,
                         int64_t Sk, int64_t D, double slope, double *logit, double *capd)
{
    const int64_t ia = i + kl - Sq;
    double mx = -INFINITY;
    for (int64_t j = 0; j < Sk; j++) {
        logit[j] = -INFINITY;
        if (capd) capd[j] = 1;
        if (!key_visible(pa, idx, nbd, j, kl, ia)) continue;
        double s = 0;
        for (int64_t d = 0; d < D; d++) {
            idx[nbd] = h; idx[nbd + 1] = i; idx[nbd + 2] = d;
            double qv = oracle_elem(q, idx);
            idx[nbd] = hk; idx[nbd + 1] = j;
            s += qv * oracle_elem(k, idx);
        }
        s *= scale;
        if (pa->softcap > 0) {
            const double t = tanh(s / pa->softcap);
            s = pa->softcap * t;
            if (capd) capd[j] = 1 - t * t;
        }
        idx[nbd] = h; idx[nbd + 1] = i; idx[nbd + 2] = j;
        for (int x = 0; x < 2; x++)
            if (pa->bias[x]) s += elem_bcast(pa->bias[x], idx, r);
        if (pa->alibi_slopes) s -= slope * fabs((double)(ia - j));
        logit[j] = s;
        if (s > mx) mx = s;
    }
    return mx;
}

/* One call's operands and the rows' destinations: worked on by (batch entry, head). */
typedef struct {
    const tprim_tensor *q, *k, *v;
    const tprim_attn_params *pa;
    double *out, *lse, scale;
    int r, nbd;
    int64_t nb, Hq, Hkv, Sq, Sk, D, Dv;
    atomic_llong next; /* the next (batch entry, head) to take */
} oracle_job;

/* Rows i of batch entry b, head h: out[((b Hq + h) Sq + i) Dv ..], lse (logit: Sk doubles
 * of scratch). Each row depends on nothing but the inputs, so any order gives the same
 * bits. */
static void oracle_bh(const oracle_job *jb, int64_t b, int64_t h, double *logit)
{
    const tprim_tensor *q = jb->q, *k = jb->k, *v = jb->v;
    const tprim_attn_params *pa = jb->pa;
    const int r = jb->r, nbd = jb->nbd;
    const int64_t Hq = jb->Hq, Hkv = jb->Hkv, Sq = jb->Sq, Sk = jb->Sk, D = jb->D, Dv = jb->Dv;
    int64_t idx[TPRIM_MAX_RANK] = {0};
    const int64_t kl = batch_entry(q, pa, nbd, b, Sk, idx);
    const int64_t hk = h / (Hq / Hkv);
    const double slope = alibi_slope(pa, idx, nbd, h);
    for (int64_t i = 0; i < Sq; i++) {
        const double mx = row_logits(q, k, pa, jb->scale, r, nbd, idx, h, hk, i, kl, Sq, Sk, D, slope, logit, NULL);
        double *o = jb->out + ((b * Hq + h) * Sq + i) * Dv;
        for (int64_t d = 0; d < Dv; d++) o[d] = 0;
        double sum = 0;
        if (mx > -INFINITY) {
            for (int64_t j = 0; j < Sk; j++) {
                if (logit[j] == -INFINITY) continue;
                double e = exp(logit[j] - mx);
                sum += e;
                for (int64_t d = 0; d < Dv; d++) {
                    idx[nbd] = hk; idx[nbd + 1] = j; idx[nbd + 2] = d;
                    o[d] += e * oracle_elem(v, idx);
                }
            }
            for (int64_t d = 0; d < Dv; d++) o[d] /= sum;
        }
        if (jb->lse) jb->lse[(b * Hq + h) * Sq + i] = sum > 0 ? mx + log(sum) : -INFINITY;
    }
}

/* A worker: (batch entry, head) pairs from the shared counter until none is left. */
static void *oracle_worker(void *arg)
{
    oracle_job *jb = arg;
    double *logit = malloc((size_t)(jb->Sk > 0 ? jb->Sk : 1) * sizeof(double));
    if (!logit) return NULL; /* the others take the work (rows no one took stay NaN) */
    for (;;) {
        const long long n = atomic_fetch_add(&jb->next, 1);
        if (n >= jb->nb * jb->Hq) break;
        oracle_bh(jb, n / jb->Hq, n % jb->Hq, logit);
    }
    free(logit);
    return NULL;
}

/* Threads for the oracle: the CPUs online (the GPU tests' oracle is most of their time),
 * at most 64; TPRIM_TEST_ORACLE_THREADS overrides. One thread for small calls. */
static int oracle_threads(double work)
{
    if (work < 4e6) return 1;
    const char *e = getenv("TPRIM_TEST_ORACLE_THREADS");
    long n = e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

void oracle_attention(const tprim_tensor *q, const tprim_tensor *k, const tprim_tensor *v,
                      const tprim_attn_params *pa, double *out, double *lse)
{
    oracle_job jb;
    jb.r = q->rank, jb.nbd = jb.r - 3;
    const int nbd = jb.nbd;
    jb.Hq = q->shape[nbd], jb.Hkv = k->shape[nbd], jb.Sq = q->shape[nbd + 1], jb.Sk = k->shape[nbd + 1];
    jb.D = q->shape[nbd + 2], jb.Dv = v->shape[nbd + 2];
    jb.nb = 1;
    for (int d = 0; d < nbd; d++) jb.nb *= q->shape[d];
    tprim_attn_params none;
    memset(&none, 0, sizeof none);
    jb.pa = pa ? pa : &none;
    jb.scale = jb.pa->scale != 0.0f ? (double)jb.pa->scale : 1.0 / sqrt((double)jb.D);
    jb.q = q, jb.k = k, jb.v = v, jb.out = out, jb.lse = lse;
    atomic_init(&jb.next, 0);
    for (int64_t x = 0, n = jb.nb * jb.Hq * jb.Sq; x < n; x++) {
        for (int64_t d = 0; d < jb.Dv; d++) out[x * jb.Dv + d] = NAN;
        if (lse) lse[x] = NAN;
    }
    const double work = (double)jb.nb * (double)jb.Hq * (double)jb.Sq * (double)jb.Sk * (double)(jb.D + jb.Dv);
    int nt = oracle_threads(work);
    if (nt > jb.nb * jb.Hq) nt = (int)(jb.nb * jb.Hq);
    pthread_t th[64];
    int started = 0;
    while (started < nt - 1 && pthread_create(&th[started], NULL, oracle_worker, &jb) == 0) started++;
    oracle_worker(&jb); /* this thread too (alone if no thread could start) */
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
}

/* flat row-major index of the broadcast source element of t for full index idx[r] */
static int64_t flat_bcast(const tprim_tensor *t, const int64_t *idx, int r)
{
    int lead = r - t->rank;
    int64_t f = 0;
    for (int d = 0; d < t->rank; d++) f = f * t->shape[d] + (t->shape[d] == 1 ? 0 : idx[lead + d]);
    return f;
}

void oracle_attention_backward(const tprim_tensor *q, const tprim_tensor *k,
                               const tprim_tensor *v, const tprim_attn_params *pa,
                               const tprim_tensor *dout, double *dq, double *dk, double *dv,
                               double *dbias0, double *dbias1)
{
    const int r = q->rank, nbd = r - 3;
    const int64_t Hq = q->shape[nbd], Hkv = k->shape[nbd], Sq = q->shape[nbd + 1],
                  Sk = k->shape[nbd + 1], D = q->shape[nbd + 2], Dv = v->shape[nbd + 2];
    int64_t nb = 1;
    for (int d = 0; d < nbd; d++) nb *= q->shape[d];
    tprim_attn_params none;
    memset(&none, 0, sizeof none);
    if (!pa) pa = &none;
    const double scale = pa->scale != 0.0f ? (double)pa->scale : 1.0 / sqrt((double)D);
    double *dbias[2] = {dbias0, dbias1};
    memset(dq, 0, sizeof(double) * (size_t)(nb * Hq * Sq * D));
    memset(dk, 0, sizeof(double) * (size_t)(nb * Hkv * Sk * D));
    memset(dv, 0, sizeof(double) * (size_t)(nb * Hkv * Sk * Dv));
    for (int x = 0; x < 2; x++)
        if (dbias[x] && pa->bias[x]) {
            int64_t n = 1;
            for (int d = 0; d < pa->bias[x]->rank; d++) n *= pa->bias[x]->shape[d];
            memset(dbias[x], 0, sizeof(double) * (size_t)n);
        }
    double *logit = malloc(sizeof(double) * (size_t)(Sk + 1)), *capd = malloc(sizeof(double) * (size_t)(Sk + 1));
    double *o = malloc(sizeof(double) * (size_t)(Dv + 1));
    for (int64_t b = 0; b < nb; b++) {
        int64_t idx[TPRIM_MAX_RANK] = {0};
        const int64_t kl = batch_entry(q, pa, nbd, b, Sk, idx);
        for (int64_t h = 0; h < Hq; h++) {
            const int64_t hk = h / (Hq / Hkv);
            const double slope = alibi_slope(pa, idx, nbd, h);
            for (int64_t i = 0; i < Sq; i++) {
                const double mx = row_logits(q, k, pa, scale, r, nbd, idx, h, hk, i, kl, Sq, Sk, D, slope, logit, capd);
                if (mx == -INFINITY) continue; /* fully masked row: no gradient */
                double sum = 0;
                for (int64_t j = 0; j < Sk; j++) {
                    logit[j] = logit[j] == -INFINITY ? 0 : exp(logit[j] - mx);
                    sum += logit[j];
                }
                for (int64_t d = 0; d < Dv; d++) o[d] = 0;
                for (int64_t j = 0; j < Sk; j++) {
                    logit[j] /= sum; /* P */
                    for (int64_t d = 0; d < Dv; d++) {
                        idx[nbd] = hk; idx[nbd + 1] = j; idx[nbd + 2] = d;
                        o[d] += logit[j] * oracle_elem(v, idx);
                    }
                }
                double delta = 0;
                for (int64_t d = 0; d < Dv; d++) {
                    idx[nbd] = h; idx[nbd + 1] = i; idx[nbd + 2] = d;
                    delta += oracle_elem(dout, idx) * o[d];
                }
                for (int64_t j = 0; j < Sk; j++) {
                    if (logit[j] == 0) continue;
                    double dp = 0;
                    for (int64_t d = 0; d < Dv; d++) {
                        idx[nbd] = h; idx[nbd + 1] = i; idx[nbd + 2] = d;
                        double g = oracle_elem(dout, idx);
                        idx[nbd] = hk; idx[nbd + 1] = j;
                        dp += g * oracle_elem(v, idx);
                        dv[((b * Hkv + hk) * Sk + j) * Dv + d] += logit[j] * g;
                    }
                    double ds = logit[j] * (dp - delta);
                    idx[nbd] = h; idx[nbd + 1] = i; idx[nbd + 2] = j;
                    for (int x = 0; x < 2; x++)
                        if (dbias[x] && pa->bias[x]) dbias[x][flat_bcast(pa->bias[x], idx, r)] += ds;
                    double dss = ds * capd[j] * scale;
                    for (int64_t d = 0; d < D; d++) {
                        idx[nbd] = hk; idx[nbd + 1] = j; idx[nbd + 2] = d;
                        double kv = oracle_elem(k, idx);
                        idx[nbd] = h; idx[nbd + 1] = i;
                        double qv = oracle_elem(q, idx);
                        dq[((b * Hq + h) * Sq + i) * D + d] += dss * kv;
                        dk[((b * Hkv + hk) * Sk + j) * D + d] += dss * qv;
                    }
                }
            }
        }
    }
    free(logit);
    free(capd);
    free(o);
}
