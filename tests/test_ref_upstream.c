/* test_ref_upstream: the C reference reproduces the upstream PyTorch code (tests/data/upstream-tiny*, fp32 runs of
 * FoundationVision/VAR): tokens exactly, f-hat per scale to ~1e-6, images to within 2 of 255 levels.
 * Runs the tiny 256-px model at full depth and as a depth-2 VARiant subnet, decodes the upstream f-hat alone
 * (isolating the decoder), and runs the tiny 512-px model with shared AdaLN. */
#include "check.h"
#include "error.h"
#include "image.h"
#include "ref.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Compares a [0,1] float image with an upstream PNG (8-bit by truncation of x*255). */
static void check_image(const float *img, int S, const char *png, const char *what)
{
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    int st = vimg_read_png(check_data(png), &rgb, &w, &h);
    CHECK(st == 0, "%s: read %s: %s", what, png, varcl_last_error());
    if (st) return;
    CHECK(w == S && h == S, "%s: %s is %dx%d, expected %dx%d", what, png, w, h, S, S);
    if (w == S && h == S) {
        int maxd = 0;
        double sum = 0;
        size_t n = (size_t)S * S * 3;
        for (size_t i = 0; i < n; i++) {
            int v = (int)(img[i] * 255.0f);
            int d = abs(v - (int)rgb[i]);
            if (d > maxd) maxd = d;
            sum += d;
        }
        double mean = sum / n;
        printf("  %s vs %s: max |diff| %d levels, mean %.5f\n", what, png, maxd, mean);
        CHECK(maxd <= 2, "%s: image max diff %d levels > 2", what, maxd);
        CHECK(mean <= 0.05, "%s: image mean diff %.4f > 0.05", what, mean);
    }
    free(rgb);
}

/* Runs one generation and compares it with <name>.tokens.json, <name>.fhat.npy (optional) and <name>.<b>.png. */
static void run_case(const ref_model *m, const char *dir, const char *name, int B, const int *labels,
                     const unsigned char *run, const int *force)
{
    char path[256];
    const int L = ref_model_tokens(m), NS = ref_model_scales(m), S = ref_model_latent(m), Z = ref_model_cvae(m);
    const int IS = ref_model_image_size(m);
    ref_gen_params p = {.B = B, .labels = labels, .cfg = 1.5f, .top_k = 1, .top_p = 0.0f, .seed = 0, .run = run,
                        .keep_logits = 1};
    if (force) { /* teacher forcing: sampling settings that would draw other tokens must not matter */
        p.force_tokens = force;
        p.top_k = 0;
        p.top_p = 0.9f;
        p.seed = 12345;
    }
    ref_gen_out o;
    double t0 = now();
    int st = ref_generate(m, &p, &o);
    CHECK(st == 0, "%s/%s: ref_generate: %s", dir, name, varcl_last_error());
    if (st) return;
    printf("%s/%s: generated %d image(s) in %.2f s%s\n", dir, name, B, now() - t0, force ? " (tokens forced)" : "");

    /* the kept logits: their argmax is the greedy token; the best-vs-second gap is what the README quotes */
    if (!force) {
        const int V = ref_model_vocab(m);
        int bad = 0;
        double gap = INFINITY;
        for (size_t r = 0; r < (size_t)B * L; r++) {
            const float *lg = o.logits + r * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (lg[v] > lg[best]) best = v;
            float second = -INFINITY;
            for (int v = 0; v < V; v++)
                if (v != best && lg[v] > second) second = lg[v];
            if ((double)lg[best] - second < gap) gap = (double)lg[best] - second;
            bad += best != o.tokens[r];
        }
        printf("  logits: smallest best-vs-second gap %.3g\n", gap);
        CHECK(bad == 0, "%s/%s: %d tokens are not the argmax of the kept logits", dir, name, bad);
    }

    /* tokens */
    snprintf(path, sizeof path, "%s/%s.tokens.json", dir, name);
    int ni = 0, np = 0;
    int *tok = ref_read_tokens_json(check_data(path), &ni, &np);
    CHECK(tok != NULL, "%s: %s", path, varcl_last_error());
    int first_bad_scale = -1;
    if (tok) {
        CHECK(ni == B && np == L, "%s: %d x %d tokens, expected %d x %d", path, ni, np, B, L);
        if (ni == B && np == L) {
            int bad = 0;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < L; i++)
                    if (o.tokens[(size_t)b * L + i] != tok[(size_t)b * L + i]) {
                        if (!bad++) {
                            int si = 0;
                            while (si + 1 < NS && ref_model_scale_begin(m, si + 1) <= i) si++;
                            first_bad_scale = si;
                            fprintf(stderr, "  first token mismatch: image %d token %d (scale %d): %d, upstream %d\n",
                                    b, i, si, o.tokens[(size_t)b * L + i], tok[(size_t)b * L + i]);
                        }
                    }
            printf("  tokens: %d of %d differ from upstream\n", bad, B * L);
            CHECK(bad == 0, "%s/%s: %d tokens differ from upstream", dir, name, bad);
        }
        free(tok);
    }

    /* f-hat per scale: upstream [scales][B][Cvae][S][S] (NCHW), ours [scales][B][S*S][Cvae] */
    snprintf(path, sizeof path, "%s/%s.fhat.npy", dir, name);
    FILE *probe = fopen(check_data(path), "rb");
    if (probe) {
        fclose(probe);
        int nd = 0;
        long long sh[8];
        float *up = ref_read_npy(check_data(path), &nd, sh);
        CHECK(up != NULL, "%s: %s", path, varcl_last_error());
        if (up) {
            int ok = nd == 5 && sh[0] == NS && sh[1] == B && sh[2] == Z && sh[3] == S && sh[4] == S;
            CHECK(ok, "%s: unexpected shape", path);
            if (ok) {
                const size_t per = (size_t)S * S * Z;
                float *tr = malloc(per * sizeof *tr);
                double worst = 0;
                int first_div = -1;
                for (int si = 0; si < NS; si++) {
                    double e = 0;
                    for (int b = 0; b < B; b++) {
                        const float *u = up + ((size_t)si * B + b) * per;
                        for (int c = 0; c < Z; c++)
                            for (int q = 0; q < S * S; q++) tr[(size_t)q * Z + c] = u[(size_t)c * S * S + q];
                        double eb = check_rel_l2(o.fhat + ((size_t)si * B + b) * per, tr, per);
                        if (eb > e) e = eb;
                    }
                    if (e > worst) worst = e;
                    if (e > 1e-4 && first_div < 0) first_div = si;
                }
                printf("  f-hat: worst relative L2 over scales and images %.3g\n", worst);
                CHECK(worst <= 1e-4, "%s/%s: f-hat rel L2 %.3g > 1e-4 (first diverging scale %d)", dir, name, worst,
                      first_div);
                if (first_bad_scale >= 0)
                    fprintf(stderr, "  f-hat first diverges at scale %d; tokens at scale %d\n", first_div,
                            first_bad_scale);
                free(tr);
            }
            free(up);
        }
    }

    /* images */
    for (int b = 0; b < B; b++) {
        snprintf(path, sizeof path, "%s/%s.%d.png", dir, name, b);
        char what[64];
        snprintf(what, sizeof what, "%s image %d", name, b);
        check_image(o.images + (size_t)b * IS * IS * 3, IS, path, what);
    }
    ref_gen_out_free(&o);
}

