/* forward: transformer blocks, AdaLN and head on the device (see forward.h). VAR_SPEC.md section 2. */
#include "forward.h"

#include "error.h"

#include <stdlib.h>

#define LN_EPS 1e-6f
#define ATTN_QB 4 /* queries per work-item of attention_blk (QB in cl/attention.cl) */
/* attn_split's scores buffer: CFG rows per chunk as many as fit this (a d30 row at 256 px: 21 MB), at least one */
#define ATTN_SCORES_CAP ((size_t)64 << 20)

/* attn_split: CFG rows per attention chunk, and the scores buffer's bytes (0: not this policy) */
static size_t scores_bytes(const var_hparams *hp, int R, const vp_policy *pol, int *rows)
{
    size_t per_row = (size_t)hp->heads * hp->latent * hp->latent * hp->begin[hp->scales] * sizeof(float);
    size_t n = ATTN_SCORES_CAP / per_row;
    n = n < 1 ? 1 : n > (size_t)R ? (size_t)R : n;
    int used = pol->attn_split && !pol->attn_tile; /* attention_tiled, where the policy has it, comes first */
    if (rows) *rows = used ? (int)n : 0;
    return used ? n * per_row : 0;
}

size_t vf_bytes(const var_hparams *hp, int B, const vp_policy *pol)
{
    size_t R = 2 * (size_t)B, rows = R * hp->latent * hp->latent, C = (size_t)hp->C;
    size_t n = rows * (8 * C + hp->ffn + hp->vocab) + (size_t)hp->depth * R * 6 * C + R * 2 * C + R * C;
    if (hp->shared_aln) n += R * 6 * C;
    return n * sizeof(float) + scores_bytes(hp, (int)R, pol, NULL);
}

