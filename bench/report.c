/* report: Markdown and self-contained HTML (inline CSS + SVG) views of vbench result documents (see report.h). */
#include "report.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VREP_MIB 1048576.0

/* ---------- the documents, validated and indexed ---------- */

typedef struct {
    const vj_value *v;
    int depth, batch, order;
} vrep_run;

typedef struct {
    int doc, res, index;
    const vj_value *result, *device, *model, *peak, *host;
    const char *name, *vendor, *error;
    int model_depth; /* the full network's depth (the baseline run) */
    vrep_run *runs;  /* sorted: depth descending, batch ascending */
    int nruns;
    char label[256]; /* unique among all devices of all documents */
    const char *color;
} vrep_dev;

typedef struct {
    vrep_dev *dev;
    int ndev, ndocs;
    vj_value *const *docs;
} vrep_set;

static const char *const vrep_palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define VREP_NPAL ((int)(sizeof vrep_palette / sizeof vrep_palette[0]))

/* viridis, for the scales (ordered, small to large) */
static const char *const vrep_seq[] = {"#440154", "#482878", "#3e4989", "#31688e", "#26828e",
                                       "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"};

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

static void vrep_release(vrep_set *s)
{
    for (int i = 0; i < s->ndev; i++) free(s->dev[i].runs);
    free(s->dev);
    memset(s, 0, sizeof *s);
}

/* Checks the structure of every document and indexes its devices and runs. */
static int vrep_collect(vj_value *const *docs, int ndocs, vrep_set *s)
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

static int vrep_is_base(const vrep_dev *d, const vrep_run *r) { return r->depth == d->model_depth; }

static double vrep_ms(const vj_value *run) { return vj_num(vj_get(vj_get(run, "ms_per_image"), "median"), NAN); }
static double vrep_kv_mib(const vj_value *run) { return vj_num(vj_get(run, "kv_bytes"), NAN) / VREP_MIB; }

/* (depth, batch) rows across devices: depth descending, batch ascending */
typedef struct {
    int depth, batch;
} vrep_key;

static int vrep_key_cmp(const void *pa, const void *pb)
{
    const vrep_key *a = pa, *b = pb;
    if (a->depth != b->depth) return a->depth > b->depth ? -1 : 1;
    return (a->batch > b->batch) - (a->batch < b->batch);
}

static vrep_key *vrep_keys(const vrep_set *s, int *n)
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
    qsort(k, (size_t)*n, sizeof *k, vrep_key_cmp);
    return k;
}

static const vrep_run *vrep_find(const vrep_dev *d, int depth, int batch)
{
    for (int r = 0; r < d->nruns; r++)
        if (d->runs[r].depth == depth && d->runs[r].batch == batch) return &d->runs[r];
    return NULL;
}

static int vrep_batches_vary(const vrep_set *s)
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

static int vrep_ndev_runs(const vrep_set *s)
{
    int n = 0;
    for (int i = 0; i < s->ndev; i++) n += s->dev[i].nruns > 0;
    return n;
}

/* ---------- number formatting ---------- */

typedef struct {
    char s[160];
} vrep_txt;

/* 3 significant digits (trailing zeros kept: 1.00, 12.3, 0.0456); integers from 1000 on. "-" if not finite. */
static vrep_txt vrep_sig3(double v)
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

