/* test_api.c -- status codes, dtypes, version, tensors, conversions, contexts,
 * environment, logging, hardware detection, kernel registry. */
#include "util.h"

#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_status(void)
{
    CHECK(TPRIM_OK == 0 && TPRIM_ERR_SHAPE == 3 && TPRIM_ERR_INTERNAL == 9, "pinned values");
    CHECK(strcmp(tprim_status_str(TPRIM_ERR_SHAPE), "TPRIM_ERR_SHAPE") == 0, "status name");
    CHECK(strcmp(tprim_status_str((tprim_status)1234), "TPRIM_UNKNOWN_STATUS") == 0, "unknown status");
    for (int s = 0; s < TPRIM_STATUS_COUNT_; s++)
        CHECK(strncmp(tprim_status_str((tprim_status)s), "TPRIM_", 6) == 0 &&
                  strlen(tprim_status_desc((tprim_status)s)) > 3,
              "status %d has a name and a description", s);
    CHECK(tprim_version_number() == TPRIM_VERSION_NUMBER, "run-time version matches header");
    CHECK(strcmp(tprim_version_string(), TPRIM_VERSION_STRING) == 0, "version string");
    CHECK(tprim_dtype_size(TPRIM_BF16) == 2 && tprim_dtype_size(TPRIM_F64) == 8 &&
              tprim_dtype_size((tprim_dtype)50) == 0,
          "dtype sizes");
    CHECK(strcmp(tprim_dtype_name(TPRIM_F16), "f16") == 0, "dtype names");
    CHECK(strcmp(tprim_op_name(TPRIM_OP_ATTENTION), "attention") == 0 && !tprim_op_name((tprim_op)77),
          "op names");
}

static void test_tensor(void)
{
    float buf[24];
    int64_t shape[3] = {2, 3, 4};
    tprim_tensor t;
    memset(&t, 0x7b, sizeof t);
    tprim_tensor before = t;
    CHECK(tprim_tensor_init(&t, buf, TPRIM_F32, 3, shape, NULL) == TPRIM_OK, "init contiguous");
    CHECK(t.strides[0] == 12 && t.strides[1] == 4 && t.strides[2] == 1, "row-major strides");
    CHECK(tprim_tensor_numel(&t) == 24, "numel");
    tprim_tensor t2 = before;
    int64_t bad[3] = {2, -1, 4};
    CHECK(tprim_tensor_init(&t2, buf, TPRIM_F32, 3, bad, NULL) == TPRIM_ERR_INVALID_ARGUMENT &&
              memcmp(&t2, &before, sizeof t2) == 0,
          "negative size refused, tensor untouched");
    CHECK(tprim_tensor_init(&t2, buf, TPRIM_F32, 7, shape, NULL) == TPRIM_ERR_INVALID_ARGUMENT, "rank 7");
    CHECK(tprim_tensor_init(&t2, buf, (tprim_dtype)42, 3, shape, NULL) == TPRIM_ERR_INVALID_ARGUMENT,
          "bad dtype");
    CHECK(tprim_tensor_init(NULL, buf, TPRIM_F32, 3, shape, NULL) == TPRIM_ERR_NULL_POINTER, "NULL t");
    CHECK(tprim_tensor_init(&t2, buf, TPRIM_F32, 3, NULL, NULL) == TPRIM_ERR_NULL_POINTER, "NULL shape");
    int64_t huge[3] = {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31};
    CHECK(tprim_tensor_init(&t2, buf, TPRIM_F32, 3, huge, NULL) == TPRIM_ERR_OVERFLOW, "overflow");
    int64_t big2[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
    CHECK(tprim_tensor_init(&t2, buf, TPRIM_F64, 2, big2, NULL) == TPRIM_ERR_OVERFLOW,
          "byte count overflow (2^62 elements of 8 bytes)");
    tprim_tensor z;
    memset(&z, 0, sizeof z);
    CHECK(tprim_tensor_numel(&z) == 1 && z.dtype == TPRIM_F32 && z.device == TPRIM_DEVICE_CPU,
          "zero tensor is a rank-0 f32 CPU scalar");
}

static void test_conversions(void)
{
    long bad16 = 0, badbf = 0, badrt = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        double want = t_f16_to_double((uint16_t)h);
        float got = tp_f16_to_f32((uint16_t)h);
        if (isnan(want) ? !isnan(got) : (double)got != want) bad16++;
        if (!isnan(want) && tp_f32_to_f16(got) != h) badrt++;
        double wb = t_bf16_to_double((uint16_t)h);
        float gb = tp_bf16_to_f32((uint16_t)h);
        if (isnan(wb) ? !isnan(gb) : (double)gb != wb) badbf++;
        if (!isnan(wb) && tp_f32_to_bf16(gb) != h) badrt++;
    }
    CHECK(bad16 == 0 && badbf == 0 && badrt == 0,
          "all 65536 f16/bf16 values convert exactly and round-trip (%ld, %ld, %ld bad)", bad16,
          badbf, badrt);
    /* rounding of f32 -> 16 bits against the independent test conversion */
    rng R = {7};
    long badr = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rng_u64(&R);
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue;
        if (tp_f32_to_bf16(f) != t_double_to_bf16(f)) badr++;
        if (fabsf(f) < 1e6f && tp_f32_to_f16(f) != t_double_to_f16(f)) badr++;
    }
    CHECK(badr == 0, "f32 -> bf16/f16 rounds to nearest even (%ld mismatches)", badr);
    CHECK(isnan(tp_bf16_to_f32(tp_f32_to_bf16(NAN))) && isnan(tp_f16_to_f32(tp_f32_to_f16(NAN))),
          "NaN stays NaN");
    CHECK(tp_f32_to_f16(70000.0f) == 0x7c00 && tp_f32_to_f16(-1e30f) == 0xfc00, "f16 overflow to inf");
    CHECK(tp_f32_to_f16(65519.0f) == 0x7bff && tp_f32_to_f16(65520.0f) == 0x7c00, "f16 max rounding");
}

