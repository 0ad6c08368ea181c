/* gemm: every dense product goes through here, and here the product kernel is chosen: cl/linear.cl's
 * linear_packed (weights packed, CPUs: pocl), linear_simt (weights [K][N], SIMD-lane drivers: llvmpipe; on CLBlast
 * devices also the products of few rows), or CLBlast (clblast.h: its SGEMM, parameter sets and tuning file).
 * Products with weights (linear layers, convolutions as GEMMs) take the weights in the device's layout (see
 * "Weights" below). Temp buffers are passed in explicitly so that memory accounting sees them (tag scratch). */
#ifndef VARCL_GEMM_H
#define VARCL_GEMM_H

#include "clblast.h"
#include "runtime.h"
#include "tensors.h"

#include <stddef.h>

typedef struct {
    vr_runtime *rt;
    vg_clblast clblast; /* CLBlast's parameter sets and temp buffer */
    int packed;   /* weights in the packed layout, products with them through linear_packed (vg_packed_layout) */
    int simt;     /* weights [K][N], products through linear_simt instead of CLBlast (policy.h VP_PRODUCT_SIMT) */
    int simt_cols; /* columns per linear_simt work-item: 4 (linear_simt) or 8 (linear_simt8), policy.h simt_cols */
    int simt_rows; /* CLBlast devices: products of at most this many rows through linear_simt or linear_splitk
                      (policy.h simt_rows, few_splitk) */
    int few_splitk; /* ... through linear_splitk (products with weights; vg_sgemm's keep linear_simt) */
    cl_kernel k_simt[3], k_simt8[3]; /* [weights f32, f16, bf16] */
    cl_kernel k_splitk[3];           /* linear_splitk [weights f32, f16, bf16] */
    int splitk_slices;               /* its K slices per work-group: a power of two, SPLITK_SLICES at most */
    cl_kernel k_simt8w;              /* linear_simt8 over 64-bit pairs (f32, even offsets and strides) */
    int units;    /* the device's compute units (packed: enough work-items for all of them) */
    cl_kernel k_packed[3][3]; /* [weights f32, f16, bf16][linear_packed2, 4, 8] */
    cl_kernel k_bias, k_gelu; /* add_bias, bias_gelu: the epilogues after CLBlast */
    cl_kernel k_pack;         /* pack_panels: computed operands of vg_sgemm into panels (packed devices) */
    cl_mem pack;              /* their panels, grown on demand */
    size_t pack_bytes;
    cl_kernel k_widen[3];     /* widen_f16, widen_bf16 ([0] unused): 16-bit weights to f32 for CLBlast */
    cl_mem wide;              /* [K][N] f32: the weight matrix of the CLBlast product running now, grown on demand */
    size_t wide_bytes;
} vg_gemm;

/* Sets up products on rt's device: the policy's product kernel, and CLBlast's parameter sets (vg_clblast_load:
 * validated now where products go through CLBlast, else before the first CLBlast product). Fails as
 * vg_clblast_load does, naming the tuning file and the fix. */
int vg_init(vg_gemm *g, vr_runtime *rt);
void vg_release(vg_gemm *g);

/* One line for reports: "tuned file /path (linear: cpu-linear, conv: cpu-conv), packed weights". */
void vg_describe(const vg_gemm *g, char *buf, size_t n);

/* What products need besides their operands, bytes, so that it can be allocated before the work (the per-request
 * workspace, workspace.h). vg_need_sgemm and vg_need_linear raise *n to what vg_sgemm, resp. vg_linear_batched
 * (vg_linear, vg_linear_act: batch 1) with the same arguments will ask for on g's device: they take the same path
 * (CLBlast's figure is asked for the exact call), so the figures are exact. */
typedef struct {
    size_t temp;   /* CLBlast's temp buffer (clblast.h) */
    size_t panels; /* vg_sgemm's operand panels on packed devices */
    size_t wide;   /* a 16-bit weight matrix widened to f32 for a CLBlast product */
} vg_need;
int vg_need_sgemm(vg_gemm *g, vg_need *n, int trans_a, int trans_b, size_t M, size_t N, size_t K, size_t a_off,
                  size_t lda, size_t b_off, size_t ldb, float beta, size_t c_off, size_t ldc);
int vg_need_linear(vg_gemm *g, vg_need *n, size_t batch, size_t x_off, size_t x_bs, vt_dtype wt_dtype, size_t wt_off,
                   size_t wt_bs, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K);