static vrep_txt vrep_fix1(double v)
{
    vrep_txt t;
    if (!isfinite(v)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.1f", v);
    return t;
}

static vrep_txt vrep_mib(double bytes)
{
    vrep_txt t;
    if (!isfinite(bytes)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.1f", bytes / VREP_MIB);
    return t;
}

static vrep_txt vrep_pct(double fraction)
{
    vrep_txt t;
    if (!isfinite(fraction)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.1f%%", fraction * 100.0);
    return t;
}

static vrep_txt vrep_int(const vj_value *v)
{
    vrep_txt t;
    double x = vj_num(v, NAN);
    if (!isfinite(x)) snprintf(t.s, sizeof t.s, "-");
    else snprintf(t.s, sizeof t.s, "%.0f", x);
    return t;
}

static vrep_txt vrep_speedup(double x)
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
#define VREP_NCOLS 12
static const char *const vrep_heads[VREP_NCOLS] = {
    "depth", "layers", "batch", "ms/image median (min\xE2\x80\x93max)", "images/s", "GFLOP/image", "GFLOP/s",
    "% of SGEMM peak", "KV MiB", "KV saving vs full", "speed-up vs full", "peak MiB total"};

static void vrep_cells(const vrep_dev *d, const vrep_run *r, vrep_txt c[VREP_NCOLS])
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

#define VREP_NSPLIT 8
static const char *const vrep_split_heads[VREP_NSPLIT] = {"depth", "batch", "full scales", "transformer",
                                                          "sample", "VQ", "decode", "sum of scales"};

static void vrep_split_cells(const vrep_run *r, vrep_txt c[VREP_NSPLIT])
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
}

static int vrep_finish(FILE *out, vrep_set *s)
{
    vrep_release(s);
    if (fflush(out) || ferror(out)) return varcl_fail(VARCL_E_RUNTIME, "report: write error");
    return VARCL_OK;
}

/* ---------- Markdown ---------- */

static void md_text(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\n' || *s == '\r' || *s == '\t') fputc(' ', o);
        else if (strchr("\\`*|<>[]", *s)) fprintf(o, "\\%c", *s);
        else fputc(*s, o);
    }
}

/* The result's "gemm" object as one line: "tuned file PATH (linear: A, conv: B), packed weights" (files from
 * before packed weights carry "few_rows" instead of "weights"). */
static void vrep_gemm_text(const vj_value *gm, char *buf, size_t n)
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

static void md_details(FILE *o, const vrep_set *s, const vrep_dev *d)
{
    const vj_value *dv = d->device, *m = d->model, *p = d->peak;
    if (s->ndocs > 1) {
        fprintf(o, "- File %d, host ", d->doc + 1);
        md_text(o, vj_str(vj_get(d->host, "name"), "?"));
        fputc('\n', o);
    }
    fprintf(o, "- Device %d: vendor ", d->index);
    md_text(o, vj_str(vj_get(dv, "vendor"), "?"));
    fputs(", platform ", o);
    md_text(o, vj_str(vj_get(dv, "platform"), "?"));
    fputs(", driver ", o);
    md_text(o, vj_str(vj_get(dv, "driver"), "?"));
    fprintf(o, "\n- Compute units: %s, global memory: %s MiB\n", vrep_int(vj_get(dv, "compute_units")).s,
            vrep_mib(vj_num(vj_get(dv, "global_mem_bytes"), NAN)).s);
    if (p)
        fprintf(o, "- Peak: SGEMM %s GFLOP/s, bandwidth %s GB/s\n", vrep_sig3(vj_num(vj_get(p, "sgemm_gflops"), NAN)).s,
                vrep_sig3(vj_num(vj_get(p, "bandwidth_gbs"), NAN)).s);
    const vj_value *gm = vj_get(d->result, "gemm");
    if (vj_type_of(gm) == VJ_OBJECT) {
        char txt[1400];
        vrep_gemm_text(gm, txt, sizeof txt);
        fputs("- GEMM parameters: ", o);
        md_text(o, txt);
        fputc('\n', o);
    }
    const char *pol = vj_str(vj_get(vj_get(d->result, "policy"), "description"), NULL);
    if (pol) {
        fputs("- Policy: ", o);
        md_text(o, pol);
        fputc('\n', o);
    }
    if (m) {
        fputs("- Model: ", o);
        md_text(o, vj_str(vj_get(m, "name"), "?"));
        fprintf(o, ", %s layers, width %s, %s heads, %s M parameters\n", vrep_int(vj_get(m, "depth")).s,
                vrep_int(vj_get(m, "width")).s, vrep_int(vj_get(m, "heads")).s,
                vrep_sig3(vj_num(vj_get(m, "params"), NAN) / 1e6).s);
    }
    const vj_value *ld = vj_get(d->result, "load");
    if (vj_type_of(ld) == VJ_OBJECT) {
        fprintf(o, "- Load: %s s, %s GB/s of %s MiB of checkpoint; weights ", vrep_sig3(vj_num(vj_get(ld, "s"), NAN)).s,
                vrep_sig3(vj_num(vj_get(ld, "gbs"), NAN)).s, vrep_mib(vj_num(vj_get(ld, "file_bytes"), NAN)).s);
        md_text(o, vj_str(vj_get(ld, "weights"), "?"));
        fprintf(o, ", %s MiB on the device (VQ-VAE %s MiB)\n", vrep_mib(vj_num(vj_get(ld, "weights_bytes"), NAN)).s,
                vrep_mib(vj_num(vj_get(ld, "vae_bytes"), NAN)).s);
    }
    fputc('\n', o);
}

static void md_row(FILE *o, const vrep_txt *c, int n)
{
    fputc('|', o);
    for (int i = 0; i < n; i++) {
        fputc(' ', o);
        md_text(o, c[i].s);
        fputs(" |", o);
    }
    fputc('\n', o);
}

static void md_head(FILE *o, const char *const *h, int n, int left)
{
    fputc('|', o);
    for (int i = 0; i < n; i++) {
        fputc(' ', o);
        md_text(o, h[i]);
        fputs(" |", o);
    }
    fputs("\n|", o);
    for (int i = 0; i < n; i++) fputs(i < left ? ":---|" : "---:|", o);
    fputc('\n', o);
}

int vrep_markdown(FILE *out, vj_value *const *docs, int ndocs)
{
    vrep_set s;
    int st = vrep_collect(docs, ndocs, &s);
    if (st) return st;
    fputs("# varcl benchmark\n\n", out);
    for (int d = 0; d < ndocs; d++) {
        const vj_value *h = vj_get(docs[d], "host");
        if (ndocs > 1) fprintf(out, "- File %d: ", d + 1);
        fputs("varcl ", out);
        md_text(out, vj_str(vj_get(docs[d], "varcl_version"), "?"));
        fputs(", host ", out);
        md_text(out, vj_str(vj_get(h, "name"), "?"));
        fputs(" (", out);
        md_text(out, vj_str(vj_get(h, "os"), "?"));
        fputs(", ", out);
        md_text(out, vj_str(vj_get(h, "cpu"), "?"));
        fputs(")\n", out);
    }
    fputc('\n', out);
    for (int i = 0; i < s.ndev; i++) {
        const vrep_dev *d = &s.dev[i];
        fputs("## ", out);
        md_text(out, d->label);
        fputs("\n\n", out);
        md_details(out, &s, d);
        if (d->error) {
            fputs("**Error:** ", out);
            md_text(out, d->error);
            fputs("\n\n", out);
        }
        if (!d->nruns) {
            if (!d->error) fputs("No runs.\n\n", out);
            continue;
        }
        md_head(out, vrep_heads, VREP_NCOLS, 0);
        for (int r = 0; r < d->nruns; r++) {
            vrep_txt c[VREP_NCOLS];
            vrep_cells(d, &d->runs[r], c);
            md_row(out, c, VREP_NCOLS);
        }
        fputs("\nTime split per image (ms):\n\n", out);
        md_head(out, vrep_split_heads, VREP_NSPLIT, 0);
        for (int r = 0; r < d->nruns; r++) {
            vrep_txt c[VREP_NSPLIT];
            vrep_split_cells(&d->runs[r], c);
            md_row(out, c, VREP_NSPLIT);
        }
        fputc('\n', out);
    }
    /* across devices */
    int nk;
    vrep_key *keys = vrep_keys(&s, &nk);
    if (!keys) {
        vrep_release(&s);
        return varcl_fail(VARCL_E_RUNTIME, "report: out of memory");
    }
    fputs("## All devices: ms/image (median) and speed-up vs full\n\n", out);
    if (!vrep_ndev_runs(&s)) {
        fputs("No device has runs.\n\n", out);
    } else {
        fputs("| depth | batch |", out);
        for (int i = 0; i < s.ndev; i++) {
            if (!s.dev[i].nruns) continue;
            fputc(' ', out);
            md_text(out, s.dev[i].label);
            fputs(" ms/image | ", out);
            md_text(out, s.dev[i].label);
            fputs(" speed-up |", out);
        }
        fputs("\n|---:|---:|", out);
        for (int i = 0; i < s.ndev; i++)
            if (s.dev[i].nruns) fputs("---:|---:|", out);
        fputc('\n', out);
        for (int k = 0; k < nk; k++) {
            fprintf(out, "| %d | %d |", keys[k].depth, keys[k].batch);
            for (int i = 0; i < s.ndev; i++) {
                if (!s.dev[i].nruns) continue;
                const vrep_run *r = vrep_find(&s.dev[i], keys[k].depth, keys[k].batch);
                if (!r) fputs(" - | - |", out);
                else
                    fprintf(out, " %s | %s |", vrep_sig3(vrep_ms(r->v)).s,
                            vrep_speedup(vj_num(vj_get(r->v, "speedup_vs_full"), NAN)).s);
            }
            fputc('\n', out);
        }
        fputc('\n', out);
    }
    free(keys);
    return vrep_finish(out, &s);
}

/* ---------- HTML ---------- */

static void h_text(FILE *o, const char *s)
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

/* ---- SVG helpers ---- */

typedef struct {
    double x0, y0, x1, y1;
} vrep_box;

typedef struct {
    vrep_box b[1024];
    int n;
} vrep_boxes;

static double vrep_text_w(const char *s, double fs)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80; /* UTF-8 characters */
    return 0.6 * fs * (double)n;
}

