/* tune_policy: `vbench --tune`'s timing of the work-group sizes queries cannot tell, and the file it writes (see
 * tune_policy.h; the file is read by host/policy_tune.c when a device opens). */
#include "tune_policy.h"

#include "cachefile.h"
#include "error.h"
#include "gemm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const vp_wg_names[VP_WG_KINDS] = {"element-wise", "linear_simt", "attention", "few-row products"};

/* ---- measuring ---- */

/* One timed configuration: launches `launch` (which enqueues with local size `local`, 0 = NULL) once to warm up,
 * then reps times, each waited for; the median in ms, or NAN when a launch fails. */
typedef int (*launch_fn)(vr_runtime *rt, void *ctx, size_t local);

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_one(vr_runtime *rt, launch_fn f, void *ctx, size_t local, int reps)
{
    double t[64];
    if (reps > 64) reps = 64;
    if (f(rt, ctx, local) || clFinish(rt->queue) != CL_SUCCESS) return NAN;
    for (int i = 0; i < reps; i++) {
        double t0 = vr_now_ms();
        if (f(rt, ctx, local) || clFinish(rt->queue) != CL_SUCCESS) return NAN;
        t[i] = vr_now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_dbl);
    return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

/* The kernels' buffers: x [R*T][C] (also add_inplace's a, and attention's q), y [R*T][C] (its b and out), mod
 * [R][6C], w [C][4C], kv pools [R * pages][P][C] and the page table [R][pages]. */
typedef struct {
    vp_wg_shape s;
    int P, pages;
    cl_mem x, y, mod, w, big, kpool, vpool, table;
    cl_kernel add, ln, simt, attn, qk;
} bench_ctx;

static int run_elem(vr_runtime *rt, void *p, size_t local)
{
    bench_ctx *b = p;
    /* an odd count (the per-element kernels' worst case for a driver's own choice) and a per-row kernel */
    int n = b->s.R * b->s.T * b->s.C - 1, rows = b->s.R * b->s.T, C = b->s.C, T = b->s.T, stride = 6 * C, so = 2 * C,
        sh = 4 * C;
    float eps = 1e-6f;
    size_t gn = (size_t)n, gr = (size_t)rows, *l = local ? &local : NULL;
    int st = vr_launch(rt, b->add, "add_inplace", 1, &gn, l, 3, VR_ARG(b->x), VR_ARG(b->y), VR_ARG(n));
    return st ? st
              : vr_launch(rt, b->ln, "ln_modulate", 1, &gr, l, 10, VR_ARG(b->x), VR_ARG(b->y), VR_ARG(b->mod),
                          VR_ARG(rows), VR_ARG(C), VR_ARG(T), VR_ARG(stride), VR_ARG(so), VR_ARG(sh), VR_ARG(eps));
}

static int run_simt(vr_runtime *rt, void *p, size_t local)
{
    bench_ctx *b = p;
    /* fc1: [R*T][C] -> [R*T][4C] */
    int M = b->s.R * b->s.T, K = b->s.C, N = 4 * b->s.C, ldx = K, ldw = N, ldy = N, tw = 0, act = 0;
    cl_ulong z = 0;
    float alpha = 1.0f;
    int v = rt->policy.simt_cols == 8 ? 8 : 4;
    size_t g[3] = {(size_t)(N + v - 1) / v, (size_t)(M + 7) / 8, 1}, l[3] = {local, 1, 1};
    return vr_launch(rt, b->simt, v == 8 ? "linear_simt8" : "linear_simt", 3, g, local ? l : NULL, 19, VR_ARG(b->x), VR_ARG(z), VR_ARG(z),
                     VR_ARG(ldx), VR_ARG(b->w), VR_ARG(z), VR_ARG(z), VR_ARG(ldw), VR_ARG(tw), VR_ARG(b->big),
                     VR_ARG(z), VR_ARG(z), VR_ARG(ldy), VR_ARG(M), VR_ARG(N), VR_ARG(K), VR_ARG(alpha), VR_ARG(b->w),
                     VR_ARG(act));
}

static int run_attn(vr_runtime *rt, void *p, size_t local)
{
    bench_ctx *b = p;
    int N = b->s.R * b->s.T, T = b->s.T, C = b->s.C, kv = b->s.kv_len, P = b->P, maxp = b->pages, tab0 = 0;
    size_t g[2] = {(size_t)N, (size_t)C / 64}, l[2] = {local, 1};
    if (rt->policy.attn_pairs) g[0] = (size_t)b->s.R * (size_t)((T + 1) / 2); /* attention2: two queries each */
    return vr_launch(rt, b->attn, rt->policy.attn_pairs ? "attention2_f32" : "attention_f32", 2, g, local ? l : NULL,
                     12, VR_ARG(b->x), VR_ARG(b->kpool), VR_ARG(b->vpool), VR_ARG(b->table), VR_ARG(b->y), VR_ARG(N),
                     VR_ARG(T), VR_ARG(C), VR_ARG(kv), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0));
}

