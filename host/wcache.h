/* wcache: the weight cache. A checkpoint's tensors as one device stores them (converted and laid out by wload) are
 * kept in a file of varcl's cache, and on the next load of the same file the device reads them there in place.
 *
 * Why: on CPU devices (pocl; rusticl on llvmpipe) a device buffer is host memory, and a load wrote the whole
 * checkpoint into fresh memory. In a VM the first touch of a page costs the hypervisor's fault as well: measured on
 * this project's 2-core VMs, 1.0-1.2 GB/s on two threads, 0.6-0.8 on one, so a d16 checkpoint (1.6 GB on the
 * device with its VQ-VAE) took 2.6-3.4 s to load with nothing else to do. The cache file's pages stay in the page
 * cache between runs; a buffer made over them (CL_MEM_USE_HOST_PTR) costs nothing to fill, and nothing is converted.
 * Where buffers are not host memory (GPUs, policy host_weights 0) the cache is not used.
 *
 * The file: "<cache dir>/weights-<16 hex digits>.bin", the digits a hash of the key, which is the checkpoint's
 * identity (vt_identity: any change to the file makes a new key) and the loader's signature (device, driver, the
 * --weights choice, wload's layout version). Each tensor's bytes at an offset that is a multiple of the page size,
 * then the index (text: the key, then a line per tensor: name, layout, panels, dtype, elements, offset, bytes,
 * crc32), then a trailer line of WC_TRAILER bytes: index offset, length and crc32. A load checks the trailer, the
 * index and every tensor's crc32 (zlib's, on the host threads) before it hands any to the device; a file that fails
 * a check is deleted and written again.
 *
 * Writing costs no more memory than a load without the cache: the first load converts each tensor straight into
 * the new file (mapped) and that mapping becomes the device buffer. The file has a temporary name until the whole
 * load succeeded. A file is started only where the file system keeps 1 GiB more than twice the checkpoint free
 * (space is reserved per tensor with posix_fallocate, so a full disk stops the writing, never the load); at most
 * WC_KEEP files stay in the directory (the least recently used go first). A writer holds its temporary locked (flock):
 * one left unlocked by a killed process is removed by the next writer. */
#ifndef VARCL_WCACHE_H
#define VARCL_WCACHE_H

#include "mem.h"
#include "tensors.h"
#include "wload.h"

#include <stddef.h>

/* files kept: a model is two (VAR and VQ-VAE), and each device (pocl, rusticl) or --weights choice its own pair;
 * with 3, two devices used in turn evicted each other's files at every load */
#define WC_KEEP 6

/* What a load did with the cache (vw_load_stats.cache). */
enum { WC_NONE, WC_HIT, WC_WRITTEN, WC_OFF };

typedef struct wc_cache wc_cache;

/* Opens the cache file of set s for a loader with this signature: a valid file is mapped for reading (every
 * tensor checked), else a new one is started. NULL where the cache is not used, with the reason in why (a set made
 * in memory, the cache directory off, too little free space, a file that cannot be created): the load goes on
 * without it. threads: host threads for the checks. */
wc_cache *wc_open(const vt_set *s, const char *signature, int threads, char *why, size_t why_len);

/* A cached tensor: t in form f (bytes long) as a buffer over the file (vm_alloc_in_place) in *out. 0 with *out NULL
 * when the file does not hold it in that form (or is being written): the caller converts as without a cache, and a
 * file that lacked it is removed at wc_finish. -1 when the buffer cannot be made (the error is recorded). */
int wc_take(wc_cache *c, vm_pool *p, vm_tag tag, const vt_tensor *t, const wl_form *f, size_t bytes, const char *what,
            cl_mem *out);

/* While writing: `bytes` of the new file, mapped for writing, for t's converted form; NULL when the file cannot
 * grow (no space: writing stops, the load goes on without it). */
void *wc_reserve(wc_cache *c, size_t bytes);
/* Records the tensor just written into wc_reserve's memory (its crc32 is taken now). */
void wc_keep(wc_cache *c, const vt_tensor *t, const wl_form *f, const void *host, size_t bytes);

/* Ends the load: a new file gets its index and its name (ok: the load succeeded), or is removed; a file that
 * missed a tensor is removed. Returns WC_HIT, WC_WRITTEN or WC_NONE (written in part, or dropped). */
int wc_finish(wc_cache *c, int ok);

/* Why wc_finish returned WC_NONE, in words (no space while writing, a tensor the file lacked, ...). */
const char *wc_why(const wc_cache *c);

/* Unmaps and frees: only after every buffer from the cache is released and the queue has finished. NULL is
 * ignored. */
void wc_close(wc_cache *c);

#endif
