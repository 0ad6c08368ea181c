/* vbench: depth sweeps, device peak probes, vendor comparison reports, and per-device GEMM tuning.
 *
 *   vbench --depth 2,8,16 [--batch 1,8] [--full-scales N] [--model F --vae F] [--decode on|off] [--warmup N]
 *          [--reps N] [--device SPEC|all] [--json F] [--md F] [--html F]
 *   vbench --compare A.json B.json ... [--md F] [--html F]
 *   vbench --tune [--model F --vae F] [--device SPEC] [--tune-reps N] [--tune-shapes N] [--tune-sets a,b,...]
 *
 * Every sweep includes the full network as its baseline. Per (device, depth, batch): time per image (median, min,
 * max over reps after warm-up), per scale and per part, KV bytes, peak device bytes per tag, FLOPs from the plan and
 * the GFLOP/s reached, as a fraction of the SGEMM peak probed on the device. Benchmarks report; they assert nothing.
 * --tune times candidate CLBlast parameter sets on the model's GEMM shapes and stores the best in the device's tuning
 * file, which later runs read (tune.c, gemm_tune.h); the reports say which GEMM parameters each device used.
 * Progress goes to stderr, a Markdown table to stdout. Exit status: 0 ok, 2 bad usage or input, 1 run-time failure. */
#include "gemm.h"
#include "generate.h"
#include "json.h"
#include "report.h"
#include "tune.h"
#include "varcl.h"

#include "../host/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 32
#define MAX_RUNS 256

static const char usage[] =
    "usage: vbench --depth 2,8,16 [--batch 1,8] [--full-scales N] [--model F --vae F] [--decode on|off]\n"
    "              [--warmup N] [--reps N] [--device SPEC|all] [--weights keep|f32|f16|bf16] [--json F] [--md F]\n"
    "              [--html F]\n"
    "       vbench --compare A.json B.json ... [--md F] [--html F]\n"
    "       vbench --tune [--model F --vae F] [--device SPEC] [--tune-reps N (3)] [--tune-shapes N (6)]\n"
    "              [--tune-sets default,cpu-linear,...]   GEMM parameters for this device, stored in the varcl cache\n";

