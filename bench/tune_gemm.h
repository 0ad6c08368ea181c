/* tune_gemm: the per-device CLBlast tuning behind `vbench --tune`, and the writer of its file (the reader:
 * host/clblast.c, which defines the file).
 *
 * The caller lists the products of one image (vg_shape, with how often each occurs). Per shape class the largest
 * of them (by FLOPs per image) are timed with every candidate parameter set and with CLBlast's defaults: one
 * warm-up call whose result is checked against a host reference in double on a sample of entries, then the
 * median of a few timed calls. A candidate that fails the check or CLBlast's own call is reported and not used.
 * The winner is the fastest per image of: CLBlast's defaults (which cannot be mixed with sets), the best single set
 * for both classes, or the best set per class plus the measured cost of switching sets between products (CLBlast
 * rebuilds its parameter database on every switch: about 0.6 ms on pocl and on NVIDIA's H200); the simpler option
 * wins unless the other is 2% faster. It times CLBlast itself (clblast.h) whatever product kernel the device's products
 * take (gemm.h): where they take linear_packed or linear_simt, vbench does not call it (nothing runs through CLBlast
 * there). The result goes into the device's tuning file (clblast.h), which vg_clblast_load reads in later runs. */
#ifndef VARCL_TUNE_GEMM_H
#define VARCL_TUNE_GEMM_H

#include "clblast.h"

typedef struct {
    size_t M, N, K;
    int trans_b;      /* B is given as [N][K] (the decoder's attention scores) */
    double per_image; /* how many times it runs per image */
    char what[48];    /* where it occurs first, e.g. "transformer fc1" */
} vg_shape;

#define VG_TUNE_MAX_ROWS 16   /* candidates tried, CLBlast's defaults included */
#define VG_TUNE_MAX_SAMPLE 16 /* shapes timed per class */

enum { VG_TUNE_OK, VG_TUNE_WRONG, VG_TUNE_FAILED, VG_TUNE_UNSUPPORTED, VG_TUNE_NO_SHAPES };

typedef struct {
    char name[32];                   /* "default" or the candidate's name */
    const vg_candidate *cand;        /* NULL for CLBlast's defaults */
    int status[VG_CLASSES];          /* VG_TUNE_* */
    double ms[VG_CLASSES];           /* time per image over the class's timed shapes, ms */
    double gflops[VG_CLASSES];       /* over the same shapes */
    char note[300];                  /* why it was rejected */
} vg_tune_row;

typedef struct {
    int reps;                  /* timed calls per shape after the warm-up (median); >= 1 */
    int max_shapes;            /* shapes timed per class, at most VG_TUNE_MAX_SAMPLE */
    const char *const *names;  /* candidates to try ("default" = CLBlast's); NULL: default + those for the device */
    int n_names;
    void (*progress)(void *user, const char *line);
    void *user;
} vg_tune_opts;

typedef struct {
    vg_tune_row row[VG_TUNE_MAX_ROWS];
    int n_rows;
    int sample[VG_CLASSES][VG_TUNE_MAX_SAMPLE]; /* timed shapes (indices into the caller's list) */
    int n_sample[VG_CLASSES];
    int n_class_shapes[VG_CLASSES];  /* distinct CLBlast products per class */
    double class_gflop[VG_CLASSES];  /* GFLOP per image per class (all its products) */
    double covered[VG_CLASSES];      /* fraction of those FLOPs the timed shapes cover */
    int chosen[VG_CLASSES];          /* row index of the winner per class (-1: the class has no products) */
    /* The choice per image, each class's time scaled up from its timed shapes to all its products (ms): CLBlast's
     * defaults, the best single set for both classes, the best set per class plus the cost of switching between
     * them (at most two switches per product of the rarer class). Infinite where not available. */
    double est_default_ms, est_single_ms, est_pair_ms;
    int single_row;                  /* the best single set (-1: none) */
    double switch_ms, switches;      /* per switch; switches per image */
    vg_tuning tuning;                /* what the file stores */
} vg_tune_result;

/* Tunes on rt's device, which must not have had any GEMM overrides installed in this process yet (CLBlast's
 * defaults are measured first). Unknown candidate names are input errors. Fails when no candidate computes
 * correct results for a class. */
int vg_tune(vr_runtime *rt, const vg_shape *shapes, int n_shapes, const vg_tune_opts *o, vg_tune_result *r);

/* Writes the tuning file (temporary name + rename; creates the directory). `model` names what was measured. */
int vg_tuning_write(const char *path, const vr_device *dev, const char *model, const vg_shape *shapes,
                    const vg_tune_result *r);

/* Creates the file's directory and checks that a file can be written there (before a long tuning run). */
int vg_tuning_check_writable(const char *path);

/* "ok", "wrong", "failed", "unsupported", "-" */
const char *vg_tune_status_name(int status);

#endif
