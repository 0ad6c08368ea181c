/* generate: one request = passes of up to `batch` images; each pass runs the scales of the plan, samples on the
 * host, accumulates f-hat on the device and decodes every image (VAR_SPEC.md section 3). */
#include "generate.h"

#include "builtin.h"
#include "forward.h"
#include "safetensors.h"
#include "sample.h"
#include "sample_device.h"
#include "vae.h"
#include "vq.h"
#include "workspace.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


struct varcl {
    vr_runtime rt;
    vg_gemm gemm;
    vc_conv conv;
    var_model var;
    vae_model vae;
    vk_cache kv;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

varcl *varcl_open_sets(const vt_set *var, const vt_set *vae, const varcl_open_params *p)
{
    const varcl_open_params defaults = VARCL_OPEN_DEFAULT;
    if (!p) p = &defaults;
    varcl_clear_error();
    varcl *v = calloc(1, sizeof *v);
    if (!v) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        return NULL;
    }
    /* shapes first: a bad file is reported before any device work */
    var_hparams vh;
    vae_hparams ah;
    int st = var_read_hparams(var, &vh);
    if (!st) st = vae_read_hparams(vae, &ah);
    if (!st && (ah.vocab != vh.vocab || ah.zch != vh.cvae))
        st = varcl_fail(VARCL_E_INPUT, "%s (vocabulary %d, %d channels) does not match %s (vocabulary %d, %d channels)",
                        vt_origin(vae), ah.vocab, ah.zch, vt_origin(var), vh.vocab, vh.cvae);
    if (!st && (vh.latent << ah.upsamples) <= 0) st = varcl_fail(VARCL_E_INPUT, "%s: no decoder levels", vt_origin(vae));
    if (!st) st = vr_open(&v->rt, p->device, p->profiling);
    if (st) {
        free(v);
        return NULL;
    }
    if ((st = vg_init(&v->gemm, &v->rt)) || (st = vc_init(&v->conv, &v->rt, &v->gemm)) ||
        (st = var_load(&v->rt, var, p->weights, p->weight_cache, &v->var)) ||
        (st = vae_load(&v->rt, vae, p->weights, p->weight_cache, &v->vae))) {
        varcl_close(v);
        return NULL;
    }
    return v;
}

varcl *varcl_open(const varcl_open_params *p)
{
    vt_set *var = NULL, *vae = NULL;
    varcl_clear_error();
    if (p->model_path) {
        if (!p->vae_path) {
            varcl_fail(VARCL_E_INPUT, "a VAR model (%s) needs its VQ-VAE too (--vae)", p->model_path);
            return NULL;
        }
        var = st_load(p->model_path);
        vae = var ? st_load(p->vae_path) : NULL;
    } else {
        builtin_demo_sets(&var, &vae);
    }
    varcl *v = (var && vae) ? varcl_open_sets(var, vae, p) : NULL;
    vt_free(var);
    vt_free(vae);
    return v;
}

vr_runtime *varcl_runtime(varcl *v) { return &v->rt; }

/* The request's plan over this model (depth = the model's depth means the full network). */
static int request_plan(const varcl *v, const varcl_request *rq, vp_plan *plan)
{
    const var_hparams *h = &v->var.hp;
    return vp_make(plan, h->depth, h->scales, h->patch, rq->depth == h->depth ? 0 : rq->depth, rq->layers,
                   rq->n_layers, rq->full_scales);
}

double varcl_flops_per_image(const varcl *v, const varcl_request *rq, int with_decode)
{
    const var_hparams *h = &v->var.hp;
    vp_plan plan;
    if (request_plan(v, rq, &plan)) return -1;
    double f = 0;
    for (int si = 0; si < h->scales; si++) f += 2 * vp_scale_flops(&plan, si, h->C, h->ffn, h->vocab); /* 2 CFG rows */
    return f + (with_decode ? vd_flops(&v->vae.hp, h->latent) : 0);
}

int varcl_plan_layers(const varcl *v, const varcl_request *rq, int *layers)
{
    vp_plan plan;
    if (request_plan(v, rq, &plan)) return -1;
    memcpy(layers, plan.subnet, (size_t)plan.n_subnet * sizeof *layers);
    return plan.n_subnet;
}

void varcl_close(varcl *v)
{
    if (!v) return;
    if (v->rt.ctx) {
        vk_release(&v->rt, &v->kv);
        var_unload(&v->rt, &v->var);
        vae_unload(&v->rt, &v->vae);
        vc_release(&v->conv);
        vg_release(&v->gemm);
        vr_close(&v->rt);
    }
    free(v);
}

