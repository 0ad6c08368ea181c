/* model: hyperparameters from tensor shapes; weights converted, laid out for the kernels and uploaded one tensor
 * at a time by wload (see model.h). */
#include "model.h"

#include "conv.h"
#include "error.h"
#include "gemm.h"
#include "team.h"
#include "varcl.h"
#include "wcache.h"
#include "wload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int patches_256[] = {1, 2, 3, 4, 5, 6, 8, 10, 13, 16};
static const int patches_512[] = {1, 2, 3, 4, 6, 9, 13, 18, 24, 32};

static const vt_tensor *req(const vt_set *s, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                            int64_t d3)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    return vt_require(s, name, ndim, shape);
}

int var_read_hparams(const vt_set *s, var_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    if (vt_find(s, "decoder.conv_in.weight") || vt_find(s, "quantize.embedding.weight"))
        return varcl_fail(VARCL_E_INPUT, "%s is a VQ-VAE checkpoint, not a VAR model (give it with --vae)",
                          vt_origin(s));
    const vt_tensor *t;
    if (!(t = req(s, "class_emb.weight", 2, -1, -1, 0, 0))) return VARCL_E_INPUT;
    hp->classes = (int)t->shape[0] - 1;
    hp->C = (int)t->shape[1];
    if (hp->classes < 1) /* row `classes` is the unconditional (CFG) embedding */
        return varcl_fail(VARCL_E_INPUT,
                          "%s: class_emb.weight [%d, %d]: no class (the rows are the classes plus one for CFG)",
                          vt_origin(s), hp->classes + 1, hp->C);
    if (hp->C < VAR_HEAD_DIM || hp->C % VAR_HEAD_DIM)
        return varcl_fail(VARCL_E_INPUT, "%s: class_emb.weight [%d, %d]: width must be a multiple of %d", vt_origin(s),
                          hp->classes + 1, hp->C, VAR_HEAD_DIM);
    /* the depth is the number of blocks.N; a gap would otherwise load as a shallower model and drop the rest */
    if (vt_family(s, "blocks.", VAR_MAX_DEPTH, &hp->depth)) return VARCL_E_INPUT;
    if (hp->depth == 0) return varcl_fail(VARCL_E_INPUT, "%s: missing tensor 'blocks.0.attn.mat_qkv.weight'", vt_origin(s));
    if (!(t = req(s, "blocks.0.attn.scale_mul_1H11", 4, 1, -1, 1, 1))) return VARCL_E_INPUT;
    hp->heads = (int)t->shape[1];
    if (hp->heads * VAR_HEAD_DIM != hp->C)
        return varcl_fail(VARCL_E_INPUT, "%s: %d heads for width %d; VAR uses head size %d", vt_origin(s), hp->heads,
                          hp->C, VAR_HEAD_DIM);
    if (!(t = req(s, "blocks.0.ffn.fc1.weight", 2, -1, hp->C, 0, 0))) return VARCL_E_INPUT;
    hp->ffn = (int)t->shape[0];
    if (!(t = req(s, "head.weight", 2, -1, hp->C, 0, 0))) return VARCL_E_INPUT;
    hp->vocab = (int)t->shape[0];
    if (!(t = req(s, "word_embed.weight", 2, hp->C, -1, 0, 0))) return VARCL_E_INPUT;
    hp->cvae = (int)t->shape[1];
    if (!(t = req(s, "pos_1LC", 3, 1, -1, hp->C, 0))) return VARCL_E_INPUT;
    hp->tokens = (int)t->shape[1];
    const int *pl = hp->tokens == 680 ? patches_256 : hp->tokens == 2240 ? patches_512 : NULL;
    if (!pl)
        return varcl_fail(VARCL_E_INPUT, "%s: pos_1LC has %d tokens; known: 680 (256 px), 2240 (512 px)",
                          vt_origin(s), hp->tokens);
    hp->scales = 10;
    for (int i = 0; i < hp->scales; i++) {
        hp->patch[i] = pl[i];
        hp->begin[i + 1] = hp->begin[i] + pl[i] * pl[i];
    }
    hp->latent = pl[hp->scales - 1];
    if (!req(s, "lvl_embed.weight", 2, hp->scales, hp->C, 0, 0)) return VARCL_E_INPUT;
    hp->shared_aln = vt_find(s, "shared_ada_lin.1.weight") != NULL;
    return 0;
}

