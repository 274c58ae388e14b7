/* bench.c -- `tprim bench`: parse options, measure the machine, run the suites, print
 * the table, write the JSON. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

void bench_record_init(bench_record *r, const char *suite, const char *name, const char *op,
                       const char *impl)
{
    memset(r, 0, sizeof *r);
    snprintf(r->suite, sizeof r->suite, "%s", suite);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->op, sizeof r->op, "%s", op);
    snprintf(r->impl, sizeof r->impl, "%s", impl);
    r->ms = r->gflops = r->gbps = r->peak_frac = r->speedup = r->rel_err = NAN;
    r->peak_extra_bytes = NAN;
}

void bench_extra_str(bench_record *r, const char *key, const char *val)
{
    if (r->nextra >= BENCH_MAX_EXTRA) return;
    snprintf(r->extra_key[r->nextra], sizeof r->extra_key[0], "%s", key);
    snprintf(r->extra_str[r->nextra], sizeof r->extra_str[0], "%s", val);
    r->nextra++;
}

void bench_extra_num(bench_record *r, const char *key, double val)
{
    if (r->nextra >= BENCH_MAX_EXTRA) return;
    snprintf(r->extra_key[r->nextra], sizeof r->extra_key[0], "%s", key);
    r->extra_str[r->nextra][0] = 0;
    r->extra_num[r->nextra] = val;
    r->nextra++;
}

void bench_add(bench_run *b, const bench_record *r)
{
    if (b->nrec == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        bench_record *n = realloc(b->recs, (size_t)cap * sizeof *n);
        if (!n) return;
        b->recs = n;
        b->cap = cap;
    }
    b->recs[b->nrec++] = *r;
}

void bench_progress(bench_run *b, const char *suite, const char *name, const char *what)
{
    fprintf(stderr, "\r\033[K[%d/%d] %s %s %s", b->case_no, b->case_total, suite, name, what);
    fflush(stderr);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median_ms(void (*fn)(void *arg, int rep), void *arg, int warmup, int min_reps,
                       int max_reps, double min_seconds)
{
    for (int i = 0; i < warmup; i++) fn(arg, i);
    double *t = malloc(sizeof(double) * (size_t)(max_reps > 0 ? max_reps : 1));
    int n = 0;
    double start = now_sec();
    while (n < max_reps && (n < min_reps || now_sec() - start < min_seconds)) {
        double t0 = now_sec();
        fn(arg, n);
        t[n++] = (now_sec() - t0) * 1e3;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    double med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return med;
}

void bench_fill(void *p, tprim_dtype dt, int64_t n, uint64_t seed, float amp)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        float x = amp * ((float)(s >> 40) * 0x1p-23f - 1.0f);
        uint32_t u;
        memcpy(&u, &x, 4);
        if (dt == TPRIM_F32) {
            ((float *)p)[i] = x;
        } else if (dt == TPRIM_BF16) {
            ((uint16_t *)p)[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        } else { /* f16: values are in [-amp, amp) with amp <= 8, normal or zero */
            uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
            uint16_t h = 0;
            if (a >= 0x38800000u) {
                uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;
                h = (uint16_t)(r >> 13);
            }
            ((uint16_t *)p)[i] = (uint16_t)(sign | h);
        }
    }
}

static const char *pct(double x, char *buf)
{
    if (isnan(x)) return "-";
    snprintf(buf, 16, "%.1f%%", 100 * x);
    return buf;
}

static void print_table(const bench_run *b)
{
    printf("\n%-10s %-26s %-9s %-5s %10s %9s %7s %11s %8s %9s %10s\n", "suite", "case", "op", "dtype",
           "ms", "GFLOP/s", "%peak", "naive ms", "speedup", "rel_err", "extra MiB");
    for (int i = 0; i < b->nrec; i++) {
        const bench_record *r = &b->recs[i];
        if (strcmp(r->impl, "naive") == 0) continue; /* shown beside its tprim line */
        double naive = NAN;
        for (int j = 0; j < b->nrec; j++)
            if (strcmp(b->recs[j].impl, "naive") == 0 && strcmp(b->recs[j].name, r->name) == 0 &&
                strcmp(b->recs[j].op, r->op) == 0 && b->recs[j].dtype == r->dtype)
                naive = b->recs[j].ms;
        char p[16], nb[32], sp[32], er[32];
        snprintf(nb, sizeof nb, isnan(naive) ? "-" : "%.1f", naive);
        snprintf(sp, sizeof sp, isnan(r->speedup) ? "-" : "%.1fx", r->speedup);
        snprintf(er, sizeof er, isnan(r->rel_err) ? "-" : "%.1e", r->rel_err);
        char mb[32];
        snprintf(mb, sizeof mb, isnan(r->peak_extra_bytes) ? "-" : "%.1f", r->peak_extra_bytes / 1048576.0);
        const char *op = strstr(r->op, "backward") ? "backward" : strcmp(r->op, "attention") == 0 ? "forward" : r->op;
        printf("%-10s %-26s %-9s %-5s %10.2f %9.1f %7s %11s %8s %9s %10s\n", r->suite, r->name, op,
               tprim_dtype_name(r->dtype), r->ms, r->gflops, pct(r->peak_frac, p), nb, sp, er, mb);
    }
    printf("peak %.1f GFLOP/s (%s probe), memory %.1f GB/s, %d threads, %s\n",
           b->machine->peak.gflops, b->machine->peak.isa, b->machine->bw.gbps, b->threads,
           b->machine->date);
    if (b->cuda)
        printf("gpu cuda:0: copy %.0f GB/s (measured, read + write); matrix rate %s; %%peak is of "
               "that rate\n",
               b->gpu_gbps, b->gpu_tflops > 0 ? "given by --gpu-peak" : "unknown (pass --gpu-peak)");
}

