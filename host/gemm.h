/* gemm: the only caller of CLBlast. Every dense product with weights goes through here: linear layers
 * (weights pre-transposed at load time to Wt[in][out], so the call needs no transposes) and convolutions as
 * GEMMs. Temp buffers are passed in explicitly so that memory accounting sees them (tag scratch). */
#ifndef VARCL_GEMM_H
#define VARCL_GEMM_H

#include "runtime.h"

typedef struct {
    vr_runtime *rt;
    cl_mem temp; /* CLBlast's temp buffer, grown on demand */
    size_t temp_bytes;
    int tuned;   /* 1: validated Xgemm parameter sets are switched per shape class (CPU devices) */
    int few_rows; /* linear products of at most this many rows take linear_rows (0: always CLBlast) */
    cl_kernel k_rows[2]; /* linear_rows4_16, linear_rows8_16 */
} vg_gemm;

/* Sets up GEMMs on rt's device. On CPU devices (pocl) it installs CLBlast parameter sets tuned for two shape
 * classes, each validated against a host reference first (VARCL_GEMM_TUNING=off keeps CLBlast's defaults).
 * Fails only when a tuned set was installed and computes wrong results (message says how to turn tuning off). */
int vg_init(vg_gemm *g, vr_runtime *rt);
void vg_release(vg_gemm *g);

/* Row-major C[M][N] = alpha * op(A) * op(B) + beta * C, op = transpose when trans_* is set.
 * Offsets and leading dimensions in elements. */
int vg_sgemm(vg_gemm *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t a_off,
             size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off, size_t ldc);

/* y[M][N] = x[M][K] * Wt[K][N]: a torch Linear without its bias (bias is fused into the next kernel). Products of
 * few rows (M <= few_rows, N a multiple of 16) stream the weights through cl/linear.cl instead of CLBlast: on pocl
 * CLBlast's cost is flat below 128 rows (about 10 ms for 1024 -> 4096), the streaming kernel's 2-3 ms. CPU devices
 * default to few_rows = 16; GPUs to 0 (unmeasured); VARCL_FEW_ROWS=N overrides. */
int vg_linear(vg_gemm *g, cl_mem x, size_t x_off, cl_mem wt, size_t wt_off, cl_mem y, size_t y_off, size_t M,
              size_t N, size_t K);

#endif
