/* Loading weights (host/wload.c, host/model.c): the one-pass conversion writes every layout and storage dtype
 * exactly as the plain path (convert to f32, transpose, pack, round) does; on the device, each checkpoint dtype x
 * --weights choice holds the file's values (spot checks read back from the buffers), 16-bit storage gives the same
 * tokens and images as the same values widened to f32 (upstream fixtures, and a bf16 copy of them); a file cut
 * mid-tensor is refused; a load's peak host memory stays near the device bytes, not twice the file; and the weight
 * cache (host/wcache.c) writes a file on the first load, reads it in place on the next with the same bytes on the
 * device and the same tokens, and rewrites a damaged, cut, wrapping (trailer) or outdated file, or a FIFO in its place. */
#include "check.h"
#include "conv.h"
#include "demo.h"
#include "generate.h"
#include "model.h"
#include "safetensors.h"
#include "wcache.h"
#include "wload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PANEL 32

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((rng >> 8) / 16777216.0f - 0.5f) * 2.0f;
}

/* value of element i of t as f32 */
static float elem(const vt_tensor *t, size_t i)
{
    const uint8_t *p = t->data;
    uint16_t h;
    switch (t->dtype) {
    case VT_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case VT_F16: memcpy(&h, p + 2 * i, 2); return vt_f16_to_f32(h);
    case VT_BF16: memcpy(&h, p + 2 * i, 2); return vt_bf16_to_f32(h);
    default: return 0;
    }
}

/* v rounded to `store` and widened again (the value the device holds) */
static float stored(float v, vt_dtype store)
{
    return store == VT_F16 ? vt_f16_to_f32(vt_f32_to_f16(v)) : store == VT_BF16 ? vt_bf16_to_f32(vt_f32_to_bf16(v)) : v;
}

static float read_out(const void *buf, vt_dtype d, size_t i)
{
    if (d == VT_F32) return ((const float *)buf)[i];
    uint16_t h = ((const uint16_t *)buf)[i];
    return d == VT_F16 ? vt_f16_to_f32(h) : vt_bf16_to_f32(h);
}

/* Element offset of (matrix j, row k, column n) in the layout. */
static size_t matrix_at(int packed, size_t K, size_t N, size_t j, size_t k, size_t n)
{
    size_t each = packed ? K * PANEL * ((N + PANEL - 1) / PANEL) : K * N;
    return j * each + (packed ? ((n / PANEL) * K + k) * PANEL + n % PANEL : k * N + n);
}

/* ---- host: wl_write against the plain path ---- */

static void write_case(vt_dtype src, wl_layout layout, int64_t O, int64_t I, int k)
{
    int64_t shape[4] = {O, I, k, k};
    int ndim = layout == WL_PLAIN || layout == WL_LINEAR ? 2 : 4;
    if (layout == WL_PLAIN) ndim = 1, shape[0] = O * I;
    size_t n = (size_t)(O * I * k * k);
    size_t es = src == VT_F32 ? 4 : 2;
    uint8_t *data = malloc(n * es);
    float *f = malloc(n * 4); /* the file's values as f32 */
    for (size_t i = 0; i < n; i++) {
        float v = frand() * 2;
        if (src == VT_F32) memcpy(data + 4 * i, &v, 4);
        else {
            uint16_t h = src == VT_F16 ? vt_f32_to_f16(v) : vt_f32_to_bf16(v);
            if (i % 97 == 5) h = src == VT_F16 ? 0x0003 : 0x0001; /* subnormals stay exact */
            memcpy(data + 2 * i, &h, 2);
        }
    }
    vt_tensor t = {.name = "w", .dtype = src, .ndim = ndim, .numel = (int64_t)n, .data = data};
    memcpy(t.shape, shape, sizeof shape);
    for (size_t i = 0; i < n; i++) f[i] = elem(&t, i);
    int wino = layout == WL_WINO2 ? 2 : layout == WL_WINO4 ? 4 : 0;
    /* the plain path's matrices [nmat][K][N] in f32 */
    size_t nmat = wino ? (size_t)(wino + 2) * (wino + 2) : 1, K = wino ? (size_t)I : (size_t)(I * k * k), N = (size_t)O;
    float *plain = malloc(nmat * K * N * 4);
    if (wino) vc_winograd_weights(f, (int)I, (int)O, wino, plain);
    else if (layout != WL_PLAIN)
        for (size_t o = 0; o < N; o++)
            for (size_t i = 0; i < (size_t)I; i++)
                for (size_t tap = 0; tap < (size_t)(k * k); tap++)
                    plain[(tap * I + i) * N + o] = f[(o * I + i) * k * k + tap];
    static const char *const lname[] = {"plain", "linear", "conv", "wino2", "wino4"};
    static const char *const dname[] = {"f32", "f16", "bf16"};
    for (int packed = 0; packed < 2; packed++)
        for (vt_dtype store = VT_F32; store <= VT_BF16; store++) {
            if (layout == WL_PLAIN && (packed || store != VT_F32)) continue;
            wl_form form = {layout, packed, store};
            size_t bytes = wl_bytes(&t, &form);
            uint8_t *a = malloc(bytes), *b = malloc(bytes);
            memset(a, 0xa5, bytes); /* unwritten bytes (panel padding must be zeros) show up */
            memset(b, 0x5a, bytes);
            wl_write(&t, &form, a, 1, NULL);
            wl_write(&t, &form, b, 3, NULL);
            size_t bad = 0, exact16 = 0;
            int same = memcmp(a, b, bytes) == 0;
            if (layout == WL_PLAIN) {
                for (size_t i = 0; i < n; i++) bad += read_out(a, VT_F32, i) != f[i];
            } else {
                size_t esz = store == VT_F32 ? 4 : 2, elems = bytes / esz;
                for (size_t i = 0; i < elems; i++) { /* everything, padding included */
                    float want = 0;
                    size_t per = elems / nmat, j = i / per, r = i % per, kk, nn;
                    if (packed) {
                        size_t p = r / (K * PANEL), rest = r % (K * PANEL);
                        kk = rest / PANEL;
                        nn = p * PANEL + rest % PANEL;
                    } else {
                        kk = r / N;
                        nn = r % N;
                    }
                    if (nn < N) want = stored(plain[(j * K + kk) * N + nn], store);
                    float got = read_out(a, store, i);
                    if (!(got == want || (isnan(got) && isnan(want)))) bad++;
                }
                /* 16-bit into the same 16 bits: the file's bits, not merely close */
                if (store == src && src != VT_F32 && !wino)
                    for (size_t o = 0; o < N; o++)
                        for (size_t kx = 0; kx < K; kx++) {
                            size_t i = (size_t)(kx % I), tap = kx / I;
                            uint16_t want, got;
                            memcpy(&want, data + 2 * ((o * I + i) * k * k + tap), 2);
                            memcpy(&got, a + 2 * matrix_at(packed, K, N, 0, kx, o), 2);
                            exact16 += want != got;
                        }
            }
            CHECK(bad == 0 && same && exact16 == 0,
                  "wl_write %s %s [%lld, %lld, %d, %d] -> %s %s: %zu values differ from the plain path, threads "
                  "%s, %zu 16-bit values not bit-exact",
                  dname[src], lname[layout], (long long)O, (long long)I, k, k, packed ? "packed" : "[K][N]",
                  dname[store], bad, same ? "agree" : "DISAGREE", exact16);
            free(a);
            free(b);
        }
    free(plain);
    free(f);
    free(data);
}

