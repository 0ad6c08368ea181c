/* ref_model: the reference VAR model (transformer, VQ steps, VQ-VAE decoder) and its generation loop.
 * Every size comes from the tensors' shapes (VAR_SPEC: never hard-coded). */
#include "ref.h"

#include "error.h"
#include "sample.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCALES 16

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ref: out of host memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "ref: out of host memory\n");
        abort();
    }
    return p;
}

typedef struct {
    const float *qkv_w, *qkv_b; /* [3C][C], [3C] = (q_bias, 0, v_bias) */
    const float *scale_mul;     /* [H] */
    const float *proj_w, *proj_b;
    const float *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    const float *ada_w, *ada_b; /* [6C][C], [6C] (non-shared) */
    const float *ada_gss;       /* [6][C] (shared) */
} ref_block;

typedef struct {
    int cin, cout;
    const float *norm1_w, *norm1_b, *conv1_w, *conv1_b, *norm2_w, *norm2_b, *conv2_w, *conv2_b;
    const float *nin_w, *nin_b; /* NULL when cin == cout */
} ref_res;

typedef struct {
    int C;
    const float *norm_w, *norm_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
} ref_attn;

typedef struct {
    int nblock, nattn;
    ref_res *block;
    ref_attn *attn;
    const float *up_w, *up_b; /* Upsample2x conv; NULL at level 0 */
    int up_c;
} ref_level;

struct ref_model {
    /* transformer */
    int depth, C, H, dh, hidden, V, classes, cvae, L, scales, latent, image, shared;
    int pn[MAX_SCALES], begin[MAX_SCALES + 1];
    const float *pos_start, *pos, *word_w, *word_b, *class_emb, *lvl_embed;
    const float *shared_w, *shared_b, *head_nm_w, *head_nm_b, *head_w, *head_b;
    ref_block *blocks;
    /* VQ */
    const float *codebook, *phi_w[4], *phi_b[4];
    /* decoder */
    const float *pq_w, *pq_b, *conv_in_w, *conv_in_b;
    int ch_mid, ch_out;
    ref_res mid1, mid2;
    ref_attn mid_attn; /* norm_w NULL: no mid attention */
    int nlevels;
    ref_level *up;
    const float *norm_out_w, *norm_out_b, *conv_out_w, *conv_out_b;
    /* every float array owned by the model */
    float **owned;
    int nowned, capowned;
};

/* ------------------------------------------------------------------------------------------------------------
 * Loading */

typedef struct {
    ref_model *m;
    const vt_set *set;
    int failed;
} loader;

static float *own(ref_model *m, float *p)
{
    if (m->nowned == m->capowned) {
        m->capowned = m->capowned ? 2 * m->capowned : 256;
        float **o = realloc(m->owned, (size_t)m->capowned * sizeof *o);
        if (!o) {
            fprintf(stderr, "ref: out of host memory\n");
            abort();
        }
        m->owned = o;
    }
    m->owned[m->nowned++] = p;
    return p;
}

/* The f32 copy of `name`, which must have the given shape (-1 = any); NULL (and ld->failed) otherwise.
 * After a failure every later call returns NULL without touching the recorded error. */
static const float *get(loader *ld, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (ld->failed) return NULL;
    const int64_t shape[4] = {d0, d1, d2, d3};
    const vt_tensor *t = vt_require(ld->set, name, ndim, shape);
    if (!t) {
        ld->failed = 1;
        return NULL;
    }
    float *f = vt_dup_f32(t);
    if (!f) {
        ld->failed = 1;
        return NULL;
    }
    return own(ld->m, f);
}