/* Upstream's three phi arrangements (share_quant_resi): one shared phi (quant_resi.qresi.*), K partially shared
 * (quant_resi.qresi_ls.0..K-1.*) or one per scale (quant_resi.0..SN-1.*, PhiNonShared). A VQ-VAE made with
 * quant_resi = 0 has no phi tensors (nn.Identity): that is not supported (phi_accumulate mixes 0.5 / 0.5). */
static int read_phis(const vt_set *s, vae_hparams *hp)
{
    int ls, plain, shared = vt_find(s, "quantize.quant_resi.qresi.weight") != NULL;
    if (vt_family(s, "quantize.quant_resi.qresi_ls.", VAE_MAX_PHI, &ls)) return VARCL_E_INPUT;
    /* the non-shared family, quant_resi.N: the other two arrangements' names are not numbered, so count by hand */
    plain = 0;
    char name[96];
    for (int k = 0; k < VAE_MAX_PHI; k++) {
        snprintf(name, sizeof name, "quantize.quant_resi.%d.weight", k);
        if (!vt_find(s, name)) break;
        plain = k + 1;
    }
    snprintf(name, sizeof name, "quantize.quant_resi.%d.weight", plain + 1);
    if (plain < VAE_MAX_PHI && vt_find(s, name))
        return varcl_fail(VARCL_E_INPUT, "%s: quantize.quant_resi.%d is missing while quantize.quant_resi.%d is present",
                          vt_origin(s), plain, plain + 1);
    if ((ls > 0) + (plain > 0) + shared > 1)
        return varcl_fail(VARCL_E_INPUT, "%s: quantize.quant_resi mixes %s%s%s phi arrangements (upstream has one)",
                          vt_origin(s), shared ? "shared (qresi) " : "", ls ? "partially shared (qresi_ls) " : "",
                          plain ? "non-shared (quant_resi.N)" : "");
    if (shared) {
        hp->phis = 1;
        hp->phi_shared = 1;
        snprintf(hp->phi_prefix, sizeof hp->phi_prefix, "quantize.quant_resi.qresi");
    } else if (ls) {
        hp->phis = ls;
        snprintf(hp->phi_prefix, sizeof hp->phi_prefix, "quantize.quant_resi.qresi_ls.");
    } else if (plain) {
        hp->phis = plain;
        snprintf(hp->phi_prefix, sizeof hp->phi_prefix, "quantize.quant_resi.");
    } else {
        return varcl_fail(VARCL_E_INPUT,
                          "%s: missing tensor 'quantize.quant_resi.qresi_ls.0.weight' (no phi convolution: a VQ-VAE "
                          "with quant_resi = 0 is not supported)",
                          vt_origin(s));
    }
    return VARCL_OK;
}

