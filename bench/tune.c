/* tune: `vbench --tune` (see tune.h). The product list mirrors what forward.c, vq.c, vae.c and conv.c run for one
 * image at full depth; only shapes matter here, so the model is read for its hyperparameters, never uploaded. */
#include "tune.h"

#include "conv.h"
#include "builtin.h"
#include "error.h"
#include "tune_gemm.h"
#include "tune_policy.h"
#include "model.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


typedef struct {
    vg_shape *s;
    int n, cap;
    size_t scratch_cap; /* conv.c's chunk bound, bytes */
    int chunk_tiles;    /* conv.c's Winograd chunk on this device (0: the scratch bound only) */
    int wino_min_cin;   /* policy.h: fewer input channels skip Winograd */
    int latent;
    int st;
} shape_list;

/* Adds `times` products of M x K -> N (merged with an identical one already listed). */
static void add(shape_list *l, const char *what, size_t M, size_t K, size_t N, int trans_b, double times)
{
    if (l->st || !M || !K || !N || times <= 0) return;
    for (int i = 0; i < l->n; i++) {
        vg_shape *s = &l->s[i];
        if (s->M == M && s->N == N && s->K == K && s->trans_b == trans_b) {
            s->per_image += times;
            size_t len = strlen(s->what);
            if (!strstr(s->what, what) && len + 4 < sizeof s->what) /* "fc1 + head", or "fc1 + he..." */
                snprintf(s->what + len, sizeof s->what - len, " + %s", what);
            if (strlen(s->what) == sizeof s->what - 1) memcpy(s->what + sizeof s->what - 4, "...", 3);
            return;
        }
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        vg_shape *grown = realloc(l->s, (size_t)cap * sizeof *grown);
        if (!grown) {
            l->st = varcl_fail(VARCL_E_RUNTIME, "out of host memory");
            return;
        }
        l->s = grown;
        l->cap = cap;
    }
    vg_shape *s = &l->s[l->n++];
    *s = (vg_shape){.M = M, .N = N, .K = K, .trans_b = trans_b, .per_image = times};
    snprintf(s->what, sizeof s->what, "%s", what);
}

/* A 3x3 convolution producing a side x side map: Winograd F(m x m)'s (m+2)^2 products per chunk of m x m tiles, or
 * im2col's one per chunk of pixels (conv.c), chunks bounded by its scratch (and on CPUs Winograd's by its chunk of
 * tiles). */
static void conv3(shape_list *l, const char *what, int side, int cin, int cout, double times)
{
    int wino = vc_winograd_wanted(cin, cout, side / l->latent, l->wino_min_cin);
    if (wino < 0) {
        l->st = VARCL_E_INPUT;
        return;
    }
    size_t a2 = wino ? (size_t)(wino + 2) * (wino + 2) : 1, tiles = wino ? (size_t)((side + wino - 1) / wino) : 0;
    size_t rows = wino ? tiles * tiles : (size_t)side * side;
    size_t row_bytes = wino ? a2 * ((size_t)cin + cout) * sizeof(float) : 9 * (size_t)cin * sizeof(float);
    size_t chunk = l->scratch_cap / row_bytes;
    if (chunk < 1) chunk = 1;
    if (wino && l->chunk_tiles && chunk > (size_t)l->chunk_tiles) chunk = (size_t)l->chunk_tiles;
    if (chunk > rows) chunk = rows;
    char name[48];
    snprintf(name, sizeof name, "%s 3x3 (%s)", what, wino ? "Winograd" : "im2col");
    size_t K = wino ? (size_t)cin : 9 * (size_t)cin;
    add(l, name, chunk, K, (size_t)cout, 0, times * (double)a2 * (double)(rows / chunk));
    add(l, name, rows % chunk, K, (size_t)cout, 0, times * (double)a2);
}

static void conv1(shape_list *l, const char *what, int side, int cin, int cout, double times)
{
    add(l, what, (size_t)side * side, (size_t)cin, (size_t)cout, 0, times);
}

