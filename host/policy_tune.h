/* policy_tune: the work-group sizes that device queries cannot tell, measured on the device and kept per device and
 * driver in varcl's cache (like the GEMM tuning file, clblast.h).
 *
 * vp_choose (policy.h) sets every work shape from queries alone. Three of them depend on how a driver maps
 * work-items onto lanes and threads, which no query reports: the element-wise kernels' group (rusticl on llvmpipe
 * ran an add 6x faster in groups of 64 than in its own choice), linear_simt's group along the columns, and the
 * per-query attention's group (also qk_norm_store's). `vbench --tune` times each kernel with every candidate size on
 * shapes of the model and writes the winners (bench/tune_policy.h) to
 *
 *   <cache>/policy-<hash of device, driver, platform>.ini:
 *     format = 1, device = .., driver = .., platform = .., date = .., family = cpu|gpu
 *     elem_local = N, simt_local = N, attn_local = N     (each optional; 0: the driver's choice)
 *     simt_rows = N      (optional; where CLBlast runs the products: the few-row kernel for products of <= N rows)
 *     few_rows_kernel = splitk|simt   (the kernel simt_rows was timed with: linear_splitk or linear_simt; the
 *                        threshold applies only while that kernel is the policy's, VARCL_FEW_ROWS)
 *
 * vr_open applies the file over vp_choose's defaults when its family is the policy's (VARCL_POLICY can force the
 * other), and names it in the policy's reason. VARCL_POLICY_TUNING=off ignores it. */
#ifndef VARCL_POLICY_TUNE_H
#define VARCL_POLICY_TUNE_H

#include "runtime.h"

#define VP_WG_FORMAT 1 /* the file's `format` line */

/* VP_WG_ROWS is not a work-group size: the rows up to which a product with [K][N] weights goes to linear_simt rather
 * than CLBlast (policy.h simt_rows), timed where CLBlast runs the products */
enum { VP_WG_ELEM, VP_WG_SIMT, VP_WG_ATTN, VP_WG_ROWS, VP_WG_KINDS };

/* the file's keys: "elem_local", "simt_local", "attn_local", "simt_rows" */
extern const char *const vp_wg_keys[VP_WG_KINDS];

/* The file for this device ("" when the cache is off). */
void vp_wg_path(const vr_device *dev, char *buf, size_t n);

/* Reads the device's file, if any, into rt->policy when its family matches (vr_open calls it after vp_choose). A
 * damaged frame is ignored (the defaults are correct, only slower); a file that parses wrong, or names a size the
 * device cannot run, is an input error naming the file. */
int vp_wg_apply(vr_runtime *rt);

#endif