/* attn_split and attn_tile (policy.h): the attention runs as products in simt_local's work-groups or in tiles of
 * attn_tile queries; attn_local serves qk_norm_store, which writes the scale's queries and appends its keys and
 * values to the pages. */
static int run_qk(vr_runtime *rt, void *p, size_t local)
{
    bench_ctx *b = p;
    int N = b->s.R * b->s.T, T = b->s.T, C = b->s.C, P = b->P, maxp = b->pages, tab0 = 0, pos0 = b->s.kv_len - T;
    size_t g[2] = {(size_t)N, (size_t)C / 64}, l[2] = {local, 1};
    return vr_launch(rt, b->qk, "qk_norm_store_f32", 2, g, local ? l : NULL, 15, VR_ARG(b->big), VR_ARG(b->mod),
                     VR_ARG(b->mod), VR_ARG(b->mod), VR_ARG(b->y), VR_ARG(b->kpool), VR_ARG(b->vpool),
                     VR_ARG(b->table), VR_ARG(N), VR_ARG(T), VR_ARG(C), VR_ARG(pos0), VR_ARG(P), VR_ARG(maxp),
                     VR_ARG(tab0));
}

/* A product [M][C] x [C][4C] (fc1's shape) through the few-row kernel (linear_splitk or linear_simt, policy.h
 * few_splitk) or CLBlast, for the few-row threshold. */
typedef struct {
    vg_gemm *g;
    cl_mem x, w, y;
    int M, K, N, clblast;
} rows_ctx;

static int run_rows(vr_runtime *rt, void *p, size_t local)
{
    (void)rt;
    (void)local;
    rows_ctx *c = p;
    const int saved = c->g->simt_rows;
    c->g->simt_rows = c->clblast ? 0 : c->M;
    int st = vg_linear(c->g, c->x, 0, (vg_weight){c->w, VT_F32}, 0, c->y, 0, (size_t)c->M, (size_t)c->N, (size_t)c->K);
    c->g->simt_rows = saved;
    return st;
}

#define ROWS_MAX 512
static const size_t row_counts[] = {2, 8, 32, 128, ROWS_MAX};

/* Times the few-row kernel against CLBlast at each row count; the threshold is the largest count up to which it was
 * faster by more than 5% at every count (0: CLBlast from the fewest rows on). */
static int measure_rows(vr_runtime *rt, const vp_wg_shape *shape, cl_mem x, cl_mem w, cl_mem y, int reps, vp_wg_row *row)
{
    vg_gemm g;
    int st = vg_init(&g, rt); /* the device's CLBlast parameters, as products use them */
    if (st) return st;
    rows_ctx c = {.g = &g, .x = x, .w = w, .y = y, .K = shape->C, .N = 4 * shape->C};
    snprintf(row->shape, sizeof row->shape, "rows x %d -> %d: %s / CLBlast", shape->C, 4 * shape->C,
             g.few_splitk ? "linear_splitk" : "linear_simt");
    row->measured = 1;
    row->n = 0;
    row->best = -1;
    int still = 1;
    for (size_t i = 0; i < sizeof row_counts / sizeof *row_counts; i++) {
        c.M = (int)row_counts[i];
        c.clblast = 0;
        row->cand[i] = row_counts[i];
        row->ms[i] = time_one(rt, run_rows, &c, 0, reps);
        c.clblast = 1;
        row->ms_clblast[i] = time_one(rt, run_rows, &c, 0, reps);
        varcl_clear_error();
        row->n++;
        still = still && !isnan(row->ms[i]) && (isnan(row->ms_clblast[i]) || row->ms[i] < 0.95 * row->ms_clblast[i]);
        if (still) row->best = (int)i;
    }
    row->value = row->best >= 0 ? row->cand[row->best] : 0;
    vg_release(&g);
    return 0;
}