typedef struct {
    int depths[MAX_LIST], n_depths, batches[MAX_LIST], n_batches;
    int full_scales, decode, warmup, reps;
    int weights; /* VARCL_WEIGHTS_* */
    int tune, tune_reps, tune_shapes, tune_flags; /* tune_flags: a --tune-* option was given */
    const char *model, *vae, *device, *json, *md, *html, *tune_sets;
    const char *compare[MAX_LIST];
    int n_compare;
} options;

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bad(const char *fmt, const char *a)
{
    fprintf(stderr, "vbench: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 2;
}

static int parse_list(const char *flag, const char *val, int min, int *out, int *n)
{
    int *v = NULL, k = 0;
    if (vcfg_parse_int_list(val, min, INT_MAX, &v, &k) || k > MAX_LIST) {
        free(v);
        fprintf(stderr, "vbench: %s: expected a list of integers >= %d like 2,8,16, got '%s'\n", flag, min, val);
        return 2;
    }
    memcpy(out, v, (size_t)k * sizeof *v);
    *n = k;
    free(v);
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.full_scales = 6, .decode = 1, .warmup = 1, .reps = 3, .tune_reps = 3, .tune_shapes = 6};
    o->batches[0] = 1;
    o->n_batches = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strcmp(a, "--compare")) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (o->n_compare == MAX_LIST) return bad("--compare: at most 32 files%s", "");
                o->compare[o->n_compare++] = argv[++i];
            }
            if (!o->n_compare) return bad("--compare needs JSON files%s", "");
            continue;
        }
        if (!strcmp(a, "--tune")) {
            o->tune = 1;
            continue;
        }
        if (i + 1 >= argc) return bad("%s needs a value (see --help)", a);
        const char *v = argv[++i];
        int st = 0;
        o->tune_flags |= !strncmp(a, "--tune-", 7);
        if (!strcmp(a, "--depth")) st = parse_list(a, v, 1, o->depths, &o->n_depths);
        else if (!strcmp(a, "--batch")) st = parse_list(a, v, 1, o->batches, &o->n_batches);
        else if (!strcmp(a, "--full-scales")) st = vcfg_parse_int(v, 0, 64, &o->full_scales) ? bad("--full-scales: bad value '%s'", v) : 0;
        else if (!strcmp(a, "--warmup")) st = vcfg_parse_int(v, 0, 1000, &o->warmup) ? bad("--warmup: bad value '%s'", v) : 0;
        else if (!strcmp(a, "--reps")) st = vcfg_parse_int(v, 1, 1000, &o->reps) ? bad("--reps: bad value '%s'", v) : 0;
        else if (!strcmp(a, "--tune-reps"))
            st = vcfg_parse_int(v, 1, 64, &o->tune_reps) ? bad("--tune-reps: expected 1..64, got '%s'", v) : 0;
        else if (!strcmp(a, "--tune-shapes"))
            st = vcfg_parse_int(v, 1, 16, &o->tune_shapes) ? bad("--tune-shapes: expected 1..16, got '%s'", v) : 0;
        else if (!strcmp(a, "--tune-sets")) o->tune_sets = v;
        else if (!strcmp(a, "--decode")) {
            if (strcmp(v, "on") && strcmp(v, "off")) st = bad("--decode: expected on or off, got '%s'", v);
            o->decode = !strcmp(v, "on");
        } else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--vae")) o->vae = v;
        else if (!strcmp(a, "--device")) o->device = v;
        else if (!strcmp(a, "--weights")) {
            static const char *const names[] = {"keep", "f32", "f16", "bf16"}; /* VARCL_WEIGHTS_* order */
            o->weights = -1;
            for (int w = 0; w < 4; w++)
                if (!strcmp(v, names[w])) o->weights = w;
            if (o->weights < 0) st = bad("--weights: expected keep, f32, f16 or bf16, got '%s'", v);
        } else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--md")) o->md = v;
        else if (!strcmp(a, "--html")) o->html = v;
        else st = bad("unknown option '%s' (see --help)", a);
        if (st) return st;
    }
    if ((o->model != NULL) != (o->vae != NULL)) return bad("--model and --vae go together%s", "");
    if (o->tune) {
        if (o->n_compare || o->n_depths || o->json || o->md || o->html)
            return bad("--tune runs alone: no --depth, --compare, --json, --md or --html%s", "");
        if (o->device && !strcmp(o->device, "all")) return bad("--tune takes one device, not --device all%s", "");
        return 0;
    }
    if (o->tune_flags) return bad("--tune-reps, --tune-shapes and --tune-sets go with --tune%s", "");
    if (!o->n_compare && !o->n_depths) return bad("--depth is required, e.g. --depth 2,8,16%s", "");
    if (o->n_compare && o->n_depths) return bad("--compare renders existing files; it takes no --depth%s", "");
    return 0;
}

/* ---- device peak probes ---- */

typedef struct {
    double sgemm_gflops, bandwidth_gbs;
} peaks;

/* The SGEMM peak is that of the path varcl's products with weights take on this device (vg_linear: linear_packed
 * where weights are packed, CLBlast otherwise), on an n x n x n product. Also copies the GEMM set-up (which
 * parameters are used) into *gemm. */
