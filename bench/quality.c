/* quality: vbench --quality's measurement at one depth (see quality.h). */
#include "quality.h"

#include "error.h"
#include "frechet.h"
#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest |mu|^2 + tr(sigma) of a reference: features of magnitude up to ~1e4 in 4096 dimensions stay below it,
 * and FDs against them stay far below the 2^64 the report records. */
#define VBQ_MAX_REF 1e15

static int check_reference(const vt_set *ref, const vt_tensor *mu, const vt_tensor *sg, int64_t F);

int vbq_check(const vt_set *cls, const vt_set *ref, int *classes)
{
    const vt_tensor *fc = vt_find(cls, "fc.weight");
    if (!fc || fc->ndim != 2 || fc->shape[0] < 1 || fc->shape[1] < 1 || fc->shape[0] > 100000 || fc->shape[1] > 4096)
        return varcl_fail(VARCL_E_INPUT, "%s: not a classifier: no fc.weight [classes][features] (see "
                          "models/recipe/classifier.py)", vt_origin(cls));
    int64_t F = fc->shape[1];
    const vt_tensor *mu = vt_find(ref, "mu"), *sg = vt_find(ref, "sigma");
    if (!mu || mu->dtype != VT_F32 || mu->ndim != 1 || mu->shape[0] != F)
        return varcl_fail(VARCL_E_INPUT, "%s: expected an F32 tensor mu [%lld] (the classifier's %lld features; see "
                          "models/recipe/fd_ref.py)", vt_origin(ref), (long long)F, (long long)F);
    if (!sg || sg->dtype != VT_F32 || sg->ndim != 2 || sg->shape[0] != F || sg->shape[1] != F)
        return varcl_fail(VARCL_E_INPUT, "%s: expected an F32 tensor sigma [%lld, %lld]", vt_origin(ref), (long long)F,
                          (long long)F);
    int st = vt_read_pages(ref, mu);
    if (st || (st = vt_read_pages(ref, sg))) {
        vt_release_pages(ref, mu);
        return st;
    }
    const float *m = mu->data, *s = sg->data;
    int64_t bad = -1;
    for (int64_t i = 0; i < F * F && bad < 0; i++)
        if (!isfinite(s[i]) || (i < F && !isfinite(m[i]))) bad = i;
    vt_release_pages(ref, mu);
    vt_release_pages(ref, sg);
    if (bad >= 0)
        return varcl_fail(VARCL_E_INPUT, "%s: the reference statistics hold a non-finite value", vt_origin(ref));
    return check_reference(ref, mu, sg, F) ? varcl_last_status() : (*classes = (int)fc->shape[0], 0);
}

/* sigma a covariance (a matrix of another kind gave an FD of 0: vfd_distance's clamp), and mu and sigma on the scale
 * of features, where an FD fits the report (a mu of 3e38 gave an FD of 6e78, refused by the report after the run) */
static int check_reference(const vt_set *ref, const vt_tensor *mu, const vt_tensor *sg, int64_t F)
{
    double *s = malloc((size_t)(F * F) * sizeof *s);
    if (!s) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    int st = vt_read_pages(ref, mu);
    if (st || (st = vt_read_pages(ref, sg))) {
        vt_release_pages(ref, mu);
        free(s);
        return st;
    }
    double size = 0; /* |mu|^2 + tr(sigma): the FD against features at 0 */
    for (int64_t i = 0; i < F * F; i++) s[i] = ((const float *)sg->data)[i];
    for (int64_t i = 0; i < F; i++) {
        double m = ((const float *)mu->data)[i];
        size += m * m + s[i * F + i];
    }
    vt_release_pages(ref, mu);
    vt_release_pages(ref, sg);
    char what[4200];
    snprintf(what, sizeof what, "%s: sigma", vt_origin(ref));
    st = vfd_check_covariance(s, (int)F, what);
    free(s);
    if (!st && !(size <= VBQ_MAX_REF))
        st = varcl_fail(VARCL_E_INPUT, "%s: |mu|^2 + tr(sigma) is %g, over %g: not the statistics of classifier "
                        "features (see models/recipe/fd_ref.py)", vt_origin(ref), size, VBQ_MAX_REF);
    return st;
}

