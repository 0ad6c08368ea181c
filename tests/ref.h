/* ref: the plain C reference of the whole VAR inference pipeline (VAR_SPEC.md sections 2-5, 9).
 * Ground truth for the OpenCL engine's tests: single-threaded, fp32 products, double where a sum is free.
 *
 * Layouts (the same as the OpenCL engine, so kernel tests compare buffers directly):
 *   activations   token-major float [rows][C]; rows run over (cfg row b in 0..2B-1) x (token in scale, row-major)
 *   feature maps  channels-last HWC float [H][W][C]
 *   f-hat         per image [latent*latent][Cvae] (HWC)
 *   images        [H][W][3]
 *   weights       as torch stores them: Linear [out][in], Conv2d [out][in][kh][kw]
 * Every function below may be called in place only where it says so. */
#ifndef VARCL_TESTS_REF_H
#define VARCL_TESTS_REF_H

#include "tensors.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------------------------
 * Primitive ops (ref_ops.c). */

/* y[r][:] = (x[r][:] - mean) / sqrt(var + eps), biased variance, no affine (LayerNorm without weights).
 * x, y: [rows][C]; in place allowed. */
void ref_layernorm(const float *x, float *y, int rows, int C, float eps);

/* y[r][o] = b[o] + sum_i x[r][i] * W[o][i].  x: [rows][in], W: [out][in], b: [out] or NULL, y: [rows][out].
 * Not in place. */
void ref_linear(const float *x, const float *W, const float *b, float *y, int rows, int in, int out);

/* AdaLN modulation: y[r][c] = x[r][c] * (1 + scale[c]) + shift[c] for all rows (one cfg row's vectors).
 * x, y: [rows][C]; scale, shift: [C]; in place allowed. */
void ref_modulate(const float *x, float *y, int rows, int C, const float *scale, const float *shift);

/* tanh-approximated GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place on n floats. */
void ref_gelu_tanh(float *x, size_t n);
/* SiLU x * sigmoid(x), in place on n floats. */
void ref_silu(float *x, size_t n);

/* VAR attention input preparation, in place on one row of q and one row of k ([H*dh] each):
 * per head q <- q / max(|q|, 1e-12) * exp(min(scale_mul[h], ln 100)); k <- k / max(|k|, 1e-12).
 * scale_mul: [H] (the log-space scale_mul_1H11). Either q or k may be NULL. */
void ref_qk_l2norm(float *q, float *k, int H, int dh, const float *scale_mul);

/* Multi-head attention for one batch row, no mask:
 *   out[i][h*dh + d] = sum_j softmax_j(scale * <q[i][h], k[j][h]>) * v[j][h*dh + d]
 * q: [nq][ldq], k: [nk][ldk], v: [nk][ldv], out: [nq][ldo]; head h occupies columns h*dh .. h*dh+dh-1.
 * The VAR transformer uses scale 1 (q already L2-normalised and scaled); the VAE uses H = 1, scale C^-0.5. */
void ref_attention(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, float *out, int ldo,
                   int nq, int nk, int H, int dh, float scale);

/* PyTorch upsample_bicubic2d, align_corners=False, A = -0.75, scale = in/out in fp32, source coordinate not
 * clamped, taps clamped; x first, then y. in: [n][n][C], out: [S][S][C] (n == S: copy). */
void ref_bicubic(const float *in, int n, float *out, int S, int C);

/* F.interpolate(mode='area') = adaptive average pooling S -> n: cell i averages rows floor(i S / n) ..
 * ceil((i+1) S / n) - 1 and the same columns. in: [S][S][C], out: [n][n][C]. */
void ref_area(const float *in, int S, float *out, int n, int C);

/* 3x3 convolution, stride 1, zero padding 1. in: [H][W][Cin], w: [Cout][Cin][3][3], b: [Cout] or NULL,
 * out: [H][W][Cout]. Not in place. */
void ref_conv3x3_hwc(const float *in, int H, int W, int Cin, const float *w, const float *b, int Cout, float *out);

/* 1x1 convolution = ref_linear over H*W rows. in: [HW][Cin], w: [Cout][Cin] (or [Cout][Cin][1][1]),
 * out: [HW][Cout]. Not in place. */
void ref_conv1x1_hwc(const float *in, int HW, int Cin, const float *w, const float *b, int Cout, float *out);

/* GroupNorm over a channels-last map: G groups of C/G consecutive channels, statistics over HW x (C/G) in double,
 * biased variance, then y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]. in, out: [HW][C]; in place allowed. */
void ref_groupnorm_hwc(const float *in, float *out, int HW, int C, int G, float eps, const float *gamma,
                       const float *beta);

/* Nearest-neighbour x2 upsampling. in: [H][W][C], out: [2H][2W][C]. */
void ref_upsample2x_hwc(const float *in, int H, int W, int C, float *out);

/* VQ-VAE AttnBlock (single head, fused qkv 1x1 conv, scale C^-0.5, residual):
 *   out = x + proj_out(attn(qkv(GN(x))))
 * x, out: [HW][C] (in place allowed); norm_w/b: [C]; qkv_w: [3C][C], qkv_b: [3C] (order q, k, v);
 * proj_w: [C][C], proj_b: [C]. GroupNorm 32 groups, eps 1e-6. */
void ref_vae_attn(const float *x, float *out, int HW, int C, const float *norm_w, const float *norm_b,
                  const float *qkv_w, const float *qkv_b, const float *proj_w, const float *proj_b);