/* A non-owning copy of `src` without the tensor `drop`, and with `reshape` (if not NULL) given shape [7]. */
static vt_set *edited_view(const vt_set *src, const char *drop, const char *reshape)
{
    vt_set *v = vt_new_mapped("edited view", NULL, 0, -1);
    for (int i = 0; v && i < vt_count(src); i++) {
        const vt_tensor *t = vt_at(src, i);
        if (drop && strcmp(t->name, drop) == 0) continue;
        const int64_t seven[1] = {7};
        int bad = reshape && strcmp(t->name, reshape) == 0;
        vt_add_raw(v, t->name, t->dtype, bad ? 1 : t->ndim, bad ? seven : t->shape, t->data);
    }
    return v;
}

/* Missing and misshaped tensors give NULL and an error naming the tensor. */
static void check_load_errors(const vt_set *var, const vt_set *vae)
{
    varcl_clear_error();
    ref_model *m = ref_model_load(vae, var);
    CHECK(m == NULL && varcl_last_error()[0], "sets swapped: expected an error");
    ref_model_free(m);

    vt_set *v = edited_view(var, "blocks.2.ffn.fc2.bias", NULL);
    varcl_clear_error();
    m = ref_model_load(v, vae);
    CHECK(m == NULL && strstr(varcl_last_error(), "blocks.2.ffn.fc2.bias"), "missing tensor: got '%s'",
          varcl_last_error());
    ref_model_free(m);
    vt_free(v);

    v = edited_view(vae, NULL, "decoder.up.1.block.0.nin_shortcut.bias");
    varcl_clear_error();
    m = ref_model_load(var, v);
    CHECK(m == NULL && strstr(varcl_last_error(), "nin_shortcut.bias"), "misshaped tensor: got '%s'",
          varcl_last_error());
    ref_model_free(m);
    vt_free(v);

    v = edited_view(vae, "quantize.embedding.weight", NULL);
    varcl_clear_error();
    m = ref_model_load(var, v);
    CHECK(m == NULL && strstr(varcl_last_error(), "quantize.embedding.weight"), "missing codebook: got '%s'",
          varcl_last_error());
    ref_model_free(m);
    vt_free(v);
    varcl_clear_error();
}

