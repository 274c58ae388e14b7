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

tprim_status tp_cu_stream_create(int dev, void **stream, char *err, size_t n);
void tp_cu_stream_destroy(void *stream);
tprim_status tp_cu_stream_sync(int dev, void *stream, char *err, size_t n);

tprim_status tp_cu_malloc(int dev, size_t bytes, void **ptr, char *err, size_t n);
void tp_cu_free(void *ptr);
/* kind: 0 host->device, 1 device->host, 2 device->device; synchronous. */
tprim_status tp_cu_memcpy(void *dst, const void *src, size_t bytes, int kind, char *err, size_t n);

#endif