int vae_read_hparams(const vt_set *s, vae_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    int st;
    if (vt_find(s, "class_emb.weight"))
        return varcl_fail(VARCL_E_INPUT, "%s is a VAR model, not a VQ-VAE checkpoint (give it with --model)",
                          vt_origin(s));
    const vt_tensor *t;
    if (!(t = req(s, "quantize.embedding.weight", 2, -1, -1, 0, 0))) return VARCL_E_INPUT;
    hp->vocab = (int)t->shape[0];
    if (!(t = req(s, "decoder.conv_out.weight", 4, 3, -1, 3, 3))) return VARCL_E_INPUT;
    hp->ch = (int)t->shape[1];
    if (!(t = req(s, "decoder.conv_in.weight", 4, -1, -1, 3, 3))) return VARCL_E_INPUT;
    hp->zch = (int)t->shape[1];
    char name[128];
    /* Every numbered family must run from 0 without a gap: decoder levels, blocks and attention of each level, and
     * the encoder's (not used for generation, but a gap there means a damaged file all the same). */
    if (vt_family(s, "decoder.up.", VAE_MAX_LEVELS, &hp->levels)) return VARCL_E_INPUT;
    for (int i = 0; i < hp->levels; i++) {
        int blocks, attn;
        snprintf(name, sizeof name, "decoder.up.%d.block.", i);
        if (vt_family(s, name, VAE_MAX_BLOCKS, &blocks)) return VARCL_E_INPUT;
        if (i == 0) hp->blocks = blocks;
        else if (blocks != hp->blocks)
            return varcl_fail(VARCL_E_INPUT, "%s: decoder.up.%d has %d blocks and decoder.up.0 has %d (must be equal)",
                              vt_origin(s), i, blocks, hp->blocks);
        snprintf(name, sizeof name, "decoder.up.%d.attn.", i);
        if (vt_family(s, name, VAE_MAX_BLOCKS, &attn)) return VARCL_E_INPUT;
        if (attn && attn != blocks)
            return varcl_fail(VARCL_E_INPUT, "%s: decoder.up.%d has %d blocks but %d attention layers", vt_origin(s),
                              i, blocks, attn);
    }
    int down;
    if (vt_family(s, "encoder.down.", VAE_MAX_LEVELS, &down)) return VARCL_E_INPUT;
    for (int i = 0; i < down; i++) {
        int n;
        snprintf(name, sizeof name, "encoder.down.%d.block.", i);
        if (vt_family(s, name, VAE_MAX_BLOCKS, &n)) return VARCL_E_INPUT;
        snprintf(name, sizeof name, "encoder.down.%d.attn.", i);
        if (vt_family(s, name, VAE_MAX_BLOCKS, &n)) return VARCL_E_INPUT;
    }
    if (hp->levels == 0 || hp->blocks == 0)
        return varcl_fail(VARCL_E_INPUT, "%s: missing tensor 'decoder.up.0.block.0.conv1.weight'", vt_origin(s));
    if ((st = read_phis(s, hp))) return st;
    for (int i = 0; i < hp->levels; i++) {
        snprintf(name, sizeof name, "decoder.up.%d.block.0.conv2.weight", i);
        if (!(t = req(s, name, 4, -1, -1, 3, 3))) return VARCL_E_INPUT;
        hp->ch_mult[i] = (int)t->shape[0] / hp->ch;
        if (hp->ch_mult[i] * hp->ch != t->shape[0] || t->shape[0] % 32)
            return varcl_fail(VARCL_E_INPUT, "%s: %s has %lld channels (must be a multiple of %d and of 32)",
                              vt_origin(s), name, (long long)t->shape[0], hp->ch);
        snprintf(name, sizeof name, "decoder.up.%d.attn.0.qkv.weight", i);
        hp->has_attn[i] = vt_find(s, name) != NULL;
        snprintf(name, sizeof name, "decoder.up.%d.upsample.conv.weight", i);
        hp->has_up[i] = vt_find(s, name) != NULL;
        hp->upsamples += hp->has_up[i];
    }
    hp->mid_attn = vt_find(s, "decoder.mid.attn_1.qkv.weight") != NULL;
    return 0;
}

/* ---- uploads ---- */

typedef struct {
    vr_runtime *rt;
    const vt_set *s;
    vm_tag tag;
    int st;        /* sticky: after the first failure every upload returns NULL */
    size_t params; /* elements uploaded */
    int side_x;    /* VQ-VAE: map side / latent side where the convolutions being loaded run (picks their 3x3 path) */
    int packed;    /* weight matrices in the packed layout (vg_packed_layout) */
    int weights;   /* VARCL_WEIGHTS_* */
    int threads;   /* host threads converting */
    vw_load_stats *stats;
    wc_cache *cache; /* the weight cache, or NULL */
} loader;

