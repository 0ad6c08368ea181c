/* model: hyperparameters read from tensor shapes, and the weights on the device.
 * VAR (var_d16..d36 key names) and the multi-scale VQ-VAE (vae_ch160v4096z32 key names), VAR_SPEC.md 7.
 * Nothing is sized from anything but the checkpoint: a 2 MB test model takes the same path as VAR-d30. */
#ifndef VARCL_MODEL_H
#define VARCL_MODEL_H

#include "gemm.h"
#include "runtime.h"
#include "tensors.h"

#define VAR_MAX_SCALES 16
#define VAR_MAX_DEPTH 128
#define VAE_MAX_LEVELS 8
#define VAE_MAX_BLOCKS 8
#define VAE_MAX_PHI 32 /* phi convolutions: 1 (shared), K (partially shared) or one per scale (non-shared) */
#define VAR_HEAD_DIM 64 /* every VAR model: width = 64 x heads */

typedef struct {
    int depth, C, heads, ffn, vocab, classes, cvae;
    int scales, patch[VAR_MAX_SCALES], begin[VAR_MAX_SCALES + 1]; /* begin[si] .. begin[si+1]: tokens of si */
    int tokens;     /* L = 680 (256 px) or 2240 (512 px) */
    int latent;     /* last patch size: 16 or 32 */
    int shared_aln; /* d36 style: shared_ada_lin + per-block ada_gss */
} var_hparams;

typedef struct {
    int ch, zch, vocab, levels, blocks; /* blocks per level in the decoder (num_res_blocks + 1) */
    int ch_mult[VAE_MAX_LEVELS], has_attn[VAE_MAX_LEVELS], has_up[VAE_MAX_LEVELS];
    int mid_attn;
    int upsamples; /* image side = latent << upsamples */
    int phis;      /* phi convolutions (upstream's quant_resi): scale si uses vq_phi_index(si, scales, phis) */
    char phi_prefix[32]; /* their names: prefix + k ("quantize.quant_resi.qresi_ls." or "quantize.quant_resi."),
                          * or the prefix alone for the one shared phi ("quantize.quant_resi.qresi") */
    int phi_shared;
} vae_hparams;

/* A convolution (3x3 or 1x1) as GEMM weights, bias [cout]. wt: [k*k*cin][cout] (tap-major, see conv.cl), or for
 * a 3x3 taking a Winograd path F(m x m, 3x3) (wino = m = 2 or 4; chosen at load time, see conv.h)
 * U [(m+2)^2][cin][cout] instead. */
typedef struct {
    vg_weight wt;
    cl_mem b;
    int cin, cout, k;
    int wino;
} vw_conv;
typedef struct {
    cl_mem gamma, beta; /* [C] */
    int C;
} vw_norm;
typedef struct {
    vw_norm norm1, norm2;
    vw_conv conv1, conv2, nin; /* nin.wt NULL when in == out */
} vw_res;
typedef struct {
    vw_norm norm;
    vw_conv qkv, proj; /* 1x1: [C][3C], [C][C] */
} vw_attn;

/* Weight matrices (_wt) are K x N, [in][out], in the device's layout and storage dtype (gemm.h, wload.h). */
typedef struct {
    vg_weight qkv_wt;           /* [C][3C] */
    cl_mem q_bias, v_bias;      /* [C] */
    cl_mem scale_mul;           /* [H] (log scale, clamped in the kernel) */
    vg_weight proj_wt;          /* [C][C] */
    cl_mem proj_b;              /* [C] */
    vg_weight fc1_wt;           /* [C][F] */
    cl_mem fc1_b;               /* [F] */
    vg_weight fc2_wt;           /* [F][C] */
    cl_mem fc2_b;               /* [C] */
    vg_weight ada_wt;           /* [C][6C]; shared AdaLN: buf NULL */
    cl_mem ada_b;               /* [6C]; shared AdaLN: ada_gss [6C] */
} var_block;

/* What a load read and stored. */
typedef struct {
    size_t file_bytes;      /* bytes of the checkpoint's tensors read */
    size_t matrix_bytes[3]; /* device bytes of weight matrices stored as f32, f16, bf16 */
    double ms;              /* wall time */
    int cache;              /* WC_*: what the weight cache did (wcache.h) */
    char cache_why[200];    /* the same in words: "read in place", "written", "off (...)", "not used: ..." */
} vw_load_stats;

typedef struct {
    var_hparams hp;
    var_block *blocks;          /* [depth] */
    vg_weight word_wt;          /* [Cvae][C] */
    cl_mem word_b;              /* [C] */
    cl_mem lvl_embed;           /* [scales][C] */
    cl_mem pos;                 /* [L][C] */
    vg_weight head_ada_wt;      /* [C][2C] */
    cl_mem head_ada_b;          /* [2C] */
    vg_weight head_wt;          /* [C][V] */
    cl_mem head_b;              /* [V] */
    vg_weight shared_ada_wt;    /* [C][6C] (shared AdaLN only) */
    cl_mem shared_ada_b;        /* [6C] (shared AdaLN only) */
    float *class_emb;           /* host [classes + 1][C]: rows are gathered on the host */
    float *start;               /* host [2][C]: pos_start, then lvl_embed[0] + pos_1LC[0] (step-0 input) */
    size_t params;              /* parameter count (weights read) */
    vw_load_stats load;
    struct wc_cache *wcache;    /* the weight cache its buffers may lie in (closed at var_unload), or NULL */
} var_model;

typedef struct {
    vae_hparams hp;
    cl_mem codebook;            /* [V][Cvae] */
    vw_conv phi[VAE_MAX_PHI];   /* [hp.phis] 3x3 Cvae -> Cvae */
    vw_conv post_quant, conv_in, conv_out;
    vw_res mid1, mid2;
    vw_attn mid_attn;
    vw_res up_block[VAE_MAX_LEVELS][VAE_MAX_BLOCKS];
    vw_attn up_attn[VAE_MAX_LEVELS][VAE_MAX_BLOCKS];
    vw_conv up_conv[VAE_MAX_LEVELS];
    vw_norm norm_out;
    vw_load_stats load;
    struct wc_cache *wcache;    /* as var_model's */
} vae_model;

/* Shapes only (no device): used by loading, --info and tests. Errors name the file and tensor. */
int var_read_hparams(const vt_set *s, var_hparams *hp);
int vae_read_hparams(const vt_set *s, vae_hparams *hp);

/* Uploads the weights (tag weights / vae), weight matrices stored as `weights` asks (VARCL_WEIGHTS_*, varcl.h):
 *   keep: as the checkpoint stores them: f16 and bf16 stay 16-bit (exact), f32 stays f32; Winograd's U = G g G^T
 *         is no 16-bit number, so it is f32;
 *   f32, f16, bf16: every matrix in that dtype (rounded to nearest even where it narrows).
 * Every product reads 16-bit matrices (gemm.h vg_weight; CLBlast's through a widened copy per call). Biases, norms
 * and embeddings are f32. On failure everything uploaded so far is released.
 * weight_cache: VARCL_WCACHE_AUTO keeps the stored tensors in the weight cache where the device's buffers are host
 * memory, and reads them there in place on the next load of the same file (wcache.h); VARCL_WCACHE_OFF never. */
int var_load(vr_runtime *rt, const vt_set *s, int weights, int weight_cache, var_model *m);
void var_unload(vr_runtime *rt, var_model *m);
int vae_load(vr_runtime *rt, const vt_set *s, int weights, int weight_cache, vae_model *m);
void vae_unload(vr_runtime *rt, vae_model *m);

#endif