static void test_write(void)
{
    for (vt_dtype src = VT_F32; src <= VT_BF16; src++) {
        write_case(src, WL_PLAIN, 37, 53, 1);
        write_case(src, WL_LINEAR, 70, 131, 1);  /* partial last panel, rows not a multiple of the tile */
        write_case(src, WL_LINEAR, 64, 1024, 1); /* full panels, many tiles */
        write_case(src, WL_LINEAR, 600, 70, 1);  /* [K][N]: two units of 256 columns and a partial one */
        write_case(src, WL_CONV, 300, 10, 3);    /* [K][N]: 7 inputs x 9 taps per unit, 256 + 44 columns */
        write_case(src, WL_CONV, 45, 19, 3);     /* 3x3: 9 taps of 19 inputs */
        write_case(src, WL_CONV, 3, 40, 3);      /* conv_out: 3 outputs */
        write_case(src, WL_CONV, 33, 70, 1);     /* 1x1 */
        write_case(src, WL_WINO2, 35, 13, 3);
        write_case(src, WL_WINO4, 40, 17, 3);
    }
}

/* ---- device: spot checks of loaded buffers against the file ---- */

static vr_runtime rt;

/* The value the device holds at (matrix j, row k, column n) of w. */
static float device_at(const vg_weight *w, int packed, size_t K, size_t N, size_t j, size_t k, size_t n)
{
    size_t es = w->dtype == VT_F32 ? 4 : 2, off = matrix_at(packed, K, N, j, k, n) * es;
    uint8_t b[4] = {0};
    vr_read(&rt, w->buf, off, es, b);
    return read_out(b, w->dtype, 0);
}

/* The dtype --weights `weights` stores a matrix from a `file` tensor in (non-Winograd), on every device. */
static vt_dtype expect_dtype(int weights, vt_dtype file)
{
    return weights == VARCL_WEIGHTS_F16    ? VT_F16
           : weights == VARCL_WEIGHTS_BF16 ? VT_BF16
           : weights == VARCL_WEIGHTS_F32  ? VT_F32
                                           : file;
}

