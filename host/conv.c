/* conv: im2col + GEMM convolutions (see conv.h). */
#include "conv.h"

#include "error.h"

#define COL_CAP_BYTES ((size_t)128 << 20) /* im2col chunk bound (the real decoder at 256 px needs 377 MB); larger chunks keep CLBlast efficient (pocl: 64 MB chunks 44, 128 MB 56 GFLOP/s) */

int vc_init(vc_conv *c, vr_runtime *rt, vg_gemm *gemm)
{
    c->rt = rt;
    c->gemm = gemm;
    c->col = NULL;
    c->col_bytes = 0;
    c->col_cap = COL_CAP_BYTES;
    if (rt->mem.max_alloc && c->col_cap > rt->mem.max_alloc) c->col_cap = rt->mem.max_alloc;
    if (!(c->k_im2col = vr_kernel(rt, "im2col3x3")) || !(c->k_bias = vr_kernel(rt, "add_bias"))) return VARCL_E_RUNTIME;
    return 0;
}

void vc_release(vc_conv *c)
{
    if (c->col) vm_free(&c->rt->mem, c->col);
    c->col = NULL;
    c->col_bytes = 0;
}

int vc_forward_nobias(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out)
{
    int H = Hin * up, W = Win * up, rows = B * H * W, st;
    if (w->k == 1) {
        if (up != 1) return varcl_fail(VARCL_E_RUNTIME, "internal: 1x1 convolution with up-sampling");
        if ((st = vg_linear(c->gemm, in, 0, w->wt, 0, out, 0, (size_t)rows, (size_t)w->cout, (size_t)w->cin)))
            return st;
    } else {
        size_t row_bytes = (size_t)9 * w->cin * sizeof(float);
        int chunk = (int)(c->col_cap / row_bytes);
        if (chunk < 1) chunk = 1;
        if (chunk > rows) chunk = rows;
        if ((size_t)chunk * row_bytes > c->col_bytes) {
            vc_release(c);
            if (!(c->col = vm_alloc(&c->rt->mem, VM_SCRATCH, (size_t)chunk * row_bytes, "im2col buffer")))
                return VARCL_E_RUNTIME;
            c->col_bytes = (size_t)chunk * row_bytes;
        }
        for (int row0 = 0; row0 < rows; row0 += chunk) {
            int n = rows - row0 < chunk ? rows - row0 : chunk, K = 9 * w->cin;
            size_t g[2] = {9, (size_t)n};
            if ((st = vr_launch(c->rt, c->k_im2col, "im2col3x3", 2, g, NULL, 8, VR_ARG(in), VR_ARG(c->col),
                                VR_ARG(Hin), VR_ARG(Win), VR_ARG(w->cin), VR_ARG(up), VR_ARG(row0), VR_ARG(n))))
                return st;
            if ((st = vg_linear(c->gemm, c->col, 0, w->wt, 0, out, (size_t)row0 * w->cout, (size_t)n, (size_t)w->cout,
                                (size_t)K)))
                return st;
        }
    }
    return 0;
}

int vc_forward(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out)
{
    int st = vc_forward_nobias(c, w, in, B, Hin, Win, up, out);
    if (st) return st;
    int total = B * Hin * up * Win * up * w->cout;
    size_t g = (size_t)total;
    int off = 0;
    return vr_launch(c->rt, c->k_bias, "add_bias", 1, &g, NULL, 5, VR_ARG(out), VR_ARG(w->b), VR_ARG(total),
                     VR_ARG(w->cout), VR_ARG(off));
}
