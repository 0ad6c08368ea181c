/* conv: 3x3 convolutions by Winograd F(2x2, 3x3) / F(4x4, 3x3) or im2col, 1x1 as one GEMM (see conv.h). */
#include "conv.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

/* Scratch bound for one chunk of any 3x3 path (the real decoder at 256 px would need 377 MB of im2col, or
 * 336 MB of Winograd F(2x2) V + M, unchunked); larger im2col chunks keep CLBlast efficient (pocl: 64 MB chunks
 * 44, 128 MB 56 GFLOP/s). */
#define SCRATCH_CAP_BYTES ((size_t)128 << 20)

int vc_init(vc_conv *c, vr_runtime *rt, vg_gemm *gemm)
{
    c->rt = rt;
    c->gemm = gemm;
    c->scratch = NULL;
    c->scratch_bytes = 0;
    c->scratch_cap = SCRATCH_CAP_BYTES;
    c->zero = NULL;
    c->zero_floats = 0;
    if (rt->mem.max_alloc && c->scratch_cap > rt->mem.max_alloc) c->scratch_cap = rt->mem.max_alloc;
    /* float4s per transform work-item and tiles per chunk: the device's policy (policy.h) */
    c->wino_cpw = rt->policy.wino_cpw;
    c->wino_chunk_tiles = rt->policy.wino_chunk_tiles;
    if (!(c->k_im2col = vr_kernel(rt, "im2col3x3")) || !(c->k_im2col_simt = vr_kernel(rt, "im2col3x3_simt")) ||
        !(c->k_wino2_in = vr_kernel(rt, "wino2_input")) || !(c->k_wino2_out = vr_kernel(rt, "wino2_output")) ||
        !(c->k_wino4_in = vr_kernel(rt, "wino4_input")) || !(c->k_wino4_out = vr_kernel(rt, "wino4_output")) ||
        !(c->k_wino_lane_in[0] = vr_kernel(rt, "wino2_input_lane")) ||
        !(c->k_wino_lane_out[0] = vr_kernel(rt, "wino2_output_lane")) ||
        !(c->k_wino_lane_in[1] = vr_kernel(rt, "wino4_input_lane")) ||
        !(c->k_wino_lane_out[1] = vr_kernel(rt, "wino4_output_lane")) ||
        !(c->k_direct[0] = vr_kernel(rt, "conv3x3_simt8")) || !(c->k_direct[1] = vr_kernel(rt, "conv3x3_simt8_f16")) ||
        !(c->k_direct[2] = vr_kernel(rt, "conv3x3_simt8_bf16")))
        return VARCL_E_RUNTIME;
    return 0;
}

void vc_release(vc_conv *c)
{
    if (c->scratch) vm_free(&c->rt->mem, c->scratch);
    c->scratch = NULL;
    c->scratch_bytes = 0;
    if (c->zero) vm_free(&c->rt->mem, c->zero);
    c->zero = NULL;
    c->zero_floats = 0;
}

/* conv3x3_simt8 (the columns read in place) for w over `pixels` output pixels: where the policy runs the plain
 * products through linear_simt8 (policy.h conv_direct), the output channels a multiple of 8, not Winograd */
static int direct(const vc_conv *c, const vw_conv *w, int pixels)
{
    return c->rt->policy.conv_direct && c->gemm->simt && c->gemm->simt_cols == 8 && w->k == 3 && !w->wino &&
           w->cout % 8 == 0 && pixels > 0;
}

/* The zero row conv3x3_simt8 reads outside the map: at least cin floats. */
static int zero_row(vc_conv *c, int cin)
{
    if ((size_t)cin <= c->zero_floats) return 0;
    if (c->zero) vm_free(&c->rt->mem, c->zero);
    c->zero_floats = 0;
    float *h = calloc((size_t)cin, sizeof *h);
    if (!h) return varcl_fail(VARCL_E_RUNTIME, "out of host memory (%d zeros)", cin);
    c->zero = vm_alloc_copy(&c->rt->mem, VM_SCRATCH, (size_t)cin * sizeof *h, h, "convolution zero row");
    free(h);
    if (!c->zero) return VARCL_E_RUNTIME;
    c->zero_floats = (size_t)cin;
    return 0;
}

