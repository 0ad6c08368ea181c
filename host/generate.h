/* generate: the generation loop that ties plan, forward, sample, vq and vae together, and the library object
 * behind varcl.h. */
#ifndef VARCL_GENERATE_H
#define VARCL_GENERATE_H

#include "tensors.h"
#include "varcl.h"

/* Opens a device and loads models from tensor sets already in memory (the demo model, tests). p: device,
 * profiling and weights as for varcl_open (its paths are not read); NULL: VARCL_OPEN_DEFAULT. */
varcl *varcl_open_sets(const vt_set *var, const vt_set *vae, const varcl_open_params *p);

/* The runtime behind a varcl object (tests and benchmarks: device facts, memory accounting). */
#include "runtime.h"
vr_runtime *varcl_runtime(varcl *v);
/* FLOPs of one image under the request's plan: transformer (both CFG rows, attention and head) + decoder.
 * -1 for an invalid plan (error recorded). */
double varcl_flops_per_image(const varcl *v, const varcl_request *rq, int with_decode);
/* The refusal-before-work figure of a request (varcl_generate refuses it when the device, as varcl counts it, has
 * fewer free bytes): *device bytes the request adds to what varcl holds now, *workspace of them the growth of the
 * products' and convolutions' scratch (workspace.h). 0, or the request's input error. */
int varcl_request_bytes(varcl *v, const varcl_request *rq, size_t *device, size_t *workspace);
/* The late scales' layer list of the request's plan; returns its length (-1 on error). layers: [model depth]. */
int varcl_plan_layers(const varcl *v, const varcl_request *rq, int *layers);

#endif
