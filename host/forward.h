/* forward: the transformer. Per request: the class conditions and every layer's AdaLN vectors (once).
 * Per scale: the token embedding, the plan's layers over the paged KV cache, and the head's logits. */
#ifndef VARCL_FORWARD_H
#define VARCL_FORWARD_H

#include "gemm.h"
#include "kv.h"
#include "model.h"

typedef struct {
    vr_runtime *rt;
    vg_gemm *gemm;
    const var_model *m;
    int B, R, Tmax;          /* images, CFG rows (2B), tokens of the largest scale */
    cl_mem x;                /* [R*Tmax][C] residual stream */
    cl_mem a;                /* [R*Tmax][C] normed + modulated input of a sub-layer */
    cl_mem qkv;              /* [R*Tmax][3C] */
    cl_mem q;                /* [R*Tmax][C] normalised, scaled queries */
    cl_mem o;                /* [R*Tmax][C] attention output */
    cl_mem y;                /* [R*Tmax][C] sub-layer output before bias + gate */
    cl_mem h;                /* [R*Tmax][F] FFN hidden */
    cl_mem logits;           /* [R*Tmax][V] */
    cl_mem ada;              /* [depth][R][6C]: gamma1, gamma2, scale1, scale2, shift1, shift2 */
    cl_mem head_ada;         /* [R][2C]: scale, shift */
    cl_mem cond;             /* [R][C] SiLU(class embedding) */
    cl_mem shared;           /* [R][6C] shared AdaLN output (d36 style only) */
    cl_mem scores;           /* [attn_rows * H][Tmax][L] attention scores (policy.h attn_split only) */
    int attn_rows;           /* CFG rows per attention chunk (attn_split) */
    cl_kernel k_qk[2], k_attn_blk[2]; /* [0] f32 KV, [1] f16 KV */
    cl_kernel k_attn[4];              /* attention_f32, _f16, attention2_f32, _f16 (policy attn_pairs) */
    cl_kernel k_ln, k_ln_wg, k_rln, k_rln_wg, k_bias, k_silu, k_embed;
    cl_kernel k_scores[2], k_values[2], k_softmax; /* attn_split's kernels, [0] f32 KV, [1] f16 KV */
    cl_kernel k_tiled[2];                          /* attention_tiled_f32, _f16 (policy.h attn_tile) */
    size_t attn_tile;                              /* its work-group: the policy's within the kernel's limit */
    size_t ln_local; /* the _wg LayerNorms' work-group per row (policy.h ln_local within their limits), 0: none */
} vf_state;

/* Device bytes vf_init allocates for B images under the device policy pol. */
size_t vf_bytes(const var_hparams *hp, int B, const vp_policy *pol);
/* Allocates activations for B images per pass (tag activations). */
int vf_init(vf_state *s, vr_runtime *rt, vg_gemm *gemm, const var_model *m, int B);
/* Raises *n to what the products of a pass of B images (vf_begin, vf_embed, vf_scale) ask of g (gemm.h vg_need). */
int vf_need(vg_gemm *g, const var_model *m, int B, vg_need *n);
void vf_release(vf_state *s);

/* Conditions of a pass: labels[B] (the null class is added for the CFG rows); computes every layer's AdaLN
 * vectors and the step-0 input x. */
int vf_begin(vf_state *s, const int *labels);

/* x = the input of scale si >= 1 from next[B][T][Cvae] (area-down-sampled f-hat). */
int vf_embed(vf_state *s, int si, cl_mem next);

/* Runs the plan's layers for scale si over x, appending K/V, then the head: logits [R*T][V]. */
int vf_scale(vf_state *s, vk_cache *kv, const vp_plan *plan, int si);

#endif