/* Rows (im2col: pixels, Winograd: tiles) per chunk for `row_bytes` of scratch each, at most `rows`. */
static int chunk_size(const vc_conv *c, size_t row_bytes, int rows)
{
    size_t chunk = c->scratch_cap / row_bytes;
    if (chunk < 1) chunk = 1;
    if (chunk > (size_t)rows) chunk = (size_t)rows;
    return (int)chunk;
}

/* Grows the scratch to `bytes` (the old one freed first; the zero row stays). */
static int reserve_scratch(vc_conv *c, size_t bytes)
{
    if (bytes <= c->scratch_bytes) return 0;
    if (c->scratch) vm_free(&c->rt->mem, c->scratch);
    c->scratch = NULL;
    c->scratch_bytes = 0;
    if (!(c->scratch = vm_alloc(&c->rt->mem, VM_SCRATCH, bytes, "convolution scratch"))) return VARCL_E_RUNTIME;
    c->scratch_bytes = bytes;
    return 0;
}

/* The chunk for `row_bytes` per row with the scratch grown to hold it; 0 on failure. */
static int chunk_rows(vc_conv *c, size_t row_bytes, int rows)
{
    int chunk = chunk_size(c, row_bytes, rows);
    return reserve_scratch(c, (size_t)chunk * row_bytes) ? 0 : chunk;
}

/* im2col: bytes of scratch per output pixel, col [9 * Cin] */
static size_t im2col_row_bytes(const vw_conv *w) { return (size_t)9 * w->cin * sizeof(float); }

/* Winograd F(m x m, 3x3): the output tiles of a B x (Hin up) x (Win up) map */
static int wino_tiles(const vw_conv *w, int B, int Hin, int Win, int up, int *TH, int *TW)
{
    int m = w->wino;
    *TH = (Hin * up + m - 1) / m;
    *TW = (Win * up + m - 1) / m;
    return B * *TH * *TW;
}

/* Winograd: bytes of scratch per tile, V [a*a][Cin] then M [a*a][Cout], and the tiles a chunk may hold at most */
static size_t wino_row_bytes(const vw_conv *w)
{
    size_t a2 = (size_t)(w->wino + 2) * (w->wino + 2);
    return a2 * ((size_t)w->cin + (size_t)w->cout) * sizeof(float);
}
static int wino_most(const vc_conv *c, int tiles)
{
    return c->wino_chunk_tiles && tiles > c->wino_chunk_tiles ? c->wino_chunk_tiles : tiles;
}

static int im2col_conv(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, int bias, cl_mem out)
{
    int rows = B * Hin * up * Win * up, K = 9 * w->cin, st;
    int chunk = chunk_rows(c, im2col_row_bytes(w), rows);
    if (!chunk) return VARCL_E_RUNTIME;
    for (int row0 = 0; row0 < rows; row0 += chunk) {
        int n = rows - row0 < chunk ? rows - row0 : chunk;
        /* the policy's shape: a (pixel, tap) per work-item, or a channel per work-item (SIMD lanes) */
        int simt = c->rt->policy.im2col_simt;
        size_t g[3] = {simt ? ((size_t)w->cin + 3) / 4 : 9, simt ? 9 : (size_t)n, (size_t)n};
        if ((st = vr_launch(c->rt, simt ? c->k_im2col_simt : c->k_im2col, simt ? "im2col3x3_simt" : "im2col3x3",
                            simt ? 3 : 2, g, NULL, 8, VR_ARG(in), VR_ARG(c->scratch),
                            VR_ARG(Hin), VR_ARG(Win), VR_ARG(w->cin), VR_ARG(up), VR_ARG(row0), VR_ARG(n))) ||
            (st = vg_linear_act(c->gemm, c->scratch, 0, w->wt, 0, out, (size_t)row0 * w->cout, (size_t)n,
                                (size_t)w->cout, (size_t)K, w->b, bias ? VG_ACT_BIAS : VG_ACT_NONE)))
            return st;
    }
    return 0;
}

