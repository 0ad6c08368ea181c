/* varcl: VAR and VARiant image generation on any OpenCL device. The public API.
 *
 *   varcl_open_params op = VARCL_OPEN_DEFAULT;          // NULL paths: the built-in demo model
 *   varcl *v = varcl_open(&op);
 *   if (!v) { fprintf(stderr, "%s\n", varcl_last_error()); ... }
 *   int labels[] = {207, 360};
 *   varcl_request rq = VARCL_REQUEST_DEFAULT;
 *   rq.labels = labels; rq.n = 2; rq.seed = 1;
 *   varcl_images out;
 *   if (varcl_generate(v, &rq, &out) == VARCL_OK) { ... out.rgb ... }
 *   varcl_images_free(&out);
 *   varcl_close(v);
 *
 * The library never prints, exits or aborts: a call returns a status (VARCL_OK, VARCL_E_INPUT for bad input,
 * VARCL_E_RUNTIME for device failures) or NULL, and varcl_last_error() says what went wrong. */
#ifndef VARCL_H
#define VARCL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct varcl varcl;

/* How weight matrices are stored on the device. KEEP: as the checkpoint stores them (16-bit stays 16-bit: half the
 * memory, the same values); the others convert. Products always compute in f32. */
enum { VARCL_WEIGHTS_KEEP, VARCL_WEIGHTS_F32, VARCL_WEIGHTS_F16, VARCL_WEIGHTS_BF16 };
/* The weight cache (host/wcache.h): AUTO, where the device's buffers are host memory (CPU devices), the tensors of a
 * checkpoint file as the device stores them are kept in varcl's cache directory and read there in place on the
 * next load of that file (no conversion, no fresh memory); OFF: never. */
enum { VARCL_WCACHE_AUTO, VARCL_WCACHE_OFF };

typedef struct {
    const char *model_path; /* VAR safetensors; NULL = the built-in demo model (builtin.h) */
    const char *vae_path;   /* VQ-VAE safetensors; required with model_path, ignored for the demo model */
    const char *device;     /* index or substring of platform/device/vendor; NULL = $VARCL_DEVICE or default */
    int profiling;          /* 1: queue with profiling enabled (vbench) */
    int weights;            /* VARCL_WEIGHTS_*: storage of weight matrices (default KEEP) */
    int weight_cache;       /* VARCL_WCACHE_*: the weight cache (default AUTO) */
} varcl_open_params;
#define VARCL_OPEN_DEFAULT {NULL, NULL, NULL, 0, VARCL_WEIGHTS_KEEP, VARCL_WCACHE_AUTO}

typedef struct {
    const int *labels; /* n class ids, one image each */
    int n;
    uint64_t seed;     /* random numbers are keyed by (seed, image index, scale, token) */
    double cfg;        /* guidance, >= 0; ramps as cfg * si / (scales - 1) (vs_cfg_factors: upstream's rounding) */
    int top_k;         /* >= 0; 0 = off; 1 = argmax */
    float top_p;       /* in [0, 1]; 0 = off */
    int batch;         /* images per device pass; 0 = all n */
    int depth;         /* VARiant subnet depth for the late scales; 0 = the model's depth (full network) */
    int full_scales;   /* scales run by every layer (default 6) */
    const int *layers; /* explicit subnet (ascending), instead of depth */
    int n_layers;
    int page_tokens;   /* KV page size in tokens (default 16) */
    int kv_f16;        /* 1: K/V stored as f16 (half the KV memory; math stays f32) */
    size_t kv_pool_bytes; /* 0 = pool sized per request; else a fixed pool shared by requests (a request needing
                             more KV is refused before device work: VARCL_E_INPUT) */
    int keep_fhat;     /* 1: return f-hat after every scale (tests) */
    int skip_decode;   /* 1: stop after the last scale (rgb and image are left zero; benchmarks) */
    const uint32_t *image_ids; /* n ids that key the images' random numbers; NULL: each image's index 0..n-1 */
    int pad_passes;    /* 1: every pass runs `batch` rows, a short one padded (the extra images are dropped), so an
                          image's arithmetic never depends on how many images share its pass (vgen --per-class) */
    void (*progress)(void *user, int image0, int images, int scale, int scales);
    void *user;
} varcl_request;
#define VARCL_REQUEST_DEFAULT {.cfg = 1.5, .top_k = 900, .top_p = 0.96f, .full_scales = 6, .page_tokens = 16}

