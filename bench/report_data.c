/* report_data: the vbench documents validated and indexed, and the number formats and table cells shared by the
 * report's formats (see report_int.h). */
#include "report_int.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const vrep_palette[VREP_NPAL] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

static int vrep_contains_ci(const char *hay, const char *needle)
{
    if (!hay) return 0;
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i]) {
            char a = hay[i], b = needle[i];
            if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
            if (a != b) break;
            i++;
        }
        if (i == n) return 1;
    }
    return 0;
}

static int vrep_run_cmp(const void *pa, const void *pb)
{
    const vrep_run *a = pa, *b = pb;
    if (a->depth != b->depth) return a->depth > b->depth ? -1 : 1;
    if (a->batch != b->batch) return a->batch < b->batch ? -1 : 1;
    return a->order - b->order;
}

static int vrep_is_int(const vj_value *v, double lo)
{
    double x = vj_num(v, NAN);
    return isfinite(x) && x >= lo && x <= 1e9 && x == floor(x);
}

/* The first number inside v (recursively) that is not finite or lies outside [0, 2^64]: 1, with its path appended
 * to path[used..]; else 0. Every figure vbench writes is a count, a size, a time, a rate, a fraction or a seed. */
static int vrep_bad_figure(const vj_value *v, char *path, size_t cap, size_t used)
{
    vj_type t = vj_type_of(v);
    if (t == VJ_NUMBER) {
        double x = vj_num(v, NAN);
        return !(isfinite(x) && x >= 0 && x <= 18446744073709551616.0);
    }
    if (t != VJ_OBJECT && t != VJ_ARRAY) return 0;
    for (size_t i = 0; i < vj_len(v); i++) {
        int n = t == VJ_OBJECT ? snprintf(path + used, cap - used, ".%.40s", vj_key(v, i))
                               : snprintf(path + used, cap - used, "[%zu]", i);
        size_t u = used + (n > 0 ? (size_t)n : 0);
        if (vrep_bad_figure(vj_at(v, i), path, cap, u < cap ? u : cap - 1)) return 1;
    }
    return 0;
}

void vrep_release(vrep_set *s)
{
    for (int i = 0; i < s->ndev; i++) free(s->dev[i].runs);
    free(s->dev);
    memset(s, 0, sizeof *s);
}

