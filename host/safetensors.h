/* safetensors: the mmap reader of .safetensors files (F32, F16, BF16, I64).
 * The header is parsed and every entry bounds-checked before any tensor is handed out. */
#ifndef VARCL_SAFETENSORS_H
#define VARCL_SAFETENSORS_H

#include "tensors.h"

/* Maps `path` and returns its tensors (data points into the mapping; nothing is copied).
 * NULL with an input error naming the file (and tensor) for a missing, truncated or malformed file:
 * header length past the end, invalid header JSON, unknown dtype, shape/offset mismatch,
 * offsets out of range or overlapping. */
vt_set *st_load(const char *path);

/* Writes the tensors as a safetensors file in `dtype` (VT_F32, VT_F16 or VT_BF16; round to nearest even), in the
 * set's order; I64 tensors stay I64. Written to a temporary name, then renamed. Converts in small chunks, so it
 * needs no second copy of the weights. Used by tests and tools (mkmodel). */
int st_save(const char *path, const vt_set *s, vt_dtype dtype);

/* Every tensor as F32, I64 ones included (converted by value). */
int st_save_f32(const char *path, const vt_set *s);

#endif