void varcl_get_info(const varcl *v, varcl_info *info)
{
    const var_hparams *h = &v->var.hp;
    memset(info, 0, sizeof *info);
    info->depth = h->depth;
    info->width = h->C;
    info->heads = h->heads;
    info->ffn = h->ffn;
    info->vocab = h->vocab;
    info->classes = h->classes;
    info->cvae = h->cvae;
    info->scales = h->scales;
    memcpy(info->patch, h->patch, sizeof h->patch[0] * (size_t)h->scales);
    info->tokens = h->tokens;
    info->shared_aln = h->shared_aln;
    info->params = v->var.params;
    info->vae_ch = v->vae.hp.ch;
    info->vae_levels = v->vae.hp.levels;
    info->image_size = h->latent << v->vae.hp.upsamples;
    memcpy(info->device, v->rt.dev.name, sizeof info->device);
    memcpy(info->platform, v->rt.dev.platform_name, sizeof info->platform);
    const size_t *mb = v->var.load.matrix_bytes; /* f32, f16, bf16 */
    snprintf(info->weights, sizeof info->weights, "%s",
             (!!mb[0] + !!mb[1] + !!mb[2]) > 1 ? "mixed" : mb[1] ? "f16" : mb[2] ? "bf16" : "f32");
    info->weights_bytes = v->rt.mem.stats.live[VM_WEIGHTS];
    info->vae_bytes = v->rt.mem.stats.live[VM_VAE];
    info->file_bytes = v->var.load.file_bytes + v->vae.load.file_bytes;
    info->load_ms = v->var.load.ms + v->vae.load.ms;
    if (strcmp(v->var.load.cache_why, v->vae.load.cache_why))
        snprintf(info->weight_cache, sizeof info->weight_cache, "%.190s; VQ-VAE %.190s", v->var.load.cache_why,
                 v->vae.load.cache_why);
    else
        snprintf(info->weight_cache, sizeof info->weight_cache, "%s", v->var.load.cache_why);
    memcpy(info->policy, v->rt.policy.name, sizeof info->policy);
    memcpy(info->driver_note, v->rt.policy.caution, sizeof info->driver_note);
}

void varcl_get_mem_stats(const varcl *v, varcl_mem_stats *s)
{
    memset(s, 0, sizeof *s);
    s->ntags = VM_NTAGS;
    for (int t = 0; t < VM_NTAGS; t++) {
        s->tag[t] = vm_tag_name((vm_tag)t);
        s->live[t] = v->rt.mem.stats.live[t];
        s->peak[t] = v->rt.mem.stats.peak[t];
    }
    s->live_total = v->rt.mem.stats.live_total;
    s->peak_total = v->rt.mem.stats.peak_total;
}

void varcl_images_free(varcl_images *out)
{
    free(out->rgb);
    free(out->image);
    free(out->tokens);
    free(out->fhat);
    memset(out, 0, sizeof *out);
}

static int validate(const varcl *v, const varcl_request *rq)
{
    const var_hparams *h = &v->var.hp;
    if (rq->n < 1 || !rq->labels) return varcl_fail(VARCL_E_INPUT, "no class labels given");
    for (int i = 0; i < rq->n; i++)
        if (rq->labels[i] < 0 || rq->labels[i] >= h->classes)
            return varcl_fail(VARCL_E_INPUT, "class %d out of range: the model has classes 0..%d", rq->labels[i],
                              h->classes - 1);
    if (!isfinite(rq->cfg) || rq->cfg < 0) return varcl_fail(VARCL_E_INPUT, "cfg must be finite and >= 0");
    if (rq->top_k < 0) return varcl_fail(VARCL_E_INPUT, "top-k must be >= 0 (0 = off)");
    if (!(rq->top_p >= 0 && rq->top_p <= 1)) return varcl_fail(VARCL_E_INPUT, "top-p must be in [0, 1] (0 = off)");
    if (rq->batch < 0) return varcl_fail(VARCL_E_INPUT, "batch must be >= 1");
    if (rq->page_tokens < 1) return varcl_fail(VARCL_E_INPUT, "page tokens must be >= 1");
    /* a page holds one image's keys and values of one layer: beyond the image's tokens it is only memory (a page of
     * 2^20 tokens took 17 GB for a 680-token model) */
    if (rq->page_tokens > h->tokens)
        return varcl_fail(VARCL_E_INPUT, "page tokens %d: more than the model's %d tokens per image", rq->page_tokens,
                          h->tokens);
    if (rq->depth < 0 || rq->depth > h->depth)
        return varcl_fail(VARCL_E_INPUT, "depth %d out of range: the model has %d layers", rq->depth, h->depth);
    return 0;
}

