/* classifier: the small image classifier that measures generated images (vbench --quality), run by the engine.
 *
 * The network is the recipe's (models/recipe/classifier.py, trained with the demo model and shipped as
 * classifier.safetensors): the image as 4x4 box means at 64 x 64 px, in [0, 1]; four stages of 3x3 convolution
 * (zero padding 1) + bias, ReLU and 2x2 max-pooling (3 -> 16 -> 32 -> 64 -> 64 channels by default: the counts
 * are read from the file); global average pooling to the features [F]; a linear layer to the logits [classes].
 * Tensors: conv{0..3}.weight [Cout][Cin][3][3], conv{0..3}.bias [Cout], fc.weight [classes][F], fc.bias
 * [classes], in any dtype the reader takes (the shipped file is bf16; products compute in f32).
 *
 * It runs on the engine's kernels: cl/classifier.cl (box down-sampling, ReLU + max-pool, average pool) and the
 * decoder's im2col convolution and products (conv.h, gemm.h), on the device of the runtime it is loaded on. */
#ifndef VARCL_CLASSIFIER_H
#define VARCL_CLASSIFIER_H

#include "conv.h"
#include "gemm.h"
#include "model.h"
#include "runtime.h"
#include "tensors.h"

#include <stdint.h>

#define VCLS_STAGES 4
#define VCLS_SIDE 64 /* input side in pixels: images of side 64 k are averaged over k x k blocks */

typedef struct {
    vr_runtime *rt;
    vg_gemm gemm;
    vc_conv conv;
    int have_gemm, have_conv;
    int channels[VCLS_STAGES + 1]; /* 3, then each stage's output channels */
    int features, classes;         /* features = channels[VCLS_STAGES] */
    vw_conv stage[VCLS_STAGES];    /* im2col weights [9 * Cin][Cout] (tap-major) and bias [Cout] */
    vg_weight fc_wt;               /* [features][classes] */
    cl_mem fc_b;                   /* [classes] */
    cl_kernel k_down, k_pool, k_mean;
} vcls_model;

/* Loads the classifier in tensor set s onto rt's device. Returns 0, or VARCL_E_INPUT (a missing tensor or a shape
 * that does not chain: the message names the file and the tensor) or VARCL_E_RUNTIME (device); on failure *m
 * holds nothing to release. */
int vcls_load(vcls_model *m, vr_runtime *rt, const vt_set *s);
void vcls_release(vcls_model *m);

/* Classifies n images rgb [n][size][size][3] (8-bit RGB, size a positive multiple of VCLS_SIDE): writes
 * logits [n][classes] and features [n][features] (either may be NULL). Images go through the device in groups
 * that bound its memory. Returns 0, VARCL_E_INPUT for a bad size or count, VARCL_E_RUNTIME for the device. */
int vcls_forward(vcls_model *m, const uint8_t *rgb, int n, int size, float *logits, float *features);

#endif
