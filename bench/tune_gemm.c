/* tune_gemm: the tuner behind `vbench --tune` and the writer of the device's tuning file (see tune_gemm.h; the
 * reader is clblast.c's). */
#include "tune_gemm.h"

#include "cachefile.h"

#include "error.h"
#include "outfile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- writing the tuning file ---- */

const char *vg_tune_status_name(int status)
{
    static const char *const names[] = {"ok", "wrong", "failed", "unsupported", "-"};
    return status >= 0 && status <= VG_TUNE_NO_SHAPES ? names[status] : "?";
}

static void parent_dir(const char *path, char *dir, size_t n)
{
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) *slash = 0;
    else snprintf(dir, n, ".");
}

int vg_tuning_check_writable(const char *path)
{
    char dir[1024];
    parent_dir(path, dir, sizeof dir);
    vr_mkdirs(dir);
    vo_file probe; /* the writer's own temporary, made and removed: the check cannot differ from the write */
    if (vo_open_own(&probe, path))
        return varcl_fail(VARCL_E_RUNTIME, "cannot write to the varcl cache (%s): %s", dir, varcl_last_error());
    vo_abort(&probe);
    return 0;
}

/* A device string on one line (they never hold newlines, but a file must stay parseable). */
static void put_value(FILE *f, const char *key, const char *val)
{
    fprintf(f, "%s = ", key);
    for (; *val; val++) fputc(*val == '\n' || *val == '\r' ? ' ' : *val, f);
    fputc('\n', f);
}

/* The three options compared, as comment lines. */
static void write_choice(FILE *f, const vg_tune_result *r)
{
    fprintf(f, "# per image, both classes: CLBlast defaults %.3f ms", r->est_default_ms);
    if (r->single_row >= 0) fprintf(f, "; one set (%s) %.3f ms", r->row[r->single_row].name, r->est_single_ms);
    if (isfinite(r->est_pair_ms))
        fprintf(f, "; a set per class %.3f ms with %.0f switches of %.4f ms", r->est_pair_ms, r->switches, r->switch_ms);
    fprintf(f, "\n");
}

static void write_tuning(FILE *f, const vr_device *dev, const char *model, const vg_shape *shapes,
                         const vg_tune_result *r)
{
    char date[64] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(f, "# varcl GEMM parameters for one OpenCL device, written by `vbench --tune` (varcl %s).\n", VARCL_VERSION);
    fprintf(f, "# Every varcl program on this device reads it at start-up. To undo: delete this file, or rerun\n"
               "# `vbench --tune`; VARCL_GEMM_TUNING=off ignores it. CLBlast cannot mix its defaults with its\n"
               "# overrides: 'set = default' goes for both classes or neither.\n");
    fprintf(f, "format = %d\n", VG_TUNING_FORMAT);
    put_value(f, "device", dev->name);
    put_value(f, "driver", dev->driver);
    put_value(f, "platform", dev->platform_version);
    put_value(f, "date", date);
    put_value(f, "model", model);
    for (int c = 0; c < VG_CLASSES; c++) {
        fprintf(f, "\n# %s: %d distinct CLBlast products, %.3g GFLOP per image", vg_class_names[c], r->n_class_shapes[c],
                r->class_gflop[c]);
        if (r->n_sample[c]) {
            fprintf(f, "; timed the %d largest (%.0f%% of the FLOPs):\n", r->n_sample[c], 100 * r->covered[c]);
            for (int k = 0; k < r->n_sample[c]; k++) {
                const vg_shape *s = &shapes[r->sample[c][k]];
                fprintf(f, "#   %zu x %zu -> %zu%s, %g per image (%s)\n", s->M, s->K, s->N, s->trans_b ? " (B^T)" : "",
                        s->per_image, s->what);
            }
            fprintf(f, "#   %-18s %9s  %s\n", "candidate", "GFLOP/s", "result");
            for (int i = 0; i < r->n_rows; i++) {
                const vg_tune_row *w = &r->row[i];
                fprintf(f, "#   %-18s %9.2f  %s%s\n", w->name, w->status[c] == VG_TUNE_OK ? w->gflops[c] : NAN,
                        vg_tune_status_name(w->status[c]), r->chosen[c] == i ? "  chosen" : "");
            }
        } else {
            fprintf(f, "; none in this model: the other class's choice\n");
        }
        if (c == VG_CLASSES - 1) write_choice(f, r);
        fprintf(f, "[%s]\n", vg_class_names[c]);
        if (!r->tuning.use_sets) {
            fprintf(f, "set = default\n");
            continue;
        }
        char params[400];
        vg_xgemm_format(&r->tuning.set[c], params, sizeof params);
        fprintf(f, "set = %s\nparams = %s\n", r->tuning.set[c].name, params);
    }
}

