/* policy: every device-specific choice of kernel variant, weight layout and work shape, made once when the device
 * opens (vr_open) and asked by the model code; no other file looks at the device type or the implementation.
 *
 * Two families, after how an implementation maps work-items onto SIMD lanes:
 *   - "cpu": each work-item runs alone on a core and vectorises inside itself (pocl: its work-item loops are not
 *     vectorised around an inner loop). Weights packed in 32-column panels for linear_packed with local size 1,
 *     the blocked attention (16 keys per float16 step), GroupNorm by whole pixel rows, Winograd transforms over 64
 *     channels per work-item, work-groups of 1 or 16 where private arrays are large.
 *   - "gpu": neighbouring work-items are SIMD lanes (GPUs; also Mesa's llvmpipe, which runs a work-group as one
 *     thread with the work-items across the vector lanes, and Intel's CPU runtime). Weights [K][N] for CLBlast,
 *     one query per work-item attention, GroupNorm by float4 of channels, one float4 per Winograd work-item, the
 *     driver's work-group sizes.
 * Chosen from device queries: pocl's platform (the "cpu" family's shapes were measured there) takes "cpu",
 * everything else "gpu". Products with weights in the "gpu" family: CLBlast on GPU devices; on other devices
 * (llvmpipe: CPU type, SIMD lanes) varcl's linear_simt, since CLBlast's database has no entry for them, and the
 * attention with two queries per work-item (attention2). VARCL_POLICY=cpu|gpu forces a family on any device (tests
 * run every variant on one device); VARCL_POLICY=gpu-device the gpu family with a GPU device's choices, on any device
 * (the tests run the whole GPU configuration on pocl). The CLBlast parameter family follows the same choice but only where its sets fit the device's local
 * memory and work-group limits (the pocl-tuned sets need 160 KiB; llvmpipe has 32 KiB). */
#ifndef VARCL_POLICY_H
#define VARCL_POLICY_H

#include <CL/cl.h>
#include <stddef.h>

enum { VP_CPU, VP_GPU };
/* The kernel of products with weights (host/gemm.h) */
enum { VP_PRODUCT_PACKED, VP_PRODUCT_CLBLAST, VP_PRODUCT_SIMT };
/* CLBlast parameter sets when no tuning file exists: varcl's built-in CPU sets, or CLBlast's database */
enum { VP_SETS_DATABASE, VP_SETS_CPU };

