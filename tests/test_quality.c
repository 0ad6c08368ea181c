/* The measuring instruments of vbench --quality against numpy (tests/data/quality, written by its mk_fixture.py
 * from models/recipe/classifier.py and fd_ref.py):
 *   - the engine's classifier (host/classifier.h): logits and features of three real images equal numpy_forward's,
 *     alone and inside groups larger than one device pass; refused inputs (missing tensor, channels that do not
 *     chain, image sizes) are input errors and leave nothing allocated;
 *   - the Frechet distance (host/frechet.h): moments and FD of two feature sets equal numpy's (eigh), FD of a set
 *     with itself is 0, FD grows with a shifted mean by exactly |shift|^2, too few vectors are refused;
 *   - the fixture's fd_ref.safetensors has the export's format (F32 mu [64], sigma [64][64], symmetric);
 *   - on the tiny upstream model, vbench's measurement (bench/quality.h) gives the same accuracy and FD whatever
 *     its group size (requests keyed by image_ids, passes padded). */
#include "check.h"
#include "classifier.h"
#include "generate.h"
#include "quality.h"
#include "varcl.h"
#include "error.h"
#include "frechet.h"
#include "image.h"
#include "runtime.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIMG 3
#define SIZE 256

static vr_runtime rt;

static float *tensor(const vt_set *s, const char *name, int64_t numel)
{
    const vt_tensor *t = s ? vt_find(s, name) : NULL;
    CHECK(t && t->numel == numel, "%s: %s present with %lld elements", s ? vt_origin(s) : "?", name, (long long)numel);
    return t && t->numel == numel ? vt_dup_f32(t) : NULL;
}

static void test_classifier(const vt_set *cls, const vt_set *want)
{
    uint8_t *rgb = malloc((size_t)NIMG * SIZE * SIZE * 3);
    for (int i = 0; i < NIMG; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "quality/img%d.png", i);
        uint8_t *im = NULL;
        int w = 0, h = 0;
        int st = vimg_read_png(check_data(rel), &im, &w, &h);
        CHECK(st == 0 && w == SIZE && h == SIZE, "%s: %s", rel, varcl_last_error());
        if (st || w != SIZE || h != SIZE) {
            free(im);
            free(rgb);
            return;
        }
        memcpy(rgb + (size_t)i * SIZE * SIZE * 3, im, (size_t)SIZE * SIZE * 3);
        free(im);
    }
    float *wl = tensor(want, "logits", NIMG * 10), *wf = tensor(want, "features", NIMG * 64);
    vcls_model m;
    int st = vcls_load(&m, &rt, cls);
    CHECK(st == 0, "vcls_load: %s", varcl_last_error());
    if (st || !wl || !wf) {
        free(rgb), free(wl), free(wf);
        return;
    }
    CHECK(m.classes == 10 && m.features == 64, "shapes read from the file: %d classes, %d features", m.classes,
          m.features);
    float logits[NIMG * 10], feats[NIMG * 64];
    st = vcls_forward(&m, rgb, NIMG, SIZE, logits, feats);
    CHECK(st == 0, "vcls_forward: %s", varcl_last_error());
    double el = check_rel_l2(logits, wl, NIMG * 10), ef = check_rel_l2(feats, wf, NIMG * 64);
    CHECK(el < 1e-5 && check_max_abs(logits, wl, NIMG * 10) < 1e-4, "logits vs numpy: rel %.3g, max %.3g", el,
          check_max_abs(logits, wl, NIMG * 10));
    CHECK(ef < 1e-5, "features vs numpy: rel %.3g", ef);
    printf("classifier vs numpy_forward (%s weights): logits rel %.3g, features rel %.3g\n",
           m.gemm.packed ? "packed" : "[K][N]", el, ef);
    /* 70 images: three device passes of up to 32, the last one short; every image as alone */
    enum { MANY = 70 };
    uint8_t *many = malloc((size_t)MANY * SIZE * SIZE * 3);
    float *ml = malloc((size_t)MANY * 10 * sizeof *ml);
    for (int i = 0; i < MANY; i++)
        memcpy(many + (size_t)i * SIZE * SIZE * 3, rgb + (size_t)(i % NIMG) * SIZE * SIZE * 3, (size_t)SIZE * SIZE * 3);
    st = vcls_forward(&m, many, MANY, SIZE, ml, NULL);
    CHECK(st == 0, "vcls_forward of %d images: %s", MANY, varcl_last_error());
    double worst = 0;
    for (int i = 0; i < MANY && !st; i++) {
        double e = check_max_abs(ml + (size_t)i * 10, logits + (size_t)(i % NIMG) * 10, 10);
        if (e > worst) worst = e;
    }
    CHECK(!st && worst < 1e-4, "grouped logits equal the single ones (max diff %.3g)", worst);
    /* a 512 px image is averaged over 8 x 8 blocks: a 2x nearest up-sampling gives the same input */
    uint8_t *big = malloc((size_t)512 * 512 * 3);
    for (int y = 0; y < 512; y++)
        for (int x = 0; x < 512; x++) memcpy(big + ((size_t)y * 512 + x) * 3, rgb + ((size_t)(y / 2) * SIZE + x / 2) * 3, 3);
    float bl[10];
    st = vcls_forward(&m, big, 1, 512, bl, NULL);
    CHECK(st == 0 && check_max_abs(bl, logits, 10) < 1e-4, "512 px input: %s", st ? varcl_last_error() : "ok");
    CHECK(vcls_forward(&m, rgb, 1, 100, bl, NULL) == VARCL_E_INPUT, "100 px refused (not a multiple of 64)");
    CHECK(vcls_forward(&m, rgb, 0, SIZE, bl, NULL) == VARCL_E_INPUT, "no images refused");
    vcls_release(&m);
    free(big), free(many), free(ml), free(rgb), free(wl), free(wf);
}

