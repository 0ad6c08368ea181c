/* tensors: a named set of host tensors, as read from a safetensors file or generated in memory.
 * The model loader and the C reference read weights only through this, by upstream key name, so a
 * checkpoint on disk and the built-in demo model take the same path. */
#ifndef VARCL_TENSORS_H
#define VARCL_TENSORS_H

#include <stddef.h>
#include <stdint.h>

/* Every element type of the safetensors format. Weights are read from F32, F16 and BF16 (and I64 by value, for
 * lvl_1L-like index tensors); the other types load, so that a checkpoint with extra tensors (masks, counters, FP8
 * copies) still loads, but a weight the model reads must not have one of them (vt_require says so). */
typedef enum {
    VT_F32, VT_F16, VT_BF16, VT_I64,
    VT_F64, VT_I32, VT_I16, VT_I8, VT_U8, VT_U16, VT_U32, VT_U64, VT_BOOL,
    VT_F8_E4M3, VT_F8_E5M2, VT_F8_E8M0, VT_F6_E2M3, VT_F6_E3M2, VT_F4,
    VT_DTYPE_COUNT
} vt_dtype;

/* The safetensors name ("F32", "BOOL", ...), and the size of one element in bits (4 and 6 for the packed types). */
const char *vt_dtype_name(vt_dtype d);
int vt_dtype_bits(vt_dtype d);
/* The dtype named `name` (as in a safetensors header); -1 when it is not one of the format's. */
int vt_dtype_parse(const char *name);
/* 1 for the types vt_to_f32 converts: the float types F32, F16, BF16, F64 and the integer types and BOOL. */
int vt_dtype_convertible(vt_dtype d);

#define VT_MAX_DIMS 8

typedef struct {
    char *name;
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_MAX_DIMS];
    int64_t numel;
    const void *data; /* numel elements of dtype (numel * bits / 8 bytes); owned by the set (mmap or heap) */
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
/* NULL when absent (no error recorded). A binary search once vt_index has run (and no tensor was added since),
 * otherwise a scan. */
const vt_tensor *vt_find(const vt_set *s, const char *name);
/* Sorts a name index of the set (O(n log n)) for vt_find; a name that appears twice is an input error naming it
 * and the set's origin. Returns 0 or the error status. */
int vt_index(vt_set *s);

/* A numbered family: the tensors named prefix + N + "." + rest (e.g. "blocks.3.attn.proj.weight" for prefix
 * "blocks."). Sets *count to the highest N + 1 (0 when none). The indices must run from 0 without a gap and be
 * plain decimal numbers below `max`: otherwise an input error naming the missing index (prefix + N) or the stray
 * name. One scan of the set. */
int vt_family(const vt_set *s, const char *prefix, int max, int *count);

/* Looks `name` up and checks its shape and dtype; a missing tensor, a shape mismatch or a dtype that weights cannot
 * have (anything but F32, F16, BF16) is an input error naming the tensor and the file. ndim entries of `shape`; a
 * negative entry matches any size. */
const vt_tensor *vt_require(const vt_set *s, const char *name, int ndim, const int64_t *shape);

/* Converts to f32 (F16, BF16 exactly; F64 rounded; integers and BOOL by value) when vt_dtype_convertible(dtype);
 * the FP8/FP6/FP4 types are not converted (dst is filled with NaN). dst holds t->numel floats. */
void vt_to_f32(const vt_tensor *t, float *dst);
/* Converts to a fresh malloc'd f32 array; NULL on allocation failure (error recorded). */
float *vt_dup_f32(const vt_tensor *t);
/* Checks that the n values f (t converted) are all finite: otherwise an input error naming the tensor, the origin,
 * the count of NaN and infinite values and the first index. Used by the model loader on each weight as it is
 * converted, so the check costs one pass over data already in cache. */
int vt_check_finite(const vt_set *s, const vt_tensor *t, const float *f);

/* Scalar conversions, exposed for tests and the f16 KV path. */
float vt_f16_to_f32(uint16_t h);
float vt_bf16_to_f32(uint16_t h);
uint16_t vt_f32_to_f16(float f);  /* round to nearest even */
uint16_t vt_f32_to_bf16(float f); /* round to nearest even; NaN -> 0x7fc0 (as torch) */

/* Reads t's data from the set's file into a copy of its own, which t's data pointer shows until vt_release_pages:
 * every pass over a mapped file's tensor goes through this, because a page of the map past the end of a file cut
 * short meanwhile (cp or a download writing the file again in place) would stop the process with SIGBUS, and a file
 * written again would mix two checkpoints silently. VARCL_OK, or VARCL_E_INPUT when the file changed since st_load
 * (its size or modification time), VARCL_E_RUNTIME on a read error or no memory. Sets in memory: nothing to do.
 * One copy per tensor at a time; not for two threads on one set at once. */
int vt_read_pages(const vt_set *s, const vt_tensor *t);
/* Frees the copy vt_read_pages made (t's data points into the map again). Loading calls it once a tensor is on the
 * device, so that host memory holds one tensor at a time, not the whole file. Does nothing otherwise. */
void vt_release_pages(const vt_set *s, const vt_tensor *t);
/* Internal (safetensors.c): n bytes at offset off of the set's file into dst, the file checked unchanged as above. */
int vt_read_at(const vt_set *s, size_t off, size_t n, void *dst);

/* Internal: used by safetensors.c to build a set over a mapped file; the set owns fd (open on the file) and map. */
vt_set *vt_new_mapped(const char *origin, void *map, size_t map_len, int fd);
/* The identity of the file a set was read from: a string that changes whenever the file's contents may have
 * (st_load: device, inode, size, modification and change times), or "" for sets made in memory. Keys the weight
 * cache (wcache.h). */
void vt_set_identity(vt_set *s, const char *id);
const char *vt_identity(const vt_set *s);
/* Bytes of the mapped file (0 for sets made in memory). */
size_t vt_file_bytes(const vt_set *s);
int vt_add_raw(vt_set *s, const char *name, vt_dtype dtype, int ndim, const int64_t *shape, const void *data);

#endif