static int probe(varcl *v, peaks *pk, vg_gemm *gemm)
{
    vr_runtime *rt = varcl_runtime(v);
    size_t n = rt->policy.bench_gemm_n, bytes = n * n * sizeof(float);
    vg_gemm g;
    int init = vg_init(&g, rt);
    if (init) return init;
    *gemm = g;
    cl_mem a = vm_alloc(&rt->mem, VM_SCRATCH, bytes, "probe A"), b = a ? vm_alloc(&rt->mem, VM_SCRATCH, bytes, "probe B") : NULL;
    cl_mem c = b ? vm_alloc(&rt->mem, VM_SCRATCH, bytes, "probe C") : NULL;
    int st = c ? 0 : VARCL_E_RUNTIME;
    double best = 1e30;
    for (int r = 0; r < 9 && !st; r++) { /* the first call compiles the kernels: best of the rest (CPU clocks settle) */
        double t0 = vr_now_ms();
        st = vg_linear(&g, a, 0, (vg_weight){b, VT_F32}, 0, c, 0, n, n, n);
        if (!st) st = vr_finish(rt);
        if (r > 0 && vr_now_ms() - t0 < best) best = vr_now_ms() - t0;
    }
    pk->sgemm_gflops = st ? 0 : 2.0 * n * n * n / (best * 1e6);
    /* bandwidth: copy of a 64 MiB (GPU: 256 MiB) buffer, read + write */
    size_t cbytes = rt->policy.bench_copy_mb << 20;
    if (cbytes > rt->mem.max_alloc / 2) cbytes = rt->mem.max_alloc / 2;
    cl_mem s = st ? NULL : vm_alloc(&rt->mem, VM_SCRATCH, cbytes, "probe copy source");
    cl_mem d = s ? vm_alloc(&rt->mem, VM_SCRATCH, cbytes, "probe copy target") : NULL;
    cl_kernel k = d ? vr_kernel(rt, "copy_f4") : NULL;
    if (!st && !k) st = VARCL_E_RUNTIME;
    int n4 = (int)(cbytes / 16);
    size_t gsz = (size_t)n4;
    best = 1e30;
    for (int r = 0; r < 5 && !st; r++) {
        double t0 = vr_now_ms();
        st = vr_launch(rt, k, "copy_f4", 1, &gsz, NULL, 3, VR_ARG(s), VR_ARG(d), VR_ARG(n4));
        if (!st) st = vr_finish(rt);
        if (r > 0 && vr_now_ms() - t0 < best) best = vr_now_ms() - t0;
    }
    pk->bandwidth_gbs = st ? 0 : 2.0 * cbytes / (best * 1e6);
    vm_free(&rt->mem, a), vm_free(&rt->mem, b), vm_free(&rt->mem, c), vm_free(&rt->mem, s), vm_free(&rt->mem, d);
    vg_release(&g);
    return st;
}

/* ---- one (depth, batch) run ---- */

typedef struct {
    int depth, n_layers, layers[128], batch, full_scales;
    double ms_med, ms_min, ms_max, scale_ms[16], split[4], gflop;
    size_t kv_bytes, peak[8], peak_total;
    int scales;
} run_result;