/* A copy of the classifier without `drop`, or with `conv1.weight` of the wrong input channels when drop is NULL. */
static vt_set *broken(const vt_set *cls, const char *drop)
{
    vt_set *s = vt_new("broken classifier");
    for (int i = 0; s && i < vt_count(cls); i++) {
        const vt_tensor *t = vt_at(cls, i);
        if (drop && !strcmp(t->name, drop)) continue;
        float *f = vt_dup_f32(t);
        int64_t shape[VT_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if (!drop && !strcmp(t->name, "conv1.weight")) {
            shape[1] = 8; /* 32 x 8 x 3 x 3: fewer elements, so the data still fits */
        }
        vt_add_f32(s, t->name, t->ndim, shape, f);
    }
    return s;
}

static void test_refusals(const vt_set *cls)
{
    size_t live = rt.mem.stats.live_total;
    vt_set *a = broken(cls, "fc.bias"), *b = broken(cls, NULL);
    vcls_model m;
    int st = vcls_load(&m, &rt, a);
    CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), "fc.bias"), "missing fc.bias: %s", varcl_last_error());
    st = vcls_load(&m, &rt, b);
    CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), "conv1.weight"), "conv1 of 8 input channels: %s",
          varcl_last_error());
    CHECK(rt.mem.stats.live_total == live, "a refused load leaves nothing allocated");
    vt_free(a);
    vt_free(b);
}

static void test_frechet(const vt_set *want)
{
    float *fa = tensor(want, "feats_a", 40 * 64), *fb = tensor(want, "feats_b", 30 * 64), *fd = tensor(want, "fd", 1);
    if (!fa || !fb || !fd) {
        free(fa), free(fb), free(fd);
        return;
    }
    enum { D = 64 };
    double *ma = malloc(D * sizeof *ma), *mb = malloc(D * sizeof *mb);
    double *sa = malloc(D * D * sizeof *sa), *sb = malloc(D * D * sizeof *sb);
    CHECK(vfd_moments(fa, 40, D, ma, sa) == 0 && vfd_moments(fb, 30, D, mb, sb) == 0, "moments");
    double got = -1;
    int st = vfd_distance(ma, sa, mb, sb, D, &got);
    CHECK(st == 0 && fabs(got - fd[0]) <= 1e-5 * fd[0], "FD %.6f vs numpy %.6f: %s", got, fd[0],
          st ? varcl_last_error() : "ok");
    printf("Frechet distance: %.6f, numpy %.6f\n", got, fd[0]);
    double self = -1, back = -1;
    CHECK(vfd_distance(ma, sa, ma, sa, D, &self) == 0 && self >= 0 && self < 1e-6 * fd[0], "FD(a, a) = %.3g", self);
    CHECK(vfd_distance(mb, sb, ma, sa, D, &back) == 0 && fabs(back - got) <= 1e-6 * got, "symmetric: %.6f vs %.6f",
          back, got);
    /* the same set shifted by (0.5, ..., 0.5): FD = |shift|^2 = 64 * 0.25 */
    for (int i = 0; i < D; i++) mb[i] = ma[i] + 0.5;
    double shift = -1;
    CHECK(vfd_distance(ma, sa, mb, sa, D, &shift) == 0 && fabs(shift - 16.0) < 1e-4, "shifted mean: FD %.9f", shift);
    /* sample covariances pass the covariance check; a negative variance, an asymmetric or an indefinite matrix not */
    CHECK(vfd_check_covariance(sa, D, "a") == 0 && vfd_check_covariance(sb, D, "b") == 0, "covariances: %s",
          varcl_last_error());
    double keep = sa[1];
    sa[1] += 1.0 + fabs(sa[1]);
    CHECK(vfd_check_covariance(sa, D, "a") == VARCL_E_INPUT && strstr(varcl_last_error(), "not symmetric"),
          "asymmetric: %s", varcl_last_error());
    sa[1] = keep;
    keep = sa[D + 1];
    sa[D + 1] = -1;
    CHECK(vfd_check_covariance(sa, D, "a") == VARCL_E_INPUT && strstr(varcl_last_error(), "below 0"),
          "negative variance: %s", varcl_last_error());
    sa[D + 1] = keep;
    double *ind = calloc((size_t)D * D, sizeof *ind);
    for (int i = 0; ind && i < D; i++) ind[(size_t)i * D + i] = 1;
    if (ind) ind[1] = ind[D] = 2; /* eigenvalues 3 and -1 in the first two dimensions */
    CHECK(ind && vfd_check_covariance(ind, D, "i") == VARCL_E_INPUT && strstr(varcl_last_error(), "eigenvalue"),
          "indefinite: %s", varcl_last_error());
    free(ind);
    CHECK(vfd_moments(fa, 1, D, ma, sa) == VARCL_E_INPUT, "one vector refused");
    sa[5] = NAN;
    CHECK(vfd_distance(ma, sa, ma, sb, D, &self) == VARCL_E_INPUT, "non-finite statistics refused");
    free(ma), free(mb), free(sa), free(sb), free(fa), free(fb), free(fd);
}

