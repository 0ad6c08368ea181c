/* End to end: tiny random models generated through OpenCL equal, token for token, the plain C reference of the
 * whole pipeline (greedy), at full depth, as a VARiant subnet and with an explicit layer list, for per-block and
 * shared AdaLN; images close. With sampling on, the images of a request are the same whatever batch size
 * computes them, and the same from the device sampler as from the host's. */
#include "check.h"
#include "demo.h"
#include "generate.h"
#include "plan.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    vt_set *var, *vae;
    varcl *v;
    ref_model *ref;
} models;

static int open_models(models *m, int shared_aln, int tokens)
{
    demo_var_shape vs = {.depth = 5, .width = 128, .heads = 2, .vocab = 256, .classes = 10, .cvae = 32,
                         .tokens = tokens, .shared_aln = shared_aln};
    demo_vae_shape as = {.ch = 32, .zch = 32, .vocab = 256, .levels = 2, .blocks = 2, .ch_mult = {1, 2},
                         .attn_levels = 1};
    m->var = demo_var(&vs, 7);
    m->vae = demo_vae(&as, 7);
    m->v = m->var && m->vae ? varcl_open_sets(m->var, m->vae, NULL) : NULL;
    CHECK(m->v != NULL, "open tiny model: %s", varcl_last_error());
    m->ref = m->var && m->vae ? ref_model_load(m->var, m->vae) : NULL;
    CHECK(m->ref != NULL, "reference load: %s", varcl_last_error());
    return m->v && m->ref;
}

static void close_models(models *m)
{
    varcl_close(m->v);
    ref_model_free(m->ref);
    vt_free(m->var);
    vt_free(m->vae);
}

/* Engine vs reference under a plan (subnet depth or explicit layers). */
static void compare_greedy(models *m, const char *what, int depth, const int *layers, int n_layers, int full_scales)
{
    int labels[2] = {3, 8}, D = ref_model_depth(m->ref), S = ref_model_scales(m->ref);
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = 2;
    rq.cfg = 2.0f;
    rq.top_k = 1;
    rq.top_p = 0;
    rq.depth = depth;
    rq.layers = layers;
    rq.n_layers = n_layers;
    rq.full_scales = full_scales;
    varcl_images out;
    int st = varcl_generate(m->v, &rq, &out);
    CHECK(st == 0, "%s: generate: %s", what, varcl_last_error());
    if (st) return;
    vp_plan plan;
    CHECK(vp_make(&plan, D, S, ref_model_patch_nums(m->ref), depth, layers, n_layers, full_scales) == 0, "%s: plan", what);
    unsigned char *run = calloc((size_t)S * D, 1);
    for (int si = 0; si < S; si++)
        for (int l = 0; l < D; l++) run[si * D + l] = (unsigned char)vp_runs(&plan, si, l);
    ref_gen_params rp = {.B = 2, .labels = labels, .cfg = 2.0f, .top_k = 1, .top_p = 0, .seed = 0, .run = run};
    ref_gen_out ro;
    st = ref_generate(m->ref, &rp, &ro);
    CHECK(st == 0, "%s: reference: %s", what, varcl_last_error());
    if (!st) {
        int L = ref_model_tokens(m->ref), diff = 0;
        for (int i = 0; i < 2 * L; i++) diff += out.tokens[i] != ro.tokens[i];
        CHECK(diff == 0, "%s: %d of %d tokens differ from the C reference", what, diff, 2 * L);
        int seen[4096] = {0}, distinct = 0;
        for (int i = 0; i < 2 * L; i++) distinct += out.tokens[i] >= 0 && out.tokens[i] < 4096 && !seen[out.tokens[i]]++;
        CHECK(distinct >= 20, "%s: only %d distinct tokens: the comparison would be too weak", what, distinct);
        size_t n = (size_t)2 * out.size * out.size * 3;
        double e = check_rel_l2(out.image, ro.images, n), mx = check_max_abs(out.image, ro.images, n);
        CHECK(e < 1e-4 && mx < 2e-3, "%s: image vs reference: rel %.3g, max %.3g", what, e, mx);
        printf("%-34s tokens equal %d/%d, image rel.err %.2e max %.2e\n", what, 2 * L - diff, 2 * L, e, mx);
        ref_gen_out_free(&ro);
    }
    free(run);
    varcl_images_free(&out);
}