static int run_one(varcl *v, const options *o, int depth, int batch, run_result *r)
{
    varcl_info info;
    varcl_get_info(v, &info);
    int *labels = malloc((size_t)batch * sizeof *labels);
    if (!labels) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; i < batch; i++) labels[i] = (207 + 37 * i) % info.classes;
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = batch;
    rq.depth = depth;
    rq.full_scales = o->full_scales > info.scales ? info.scales : o->full_scales;
    rq.skip_decode = !o->decode;
    memset(r, 0, sizeof *r);
    r->depth = depth;
    r->batch = batch;
    r->full_scales = rq.full_scales;
    r->scales = info.scales;
    r->n_layers = varcl_plan_layers(v, &rq, r->layers);
    r->gflop = varcl_flops_per_image(v, &rq, o->decode) / 1e9;
    vr_runtime *rt = varcl_runtime(v);
    double ms[1000];
    varcl_images best;
    memset(&best, 0, sizeof best);
    int st = 0;
    for (int k = 0; k < o->warmup + o->reps && !st; k++) {
        if (k == o->warmup) vm_reset_peak(&rt->mem);
        varcl_images out;
        double t0 = vr_now_ms();
        st = varcl_generate(v, &rq, &out);
        double t = (vr_now_ms() - t0) / batch;
        if (st) break;
        if (k >= o->warmup) {
            ms[k - o->warmup] = t;
            if (k == o->warmup || t < r->ms_min) r->ms_min = t;
            if (t > r->ms_max) r->ms_max = t;
            /* keep the parts of the fastest rep: its split adds up to its total */
            if (k == o->warmup || t <= r->ms_min) {
                varcl_images_free(&best);
                best = out;
                continue;
            }
        }
        varcl_images_free(&out);
    }
    free(labels);
    if (st) {
        varcl_images_free(&best);
        return st;
    }
    qsort(ms, (size_t)o->reps, sizeof *ms, dbl_cmp);
    r->ms_med = o->reps % 2 ? ms[o->reps / 2] : 0.5 * (ms[o->reps / 2 - 1] + ms[o->reps / 2]);
    for (int si = 0; si < info.scales; si++) r->scale_ms[si] = best.ms_scale[si] / batch;
    r->split[0] = best.ms_transformer / batch;
    r->split[1] = best.ms_sample / batch;
    r->split[2] = best.ms_vq / batch;
    r->split[3] = best.ms_decode / batch;
    r->kv_bytes = best.kv_bytes;
    varcl_mem_stats m;
    varcl_get_mem_stats(v, &m);
    for (int t = 0; t < m.ntags; t++) r->peak[t] = m.peak[t];
    r->peak_total = m.peak_total;
    varcl_images_free(&best);
    return 0;
}

/* ---- JSON output ---- */

static void host_info(FILE *f)
{
    char name[256] = "?", cpu[256] = "?";
    gethostname(name, sizeof name);
    name[sizeof name - 1] = 0;
    struct utsname u;
    char os[600] = "?";
    if (uname(&u) == 0) snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    FILE *c = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (c && fgets(line, sizeof line, c)) {
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    }
    if (c) fclose(c);
    fprintf(f, "\"host\":{\"name\":");
    vj_write_string(f, name);
    fprintf(f, ",\"os\":");
    vj_write_string(f, os);
    fprintf(f, ",\"cpu\":");
    vj_write_string(f, cpu);
    fprintf(f, ",\"cores\":%ld}", sysconf(_SC_NPROCESSORS_ONLN));
}

static void device_json(FILE *f, const vr_device *d)
{
    fprintf(f, "\"device\":{\"index\":%d,\"platform\":", d->index);
    vj_write_string(f, d->platform_name);
    fprintf(f, ",\"name\":");
    vj_write_string(f, d->name);
    fprintf(f, ",\"vendor\":");
    vj_write_string(f, d->vendor);
    fprintf(f, ",\"driver\":");
    vj_write_string(f, d->driver);
    fprintf(f, ",\"compute_units\":%u,\"global_mem_bytes\":%llu}", d->compute_units, (unsigned long long)d->global_mem);
}

static void run_json(FILE *f, const run_result *r, const run_result *full, const peaks *pk)
{
    static const char *const tags[] = {"weights", "kv", "activations", "scratch", "vae"};
    fprintf(f, "{\"depth\":%d,\"layers\":[", r->depth);
    for (int i = 0; i < r->n_layers; i++) fprintf(f, i ? ",%d" : "%d", r->layers[i]);
    double gflops = r->gflop / (r->ms_med / 1e3);
    fprintf(f, "],\"full_scales\":%d,\"batch\":%d,\"ms_per_image\":{\"median\":%.4f,\"min\":%.4f,\"max\":%.4f},",
            r->full_scales, r->batch, r->ms_med, r->ms_min, r->ms_max);
    fprintf(f, "\"images_per_s\":%.5f,\"scale_ms\":[", 1e3 / r->ms_med);
    for (int si = 0; si < r->scales; si++) fprintf(f, si ? ",%.4f" : "%.4f", r->scale_ms[si]);
    fprintf(f, "],\"split_ms\":{\"transformer\":%.4f,\"sample\":%.4f,\"vq\":%.4f,\"decode\":%.4f},", r->split[0],
            r->split[1], r->split[2], r->split[3]);
    fprintf(f, "\"kv_bytes\":%zu,\"peak_bytes\":{\"total\":%zu", r->kv_bytes, r->peak_total);
    for (int t = 0; t < 5; t++) fprintf(f, ",\"%s\":%zu", tags[t], r->peak[t]);
    fprintf(f, "},\"gflop_per_image\":%.4f,\"gflops\":%.4f,\"sgemm_peak_fraction\":%.4f,", r->gflop, gflops,
            pk->sgemm_gflops > 0 ? gflops / pk->sgemm_gflops : 0);
    fprintf(f, "\"speedup_vs_full\":%.4f,\"kv_saving_vs_full\":%.4f}", full ? full->ms_med / r->ms_med : 1.0,
            full && full->kv_bytes ? 1.0 - (double)r->kv_bytes / full->kv_bytes : 0.0);
}

