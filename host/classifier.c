/* classifier: the quality classifier on the engine's kernels (see classifier.h). */
#include "classifier.h"

#include "error.h"
#include "wload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Images per device pass: bounds the device memory (at 64 px and 16 channels, conv0's output is 256 KB per image,
 * its im2col columns 432 KB; a 256 px input 192 KB) at a few tens of MB, while keeping the products tall. */
#define GROUP 32

static cl_mem upload(vcls_model *m, const vt_set *s, const char *name, int ndim, const int64_t *shape,
                     wl_layout layout, vt_dtype *dtype)
{
    const vt_tensor *t = vt_require(s, name, ndim, shape);
    if (!t) return NULL;
    /* f32 on every device: the classifier is small, and every product path reads f32 */
    wl_form f = {layout, m->gemm.packed, VT_F32};
    varcl_clear_error();
    cl_mem b = wl_upload(&m->rt->mem, VM_WEIGHTS, s, t, &f, 1, NULL, name);
    if (b && dtype) *dtype = VT_F32;
    return b;
}

static int fail_status(void) { return varcl_last_status() ? varcl_last_status() : VARCL_E_RUNTIME; }

int vcls_load(vcls_model *m, vr_runtime *rt, const vt_set *s)
{
    memset(m, 0, sizeof *m);
    m->rt = rt;
    int st = vg_init(&m->gemm, rt);
    if (st) return st;
    m->have_gemm = 1;
    if ((st = vc_init(&m->conv, rt, &m->gemm))) {
        vcls_release(m);
        return st;
    }
    m->have_conv = 1;
    if (!(m->k_down = vr_kernel(rt, "box_down_u8")) || !(m->k_pool = vr_kernel(rt, "relu_maxpool2")) ||
        !(m->k_mean = vr_kernel(rt, "mean_pixels"))) {
        vcls_release(m);
        return VARCL_E_RUNTIME;
    }
    m->channels[0] = 3;
    char wn[32], bn[32];
    for (int i = 0; i < VCLS_STAGES; i++) {
        snprintf(wn, sizeof wn, "conv%d.weight", i);
        snprintf(bn, sizeof bn, "conv%d.bias", i);
        /* the output channels are the file's; the input channels must be the previous stage's */
        int64_t wshape[4] = {-1, m->channels[i], 3, 3};
        const vt_tensor *t = vt_require(s, wn, 4, wshape);
        if (!t) {
            vcls_release(m);
            return VARCL_E_INPUT;
        }
        if (t->shape[0] < 1 || t->shape[0] > 4096) {
            vcls_release(m);
            return varcl_fail(VARCL_E_INPUT, "%s: %s has %lld output channels (expected 1 .. 4096)", vt_origin(s), wn,
                              (long long)t->shape[0]);
        }
        int cout = (int)t->shape[0];
        int64_t bshape[1] = {cout};
        vw_conv *c = &m->stage[i];
        c->cin = m->channels[i];
        c->cout = cout;
        c->k = 3;
        c->wino = 0; /* im2col: few channels and small maps, where Winograd's extra launches do not pay */
        c->wt.buf = upload(m, s, wn, 4, wshape, WL_CONV, &c->wt.dtype);
        c->b = c->wt.buf ? upload(m, s, bn, 1, bshape, WL_PLAIN, NULL) : NULL;
        if (!c->b) {
            st = fail_status();
            vcls_release(m);
            return st;
        }
        m->channels[i + 1] = cout;
    }
    m->features = m->channels[VCLS_STAGES];
    int64_t fshape[2] = {-1, m->features};
    const vt_tensor *fc = vt_require(s, "fc.weight", 2, fshape);
    if (!fc || fc->shape[0] < 1 || fc->shape[0] > 100000) {
        vcls_release(m);
        return fc ? varcl_fail(VARCL_E_INPUT, "%s: fc.weight has %lld classes (expected 1 .. 100000)", vt_origin(s),
                               (long long)fc->shape[0])
                  : VARCL_E_INPUT;
    }
    m->classes = (int)fc->shape[0];
    int64_t fbshape[1] = {m->classes};
    m->fc_wt.buf = upload(m, s, "fc.weight", 2, fshape, WL_LINEAR, &m->fc_wt.dtype);
    m->fc_b = m->fc_wt.buf ? upload(m, s, "fc.bias", 1, fbshape, WL_PLAIN, NULL) : NULL;
    if (!m->fc_b || (st = vr_finish(rt))) { /* vr_finish: the queued uploads */
        st = m->fc_b ? st : fail_status();
        vcls_release(m);
        return st;
    }
    return 0;
}