/* Reserves a box if it overlaps none reserved so far; 1 when reserved. */
static int vrep_reserve(vrep_boxes *bx, double x0, double y0, double x1, double y1)
{
    for (int i = 0; i < bx->n; i++) {
        const vrep_box *b = &bx->b[i];
        if (x0 < b->x1 && b->x0 < x1 && y0 < b->y1 && b->y0 < y1) return 0;
    }
    if (bx->n < (int)(sizeof bx->b / sizeof bx->b[0])) bx->b[bx->n++] = (vrep_box){x0, y0, x1, y1};
    return 1;
}

/* A centred text label of font size fs at baseline y, if it fits among the reserved boxes (pad px around). */
static int vrep_label(FILE *o, vrep_boxes *bx, double x, double y, double fs, const char *s, const char *attrs)
{
    double w = vrep_text_w(s, fs);
    if (!vrep_reserve(bx, x - w / 2 - 1, y - fs, x + w / 2 + 1, y + fs * 0.25)) return 0;
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%g\"%s>", x, y, fs, attrs ? attrs : "");
    h_text(o, s);
    fputs("</text>\n", o);
    return 1;
}

typedef struct {
    int W, H;
    double l, t, w, h; /* plot area */
    double xmin, xmax; /* numeric x range */
    double ymax, ystep;
    int logy;          /* log10 y axis from 10^lo to 10^hi */
    double lo, hi;
} vrep_plot;

static double vrep_sx(const vrep_plot *p, double x) { return p->l + (x - p->xmin) / (p->xmax - p->xmin) * p->w; }
static double vrep_sy(const vrep_plot *p, double y)
{
    if (p->logy) return y > 0 ? p->t + p->h - (log10(y) - p->lo) / (p->hi - p->lo) * p->h : p->t + p->h;
    return p->t + p->h - y / p->ymax * p->h;
}

static double vrep_nice_step(double range, int target)
{
    if (!(range > 0)) return 1;
    double raw = range / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double m = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10;
    return m * mag;
}

static vrep_txt vrep_tick(double v, double step)
{
    vrep_txt t;
    int dec = 0;
    while (dec < 8 && fabs(step * pow(10, dec) - floor(step * pow(10, dec) + 0.5)) > 1e-6 * pow(10, dec)) dec++;
    snprintf(t.s, sizeof t.s, "%.*f", dec, fabs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

static void svg_open(FILE *o, vrep_plot *p, const char *title)
{
    fprintf(o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"",
            p->W, p->H, p->W, p->H);
    h_text(o, title);
    fputs("\" font-family=\"system-ui, 'DejaVu Sans', Arial, sans-serif\" font-size=\"11\" fill=\"#222\">\n", o);
    fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", p->W, p->H);
    fprintf(o, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">", p->W / 2);
    h_text(o, title);
    fputs("</text>\n", o);
}

/* y grid, tick labels and axis title; sets ymax/ystep from the data maximum vmax (axis starts at 0). */
static void svg_yaxis(FILE *o, vrep_plot *p, double vmax, const char *label)
{
    if (!(vmax > 0) || !isfinite(vmax)) vmax = 1;
    p->ystep = vrep_nice_step(vmax, 5);
    p->ymax = ceil(vmax / p->ystep - 1e-9) * p->ystep;
    if (p->ymax < vmax * 1.02) p->ymax += p->ystep; /* room for the value labels above the highest mark */
    int nt = (int)floor(p->ymax / p->ystep + 0.5);
    for (int i = 0; i <= nt; i++) {
        double v = i * p->ystep, y = vrep_sy(p, v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", p->l, y, p->l + p->w, y,
                i ? "#e6e8eb" : "#555");
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", p->l - 6, y + 4,
                vrep_tick(v, p->ystep).s);
    }
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p->l, p->t, p->l,
            p->t + p->h);
    fprintf(o,
            "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
            p->t + p->h / 2);
    h_text(o, label);
    fputs("</text>\n", o);
}