/* The same convolution in one kernel that reads im2col's columns where they lie (cl/linear.cl conv3x3_simt8). */
static int direct_conv(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, int bias, cl_mem out)
{
    int rows = B * Hin * up * Win * up, st, row0 = 0, act = bias;
    if ((st = zero_row(c, w->cin))) return st;
    static const char *const names[3] = {"conv3x3_simt8", "conv3x3_simt8_f16", "conv3x3_simt8_bf16"};
    int d = w->wt.dtype == VT_F16 ? 1 : w->wt.dtype == VT_BF16 ? 2 : 0;
    cl_mem b = bias ? w->b : c->zero; /* any valid buffer where there is no bias: the kernel does not read it */
    size_t g[2] = {(size_t)w->cout / 8, ((size_t)rows + 7) / 8}, l[2] = {c->rt->policy.simt_local, 1};
    return vr_launch(c->rt, c->k_direct[d], names[d], 2, g, l[0] ? l : NULL, 13, VR_ARG(in), VR_ARG(c->zero),
                     VR_ARG(w->wt.buf), VR_ARG(out), VR_ARG(b), VR_ARG(act), VR_ARG(Hin), VR_ARG(Win), VR_ARG(w->cin),
                     VR_ARG(up), VR_ARG(w->cout), VR_ARG(row0), VR_ARG(rows));
}

/* Winograd F(m x m, 3x3), m = w->wino, over chunks of m x m output tiles: V = B^T d B (wino<m>_input),
 * M[k] = V[k] U[k] for the a^2 = (m + 2)^2 transformed positions k (GEMMs [n][Cin] x [Cin][Cout]),
 * y = A^T M A + bias (wino<m>_output). */
static int winograd_conv(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, int bias,
                         cl_mem out)
{
    int m = w->wino, a2 = (m + 2) * (m + 2), H = Hin * up, W = Win * up, TH, TW, st;
    int tiles = wino_tiles(w, B, Hin, Win, up, &TH, &TW);
    size_t Cin = (size_t)w->cin, Cout = (size_t)w->cout;
    int chunk = chunk_rows(c, wino_row_bytes(w), wino_most(c, tiles));
    if (!chunk) return VARCL_E_RUNTIME;
    int cpw = c->wino_cpw, has_bias = bias, lane = cpw == 0, f4 = m == 4;
    /* [lane][F(4x4)]: the lane kernels take the same arguments (cpw unused) */
    static const char *const names_in[2][2] = {{"wino2_input", "wino4_input"}, {"wino2_input_lane", "wino4_input_lane"}};
    static const char *const names_out[2][2] = {{"wino2_output", "wino4_output"},
                                                {"wino2_output_lane", "wino4_output_lane"}};
    cl_kernel k_in = lane ? c->k_wino_lane_in[f4] : f4 ? c->k_wino4_in : c->k_wino2_in;
    cl_kernel k_out = lane ? c->k_wino_lane_out[f4] : f4 ? c->k_wino4_out : c->k_wino2_out;
    /* lane kernels: a work-item per (channel, tile), in groups of the policy's SIMD width along the channels */
    size_t ll = c->rt->policy.simt_local, lsz[2] = {ll, 1}, *l = lane && ll ? lsz : NULL;
    for (int t0 = 0; t0 < tiles; t0 += chunk) {
        int n = tiles - t0 < chunk ? tiles - t0 : chunk;
        int m_off = (int)(a2 * (size_t)n * Cin); /* M follows V in the scratch (elements; < 2^31: the cap is) */
        size_t g_in[2] = {lane ? Cin : ((Cin + 3) / 4 + (size_t)cpw - 1) / (size_t)cpw, (size_t)n};
        size_t g_out[2] = {lane ? Cout : ((Cout + 3) / 4 + (size_t)cpw - 1) / (size_t)cpw, (size_t)n};
        if (l) g_in[0] = (g_in[0] + ll - 1) / ll * ll, g_out[0] = (g_out[0] + ll - 1) / ll * ll;
        if ((st = vr_launch(c->rt, k_in, names_in[lane][f4], 2, g_in, l, 11, VR_ARG(in), VR_ARG(c->scratch),
                            VR_ARG(Hin), VR_ARG(Win), VR_ARG(w->cin), VR_ARG(up), VR_ARG(TH), VR_ARG(TW), VR_ARG(t0),
                            VR_ARG(n), VR_ARG(cpw))))
            return st;
        if ((st = vg_linear_batched(c->gemm, (size_t)a2, c->scratch, 0, n * Cin, w->wt, 0,
                                    vg_weight_elems(c->gemm->packed, Cin, Cout), c->scratch, (size_t)m_off, n * Cout,
                                    (size_t)n, Cout, Cin)))
            return st;
        if ((st = vr_launch(c->rt, k_out, names_out[lane][f4], 2, g_out, l, 13, VR_ARG(c->scratch), VR_ARG(m_off),
                            VR_ARG(out), VR_ARG(w->b), VR_ARG(has_bias), VR_ARG(H), VR_ARG(W), VR_ARG(w->cout),
                            VR_ARG(TH), VR_ARG(TW), VR_ARG(t0), VR_ARG(n), VR_ARG(cpw))))
            return st;
    }
    return 0;
}