static void res_block(shape_list *l, int side, int cin, int cout)
{
    conv3(l, "decoder", side, cin, cout, 1);
    conv3(l, "decoder", side, cout, cout, 1);
    if (cin != cout) conv1(l, "decoder 1x1", side, cin, cout, 1);
}

static void attn_block(shape_list *l, int side, int C)
{
    size_t hw = (size_t)side * side;
    conv1(l, "decoder 1x1", side, C, 3 * C, 1);
    add(l, "decoder attention", hw, (size_t)C, hw, 1, 1);
    add(l, "decoder attention", hw, hw, (size_t)C, 0, 1);
    conv1(l, "decoder 1x1", side, C, C, 1);
}

/* Every GEMM of one image (batch 1: 2 CFG rows per token) at full depth, VAR_SPEC.md's order. */
static void collect(shape_list *l, const var_hparams *v, const vae_hparams *a)
{
    size_t C = (size_t)v->C, F = (size_t)v->ffn;
    double D = v->depth;
    /* AdaLN once per request: per layer (or one shared) and the head's */
    add(l, "transformer AdaLN", 2, C, 6 * C, 0, v->shared_aln ? 1 : D);
    add(l, "head AdaLN", 2, C, 2 * C, 0, 1);
    for (int si = 0; si < v->scales; si++) {
        size_t T = (size_t)v->patch[si] * v->patch[si], rows = 2 * T;
        if (si > 0) add(l, "word embedding", T, (size_t)v->cvae, C, 0, 1);
        add(l, "transformer qkv", rows, C, 3 * C, 0, D);
        add(l, "transformer proj", rows, C, C, 0, D);
        add(l, "transformer fc1", rows, C, F, 0, D);
        add(l, "transformer fc2", rows, F, C, 0, D);
        add(l, "head", rows, C, (size_t)v->vocab, 0, 1);
        conv3(l, "VQ phi", v->latent, v->cvae, v->cvae, 1);
    }
    /* the decoder, as vae.c's vd_decode walks it */
    int side = v->latent, top = a->ch * a->ch_mult[a->levels - 1];
    conv3(l, "decoder", side, a->zch, a->zch, 1);
    conv3(l, "decoder", side, a->zch, top, 1);
    res_block(l, side, top, top);
    if (a->mid_attn) attn_block(l, side, top);
    res_block(l, side, top, top);
    int cin = top;
    for (int i = a->levels - 1; i >= 0; i--) {
        int cout = a->ch * a->ch_mult[i];
        for (int j = 0; j < a->blocks; j++) {
            res_block(l, side, cin, cout);
            if (a->has_attn[i]) attn_block(l, side, cout);
            cin = cout;
        }
        if (a->has_up[i]) {
            side *= 2;
            conv3(l, "decoder", side, cout, cout, 1);
        }
    }
    conv3(l, "decoder", side, a->ch, 3, 1);
}

static void progress(void *user, const char *line)
{
    (void)user;
    varcl_eprintf("vbench: tune: %s\n", line);
}

