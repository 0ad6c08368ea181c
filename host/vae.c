/* vae: VQ-VAE decoder (see vae.h). GroupNorm is 32 groups, eps 1e-6, as upstream's Normalize. */
#include "vae.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>

#define GN_GROUPS 32
#define GN_EPS 1e-6f
/* GroupNorm (cl/norm.cl), in the policy's shape (policy.h). Pixel chunks of the statistics pass: in the rows
 * shape gn_chunk_count work-items each stream whole rows of a chunk; in the float4 shape a work-item per (chunk
 * of about gn_chunk_pixels pixels, 4 channels); never more than GN_CHUNKS_MAX (the partials buffer). The rows
 * kernels take up to GN_ROWS_CMAX channels (cl/norm.cl). */
#define GN_CHUNKS_MAX 1024
#define GN_ROWS_CMAX 1024

/* Widest map GroupNorm sees: ch * max(ch_mult). */
static int gn_max_c(const vae_hparams *hp)
{
    int c = hp->ch;
    for (int i = 0; i < hp->levels; i++)
        if (hp->ch * hp->ch_mult[i] > c) c = hp->ch * hp->ch_mult[i];
    return c;
}

/* GroupNorm in the rows shape (whole rows per work-item)? */
static int gn_rows(const vd_state *d) { return d->rt->policy.gn_rows && gn_max_c(&d->m->hp) <= GN_ROWS_CMAX; }

/* The decoder's buffer sizes: largest feature map (elements), the attention map (positions, channels), the
 * image side. Walks the levels exactly as vd_decode does. */
static void sizes(const vae_hparams *hp, int latent, size_t *biggest, int *attn_hw, int *attn_c, int *image)
{
    int side = latent, top = hp->ch * hp->ch_mult[hp->levels - 1];
    *biggest = (size_t)side * side * (top > hp->zch ? top : hp->zch);
    *attn_hw = *attn_c = 0;
    if (hp->mid_attn) *attn_hw = side * side, *attn_c = top;
    for (int i = hp->levels - 1; i >= 0; i--) {
        int c = hp->ch * hp->ch_mult[i];
        size_t e = (size_t)side * side * c;
        if (e > *biggest) *biggest = e;
        if (hp->has_attn[i] && side * side > *attn_hw) *attn_hw = side * side, *attn_c = c;
        if (hp->has_attn[i] && side * side == *attn_hw && c > *attn_c) *attn_c = c;
        if (hp->has_up[i]) {
            side *= 2;
            e = (size_t)side * side * c;
            if (e > *biggest) *biggest = e;
        }
    }
    *image = side;
}

size_t vd_bytes(const vae_hparams *hp, int latent)
{
    size_t biggest;
    int hw, c, image;
    sizes(hp, latent, &biggest, &hw, &c, &image);
    return (4 * biggest + (size_t)hw * 3 * c + (size_t)hw * hw + (size_t)GN_CHUNKS_MAX * 3 * gn_max_c(hp) +
            3 * (size_t)gn_max_c(hp)) *
           sizeof(float);
}

static double conv_flops(int side, int cin, int cout, int k) { return 2.0 * side * side * cin * cout * k * k; }

static double res_flops(int side, int cin, int cout)
{
    return conv_flops(side, cin, cout, 3) + conv_flops(side, cout, cout, 3) + (cin != cout ? conv_flops(side, cin, cout, 1) : 0);
}

static double attn_flops(int side, int C)
{
    double hw = (double)side * side;
    return 2.0 * hw * C * 3 * C + 4.0 * hw * hw * C + 2.0 * hw * C * C;
}

double vd_flops(const vae_hparams *hp, int latent)
{
    int side = latent, top = hp->ch * hp->ch_mult[hp->levels - 1];
    double f = conv_flops(side, hp->zch, hp->zch, 3) + conv_flops(side, hp->zch, top, 3) + 2 * res_flops(side, top, top);
    if (hp->mid_attn) f += attn_flops(side, top);
    int cin = top;
    for (int i = hp->levels - 1; i >= 0; i--) {
        int cout = hp->ch * hp->ch_mult[i];
        for (int j = 0; j < hp->blocks; j++) {
            f += res_flops(side, cin, cout) + (hp->has_attn[i] ? attn_flops(side, cout) : 0);
            cin = cout;
        }
        if (hp->has_up[i]) side *= 2, f += conv_flops(side, cout, cout, 3);
    }
    return f + conv_flops(side, hp->ch, 3, 3);
}

