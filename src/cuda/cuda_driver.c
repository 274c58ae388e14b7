/* cuda_driver.c -- the CUDA driver API through dlopen (see cuda_driver.h). Only the
 * handful of entry points below are used; their prototypes are written here so that
 * the library needs no CUDA header or library at build time beyond nvcc for the
 * kernels themselves. */
#include "cuda_driver.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

typedef int CUresult; /* 0 = CUDA_SUCCESS */
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8
#define CU_STREAM_NON_BLOCKING 1
#define CUDA_ERROR_NO_BINARY_FOR_GPU 209

static struct {
    CUresult (*Init)(unsigned);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxSynchronize)(void);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*FuncSetAttribute)(CUfunction, int, int);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamDestroy)(CUstream);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*GetErrorString)(CUresult, const char **);
    /* optional (CUDA 12.0+): the TMA kernel form is not used without it */
    CUresult (*TensorMapEncodeTiled)(void *, int, unsigned, void *, const uint64_t *, const uint64_t *,
                                     const unsigned *, const unsigned *, int, int, int, int);
} cu;

/* The kernels' fat binaries, embedded by the build (cuda_fatbins.c, generated). */
extern const unsigned char *const tp_cu_fatbins[];
extern const int tp_cu_nfatbins;

#define TP_CU_MAX_MODULES 16
#define TP_CU_MAX_FUNCS 96

typedef struct dev_state {
    int loaded;
    CUcontext ctx;
    CUmodule mod[TP_CU_MAX_MODULES];
    int arch, sms;
    struct {
        char name[80];
        CUfunction f;
        int smem_set; /* dynamic shared memory limit raised to this */
    } fn[TP_CU_MAX_FUNCS];
    int nfn;
} dev_state;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_count;
static char g_why[160];
static dev_state g_dev[TP_CU_MAX_DEVICES];

static const char *cu_str(CUresult r)
{
    const char *s = NULL;
    if (cu.GetErrorString && cu.GetErrorString(r, &s) == 0 && s) return s;
    return "unknown CUDA error";
}

#define SYM(field, name)                                                      \
    do {                                                                      \
        *(void **)&cu.field = dlsym(h, name);                                 \
        if (!cu.field) {                                                      \
            snprintf(g_why, sizeof g_why, "libcuda.so.1 lacks %s", name);     \
            return;                                                           \
        }                                                                     \
    } while (0)

static void load_driver(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(g_why, sizeof g_why, "no CUDA driver (libcuda.so.1 not found)");
        return;
    }
    SYM(Init, "cuInit");
    SYM(DeviceGetCount, "cuDeviceGetCount");
    SYM(DeviceGet, "cuDeviceGet");
    SYM(DeviceGetAttribute, "cuDeviceGetAttribute");
    SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    SYM(CtxSetCurrent, "cuCtxSetCurrent");
    SYM(CtxSynchronize, "cuCtxSynchronize");
    SYM(ModuleLoadData, "cuModuleLoadData");
    SYM(ModuleGetFunction, "cuModuleGetFunction");
    SYM(FuncSetAttribute, "cuFuncSetAttribute");
    SYM(LaunchKernel, "cuLaunchKernel");
    SYM(StreamCreate, "cuStreamCreate");
    SYM(StreamDestroy, "cuStreamDestroy_v2");
    SYM(StreamSynchronize, "cuStreamSynchronize");
    SYM(MemAlloc, "cuMemAlloc_v2");
    SYM(MemFree, "cuMemFree_v2");
    SYM(MemcpyHtoD, "cuMemcpyHtoD_v2");
    SYM(MemcpyDtoH, "cuMemcpyDtoH_v2");
    SYM(MemcpyDtoD, "cuMemcpyDtoD_v2");
    SYM(GetErrorString, "cuGetErrorString");
    *(void **)&cu.TensorMapEncodeTiled = dlsym(h, "cuTensorMapEncodeTiled");
    CUresult r = cu.Init(0);
    if (r != 0) {
        snprintf(g_why, sizeof g_why, "cuInit failed: %s", cu_str(r));
        return;
    }
    int n = 0;
    r = cu.DeviceGetCount(&n);
    if (r != 0 || n <= 0) {
        snprintf(g_why, sizeof g_why, "the CUDA driver sees no GPU%s%s", r ? ": " : "",
                 r ? cu_str(r) : "");
        return;
    }
    g_count = n > TP_CU_MAX_DEVICES ? TP_CU_MAX_DEVICES : n;
}

int tp_cu_device_count(void)
{
    pthread_once(&g_once, load_driver);
    return g_count;
}

static tprim_status fail(char *err, size_t n, tprim_status s, const char *what, CUresult r)
{
    if (err && n) snprintf(err, n, "%s: %s (CUDA error %d)", what, cu_str(r), r);
    return s;
}

