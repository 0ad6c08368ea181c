/* tensors: a named set of host tensors, as read from a safetensors file or generated in memory.
 * The model loader and the C reference read weights only through this, by upstream key name, so a
 * checkpoint on disk and the built-in demo model take the same path. */
#ifndef VARCL_TENSORS_H
#define VARCL_TENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { VT_F32, VT_F16, VT_BF16, VT_I64 } vt_dtype;

#define VT_MAX_DIMS 8

typedef struct {
    char *name;
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_MAX_DIMS];
    int64_t numel;
    const void *data; /* numel elements of dtype; owned by the set (mmap or heap) */
} vt_tensor;

typedef struct vt_set vt_set;

/* An empty set for tensors built in memory. NULL on allocation failure (error recorded). */
vt_set *vt_new(const char *origin);
/* Adds an F32 tensor; the set takes ownership of `data` (malloc'd). Returns 0 or an error status. */
int vt_add_f32(vt_set *s, const char *name, int ndim, const int64_t *shape, float *data);
void vt_free(vt_set *s);

/* The file name or "demo model": used in error messages. */
const char *vt_origin(const vt_set *s);
int vt_count(const vt_set *s);
const vt_tensor *vt_at(const vt_set *s, int i);
/* NULL when absent (no error recorded). */
const vt_tensor *vt_find(const vt_set *s, const char *name);

/* Looks `name` up and checks its shape; a missing tensor or a shape mismatch is an input error naming
 * the tensor and the file. ndim entries of `shape`; a negative entry matches any size. */
const vt_tensor *vt_require(const vt_set *s, const char *name, int ndim, const int64_t *shape);

/* Converts any float dtype to f32 (F16, BF16 exactly; I64 by value). dst holds t->numel floats. */
void vt_to_f32(const vt_tensor *t, float *dst);
/* Converts to a fresh malloc'd f32 array; NULL on allocation failure (error recorded). */
float *vt_dup_f32(const vt_tensor *t);

/* Scalar conversions, exposed for tests and the f16 KV path. */
float vt_f16_to_f32(uint16_t h);
float vt_bf16_to_f32(uint16_t h);
uint16_t vt_f32_to_f16(float f);  /* round to nearest even */
uint16_t vt_f32_to_bf16(float f); /* round to nearest even; NaN -> 0x7fc0 (as torch) */

/* Drops the pages of t's data from this process's memory when the set maps a file: they stay in the page cache, and
 * a later read of t maps them again. Loading calls it once a tensor is on the device, so that host memory holds
 * one tensor's pages at a time, not the whole file. Does nothing for sets in memory. */
void vt_release_pages(const vt_set *s, const vt_tensor *t);
/* Maps t's file pages into the process in one call (MADV_POPULATE_READ) before a pass over them: page by page,
 * the faults cost more than the conversion (measured on a d16 load in a VM). Does nothing for sets in memory. */
void vt_map_pages(const vt_set *s, const vt_tensor *t);

/* Internal: used by safetensors.c to build a set over a mapped file. */
vt_set *vt_new_mapped(const char *origin, void *map, size_t map_len);
int vt_add_raw(vt_set *s, const char *name, vt_dtype dtype, int ndim, const int64_t *shape, const void *data);

#endif