int vd_init(vd_state *d, vr_runtime *rt, vg_gemm *gemm, vc_conv *conv, const vae_model *m, int latent)
{
    *d = (vd_state){.rt = rt, .gemm = gemm, .conv = conv, .m = m, .latent = latent};
    size_t biggest;
    int attn_hw, attn_c;
    sizes(&m->hp, latent, &biggest, &attn_hw, &attn_c, &d->size);
    d->map_elems = biggest;
    vm_pool *mp = &rt->mem;
    for (int i = 0; i < 4; i++)
        if (!(d->buf[i] = vm_alloc(mp, VM_VAE, biggest * sizeof(float), "decoder feature map"))) goto fail;
    if (attn_hw) {
        if (!(d->qkv = vm_alloc(mp, VM_VAE, (size_t)attn_hw * 3 * attn_c * sizeof(float), "decoder attention qkv")) ||
            !(d->scores = vm_alloc(mp, VM_VAE, (size_t)attn_hw * attn_hw * sizeof(float), "decoder attention scores")))
            goto fail;
    }
    size_t gc = (size_t)gn_max_c(&m->hp);
    if (!(d->gn_part = vm_alloc(mp, VM_VAE, GN_CHUNKS_MAX * 3 * gc * sizeof(float), "GroupNorm partials")) ||
        !(d->gn_stats = vm_alloc(mp, VM_VAE, 3 * gc * sizeof(float), "GroupNorm coefficients")))
        goto fail;
    if (!(d->k_part = vr_kernel(rt, gn_rows(d) ? "gn_partial_rows" : "gn_partial")) ||
        !(d->k_final = vr_kernel(rt, "gn_finalize")) ||
        !(d->k_apply = vr_kernel(rt, gn_rows(d) ? "gn_apply_rows" : "gn_apply")) ||
        !(d->k_add = vr_kernel(rt, "add_inplace")) ||
        !(d->k_softmax = vr_kernel(rt, "softmax_rows")) || !(d->k_bias = vr_kernel(rt, "add_bias")))
        goto fail;
    return 0;
fail:
    vd_release(d);
    return VARCL_E_RUNTIME;
}

void vd_release(vd_state *d)
{
    if (!d->rt) return;
    for (int i = 0; i < 4; i++) vm_free(&d->rt->mem, d->buf[i]);
    vm_free(&d->rt->mem, d->qkv);
    vm_free(&d->rt->mem, d->scores);
    vm_free(&d->rt->mem, d->gn_part);
    vm_free(&d->rt->mem, d->gn_stats);
    d->rt = NULL;
}

/* y = GroupNorm(x) (+ SiLU); x, y: [HW][C]. C is a multiple of 32 (GN_GROUPS) and at most gn_max_c. Partials
 * d->gn_part [chunks][3][C], coefficients d->gn_stats [3][C] (see cl/norm.cl). */
static int group_norm(vd_state *d, const vw_norm *n, cl_mem x, cl_mem y, int HW, int silu)
{
    int C = n->C, G = GN_GROUPS, rows = gn_rows(d), st;
    if (C % G || C % 16 || C > gn_max_c(&d->m->hp))
        return varcl_fail(VARCL_E_INPUT, "GroupNorm over %d channels (%d groups)", C, G);
    const vp_policy *pol = &d->rt->policy;
    int chunks = rows ? pol->gn_chunk_count : (HW + pol->gn_chunk_pixels - 1) / pol->gn_chunk_pixels;
    if (chunks > GN_CHUNKS_MAX) chunks = GN_CHUNKS_MAX;
    if (chunks > HW) chunks = HW;
    float eps = GN_EPS;
    size_t gp[2] = {rows ? (size_t)chunks : (size_t)C / 4, (size_t)chunks}, lf = pol->gn_final_local,
           gf = (size_t)G * lf, ga[2] = {rows ? (size_t)HW : (size_t)C / 4, (size_t)HW};
    const char *np = rows ? "gn_partial_rows" : "gn_partial", *na = rows ? "gn_apply_rows" : "gn_apply";
    if ((st = vr_launch(d->rt, d->k_part, np, rows ? 1 : 2, gp, NULL, 5, VR_ARG(x), VR_ARG(d->gn_part), VR_ARG(HW),
                        VR_ARG(C), VR_ARG(chunks))) ||
        (st = vr_launch(d->rt, d->k_final, "gn_finalize", 1, &gf, &lf, 9, VR_ARG(d->gn_part), VR_ARG(n->gamma),
                        VR_ARG(n->beta), VR_ARG(d->gn_stats), VR_ARG(HW), VR_ARG(C), VR_ARG(G), VR_ARG(chunks),
                        VR_ARG(eps))))
        return st;
    return vr_launch(d->rt, d->k_apply, na, rows ? 1 : 2, ga, NULL, 6, VR_ARG(x), VR_ARG(y), VR_ARG(d->gn_stats),
                     VR_ARG(HW), VR_ARG(C), VR_ARG(silu));
}