/* Opens the weight cache where the device's buffers are host memory (policy host_weights) and it is not off; the
 * signature names everything besides the file that decides the stored bytes (each tensor's form is checked too). */
static void loader_cache(loader *ld, int weight_cache)
{
    const vr_device *d = &ld->rt->dev;
    if (weight_cache == VARCL_WCACHE_OFF || !ld->rt->policy.host_weights) {
        ld->stats->cache = WC_OFF;
        snprintf(ld->stats->cache_why, sizeof ld->stats->cache_why, "%s",
                 weight_cache == VARCL_WCACHE_OFF ? "off (--weight-cache off)"
                                                  : "off (the device's buffers are not host memory)");
        return;
    }
    char sig[1024], why[160];
    snprintf(sig, sizeof sig, "device %.300s | driver %.200s | platform %.200s | weights %d packed %d | wload %d",
             d->name, d->driver, d->platform_version, ld->weights, ld->packed, WL_FORMAT_VERSION);
    ld->cache = wc_open(ld->s, sig, ld->threads, why, sizeof why);
    if (!ld->cache) {
        ld->stats->cache = WC_OFF;
        snprintf(ld->stats->cache_why, sizeof ld->stats->cache_why, "not used: %s", why);
    }
}

static int loader_init(loader *ld, vr_runtime *rt, const vt_set *s, vm_tag tag, int weights, int weight_cache,
                       vw_load_stats *stats)
{
    *ld = (loader){rt, s, tag, 0, 0, 1, vg_packed_layout(rt), weights, ht_threads(), stats, NULL};
    if (ld->packed < 0 || ld->threads < 0) return VARCL_E_INPUT;
    memset(stats, 0, sizeof *stats);
    stats->ms = vr_now_ms();
    loader_cache(ld, weight_cache);
    return 0;
}

/* Ends the load: the cache's new file is kept only when everything loaded. Returns the handle the model keeps
 * (its buffers may be over the cache's mappings) until it is unloaded. */
static wc_cache *loader_done(loader *ld)
{
    if (ld->cache) {
        int c = wc_finish(ld->cache, !ld->st);
        ld->stats->cache = c;
        if (c == WC_NONE)
            snprintf(ld->stats->cache_why, sizeof ld->stats->cache_why, "not kept: %s", wc_why(ld->cache));
        else
            snprintf(ld->stats->cache_why, sizeof ld->stats->cache_why, "%s", c == WC_HIT ? "read in place" : "written");
    }
    ld->stats->ms = vr_now_ms() - ld->stats->ms;
    return ld->cache;
}

/* The dtype a weight matrix from t is stored in (wload's layout `layout`): every product reads 16-bit weights
 * (gemm.h vg_weight), only Winograd's U = G g G^T is no 16-bit number. */
static vt_dtype matrix_dtype(loader *ld, const vt_tensor *t, wl_layout layout)
{
    int wino = layout == WL_WINO2 || layout == WL_WINO4;
    return ld->weights == VARCL_WEIGHTS_F16    ? VT_F16
           : ld->weights == VARCL_WEIGHTS_BF16 ? VT_BF16
           : ld->weights == VARCL_WEIGHTS_F32  ? VT_F32
           : (t->dtype == VT_F16 || t->dtype == VT_BF16) && !wino ? t->dtype
                                                                 : VT_F32;
}

/* Uploads tensor `name` (checked against shape) in wload's layout `layout`: WL_PLAIN (f32, as stored), or a weight
 * matrix (WL_LINEAR, WL_CONV, WL_WINO2/4) in the device's layout and the dtype matrix_dtype picks, returned in
 * *dtype. */
