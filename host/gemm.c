/* gemm: CLBlast SGEMM with an explicitly owned temp buffer (see gemm.h). */
#include "gemm.h"

#include "error.h"

#include <clblast_c.h>
#include <stdio.h>

void vg_init(vg_gemm *g, vr_runtime *rt)
{
    g->rt = rt;
    g->temp = NULL;
    g->temp_bytes = 0;
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

int vg_linear(vg_gemm *g, cl_mem x, size_t x_off, cl_mem wt, size_t wt_off, cl_mem y, size_t y_off, size_t M,
              size_t N, size_t K)
{
    return vg_sgemm(g, 0, 0, M, N, K, 1.0f, x, x_off, K, wt, wt_off, N, 0.0f, y, y_off, N);
}