void vcls_release(vcls_model *m)
{
    if (!m->rt) return;
    for (int i = 0; i < VCLS_STAGES; i++) {
        vm_free(&m->rt->mem, m->stage[i].wt.buf);
        vm_free(&m->rt->mem, m->stage[i].b);
    }
    vm_free(&m->rt->mem, m->fc_wt.buf);
    vm_free(&m->rt->mem, m->fc_b);
    if (m->have_conv) vc_release(&m->conv);
    if (m->have_gemm) vg_release(&m->gemm);
    memset(m, 0, sizeof *m);
}

/* One group of g images: rgb (device, [g][size][size][3]) -> logits/features of images i0 .. i0 + g - 1. a and b
 * are ping-pong activations of act_elems floats each. */
static int group(vcls_model *m, cl_mem rgb, int g, int size, cl_mem a, cl_mem b, float *logits, float *features,
                 int i0)
{
    vr_runtime *rt = m->rt;
    int side = VCLS_SIDE, st;
    size_t gs = (size_t)g * side * side;
    if ((st = vr_launch(rt, m->k_down, "box_down_u8", 1, &gs, vr_elem_local(rt), 5, VR_ARG(rgb), VR_ARG(a), VR_ARG(g),
                        VR_ARG(size), VR_ARG(side))))
        return st;
    int h = side;
    for (int i = 0; i < VCLS_STAGES; i++, h /= 2) {
        const vw_conv *c = &m->stage[i];
        /* a [g][h][h][cin] -> b [g][h][h][cout] (conv + bias) -> a [g][h/2][h/2][cout] (ReLU, max-pool) */
        if ((st = vc_forward(&m->conv, c, a, g, h, h, 1, b))) return st;
        size_t n = (size_t)g * (h / 2) * (h / 2) * c->cout;
        if ((st = vr_launch(rt, m->k_pool, "relu_maxpool2", 1, &n, vr_elem_local(rt), 6, VR_ARG(b), VR_ARG(a),
                            VR_ARG(g), VR_ARG(h), VR_ARG(h), VR_ARG(c->cout))))
            return st;
    }
    /* a [g][h][h][F] -> b [g][F] (features) -> a [g][classes] (logits) */
    int P = h * h, F = m->features;
    size_t n = (size_t)g * F;
    if ((st = vr_launch(rt, m->k_mean, "mean_pixels", 1, &n, vr_elem_local(rt), 5, VR_ARG(a), VR_ARG(b), VR_ARG(g),
                        VR_ARG(P), VR_ARG(F))) ||
        (st = vg_linear_act(&m->gemm, b, 0, m->fc_wt, 0, a, 0, (size_t)g, (size_t)m->classes, (size_t)F, m->fc_b,
                            VG_ACT_BIAS)))
        return st;
    if (features && (st = vr_read(rt, b, 0, n * sizeof(float), features + (size_t)i0 * F))) return st;
    if (logits && (st = vr_read(rt, a, 0, (size_t)g * m->classes * sizeof(float), logits + (size_t)i0 * m->classes)))
        return st;
    return 0;
}

int vcls_forward(vcls_model *m, const uint8_t *rgb, int n, int size, float *logits, float *features)
{
    if (n < 1 || size < VCLS_SIDE || size % VCLS_SIDE || size > 16384)
        return varcl_fail(VARCL_E_INPUT, "classifier: %d images of %d px (need at least one, of a multiple of %d px)",
                          n, size, VCLS_SIDE);
    int G = n < GROUP ? n : GROUP;
    /* the largest activation: the input or any stage's convolution output (before pooling), or the logits */
    size_t act = (size_t)VCLS_SIDE * VCLS_SIDE * 3, h = VCLS_SIDE;
    for (int i = 0; i < VCLS_STAGES; i++, h /= 2)
        if (h * h * (size_t)m->stage[i].cout > act) act = h * h * (size_t)m->stage[i].cout;
    if ((size_t)m->classes > act) act = (size_t)m->classes;
    size_t img_bytes = (size_t)size * size * 3;
    cl_mem d_rgb = vm_alloc(&m->rt->mem, VM_ACT, (size_t)G * img_bytes, "classifier input");
    cl_mem a = d_rgb ? vm_alloc(&m->rt->mem, VM_ACT, (size_t)G * act * sizeof(float), "classifier activations") : NULL;
    cl_mem b = a ? vm_alloc(&m->rt->mem, VM_ACT, (size_t)G * act * sizeof(float), "classifier activations") : NULL;
    int st = b ? 0 : VARCL_E_RUNTIME;
    for (int i0 = 0; i0 < n && !st; i0 += G) {
        int g = n - i0 < G ? n - i0 : G;
        st = vr_write(m->rt, d_rgb, 0, (size_t)g * img_bytes, rgb + (size_t)i0 * img_bytes);
        if (!st) st = group(m, d_rgb, g, size, a, b, logits, features, i0);
    }
    vm_free(&m->rt->mem, d_rgb);
    vm_free(&m->rt->mem, a);
    vm_free(&m->rt->mem, b);
    return st;
}