static void spot_checks(const vt_set *var, const vt_set *vae, const char *what, int weights)
{
    int packed = vg_packed_layout(&rt);
    var_model m;
    int st = var_load(&rt, var, weights, VARCL_WCACHE_AUTO, &m);
    CHECK(st == 0, "%s: var_load: %s", what, varcl_last_error());
    if (st) return;
    const vt_tensor *fc1 = vt_find(var, "blocks.1.ffn.fc1.weight"), *head = vt_find(var, "head.weight");
    size_t C = (size_t)m.hp.C, F = (size_t)m.hp.ffn, V = (size_t)m.hp.vocab, bad = 0, checks = 0;
    vt_dtype want = expect_dtype(weights, fc1->dtype);
    CHECK(m.blocks[1].fc1_wt.dtype == want && m.head_wt.dtype == want, "%s: matrices stored as dtype %d (want %d)",
          what, m.blocks[1].fc1_wt.dtype, want);
    for (size_t s = 0; s < 40; s++) { /* fc1 [F][C] -> [C][F]; head [V][C] -> [C][V]; corners included */
        size_t n = s == 0 ? F - 1 : (s * 2654435761u) % F, k = s == 1 ? C - 1 : (s * 40503u) % C;
        bad += device_at(&m.blocks[1].fc1_wt, packed, C, F, 0, k, n) != stored(elem(fc1, n * C + k), want);
        n = (s * 977u) % V;
        bad += device_at(&m.head_wt, packed, C, V, 0, k, n) != stored(elem(head, n * C + k), want);
        checks += 2;
    }
    float bias = 0;
    vr_read(&rt, m.blocks[0].fc1_b, 4 * 3, 4, &bias);
    bad += bias != elem(vt_find(var, "blocks.0.ffn.fc1.bias"), 3); /* vectors: f32, exact */
    CHECK(bad == 0, "%s: %zu of %zu spot checks of VAR weights differ from the file", what, bad, checks + 1);
    var_unload(&rt, &m);

    vae_model a;
    st = vae_load(&rt, vae, weights, VARCL_WCACHE_AUTO, &a);
    CHECK(st == 0, "%s: vae_load: %s", what, varcl_last_error());
    if (st) return;
    /* conv_in: 3x3 z -> top; on its path: Winograd (U from the file's values, f32 under keep) or im2col */
    const vt_tensor *ci = vt_find(vae, "decoder.conv_in.weight");
    const vw_conv *c = &a.conv_in;
    size_t O = (size_t)c->cout, I = (size_t)c->cin;
    bad = 0;
    vt_dtype cw = c->wino && weights == VARCL_WEIGHTS_KEEP ? VT_F32 : expect_dtype(weights, ci->dtype);
    CHECK(c->wt.dtype == cw, "%s: conv_in (%s) stored as dtype %d (want %d)", what, c->wino ? "Winograd" : "im2col",
          c->wt.dtype, cw);
    for (size_t s = 0; s < 20; s++) {
        size_t o = (s * 7919u) % O, i = (s * 104729u) % I;
        float g[9], u[36];
        for (int t = 0; t < 9; t++) g[t] = elem(ci, (o * I + i) * 9 + (size_t)t);
        if (c->wino) {
            vc_winograd_pair(g, c->wino, u);
            size_t j = s % (size_t)((c->wino + 2) * (c->wino + 2));
            bad += device_at(&c->wt, packed, I, O, j, i, o) != stored(u[j], cw);
        } else {
            size_t tap = s % 9;
            bad += device_at(&c->wt, packed, 9 * I, O, 0, tap * I + i, o) != stored(g[tap], cw);
        }
    }
    CHECK(bad == 0, "%s: %zu of 20 spot checks of conv_in differ from the file", what, bad);
    vae_unload(&rt, &a);
}

/* ---- tokens: 16-bit storage against the same values widened to f32 ---- */

/* Two images (labels 1 and 5, top-k 1) from an opened model, which it closes; v NULL: the open's status. */
static int generate_two(varcl *v, varcl_images *out)
{
    if (!v) return varcl_last_status();
    int labels[2] = {1, 5};
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = 2;
    rq.top_k = 1;
    rq.top_p = 0;
    int st = varcl_generate(v, &rq, out);
    varcl_close(v);
    return st;
}

static int generate(const vt_set *var, const vt_set *vae, int weights, varcl_images *out)
{
    varcl_open_params p = VARCL_OPEN_DEFAULT;
    p.weights = weights;
    return generate_two(varcl_open_sets(var, vae, &p), out);
}

/* Tokens and image bytes of a that differ from b's. */
static void count_diffs(const varcl_images *a, const varcl_images *b, size_t *tokens, size_t *nt, size_t *bytes,
                        size_t *px)
{
    *nt = (size_t)a->n * a->tokens_per_image;
    *px = (size_t)a->n * a->size * a->size * 3;
    *tokens = *bytes = 0;
    for (size_t i = 0; i < *nt; i++) *tokens += a->tokens[i] != b->tokens[i];
    for (size_t i = 0; i < *px; i++) *bytes += a->rgb[i] != b->rgb[i];
}

static void same_output(const vt_set *var16, const vt_set *vae16, const vt_set *var32, const vt_set *vae32,
                        const char *what)
{
    varcl_images a, b;
    int sa = generate(var16, vae16, VARCL_WEIGHTS_KEEP, &a);
    int sb = generate(var32, vae32, VARCL_WEIGHTS_KEEP, &b);
    CHECK(sa == 0 && sb == 0, "%s: generate: %s", what, varcl_last_error());
    if (sa || sb) return;
    size_t nt, diff, px, pdiff;
    count_diffs(&a, &b, &diff, &nt, &pdiff, &px);
    CHECK(diff == 0, "%s: %zu of %zu tokens differ between 16-bit storage and the widened f32 file", what, diff, nt);
    /* the same values through the same sums in the same order: the images agree bit for bit */
    CHECK(pdiff == 0, "%s: %zu of %zu image bytes differ", what, pdiff, px);
    printf("%s: tokens equal %zu of %zu, image bytes equal %zu of %zu\n", what, nt - diff, nt, px - pdiff, px);
    varcl_images_free(&a);
    varcl_images_free(&b);
}