static void test_sizes(void)
{
    int64_t r;
    size_t z;
    CHECK(tp_mul_i64(INT64_MAX / 2, 2, &r) && !tp_mul_i64(INT64_MAX / 2 + 1, 2, &r), "mul_i64");
    CHECK(!tp_add_i64(INT64_MAX, 1, &r) && tp_add_i64(-5, 3, &r) && r == -2, "add_i64");
    CHECK(!tp_mul_size(SIZE_MAX / 3 + 1, 3, &z) && !tp_add_size(SIZE_MAX, 1, &z), "size_t ops");
    CHECK(tp_align_size(65, &z) && z == 128 && !tp_align_size(SIZE_MAX - 3, &z), "align");
}

static int g_log_lines, g_log_saw_kernel;
static void log_sink(void *user, tprim_log_level lvl, const char *line)
{
    (void)lvl;
    g_log_lines++;
    if (strstr(line, "kernel") && strstr(line, (const char *)user)) g_log_saw_kernel++;
}

static void test_context(void)
{
    tprim_ctx *ctx = NULL;
    CHECK(tprim_ctx_create(NULL) == TPRIM_ERR_NULL_POINTER, "create(NULL)");
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK && ctx, "create")) return;
    tprim_ctx_free(NULL); /* no-op */
    CHECK(tprim_ctx_num_threads(ctx) >= 1, "default threads");
    CHECK(tprim_ctx_set_num_threads(ctx, 3) == TPRIM_OK && tprim_ctx_num_threads(ctx) == 3, "set threads");
    CHECK(tprim_ctx_set_num_threads(ctx, -1) == TPRIM_ERR_INVALID_ARGUMENT &&
              strstr(tprim_ctx_last_error(ctx), "-1") && tprim_ctx_num_threads(ctx) == 3,
          "negative threads refused, setting kept");
    CHECK(tprim_ctx_set_num_threads(ctx, 0) == TPRIM_OK &&
              tprim_ctx_num_threads(ctx) == tp_hw()->num_cpus,
          "0 threads = all CPUs");
    CHECK(tprim_ctx_set_isa(ctx, "bogus") == TPRIM_ERR_INVALID_ARGUMENT &&
              strstr(tprim_ctx_last_error(ctx), "bogus"),
          "unknown family refused with its name");
    CHECK(tprim_ctx_set_isa(ctx, NULL) == TPRIM_ERR_NULL_POINTER, "NULL family");
    CHECK(tprim_ctx_set_isa(ctx, "ref") == TPRIM_OK, "force ref");
    CHECK(tprim_ctx_set_isa(ctx, "auto") == TPRIM_OK, "back to auto");
    CHECK(tprim_ctx_set_memory_mode(ctx, (tprim_memory_mode)9) == TPRIM_ERR_INVALID_ARGUMENT, "bad memory mode");
    CHECK(tprim_ctx_set_log(ctx, (tprim_log_level)9, NULL, NULL) == TPRIM_ERR_INVALID_ARGUMENT, "bad log level");
