/* kv: paged KV pool in chunks, and page tables (see kv.h). */
#include "kv.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t vk_page_bytes(int page_tokens, int C, int f16) { return 2 * (size_t)page_tokens * C * (f16 ? 2 : 4); }

size_t vk_pages_needed(const vp_plan *p, int rows, int page_tokens)
{
    size_t n = 0;
    for (int l = 0; l < p->depth; l++) n += (size_t)vp_layer_pages(p, l, page_tokens) * rows;
    return n;
}

static void free_pool(vr_runtime *rt, vk_cache *kv)
{
    for (int c = 0; c < kv->n_chunks; c++) {
        vm_free(&rt->mem, kv->kchunk[c]);
        vm_free(&rt->mem, kv->vchunk[c]);
        kv->kchunk[c] = kv->vchunk[c] = NULL;
        kv->chunk_pages[c] = 0;
    }
    kv->n_chunks = 0;
    kv->pool_pages = 0;
}

/* Packs each layer's pages (all rows) into chunks of at most `cap` pages, in layer order.
 * With fixed chunk capacities (n_fixed > 0) packing must fit them; otherwise chunks are sized as packed. */
static int pack(vk_cache *kv, const vp_plan *p, int rows, size_t cap, size_t *sizes, int *n_chunks, int n_fixed)
{
    int c = 0;
    size_t used = 0;
    if (!n_fixed) sizes[0] = 0;
    for (int l = 0; l < p->depth; l++) {
        size_t need = (size_t)vp_layer_pages(p, l, kv->page_tokens) * rows;
        size_t room = n_fixed ? sizes[c] : cap;
        if (need > cap)
            return varcl_fail(VARCL_E_RUNTIME,
                              "layer %d needs %zu KV bytes in one buffer, more than the device's largest allocation", l,
                              need * kv->page_bytes / 2);
        if (used + need > room) {
            if (++c >= (n_fixed ? n_fixed : VK_MAX_CHUNKS))
                return varcl_fail(VARCL_E_RUNTIME, "the KV pages of this request do not fit the pool's %d buffer(s)",
                                  n_fixed ? n_fixed : VK_MAX_CHUNKS);
            used = 0;
            if (!n_fixed) sizes[c] = 0;
        }
        kv->layer_chunk[l] = c;
        used += need;
        if (!n_fixed) sizes[c] = used;
    }
    *n_chunks = c + 1;
    return 0;
}

/* The page table's shape: entries per (layer, row) and in all */
static size_t table_entries(const vp_plan *p, int rows, int tokens, int page_tokens, int *max_pages)
{
    *max_pages = (tokens + page_tokens - 1) / page_tokens;
    return (size_t)p->depth * rows * *max_pages;
}

size_t vk_table_extra(const vk_cache *kv, const vp_plan *p, int rows, int tokens, int page_tokens)
{
    int max_pages;
    size_t bytes = table_entries(p, rows, tokens, page_tokens, &max_pages) * sizeof(int);
    if (!kv->table) return bytes;
    if (kv->rows == rows && kv->depth == p->depth && kv->max_pages == max_pages) return 0;
    size_t held = (size_t)kv->depth * kv->rows * kv->max_pages * sizeof(int);
    return bytes > held ? bytes - held : 0; /* vk_begin frees the old table first */
}

int vk_begin(vr_runtime *rt, vk_cache *kv, const vp_plan *p, int rows, int C, int tokens, int page_tokens, int f16,
             size_t pool_bytes)
{
    if (page_tokens < 1) return varcl_fail(VARCL_E_INPUT, "page tokens must be >= 1");
    size_t page_bytes = vk_page_bytes(page_tokens, C, f16);
    size_t need = vk_pages_needed(p, rows, page_tokens);
    if (kv->n_chunks && (kv->page_tokens != page_tokens || kv->C != C || kv->f16 != f16 || !pool_bytes ||
                         !kv->fixed_pool || kv->pool_pages != pool_bytes / page_bytes))
        free_pool(rt, kv);
    kv->page_tokens = page_tokens;
    kv->C = C;
    kv->f16 = f16;
    kv->page_bytes = page_bytes;
    size_t cap = rt->mem.max_alloc ? rt->mem.max_alloc / (page_bytes / 2) : (size_t)1 << 40;
    if (cap < 1) cap = 1;
    size_t sizes[VK_MAX_CHUNKS];
    int n = 0, st;
    if (pool_bytes) {
        size_t pages = pool_bytes / page_bytes;
        if (need > pages)
            return varcl_fail(VARCL_E_RUNTIME,
                              "request needs %zu KV pages (%zu bytes) but the pool holds %zu pages (%zu bytes)", need,
                              need * page_bytes, pages, pages * page_bytes);
        int nf = 0;
        for (size_t left = pages; left > 0 && nf < VK_MAX_CHUNKS; nf++) {
            sizes[nf] = left < cap ? left : cap;
            left -= sizes[nf];
        }
        if ((st = pack(kv, p, rows, cap, sizes, &n, nf))) return st;
        n = nf;
        kv->fixed_pool = 1;
    } else {
        if ((st = pack(kv, p, rows, cap, sizes, &n, 0))) return st;
        kv->fixed_pool = 0;
    }
    if (!kv->n_chunks) {
        for (int c = 0; c < n; c++) {
            char what[64];
            size_t half = sizes[c] * page_bytes / 2;
            snprintf(what, sizeof what, "KV pool chunk %d (K)", c);
            kv->kchunk[c] = vm_alloc(&rt->mem, VM_KV, half, what);
            snprintf(what, sizeof what, "KV pool chunk %d (V)", c);
            kv->vchunk[c] = kv->kchunk[c] ? vm_alloc(&rt->mem, VM_KV, half, what) : NULL;
            kv->chunk_pages[c] = sizes[c];
            kv->n_chunks = c + 1;
            kv->pool_pages += sizes[c];
            if (!kv->vchunk[c]) {
                free_pool(rt, kv);
                return VARCL_E_RUNTIME;
            }
        }
    }
    int max_pages;
    size_t tab_n = table_entries(p, rows, tokens, page_tokens, &max_pages);
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
    int next[VK_MAX_CHUNKS] = {0};
    for (int l = 0; l < p->depth; l++) {
        int np = vp_layer_pages(p, l, page_tokens), c = kv->layer_chunk[l];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < max_pages; k++) tab[((size_t)l * rows + r) * max_pages + k] = k < np ? next[c]++ : -1;
    }
    st = vr_write(rt, kv->table, 0, tab_n * sizeof *tab, tab);
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