static const float *getf(loader *ld, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;
static const float *getf(loader *ld, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return get(ld, name, ndim, d0, d1, d2, d3);
}

static int has(const vt_set *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int has(const vt_set *s, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return vt_find(s, name) != NULL;
}

/* 1 + the largest i among keys "<prefix><i>." (0 when none). */
static int count_indexed(const vt_set *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    int n = 0;
    for (int i = 0; i < vt_count(s); i++) {
        const char *name = vt_at(s, i)->name;
        if (strncmp(name, prefix, pl) != 0) continue;
        const char *p = name + pl;
        if (*p < '0' || *p > '9') continue;
        char *end;
        long v = strtol(p, &end, 10);
        if (*end == '.' && v >= 0 && v < 100000 && v + 1 > n) n = (int)v + 1;
    }
    return n;
}

static int load_res(loader *ld, ref_res *r, const char *prefix, int cin)
{
    const vt_set *s = ld->set;
    char name[256];
    snprintf(name, sizeof name, "%s.conv1.weight", prefix);
    const vt_tensor *c1 = vt_find(s, name);
    int cout = c1 && c1->ndim == 4 ? (int)c1->shape[0] : -1;
    if (cout <= 0) {
        ld->failed = 1;
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' missing or not 4-D", vt_origin(s), name);
    }
    if (cin % 32 || cout % 32) {
        ld->failed = 1;
        return varcl_fail(VARCL_E_INPUT, "%s: %s has %d -> %d channels, not multiples of the 32 GroupNorm groups",
                          vt_origin(s), prefix, cin, cout);
    }
    r->cin = cin;
    r->cout = cout;
    r->norm1_w = getf(ld, 1, cin, 0, 0, 0, "%s.norm1.weight", prefix);
    r->norm1_b = getf(ld, 1, cin, 0, 0, 0, "%s.norm1.bias", prefix);
    r->conv1_w = getf(ld, 4, cout, cin, 3, 3, "%s.conv1.weight", prefix);
    r->conv1_b = getf(ld, 1, cout, 0, 0, 0, "%s.conv1.bias", prefix);
    r->norm2_w = getf(ld, 1, cout, 0, 0, 0, "%s.norm2.weight", prefix);
    r->norm2_b = getf(ld, 1, cout, 0, 0, 0, "%s.norm2.bias", prefix);
    r->conv2_w = getf(ld, 4, cout, cout, 3, 3, "%s.conv2.weight", prefix);
    r->conv2_b = getf(ld, 1, cout, 0, 0, 0, "%s.conv2.bias", prefix);
    if (has(s, "%s.nin_shortcut.weight", prefix)) {
        r->nin_w = getf(ld, 4, cout, cin, 1, 1, "%s.nin_shortcut.weight", prefix);
        r->nin_b = getf(ld, 1, cout, 0, 0, 0, "%s.nin_shortcut.bias", prefix);
    } else if (cin != cout && !ld->failed) {
        ld->failed = 1;
        return varcl_fail(VARCL_E_INPUT, "%s: %s changes channels %d -> %d but has no nin_shortcut", vt_origin(s),
                          prefix, cin, cout);
    }
    return ld->failed ? VARCL_E_INPUT : VARCL_OK;
}

static void load_attn(loader *ld, ref_attn *a, const char *prefix, int C)
{
    a->C = C;
    a->norm_w = getf(ld, 1, C, 0, 0, 0, "%s.norm.weight", prefix);
    a->norm_b = getf(ld, 1, C, 0, 0, 0, "%s.norm.bias", prefix);
    a->qkv_w = getf(ld, 4, 3 * C, C, 1, 1, "%s.qkv.weight", prefix);
    a->qkv_b = getf(ld, 1, 3 * C, 0, 0, 0, "%s.qkv.bias", prefix);
    a->proj_w = getf(ld, 4, C, C, 1, 1, "%s.proj_out.weight", prefix);
    a->proj_b = getf(ld, 1, C, 0, 0, 0, "%s.proj_out.bias", prefix);
}

static int load_var(loader *ld)
{
    ref_model *m = ld->m;
    const vt_set *s = ld->set;
    const vt_tensor *t;

    if (!(t = vt_find(s, "class_emb.weight")) || t->ndim != 2 || t->shape[0] < 2)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'class_emb.weight' missing or not [classes+1, C]", vt_origin(s));
    m->classes = (int)t->shape[0] - 1;
    m->C = (int)t->shape[1];
    if (!(t = vt_find(s, "blocks.0.attn.scale_mul_1H11")) || t->ndim != 4 || t->shape[1] < 1)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'blocks.0.attn.scale_mul_1H11' missing or not [1, H, 1, 1]",
                          vt_origin(s));
    m->H = (int)t->shape[1];
    if (m->C % m->H)
        return varcl_fail(VARCL_E_INPUT, "%s: width %d not divisible by %d heads", vt_origin(s), m->C, m->H);
    m->dh = m->C / m->H;
    if (!(t = vt_find(s, "head.weight")) || t->ndim != 2)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'head.weight' missing or not 2-D", vt_origin(s));
    m->V = (int)t->shape[0];
    if (!(t = vt_find(s, "word_embed.weight")) || t->ndim != 2)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'word_embed.weight' missing or not 2-D", vt_origin(s));
    m->cvae = (int)t->shape[1];
    if (!(t = vt_find(s, "blocks.0.ffn.fc1.weight")) || t->ndim != 2)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'blocks.0.ffn.fc1.weight' missing or not 2-D", vt_origin(s));
    m->hidden = (int)t->shape[0];
    if (!(t = vt_find(s, "pos_1LC")) || t->ndim != 3)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'pos_1LC' missing or not 3-D", vt_origin(s));
    m->L = (int)t->shape[1];
    static const int pn256[10] = {1, 2, 3, 4, 5, 6, 8, 10, 13, 16};
    static const int pn512[10] = {1, 2, 3, 4, 6, 9, 13, 18, 24, 32};
    const int *pns;
    if (m->L == 680)
        pns = pn256;
    else if (m->L == 2240)
        pns = pn512;
    else
        return varcl_fail(VARCL_E_INPUT,
                          "%s: pos_1LC has %d tokens; known patch lists have 680 (256 px) or 2240 (512 px)",
                          vt_origin(s), m->L);
    m->scales = 10;
    m->begin[0] = 0;
    for (int i = 0; i < m->scales; i++) {
        m->pn[i] = pns[i];
        m->begin[i + 1] = m->begin[i] + pns[i] * pns[i];
    }
    m->latent = m->pn[m->scales - 1];
    m->depth = count_indexed(s, "blocks.");
    if (m->depth < 1) return varcl_fail(VARCL_E_INPUT, "%s: no transformer blocks", vt_origin(s));
    m->shared = vt_find(s, "shared_ada_lin.1.weight") != NULL;

    const int C = m->C, L = m->L;
    m->pos_start = get(ld, "pos_start", 3, 1, 1, C, 0);
    m->pos = get(ld, "pos_1LC", 3, 1, L, C, 0);
    m->word_w = get(ld, "word_embed.weight", 2, C, m->cvae, 0, 0);
    m->word_b = get(ld, "word_embed.bias", 1, C, 0, 0, 0);
    m->class_emb = get(ld, "class_emb.weight", 2, m->classes + 1, C, 0, 0);
    m->lvl_embed = get(ld, "lvl_embed.weight", 2, m->scales, C, 0, 0);
    if (m->shared) {
        m->shared_w = get(ld, "shared_ada_lin.1.weight", 2, 6 * C, C, 0, 0);
        m->shared_b = get(ld, "shared_ada_lin.1.bias", 1, 6 * C, 0, 0, 0);
    }
    m->head_nm_w = get(ld, "head_nm.ada_lin.1.weight", 2, 2 * C, C, 0, 0);
    m->head_nm_b = get(ld, "head_nm.ada_lin.1.bias", 1, 2 * C, 0, 0, 0);
    m->head_w = get(ld, "head.weight", 2, m->V, C, 0, 0);
    m->head_b = get(ld, "head.bias", 1, m->V, 0, 0, 0);
    if (!ld->failed && (t = vt_find(s, "lvl_1L"))) { /* optional: must agree with the patch list */
        if (t->ndim != 2 || t->shape[1] != L)
            return varcl_fail(VARCL_E_INPUT, "%s: lvl_1L is not [1, %d]", vt_origin(s), L);
        float *lv = own(m, vt_dup_f32(t));
        if (!lv) return VARCL_E_RUNTIME;
        for (int si = 0; si < m->scales; si++)
            for (int i = m->begin[si]; i < m->begin[si + 1]; i++)
                if (lv[i] != (float)si)
                    return varcl_fail(VARCL_E_INPUT, "%s: lvl_1L[%d] = %g, expected scale %d", vt_origin(s), i,
                                      (double)lv[i], si);
    }

    m->blocks = xcalloc((size_t)m->depth, sizeof *m->blocks);
    for (int i = 0; i < m->depth && !ld->failed; i++) {
        ref_block *b = &m->blocks[i];
        const float *qkv_w = getf(ld, 2, 3 * C, C, 0, 0, "blocks.%d.attn.mat_qkv.weight", i);
        const float *q_bias = getf(ld, 1, C, 0, 0, 0, "blocks.%d.attn.q_bias", i);
        const float *v_bias = getf(ld, 1, C, 0, 0, 0, "blocks.%d.attn.v_bias", i);
        b->qkv_w = qkv_w;
        if (q_bias && v_bias) { /* the k bias is zero_k_bias: exactly zero (VAR_SPEC 6.5) */
            float *qkv_b = own(m, xcalloc((size_t)3 * C, sizeof(float)));
            memcpy(qkv_b, q_bias, (size_t)C * sizeof(float));
            memcpy(qkv_b + 2 * C, v_bias, (size_t)C * sizeof(float));
            b->qkv_b = qkv_b;
        }
        b->scale_mul = getf(ld, 4, 1, m->H, 1, 1, "blocks.%d.attn.scale_mul_1H11", i);
        b->proj_w = getf(ld, 2, C, C, 0, 0, "blocks.%d.attn.proj.weight", i);
        b->proj_b = getf(ld, 1, C, 0, 0, 0, "blocks.%d.attn.proj.bias", i);
        b->fc1_w = getf(ld, 2, m->hidden, C, 0, 0, "blocks.%d.ffn.fc1.weight", i);
        b->fc1_b = getf(ld, 1, m->hidden, 0, 0, 0, "blocks.%d.ffn.fc1.bias", i);
        b->fc2_w = getf(ld, 2, C, m->hidden, 0, 0, "blocks.%d.ffn.fc2.weight", i);
        b->fc2_b = getf(ld, 1, C, 0, 0, 0, "blocks.%d.ffn.fc2.bias", i);
        if (m->shared) {
            b->ada_gss = getf(ld, 4, 1, 1, 6, C, "blocks.%d.ada_gss", i);
        } else {
            b->ada_w = getf(ld, 2, 6 * C, C, 0, 0, "blocks.%d.ada_lin.1.weight", i);
            b->ada_b = getf(ld, 1, 6 * C, 0, 0, 0, "blocks.%d.ada_lin.1.bias", i);
        }
    }
    return ld->failed ? VARCL_E_INPUT : VARCL_OK;
}

static int load_vae(loader *ld)
{
    ref_model *m = ld->m;
    const vt_set *s = ld->set;
    const int Z = m->cvae;
    char pre[128];

    m->codebook = get(ld, "quantize.embedding.weight", 2, m->V, Z, 0, 0);
    for (int k = 0; k < 4; k++) {
        m->phi_w[k] = getf(ld, 4, Z, Z, 3, 3, "quantize.quant_resi.qresi_ls.%d.weight", k);
        m->phi_b[k] = getf(ld, 1, Z, 0, 0, 0, "quantize.quant_resi.qresi_ls.%d.bias", k);
    }
    m->pq_w = get(ld, "post_quant_conv.weight", 4, Z, Z, 3, 3);
    m->pq_b = get(ld, "post_quant_conv.bias", 1, Z, 0, 0, 0);
    if (ld->failed) return VARCL_E_INPUT;

    const vt_tensor *t = vt_find(s, "decoder.conv_in.weight");
    if (!t || t->ndim != 4)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor 'decoder.conv_in.weight' missing or not 4-D", vt_origin(s));
    int ch = (int)t->shape[0];
    m->ch_mid = ch;
    m->conv_in_w = get(ld, "decoder.conv_in.weight", 4, ch, Z, 3, 3);
    m->conv_in_b = get(ld, "decoder.conv_in.bias", 1, ch, 0, 0, 0);
    if (ld->failed) return VARCL_E_INPUT;
    if (load_res(ld, &m->mid1, "decoder.mid.block_1", ch)) return VARCL_E_INPUT;
    if (m->mid1.cout != ch) return varcl_fail(VARCL_E_INPUT, "%s: decoder.mid.block_1 changes channels", vt_origin(s));
    if (has(s, "decoder.mid.attn_1.qkv.weight")) load_attn(ld, &m->mid_attn, "decoder.mid.attn_1", ch);
    if (load_res(ld, &m->mid2, "decoder.mid.block_2", ch)) return VARCL_E_INPUT;
    if (m->mid2.cout != ch) return varcl_fail(VARCL_E_INPUT, "%s: decoder.mid.block_2 changes channels", vt_origin(s));

    m->nlevels = count_indexed(s, "decoder.up.");
    if (m->nlevels < 1) return varcl_fail(VARCL_E_INPUT, "%s: no decoder.up.{i} levels", vt_origin(s));
    const int nblock = count_indexed(s, "decoder.up.0.block.");
    if (nblock < 1) return varcl_fail(VARCL_E_INPUT, "%s: no decoder.up.0.block.{j}", vt_origin(s));
    m->up = xcalloc((size_t)m->nlevels, sizeof *m->up);
    int ups = 0;
    for (int i = m->nlevels - 1; i >= 0; i--) { /* execution order: up[last] -> up[0] */
        ref_level *lv = &m->up[i];
        lv->nblock = nblock;
        lv->block = xcalloc((size_t)nblock, sizeof *lv->block);
        for (int j = 0; j < nblock; j++) {
            snprintf(pre, sizeof pre, "decoder.up.%d.block.%d", i, j);
            if (load_res(ld, &lv->block[j], pre, ch)) return VARCL_E_INPUT;
            ch = lv->block[j].cout;
        }
        snprintf(pre, sizeof pre, "decoder.up.%d.attn.", i);
        lv->nattn = count_indexed(s, pre);
        if (lv->nattn && lv->nattn != nblock)
            return varcl_fail(VARCL_E_INPUT, "%s: decoder.up.%d has %d attention blocks for %d res blocks",
                              vt_origin(s), i, lv->nattn, nblock);
        lv->attn = xcalloc((size_t)(lv->nattn ? lv->nattn : 1), sizeof *lv->attn);
        for (int j = 0; j < lv->nattn; j++) {
            snprintf(pre, sizeof pre, "decoder.up.%d.attn.%d", i, j);
            load_attn(ld, &lv->attn[j], pre, ch);
        }
        if (has(s, "decoder.up.%d.upsample.conv.weight", i)) {
            lv->up_c = ch;
            lv->up_w = getf(ld, 4, ch, ch, 3, 3, "decoder.up.%d.upsample.conv.weight", i);
            lv->up_b = getf(ld, 1, ch, 0, 0, 0, "decoder.up.%d.upsample.conv.bias", i);
            ups++;
        }
        if (ld->failed) return VARCL_E_INPUT;
    }
    m->ch_out = ch;
    m->norm_out_w = get(ld, "decoder.norm_out.weight", 1, ch, 0, 0, 0);
    m->norm_out_b = get(ld, "decoder.norm_out.bias", 1, ch, 0, 0, 0);
    m->conv_out_w = get(ld, "decoder.conv_out.weight", 4, 3, ch, 3, 3);
    m->conv_out_b = get(ld, "decoder.conv_out.bias", 1, 3, 0, 0, 0);
    m->image = m->latent << ups;
    return ld->failed ? VARCL_E_INPUT : VARCL_OK;
}

void ref_model_free(ref_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nowned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->blocks);
    if (m->up) {
        for (int i = 0; i < m->nlevels; i++) {
            free(m->up[i].block);
            free(m->up[i].attn);
        }
        free(m->up);
    }
    free(m);
}