int vf_init(vf_state *s, vr_runtime *rt, vg_gemm *gemm, const var_model *m, int B)
{
    const var_hparams *hp = &m->hp;
    *s = (vf_state){.rt = rt, .gemm = gemm, .m = m, .B = B, .R = 2 * B};
    s->Tmax = hp->latent * hp->latent;
    size_t rows = (size_t)s->R * s->Tmax, C = (size_t)hp->C, f4 = sizeof(float);
    vm_pool *mp = &rt->mem;
    if (!(s->x = vm_alloc(mp, VM_ACT, rows * C * f4, "activations x")) ||
        !(s->a = vm_alloc(mp, VM_ACT, rows * C * f4, "activations a")) ||
        !(s->qkv = vm_alloc(mp, VM_ACT, rows * 3 * C * f4, "activations qkv")) ||
        !(s->q = vm_alloc(mp, VM_ACT, rows * C * f4, "activations q")) ||
        !(s->o = vm_alloc(mp, VM_ACT, rows * C * f4, "activations o")) ||
        !(s->y = vm_alloc(mp, VM_ACT, rows * C * f4, "activations y")) ||
        !(s->h = vm_alloc(mp, VM_ACT, rows * hp->ffn * f4, "activations FFN hidden")) ||
        !(s->logits = vm_alloc(mp, VM_ACT, rows * hp->vocab * f4, "logits")) ||
        !(s->ada = vm_alloc(mp, VM_ACT, (size_t)hp->depth * s->R * 6 * C * f4, "AdaLN vectors")) ||
        !(s->head_ada = vm_alloc(mp, VM_ACT, (size_t)s->R * 2 * C * f4, "head AdaLN vectors")) ||
        !(s->cond = vm_alloc(mp, VM_ACT, (size_t)s->R * C * f4, "conditions")) ||
        (hp->shared_aln && !(s->shared = vm_alloc(mp, VM_ACT, (size_t)s->R * 6 * C * f4, "shared AdaLN")))) {
        vf_release(s);
        return VARCL_E_RUNTIME;
    }
    size_t sb = scores_bytes(hp, s->R, &rt->policy, &s->attn_rows);
    if (sb && !(s->scores = vm_alloc(mp, VM_ACT, sb, "attention scores"))) {
        vf_release(s);
        return VARCL_E_RUNTIME;
    }
    if (!(s->k_ln = vr_kernel(rt, "ln_modulate")) || !(s->k_qk[0] = vr_kernel(rt, "qk_norm_store_f32")) ||
        !(s->k_qk[1] = vr_kernel(rt, "qk_norm_store_f16")) || !(s->k_attn[0] = vr_kernel(rt, "attention_f32")) ||
        !(s->k_attn[1] = vr_kernel(rt, "attention_f16")) || !(s->k_attn[2] = vr_kernel(rt, "attention2_f32")) ||
        !(s->k_attn[3] = vr_kernel(rt, "attention2_f16")) || !(s->k_attn_blk[0] = vr_kernel(rt, "attention_blk_f32")) ||
        !(s->k_attn_blk[1] = vr_kernel(rt, "attention_blk_f16")) || !(s->k_rln = vr_kernel(rt, "residual_ln_modulate")) ||
        !(s->k_bias = vr_kernel(rt, "add_bias")) ||
        !(s->k_silu = vr_kernel(rt, "silu")) || !(s->k_embed = vr_kernel(rt, "embed_scale")) ||
        !(s->k_ln_wg = vr_kernel(rt, "ln_modulate_wg")) ||
        !(s->k_rln_wg = vr_kernel(rt, "residual_ln_modulate_wg")) ||
        !(s->k_scores[0] = vr_kernel(rt, "attn_scores_f32")) || !(s->k_scores[1] = vr_kernel(rt, "attn_scores_f16")) ||
        !(s->k_values[0] = vr_kernel(rt, "attn_values_f32")) || !(s->k_values[1] = vr_kernel(rt, "attn_values_f16")) ||
        !(s->k_softmax = vr_kernel(rt, "attn_softmax")) || !(s->k_tiled[0] = vr_kernel(rt, "attention_tiled_f32")) ||
        !(s->k_tiled[1] = vr_kernel(rt, "attention_tiled_f16"))) {
        vf_release(s);
        return VARCL_E_RUNTIME;
    }
    /* the policy's size within what the device allows for the kernel (cl/norm.cl LN_WG_MAX = 256), a power of two */
    cl_kernel wg[2] = {s->k_ln_wg, s->k_rln_wg};
    s->ln_local = vr_local_pow2(rt, wg, 2, rt->policy.ln_local, 256);
    s->attn_tile = vr_local_pow2(rt, s->k_tiled, 2, rt->policy.attn_tile, 1024);
    return 0;
}

/* The products of vf_begin, vf_embed and vf_scale (every layer at every scale: a plan may run any). Layers whose
 * weights have the dtypes of an earlier one ask for the same. */