static cl_mem up_t(loader *ld, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                   wl_layout layout, vt_dtype *dtype)
{
    if (ld->st) return NULL;
    const vt_tensor *t = req(ld->s, name, ndim, d0, d1, d2, d3);
    if (!t) {
        ld->st = VARCL_E_INPUT;
        return NULL;
    }
    wl_form f = {layout, ld->packed, layout == WL_PLAIN ? VT_F32 : matrix_dtype(ld, t, layout)};
    varcl_clear_error();
    cl_mem m = wl_upload(&ld->rt->mem, ld->tag, ld->s, t, &f, ld->threads, ld->cache, name);
    if (!m) { /* non-finite values (input) or the device (run-time) */
        ld->st = varcl_last_status() ? varcl_last_status() : VARCL_E_RUNTIME;
        return NULL;
    }
    if (dtype) *dtype = f.store;
    ld->params += (size_t)t->numel;
    ld->stats->file_bytes += (size_t)t->numel * (t->dtype == VT_F32 ? 4 : t->dtype == VT_I64 ? 8 : 2);
    if (layout != WL_PLAIN)
        ld->stats->matrix_bytes[f.store == VT_F32 ? 0 : f.store == VT_F16 ? 1 : 2] += wl_bytes(t, &f);
    return m;
}

static cl_mem up_v(loader *ld, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    return up_t(ld, name, ndim, d0, d1, d2, d3, WL_PLAIN, NULL);
}

/* A torch Linear weight [out][in] as a matrix [in][out]. */
static vg_weight up_w(loader *ld, const char *name, int64_t out, int64_t in)
{
    vg_weight w = {NULL, VT_F32};
    w.buf = up_t(ld, name, 2, out, in, 0, 0, WL_LINEAR, &w.dtype);
    return w;
}

static float *host_t(loader *ld, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    if (ld->st) return NULL;
    const vt_tensor *t = req(ld->s, name, ndim, d0, d1, d2, 0);
    if (t && vt_read_pages(ld->s, t)) t = NULL; /* error recorded */
    float *f = t ? vt_dup_f32(t) : NULL;
    if (t) vt_release_pages(ld->s, t);
    if (f && vt_check_finite(ld->s, t, f)) {
        free(f);
        f = NULL;
    }
    if (!f) {
        ld->st = varcl_last_status() ? varcl_last_status() : VARCL_E_INPUT;
        return NULL;
    }
    ld->params += (size_t)t->numel;
    ld->stats->file_bytes += (size_t)t->numel * (t->dtype == VT_F32 ? 4 : 2);
    return f;
}

