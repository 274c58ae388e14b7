/* module_evoformer.c -- the AF3 pairformer triangle attention module (LayerNorm, the
 * triangle bias projection, q/k/v/gate projections, attention, gate, output projection)
 * through tprim_evo_forward / tprim_evo_backward, against the same module written
 * plainly in C with materialised logits.
 *
 * The two numbers (forward): flops = 2 N^2 c (4 HD + H) projections + 2 N^2 HD c output
 * + 4 N H N^2 D attention; bytes = z and out once (f32). The backward counts 2x the
 * projections and 2.5x the attention. */
#include "attn_bench.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MOD_N 768
#define MOD_C 128
#define MOD_H 4
#define MOD_D 32

typedef struct mod_inputs {
    tprim_dtype dt;
    int64_t N, C, H, D, HD;
    void *z, *out, *dout, *dz;
    float *mask;
    float *w[8];      /* wq wk wv wg bg wo bo wb (f32) */
    float *gw[8];     /* gradients */
    float *gamma, *beta, *dgamma, *dbeta;
    tprim_tensor tz, tout, tdout, tdz, tmask, tw[8], tgw[8], tg, tb, tdg, tdb;
    tprim_evo_block blk;
    tprim_evo_block_grads grads;
} mod_inputs;

static void mod_make(mod_inputs *m, tprim_dtype dt)
{
    memset(m, 0, sizeof *m);
    m->dt = dt;
    m->N = MOD_N, m->C = MOD_C, m->H = MOD_H, m->D = MOD_D, m->HD = MOD_H * MOD_D;
    const int64_t N = m->N, C = m->C, HD = m->HD, es = (int64_t)tprim_dtype_size(dt);
    int64_t zs[4] = {1, N, N, C}, ms[3] = {1, N, N};
    void **zb[4] = {&m->z, &m->out, &m->dout, &m->dz};
    tprim_tensor *zt[4] = {&m->tz, &m->tout, &m->tdout, &m->tdz};
    for (int i = 0; i < 4; i++) {
        *zb[i] = malloc((size_t)(N * N * C * es));
        bench_fill(*zb[i], dt, N * N * C, (uint64_t)i + 7, 1.0f);
        tprim_tensor_init(zt[i], *zb[i], dt, 4, zs, NULL);
    }
    m->mask = malloc(sizeof(float) * (size_t)(N * N));
    for (int64_t i = 0; i < N * N; i++) m->mask[i] = (i % N) < N - (i / N) % 5 ? 1.0f : 0.0f;
    tprim_tensor_init(&m->tmask, m->mask, TPRIM_F32, 3, ms, NULL);
    const int64_t rows[8] = {HD, HD, HD, HD, HD, C, C, m->H}, cols[8] = {C, C, C, C, 0, HD, 0, C};
    const tprim_tensor **wp[8] = {&m->blk.attn.wq, &m->blk.attn.wk, &m->blk.attn.wv, &m->blk.attn.wg,
                                  &m->blk.attn.bg, &m->blk.attn.wo, &m->blk.attn.bo, &m->blk.w_bias};
    tprim_tensor **gp[8] = {&m->grads.wq, &m->grads.wk, &m->grads.wv, &m->grads.wg,
                            &m->grads.bg, &m->grads.wo, &m->grads.bo, &m->grads.w_bias};
    for (int i = 0; i < 8; i++) {
        int64_t n = rows[i] * (cols[i] ? cols[i] : 1), sh[2] = {rows[i], cols[i]};
        m->w[i] = malloc(sizeof(float) * (size_t)n);
        m->gw[i] = malloc(sizeof(float) * (size_t)n);
        bench_fill(m->w[i], TPRIM_F32, n, (uint64_t)i + 100, cols[i] ? 1.0f / sqrtf((float)cols[i]) : 0.5f);
        tprim_tensor_init(&m->tw[i], m->w[i], TPRIM_F32, cols[i] ? 2 : 1, sh, NULL);
        tprim_tensor_init(&m->tgw[i], m->gw[i], TPRIM_F32, cols[i] ? 2 : 1, sh, NULL);
        *wp[i] = &m->tw[i];
        *gp[i] = &m->tgw[i];
    }
    int64_t cs[1] = {C};
    m->gamma = malloc(sizeof(float) * (size_t)C);
    m->beta = malloc(sizeof(float) * (size_t)C);
    m->dgamma = malloc(sizeof(float) * (size_t)C);
    m->dbeta = malloc(sizeof(float) * (size_t)C);
    for (int64_t c = 0; c < C; c++) m->gamma[c] = 1.0f + 0.01f * (float)(c % 7), m->beta[c] = 0.01f * (float)(c % 5);
    tprim_tensor_init(&m->tg, m->gamma, TPRIM_F32, 1, cs, NULL);
    tprim_tensor_init(&m->tb, m->beta, TPRIM_F32, 1, cs, NULL);
    tprim_tensor_init(&m->tdg, m->dgamma, TPRIM_F32, 1, cs, NULL);
    tprim_tensor_init(&m->tdb, m->dbeta, TPRIM_F32, 1, cs, NULL);
    m->blk.kind = TPRIM_EVO_TRIANGLE_START;
    m->blk.attn.heads = (int32_t)m->H;
    m->blk.attn.head_dim = (int32_t)m->D;
    m->blk.norm.gamma = &m->tg;
    m->blk.norm.beta = &m->tb;
    m->grads.norm_gamma = &m->tdg;
    m->grads.norm_beta = &m->tdb;
}

