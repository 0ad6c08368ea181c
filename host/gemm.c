/* gemm: CLBlast SGEMM with an explicitly owned temp buffer, per-class Xgemm parameter sets (see gemm.h). */
#include "gemm.h"

#include "error.h"

#include <clblast_c.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const vg_xgemm_names[VG_XGEMM_PARAMS] = {"GEMMK", "KREG", "KWG",  "KWI", "MDIMA", "MDIMC",
                                                     "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                                     "STRM",  "STRN", "VWM",  "VWN"};
enum { P_GEMMK, P_KREG, P_KWG, P_KWI, P_MDIMA, P_MDIMC, P_MWG, P_NDIMB, P_NDIMC, P_NWG, P_SA, P_SB, P_STRM, P_STRN,
       P_VWM, P_VWN };

const char *const vg_class_names[VG_CLASSES] = {"linear", "conv"};

/* The candidates. The two CPU sets come from a search of 60 sets on 2-core AVX-512 machines with pocl
 * (OPENCL_NOTES.md): CLBlast's defaults reach 9-19 GFLOP/s there, these 50-110; they are also the built-in sets of
 * CPU devices. The GPU sets are CLBlast database entries of NVIDIA GPUs (the database has no Hopper entry) plus the
 * classic 128 x 128 tile with 256 work-items of 8 x 8 results, which fits 48 KiB of local memory. */
const vg_candidate vg_candidates[] = {
    {{"cpu-linear", {0, 1, 256, 2, 16, 16, 128, 16, 16, 128, 1, 1, 0, 0, 8, 8}}, CL_DEVICE_TYPE_CPU,
     "pocl search, best on the transformer's products"},
    {{"cpu-conv", {0, 1, 64, 8, 16, 8, 256, 8, 8, 32, 1, 1, 0, 1, 8, 4}}, CL_DEVICE_TYPE_CPU,
     "pocl search, best on convolutions as GEMMs"},
    /* cpu-linear with 32-column tiles of the rows and A read straight from memory (SA = 0): on pocl "local"
     * memory is ordinary memory, and the copy of the weight tile cost more than it saved (measured 10-25% faster on
     * 18..512-row transformer products, 1024 <-> 4096) */
    {{"cpu-linear-sb", {0, 1, 256, 2, 16, 16, 128, 4, 4, 32, 0, 1, 0, 0, 8, 8}}, CL_DEVICE_TYPE_CPU,
     "pocl, cpu-linear without the A copy, 32-row tiles"},
    {{"gpu-64x64", {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4}}, CL_DEVICE_TYPE_GPU,
     "CLBlast database, NVIDIA SM6.1 default"},
    {{"gpu-64x128", {0, 1, 16, 2, 32, 16, 64, 16, 8, 128, 1, 1, 0, 1, 2, 8}}, CL_DEVICE_TYPE_GPU,
     "CLBlast database, GeForce GTX 1080 Ti"},
    {{"gpu-128x128", {0, 1, 16, 2, 8, 16, 128, 8, 8, 128, 1, 1, 1, 1, 4, 8}}, CL_DEVICE_TYPE_GPU,
     "CLBlast database, GeForce GTX TITAN X"},
    {{"gpu-128x128-k32", {0, 1, 32, 2, 16, 16, 128, 16, 16, 128, 1, 1, 0, 0, 4, 4}}, CL_DEVICE_TYPE_GPU,
     "128 x 128 tile, 16 x 16 work-items of 8 x 8"},
};
const int vg_n_candidates = (int)(sizeof vg_candidates / sizeof vg_candidates[0]);

const vg_candidate *vg_find_candidate(const char *name)
{
    for (int i = 0; i < vg_n_candidates; i++)
        if (!strcmp(vg_candidates[i].set.name, name)) return &vg_candidates[i];
    return NULL;
}

int vg_shape_class(size_t M, size_t N, size_t K)
{
    return K < 512 || N < 128 || (M >= 16384 && N <= 320) ? VG_CLASS_CONV : VG_CLASS_LINEAR;
}

