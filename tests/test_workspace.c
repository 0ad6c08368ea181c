/* The per-request workspace (host/workspace.h): the scratch of a pass (convolution chunks, CLBlast's temp buffer,
 * operand panels) is sized from the model's shapes and reserved before the pass, and the refusal-before-work check
 * counts it. On a fresh object, where nothing has grown yet:
 *   - the refusal figure (varcl_request_bytes) includes the workspace: a device limit between the figure without it
 *     and with it refuses the request up front, with one line and no device allocation;
 *   - a device limit of exactly the figure lets the request run (the figure covers the request's peak), with the
 *     memory pool frozen through the pass (conditions, scale loop, decoder): it succeeds only if no buffer grew
 *     while it ran, and the scratch tag then holds exactly the workspace;
 *   - a second request of the same shape needs no more workspace, a larger batch only the growth.
 * The ctest variants run it through the other product kernels (CLBlast, linear_simt) and Winograd F(4x4, 3x3). */
#include "check.h"
#include "demo.h"
#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int labels[3] = {1, 4, 6};

static varcl_request req(int n)
{
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = labels;
    rq.n = n;
    rq.seed = 3;
    rq.top_k = 20;
    return rq;
}

int main(void)
{
    /* a decoder with attention, 64 channels (Winograd from twice the latent side on) and two up-samplings */
    demo_var_shape vs = {.depth = 4, .width = 64, .heads = 1, .vocab = 128, .classes = 10, .cvae = 32, .tokens = 680};
    demo_vae_shape as = {.ch = 64, .zch = 32, .vocab = 128, .levels = 3, .blocks = 1, .ch_mult = {1, 1, 1},
                         .attn_levels = 1};
    vt_set *var = demo_var(&vs, 21), *vae = demo_vae(&as, 21);
    varcl *v = var && vae ? varcl_open_sets(var, vae, NULL) : NULL;
    CHECK(v != NULL, "open: %s", varcl_last_error());
    if (!v) return check_done();
    vr_runtime *rt = varcl_runtime(v);
    vm_pool *mp = &rt->mem;
    const size_t gm = mp->global_mem;

    varcl_request rq = req(1);
    size_t device = 0, ws = 0, scratch0 = mp->stats.live[VM_SCRATCH]; /* CLBlast devices: the set check's temp */
    int st = varcl_request_bytes(v, &rq, &device, &ws);
    CHECK(st == 0, "request bytes: %s", varcl_last_error());
    printf("fresh object: the request needs %zu device bytes, %zu of them workspace (scratch live %zu)\n", device, ws,
           mp->stats.live[VM_SCRATCH]);
    CHECK(ws > 0 && ws < device, "the figure has a workspace part (%zu of %zu)", ws, device);

    /* a device with room for everything but half the workspace: refused up front */
    size_t live = mp->stats.live_total;
    mp->global_mem = live + device - ws / 2;
    vm_reset_peak(mp);
    varcl_images out;
    st = varcl_generate(v, &rq, &out);
    const char *msg = varcl_last_error();
    CHECK(st == VARCL_E_RUNTIME && strstr(msg, "device bytes") && strstr(msg, "scratch") && !strchr(msg, '\n'),
          "a device without room for the workspace refuses the request in one line: %s", msg);
    CHECK(mp->stats.peak_total == live, "refused before any device allocation (peak %zu, live %zu)",
          mp->stats.peak_total, live);

    /* exactly the figure: the request runs, nothing grows inside its pass, the workspace is all the scratch */
    mp->global_mem = live + device;
    st = varcl_generate(v, &rq, &out);
    CHECK(st == 0, "a device with exactly the figure's room runs the request: %s", varcl_last_error());
    if (!st) {
        CHECK(mp->stats.peak_total <= live + device, "peak %zu within live %zu + the figure %zu", mp->stats.peak_total,
              live, device);
        CHECK(mp->stats.live[VM_SCRATCH] == scratch0 + ws, "scratch after the request (%zu) grew by the workspace (%zu)",
              mp->stats.live[VM_SCRATCH], ws);
        varcl_images_free(&out);
    }
    mp->global_mem = gm;

    /* the same shape again: the workspace is held; a larger batch needs at most its growth */
    size_t device2 = 0, ws2 = 1;
    st = varcl_request_bytes(v, &rq, &device2, &ws2);
    CHECK(st == 0 && ws2 == 0, "a second request needs no workspace (%zu)", ws2);
    varcl_request big = req(3);
    size_t device3 = 0, ws3 = 0, scratch = mp->stats.live[VM_SCRATCH];
    st = varcl_request_bytes(v, &big, &device3, &ws3);
    CHECK(st == 0, "request bytes (batch 3): %s", varcl_last_error());
    st = varcl_generate(v, &big, &out);
    CHECK(st == 0, "batch 3: %s", varcl_last_error());
    if (!st) varcl_images_free(&out);
    CHECK(mp->stats.live[VM_SCRATCH] <= scratch + ws3, "batch 3: scratch %zu within %zu + its workspace %zu",
          mp->stats.live[VM_SCRATCH], scratch, ws3);
    printf("batch 3: %zu more bytes of workspace\n", ws3);

    varcl_close(v);
    vt_free(var);
    vt_free(vae);
    return check_done();
}
