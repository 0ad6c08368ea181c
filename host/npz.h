/* npz: numpy's .npz archive (a zip of .npy files), written streaming so that an array larger than host memory (50,000
 * images of 256 px: 9.8 GB) never has to be held at once. Entries are stored (no compression; the format numpy's
 * np.savez writes) with zip64 fields always present, so every size takes the same path; the archive is written to a
 * temporary name next to the file and renamed on vz_close, so a failure never leaves a partial .npz. Timestamps are
 * fixed (1980-01-01), so the same arrays always give the same bytes.
 *
 *   vz_writer *w;
 *   vz_open(&w, "samples.npz");
 *   int64_t shape[4] = {n, 256, 256, 3};
 *   vz_begin(w, "arr_0", "|u1", 4, shape);
 *   for (...) vz_write(w, rgb, bytes);        // shape's element count x item size, in as many calls as wanted
 *   vz_end(w);
 *   vz_close(w);                              // or vz_abort(w) on any error
 */
#ifndef VARCL_NPZ_H
#define VARCL_NPZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct vz_writer vz_writer;

/* At most the bytes of an archive of `arrays` arrays (names of up to 64 bytes) holding data_bytes of data in all:
 * known before anything is written, so a caller can check the free space first. */
uint64_t vz_archive_bound(int arrays, uint64_t data_bytes);

/* Each returns VARCL_OK or an error naming the file (VARCL_E_INPUT: the folder is missing or not writable;
 * VARCL_E_RUNTIME: a failed write). After an error, call vz_abort. */
int vz_open(vz_writer **w, const char *path);
/* Whether vz_open(path) can be expected to succeed, before a long run: vo_check's errors, and VARCL_E_INPUT where
 * path is a pipe (named or a stream), a stream in append mode or one already written to (the archive's CRCs are
 * written back at their offsets). A device other than a stream is left to vz_open. */
int vz_check(const char *path);
/* Starts array `name` ("arr_0": stored as arr_0.npy) of numpy dtype descr ("|u1", "<i8") and the given shape. */
int vz_begin(vz_writer *w, const char *name, const char *descr, int ndim, const int64_t *shape);
int vz_write(vz_writer *w, const void *data, size_t bytes);
/* Ends the array; its data must have been exactly the shape's bytes (otherwise VARCL_E_RUNTIME: a caller bug). */
int vz_end(vz_writer *w);
/* Writes the zip directory and renames the archive into place; frees w. */
int vz_close(vz_writer *w);
/* Removes the temporary file and frees w (NULL is fine). */
void vz_abort(vz_writer *w);

#endif
