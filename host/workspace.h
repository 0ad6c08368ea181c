/* workspace: the scratch that one pass of a request shares between its products and convolutions, sized before the
 * pass: conv.c's im2col / Winograd chunk and conv3x3_simt8's zero row, CLBlast's temp buffer and vg_sgemm's operand
 * panels (packed devices). Each part of the pass says what its products and convolutions will ask for on this device
 * (vf_need, vq_need, vd_need: the same calls with the same arguments, so the figures are exact, from the
 * checkpoint's shapes); generate.c counts what reserving them adds to the device in its refusal-before-work check,
 * reserves them, and runs the pass with the memory pool frozen (mem.h), so that a figure that fell short fails the
 * request instead of allocating inside it. The buffers stay with the model's gemm and conv objects for later
 * requests (tag scratch). */
#ifndef VARCL_WORKSPACE_H
#define VARCL_WORKSPACE_H

#include "conv.h"

/* The workspace of a pass of B images of var (the transformer's products) with vae's VQ step (its phi
 * convolutions) and, with decode, its decoder (convolutions and attention), from a latent x latent map; on conv's
 * device (conv->gemm: the product paths). An error where CLBlast cannot size a product. */
int vws_size(vc_need *ws, vc_conv *conv, const var_model *var, const vae_model *vae, int B, int latent, int decode);
/* What reserving it adds to the device: vc_need_extra; reserving it: vc_reserve_need (conv.h). */

#endif