int var_load(vr_runtime *rt, const vt_set *s, int weights, int weight_cache, var_model *m)
{
    memset(m, 0, sizeof *m);
    int st = var_read_hparams(s, &m->hp);
    if (st) return st;
    const var_hparams *hp = &m->hp;
    int C = hp->C, F = hp->ffn, H = hp->heads;
    loader ld;
    if ((st = loader_init(&ld, rt, s, VM_WEIGHTS, weights, weight_cache, &m->load))) return st;
    if (!(m->blocks = calloc((size_t)hp->depth, sizeof *m->blocks))) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    m->class_emb = host_t(&ld, "class_emb.weight", 2, hp->classes + 1, C, 0);
    float *pos_start = host_t(&ld, "pos_start", 3, 1, 1, C);
    float *lvl = host_t(&ld, "lvl_embed.weight", 2, hp->scales, C, 0);
    float *pos = host_t(&ld, "pos_1LC", 3, 1, hp->tokens, C);
    /* start = [pos_start | lvl_embed[0] + pos_1LC[0]]: upstream's step-0 input is
     * (cond + pos_start) + lvl_pos[0], and cond is only known per request. */
    if (!ld.st && !(m->start = malloc((size_t)2 * C * sizeof(float))))
        ld.st = varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    if (!ld.st) {
        for (int c = 0; c < C; c++) {
            m->start[c] = pos_start[c];
            m->start[C + c] = lvl[c] + pos[c];
        }
        m->lvl_embed = vm_alloc_copy(&rt->mem, VM_WEIGHTS, (size_t)hp->scales * C * 4, lvl, "lvl_embed.weight");
        m->pos = vm_alloc_copy(&rt->mem, VM_WEIGHTS, (size_t)hp->tokens * C * 4, pos, "pos_1LC");
        if (!m->lvl_embed || !m->pos) ld.st = VARCL_E_RUNTIME;
    }
    free(lvl);
    free(pos);
    free(pos_start);
    m->word_wt = up_w(&ld, "word_embed.weight", C, hp->cvae);
    m->word_b = up_v(&ld, "word_embed.bias", 1, C, 0, 0, 0);
    m->head_ada_wt = up_w(&ld, "head_nm.ada_lin.1.weight", 2 * C, C);
    m->head_ada_b = up_v(&ld, "head_nm.ada_lin.1.bias", 1, 2 * C, 0, 0, 0);
    m->head_wt = up_w(&ld, "head.weight", hp->vocab, C);
    m->head_b = up_v(&ld, "head.bias", 1, hp->vocab, 0, 0, 0);
    if (hp->shared_aln) {
        m->shared_ada_wt = up_w(&ld, "shared_ada_lin.1.weight", 6 * C, C);
        m->shared_ada_b = up_v(&ld, "shared_ada_lin.1.bias", 1, 6 * C, 0, 0, 0);
    }
    char n[128];
#define BN(fmt) (snprintf(n, sizeof n, "blocks.%d." fmt, l), n)
    for (int l = 0; l < hp->depth && !ld.st; l++) {
        var_block *b = &m->blocks[l];
        b->qkv_wt = up_w(&ld, BN("attn.mat_qkv.weight"), 3 * C, C);
        b->q_bias = up_v(&ld, BN("attn.q_bias"), 1, C, 0, 0, 0);
        b->v_bias = up_v(&ld, BN("attn.v_bias"), 1, C, 0, 0, 0);
        b->scale_mul = up_v(&ld, BN("attn.scale_mul_1H11"), 4, 1, H, 1, 1);
        b->proj_wt = up_w(&ld, BN("attn.proj.weight"), C, C);
        b->proj_b = up_v(&ld, BN("attn.proj.bias"), 1, C, 0, 0, 0);
        b->fc1_wt = up_w(&ld, BN("ffn.fc1.weight"), F, C);
        b->fc1_b = up_v(&ld, BN("ffn.fc1.bias"), 1, F, 0, 0, 0);
        b->fc2_wt = up_w(&ld, BN("ffn.fc2.weight"), C, F);
        b->fc2_b = up_v(&ld, BN("ffn.fc2.bias"), 1, C, 0, 0, 0);
        if (hp->shared_aln) {
            b->ada_b = up_v(&ld, BN("ada_gss"), 4, 1, 1, 6, C); /* added to the shared output */
        } else {
            b->ada_wt = up_w(&ld, BN("ada_lin.1.weight"), 6 * C, C);
            b->ada_b = up_v(&ld, BN("ada_lin.1.bias"), 1, 6 * C, 0, 0, 0);
        }
    }
#undef BN
    m->params = ld.params;
    if (!ld.st) ld.st = vr_finish(rt); /* the queued uploads */
    m->wcache = loader_done(&ld);
    if (ld.st) {
        var_unload(rt, m);
        return ld.st;
    }
    return 0;
}

/* The weight cache's mappings go after the buffers over them, once the queue is done with them. */
static void release_cache(vr_runtime *rt, wc_cache *c)
{
    if (!c) return;
    if (rt->queue) clFinish(rt->queue);
    wc_close(c);
}