/* ---- the weight cache ---- */

/* Files in dir whose names start with `prefix` and contain `part`. */
static int count_files(const char *dir, const char *prefix, const char *part)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += !strncmp(de->d_name, prefix, strlen(prefix)) && strstr(de->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

/* The path of the one weights-*.bin file in dir ("" if not exactly one). */
static void the_cache_file(const char *dir, char *buf, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;
    buf[0] = 0;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "weights-", 8) && strlen(de->d_name) > 12 &&
            !strcmp(de->d_name + strlen(de->d_name) - 4, ".bin") && found++ == 0)
            snprintf(buf, n, "%s/%s", dir, de->d_name);
    if (d) closedir(d);
    if (found != 1) buf[0] = 0;
}

/* Removes dir and the files in it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[1600];
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            remove(p);
        }
    if (d) closedir(d);
    rmdir(dir);
}

/* 1 when two device buffers hold the same bytes. */
static int same_buffer(cl_mem a, cl_mem b)
{
    size_t na = 0, nb = 0;
    clGetMemObjectInfo(a, CL_MEM_SIZE, sizeof na, &na, NULL);
    clGetMemObjectInfo(b, CL_MEM_SIZE, sizeof nb, &nb, NULL);
    uint8_t *x = malloc(na + 1), *y = malloc(nb + 1);
    int same = x && y && na == nb && !vr_read(&rt, a, 0, na, x) && !vr_read(&rt, b, 0, nb, y) && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* Loads the VAR model of `path` with the cache `mode`; *cache: what the cache did (WC_*). */
static int load_var(const char *path, int weights, int mode, var_model *m, int *cache)
{
    vt_set *s = st_load(path);
    int st = s ? var_load(&rt, s, weights, mode, m) : VARCL_E_INPUT;
    *cache = st ? -1 : m->load.cache;
    vt_free(s); /* the model keeps nothing of the set: buffers are on the device or in the cache's mappings */
    return st;
}

/* Every matrix and a bias of two loads hold the same bytes. */
static int same_model(const var_model *a, const var_model *b)
{
    int same = same_buffer(a->head_wt.buf, b->head_wt.buf) && same_buffer(a->word_wt.buf, b->word_wt.buf);
    for (int l = 0; same && l < a->hp.depth; l++) {
        const var_block *x = &a->blocks[l], *y = &b->blocks[l];
        same = same_buffer(x->qkv_wt.buf, y->qkv_wt.buf) && same_buffer(x->proj_wt.buf, y->proj_wt.buf) &&
               same_buffer(x->fc1_wt.buf, y->fc1_wt.buf) && same_buffer(x->fc2_wt.buf, y->fc2_wt.buf) &&
               same_buffer(x->fc1_b, y->fc1_b) && (!x->ada_wt.buf || same_buffer(x->ada_wt.buf, y->ada_wt.buf));
    }
    return same;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out)) ok = 0;
    return ok ? 0 : -1;
}

/* Tokens and image bytes of two labels at top-k 1 from the files, with the cache `mode`. */
static int generate_files(const char *var, const char *vae, int mode, varcl_images *out)
{
    varcl_open_params p = VARCL_OPEN_DEFAULT;
    p.model_path = var;
    p.vae_path = vae;
    p.weight_cache = mode;
    return generate_two(varcl_open(&p), out);
}