int vg_tuning_write(const char *path, const vr_device *dev, const char *model, const vg_shape *shapes,
                    const vg_tune_result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return varcl_fail(VARCL_E_RUNTIME, "GEMM tuning file %s: out of host memory", path);
    write_tuning(f, dev, model, shapes, r);
    int ok = !ferror(f);
    ok &= fclose(f) == 0;
    int st = ok ? vcf_write(path, "gemm-tuning", text, len)
                : varcl_fail(VARCL_E_RUNTIME, "GEMM tuning file %s: out of host memory", path);
    free(text);
    return st;
}

/* ---- the tuner ---- */

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double shape_gflop(const vg_shape *s) { return 2e-9 * (double)s->M * s->N * s->K * s->per_image; }

/* Device buffers big enough for every timed shape, filled once with random values; each shape uses their
 * prefixes. The host keeps copies for the reference. */
typedef struct {
    cl_mem a, b, c;
    float *ha, *hb, *hc; /* [max M*K], [max K*N], [max M*N] */
    size_t na, nb, nc;
} tune_bufs;

typedef struct {
    vg_clblast cb;
    vr_runtime *rt;
    const vg_tune_opts *o;
    tune_bufs buf;
    char line[400];
} tuner;

static void say(tuner *t)
{
    if (t->o->progress) t->o->progress(t->o->user, t->line);
}

/* The worst error of C against a double reference over a sample of entries (corners, edges and pseudo-random
 * ones), relative to sum |a| |b| of each entry; NaN counts as infinitely wrong. */
static double check_entries(const tune_bufs *b, const vg_shape *s)
{
    size_t M = s->M, N = s->N, K = s->K;
    double worst = 0;
    uint64_t x = 0x9e3779b97f4a7c15ULL ^ (M * 131 + N * 7 + K);
    for (int e = 0; e < 64; e++) {
        size_t i, j;
        if (e < 4) i = e & 1 ? M - 1 : 0, j = e & 2 ? N - 1 : 0;
        else {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            i = (size_t)(x >> 33) % M;
            j = (size_t)((x >> 11) & 0x3fffff) % N;
        }
        double r = 0, scale = 0;
        for (size_t k = 0; k < K; k++) {
            double av = b->ha[i * K + k], bv = s->trans_b ? b->hb[j * K + k] : b->hb[k * N + j];
            r += av * bv;
            scale += fabs(av * bv);
        }
        double err = fabs(r - b->hc[i * N + j]) / (scale + 1e-30);
        if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
    }
    return worst;
}

/* Times one product through CLBlast with whatever g has installed: a warm-up whose result is checked (*err), then
 * the median of reps. A wrong result is not timed (*ms = infinity). 0 or an error status. */
static int time_product(tuner *t, const vg_shape *s, double *ms, double *err)
{
    size_t M = s->M, N = s->N, K = s->K;
    double times[64];
    int reps = t->o->reps < 1 ? 1 : t->o->reps > 64 ? 64 : t->o->reps, st = 0;
    *ms = INFINITY;
    *err = INFINITY;
    for (int r = -1; r < reps; r++) {
        if ((st = vr_finish(t->rt))) return st;
        double t0 = vr_now_ms();
        st = vg_clblast_sgemm(&t->cb, 0, s->trans_b, M, N, K, 1.0f, t->buf.a, 0, K, t->buf.b, 0, s->trans_b ? K : N,
                              0.0f, t->buf.c, 0, N);
        if (st || (st = vr_finish(t->rt))) return st;
        if (r >= 0) {
            times[r] = vr_now_ms() - t0;
            continue;
        }
        if ((st = vr_read(t->rt, t->buf.c, 0, M * N * sizeof(float), t->buf.hc))) return st;
        *err = check_entries(&t->buf, s);
        if (!(*err < 1e-4)) return 0; /* wrong: no point timing it */
    }
    qsort(times, (size_t)reps, sizeof *times, dbl_cmp);
    *ms = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    return 0;
}