/* Device bytes that vg_reserve_need(g, n) adds to what g holds now (a buffer grows by freeing the old one first). */
size_t vg_need_extra(const vg_gemm *g, const vg_need *n);
/* Grows g's buffers to n: products within it allocate nothing. (Beyond it they grow their buffer, which fails where
 * the memory pool is frozen, mem.h.) */
int vg_reserve_need(vg_gemm *g, const vg_need *n);

/* Row-major C[M][N] = alpha * op(A) * op(B) + beta * C, op = transpose when trans_* is set.
 * Offsets and leading dimensions in elements. When trans_a = 0 and beta = 0 (the decoder's attention) packed
 * devices run it as pack_panels (alpha folded in) then linear_packed, simt devices as linear_simt; CLBlast
 * otherwise. */
int vg_sgemm(vg_gemm *g, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t a_off,
             size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off, size_t ldc);

/* Weights: the layout of every weight matrix that products take (linear layers, 1x1 and im2col convolutions,
 * Winograd's U), chosen per device at load time:
 *   - CLBlast (GPUs) and cl/linear.cl's linear_simt (other SIMD-lane drivers: llvmpipe): Wt[K][N], so that the
 *     call needs no transposes;
 *   - packed (CPUs): panels of 32 columns, [ceil(N / 32)][K][32], zero past column N, for cl/linear.cl's
 *     linear_packed. On pocl (2-core AVX-512 EPYC) it ran the transformer's products at 200-225 GFLOP/s from 32
 *     rows up and streamed the weights of 1-8-row products at 25-50 GB/s, where CLBlast with the best parameters
 *     found reached 80-110 GFLOP/s and cost the same 8-10 ms (1024 -> 4096) for any product below 128 rows.
 * The device's policy chooses (host/policy.h: packed in the "cpu" family); VARCL_LINEAR=packed, clblast or simt
 * overrides it. Returns 1 for packed, 0 for [K][N]. */
int vg_packed_layout(const vr_runtime *rt);
/* A weight matrix on the device and the dtype of its elements: f32, f16 or bf16. 16-bit weights keep half the
 * memory and, where a product streams them (few rows), half the bytes read: linear_packed, linear_simt and
 * linear_splitk widen them to f32 as they read them and sum in f32; where a product goes to CLBlast, whose SGEMM reads
 * f32 only, the matrix is first widened into the workspace (gemm.c widen_f16 / widen_bf16, exact), once per call:
 * K x N x 6 bytes more traffic for a product of M x K x N multiply-adds, small beside it at the row counts where
 * CLBlast wins (vbench --tune). */
typedef struct {
    cl_mem buf;
    vt_dtype dtype; /* VT_F32, VT_F16 or VT_BF16 */
} vg_weight;
/* Elements of one K x N weight matrix in the layout (packed: K * 32 * ceil(N / 32)). */
size_t vg_weight_elems(int packed, size_t K, size_t N);
/* Writes wt [K][N] to out in the layout (vg_weight_elems elements). */
void vg_weight_pack(int packed, const float *wt, size_t K, size_t N, float *out);

/* y[M][N] = x[M][K] * W: a torch Linear without its bias (bias is fused into the next kernel); W in g's layout
 * (vg_weight_pack) at element offset wt_off (elements of W's dtype). */
int vg_linear(vg_gemm *g, cl_mem x, size_t x_off, vg_weight wt, size_t wt_off, cl_mem y, size_t y_off, size_t M,
              size_t N, size_t K);
/* The same plus an epilogue: act VG_ACT_BIAS adds bias [N], VG_ACT_BIAS_GELU applies GELU (tanh form) after it
 * (the FFN's fc1). Fused into linear_packed; after CLBlast, elementwise.cl's add_bias or bias_gelu. */
enum { VG_ACT_NONE, VG_ACT_BIAS, VG_ACT_BIAS_GELU };
int vg_linear_act(vg_gemm *g, cl_mem x, size_t x_off, vg_weight wt, size_t wt_off, cl_mem y, size_t y_off,
                  size_t M, size_t N, size_t K, cl_mem bias, int act);
/* `batch` such products at once: x, W and y of product b at x_off + b * x_bs, wt_off + b * wt_bs, y_off + b * y_bs
 * (Winograd's (m+2)^2 products per chunk of tiles: one launch on packed devices). */
int vg_linear_batched(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, vg_weight wt, size_t wt_off,
                      size_t wt_bs, cl_mem y, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K);

#endif