static int add_to(vd_state *d, cl_mem a, cl_mem b, int n)
{
    size_t g = (size_t)n;
    return vr_launch(d->rt, d->k_add, "add_inplace", 1, &g, vr_elem_local(d->rt), 3, VR_ARG(a), VR_ARG(b), VR_ARG(n));
}

/* Picks a buffer index not in use. */
static int spare(int a, int b, int c)
{
    for (int i = 0; i < 4; i++)
        if (i != a && i != b && i != c) return i;
    return -1;
}

/* ResnetBlock on buf[*cur] (side x side): returns the result's buffer index in *cur. */
static int res_block(vd_state *d, const vw_res *r, int *cur, int side)
{
    int x = *cur, t1 = spare(x, -1, -1), t2 = spare(x, t1, -1), t3 = spare(x, t1, t2), HW = side * side, st;
    if ((st = group_norm(d, &r->norm1, d->buf[x], d->buf[t1], HW, 1)) ||
        (st = vc_forward(d->conv, &r->conv1, d->buf[t1], 1, side, side, 1, d->buf[t2])) ||
        (st = group_norm(d, &r->norm2, d->buf[t2], d->buf[t1], HW, 1)) ||
        (st = vc_forward(d->conv, &r->conv2, d->buf[t1], 1, side, side, 1, d->buf[t3])))
        return st;
    int n = HW * r->conv2.cout;
    if (r->nin.wt.buf) { /* shortcut(x) + h */
        if ((st = vc_forward(d->conv, &r->nin, d->buf[x], 1, side, side, 1, d->buf[t1])) ||
            (st = add_to(d, d->buf[t1], d->buf[t3], n)))
            return st;
        *cur = t1;
        return 0;
    }
    *cur = x;
    return add_to(d, d->buf[x], d->buf[t3], n);
}

/* AttnBlock (single head, scale C^-0.5) in place on buf[cur]. */
static int attn_block(vd_state *d, const vw_attn *a, int cur, int side)
{
    int C = a->norm.C, HW = side * side, t1 = spare(cur, -1, -1), t2 = spare(cur, t1, -1), st;
    if ((st = group_norm(d, &a->norm, d->buf[cur], d->buf[t1], HW, 0)) ||
        (st = vc_forward(d->conv, &a->qkv, d->buf[t1], 1, side, side, 1, d->qkv)))
        return st;
    size_t C3 = 3 * (size_t)C;
    /* scores[i][j] = <q_i, k_j> C^-0.5 */
    if ((st = vg_sgemm(d->gemm, 0, 1, (size_t)HW, (size_t)HW, (size_t)C, 1.0f / sqrtf((float)C), d->qkv, 0, C3, d->qkv,
                       (size_t)C, C3, 0.0f, d->scores, 0, (size_t)HW)))
        return st;
    size_t g = (size_t)HW;
    if ((st = vr_launch(d->rt, d->k_softmax, "softmax_rows", 1, &g, vr_elem_local(d->rt), 3, VR_ARG(d->scores),
                        VR_ARG(HW), VR_ARG(HW))))
        return st;
    /* out[i] = sum_j p_ij v_j, then proj_out, then the residual */
    if ((st = vg_sgemm(d->gemm, 0, 0, (size_t)HW, (size_t)C, (size_t)HW, 1.0f, d->scores, 0, (size_t)HW, d->qkv,
                       2 * (size_t)C, C3, 0.0f, d->buf[t1], 0, (size_t)C)) ||
        (st = vc_forward(d->conv, &a->proj, d->buf[t1], 1, side, side, 1, d->buf[t2])))
        return st;
    return add_to(d, d->buf[cur], d->buf[t2], HW * C);
}

/* ---- the scratch of vd_decode: the same walk, its convolutions and attention products without running them ---- */

static int res_need(vc_conv *c, const vw_res *r, int side, vc_need *n)
{
    int st;
    if ((st = vc_need_forward(c, &r->conv1, 1, side, side, 1, n)) ||
        (st = vc_need_forward(c, &r->conv2, 1, side, side, 1, n)))
        return st;
    return r->nin.wt.buf ? vc_need_forward(c, &r->nin, 1, side, side, 1, n) : 0;
}