ref_model *ref_model_load(const vt_set *var, const vt_set *vae)
{
    if (!var || !vae) {
        varcl_fail(VARCL_E_INPUT, "ref_model_load: both the VAR and the VAE tensor sets are needed");
        return NULL;
    }
    ref_model *m = xcalloc(1, sizeof *m);
    loader ld = {m, var, 0};
    if (load_var(&ld) || ld.failed) {
        ref_model_free(m);
        return NULL;
    }
    ld.set = vae;
    if (load_vae(&ld) || ld.failed) {
        ref_model_free(m);
        return NULL;
    }
    return m;
}

int ref_model_depth(const ref_model *m) { return m->depth; }
int ref_model_scales(const ref_model *m) { return m->scales; }
int ref_model_tokens(const ref_model *m) { return m->L; }
int ref_model_latent(const ref_model *m) { return m->latent; }
int ref_model_image_size(const ref_model *m) { return m->image; }
int ref_model_cvae(const ref_model *m) { return m->cvae; }
int ref_model_width(const ref_model *m) { return m->C; }
int ref_model_heads(const ref_model *m) { return m->H; }
int ref_model_vocab(const ref_model *m) { return m->V; }
int ref_model_classes(const ref_model *m) { return m->classes; }
int ref_model_shared_aln(const ref_model *m) { return m->shared; }
const int *ref_model_patch_nums(const ref_model *m) { return m->pn; }
int ref_model_scale_begin(const ref_model *m, int si) { return m->begin[si]; }