static void test_weight_cache(const char *dir)
{
    if (!rt.policy.host_weights) {
        printf("weight cache: %s's buffers are not host memory, skipped\n", rt.dev.name);
        return;
    }
    char cache[1200], var[1200], vae[1200], bad[1200], file[1400], saved[1200] = "";
    const char *env = getenv("VARCL_CACHE_DIR");
    if (env) snprintf(saved, sizeof saved, "%s", env);
    snprintf(cache, sizeof cache, "%s/wcache", dir);
    snprintf(var, sizeof var, "%s/wc_var.safetensors", dir);
    snprintf(vae, sizeof vae, "%s/wc_vae.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/wc_nan.safetensors", dir);
    setenv("VARCL_CACHE_DIR", cache, 1);
    int st = copy_file(check_data("upstream-tiny/var.safetensors"), var);
    st = st || copy_file(check_data("upstream-tiny/vae.safetensors"), vae);
    CHECK(st == 0, "weight cache: copies of the fixtures");

    /* the first load writes the file, the next reads it in place: the same bytes as a load without it */
    var_model off, written, hit;
    int c0 = 0, c1 = 0, c2 = 0;
    st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_OFF, &off, &c0);
    st = st || load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &written, &c1);
    st = st || load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &hit, &c2);
    CHECK(!st && c0 == WC_OFF && c1 == WC_WRITTEN && c2 == WC_HIT,
          "weight cache: off, then written, then read in place (got %d %d %d: %s)", c0, c1, c2, varcl_last_error());
    CHECK(count_files(cache, "weights-", ".bin") == 1 && count_files(cache, "weights-", ".tmp") == 0,
          "weight cache: one file, no temporary (%d, %d)", count_files(cache, "weights-", ".bin"),
          count_files(cache, "weights-", ".tmp"));
    if (!st) {
        CHECK(same_model(&off, &written) && same_model(&off, &hit),
              "weight cache: the written and the cached loads hold the bytes of a load without the cache");
        var_unload(&rt, &off);
        var_unload(&rt, &written);
        var_unload(&rt, &hit);
    }

    /* tokens and images through the cache (VAR and VQ-VAE read in place) equal those without it */
    varcl_images a, b;
    int sa = generate_files(var, vae, VARCL_WCACHE_AUTO, &a); /* the VQ-VAE's file is written here */
    varcl_images_free(&a);
    sa = sa || generate_files(var, vae, VARCL_WCACHE_AUTO, &a);
    int sb = generate_files(var, vae, VARCL_WCACHE_OFF, &b);
    CHECK(sa == 0 && sb == 0, "weight cache: generate: %s", varcl_last_error());
    if (!sa && !sb) {
        size_t nt, diff, px, pdiff;
        count_diffs(&a, &b, &diff, &nt, &pdiff, &px);
        CHECK(diff == 0 && pdiff == 0, "weight cache: %zu of %zu tokens, %zu of %zu image bytes differ", diff, nt,
              pdiff, px);
        varcl_images_free(&a);
        varcl_images_free(&b);
    }
    CHECK(count_files(cache, "weights-", ".bin") == 2, "weight cache: a file for the VQ-VAE too (%d files)",
          count_files(cache, "weights-", ".bin"));

    /* a damaged file (one byte of tensor data), a cut one, one whose trailer's index offset wraps past 2^64 (a read
     * out of the mapping), a FIFO under the name (an open that waits for a writer): found, removed, written again */
    static const char *damages[] = {"damaged", "cut", "wrapping", "FIFO"};
    for (int damage = 0; damage < 4; damage++) {
        /* isolate the VAR model's cache file: a fresh cache dir holding only it */
        char solo[1300];
        snprintf(solo, sizeof solo, "%s/solo%d", dir, damage);
        setenv("VARCL_CACHE_DIR", solo, 1);
        var_model m;
        int c = 0;
        st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &m, &c);
        if (!st) var_unload(&rt, &m);
        the_cache_file(solo, file, sizeof file);
        struct stat sb_;
        CHECK(!st && c == WC_WRITTEN && file[0] && stat(file, &sb_) == 0, "weight cache: a file in %s", solo);
        if (st || !file[0]) continue;
        int fd = open(file, O_RDWR);
        if (damage == 0) { /* flip a byte in the first tensor's data */
            uint8_t byte = 0;
            CHECK(fd >= 0 && pread(fd, &byte, 1, 100) == 1, "read the cache file");
            byte ^= 0x40;
            CHECK(fd >= 0 && pwrite(fd, &byte, 1, 100) == 1, "damage the cache file");
        } else if (damage == 1) { /* cut in the middle */
            CHECK(fd >= 0 && ftruncate(fd, sb_.st_size / 2) == 0, "cut the cache file");
        } else if (damage == 2) { /* index offset 2^64 - page, length such that offset + length + trailer wraps to the size */
            char tail[257] = "", tr[257];
            long long page = sysconf(_SC_PAGESIZE), at = sb_.st_size - 256;
            CHECK(fd >= 0 && pread(fd, tail, 256, at) == 256, "read the cache file's end");
            char *t = strstr(tail, "varcl-weights-end "); /* the trailer: its line to the end of the file */
            CHECK(t != NULL, "the cache file's trailer");
            if (t) {
                long long len = 256 - (t - tail), trailer_at = at + (t - tail);
                int w = snprintf(tr, sizeof tr, "varcl-weights-end -%lld %lld 0", page, trailer_at + page);
                memset(tr + w, ' ', (size_t)(len - w));
                tr[len - 1] = '\n';
                CHECK(pwrite(fd, tr, (size_t)len, trailer_at) == len, "rewrite the trailer");
            }
        } else {
            CHECK(unlink(file) == 0 && mkfifo(file, 0600) == 0, "a FIFO named as the cache file");
        }
        if (fd >= 0) close(fd);
        var_model again;
        alarm(120); /* a load that blocks (on the FIFO) fails the test rather than hangs it */
        st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &again, &c);
        alarm(0);
        CHECK(!st && c == WC_WRITTEN, "weight cache: a %s file is not read but written again (cache %d: %s)",
              damages[damage], c, varcl_last_error());
        if (!st) {
            var_model ref;
            int cr = 0;
            if (!load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_OFF, &ref, &cr)) {
                CHECK(same_model(&ref, &again), "weight cache: after a %s file, the bytes of a load without it",
                      damages[damage]);
                var_unload(&rt, &ref);
            }
            var_unload(&rt, &again);
        }
        st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &again, &c);
        CHECK(!st && c == WC_HIT, "weight cache: the rewritten file is read in place (cache %d)", c);
        if (!st) var_unload(&rt, &again);
    }
    /* a directory under the file's name cannot be replaced: the cache is not used (no file written for nothing) */
    if (file[0]) {
        char solo[1300];
        snprintf(solo, sizeof solo, "%s/solo3", dir); /* the FIFO round's directory, still VARCL_CACHE_DIR */
        var_model m;
        int c = 0;
        CHECK(unlink(file) == 0 && mkdir(file, 0755) == 0, "a directory named as the cache file");
        st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &m, &c);
        CHECK(!st && c == WC_OFF && strstr(m.load.cache_why, strerror(EISDIR)) &&
                  count_files(solo, "weights-", ".tmp") == 0,
              "weight cache: a directory under the file's name: not used, and said (%d, cache %d: '%s')", st, c,
              st ? varcl_last_error() : m.load.cache_why);
        if (!st) var_unload(&rt, &m);
        rmdir(file);
    }
    setenv("VARCL_CACHE_DIR", cache, 1);

    /* another --weights is another file; the first is still read in place */
    var_model m;
    int c = 0;
    st = load_var(var, VARCL_WEIGHTS_F32, VARCL_WCACHE_AUTO, &m, &c);
    if (!st) var_unload(&rt, &m);
    int c2b = 0;
    st = st || load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &m, &c2b);
    if (!st) var_unload(&rt, &m);
    CHECK(!st && c == WC_WRITTEN && c2b == WC_HIT, "weight cache: --weights f32 writes its own file (%d), keep still "
          "reads its (%d)", c, c2b);

    /* temporaries of writers a minute old: one unlocked (its writer was killed) is removed when a file is written,
     * one a writer still holds locked stays */
    char orphan[1400], live[1400];
    snprintf(orphan, sizeof orphan, "%s/weights-0123456789abcdef.bin.tmpAAAAAA", cache);
    snprintf(live, sizeof live, "%s/weights-0123456789abcdef.bin.tmpBBBBBB", cache);
    int fo = open(orphan, O_CREAT | O_WRONLY, 0600), fl = open(live, O_CREAT | O_WRONLY, 0600);
    struct timespec old[2] = {{time(NULL) - 60, 0}, {time(NULL) - 60, 0}};
    CHECK(fo >= 0 && fl >= 0 && flock(fl, LOCK_EX) == 0 && futimens(fo, old) == 0 && futimens(fl, old) == 0,
          "two temporaries");
    if (fo >= 0) close(fo);
    /* and the user's own files named like ours, older than every cache file: never evicted */
    char mine[WC_KEEP + 1][1400];
    for (int i = 0; i <= WC_KEEP; i++) {
        snprintf(mine[i], sizeof mine[i], "%s/weights-epoch%d.bin", cache, i);
        int fd = open(mine[i], O_CREAT | O_WRONLY, 0600);
        CHECK(fd >= 0 && futimens(fd, old) == 0, "a user's file in the cache directory");
        if (fd >= 0) close(fd);
    }

    /* a changed checkpoint (new times) is another key; at most WC_KEEP files stay */
    struct timespec t[2] = {{12345, 0}, {12345, 0}};
    CHECK(utimensat(AT_FDCWD, var, t, 0) == 0, "set the checkpoint's times");
    st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &m, &c);
    if (!st) var_unload(&rt, &m);
    CHECK(!st && c == WC_WRITTEN, "weight cache: a changed checkpoint is not read from the old file (%d)", c);
    CHECK(access(orphan, F_OK) != 0 && access(live, F_OK) == 0,
          "weight cache: an orphaned temporary is removed (%s), a live writer's stays (%s)",
          access(orphan, F_OK) ? "yes" : "no", access(live, F_OK) ? "no" : "yes");
    if (fl >= 0) close(fl);
    remove(live);
    int kept_mine = 0;
    for (int i = 0; i <= WC_KEEP; i++) kept_mine += remove(mine[i]) == 0;
    CHECK(kept_mine == WC_KEEP + 1, "weight cache: the user's weights-epoch*.bin are not evicted (%d of %d kept)",
          kept_mine, WC_KEEP + 1);
    CHECK(count_files(cache, "weights-", ".bin") <= WC_KEEP, "weight cache: at most %d files (%d)", WC_KEEP,
          count_files(cache, "weights-", ".bin"));

    /* a load that fails (a NaN in the last tensor) leaves no file and no temporary behind */
    vt_set *src = st_load(var), *nan = vt_new("nan copy");
    st = !src || !nan;
    for (int i = 0; !st && i < vt_count(src); i++) {
        const vt_tensor *x = vt_at(src, i);
        float *f = vt_dup_f32(x);
        if (f && !strcmp(x->name, "head.weight")) f[x->numel - 1] = NAN;
        st = !f || vt_add_f32(nan, x->name, x->ndim, x->shape, f);
    }
    st = st || st_save(bad, nan, VT_F32);
    vt_free(src);
    vt_free(nan);
    int before = count_files(cache, "weights-", ".bin");
    st = st || load_var(bad, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &m, &c) != VARCL_E_INPUT;
    CHECK(!st && count_files(cache, "weights-", ".bin") <= before && count_files(cache, "weights-", ".tmp") == 0,
          "weight cache: a refused load leaves no file (%d before, %d after, %d temporaries)", before,
          count_files(cache, "weights-", ".bin"), count_files(cache, "weights-", ".tmp"));

    /* the file cannot grow while it is written (a full disk; here the process's file size limit, EFBIG): the load
     * goes on without it, leaves no file, and says why */
    char full[1300];
    snprintf(full, sizeof full, "%s/full", dir);
    setenv("VARCL_CACHE_DIR", full, 1);
    struct rlimit fsz;
    CHECK(getrlimit(RLIMIT_FSIZE, &fsz) == 0, "getrlimit");
    struct rlimit small = {1 << 16, fsz.rlim_max};
    signal(SIGXFSZ, SIG_IGN); /* else the limit kills the process */
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0, "setrlimit");
    st = load_var(var, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO, &m, &c);
    setrlimit(RLIMIT_FSIZE, &fsz);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(!st && c == WC_NONE && strstr(m.load.cache_why, strerror(EFBIG)) && count_files(full, "weights-", "") == 0,
          "weight cache: a file that cannot grow is dropped, the load goes on and says why (%d, cache %d: '%s', %d "
          "files)", st, c, st ? varcl_last_error() : m.load.cache_why, count_files(full, "weights-", ""));
    if (!st) var_unload(&rt, &m);
    remove_dir(full);
    setenv("VARCL_CACHE_DIR", cache, 1);
    printf("weight cache: written, read in place, damaged/cut/wrapping/FIFO/outdated files rewritten, refused loads "
           "and files that cannot grow leave none\n");

    if (saved[0]) setenv("VARCL_CACHE_DIR", saved, 1);
    else unsetenv("VARCL_CACHE_DIR");
    remove(var);
    remove(vae);
    remove(bad);
    remove_dir(cache);
    for (int i = 0; i < 2; i++) {
        snprintf(file, sizeof file, "%s/solo%d", dir, i);
        remove_dir(file);
    }
}

