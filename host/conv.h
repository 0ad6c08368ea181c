/* conv: convolutions on channels-last maps, their products through CLBlast (gemm). 3x3 takes one of three paths,
 * fixed per convolution when its weights are loaded (vw_conv.wino, see vc_winograd_wanted):
 *   - Winograd F(m x m, 3x3), m = 2 or 4 (cl/winograd.cl): input transform, (m+2)^2 GEMMs, output transform with
 *     the bias fused; 2.25x (m = 2) or 4x (m = 4) fewer multiplications than direct convolution;
 *   - im2col (cl/conv.cl) + one GEMM, bias added after; where the policy runs the plain products through
 *     linear_simt8 (llvmpipe: policy.h conv_direct), one kernel that reads the columns where they lie instead
 *     (cl/linear.cl conv3x3_simt8: the same sums, no scratch, no chunks).
 * All fold an optional nearest x2 up-sampling into their gather, and all work on chunks of output pixels (tiles)
 * so that their one scratch buffer stays bounded. 1x1: one GEMM. Winograd weights are 16/9 (m = 2) or 36/9
 * (m = 4) the size of the im2col ones: only the chosen path's layout is kept (tag vae). */
#ifndef VARCL_CONV_H
#define VARCL_CONV_H

#include "gemm.h"
#include "model.h"

typedef struct {
    vr_runtime *rt;
    vg_gemm *gemm;
    /* Scratch shared by the 3x3 paths (tag scratch), allocated once and grown on demand (or before the work,
     * vc_reserve_need) up to scratch_cap:
     * im2col: col [rows][9 * Cin];  Winograd (a = m + 2): V [a*a][tiles][Cin], then M [a*a][tiles][Cout] */
    cl_mem scratch;
    size_t scratch_bytes;
    size_t scratch_cap;   /* largest chunk allowed, bytes */
    cl_mem zero;          /* [zero_floats] zeros: conv3x3_simt8's columns outside the map (tag scratch) */
    size_t zero_floats;
    int wino_cpw;         /* float4s of channels per work-item in the Winograd transforms (device-dependent);
                           * 0: the lane kernels, one channel per work-item (cl/winograd.cl *_lane) */
    int wino_chunk_tiles; /* most Winograd tiles per chunk, 0: as many as scratch_cap allows */
    cl_kernel k_im2col, k_im2col_simt, k_wino2_in, k_wino2_out, k_wino4_in, k_wino4_out;
    cl_kernel k_wino_lane_in[2], k_wino_lane_out[2]; /* [0]: F(2x2), [1]: F(4x4) */
    cl_kernel k_direct[3]; /* conv3x3_simt8 for f32, f16, bf16 weights */
} vc_conv;

int vc_init(vc_conv *c, vr_runtime *rt, vg_gemm *gemm);
void vc_release(vc_conv *c);

/* out[B][H][W][cout] = conv(in[B][Hin][Win][cin]) + bias, H = Hin * up (up = 1 or 2: nearest x2 first).
 * 3x3 uses zero padding 1; 1x1 requires up = 1. */
int vc_forward(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out);
/* The same without the bias (for callers that fuse it into their next kernel). */
int vc_forward_nobias(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out);
/* What convolutions need besides their operands, bytes, so that it can be allocated before the work (the
 * per-request workspace, workspace.h). vc_need_forward raises *n to what vc_forward(w, B, Hin, Win, up) (or
 * vc_forward_nobias) will ask for: the same chunks and products, so the figures are exact. */
typedef struct {
    size_t scratch; /* the 3x3 paths' chunk (scratch above) */
    size_t zero;    /* conv3x3_simt8's zero row */
    vg_need gemm;   /* their products' (gemm.h), and whatever else the caller adds there */
} vc_need;
int vc_need_forward(vc_conv *c, const vw_conv *w, int B, int Hin, int Win, int up, vc_need *n);
/* Device bytes that vc_reserve_need(c, n) adds to what c and c->gemm hold now (each buffer grows by freeing the old
 * one first). */
size_t vc_need_extra(const vc_conv *c, const vc_need *n);
/* Grows c's scratch and zero row and c->gemm's buffers to n: convolutions and products within it allocate nothing. */
int vc_reserve_need(vc_conv *c, const vc_need *n);

/* The path a 3x3 convolution takes (vw_conv.wino: 0 im2col, 2 or 4 Winograd F(m x m, 3x3)), from its channels and
 * where it runs in the decoder: side_x = its map side / the latent side (1: post_quant_conv, conv_in, phi, the mid
 * and top-level blocks). $VARCL_CONV unset or "auto": the path that measured fastest for such convolutions (see
 * conv.c), Winograd only from min_cin input channels (policy.h wino_min_cin); "im2col", "winograd" (F(2x2, 3x3)) or "winograd4" (F(4x4, 3x3)) force one path for every 3x3.
 * -1, error recorded, for any other VARCL_CONV value. */
int vc_winograd_wanted(int cin, int cout, int side_x, int min_cin);

/* Winograd F(m x m, 3x3) weights (m = 2 or 4) U[(m+2)^2][cin][cout] = G g G^T per (out, in) pair, from torch's
 * w[cout][cin][3][3]. */
void vc_winograd_weights(const float *w, int cin, int cout, int m, float *u);
/* The same for one (out, in) pair: u[(m+2)^2] = G g G^T, row-major, from g[3][3]. */
void vc_winograd_pair(const float g[9], int m, float *u);

#endif
