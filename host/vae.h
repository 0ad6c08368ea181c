/* vae: the VQ-VAE decoder on the device (VAR_SPEC.md section 5): post_quant_conv, conv_in, mid (res, attn, res),
 * the up levels from the lowest resolution to the highest, norm_out + SiLU + conv_out. Channels-last maps. */
#ifndef VARCL_VAE_H
#define VARCL_VAE_H

#include "conv.h"

typedef struct {
    vr_runtime *rt;
    vg_gemm *gemm;
    vc_conv *conv;
    const vae_model *m;
    int latent, size;       /* input side, image side */
    size_t map_elems;       /* largest feature map, elements */
    cl_mem buf[4];          /* feature maps [H][W][C] (tag vae) */
    cl_mem qkv, scores;     /* attention: [HW][3C], [HW][HW] */
    cl_mem gn_part, gn_stats; /* GroupNorm partials [chunks][3][C], per-channel coefficients [3][C] */
    cl_kernel k_part, k_final, k_apply, k_add, k_softmax, k_bias;
} vd_state;

/* Device bytes vd_init allocates (the scratch of its convolutions and products is separate: vd_need). */
size_t vd_bytes(const vae_hparams *hp, int latent);
/* FLOPs of one decode (multiply-adds x 2: convolutions and attention). */
double vd_flops(const vae_hparams *hp, int latent);
int vd_init(vd_state *d, vr_runtime *rt, vg_gemm *gemm, vc_conv *conv, const vae_model *m, int latent);
void vd_release(vd_state *d);
/* Raises *n to what vd_decode's convolutions and attention products ask for (conv.h vc_need), for the model's
 * decoder from a latent x latent input. */
int vd_need(vc_conv *c, const vae_model *m, int latent, vc_need *n);

/* Decodes one latent, f-hat [latent*latent][Cvae] at element offset fhat_off of `fhat`, into rgb [S][S][3] on
 * the host: clamp(x, -1, 1) then (x + 1) / 2, in [0, 1]. An output value that is NaN or infinite: VARCL_E_RUNTIME
 * (the weights overflow; no image is made of it). */
int vd_decode(vd_state *d, cl_mem fhat, size_t fhat_off, float *rgb);

#endif