/* VQ-VAE ResnetBlock: h = conv1(SiLU(GN1(x))); h = conv2(SiLU(GN2(h))); out = shortcut(x) + h, the shortcut a
 * 1x1 conv (nin_w [Cout][Cin], nin_b) when nin_w is not NULL, else identity (Cin == Cout).
 * x: [H][W][Cin], out: [H][W][Cout] (not in place). GroupNorm 32 groups, eps 1e-6. */
void ref_vae_resblock(const float *x, float *out, int H, int W, int Cin, int Cout, const float *norm1_w,
                      const float *norm1_b, const float *conv1_w, const float *conv1_b, const float *norm2_w,
                      const float *norm2_b, const float *conv2_w, const float *conv2_b, const float *nin_w,
                      const float *nin_b);

/* The phi mix: out = 0.5 * h + 0.5 * (conv3x3(h; w, b)). h, out: [S][S][C] (not in place). */
void ref_phi(const float *h, int S, int C, const float *w, const float *b, float *out);

/* The phi index of scale si (VAR_SPEC 4): the table 0,0,1,1,1,2,2,3,3,3 for 10 scales; otherwise
 * argmin |linspace(1/12, 11/12, 4) - si/(scales-1)| in double. */
int ref_phi_index(int si, int scales);

/* ------------------------------------------------------------------------------------------------------------
 * The model (ref_model.c). */

typedef struct ref_model ref_model;

/* Reads every tensor inference needs (as f32 copies) and derives all sizes from their shapes.
 * NULL + varcl_fail on a missing or misshaped tensor. Neither set is referenced after the call. */
ref_model *ref_model_load(const vt_set *var, const vt_set *vae);
void ref_model_free(ref_model *m);

int ref_model_depth(const ref_model *m);
int ref_model_scales(const ref_model *m);
int ref_model_tokens(const ref_model *m);     /* L: 680 (256 px) or 2240 (512 px) */
int ref_model_latent(const ref_model *m);     /* last patch side: 16 or 32 */
int ref_model_image_size(const ref_model *m); /* latent * 2^(number of decoder upsamples) */
int ref_model_cvae(const ref_model *m);
int ref_model_width(const ref_model *m);   /* C */
int ref_model_heads(const ref_model *m);   /* H */
int ref_model_vocab(const ref_model *m);   /* V */
int ref_model_classes(const ref_model *m); /* class_emb rows - 1; that row is the null class */
int ref_model_shared_aln(const ref_model *m);
const int *ref_model_patch_nums(const ref_model *m); /* [scales] */
/* The first token of scale si (sum of pn^2 over the earlier scales). */
int ref_model_scale_begin(const ref_model *m, int si);

typedef struct {
    int B;
    const int *labels; /* B class ids; the null class is row `classes` of class_emb */
    double cfg;
    int top_k;
    float top_p;
    uint64_t seed;
    const unsigned char *run; /* [scales][depth]: 1 = layer runs at this scale; NULL = every layer at every scale.
                                 A layer that does not run at a scale leaves x unchanged and stores no K/V for it;
                                 later scales of that layer attend over what it did store (VAR_SPEC section 9). */
    /* Optional extensions (zero-initialise to leave them off): */
    const int *force_tokens;  /* [B][L]: use these tokens instead of sampling (teacher forcing); NULL = sample */
    int keep_logits;          /* 1: fill out->logits */
} ref_gen_params;

typedef struct {
    int *tokens;    /* [B][L] (L = 680), scales concatenated, each row-major */
    float *fhat;    /* [scales][B][latent*latent][Cvae]: f-hat after each scale */
    float *images;  /* [B][S][S][3] in [0,1]: decoder output clamped to [-1,1] then (x+1)*0.5 */
    float *logits;  /* [B][L][V]: CFG-combined logits before sampling (only with keep_logits; else NULL) */
} ref_gen_out;

/* Runs autoregressive_infer_cfg (VAR_SPEC 3) and decodes. Returns 0 or an error status (varcl_fail recorded);
 * out's arrays are malloc'd (free with ref_gen_out_free). Sampling and the CFG combine go through host/sample.h
 * (vs_cfg_combine, vs_sample with image = b, scale = si, token = index within the scale). */
int ref_generate(const ref_model *m, const ref_gen_params *p, ref_gen_out *out);
void ref_gen_out_free(ref_gen_out *o);

/* post_quant_conv -> decoder -> clamp [-1,1] -> (x+1)*0.5. fhat: [latent*latent][Cvae], image: [S][S][3]. */
int ref_decode(const ref_model *m, const float *fhat, float *image);

/* One VQ step (VAR_SPEC 4, get_next_autoregressive_input) for one image: h = codebook rows of tokens[pn*pn];
 * scale si < last: f-hat += phi(bicubic(h -> latent)); last: f-hat += phi_3(h). next (when not NULL and
 * si < last): area(f-hat -> pn of si+1), [pn'*pn'][Cvae]. fhat: [latent*latent][Cvae], updated in place. */
int ref_vq_step(const ref_model *m, int si, const int *tokens, float *fhat, float *next);

/* ------------------------------------------------------------------------------------------------------------
 * Test data readers (ref_io.c). All return malloc'd arrays, NULL + varcl_fail on error. */

/* A little-endian float32 (<f4) or float16 (<f2, converted) C-order .npy file; *ndim and shape[0..ndim-1]
 * (at most 8 dims) receive its shape. */
float *ref_read_npy(const char *path, int *ndim, long long *shape /*[8]*/);

/* {"tokens": [ per image: [ per scale: [ids...] ] ]} (any other keys ignored): the tokens flattened per image over
 * scales, [n_images][n_per_image]. Every image must have the same count. */
int *ref_read_tokens_json(const char *path, int *n_images, int *n_per_image);

#endif
