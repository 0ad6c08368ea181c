/* tune_policy: `vbench --tune` times the work-group sizes that device queries cannot tell and writes the device's
 * file of them (its format and its reader: host/policy_tune.h). */
#ifndef VARCL_TUNE_POLICY_H
#define VARCL_TUNE_POLICY_H

#include "policy_tune.h"

#define VP_WG_MAX_CAND 8

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

/* Times the settings rt's policy family uses: for each candidate one warm-up launch, then the median of `reps`
 * launches each waited for (host clock); the fastest wins unless the family's default is within 5% of it. Buffers
 * hold small values (no NaN work). Candidates beyond the kernel's work-group limit are skipped. Run-time errors,
 * and VARCL_POLICY's input error. */
int vp_wg_measure(vr_runtime *rt, const vp_wg_shape *shape, int reps, vp_wg_result *r);

/* Writes the file (framed, temporary name + rename): the winners, and every timing as comment lines. */
int vp_wg_write(const char *path, const vr_runtime *rt, const vp_wg_result *r);

#endif