int vg_xgemm_check(const vg_xgemm_set *s, const vr_device *dev, char *why, size_t n)
{
    const size_t *v = s->v;
    why[0] = 0;
    for (int i = 0; i < VG_XGEMM_PARAMS; i++)
        if (v[i] > 1024) return snprintf(why, n, "%s=%zu is out of range", vg_xgemm_names[i], v[i]), 1;
    for (int i = P_KWG; i <= P_NWG; i++)
        if (v[i] == 0) return snprintf(why, n, "%s must not be 0", vg_xgemm_names[i]), 1;
    if (v[P_GEMMK] != 0) return snprintf(why, n, "GEMMK=%zu: only GEMMK=0 is supported", v[P_GEMMK]), 1;
    if (v[P_KREG] != 1) return snprintf(why, n, "KREG=%zu: GEMMK=0 needs KREG=1", v[P_KREG]), 1;
    for (int i = P_SA; i <= P_STRN; i++)
        if (v[i] > 1) return snprintf(why, n, "%s=%zu: expected 0 or 1", vg_xgemm_names[i], v[i]), 1;
    for (int i = P_VWM; i <= P_VWN; i++)
        if (v[i] != 1 && v[i] != 2 && v[i] != 4 && v[i] != 8 && v[i] != 16)
            return snprintf(why, n, "%s=%zu: expected 1, 2, 4, 8 or 16", vg_xgemm_names[i], v[i]), 1;
    /* CLBlast's Xgemm constraints (src/tuning/kernels/xgemm.hpp) */
    size_t threads = v[P_MDIMC] * v[P_NDIMC];
    if (v[P_MWG] % (v[P_MDIMC] * v[P_VWM]) || v[P_NWG] % (v[P_NDIMC] * v[P_VWN]) ||
        v[P_MWG] % (v[P_MDIMA] * v[P_VWM]) || v[P_NWG] % (v[P_NDIMB] * v[P_VWN]) || threads % v[P_MDIMA] ||
        threads % v[P_NDIMB] || v[P_KWG] % (threads / v[P_MDIMA]) || v[P_KWG] % (threads / v[P_NDIMB]) ||
        v[P_KWG] % v[P_KWI])
        return snprintf(why, n,
                        "violates CLBlast's Xgemm constraints (MWG %% (MDIMC*VWM), NWG %% (NDIMC*VWN), MWG %% "
                        "(MDIMA*VWM), NWG %% (NDIMB*VWN), KWG %% (MDIMC*NDIMC/MDIMA), KWG %% (MDIMC*NDIMC/NDIMB), "
                        "KWG %% KWI must all be 0)"),
               1;
    if (!dev) return 0;
    size_t max_wg = 0, items[3] = {0, 0, 0};
    cl_ulong local = 0;
    clGetDeviceInfo(dev->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL);
    clGetDeviceInfo(dev->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL);
    clGetDeviceInfo(dev->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    if ((max_wg && threads > max_wg) || (items[0] && v[P_MDIMC] > items[0]) || (items[1] && v[P_NDIMC] > items[1]))
        return snprintf(why, n, "work-groups of %zu x %zu exceed the device's limit (%zu)", v[P_MDIMC], v[P_NDIMC],
                        max_wg),
               1;
    size_t local_bytes = (v[P_SA] * v[P_KWG] * v[P_MWG] + v[P_SB] * v[P_KWG] * v[P_NWG]) * sizeof(float);
    if (local && local_bytes > local)
        return snprintf(why, n, "needs %zu bytes of local memory, the device has %llu", local_bytes,
                        (unsigned long long)local),
               1;
    return 0;
}

void vg_xgemm_format(const vg_xgemm_set *s, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < VG_XGEMM_PARAMS && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s=%zu", i ? " " : "", vg_xgemm_names[i], s->v[i]);
}

const char *vg_source_name(int source)
{
    return source == VG_PARAMS_FILE ? "tuned file" : source == VG_PARAMS_BUILTIN ? "built-in CPU sets" : "CLBlast defaults";
}

/* ---- installing sets: CLBlast's overrides are process-wide per device ---- */

#define MAX_DEVICES 8
static struct {
    cl_device_id dev;
    int overridden;                 /* an Xgemm override was installed: CLBlast's defaults are gone */
    size_t installed[VG_XGEMM_PARAMS];
    size_t validated[8][VG_XGEMM_PARAMS]; /* sets that passed the reference check */
    int n_validated;
} devices[MAX_DEVICES];

static int device_slot(cl_device_id d)
{
    for (int i = 0; i < MAX_DEVICES; i++)
        if (devices[i].dev == d) return i;
    for (int i = 0; i < MAX_DEVICES; i++)
        if (!devices[i].dev) {
            devices[i].dev = d;
            return i;
        }
    return varcl_fail(VARCL_E_RUNTIME, "internal: more than %d OpenCL devices use GEMMs", MAX_DEVICES), -1;
}

static int install(vr_runtime *rt, const vg_xgemm_set *s)
{
    int d = device_slot(rt->dev.device);
    if (d < 0) return VARCL_E_RUNTIME;
    if (devices[d].overridden && !memcmp(devices[d].installed, s->v, sizeof s->v)) return 0;
    if (!devices[d].overridden && rt->policy.clblast_direct_small) {
        /* small products take CLBlast's direct kernel, everything else the tuned indirect one (the direct kernel
         * tops out at 52-60 GFLOP/s on pocl) */
        const char *rn[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
        size_t rv[1] = {64};
        CLBlastStatusCode st = CLBlastOverrideParameters(rt->dev.device, "GemmRoutine", CLBlastPrecisionSingle, 1, rn, rv);
        if (st != CLBlastSuccess)
            return varcl_fail(VARCL_E_RUNTIME, "CLBlastOverrideParameters(GemmRoutine) failed: %s (%d)",
                              vr_error_name(st), st);
    }
    CLBlastStatusCode st = CLBlastOverrideParameters(rt->dev.device, "Xgemm", CLBlastPrecisionSingle, VG_XGEMM_PARAMS,
                                                     (const char **)vg_xgemm_names, s->v);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastOverrideParameters(Xgemm, %s) failed: %s (%d)", s->name,
                          vr_error_name(st), st);
    devices[d].overridden = 1;
    memcpy(devices[d].installed, s->v, sizeof s->v);
    return 0;
}

static int gemm_call(vg_gemm *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                     size_t a_off, size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off,
                     size_t ldc);

/* Runs one odd-sized GEMM (padding paths included) with `s` and compares it with a host reference in double. */
static int validate(vg_gemm *g, const vg_xgemm_set *s)
{
    int d = device_slot(g->rt->dev.device);
    if (d < 0) return VARCL_E_RUNTIME;
    for (int i = 0; i < devices[d].n_validated; i++)
        if (!memcmp(devices[d].validated[i], s->v, sizeof s->v)) return 0;
    char why[300];
    if (vg_xgemm_check(s, &g->rt->dev, why, sizeof why))
        return varcl_fail(VARCL_E_INPUT, "CLBlast parameter set %s: %s", s->name, why);
    enum { M = 150, N = 136, K = 520 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N), *c = malloc(sizeof(float) * M * N);
    int st = (a && b && c) ? 0 : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; !st && i < M * K; i++) a[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    for (int i = 0; !st && i < K * N; i++) b[i] = (float)((i * 53 % 89) - 44) / 44.0f;
    cl_mem da = st ? NULL : vm_alloc_copy(&g->rt->mem, VM_SCRATCH, sizeof(float) * M * K, a, "GEMM check A");
    cl_mem db = da ? vm_alloc_copy(&g->rt->mem, VM_SCRATCH, sizeof(float) * K * N, b, "GEMM check B") : NULL;
    cl_mem dc = db ? vm_alloc(&g->rt->mem, VM_SCRATCH, sizeof(float) * M * N, "GEMM check C") : NULL;
    if (!st && !dc) st = VARCL_E_RUNTIME;
    if (!st) st = install(g->rt, s);
    if (!st) st = gemm_call(g, 0, 0, M, N, K, 1.0f, da, 0, K, db, 0, N, 0.0f, dc, 0, N);
    if (!st) st = vr_read(g->rt, dc, 0, sizeof(float) * M * N, c);
    double worst = 0;
    for (int i = 0; !st && i < M; i++)
        for (int j = 0; j < N; j++) {
            double r = 0;
            for (int k = 0; k < K; k++) r += (double)a[i * K + k] * b[k * N + j];
            double e = fabs(r - c[i * N + j]) / (1.0 + fabs(r));
            if (!(e <= worst)) worst = e; /* NaN counts */
        }
    if (!st && !(worst < 1e-4))
        st = varcl_fail(VARCL_E_RUNTIME, "CLBlast parameter set %s computes wrong results on this device (error %.3g)",
                        s->name, worst);
    vm_free(&g->rt->mem, da);
    vm_free(&g->rt->mem, db);
    vm_free(&g->rt->mem, dc);
    free(a);
    free(b);
    free(c);
    if (!st && devices[d].n_validated < 8) memcpy(devices[d].validated[devices[d].n_validated++], s->v, sizeof s->v);
    return st;
}

int vg_use_sets(vg_gemm *g, const vg_xgemm_set *linear, const vg_xgemm_set *conv)
{
    int d = device_slot(g->rt->dev.device);
    if (d < 0) return VARCL_E_RUNTIME;
    if (!linear || !conv) {
        if (devices[d].overridden)
            return varcl_fail(VARCL_E_RUNTIME, "internal: CLBlast's default parameters cannot be restored after an "
                                               "override in the same process");
        g->use_sets = 0;
        return 0;
    }
    int st = validate(g, linear);
    if (!st) st = validate(g, conv);
    if (st) return st;
    g->set[VG_CLASS_LINEAR] = *linear;
    g->set[VG_CLASS_CONV] = *conv;
    g->use_sets = 1;
    return 0;
}

double vg_switch_ms(vg_gemm *g, const vg_xgemm_set *a, const vg_xgemm_set *b)
{
    enum { PAIRS = 50 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < PAIRS; i++)
        if (install(g->rt, a) || install(g->rt, b)) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / (2 * PAIRS);
}

/* ---- set-up ---- */

int vg_packed_layout(const vr_runtime *rt) { return rt->policy.packed; }

int vg_weights16(const vr_runtime *rt)
{
    return rt->policy.product == VP_PRODUCT_PACKED || rt->policy.product == VP_PRODUCT_SIMT;
}

#define PANEL 32 /* PW in cl/linear.cl */

/* linear_packed's and linear_simt's kernels by weight dtype: [0] f32, [1] f16, [2] bf16 */
static const char *const dtype_suffix[3] = {"", "_f16", "_bf16"};
static int dtype_index(vt_dtype d) { return d == VT_F16 ? 1 : d == VT_BF16 ? 2 : 0; }

int vg_weight_dtype_ok(const vg_gemm *g, vt_dtype dtype)
{
    return dtype == VT_F32 || ((g->packed || g->simt) && (dtype == VT_F16 || dtype == VT_BF16));
}

size_t vg_weight_elems(int packed, size_t K, size_t N)
{
    return packed ? K * PANEL * ((N + PANEL - 1) / PANEL) : K * N;
}

void vg_weight_pack(int packed, const float *wt, size_t K, size_t N, float *out)
{
    if (!packed) {
        memcpy(out, wt, K * N * sizeof *out);
        return;
    }
    for (size_t p = 0; p * PANEL < N; p++)
        for (size_t k = 0; k < K; k++) {
            float *o = out + (p * K + k) * PANEL;
            for (size_t c = 0; c < PANEL; c++) o[c] = p * PANEL + c < N ? wt[k * N + p * PANEL + c] : 0.0f;
        }
}

int vg_init_untuned(vg_gemm *g, vr_runtime *rt)
{
    memset(g, 0, sizeof *g);
    g->rt = rt;
    g->source = VG_PARAMS_DEFAULT;
    g->packed = rt->policy.product == VP_PRODUCT_PACKED;
    g->simt = rt->policy.product == VP_PRODUCT_SIMT;
    g->simt_cols = rt->policy.simt_cols;
    g->simt_rows = rt->policy.simt_rows;
    cl_uint units = 1;
    clGetDeviceInfo(rt->dev.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
    g->units = units ? (int)units : 1;
    for (int d = 0; d < 3; d++) {
        char name[32];
        for (int r = 0; r < 3; r++) {
            snprintf(name, sizeof name, "linear_packed%d%s", 2 << r, dtype_suffix[d]);
            if (!(g->k_packed[d][r] = vr_kernel(rt, name))) return VARCL_E_RUNTIME;
        }
        snprintf(name, sizeof name, "linear_simt%s", dtype_suffix[d]);
        if (!(g->k_simt[d] = vr_kernel(rt, name))) return VARCL_E_RUNTIME;
        snprintf(name, sizeof name, "linear_simt8%s", dtype_suffix[d]);
        if (!(g->k_simt8[d] = vr_kernel(rt, name))) return VARCL_E_RUNTIME;
    }
    if (!(g->k_simt8w = vr_kernel(rt, "linear_simt8w"))) return VARCL_E_RUNTIME;
    if (!(g->k_bias = vr_kernel(rt, "add_bias")) || !(g->k_gelu = vr_kernel(rt, "bias_gelu")) ||
        !(g->k_pack = vr_kernel(rt, "pack_panels")))
        return VARCL_E_RUNTIME;
    return 0;
}

/* Validates and installs g->set[] (vg_use_sets); a failure names where the sets came from and the fix. */
static int check_sets(vg_gemm *g)
{
    vg_xgemm_set linear = g->set[VG_CLASS_LINEAR], conv = g->set[VG_CLASS_CONV];
    g->unchecked = 0;
    int st = vg_use_sets(g, &linear, &conv);
    if (!st) return 0;
    char msg[900];
    snprintf(msg, sizeof msg, "%s", varcl_last_error());
    if (g->source == VG_PARAMS_FILE)
        return varcl_fail(st, "GEMM tuning file %s: %s; delete the file or rerun `vbench --tune`", g->file, msg);
    return varcl_fail(VARCL_E_RUNTIME, "%s; run with VARCL_GEMM_TUNING=off to use CLBlast's defaults", msg);
}

int vg_init(vg_gemm *g, vr_runtime *rt)
{
    int st = vg_init_untuned(g, rt);
    const char *env = getenv("VARCL_GEMM_TUNING");
    if (st || (env && !strcmp(env, "off"))) return st;
    char path[sizeof g->file];
    vg_tuning t;
    int found = 0;
    vg_tuning_path(&rt->dev, path, sizeof path);
    if (path[0] && (st = vg_tuning_read(path, &rt->dev, &t, &found))) return st;
    if (found) {
        g->source = VG_PARAMS_FILE;
        snprintf(g->file, sizeof g->file, "%s", path);
        if (!t.use_sets) return 0;
        g->set[VG_CLASS_LINEAR] = t.set[VG_CLASS_LINEAR];
        g->set[VG_CLASS_CONV] = t.set[VG_CLASS_CONV];
    } else {
        if (rt->policy.clblast_sets != VP_SETS_CPU) return 0;
        g->source = VG_PARAMS_BUILTIN;
        g->set[VG_CLASS_LINEAR] = vg_find_candidate("cpu-linear-sb")->set;
        g->set[VG_CLASS_CONV] = vg_find_candidate("cpu-conv")->set;
    }
    /* packed and simt devices run no product through CLBlast in the engine: checking the sets (which compiles CLBlast's
     * kernels, 10-20 s on a cold pocl cache) waits for the first CLBlast product */
    g->use_sets = 1;
    g->unchecked = g->packed || g->simt;
    return g->unchecked ? 0 : check_sets(g);
}

void vg_release(vg_gemm *g)
{
    if (g->temp) vm_free(&g->rt->mem, g->temp);
    if (g->pack) vm_free(&g->rt->mem, g->pack);
    g->temp = g->pack = NULL;
    g->temp_bytes = g->pack_bytes = 0;
}

void vg_describe(const vg_gemm *g, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s", vg_source_name(g->source));
    if (g->source == VG_PARAMS_FILE && used < n) used += (size_t)snprintf(buf + used, n - used, " %s", g->file);
    if (g->use_sets && used < n)
        used += (size_t)snprintf(buf + used, n - used, " (linear: %s, conv: %s)", g->set[VG_CLASS_LINEAR].name,
                                 g->set[VG_CLASS_CONV].name);
    else if (g->source == VG_PARAMS_FILE && used < n)
        used += (size_t)snprintf(buf + used, n - used, " (CLBlast defaults)");
    if (used < n)
        used += (size_t)snprintf(buf + used, n - used, g->packed ? ", packed weights"
                                                        : g->simt ? ", weights [K][N], linear_simt"
                                                                  : ", weights [K][N]");
    if (!g->packed && !g->simt && g->simt_rows && used < n)
        snprintf(buf + used, n - used, ", linear_simt up to %d rows", g->simt_rows);
}

/* ---- products ---- */

static int gemm_call(vg_gemm *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                     size_t a_off, size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off,
                     size_t ldc)
{
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    size_t need = 0;
    CLBlastStatusCode st = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, M, N, K, a_off, lda, b_off, ldb,
                                                      c_off, ldc, &g->rt->queue, &need);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastSGemmTempBufferSize(%zux%zux%zu) failed: %s (%d)", M, N, K,
                          vr_error_name(st), st);
    if (need > g->temp_bytes) {
        vg_release(g);
        char what[96];
        snprintf(what, sizeof what, "CLBlast GEMM temp buffer (%zux%zux%zu)", M, N, K);
        if (!(g->temp = vm_alloc(&g->rt->mem, VM_SCRATCH, need, what))) return VARCL_E_RUNTIME;
        g->temp_bytes = need;
    }
    double t0 = g->rt->prof_on && clFinish(g->rt->queue) == CL_SUCCESS ? vr_now_ms() : 0;
    g->rt->launches++; /* one or more kernels (CLBlast's direct kernel, or its indirect one with pads) */
    st = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta,
                                    C, c_off, ldc, &g->rt->queue, NULL, g->temp ? g->temp : A);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastSgemmWithTempBuffer(%zux%zux%zu) failed: %s (%d)", M, N, K,
                          vr_error_name(st), st);
    if (g->rt->prof_on && clFinish(g->rt->queue) == CL_SUCCESS) { /* host-timed: CLBlast's event is its last kernel */
        char name[48];
        snprintf(name, sizeof name, "sgemm %s, M %s", vg_class_names[vg_shape_class(M, N, K)],
                 M <= 16 ? "<= 16" : M <= 128 ? "17..128" : M <= 1024 ? "129..1024" : "> 1024");
        vr_prof_add(g->rt, name, vr_now_ms() - t0);
    }
    return 0;
}