/* Checks the structure of every document and indexes its devices and runs. */
int vrep_collect(vj_value *const *docs, int ndocs, vrep_set *s)
{
    memset(s, 0, sizeof *s);
    if (!docs || ndocs < 1) return varcl_fail(VARCL_E_INPUT, "report: no result documents given");
    size_t total = 0;
    for (int d = 0; d < ndocs; d++) {
        const vj_value *doc = docs[d];
        if (vj_type_of(doc) != VJ_OBJECT)
            return varcl_fail(VARCL_E_INPUT, "report: document %d is not a JSON object (not a vbench result file)",
                              d + 1);
        const vj_value *res = vj_get(doc, "results");
        if (vj_type_of(res) != VJ_ARRAY)
            return varcl_fail(VARCL_E_INPUT,
                              "report: document %d has no \"results\" array (not a vbench result file)", d + 1);
        for (size_t r = 0; r < vj_len(res); r++) {
            const vj_value *rv = vj_at(res, r);
            if (vj_type_of(rv) != VJ_OBJECT)
                return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu] is not an object", d + 1, r);
            vj_type dt = vj_type_of(vj_get(rv, "device"));
            if (dt != VJ_NONE && dt != VJ_OBJECT)
                return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].device is not an object",
                                  d + 1, r);
            char where[200] = "";
            if (vrep_bad_figure(rv, where, sizeof where, 0))
                return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu]%s is negative, not finite or over 2^64",
                                  d + 1, r, where);
            const vj_value *model_depth = vj_get(vj_get(rv, "model"), "depth");
            const int mdepth = vrep_is_int(model_depth, 1) ? (int)vj_num(model_depth, 0) : 0;
            const vj_value *runs = vj_get(rv, "runs");
            vj_type rt = vj_type_of(runs);
            if (rt != VJ_NONE && rt != VJ_NULL && rt != VJ_ARRAY)
                return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].runs is not an array", d + 1,
                                  r);
            for (size_t k = 0; k < vj_len(runs); k++) {
                const vj_value *run = vj_at(runs, k);
                if (vj_type_of(run) != VJ_OBJECT)
                    return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].runs[%zu] is not an object",
                                      d + 1, r, k);
                if (!vrep_is_int(vj_get(run, "depth"), 1))
                    return varcl_fail(VARCL_E_INPUT,
                                      "report: document %d: results[%zu].runs[%zu]: \"depth\" is missing or not a "
                                      "positive integer",
                                      d + 1, r, k);
                const vj_value *b = vj_get(run, "batch");
                if (b && !vrep_is_int(b, 1))
                    return varcl_fail(VARCL_E_INPUT,
                                      "report: document %d: results[%zu].runs[%zu]: \"batch\" is not a positive integer",
                                      d + 1, r, k);
                /* a subnet of the model: its depth and layers within the model's (where the file gives it) */
                const int depth = (int)vj_num(vj_get(run, "depth"), 0);
                if (mdepth && depth > mdepth)
                    return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].runs[%zu]: depth %d is deeper "
                                      "than the model's %d layers", d + 1, r, k, depth, mdepth);
                const vj_value *layers = vj_get(run, "layers");
                for (size_t li = 0; li < vj_len(layers); li++)
                    if (vj_type_of(layers) != VJ_ARRAY || !vrep_is_int(vj_at(layers, li), 0) ||
                        (mdepth && vj_num(vj_at(layers, li), 0) >= mdepth))
                        return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].runs[%zu]: layers[%zu] "
                                          "is not a layer of the model", d + 1, r, k, li);
                /* one run per depth and batch: the tables are keyed by them */
                for (size_t k2 = 0; k2 < k; k2++) {
                    const vj_value *o = vj_at(runs, k2);
                    if (vj_num(vj_get(o, "depth"), -1) == depth &&
                        vj_num(vj_get(o, "batch"), 1) == vj_num(vj_get(run, "batch"), 1))
                        return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].runs[%zu] has the depth "
                                          "and batch of runs[%zu]", d + 1, r, k, k2);
                }
                /* the times speed-ups are taken from: positive finite numbers where given (a hand-edited -5, 0 or
                 * "fast" made speed-ups of nothing) */
                const vj_value *ms = vj_get(run, "ms_per_image");
                static const char *const stats[3] = {"median", "min", "max"};
                double val[3] = {NAN, NAN, NAN};
                for (int q = 0; q < 3 && ms; q++) {
                    const vj_value *x = vj_get(ms, stats[q]);
                    double v = val[q] = vj_num(x, NAN);
                    if (x && vj_type_of(x) != VJ_NULL && !(isfinite(v) && v > 0 && v < 1e15))
                        return varcl_fail(VARCL_E_INPUT,
                                          "report: document %d: results[%zu].runs[%zu]: ms_per_image.%s is not a "
                                          "number of milliseconds above 0 and below 1e15",
                                          d + 1, r, k, stats[q]);
                }
                /* NaN (absent) compares false: only figures that are there must be in order */
                if (val[1] > val[0] || val[0] > val[2] || val[1] > val[2])
                    return varcl_fail(VARCL_E_INPUT, "report: document %d: results[%zu].runs[%zu]: ms_per_image's "
                                      "min, median and max are not in order", d + 1, r, k);
            }
            total++;
        }
    }
    s->docs = docs;
    s->ndocs = ndocs;
    s->dev = calloc(total ? total : 1, sizeof *s->dev);
    if (!s->dev) return varcl_fail(VARCL_E_RUNTIME, "report: out of memory");
    for (int d = 0; d < ndocs; d++) {
        const vj_value *res = vj_get(docs[d], "results");
        for (size_t r = 0; r < vj_len(res); r++) {
            vrep_dev *v = &s->dev[s->ndev++];
            v->doc = d;
            v->res = (int)r;
            v->result = vj_at(res, r);
            v->host = vj_get(docs[d], "host");
            v->device = vj_get(v->result, "device");
            v->model = vj_get(v->result, "model");
            v->peak = vj_get(v->result, "peak");
            v->index = vrep_is_int(vj_get(v->device, "index"), 0) ? (int)vj_num(vj_get(v->device, "index"), 0)
                                                                  : (int)r;
            v->name = vj_str(vj_get(v->device, "name"), NULL);
            v->vendor = vj_str(vj_get(v->device, "vendor"), "");
            v->error = vj_str(vj_get(v->result, "error"), NULL);
            const vj_value *runs = vj_get(v->result, "runs");
            v->nruns = (int)vj_len(runs);
            if (v->nruns) {
                v->runs = calloc((size_t)v->nruns, sizeof *v->runs);
                if (!v->runs) {
                    vrep_release(s);
                    return varcl_fail(VARCL_E_RUNTIME, "report: out of memory");
                }
            }
            int maxd = 0;
            for (int k = 0; k < v->nruns; k++) {
                const vj_value *run = vj_at(runs, (size_t)k);
                v->runs[k].v = run;
                v->runs[k].depth = (int)vj_num(vj_get(run, "depth"), 0);
                v->runs[k].batch = (int)vj_num(vj_get(run, "batch"), 1);
                v->runs[k].order = k;
                if (v->runs[k].depth > maxd) maxd = v->runs[k].depth;
            }
            if (v->nruns > 1) qsort(v->runs, (size_t)v->nruns, sizeof *v->runs, vrep_run_cmp);
            v->model_depth = vrep_is_int(vj_get(v->model, "depth"), 1) ? (int)vj_num(vj_get(v->model, "depth"), 0)
                                                                       : maxd;
        }
    }
    /* unique labels */
    for (int i = 0; i < s->ndev; i++) {
        vrep_dev *v = &s->dev[i];
        char base[160];
        if (v->name) snprintf(base, sizeof base, "%s", v->name);
        else snprintf(base, sizeof base, "device %d", v->index);
        int dup = 0;
        for (int j = 0; j < s->ndev; j++) {
            if (j == i) continue;
            const char *o = s->dev[j].name;
            char ob[160];
            if (!o) {
                snprintf(ob, sizeof ob, "device %d", s->dev[j].index);
                o = ob;
            }
            if (!strcmp(o, base)) dup = 1;
        }
        if (!dup) snprintf(v->label, sizeof v->label, "%s", base);
        else if (ndocs > 1) snprintf(v->label, sizeof v->label, "%s (file %d, device %d)", base, v->doc + 1, v->index);
        else snprintf(v->label, sizeof v->label, "%s (device %d)", base, v->index);
        /* the policy family (host/policy.h) that chose its kernels, so side-by-side columns say how each ran */
        const char *fam = vj_str(vj_get(vj_get(v->result, "policy"), "family"), NULL);
        size_t used = strlen(v->label);
        if (fam && used < sizeof v->label) snprintf(v->label + used, sizeof v->label - used, ", policy %s", fam);
    }
    /* one colour per device: first the GPU vendors' own colours (the first device of a vendor gets it), then the
     * free ones for the rest (CPUs through pocl, whose vendor is a CPU id like AuthenticAMD, and the others) */
    int used[VREP_NPAL] = {0};
    for (int i = 0; i < s->ndev; i++) {
        vrep_dev *v = &s->dev[i];
        int want = -1;
        if (vrep_contains_ci(v->vendor, "authentic") || vrep_contains_ci(v->vendor, "genuine")) want = -1;
        else if (vrep_contains_ci(v->vendor, "nvidia")) want = 4;
        else if (vrep_contains_ci(v->vendor, "amd") || vrep_contains_ci(v->vendor, "advanced micro")) want = 2;
        else if (vrep_contains_ci(v->vendor, "intel")) want = 0;
        else if (vrep_contains_ci(v->vendor, "apple")) want = 9;
        else if (vrep_contains_ci(v->vendor, "qualcomm") || !strcmp(v->vendor, "ARM")) want = 6;
        if (want >= 0 && !used[want]) {
            used[want] = 1;
            v->color = vrep_palette[want];
        }
    }
    static const int order[VREP_NPAL] = {1, 3, 5, 7, 8, 0, 2, 4, 6, 9}; /* non-vendor colours first */
    for (int i = 0, next = 0; i < s->ndev; i++) {
        vrep_dev *v = &s->dev[i];
        if (v->color) continue;
        int c = -1;
        for (int k = 0; k < VREP_NPAL && c < 0; k++)
            if (!used[order[(next + k) % VREP_NPAL]]) c = order[(next + k) % VREP_NPAL];
        if (c < 0) c = order[next % VREP_NPAL]; /* more devices than colours */
        next++;
        used[c] = 1;
        v->color = vrep_palette[c];
    }
    return VARCL_OK;
}

