/* kv: paged KV pool and page tables (see kv.h). */
#include "kv.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

size_t vk_pages_needed(const vp_plan *p, int rows, int page_tokens)
{
    size_t n = 0;
    for (int l = 0; l < p->depth; l++) n += (size_t)vp_layer_pages(p, l, page_tokens) * rows;
    return n;
}

static void free_pool(vr_runtime *rt, vk_cache *kv)
{
    vm_free(&rt->mem, kv->kpool);
    vm_free(&rt->mem, kv->vpool);
    kv->kpool = kv->vpool = NULL;
    kv->pool_pages = 0;
}

int vk_begin(vr_runtime *rt, vk_cache *kv, const vp_plan *p, int rows, int C, int tokens, int page_tokens,
             size_t pool_bytes)
{
    if (page_tokens < 1) return varcl_fail(VARCL_E_INPUT, "page tokens must be >= 1");
    size_t page_bytes = 2 * (size_t)page_tokens * C * sizeof(float);
    size_t need = vk_pages_needed(p, rows, page_tokens);
    if (kv->kpool && (kv->page_tokens != page_tokens || kv->C != C)) free_pool(rt, kv);
    kv->page_tokens = page_tokens;
    kv->C = C;
    kv->page_bytes = page_bytes;
    if (pool_bytes) {
        size_t pages = pool_bytes / page_bytes;
        if (need > pages)
            return varcl_fail(VARCL_E_RUNTIME,
                              "request needs %zu KV pages (%zu bytes) but the pool holds %zu pages (%zu bytes)", need,
                              need * page_bytes, pages, pages * page_bytes);
        if (!kv->kpool || kv->pool_pages != pages) {
            free_pool(rt, kv);
            kv->pool_pages = pages;
        }
        kv->fixed_pool = 1;
    } else {
        if (kv->kpool && kv->pool_pages != need) free_pool(rt, kv);
        kv->pool_pages = need;
        kv->fixed_pool = 0;
    }
    if (!kv->kpool) {
        size_t half = kv->pool_pages * page_bytes / 2;
        if (!(kv->kpool = vm_alloc(&rt->mem, VM_KV, half, "KV pool (K)")) ||
            !(kv->vpool = vm_alloc(&rt->mem, VM_KV, half, "KV pool (V)"))) {
            free_pool(rt, kv);
            return VARCL_E_RUNTIME;
        }
    }
    int max_pages = (tokens + page_tokens - 1) / page_tokens;
    size_t tab_n = (size_t)p->depth * rows * max_pages;
    if (kv->table && (kv->rows != rows || kv->depth != p->depth || kv->max_pages != max_pages)) {
        vm_free(&rt->mem, kv->table);
        kv->table = NULL;
    }
    kv->rows = rows;
    kv->depth = p->depth;
    kv->max_pages = max_pages;
    if (!kv->table && !(kv->table = vm_alloc(&rt->mem, VM_KV, tab_n * sizeof(int), "KV page table")))
        return VARCL_E_RUNTIME;
    int *tab = malloc(tab_n * sizeof *tab);
    if (!tab) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    int next = 0;
    for (int l = 0; l < p->depth; l++) {
        int np = vp_layer_pages(p, l, page_tokens);
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < max_pages; k++) tab[((size_t)l * rows + r) * max_pages + k] = k < np ? next++ : -1;
    }
    int st = vr_write(rt, kv->table, 0, tab_n * sizeof *tab, tab);
    free(tab);
    if (st) return st;
    kv->used_pages = need;
    memset(kv->len, 0, sizeof kv->len);
    return 0;
}

void vk_end(vr_runtime *rt, vk_cache *kv)
{
    kv->used_pages = 0;
    if (!kv->fixed_pool) free_pool(rt, kv);
}

void vk_release(vr_runtime *rt, vk_cache *kv)
{
    free_pool(rt, kv);
    vm_free(&rt->mem, kv->table);
    memset(kv, 0, sizeof *kv);
}
