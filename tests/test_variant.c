/* VARiant on the device: depth switching in one process equals separate processes, KV bytes follow the plan and
 * the pool allocation shrinks with depth, a fixed pool refuses a request that does not fit and serves the next,
 * a pool split by CL_DEVICE_MAX_MEM_ALLOC_SIZE gives the same tokens, the device-memory check refuses before any
 * device work, and f16 KV storage agrees with f32. */
#include "check.h"
#include "demo.h"
#include "generate.h"
#include "kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vt_set *var, *vae;
static const int labels[2] = {2, 7};

static varcl *open_tiny(void)
{
    varcl *v = varcl_open_sets(var, vae, NULL);
    CHECK(v != NULL, "open: %s", varcl_last_error());
    return v;
}

static varcl_request req(int depth, int top_k)
{
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = 2;
    rq.seed = 5;
    rq.depth = depth;
    rq.top_k = top_k;
    rq.top_p = top_k == 1 ? 0.0f : 0.95f;
    return rq;
}

/* tokens of one request, malloc'd; NULL on failure */
static int *gen(varcl *v, const varcl_request *rq, size_t *kv_bytes)
{
    varcl_images out;
    int st = varcl_generate(v, rq, &out);
    CHECK(st == 0, "generate (depth %d): %s", rq->depth, varcl_last_error());
    if (st) return NULL;
    int *t = malloc((size_t)out.n * out.tokens_per_image * sizeof *t);
    memcpy(t, out.tokens, (size_t)out.n * out.tokens_per_image * sizeof *t);
    if (kv_bytes) *kv_bytes = out.kv_bytes;
    varcl_images_free(&out);
    return t;
}

static int ntok = 2 * 680;

static int count_diff(const int *a, const int *b)
{
    int d = 0;
    for (int i = 0; i < ntok; i++) d += a[i] != b[i];
    return d;
}

