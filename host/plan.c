/* plan: VARiant's layered scale scheduler (see plan.h). */
#include "plan.h"

#include "error.h"

#include <string.h>

void vp_subnet(int D, int d, int *out)
{
    if (d <= 1) {
        out[0] = 0;
        return;
    }
    for (int i = 0; i < d; i++) out[i] = (int)((long)i * (D - 1) / (d - 1));
}

int vp_make(vp_plan *p, int depth, int scales, const int *patch, int subnet_depth, const int *layers, int n_layers,
            int full_scales)
{
    memset(p, 0, sizeof *p);
    if (depth < 1 || depth > VP_MAX_DEPTH || scales < 1 || scales > VP_MAX_SCALES)
        return varcl_fail(VARCL_E_INPUT, "plan: unsupported model (%d layers, %d scales)", depth, scales);
    if (full_scales < 0 || full_scales > scales)
        return varcl_fail(VARCL_E_INPUT, "full scales (--full-scales) %d out of range 0..%d", full_scales, scales);
    if (subnet_depth && n_layers)
        return varcl_fail(VARCL_E_INPUT, "give either a subnet depth or an explicit layer list, not both");
    p->depth = depth;
    p->scales = scales;
    p->full_scales = full_scales;
    memcpy(p->patch, patch, (size_t)scales * sizeof *patch);
    if (n_layers) {
        if (n_layers > depth)
            return varcl_fail(VARCL_E_INPUT, "layer list has %d entries; the model has %d layers", n_layers, depth);
        for (int i = 0; i < n_layers; i++) {
            if (layers[i] < 0 || layers[i] >= depth)
                return varcl_fail(VARCL_E_INPUT, "layer %d (--layers) out of range 0..%d", layers[i], depth - 1);
            if (i && layers[i] == layers[i - 1])
                return varcl_fail(VARCL_E_INPUT, "layer %d listed twice in --layers", layers[i]);
            if (i && layers[i] < layers[i - 1])
                return varcl_fail(VARCL_E_INPUT, "the subnet's layer list (--layers) must be ascending: %d after %d", layers[i],
                                  layers[i - 1]);
            p->subnet[i] = layers[i];
        }
        p->n_subnet = n_layers;
    } else {
        int d = subnet_depth ? subnet_depth : depth;
        if (d < 1 || d > depth) return varcl_fail(VARCL_E_INPUT, "depth %d out of range 1..%d", d, depth);
        vp_subnet(depth, d, p->subnet);
        p->n_subnet = d;
    }
    for (int si = 0; si < scales; si++) {
        if (si < full_scales) {
            p->n_run[si] = depth;
            for (int l = 0; l < depth; l++) p->run[si][l] = l;
        } else {
            p->n_run[si] = p->n_subnet;
            memcpy(p->run[si], p->subnet, (size_t)p->n_subnet * sizeof(int));
        }
        for (int k = 0; k < p->n_run[si]; k++) p->layer_tokens[p->run[si][k]] += patch[si] * patch[si];
    }
    return 0;
}

int vp_runs(const vp_plan *p, int si, int l)
{
    for (int k = 0; k < p->n_run[si]; k++)
        if (p->run[si][k] == l) return 1;
    return 0;
}

int vp_layer_pages(const vp_plan *p, int l, int page_tokens)
{
    return (p->layer_tokens[l] + page_tokens - 1) / page_tokens;
}

double vp_scale_flops(const vp_plan *p, int si, int C, int ffn, int vocab)
{
    double T = (double)p->patch[si] * p->patch[si], f = 0;
    int stored[VP_MAX_DEPTH] = {0}; /* tokens in each layer's cache after scale si */
    for (int s = 0; s <= si; s++)
        for (int k = 0; k < p->n_run[s]; k++) stored[p->run[s][k]] += p->patch[s] * p->patch[s];
    for (int k = 0; k < p->n_run[si]; k++) {
        double lin = 3.0 * C * C + (double)C * C + 2.0 * C * ffn;
        f += 2.0 * T * lin + 2.0 * 2.0 * T * stored[p->run[si][k]] * C;
    }
    return f + 2.0 * T * C * vocab;
}
