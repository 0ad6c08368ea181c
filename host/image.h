/* image: PNG write and read (libpng's simplified API) and the grid that lays several images out as one.
 * Pixels are always 8-bit RGB, row-major, 3 bytes per pixel, top row first. */
#ifndef VARCL_IMAGE_H
#define VARCL_IMAGE_H

#include <stdint.h>

/* Writes 8-bit RGB (row-major, 3 bytes per pixel) as PNG. Written to a temporary name in the same directory and
   renamed, so a failure never leaves a partial file at `path`. Returns 0, or VARCL_E_INPUT naming the path
   (unwritable directory, etc.), removing the temporary file. */
int vimg_write_png(const char *path, const uint8_t *rgb, int width, int height);

/* Reads any PNG into freshly malloc'd 8-bit RGB. Returns 0 or an error status (message names the path):
   VARCL_E_INPUT for a missing, unreadable or malformed file, VARCL_E_RUNTIME when memory runs out.
   Alpha is composited onto black; grey, palette and 16-bit images are converted. On error *rgb is NULL. */
int vimg_read_png(const char *path, uint8_t **rgb, int *width, int *height);

/* Lays n images of equal size into a grid of min(n, 8) columns, row-major in the given order; empty cells black.
   Returns a malloc'd RGB buffer and its size, or NULL on allocation failure (varcl_fail recorded).
   n < 1, a non-positive size or a grid too large for int sizes also give NULL (VARCL_E_INPUT). */
uint8_t *vimg_grid(const uint8_t *const *images, int n, int width, int height, int *grid_w, int *grid_h);

#endif
