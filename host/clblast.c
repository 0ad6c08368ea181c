/* clblast: CLBlast's SGEMM with its temp buffer, the Xgemm parameter sets, their installation and the device's
 * tuning file (see clblast.h). */
#include "clblast.h"

#include "cachefile.h"
#include "error.h"

#include <clblast_c.h>
#include <errno.h>
#include <math.h>
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

static int gemm_call(vg_clblast *cb, const vg_xgemm_set *s, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                     float alpha, cl_mem A, size_t a_off, size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta,
                     cl_mem C, size_t c_off, size_t ldc);

/* Runs one odd-sized GEMM (padding paths included) with `s` and compares it with a host reference in double. */
static int validate(vg_clblast *cb, const vg_xgemm_set *s)
{
    int d = device_slot(cb->rt->dev.device);
    if (d < 0) return VARCL_E_RUNTIME;
    for (int i = 0; i < devices[d].n_validated; i++)
        if (!memcmp(devices[d].validated[i], s->v, sizeof s->v)) return 0;
    char why[300];
    if (vg_xgemm_check(s, &cb->rt->dev, why, sizeof why))
        return varcl_fail(VARCL_E_INPUT, "CLBlast parameter set %s: %s", s->name, why);
    enum { M = 150, N = 136, K = 520 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N), *c = malloc(sizeof(float) * M * N);
    int st = (a && b && c) ? 0 : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; !st && i < M * K; i++) a[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    for (int i = 0; !st && i < K * N; i++) b[i] = (float)((i * 53 % 89) - 44) / 44.0f;
    cl_mem da = st ? NULL : vm_alloc_copy(&cb->rt->mem, VM_SCRATCH, sizeof(float) * M * K, a, "GEMM check A");
    cl_mem db = da ? vm_alloc_copy(&cb->rt->mem, VM_SCRATCH, sizeof(float) * K * N, b, "GEMM check B") : NULL;
    cl_mem dc = db ? vm_alloc(&cb->rt->mem, VM_SCRATCH, sizeof(float) * M * N, "GEMM check C") : NULL;
    if (!st && !dc) st = VARCL_E_RUNTIME;
    if (!st) st = install(cb->rt, s);
    if (!st) st = gemm_call(cb, s, 0, 0, M, N, K, 1.0f, da, 0, K, db, 0, N, 0.0f, dc, 0, N);
    if (!st) st = vr_read(cb->rt, dc, 0, sizeof(float) * M * N, c);
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
    vm_free(&cb->rt->mem, da);
    vm_free(&cb->rt->mem, db);
    vm_free(&cb->rt->mem, dc);
    free(a);
    free(b);
    free(c);
    if (!st && devices[d].n_validated < 8) memcpy(devices[d].validated[devices[d].n_validated++], s->v, sizeof s->v);
    return st;
}

int vg_use_sets(vg_clblast *cb, const vg_xgemm_set *linear, const vg_xgemm_set *conv)
{
    int d = device_slot(cb->rt->dev.device);
    if (d < 0) return VARCL_E_RUNTIME;
    if (!linear || !conv) {
        if (devices[d].overridden)
            return varcl_fail(VARCL_E_RUNTIME, "internal: CLBlast's default parameters cannot be restored after an "
                                               "override in the same process");
        cb->use_sets = 0;
        return 0;
    }
    int st = validate(cb, linear);
    if (!st) st = validate(cb, conv);
    if (st) return st;
    cb->set[VG_CLASS_LINEAR] = *linear;
    cb->set[VG_CLASS_CONV] = *conv;
    cb->use_sets = 1;
    return 0;
}

double vg_switch_ms(vg_clblast *cb, const vg_xgemm_set *a, const vg_xgemm_set *b)
{
    enum { PAIRS = 50 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < PAIRS; i++)
        if (install(cb->rt, a) || install(cb->rt, b)) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / (2 * PAIRS);
}

/* ---- the SGEMM call ---- */