/* linear_packed: rows in blocks of RB = 2, 4 or 8 (one pass over the weights per block); up to 32 rows the
 * smallest block that holds them or 8 (few rows are bandwidth-bound: fewer passes), beyond that 4 (measured on pocl:
 * 8 x 1024 -> 4096 0.35 ms with RB 8, 0.73 with RB 4; from 72 rows RB 4 as fast as 8 or faster, and the last
 * block wastes less). Rows are split into chunks where panels x batch leave cores idle, and into chunks of at most
 * 256 rows. */
static int linear_packed(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, size_t ldx, vg_weight wt,
                         size_t wt_off, size_t wt_bs, cl_mem y, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K,
                         cl_mem bias, int act)
{
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || ldx > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: product %zux%zux%zu too large", M, N, K);
    int rb = M <= 2 ? 2 : M <= 4 ? 4 : M <= 32 ? 8 : 4, which = rb == 2 ? 0 : rb == 4 ? 1 : 2;
    size_t panels = (N + PANEL - 1) / PANEL, want = 8 * (size_t)g->units, blocks = (M + rb - 1) / rb;
    size_t chunks = panels * batch >= want ? 1 : (want + panels * batch - 1) / (panels * batch);
    /* chunks of at most 256 rows: 4096 x 1024 <-> 4096 (d16 at batch 8) ran at 206-213 GFLOP/s unchunked, 221-223 in
     * chunks of 256 (a chunk's rows stay in cache while the work-items of other panels read them) */
    if (chunks < (M + 255) / 256) chunks = (M + 255) / 256;
    if (chunks > blocks) chunks = blocks;
    /* chunks of equal size: pocl splits the work-items between its threads in order, and 338 rows as 256 + 82 left
     * one thread the 82-row half (145 against 215 GFLOP/s on 338 x 1024 -> 1024) */
    size_t mc = (blocks + chunks - 1) / chunks * rb;
    chunks = (M + mc - 1) / mc;
    cl_ulong xo = x_off, xs = x_bs, wo = wt_off, ws = wt_bs, yo = y_off, ys = y_bs;
    int m = (int)M, n = (int)N, k = (int)K, mci = (int)mc, lx = (int)ldx;
    cl_mem w = wt.buf, b = act ? bias : wt.buf; /* any valid buffer where there is no bias: not read */
    size_t gsz[3] = {panels, chunks, batch};
    static const char *const names[3][3] = {{"linear_packed2", "linear_packed4", "linear_packed8"},
                                            {"linear_packed2_f16", "linear_packed4_f16", "linear_packed8_f16"},
                                            {"linear_packed2_bf16", "linear_packed4_bf16", "linear_packed8_bf16"}};
    size_t lsz[3] = {g->rt->policy.linear_local, 1, 1};
    const size_t *local = lsz[0] ? lsz : NULL;
    int d = dtype_index(wt.dtype);
    return vr_launch(g->rt, g->k_packed[d][which], names[d][which], 3, gsz, local, 16, VR_ARG(x), VR_ARG(xo),
                     VR_ARG(xs), VR_ARG(w), VR_ARG(wo), VR_ARG(ws), VR_ARG(y), VR_ARG(yo), VR_ARG(ys), VR_ARG(m),
                     VR_ARG(n), VR_ARG(k), VR_ARG(mci), VR_ARG(b), VR_ARG(act), VR_ARG(lx));
}