/* The Markdown report of a finished tuning. */
static void print_table(const vr_device *dev, const vg_shape *shapes, const vg_tune_result *r, const char *model)
{
    printf("## GEMM tuning: %s (%s, driver %s)\n\n", dev->name, dev->platform_name, dev->driver);
    printf("Model: %s. Products of one image, timed per class: the largest by FLOPs.\n\n", model);
    for (int c = 0; c < VG_CLASSES; c++) {
        printf("- %s: %d distinct CLBlast products, %.3g GFLOP per image; timed %d of them (%.0f%% of the FLOPs)",
               vg_class_names[c], r->n_class_shapes[c], r->class_gflop[c], r->n_sample[c], 100 * r->covered[c]);
        for (int k = 0; k < r->n_sample[c]; k++) {
            const vg_shape *s = &shapes[r->sample[c][k]];
            printf("%s%zu x %zu -> %zu (%s, %g per image)", k ? "; " : ": ", s->M, s->K, s->N, s->what, s->per_image);
        }
        printf("\n");
    }
    printf("\n| class | candidate | GFLOP/s | ms per image | result | chosen |\n|---|---|---|---|---|---|\n");
    for (int c = 0; c < VG_CLASSES; c++) {
        if (!r->n_sample[c]) continue;
        for (int i = 0; i < r->n_rows; i++) {
            const vg_tune_row *w = &r->row[i];
            int ok = w->status[c] == VG_TUNE_OK;
            printf("| %s | %s | ", vg_class_names[c], w->name);
            printf(ok ? "%.2f | %.3f" : "- | -", w->gflops[c], w->ms[c]);
            printf(" | %s | %s |\n", vg_tune_status_name(w->status[c]), r->chosen[c] == i ? "yes" : "");
        }
    }
    for (int i = 0; i < r->n_rows; i++)
        if (r->row[i].note[0]) printf("\n- %s: %s", r->row[i].name, r->row[i].note);
    printf("\n\nPer image, each class scaled up to all its products: CLBlast defaults %.3f ms", r->est_default_ms);
    if (r->single_row >= 0) printf("; one set for both classes (%s) %.3f ms", r->row[r->single_row].name, r->est_single_ms);
    if (isfinite(r->est_pair_ms))
        printf("; a set per class %.3f ms, of which %.0f switches between them take %.3f ms", r->est_pair_ms,
               r->switches, r->switches * r->switch_ms);
    printf(".\n\nChosen: ");
    if (r->tuning.use_sets)
        printf("linear %s, conv %s.\n", r->tuning.set[VG_CLASS_LINEAR].name, r->tuning.set[VG_CLASS_CONV].name);
    else
        printf("CLBlast defaults.\n");
}

/* Splits "a,b,c" in place; -1 where a name is empty (",,", a comma first or last) or there are more than max. */
static int split_names(char *s, const char **names, int max)
{
    int n = 0;
    for (char *tok = s;; n++) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = 0;
        if (!*tok || n == max) return -1;
        names[n] = tok;
        if (!comma) return n + 1;
        tok = comma + 1;
    }
}

/* Times and stores the work-group sizes of the policy's family (policy_tune.h); prints a table. */
static int tune_work_groups(vr_runtime *rt, const var_hparams *vh, int reps)
{
    int si = vh->scales >= 2 ? vh->scales - 2 : 0;
    vp_wg_shape shape = {.C = vh->C, .T = vh->patch[si] * vh->patch[si], .R = 2, .kv_len = vh->begin[si + 1]};
    vp_wg_result r;
    varcl_eprintf("vbench: tune: work-group sizes (%s family)\n", rt->policy.name);
    int st = vp_wg_measure(rt, &shape, reps < 5 ? 5 : reps, &r);
    if (st) return st;
    printf("## Work-group sizes: %s (%s, driver %s), policy family %s\n\n", rt->dev.name, rt->dev.platform_name,
           rt->dev.driver, rt->policy.name);
    printf("| kernel | timed | local size: median ms per launch | chosen |\n|---|---|---|---|\n");
    for (int k = 0; k < VP_WG_KINDS; k++) {
        const vp_wg_row *row = &r.row[k];
        if (!row->measured) continue;
        printf("| %s | %s |", vp_wg_names[k], row->shape);
        for (int i = 0; i < row->n; i++) {
            if (k == VP_WG_ROWS) {
                printf(" %zu rows: %.3f / %.3f", row->cand[i], row->ms[i], row->ms_clblast[i]);
                continue;
            }
            if (row->cand[i]) printf(" %zu:", row->cand[i]);
            else printf(" driver's:");
            if (isnan(row->ms[i])) printf(" failed");
            else printf(" %.3f", row->ms[i]);
        }
        if (k == VP_WG_ROWS && row->value)
            printf(" | %s up to %zu rows |\n", rt->policy.few_splitk ? "linear_splitk" : "linear_simt", row->value);
        else if (k == VP_WG_ROWS) printf(" | CLBlast for all |\n");
        else if (row->value) printf(" | %zu |\n", row->value);
        else printf(" | driver's |\n");
    }
    char path[1024];
    vp_wg_path(&rt->dev, path, sizeof path);
    if (!path[0]) {
        printf("\nNot stored: the varcl cache is off (VARCL_CACHE_DIR=off).\n\n");
        return 0;
    }
    if ((st = vp_wg_write(path, rt, &r))) return st;
    printf("\nStored in %s: varcl programs on this device use these sizes from now on (delete it to undo).\n\n",
           path);
    return 0;
}