/* ------------------------------------------------------------------------------------------------------------
 * VQ step and decoder */

int ref_vq_step(const ref_model *m, int si, const int *tokens, float *fhat, float *next)
{
    if (si < 0 || si >= m->scales) return varcl_fail(VARCL_E_INPUT, "ref_vq_step: scale %d out of range", si);
    const int pn = m->pn[si], S = m->latent, Z = m->cvae;
    float *h = xmalloc((size_t)pn * pn * Z * sizeof *h);
    for (int i = 0; i < pn * pn; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->V) {
            free(h);
            return varcl_fail(VARCL_E_INPUT, "ref_vq_step: token %d out of range [0, %d)", tokens[i], m->V);
        }
        memcpy(h + (size_t)i * Z, m->codebook + (size_t)tokens[i] * Z, (size_t)Z * sizeof *h);
    }
    const int k = ref_phi_index(si, m->scales);
    float *u = xmalloc((size_t)S * S * Z * sizeof *u);
    if (si < m->scales - 1) {
        float *up = xmalloc((size_t)S * S * Z * sizeof *up);
        ref_bicubic(h, pn, up, S, Z);
        ref_phi(up, S, Z, m->phi_w[k], m->phi_b[k], u);
        free(up);
    } else {
        ref_phi(h, S, Z, m->phi_w[k], m->phi_b[k], u); /* the last scale is already at latent size */
    }
    for (size_t i = 0; i < (size_t)S * S * Z; i++) fhat[i] += u[i];
    if (next && si < m->scales - 1) ref_area(fhat, S, next, m->pn[si + 1], Z);
    free(u);
    free(h);
    return VARCL_OK;
}