/* count floats of small values (-0.48 .. 0.48) */
static cl_mem upload(vr_runtime *rt, size_t count, const char *what)
{
    float *h = malloc(count * sizeof *h);
    if (!h) return varcl_fail(VARCL_E_RUNTIME, "out of host memory"), NULL;
    for (size_t i = 0; i < count; i++) h[i] = 0.01f * (float)(i % 97) - 0.48f;
    cl_mem m = vm_alloc_copy(&rt->mem, VM_SCRATCH, count * sizeof *h, h, what);
    free(h);
    return m;
}

/* Times every candidate; the fastest wins unless the family's default (from queries) is within 5% of it, so that
 * noise does not move a setting. */
static void measure(vr_runtime *rt, cl_kernel k, launch_fn f, bench_ctx *b, int reps, size_t dflt, vp_wg_row *row)
{
    static const size_t cands[] = {0, 8, 16, 32, 64, 128, 256};
    size_t kmax = 0;
    clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL);
    row->measured = 1;
    row->n = 0;
    row->best = -1;
    for (size_t i = 0; i < sizeof cands / sizeof *cands && row->n < VP_WG_MAX_CAND; i++) {
        if (cands[i] && kmax && cands[i] > kmax) continue;
        row->cand[row->n] = cands[i];
        row->ms[row->n] = time_one(rt, f, b, cands[i], reps);
        varcl_clear_error();
        if (!isnan(row->ms[row->n]) && (row->best < 0 || row->ms[row->n] < row->ms[row->best])) row->best = row->n;
        row->n++;
    }
    for (int i = 0; i < row->n && row->best >= 0; i++)
        if (row->cand[i] == dflt && row->ms[i] <= 1.05 * row->ms[row->best]) row->best = i;
    row->value = row->best >= 0 ? row->cand[row->best] : 0;
}

int vp_wg_measure(vr_runtime *rt, const vp_wg_shape *shape, int reps, vp_wg_result *r)
{
    memset(r, 0, sizeof *r);
    if (shape->C <= 0 || shape->C % 64 || shape->T <= 0 || shape->R <= 0 || shape->kv_len < shape->T)
        return varcl_fail(VARCL_E_RUNTIME, "internal: work-group timing shape C %d, T %d, R %d, kv %d", shape->C,
                          shape->T, shape->R, shape->kv_len);
    vp_policy dflt; /* the family's sizes without a file */
    if (vp_choose(&dflt, rt->dev.platform, rt->dev.device)) return VARCL_E_INPUT;
    bench_ctx b = {.s = *shape, .P = 16};
    b.pages = (shape->kv_len + b.P - 1) / b.P;
    size_t rows = (size_t)shape->R * shape->T, C = (size_t)shape->C, pool = (size_t)shape->R * b.pages * b.P * C;
    int st = 0;
    if (!(b.add = vr_kernel(rt, "add_inplace")) || !(b.ln = vr_kernel(rt, "ln_modulate")) ||
        !(b.simt = vr_kernel(rt, rt->policy.simt_cols == 8 ? "linear_simt8" : "linear_simt")) || !(b.attn = vr_kernel(rt, rt->policy.attn_pairs ? "attention2_f32" : "attention_f32")) ||
        !(b.qk = vr_kernel(rt, "qk_norm_store_f32")))
        return VARCL_E_RUNTIME;
    if (!(b.x = upload(rt, (rows > ROWS_MAX ? rows : ROWS_MAX) * C, "work-group timing x")) || !(b.y = upload(rt, rows * C, "timing y")) ||
        !(b.mod = upload(rt, (size_t)shape->R * 6 * C, "timing mod")) || !(b.w = upload(rt, C * 4 * C, "timing w")) ||
        !(b.big = upload(rt, (rows > ROWS_MAX ? rows : ROWS_MAX) * 4 * C, "timing fc1")) || !(b.kpool = upload(rt, pool, "timing K")) ||
        !(b.vpool = upload(rt, pool, "timing V")) ||
        !(b.table = vm_alloc(&rt->mem, VM_SCRATCH, (size_t)shape->R * b.pages * sizeof(int), "timing pages")))
        st = VARCL_E_RUNTIME;
    if (!st) {
        /* row r's k-th page is page r * pages + k */
        int *tab = malloc((size_t)shape->R * b.pages * sizeof *tab);
        if (!tab) st = varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        for (int i = 0; !st && i < shape->R * b.pages; i++) tab[i] = i;
        if (!st && clEnqueueWriteBuffer(rt->queue, b.table, CL_TRUE, 0, (size_t)shape->R * b.pages * sizeof *tab, tab,
                                        0, NULL, NULL) != CL_SUCCESS)
            st = varcl_fail(VARCL_E_RUNTIME, "writing the timing page table failed");
        free(tab);
    }
    if (!st) {
        vp_wg_row *e = &r->row[VP_WG_ELEM];
        snprintf(e->shape, sizeof e->shape, "add_inplace over %zu floats + ln_modulate over %zu rows of %zu",
                 rows * C - 1, rows, C);
        measure(rt, b.add, run_elem, &b, reps, dflt.elem_local, e);
        if (rt->policy.product == VP_PRODUCT_SIMT) {
            vp_wg_row *s = &r->row[VP_WG_SIMT];
            snprintf(s->shape, sizeof s->shape, "linear_simt%s %zu x %zu -> %zu", rt->policy.simt_cols == 8 ? "8" : "",
                     rows, C, 4 * C);
            measure(rt, b.simt, run_simt, &b, reps, dflt.simt_local, s);
        }
        if (!rt->policy.attn_blocked) {
            vp_wg_row *a = &r->row[VP_WG_ATTN];
            int qk = rt->policy.attn_split || rt->policy.attn_tile;
            if (qk)
                snprintf(a->shape, sizeof a->shape, "qk_norm_store of %zu queries, %zu heads (attention: %s)",
                         rows, C / 64, rt->policy.attn_tile ? "tiles" : "products");
            else
                snprintf(a->shape, sizeof a->shape, "attention of %zu queries over %d keys, %zu heads", rows,
                         shape->kv_len, C / 64);
            measure(rt, qk ? b.qk : b.attn, qk ? run_qk : run_attn, &b, reps, dflt.attn_local, a);
        }
        if (rt->policy.product == VP_PRODUCT_CLBLAST)
            st = measure_rows(rt, shape, b.x, b.w, b.big, reps, &r->row[VP_WG_ROWS]);
        for (int k = 0; k < VP_WG_ROWS && !st; k++)
            if (r->row[k].measured && r->row[k].best < 0)
                st = varcl_fail(VARCL_E_RUNTIME, "%s: no work-group size ran (%s)", vp_wg_names[k], r->row[k].shape);
    }
    cl_mem all[] = {b.x, b.y, b.mod, b.w, b.big, b.kpool, b.vpool, b.table};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]) vm_free(&rt->mem, all[i]);
    return st;
}