/* CLBlast's temp buffer figure for a product under the set s (NULL: CLBlast's defaults), remembered in cb->memo.
 * The figure depends on the set's tile sizes, the shape, the transposes, the leading dimensions and, through
 * Xgemm's NoTempBuffer test, on each offset only as zero or not: the key holds those. With install set, s is installed
 * before CLBlast is asked (it answers for the installed set); else the caller has installed it. */
static int temp_need(vg_clblast *cb, const vg_xgemm_set *s, int install_set, int trans_a, int trans_b, size_t M,
                     size_t N, size_t K, size_t a_off, size_t lda, size_t b_off, size_t ldb, size_t c_off, size_t ldc,
                     size_t *bytes)
{
    vg_temp_key key;
    memset(&key, 0, sizeof key); /* padding included: keys compare with memcmp */
    if (s) memcpy(key.params, s->v, sizeof key.params);
    key.shape[0] = M, key.shape[1] = N, key.shape[2] = K, key.shape[3] = lda, key.shape[4] = ldb, key.shape[5] = ldc;
    key.flags = (trans_a ? 1 : 0) | (trans_b ? 2 : 0) | (a_off ? 4 : 0) | (b_off ? 8 : 0) | (c_off ? 16 : 0);
    for (int i = 0; i < cb->memo_n; i++)
        if (!memcmp(&cb->memo[i].key, &key, sizeof key)) {
            *bytes = cb->memo[i].bytes;
            return 0;
        }
    if (s && install_set) {
        int st = install(cb->rt, s);
        if (st) return st;
    }
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    *bytes = 0;
    CLBlastStatusCode st = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, M, N, K, a_off, lda, b_off, ldb,
                                                      c_off, ldc, &cb->rt->queue, bytes);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastSGemmTempBufferSize(%zux%zux%zu) failed: %s (%d)", M, N, K,
                          vr_error_name(st), st);
    int slot = cb->memo_n < VG_TEMP_MEMO ? cb->memo_n++ : cb->memo_next++ % VG_TEMP_MEMO;
    cb->memo[slot].key = key;
    cb->memo[slot].bytes = *bytes;
    return 0;
}

/* Validates cb->set[] where that was left for the first product (vg_clblast_load's lazy). */
static int check_sets(vg_clblast *cb);

int vg_clblast_temp_bytes(vg_clblast *cb, int trans_a, int trans_b, size_t M, size_t N, size_t K, size_t a_off,
                          size_t lda, size_t b_off, size_t ldb, size_t c_off, size_t ldc, size_t *bytes)
{
    *bytes = 0;
    if (M == 0 || N == 0) return 0;
    if (cb->unchecked) {
        int st = check_sets(cb);
        if (st) return st;
    }
    const vg_xgemm_set *s = cb->use_sets ? &cb->set[vg_shape_class(M, N, K)] : NULL;
    return temp_need(cb, s, 1, trans_a, trans_b, M, N, K, a_off, lda, b_off, ldb, c_off, ldc, bytes);
}

int vg_clblast_reserve(vg_clblast *cb, size_t bytes)
{
    if (bytes <= cb->temp_bytes) return 0;
    vg_clblast_release(cb);
    if (!(cb->temp = vm_alloc(&cb->rt->mem, VM_SCRATCH, bytes, "CLBlast GEMM temp buffer"))) return VARCL_E_RUNTIME;
    cb->temp_bytes = bytes;
    return 0;
}

