/* conv: convolutions as GEMMs on channels-last maps. 3x3: im2col (optionally through a nearest x2
 * up-sampling) in row chunks that bound the scratch, then CLBlast; 1x1: CLBlast directly. Bias added after. */
#ifndef VARCL_CONV_H
#define VARCL_CONV_H

#include "gemm.h"
#include "model.h"

typedef struct {
    vr_runtime *rt;
    vg_gemm *gemm;
    cl_mem col; /* im2col chunk [rows][9 * Cin] (tag scratch) */
    size_t col_bytes;
    size_t col_cap; /* largest chunk allowed, bytes */
    cl_kernel k_im2col, k_bias;
} vc_conv;

int vc_init(vc_conv *c, vr_runtime *rt, vg_gemm *gemm);
void vc_release(vc_conv *c);

/* out[B][H][W][cout] = conv(in[B][Hin][Win][cin]) + bias, H = Hin * up (up = 1 or 2: nearest x2 first).
 * 3x3 uses zero padding 1; 1x1 requires up = 1. */
int vc_forward(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out);
/* The same without the bias (for callers that fuse it into their next kernel). */
int vc_forward_nobias(vc_conv *c, const vw_conv *w, cl_mem in, int B, int Hin, int Win, int up, cl_mem out);

#endif