typedef struct {
    int family;                /* VP_CPU or VP_GPU */
    char name[16];             /* "cpu" or "gpu" (reports) */
    char reason[96];           /* why: "VARCL_POLICY=gpu", "pocl platform", "not pocl: work-items as SIMD lanes" */
    char caution[320];         /* "" or one line: the driver's environment makes it far slower (vp_caution) */
    int product;               /* VP_PRODUCT_*: linear_packed on panels, or CLBlast / linear_simt on [K][N] */
    int packed;                /* product == VP_PRODUCT_PACKED: weights in linear_packed's panels */
    size_t linear_local;       /* linear_packed work-group along panels (0: the driver's choice) */
    size_t simt_local;         /* linear_simt and im2col3x3_simt work-group along their first dimension (0: driver) */
    int simt_cols;             /* 8: plain products through linear_simt8 (llvmpipe), 4: linear_simt for all */
    int simt_rows;             /* product CLBlast: products of at most this many rows (with weights) through few_splitk's
                                  kernel (0: none) */
    int few_splitk;            /* ... that kernel: linear_splitk (K split over a work-group, 1) or linear_simt (0) */
    int wino_min_cin;          /* 3x3 convolutions with fewer input channels skip Winograd (conv.c vc_winograd_wanted) */
    int conv_direct;           /* 3x3 convolutions as conv3x3_simt8 (columns read in place) where products run linear_simt8 */
    int im2col_simt;           /* im2col3x3_simt (channel per work-item) instead of im2col3x3 (pixel tap per item) */
    int attn_blocked;          /* attention_blk where the KV page size allows (P % 16 == 0) */
    size_t attn_blk_local;     /* attention_blk work-group, each dimension (0: the driver's choice) */
    size_t attn_local;         /* attention / qk_norm_store work-group, first dimension (0: the driver's choice) */
    int attn_pairs;            /* per-query attention with two queries per work-item (attention2: llvmpipe) */
    int attn_split;            /* attention as two products around a softmax (attn_scores/softmax/values: llvmpipe) */
    size_t attn_tile;          /* attention_tiled's work-group (queries per tile; GPUs), 0: another variant */
    int attn_split_min;        /* ... for scales of at least this many queries x keys per CFG row (fewer: attention2) */
    size_t elem_local;         /* 1-D element-wise kernels (vr_elem_local; global rounded up), 0: the driver's choice */
    size_t ln_local;           /* LayerNorm + modulation: 0 one work-item per row (ln_modulate), else a work-group of
                                  this many items per row (ln_modulate_wg, a power of two <= 256) */
    int gn_rows;               /* GroupNorm by pixel rows (gn_*_rows, up to GN_ROWS_CMAX channels) */
    size_t gn_final_local;     /* gn_finalize work-group: 1 or 64 (cl/norm.cl GN_FL) */
    int gn_chunk_count;        /* rows shape: fixed pixel chunks of the statistics pass */
    int gn_chunk_pixels;       /* float4 shape: pixels per chunk */
    int wino_cpw;              /* float4s of channels per Winograd transform work-item; 0: one channel (lane kernels) */
    int wino_chunk_tiles;      /* Winograd tiles per chunk (0: as many as the scratch cap allows) */
    int sample_device;         /* sampling in cl/sampler.cl (ids only cross to the host), else host/sample.c */
    size_t sample_local;       /* sampler work-items per row (rounded down to a power of two, <= 256) */
    size_t sample_local_min;   /* the narrowest sampler work-group that computes right on this device */
    int split_fma;             /* kernels' VFMA as multiply + add: the device has no hardware FMA (CL_FP_FMA) */
    int clblast_sets;          /* VP_SETS_*: parameter sets without a tuning file */
    int clblast_direct_small;  /* small CLBlast products take the direct kernel (XGEMM_MIN_INDIRECT_SIZE 64) */
    int host_weights;          /* buffers are host memory the device reads in place: weights may stay in the weight
                                  cache's file (wcache.h) */
    int touch_buffers;         /* vm_alloc fills new buffers (so lazy allocation fails at once); 0 on Oclgrind */
    int hold_released;         /* vm_free keeps buffers until shutdown (Oclgrind: see policy.c) */
    size_t bench_gemm_n;       /* vbench's SGEMM peak: an n x n x n product */
    size_t bench_copy_mb;      /* vbench's bandwidth probe size */
} vp_policy;

/* Fills p for the device (queries only; no kernel runs). VARCL_POLICY=cpu|gpu|gpu-device|auto; VARCL_LINEAR=packed|clblast|simt
 * still overrides the product kernel alone, VARCL_SAMPLER=host|device|auto where sampling runs, VARCL_SIMT_ROWS=N
 * simt_rows (set by `vbench --tune`'s measurement otherwise), VARCL_FEW_ROWS=splitk|simt|auto their kernel. Another
 * value: input error, status != 0. */
int vp_choose(vp_policy *p, cl_platform_id platform, cl_device_id device);

/* Rank for the default device choice (higher first; runtime.c breaks ties by compute units): GPUs 3, pocl 2,
 * other CPU implementations 1 (llvmpipe reports 8 compute units on a 2-core machine, and ran the tiny model ~6x
 * slower than pocl there). */
int vp_default_rank(cl_platform_id platform, cl_device_id device);

/* One line: "gpu (not pocl: work-items as SIMD lanes): [K][N] weights for CLBlast, attention per query, ..." */
void vp_describe(const vp_policy *p, char *buf, size_t n);

#endif
