/* clblast: varcl's only caller of CLBlast. Its SGEMM with an explicitly owned temp buffer (tag scratch, so that memory
 * accounting sees it), the Xgemm parameter sets it runs with, their installation (CLBlast's overrides), and the
 * device's tuning file that chooses them. gemm.c (which product kernel runs a product) and bench/tune_gemm.c (the tuner
 * behind `vbench --tune`, which writes the file) both build on this module.
 *
 * Per-device parameters. CLBlast's Xgemm kernel takes 16 tuning parameters (a "set"); varcl splits products into
 * two shape classes (vg_shape_class) and runs each with one set, or leaves CLBlast's own database values ("CLBlast
 * defaults") in place for both. Where the sets come from (vg_clblast_load), in order:
 *   1. VARCL_GEMM_TUNING=off: CLBlast defaults, nothing else is read;
 *   2. the device's tuning file in the varcl cache directory (written by `vbench --tune`, see bench/tune_gemm.h);
 *   3. where the policy says so (pocl-like devices with room for them): the built-in CPU sets; else CLBlast defaults.
 * Every set is checked against CLBlast's constraints and, once per process and device, against a host reference
 * (on devices whose products do not go through CLBlast, before the first CLBlast product, not at start-up):
 * CLBlastOverrideParameters does not validate and an invalid set computes garbage. CLBlast 1.5.3 cannot restore
 * its database values after an override, so "default" is all or nothing: both classes, or neither. */
#ifndef VARCL_CLBLAST_H
#define VARCL_CLBLAST_H

#include "runtime.h"

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
/* "tuned file", "built-in CPU sets" or "CLBlast defaults" */
const char *vg_source_name(int source);

/* A remembered temp buffer figure (clblast.c temp_need): the set's parameters (0: CLBlast's defaults), M N K and
 * the leading dimensions, transposes and which offsets are non-zero. */
typedef struct {
    size_t params[VG_XGEMM_PARAMS];
    size_t shape[6]; /* M N K lda ldb ldc */
    int flags;
} vg_temp_key;
#define VG_TEMP_MEMO 256

/* CLBlast on one device: the sets in use and the temp buffer of its SGEMM. */
typedef struct {
    vr_runtime *rt;
    cl_mem temp; /* CLBlast's temp buffer (tag scratch), grown on demand or by vg_clblast_reserve */
    size_t temp_bytes;
    int source;    /* VG_PARAMS_*: CLBlast defaults, built-in CPU sets, or the tuning file */
    int use_sets;  /* 1: set[vg_shape_class(M, N, K)] is installed before each product; 0: CLBlast defaults */
    int unchecked; /* set[] not validated yet: checked before the first product (vg_clblast_load's lazy) */
    vg_xgemm_set set[VG_CLASSES];
    char file[1024]; /* the tuning file read (source VG_PARAMS_FILE) */
    /* temp buffer figures asked of CLBlast so far: asking needs the product's set installed, and switching sets
     * costs 0.2-0.6 ms (vg_switch_ms) */
    struct {
        vg_temp_key key;
        size_t bytes;
    } memo[VG_TEMP_MEMO];
    int memo_n, memo_next;
} vg_clblast;

/* CLBlast defaults on rt's device, nothing read or validated (the tuner starts from here). */
void vg_clblast_init(vg_clblast *cb, vr_runtime *rt);
/* Chooses the sets as described above. lazy = 0: validated now; lazy = 1 (devices whose products do not go through
 * CLBlast): before the first product, whose call then fails instead (validating compiles CLBlast's kernels, 10-20 s
 * on a cold pocl cache). Fails on a malformed tuning file or a set outside CLBlast's constraints (input error) or a
 * set that computes wrong results (run-time error); the message names the file and the fix (delete it or rerun
 * `vbench --tune`). */
int vg_clblast_load(vg_clblast *cb, int lazy);
/* Frees the temp buffer. */
void vg_clblast_release(vg_clblast *cb);

/* Switches cb to `linear` and `conv` (validated once per process and device), or to CLBlast defaults when both are
 * NULL. Returns an error when a set fails validation, or when defaults are asked for after an override was
 * installed on this device (CLBlast cannot restore them). */
int vg_use_sets(vg_clblast *cb, const vg_xgemm_set *linear, const vg_xgemm_set *conv);

/* The time one switch between two validated sets costs, ms (CLBlast rebuilds its parameter database on every
 * override: measured 0.2 ms per switch on NVIDIA's OpenCL, which products alternating between the classes pay). */
double vg_switch_ms(vg_clblast *cb, const vg_xgemm_set *a, const vg_xgemm_set *b);

/* "tuned file /path (linear: cpu-linear, conv: cpu-conv)", "CLBlast defaults", ... */
void vg_clblast_describe(const vg_clblast *cb, char *buf, size_t n);

/* The temp buffer bytes that vg_clblast_sgemm with these arguments needs: CLBlast's own figure for the set of the
 * product's class (installed to ask, and validated first where that was left for later), which depends on the
 * transposes, offsets and leading dimensions (they decide what it copies into padded buffers). */
int vg_clblast_temp_bytes(vg_clblast *cb, int trans_a, int trans_b, size_t M, size_t N, size_t K, size_t a_off,
                          size_t lda, size_t b_off, size_t ldb, size_t c_off, size_t ldc, size_t *bytes);
/* Grows the temp buffer to `bytes`, so that products needing at most that allocate nothing. */
int vg_clblast_reserve(vg_clblast *cb, size_t bytes);

/* Row-major C[M][N] = alpha * op(A) * op(B) + beta * C through CLBlast with the set of the product's class,
 * op = transpose when trans_* is set; offsets and leading dimensions in elements. The temp buffer grows when the
 * product needs more than it holds. */
int vg_clblast_sgemm(vg_clblast *cb, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, cl_mem A,
                     size_t a_off, size_t lda, cl_mem B, size_t b_off, size_t ldb, float beta, cl_mem C, size_t c_off,
                     size_t ldc);

/* ---- the tuning file ---- */

#define VG_TUNING_FORMAT 1 /* its "format = " line (bench/tune_gemm.c writes it) */

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