/* ---- a file cut in the middle of a tensor ---- */

static void test_truncated(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    FILE *in = fopen(check_data("upstream-tiny/var.safetensors"), "rb"), *out = fopen(path, "wb");
    CHECK(in && out, "copy for truncation");
    if (!in || !out) {
        if (in) fclose(in);
        if (out) fclose(out);
        return;
    }
    fseek(in, 0, SEEK_END);
    long len = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *buf = malloc((size_t)len);
    size_t got = fread(buf, 1, (size_t)len, in);
    fwrite(buf, 1, got * 2 / 3, out); /* two thirds: inside some tensor's data */
    fclose(in);
    fclose(out);
    free(buf);
    varcl_open_params p = VARCL_OPEN_DEFAULT;
    p.model_path = path;
    p.vae_path = check_data("upstream-tiny/vae.safetensors");
    varcl *v = varcl_open(&p);
    CHECK(v == NULL && varcl_last_status() == VARCL_E_INPUT && strstr(varcl_last_error(), "cut.safetensors"),
          "a file cut mid-tensor is refused naming the file: %s", varcl_last_error());
    varcl_close(v);
    remove(path);
}

/* ---- peak host memory of a load ---- */

/* Runs `vgen --model var --vae vae --info` and returns its peak RSS (bytes); its stdout goes to out_path. */
static long vgen_peak_rss(const char *vgen, const char *var, const char *vae, const char *out_path)
{
    fflush(stdout); /* the child must not print this process's buffered output again */
    pid_t pid = fork();
    if (pid == 0) {
        FILE *o = freopen(out_path, "w", stdout);
        (void)o;
        execl(vgen, vgen, "--model", var, "--vae", vae, "--info", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return ru.ru_maxrss * 1024L;
}

/* Device bytes of the VAR weights from vgen --info's "weights: DTYPE, N bytes on the device" line. */
static size_t info_weight_bytes(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    size_t v = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *comma = strchr(line, ',');
        if (!strncmp(line, "weights: ", 9) && comma) sscanf(comma + 1, "%zu", &v);
    }
    if (f) fclose(f);
    return v;
}

static void test_peak_rss(const char *dir)
{
    const char *vgen = getenv("VGEN");
    if (!vgen) {
        printf("peak RSS: VGEN not set, skipped\n");
        return;
    }
    /* a mid-size model (~110 MB f32) with the fixtures' vocabulary and latent width, so the tiny VQ-VAE fits it */
    demo_var_shape vs = {.depth = 8, .width = 512, .heads = 8, .vocab = 512, .classes = 16, .cvae = 32, .tokens = 680};
    vt_set *mid = demo_var(&vs, 3);
    char var[1200], info0[1200], info1[1200];
    snprintf(var, sizeof var, "%s/mid.safetensors", dir);
    snprintf(info0, sizeof info0, "%s/tiny.info", dir);
    snprintf(info1, sizeof info1, "%s/mid.info", dir);
    int st = mid ? st_save(var, mid, VT_F32) : 1;
    vt_free(mid);
    CHECK(st == 0, "writing the mid-size model: %s", varcl_last_error());
    if (st) return;
    char vae[1200], tiny[1200]; /* check_data's buffer is reused by each call */
    snprintf(vae, sizeof vae, "%s", check_data("upstream-tiny/vae.safetensors"));
    snprintf(tiny, sizeof tiny, "%s", check_data("upstream-tiny/var.safetensors"));
    long base = vgen_peak_rss(vgen, tiny, vae, info0), peak = vgen_peak_rss(vgen, var, vae, info1);
    FILE *f = fopen(var, "rb");
    long file = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        file = ftell(f);
        fclose(f);
    }
    size_t dev_mid = info_weight_bytes(info1), dev_tiny = info_weight_bytes(info0);
    CHECK(base > 0 && peak > 0 && dev_mid > 0, "vgen --info ran (peak RSS %ld and %ld bytes, device %zu)", base, peak,
          dev_mid);
    /* Bound: what the device holds (on CPU devices the weights are host memory) plus a quarter of the file plus
     * 48 MiB. Mapping the whole file and converting through full-size copies (the load before wload) took the file's
     * bytes on top of the device's. */
    long growth = peak - base, bound = (long)(dev_mid - dev_tiny) + file / 4 + (48L << 20);
    CHECK(growth <= bound, "load of a %ld-byte file: peak RSS grew by %ld bytes, bound %ld", file, growth, bound);
    printf("peak RSS: %ld bytes over the tiny model's for a %ld-byte file (%zu bytes on the device), bound %ld\n",
           growth, file, dev_mid, bound);
    remove(var);
    remove(info0);
    remove(info1);
}