void var_unload(vr_runtime *rt, var_model *m)
{
    cl_mem all[] = {m->word_wt.buf, m->word_b,  m->lvl_embed,         m->pos,           m->head_ada_wt.buf,
                    m->head_ada_b, m->head_wt.buf, m->head_b, m->shared_ada_wt.buf, m->shared_ada_b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) vm_free(&rt->mem, all[i]);
    for (int l = 0; m->blocks && l < m->hp.depth; l++) {
        var_block *b = &m->blocks[l];
        cl_mem bs[] = {b->qkv_wt.buf, b->q_bias, b->v_bias, b->scale_mul, b->proj_wt.buf, b->proj_b,
                       b->fc1_wt.buf, b->fc1_b,  b->fc2_wt.buf, b->fc2_b,     b->ada_wt.buf,  b->ada_b};
        for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) vm_free(&rt->mem, bs[i]);
    }
    free(m->blocks);
    free(m->class_emb);
    free(m->start);
    release_cache(rt, m->wcache);
    memset(m, 0, sizeof *m);
}

/* ---- VQ-VAE ---- */

static void conv_w(loader *ld, vw_conv *c, const char *prefix, int cin, int cout, int k)
{
    char n[256];
    c->cin = cin;
    c->cout = cout;
    c->k = k;
    /* only the chosen path's layout is kept on the device */
    c->wino = k == 3 && !ld->st ? vc_winograd_wanted(cin, cout, ld->side_x, ld->rt->policy.wino_min_cin) : 0;
    if (c->wino < 0) {
        ld->st = VARCL_E_INPUT;
        c->wino = 0;
    }
    snprintf(n, sizeof n, "%.200s.weight", prefix);
    wl_layout layout = c->wino == 4 ? WL_WINO4 : c->wino == 2 ? WL_WINO2 : WL_CONV;
    c->wt.buf = up_t(ld, n, 4, cout, cin, k, k, layout, &c->wt.dtype);
    snprintf(n, sizeof n, "%.200s.bias", prefix);
    c->b = up_v(ld, n, 1, cout, 0, 0, 0);
}

static void norm_w(loader *ld, vw_norm *g, const char *prefix, int C)
{
    char n[256];
    g->C = C;
    snprintf(n, sizeof n, "%.200s.weight", prefix);
    g->gamma = up_v(ld, n, 1, C, 0, 0, 0);
    snprintf(n, sizeof n, "%.200s.bias", prefix);
    g->beta = up_v(ld, n, 1, C, 0, 0, 0);
}

static void res_w(loader *ld, vw_res *r, const char *prefix, int cin, int cout)
{
    char n[256];
    snprintf(n, sizeof n, "%.200s.norm1", prefix);
    norm_w(ld, &r->norm1, n, cin);
    snprintf(n, sizeof n, "%.200s.conv1", prefix);
    conv_w(ld, &r->conv1, n, cin, cout, 3);
    snprintf(n, sizeof n, "%.200s.norm2", prefix);
    norm_w(ld, &r->norm2, n, cout);
    snprintf(n, sizeof n, "%.200s.conv2", prefix);
    conv_w(ld, &r->conv2, n, cout, cout, 3);
    if (cin != cout) {
        snprintf(n, sizeof n, "%.200s.nin_shortcut", prefix);
        conv_w(ld, &r->nin, n, cin, cout, 1);
    }
}

static void attn_w(loader *ld, vw_attn *a, const char *prefix, int C)
{
    char n[256];
    snprintf(n, sizeof n, "%.200s.norm", prefix);
    norm_w(ld, &a->norm, n, C);
    snprintf(n, sizeof n, "%.200s.qkv", prefix);
    conv_w(ld, &a->qkv, n, C, 3 * C, 1);
    snprintf(n, sizeof n, "%.200s.proj_out", prefix);
    conv_w(ld, &a->proj, n, C, C, 1);
}

