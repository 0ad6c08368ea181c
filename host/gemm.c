/* gemm: the product kernel of each product: linear_packed, linear_simt or CLBlast (see gemm.h). */
#include "gemm.h"

#include "error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- set-up ---- */

int vg_packed_layout(const vr_runtime *rt) { return rt->policy.packed; }

#define PANEL 32 /* PW in cl/linear.cl */
#define SPLITK_LANES 8   /* cl/linear.cl */
#define SPLITK_SLICES 16 /* cl/linear.cl: the most K slices per work-group */

/* linear_packed's and linear_simt's kernels by weight dtype: [0] f32, [1] f16, [2] bf16 */
static const char *const dtype_suffix[3] = {"", "_f16", "_bf16"};
static int dtype_index(vt_dtype d) { return d == VT_F16 ? 1 : d == VT_BF16 ? 2 : 0; }

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

int vg_init(vg_gemm *g, vr_runtime *rt)
{
    memset(g, 0, sizeof *g);
    g->rt = rt;
    vg_clblast_init(&g->clblast, rt);
    g->packed = rt->policy.product == VP_PRODUCT_PACKED;
    g->simt = rt->policy.product == VP_PRODUCT_SIMT;
    g->simt_cols = rt->policy.simt_cols;
    g->simt_rows = rt->policy.simt_rows;
    g->few_splitk = rt->policy.few_splitk;
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
        snprintf(name, sizeof name, "linear_splitk%s", dtype_suffix[d]);
        if (!(g->k_splitk[d] = vr_kernel(rt, name))) return VARCL_E_RUNTIME;
    }
    /* linear_splitk's work-group: SPLITK_LANES (8) x the most slices, a power of two, that the kernel allows */
    size_t kmax = 0, items[3] = {0, 0, 0}; /* the least of the three variants' limits, and the device's along dim 1 */
    for (int d = 0; d < 3; d++) {
        size_t k = 0;
        clGetKernelWorkGroupInfo(g->k_splitk[d], rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof k, &k, NULL);
        if (k && (!kmax || k < kmax)) kmax = k;
    }
    clGetDeviceInfo(rt->dev.device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items, NULL);
    cl_ulong lmem = 0; /* and its local memory: 8 rows x slices x SPLITK_LANES float4s */
    clGetDeviceInfo(rt->dev.device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    g->splitk_slices = SPLITK_SLICES;
    while (g->splitk_slices > 1 && ((kmax && (size_t)g->splitk_slices * SPLITK_LANES > kmax) ||
                                    (items[1] && (size_t)g->splitk_slices > items[1]) ||
                                    (lmem && 8u * g->splitk_slices * SPLITK_LANES * 16u > lmem)))
        g->splitk_slices /= 2;
    if (!(g->k_simt8w = vr_kernel(rt, "linear_simt8w"))) return VARCL_E_RUNTIME;
    if (!(g->k_bias = vr_kernel(rt, "add_bias")) || !(g->k_gelu = vr_kernel(rt, "bias_gelu")) ||
        !(g->k_pack = vr_kernel(rt, "pack_panels")) || !(g->k_widen[1] = vr_kernel(rt, "widen_f16")) ||
        !(g->k_widen[2] = vr_kernel(rt, "widen_bf16")))
        return VARCL_E_RUNTIME;
    /* packed and simt devices run no product through CLBlast in the engine: checking the sets waits for the first
     * CLBlast product */
    return vg_clblast_load(&g->clblast, g->packed || g->simt);
}

void vg_release(vg_gemm *g)
{
    if (!g->rt) return;
    vg_clblast_release(&g->clblast);
    if (g->pack) vm_free(&g->rt->mem, g->pack);
    if (g->wide) vm_free(&g->rt->mem, g->wide);
    g->pack = g->wide = NULL;
    g->pack_bytes = g->wide_bytes = 0;
}

void vg_describe(const vg_gemm *g, char *buf, size_t n)
{
    vg_clblast_describe(&g->clblast, buf, n);
    size_t used = strlen(buf);
    if (used < n)
        used += (size_t)snprintf(buf + used, n - used, g->packed ? ", packed weights"
                                                        : g->simt ? ", weights [K][N], linear_simt"
                                                                  : ", weights [K][N]");
    if (!g->packed && !g->simt && g->simt_rows && used < n)
        snprintf(buf + used, n - used, ", %s up to %d rows", g->few_splitk ? "linear_splitk" : "linear_simt",
                 g->simt_rows);
}

