/* gemm: CLBlast SGEMM with an explicitly owned temp buffer (see gemm.h). */
#include "gemm.h"

#include "error.h"

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Xgemm parameter sets for CPU devices (pocl), from a search of 60 sets on 2-core AVX-512 machines
 * (OPENCL_NOTES.md): CLBlast's defaults reach 9-19 GFLOP/s there, these 50-110. GEMMK=1 sets computed wrong
 * results on pocl 3.1 and are not used. CLBlast does not validate overrides, so each set is checked here. */
static const char *const xgemm_names[16] = {"GEMMK", "KREG", "KWG",   "KWI",  "MDIMA", "MDIMC", "MWG",  "NDIMB",
                                            "NDIMC", "NWG",  "SA",    "SB",   "STRM",  "STRN",  "VWM",  "VWN"};
enum { SET_LINEAR, SET_CONV, SET_NONE };
static const size_t xgemm_sets[2][16] = {
    /* linear layers of width >= 512 (100-112 GFLOP/s measured on such shapes) */
    {0, 1, 256, 2, 16, 16, 128, 16, 16, 128, 1, 1, 0, 0, 8, 8},
    /* narrow or shallow products: convolutions as GEMMs (N = Cout), width-128 models (K = 128) */
    {0, 1, 64, 8, 16, 8, 256, 8, 8, 32, 1, 1, 0, 1, 8, 4},
};
/* CLBlast's overrides are process-wide per device: remember what is installed */
static cl_device_id installed_dev;
static int installed_set = SET_NONE;

static int install(vr_runtime *rt, int set)
{
    if (installed_dev == rt->dev.device && installed_set == set) return 0;
    CLBlastStatusCode st = CLBlastOverrideParameters(rt->dev.device, "Xgemm", CLBlastPrecisionSingle, 16,
                                                     (const char **)xgemm_names, xgemm_sets[set]);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastOverrideParameters(Xgemm) failed: %s (%d)", vr_error_name(st), st);
    installed_dev = rt->dev.device;
    installed_set = set;
    return 0;
}

/* Runs one odd-sized GEMM (padding paths included) and compares it with a host reference in double. */
static int validate(vg_gemm *g, int set)
{
    enum { M = 150, N = 136, K = 520 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N), *c = malloc(sizeof(float) * M * N);
    int st = (a && b && c) ? 0 : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; !st && i < M * K; i++) a[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    for (int i = 0; !st && i < K * N; i++) b[i] = (float)((i * 53 % 89) - 44) / 44.0f;
    cl_mem da = st ? NULL : vm_alloc_copy(&g->rt->mem, VM_SCRATCH, sizeof(float) * M * K, a, "GEMM check A");
    cl_mem db = da ? vm_alloc_copy(&g->rt->mem, VM_SCRATCH, sizeof(float) * K * N, b, "GEMM check B") : NULL;
    cl_mem dc = db ? vm_alloc(&g->rt->mem, VM_SCRATCH, sizeof(float) * M * N, "GEMM check C") : NULL;
    if (!st && !dc) st = VARCL_E_RUNTIME;
    if (!st) st = install(g->rt, set);
    if (!st) st = vg_sgemm(g, 0, 0, M, N, K, 1.0f, da, 0, K, db, 0, N, 0.0f, dc, 0, N);
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
        st = varcl_fail(VARCL_E_RUNTIME, "tuned CLBlast parameter set %d computes wrong results (error %.3g)", set, worst);
    vm_free(&g->rt->mem, da);
    vm_free(&g->rt->mem, db);
    vm_free(&g->rt->mem, dc);
    free(a);
    free(b);
    free(c);
    return st;
}

