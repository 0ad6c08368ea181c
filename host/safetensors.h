/* safetensors: the reader of .safetensors files (every dtype of the format; see tensors.h for which are used).
 * The header is parsed and every entry bounds-checked before any tensor is handed out. */
#ifndef VARCL_SAFETENSORS_H
#define VARCL_SAFETENSORS_H

#include "outfile.h"
#include "tensors.h"

/* Reads `path`'s header and returns its tensors. Their data points into a read-only mapping of the file that the
 * set keeps for the file's identity and offsets; a pass over a tensor's values reads them from the file first
 * (vt_read_pages, tensors.h), so that a file cut short meanwhile is an error, not a SIGBUS.
 * NULL with an input error naming the file (and tensor) for a missing, truncated or malformed file:
 * header length past the end or over the format's 100 MB limit, invalid header JSON, a dtype that is not the
 * format's, shape/offset mismatch, offsets out of range or overlapping, a name twice. __metadata__ and members of an
 * entry other than dtype, shape and data_offsets are ignored, whatever their size. The set is indexed (vt_index):
 * loading is O(n log n) in the number of entries. */
vt_set *st_load(const char *path);

/* The same reader over `len` bytes in memory (the built-in demo model's embedded files). The bytes must outlive the
 * set; `origin` names them in error messages. */
vt_set *st_load_memory(const char *origin, const void *bytes, size_t len);

/* Writes the tensors as a safetensors file in `dtype` (VT_F32, VT_F16 or VT_BF16; round to nearest even), in the
 * set's order; float tensors are converted, integer and other tensors stay as they are. A path whose folder is
 * missing or not writable is an input error, a failed write (disk full) a run-time one. Written to a temporary name, then renamed. Converts in small chunks, so it
 * needs no second copy of the weights. Used by tests and tools (mkmodel). */
int st_save(const char *path, const vt_set *s, vt_dtype dtype);

/* st_save without the rename: the file is written and closed under its temporary name, and `out` is what
 * vo_commit renames (or vo_abort removes): several files made whole or not at all together (mkmodel's VAR and
 * VQ-VAE). Errors as st_save's; on error nothing is left. */
int st_stage(vo_file *out, const char *path, const vt_set *s, vt_dtype dtype);

/* Every tensor as F32, integer and BOOL ones included (converted by value); FP8/FP6/FP4 ones are refused. */
int st_save_f32(const char *path, const vt_set *s);

#endif