/* A log10 y axis over [vmin, vmax] (both > 0): grid at 1, 2, 5 x 10^k, labelled where there is room. */
static void svg_yaxis_log(FILE *o, vrep_plot *p, double vmin, double vmax, const char *label)
{
    p->logy = 1;
    p->lo = floor(log10(vmin));
    p->hi = log10(vmax * 1.3); /* room for the value labels */
    if (p->hi < p->lo + 1) p->hi = p->lo + 1;
    double last_y = 1e30;
    for (int k = (int)p->lo; k <= (int)ceil(p->hi); k++) {
        static const int mant[3] = {1, 2, 5};
        for (int m = 0; m < 3; m++) {
            double v = mant[m] * pow(10, k);
            if (log10(v) > p->hi + 1e-9) break;
            double y = vrep_sy(p, v);
            fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", p->l, y,
                    p->l + p->w, y, m ? "#f0f1f3" : (k == (int)p->lo ? "#555" : "#dcdfe3"));
            if (last_y - y < 13) continue; /* no room for this label */
            last_y = y;
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", p->l - 6, y + 4,
                    k < 0 ? -k : 0, v);
        }
    }
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p->l, p->t, p->l,
            p->t + p->h);
    fprintf(o, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
            p->t + p->h / 2);
    h_text(o, label);
    fputs("</text>\n", o);
}

static void svg_xtitle(FILE *o, const vrep_plot *p, const char *label)
{
    fprintf(o, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">", p->l + p->w / 2, p->H - 10);
    h_text(o, label);
    fputs("</text>\n", o);
}

static void svg_nodata(FILE *o, const vrep_plot *p)
{
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n", p->l + p->w / 2,
            p->t + p->h / 2);
}

/* Legend entries laid out left to right from (x, y), wrapping at xmax; reserves their boxes. Returns the height. */
static double svg_legend(FILE *o, vrep_boxes *bx, double x, double y, double xmax, const char *const *labels,
                         const char *const *colors, int n, int draw)
{
    double cx = x, cy = y, row = 16;
    for (int i = 0; i < n; i++) {
        double w = 16 + vrep_text_w(labels[i], 11) + 14;
        if (cx > x && cx + w > xmax) {
            cx = x;
            cy += row;
        }
        if (draw) {
            fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>\n", cx, cy - 9, colors[i]);
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">", cx + 16, cy);
            h_text(o, labels[i]);
            fputs("</text>\n", o);
            if (bx) vrep_reserve(bx, cx - 2, cy - 12, cx + w - 10, cy + 4);
        }
        cx += w;
    }
    return cy - y + row;
}

/* (1), (2): a metric vs depth for one device, one line per batch size. */
static void svg_line_chart(FILE *o, const vrep_dev *d, const char *title, const char *ylabel,
                           double (*metric)(const vj_value *), vrep_txt (*fmt)(double))
{
    vrep_plot p = {.W = 560, .H = 320, .l = 64, .t = 40, .w = 560 - 64 - 24, .h = 320 - 40 - 50, .xmax = 1, .ymax = 1};
    vrep_boxes *bx = calloc(1, sizeof *bx);
    int batches[64], nb = 0, maxd = d->model_depth;
    double vmax = 0;
    for (int r = 0; r < d->nruns; r++) {
        int b = d->runs[r].batch, seen = 0;
        for (int i = 0; i < nb; i++) seen |= batches[i] == b;
        if (!seen && nb < 64) batches[nb++] = b;
        double v = metric(d->runs[r].v);
        if (isfinite(v) && v > vmax) vmax = v;
        if (d->runs[r].depth > maxd) maxd = d->runs[r].depth;
    }
    for (int i = 1; i < nb; i++) /* ascending */
        for (int j = i; j > 0 && batches[j - 1] > batches[j]; j--) {
            int t = batches[j];
            batches[j] = batches[j - 1];
            batches[j - 1] = t;
        }
    p.xmin = 0;
    p.xmax = maxd + fmax(1.0, 0.05 * maxd);
    svg_open(o, &p, title);
    if (!bx) {
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        return;
    }
    svg_yaxis(o, &p, vmax, ylabel);
    /* x axis: a tick at every measured depth, labelled where there is room (the largest first) */
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p.l, p.t + p.h,
            p.l + p.w, p.t + p.h);
    for (int r = 0; r < d->nruns; r++) {
        if (r && d->runs[r].depth == d->runs[r - 1].depth) continue;
        double x = vrep_sx(&p, d->runs[r].depth);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", x, p.t + p.h, x,
                p.t + p.h + 5);
        char lab[32];
        snprintf(lab, sizeof lab, "%d", d->runs[r].depth);
        vrep_label(o, bx, x, p.t + p.h + 18, 11, lab, NULL);
    }
    svg_xtitle(o, &p, "depth (layers run at the late scales)");
    const char *labels[64], *colors[64];
    char lbuf[64][24];
    for (int i = 0, c = 0; i < nb; i++) { /* the device's colour first, then the others */
        snprintf(lbuf[i], sizeof lbuf[i], "batch %d", batches[i]);
        labels[i] = lbuf[i];
        if (i == 0) {
            colors[i] = d->color;
            continue;
        }
        if (vrep_palette[c % VREP_NPAL] == d->color) c++;
        colors[i] = vrep_palette[c++ % VREP_NPAL];
    }
    if (nb > 1) svg_legend(o, bx, p.l + 10, p.t + 12, p.l + p.w, labels, colors, nb, 1);
    if (vmax <= 0) svg_nodata(o, &p);
    /* lines, then markers and value labels */
    for (int i = 0; i < nb; i++) {
        int started = 0;
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[i]);
        for (int r = d->nruns - 1; r >= 0; r--) { /* depth ascending */
            double v = metric(d->runs[r].v);
            if (d->runs[r].batch != batches[i] || !isfinite(v)) continue;
            fprintf(o, "%s%.1f,%.1f", started ? " " : "", vrep_sx(&p, d->runs[r].depth), vrep_sy(&p, v));
            started = 1;
        }
        fputs("\"/>\n", o);
    }
    for (int i = 0; i < nb; i++) {
        for (int r = d->nruns - 1; r >= 0; r--) {
            double v = metric(d->runs[r].v);
            if (d->runs[r].batch != batches[i] || !isfinite(v)) continue;
            double x = vrep_sx(&p, d->runs[r].depth), y = vrep_sy(&p, v);
            fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1.5\">", x,
                    y, colors[i]);
            fprintf(o, "<title>depth %d, batch %d: %s</title></circle>\n", d->runs[r].depth, d->runs[r].batch,
                    fmt(v).s);
            vrep_reserve(bx, x - 4, y - 4, x + 4, y + 4);
        }
    }
    for (int i = 0; i < nb; i++) {
        for (int r = d->nruns - 1; r >= 0; r--) {
            double v = metric(d->runs[r].v);
            if (d->runs[r].batch != batches[i] || !isfinite(v)) continue;
            double x = vrep_sx(&p, d->runs[r].depth), y = vrep_sy(&p, v);
            vrep_txt t = fmt(v);
            if (!vrep_label(o, bx, x, y - 9, 10, t.s, " fill=\"#333\""))
                vrep_label(o, bx, x, y + 17, 10, t.s, " fill=\"#333\"");
        }
    }
    fputs("</svg>\n", o);
    free(bx);
}

