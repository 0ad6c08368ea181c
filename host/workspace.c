/* workspace: the per-request scratch, sized before the work (see workspace.h). */
#include "workspace.h"

#include "forward.h"
#include "vae.h"
#include "vq.h"

#include <string.h>

int vws_size(vc_need *ws, vc_conv *conv, const var_model *var, const vae_model *vae, int B, int latent, int decode)
{
    memset(ws, 0, sizeof *ws);
    int st = vf_need(conv->gemm, var, B, &ws->gemm);
    if (!st) st = vq_need(conv, vae, B, latent, ws);
    if (!st && decode) st = vd_need(conv, vae, latent, ws);
    return st;
}