int vf_need(vg_gemm *g, const var_model *m, int B, vg_need *n)
{
    const var_hparams *hp = &m->hp;
    size_t R = 2 * (size_t)B, C = (size_t)hp->C, F = (size_t)hp->ffn, ada_layer = R * 6 * C;
    int st = hp->shared_aln ? vg_need_linear(g, n, 1, 0, 0, m->shared_ada_wt.dtype, 0, 0, 0, 0, R, 6 * C, C) : 0;
    for (int l = 0; l < hp->depth && !st && !hp->shared_aln; l++)
        st = vg_need_linear(g, n, 1, 0, 0, m->blocks[l].ada_wt.dtype, 0, 0, l * ada_layer, 0, R, 6 * C, C);
    if (!st) st = vg_need_linear(g, n, 1, 0, 0, m->head_ada_wt.dtype, 0, 0, 0, 0, R, 2 * C, C);
    for (int si = 0; si < hp->scales && !st; si++) {
        size_t T = (size_t)hp->patch[si] * hp->patch[si], N = R * T;
        if (si > 0)
            st = vg_need_linear(g, n, 1, 0, 0, m->word_wt.dtype, 0, 0, 0, 0, (size_t)B * T, C, (size_t)hp->cvae);
        for (int l = 0; l < hp->depth && !st; l++) {
            const var_block *b = &m->blocks[l];
            int seen = 0;
            for (int k = 0; k < l && !seen; k++) {
                const var_block *e = &m->blocks[k];
                seen = e->qkv_wt.dtype == b->qkv_wt.dtype && e->proj_wt.dtype == b->proj_wt.dtype &&
                       e->fc1_wt.dtype == b->fc1_wt.dtype && e->fc2_wt.dtype == b->fc2_wt.dtype;
            }
            if (seen) continue;
            if ((st = vg_need_linear(g, n, 1, 0, 0, b->qkv_wt.dtype, 0, 0, 0, 0, N, 3 * C, C)) ||
                (st = vg_need_linear(g, n, 1, 0, 0, b->proj_wt.dtype, 0, 0, 0, 0, N, C, C)) ||
                (st = vg_need_linear(g, n, 1, 0, 0, b->fc1_wt.dtype, 0, 0, 0, 0, N, F, C)))
                break;
            st = vg_need_linear(g, n, 1, 0, 0, b->fc2_wt.dtype, 0, 0, 0, 0, N, C, F);
        }
        if (!st) st = vg_need_linear(g, n, 1, 0, 0, m->head_wt.dtype, 0, 0, 0, 0, N, (size_t)hp->vocab, C);
    }
    return st;
}

void vf_release(vf_state *s)
{
    if (!s->rt) return;
    cl_mem all[] = {s->x,   s->a,   s->qkv,      s->q,    s->o,      s->y,     s->h,
                    s->logits, s->ada, s->head_ada, s->cond, s->shared, s->scores};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) vm_free(&s->rt->mem, all[i]);
    s->rt = NULL;
}

/* y[off .. off + rows*N) += bias [N] */
static int add_bias(vf_state *s, cl_mem y, size_t rows, int N, cl_mem b, size_t off)
{
    int total = (int)(rows * N), o = (int)off;
    size_t g = (size_t)total;
    return vr_launch(s->rt, s->k_bias, "add_bias", 1, &g, vr_elem_local(s->rt), 5, VR_ARG(y), VR_ARG(b), VR_ARG(total),
                     VR_ARG(N), VR_ARG(o));
}

int vf_begin(vf_state *s, const int *labels)
{
    const var_model *m = s->m;
    const var_hparams *hp = &m->hp;
    int C = hp->C, R = s->R, B = s->B, st;
    float *cond = malloc((size_t)R * C * sizeof *cond), *x0 = malloc((size_t)R * C * sizeof *x0);
    if (!cond || !x0) {
        free(cond);
        free(x0);
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    }
    for (int r = 0; r < R; r++) {
        int label = r < B ? labels[r] : hp->classes; /* rows B..2B-1: the null class */
        const float *e = m->class_emb + (size_t)label * C;
        for (int c = 0; c < C; c++) {
            cond[(size_t)r * C + c] = e[c];
            x0[(size_t)r * C + c] = (e[c] + m->start[c]) + m->start[C + c];
        }
    }
    st = vr_write(s->rt, s->cond, 0, (size_t)R * C * sizeof(float), cond);
    if (!st) st = vr_write(s->rt, s->x, 0, (size_t)R * C * sizeof(float), x0);
    free(cond);
    free(x0);
    if (st) return st;
    int n = R * C;
    size_t g = (size_t)n;
    if ((st = vr_launch(s->rt, s->k_silu, "silu", 1, &g, vr_elem_local(s->rt), 3, VR_ARG(s->cond), VR_ARG(s->cond),
                        VR_ARG(n))))
        return st;
    size_t ada_layer = (size_t)R * 6 * C;
    if (hp->shared_aln) {
        if ((st = vg_linear(s->gemm, s->cond, 0, m->shared_ada_wt, 0, s->shared, 0, (size_t)R, 6 * (size_t)C,
                            (size_t)C)) ||
            (st = add_bias(s, s->shared, (size_t)R, 6 * C, m->shared_ada_b, 0)))
            return st;
    }
    for (int l = 0; l < hp->depth; l++) {
        const var_block *b = &m->blocks[l];
        if (hp->shared_aln) { /* ada_gss + shared output: copy the shared rows, then add this block's gss */
            st = vr_copy(s->rt, s->shared, 0, s->ada, l * ada_layer * sizeof(float), ada_layer * sizeof(float),
                         "shared AdaLN rows");
        } else {
            st = vg_linear(s->gemm, s->cond, 0, b->ada_wt, 0, s->ada, l * ada_layer, (size_t)R, 6 * (size_t)C,
                           (size_t)C);
        }
        if (st) return st;
    }
    for (int l = 0; l < hp->depth; l++)
        if ((st = add_bias(s, s->ada, (size_t)R, 6 * C, m->blocks[l].ada_b, l * ada_layer))) return st;
    if ((st = vg_linear(s->gemm, s->cond, 0, m->head_ada_wt, 0, s->head_ada, 0, (size_t)R, 2 * (size_t)C, (size_t)C)))
        return st;
    return add_bias(s, s->head_ada, (size_t)R, 2 * C, m->head_ada_b, 0);
}