static int vrep_run_asc(const void *pa, const void *pb)
{
    const vrep_run *a = pa, *b = pb;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    if (a->batch != b->batch) return a->batch < b->batch ? -1 : 1;
    return a->order - b->order;
}

/* (3): per-scale time as stacked bars, one bar per run (depth ascending). */
static void svg_scale_chart(FILE *o, const vrep_dev *d, int multi_batch)
{
    int n = d->nruns, nsc = 0;
    vrep_run *runs = malloc((size_t)(n ? n : 1) * sizeof *runs);
    vrep_boxes *bx = calloc(1, sizeof *bx);
    int W = 64 + 96 + n * 34;
    if (W < 560) W = 560;
    if (W > 1140) W = 1140;
    vrep_plot p = {.W = W, .H = 320, .l = 64, .t = 40, .w = W - 64 - 96, .h = 320 - 40 - 50, .xmax = 1, .ymax = 1};
    svg_open(o, &p, "Time per scale (ms per image)");
    if (!runs || !bx) {
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        free(runs);
        free(bx);
        return;
    }
    memcpy(runs, d->runs, (size_t)n * sizeof *runs);
    qsort(runs, (size_t)n, sizeof *runs, vrep_run_asc);
    double vmax = 0;
    for (int r = 0; r < n; r++) {
        const vj_value *sc = vj_get(runs[r].v, "scale_ms");
        if ((int)vj_len(sc) > nsc) nsc = (int)vj_len(sc);
        double sum = 0;
        for (size_t k = 0; k < vj_len(sc); k++) {
            double v = vj_num(vj_at(sc, k), NAN);
            if (isfinite(v) && v > 0) sum += v;
        }
        if (sum > vmax) vmax = sum;
    }
    if (nsc > 64) nsc = 64;
    svg_yaxis(o, &p, vmax, "ms per image");
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p.l, p.t + p.h,
            p.l + p.w, p.t + p.h);
    svg_xtitle(o, &p, multi_batch ? "depth, batch" : "depth (layers run at the late scales)");
    if (!nsc || vmax <= 0) svg_nodata(o, &p);
    const char *colors[64];
    for (int k = 0; k < nsc; k++) colors[k] = vrep_seq[nsc > 1 ? (int)floor(k * 9.0 / (nsc - 1) + 0.5) : 0];
    double band = p.w / (n ? n : 1), bw = fmin(44, band * 0.66);
    for (int r = 0; r < n; r++) {
        const vj_value *sc = vj_get(runs[r].v, "scale_ms");
        double cx = p.l + band * (r + 0.5), acc = 0;
        for (int k = 0; k < (int)vj_len(sc) && k < nsc; k++) {
            double v = vj_num(vj_at(sc, (size_t)k), NAN);
            if (!isfinite(v) || v <= 0) continue;
            double y1 = vrep_sy(&p, acc), y0 = vrep_sy(&p, acc + v);
            fprintf(o,
                    "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\" stroke=\"#fff\" "
                    "stroke-width=\"0.5\"><title>depth %d, batch %d, scale %d: %s ms</title></rect>\n",
                    cx - bw / 2, y0, bw, y1 - y0, colors[k], runs[r].depth, runs[r].batch, k + 1, vrep_sig3(v).s);
            acc += v;
        }
        vrep_reserve(bx, cx - bw / 2, vrep_sy(&p, acc), cx + bw / 2, p.t + p.h);
    }
    for (int r = 0; r < n; r++) {
        const vj_value *sc = vj_get(runs[r].v, "scale_ms");
        double cx = p.l + band * (r + 0.5), acc = 0;
        for (size_t k = 0; k < vj_len(sc); k++) {
            double v = vj_num(vj_at(sc, k), NAN);
            if (isfinite(v) && v > 0) acc += v;
        }
        char lab[48];
        if (multi_batch) snprintf(lab, sizeof lab, "%d, b%d", runs[r].depth, runs[r].batch);
        else snprintf(lab, sizeof lab, "%d", runs[r].depth);
        vrep_label(o, bx, cx, p.t + p.h + 16, 11, lab, NULL);
        if (acc > 0) vrep_label(o, bx, cx, vrep_sy(&p, acc) - 5, 10, vrep_sig3(acc).s, " fill=\"#333\"");
    }
    /* legend: the last scale on top, as in the stacks */
    double lx = p.l + p.w + 18, ly = p.t + 4;
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"600\">scale</text>\n", lx, ly);
    double row = nsc > 12 ? fmin(14, (p.h - 14) / nsc) : 14;
    for (int k = nsc - 1; k >= 0; k--) {
        double y = ly + 8 + (nsc - 1 - k) * row;
        fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"%s\"/>\n", lx, y,
                fmax(row - 3, 4), colors[k]);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%d</text>\n", lx + 20, y + row - 4, k + 1);
    }
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\" font-size=\"10\">1 = first</text>\n", lx,
            ly + 8 + nsc * row + 12);
    fputs("</svg>\n", o);
    free(runs);
    free(bx);
}