/* act over y [M][N] at y_off after a product without it: add_bias or bias_gelu (cl/elementwise.cl). */
static int bias_epilogue(vg_gemm *g, cl_mem y, size_t y_off, size_t M, size_t N, cl_mem bias, int act)
{
    if (act == VG_ACT_NONE) return 0;
    if (M * N > INT32_MAX || y_off > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: bias epilogue over %zu x %zu at %zu", M, N, y_off);
    int total = (int)(M * N), n = (int)N, off = (int)y_off;
    size_t gsz = M * N;
    int gelu = act == VG_ACT_BIAS_GELU;
    return vr_launch(g->rt, gelu ? g->k_gelu : g->k_bias, gelu ? "bias_gelu" : "add_bias", 1, &gsz,
                     vr_elem_local(g->rt), 5, VR_ARG(y), VR_ARG(bias), VR_ARG(total), VR_ARG(n), VR_ARG(off));
}

/* linear_simt (cl/linear.cl): 8 rows x 4 columns per work-item, the work-group along the columns from the policy.
 * Where the policy asks for 8 columns (llvmpipe), the plain products go to the small linear_simt8 instead: W not
 * transposed, N a multiple of 8, and GELU as bias_gelu after it when y is one contiguous [M][N] (one product).
 * wt holds elements of wt.dtype (offsets and strides count them). */
static int linear_simt(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, size_t ldx, vg_weight wt,
                       size_t wt_off, size_t wt_bs, size_t ldw, int trans_w, cl_mem y, size_t y_off, size_t y_bs,
                       size_t ldy, size_t M, size_t N, size_t K, float alpha, cl_mem bias, int act)
{
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || ldx > INT32_MAX || ldw > INT32_MAX || ldy > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: product %zux%zux%zu too large", M, N, K);
    int gelu = act == VG_ACT_BIAS_GELU;
    int eight = g->simt_cols == 8 && !trans_w && N % 8 == 0 &&
                (!gelu || (batch == 1 && ldy == N && M * N <= INT32_MAX && y_off <= INT32_MAX));
    cl_ulong xo = x_off, xs = x_bs, wo = wt_off, ws = wt_bs, yo = y_off, ys = y_bs;
    int m = (int)M, n = (int)N, k = (int)K, lx = (int)ldx, lw = (int)ldw, ly = (int)ldy, tw = trans_w;
    int a = eight && gelu ? VG_ACT_NONE : act;
    cl_mem b = a ? bias : wt.buf; /* any valid buffer where there is no bias: the kernel does not read it */
    int d = dtype_index(wt.dtype);
    static const char *const names[2][3] = {{"linear_simt", "linear_simt_f16", "linear_simt_bf16"},
                                            {"linear_simt8", "linear_simt8_f16", "linear_simt8_bf16"}};
    size_t gsz[3] = {eight ? N / 8 : (N + 3) / 4, (M + 7) / 8, batch}, lsz[3] = {g->rt->policy.simt_local, 1, 1};
    /* f32 pairs 8-byte aligned: linear_simt8w reads them as one 64-bit value each (llvmpipe: half the loads) */
    const int wide = eight && d == 0 && (x_off | x_bs | ldx | wt_off | wt_bs | ldw) % 2 == 0;
    int st = vr_launch(g->rt, wide ? g->k_simt8w : eight ? g->k_simt8[d] : g->k_simt[d],
                       wide ? "linear_simt8w" : names[eight][d], 3, gsz, lsz[0] ? lsz : NULL, 19,
                       VR_ARG(x), VR_ARG(xo), VR_ARG(xs), VR_ARG(lx), VR_ARG(wt.buf), VR_ARG(wo), VR_ARG(ws),
                       VR_ARG(lw), VR_ARG(tw), VR_ARG(y), VR_ARG(yo), VR_ARG(ys), VR_ARG(ly), VR_ARG(m), VR_ARG(n),
                       VR_ARG(k), VR_ARG(alpha), VR_ARG(b), VR_ARG(a));
    return st || a == act ? st : bias_epilogue(g, y, y_off, M, N, bias, act);
}

/* Weights [K][N] with CLBlast for the products: a product of few rows goes to linear_simt, which streams W once,
 * where `vbench --tune` measured it faster than CLBlast (GPUs: a CLBlast call of 2-72 rows cost about 1.3 ms on the
 * H200, README). f32 weights only: CLBlast's layout holds nothing else. */
static int few_rows(const vg_gemm *g, size_t M, vt_dtype dtype)
{
    return !g->packed && !g->simt && M <= (size_t)g->simt_rows && dtype == VT_F32;
}

int vg_reserve(vg_gemm *g, size_t M, size_t N, size_t K)
{
    if (M == 0 || N == 0 || g->packed || g->simt || few_rows(g, M, VT_F32)) return 0; /* no CLBlast call */
    size_t need = 0;
    CLBlastStatusCode st = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, M,
                                                      N, K, 0, K, 0, N, 0, N, &g->rt->queue, &need);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastSGemmTempBufferSize(%zux%zux%zu) failed: %s (%d)", M, N, K,
                          vr_error_name(st), st);
    if (need <= g->temp_bytes) return 0;
    vg_release(g);
    char what[96];
    snprintf(what, sizeof what, "CLBlast GEMM temp buffer (%zux%zux%zu)", M, N, K);
    if (!(g->temp = vm_alloc(&g->rt->mem, VM_SCRATCH, need, what))) return VARCL_E_RUNTIME;
    g->temp_bytes = need;
    return 0;
}