int vf_embed(vf_state *s, int si, cl_mem next)
{
    const var_hparams *hp = &s->m->hp;
    int T = hp->patch[si] * hp->patch[si], C = hp->C, B = s->B, begin = hp->begin[si], st;
    if ((st = vg_linear(s->gemm, next, 0, s->m->word_wt, 0, s->y, 0, (size_t)B * T, (size_t)C, (size_t)hp->cvae)))
        return st;
    size_t g = (size_t)2 * B * T * C;
    return vr_launch(s->rt, s->k_embed, "embed_scale", 1, &g, vr_elem_local(s->rt), 10, VR_ARG(s->y),
                     VR_ARG(s->m->word_b), VR_ARG(s->m->lvl_embed), VR_ARG(s->m->pos), VR_ARG(s->x), VR_ARG(B),
                     VR_ARG(T), VR_ARG(C), VR_ARG(begin), VR_ARG(si));
}

/* The modulated LayerNorm that opens a sub-layer or the head: a = LN(x) (1 + mod[scale_off]) + mod[shift_off] with
 * the AdaLN rows mod [R][stride] (a layer's six vectors, or the head's two). */
typedef struct {
    cl_mem mod;
    int stride, scale_off, shift_off;
} vf_ln;

static int ln_mod(vf_state *s, int rows, int T, const vf_ln *ln)
{
    int C = s->m->hp.C;
    float eps = LN_EPS;
    size_t g = (size_t)rows;
    if (s->ln_local) { /* the policy's work-group per row (GPUs) */
        size_t gw = (size_t)rows * s->ln_local;
        return vr_launch(s->rt, s->k_ln_wg, "ln_modulate_wg", 1, &gw, &s->ln_local, 10, VR_ARG(s->x), VR_ARG(s->a),
                         VR_ARG(ln->mod), VR_ARG(rows), VR_ARG(C), VR_ARG(T), VR_ARG(ln->stride),
                         VR_ARG(ln->scale_off), VR_ARG(ln->shift_off), VR_ARG(eps));
    }
    return vr_launch(s->rt, s->k_ln, "ln_modulate", 1, &g, vr_elem_local(s->rt), 10, VR_ARG(s->x), VR_ARG(s->a),
                     VR_ARG(ln->mod), VR_ARG(rows), VR_ARG(C), VR_ARG(T), VR_ARG(ln->stride), VR_ARG(ln->scale_off),
                     VR_ARG(ln->shift_off), VR_ARG(eps));
}