int vbq_open(vbq *q, varcl *v, const vt_set *cls, const vt_set *ref)
{
    memset(q, 0, sizeof *q);
    int st = vbq_check(cls, ref, &q->classes);
    if (st) return st;
    const vt_tensor *mu = vt_find(ref, "mu"), *sg = vt_find(ref, "sigma");
    q->features = (int)mu->shape[0];
    size_t F = (size_t)q->features;
    q->mu = malloc(F * sizeof *q->mu);
    q->sigma = malloc(F * F * sizeof *q->sigma);
    if (!q->mu || !q->sigma) {
        vbq_close(q);
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    }
    if ((st = vt_read_pages(ref, mu)) || (st = vt_read_pages(ref, sg))) {
        vt_release_pages(ref, mu);
        vbq_close(q);
        return st;
    }
    for (size_t i = 0; i < F; i++) q->mu[i] = ((const float *)mu->data)[i];
    for (size_t i = 0; i < F * F; i++) q->sigma[i] = ((const float *)sg->data)[i];
    vt_release_pages(ref, mu);
    vt_release_pages(ref, sg);
    if ((st = vcls_load(&q->cls, varcl_runtime(v), cls))) {
        vbq_close(q);
        return st;
    }
    return 0;
}

void vbq_close(vbq *q)
{
    vcls_release(&q->cls);
    free(q->mu);
    free(q->sigma);
    memset(q, 0, sizeof *q);
}

int vbq_measure(vbq *q, varcl *v, const varcl_request *base, int per_class, int batch, vbq_result *r)
{
    memset(r, 0, sizeof *r);
    int C = q->classes;
    if (per_class < 1 || (long long)per_class * C > 1000000 || per_class * C < 2)
        return varcl_fail(VARCL_E_INPUT, "--quality %d: %d classes need 2 to 1000000 images in all", per_class, C);
    int n = per_class * C, F = q->features;
    int *labels = malloc((size_t)n * sizeof *labels);
    uint32_t *ids = malloc((size_t)n * sizeof *ids);
    float *logits = malloc((size_t)n * C * sizeof *logits), *feats = malloc((size_t)n * F * sizeof *feats);
    double *mu = malloc((size_t)F * sizeof *mu), *sigma = malloc((size_t)F * F * sizeof *sigma);
    int st = labels && ids && logits && feats && mu && sigma ? 0 : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; i < n && !st; i++) {
        labels[i] = i % C;
        ids[i] = (uint32_t)i;
    }
    /* one request per group of `batch` images, classified as they come, so host memory holds one group's pictures.
     * The same images as one request of all: image_ids keep each image's index in the random numbers, and
     * pad_passes runs every pass at `batch` rows, so an image's arithmetic does not depend on its group. */
    int correct = 0;
    for (int i0 = 0; i0 < n && !st; i0 += batch) {
        varcl_request rq = *base;
        rq.labels = labels + i0;
        rq.n = n - i0 < batch ? n - i0 : batch;
        rq.image_ids = ids + i0;
        rq.batch = batch;
        rq.pad_passes = 1;
        rq.skip_decode = 0;
        rq.keep_fhat = 0;
        varcl_images out;
        if ((st = varcl_generate(v, &rq, &out))) break;
        st = vcls_forward(&q->cls, out.rgb, rq.n, out.size, logits + (size_t)i0 * C, feats + (size_t)i0 * F);
        varcl_images_free(&out);
    }
    for (int i = 0; i < n && !st; i++) {
        const float *l = logits + (size_t)i * C;
        int best = 0;
        for (int k = 1; k < C; k++)
            if (l[k] > l[best]) best = k;
        correct += best == labels[i];
    }
    if (!st) st = vfd_moments(feats, n, F, mu, sigma);
    if (!st) st = vfd_distance(mu, sigma, q->mu, q->sigma, F, &r->fd);
    if (!st && !(r->fd <= 1e18)) /* the reference is bounded (vbq_check): these are the generated images' features */
        st = varcl_fail(VARCL_E_INPUT, "FD %g: the classifier's features of the generated images are not on the "
                        "scale of the reference statistics (--classifier and --fd-ref from one fd_ref.py run?)", r->fd);
    if (!st) {
        r->accuracy = (double)correct / n;
        r->images = n;
        r->per_class = per_class;
    }
    free(labels), free(ids), free(logits), free(feats), free(mu), free(sigma);
    return st;
}