/* "gemm": which GEMM parameters the runs used: {"params": "tuned file" | "built-in CPU sets" | "CLBlast defaults",
 * "file": path or null, "linear": set name, "conv": set name, "weights": "packed" | "[K][N]"} */
static void gemm_json(FILE *f, const vg_gemm *g)
{
    fprintf(f, ",\"gemm\":{\"params\":");
    vj_write_string(f, vg_source_name(g->source));
    fprintf(f, ",\"file\":");
    if (g->source == VG_PARAMS_FILE) vj_write_string(f, g->file);
    else fprintf(f, "null");
    for (int c = 0; c < VG_CLASSES; c++) {
        fprintf(f, ",\"%s\":", vg_class_names[c]);
        vj_write_string(f, g->use_sets ? g->set[c].name : "default");
    }
    fprintf(f, ",\"weights\":\"%s\"}", g->packed ? "packed" : "[K][N]");
}

/* "policy": the device's kernel choices (host/policy.h): {"family": "cpu" | "gpu", "reason": why, "description":
 * one line of every choice} */
static void policy_json(FILE *f, const vp_policy *p)
{
    char line[600];
    vp_describe(p, line, sizeof line);
    fprintf(f, ",\"policy\":{\"family\":");
    vj_write_string(f, p->name);
    fprintf(f, ",\"reason\":");
    vj_write_string(f, p->reason);
    fprintf(f, ",\"description\":");
    vj_write_string(f, line);
    fputc('}', f);
}