typedef struct {
    int n, size;           /* images, side in pixels */
    uint8_t *rgb;          /* [n][size][size][3], 8-bit by truncation of x * 255 */
    float *image;          /* [n][size][size][3] in [0, 1] */
    int scales, patch[16]; /* the token layout */
    int tokens_per_image;  /* 680 at 256 px */
    int *tokens;           /* [n][tokens_per_image], scales concatenated, each row-major */
    int latent, cvae;      /* f-hat is [latent * latent][cvae] per image */
    float *fhat;           /* keep_fhat: [scales][n][latent * latent][cvae] */
    size_t kv_bytes;       /* KV bytes the request used (pages x page bytes), largest pass */
    double ms_transformer, ms_sample, ms_vq, ms_decode; /* host wall time per part, summed over passes */
    int split_merged; /* 1: sampling on the device; ms_transformer holds transformer + sampling + VQ step (the host
                         does not wait between them), ms_sample and ms_vq are 0 */
    double ms_scale[16];   /* host wall time of each scale (transformer + sampling + VQ), summed over passes */
    /* the request's launches (kernels, copies and fills between buffers; a CLBlast call counts one) and host waits
     * for the device (blocking reads and writes, finishes), all passes: the fixed cost per step that small batches
     * pay (runtime.h) */
    unsigned long long launches, syncs;
} varcl_images;

typedef struct {
    int depth, width, heads, ffn, vocab, classes, cvae, scales, patch[16], tokens, shared_aln;
    size_t params;
    int vae_ch, vae_levels, image_size;
    char device[256], platform[256];
    char weights[8];           /* storage of the VAR weight matrices: "f32", "f16", "bf16" or "mixed" */
    size_t weights_bytes;      /* device bytes of the VAR model (tag weights) and of the VQ-VAE (tag vae) */
    size_t vae_bytes;
    size_t file_bytes;         /* checkpoint bytes read (both files) */
    double load_ms;            /* wall time of reading, converting and uploading them */
    char weight_cache[400];    /* what the weight cache did: "read in place", "written", "off (...)", "not used: ..."
                                  (the VAR model's load; the VQ-VAE's where it differs, after "; VQ-VAE ") */
    char driver_note[320];     /* "" or one line: a setting of the driver's environment that makes it far slower */
    char policy[16]; /* the device policy's family: "cpu" or "gpu" (host/policy.h) */
} varcl_info;

/* Opens the device and loads the model. NULL on failure (varcl_last_error / varcl_last_status). */
varcl *varcl_open(const varcl_open_params *p);
void varcl_close(varcl *v);
/* Hyperparameters read from the checkpoint and the device chosen. */
void varcl_get_info(const varcl *v, varcl_info *info);

/* Generates rq->n images. On success fills *out (free with varcl_images_free); on failure *out is empty. */
int varcl_generate(varcl *v, const varcl_request *rq, varcl_images *out);
void varcl_images_free(varcl_images *out);

/* Called after each pass of a streamed request with that pass's images: pass->n of them, the first being image
 * `first` of the request; pass->rgb, image, tokens (and fhat, [scales][pass->n][latent * latent][cvae]) are valid
 * until the call returns. Returns VARCL_OK to go on, or a status (with varcl_fail's message) that ends the request. */
typedef int (*varcl_pass_fn)(void *user, int first, const varcl_images *pass);
/* varcl_generate with the images handed to on_pass pass by pass: host memory is bounded by the batch, not by n.
 * *totals gets the request's n, size, token layout, kv_bytes and timings, and no image arrays. */
int varcl_generate_passes(varcl *v, const varcl_request *rq, varcl_pass_fn on_pass, void *user, varcl_images *totals);

/* Device memory varcl holds, per tag (weights, kv, activations, scratch, vae): live and peak bytes. */
typedef struct {
    const char *tag[8];
    size_t live[8], peak[8];
    int ntags;
    size_t live_total, peak_total;
} varcl_mem_stats;
void varcl_get_mem_stats(const varcl *v, varcl_mem_stats *s);

#endif
