/* image: PNG write and read (libpng's simplified API) and the grid that lays several images out as one.
 * Pixels are always 8-bit RGB, row-major, 3 bytes per pixel, top row first. */
#ifndef VARCL_IMAGE_H
#define VARCL_IMAGE_H

#include <stdint.h>

/* Writes 8-bit RGB (row-major, 3 bytes per pixel) as PNG. Written to a temporary name in the same directory and
   renamed, so a failure never leaves a partial file at `path`. Returns 0, or an error naming the path, removing the
   temporary file: VARCL_E_INPUT for what the caller can fix (a missing or unwritable folder, a size beyond
   vimg_png_fits), VARCL_E_RUNTIME for a failed write (disk full, I/O error). */
int vimg_write_png(const char *path, const uint8_t *rgb, int width, int height);

/* The same, stopping before the rename: *out holds the written, closed temporary for vo_commit (or vo_abort), so that
 * several outputs can be made whole together (outfile.h vo_close). own: a file varcl names itself (a job's image),
 * opened with vo_open_own. On error *out is zeroed and nothing is left. */
typedef struct vo_file vo_file;
int vimg_png_stage(vo_file *out, const char *path, const uint8_t *rgb, int width, int height, int own);

/* 1 when libpng's simplified writer takes an 8-bit RGB image of this size: at most 1,000,000 rows and columns (its
   default user limits) and 0xFFFFFFFF bytes of pixel rows (the row stride times the height must fit in 32 bits).
   Known before anything is generated, so a request whose PNG cannot be written is refused at once. */
int vimg_png_fits(long long width, long long height);

/* Reads any PNG into freshly malloc'd 8-bit RGB. Returns 0 or an error status (message names the path):
   VARCL_E_INPUT for a missing, unreadable or malformed file, VARCL_E_RUNTIME when memory runs out.
   Alpha is composited onto black; grey, palette and 16-bit images are converted. On error *rgb is NULL. */
int vimg_read_png(const char *path, uint8_t **rgb, int *width, int *height);

/* 1 when path is a regular file that starts with PNG's signature and ends with its IEND chunk: a cheap test that a
 * PNG was written to its end (a resumed --per-class job redoes images cut short or emptied by something else, e.g.
 * a copy interrupted; varcl's own writes are whole or absent). 0 otherwise, including when it cannot be read. */
int vimg_png_complete(const char *path);

/* Lays n images of equal size into a grid of min(n, columns) columns (columns <= 0: 8), row-major in the given
   order; empty cells black. Returns a malloc'd RGB buffer and its size, or NULL on allocation failure (varcl_fail
   recorded). n < 1, a non-positive size or a grid too large for int sizes also give NULL (VARCL_E_INPUT). */
uint8_t *vimg_grid(const uint8_t *const *images, int n, int width, int height, int columns, int *grid_w,
                   int *grid_h);

#endif
