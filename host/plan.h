/* plan: the layered scale scheduler (pure C, no OpenCL). For every scale, the ordered list of layers that run:
 * all D layers for scales < full_scales, the subnet's layers after (VARiant, VAR_SPEC.md section 9).
 * Also derived before any device work: tokens each layer stores in the KV cache and FLOPs per scale. */
#ifndef VARCL_PLAN_H
#define VARCL_PLAN_H

#define VP_MAX_SCALES 16
#define VP_MAX_DEPTH 128

typedef struct {
    int depth, scales, full_scales;
    int patch[VP_MAX_SCALES];
    int n_subnet, subnet[VP_MAX_DEPTH];      /* the late scales' layers, ascending */
    int n_run[VP_MAX_SCALES];                /* layers run at scale si ... */
    int run[VP_MAX_SCALES][VP_MAX_DEPTH];    /* ... in this order */
    int layer_tokens[VP_MAX_DEPTH];          /* K/V tokens each layer stores over the whole request (per row) */
} vp_plan;

/* Equidistant subnet of d layers out of D: floor(i * (D - 1) / (d - 1)), i = 0..d-1; d = 1 gives layer 0.
 * Writes d entries to out. */
void vp_subnet(int D, int d, int *out);

/* Builds a plan. subnet_depth 0 (and no list) = the full network. layers/n_layers: an explicit subnet
 * (sorted, unique, in range), exclusive with subnet_depth. full_scales in 0..scales. Input errors are
 * recorded with a message naming the bad value. */
int vp_make(vp_plan *p, int depth, int scales, const int *patch, int subnet_depth, const int *layers, int n_layers,
            int full_scales);

/* 1 when layer l runs at scale si. */
int vp_runs(const vp_plan *p, int si, int l);
/* Pages of P tokens that layer l needs per row. */
int vp_layer_pages(const vp_plan *p, int l, int page_tokens);
/* Transformer FLOPs of scale si for one CFG row (multiply-adds x 2, attention and head included). */
double vp_scale_flops(const vp_plan *p, int si, int C, int ffn, int vocab);

#endif