/* Benchmarks one device into the JSON stream; a failure is recorded in the stream and returned. */
static int bench_device(FILE *f, const options *o, const vr_device *dev)
{
    char spec[16];
    snprintf(spec, sizeof spec, "%d", dev->index);
    fprintf(f, "{");
    device_json(f, dev);
    varcl_open_params op = VARCL_OPEN_DEFAULT;
    op.model_path = o->model;
    op.vae_path = o->vae;
    op.device = spec;
    op.weights = o->weights;
    /* VBENCH_FAIL_DEVICE=<index> makes that device fail here: how the tests check that one failing device is
     * recorded with its error while the others still run, on machines whose devices never fail */
    const char *fault = getenv("VBENCH_FAIL_DEVICE");
    varcl *v = NULL;
    if (fault && atoi(fault) == dev->index && *fault)
        varcl_fail(VARCL_E_RUNTIME, "device %d failed on purpose (VBENCH_FAIL_DEVICE)", dev->index);
    else
        v = varcl_open(&op);
    int st = v ? 0 : varcl_last_status();
    peaks pk = {0, 0};
    vg_gemm gemm;
    int have_gemm = 0;
    varcl_info info;
    run_result *runs = NULL;
    int nr = 0;
    if (!st) {
        varcl_get_info(v, &info);
        for (int i = 0; i < o->n_depths && !st; i++)
            if (o->depths[i] > info.depth)
                st = varcl_fail(VARCL_E_INPUT, "--depth %d is beyond the model's %d layers", o->depths[i], info.depth);
    }
    if (st == VARCL_E_INPUT) { /* the user's model or arguments: the same on every device, reported once by main */
        fprintf(f, "]}");
        varcl_close(v);
        return st;
    }
    fprintf(stderr, "vbench: device %d: %s (%s)\n", dev->index, dev->name, dev->platform_name);
    if (!st) {
        fprintf(stderr, "vbench: probing SGEMM and bandwidth\n");
        st = probe(v, &pk, &gemm);
        have_gemm = !st;
    }
    if (!st) {
        /* depths: the full network first (the baseline), then the requested ones, without repeats */
        int depths[MAX_LIST + 1], nd = 0;
        depths[nd++] = info.depth;
        for (int i = 0; i < o->n_depths; i++) {
            int seen = 0;
            for (int j = 0; j < nd; j++) seen |= depths[j] == o->depths[i];
            if (!seen) depths[nd++] = o->depths[i];
        }
        runs = calloc((size_t)nd * o->n_batches, sizeof *runs);
        for (int b = 0; b < o->n_batches && !st && runs; b++)
            for (int i = 0; i < nd && !st; i++) {
                fprintf(stderr, "vbench: depth %d, batch %d (%d warm-up, %d reps)\n", depths[i], o->batches[b], o->warmup,
                        o->reps);
                st = run_one(v, o, depths[i], o->batches[b], &runs[nr]);
                if (!st) nr++;
            }
        if (!runs) st = varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    }
    if (st) {
        fprintf(f, ",\"error\":");
        vj_write_string(f, varcl_last_error());
        fprintf(stderr, "vbench: device %d failed: %s\n", dev->index, varcl_last_error());
    }
    fprintf(f, ",\"peak\":{\"sgemm_gflops\":%.4f,\"bandwidth_gbs\":%.4f}", pk.sgemm_gflops, pk.bandwidth_gbs);
    if (have_gemm) gemm_json(f, &gemm);
    if (v) policy_json(f, &varcl_runtime(v)->policy);
    if (v) {
        fprintf(f, ",\"model\":{\"name\":");
        vj_write_string(f, o->model ? o->model : "built-in demo model");
        fprintf(f, ",\"depth\":%d,\"width\":%d,\"heads\":%d,\"params\":%zu,\"decode\":%s}", info.depth, info.width,
                info.heads, info.params, o->decode ? "true" : "false");
        /* reading, converting and uploading both checkpoints; GB/s of checkpoint bytes */
        fprintf(f,
                ",\"load\":{\"s\":%.4f,\"file_bytes\":%zu,\"gbs\":%.4f,\"weights\":\"%s\",\"weights_bytes\":%zu,"
                "\"vae_bytes\":%zu}",
                info.load_ms / 1e3, info.file_bytes, info.load_ms > 0 ? info.file_bytes / (info.load_ms * 1e6) : 0.0,
                info.weights, info.weights_bytes, info.vae_bytes);
        if (info.weights_note[0]) fprintf(stderr, "vbench: device %d: %s\n", dev->index, info.weights_note);
    }
    fprintf(f, ",\"runs\":[");
    for (int i = 0; i < nr; i++) {
        const run_result *full = NULL;
        for (int j = 0; j < nr; j++)
            if (runs[j].batch == runs[i].batch && runs[j].depth == info.depth) full = &runs[j];
        if (i) fputc(',', f);
        run_json(f, &runs[i], full, &pk);
    }
    fprintf(f, "]}");
    free(runs);
    varcl_close(v);
    return st;
}

/* Writes `text` to path via a temporary name. Exit status 2 when the path cannot be created there (a missing or
 * unwritable folder: the user's to fix), 1 when the write fails (disk full: run-time). */
static int write_file(const char *path, const char *text, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        fprintf(stderr, "vbench: cannot write %s: %s\n", path, strerror(e));
        return e == ENOENT || e == ENOTDIR || e == EACCES || e == EROFS ? 2 : 1;
    }
    int ok = fwrite(text, 1, len, f) == len && fflush(f) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) ok = 0, e = errno;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        fprintf(stderr, "vbench: cannot write %s: %s\n", path, strerror(e ? e : EIO));
        return 1;
    }
    return 0;
}

