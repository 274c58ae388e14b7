/* hwdetect.c -- what this machine has, detected once.
 *
 * This file is compiled WITHOUT any ISA flags: it must run on every CPU of its
 * architecture, including those that lack the features it looks for. On x86-64 a
 * feature counts only if cpuid reports it AND the OS saves its register state
 * (XCR0); AMX additionally needs Linux's per-process permission (arch_prctl). */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/syscall.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define TP_X86 1
#endif
#if defined(__aarch64__)
#define TP_ARM64 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

static tprim_hw_info g_hw;
static pthread_once_t g_hw_once = PTHREAD_ONCE_INIT;

#ifdef TP_X86
static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    /* xgetbv with ecx = 0, spelled as bytes so that no -mxsave flag is needed */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static int amx_permission(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    const long ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023;
    const long XFEATURE_XTILEDATA = 18;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    unsigned long bitmask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bitmask) != 0) return 0;
    return (bitmask & (1ul << XFEATURE_XTILEDATA)) != 0;
#else
    return 0;
#endif
}

static void detect_x86(tprim_hw_info *hw)
{
    unsigned a, b, c, d;
    strcpy(hw->arch, "x86_64");
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    uint64_t f = 0;
    __cpuid(1, a, b, c, d);
    unsigned ecx1 = c, edx1 = d;
    if (edx1 & (1u << 26)) f |= TPRIM_CPU_SSE2;
    int osxsave = (ecx1 >> 27) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;    /* SSE + AVX state */
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;  /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    int amx_os = (xcr0 & 0x60000) == 0x60000; /* XTILECFG + XTILEDATA */
    if (ymm_ok) {
        if (ecx1 & (1u << 28)) f |= TPRIM_CPU_AVX;
        if (ecx1 & (1u << 12)) f |= TPRIM_CPU_FMA;
        if (ecx1 & (1u << 29)) f |= TPRIM_CPU_F16C;
    }
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned ebx7 = b, ecx7 = c, edx7 = d, max_sub = a;
        if (ymm_ok && (ebx7 & (1u << 5))) f |= TPRIM_CPU_AVX2;
        if (zmm_ok) {
            if (ebx7 & (1u << 16)) f |= TPRIM_CPU_AVX512F;
            if (ebx7 & (1u << 17)) f |= TPRIM_CPU_AVX512DQ;
            if (ebx7 & (1u << 30)) f |= TPRIM_CPU_AVX512BW;
            if (ebx7 & (1u << 31)) f |= TPRIM_CPU_AVX512VL;
            if (ecx7 & (1u << 11)) f |= TPRIM_CPU_AVX512_VNNI;
            if (edx7 & (1u << 23)) f |= TPRIM_CPU_AVX512_FP16;
            if (max_sub >= 1) {
                __cpuid_count(7, 1, a, b, c, d);
                if (a & (1u << 5)) f |= TPRIM_CPU_AVX512_BF16;
            }
        }
        if (amx_os && (edx7 & (1u << 24)) && amx_permission()) {
            f |= TPRIM_CPU_AMX_TILE;
            if (edx7 & (1u << 22)) f |= TPRIM_CPU_AMX_BF16;
            if (edx7 & (1u << 25)) f |= TPRIM_CPU_AMX_INT8;
        }
    }
    hw->features = f;
    __cpuid(0x80000000u, a, b, c, d);
    if (a >= 0x80000004u) {
        unsigned regs[12];
        for (unsigned i = 0; i < 3; i++)
            __cpuid(0x80000002u + i, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2], regs[4 * i + 3]);
        char name[49];
        memcpy(name, regs, 48);
        name[48] = 0;
        const char *s = name;
        while (*s == ' ') s++;
        snprintf(hw->cpu_name, sizeof hw->cpu_name, "%s", s);
    }
}
#endif

#ifdef TP_ARM64
static void detect_arm64(tprim_hw_info *hw)
{
    strcpy(hw->arch, "aarch64");
    uint64_t f = TPRIM_CPU_NEON; /* Advanced SIMD is part of the AArch64 base */
#if defined(__linux__)
    unsigned long h1 = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    if (h1 & (1ul << 10)) f |= TPRIM_CPU_ARM_FP16;    /* HWCAP_ASIMDHP */
    if (h1 & (1ul << 20)) f |= TPRIM_CPU_ARM_DOTPROD; /* HWCAP_ASIMDDP */
    if (h1 & (1ul << 22)) f |= TPRIM_CPU_ARM_SVE;     /* HWCAP_SVE */
    if (h2 & (1ul << 13)) f |= TPRIM_CPU_ARM_I8MM;    /* HWCAP2_I8MM */
    if (h2 & (1ul << 14)) f |= TPRIM_CPU_ARM_BF16;    /* HWCAP2_BF16 */
#elif defined(__APPLE__)
    static const struct { const char *key; uint64_t bit; } keys[] = {
        {"hw.optional.arm.FEAT_FP16", TPRIM_CPU_ARM_FP16},
        {"hw.optional.arm.FEAT_DotProd", TPRIM_CPU_ARM_DOTPROD},
        {"hw.optional.arm.FEAT_I8MM", TPRIM_CPU_ARM_I8MM},
        {"hw.optional.arm.FEAT_BF16", TPRIM_CPU_ARM_BF16},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int v = 0;
        size_t n = sizeof v;
        if (sysctlbyname(keys[i].key, &v, &n, NULL, 0) == 0 && v) f |= keys[i].bit;
    }
    char name[64];
    size_t n = sizeof name;
    if (sysctlbyname("machdep.cpu.brand_string", name, &n, NULL, 0) == 0)
        snprintf(hw->cpu_name, sizeof hw->cpu_name, "%s", name);
#endif
    hw->features = f;
}
#endif