int vrep_is_base(const vrep_dev *d, const vrep_run *r) { return r->depth == d->model_depth; }

double vrep_ms(const vj_value *run) { return vj_num(vj_get(vj_get(run, "ms_per_image"), "median"), NAN); }
double vrep_kv_mib(const vj_value *run) { return vj_num(vj_get(run, "kv_bytes"), NAN) / VREP_MIB; }

static int vrep_key_cmp(const void *pa, const void *pb)
{
    const vrep_key *a = pa, *b = pb;
    if (a->depth != b->depth) return a->depth > b->depth ? -1 : 1;
    return (a->batch > b->batch) - (a->batch < b->batch);
}

vrep_key *vrep_keys(const vrep_set *s, int *n)
{
    int total = 0;
    for (int i = 0; i < s->ndev; i++) total += s->dev[i].nruns;
    vrep_key *k = malloc((size_t)(total ? total : 1) * sizeof *k);
    *n = 0;
    if (!k) return NULL;
    for (int i = 0; i < s->ndev; i++) {
        for (int r = 0; r < s->dev[i].nruns; r++) {
            vrep_key key = {s->dev[i].runs[r].depth, s->dev[i].runs[r].batch};
            int seen = 0;
            for (int j = 0; j < *n && !seen; j++) seen = k[j].depth == key.depth && k[j].batch == key.batch;
            if (!seen) k[(*n)++] = key;
        }
    }
    if (*n > 1) qsort(k, (size_t)*n, sizeof *k, vrep_key_cmp);
    return k;
}