/* C = alpha op(A) B on a packed device: B (alpha folded in) into panels, then linear_packed. */
static int sgemm_packed(vg_gemm *g, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t a_off,
                        size_t lda, cl_mem B, size_t b_off, size_t ldb, cl_mem C, size_t c_off)
{
    size_t need = vg_weight_elems(1, K, N) * sizeof(float);
    if (need > g->pack_bytes) {
        if (g->pack) vm_free(&g->rt->mem, g->pack);
        g->pack_bytes = 0;
        if (!(g->pack = vm_alloc(&g->rt->mem, VM_SCRATCH, need, "GEMM operand panels"))) return VARCL_E_RUNTIME;
        g->pack_bytes = need;
    }
    if (ldb > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: product %zux%zux%zu too large", M, N, K);
    cl_ulong bo = b_off;
    int lb = (int)ldb, tb = trans_b, k = (int)K, n = (int)N;
    size_t gsz[2] = {(N + PANEL - 1) / PANEL * PANEL, K};
    int st = vr_launch(g->rt, g->k_pack, "pack_panels", 2, gsz, NULL, 8, VR_ARG(B), VR_ARG(bo), VR_ARG(lb), VR_ARG(tb),
                       VR_ARG(k), VR_ARG(n), VR_ARG(alpha), VR_ARG(g->pack));
    return st ? st : linear_packed(g, 1, A, a_off, 0, lda, (vg_weight){g->pack, VT_F32}, 0, 0, C, c_off, 0, M, N, K,
                                   NULL, 0);
}

int vg_sgemm(vg_gemm *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t a_off,
             size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off, size_t ldc)
{
    if (M == 0 || N == 0) return 0;
    if (g->packed && !trans_a && beta == 0.0f && ldc == N)
        return sgemm_packed(g, trans_b, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, C, c_off);
    if ((g->simt || few_rows(g, M, VT_F32)) && !trans_a && beta == 0.0f)
        return linear_simt(g, 1, A, a_off, 0, lda, (vg_weight){B, VT_F32}, b_off, 0, ldb, trans_b, C, c_off, 0, ldc, M,
                           N, K, alpha, NULL, 0);
    if (g->unchecked) {
        int st = check_sets(g);
        if (st) return st;
    }
    if (g->use_sets) {
        int st = install(g->rt, &g->set[vg_shape_class(M, N, K)]);
        if (st) return st;
    }
    return gemm_call(g, trans_a, trans_b, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc);
}

int vg_linear_batched(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, vg_weight wt, size_t wt_off,
                      size_t wt_bs, cl_mem y, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K)
{
    if (M == 0 || N == 0 || batch == 0) return 0;
    if (!vg_weight_dtype_ok(g, wt.dtype))
        return varcl_fail(VARCL_E_RUNTIME, "internal: 16-bit weights given to a CLBlast product");
    if (g->packed)
        return linear_packed(g, batch, x, x_off, x_bs, K, wt, wt_off, wt_bs, y, y_off, y_bs, M, N, K, NULL, 0);
    if (g->simt || few_rows(g, M, wt.dtype))
        return linear_simt(g, batch, x, x_off, x_bs, K, wt, wt_off, wt_bs, N, 0, y, y_off, y_bs, N, M, N, K, 1.0f, NULL,
                           0);
    for (size_t b = 0; b < batch; b++) {
        int st = vg_sgemm(g, 0, 0, M, N, K, 1.0f, x, x_off + b * x_bs, K, wt.buf, wt_off + b * wt_bs, N, 0.0f, y,
                          y_off + b * y_bs, N);
        if (st) return st;
    }
    return 0;
}

int vg_linear(vg_gemm *g, cl_mem x, size_t x_off, vg_weight wt, size_t wt_off, cl_mem y, size_t y_off, size_t M,
              size_t N, size_t K)
{
    return vg_linear_batched(g, 1, x, x_off, 0, wt, wt_off, 0, y, y_off, 0, M, N, K);
}

int vg_linear_act(vg_gemm *g, cl_mem x, size_t x_off, vg_weight wt, size_t wt_off, cl_mem y, size_t y_off,
                  size_t M, size_t N, size_t K, cl_mem bias, int act)
{
    if (M == 0 || N == 0) return 0;
    if (g->packed && vg_weight_dtype_ok(g, wt.dtype)) return linear_packed(g, 1, x, x_off, 0, K, wt, wt_off, 0, y, y_off, 0, M, N, K, bias, act);
    if ((g->simt && vg_weight_dtype_ok(g, wt.dtype)) || few_rows(g, M, wt.dtype))
        return linear_simt(g, 1, x, x_off, 0, K, wt, wt_off, 0, N, 0, y, y_off, 0, N, M, N, K, 1.0f, bias, act);
    int st = vg_linear(g, x, x_off, wt, wt_off, y, y_off, M, N, K);
    return st ? st : bias_epilogue(g, y, y_off, M, N, bias, act);
}