int vae_load(vr_runtime *rt, const vt_set *s, int weights, int weight_cache, vae_model *m)
{
    memset(m, 0, sizeof *m);
    int st = vae_read_hparams(s, &m->hp);
    if (st) return st;
    const vae_hparams *hp = &m->hp;
    loader ld;
    if ((st = loader_init(&ld, rt, s, VM_VAE, weights, weight_cache, &m->load))) return st;
    int z = hp->zch, top = hp->ch * hp->ch_mult[hp->levels - 1];
    m->codebook = up_v(&ld, "quantize.embedding.weight", 2, hp->vocab, z, 0, 0);
    char n[256];
    for (int i = 0; i < hp->phis; i++) {
        if (hp->phi_shared) snprintf(n, sizeof n, "%s", hp->phi_prefix);
        else snprintf(n, sizeof n, "%s%d", hp->phi_prefix, i);
        conv_w(&ld, &m->phi[i], n, z, z, 3);
    }
    conv_w(&ld, &m->post_quant, "post_quant_conv", z, z, 3);
    conv_w(&ld, &m->conv_in, "decoder.conv_in", z, top, 3);
    res_w(&ld, &m->mid1, "decoder.mid.block_1", top, top);
    if (hp->mid_attn) attn_w(&ld, &m->mid_attn, "decoder.mid.attn_1", top);
    res_w(&ld, &m->mid2, "decoder.mid.block_2", top, top);
    int cin = top;
    for (int i = hp->levels - 1; i >= 0; i--) {
        int cout = hp->ch * hp->ch_mult[i];
        for (int j = 0; j < hp->blocks; j++) {
            snprintf(n, sizeof n, "decoder.up.%d.block.%d", i, j);
            res_w(&ld, &m->up_block[i][j], n, cin, cout);
            cin = cout;
            if (hp->has_attn[i]) {
                snprintf(n, sizeof n, "decoder.up.%d.attn.%d", i, j);
                attn_w(&ld, &m->up_attn[i][j], n, cout);
            }
        }
        if (hp->has_up[i]) {
            ld.side_x *= 2; /* the up-sampling convolution runs at the doubled side */
            snprintf(n, sizeof n, "decoder.up.%d.upsample.conv", i);
            conv_w(&ld, &m->up_conv[i], n, cout, cout, 3);
        }
    }
    norm_w(&ld, &m->norm_out, "decoder.norm_out", hp->ch);
    conv_w(&ld, &m->conv_out, "decoder.conv_out", hp->ch, 3, 3);
    if (!ld.st) ld.st = vr_finish(rt); /* the queued uploads */
    m->wcache = loader_done(&ld);
    if (ld.st) {
        vae_unload(rt, m);
        return ld.st;
    }
    return 0;
}

static void free_conv(vr_runtime *rt, vw_conv *c)
{
    vm_free(&rt->mem, c->wt.buf);
    vm_free(&rt->mem, c->b);
}
static void free_norm(vr_runtime *rt, vw_norm *g)
{
    vm_free(&rt->mem, g->gamma);
    vm_free(&rt->mem, g->beta);
}
static void free_res(vr_runtime *rt, vw_res *r)
{
    free_norm(rt, &r->norm1);
    free_norm(rt, &r->norm2);
    free_conv(rt, &r->conv1);
    free_conv(rt, &r->conv2);
    free_conv(rt, &r->nin);
}
static void free_attn(vr_runtime *rt, vw_attn *a)
{
    free_norm(rt, &a->norm);
    free_conv(rt, &a->qkv);
    free_conv(rt, &a->proj);
}

void vae_unload(vr_runtime *rt, vae_model *m)
{
    vm_free(&rt->mem, m->codebook);
    for (int i = 0; i < VAE_MAX_PHI; i++) free_conv(rt, &m->phi[i]);
    free_conv(rt, &m->post_quant);
    free_conv(rt, &m->conv_in);
    free_conv(rt, &m->conv_out);
    free_res(rt, &m->mid1);
    free_res(rt, &m->mid2);
    free_attn(rt, &m->mid_attn);
    for (int i = 0; i < VAE_MAX_LEVELS; i++) {
        for (int j = 0; j < VAE_MAX_BLOCKS; j++) {
            free_res(rt, &m->up_block[i][j]);
            free_attn(rt, &m->up_attn[i][j]);
        }
        free_conv(rt, &m->up_conv[i]);
    }
    free_norm(rt, &m->norm_out);
    release_cache(rt, m->wcache);
    memset(m, 0, sizeof *m);
}