static void mod_free(mod_inputs *m)
{
    void *p[] = {m->z, m->out, m->dout, m->dz, m->mask, m->gamma, m->beta, m->dgamma, m->dbeta};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    for (int i = 0; i < 8; i++) {
        free(m->w[i]);
        free(m->gw[i]);
    }
}

/* ---- the naive module: rows [0, units) of I, plain loops, logits materialised ------ */

typedef struct naive_mod {
    mod_inputs *m;
    int64_t units;
    _Atomic int64_t next;
    float *bias; /* [H][N][N]: w_bias . LN(z), computed for all (q, k) first */
} naive_mod;

static void ln_row(const mod_inputs *m, int64_t row, float *y)
{
    const int64_t C = m->C;
    float mean = 0, var = 0;
    for (int64_t c = 0; c < C; c++) mean += ab_load(m->z, row * C + c, m->dt);
    mean /= (float)C;
    for (int64_t c = 0; c < C; c++) {
        float d = ab_load(m->z, row * C + c, m->dt) - mean;
        var += d * d;
    }
    const float r = 1.0f / sqrtf(var / (float)C + 1e-5f);
    for (int64_t c = 0; c < C; c++) y[c] = (ab_load(m->z, row * C + c, m->dt) - mean) * r * m->gamma[c] + m->beta[c];
}

/* y[o] = sum_i W[o][i] x[i] (+ b[o]) */
static void mv(const float *W, const float *b, const float *x, int64_t out, int64_t in, float *y)
{
    for (int64_t o = 0; o < out; o++) {
        float s = b ? b[o] : 0.0f;
        for (int64_t i = 0; i < in; i++) s += W[o * in + i] * x[i];
        y[o] = s;
    }
}