/* One SGEMM with the set s (NULL: CLBlast's defaults) already installed; the temp buffer grows where it must. */
static int gemm_call(vg_clblast *cb, const vg_xgemm_set *s, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                     float alpha, cl_mem A, size_t a_off, size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta,
                     cl_mem C, size_t c_off, size_t ldc)
{
    size_t need = 0;
    int err = temp_need(cb, s, 0, trans_a, trans_b, M, N, K, a_off, lda, b_off, ldb, c_off, ldc, &need);
    if (!err) err = vg_clblast_reserve(cb, need);
    if (err) return err;
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    double t0 = cb->rt->prof_on && clFinish(cb->rt->queue) == CL_SUCCESS ? vr_now_ms() : 0;
    cb->rt->launches++; /* one or more kernels (CLBlast's direct kernel, or its indirect one with pads) */
    CLBlastStatusCode st = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A, a_off, lda, B,
                                                      b_off, ldb, beta, C, c_off, ldc, &cb->rt->queue, NULL,
                                                      cb->temp ? cb->temp : A);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastSgemmWithTempBuffer(%zux%zux%zu) failed: %s (%d)", M, N, K,
                          vr_error_name(st), st);
    if (cb->rt->prof_on && clFinish(cb->rt->queue) == CL_SUCCESS) { /* host-timed: CLBlast's event is its last kernel */
        char name[48];
        snprintf(name, sizeof name, "sgemm %s, M %s", vg_class_names[vg_shape_class(M, N, K)],
                 M <= 16 ? "<= 16" : M <= 128 ? "17..128" : M <= 1024 ? "129..1024" : "> 1024");
        vr_prof_add(cb->rt, name, vr_now_ms() - t0);
    }
    return 0;
}

/* ---- set-up ---- */

void vg_clblast_init(vg_clblast *cb, vr_runtime *rt)
{
    memset(cb, 0, sizeof *cb);
    cb->rt = rt;
    cb->source = VG_PARAMS_DEFAULT;
}

/* Validates and installs cb->set[] (vg_use_sets); a failure names where the sets came from and the fix. */
static int check_sets(vg_clblast *cb)
{
    vg_xgemm_set linear = cb->set[VG_CLASS_LINEAR], conv = cb->set[VG_CLASS_CONV];
    cb->unchecked = 0;
    int st = vg_use_sets(cb, &linear, &conv);
    if (!st) return 0;
    char msg[900];
    snprintf(msg, sizeof msg, "%s", varcl_last_error());
    if (cb->source == VG_PARAMS_FILE)
        return varcl_fail(st, "GEMM tuning file %s: %s; delete the file or rerun `vbench --tune`", cb->file, msg);
    return varcl_fail(VARCL_E_RUNTIME, "%s; run with VARCL_GEMM_TUNING=off to use CLBlast's defaults", msg);
}

int vg_clblast_load(vg_clblast *cb, int lazy)
{
    const char *env = getenv("VARCL_GEMM_TUNING");
    if (env && !strcmp(env, "off")) return 0;
    vr_runtime *rt = cb->rt;
    char path[sizeof cb->file];
    vg_tuning t;
    int found = 0, st;
    vg_tuning_path(&rt->dev, path, sizeof path);
    if (path[0] && (st = vg_tuning_read(path, &rt->dev, &t, &found))) return st;
    if (found) {
        cb->source = VG_PARAMS_FILE;
        snprintf(cb->file, sizeof cb->file, "%s", path);
        if (!t.use_sets) return 0;
        cb->set[VG_CLASS_LINEAR] = t.set[VG_CLASS_LINEAR];
        cb->set[VG_CLASS_CONV] = t.set[VG_CLASS_CONV];
    } else {
        if (rt->policy.clblast_sets != VP_SETS_CPU) return 0;
        cb->source = VG_PARAMS_BUILTIN;
        cb->set[VG_CLASS_LINEAR] = vg_find_candidate("cpu-linear-sb")->set;
        cb->set[VG_CLASS_CONV] = vg_find_candidate("cpu-conv")->set;
    }
    cb->use_sets = 1;
    cb->unchecked = lazy;
    return lazy ? 0 : check_sets(cb);
}

void vg_clblast_release(vg_clblast *cb)
{
    if (cb->temp) vm_free(&cb->rt->mem, cb->temp);
    cb->temp = NULL;
    cb->temp_bytes = 0;
}

