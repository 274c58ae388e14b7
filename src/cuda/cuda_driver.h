/* cuda_driver.h -- the CUDA driver, loaded at run time.
 *
 * libtprim links no CUDA library: the first call that needs a GPU opens libcuda.so.1
 * with dlopen, takes the few driver entry points it uses, retains the primary context
 * of the device (the one the CUDA runtime and PyTorch use, so pointers and streams are
 * shared with them) and loads the kernels' fat binaries that the build embedded in the
 * library. A machine without a driver or a GPU sees zero devices and everything else
 * keeps working. */
#ifndef TPRIM_CUDA_DRIVER_H
#define TPRIM_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "tprim.h"

#define TP_CU_MAX_DEVICES 16

/* Number of CUDA devices (0 when there is no driver or no GPU); probed once. */
int tp_cu_device_count(void);

/* Make device `dev`'s primary context current on this thread and load the kernels
 * into it (once per device). */
tprim_status tp_cu_use_device(int dev, char *err, size_t n);

/* Launch kernel `name` (an extern "C" __global__ of src/cuda) on `stream`; dynamic
 * shared memory above 48 KiB is enabled on first use. args: kernel parameters as
 * cuLaunchKernel takes them. */
tprim_status tp_cu_launch(int dev, const char *name, const unsigned grid[3],
                          const unsigned block[3], size_t smem, void *stream, void **args,
                          char *err, size_t n);
/* Compute capability major*10+minor of a device (0 if unknown). */
int tp_cu_arch(int dev);
/* Number of streaming multiprocessors of a device (0 if unknown). */
int tp_cu_sm_count(int dev);

/* 1 when the driver can make TMA tensor maps (cuTensorMapEncodeTiled, CUDA 12+). */
int tp_cu_has_tmaps(void);
/* A 5D tiled tensor map of 16-bit elements (bf16: 1, else f16) into map (128 bytes,
 * 64-byte aligned): dim[0] columns (unit stride) .. dim[4], stride[i] the byte stride of
 * dim[i + 1] (multiples of 16, < 2^40), boxes of box[0] x .. x box[4] elements, the
 * swizzle of `swizzle` bytes (64 or 128) in shared memory, elements out of bounds read
 * as zeros. */
tprim_status tp_cu_tmap_encode(void *map, int bf16, const void *base, const uint64_t dim[5],
                               const uint64_t stride[4], const unsigned box[5], int swizzle,
                               char *err, size_t n);

tprim_status tp_cu_stream_create(int dev, void **stream, char *err, size_t n);
void tp_cu_stream_destroy(void *stream);
tprim_status tp_cu_stream_sync(int dev, void *stream, char *err, size_t n);

tprim_status tp_cu_malloc(int dev, size_t bytes, void **ptr, char *err, size_t n);
void tp_cu_free(void *ptr);
/* kind: 0 host->device, 1 device->host, 2 device->device; synchronous. */
tprim_status tp_cu_memcpy(void *dst, const void *src, size_t bytes, int kind, char *err, size_t n);

#endif