static void *naive_mod_thread(void *arg)
{
    naive_mod *nm = arg;
    mod_inputs *m = nm->m;
    const int64_t N = m->N, C = m->C, H = m->H, D = m->D, HD = m->HD;
    float *X = malloc(sizeof(float) * (size_t)(N * C)), *Q = malloc(sizeof(float) * (size_t)(N * HD));
    float *K = malloc(sizeof(float) * (size_t)(N * HD)), *V = malloc(sizeof(float) * (size_t)(N * HD));
    float *G = malloc(sizeof(float) * (size_t)(N * HD)), *A = malloc(sizeof(float) * (size_t)(N * HD));
    float *P = malloc(sizeof(float) * (size_t)(N * N)), *o = malloc(sizeof(float) * (size_t)(C + HD));
    const float scale = 1.0f / sqrtf((float)D);
    for (;;) {
        int64_t i = nm->next++;
        if (i >= nm->units) break;
        for (int64_t j = 0; j < N; j++) {
            ln_row(m, i * N + j, X + j * C);
            mv(m->w[0], NULL, X + j * C, HD, C, Q + j * HD);
            mv(m->w[1], NULL, X + j * C, HD, C, K + j * HD);
            mv(m->w[2], NULL, X + j * C, HD, C, V + j * HD);
            mv(m->w[3], m->w[4], X + j * C, HD, C, G + j * HD);
        }
        for (int64_t h = 0; h < H; h++) {
            for (int64_t q = 0; q < N; q++) {
                float mx = -INFINITY, sum = 0;
                for (int64_t k = 0; k < N; k++) {
                    float s = 0;
                    for (int64_t d = 0; d < D; d++) s += Q[q * HD + h * D + d] * K[k * HD + h * D + d];
                    s = s * scale + 1e9f * (m->mask[i * N + k] - 1.0f) + nm->bias[(h * N + q) * N + k];
                    P[q * N + k] = s;
                    mx = fmaxf(mx, s);
                }
                for (int64_t k = 0; k < N; k++) sum += (P[q * N + k] = expf(P[q * N + k] - mx));
                for (int64_t d = 0; d < D; d++) {
                    float s = 0;
                    for (int64_t k = 0; k < N; k++) s += P[q * N + k] * V[k * HD + h * D + d];
                    A[q * HD + h * D + d] = s / sum;
                }
            }
        }
        for (int64_t j = 0; j < N; j++) {
            for (int64_t e = 0; e < HD; e++) o[e] = A[j * HD + e] / (1.0f + expf(-G[j * HD + e]));
            float *y = o + HD;
            mv(m->w[5], m->w[6], o, C, HD, y);
            for (int64_t c = 0; c < C; c++) {
                int64_t at = (i * N + j) * C + c;
                if (m->dt == TPRIM_F32) ((float *)m->out)[at] = y[c];
                else {
                    uint32_t u;
                    memcpy(&u, &y[c], 4);
                    ((uint16_t *)m->out)[at] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
                }
            }
        }
    }
    free(X), free(Q), free(K), free(V), free(G), free(A), free(P), free(o);
    return NULL;
}

/* Forward of rows [0, units), threads threads; returns ms of the whole module, scaled
 * from the timed rows (the bias projection over all (q, k) is timed in full). */
static double naive_mod_forward(mod_inputs *m, int64_t units, int threads)
{
    const int64_t N = m->N, C = m->C, H = m->H;
    naive_mod nm = {m, units, 0, malloc(sizeof(float) * (size_t)(H * N * N))};
    double t0 = now_sec();
    float *x = malloc(sizeof(float) * (size_t)C), *y = malloc(sizeof(float) * (size_t)H);
    for (int64_t q = 0; q < N; q++)
        for (int64_t k = 0; k < N; k++) {
            ln_row(m, q * N + k, x);
            mv(m->w[7], NULL, x, H, C, y);
            for (int64_t h = 0; h < H; h++) nm.bias[(h * N + q) * N + k] = y[h];
        }
    double t_bias = now_sec() - t0;
    t0 = now_sec();
    pthread_t th[64];
    if (threads > 64) threads = 64;
    for (int t = 1; t < threads; t++) pthread_create(&th[t], NULL, naive_mod_thread, &nm);
    naive_mod_thread(&nm);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
    double t_rows = now_sec() - t0;
    free(x), free(y), free(nm.bias);
    return 1e3 * (t_bias + t_rows * (double)N / (double)units);
}

typedef struct mod_run {
    tprim_ctx *ctx;
    mod_inputs *m;
    int backward;
    tprim_status st;
} mod_run;

