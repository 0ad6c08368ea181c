/* gemm: every dense product goes through here, and it is the only caller of CLBlast. Products with weights (linear
 * layers, convolutions as GEMMs) take the weights in the device's layout (see "Weights" below): packed for
 * cl/linear.cl's linear_packed on pocl, Wt[in][out] for CLBlast on GPUs and for linear_simt on llvmpipe. Temp buffers are passed in explicitly so
 * that memory accounting sees them (tag scratch).
 *
 * Per-device GEMM parameters. CLBlast's Xgemm kernel takes 16 tuning parameters (a "set"); varcl splits products
 * into two shape classes (vg_shape_class) and runs each with one set, or leaves CLBlast's own database values
 * ("CLBlast defaults") in place for both. Where the sets come from, in order:
 *   1. VARCL_GEMM_TUNING=off: CLBlast defaults, nothing else is read;
 *   2. the device's tuning file in the varcl cache directory (written by `vbench --tune`, see gemm_tune.c);
 *   3. where the policy says so (pocl-like devices with room for them): the built-in CPU sets; else CLBlast defaults.
 * Every set is checked against CLBlast's constraints and, once per process and device, against a host reference
 * (on devices with packed weights before the first CLBlast product, not at start-up):
 * CLBlastOverrideParameters does not validate and an invalid set computes garbage. CLBlast 1.5.3 cannot restore
 * its database values after an override, so "default" is all or nothing: both classes, or neither. */
#ifndef VARCL_GEMM_H
#define VARCL_GEMM_H

#include "runtime.h"
#include "tensors.h"

#include <stddef.h>

#define VG_XGEMM_PARAMS 16
/* CLBlast 1.5.3's Xgemm parameter names, in the order of vg_xgemm_set.v */
extern const char *const vg_xgemm_names[VG_XGEMM_PARAMS];

typedef struct {
    char name[32];                /* candidate name ("cpu-linear", ...) or "custom" */
    size_t v[VG_XGEMM_PARAMS];    /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
} vg_xgemm_set;

/* Shape classes: "conv" for shallow (K < 512), narrow (N < 128) and tall-narrow (M >= 16384, N <= 320) products,
 * "linear" for the rest. Measured on pocl: the CPU conv set wins on the former (decoder 65536 x 1440 -> 160: 68 vs
 * 52 GFLOP/s), the CPU linear set on the transformer's products of width >= 512 (84-101 vs 80-97). */
enum { VG_CLASS_LINEAR, VG_CLASS_CONV, VG_CLASSES };
extern const char *const vg_class_names[VG_CLASSES]; /* "linear", "conv" */
int vg_shape_class(size_t M, size_t N, size_t K);

/* Candidate sets that `vbench --tune` tries (GEMMK = 0 only: GEMMK = 1 computed wrong results on pocl 3.1). */
typedef struct {
    vg_xgemm_set set;
    cl_device_type types; /* device types it is tried on (CL_DEVICE_TYPE_CPU / _GPU) */
    const char *origin;   /* where it comes from, for the tuning table */
} vg_candidate;
extern const vg_candidate vg_candidates[];
extern const int vg_n_candidates;
/* The candidate named `name`, or NULL. */
const vg_candidate *vg_find_candidate(const char *name);

/* 0 when `s` meets CLBlast's Xgemm constraints (divisibility, GEMMK = 0) and, with `dev` given, the device's
 * limits (work-group size, local memory). Otherwise non-zero with the reason in why[n]. */
int vg_xgemm_check(const vg_xgemm_set *s, const vr_device *dev, char *why, size_t n);
/* "GEMMK=0 KREG=1 ..." */
void vg_xgemm_format(const vg_xgemm_set *s, char *buf, size_t n);

/* Where the sets in use came from (vbench reports it). */
enum { VG_PARAMS_DEFAULT, VG_PARAMS_BUILTIN, VG_PARAMS_FILE };