/* A sub-layer's end and the next one's start in one launch: x += gamma (y + bias) with gamma at gamma_off of
 * s->ada's rows, then a = the LayerNorm ln of the new x (cl/norm.cl residual_ln_modulate). */
static int gated_ln(vf_state *s, cl_mem bias, int rows, int T, int gamma_off, const vf_ln *ln)
{
    int C = s->m->hp.C, g_stride = 6 * C;
    float eps = LN_EPS;
    size_t g = (size_t)rows;
    if (s->ln_local) {
        size_t gw = (size_t)rows * s->ln_local;
        return vr_launch(s->rt, s->k_rln_wg, "residual_ln_modulate_wg", 1, &gw, &s->ln_local, 15, VR_ARG(s->x),
                         VR_ARG(s->y), VR_ARG(bias), VR_ARG(s->ada), VR_ARG(g_stride), VR_ARG(gamma_off),
                         VR_ARG(s->a), VR_ARG(ln->mod), VR_ARG(ln->stride), VR_ARG(ln->scale_off),
                         VR_ARG(ln->shift_off), VR_ARG(rows), VR_ARG(C), VR_ARG(T), VR_ARG(eps));
    }
    return vr_launch(s->rt, s->k_rln, "residual_ln_modulate", 1, &g, vr_elem_local(s->rt), 15, VR_ARG(s->x),
                     VR_ARG(s->y), VR_ARG(bias), VR_ARG(s->ada), VR_ARG(g_stride), VR_ARG(gamma_off), VR_ARG(s->a),
                     VR_ARG(ln->mod), VR_ARG(ln->stride), VR_ARG(ln->scale_off), VR_ARG(ln->shift_off), VR_ARG(rows),
                     VR_ARG(C), VR_ARG(T), VR_ARG(eps));
}

/* The attention LayerNorm of layer l (its AdaLN rows in s->ada), or with l < 0 the head's. */
static vf_ln attn_ln(const vf_state *s, int l)
{
    int C = s->m->hp.C, mod0 = l * s->R * 6 * C;
    if (l < 0) return (vf_ln){s->head_ada, 2 * C, 0, C};
    return (vf_ln){s->ada, 6 * C, mod0 + 2 * C, mod0 + 4 * C};
}

/* Attention as scores = Q K^T, softmax, out = P V (policy.h attn_split) over chunks of s->attn_rows CFG rows (the
 * scores buffer's size). */
static int attention_split(vf_state *s, vk_cache *kv, cl_mem kpool, cl_mem vpool, int T, int kv_len, int tab0)
{
    int C = s->m->hp.C, H = s->m->hp.heads, P = kv->page_tokens, maxp = kv->max_pages, st;
    size_t local = s->rt->policy.simt_local, l3[3] = {local, 1, 1};
    for (int r0 = 0; r0 < s->R; r0 += s->attn_rows) {
        int rows = s->R - r0 < s->attn_rows ? s->R - r0 : s->attn_rows, srows = rows * H * T;
        size_t gs[3] = {((size_t)kv_len + 7) / 8, ((size_t)T + 7) / 8, (size_t)rows * H};
        size_t gv[3] = {VAR_HEAD_DIM / 8, ((size_t)T + 7) / 8, (size_t)rows * H};
        size_t g1 = (size_t)srows;
        if ((st = vr_launch(s->rt, s->k_scores[kv->f16], "attn_scores", 3, gs, local ? l3 : NULL, 11, VR_ARG(s->q),
                            VR_ARG(kpool), VR_ARG(kv->table), VR_ARG(s->scores), VR_ARG(T), VR_ARG(C),
                            VR_ARG(kv_len), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0), VR_ARG(r0))) ||
            (st = vr_launch(s->rt, s->k_softmax, "attn_softmax", 1, &g1, vr_elem_local(s->rt), 3, VR_ARG(s->scores),
                            VR_ARG(srows), VR_ARG(kv_len))) ||
            (st = vr_launch(s->rt, s->k_values[kv->f16], "attn_values", 3, gv, local ? l3 : NULL, 11,
                            VR_ARG(s->scores), VR_ARG(vpool), VR_ARG(kv->table), VR_ARG(s->o), VR_ARG(T), VR_ARG(C),
                            VR_ARG(kv_len), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0), VR_ARG(r0))))
            return st;
    }
    return 0;
}