/* Index into keys (depth descending, batch ascending) of the g-th key in depth-ascending, batch-ascending order. */
static int vrep_asc_index(const vrep_key *keys, int nk, int g)
{
    int end = nk; /* walk depth groups from the back */
    for (;;) {
        int start = end - 1;
        while (start > 0 && keys[start - 1].depth == keys[end - 1].depth) start--;
        if (g < end - start) return start + g;
        g -= end - start;
        end = start;
    }
}

/* (4): ms/image per (depth, batch), one bar per device. */
static void svg_compare_chart(FILE *o, const vrep_set *s, const vrep_key *keys, int nk, int multi_batch)
{
    int nd = vrep_ndev_runs(s);
    const vrep_dev **devs = malloc((size_t)(nd ? nd : 1) * sizeof *devs);
    const char **labels = malloc((size_t)(nd ? nd : 1) * sizeof *labels);
    const char **colors = malloc((size_t)(nd ? nd : 1) * sizeof *colors);
    vrep_boxes *bx = calloc(1, sizeof *bx);
    int W = 64 + 24 + nk * (nd * 30 + 20); /* bars wide enough for their value labels */
    if (W < 760) W = 760;
    if (W > 1140) W = 1140;
    vrep_plot p = {.W = W, .H = 360, .l = 64, .t = 40, .w = W - 64 - 24, .xmax = 1, .ymax = 1};
    if (!devs || !labels || !colors || !bx) {
        p.h = 360 - 40 - 50;
        svg_open(o, &p, "ms per image, all devices");
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        free(devs);
        free(labels);
        free(colors);
        free(bx);
        return;
    }
    nd = 0;
    for (int i = 0; i < s->ndev; i++) {
        if (!s->dev[i].nruns) continue;
        devs[nd] = &s->dev[i];
        labels[nd] = s->dev[i].label;
        colors[nd] = s->dev[i].color;
        nd++;
    }
    double lh = svg_legend(o, NULL, p.l, 0, p.l + p.w, labels, colors, nd, 0);
    p.t = 44 + lh;
    p.h = p.H - p.t - 50;
    double vmax = 0, vmin = INFINITY;
    for (int i = 0; i < nd; i++)
        for (int r = 0; r < devs[i]->nruns; r++) {
            double v = vrep_ms(devs[i]->runs[r].v);
            if (isfinite(v) && v > vmax) vmax = v;
            if (isfinite(v) && v > 0 && v < vmin) vmin = v;
        }
    svg_open(o, &p, "Time per image on every device (ms, median)");
    svg_legend(o, bx, p.l, 44, p.l + p.w, labels, colors, nd, 1);
    /* devices often differ by orders of magnitude: then a log axis keeps every bar readable */
    if (vmax > 0 && vmax / vmin > 30) svg_yaxis_log(o, &p, vmin, vmax, "ms per image (log scale)");
    else svg_yaxis(o, &p, vmax, "ms per image");
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p.l, p.t + p.h,
            p.l + p.w, p.t + p.h);
    svg_xtitle(o, &p, multi_batch ? "depth, batch" : "depth (layers run at the late scales)");
    if (vmax <= 0) svg_nodata(o, &p);
    double band = p.w / (nk ? nk : 1), inner = band * 0.8, bw = fmin(40, inner / (nd ? nd : 1));
    for (int g = 0; g < nk; g++) {
        const vrep_key *k = &keys[vrep_asc_index(keys, nk, g)];
        double cx = p.l + band * (g + 0.5), x0 = cx - bw * nd / 2;
        for (int i = 0; i < nd; i++) {
            const vrep_run *r = vrep_find(devs[i], k->depth, k->batch);
            double v = r ? vrep_ms(r->v) : NAN;
            if (!isfinite(v) || v < 0) continue;
            double y = vrep_sy(&p, v);
            fprintf(o, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"><title>", x0 + bw * i, y,
                    fmax(bw - 1, 1), p.t + p.h - y, colors[i]);
            h_text(o, labels[i]);
            fprintf(o, ", depth %d, batch %d: %s ms</title></rect>\n", k->depth, k->batch, vrep_sig3(v).s);
            vrep_reserve(bx, x0 + bw * i, y, x0 + bw * (i + 1) - 1, p.t + p.h);
        }
    }
    for (int g = 0; g < nk; g++) {
        const vrep_key *k = &keys[vrep_asc_index(keys, nk, g)];
        double cx = p.l + band * (g + 0.5), x0 = cx - bw * nd / 2;
        char lab[48];
        if (multi_batch) snprintf(lab, sizeof lab, "%d, b%d", k->depth, k->batch);
        else snprintf(lab, sizeof lab, "%d", k->depth);
        vrep_label(o, bx, cx, p.t + p.h + 16, 11, lab, NULL);
        for (int i = 0; i < nd; i++) {
            const vrep_run *r = vrep_find(devs[i], k->depth, k->batch);
            double v = r ? vrep_ms(r->v) : NAN;
            if (!isfinite(v) || v < 0) continue;
            vrep_label(o, bx, x0 + bw * (i + 0.5), vrep_sy(&p, v) - 4, 9, vrep_sig3(v).s, " fill=\"#333\"");
        }
    }
    fputs("</svg>\n", o);
    free(devs);
    free(labels);
    free(colors);
    free(bx);
}