static int conv(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, int bias, cl_mem out)
{
    int pixels = B * Hin * up * Win * up;
    if (w->k == 3 && w->wino) return winograd_conv(c, w, in, B, Hin, Win, up, bias, out);
    if (direct(c, w, pixels)) return direct_conv(c, w, in, B, Hin, Win, up, bias, out);
    if (w->k == 3) return im2col_conv(c, w, in, B, Hin, Win, up, bias, out);
    if (up != 1) return varcl_fail(VARCL_E_RUNTIME, "internal: 1x1 convolution with up-sampling");
    return vg_linear_act(c->gemm, in, 0, w->wt, 0, out, 0, (size_t)pixels, (size_t)w->cout, (size_t)w->cin, w->b,
                         bias ? VG_ACT_BIAS : VG_ACT_NONE);
}

/* ---- the workspace: the chunks and products of conv() above, without running them ---- */

int vc_need_forward(vc_conv *c, const vw_conv *w, int B, int Hin, int Win, int up, vc_need *n)
{
    int pixels = B * Hin * up * Win * up, st;
    size_t Cin = (size_t)w->cin, Cout = (size_t)w->cout;
    vt_dtype dt = w->wt.dtype;
    if (w->k != 3) return vg_need_linear(c->gemm, &n->gemm, 1, 0, 0, dt, 0, 0, 0, 0, (size_t)pixels, Cout, Cin);
    if (direct(c, w, pixels)) {
        if (Cin * sizeof(float) > n->zero) n->zero = Cin * sizeof(float);
        return 0;
    }
    if (w->wino) {
        int a2 = (w->wino + 2) * (w->wino + 2), TH, TW, tiles = wino_tiles(w, B, Hin, Win, up, &TH, &TW);
        size_t row_bytes = wino_row_bytes(w), wt_bs = vg_weight_elems(c->gemm->packed, Cin, Cout);
        int chunk = chunk_size(c, row_bytes, wino_most(c, tiles));
        if ((size_t)chunk * row_bytes > n->scratch) n->scratch = (size_t)chunk * row_bytes;
        for (int t0 = 0; t0 < tiles; t0 += chunk) {
            size_t rows = (size_t)(tiles - t0 < chunk ? tiles - t0 : chunk);
            if ((st = vg_need_linear(c->gemm, &n->gemm, (size_t)a2, 0, rows * Cin, dt, 0, wt_bs, a2 * rows * Cin,
                                     rows * Cout, rows, Cout, Cin)))
                return st;
        }
        return 0;
    }
    size_t row_bytes = im2col_row_bytes(w);
    int chunk = chunk_size(c, row_bytes, pixels);
    if ((size_t)chunk * row_bytes > n->scratch) n->scratch = (size_t)chunk * row_bytes;
    for (int row0 = 0; row0 < pixels; row0 += chunk) {
        size_t rows = (size_t)(pixels - row0 < chunk ? pixels - row0 : chunk);
        if ((st = vg_need_linear(c->gemm, &n->gemm, 1, 0, 0, dt, 0, 0, (size_t)row0 * Cout, 0, rows, Cout, 9 * Cin)))
            return st;
    }
    return 0;
}