static void run_mod(void *arg, int rep)
{
    mod_run *r = arg;
    mod_inputs *m = r->m;
    tprim_status st = r->backward
                          ? tprim_evo_backward(r->ctx, &m->blk, &m->tz, &m->tmask, NULL, &m->tdout, &m->tdz, NULL, &m->grads)
                          : tprim_evo_forward(r->ctx, &m->blk, &m->tz, &m->tmask, NULL, &m->tout);
    if (st != TPRIM_OK) r->st = st;
}

int suite_evoformer_module(bench_run *b)
{
    static const char *name = "af3_triangle_module_n768";
    if (!bench_selected(b, name)) return 0;
    static const tprim_dtype dts[2] = {TPRIM_F32, TPRIM_BF16};
    int rc = 0;
    for (int di = 0; di < 2; di++)
        for (int bwd = 0; bwd < 2; bwd++) {
            b->case_no++;
            bench_progress(b, "evoformer", name, bwd ? "module backward" : "module forward");
            mod_inputs m;
            mod_make(&m, dts[di]);
            const double N = (double)m.N, C = (double)m.C, HD = (double)m.HD, H = (double)m.H, D = (double)m.D;
            const double proj = 2 * N * N * C * (4 * HD + H) + 2 * N * N * HD * C, att = 4 * N * H * N * N * D;
            const double flops = bwd ? 2 * proj + 2.5 * att : proj + att;
            const double bytes = (double)tprim_dtype_size(m.dt) * N * N * C * (bwd ? 4 : 2);
            mod_run r = {NULL, &m, bwd, TPRIM_OK};
            tprim_ctx_create(&r.ctx);
            tprim_ctx_set_num_threads(r.ctx, b->threads);
            tprim_ctx_reset_stats(r.ctx);
            double ms = bench_median_ms(run_mod, &r, 1, b->quick ? 1 : 3, 20, b->quick ? 0.0 : 1.0);
            bench_record rec;
            bench_record_init(&rec, "evoformer", name, bwd ? "evo_module_backward" : "evo_module", "tprim");
            rec.dtype = m.dt;
            rec.threads = b->threads;
            rec.B = m.N;
            rec.Hq = rec.Hkv = m.H;
            rec.Sq = rec.Sk = m.N;
            rec.D = rec.Dv = m.D;
            bench_extra_num(&rec, "c_z", C);
            bench_extra_str(&rec, "kind", "triangle_start (LayerNorm, bias projection, gated attention)");
            if (r.st != TPRIM_OK) {
                fprintf(stderr, "\n%s failed: %s\n", name, tprim_ctx_last_error(r.ctx));
                rc = 1;
            } else {
                rec.ms = ms;
                rec.gflops = flops / (ms * 1e-3) * 1e-9;
                rec.gbps = bytes / (ms * 1e-3) * 1e-9;
                rec.peak_frac = rec.gflops / b->machine->peak.gflops;
                rec.peak_extra_bytes = (double)tprim_ctx_memory_peak(r.ctx);
            }
            tprim_ctx_free(r.ctx);
            bench_record n = rec;
            snprintf(n.impl, sizeof n.impl, "naive");
            n.kernel[0] = 0;
            n.peak_extra_bytes = NAN;
            if (!bwd) {
                bench_progress(b, "evoformer", name, "naive module forward");
                int64_t units = b->threads * (b->quick ? 1 : 2);
                double nms = naive_mod_forward(&m, units, b->threads);
                bench_extra_num(&n, "naive_units_timed", (double)units);
                n.ms = nms;
                n.gflops = flops / (nms * 1e-3) * 1e-9;
                n.peak_frac = n.gflops / b->machine->peak.gflops;
                n.speedup = 1.0;
                n.peak_extra_bytes = 4.0 * N * H * N * N; /* OpenFold's logits of the module */
                if (!isnan(rec.ms)) rec.speedup = nms / rec.ms;
            }
            bench_add(b, &rec);
            if (!bwd) bench_add(b, &n);
            mod_free(&m);
        }
    return rc;
}
