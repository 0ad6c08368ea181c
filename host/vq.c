/* vq: host side of the VQ proxy (see vq.h). */
#include "vq.h"

#include "error.h"

#include <math.h>

/* numpy.linspace(start, stop, num)[k], operation for operation (numpy 1.x and 2.x): step = (stop - start) / (num - 1),
 * y = k * step + start, and the last element is stop itself. */
static double linspace_at(double start, double stop, int num, int k)
{
    if (num > 1 && k == num - 1) return stop;
    if (num <= 1) return start;
    double step = (stop - start) / (num - 1);
    if (step == 0) return (double)k / (num - 1) * (stop - start) + start;
    return (double)k * step + start;
}

int vq_phi_index(int si, int scales, int phis)
{
    if (phis <= 1) return 0;
    const int K = phis;
    /* Python's 1/3/K and 1 - 1/3/K: (1/3)/K, then the difference, each rounded to double */
    const double first = K == 4 ? 1.0 / 3.0 / K : 1.0 / 2.0 / K, last = 1.0 - first;
    const double at = scales > 1 ? (double)si / (double)(scales - 1) : 0.0;
    int best = 0;
    double best_d = 0;
    for (int k = 0; k < K; k++) {
        double d = fabs(linspace_at(first, last, K, k) - at);
        if (k == 0 || d < best_d) {
            best = k;
            best_d = d;
        }
    }
    return best;
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

int vq_need(vc_conv *conv, const vae_model *vae, int B, int latent, vc_need *n)
{
    for (int k = 0; k < vae->hp.phis; k++) {
        int st = vc_need_forward(conv, &vae->phi[k], B, latent, latent, 1, n);
        if (st) return st;
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
    size_t bytes = (size_t)q->B * q->L * q->L * q->Cv * sizeof(float);
    return vr_fill_zero(q->rt, q->fhat, 0, bytes, "f-hat");
}

int vq_step(vq_state *q, const int *tokens, int pn, int phi_idx, int next_pn)
{
    int B = q->B, L = q->L, Cv = q->Cv, T = pn * pn, st;
    if (tokens && (st = vr_write(q->rt, q->tokens, 0, (size_t)B * T * sizeof(int), tokens))) return st;
    int n = B * T;
    size_t g = (size_t)n * Cv;
    if ((st = vr_launch(q->rt, q->k_lookup, "codebook_lookup", 1, &g, vr_elem_local(q->rt), 5, VR_ARG(q->tokens),
                        VR_ARG(q->vae->codebook), VR_ARG(q->h), VR_ARG(n), VR_ARG(Cv))))
        return st;
    cl_mem u = q->h; /* the last scale is already at the latent size: no resize */
    if (pn != L) {
        g = (size_t)B * L * L * Cv;
        if ((st = vr_launch(q->rt, q->k_bicubic, "bicubic_up", 1, &g, vr_elem_local(q->rt), 6, VR_ARG(q->h),
                            VR_ARG(q->u), VR_ARG(B), VR_ARG(pn), VR_ARG(L), VR_ARG(Cv))))
            return st;
        u = q->u;
    }
    /* phi(u) = 0.5 u + 0.5 (conv(u) + b): the conv's bias is added by phi_accumulate, so run the GEMM part only */
    const vw_conv *phi = &q->vae->phi[phi_idx];
    if ((st = vc_forward_nobias(q->conv, phi, u, B, L, L, 1, q->conv_out))) return st;
    int total = B * L * L * Cv;
    g = (size_t)total;
    if ((st = vr_launch(q->rt, q->k_phi, "phi_accumulate", 1, &g, vr_elem_local(q->rt), 6, VR_ARG(q->fhat), VR_ARG(u),
                        VR_ARG(q->conv_out), VR_ARG(phi->b), VR_ARG(total), VR_ARG(Cv))))
        return st;
    if (next_pn <= 0) return 0;
    g = (size_t)B * next_pn * next_pn * Cv;
    return vr_launch(q->rt, q->k_area, "area_down", 1, &g, vr_elem_local(q->rt), 6, VR_ARG(q->fhat), VR_ARG(q->next),
                     VR_ARG(B), VR_ARG(L), VR_ARG(next_pn), VR_ARG(Cv));
}