static const char vrep_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI','DejaVu Sans',Arial,sans-serif;color:#222;"
    "background:#fff;max-width:1180px;margin:0 auto;padding:12px 20px 40px}\n"
    "h1{font-size:1.7em;margin:.3em 0 .1em}\n"
    "h2{font-size:1.3em;border-bottom:2px solid #e1e4e8;padding-bottom:3px;margin:1.8em 0 .5em}\n"
    "h3{font-size:1.05em;margin:1.2em 0 .3em}\n"
    ".meta{color:#555;margin:.2em 0}\n"
    ".swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.4em;vertical-align:-.05em}\n"
    "dl.info{display:grid;grid-template-columns:max-content 1fr;gap:1px 14px;margin:.4em 0 .8em}\n"
    "dl.info dt{color:#555}dl.info dd{margin:0}\n"
    ".tw{overflow-x:auto}\n"
    "table{border-collapse:collapse;font-size:13px;margin:6px 0 10px;font-variant-numeric:tabular-nums}\n"
    "th,td{border:1px solid #d6dbe0;padding:3px 8px;text-align:right;white-space:nowrap}\n"
    "th{background:#f2f4f6;font-weight:600;white-space:normal;vertical-align:bottom;min-width:3em}\n"
    "tbody tr:nth-child(even){background:#fafbfc}\n"
    "tr.base td{font-weight:600}\n"
    ".err{color:#8a1020;background:#fdecee;border-left:4px solid #c0142c;padding:6px 12px;margin:.6em 0}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:12px;margin-top:8px}\n"
    "svg{border:1px solid #e1e4e8;border-radius:4px;max-width:100%;height:auto}\n"
    "footer{color:#777;font-size:12px;margin-top:2.5em}\n";

static void h_table(FILE *o, const vrep_dev *d)
{
    fputs("<div class=\"tw\"><table>\n<thead><tr>", o);
    for (int i = 0; i < VREP_NCOLS; i++) {
        fputs("<th>", o);
        h_text(o, vrep_heads[i]);
        fputs("</th>", o);
    }
    fputs("</tr></thead>\n<tbody>\n", o);
    for (int r = 0; r < d->nruns; r++) {
        vrep_txt c[VREP_NCOLS];
        vrep_cells(d, &d->runs[r], c);
        fputs(vrep_is_base(d, &d->runs[r]) ? "<tr class=\"base\">" : "<tr>", o);
        for (int i = 0; i < VREP_NCOLS; i++) {
            fputs("<td>", o);
            h_text(o, c[i].s);
            fputs("</td>", o);
        }
        fputs("</tr>\n", o);
    }
    fputs("</tbody></table></div>\n<h3>Time split per image (ms)</h3>\n<div class=\"tw\"><table>\n<thead><tr>", o);
    for (int i = 0; i < VREP_NSPLIT; i++) {
        fputs("<th>", o);
        h_text(o, vrep_split_heads[i]);
        fputs("</th>", o);
    }
    fputs("</tr></thead>\n<tbody>\n", o);
    for (int r = 0; r < d->nruns; r++) {
        vrep_txt c[VREP_NSPLIT];
        vrep_split_cells(&d->runs[r], c);
        fputs("<tr>", o);
        for (int i = 0; i < VREP_NSPLIT; i++) {
            fputs("<td>", o);
            h_text(o, c[i].s);
            fputs("</td>", o);
        }
        fputs("</tr>\n", o);
    }
    fputs("</tbody></table></div>\n", o);
}

static void h_dt(FILE *o, const char *dt)
{
    fputs("<dt>", o);
    h_text(o, dt);
    fputs("</dt><dd>", o);
}

static void h_details(FILE *o, const vrep_set *s, const vrep_dev *d)
{
    const vj_value *dv = d->device, *m = d->model, *p = d->peak;
    fputs("<dl class=\"info\">\n", o);
    if (s->ndocs > 1) {
        h_dt(o, "Source");
        fprintf(o, "file %d, host ", d->doc + 1);
        h_text(o, vj_str(vj_get(d->host, "name"), "?"));
        fputs("</dd>\n", o);
    }
    h_dt(o, "Device index");
    fprintf(o, "%d</dd>\n", d->index);
    h_dt(o, "Vendor");
    h_text(o, vj_str(vj_get(dv, "vendor"), "?"));
    fputs("</dd>\n", o);
    h_dt(o, "Platform");
    h_text(o, vj_str(vj_get(dv, "platform"), "?"));
    fputs("</dd>\n", o);
    h_dt(o, "Driver");
    h_text(o, vj_str(vj_get(dv, "driver"), "?"));
    fputs("</dd>\n", o);
    h_dt(o, "Hardware");
    fprintf(o, "%s compute units, %s MiB global memory</dd>\n", vrep_int(vj_get(dv, "compute_units")).s,
            vrep_mib(vj_num(vj_get(dv, "global_mem_bytes"), NAN)).s);
    if (p) {
        h_dt(o, "Measured peak");
        fprintf(o, "SGEMM %s GFLOP/s, bandwidth %s GB/s</dd>\n", vrep_sig3(vj_num(vj_get(p, "sgemm_gflops"), NAN)).s,
                vrep_sig3(vj_num(vj_get(p, "bandwidth_gbs"), NAN)).s);
    }
    const vj_value *gm = vj_get(d->result, "gemm");
    if (vj_type_of(gm) == VJ_OBJECT) {
        char txt[1400];
        vrep_gemm_text(gm, txt, sizeof txt);
        h_dt(o, "GEMM parameters");
        h_text(o, txt);
        fputs("</dd>\n", o);
    }
    const char *pol = vj_str(vj_get(vj_get(d->result, "policy"), "description"), NULL);
    if (pol) {
        h_dt(o, "Policy");
        h_text(o, pol);
        fputs("</dd>\n", o);
    }
    if (m) {
        h_dt(o, "Model");
        h_text(o, vj_str(vj_get(m, "name"), "?"));
        fprintf(o, ": %s layers, width %s, %s heads, %s M parameters</dd>\n", vrep_int(vj_get(m, "depth")).s,
                vrep_int(vj_get(m, "width")).s, vrep_int(vj_get(m, "heads")).s,
                vrep_sig3(vj_num(vj_get(m, "params"), NAN) / 1e6).s);
    }
    const vj_value *ld = vj_get(d->result, "load");
    if (vj_type_of(ld) == VJ_OBJECT) {
        h_dt(o, "Load");
        fprintf(o, "%s s, %s GB/s of %s MiB of checkpoint; weights ", vrep_sig3(vj_num(vj_get(ld, "s"), NAN)).s,
                vrep_sig3(vj_num(vj_get(ld, "gbs"), NAN)).s, vrep_mib(vj_num(vj_get(ld, "file_bytes"), NAN)).s);
        h_text(o, vj_str(vj_get(ld, "weights"), "?"));
        fprintf(o, ", %s MiB on the device (VQ-VAE %s MiB)</dd>\n",
                vrep_mib(vj_num(vj_get(ld, "weights_bytes"), NAN)).s, vrep_mib(vj_num(vj_get(ld, "vae_bytes"), NAN)).s);
    }
    fputs("</dl>\n", o);
}

