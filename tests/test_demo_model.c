/* The built-in demo model (builtin.h) draws what it is asked for: for fixed seeds, every class's images are
 * classified as that class by the shipped classifier (models/demo/classifier.safetensors, see
 * models/recipe/classifier.py), run here as plain C. Also: the embedded files carry upstream's key names and the
 * shapes the recipe trains (depth 16, width 64, 10 classes), and load through the ordinary file reader too. */
#include "builtin.h"
#include "check.h"
#include "error.h"
#include "safetensors.h"
#include "varcl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIDE 64 /* the classifier's input: the 256 px image as 4x4 box means */
#define CLASSES 10
#define PER_CLASS 2

static const int channels[5] = {3, 16, 32, 64, 64};

/* x [cin][h][h] -> y [cout][h/2][h/2]: conv3x3 (zero padding) + bias, ReLU, 2x2 max-pool. */
static void conv_relu_pool(const float *x, int cin, int h, const float *w, const float *b, int cout, float *y)
{
    float *t = malloc((size_t)cout * h * h * sizeof *t);
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < h; j++) {
                double s = b[o];
                for (int c = 0; c < cin; c++)
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int yy = i + dy, xx = j + dx;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= h) continue;
                            s += (double)w[((o * cin + c) * 3 + dy + 1) * 3 + dx + 1] * x[(c * h + yy) * h + xx];
                        }
                t[(o * h + i) * h + j] = s > 0 ? (float)s : 0.0f;
            }
    int g = h / 2;
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < g; i++)
            for (int j = 0; j < g; j++) {
                const float *p = t + (o * h + 2 * i) * h + 2 * j;
                float m = p[0];
                if (p[1] > m) m = p[1];
                if (p[h] > m) m = p[h];
                if (p[h + 1] > m) m = p[h + 1];
                y[(o * g + i) * g + j] = m;
            }
    free(t);
}

/* rgb [256][256][3] 8-bit -> the class with the largest logit. */
static int classify(const vt_set *c, const uint8_t *rgb, int size)
{
    float *x = calloc((size_t)3 * SIDE * SIDE, sizeof *x), *y = malloc((size_t)64 * SIDE * SIDE * sizeof *y);
    int f = size / SIDE;
    for (int i = 0; i < SIDE; i++)
        for (int j = 0; j < SIDE; j++)
            for (int k = 0; k < 3; k++) {
                double s = 0;
                for (int a = 0; a < f; a++)
                    for (int b = 0; b < f; b++) s += rgb[((size_t)(i * f + a) * size + j * f + b) * 3 + k];
                x[(k * SIDE + i) * SIDE + j] = (float)(s / (f * f) / 255.0);
            }
    int h = SIDE;
    for (int l = 0; l < 4; l++, h /= 2) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "conv%d.weight", l);
        snprintf(bn, sizeof bn, "conv%d.bias", l);
        float *w = vt_dup_f32(vt_find(c, wn)), *b = vt_dup_f32(vt_find(c, bn));
        conv_relu_pool(x, channels[l], h, w, b, channels[l + 1], y);
        free(w);
        free(b);
        float *s = x;
        x = y;
        y = s;
    }
    float feat[64], *fw = vt_dup_f32(vt_find(c, "fc.weight")), *fb = vt_dup_f32(vt_find(c, "fc.bias"));
    for (int o = 0; o < 64; o++) {
        double s = 0;
        for (int p = 0; p < h * h; p++) s += x[o * h * h + p];
        feat[o] = (float)(s / (h * h));
    }
    int best = 0;
    double best_v = -1e30;
    for (int k = 0; k < CLASSES; k++) {
        double s = fb[k];
        for (int o = 0; o < 64; o++) s += (double)fw[k * 64 + o] * feat[o];
        if (s > best_v) best_v = s, best = k;
    }
    free(fw);
    free(fb);
    free(x);
    free(y);
    return best;
}

static const vt_set *require_classifier(const vt_set *c)
{
    static const char *names[] = {"conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "conv2.weight",
                                  "conv2.bias",   "conv3.weight", "conv3.bias", "fc.weight",  "fc.bias"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!vt_find(c, names[i])) {
            CHECK(0, "classifier: %s missing", names[i]);
            return NULL;
        }
    return c;
}