/* State of one pass of B images. */
typedef struct {
    vf_state f;
    vq_state q;
    vd_state d;
} pass_state;

/* The sampler found NaN or infinity among the combined logits of image `image`'s scale si (upstream's sampler stops
 * there: a model that makes them is broken, and its tokens would be meaningless). */
static int bad_logits(int si, int pn, int image)
{
    return varcl_fail(VARCL_E_RUNTIME,
                      "scale %d (%dx%d) of image %d: the logits are not finite (NaN or infinity); the model's weights "
                      "or activations overflow, or --cfg is too large",
                      si, pn, pn, image);
}

static void pass_release(pass_state *ps)
{
    vf_release(&ps->f);
    vq_release(&ps->q);
    vd_release(&ps->d);
}

/* Rows per pass: the batch, or all n images when fewer (unless pad_passes keeps every pass at the batch). */
static int pass_rows(const varcl_request *rq)
{
    return rq->batch > 0 && (rq->batch < rq->n || rq->pad_passes) ? rq->batch : rq->n;
}

/* What a request of passes of B images adds to the device, bytes. */
typedef struct {
    size_t kv;        /* the KV pages the plan needs */
    size_t kv_alloc;  /* the KV pool and page table it allocates (a pool kept from an earlier request is live) */
    size_t workspace; /* the growth of the products' and convolutions' scratch (workspace.h) */
    size_t device;    /* all of it: KV pool, activations, VQ step, sampler, decoder maps, workspace */
    vc_need ws;       /* the workspace itself */
} request_bytes;

static int size_request(varcl *v, const varcl_request *rq, const vp_plan *plan, int B, request_bytes *r)
{
    const var_hparams *h = &v->var.hp;
    int L = h->latent;
    memset(r, 0, sizeof *r);
    size_t page_bytes = vk_page_bytes(rq->page_tokens, h->C, rq->kv_f16 != 0);
    r->kv = vk_pages_needed(plan, 2 * B, rq->page_tokens) * page_bytes;
    r->kv_alloc = rq->kv_pool_bytes ? rq->kv_pool_bytes : r->kv;
    if (v->kv.n_chunks) r->kv_alloc = 0; /* a pool kept from an earlier request is already counted as live */
    r->kv_alloc += vk_table_extra(&v->kv, plan, 2 * B, h->tokens, rq->page_tokens);
    int st = vws_size(&r->ws, &v->conv, &v->var, &v->vae, B, L, !rq->skip_decode);
    if (st) return st;
    r->workspace = vc_need_extra(&v->conv, &r->ws);
    r->device = r->kv_alloc + vf_bytes(h, B, &v->rt.policy) + vq_bytes(&v->vae.hp, B, L) +
                (v->rt.policy.sample_device ? vsd_bytes(B, h->tokens, h->scales, L * L) : 0) +
                (rq->skip_decode ? 0 : vd_bytes(&v->vae.hp, L)) + r->workspace;
    return 0;
}

int varcl_request_bytes(varcl *v, const varcl_request *rq, size_t *device, size_t *workspace)
{
    vp_plan plan;
    request_bytes r;
    varcl_clear_error();
    int st = validate(v, rq);
    if (!st) st = request_plan(v, rq, &plan);
    if (!st) st = size_request(v, rq, &plan, pass_rows(rq), &r);
    if (st) return st;
    *device = r.device;
    *workspace = r.workspace;
    return 0;
}

/* Runs the passes of a request; after each, on_pass gets the pass's images in *pass (n = the pass's images,
 * arrays sized for the batch and reused by the next pass). *totals: the request's shape, KV use and timings. */
