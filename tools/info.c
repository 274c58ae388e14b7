/* info.c -- `tprim info [--json] [--threads N]`: what this machine has, which kernel
 * each op picks, and the measured fp32 peak and memory bandwidth. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Which attention variant automatic dispatch picks for a small f32 call. */
static const char *auto_attention_kernel(void)
{
    static float buf[4 * 16 * 64];
    tprim_ctx *ctx;
    if (tprim_ctx_create(&ctx) != TPRIM_OK) return NULL;
    for (int i = 0; i < 4 * 16 * 64; i++) buf[i] = 0.01f * (float)(i % 17);
    int64_t shape[3] = {4, 16, 64};
    tprim_tensor t;
    tprim_tensor_init(&t, buf, TPRIM_F32, 3, shape, NULL);
    static float out[4 * 16 * 64];
    tprim_tensor o;
    tprim_tensor_init(&o, out, TPRIM_F32, 3, shape, NULL);
    const char *name = NULL;
    if (tprim_attention(ctx, &t, &t, &t, &o, NULL) == TPRIM_OK)
        name = tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION);
    tprim_ctx_free(ctx);
    return name;
}

/* Which linear (GEMM) variant automatic dispatch picks for a small f32 call. */
static const char *auto_linear_kernel(void)
{
    static float x[8 * 16], w[4 * 16], y[8 * 4];
    tprim_ctx *ctx;
    if (tprim_ctx_create(&ctx) != TPRIM_OK) return NULL;
    for (int i = 0; i < 8 * 16; i++) x[i] = 0.01f * (float)(i % 13);
    for (int i = 0; i < 4 * 16; i++) w[i] = 0.02f * (float)(i % 7);
    int64_t sx[2] = {8, 16}, sw[2] = {4, 16}, sy[2] = {8, 4};
    tprim_tensor tx, tw, ty;
    tprim_tensor_init(&tx, x, TPRIM_F32, 2, sx, NULL);
    tprim_tensor_init(&tw, w, TPRIM_F32, 2, sw, NULL);
    tprim_tensor_init(&ty, y, TPRIM_F32, 2, sy, NULL);
    const char *name = NULL;
    if (tprim_linear(ctx, &tx, &tw, NULL, &ty) == TPRIM_OK)
        name = tprim_ctx_last_kernel(ctx, TPRIM_OP_LINEAR);
    tprim_ctx_free(ctx);
    return name;
}

void machine_measure(machine_info *m, int threads)
{
    memset(m, 0, sizeof *m);
    tprim_hw_query(&m->hw);
    m->threads = threads;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    m->kernel[TPRIM_OP_ATTENTION] = auto_attention_kernel();
    m->kernel[TPRIM_OP_LINEAR] = auto_linear_kernel();
    m->peak = probe_fp32_peak(threads);
    m->bw = probe_bandwidth(threads);
}

static void feature_list(const tprim_hw_info *hw, char *buf, size_t n)
{
    buf[0] = 0;
    size_t used = 0;
    for (int b = 0; b < 64; b++) {
        uint64_t bit = 1ull << b;
        const char *name = tprim_cpu_feature_name(bit);
        if (!(hw->features & bit) || !name) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? " " : "", name);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

void machine_print(FILE *f, const machine_info *m)
{
    char feats[512];
    feature_list(&m->hw, feats, sizeof feats);
    fprintf(f, "tprim %s on %s (%s), %s\n", tprim_version_string(), m->hw.arch,
            m->hw.cpu_name[0] ? m->hw.cpu_name : "unknown CPU", m->date);
    fprintf(f, "  cpus            %d\n", (int)m->hw.num_cpus);
    fprintf(f, "  caches          L1d %lld KiB, L2 %lld KiB, L3 %lld KiB\n",
            (long long)(m->hw.l1d_bytes >> 10), (long long)(m->hw.l2_bytes >> 10),
            (long long)(m->hw.l3_bytes >> 10));
    fprintf(f, "  features        %s\n", feats);
    for (int op = 0; op < TPRIM_OP_COUNT_; op++) {
        fprintf(f, "  kernel %-9s %s (registered:", tprim_op_name((tprim_op)op),
                m->kernel[op] ? m->kernel[op] : "?");
        int n = tprim_kernel_count((tprim_op)op);
        for (int i = 0; i < n; i++) {
            tprim_kernel_desc kd;
            tprim_kernel_get((tprim_op)op, i, &kd);
            fprintf(f, " %s%s", kd.name, kd.runnable ? "" : "(not runnable)");
        }
        fprintf(f, ")\n");
    }
    fprintf(f, "  fp32 peak       %.1f GFLOP/s (%s FMA probe, %d threads)\n", m->peak.gflops,
            m->peak.isa, m->peak.threads);
    fprintf(f, "  memory          %.1f GB/s (copy probe, read + write, %d threads)\n", m->bw.gbps,
            m->bw.threads);
}

void machine_json(json_w *w, const char *key, const machine_info *m)
{
    json_obj_begin(w, key);
    json_str(w, "tprim_version", tprim_version_string());
    json_str(w, "date", m->date);
    json_str(w, "arch", m->hw.arch);
    json_str(w, "cpu", m->hw.cpu_name);
    json_int(w, "cpus", m->hw.num_cpus);
    json_int(w, "threads", m->threads);
    json_arr_begin(w, "features");
    for (int b = 0; b < 64; b++) {
        uint64_t bit = 1ull << b;
        const char *name = tprim_cpu_feature_name(bit);
        if ((m->hw.features & bit) && name) json_str(w, NULL, name);
    }
    json_arr_end(w);
    json_obj_begin(w, "caches");
    json_int(w, "l1d_bytes", m->hw.l1d_bytes);
    json_int(w, "l2_bytes", m->hw.l2_bytes);
    json_int(w, "l3_bytes", m->hw.l3_bytes);
    json_obj_end(w);
    json_obj_begin(w, "kernels");
    for (int op = 0; op < TPRIM_OP_COUNT_; op++)
        json_str(w, tprim_op_name((tprim_op)op), m->kernel[op]);
    json_obj_end(w);
    json_num(w, "peak_gflops", m->peak.gflops);
    json_str(w, "peak_probe", m->peak.isa);
    json_num(w, "bandwidth_gbps", m->bw.gbps);
    json_obj_end(w);
}

int cmd_info(int argc, char **argv)
{
    int as_json = 0, threads = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) as_json = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: tprim info [--json] [--threads N]\n");
            return 2;
        }
    }
    if (threads <= 0) {
        tprim_hw_info hw;
        tprim_hw_query(&hw);
        threads = hw.num_cpus;
    }
    machine_info m;
    machine_measure(&m, threads);
    if (as_json) {
        json_w w;
        json_init(&w, stdout);
        machine_json(&w, NULL, &m);
    } else {
        machine_print(stdout, &m);
    }
    return 0;
}