void vg_clblast_describe(const vg_clblast *cb, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s", vg_source_name(cb->source));
    if (cb->source == VG_PARAMS_FILE && used < n) used += (size_t)snprintf(buf + used, n - used, " %s", cb->file);
    if (cb->use_sets && used < n)
        snprintf(buf + used, n - used, " (linear: %s, conv: %s)", cb->set[VG_CLASS_LINEAR].name,
                 cb->set[VG_CLASS_CONV].name);
    else if (cb->source == VG_PARAMS_FILE && used < n)
        snprintf(buf + used, n - used, " (CLBlast defaults)");
}

int vg_clblast_sgemm(vg_clblast *cb, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                     size_t a_off, size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off,
                     size_t ldc)
{
    if (M == 0 || N == 0) return 0;
    if (cb->unchecked) {
        int st = check_sets(cb);
        if (st) return st;
    }
    const vg_xgemm_set *s = cb->use_sets ? &cb->set[vg_shape_class(M, N, K)] : NULL;
    if (s) {
        int st = install(cb->rt, s);
        if (st) return st;
    }
    return gemm_call(cb, s, trans_a, trans_b, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc);
}

/* ---- the tuning file: where it lives ---- */

void vg_tuning_path(const vr_device *dev, char *buf, size_t n) { vcf_device_path(dev, "gemm", buf, n); }

/* ---- the tuning file: reading ---- */

static int parse_params(char *val, vg_xgemm_set *s, char *why, size_t n)
{
    int seen[VG_XGEMM_PARAMS] = {0};
    for (char *tok = strtok(val, " \t"); tok; tok = strtok(NULL, " \t")) {
        char *eq = strchr(tok, '=');
        int i = 0;
        if (eq) *eq = 0;
        while (i < VG_XGEMM_PARAMS && strcmp(tok, vg_xgemm_names[i])) i++;
        if (!eq || i == VG_XGEMM_PARAMS)
            return snprintf(why, n, "params: expected NAME=VALUE with one of CLBlast's 16 Xgemm names, got '%s'", tok), 1;
        char *end;
        errno = 0;
        unsigned long v = strtoul(eq + 1, &end, 10);
        if (end == eq + 1 || *end || errno || v > 1024 || eq[1] == '-')
            return snprintf(why, n, "params: %s needs an integer 0..1024, got '%s'", tok, eq + 1), 1;
        if (seen[i]++) return snprintf(why, n, "params: %s is given twice", tok), 1;
        s->v[i] = v;
    }
    for (int i = 0; i < VG_XGEMM_PARAMS; i++)
        if (!seen[i]) return snprintf(why, n, "params: %s is missing (all 16 Xgemm parameters are needed)", vg_xgemm_names[i]), 1;
    return 0;
}