int varcl_generate_passes(varcl *v, const varcl_request *rq, varcl_pass_fn on_pass, void *user, varcl_images *totals)
{
    varcl_images *out = totals, pass;
    memset(out, 0, sizeof *out);
    memset(&pass, 0, sizeof pass);
    const unsigned long long launches0 = v->rt.launches, syncs0 = v->rt.syncs;
    varcl_clear_error();
    int st = validate(v, rq);
    if (st) return st;
    const var_hparams *h = &v->var.hp;
    vp_plan plan;
    if ((st = request_plan(v, rq, &plan))) return st;
    int n = rq->n, B = pass_rows(rq), L = h->latent, Cv = h->cvae;
    int S = L << v->vae.hp.upsamples, V = h->vocab;
    /* refuse before any device work when the KV pool or the device (as varcl counts it) cannot hold the request */
    request_bytes need;
    if ((st = size_request(v, rq, &plan, B, &need))) return st;
    if (rq->kv_pool_bytes && need.kv > rq->kv_pool_bytes)
        return varcl_fail(VARCL_E_INPUT, /* the pool's size is the caller's setting (--kv-pool-mb) */
                          "request needs %zu KV bytes, more than the %zu-byte KV pool (a larger --kv-pool-mb, or 0 "
                          "for none)", need.kv, rq->kv_pool_bytes);
    size_t live = v->rt.mem.stats.live_total, total = v->rt.mem.global_mem;
    if (total && live + need.device > total) {
        /* a fixed pool larger than the request needs is the caller's own setting: name it first */
        const size_t free_bytes = total > live ? total - live : 0;
        const int pool_too_big = rq->kv_pool_bytes && rq->kv_pool_bytes > need.kv &&
                                 need.device - need.kv_alloc + need.kv <= free_bytes;
        return varcl_fail(pool_too_big ? VARCL_E_INPUT : VARCL_E_RUNTIME,
                          "request needs about %zu device bytes (%zu of them KV, %zu scratch) but only %zu of the "
                          "device's %zu are free for varcl; %s",
                          need.device, need.kv_alloc, need.workspace, total > live ? total - live : 0, total,
                          pool_too_big ? "the fixed KV pool is the larger part: a smaller --kv-pool-mb, or 0 to size it "
                                         "per request"
                                       : "try a smaller --batch, a smaller --depth or --kv-dtype f16");
    }
    const int on_device = v->rt.policy.sample_device; /* sampling in cl/sampler.cl: only ids cross, once a pass */
    out->n = n;
    out->size = S;
    out->scales = h->scales;
    memcpy(out->patch, h->patch, sizeof h->patch[0] * (size_t)h->scales);
    out->tokens_per_image = h->tokens;
    out->latent = L;
    out->cvae = Cv;
    pass = *out;
    /* the pass's images: rgb, image [B][S][S][3]; tokens [B][tokens]; fhat [scales][B][L * L][Cv] */
    pass.rgb = calloc((size_t)B * S * S * 3, 1);
    pass.image = calloc((size_t)B * S * S * 3, sizeof(float));
    pass.tokens = malloc((size_t)B * h->tokens * sizeof(int));
    if (rq->keep_fhat) pass.fhat = malloc((size_t)h->scales * B * L * L * Cv * sizeof(float));
    int *tok = malloc((size_t)B * L * L * sizeof(int)), *lab = malloc((size_t)B * sizeof(int));
    uint32_t *ids = malloc((size_t)B * sizeof *ids);
    /* host sampling: the logits of a scale [2][B][T][V] and a team of threads; device: the per-scale bad rows */
    float *logits = on_device ? NULL : malloc((size_t)2 * B * L * L * V * sizeof(float));
    int *bad_rows = on_device ? malloc((size_t)h->scales * sizeof(int)) : NULL;
    vs_team *smp = on_device ? NULL : vs_team_new(V, 0);
    vsd_state sd;
    memset(&sd, 0, sizeof sd);
    pass_state ps;
    memset(&ps, 0, sizeof ps);
    if (!on_device && !smp) {
        st = varcl_last_status();
        goto done;
    }
    if (!pass.rgb || !pass.image || !pass.tokens || (rq->keep_fhat && !pass.fhat) || !tok || !lab || !ids ||
        (on_device ? !bad_rows : !logits)) {
        st = varcl_fail(VARCL_E_RUNTIME, "out of host memory for a pass of %d images", B);
        goto done;
    }
    if ((st = vf_init(&ps.f, &v->rt, &v->gemm, &v->var, B)) || (st = vq_init(&ps.q, &v->rt, &v->conv, &v->vae, B, L)) ||
        (!rq->skip_decode && (st = vd_init(&ps.d, &v->rt, &v->gemm, &v->conv, &v->vae, L))) ||
        (on_device && (st = vsd_init(&sd, &v->rt, B, h->tokens, h->scales, L * L))) ||
        (st = vc_reserve_need(&v->conv, &need.ws)))
        goto done;
    for (int i0 = 0; i0 < n; i0 += B) {
        int nb = n - i0 < B ? n - i0 : B;
        /* a short pass still runs B rows: pad with repeats of its first image (their output is dropped) */
        for (int b = 0; b < B; b++) {
            int i = i0 + (b < nb ? b : 0);
            lab[b] = rq->labels[i];
            ids[b] = rq->image_ids ? rq->image_ids[i] : (uint32_t)i;
        }
        pass.n = nb;
        if ((st = vk_begin(&v->rt, &v->kv, &plan, 2 * B, h->C, h->tokens, rq->page_tokens, rq->kv_f16 != 0,
                             rq->kv_pool_bytes)))
            goto done;
        /* every buffer of the pass exists by now (vf_init, vq_init, vd_init, vsd_init, the workspace, vk_begin): an
         * allocation inside it would be a first request's hidden cost on a GPU and escape the check above, so it
         * fails instead, naming the part of the pass */
        v->rt.mem.frozen = "the pass's conditions";
        if ((st = vf_begin(&ps.f, lab)) || (st = vq_begin(&ps.q)) || (on_device && (st = vsd_begin(&sd, ids))))
            goto done;
        size_t used = v->kv.used_pages * v->kv.page_bytes;
        if (used > out->kv_bytes) out->kv_bytes = used;
        v->rt.mem.frozen = "the scale loop";
        for (int si = 0; si < h->scales; si++) {
            int pn = h->patch[si], T = pn * pn;
            if (rq->progress) rq->progress(rq->user, i0, nb, si, h->scales);
            double ta = now_ms();
            if (si > 0 && (st = vf_embed(&ps.f, si, ps.q.next))) goto done;
            if ((st = vf_scale(&ps.f, &v->kv, &plan, si))) goto done;
            float ca, cu;
            vs_cfg_factors(rq->cfg, si, h->scales, &ca, &cu);
            double tb = now_ms();
            if (on_device) {
                /* the ids go straight into the VQ step's input and the pass's token buffer */
                if ((st = vsd_scale(&sd, ps.f.logits, T, V, ca, cu, rq->top_k, rq->top_p, rq->seed, si,
                                    h->begin[si], ps.q.tokens)))
                    goto done;
            } else {
                if ((st = vr_read(&v->rt, ps.f.logits, 0, (size_t)2 * B * T * V * sizeof(float), logits))) goto done;
                tb = now_ms();
                /* logits: [2][B][T][V], the conditional rows first; tok: [B][T] */
                vs_rows rows = {logits, logits + (size_t)B * T * V, B * T, T, ca, cu, rq->top_k, rq->top_p, rq->seed,
                                0, (uint32_t)si, ids};
                int bad = vs_team_sample(smp, &rows, tok);
                if (bad >= 0 && bad / T < nb) { /* rows of a short pass's padding images do not count */
                    st = bad_logits(si, pn, i0 + bad / T);
                    goto done;
                }
                for (int b = 0; b < nb; b++)
                    memcpy(pass.tokens + (size_t)b * h->tokens + h->begin[si], tok + (size_t)b * T,
                           (size_t)T * sizeof(int));
            }
            double tc = now_ms();
            if (!on_device) {
                out->ms_transformer += tb - ta;
                out->ms_sample += tc - tb;
            }
            int next = si + 1 < h->scales ? h->patch[si + 1] : 0;
            if ((st = vq_step(&ps.q, on_device ? NULL : tok, pn, vq_phi_index(si, h->scales, v->vae.hp.phis), next)))
                goto done;
            if (rq->keep_fhat &&
                (st = vr_read(&v->rt, ps.q.fhat, 0, (size_t)nb * L * L * Cv * sizeof(float),
                              pass.fhat + (size_t)si * nb * L * L * Cv)))
                goto done;
            if ((st = vr_finish(&v->rt))) goto done;
            double te = now_ms();
            /* device sampling: the host waits once per scale, after the VQ step, so the parts are not separable */
            if (on_device) out->ms_transformer += te - ta;
            else out->ms_vq += te - tc;
            out->ms_scale[si] += te - ta;
        }
        v->rt.mem.frozen = "the pass's token read";
        vk_end(&v->rt, &v->kv);
        if (on_device) {
            /* one read for the pass's tokens ([B][tokens], the layout of pass.tokens) and the scales' bad rows */
            if ((st = vsd_end(&sd, pass.tokens, bad_rows))) goto done;
            for (int si = 0; si < h->scales; si++) {
                int T = h->patch[si] * h->patch[si];
                if (bad_rows[si] != INT_MAX && bad_rows[si] / T < nb) {
                    st = bad_logits(si, h->patch[si], i0 + bad_rows[si] / T);
                    goto done;
                }
            }
        }
        double td = now_ms();
        v->rt.mem.frozen = "the decoder";
        for (int b = 0; b < nb && !rq->skip_decode; b++) {
            float *img = pass.image + (size_t)b * S * S * 3;
            if ((st = vd_decode(&ps.d, ps.q.fhat, (size_t)b * L * L * Cv, img))) goto done;
            uint8_t *px = pass.rgb + (size_t)b * S * S * 3;
            for (int i = 0; i < S * S * 3; i++) {
                float x = img[i] * 255.0f; /* truncation, as upstream's demo */
                px[i] = x >= 0 && x <= 255 ? (uint8_t)x : 0;
            }
        }
        v->rt.mem.frozen = NULL; /* the caller's callback may use the device */
        if (!rq->skip_decode) out->ms_decode += now_ms() - td;
        if (on_pass && (st = on_pass(user, i0, &pass))) goto done;
    }
done:
    v->rt.mem.frozen = NULL;
    pass_release(&ps);
    if (v->kv.used_pages) vk_end(&v->rt, &v->kv);
    vs_team_free(smp);
    vsd_release(&sd);
    free(bad_rows);
    free(tok);
    free(lab);
    free(ids);
    free(logits);
    varcl_images_free(&pass);
    out->split_merged = on_device;
    out->launches = v->rt.launches - launches0;
    out->syncs = v->rt.syncs - syncs0;
    if (st) memset(out, 0, sizeof *out);
    return st;
}