/* The candidates to try, CLBlast's defaults first (they must be measured before any override). */
static int pick_rows(tuner *t, vg_tune_result *r)
{
    const vg_tune_opts *o = t->o;
    /* the candidates of the policy's family (policy.h), those that do not fit the device fail vg_xgemm_check */
    cl_device_type type = t->rt->policy.family == VP_CPU ? CL_DEVICE_TYPE_CPU : CL_DEVICE_TYPE_GPU;
    int want_default = !o->names, n = 0;
    for (int i = 0; o->names && i < o->n_names; i++) {
        if (!strcmp(o->names[i], "default")) want_default = 1;
        else if (!vg_find_candidate(o->names[i])) {
            char known[400] = "default";
            size_t used = strlen(known);
            for (int k = 0; k < vg_n_candidates && used < sizeof known; k++)
                used += (size_t)snprintf(known + used, sizeof known - used, ", %s", vg_candidates[k].set.name);
            return varcl_fail(VARCL_E_INPUT, "unknown GEMM candidate '%s' (known: %s)", o->names[i], known);
        }
    }
    if (want_default) snprintf(r->row[n++].name, sizeof r->row[0].name, "default");
    for (int k = 0; k < vg_n_candidates && n < VG_TUNE_MAX_ROWS; k++) {
        const vg_candidate *c = &vg_candidates[k];
        int want = !o->names && (c->types & type);
        for (int i = 0; o->names && i < o->n_names; i++) want |= !strcmp(o->names[i], c->set.name);
        if (!want) continue;
        r->row[n].cand = c;
        snprintf(r->row[n++].name, sizeof r->row[0].name, "%s", c->set.name);
    }
    if (!n) return varcl_fail(VARCL_E_INPUT, "no GEMM candidate to try");
    r->n_rows = n;
    return 0;
}

/* Per class: the CLBlast products, largest FLOPs per image first, timed up to max_shapes of them or until they
 * cover 95% of the class's FLOPs. */
static void pick_sample(const vg_shape *shapes, int n, int max_shapes, vg_tune_result *r)
{
    for (int c = 0; c < VG_CLASSES; c++) {
        int *idx = malloc((size_t)(n ? n : 1) * sizeof *idx), m = 0;
        if (!idx) continue;
        double total = 0;
        for (int i = 0; i < n; i++) {
            const vg_shape *s = &shapes[i];
            if (vg_shape_class(s->M, s->N, s->K) != c || !s->M || !s->N || !s->K) continue;
            idx[m++] = i;
            total += shape_gflop(s);
        }
        for (int i = 1; i < m; i++) /* insertion sort, largest first */
            for (int j = i; j > 0 && shape_gflop(&shapes[idx[j]]) > shape_gflop(&shapes[idx[j - 1]]); j--) {
                int tmp = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = tmp;
            }
        r->n_class_shapes[c] = m;
        r->class_gflop[c] = total;
        double covered = 0;
        for (int i = 0; i < m && r->n_sample[c] < max_shapes && covered < 0.95 * total; i++) {
            r->sample[c][r->n_sample[c]++] = idx[i];
            covered += shape_gflop(&shapes[idx[i]]);
        }
        r->covered[c] = total > 0 ? covered / total : 0;
        free(idx);
    }
}

