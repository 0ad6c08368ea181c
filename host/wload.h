/* wload: one checkpoint tensor into its device buffer in one pass. The tensor is read from the mapped file,
 * converted to the stored dtype and laid out for the kernels in cache-sized tiles on a team of host threads, and
 * written straight into the mapped device buffer, whose upload is queued without waiting so that it overlaps the
 * next tensor's conversion. Host memory during a load is the file's pages of the tensor at hand plus a tile per
 * thread: each tensor's pages are dropped from the process once it is on the device (wl_upload).
 *
 * Weight matrices (the operand W of products, gemm.h) are K x N, row k = input feature, column n = output feature,
 * in the device's layout (vg_weight_elems: packed panels or [K][N]), and stored as f32, f16 or bf16. */
#ifndef VARCL_WLOAD_H
#define VARCL_WLOAD_H

#include "mem.h"
#include "tensors.h"

#include <stddef.h>

/* The version of the layouts below and of the panels' shape: part of the weight cache's key (wcache.h), so that a
 * varcl that lays weights out differently never reads an older one's files. Bump it with any such change. */
#define WL_FORMAT_VERSION 1

typedef enum {
    WL_PLAIN,  /* as stored, f32: biases, norms, embeddings, codebook */
    WL_LINEAR, /* torch Linear [out][in] -> one matrix, K = in, N = out */
    WL_CONV,   /* conv [out][in][k][k] -> one matrix, K = k*k*in, row (ky*k + kx)*in + ci (tap-major), N = out */
    WL_WINO2,  /* 3x3 conv [out][in][3][3] -> Winograd F(2x2, 3x3) U: 16 matrices K = in, N = out, U = G g G^T */
    WL_WINO4,  /* the same for F(4x4, 3x3): 36 matrices */
} wl_layout;

/* How one tensor goes to the device. */
typedef struct {
    wl_layout layout;
    int packed;     /* matrices in linear_packed's panels (else [K][N]) */
    vt_dtype store; /* VT_F32, VT_F16 or VT_BF16 (WL_PLAIN: VT_F32 only) */
} wl_form;

/* Bytes of t's device buffer in form f. */
size_t wl_bytes(const vt_tensor *t, const wl_form *f);
/* Writes t in form f to dst (wl_bytes bytes of host memory) on up to `threads` host threads (<= 0: one).
 * 16-bit values stored in their own dtype are copied exactly. t's shape must fit the layout (the caller checked).
 * Returns the number of non-finite (NaN or infinite) values of t, counted as they pass; *beyond (unless NULL) the
 * number of finite values (of t, or of its Winograd transforms) that the 16-bit store made infinite. */
size_t wl_write(const vt_tensor *t, const wl_form *f, void *dst, int threads, size_t *beyond);

typedef struct wc_cache wc_cache; /* wcache.h */

/* Allocates t's device buffer under `tag` (named `what` in messages), writes it through a mapping (wl_write) and
 * queues its upload; then drops t's file pages from the process (vt_release_pages). With a weight cache (else
 * NULL): a tensor the cache holds becomes a buffer over the cache file, nothing converted; while the cache writes
 * a new file, t is converted into that file, which then is the buffer (wcache.h). NULL on failure: a tensor with
 * non-finite values, or with values beyond the range of its 16-bit store, is an input error naming it and the file. */
cl_mem wl_upload(vm_pool *p, vm_tag tag, const vt_set *s, const vt_tensor *t, const wl_form *f, int threads,
                 wc_cache *cache, const char *what);

#endif
