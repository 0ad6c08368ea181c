/* demo: random-weight models generated in memory with the upstream key names, from a seed.
 * The built-in demo model (VAR-d30's structure at width 128, a ch-32 VQ-VAE) and the tiny models of the tests
 * are made here; they load through exactly the same code as a checkpoint file. Their images are noise. */
#ifndef VARCL_DEMO_H
#define VARCL_DEMO_H

#include <stdint.h>

#include "tensors.h"

typedef struct {
    int depth, width, heads, vocab, classes, cvae, tokens; /* tokens: 680 (256 px) or 2240 (512 px) */
    int shared_aln;
} demo_var_shape;

typedef struct {
    int ch, zch, vocab, levels, blocks; /* blocks per decoder level (upstream: num_res_blocks + 1 = 3) */
    int ch_mult[8];
    int attn_levels; /* attention in the lowest-resolution level and mid when 1 */
} demo_vae_shape;

/* The built-in demo model's shapes. */
demo_var_shape demo_var_default(void);
demo_vae_shape demo_vae_default(void);

vt_set *demo_var(const demo_var_shape *shape, uint64_t seed);
vt_set *demo_vae(const demo_vae_shape *shape, uint64_t seed);
/* The elements (all tensors, buffers included) those sets hold, without making them: what a shape costs in memory
 * (f32) before minutes of generation (mkmodel). */
int64_t demo_var_elems(const demo_var_shape *shape);
int64_t demo_vae_elems(const demo_vae_shape *shape);

#endif