#if defined(__x86_64__)
    CHECK(tprim_ctx_set_isa(ctx, "neon") == TPRIM_ERR_UNSUPPORTED, "neon is not runnable on x86");
#elif defined(__aarch64__)
    CHECK(tprim_ctx_set_isa(ctx, "avx2") == TPRIM_ERR_UNSUPPORTED, "avx2 is not runnable on arm");
#endif

    /* forcing a family and the debug log that says which kernel ran and why */
    float qd[2 * 8 * 4], od[2 * 8 * 4];
    rng R = {3};
    for (int i = 0; i < 64; i++) qd[i] = (float)rng_uniform(&R);
    int64_t shape[3] = {2, 8, 4};
    tprim_tensor q, o;
    tprim_tensor_init(&q, qd, TPRIM_F32, 3, shape, NULL);
    tprim_tensor_init(&o, od, TPRIM_F32, 3, shape, NULL);
    CHECK(tprim_ctx_set_isa(ctx, "ref") == TPRIM_OK, "force ref");
    CHECK(tprim_ctx_set_log(ctx, TPRIM_LOG_DEBUG, log_sink, (void *)"ref") == TPRIM_OK, "set log");
    tprim_ctx_reset_stats(ctx);
    CHECK(tprim_attention(ctx, &q, &q, &q, &o, NULL) == TPRIM_OK, "attention under forced ref");
    CHECK(tprim_ctx_kernel_calls(ctx, TPRIM_OP_ATTENTION, "ref") == 1 &&
              strcmp(tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION), "ref") == 0,
          "statistics count the ref call");
    CHECK(g_log_saw_kernel == 1, "debug log names the kernel (%d lines)", g_log_lines);
    tprim_ctx_reset_stats(ctx);
    CHECK(tprim_ctx_kernel_calls(ctx, TPRIM_OP_ATTENTION, "ref") == 0 &&
              !tprim_ctx_last_kernel(ctx, TPRIM_OP_ATTENTION),
          "reset statistics");
    CHECK(tprim_ctx_kernel_calls(ctx, TPRIM_OP_ATTENTION, "nope") == 0 &&
              tprim_ctx_kernel_calls(NULL, TPRIM_OP_ATTENTION, "ref") == 0,
          "statistics of unknown names are 0");
    tprim_ctx_free(ctx);
}