static void batch_determinism(models *m)
{
    int labels[5] = {1, 4, 4, 9, 0};
    int *first = NULL, L = 0;
    const int batches[] = {0, 1, 2, 4};
    for (size_t k = 0; k < sizeof batches / sizeof *batches; k++) {
        varcl_request rq = VARCL_REQUEST_DEFAULT;
        rq.labels = labels;
        rq.n = 5;
        rq.seed = 99;
        rq.cfg = 1.5f;
        rq.top_k = 40;
        rq.top_p = 0.9f;
        rq.batch = batches[k];
        varcl_images out;
        int st = varcl_generate(m->v, &rq, &out);
        CHECK(st == 0, "batch %d: %s", batches[k], varcl_last_error());
        if (st) continue;
        L = out.tokens_per_image;
        if (!first) {
            first = malloc((size_t)5 * L * sizeof *first);
            memcpy(first, out.tokens, (size_t)5 * L * sizeof *first);
            /* sampling is on: images 1 and 2 share a label but not an index, so they differ */
            CHECK(memcmp(out.tokens + L, out.tokens + 2 * L, (size_t)L * sizeof(int)) != 0,
                  "same label at different image indices gives different images");
        } else {
            int diff = 0;
            for (int i = 0; i < 5 * L; i++) diff += out.tokens[i] != first[i];
            CHECK(diff == 0, "batch %d: %d tokens differ from batch 5", batches[k], diff);
            printf("sampled, batch %d vs 5: %d of %d tokens differ\n", batches[k], diff, 5 * L);
        }
        varcl_images_free(&out);
    }
    /* another seed changes the images */
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = 1;
    rq.seed = 100;
    rq.top_k = 40;
    rq.top_p = 0.9f;
    varcl_images out;
    if (first && varcl_generate(m->v, &rq, &out) == 0) {
        int diff = 0;
        for (int i = 0; i < L; i++) diff += out.tokens[i] != first[i];
        CHECK(diff > L / 4, "seed 100 vs 99: only %d of %d tokens differ", diff, L);
        varcl_images_free(&out);
    }
    free(first);
}

/* The device sampler (cl/sampler.cl) and the host sampler give the same tokens and images through the engine: two
 * engines over the same weights, one per VARCL_SAMPLER, sampled requests with a short padded pass (5 images in
 * passes of 2) and one pass of all. */
static void sampler_paths(void)
{
    const char *was = getenv("VARCL_SAMPLER");
    char saved[32] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    models m[2] = {{0}, {0}};
    const char *names[2] = {"host", "device"};
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        setenv("VARCL_SAMPLER", names[i], 1);
        ok &= open_models(&m[i], 0, 680);
    }
    if (was) setenv("VARCL_SAMPLER", saved, 1);
    else unsetenv("VARCL_SAMPLER");
    int labels[5] = {2, 7, 7, 0, 9};
    const int batches[2] = {2, 0};
    for (int k = 0; k < 2 && ok; k++) {
        varcl_images out[2];
        int st[2];
        for (int i = 0; i < 2; i++) {
            varcl_request rq = VARCL_REQUEST_DEFAULT;
            rq.labels = labels;
            rq.n = 5;
            rq.seed = 31;
            rq.cfg = 1.5f;
            rq.top_k = 40;
            rq.top_p = 0.9f;
            rq.batch = batches[k];
            st[i] = varcl_generate(m[i].v, &rq, &out[i]);
            CHECK(st[i] == 0, "sampler %s, batch %d: %s", names[i], batches[k], varcl_last_error());
        }
        if (!st[0] && !st[1]) {
            const int L = out[0].tokens_per_image;
            int diff = 0;
            for (int j = 0; j < 5 * L; j++) diff += out[0].tokens[j] != out[1].tokens[j];
            CHECK(diff == 0, "batch %d: %d of %d tokens differ between the host and the device sampler", batches[k],
                  diff, 5 * L);
            CHECK(!memcmp(out[0].rgb, out[1].rgb, (size_t)5 * out[0].size * out[0].size * 3),
                  "batch %d: images differ between the host and the device sampler", batches[k]);
            printf("sampled, batch %d: host and device sampler, %d of %d tokens differ\n", batches[k], diff, 5 * L);
        }
        for (int i = 0; i < 2; i++)
            if (!st[i]) varcl_images_free(&out[i]);
    }
    for (int i = 0; i < 2; i++) close_models(&m[i]);
}

int main(void)
{
    models m = {0};
    if (open_models(&m, 0, 680)) {
        int layers[2] = {1, 2};
        compare_greedy(&m, "full depth", 0, NULL, 0, 6);
        compare_greedy(&m, "VARiant d2 (6 full scales)", 2, NULL, 0, 6);
        compare_greedy(&m, "layers 1,2 (3 full scales)", 0, layers, 2, 3);
        compare_greedy(&m, "d1 (0 full scales)", 1, NULL, 0, 0);
        batch_determinism(&m);
    }
    close_models(&m);
    sampler_paths();
    models s = {0};
    if (open_models(&s, 1, 2240)) compare_greedy(&s, "shared AdaLN, 512-px token list", 0, NULL, 0, 6);
    close_models(&s);
    return check_done();
}