/* ---- the file ---- */

int vp_wg_write(const char *path, const vr_runtime *rt, const vp_wg_result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    char date[64] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(f, "# varcl work-group sizes for one OpenCL device, measured by `vbench --tune` (varcl %s).\n"
               "# Every varcl program on this device applies them over its policy's defaults when the family below is\n"
               "# the policy's. To undo: delete this file; VARCL_POLICY_TUNING=off ignores it. 0: the driver's choice.\n",
            VARCL_VERSION);
    fprintf(f, "format = %d\ndevice = %s\ndriver = %s\nplatform = %s\ndate = %s\nfamily = %s\n", VP_WG_FORMAT,
            rt->dev.name, rt->dev.driver, rt->dev.platform_version, date, rt->policy.name);
    for (int k = 0; k < VP_WG_KINDS; k++) {
        const vp_wg_row *row = &r->row[k];
        if (!row->measured || (k != VP_WG_ROWS && row->best < 0)) continue;
        if (k == VP_WG_ROWS) {
            fprintf(f, "# %s, %s: median ms by rows:", vp_wg_names[k], row->shape);
            for (int i = 0; i < row->n; i++) fprintf(f, " %zu: %.4g / %.4g", row->cand[i], row->ms[i], row->ms_clblast[i]);
        } else {
            fprintf(f, "# %s, %s: median ms per launch by local size:", vp_wg_names[k], row->shape);
            for (int i = 0; i < row->n; i++) {
                if (row->cand[i]) fprintf(f, " %zu: ", row->cand[i]);
                else fprintf(f, " driver: ");
                if (isnan(row->ms[i])) fprintf(f, "failed");
                else fprintf(f, "%.4g", row->ms[i]);
            }
        }
        fprintf(f, "\n%s = %zu\n", vp_wg_keys[k], row->value);
        /* the threshold holds for the kernel it was timed with (VARCL_FEW_ROWS may pick the other later) */
        if (k == VP_WG_ROWS) fprintf(f, "few_rows_kernel = %s\n", rt->policy.few_splitk ? "splitk" : "simt");
    }
    if (fclose(f)) {
        free(text);
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    }
    /* device strings hold no newlines in practice; one would only make the file refuse to parse */
    int st = vcf_write(path, "policy-tuning", text, len);
    free(text);
    return st;
}

