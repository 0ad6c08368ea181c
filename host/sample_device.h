/* sample_device: sampling on the device (cl/sampler.cl), so that only token ids cross to the host, once per pass.
 * Gives exactly host/sample.h's ids (same masking rules, same counter-based random numbers, the same arithmetic from
 * cl/sample_math.cl); the host sampler stays the reference. Used where the policy says (policy.h sample_device).
 *
 *   vsd_init(&s, rt, B, tokens, scales, max_T);
 *   per pass: vsd_begin(&s, image_ids); per scale: vsd_scale(&s, logits, ...); vsd_end(&s, tokens, bad);
 *   vsd_release(&s);
 */
#ifndef VARCL_SAMPLE_DEVICE_H
#define VARCL_SAMPLE_DEVICE_H

#include "runtime.h"

#include <stdint.h>

typedef struct {
    vr_runtime *rt;
    cl_kernel k_combine, k_top_k, k_top_p, k_draw;
    size_t local;      /* work-items per row: a power of two <= SAMPLE_MAX_LOCAL (cl/sampler.cl) */
    int B, tokens, scales, max_T;
    cl_mem image_ids;  /* [B] uint32: the random numbers' image key of each pass row */
    cl_mem all;        /* [B][tokens] int32: every scale's tokens of the pass */
    cl_mem bad;        /* [scales] int32: per scale the lowest row with non-finite combined logits, INT_MAX: none */
    cl_mem kept;       /* [B][max_T] int32: per row the entries still in play */
} vsd_state;

/* Device bytes of vsd_init's buffers for B images of `tokens` tokens over `scales` scales, at most max_T per scale. */
size_t vsd_bytes(int B, int tokens, int scales, int max_T);

/* Buffers for passes of B images. 0, or a status with the error recorded. */
int vsd_init(vsd_state *s, vr_runtime *rt, int B, int tokens, int scales, int max_T);
void vsd_release(vsd_state *s);

/* Starts a pass: image_ids [B] (the random numbers' image of each row), and no bad rows yet. */
int vsd_begin(vsd_state *s, const uint32_t *image_ids);

/* Samples one scale of the pass (nothing is read back). logits: [2][B][T][V], conditional rows first (both halves are
 * overwritten); cfg_a, cfg_u from vs_cfg_factors; top_k <= 0: off; top_p <= 0: off. Writes the B * T ids to
 * `ids` ([B][T] int32, the VQ step's input) and to the pass's tokens at offset `begin` of each image. */
int vsd_scale(vsd_state *s, cl_mem logits, int T, int V, float cfg_a, float cfg_u, int top_k, float top_p,
              uint64_t seed, int si, int begin, cl_mem ids);

/* Ends a pass: reads every scale's tokens ([B][tokens], may be NULL) and the bad rows ([scales], may be NULL). */
int vsd_end(vsd_state *s, int *tokens, int *bad);

#endif