/* The policy's attention variant (policy.h): the blocked kernel (16 keys per vector step, QB queries per
 * work-item) or one query per work-item, which also takes pages that a 16-key block could straddle. */
static int attention(vf_state *s, vk_cache *kv, cl_mem kpool, cl_mem vpool, int N, int T, int kv_len, int tab0)
{
    int C = s->m->hp.C, P = kv->page_tokens, maxp = kv->max_pages;
    const vp_policy *pol = &s->rt->policy;
    if (pol->attn_blocked && P % 16 == 0) {
        size_t g3[3] = {(size_t)(T + ATTN_QB - 1) / ATTN_QB, (size_t)s->m->hp.heads, (size_t)s->R};
        size_t l3[3] = {pol->attn_blk_local, pol->attn_blk_local, pol->attn_blk_local};
        return vr_launch(s->rt, s->k_attn_blk[kv->f16], "attention_blk", 3, g3, pol->attn_blk_local ? l3 : NULL, 12, VR_ARG(s->q),
                         VR_ARG(kpool), VR_ARG(vpool), VR_ARG(kv->table), VR_ARG(s->o), VR_ARG(N), VR_ARG(T),
                         VR_ARG(C), VR_ARG(kv_len), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0));
    }
    if (s->attn_tile) { /* a work-group per tile of queries: as many as the scale has, up to the policy's */
        size_t S = 1;
        while (S < (size_t)T && S < s->attn_tile) S <<= 1;
        size_t g3[3] = {S * (((size_t)T + S - 1) / S), (size_t)s->m->hp.heads, (size_t)s->R}, l3[3] = {S, 1, 1};
        return vr_launch(s->rt, s->k_tiled[kv->f16], "attention_tiled", 3, g3, l3, 12, VR_ARG(s->q), VR_ARG(kpool),
                         VR_ARG(vpool), VR_ARG(kv->table), VR_ARG(s->o), VR_ARG(N), VR_ARG(T), VR_ARG(C),
                         VR_ARG(kv_len), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0));
    }
    if (pol->attn_split && (long)T * kv_len >= pol->attn_split_min)
        return attention_split(s, kv, kpool, vpool, T, kv_len, tab0);
    size_t g2[2] = {(size_t)N, (size_t)s->m->hp.heads}, l2[2] = {pol->attn_local, 1};
    if (pol->attn_pairs) g2[0] = (size_t)s->R * (size_t)((T + 1) / 2); /* two queries of a row per work-item */
    return vr_launch(s->rt, s->k_attn[2 * pol->attn_pairs + kv->f16], pol->attn_pairs ? "attention2" : "attention", 2,
                     g2, pol->attn_local ? l2 : NULL, 12, VR_ARG(s->q), VR_ARG(kpool), VR_ARG(vpool), VR_ARG(kv->table),
                     VR_ARG(s->o), VR_ARG(N), VR_ARG(T), VR_ARG(C), VR_ARG(kv_len), VR_ARG(P), VR_ARG(maxp),
                     VR_ARG(tab0));
}

/* Layer l over the scale's T tokens per row; s->a holds its attention LayerNorm on entry, and on return the
 * LayerNorm `next` of the new x (the next layer's, or the head's): each residual is fused with the LayerNorm after
 * it. */