static int attn_need(vc_conv *c, const vw_attn *a, int side, vc_need *n)
{
    size_t C = (size_t)a->norm.C, HW = (size_t)side * side, C3 = 3 * C;
    int st;
    if ((st = vc_need_forward(c, &a->qkv, 1, side, side, 1, n)) ||
        (st = vg_need_sgemm(c->gemm, &n->gemm, 0, 1, HW, HW, C, 0, C3, C, C3, 0.0f, 0, HW)) ||
        (st = vg_need_sgemm(c->gemm, &n->gemm, 0, 0, HW, C, HW, 0, HW, 2 * C, C3, 0.0f, 0, C)))
        return st;
    return vc_need_forward(c, &a->proj, 1, side, side, 1, n);
}

int vd_need(vc_conv *c, const vae_model *m, int latent, vc_need *n)
{
    const vae_hparams *hp = &m->hp;
    int side = latent, st;
    if ((st = vc_need_forward(c, &m->post_quant, 1, side, side, 1, n)) ||
        (st = vc_need_forward(c, &m->conv_in, 1, side, side, 1, n)) || (st = res_need(c, &m->mid1, side, n)) ||
        (hp->mid_attn && (st = attn_need(c, &m->mid_attn, side, n))) || (st = res_need(c, &m->mid2, side, n)))
        return st;
    for (int i = hp->levels - 1; i >= 0; i--) {
        for (int j = 0; j < hp->blocks; j++)
            if ((st = res_need(c, &m->up_block[i][j], side, n)) ||
                (hp->has_attn[i] && (st = attn_need(c, &m->up_attn[i][j], side, n))))
                return st;
        if (hp->has_up[i]) {
            if ((st = vc_need_forward(c, &m->up_conv[i], 1, side, side, 2, n))) return st;
            side *= 2;
        }
    }
    return vc_need_forward(c, &m->conv_out, 1, side, side, 1, n);
}

int vd_decode(vd_state *d, cl_mem fhat, size_t fhat_off, float *rgb)
{
    const vae_model *m = d->m;
    const vae_hparams *hp = &m->hp;
    int side = d->latent, st, cur = 0;
    size_t zbytes = (size_t)side * side * hp->zch * sizeof(float);
    /* post_quant_conv reads f-hat from buf[1] (copied so the im2col sees a map at offset 0) */
    if ((st = vr_copy(d->rt, fhat, fhat_off * sizeof(float), d->buf[1], 0, zbytes, "f-hat")) ||
        (st = vc_forward(d->conv, &m->post_quant, d->buf[1], 1, side, side, 1, d->buf[2])) ||
        (st = vc_forward(d->conv, &m->conv_in, d->buf[2], 1, side, side, 1, d->buf[0])))
        return st;
    if ((st = res_block(d, &m->mid1, &cur, side))) return st;
    if (hp->mid_attn && (st = attn_block(d, &m->mid_attn, cur, side))) return st;
    if ((st = res_block(d, &m->mid2, &cur, side))) return st;
    for (int i = hp->levels - 1; i >= 0; i--) {
        for (int j = 0; j < hp->blocks; j++) {
            if ((st = res_block(d, &m->up_block[i][j], &cur, side))) return st;
            if (hp->has_attn[i] && (st = attn_block(d, &m->up_attn[i][j], cur, side))) return st;
        }
        if (hp->has_up[i]) {
            int t = spare(cur, -1, -1);
            if ((st = vc_forward(d->conv, &m->up_conv[i], d->buf[cur], 1, side, side, 2, d->buf[t]))) return st;
            cur = t;
            side *= 2;
        }
    }
    int t1 = spare(cur, -1, -1), t2 = spare(cur, t1, -1), HW = side * side;
    if ((st = group_norm(d, &m->norm_out, d->buf[cur], d->buf[t1], HW, 1)) ||
        (st = vc_forward(d->conv, &m->conv_out, d->buf[t1], 1, side, side, 1, d->buf[t2])) ||
        (st = vr_read(d->rt, d->buf[t2], 0, (size_t)HW * 3 * sizeof(float), rgb)))
        return st;
    size_t bad = 0;
    for (int i = 0; i < HW * 3; i++) {
        float v = rgb[i];
        bad += !isfinite(v);
        v = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
        rgb[i] = (v + 1.0f) * 0.5f;
    }
    /* finite weights whose activations overflow (1e30 in a convolution): NaN pixels would be written as black ones */
    if (bad)
        return varcl_fail(VARCL_E_RUNTIME,
                          "the VQ-VAE decoder's output holds %zu non-finite values (NaN or infinity) of %d: the VQ-VAE's "
                          "weights or activations overflow",
                          bad, HW * 3);
    return 0;
}