size_t vc_need_extra(const vc_conv *c, const vc_need *n)
{
    size_t zero_bytes = c->zero_floats * sizeof(float);
    return (n->scratch > c->scratch_bytes ? n->scratch - c->scratch_bytes : 0) +
           (n->zero > zero_bytes ? n->zero - zero_bytes : 0) + vg_need_extra(c->gemm, &n->gemm);
}

int vc_reserve_need(vc_conv *c, const vc_need *n)
{
    int st = reserve_scratch(c, n->scratch);
    if (!st) st = zero_row(c, (int)(n->zero / sizeof(float)));
    return st ? st : vg_reserve_need(c->gemm, &n->gemm);
}

int vc_forward(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out)
{
    return conv(c, w, in, B, Hin, Win, up, 1, out);
}

int vc_forward_nobias(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out)
{
    return conv(c, w, in, B, Hin, Win, up, 0, out);
}

int vc_winograd_wanted(int cin, int cout, int side_x, int min_cin)
{
    const char *env = getenv("VARCL_CONV");
    if (!env || !*env || !strcmp(env, "auto")) {
        /* Measured on pocl (2-core AVX-512 EPYC, one image, ms per convolution, im2col / F(2x2) / F(4x4)):
         * 16x16 640->640: 22 / 27 / 56;  32x32 320->320: 30 / 14 / 27;  32x32 640->640 (up): 86 / 47 / 60;
         * 64x64 320->320: 117 / 56 / 31;  128x128 320->320: 460 / 212 / 126;  256x256 160->160: 502 / 306 / 176;
         * 256x256 160->3: 174 / 110 / 65. Few tiles make short GEMMs: at the latent side (16x16 at 256 px) im2col
         * wins, and those 640-channel convolutions hold 2/3 of the decoder's weights (Winograd's U is 16/9 or
         * 36/9 of their size). F(4x4) from 8x the latent side on (the 160-channel levels and the 128x128
         * up-sampling convolution: +37 MB of weights over F(2x2)); at 4x (64x64, 320 channels) it would save
         * another ~170 ms of the decoder for +57 MB, left to F(2x2). Shallow inputs (Cin 32: post_quant_conv,
         * conv_in, phi) are launch-bound: im2col's two calls beat Winograd's 18 or 38. */
        (void)cout;
        if (cin < min_cin || side_x < 2) return 0;
        return side_x >= 8 ? 4 : 2;
    }
    if (!strcmp(env, "im2col")) return 0;
    if (!strcmp(env, "winograd")) return 2;
    if (!strcmp(env, "winograd4")) return 4;
    varcl_fail(VARCL_E_INPUT, "VARCL_CONV=%s: expected auto, im2col, winograd or winograd4", varcl_shown(env));
    return -1;
}

void vc_winograd_pair(const float g[9], int m, float *u)
{
    /* G for F(2, 3) and F(4, 3) (points 0, -1, 1, -2, 2; see cl/winograd.cl for B^T and A^T) */
    static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static const double G4[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    const double(*G)[3] = m == 4 ? G4 : G2;
    int a = m + 2;
    double Gg[6][3]; /* G g */
    for (int r = 0; r < a; r++)
        for (int j = 0; j < 3; j++) Gg[r][j] = G[r][0] * g[j] + G[r][1] * g[3 + j] + G[r][2] * g[6 + j];
    for (int r = 0; r < a; r++)
        for (int s = 0; s < a; s++) u[r * a + s] = (float)(Gg[r][0] * G[s][0] + Gg[r][1] * G[s][1] + Gg[r][2] * G[s][2]);
}

void vc_winograd_weights(const float *w, int cin, int cout, int m, float *u)
{
    int a = m + 2;
    float pair[36];
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++) {
            vc_winograd_pair(w + ((size_t)o * cin + i) * 9, m, pair);
            for (int j = 0; j < a * a; j++) u[((size_t)j * cin + i) * cout + o] = pair[j];
        }
}