static void write_json(const bench_run *b, FILE *f)
{
    json_w w;
    json_init(&w, f);
    json_obj_begin(&w, NULL);
    machine_json(&w, "machine", b->machine);
    if (b->cuda) {
        json_obj_begin(&w, "gpu");
        json_str(&w, "device", "cuda:0");
        json_num(&w, "copy_gbps", b->gpu_gbps);
        json_num(&w, "mma_tflops", b->gpu_tflops > 0 ? b->gpu_tflops : NAN);
        json_obj_end(&w);
    }
    json_arr_begin(&w, "records");
    for (int i = 0; i < b->nrec; i++) {
        const bench_record *r = &b->recs[i];
        json_obj_begin(&w, NULL);
        json_str(&w, "suite", r->suite);
        json_str(&w, "case", r->name);
        json_str(&w, "op", r->op);
        json_str(&w, "impl", r->impl);
        json_str(&w, "kernel", r->kernel[0] ? r->kernel : NULL);
        json_str(&w, "dtype", tprim_dtype_name(r->dtype));
        json_int(&w, "threads", r->threads);
        json_obj_begin(&w, "params");
        json_int(&w, "B", r->B);
        json_int(&w, "Hq", r->Hq);
        json_int(&w, "Hkv", r->Hkv);
        json_int(&w, "Sq", r->Sq);
        json_int(&w, "Sk", r->Sk);
        json_int(&w, "D", r->D);
        json_int(&w, "Dv", r->Dv);
        json_bool(&w, "causal", r->causal);
        for (int x = 0; x < r->nextra; x++) {
            if (r->extra_str[x][0]) json_str(&w, r->extra_key[x], r->extra_str[x]);
            else json_num(&w, r->extra_key[x], r->extra_num[x]);
        }
        json_obj_end(&w);
        json_num(&w, "ms", r->ms);
        json_num(&w, "gflops", r->gflops);
        json_num(&w, "gbps", r->gbps);
        json_num(&w, "peak_frac", r->peak_frac);
        json_num(&w, "speedup_vs_naive", r->speedup);
        json_num(&w, "rel_err", r->rel_err);
        json_num(&w, "peak_extra_bytes", r->peak_extra_bytes);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_obj_end(&w);
}

static const struct {
    const char *name;
    int (*fn)(bench_run *);
} suites[] = {
    {"attention", suite_attention},
    {"evoformer", suite_evoformer},
};

int cmd_bench(int argc, char **argv)
{
    const char *suite = "attention", *json_path = NULL, *filter = NULL;
    int threads = 0, quick = 0, cuda = 0;
    double gpu_peak = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc) suite = argv[++i];
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json_path = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc && strcmp(argv[i + 1], "cpu") == 0) i++;
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc && strcmp(argv[i + 1], "cuda") == 0) {
            cuda = 1;
            i++;
        } else if (strcmp(argv[i], "--gpu-peak") == 0 && i + 1 < argc) gpu_peak = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: tprim bench [--suite NAME|all] [--json FILE] [--threads N] [--quick] [--filter TEXT]\n"
                            "                   [--device cpu|cuda] [--gpu-peak TFLOPS (the GPU's matrix rate, for %%peak)]\n"
                            "suites: all");
            for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
                fprintf(stderr, ", %s", suites[s].name);
            fprintf(stderr, "\n");
            return 2;
        }
    }
    int known = strcmp(suite, "all") == 0;
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
        known |= strcmp(suite, suites[s].name) == 0;
    if (!known) {
        fprintf(stderr, "tprim bench: unknown suite '%s'\n", suite);
        return 2;
    }
    bench_run b;
    memset(&b, 0, sizeof b);
    if (tprim_ctx_create(&b.ctx) != TPRIM_OK) {
        fprintf(stderr, "tprim bench: %s\n", tprim_ctx_create_error());
        return 1;
    }
    if (threads > 0 && tprim_ctx_set_num_threads(b.ctx, threads) != TPRIM_OK) {
        fprintf(stderr, "tprim bench: %s\n", tprim_ctx_last_error(b.ctx));
        return 2;
    }
    b.threads = tprim_ctx_num_threads(b.ctx);
    b.quick = quick;
    b.filter = filter;
    b.cuda = cuda;
    b.gpu_tflops = gpu_peak;
    machine_info m;
    fprintf(stderr, "measuring the machine (fp32 peak, memory bandwidth) ...");
    fflush(stderr);
    machine_measure(&m, b.threads);
    b.machine = &m;
    machine_print(stdout, &m);
    fflush(stdout);
    int rc = 0;
    if (cuda) {
        rc = suite_cuda(&b, suite);
    } else {
        for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
            if (strcmp(suite, "all") == 0 || strcmp(suite, suites[s].name) == 0) rc |= suites[s].fn(&b);
        /* The machine is shared: take the better of the probes before and after the
         * suites as the peak, and express every result against it. */
        fprintf(stderr, "\r\033[Kmeasuring the fp32 peak again ...");
        probe_peak again = probe_fp32_peak(b.threads);
        if (again.gflops > m.peak.gflops) m.peak = again;
        for (int i = 0; i < b.nrec; i++) b.recs[i].peak_frac = b.recs[i].gflops / m.peak.gflops;
    }
    fprintf(stderr, "\r\033[K");
    print_table(&b);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            fprintf(stderr, "tprim bench: cannot write %s\n", json_path);
            rc = 1;
        } else {
            write_json(&b, f);
            fclose(f);
            printf("wrote %s\n", json_path);
        }
    }
    free(b.recs);
    tprim_ctx_free(b.ctx);
    return rc;
}