int main(void)
{
    double t_start = now();
    vt_set *var = st_load(check_data("upstream-tiny/var.safetensors"));
    vt_set *vae = st_load(check_data("upstream-tiny/vae.safetensors"));
    CHECK(var && vae, "load upstream-tiny: %s", varcl_last_error());
    if (!var || !vae) return check_done();
    ref_model *m = ref_model_load(var, vae);
    CHECK(m != NULL, "ref_model_load: %s", varcl_last_error());
    if (!m) return check_done();

    /* sizes derived from the shapes (README: depth 4, width 128, 2 heads, 16 classes, vocab 512, ch 32) */
    CHECK(ref_model_depth(m) == 4, "depth %d", ref_model_depth(m));
    CHECK(ref_model_width(m) == 128, "width %d", ref_model_width(m));
    CHECK(ref_model_heads(m) == 2, "heads %d", ref_model_heads(m));
    CHECK(ref_model_vocab(m) == 512, "vocab %d", ref_model_vocab(m));
    CHECK(ref_model_classes(m) == 16, "classes %d", ref_model_classes(m));
    CHECK(ref_model_scales(m) == 10, "scales %d", ref_model_scales(m));
    CHECK(ref_model_tokens(m) == 680, "tokens %d", ref_model_tokens(m));
    CHECK(ref_model_latent(m) == 16, "latent %d", ref_model_latent(m));
    CHECK(ref_model_image_size(m) == 256, "image size %d", ref_model_image_size(m));
    CHECK(ref_model_cvae(m) == 32, "cvae %d", ref_model_cvae(m));
    CHECK(ref_model_shared_aln(m) == 0, "shared AdaLN detected in a non-shared model");

    check_load_errors(var, vae);

    const int labels[2] = {1, 5};
    run_case(m, "upstream-tiny", "full", 2, labels, NULL, NULL);

    /* depth-2 VARiant plan: scales 0..5 all 4 layers, scales 6..9 layers {0, 3} only */
    unsigned char plan[10 * 4];
    for (int si = 0; si < 10; si++)
        for (int l = 0; l < 4; l++) plan[si * 4 + l] = si < 6 || l == 0 || l == 3;
    run_case(m, "upstream-tiny", "depth2", 2, labels, plan, NULL);

    /* teacher forcing reproduces the same f-hat and images whatever the sampling settings */
    {
        int ni = 0, np = 0;
        int *tok = ref_read_tokens_json(check_data("upstream-tiny/full.tokens.json"), &ni, &np);
        CHECK(tok && ni == 2 && np == 680, "full.tokens.json: %s", varcl_last_error());
        if (tok && ni == 2 && np == 680) run_case(m, "upstream-tiny", "full", 2, labels, NULL, tok);
        free(tok);
    }

    /* the decoder alone, on upstream's final f-hat */
    {
        int nd = 0;
        long long sh[8];
        float *up = ref_read_npy(check_data("upstream-tiny/full.fhat.npy"), &nd, sh);
        CHECK(up != NULL, "full.fhat.npy: %s", varcl_last_error());
        if (up && nd == 5) {
            const int S = 16, Z = 32, IS = 256;
            float *f = malloc((size_t)S * S * Z * sizeof *f);
            float *img = malloc((size_t)IS * IS * 3 * sizeof *img);
            double t0 = now();
            for (int b = 0; b < 2; b++) {
                const float *u = up + ((size_t)9 * 2 + b) * S * S * Z;
                for (int c = 0; c < Z; c++)
                    for (int q = 0; q < S * S; q++) f[(size_t)q * Z + c] = u[(size_t)c * S * S + q];
                CHECK(ref_decode(m, f, img) == 0, "ref_decode: %s", varcl_last_error());
                char png[64], what[64];
                snprintf(png, sizeof png, "upstream-tiny/full.%d.png", b);
                snprintf(what, sizeof what, "decode(upstream f-hat) %d", b);
                check_image(img, IS, png, what);
            }
            printf("upstream-tiny: decoded 2 upstream f-hats in %.2f s\n", now() - t0);
            free(img);
            free(f);
        }
        free(up);
    }
    ref_model_free(m);
    vt_free(var);

    /* 512 px, shared AdaLN (d36 style), same VQ-VAE */
    var = st_load(check_data("upstream-tiny-512/var.safetensors"));
    CHECK(var != NULL, "load upstream-tiny-512: %s", varcl_last_error());
    if (var) {
        m = ref_model_load(var, vae);
        CHECK(m != NULL, "ref_model_load 512: %s", varcl_last_error());
        if (m) {
            CHECK(ref_model_shared_aln(m) == 1, "shared AdaLN not detected");
            CHECK(ref_model_tokens(m) == 2240 && ref_model_latent(m) == 32 && ref_model_image_size(m) == 512,
                  "512 sizes: L %d latent %d image %d", ref_model_tokens(m), ref_model_latent(m),
                  ref_model_image_size(m));
            const int label512[1] = {2};
            run_case(m, "upstream-tiny-512", "full", 1, label512, NULL, NULL);
            ref_model_free(m);
        }
        vt_free(var);
    }
    vt_free(vae);
    printf("total %.2f s\n", now() - t_start);
    return check_done();
}