int vrep_html(FILE *out, vj_value *const *docs, int ndocs, const char *title)
{
    vrep_set s;
    int st = vrep_collect(docs, ndocs, &s);
    if (st) return st;
    int nk;
    vrep_key *keys = vrep_keys(&s, &nk);
    if (!keys) {
        vrep_release(&s);
        return varcl_fail(VARCL_E_RUNTIME, "report: out of memory");
    }
    if (!title) title = "varcl benchmark";
    int multi = vrep_batches_vary(&s), ndr = vrep_ndev_runs(&s);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
    fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
          out);
    fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
    h_text(out, title);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>", vrep_css);
    h_text(out, title);
    fputs("</h1>\n", out);
    for (int d = 0; d < ndocs; d++) {
        const vj_value *h = vj_get(docs[d], "host");
        fputs("<p class=\"meta\">", out);
        if (ndocs > 1) fprintf(out, "<b>File %d:</b> ", d + 1);
        fputs("varcl ", out);
        h_text(out, vj_str(vj_get(docs[d], "varcl_version"), "?"));
        fputs(" &middot; host <b>", out);
        h_text(out, vj_str(vj_get(h, "name"), "?"));
        fputs("</b> &middot; ", out);
        h_text(out, vj_str(vj_get(h, "os"), "?"));
        fputs(" &middot; ", out);
        h_text(out, vj_str(vj_get(h, "cpu"), "?"));
        fputs("</p>\n", out);
    }
    fputs("</header>\n", out);
    for (int i = 0; i < s.ndev; i++) {
        const vrep_dev *d = &s.dev[i];
        fprintf(out, "<section id=\"device-%d\">\n<h2><span class=\"swatch\" style=\"background:%s\"></span>", i,
                d->color);
        h_text(out, d->label);
        fputs("</h2>\n", out);
        h_details(out, &s, d);
        if (d->error) {
            fputs("<p class=\"err\"><b>Error:</b> ", out);
            h_text(out, d->error);
            fputs("</p>\n", out);
        }
        if (d->nruns) {
            h_table(out, d);
            fputs("<div class=\"charts\">\n", out);
            svg_line_chart(out, d, "Time per image vs depth", "ms per image (median)", vrep_ms, vrep_sig3);
            svg_line_chart(out, d, "KV cache vs depth", "KV cache (MiB)", vrep_kv_mib, vrep_fix1);
            svg_scale_chart(out, d, multi);
            fputs("</div>\n", out);
        } else if (!d->error) {
            fputs("<p>No runs.</p>\n", out);
        }
        fputs("</section>\n", out);
    }
    fputs("<section id=\"all-devices\">\n<h2>All devices: ms/image (median) and speed-up vs full</h2>\n", out);
    if (!ndr) {
        fputs("<p>No device has runs.</p>\n", out);
    } else {
        fputs("<div class=\"tw\"><table>\n<thead><tr><th rowspan=\"2\">depth</th><th rowspan=\"2\">batch</th>", out);
        for (int i = 0; i < s.ndev; i++) {
            if (!s.dev[i].nruns) continue;
            fprintf(out, "<th colspan=\"2\"><span class=\"swatch\" style=\"background:%s\"></span>", s.dev[i].color);
            h_text(out, s.dev[i].label);
            fputs("</th>", out);
        }
        fputs("</tr>\n<tr>", out);
        for (int i = 0; i < s.ndev; i++)
            if (s.dev[i].nruns) fputs("<th>ms/image</th><th>speed-up</th>", out);
        fputs("</tr></thead>\n<tbody>\n", out);
        for (int k = 0; k < nk; k++) {
            fprintf(out, "<tr><td>%d</td><td>%d</td>", keys[k].depth, keys[k].batch);
            for (int i = 0; i < s.ndev; i++) {
                if (!s.dev[i].nruns) continue;
                const vrep_run *r = vrep_find(&s.dev[i], keys[k].depth, keys[k].batch);
                if (!r) fputs("<td>-</td><td>-</td>", out);
                else
                    fprintf(out, "<td>%s</td><td>%s</td>", vrep_sig3(vrep_ms(r->v)).s,
                            vrep_speedup(vj_num(vj_get(r->v, "speedup_vs_full"), NAN)).s);
            }
            fputs("</tr>\n", out);
        }
        fputs("</tbody></table></div>\n", out);
        if (ndr > 1 || ndocs > 1) {
            fputs("<div class=\"charts\">\n", out);
            svg_compare_chart(out, &s, keys, nk, multi);
            fputs("</div>\n", out);
        }
    }
    fputs("</section>\n<footer>Generated by varcl's vbench report. Self-contained: no scripts, no external "
          "resources.</footer>\n</body>\n</html>\n",
          out);
    free(keys);
    return vrep_finish(out, &s);
}