/* varcl_generate's pass callback: copies each pass into the request's arrays (varcl_images *). */
static int collect_pass(void *user, int first, const varcl_images *pass)
{
    varcl_images *out = user;
    size_t px = (size_t)out->size * out->size * 3, LC = (size_t)out->latent * out->latent * out->cvae;
    memcpy(out->rgb + first * px, pass->rgb, (size_t)pass->n * px);
    memcpy(out->image + first * px, pass->image, (size_t)pass->n * px * sizeof(float));
    memcpy(out->tokens + (size_t)first * out->tokens_per_image, pass->tokens,
           (size_t)pass->n * out->tokens_per_image * sizeof(int));
    if (out->fhat)
        for (int si = 0; si < out->scales; si++) /* [scales][n] from the pass's [scales][nb] */
            memcpy(out->fhat + ((size_t)si * out->n + first) * LC, pass->fhat + (size_t)si * pass->n * LC,
                   (size_t)pass->n * LC * sizeof(float));
    return 0;
}

int varcl_generate(varcl *v, const varcl_request *rq, varcl_images *out)
{
    memset(out, 0, sizeof *out);
    varcl_clear_error();
    const var_hparams *h = &v->var.hp;
    varcl_images all;
    memset(&all, 0, sizeof all);
    /* every image of the request, allocated before any device work so that a request too large fails at once */
    if (rq->n >= 1) {
        int n = rq->n, L = h->latent, Cv = h->cvae, S = L << v->vae.hp.upsamples;
        all.n = n;
        all.size = S;
        all.scales = h->scales;
        all.tokens_per_image = h->tokens;
        all.latent = L;
        all.cvae = Cv;
        all.rgb = calloc((size_t)n * S * S * 3, 1);
        all.image = calloc((size_t)n * S * S * 3, sizeof(float));
        all.tokens = malloc((size_t)n * h->tokens * sizeof(int));
        if (rq->keep_fhat) all.fhat = malloc((size_t)h->scales * n * L * L * Cv * sizeof(float));
        if (!all.rgb || !all.image || !all.tokens || (rq->keep_fhat && !all.fhat)) {
            varcl_images_free(&all);
            return varcl_fail(VARCL_E_RUNTIME, "out of host memory for %d images", n);
        }
    }
    int st = varcl_generate_passes(v, rq, collect_pass, &all, out);
    if (st) {
        varcl_images_free(&all);
        return st;
    }
    out->rgb = all.rgb;
    out->image = all.image;
    out->tokens = all.tokens;
    out->fhat = all.fhat;
    return 0;
}