int vtune_run(const vtune_options *o)
{
    /* --tune-sets none: the work-group sizes and the few-row threshold only (seconds), the GEMM file untouched */
    const int gemm_off = o->sets && !strcmp(o->sets, "none");
    char *names_buf = o->sets && !gemm_off ? strdup(o->sets) : NULL;
    const char *names[VG_TUNE_MAX_ROWS];
    int n_names = names_buf ? split_names(names_buf, names, VG_TUNE_MAX_ROWS) : 0;
    if (n_names < 0) {
        varcl_eprintf("vbench: --tune-sets %s: expected up to %d names like default,cpu-linear (none alone: no GEMM "
                      "tuning)\n", varcl_shown(o->sets), VG_TUNE_MAX_ROWS);
        free(names_buf);
        return 2;
    }
    for (int i = 0; i < n_names; i++)
        for (int k = 0; k < i; k++)
            if (!strcmp(names[i], names[k])) { /* each candidate is timed once */
                varcl_eprintf("vbench: --tune-sets: '%s' is listed twice in '%s'\n", names[i], o->sets);
                free(names_buf);
                return 2;
            }
    for (int i = 0; i < n_names; i++)
        if (strcmp(names[i], "default") && !vg_find_candidate(names[i])) {
            varcl_eprintf("vbench: --tune-sets: unknown candidate '%s' (known: default", names[i]);
            for (int k = 0; k < vg_n_candidates; k++) fprintf(stderr, ", %s", vg_candidates[k].set.name);
            fprintf(stderr, "; or none alone)\n");
            free(names_buf);
            return 2;
        }
    if (o->sets && !gemm_off && !n_names) {
        varcl_eprintf("vbench: --tune-sets: expected names like default,cpu-linear\n");
        free(names_buf);
        return 2;
    }
    vt_set *var = NULL, *vae = NULL;
    if (o->model) {
        var = st_load(o->model);
        vae = var ? st_load(o->vae) : NULL;
    } else {
        builtin_demo_sets(&var, &vae);
    }
    var_hparams vh;
    vae_hparams ah;
    int st = var && vae ? 0 : varcl_last_status();
    if (!st) st = var_read_hparams(var, &vh);
    if (!st) st = vae_read_hparams(vae, &ah);
    vt_free(var);
    vt_free(vae);
    vr_runtime rt;
    /* the work-group file is what --tune rewrites: a malformed one must not stop it (policy_tune.h) */
    if (!st && setenv("VARCL_POLICY_TUNING", "off", 1)) st = varcl_fail(VARCL_E_RUNTIME, "setenv failed");
    if (!st) st = vr_open(&rt, o->device, 0);
    if (st) {
        varcl_eprintf("vbench: %s\n", varcl_last_error());
        free(names_buf);
        return st == VARCL_E_INPUT ? 2 : 1;
    }
    char path[1024];
    vg_tuning_path(&rt.dev, path, sizeof path);
    const char *model = o->model ? o->model : "built-in demo model";
    varcl_eprintf("vbench: tune: device %d: %s (%s)\n", rt.dev.index, rt.dev.name, rt.dev.platform_name);
    if (!path[0])
        varcl_eprintf("vbench: tune: the varcl cache is off (VARCL_CACHE_DIR=off): the results are printed, not "
                        "stored\n");

    if (path[0] && !gemm_off && (st = vg_tuning_check_writable(path))) {
        varcl_eprintf("vbench: %s\n", varcl_last_error());
        free(names_buf);
        vr_close(&rt);
        return 1;
    }

    /* the work-group sizes that queries cannot tell and the few-row threshold (policy_tune.h), timed on the model's
     * 13x13 scale: after the GEMM parameters, whose file the threshold's CLBlast products then use (and CLBlast's
     * parameter overrides are process-wide: the GEMM tuner must come first) */
    if (gemm_off) {
        if (!st) st = tune_work_groups(&rt, &vh, o->reps);
        if (st) varcl_eprintf("vbench: %s\n", varcl_last_error());
        else printf("## GEMM tuning: skipped (--tune-sets none); the device's GEMM file, if any, is unchanged.\n");
        vr_close(&rt);
        return st == VARCL_E_INPUT ? 2 : st ? 1 : 0;
    }

    /* the products of one image, with conv.c's chunk bound for this device */
    vc_conv conv;
    vg_gemm unused;
    memset(&unused, 0, sizeof unused);
    shape_list l = {.latent = vh.latent};
    st = vc_init(&conv, &rt, &unused);
    if (!st) {
        l.scratch_cap = conv.scratch_cap;
        l.chunk_tiles = conv.wino_chunk_tiles;
        l.wino_min_cin = rt.policy.wino_min_cin;
        vc_release(&conv);
        collect(&l, &vh, &ah);
        st = l.st;
    }
    vg_tune_opts to = {.reps = o->reps, .max_shapes = o->max_shapes, .progress = progress};
    if (n_names) {
        to.names = names;
        to.n_names = n_names;
    }
    vg_tune_result *r = calloc(1, sizeof *r);
    if (!st && !r) st = varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    /* the policy's product kernel (host/policy.h): packed or simt devices run nothing through CLBlast */
    int packed = st ? 0 : rt.policy.product != VP_PRODUCT_CLBLAST;
    if (!st && packed) { /* nothing runs through CLBlast: a file would only hide the built-in sets */
        printf("## GEMM tuning: %s (%s, driver %s)\n\nNothing to tune: every product of the model runs through %s "
               "on this device, not CLBlast (VARCL_LINEAR=clblast vbench --tune tunes CLBlast for runs with "
               "VARCL_LINEAR=clblast). No GEMM file written.\n",
               rt.dev.name, rt.dev.platform_name, rt.dev.driver,
               rt.policy.product == VP_PRODUCT_PACKED ? "linear_packed (weights packed)" : "linear_simt");
    } else if (!st) {
        double gflop = 0;
        for (int i = 0; i < l.n; i++) gflop += 2e-9 * (double)l.s[i].M * l.s[i].N * l.s[i].K * l.s[i].per_image;
        varcl_eprintf("vbench: tune: %d distinct GEMM shapes, %.3g GFLOP per image\n", l.n, gflop);
        st = vg_tune(&rt, l.s, l.n, &to, r);
    }
    if (!st && !packed) {
        print_table(&rt.dev, l.s, r, model);
        if (path[0] && !(st = vg_tuning_write(path, &rt.dev, model, l.s, r)))
            printf("\nStored in %s: varcl programs on this device use it from now on (delete it to undo).\n", path);
        else if (!path[0])
            printf("\nNot stored: the varcl cache is off (VARCL_CACHE_DIR=off).\n");
    }
    if (!st) {
        printf("\n");
        st = tune_work_groups(&rt, &vh, o->reps);
    }
    if (st) varcl_eprintf("vbench: %s\n", varcl_last_error());
    free(r);
    free(names_buf);
    free(l.s);
    vr_close(&rt);
    return st == VARCL_E_INPUT ? 2 : st ? 1 : 0;
}