const vrep_run *vrep_find(const vrep_dev *d, int depth, int batch)
{
    for (int r = 0; r < d->nruns; r++)
        if (d->runs[r].depth == depth && d->runs[r].batch == batch) return &d->runs[r];
    return NULL;
}

int vrep_batches_vary(const vrep_set *s)
{
    int first = 0, have = 0;
    for (int i = 0; i < s->ndev; i++) {
        for (int r = 0; r < s->dev[i].nruns; r++) {
            if (!have) {
                first = s->dev[i].runs[r].batch;
                have = 1;
            } else if (s->dev[i].runs[r].batch != first) {
                return 1;
            }
        }
    }
    return 0;
}

int vrep_ndev_runs(const vrep_set *s)
{
    int n = 0;
    for (int i = 0; i < s->ndev; i++) n += s->dev[i].nruns > 0;
    return n;
}


vrep_txt vrep_launch_text(const vj_value *peak)
{
    vrep_txt t;
    double us = vj_num(vj_get(peak, "launch_us"), NAN);
    t.s[0] = 0;
    if (isfinite(us) && us > 0) snprintf(t.s, sizeof t.s, ", kernel launch %.40s \xC2\xB5s", vrep_sig3(us).s);
    return t;
}

/* 3 significant digits (trailing zeros kept: 1.00, 12.3, 0.0456); integers from 1000 on. "-" if not finite. */
vrep_txt vrep_sig3(double v)
{
    vrep_txt t;
    if (!isfinite(v)) {
        snprintf(t.s, sizeof t.s, "-");
        return t;
    }
    double a = fabs(v);
    if (a == 0) {
        snprintf(t.s, sizeof t.s, "0");
        return t;
    }
    if (a >= 999.5) {
        snprintf(t.s, sizeof t.s, a < 1e15 ? "%.0f" : "%.3g", v);
        return t;
    }
    int e = (int)floor(log10(a));
    int dec = 2 - e;
    if (dec > 12) dec = 12;
    if (dec < 0) dec = 0;
    snprintf(t.s, sizeof t.s, "%.*f", dec, v);
    if (dec > 0 && fabs(strtod(t.s, NULL)) >= pow(10, e + 1)) snprintf(t.s, sizeof t.s, "%.*f", dec - 1, v);
    return t;
}

