/* kv: the paged KV buffer. Pools of pages of P tokens (K and V, all heads: [pages][P][C] each, f32 or f16) and an
 * int32 page table per (layer, CFG row). The plan says how many tokens each layer stores, so a request's exact page
 * need is known before it starts; a layer that skips a scale appends nothing and costs nothing.
 * The pool is split into chunks of at most CL_DEVICE_MAX_MEM_ALLOC_SIZE; all pages of one layer lie in one chunk,
 * and that layer's table entries are page indices within its chunk. */
#ifndef VARCL_KV_H
#define VARCL_KV_H

#include "plan.h"
#include "runtime.h"

#define VK_MAX_CHUNKS 64

typedef struct {
    int page_tokens;      /* P */
    int C, rows, depth;   /* width, CFG rows (2B), layers */
    int f16;              /* storage: 1 = half, 0 = float */
    int max_pages;        /* table entries per (layer, row) = ceil(L / P) */
    size_t page_bytes;    /* K + V of one page */
    int n_chunks;
    cl_mem kchunk[VK_MAX_CHUNKS], vchunk[VK_MAX_CHUNKS]; /* [chunk_pages][P][C] each */
    size_t chunk_pages[VK_MAX_CHUNKS];
    size_t pool_pages;    /* pages allocated, all chunks */
    size_t used_pages;    /* pages the current request holds */
    int layer_chunk[VP_MAX_DEPTH];
    cl_mem table;         /* [depth][rows][max_pages] int32, indices within the layer's chunk (-1: unused) */
    int len[VP_MAX_DEPTH];/* tokens stored so far per layer (the same for every row) */
    int fixed_pool;       /* 1: pool size fixed by the caller, reused across requests */
} vk_cache;

/* Bytes of one page (K + V) and the pages a request of `rows` CFG rows needs under plan p. */
size_t vk_page_bytes(int page_tokens, int C, int f16);
size_t vk_pages_needed(const vp_plan *p, int rows, int page_tokens);
/* Device bytes vk_begin's page table adds to what kv holds now (0 when the table it holds has the request's shape). */
size_t vk_table_extra(const vk_cache *kv, const vp_plan *p, int rows, int tokens, int page_tokens);

/* Prepares the cache for one request: assigns pages to every (layer, row) from the plan and uploads the table.
 * pool_bytes 0: the pool is (re)allocated to exactly the need; otherwise a pool of pool_bytes is allocated once and
 * a request needing more pages is refused (run-time error) before any device work. max_alloc bounds each chunk. */
int vk_begin(vr_runtime *rt, vk_cache *kv, const vp_plan *p, int rows, int C, int tokens, int page_tokens, int f16,
             size_t pool_bytes);
/* Ends the request: its pages return to the pool (an exact-size pool is released). */
void vk_end(vr_runtime *rt, vk_cache *kv);
void vk_release(vr_runtime *rt, vk_cache *kv);

#endif