static int render(vj_value *const *docs, int n, const options *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int st = m ? vrep_markdown(m, docs, n) : VARCL_E_RUNTIME;
    if (m) fclose(m);
    if (st) {
        fprintf(stderr, "vbench: %s\n", varcl_last_error());
        free(buf);
        return st == VARCL_E_INPUT ? 2 : 1;
    }
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "vbench: cannot write to standard output: %s\n", strerror(errno ? errno : EIO));
        free(buf);
        return 1;
    }
    if (o->md) st = write_file(o->md, buf, len);
    free(buf);
    if (!st && o->html) {
        buf = NULL;
        len = 0;
        m = open_memstream(&buf, &len);
        st = m ? vrep_html(m, docs, n, n > 1 ? "varcl vendor comparison" : "varcl benchmark") : VARCL_E_RUNTIME;
        if (m) fclose(m);
        if (st) fprintf(stderr, "vbench: %s\n", varcl_last_error());
        else st = write_file(o->html, buf, len);
        free(buf);
    }
    return st;
}

int main(int argc, char **argv)
{
    options o;
    int st = parse_args(argc, argv, &o);
    if (st) return st;
    if (o.tune) {
        vtune_options to = {.model = o.model, .vae = o.vae, .device = o.device, .reps = o.tune_reps,
                            .max_shapes = o.tune_shapes, .sets = o.tune_sets};
        return vtune_run(&to);
    }
    if (o.n_compare) {
        vj_value *docs[MAX_LIST];
        for (int i = 0; i < o.n_compare; i++) {
            if (!(docs[i] = vj_read_file(o.compare[i]))) {
                fprintf(stderr, "vbench: %s\n", varcl_last_error());
                while (i--) vj_free(docs[i]);
                return 2;
            }
        }
        st = render(docs, o.n_compare, &o);
        for (int i = 0; i < o.n_compare; i++) vj_free(docs[i]);
        return st;
    }
    vr_device *devs = NULL, *list;
    int n = 0;
    if (o.device && !strcmp(o.device, "all")) {
        if (vr_list_devices(&devs, &n) || n == 0) {
            fprintf(stderr, "vbench: %s\n", n == 0 ? "no OpenCL device found" : varcl_last_error());
            return 1;
        }
        list = devs;
    } else {
        devs = malloc(sizeof *devs);
        if (!devs || vr_choose_device(o.device, devs)) {
            fprintf(stderr, "vbench: %s\n", varcl_last_error());
            free(devs);
            return varcl_last_status() == VARCL_E_INPUT ? 2 : 1;
        }
        n = 1;
        list = devs;
    }
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (!f) return 1;
    fprintf(f, "{\"varcl_version\":\"%s\",", VARCL_VERSION);
    host_info(f);
    fprintf(f, ",\"results\":[");
    int failed = 0, input_error = 0;
    for (int i = 0; i < n && !input_error; i++) {
        if (i) fputc(',', f);
        int s = bench_device(f, &o, &list[i]);
        failed += s != 0;
        input_error |= s == VARCL_E_INPUT;
    }
    fprintf(f, "]}\n");
    fclose(f);
    free(devs);
    if (input_error) { /* a bad model or depth is the user's input, not a device failure */
        fprintf(stderr, "vbench: %s\n", varcl_last_error());
        free(json);
        return 2;
    }
    if (o.json && (st = write_file(o.json, json, len))) {
        free(json);
        return st;
    }
    vj_value *doc = vj_parse(json, len);
    free(json);
    if (!doc) {
        fprintf(stderr, "vbench: internal: %s\n", varcl_last_error());
        return 1;
    }
    vj_value *docs[1] = {doc};
    st = render(docs, 1, &o);
    vj_free(doc);
    if (!st && failed == n) st = 1; /* every device failed */
    return st;
}