vrep_txt vrep_fix1(double v)
{
    vrep_txt t;
    if (!isfinite(v)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.1f", v);
    return t;
}

vrep_txt vrep_mib(double bytes)
{
    vrep_txt t;
    if (!isfinite(bytes)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.1f", bytes / VREP_MIB);
    return t;
}

vrep_txt vrep_pct(double fraction)
{
    vrep_txt t;
    if (!isfinite(fraction)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.1f%%", fraction * 100.0);
    return t;
}

vrep_txt vrep_int(const vj_value *v)
{
    vrep_txt t;
    double x = vj_num(v, NAN);
    if (!isfinite(x)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.0f", x);
    return t;
}

vrep_txt vrep_speedup(double x)
{
    vrep_txt t = vrep_sig3(x);
    if (isfinite(x)) strcat(t.s, "\xC3\x97"); /* U+00D7 multiplication sign */
    return t;
}

static vrep_txt vrep_msrange(const vj_value *run)
{
    const vj_value *m = vj_get(run, "ms_per_image");
    double med = vj_num(vj_get(m, "median"), NAN), lo = vj_num(vj_get(m, "min"), NAN),
           hi = vj_num(vj_get(m, "max"), NAN);
    vrep_txt t;
    if (isfinite(lo) && isfinite(hi))
        snprintf(t.s, sizeof t.s, "%.40s (%.40s\xE2\x80\x93%.40s)", vrep_sig3(med).s, vrep_sig3(lo).s,
                 vrep_sig3(hi).s); /* each at most 16 characters */
    else
        t = vrep_sig3(med);
    return t;
}

static vrep_txt vrep_layers(const vrep_dev *d, const vrep_run *r)
{
    vrep_txt t;
    const vj_value *l = vj_get(r->v, "layers");
    if (vrep_is_base(d, r)) snprintf(t.s, sizeof t.s, "all");
    else if (vj_type_of(l) == VJ_ARRAY) snprintf(t.s, sizeof t.s, "%zu", vj_len(l));
    else snprintf(t.s, sizeof t.s, "%d", r->depth);
    return t;
}

/* The cells of the runs table, shared by Markdown and HTML. */
const char *const vrep_heads[VREP_NCOLS] = {
    "depth", "layers", "batch", "ms/image median (min\xE2\x80\x93max)", "images/s", "GFLOP/image", "GFLOP/s",
    "% of SGEMM peak", "KV MiB", "KV saving vs full", "speed-up vs full", "peak MiB total"};

void vrep_cells(const vrep_dev *d, const vrep_run *r, vrep_txt c[VREP_NCOLS])
{
    const vj_value *v = r->v;
    snprintf(c[0].s, sizeof c[0].s, "%d", r->depth);
    c[1] = vrep_layers(d, r);
    snprintf(c[2].s, sizeof c[2].s, "%d", r->batch);
    c[3] = vrep_msrange(v);
    c[4] = vrep_sig3(vj_num(vj_get(v, "images_per_s"), NAN));
    c[5] = vrep_sig3(vj_num(vj_get(v, "gflop_per_image"), NAN));
    c[6] = vrep_sig3(vj_num(vj_get(v, "gflops"), NAN));
    c[7] = vrep_pct(vj_num(vj_get(v, "sgemm_peak_fraction"), NAN));
    c[8] = vrep_mib(vj_num(vj_get(v, "kv_bytes"), NAN));
    c[9] = vrep_pct(vj_num(vj_get(v, "kv_saving_vs_full"), NAN));
    c[10] = vrep_speedup(vj_num(vj_get(v, "speedup_vs_full"), NAN));
    c[11] = vrep_mib(vj_num(vj_get(vj_get(v, "peak_bytes"), "total"), NAN));
}

const char *const vrep_split_heads[VREP_NSPLIT] = {"depth", "batch",  "full scales",   "transformer", "sample",
                                                   "VQ",    "decode", "sum of scales", "launches",    "host waits"};

void vrep_split_cells(const vrep_run *r, vrep_txt c[VREP_NSPLIT])
{
    const vj_value *v = r->v, *sp = vj_get(v, "split_ms"), *sc = vj_get(v, "scale_ms");
    snprintf(c[0].s, sizeof c[0].s, "%d", r->depth);
    snprintf(c[1].s, sizeof c[1].s, "%d", r->batch);
    c[2] = vrep_int(vj_get(v, "full_scales"));
    c[3] = vrep_sig3(vj_num(vj_get(sp, "transformer"), NAN));
    c[4] = vrep_sig3(vj_num(vj_get(sp, "sample"), NAN));
    c[5] = vrep_sig3(vj_num(vj_get(sp, "vq"), NAN));
    c[6] = vrep_sig3(vj_num(vj_get(sp, "decode"), NAN));
    double sum = vj_len(sc) ? 0 : NAN;
    for (size_t i = 0; i < vj_len(sc); i++) sum += vj_num(vj_at(sc, i), NAN);
    c[7] = vrep_sig3(sum);
    c[8] = vrep_int(vj_get(v, "launches_per_image")); /* counts, not ms (results before them: "-") */
    c[9] = vrep_int(vj_get(v, "syncs_per_image"));
}

int vrep_finish(FILE *out, vrep_set *s)
{
    vrep_release(s);
    if (fflush(out) || ferror(out)) return varcl_fail(VARCL_E_RUNTIME, "report: write error");
    return VARCL_OK;
}

double vrep_accuracy(const vj_value *run) { return vj_num(vj_get(vj_get(run, "quality"), "accuracy"), NAN); }
double vrep_fd(const vj_value *run) { return vj_num(vj_get(vj_get(run, "quality"), "fd"), NAN); }

int vrep_quality_runs(const vrep_dev *d, const vrep_run **out)
{
    int n = 0;
    for (int r = 0; r < d->nruns; r++) { /* sorted by depth descending, batch ascending: the first of each depth */
        if (vj_type_of(vj_get(d->runs[r].v, "quality")) != VJ_OBJECT) continue;
        if (n && out[n - 1]->depth == d->runs[r].depth) continue;
        out[n++] = &d->runs[r];
    }
    return n;
}

const char *const vrep_quality_heads[VREP_NQUAL] = {"depth", "layers", "images", "accuracy", "FD",
                                                    "ms/image (median)", "KV MiB"};

void vrep_quality_cells(const vrep_dev *d, const vrep_run *r, vrep_txt c[VREP_NQUAL])
{
    const vj_value *q = vj_get(r->v, "quality");
    snprintf(c[0].s, sizeof c[0].s, "%d", r->depth);
    c[1] = vrep_layers(d, r);
    c[2] = vrep_int(vj_get(q, "images"));
    double acc = vrep_accuracy(r->v);
    if (isfinite(acc)) snprintf(c[3].s, sizeof c[3].s, "%.3f", acc);
    else snprintf(c[3].s, sizeof c[3].s, "-");
    c[4] = vrep_sig3(vrep_fd(r->v));
    c[5] = vrep_sig3(vrep_ms(r->v));
    c[6] = vrep_mib(vj_num(vj_get(r->v, "kv_bytes"), NAN));
}

void vrep_quality_text(const vj_value *result, char *buf, size_t n)
{
    const vj_value *q = vj_get(result, "quality_setup");
    if (vj_type_of(q) != VJ_OBJECT) {
        snprintf(buf, n, "%s", "");
        return;
    }
    snprintf(buf, n,
             "%s images per class of %s classes, seed %s, cfg %s, top-k %s, top-p %s; classifier %.300s, reference "
             "%.300s (%s features)",
             vrep_int(vj_get(q, "per_class")).s, vrep_int(vj_get(q, "classes")).s, vrep_int(vj_get(q, "seed")).s,
             vrep_sig3(vj_num(vj_get(q, "cfg"), NAN)).s, vrep_int(vj_get(q, "top_k")).s,
             vrep_sig3(vj_num(vj_get(q, "top_p"), NAN)).s, vj_str(vj_get(q, "classifier"), "?"),
             vj_str(vj_get(q, "fd_ref"), "?"), vrep_int(vj_get(q, "features")).s);
}

/* The result's "gemm" object as one line (report_int.h; files from before packed weights carry "few_rows" instead
 * of "weights"). */
void vrep_gemm_text(const vj_value *gm, char *buf, size_t n)
{
    const char *params = vj_str(vj_get(gm, "params"), "?"), *file = vj_str(vj_get(gm, "file"), NULL);
    const char *lin = vj_str(vj_get(gm, "linear"), "?"), *conv = vj_str(vj_get(gm, "conv"), "?");
    const char *weights = vj_str(vj_get(gm, "weights"), NULL);
    double few = vj_num(vj_get(gm, "few_rows"), NAN);
    int used = snprintf(buf, n, "%s%s%s", params, file ? " " : "", file ? file : "");
    if (used >= 0 && (size_t)used < n && (strcmp(lin, "default") || strcmp(conv, "default")))
        used += snprintf(buf + used, n - (size_t)used, " (linear: %s, conv: %s)", lin, conv);
    if (used >= 0 && (size_t)used < n && weights)
        snprintf(buf + used, n - (size_t)used, ", %s weights", weights);
    else if (used >= 0 && (size_t)used < n && few == few)
        snprintf(buf + used, n - (size_t)used, few > 0 ? ", linear_rows up to %.0f rows" : ", no linear_rows", few);
}

void vrep_html_text(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', o);
            else fputc(*s, o);
        }
    }
}
