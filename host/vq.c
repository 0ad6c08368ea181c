/* vq: host side of the VQ proxy (see vq.h). */
#include "vq.h"

#include "error.h"

#include <math.h>

int vq_phi_index(int si, int scales)
{
    /* argmin |tick_k - si / (scales - 1)| over ticks linspace(1/12, 11/12, 4), as upstream computes it in float64.
     * The exact ties at si = 2 and 7 (10 scales) fall the way numpy's rounding of the ticks breaks them; the
     * table below is the one upstream produces and is used verbatim for 10 scales. */
    static const int table10[10] = {0, 0, 1, 1, 1, 2, 2, 3, 3, 3};
    if (scales == 10) return table10[si];
    double r = scales > 1 ? (double)si / (scales - 1) : 0, best = 1e9;
    int k = 0;
    for (int i = 0; i < 4; i++) {
        double tick = 1.0 / 12 + i * (10.0 / 12) / 3, d = fabs(tick - r);
        if (d < best) {
            best = d;
            k = i;
        }
    }
    return k;
}

size_t vq_bytes(const vae_hparams *hp, int B, int latent)
{
    size_t map = (size_t)B * latent * latent * hp->zch * sizeof(float);
    return (size_t)B * latent * latent * sizeof(int) + 5 * map;
}

int vq_init(vq_state *q, vr_runtime *rt, vc_conv *conv, const vae_model *vae, int B, int latent)
{
    *q = (vq_state){.rt = rt, .conv = conv, .vae = vae, .B = B, .L = latent, .Cv = vae->hp.zch};
    size_t map = (size_t)B * latent * latent * q->Cv * sizeof(float);
    vm_pool *mp = &rt->mem;
    if (!(q->tokens = vm_alloc(mp, VM_ACT, (size_t)B * latent * latent * sizeof(int), "token ids")) ||
        !(q->h = vm_alloc(mp, VM_ACT, map, "codebook vectors")) || !(q->u = vm_alloc(mp, VM_ACT, map, "up-sampled h")) ||
        !(q->conv_out = vm_alloc(mp, VM_ACT, map, "phi output")) || !(q->fhat = vm_alloc(mp, VM_ACT, map, "f-hat")) ||
        !(q->next = vm_alloc(mp, VM_ACT, map, "next-scale input"))) {
        vq_release(q);
        return VARCL_E_RUNTIME;
    }
    if (!(q->k_lookup = vr_kernel(rt, "codebook_lookup")) || !(q->k_bicubic = vr_kernel(rt, "bicubic_up")) ||
        !(q->k_phi = vr_kernel(rt, "phi_accumulate")) || !(q->k_area = vr_kernel(rt, "area_down"))) {
        vq_release(q);
        return VARCL_E_RUNTIME;
    }
    return 0;
}

void vq_release(vq_state *q)
{
    if (!q->rt) return;
    cl_mem all[] = {q->tokens, q->h, q->u, q->conv_out, q->fhat, q->next};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) vm_free(&q->rt->mem, all[i]);
    q->rt = NULL;
}

int vq_begin(vq_state *q)
{
    const float zero = 0;
    size_t bytes = (size_t)q->B * q->L * q->L * q->Cv * sizeof(float);
    return vr_check(clEnqueueFillBuffer(q->rt->queue, q->fhat, &zero, sizeof zero, 0, bytes, 0, NULL, NULL),
                    "clEnqueueFillBuffer(f-hat)");
}

int vq_step(vq_state *q, const int *tokens, int pn, int phi_idx, int next_pn)
{
    int B = q->B, L = q->L, Cv = q->Cv, T = pn * pn, st;
    if ((st = vr_write(q->rt, q->tokens, 0, (size_t)B * T * sizeof(int), tokens))) return st;
    int n = B * T;
    size_t g = (size_t)n * Cv;
    if ((st = vr_launch(q->rt, q->k_lookup, "codebook_lookup", 1, &g, NULL, 5, VR_ARG(q->tokens),
                        VR_ARG(q->vae->codebook), VR_ARG(q->h), VR_ARG(n), VR_ARG(Cv))))
        return st;
    cl_mem u = q->h; /* the last scale is already at the latent size: no resize */
    if (pn != L) {
        g = (size_t)B * L * L * Cv;
        if ((st = vr_launch(q->rt, q->k_bicubic, "bicubic_up", 1, &g, NULL, 6, VR_ARG(q->h), VR_ARG(q->u), VR_ARG(B),
                            VR_ARG(pn), VR_ARG(L), VR_ARG(Cv))))
            return st;
        u = q->u;
    }
    /* phi(u) = 0.5 u + 0.5 (conv(u) + b): the conv's bias is added by phi_accumulate, so run the GEMM part only */
    const vw_conv *phi = &q->vae->phi[phi_idx];
    if ((st = vc_forward_nobias(q->conv, phi, u, B, L, L, 1, q->conv_out))) return st;
    int total = B * L * L * Cv;
    g = (size_t)total;
    if ((st = vr_launch(q->rt, q->k_phi, "phi_accumulate", 1, &g, NULL, 6, VR_ARG(q->fhat), VR_ARG(u),
                        VR_ARG(q->conv_out), VR_ARG(phi->b), VR_ARG(total), VR_ARG(Cv))))
        return st;
    if (next_pn <= 0) return 0;
    g = (size_t)B * next_pn * next_pn * Cv;
    return vr_launch(q->rt, q->k_area, "area_down", 1, &g, NULL, 6, VR_ARG(q->fhat), VR_ARG(q->next), VR_ARG(B),
                     VR_ARG(L), VR_ARG(next_pn), VR_ARG(Cv));
}