static int alloc_bufs(tuner *t, const vg_shape *shapes, const vg_tune_result *r)
{
    tune_bufs *b = &t->buf;
    size_t na = 1, nb = 1, nc = 1;
    for (int c = 0; c < VG_CLASSES; c++)
        for (int k = 0; k < r->n_sample[c]; k++) {
            const vg_shape *s = &shapes[r->sample[c][k]];
            if (s->M * s->K > na) na = s->M * s->K;
            if (s->K * s->N > nb) nb = s->K * s->N;
            if (s->M * s->N > nc) nc = s->M * s->N;
        }
    b->ha = malloc(na * sizeof(float));
    b->hb = malloc(nb * sizeof(float));
    b->hc = malloc(nc * sizeof(float));
    if (!b->ha || !b->hb || !b->hc) return varcl_fail(VARCL_E_RUNTIME, "out of host memory for the GEMM tuner");
    uint64_t x = 12345;
    for (size_t i = 0; i < na + nb; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        float v = (float)((double)(x >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
        if (i < na) b->ha[i] = v;
        else b->hb[i - na] = v;
    }
    b->na = na, b->nb = nb, b->nc = nc;
    vm_pool *mp = &t->rt->mem;
    if (!(b->a = vm_alloc_copy(mp, VM_SCRATCH, na * sizeof(float), b->ha, "GEMM tuner A")) ||
        !(b->b = vm_alloc_copy(mp, VM_SCRATCH, nb * sizeof(float), b->hb, "GEMM tuner B")) ||
        !(b->c = vm_alloc(mp, VM_SCRATCH, nc * sizeof(float), "GEMM tuner C")))
        return VARCL_E_RUNTIME;
    return 0;
}

static void free_bufs(tuner *t)
{
    vm_free(&t->rt->mem, t->buf.a);
    vm_free(&t->rt->mem, t->buf.b);
    vm_free(&t->rt->mem, t->buf.c);
    free(t->buf.ha);
    free(t->buf.hb);
    free(t->buf.hc);
    memset(&t->buf, 0, sizeof t->buf);
}

/* One candidate over every class's timed shapes. Rejections are recorded in the row;
 * only errors the tuner cannot go on after are returned. */
static int measure_row(tuner *t, const vg_shape *shapes, vg_tune_result *r, vg_tune_row *w)
{
    char why[300];
    for (int c = 0; c < VG_CLASSES; c++) w->status[c] = r->n_sample[c] ? VG_TUNE_OK : VG_TUNE_NO_SHAPES;
    if (w->cand && vg_xgemm_check(&w->cand->set, &t->rt->dev, why, sizeof why)) {
        for (int c = 0; c < VG_CLASSES; c++)
            if (r->n_sample[c]) w->status[c] = VG_TUNE_UNSUPPORTED;
        snprintf(w->note, sizeof w->note, "%s", why);
        return 0;
    }
    snprintf(t->line, sizeof t->line, "%s: validating and timing (a new set compiles first)", w->name);
    say(t);
    int st = w->cand ? vg_use_sets(&t->cb, &w->cand->set, &w->cand->set) : vg_use_sets(&t->cb, NULL, NULL);
    if (st) { /* wrong on vg_init's own check, or CLBlast refused it */
        int status = strstr(varcl_last_error(), "wrong results") ? VG_TUNE_WRONG : VG_TUNE_FAILED;
        for (int c = 0; c < VG_CLASSES; c++)
            if (r->n_sample[c]) w->status[c] = status;
        snprintf(w->note, sizeof w->note, "%s", varcl_last_error());
        return 0;
    }
    for (int c = 0; c < VG_CLASSES; c++) {
        double ms = 0, gflop = 0;
        for (int k = 0; k < r->n_sample[c] && w->status[c] == VG_TUNE_OK; k++) {
            const vg_shape *s = &shapes[r->sample[c][k]];
            double one = 0, err = 0;
            if ((st = time_product(t, s, &one, &err))) {
                w->status[c] = VG_TUNE_FAILED;
                snprintf(w->note, sizeof w->note, "%zu x %zu -> %zu: %s", s->M, s->K, s->N, varcl_last_error());
            } else if (!(err < 1e-4)) {
                w->status[c] = VG_TUNE_WRONG;
                snprintf(w->note, sizeof w->note, "%zu x %zu -> %zu: relative error %.3g", s->M, s->K, s->N, err);
            }
            ms += one * s->per_image;
            gflop += shape_gflop(s);
        }
        w->ms[c] = ms;
        w->gflops[c] = ms > 0 ? gflop / (ms / 1e3) : 0;
        if (r->n_sample[c]) {
            snprintf(t->line, sizeof t->line, "%s: %s %.2f GFLOP/s, %s", w->name, vg_class_names[c],
                     w->status[c] == VG_TUNE_OK ? w->gflops[c] : NAN, vg_tune_status_name(w->status[c]));
            say(t);
        }
    }
    return 0;
}

/* A row's time per image for all of class c's products, scaled up from the timed ones; 0 for a class without
 * products, infinite where the row failed. */
static double class_estimate(const vg_tune_result *r, int row, int c)
{
    const vg_tune_row *w = &r->row[row];
    if (!r->n_sample[c]) return 0;
    return w->status[c] == VG_TUNE_OK && r->covered[c] > 0 ? w->ms[c] / r->covered[c] : INFINITY;
}

/* CLBlast products per image of each class; a switch happens at most twice per product of the rarer class. */
static double switches_per_image(const vg_shape *shapes, int n)
{
    double count[VG_CLASSES] = {0, 0};
    for (int i = 0; i < n; i++) {
        const vg_shape *s = &shapes[i];
        count[vg_shape_class(s->M, s->N, s->K)] += s->per_image;
    }
    return 2 * (count[0] < count[1] ? count[0] : count[1]);
}

/* The fastest of: CLBlast's defaults, one set for both classes, one set per class (with switching). A more complex
 * option must win by 2% (timing noise; on NVIDIA's H200 every candidate came within 5% of the defaults). */
#define SIMPLER_WINS 0.98
static int choose(tuner *t, const vg_shape *shapes, int n, vg_tune_result *r)
{
    int best[VG_CLASSES] = {-1, -1}, dflt = -1;
    r->est_default_ms = r->est_single_ms = r->est_pair_ms = INFINITY;
    r->single_row = -1;
    for (int i = 0; i < r->n_rows; i++) {
        double total = class_estimate(r, i, 0) + class_estimate(r, i, 1);
        if (!r->row[i].cand) {
            dflt = i;
            r->est_default_ms = total;
            continue;
        }
        if (total < r->est_single_ms) r->est_single_ms = total, r->single_row = i;
        for (int c = 0; c < VG_CLASSES; c++)
            if (r->n_sample[c] && isfinite(class_estimate(r, i, c)) &&
                (best[c] < 0 || class_estimate(r, i, c) < class_estimate(r, best[c], c)))
                best[c] = i;
    }
    if (best[0] >= 0 && best[1] >= 0 && best[0] != best[1]) {
        r->switches = switches_per_image(shapes, n);
        r->switch_ms = vg_switch_ms(&t->cb, &r->row[best[0]].cand->set, &r->row[best[1]].cand->set);
        if (r->switch_ms >= 0)
            r->est_pair_ms = class_estimate(r, best[0], 0) + class_estimate(r, best[1], 1) + r->switches * r->switch_ms;
    }
    int pick[VG_CLASSES] = {dflt, dflt};
    r->tuning.use_sets = 0;
    double single = r->est_single_ms, pair = r->est_pair_ms;
    int single_wins = single < SIMPLER_WINS * r->est_default_ms && !(pair < SIMPLER_WINS * single);
    int pair_wins = pair < SIMPLER_WINS * r->est_default_ms && pair < SIMPLER_WINS * single;
    if (single_wins) {
        pick[0] = pick[1] = r->single_row;
        r->tuning.use_sets = 1;
    } else if (pair_wins) {
        pick[0] = best[0], pick[1] = best[1];
        r->tuning.use_sets = 1;
    } else if (!isfinite(r->est_default_ms)) {
        return varcl_fail(VARCL_E_RUNTIME, "no GEMM candidate computed correct results on every product");
    }
    for (int c = 0; c < VG_CLASSES; c++) {
        r->chosen[c] = pick[c];
        if (r->tuning.use_sets) r->tuning.set[c] = r->row[pick[c]].cand->set;
        else snprintf(r->tuning.set[c].name, sizeof r->tuning.set[c].name, "default");
    }
    return 0;
}

int vg_tune(vr_runtime *rt, const vg_shape *shapes, int n_shapes, const vg_tune_opts *o, vg_tune_result *r)
{
    tuner t;
    memset(&t, 0, sizeof t);
    memset(r, 0, sizeof *r);
    t.rt = rt;
    t.o = o;
    vg_clblast_init(&t.cb, rt); /* CLBlast itself, whatever this device's products take (gemm.h) */
    int st = vg_use_sets(&t.cb, NULL, NULL); /* fails when CLBlast's defaults are gone already */
    if (!st) st = pick_rows(&t, r);
    if (st) return st;
    int max_shapes = o->max_shapes < 1 ? 1 : o->max_shapes > VG_TUNE_MAX_SAMPLE ? VG_TUNE_MAX_SAMPLE : o->max_shapes;
    pick_sample(shapes, n_shapes, max_shapes, r);
    st = alloc_bufs(&t, shapes, r);
    for (int i = 0; i < r->n_rows && !st; i++) st = measure_row(&t, shapes, r, &r->row[i]);
    if (!st) st = choose(&t, shapes, n_shapes, r);
    free_bufs(&t);
    vg_clblast_release(&t.cb);
    return st;
}
