/* test_sample_device: the device sampler (cl/sampler.cl through host/sample_device.h) gives exactly the host
 * sampler's ids (host/sample.h, the reference) and the same first bad row, on rows made to hit every rule: ties at
 * the top-k threshold and inside the top-p cut, flat rows, one dominant entry, NaN, infinities, -0, huge values,
 * rows with nothing finite; for top-k / top-p pairs from off to extreme, several CFG factors and every work-group
 * size from 1 to the largest the device takes. VARCL_TEST_TINY=1 (Oclgrind): fewer and shorter rows. */
#include "check.h"
#include "error.h"
#include "ref.h"
#include "runtime.h"
#include "sample.h"
#include "sample_device.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vr_runtime rt;
static uint64_t rng = 2024;

static double unif(void) /* [0, 1) */
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) * 0x1p-53;
}

static float gauss(void)
{
    const double u = unif() + 1e-12, v = unif();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

enum { ROW_GAUSS, ROW_COARSE, ROW_FLAT, ROW_DOMINANT, ROW_SPECIAL, ROW_HUGE, ROW_SIGNED_ZERO, ROW_NONE, ROW_KINDS };

/* One row pair (cond, uncond) of kind `kind`. */
static void make_row(int kind, int V, float *c, float *u)
{
    for (int i = 0; i < V; i++) {
        c[i] = 3 * gauss();
        u[i] = 3 * gauss();
    }
    switch (kind) {
    case ROW_COARSE: /* values on a grid of 0.5: groups of equal logits at every threshold */
        for (int i = 0; i < V; i++) {
            c[i] = floorf(c[i] * 2) / 2;
            u[i] = 0;
        }
        break;
    case ROW_FLAT:
        for (int i = 0; i < V; i++) c[i] = u[i] = 0.25f;
        break;
    case ROW_DOMINANT: /* one winner over equal values */
        for (int i = 0; i < V; i++) c[i] = u[i] = 0;
        c[V / 3] = 12;
        break;
    case ROW_SPECIAL: /* NaN, +inf, -inf on either side */
        c[1] = NAN;
        c[V / 2] = INFINITY;
        c[V - 1] = -INFINITY;
        u[2] = INFINITY;
        break;
    case ROW_HUGE: /* logit - max overflows to -inf in float for the most negative */
        for (int i = 0; i < V; i++) {
            c[i] = (i % 3 == 0) ? 3e38f : (i % 3 == 1) ? -3e38f : 1e30f * gauss();
            u[i] = 0;
        }
        break;
    case ROW_SIGNED_ZERO:
        for (int i = 0; i < V; i++) {
            c[i] = (i % 2) ? -0.0f : 0.0f;
            u[i] = 0;
        }
        c[V - 2] = -1;
        break;
    case ROW_NONE: /* nothing finite after the combine */
        for (int i = 0; i < V; i++) {
            c[i] = (i % 2) ? NAN : -INFINITY;
            u[i] = 0;
        }
        break;
    default:
        break;
    }
}

typedef struct {
    int top_k;
    float top_p;
} filt;

/* Samples B images x T tokens with the host team and on the device (local size `local`) and compares. */
static void compare_case(int B, int T, int V, const float *logits, float ca, float cu, filt f, int si, uint64_t seed,
                         const uint32_t *image_ids, size_t local, const char *what)
{
    const int rows = B * T, tokens = 3 * T, begin = T; /* this scale's tokens in the middle of each image's */
    int *want = malloc((size_t)rows * sizeof *want), *got = malloc((size_t)B * tokens * sizeof *got);
    int bad[10];
    vs_team *team = vs_team_new(V, 2);
    vs_rows r = {logits, logits + (size_t)rows * V, rows, T, ca, cu, f.top_k, f.top_p, seed, 0, (uint32_t)si,
                 image_ids};
    const int want_bad = vs_team_sample(team, &r, want);
    vs_team_free(team);

    vsd_state s;
    int st = vsd_init(&s, &rt, B, tokens, 10, T);
    CHECK(st == 0, "%s: vsd_init: %s", what, varcl_last_error());
    if (st) goto out;
    s.local = local;
    cl_mem buf = vm_alloc_copy(&rt.mem, VM_SCRATCH, (size_t)2 * rows * V * sizeof(float), logits, "test logits");
    cl_mem ids = vm_alloc(&rt.mem, VM_SCRATCH, (size_t)rows * sizeof(int), "test ids");
    int *init = malloc((size_t)B * tokens * sizeof *init);
    for (int i = 0; i < B * tokens; i++) init[i] = -7; /* the other scales' places must stay as they were */
    st = vr_write(&rt, s.all, 0, (size_t)B * tokens * sizeof(int), init);
    if (!st) st = vsd_begin(&s, image_ids);
    if (!st) st = vsd_scale(&s, buf, T, V, ca, cu, f.top_k, f.top_p, seed, si, begin, ids);
    int *direct = malloc((size_t)rows * sizeof *direct);
    float *masked = malloc((size_t)rows * V * sizeof *masked);
    if (!st) st = vsd_end(&s, got, bad);
    if (!st) st = vr_read(&rt, ids, 0, (size_t)rows * sizeof(int), direct);
    /* the masks themselves (a draw shows a wrong mask only when the entry in question wins) */
    if (!st) st = vr_read(&rt, buf, 0, (size_t)rows * V * sizeof(float), masked);
    CHECK(st == 0, "%s: device sampler: %s", what, varcl_last_error());
    if (!st) {
        int same = 1, first = -1, kept_rest = 1, same_direct = 1;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < tokens; t++) {
                const int g = got[b * tokens + t];
                if (t < begin || t >= begin + T) {
                    kept_rest &= g == -7;
                    continue;
                }
                const int w = want[b * T + t - begin];
                same_direct &= direct[b * T + t - begin] == g;
                if (g != w && same) {
                    same = 0;
                    first = b * T + t - begin;
                }
            }
        CHECK(same, "%s: device id %d != host id %d at row %d", what, got[(first / T) * tokens + begin + first % T],
              want[first < 0 ? 0 : first], first);
        CHECK(same_direct, "%s: the VQ step's ids differ from the pass's tokens", what);
        vs_sampler *one = vs_new(V);
        float *row = malloc((size_t)V * sizeof *row);
        int mask_rows = 0, first_mask = -1;
        for (int k = 0; k < rows && one && row; k++) {
            vs_cfg_combine(logits + (size_t)k * V, logits + ((size_t)rows + k) * V, ca, cu, (size_t)V, row);
            vs_mask(one, row, f.top_k, f.top_p);
            if (memcmp(row, masked + (size_t)k * V, (size_t)V * sizeof *row)) {
                mask_rows++;
                if (first_mask < 0) first_mask = k;
            }
        }
        CHECK(one && row && mask_rows == 0, "%s: %d rows masked differently from the host (first: row %d)", what,
              mask_rows, first_mask);
        vs_free(one);
        free(row);
        CHECK(kept_rest, "%s: tokens outside this scale's place were overwritten", what);
        int others = 1;
        for (int i = 0; i < 10; i++) others &= i == si || bad[i] == INT_MAX;
        const int dev_bad = bad[si] == INT_MAX ? -1 : bad[si];
        CHECK(dev_bad == want_bad && others, "%s: first bad row device %d, host %d (or another scale's set)", what,
              dev_bad, want_bad);
    }
    free(init);
    free(direct);
    free(masked);
    vm_free(&rt.mem, buf);
    vm_free(&rt.mem, ids);
    vsd_release(&s);
out:
    free(want);
    free(got);
}