static tprim_status use_device_locked(int dev, char *err, size_t n)
{
    if (dev < 0 || dev >= g_count) {
        if (err && n)
            snprintf(err, n, "device_id %d: this machine has %d CUDA device(s)%s%s", dev, g_count,
                     g_count ? "" : ": ", g_count ? "" : g_why);
        return TPRIM_ERR_INVALID_ARGUMENT;
    }
    dev_state *d = &g_dev[dev];
    CUresult r;
    if (!d->loaded) {
        CUdevice cd;
        if ((r = cu.DeviceGet(&cd, dev)) != 0) return fail(err, n, TPRIM_ERR_DEVICE, "cuDeviceGet", r);
        if ((r = cu.DevicePrimaryCtxRetain(&d->ctx, cd)) != 0)
            return fail(err, n, TPRIM_ERR_DEVICE, "cuDevicePrimaryCtxRetain", r);
        if ((r = cu.CtxSetCurrent(d->ctx)) != 0)
            return fail(err, n, TPRIM_ERR_DEVICE, "cuCtxSetCurrent", r);
        int ma = 0, mi = 0;
        cu.DeviceGetAttribute(&ma, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cd);
        cu.DeviceGetAttribute(&mi, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cd);
        d->arch = ma * 10 + mi;
        d->sms = 0;
        cu.DeviceGetAttribute(&d->sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, cd);
        /* a module with no code for this GPU (the sm_90a-only wgmma kernels elsewhere)
         * stays unloaded; its kernels' accepts() refuse such GPUs */
        for (int i = 0; i < tp_cu_nfatbins && i < TP_CU_MAX_MODULES; i++) {
            r = cu.ModuleLoadData(&d->mod[i], tp_cu_fatbins[i]);
            if (r == CUDA_ERROR_NO_BINARY_FOR_GPU && i > 0) {
                d->mod[i] = NULL;
                continue;
            }
            if (r != 0) {
                if (err && n)
                    snprintf(err, n,
                             "loading tprim's CUDA kernels on device %d (sm_%d) failed: %s "
                             "(this build has code for sm_80 and sm_90)",
                             dev, d->arch, cu_str(r));
                return TPRIM_ERR_UNSUPPORTED;
            }
        }
        d->loaded = 1;
        return TPRIM_OK;
    }
    if ((r = cu.CtxSetCurrent(d->ctx)) != 0)
        return fail(err, n, TPRIM_ERR_DEVICE, "cuCtxSetCurrent", r);
    return TPRIM_OK;
}

tprim_status tp_cu_use_device(int dev, char *err, size_t n)
{
    if (tp_cu_device_count() == 0) return use_device_locked(dev, err, n);
    pthread_mutex_lock(&g_lock);
    tprim_status s = use_device_locked(dev, err, n);
    pthread_mutex_unlock(&g_lock);
    return s;
}

int tp_cu_arch(int dev)
{
    if (dev < 0 || dev >= tp_cu_device_count()) return 0;
    pthread_mutex_lock(&g_lock); /* once loaded, no context switch per query */
    const int loaded = g_dev[dev].loaded, arch = g_dev[dev].arch;
    pthread_mutex_unlock(&g_lock);
    if (loaded) return arch;
    if (tp_cu_use_device(dev, NULL, 0) != TPRIM_OK) return 0;
    return g_dev[dev].arch;
}

int tp_cu_sm_count(int dev)
{
    if (tp_cu_arch(dev) == 0) return 0; /* (loads the device) */
    pthread_mutex_lock(&g_lock);
    const int sms = g_dev[dev].sms;
    pthread_mutex_unlock(&g_lock);
    return sms;
}

tprim_status tp_cu_launch(int dev, const char *name, const unsigned grid[3],
                          const unsigned block[3], size_t smem, void *stream, void **args,
                          char *err, size_t n)
{
    tprim_status s = tp_cu_use_device(dev, err, n);
    if (s != TPRIM_OK) return s;
    dev_state *d = &g_dev[dev];
    CUfunction f = NULL;
    CUresult r = 0;
    pthread_mutex_lock(&g_lock);
    int i;
    for (i = 0; i < d->nfn; i++)
        if (strcmp(d->fn[i].name, name) == 0) break;
    if (i == d->nfn) {
        for (int m = 0; m < tp_cu_nfatbins && !f; m++)
            if (!d->mod[m] || cu.ModuleGetFunction(&f, d->mod[m], name) != 0) f = NULL;
        if (f && d->nfn < TP_CU_MAX_FUNCS) {
            snprintf(d->fn[i].name, sizeof d->fn[i].name, "%s", name);
            d->fn[i].f = f;
            d->fn[i].smem_set = 48 * 1024;
            d->nfn++;
        }
    } else {
        f = d->fn[i].f;
    }
    if (f && i < d->nfn && (int)smem > d->fn[i].smem_set) {
        r = cu.FuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)smem);
        if (r == 0) d->fn[i].smem_set = (int)smem;
    }
    pthread_mutex_unlock(&g_lock);
    if (!f) {
        if (err && n) snprintf(err, n, "kernel %s is missing from this build (a bug in tprim)", name);
        return TPRIM_ERR_INTERNAL;
    }
    if (r != 0) return fail(err, n, TPRIM_ERR_DEVICE, "raising the shared memory limit", r);
    r = cu.LaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                        (unsigned)smem, (CUstream)stream, args, NULL);
    if (r != 0) return fail(err, n, TPRIM_ERR_DEVICE, name, r);
    return TPRIM_OK;
}