int main(void)
{
    demo_var_shape vs = {.depth = 8, .width = 64, .heads = 1, .vocab = 128, .classes = 10, .cvae = 32, .tokens = 680};
    demo_vae_shape as = {.ch = 32, .zch = 32, .vocab = 128, .levels = 2, .blocks = 1, .ch_mult = {1, 1}};
    var = demo_var(&vs, 11);
    vae = demo_vae(&as, 11);
    varcl *a = open_tiny();
    if (!a) return check_done();

    /* separate processes (fresh objects) per depth vs one object switching depths back and forth */
    const int depths[] = {2, 8, 4, 1};
    int *fresh[4];
    size_t kvb[4];
    for (int k = 0; k < 4; k++) {
        varcl *f = open_tiny();
        varcl_request rq = req(depths[k], 20);
        fresh[k] = f ? gen(f, &rq, &kvb[k]) : NULL;
        varcl_close(f);
    }
    for (int round = 0; round < 2; round++)
        for (int k = 3; k >= 0; k--) {
            varcl_request rq = req(depths[k], 20);
            int *t = gen(a, &rq, NULL);
            if (t && fresh[k]) CHECK(count_diff(t, fresh[k]) == 0, "depth %d in a switching process", depths[k]);
            free(t);
        }
    if (fresh[0] && fresh[1]) CHECK(count_diff(fresh[0], fresh[1]) > 0, "depth 2 and 8 generate different images");

    /* KV bytes follow the plan exactly: pages x page bytes */
    for (int k = 0; k < 4; k++) {
        vp_plan p;
        const int patch[10] = {1, 2, 3, 4, 5, 6, 8, 10, 13, 16};
        vp_make(&p, 8, 10, patch, depths[k], NULL, 0, 6);
        size_t want = vk_pages_needed(&p, 4, 16) * vk_page_bytes(16, 64, 0);
        CHECK(kvb[k] == want, "depth %d: kv_bytes %zu, plan says %zu", depths[k], kvb[k], want);
        printf("depth %d: kv_bytes %zu (full network: %zu)\n", depths[k], kvb[k], kvb[1]);
    }
    CHECK(kvb[3] < kvb[0] && kvb[0] < kvb[2] && kvb[2] < kvb[1], "KV bytes shrink with depth");

    /* the KV allocation itself shrinks with depth (pool sized per request) */
    vr_runtime *rt = varcl_runtime(a);
    size_t peak[2];
    for (int k = 0; k < 2; k++) {
        vm_reset_peak(&rt->mem);
        varcl_request rq = req(k ? 8 : 2, 1);
        free(gen(a, &rq, NULL));
        peak[k] = rt->mem.stats.peak[VM_KV];
    }
    CHECK(peak[0] < peak[1] / 2, "peak kv allocation at depth 2 (%zu) well below depth 8 (%zu)", peak[0], peak[1]);

    /* fixed pool: too small is refused before device work, a fitting request still runs, the pool is reused */
    varcl_request small = req(8, 20);
    small.kv_pool_bytes = kvb[1] / 2;
    varcl_images out;
    int st = varcl_generate(a, &small, &out);
    CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), "pool"), "too-small pool refused: %s", varcl_last_error());
    varcl_request fits = req(2, 20);
    fits.kv_pool_bytes = kvb[1] / 2;
    int *t = gen(a, &fits, NULL);
    if (t && fresh[0]) CHECK(count_diff(t, fresh[0]) == 0, "depth 2 in a fixed shared pool equals a fresh run");
    free(t);
    fits.depth = 1;
    t = gen(a, &fits, NULL);
    if (t && fresh[3]) CHECK(count_diff(t, fresh[3]) == 0, "depth 1 reusing the pool equals a fresh run");
    free(t);

    /* pool split into chunks by the largest allocation: same tokens */
    size_t saved = rt->mem.max_alloc;
    rt->mem.max_alloc = kvb[1] / 3; /* the K (or V) half of the whole pool would be 1.5x this */
    varcl_request full = req(8, 20);
    t = gen(a, &full, NULL);
    if (t && fresh[1]) CHECK(count_diff(t, fresh[1]) == 0, "pool split into chunks gives the same tokens");
    free(t);
    rt->mem.max_alloc = saved;

    /* the device check refuses before allocating anything */
    size_t gm = rt->mem.global_mem;
    rt->mem.global_mem = rt->mem.stats.live_total + 4096;
    vm_reset_peak(&rt->mem);
    size_t before = rt->mem.stats.peak_total;
    st = varcl_generate(a, &full, &out);
    CHECK(st == VARCL_E_RUNTIME && strstr(varcl_last_error(), "device bytes"), "request larger than the device refused: %s",
          varcl_last_error());
    CHECK(rt->mem.stats.peak_total == before, "refused before any device allocation");
    rt->mem.global_mem = gm;

    /* f16 KV: agreement with f32, sampled and greedy */
    for (int k = 0; k < 2; k++) {
        varcl_request r32 = req(8, k ? 1 : 20), r16 = r32;
        r16.kv_f16 = 1;
        size_t b32 = 0, b16 = 0;
        int *t32 = gen(a, &r32, &b32), *t16 = gen(a, &r16, &b16);
        if (t32 && t16) {
            int d = count_diff(t32, t16);
            CHECK(d <= ntok / 100, "f16 KV (%s): %d of %d tokens differ", k ? "greedy" : "sampled", d, ntok);
            printf("f16 KV vs f32 (%s): %.2f%% of %d tokens agree; kv_bytes %zu vs %zu\n", k ? "greedy" : "sampled",
                   100.0 * (ntok - d) / ntok, ntok, b16, b32);
            CHECK(b16 * 2 == b32, "f16 halves kv_bytes");
        }
        free(t32);
        free(t16);
    }
    for (int k = 0; k < 4; k++) free(fresh[k]);
    varcl_close(a);
    vt_free(var);
    vt_free(vae);
    return check_done();
}