/* The file's contents into *t; 0, or 1 with "line N: reason" in why. */
static int parse_tuning(FILE *f, const vr_device *dev, vg_tuning *t, char *why, size_t n)
{
    enum { TOP = -1 };
    /* line 1 is the frame line (cachefile.h), so that line numbers are the file's */
    int section = TOP, line_no = 1, format = 0, have_set[VG_CLASSES] = {0}, have_params[VG_CLASSES] = {0};
    int seen_dev[3] = {0}, dl;
    char reason[300];
    char line[1200];
    memset(t, 0, sizeof *t);
    char *s;
    int got;
    while ((got = vcf_next_line(f, line, sizeof line, &line_no, &s, why, n)) > 0) {
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e || e[1]) return snprintf(why, n, "line %d: expected [linear] or [conv]", line_no), 1;
            *e = 0;
            for (section = 0; section < VG_CLASSES && strcmp(s + 1, vg_class_names[section]); section++) {}
            if (section == VG_CLASSES)
                return snprintf(why, n, "line %d: unknown section [%s] (expected [linear] or [conv])", line_no, s + 1), 1;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) return snprintf(why, n, "line %d: expected 'key = value', got '%.60s'", line_no, s), 1;
        *eq = 0;
        char *key = vcf_trim(s), *val = vcf_trim(eq + 1);
        if (section == TOP) {
            if (!strcmp(key, "format")) {
                format = atoi(val);
                if (format != VG_TUNING_FORMAT)
                    return snprintf(why, n, "line %d: format %s is not %d (written by another varcl version?)", line_no,
                                    val, VG_TUNING_FORMAT),
                           1;
            } else if ((dl = vcf_device_line(key, val, dev, seen_dev, reason, sizeof reason)) >= 0) {
                if (dl) return snprintf(why, n, "line %d: %s", line_no, reason), 1;
            } else if (strcmp(key, "date") && strcmp(key, "model") &&
                       strcmp(key, "few_rows")) { /* few_rows: from files before packed weights; ignored */
                return snprintf(why, n, "line %d: unknown key '%s'", line_no, key), 1;
            }
            continue;
        }
        vg_xgemm_set *set = &t->set[section];
        if (!strcmp(key, "set")) {
            if (!*val || strlen(val) >= sizeof set->name || strpbrk(val, " \t"))
                return snprintf(why, n, "line %d: set needs a name (one word)", line_no), 1;
            snprintf(set->name, sizeof set->name, "%s", val);
            have_set[section] = 1;
        } else if (!strcmp(key, "params")) {
            if (parse_params(val, set, reason, sizeof reason))
                return snprintf(why, n, "line %d: %s", line_no, reason), 1;
            have_params[section] = 1;
        } else {
            return snprintf(why, n, "line %d: unknown key '%s' in [%s]", line_no, key, vg_class_names[section]), 1;
        }
    }
    if (got < 0) return 1;
    if (ferror(f)) return snprintf(why, n, "read error: %s", strerror(errno)), 1;
    if (!format) return snprintf(why, n, "no 'format = %d' line", VG_TUNING_FORMAT), 1;
    if (!seen_dev[0] || !seen_dev[1] || !seen_dev[2])
        return snprintf(why, n, "the device, driver and platform lines are required"), 1;
    int defaults = 0;
    for (int c = 0; c < VG_CLASSES; c++) {
        vg_xgemm_set *set = &t->set[c];
        if (!have_set[c]) return snprintf(why, n, "[%s] needs a 'set' line", vg_class_names[c]), 1;
        int is_default = !strcmp(set->name, "default");
        defaults += is_default;
        if (is_default && have_params[c])
            return snprintf(why, n, "[%s]: set = default takes no params line", vg_class_names[c]), 1;
        if (!is_default && !have_params[c])
            return snprintf(why, n, "[%s]: set %s needs a params line", vg_class_names[c], set->name), 1;
        if (!is_default && vg_xgemm_check(set, dev, reason, sizeof reason))
            return snprintf(why, n, "[%s]: set %s %s", vg_class_names[c], set->name, reason), 1;
    }
    if (defaults == 1)
        return snprintf(why, n, "set = default must be given for both classes or neither (CLBlast cannot mix its "
                                "defaults with overrides)"),
               1;
    t->use_sets = defaults == 0;
    return 0;
}

typedef struct {
    const vr_device *dev;
    vg_tuning *t;
} parse_ctx;

static int parse_cb(FILE *f, void *ctx, char *why, size_t n)
{
    parse_ctx *c = ctx;
    return parse_tuning(f, c->dev, c->t, why, n);
}

int vg_tuning_read(const char *path, const vr_device *dev, vg_tuning *t, int *found)
{
    /* A file whose frame does not match (cut short, damaged, or from before the frame) is not used: CLBlast's
     * defaults or the built-in sets are correct, only slower, and `vbench --tune` rewrites it. */
    parse_ctx c = {dev, t};
    return vcf_parse_text(path, "gemm-tuning", "GEMM tuning file", parse_cb, &c, found);
}