typedef struct {
    vr_runtime *rt;
    cl_mem temp; /* CLBlast's temp buffer, grown on demand */
    size_t temp_bytes;
    int source;   /* VG_PARAMS_*: CLBlast defaults, built-in CPU sets, or the tuning file */
    int use_sets; /* 1: set[vg_shape_class(M, N, K)] is installed before each product; 0: CLBlast defaults */
    int unchecked; /* set[] not validated yet: packed devices check them before their first CLBlast product */
    vg_xgemm_set set[VG_CLASSES];
    char file[1024]; /* the tuning file read (source VG_PARAMS_FILE) */
    int packed;   /* weights in the packed layout, products with them through linear_packed (vg_packed_layout) */
    int simt;     /* weights [K][N], products through linear_simt instead of CLBlast (policy.h VP_PRODUCT_SIMT) */
    int simt_cols; /* columns per linear_simt work-item: 4 (linear_simt) or 8 (linear_simt8), policy.h simt_cols */
    int simt_rows; /* CLBlast devices: products of at most this many rows through linear_simt (policy.h simt_rows) */
    cl_kernel k_simt[3], k_simt8[3]; /* [weights f32, f16, bf16] */
    cl_kernel k_simt8w;              /* linear_simt8 over 64-bit pairs (f32, even offsets and strides) */
    int units;    /* the device's compute units (packed: enough work-items for all of them) */
    cl_kernel k_packed[3][3]; /* [weights f32, f16, bf16][linear_packed2, 4, 8] */
    cl_kernel k_bias, k_gelu; /* add_bias, bias_gelu: the epilogues after CLBlast */
    cl_kernel k_pack;         /* pack_panels: computed operands of vg_sgemm into panels (packed devices) */
    cl_mem pack;              /* their panels, grown on demand */
    size_t pack_bytes;
} vg_gemm;

/* Sets up GEMMs on rt's device with the parameters chosen as described above, each set validated first (packed
 * devices: before the first CLBlast product, whose call then fails instead). Fails on a malformed tuning file or a
 * set outside CLBlast's constraints (input error) or a set that computes wrong results (run-time error); the
 * message names the file and the fix (delete it or rerun `vbench --tune`). */
int vg_init(vg_gemm *g, vr_runtime *rt);
/* The same without reading a tuning file or validating: CLBlast defaults (the tuner starts from here). */
int vg_init_untuned(vg_gemm *g, vr_runtime *rt);
void vg_release(vg_gemm *g);

/* Switches g to `linear` and `conv` (validated once per process and device), or to CLBlast defaults when both are
 * NULL. Returns an error when a set fails validation, or when defaults are asked for after an override was
 * installed on this device (CLBlast cannot restore them). */
int vg_use_sets(vg_gemm *g, const vg_xgemm_set *linear, const vg_xgemm_set *conv);

/* The time one switch between two validated sets costs, ms (CLBlast rebuilds its parameter database on every
 * override: measured 0.2 ms per switch on NVIDIA's OpenCL, which products alternating between the classes pay). */
double vg_switch_ms(vg_gemm *g, const vg_xgemm_set *a, const vg_xgemm_set *b);

/* One line for reports: "tuned file /path (linear: cpu-linear, conv: cpu-conv), packed weights". */
void vg_describe(const vg_gemm *g, char *buf, size_t n);
/* "tuned file", "built-in CPU sets" or "CLBlast defaults" */
const char *vg_source_name(int source);

/* Grows CLBlast's temp buffer (where products run through CLBlast) to what y[M][N] = x[M][K] W[K][N] needs, so that
 * the product itself allocates nothing (a scale loop's products are reserved at their largest M before it). */
int vg_reserve(vg_gemm *g, size_t M, size_t N, size_t K);

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
/* 1 when the device's products with weights can read them stored in 16 bits (f16, bf16): linear_packed and
 * linear_simt can, CLBlast's SGEMM reads f32 only. Chosen with the layout at load time (policy.h product). */
int vg_weights16(const vr_runtime *rt);
/* A weight matrix on the device and the dtype of its elements: f32, or (where vg_weights16) f16 / bf16, which
 * linear_packed and linear_simt widen to f32 as they read them. */
typedef struct {
    cl_mem buf;
    vt_dtype dtype; /* VT_F32, VT_F16 or VT_BF16 */
} vg_weight;
/* 1 when products on g's device can read weights stored as `dtype` (f32: always; f16 and bf16: packed layout or
 * linear_simt; the CLBlast path reads f32 only). */
int vg_weight_dtype_ok(const vg_gemm *g, vt_dtype dtype);
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

/* ---- the tuning file (gemm_tune.c) ---- */

/* What a tuning file holds. */
typedef struct {
    int use_sets;                 /* 0: CLBlast defaults for both classes */
    vg_xgemm_set set[VG_CLASSES];
} vg_tuning;

/* The device's tuning file: <cache dir>/gemm-<hash of device name, driver and platform version>.ini, the cache
 * dir as for program binaries ($VARCL_CACHE_DIR, else $XDG_CACHE_HOME/varcl, else ~/.cache/varcl). "" when the
 * cache is off (VARCL_CACHE_DIR=off) or no directory is known. */
void vg_tuning_path(const vr_device *dev, char *buf, size_t n);
/* Reads and checks a tuning file (syntax, device, constraints; not the reference check). *found = 0 and status 0
 * when there is no file; an input error naming the file and the fix when it is malformed or for another device. */
int vg_tuning_read(const char *path, const vr_device *dev, vg_tuning *t, int *found);

#endif
