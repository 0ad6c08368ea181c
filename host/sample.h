/* sample: turning one row of logits into one token id, on the host.
 * Owns the classifier-free-guidance combine, upstream's top-k / top-p masking (VAR_SPEC.md 3.1) and the
 * counter-based random numbers that make a draw depend only on (seed, image, scale, token), never on batch
 * size or device (DESIGN.md "Sampling and reproducibility"). Pure C; no OpenCL.
 *
 *   vs_sampler *s = vs_new(4096);
 *   vs_cfg_combine(cond, uncond, t, 4096, row);
 *   int id = vs_sample(s, row, 900, 0.96f, seed, image, scale, token);
 *   vs_free(s);
 */
#ifndef VARCL_SAMPLE_H
#define VARCL_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vs_sampler vs_sampler;

/* Scratch for one vocabulary row; every later call uses it without allocating.
 * NULL on allocation failure or vocab <= 0 (varcl_fail recorded). A sampler is not shared between threads. */
vs_sampler *vs_new(int vocab);
void vs_free(vs_sampler *s);

/* Counter-based uniform in the open interval (0,1), keyed by (seed, image, scale, token, index):
 * Philox4x32-10 with key = the 64-bit seed (low word first) and counter = (image, scale, token, index); the top 23
 * bits of the first output word, (bits + 0.5) 2^-23. Same inputs -> same number on any machine and device. */
float vs_uniform(uint64_t seed, uint32_t image, uint32_t scale, uint32_t token, uint32_t index);

/* The arithmetic shared with the device sampler (cl/sample_math.cl, which documents ranges and accuracy):
 * Philox4x32-10 in place, e^x for x <= 0, log of a positive normal float, 1/s correctly rounded for s in [1, 2^23]. */
void vs_philox(uint32_t *ctr, uint32_t k0, uint32_t k1);
float vs_expf(float x);
float vs_logf(float x);
float vs_recipf(float s);

/* Upstream's top-p threshold fp32(1 - p), with p read as the shortest decimal that rounds to it (what the user
 * typed: upstream's Python float). */
float vs_top_p_threshold(float top_p);

/* The guidance factors of scale si of `scales` for the user's cfg, as upstream rounds them (VAR_SPEC.md 3, step
 * 7.3): ratio = si / (scales - 1) and t = cfg * ratio in double, then a = fp32(1 + t) and u = fp32(t), each rounded
 * once. (fp32 arithmetic is 1 ulp off at cfg 1.5 for si = 4, 5, 7, 8, enough to flip near-ties.) */
void vs_cfg_factors(double cfg, int si, int scales, float *a, float *u);

/* out[i] = a * cond[i] - u * uncond[i] (classifier-free guidance combine with vs_cfg_factors' a and u, float math:
 * two rounded products and one rounded difference, as upstream). out may be cond or uncond. */
void vs_cfg_combine(const float *cond, const float *uncond, float a, float u, size_t n, float *out);

/* Upstream masking on one row of `vocab` logits, in place: removed entries become -INFINITY. Returns the number
 * kept (entries left finite). top_k <= 0 or top_k >= vocab: no top-k. top_p <= 0: no top-p.
 * (Callers validate ranges.) NaN entries count as removed (they become -INFINITY); +INFINITY becomes FLT_MAX.
 * top_p is read as the decimal it was written as (0.96f as 0.96), as upstream's Python float was.
 * Where the top-p cut falls inside a group of equal logits, the lowest ids of the group are the ones kept. */
int vs_mask(vs_sampler *s, float *logits, int top_k, float top_p);

/* Masks (as vs_mask) then draws one token id: the argmax over kept i of p_i / E_i with
 * E_i = -log(vs_uniform(seed, image, scale, token, i)) and p = softmax of the masked logits (only kept entries
 * need a random number), evaluated as argmax (logit_i - max) - log(E_i) with cl/sample_math.cl's logs in float.
 * top_k == 1: plain argmax, no randomness, exact ties go to the lowest id.
 * NaN logits never crash or give an out-of-range id: NaN counts as -inf; if nothing finite remains, returns 0. */
int vs_sample(vs_sampler *s, float *logits, int top_k, float top_p, uint64_t seed, uint32_t image,
              uint32_t scale, uint32_t token);

/* ---- many rows at once, on several host threads ---- */

/* The rows of one scale of one pass: row r is token r % T of pass image r / T, whose random numbers are keyed by
 * image_ids[r / T] (NULL: image0 + r / T); its logits are the CFG combine of cond[r] and uncond[r] (rows of `vocab`)
 * with factors cfg_a, cfg_u (vs_cfg_factors). */
typedef struct {
    const float *cond, *uncond;
    int rows, T;
    float cfg_a, cfg_u;
    int top_k;
    float top_p;
    uint64_t seed;
    uint32_t image0, scale;
    const uint32_t *image_ids; /* [rows / T] or NULL */
} vs_rows;

typedef struct vs_team vs_team;
/* Samplers and row buffers for up to `threads` host threads (<= 0: VARCL_HOST_THREADS if set, else one per online
 * CPU, at most 16). NULL on allocation failure or a bad VARCL_HOST_THREADS (varcl_fail recorded). */
vs_team *vs_team_new(int vocab, int threads);
void vs_team_free(vs_team *t);
int vs_team_threads(const vs_team *t);
/* ids[r] = the token of row r: vs_cfg_combine then vs_sample, the rows split over the team's threads (the calling
 * thread among them). Every draw depends only on its own row and key, so the ids are the same for any number of
 * threads; if a thread cannot be started its rows run on the others.
 * Returns -1, or the first row whose combined logits hold a NaN or an infinity (upstream's sampler stops there:
 * a model that makes them is broken, and its tokens would be meaningless). */
int vs_team_sample(vs_team *t, const vs_rows *r, int *ids);

#endif