/* "48K" / "2048K" / "36M" -> bytes */
static int64_t parse_cache_size(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (v <= 0) return 0;
    if (*end == 'K' || *end == 'k') v *= 1024;
    else if (*end == 'M' || *end == 'm') v *= 1024 * 1024;
    return (int64_t)v;
}

static int read_small_file(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = 0;
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ')) buf[--got] = 0;
    return got > 0;
}

static void detect_caches(tprim_hw_info *hw)
{
#if defined(__linux__)
    for (int idx = 0; idx < 8; idx++) {
        char path[128], level[16], type[32], size[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        if (!read_small_file(path, level, sizeof level)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        if (!read_small_file(path, type, sizeof type)) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        if (!read_small_file(path, size, sizeof size)) continue;
        if (strcmp(type, "Instruction") == 0) continue;
        int64_t bytes = parse_cache_size(size);
        if (level[0] == '1') hw->l1d_bytes = bytes;
        else if (level[0] == '2') hw->l2_bytes = bytes;
        else if (level[0] == '3') hw->l3_bytes = bytes;
    }
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    if (!hw->l1d_bytes && sysconf(_SC_LEVEL1_DCACHE_SIZE) > 0) hw->l1d_bytes = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (!hw->l2_bytes && sysconf(_SC_LEVEL2_CACHE_SIZE) > 0) hw->l2_bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (!hw->l3_bytes && sysconf(_SC_LEVEL3_CACHE_SIZE) > 0) hw->l3_bytes = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
#elif defined(__APPLE__)
    int64_t v = 0;
    size_t n = sizeof v;
    if (sysctlbyname("hw.perflevel0.l1dcachesize", &v, &n, NULL, 0) == 0 ||
        sysctlbyname("hw.l1dcachesize", &v, &n, NULL, 0) == 0)
        hw->l1d_bytes = v;
    n = sizeof v;
    if (sysctlbyname("hw.perflevel0.l2cachesize", &v, &n, NULL, 0) == 0 ||
        sysctlbyname("hw.l2cachesize", &v, &n, NULL, 0) == 0)
        hw->l2_bytes = v;
#else
    (void)hw;
#endif
}

static int count_cpus(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void detect(void)
{
    tprim_hw_info hw;
    memset(&hw, 0, sizeof hw);
    strcpy(hw.arch, "unknown");
#if defined(TP_X86)
    detect_x86(&hw);
#elif defined(TP_ARM64)
    detect_arm64(&hw);
#endif
    hw.num_cpus = count_cpus();
    detect_caches(&hw);
    g_hw = hw;
}

const tprim_hw_info *tp_hw(void)
{
    pthread_once(&g_hw_once, detect);
    return &g_hw;
}

tprim_status tprim_hw_query(tprim_hw_info *out)
{
    if (!out) return TPRIM_ERR_NULL_POINTER;
    *out = *tp_hw();
    return TPRIM_OK;
}

const char *tprim_cpu_feature_name(uint64_t bit)
{
    static const struct { uint64_t bit; const char *name; } names[] = {
        {TPRIM_CPU_SSE2, "sse2"},
        {TPRIM_CPU_AVX, "avx"},
        {TPRIM_CPU_AVX2, "avx2"},
        {TPRIM_CPU_FMA, "fma"},
        {TPRIM_CPU_F16C, "f16c"},
        {TPRIM_CPU_AVX512F, "avx512f"},
        {TPRIM_CPU_AVX512BW, "avx512bw"},
        {TPRIM_CPU_AVX512VL, "avx512vl"},
        {TPRIM_CPU_AVX512DQ, "avx512dq"},
        {TPRIM_CPU_AVX512_BF16, "avx512_bf16"},
        {TPRIM_CPU_AVX512_FP16, "avx512_fp16"},
        {TPRIM_CPU_AMX_TILE, "amx_tile"},
        {TPRIM_CPU_AMX_BF16, "amx_bf16"},
        {TPRIM_CPU_AMX_INT8, "amx_int8"},
        {TPRIM_CPU_AVX512_VNNI, "avx512_vnni"},
        {TPRIM_CPU_NEON, "neon"},
        {TPRIM_CPU_ARM_FP16, "fp16"},
        {TPRIM_CPU_ARM_BF16, "bf16"},
        {TPRIM_CPU_ARM_I8MM, "i8mm"},
        {TPRIM_CPU_ARM_DOTPROD, "dotprod"},
        {TPRIM_CPU_ARM_SVE, "sve"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].bit == bit) return names[i].name;
    return NULL;
}