static float *resblock(const ref_res *r, float *x, int H, int W)
{
    float *y = xmalloc((size_t)H * W * r->cout * sizeof *y);
    ref_vae_resblock(x, y, H, W, r->cin, r->cout, r->norm1_w, r->norm1_b, r->conv1_w, r->conv1_b, r->norm2_w,
                     r->norm2_b, r->conv2_w, r->conv2_b, r->nin_w, r->nin_b);
    free(x);
    return y;
}

static void attnblock(const ref_attn *a, float *x, int H, int W)
{
    ref_vae_attn(x, x, H * W, a->C, a->norm_w, a->norm_b, a->qkv_w, a->qkv_b, a->proj_w, a->proj_b);
}

int ref_decode(const ref_model *m, const float *fhat, float *image)
{
    int H = m->latent, W = m->latent;
    const int Z = m->cvae;
    float *z = xmalloc((size_t)H * W * Z * sizeof *z);
    ref_conv3x3_hwc(fhat, H, W, Z, m->pq_w, m->pq_b, Z, z);
    float *x = xmalloc((size_t)H * W * m->ch_mid * sizeof *x);
    ref_conv3x3_hwc(z, H, W, Z, m->conv_in_w, m->conv_in_b, m->ch_mid, x);
    free(z);
    x = resblock(&m->mid1, x, H, W);
    if (m->mid_attn.norm_w) attnblock(&m->mid_attn, x, H, W);
    x = resblock(&m->mid2, x, H, W);
    for (int i = m->nlevels - 1; i >= 0; i--) {
        const ref_level *lv = &m->up[i];
        for (int j = 0; j < lv->nblock; j++) {
            x = resblock(&lv->block[j], x, H, W);
            if (lv->nattn) attnblock(&lv->attn[j], x, H, W);
        }
        if (lv->up_w) {
            const int c = lv->up_c;
            float *u = xmalloc((size_t)4 * H * W * c * sizeof *u);
            ref_upsample2x_hwc(x, H, W, c, u);
            H *= 2;
            W *= 2;
            free(x);
            x = xmalloc((size_t)H * W * c * sizeof *x);
            ref_conv3x3_hwc(u, H, W, c, lv->up_w, lv->up_b, c, x);
            free(u);
        }
    }
    const int c = m->ch_out;
    ref_groupnorm_hwc(x, x, H * W, c, 32, 1e-6f, m->norm_out_w, m->norm_out_b);
    ref_silu(x, (size_t)H * W * c);
    ref_conv3x3_hwc(x, H, W, c, m->conv_out_w, m->conv_out_b, 3, image);
    free(x);
    for (size_t i = 0; i < (size_t)H * W * 3; i++) {
        float v = image[i];
        v = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
        image[i] = (v + 1.0f) * 0.5f;
    }
    return VARCL_OK;
}