static void test_fd_ref_format(void)
{
    vt_set *s = st_load(check_data("quality/fd_ref.safetensors"));
    CHECK(s != NULL, "fd_ref: %s", varcl_last_error());
    if (!s) return;
    const vt_tensor *mu = vt_find(s, "mu"), *sg = vt_find(s, "sigma");
    CHECK(mu && mu->dtype == VT_F32 && mu->ndim == 1 && mu->shape[0] == 64, "mu: F32 [64]");
    CHECK(sg && sg->dtype == VT_F32 && sg->ndim == 2 && sg->shape[0] == 64 && sg->shape[1] == 64, "sigma: F32 [64, 64]");
    if (sg && sg->numel == 64 * 64) {
        float *f = vt_dup_f32(sg);
        double asym = 0, diag = INFINITY;
        for (int i = 0; i < 64; i++) {
            if (f[i * 65] < diag) diag = f[i * 65];
            for (int j = 0; j < 64; j++) asym = fmax(asym, fabs(f[i * 64 + j] - f[j * 64 + i]));
        }
        CHECK(asym == 0 && diag >= 0, "sigma symmetric (%.3g) with a non-negative diagonal (min %.3g)", asym, diag);
        free(f);
    }
    vt_free(s);
}

static void test_split_requests(void)
{
    varcl_open_params op = VARCL_OPEN_DEFAULT;
    char var[4096], vae[4096];
    snprintf(var, sizeof var, "%s", check_data("upstream-tiny/var.safetensors"));
    snprintf(vae, sizeof vae, "%s", check_data("upstream-tiny/vae.safetensors"));
    op.model_path = var;
    op.vae_path = vae;
    varcl *v = varcl_open(&op);
    CHECK(v != NULL, "tiny model: %s", varcl_last_error());
    if (!v) return;
    /* vbench's measurement: groups of 3 images (4 requests) and of 10 (one) measure the same */
    vt_set *cls = st_load(check_data("quality/classifier.safetensors"));
    vt_set *ref = st_load(check_data("quality/fd_ref.safetensors"));
    vbq q;
    int st = cls && ref ? vbq_open(&q, v, cls, ref) : VARCL_E_INPUT;
    CHECK(st == 0, "vbq_open: %s", varcl_last_error());
    if (!st) {
        varcl_request base = VARCL_REQUEST_DEFAULT;
        base.depth = 2;
        base.seed = 4;
        vbq_result r1, r2;
        int s1 = vbq_measure(&q, v, &base, 1, 3, &r1), s2 = vbq_measure(&q, v, &base, 1, 10, &r2);
        CHECK(s1 == 0 && s2 == 0, "vbq_measure: %s", varcl_last_error());
        CHECK(!s1 && !s2 && r1.images == 10 && r1.accuracy == r2.accuracy && r1.fd == r2.fd && r1.fd > 0 &&
                  r1.accuracy >= 0 && r1.accuracy <= 1,
              "groups of 3 and of 10: accuracy %.3f / %.3f, FD %.9g / %.9g", r1.accuracy, r2.accuracy, r1.fd, r2.fd);
        CHECK(vbq_measure(&q, v, &base, 0, 10, &r1) == VARCL_E_INPUT, "no images refused");
        vbq_close(&q);
    }
    vt_free(cls);
    vt_free(ref);
    varcl_close(v);
}

int main(void)
{
    int st = vr_open(&rt, NULL, 0);
    CHECK(st == 0, "vr_open: %s", varcl_last_error());
    if (st) return check_done();
    printf("device: %s (%s)\n", rt.dev.name, rt.dev.platform_name);
    vt_set *cls = st_load(check_data("quality/classifier.safetensors"));
    vt_set *want = st_load(check_data("quality/expected.safetensors"));
    CHECK(cls && want, "fixture: %s", varcl_last_error());
    if (cls && want) {
        test_classifier(cls, want);
        test_refusals(cls);
        test_frechet(want);
    }
    test_fd_ref_format();
    test_split_requests();
    vt_free(cls);
    vt_free(want);
    CHECK(rt.mem.stats.live_total == 0, "all buffers released (%zu bytes live)", rt.mem.stats.live_total);
    vr_close(&rt);
    return check_done();
}
