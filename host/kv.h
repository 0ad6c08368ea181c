/* kv: the paged KV buffer. A pool of pages of P tokens (K and V, all heads: [pages][P][C] each) and an int32
 * page table per (layer, CFG row). The plan says how many tokens each layer stores, so a request's exact page
 * need is known before it starts; a layer that skips a scale appends nothing and costs nothing. */
#ifndef VARCL_KV_H
#define VARCL_KV_H

#include "plan.h"
#include "runtime.h"

typedef struct {
    int page_tokens;      /* P */
    int C, rows, depth;   /* width, CFG rows (2B), layers */
    int max_pages;        /* table entries per (layer, row) = ceil(L / P) */
    size_t pool_pages;    /* pages allocated */
    size_t used_pages;    /* pages the current request holds */
    size_t page_bytes;    /* K + V of one page */
    cl_mem kpool, vpool;  /* [pool_pages][P][C] */
    cl_mem table;         /* [depth][rows][max_pages] int32 */
    int len[VP_MAX_DEPTH];/* tokens stored so far per layer (the same for every row) */
    int fixed_pool;       /* 1: pool size fixed by the caller (kv_pool_bytes), reused across requests */
} vk_cache;

/* Pages a request of `rows` CFG rows needs under plan p. */
size_t vk_pages_needed(const vp_plan *p, int rows, int page_tokens);

/* Prepares the cache for one request: assigns pages to every (layer, row) from the plan and uploads the table.
 * pool_bytes 0: the pool is (re)allocated to exactly the need; otherwise a pool of pool_bytes is allocated once and
 * a request needing more pages is refused (run-time error) before any device work. */
int vk_begin(vr_runtime *rt, vk_cache *kv, const vp_plan *p, int rows, int C, int tokens, int page_tokens,
             size_t pool_bytes);
/* Ends the request: its pages return to the pool (an exact-size pool is released). */
void vk_end(vr_runtime *rt, vk_cache *kv);
void vk_release(vr_runtime *rt, vk_cache *kv);

#endif