static int block(vf_state *s, vk_cache *kv, int l, int T, const vf_ln *next)
{
    const var_hparams *hp = &s->m->hp;
    const var_block *b = &s->m->blocks[l];
    int C = hp->C, F = hp->ffn, N = s->R * T, st;
    int mod0 = l * s->R * 6 * C; /* this layer's AdaLN rows in s->ada */
    int pos0 = kv->len[l], kv_len = pos0 + T, P = kv->page_tokens, maxp = kv->max_pages;
    int tab0 = l * s->R * maxp; /* this layer's page tables */
    cl_mem kpool = kv->kchunk[kv->layer_chunk[l]], vpool = kv->vchunk[kv->layer_chunk[l]];
    size_t g2[2] = {(size_t)N, (size_t)hp->heads}, l2[2] = {s->rt->policy.attn_local, 1};
    const vf_ln ffn_ln = {s->ada, 6 * C, mod0 + 3 * C, mod0 + 5 * C};
    /* attention: x += gamma1 * proj(attn(a)), a = LN(x)(1 + scale1) + shift1 (on entry) */
    if ((st = vg_linear(s->gemm, s->a, 0, b->qkv_wt, 0, s->qkv, 0, (size_t)N, 3 * (size_t)C, (size_t)C)) ||
        (st = vr_launch(s->rt, s->k_qk[kv->f16], "qk_norm_store", 2, g2, l2[0] ? l2 : NULL, 15,
                        VR_ARG(s->qkv),
                        VR_ARG(b->q_bias), VR_ARG(b->v_bias), VR_ARG(b->scale_mul), VR_ARG(s->q), VR_ARG(kpool),
                        VR_ARG(vpool),
                        VR_ARG(kv->table), VR_ARG(N), VR_ARG(T), VR_ARG(C), VR_ARG(pos0), VR_ARG(P), VR_ARG(maxp),
                        VR_ARG(tab0))) ||
        (st = attention(s, kv, kpool, vpool, N, T, kv_len, tab0)) ||
        (st = vg_linear(s->gemm, s->o, 0, b->proj_wt, 0, s->y, 0, (size_t)N, (size_t)C, (size_t)C)) ||
        /* FFN: x += gamma2 * fc2(gelu(fc1(a))), a = LN(x)(1 + scale2) + shift2 */
        (st = gated_ln(s, b->proj_b, N, T, mod0, &ffn_ln)) ||
        (st = vg_linear_act(s->gemm, s->a, 0, b->fc1_wt, 0, s->h, 0, (size_t)N, (size_t)F, (size_t)C, b->fc1_b,
                            VG_ACT_BIAS_GELU)) ||
        (st = vg_linear(s->gemm, s->h, 0, b->fc2_wt, 0, s->y, 0, (size_t)N, (size_t)C, (size_t)F)) ||
        (st = gated_ln(s, b->fc2_b, N, T, mod0 + C, next)))
        return st;
    kv->len[l] += T;
    return 0;
}

int vf_scale(vf_state *s, vk_cache *kv, const vp_plan *plan, int si)
{
    const var_hparams *hp = &s->m->hp;
    int T = hp->patch[si] * hp->patch[si], N = s->R * T, C = hp->C, st;
    int n = plan->n_run[si];
    /* the first layer's LayerNorm; every later one (and the head's: l = -1) comes with the residual before it */
    vf_ln ln = attn_ln(s, n ? plan->run[si][0] : -1);
    if ((st = ln_mod(s, N, T, &ln))) return st;
    for (int k = 0; k < n; k++) {
        ln = attn_ln(s, k + 1 < n ? plan->run[si][k + 1] : -1);
        if ((st = block(s, kv, plan->run[si][k], T, &ln))) return st;
    }
    /* head: a = LN(x)(1 + scale) + shift with the head's own AdaLN, then the vocabulary projection */
    return vg_linear_act(s->gemm, s->a, 0, s->m->head_wt, 0, s->logits, 0, (size_t)N, (size_t)hp->vocab, (size_t)C,
                         s->m->head_b, VG_ACT_BIAS);
}
