/* vq: the multi-scale VQ proxy on the device (VAR_SPEC.md section 4): sampled tokens -> codebook vectors ->
 * bicubic up-sampling to the latent size -> phi convolution -> f-hat += ; next input = area(f-hat). */
#ifndef VARCL_VQ_H
#define VARCL_VQ_H

#include "conv.h"

typedef struct {
    vr_runtime *rt;
    vc_conv *conv;
    const vae_model *vae;
    int B, L, Cv;      /* images, latent side, latent channels */
    cl_mem tokens;     /* [B][L*L] int32 (one scale's tokens) */
    cl_mem h;          /* [B][L*L][Cv] codebook vectors of one scale */
    cl_mem u;          /* [B][L*L][Cv] h up-sampled */
    cl_mem conv_out;   /* [B][L*L][Cv] conv3x3(u) without bias */
    cl_mem fhat;       /* [B][L*L][Cv] the accumulated latent */
    cl_mem next;       /* [B][L*L][Cv] (first pn'^2 rows used) the next scale's input */
    cl_kernel k_lookup, k_bicubic, k_phi, k_area;
} vq_state;

/* Device bytes vq_init allocates. */
size_t vq_bytes(const vae_hparams *hp, int B, int latent);
int vq_init(vq_state *q, vr_runtime *rt, vc_conv *conv, const vae_model *vae, int B, int latent);
void vq_release(vq_state *q);
/* Raises *n to what the phi convolutions of a pass of B images ask for (conv.h vc_need). */
int vq_need(vc_conv *conv, const vae_model *vae, int B, int latent, vc_need *n);
/* Clears f-hat for a new pass. */
int vq_begin(vq_state *q);

/* Adds scale si's tokens ([B][pn*pn], host; NULL: already in q->tokens, written by the device sampler) into f-hat
 * with phi index phi_idx; when next_pn > 0 also writes
 * next = area(f-hat) at next_pn x next_pn. */
int vq_step(vq_state *q, const int *tokens, int pn, int phi_idx, int next_pn);

/* The phi index of scale si out of `scales` for a VQ-VAE with `phis` phi convolutions, by upstream's rule
 * (models/quant.py): argmin_k |ticks[k] - si / (scales - 1)| in float64, first k on a tie, with
 * ticks = numpy.linspace(1/3/K, 1 - 1/3/K, K) for K = 4 and numpy.linspace(1/2/K, 1 - 1/2/K, K) otherwise,
 * rounded as numpy rounds them (the exact ties at si = 2 and 7 for K = 4 fall the way numpy's rounding breaks
 * them: VAR_SPEC.md 4's table 0,0,1,1,1,2,2,3,3,3). */
int vq_phi_index(int si, int scales, int phis);

#endif