static void test_environment(void)
{
    static const struct { const char *var, *val; tprim_status want; } cases[] = {
        {"TPRIM_ISA", "bogus", TPRIM_ERR_INVALID_ARGUMENT},
        {"TPRIM_NUM_THREADS", "0", TPRIM_ERR_INVALID_ARGUMENT},
        {"TPRIM_NUM_THREADS", "4x", TPRIM_ERR_INVALID_ARGUMENT},
        {"TPRIM_LOG", "loud", TPRIM_ERR_INVALID_ARGUMENT},
        {"TPRIM_MEMORY", "huge", TPRIM_ERR_INVALID_ARGUMENT},
        {"TPRIM_CUDA_STREAM", "1", TPRIM_ERR_INVALID_ARGUMENT},
#if defined(__x86_64__)
        {"TPRIM_ISA", "neon", TPRIM_ERR_UNSUPPORTED},
#endif
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].val, 1);
        tprim_ctx *ctx = (tprim_ctx *)1;
        tprim_status st = tprim_ctx_create(&ctx);
        CHECK(st == cases[i].want && ctx == NULL && strstr(tprim_ctx_create_error(), cases[i].var),
              "%s=%s: %s, message '%s'", cases[i].var, cases[i].val, tprim_status_str(st),
              tprim_ctx_create_error());
        unsetenv(cases[i].var);
    }
    setenv("TPRIM_NUM_THREADS", "3", 1);
    setenv("TPRIM_ISA", "ref", 1);
    tprim_ctx *ctx = NULL;
    CHECK(tprim_ctx_create(&ctx) == TPRIM_OK && tprim_ctx_num_threads(ctx) == 3,
          "TPRIM_NUM_THREADS=3 is the default");
    tprim_ctx_free(ctx);
    unsetenv("TPRIM_NUM_THREADS");
    unsetenv("TPRIM_ISA");
    /* every documented stream form is accepted, on any machine */
    static const char *const forms[] = {"producer", "deferpv", "tma", "cpasync"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        setenv("TPRIM_CUDA_STREAM", forms[i], 1);
        ctx = NULL;
        CHECK(tprim_ctx_create(&ctx) == TPRIM_OK && ctx != NULL, "TPRIM_CUDA_STREAM=%s: %s", forms[i],
              tprim_ctx_create_error());
        tprim_ctx_free(ctx);
        unsetenv("TPRIM_CUDA_STREAM");
    }
}

static void test_hw(void)
{
    tprim_hw_info hw;
    CHECK(tprim_hw_query(NULL) == TPRIM_ERR_NULL_POINTER, "hw_query(NULL)");
    CHECK(tprim_hw_query(&hw) == TPRIM_OK && hw.num_cpus >= 1, "hw_query");
#if defined(__x86_64__)
    CHECK(strcmp(hw.arch, "x86_64") == 0 && (hw.features & TPRIM_CPU_SSE2), "x86-64 with sse2");
    if (hw.features & TPRIM_CPU_AVX512F) CHECK((hw.features & TPRIM_CPU_AVX2) != 0, "avx512 implies avx2");
#elif defined(__aarch64__)
    CHECK(strcmp(hw.arch, "aarch64") == 0 && (hw.features & TPRIM_CPU_NEON), "aarch64 with neon");
#endif
    CHECK(strcmp(tprim_cpu_feature_name(TPRIM_CPU_AVX512F), "avx512f") == 0 &&
              tprim_cpu_feature_name(1ull << 60) == NULL,
          "feature names");
    int n = tprim_kernel_count(TPRIM_OP_ATTENTION), has_ref = 0;
    for (int i = 0; i < n; i++) {
        tprim_kernel_desc kd;
        CHECK(tprim_kernel_get(TPRIM_OP_ATTENTION, i, &kd) == TPRIM_OK, "kernel_get %d", i);
        if (strcmp(kd.name, "ref") == 0) has_ref = kd.runnable;
    }
    CHECK(has_ref, "the reference kernel is registered and runnable");
    tprim_kernel_desc kd;
    CHECK(tprim_kernel_get(TPRIM_OP_ATTENTION, n, &kd) == TPRIM_ERR_INVALID_ARGUMENT &&
              tprim_kernel_get(TPRIM_OP_ATTENTION, 0, NULL) == TPRIM_ERR_NULL_POINTER &&
              tprim_kernel_count((tprim_op)99) == 0,
          "kernel_get bounds");
}

/* The CUDA calls of the API: argument errors, and on a machine without a GPU (or a
 * build without CUDA) clean refusals that write nothing. */
