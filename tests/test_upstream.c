/* Upstream parity: generating from the model that upstream's PyTorch code made and ran
 * (tests/data/upstream-tiny, see its README) must give upstream's tokens exactly, and f-hat and images within
 * tight tolerances, at full depth and as VARiant's depth-2 subnet (D = 4, d = 2, 6 full scales).
 * This is the test that says varcl is VAR. */
#include "check.h"
#include "generate.h"
#include "image.h"
#include "ref.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run(varcl *v, const char *name, int depth)
{
    char path[256];
    int labels[2] = {1, 5};
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = 2;
    rq.seed = 0;
    rq.cfg = 1.5f;
    rq.top_k = 1;
    rq.top_p = 0;
    rq.depth = depth;
    rq.keep_fhat = 1;
    varcl_images out;
    int st = varcl_generate(v, &rq, &out);
    CHECK(st == 0, "%s: generate failed: %s", name, varcl_last_error());
    if (st) return;

    snprintf(path, sizeof path, "upstream-tiny/%s.tokens.json", name);
    int ni = 0, per = 0;
    int *want = ref_read_tokens_json(check_data(path), &ni, &per);
    CHECK(want && ni == 2 && per == out.tokens_per_image, "%s: token fixture readable (%d x %d)", name, ni, per);
    if (want && ni == 2 && per == out.tokens_per_image) {
        int diff = 0, first = -1;
        for (int i = 0; i < 2 * per; i++)
            if (want[i] != out.tokens[i]) {
                diff++;
                if (first < 0) first = i;
            }
        CHECK(diff == 0, "%s: %d of %d tokens differ from upstream (first at %d)", name, diff, 2 * per, first);
        printf("%s: tokens equal to upstream: %d of %d\n", name, 2 * per - diff, 2 * per);
    }
    free(want);

    /* f-hat per scale: fixture [10][2][32][16][16] (NCHW); ours [10][2][16*16][32] */
    snprintf(path, sizeof path, "upstream-tiny/%s.fhat.npy", name);
    int nd = 0;
    long long shape[8];
    float *fh = ref_read_npy(check_data(path), &nd, shape);
    CHECK(fh && nd == 5 && shape[0] == 10 && shape[2] == out.cvae, "%s: f-hat fixture readable", name);
    if (fh && nd == 5) {
        int L = out.latent, Cv = out.cvae;
        size_t per_scale = (size_t)2 * L * L * Cv;
        float *mine = malloc(per_scale * sizeof *mine);
        double worst = 0;
        for (int si = 0; si < 10; si++) {
            for (int b = 0; b < 2; b++)
                for (int c = 0; c < Cv; c++)
                    for (int p = 0; p < L * L; p++)
                        mine[((size_t)b * Cv + c) * L * L + p] = out.fhat[(((size_t)si * 2 + b) * L * L + p) * Cv + c];
            double e = check_rel_l2(mine, fh + si * per_scale, per_scale);
            if (e > worst) worst = e;
            CHECK(e < 1e-4, "%s: f-hat after scale %d: relative L2 error %.3g", name, si, e);
        }
        printf("%s: f-hat worst relative L2 error over scales %.3g\n", name, worst);
        free(mine);
    }
    free(fh);

    /* images: upstream's 8-bit PNGs (truncation of x * 255) */
    for (int b = 0; b < 2; b++) {
        snprintf(path, sizeof path, "upstream-tiny/%s.%d.png", name, b);
        uint8_t *png = NULL;
        int w = 0, h = 0;
        st = vimg_read_png(check_data(path), &png, &w, &h);
        CHECK(st == 0 && w == out.size && h == out.size, "%s: image %d readable, %dx%d", name, b, w, h);
        if (!st && w == out.size && h == out.size) {
            const uint8_t *mine = out.rgb + (size_t)b * w * h * 3;
            int maxd = 0;
            double sum = 0;
            for (int i = 0; i < w * h * 3; i++) {
                int d = abs((int)mine[i] - (int)png[i]);
                if (d > maxd) maxd = d;
                sum += d;
            }
            double mean = sum / (w * h * 3);
            CHECK(maxd <= 2 && mean <= 0.05, "%s: image %d differs by max %d, mean %.4f levels", name, b, maxd, mean);
            printf("%s: image %d max difference %d levels, mean %.4f\n", name, b, maxd, mean);
        }
        free(png);
    }
    varcl_images_free(&out);
}

int main(void)
{
    vt_set *var = st_load(check_data("upstream-tiny/var.safetensors"));
    vt_set *vae = st_load(check_data("upstream-tiny/vae.safetensors"));
    CHECK(var && vae, "fixtures load: %s", varcl_last_error());
    if (!var || !vae) return check_done();
    varcl *v = varcl_open_sets(var, vae, NULL);
    CHECK(v != NULL, "open: %s", varcl_last_error());
    if (v) {
        run(v, "full", 0);
        run(v, "depth2", 2); /* the same loaded weights serve both depths */
        varcl_close(v);
    }
    vt_free(var);
    /* VAR-d36 style: shared AdaLN, 512 px (patches up to 32, 2240 tokens), the same VQ-VAE */
    var = st_load(check_data("upstream-tiny-512/var.safetensors"));
    v = var && vae ? varcl_open_sets(var, vae, NULL) : NULL;
    CHECK(v != NULL, "open 512: %s", varcl_last_error());
    if (v) {
        int label = 2, ni = 0, per = 0;
        varcl_request rq = VARCL_REQUEST_DEFAULT;
        rq.labels = &label;
        rq.n = 1;
        rq.cfg = 1.5f;
        rq.top_k = 1;
        rq.top_p = 0;
        varcl_images out;
        int st = varcl_generate(v, &rq, &out);
        CHECK(st == 0 && out.size == 512, "512: generate: %s", varcl_last_error());
        int *want = ref_read_tokens_json(check_data("upstream-tiny-512/full.tokens.json"), &ni, &per);
        if (!st && want && ni == 1 && per == out.tokens_per_image) {
            int diff = 0;
            for (int i = 0; i < per; i++) diff += want[i] != out.tokens[i];
            CHECK(diff == 0, "512: %d of %d tokens differ from upstream", diff, per);
            printf("512: tokens equal to upstream: %d of %d\n", per - diff, per);
            uint8_t *png = NULL;
            int w = 0, h = 0;
            if (vimg_read_png(check_data("upstream-tiny-512/full.0.png"), &png, &w, &h) == 0 && w == 512 && h == 512) {
                int maxd = 0;
                double sum = 0;
                for (int i = 0; i < w * h * 3; i++) {
                    int d = abs((int)out.rgb[i] - (int)png[i]);
                    maxd = d > maxd ? d : maxd;
                    sum += d;
                }
                CHECK(maxd <= 2 && sum / (w * h * 3) <= 0.05, "512: image differs by max %d levels", maxd);
                printf("512: image max difference %d levels, mean %.4f\n", maxd, sum / (w * h * 3));
            } else {
                CHECK(0, "512: fixture image unreadable");
            }
            free(png);
        } else {
            CHECK(0, "512: token fixture unreadable or wrong size");
        }
        free(want);
        if (!st) varcl_images_free(&out);
        varcl_close(v);
    }
    vt_free(var);
    vt_free(vae);
    return check_done();
}
