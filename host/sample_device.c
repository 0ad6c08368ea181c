/* sample_device: host side of cl/sampler.cl (see sample_device.h). */
#include "sample_device.h"

#include "error.h"
#include "sample.h"

#include <limits.h>
#include <stdlib.h>

#define SAMPLE_MAX_LOCAL 256 /* cl/sampler.cl's reduction array */

size_t vsd_bytes(int B, int tokens, int scales, int max_T)
{
    return (size_t)B * sizeof(uint32_t) + (size_t)B * tokens * sizeof(int) + (size_t)scales * sizeof(int) +
           (size_t)B * max_T * sizeof(int);
}

int vsd_init(vsd_state *s, vr_runtime *rt, int B, int tokens, int scales, int max_T)
{
    *s = (vsd_state){.rt = rt, .B = B, .tokens = tokens, .scales = scales, .max_T = max_T};
    vm_pool *mp = &rt->mem;
    if (!(s->k_combine = vr_kernel(rt, "sample_combine")) || !(s->k_top_k = vr_kernel(rt, "sample_top_k")) ||
        !(s->k_top_p = vr_kernel(rt, "sample_top_p")) || !(s->k_draw = vr_kernel(rt, "sample_draw")) ||
        !(s->image_ids = vm_alloc(mp, VM_ACT, (size_t)B * sizeof(uint32_t), "sampler image keys")) ||
        !(s->all = vm_alloc(mp, VM_ACT, (size_t)B * tokens * sizeof(int), "pass tokens")) ||
        !(s->bad = vm_alloc(mp, VM_ACT, (size_t)scales * sizeof(int), "sampler bad rows")) ||
        !(s->kept = vm_alloc(mp, VM_ACT, (size_t)B * max_T * sizeof(int), "sampler kept counts"))) {
        vsd_release(s);
        return VARCL_E_RUNTIME;
    }
    /* the policy's size, within what the device allows for each kernel, rounded down to a power of two */
    const cl_kernel all[] = {s->k_combine, s->k_top_k, s->k_top_p, s->k_draw};
    s->local = vr_local_pow2(rt, all, 4, rt->policy.sample_local, SAMPLE_MAX_LOCAL);
    if (s->local < rt->policy.sample_local_min) {
        vsd_release(s);
        return varcl_fail(VARCL_E_RUNTIME, "sampler: work-groups of %zu items, this device needs at least %zu",
                          s->local, rt->policy.sample_local_min);
    }
    return 0;
}

void vsd_release(vsd_state *s)
{
    if (!s->rt) return;
    vm_free(&s->rt->mem, s->image_ids);
    vm_free(&s->rt->mem, s->all);
    vm_free(&s->rt->mem, s->bad);
    vm_free(&s->rt->mem, s->kept);
    s->rt = NULL;
}

int vsd_begin(vsd_state *s, const uint32_t *image_ids)
{
    int st, *none = malloc((size_t)s->scales * sizeof *none);
    if (!none) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; i < s->scales; i++) none[i] = INT_MAX;
    st = vr_write(s->rt, s->image_ids, 0, (size_t)s->B * sizeof(uint32_t), image_ids);
    if (!st) st = vr_write(s->rt, s->bad, 0, (size_t)s->scales * sizeof(int), none);
    free(none);
    return st;
}

int vsd_scale(vsd_state *s, cl_mem logits, int T, int V, float cfg_a, float cfg_u, int top_k, float top_p,
              uint64_t seed, int si, int begin, cl_mem ids)
{
    if (T > s->max_T) return varcl_fail(VARCL_E_RUNTIME, "sampler: %d tokens in a scale, sized for %d", T, s->max_T);
    const int rows = s->B * T;
    const size_t global = (size_t)rows * s->local;
    const size_t *local = &s->local;
    vr_runtime *rt = s->rt;
    if (si < 0 || si >= s->scales)
        return varcl_fail(VARCL_E_RUNTIME, "sampler: scale %d of a pass sized for %d", si, s->scales);
    int st = vr_launch(rt, s->k_combine, "sample_combine", 1, &global, local, 8, VR_ARG(logits), VR_ARG(rows),
                       VR_ARG(V), VR_ARG(cfg_a), VR_ARG(cfg_u), VR_ARG(s->kept), VR_ARG(s->bad), VR_ARG(si));
    if (!st && top_k > 0 && top_k < V) /* top_k >= V keeps everything */
        st = vr_launch(rt, s->k_top_k, "sample_top_k", 1, &global, local, 4, VR_ARG(logits), VR_ARG(V), VR_ARG(top_k),
                       VR_ARG(s->kept));
    if (!st && top_p > 0) {
        const float thr = vs_top_p_threshold(top_p);
        st = vr_launch(rt, s->k_top_p, "sample_top_p", 1, &global, local, 5, VR_ARG(logits), VR_ARG(rows), VR_ARG(V),
                       VR_ARG(thr), VR_ARG(s->kept));
    }
    const cl_uint lo = (cl_uint)seed, hi = (cl_uint)(seed >> 32), scale = (cl_uint)si;
    if (!st)
        st = vr_launch(rt, s->k_draw, "sample_draw", 1, &global, local, 13, VR_ARG(logits), VR_ARG(V), VR_ARG(T),
                       VR_ARG(top_k), VR_ARG(s->kept), VR_ARG(lo), VR_ARG(hi), VR_ARG(scale), VR_ARG(s->image_ids),
                       VR_ARG(ids), VR_ARG(s->all), VR_ARG(s->tokens), VR_ARG(begin));
    return st;
}

int vsd_end(vsd_state *s, int *tokens, int *bad)
{
    int st = 0;
    if (tokens) st = vr_read(s->rt, s->all, 0, (size_t)s->B * s->tokens * sizeof(int), tokens);
    if (!st && bad) st = vr_read(s->rt, s->bad, 0, (size_t)s->scales * sizeof(int), bad);
    return st;
}