tprim_status tp_cu_stream_create(int dev, void **stream, char *err, size_t n)
{
    tprim_status s = tp_cu_use_device(dev, err, n);
    if (s != TPRIM_OK) return s;
    CUresult r = cu.StreamCreate((CUstream *)stream, CU_STREAM_NON_BLOCKING);
    return r ? fail(err, n, TPRIM_ERR_DEVICE, "cuStreamCreate", r) : TPRIM_OK;
}

void tp_cu_stream_destroy(void *stream)
{
    if (stream && tp_cu_device_count()) cu.StreamDestroy((CUstream)stream);
}

tprim_status tp_cu_stream_sync(int dev, void *stream, char *err, size_t n)
{
    if (!tp_cu_device_count()) return TPRIM_OK;
    tprim_status s = tp_cu_use_device(dev, err, n);
    if (s != TPRIM_OK) return s;
    CUresult r = cu.StreamSynchronize((CUstream)stream);
    return r ? fail(err, n, TPRIM_ERR_DEVICE, "cuStreamSynchronize", r) : TPRIM_OK;
}

tprim_status tp_cu_malloc(int dev, size_t bytes, void **ptr, char *err, size_t n)
{
    if (!tp_cu_device_count()) {
        if (err && n) snprintf(err, n, "no CUDA device: %s", g_why);
        return TPRIM_ERR_UNSUPPORTED;
    }
    tprim_status s = tp_cu_use_device(dev, err, n);
    if (s != TPRIM_OK) return s;
    CUdeviceptr p = 0;
    CUresult r = cu.MemAlloc(&p, bytes ? bytes : 1);
    if (r != 0) return fail(err, n, TPRIM_ERR_OUT_OF_MEMORY, "cuMemAlloc", r);
    *ptr = (void *)(uintptr_t)p;
    return TPRIM_OK;
}

void tp_cu_free(void *ptr)
{
    if (ptr && tp_cu_device_count() && tp_cu_use_device(0, NULL, 0) == TPRIM_OK)
        cu.MemFree((CUdeviceptr)(uintptr_t)ptr);
}

tprim_status tp_cu_memcpy(void *dst, const void *src, size_t bytes, int kind, char *err, size_t n)
{
    if (!tp_cu_device_count()) {
        if (err && n) snprintf(err, n, "no CUDA device: %s", g_why);
        return TPRIM_ERR_UNSUPPORTED;
    }
    tprim_status s = tp_cu_use_device(0, err, n);
    if (s != TPRIM_OK) return s;
    CUresult r;
    if (kind == 0) r = cu.MemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, bytes);
    else if (kind == 1) r = cu.MemcpyDtoH(dst, (CUdeviceptr)(uintptr_t)src, bytes);
    else if ((r = cu.MemcpyDtoD((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src, bytes)) == 0)
        r = cu.CtxSynchronize(); /* device-to-device copies may return early: wait */
    return r ? fail(err, n, TPRIM_ERR_DEVICE, "cuMemcpy", r) : TPRIM_OK;
}

int tp_cu_has_tmaps(void)
{
    return tp_cu_device_count() > 0 && cu.TensorMapEncodeTiled != NULL;
}

/* CUtensorMapDataType FLOAT16 / BFLOAT16, CU_TENSOR_MAP_SWIZZLE_64B / 128B,
 * CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE (zeros) */
#define TP_TMAP_F16 6
#define TP_TMAP_BF16 9
#define TP_TMAP_SW64 2
#define TP_TMAP_SW128 3
#define TP_TMAP_L2_128 2

tprim_status tp_cu_tmap_encode(void *map, int bf16, const void *base, const uint64_t dim[5],
                               const uint64_t stride[4], const unsigned box[5], int swizzle, char *err,
                               size_t n)
{
    if (!tp_cu_has_tmaps()) {
        if (err && n) snprintf(err, n, "the CUDA driver has no cuTensorMapEncodeTiled");
        return TPRIM_ERR_UNSUPPORTED;
    }
    const unsigned estride[5] = {1, 1, 1, 1, 1};
    CUresult r = cu.TensorMapEncodeTiled(map, bf16 ? TP_TMAP_BF16 : TP_TMAP_F16, 5, (void *)base, dim, stride,
                                         box, estride, 0, swizzle == 128 ? TP_TMAP_SW128 : TP_TMAP_SW64,
                                         TP_TMAP_L2_128, 0);
    return r ? fail(err, n, TPRIM_ERR_DEVICE, "cuTensorMapEncodeTiled", r) : TPRIM_OK;
}