/* ---- products ---- */

/* linear_packed: rows in blocks of RB = 2, 4 or 8 (one pass over the weights per block); up to 32 rows the
 * smallest block that holds them or 8 (few rows are bandwidth-bound: fewer passes), beyond that 4 (measured on pocl:
 * 8 x 1024 -> 4096 0.35 ms with RB 8, 0.73 with RB 4; from 72 rows RB 4 as fast as 8 or faster, and the last
 * block wastes less). 16-bit weights keep RB 8 beyond 32 rows: each row of a panel is widened to f32 once per block,
 * and 8 rows share that work (the d16 shape's BF16 file kept 16-bit, `vbench --depth 16 --decode off`, batch 1:
 * 2139-2173 ms per image against 2338-2367 with RB 4, and f32 weights 2389-2565, four rounds interleaved; f32 with RB
 * 8 was slower than with 4 in three rounds of three, 2582-2824 against 2450-2679). Rows are split into chunks where panels x batch leave cores idle, and into chunks of at most
 * 256 rows. */
static int linear_packed(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, size_t ldx, vg_weight wt,
                         size_t wt_off, size_t wt_bs, cl_mem y, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K,
                         cl_mem bias, int act)
{
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || ldx > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: product %zux%zux%zu too large", M, N, K);
    int rb = M <= 2 ? 2 : M <= 4 ? 4 : M <= 32 || wt.dtype != VT_F32 ? 8 : 4, which = rb == 2 ? 0 : rb == 4 ? 1 : 2;
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

/* linear_splitk (cl/linear.cl): y = alpha x W (+ act) for few rows, weights [K][N] (ldw = N) of wt.dtype; work-groups
 * of SPLITK_LANES x S over 32 columns each, S slices of K (fewer where K is short: at least 4 k per slice). */
static int linear_splitk(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, size_t ldx, vg_weight wt,
                         size_t wt_off, size_t wt_bs, cl_mem y, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K,
                         cl_mem bias, int act)
{
    const size_t row_blocks = (M + 7) / 8;
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || ldx > INT32_MAX || batch * row_blocks > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: product %zux%zux%zu too large", M, N, K);
    size_t S = (size_t)g->splitk_slices;
    while (S > 1 && 4 * S > K) S /= 2;
    cl_ulong xo = x_off, xs = x_bs, wo = wt_off, ws = wt_bs, yo = y_off, ys = y_bs;
    int m = (int)M, n = (int)N, k = (int)K, lx = (int)ldx, lw = (int)N, ly = (int)N, rb = (int)row_blocks;
    float alpha = 1.0f;
    cl_mem b = act ? bias : wt.buf; /* any valid buffer where there is no bias: the kernel does not read it */
    int d = dtype_index(wt.dtype);
    static const char *const names[3] = {"linear_splitk", "linear_splitk_f16", "linear_splitk_bf16"};
    size_t gsz[3] = {(N + 4 * SPLITK_LANES - 1) / (4 * SPLITK_LANES) * SPLITK_LANES, S, batch * row_blocks};
    size_t lsz[3] = {SPLITK_LANES, S, 1};
    const size_t red_bytes = 8 * S * SPLITK_LANES * 4 * sizeof(float); /* the kernel's __local red */
    return vr_launch(g->rt, g->k_splitk[d], names[d], 3, gsz, lsz, 20, VR_ARG(x), VR_ARG(xo), VR_ARG(xs), VR_ARG(lx),
                     VR_ARG(wt.buf), VR_ARG(wo), VR_ARG(ws), VR_ARG(lw), VR_ARG(y), VR_ARG(yo), VR_ARG(ys), VR_ARG(ly),
                     VR_ARG(m), VR_ARG(n), VR_ARG(k), VR_ARG(alpha), VR_ARG(b), VR_ARG(act), VR_ARG(rb), red_bytes,
                     (const void *)NULL);
}

/* Weights [K][N] with CLBlast for the products: a product of few rows goes to linear_splitk (or linear_simt, policy.h
 * few_splitk), each of which streams W once, in its stored dtype, where `vbench --tune` measured it faster than
 * CLBlast (GPUs: a CLBlast call of 2-72 rows cost about 1.3 ms on the H200, README). */
static int few_rows(const vg_gemm *g, size_t M) { return !g->packed && !g->simt && M <= (size_t)g->simt_rows; }

/* A scratch buffer of g (*buf, *have bytes) grown to `bytes`: freed first, so the pool never holds both. */
static int grow(vg_gemm *g, cl_mem *buf, size_t *have, size_t bytes, const char *what)
{
    if (bytes <= *have) return 0;
    if (*buf) vm_free(&g->rt->mem, *buf);
    *buf = NULL;
    *have = 0;
    if (!(*buf = vm_alloc(&g->rt->mem, VM_SCRATCH, bytes, what))) return VARCL_E_RUNTIME;
    *have = bytes;
    return 0;
}

/* The operand panels of sgemm_packed, grown to `bytes`. */
static int grow_panels(vg_gemm *g, size_t bytes) { return grow(g, &g->pack, &g->pack_bytes, bytes, "GEMM operand panels"); }

/* g->wide = the 16-bit weight matrix of `elems` elements at wt_off of wt, widened to f32 (widen_f16 / widen_bf16). */
static int widen(vg_gemm *g, vg_weight wt, size_t wt_off, size_t elems)
{
    int st = grow(g, &g->wide, &g->wide_bytes, elems * sizeof(float), "weights widened for CLBlast");
    if (st) return st;
    int d = dtype_index(wt.dtype);
    cl_ulong off = wt_off, n = elems;
    size_t gsz = elems;
    return vr_launch(g->rt, g->k_widen[d], d == 1 ? "widen_f16" : "widen_bf16", 1, &gsz, vr_elem_local(g->rt), 4,
                     VR_ARG(wt.buf), VR_ARG(off), VR_ARG(g->wide), VR_ARG(n));
}

/* C = alpha op(A) B on a packed device: B (alpha folded in) into panels, then linear_packed. */
static int sgemm_packed(vg_gemm *g, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A, size_t a_off,
                        size_t lda, cl_mem B, size_t b_off, size_t ldb, cl_mem C, size_t c_off)
{
    int st = grow_panels(g, vg_weight_elems(1, K, N) * sizeof(float));
    if (st) return st;
    if (ldb > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return varcl_fail(VARCL_E_RUNTIME, "internal: product %zux%zux%zu too large", M, N, K);
    cl_ulong bo = b_off;
    int lb = (int)ldb, tb = trans_b, k = (int)K, n = (int)N;
    size_t gsz[2] = {(N + PANEL - 1) / PANEL * PANEL, K};
    st = vr_launch(g->rt, g->k_pack, "pack_panels", 2, gsz, NULL, 8, VR_ARG(B), VR_ARG(bo), VR_ARG(lb), VR_ARG(tb),
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
    if ((g->simt || few_rows(g, M)) && !trans_a && beta == 0.0f)
        return linear_simt(g, 1, A, a_off, 0, lda, (vg_weight){B, VT_F32}, b_off, 0, ldb, trans_b, C, c_off, 0, ldc, M,
                           N, K, alpha, NULL, 0);
    return vg_clblast_sgemm(&g->clblast, trans_a, trans_b, M, N, K, alpha, A, a_off, lda, B, b_off, ldb, beta, C,
                            c_off, ldc);
}

int vg_linear_batched(vg_gemm *g, size_t batch, cl_mem x, size_t x_off, size_t x_bs, vg_weight wt, size_t wt_off,
                      size_t wt_bs, cl_mem y, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K)
{
    if (M == 0 || N == 0 || batch == 0) return 0;
    if (few_rows(g, M) && g->few_splitk)
        return linear_splitk(g, batch, x, x_off, x_bs, K, wt, wt_off, wt_bs, y, y_off, y_bs, M, N, K, NULL, 0);
    if (g->packed)
        return linear_packed(g, batch, x, x_off, x_bs, K, wt, wt_off, wt_bs, y, y_off, y_bs, M, N, K, NULL, 0);
    if (g->simt || few_rows(g, M))
        return linear_simt(g, batch, x, x_off, x_bs, K, wt, wt_off, wt_bs, N, 0, y, y_off, y_bs, N, M, N, K, 1.0f, NULL,
                           0);
    for (size_t b = 0; b < batch; b++) { /* CLBlast: f32 weights, 16-bit ones widened first */
        cl_mem w = wt.buf;
        size_t w_off = wt_off + b * wt_bs;
        int st = 0;
        if (wt.dtype != VT_F32) {
            st = widen(g, wt, w_off, K * N);
            w = g->wide;
            w_off = 0;
        }
        if (!st) st = vg_sgemm(g, 0, 0, M, N, K, 1.0f, x, x_off + b * x_bs, K, w, w_off, N, 0.0f, y, y_off + b * y_bs, N);
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
    if (g->packed) return linear_packed(g, 1, x, x_off, 0, K, wt, wt_off, 0, y, y_off, 0, M, N, K, bias, act);
    if (few_rows(g, M) && g->few_splitk)
        return linear_splitk(g, 1, x, x_off, 0, K, wt, wt_off, 0, y, y_off, 0, M, N, K, bias, act);
    if (g->simt || few_rows(g, M))
        return linear_simt(g, 1, x, x_off, 0, K, wt, wt_off, 0, N, 0, y, y_off, 0, N, M, N, K, 1.0f, bias, act);
    int st = vg_linear(g, x, x_off, wt, wt_off, y, y_off, M, N, K);
    return st ? st : bias_epilogue(g, y, y_off, M, N, bias, act);
}

/* ---- scratch sized before the work: the paths of vg_sgemm and vg_linear_batched above ---- */

int vg_need_sgemm(vg_gemm *g, vg_need *n, int trans_a, int trans_b, size_t M, size_t N, size_t K, size_t a_off,
                  size_t lda, size_t b_off, size_t ldb, float beta, size_t c_off, size_t ldc)
{
    if (M == 0 || N == 0) return 0;
    if (g->packed && !trans_a && beta == 0.0f && ldc == N) { /* sgemm_packed */
        size_t bytes = vg_weight_elems(1, K, N) * sizeof(float);
        if (bytes > n->panels) n->panels = bytes;
        return 0;
    }
    if ((g->simt || few_rows(g, M)) && !trans_a && beta == 0.0f) return 0; /* linear_simt */
    size_t bytes = 0;
    int st = vg_clblast_temp_bytes(&g->clblast, trans_a, trans_b, M, N, K, a_off, lda, b_off, ldb, c_off, ldc, &bytes);
    if (!st && bytes > n->temp) n->temp = bytes;
    return st;
}

int vg_need_linear(vg_gemm *g, vg_need *n, size_t batch, size_t x_off, size_t x_bs, vt_dtype wt_dtype, size_t wt_off,
                   size_t wt_bs, size_t y_off, size_t y_bs, size_t M, size_t N, size_t K)
{
    /* linear_packed, linear_simt and linear_splitk need nothing; CLBlast its temp buffer, and 16-bit weights a
     * widened copy (at offset 0) */
    if (M == 0 || N == 0 || batch == 0 || g->packed || g->simt || few_rows(g, M)) return 0;
    if (wt_dtype != VT_F32 && K * N * sizeof(float) > n->wide) n->wide = K * N * sizeof(float);
    for (size_t b = 0; b < batch; b++) {
        size_t w_off = wt_dtype != VT_F32 ? 0 : wt_off + b * wt_bs;
        int st = vg_need_sgemm(g, n, 0, 0, M, N, K, x_off + b * x_bs, K, w_off, N, 0.0f, y_off + b * y_bs, N);
        if (st) return st;
    }
    return 0;
}

size_t vg_need_extra(const vg_gemm *g, const vg_need *n)
{
    return (n->temp > g->clblast.temp_bytes ? n->temp - g->clblast.temp_bytes : 0) +
           (n->panels > g->pack_bytes ? n->panels - g->pack_bytes : 0) +
           (n->wide > g->wide_bytes ? n->wide - g->wide_bytes : 0);
}

int vg_reserve_need(vg_gemm *g, const vg_need *n)
{
    int st = vg_clblast_reserve(&g->clblast, n->temp);
    if (!st) st = grow_panels(g, n->panels);
    return st ? st : grow(g, &g->wide, &g->wide_bytes, n->wide, "weights widened for CLBlast");
}