/* ------------------------------------------------------------------------------------------------------------
 * Generation */

void ref_gen_out_free(ref_gen_out *o)
{
    if (!o) return;
    free(o->tokens);
    free(o->fhat);
    free(o->images);
    free(o->logits);
    memset(o, 0, sizeof *o);
}

int ref_generate(const ref_model *m, const ref_gen_params *p, ref_gen_out *out)
{
    memset(out, 0, sizeof *out);
    const int B = p->B, R = 2 * B, C = m->C, L = m->L, V = m->V, Z = m->cvae, S = m->latent;
    const int D = m->depth, NS = m->scales, F = m->hidden;
    if (B < 1) return varcl_fail(VARCL_E_INPUT, "ref_generate: batch %d < 1", B);
    if (!p->labels) return varcl_fail(VARCL_E_INPUT, "ref_generate: no labels");
    for (int b = 0; b < B; b++)
        if (p->labels[b] < 0 || p->labels[b] > m->classes)
            return varcl_fail(VARCL_E_INPUT, "ref_generate: label %d out of range [0, %d]", p->labels[b], m->classes);
    if (p->force_tokens)
        for (size_t i = 0; i < (size_t)B * L; i++)
            if (p->force_tokens[i] < 0 || p->force_tokens[i] >= V)
                return varcl_fail(VARCL_E_INPUT, "ref_generate: forced token %d out of range", p->force_tokens[i]);

    /* Per-call constants: condition, AdaLN vectors, head modulation, lvl_pos. */
    float *cond = xmalloc((size_t)R * C * sizeof *cond);
    for (int r = 0; r < R; r++) {
        int label = r < B ? p->labels[r] : m->classes;
        memcpy(cond + (size_t)r * C, m->class_emb + (size_t)label * C, (size_t)C * sizeof *cond);
    }
    float *scond = xmalloc((size_t)R * C * sizeof *scond);
    memcpy(scond, cond, (size_t)R * C * sizeof *scond);
    ref_silu(scond, (size_t)R * C);
    /* [D][R][6][C]: gamma1 gamma2 scale1 scale2 shift1 shift2 */
    float *ada = xmalloc((size_t)D * R * 6 * C * sizeof *ada);
    if (m->shared) {
        float *sh = xmalloc((size_t)R * 6 * C * sizeof *sh);
        ref_linear(scond, m->shared_w, m->shared_b, sh, R, C, 6 * C);
        for (int l = 0; l < D; l++)
            for (size_t i = 0; i < (size_t)R * 6 * C; i++)
                ada[(size_t)l * R * 6 * C + i] = m->blocks[l].ada_gss[i % ((size_t)6 * C)] + sh[i];
        free(sh);
    } else {
        for (int l = 0; l < D; l++)
            ref_linear(scond, m->blocks[l].ada_w, m->blocks[l].ada_b, ada + (size_t)l * R * 6 * C, R, C, 6 * C);
    }
    float *hmod = xmalloc((size_t)R * 2 * C * sizeof *hmod); /* [R][2][C]: scale, shift (from the raw cond) */
    ref_linear(scond, m->head_nm_w, m->head_nm_b, hmod, R, C, 2 * C);
    float *lvl_pos = xmalloc((size_t)L * C * sizeof *lvl_pos);
    for (int si = 0; si < NS; si++)
        for (int i = m->begin[si]; i < m->begin[si + 1]; i++)
            for (int c = 0; c < C; c++)
                lvl_pos[(size_t)i * C + c] = m->lvl_embed[(size_t)si * C + c] + m->pos[(size_t)i * C + c];

    /* KV cache: per layer [R][L][C] for K (normalised) and V, and the count stored so far. */
    float **kc = xcalloc((size_t)D, sizeof *kc), **vc = xcalloc((size_t)D, sizeof *vc);
    int *kvn = xcalloc((size_t)D, sizeof *kvn);
    for (int l = 0; l < D; l++) {
        kc[l] = xmalloc((size_t)R * L * C * sizeof(float));
        vc[l] = xmalloc((size_t)R * L * C * sizeof(float));
    }

    const int nmax = m->pn[NS - 1] * m->pn[NS - 1];
    const size_t rows_max = (size_t)R * nmax;
    float *x = xmalloc(rows_max * C * sizeof *x);
    float *a = xmalloc(rows_max * C * sizeof *a);
    float *qkv = xmalloc(rows_max * 3 * C * sizeof *qkv);
    float *att = xmalloc(rows_max * C * sizeof *att);
    float *tmp = xmalloc(rows_max * C * sizeof *tmp);
    float *hid = xmalloc(rows_max * F * sizeof *hid);
    float *logits = xmalloc(rows_max * V * sizeof *logits);
    float *comb = xmalloc((size_t)V * sizeof *comb);
    float *fhat = xcalloc((size_t)B * S * S * Z, sizeof *fhat);
    float *next = xmalloc((size_t)B * nmax * Z * sizeof *next);
    float *emb = xmalloc((size_t)B * nmax * C * sizeof *emb);

    out->tokens = xmalloc((size_t)B * L * sizeof *out->tokens);
    out->fhat = xmalloc((size_t)NS * B * S * S * Z * sizeof *out->fhat);
    out->images = xmalloc((size_t)B * m->image * m->image * 3 * sizeof *out->images);
    if (p->keep_logits) out->logits = xmalloc((size_t)B * L * V * sizeof *out->logits);

    vs_sampler *smp = vs_new(V);
    int st = smp ? VARCL_OK : VARCL_E_RUNTIME;

    /* Step 0 input: (cond + pos_start) + lvl_pos[0], one token per row. */
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) x[(size_t)r * C + c] = (cond[(size_t)r * C + c] + m->pos_start[c]) + lvl_pos[c];

    for (int si = 0; si < NS && st == VARCL_OK; si++) {
        const int pn = m->pn[si], n = pn * pn, begin = m->begin[si];
        const int rows = R * n;
        for (int l = 0; l < D; l++) {
            if (p->run && !p->run[(size_t)si * D + l]) continue; /* skipped: x unchanged, no K/V stored */
            const ref_block *bk = &m->blocks[l];
            const float *ad = ada + (size_t)l * R * 6 * C;
            /* attention */
            ref_layernorm(x, a, rows, C, 1e-6f);
            for (int r = 0; r < R; r++) {
                const float *v6 = ad + (size_t)r * 6 * C;
                ref_modulate(a + (size_t)r * n * C, a + (size_t)r * n * C, n, C, v6 + 2 * C, v6 + 4 * C);
            }
            ref_linear(a, bk->qkv_w, bk->qkv_b, qkv, rows, C, 3 * C);
            for (int i = 0; i < rows; i++)
                ref_qk_l2norm(qkv + (size_t)i * 3 * C, qkv + (size_t)i * 3 * C + C, m->H, m->dh, bk->scale_mul);
            const int cnt = kvn[l];
            for (int r = 0; r < R; r++)
                for (int i = 0; i < n; i++) {
                    const float *row = qkv + ((size_t)r * n + i) * 3 * C;
                    memcpy(kc[l] + ((size_t)r * L + cnt + i) * C, row + C, (size_t)C * sizeof(float));
                    memcpy(vc[l] + ((size_t)r * L + cnt + i) * C, row + 2 * C, (size_t)C * sizeof(float));
                }
            kvn[l] = cnt + n;
            for (int r = 0; r < R; r++)
                ref_attention(qkv + (size_t)r * n * 3 * C, 3 * C, kc[l] + (size_t)r * L * C, C,
                              vc[l] + (size_t)r * L * C, C, att + (size_t)r * n * C, C, n, cnt + n, m->H, m->dh, 1.0f);
            ref_linear(att, bk->proj_w, bk->proj_b, tmp, rows, C, C);
            for (int r = 0; r < R; r++) {
                const float *g1 = ad + (size_t)r * 6 * C;
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < C; c++) {
                        size_t k = ((size_t)r * n + i) * C + c;
                        x[k] = x[k] + tmp[k] * g1[c];
                    }
            }
            /* FFN */
            ref_layernorm(x, a, rows, C, 1e-6f);
            for (int r = 0; r < R; r++) {
                const float *v6 = ad + (size_t)r * 6 * C;
                ref_modulate(a + (size_t)r * n * C, a + (size_t)r * n * C, n, C, v6 + 3 * C, v6 + 5 * C);
            }
            ref_linear(a, bk->fc1_w, bk->fc1_b, hid, rows, C, F);
            ref_gelu_tanh(hid, (size_t)rows * F);
            ref_linear(hid, bk->fc2_w, bk->fc2_b, tmp, rows, F, C);
            for (int r = 0; r < R; r++) {
                const float *g2 = ad + (size_t)r * 6 * C + C;
                for (int i = 0; i < n; i++)
                    for (int c = 0; c < C; c++) {
                        size_t k = ((size_t)r * n + i) * C + c;
                        x[k] = x[k] + tmp[k] * g2[c];
                    }
            }
        }
        /* head */
        ref_layernorm(x, a, rows, C, 1e-6f);
        for (int r = 0; r < R; r++) {
            const float *hm = hmod + (size_t)r * 2 * C;
            ref_modulate(a + (size_t)r * n * C, a + (size_t)r * n * C, n, C, hm, hm + C);
        }
        ref_linear(a, m->head_w, m->head_b, logits, rows, C, V);

        /* CFG and sampling */
        /* upstream: t = cfg * (si / 9) in double; 1 + t and t each rounded once to fp32 */
        const double td = p->cfg * ((double)si / (NS - 1));
        const float a = (float)(1.0 + td), t = (float)td;
        for (int b = 0; b < B && st == VARCL_OK; b++)
            for (int i = 0; i < n; i++) {
                vs_cfg_combine(logits + ((size_t)b * n + i) * V, logits + ((size_t)(b + B) * n + i) * V, a, t, (size_t)V,
                               comb);
                if (out->logits) memcpy(out->logits + ((size_t)b * L + begin + i) * V, comb, (size_t)V * sizeof *comb);
                int tok;
                if (p->force_tokens) {
                    tok = p->force_tokens[(size_t)b * L + begin + i];
                } else {
                    tok = vs_sample(smp, comb, p->top_k, p->top_p, p->seed, (uint32_t)b, (uint32_t)si, (uint32_t)i);
                    if (tok < 0 || tok >= V) {
                        st = varcl_fail(VARCL_E_RUNTIME, "ref_generate: sampler returned %d", tok);
                        break;
                    }
                }
                out->tokens[(size_t)b * L + begin + i] = tok;
            }
        if (st) break;

        /* VQ: f-hat update and the next scale's input */
        for (int b = 0; b < B && st == VARCL_OK; b++) {
            float *fh = fhat + (size_t)b * S * S * Z;
            st = ref_vq_step(m, si, out->tokens + (size_t)b * L + begin, fh, next + (size_t)b * nmax * Z);
            memcpy(out->fhat + (((size_t)si * B + b) * S * S) * Z, fh, (size_t)S * S * Z * sizeof *fh);
        }
        if (st || si == NS - 1) break;
        const int n2 = m->pn[si + 1] * m->pn[si + 1], begin2 = m->begin[si + 1];
        for (int b = 0; b < B; b++) {
            ref_linear(next + (size_t)b * nmax * Z, m->word_w, m->word_b, emb, n2, Z, C);
            for (int i = 0; i < n2; i++)
                for (int c = 0; c < C; c++) {
                    float v = emb[(size_t)i * C + c] + lvl_pos[(size_t)(begin2 + i) * C + c];
                    x[((size_t)b * n2 + i) * C + c] = v;       /* conditional row */
                    x[((size_t)(b + B) * n2 + i) * C + c] = v; /* unconditional row: the same input */
                }
        }
    }

    for (int b = 0; b < B && st == VARCL_OK; b++) {
        const size_t isz = (size_t)m->image * m->image * 3;
        st = ref_decode(m, fhat + (size_t)b * S * S * Z, out->images + b * isz);
    }

    vs_free(smp);
    free(emb);
    free(next);
    free(fhat);
    free(comb);
    free(logits);
    free(hid);
    free(tmp);
    free(att);
    free(qkv);
    free(a);
    free(x);
    for (int l = 0; l < D; l++) {
        free(kc[l]);
        free(vc[l]);
    }
    free(kvn);
    free(vc);
    free(kc);
    free(lvl_pos);
    free(hmod);
    free(ada);
    free(scond);
    free(cond);
    if (st) ref_gen_out_free(out);
    return st;
}
