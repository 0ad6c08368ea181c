/* plan: VARiant's scheduler as pure C. Subnet layer lists for D = 30, explicit lists, the per-scale layer lists,
 * tokens and pages per layer, and the KV saving it implies (VAR_SPEC.md section 9). */
#include "check.h"
#include "error.h"
#include "kv.h"
#include "plan.h"

#include <stdio.h>
#include <string.h>

static const int P256[10] = {1, 2, 3, 4, 5, 6, 8, 10, 13, 16};

static int same(const int *a, const int *b, int n) { return memcmp(a, b, (size_t)n * sizeof *a) == 0; }

int main(void)
{
    int got[30];
    const int d1[] = {0}, d2[] = {0, 29}, d4[] = {0, 9, 19, 29}, d8[] = {0, 4, 8, 12, 16, 20, 24, 29},
              d16[] = {0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29};
    vp_subnet(30, 1, got), CHECK(same(got, d1, 1), "d=1 -> layer 0");
    vp_subnet(30, 2, got), CHECK(same(got, d2, 2), "d=2 -> 0,29");
    vp_subnet(30, 4, got), CHECK(same(got, d4, 4), "d=4 -> 0,9,19,29");
    vp_subnet(30, 8, got), CHECK(same(got, d8, 8), "d=8 -> 0,4,8,12,16,20,24,29");
    vp_subnet(30, 16, got), CHECK(same(got, d16, 16), "d=16 -> 0,1,3,...,29");
    vp_subnet(30, 30, got);
    int ok = 1;
    for (int i = 0; i < 30; i++) ok &= got[i] == i;
    CHECK(ok, "d=30 -> every layer");

    /* per-scale lists, tokens, pages and the KV saving at VAR-d30's shape */
    const int depths[] = {2, 8, 16, 30};
    const double saving[] = {0.808, 0.635, 0.404, 0.0};
    for (int k = 0; k < 4; k++) {
        vp_plan p;
        int st = vp_make(&p, 30, 10, P256, depths[k], NULL, 0, 6);
        CHECK(st == 0, "plan d=%d: %s", depths[k], varcl_last_error());
        int lt = 0;
        for (int si = 0; si < 10; si++)
            CHECK(p.n_run[si] == (si < 6 ? 30 : depths[k]), "d=%d scale %d runs %d layers", depths[k], si, p.n_run[si]);
        for (int l = 0; l < 30; l++) lt += p.layer_tokens[l];
        CHECK(lt == 30 * 91 + depths[k] * 589, "d=%d: %d layer-tokens", depths[k], lt);
        double s = 1.0 - lt / 20400.0;
        CHECK(s > saving[k] - 0.001 && s < saving[k] + 0.001, "d=%d: KV saving %.3f", depths[k], s);
        printf("d=%-2d layer-tokens %5d, KV saving vs full %.1f%%, pages at P=16 (2 rows): %zu\n", depths[k], lt,
               100 * s, vk_pages_needed(&p, 2, 16));
        if (depths[k] == 2) {
            CHECK(p.layer_tokens[0] == 680 && p.layer_tokens[29] == 680 && p.layer_tokens[1] == 91,
                  "d=2: layers 0 and 29 store 680 tokens, layer 1 stores 91");
            CHECK(vp_layer_pages(&p, 0, 16) == 43 && vp_layer_pages(&p, 1, 16) == 6, "pages: ceil(680/16), ceil(91/16)");
            CHECK(vk_pages_needed(&p, 2, 16) == (size_t)2 * (2 * 43 + 28 * 6), "pages of the request");
            CHECK(vp_runs(&p, 9, 29) && !vp_runs(&p, 9, 1) && vp_runs(&p, 5, 1), "vp_runs");
        }
    }
    /* FLOPs: early scales equal, late scales shrink with depth */
    vp_plan full, sub;
    vp_make(&full, 30, 10, P256, 0, NULL, 0, 6);
    vp_make(&sub, 30, 10, P256, 2, NULL, 0, 6);
    CHECK(vp_scale_flops(&full, 3, 1920, 7680, 4096) == vp_scale_flops(&sub, 3, 1920, 7680, 4096), "early scale FLOPs");
    CHECK(vp_scale_flops(&sub, 9, 1920, 7680, 4096) < 0.2 * vp_scale_flops(&full, 9, 1920, 7680, 4096),
          "late scale FLOPs shrink");

    /* explicit lists and full_scales */
    vp_plan p;
    const int ok_list[] = {1, 5, 9};
    CHECK(vp_make(&p, 10, 10, P256, 0, ok_list, 3, 3) == 0 && p.n_run[2] == 10 && p.n_run[3] == 3 &&
              same(p.run[9], ok_list, 3),
          "explicit list 1,5,9 after 3 full scales");
    CHECK(vp_make(&p, 10, 10, P256, 0, NULL, 0, 0) == 0 && p.n_run[0] == 10, "depth 0 means the full network");
    CHECK(vp_make(&p, 10, 10, P256, 1, NULL, 0, 10) == 0 && p.n_run[9] == 10, "full_scales = scales: all full");
    const int dup[] = {1, 1}, unsorted[] = {3, 1}, range[] = {0, 10};
    CHECK(vp_make(&p, 10, 10, P256, 0, dup, 2, 6) == VARCL_E_INPUT && strstr(varcl_last_error(), "twice"),
          "duplicate layer refused: %s", varcl_last_error());
    CHECK(vp_make(&p, 10, 10, P256, 0, unsorted, 2, 6) == VARCL_E_INPUT && strstr(varcl_last_error(), "ascending"),
          "unsorted list refused: %s", varcl_last_error());
    CHECK(vp_make(&p, 10, 10, P256, 0, range, 2, 6) == VARCL_E_INPUT && strstr(varcl_last_error(), "out of range"),
          "out-of-range layer refused: %s", varcl_last_error());
    CHECK(vp_make(&p, 10, 10, P256, 2, ok_list, 3, 6) == VARCL_E_INPUT, "depth and list together refused");
    CHECK(vp_make(&p, 10, 10, P256, 11, NULL, 0, 6) == VARCL_E_INPUT, "depth beyond the model refused");
    CHECK(vp_make(&p, 10, 10, P256, 2, NULL, 0, 11) == VARCL_E_INPUT, "full scales beyond the scales refused");
    return check_done();
}
