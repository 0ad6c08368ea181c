/* pngq: PNG files written by host threads while the caller goes on computing (vgen --per-class: the device runs the
 * next pass while the last one's images are encoded). Two slots of `slot_images` images each: pngq_put copies a
 * pass into a free slot and returns at once; it waits only when both slots are still being written. Host memory is
 * therefore two slots, whatever the number of images. Each file is written atomically (vimg_write_png).
 *
 *   pngq *q = pngq_new(4, batch, 256, 256);
 *   for each pass: pngq_put(q, rgb, n, paths);   // paths[i]: where image i goes
 *   pngq_finish(q);                              // every file written, or the first error
 *   pngq_free(q);
 */
#ifndef VARCL_PNGQ_H
#define VARCL_PNGQ_H

#include <stdint.h>

typedef struct pngq pngq;

/* threads: encoder threads (1..16). NULL on failure (error recorded). */
pngq *pngq_new(int threads, int slot_images, int width, int height);
/* Queues n <= slot_images images (rgb: [n][height][width][3]) for paths[i] (copied). Returns VARCL_OK, or the first
 * error of a write that has failed so far (its message, with the path, in varcl_last_error), after which nothing
 * more is queued. */
int pngq_put(pngq *q, const uint8_t *rgb, int n, const char *const *paths);
/* Waits until every queued file is written; VARCL_OK or the first error (message as above). */
int pngq_finish(pngq *q);
/* Files written so far (any thread may ask). */
long long pngq_written(pngq *q);
/* Stops the threads (after the files being written now) and frees q; NULL is fine. */
void pngq_free(pngq *q);

#endif