int vg_init(vg_gemm *g, vr_runtime *rt)
{
    g->rt = rt;
    g->temp = NULL;
    g->temp_bytes = 0;
    g->tuned = 0;
    g->few_rows = (rt->dev.type & CL_DEVICE_TYPE_CPU) ? 16 : 0;
    const char *fr = getenv("VARCL_FEW_ROWS");
    if (fr && *fr) {
        char *end;
        long v = strtol(fr, &end, 10);
        if (*end || v < 0 || v > 4096) return varcl_fail(VARCL_E_INPUT, "VARCL_FEW_ROWS must be 0..4096, not '%s'", fr);
        g->few_rows = (int)v;
    }
    if (!(g->k_rows[0] = vr_kernel(rt, "linear_rows4_16")) || !(g->k_rows[1] = vr_kernel(rt, "linear_rows8_16")))
        return VARCL_E_RUNTIME;
    const char *env = getenv("VARCL_GEMM_TUNING");
    if (!(rt->dev.type & CL_DEVICE_TYPE_CPU) || (env && !strcmp(env, "off"))) return 0;
    if (installed_dev == rt->dev.device && installed_set != SET_NONE) { /* validated earlier in this process */
        g->tuned = 1;
        return 0;
    }
    /* small products take CLBlast's direct kernel; everything else the tuned indirect one */
    const char *rn[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
    size_t rv[1] = {64};
    CLBlastStatusCode cst = CLBlastOverrideParameters(rt->dev.device, "GemmRoutine", CLBlastPrecisionSingle, 1, rn, rv);
    if (cst != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastOverrideParameters(GemmRoutine) failed: %s (%d)", vr_error_name(cst),
                          cst);
    int st = validate(g, SET_LINEAR);
    if (!st) st = validate(g, SET_CONV);
    if (st) {
        char msg[900];
        snprintf(msg, sizeof msg, "%s; run with VARCL_GEMM_TUNING=off to use CLBlast's defaults", varcl_last_error());
        return varcl_fail(VARCL_E_RUNTIME, "%s", msg);
    }
    g->tuned = 1;
    return 0;
}

void vg_release(vg_gemm *g)
{
    if (g->temp) vm_free(&g->rt->mem, g->temp);
    g->temp = NULL;
    g->temp_bytes = 0;
}

int vg_sgemm(vg_gemm *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t a_off,
             size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off, size_t ldc)
{
    if (M == 0 || N == 0) return 0;
    if (g->tuned) {
        /* measured on pocl: the conv set wins on shallow (K < 512), narrow (N < 128) and tall-narrow products (the
         * decoder's 65536 x 1440 -> 160: 68 vs 52 GFLOP/s); the linear set on the transformer's (84-101 vs 80-97) */
        int conv = K < 512 || N < 128 || (M >= 16384 && N <= 320);
        int st = install(g->rt, conv ? SET_CONV : SET_LINEAR);
        if (st) return st;
    }
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
    st = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta,
                                    C, c_off, ldc, &g->rt->queue, NULL, g->temp ? g->temp : A);
    if (st != CLBlastSuccess)
        return varcl_fail(VARCL_E_RUNTIME, "CLBlastSgemmWithTempBuffer(%zux%zux%zu) failed: %s (%d)", M, N, K,
                          vr_error_name(st), st);
    return 0;
}

/* linear_rows over blocks of 8 rows (4 when at most 4 are left); wt_off must be 0 (kernel argument layout). */
static int linear_rows(vg_gemm *g, cl_mem x, size_t x_off, cl_mem wt, cl_mem y, size_t y_off, size_t M, size_t N,
                       size_t K)
{
    int n = (int)N, k = (int)K;
    for (size_t m0 = 0; m0 < M; m0 += 8) {
        int rows = (int)(M - m0 < 8 ? M - m0 : 8), xo = (int)(x_off + m0 * K), yo = (int)(y_off + m0 * N);
        size_t gsz = N / 16;
        int st = vr_launch(g->rt, g->k_rows[rows > 4], rows > 4 ? "linear_rows8_16" : "linear_rows4_16", 1, &gsz,
                           NULL, 8, VR_ARG(x), VR_ARG(xo), VR_ARG(wt), VR_ARG(y), VR_ARG(yo), VR_ARG(rows), VR_ARG(n),
                           VR_ARG(k));
        if (st) return st;
    }
    return 0;
}

int vg_linear(vg_gemm *g, cl_mem x, size_t x_off, cl_mem wt, size_t wt_off, cl_mem y, size_t y_off, size_t M,
              size_t N, size_t K)
{
    /* int offsets in the kernel: bounded well below 2^31 elements for any model these kernels serve */
    if (M <= (size_t)g->few_rows && N % 16 == 0 && wt_off == 0 && (x_off + M * K) < ((size_t)1 << 31) &&
        (y_off + M * N) < ((size_t)1 << 31))
        return linear_rows(g, x, x_off, wt, y, y_off, M, N, K);
    return vg_sgemm(g, 0, 0, M, N, K, 1.0f, x, x_off, K, wt, wt_off, N, 0.0f, y, y_off, N);
}