int main(void)
{
    if (!builtin_demo_trained()) {
        printf("test_demo_model: skipped: this tree has no trained demo model (models/demo/*.safetensors)\n");
        return 77;
    }
    /* the embedded files: upstream key names, recipe shapes */
    vt_set *var = NULL, *vae = NULL;
    CHECK(builtin_demo_sets(&var, &vae) == 0, "embedded demo model: %s", varcl_last_error());
    if (var) {
        CHECK(vt_count(var) == 220, "VAR keys: %d (upstream's depth-16 state dict has 220)", vt_count(var));
        const char *keys[] = {"pos_start", "pos_1LC", "lvl_1L", "attn_bias_for_masking", "class_emb.weight",
                              "blocks.15.ada_lin.1.weight", "blocks.0.attn.zero_k_bias", "head_nm.ada_lin.1.bias"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) CHECK(vt_find(var, keys[i]), "VAR key %s", keys[i]);
        const vt_tensor *ce = vt_find(var, "class_emb.weight");
        CHECK(ce && ce->shape[0] == CLASSES + 1 && ce->shape[1] == 64, "class_emb [11, 64]");
        CHECK(ce && ce->dtype == VT_BF16, "the demo model ships as bf16");
    }
    if (vae) CHECK(vt_find(vae, "encoder.conv_in.weight") && vt_find(vae, "quantize.quant_resi.qresi_ls.3.weight"),
                   "VQ-VAE keeps upstream's encoder and phi keys");
    vt_free(var);
    vt_free(vae);

    /* the same files from disk through vgen's ordinary path */
    char path_var[1024], path_vae[1024], path_clf[1024];
    const char *dir = getenv("VARCL_DEMO_DIR");
    CHECK(dir != NULL, "VARCL_DEMO_DIR is set (ctest sets it to models/demo)");
    if (!dir) return check_done();
    snprintf(path_var, sizeof path_var, "%s/var.safetensors", dir);
    snprintf(path_vae, sizeof path_vae, "%s/vae.safetensors", dir);
    snprintf(path_clf, sizeof path_clf, "%s/classifier.safetensors", dir);
    varcl_open_params op = VARCL_OPEN_DEFAULT;
    op.model_path = path_var;
    op.vae_path = path_vae;
    varcl *from_file = varcl_open(&op);
    CHECK(from_file != NULL, "models/demo files load: %s", varcl_last_error());
    varcl_close(from_file);

    /* the names the library gives the classes are the ones the recipe trained (demo.json, written by export) */
    char path_json[1024];
    snprintf(path_json, sizeof path_json, "%s/demo.json", dir);
    json_error_t jerr;
    json_t *meta = json_load_file(path_json, 0, &jerr);
    json_t *names = meta ? json_object_get(meta, "classes") : NULL;
    CHECK(json_is_array(names) && json_array_size(names) == CLASSES, "%s: a \"classes\" array of %d names (%s)",
          path_json, CLASSES, meta ? "" : jerr.text);
    for (int c = 0; json_is_array(names) && c < CLASSES && c < (int)json_array_size(names); c++) {
        const char *want = json_string_value(json_array_get(names, (size_t)c)), *got = builtin_demo_class_name(c);
        CHECK(want && got && strcmp(want, got) == 0, "class %d: built-in name %s, demo.json %s", c, got ? got : "-",
              want ? want : "-");
    }
    json_decref(meta);

    vt_set *clf = st_load(path_clf);
    CHECK(clf != NULL, "classifier loads: %s", varcl_last_error());
    if (!clf || !require_classifier(clf)) return check_done();

    varcl_open_params dp = VARCL_OPEN_DEFAULT;
    varcl *v = varcl_open(&dp);
    CHECK(v != NULL, "open the built-in demo model: %s", varcl_last_error());
    if (!v) return check_done();
    int labels[CLASSES * PER_CLASS];
    for (int i = 0; i < CLASSES * PER_CLASS; i++) labels[i] = i / PER_CLASS;
    varcl_request rq = VARCL_REQUEST_DEFAULT; /* the default sampling settings */
    rq.labels = labels;
    rq.n = CLASSES * PER_CLASS;
    rq.seed = 0;
    varcl_images out;
    int st = varcl_generate(v, &rq, &out);
    CHECK(st == VARCL_OK, "generate %d images: %s", rq.n, varcl_last_error());
    if (st == VARCL_OK) {
        /* The acceptance bar of the demo model is >= 90% of images classified as asked (README: 50 per class);
         * these 20 fixed images are a deterministic sample of it: at least 18 right, and every class drawn. */
        int right = 0, per_class[CLASSES] = {0};
        for (int i = 0; i < rq.n; i++) {
            int got = classify(clf, out.rgb + (size_t)i * out.size * out.size * 3, out.size);
            if (got == labels[i]) right++, per_class[labels[i]]++;
            else
                printf("  image %d (seed 0) of class %d (%s) is classified as %d (%s)\n", i, labels[i],
                       builtin_demo_class_name(labels[i]), got,
                       builtin_demo_class_name(got) ? builtin_demo_class_name(got) : "?");
        }
        CHECK(right * 10 >= rq.n * 9, "%d of %d images classified as their class (need >= 90%%)", right, rq.n);
        for (int c = 0; c < CLASSES; c++)
            CHECK(per_class[c] > 0, "class %d (%s): none of its %d images classified as it", c,
                  builtin_demo_class_name(c), PER_CLASS);
        varcl_images_free(&out);
    }
    varcl_close(v);
    vt_free(clf);
    return check_done();
}