static void test_cuda_api(void)
{
    tprim_ctx *ctx = NULL;
    if (!CHECK(tprim_ctx_create(&ctx) == TPRIM_OK, "create")) return;
    const int gpus = tprim_cuda_device_count();
    CHECK(gpus >= 0, "device count %d", gpus);
    CHECK(tprim_ctx_set_cuda_stream(NULL, NULL) == TPRIM_ERR_NULL_POINTER, "set stream, NULL ctx");
    CHECK(tprim_ctx_synchronize(NULL) == TPRIM_ERR_NULL_POINTER, "synchronize, NULL ctx");
    CHECK(tprim_ctx_synchronize(ctx) == TPRIM_OK, "synchronize with no CUDA work");
    CHECK(tprim_ctx_cuda_stream(NULL) == NULL && tprim_ctx_cuda_stream(ctx) == NULL, "no stream yet");
    CHECK(tprim_cuda_malloc(0, 16, NULL) == TPRIM_ERR_NULL_POINTER, "malloc, NULL ptr");
    char host[16] = "0123456789abcde", back[16];
    memcpy(back, host, sizeof back);
    CHECK(tprim_cuda_memcpy(NULL, host, 16, TPRIM_COPY_HOST_TO_DEVICE) == TPRIM_ERR_NULL_POINTER,
          "memcpy, NULL dst");
    CHECK(tprim_cuda_memcpy(back, NULL, 16, TPRIM_COPY_DEVICE_TO_HOST) == TPRIM_ERR_NULL_POINTER,
          "memcpy, NULL src");
    CHECK(tprim_cuda_memcpy(back, host, 16, (tprim_copy_kind)7) == TPRIM_ERR_INVALID_ARGUMENT,
          "memcpy, bad kind");
    CHECK(tprim_cuda_memcpy(NULL, NULL, 0, TPRIM_COPY_DEVICE_TO_DEVICE) == TPRIM_OK, "memcpy of 0 bytes");
    tprim_cuda_free(NULL);
    if (gpus == 0) {
        void *p = (void *)host;
        CHECK(tprim_cuda_malloc(0, 16, &p) == TPRIM_ERR_UNSUPPORTED && p == (void *)host,
              "malloc without a GPU: refused, ptr untouched");
        CHECK(tprim_cuda_memcpy(back, host, 16, TPRIM_COPY_DEVICE_TO_HOST) == TPRIM_ERR_UNSUPPORTED &&
                  memcmp(back, host, 16) == 0,
              "memcpy without a GPU: refused, nothing copied");
    } else {
        void *d = NULL;
        CHECK(tprim_cuda_malloc(gpus + 5, 16, &d) == TPRIM_ERR_INVALID_ARGUMENT && d == NULL,
              "malloc on a device_id with no GPU");
        if (CHECK(tprim_cuda_malloc(0, 16, &d) == TPRIM_OK && d, "malloc")) {
            memset(back, 0, sizeof back);
            CHECK(tprim_cuda_memcpy(d, host, 16, TPRIM_COPY_HOST_TO_DEVICE) == TPRIM_OK &&
                      tprim_cuda_memcpy(back, d, 16, TPRIM_COPY_DEVICE_TO_HOST) == TPRIM_OK &&
                      memcmp(back, host, 16) == 0,
                  "round trip through device memory");
            tprim_cuda_free(d);
        }
    }
#ifndef TPRIM_HAVE_CUDA
    CHECK(tprim_ctx_set_cuda_stream(ctx, NULL) == TPRIM_ERR_UNSUPPORTED &&
              strstr(tprim_ctx_last_error(ctx), "CUDA"),
          "set stream in a build without CUDA: %s", tprim_ctx_last_error(ctx));
#else
    CHECK(tprim_ctx_set_cuda_stream(ctx, NULL) == TPRIM_OK, "set the legacy default stream");
    CHECK(tprim_ctx_synchronize(ctx) == TPRIM_OK, "synchronize, nothing enqueued");
#endif
    tprim_ctx_free(ctx);
}

void suite_api(void)
{
    test_cuda_api();
    test_status();
    test_tensor();
    test_conversions();
    test_sizes();
    test_context();
    test_environment();
    test_hw();
}