int main(void)
{
    const int tiny = getenv("VARCL_TEST_TINY") != NULL;
    int st = vr_open(&rt, NULL, 0);
    CHECK(st == 0, "vr_open: %s", varcl_last_error());
    if (st) return check_done();
    printf("device: %s\n", rt.dev.name);

    const int V = tiny ? 96 : 4096, B = 2, T = tiny ? ROW_KINDS : 3 * ROW_KINDS, rows = B * T;
    float *logits = malloc((size_t)2 * rows * V * sizeof *logits);
    for (int r = 0; r < rows; r++)
        make_row(r % ROW_KINDS, V, logits + (size_t)r * V, logits + ((size_t)rows + r) * V);
    const uint32_t image_ids[2] = {5, 0xFFFFFFF0u};

    const filt full[] = {{0, 0},     {1, 0},       {1, 0.5f},   {5, 0},     {900, 0.96f}, {0, 0.96f},  {0, 0.5f},
                         {V, 0.9f},  {V + 10, 0},  {50, 0.999f}, {3, 1e-9f}, {0, 1.0f},   {2, 0.95f}, {V - 1, 0.3f}, {0, 0.75f}};
    const filt few[] = {{0, 0}, {1, 0}, {5, 0.5f}, {0, 0.96f}, {V, 0.9f}, {3, 1e-9f}};
    const filt *fs = tiny ? few : full;
    const int nf = tiny ? (int)(sizeof few / sizeof *few) : (int)(sizeof full / sizeof *full);

    size_t kmax = 256, dev_max = 0;
    clGetDeviceInfo(rt.dev.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof dev_max, &dev_max, NULL);
    if (dev_max && dev_max < kmax) kmax = dev_max;
    const size_t locals[] = {1, 2, 4, 8, 16, 64, 256};
    char what[128];
    for (int fi = 0; fi < nf; fi++) {
        /* scale 0 (a = 1, u = 0: u * inf is NaN, a bad row), a middle and the last scale's guidance */
        const int si = fi % 3 == 0 ? 0 : fi % 3 == 1 ? 4 : 9;
        float ca, cu;
        vs_cfg_factors(fi % 2 ? 4.0 : 1.5, si, 10, &ca, &cu);
        for (size_t li = 0; li < sizeof locals / sizeof *locals; li++) {
            /* the sizes the device computes right on (policy.h sample_local_min: llvmpipe needs 8) */
            if (locals[li] > kmax || locals[li] < rt.policy.sample_local_min || (tiny && li % 2)) continue;
            snprintf(what, sizeof what, "top-k %d top-p %g scale %d local %zu", fs[fi].top_k, (double)fs[fi].top_p, si,
                     locals[li]);
            compare_case(B, T, V, logits, ca, cu, fs[fi], si, 1000 + (uint64_t)fi * 0x100000001ULL, image_ids,
                         locals[li], what);
        }
    }

    /* the sampler fixture's crafted rows (ten-way tie at a top-k threshold, a winner over 63 equal values, ...) */
    if (!tiny) {
        int ndim = 0;
        long long shape[8] = {0};
        float *fx = ref_read_npy(check_data("sampler/logits.npy"), &ndim, shape);
        const int ok = fx && ndim == 2;
        CHECK(ok, "cannot read tests/data/sampler/logits.npy as a 2-D float array");
        if (ok) {
            const int FR = (int)shape[0], FV = (int)shape[1];
            float *two = calloc((size_t)2 * FR * FV, sizeof *two);
            memcpy(two, fx, (size_t)FR * FV * sizeof *fx);
            const int ks[] = {0, 1, 5, 10, 11, 64};
            const float ps[] = {0, 0.05f, 0.5f, 0.9f, 0.96f, 0.999f};
            const uint32_t one_image[2] = {0, 1};
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++) {
                    snprintf(what, sizeof what, "fixture rows, top-k %d top-p %g", ks[a], (double)ps[b]);
                    compare_case(1, FR, FV, two, 1.0f, 0.0f, (filt){ks[a], ps[b]}, 3, 77, one_image,
                                 kmax < 64 ? kmax : 64, what);
                }
            free(two);
        }
        free(fx);
    }
    free(logits);
    vr_close(&rt);
    return check_done();
}