int main(void)
{
    test_write();

    char dir[1024];
    CHECK(check_mkdtemp(dir, sizeof dir, "load") != NULL, "temp dir");
    /* the fixtures are F16; a bf16 copy (rounded from them), and both widened to f32 (the same values) */
    vt_set *var16 = st_load(check_data("upstream-tiny/var.safetensors"));
    vt_set *vae16 = st_load(check_data("upstream-tiny/vae.safetensors"));
    CHECK(var16 && vae16, "fixtures: %s", varcl_last_error());
    if (!var16 || !vae16) return check_done();
    char p[6][1200];
    const char *names[6] = {"var_bf16", "vae_bf16", "var_f16w", "vae_f16w", "var_bf16w", "vae_bf16w"};
    for (int i = 0; i < 6; i++) snprintf(p[i], sizeof p[i], "%s/%s.safetensors", dir, names[i]);
    int st = st_save(p[0], var16, VT_BF16) || st_save(p[1], vae16, VT_BF16) || st_save(p[2], var16, VT_F32) ||
             st_save(p[3], vae16, VT_F32);
    vt_set *varb = st ? NULL : st_load(p[0]), *vaeb = st ? NULL : st_load(p[1]);
    st = st || !varb || !vaeb || st_save(p[4], varb, VT_F32) || st_save(p[5], vaeb, VT_F32);
    vt_set *var16w = st ? NULL : st_load(p[2]), *vae16w = st ? NULL : st_load(p[3]);
    vt_set *varbw = st ? NULL : st_load(p[4]), *vaebw = st ? NULL : st_load(p[5]);
    CHECK(!st && var16w && vae16w && varbw && vaebw, "16-bit and widened copies: %s", varcl_last_error());

    st = vr_open(&rt, NULL, 0);
    CHECK(st == 0, "vr_open: %s", varcl_last_error());
    if (!st && varbw) {
        printf("device: %s, %s layout\n", rt.dev.name, vg_packed_layout(&rt) ? "packed" : "[K][N]");
        const struct {
            const vt_set *var, *vae;
            const char *name;
        } files[] = {{var16, vae16, "f16 file"}, {varb, vaeb, "bf16 file"}, {var16w, vae16w, "f32 file"}};
        static const char *const wname[] = {"keep", "f32", "f16", "bf16"};
        for (int f = 0; f < 3; f++)
            for (int w = VARCL_WEIGHTS_KEEP; w <= VARCL_WEIGHTS_BF16; w++) {
                char what[64];
                snprintf(what, sizeof what, "%s, --weights %s", files[f].name, wname[w]);
                spot_checks(files[f].var, files[f].vae, what, w);
            }
        test_weight_cache(dir);
        vr_close(&rt);
        same_output(var16, vae16, var16w, vae16w, "f16 (upstream fixtures) vs widened");
        same_output(varb, vaeb, varbw, vaebw, "bf16 copy vs widened");
    }
    test_truncated(dir);
    test_peak_rss(dir);
    vt_free(var16), vt_free(vae16), vt_free(varb), vt_free(vaeb);
    vt_free(var16w), vt_free(vae16w), vt_free(varbw), vt_free(vaebw);
    for (int i = 0; i < 6; i++) remove(p[i]);
    rmdir(dir);
    return check_done();
}
