/* policy_tune: the work-group sizes that device queries cannot tell, measured on the device and kept per device and
 * driver in varcl's cache (like the GEMM tuning file, clblast.h).
 *
 * vp_choose (policy.h) sets every work shape from queries alone. Three of them depend on how a driver maps
 * work-items onto lanes and threads, which no query reports: the element-wise kernels' group (rusticl on llvmpipe
 * ran an add 6x faster in groups of 64 than in its own choice), linear_simt's group along the columns, and the
 * per-query attention's group (also qk_norm_store's). `vbench --tune` times each kernel with every candidate size on
 * shapes of the model (vp_wg_measure) and writes the winners (vp_wg_write) to
 *
 *   <cache>/policy-<hash of device, driver, platform>.ini:
 *     format = 1, device = .., driver = .., platform = .., date = .., family = cpu|gpu
 *     elem_local = N, simt_local = N, attn_local = N     (each optional; 0: the driver's choice)
 *     simt_rows = N      (optional; where CLBlast runs the products: linear_simt for products of <= N rows)
 *
 * vr_open applies the file over vp_choose's defaults when its family is the policy's (VARCL_POLICY can force the
 * other), and names it in the policy's reason. VARCL_POLICY_TUNING=off ignores it. */
#ifndef VARCL_POLICY_TUNE_H
#define VARCL_POLICY_TUNE_H

#include "runtime.h"

#define VP_WG_MAX_CAND 8

/* VP_WG_ROWS is not a work-group size: the rows up to which a product with [K][N] weights goes to linear_simt rather
 * than CLBlast (policy.h simt_rows), timed where CLBlast runs the products */
enum { VP_WG_ELEM, VP_WG_SIMT, VP_WG_ATTN, VP_WG_ROWS, VP_WG_KINDS };

typedef struct {
    int measured;                /* 0: this family does not use the setting (e.g. attn_local with the blocked kernel) */
    char shape[96];              /* what was timed, e.g. "linear_simt 338 x 128 -> 512" */
    size_t cand[VP_WG_MAX_CAND]; /* local sizes tried (0: the driver's choice); VP_WG_ROWS: rows of the product */
    double ms[VP_WG_MAX_CAND];   /* median per launch (ms); NAN where the launch failed; VP_WG_ROWS: linear_simt's */
    double ms_clblast[VP_WG_MAX_CAND]; /* VP_WG_ROWS only: CLBlast's median for the same product */
    int n, best;                 /* best: index into cand (VP_WG_ROWS: -1 when CLBlast won at the fewest rows) */
    size_t value;                /* the setting chosen: cand[best], or VP_WG_ROWS' row count (0: none) */
} vp_wg_row;

typedef struct {
    vp_wg_row row[VP_WG_KINDS];
} vp_wg_result;

/* The model shapes the timings use: width C, the tokens of the 13x13 scale T, CFG rows R, KV length at the last
 * scale kv_len. */
typedef struct {
    int C, T, R, kv_len;
} vp_wg_shape;

/* "element-wise", "linear_simt", "attention", "few-row products" */
extern const char *const vp_wg_names[VP_WG_KINDS];

/* The file for this device ("" when the cache is off). */
void vp_wg_path(const vr_device *dev, char *buf, size_t n);

/* Times the settings rt's policy family uses: for each candidate one warm-up launch, then the median of `reps`
 * launches each waited for (host clock); the fastest wins unless the family's default is within 5% of it. Buffers
 * hold small values (no NaN work). Candidates beyond the kernel's work-group limit are skipped. Run-time errors,
 * and VARCL_POLICY's input error. */
int vp_wg_measure(vr_runtime *rt, const vp_wg_shape *shape, int reps, vp_wg_result *r);

/* Writes the file (framed, temporary name + rename): the winners, and every timing as comment lines. */
int vp_wg_write(const char *path, const vr_runtime *rt, const vp_wg_result *r);

/* Reads the device's file, if any, into rt->policy when its family matches (vr_open calls it after vp_choose). A
 * damaged frame is ignored (the defaults are correct, only slower); a file that parses wrong, or names a size the
 * device cannot run, is an input error naming the file. */
int vp_wg_apply(vr_runtime *rt);

#endif
