/* policy: the device's kernel variants, layouts and work shapes (see policy.h). */
#include "policy.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void fill(vp_policy *p, int family)
{
    int cpu = family == VP_CPU;
    p->family = family;
    snprintf(p->name, sizeof p->name, "%s", cpu ? "cpu" : "gpu");
    p->product = cpu ? VP_PRODUCT_PACKED : VP_PRODUCT_CLBLAST;
    p->im2col_simt = !cpu;
    /* pocl's automatic local size put every work-item of a small grid on one thread (113 -> 226 GFLOP/s with 1) */
    p->linear_local = cpu ? 1 : 0;
    /* pocl: the blocked kernel (each K/V load serves 4 queries, 16 keys per vector) 0.3 ms per test check; on
     * llvmpipe its 2.3 KB of private arrays per work-item times the vector lanes spilled: 4954 ms */
    p->attn_blocked = cpu;
    /* pocl keeps a work-group's private data on one thread's stack: groups of its own choice (up to 4096) overflowed
     * it at batch 8 (attention_blk's 2.3 KB per work-item) */
    p->attn_blk_local = cpu ? 1 : 0;
    p->attn_local = cpu ? 16 : 0;
    /* Without a local size a driver picks one that divides the global size: 1 for an odd count (rusticl on llvmpipe:
     * an add over 21,635 floats 3.3 ms, in groups of 64 0.56 ms; 32,449 floats 5.0 against 0.54 ms). GPUs run
     * whole warps/wavefronts of 32 or 64 lanes. pocl's own choice was as fast as any fixed size (0.02 ms). */
    p->elem_local = cpu ? 0 : 64;
    p->gn_rows = cpu;
    p->gn_final_local = cpu ? 1 : 64;
    p->gn_chunk_count = 64;
    p->gn_chunk_pixels = 64;
    /* pocl: a work-item loops over 64 contiguous channels; SIMD lanes: one float4 per work-item (coalesced) */
    p->wino_cpw = cpu ? 16 : 1;
    /* pocl: chunks of 1024-4096 tiles ran at the same speed, 2048 keeps the scratch at 94 MB; GPUs want the
     * largest products the scratch allows */
    p->wino_chunk_tiles = cpu ? 2048 : 0;
    p->clblast_sets = cpu ? VP_SETS_CPU : VP_SETS_DATABASE;
    p->clblast_direct_small = cpu;
    /* A row per work-group of 256 (GPUs) or 64 (pocl loops over a group's items on one core); where the sampler
     * runs is set by device type in vp_choose */
    p->sample_local = cpu ? 64 : 256;
    p->sample_local_min = 1;
    /* products of few rows on CLBlast devices (simt_rows): linear_splitk, whose N / 32 work-groups of 256 split K,
     * rather than linear_simt's N / 4 lone work-items (480 for VAR-d30's 1920 columns: too few to keep a GPU's
     * memory busy; on the H200 a few-row product took ~1.3 ms through CLBlast, README) */
    p->few_splitk = 1;
}

/* The pocl-tuned CLBlast sets (host/clblast.c's cpu-linear-sb and cpu-conv) need up to (KWG * MWG + KWG * NWG) * 4 =
 * 160 KiB of local memory and 256 work-items; elsewhere CLBlast's database applies. */
#define CPU_SETS_LOCAL_BYTES (160u << 10)
#define CPU_SETS_WORK_ITEMS 256

/* 1 when Mesa's on-disk shader cache is off or cannot be written: MESA_SHADER_CACHE_DISABLE (or the older
 * MESA_GLSL_CACHE_DISABLE) true, or the cache directory (MESA_SHADER_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache,
 * /mesa_shader_cache) neither writable nor creatable. */
static int mesa_cache_off(void)
{
    const char *names[2] = {"MESA_SHADER_CACHE_DISABLE", "MESA_GLSL_CACHE_DISABLE"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        if (v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"))) return 1;
    }
    char dir[1024];
    const char *d = getenv("MESA_SHADER_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (d && *d) snprintf(dir, sizeof dir, "%s", d);
    else if (x && *x) snprintf(dir, sizeof dir, "%s/mesa_shader_cache", x);
    else if (h && *h) snprintf(dir, sizeof dir, "%s/.cache/mesa_shader_cache", h);
    else return 1;
    /* the directory, or the nearest existing parent it would be created in */
    for (;;) {
        if (access(dir, F_OK) == 0) return access(dir, W_OK | X_OK) != 0;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) return 1;
        *slash = 0;
    }
}

int vp_choose(vp_policy *p, cl_platform_id platform, cl_device_id device)
{
    memset(p, 0, sizeof *p);
    char plat[256] = "";
    clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof plat, plat, NULL);
    plat[sizeof plat - 1] = 0;
    int pocl = strstr(plat, "Portable Computing Language") != NULL;
    cl_ulong local = 0;
    size_t max_wg = 0;
    clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL);

    const char *env = getenv("VARCL_POLICY");
    /* gpu-device: the gpu family with every choice a GPU device gets (CLBlast products, float4 Winograd, the tiled
     * attention, device sampling), so that the whole GPU configuration runs end to end on a CPU driver in the tests;
     * plain gpu on a CPU device takes the SIMD-lane CPU drivers' choices (llvmpipe) */
    const int as_gpu = env && !strcmp(env, "gpu-device");
    if (env && *env && strcmp(env, "auto")) {
        if (strcmp(env, "cpu") && strcmp(env, "gpu") && !as_gpu)
            return varcl_fail(VARCL_E_INPUT, "VARCL_POLICY=%s: expected auto, cpu, gpu or gpu-device", varcl_shown(env));
        fill(p, strcmp(env, "cpu") ? VP_GPU : VP_CPU);
        snprintf(p->reason, sizeof p->reason, "VARCL_POLICY=%s", env);
    } else if (pocl) {
        fill(p, VP_CPU);
        snprintf(p->reason, sizeof p->reason, "pocl: one work-item per core, vectors inside it");
    } else {
        fill(p, VP_GPU);
        snprintf(p->reason, sizeof p->reason, "%.40s: work-items as SIMD lanes", plat);
    }
    if (max_wg && p->elem_local > max_wg) p->elem_local = max_wg;
    if (p->clblast_sets == VP_SETS_CPU && ((local && local < CPU_SETS_LOCAL_BYTES) ||
                                           (max_wg && max_wg < CPU_SETS_WORK_ITEMS)))
        p->clblast_sets = VP_SETS_DATABASE;

    cl_device_type real_type = 0;
    clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof real_type, &real_type, NULL);
    /* the type the choices below follow: a GPU's under VARCL_POLICY=gpu-device (correctness guards and vbench's
     * probe sizes follow the real one) */
    const cl_device_type type = as_gpu ? CL_DEVICE_TYPE_GPU : real_type;
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    p->split_fma = !(fp & CL_FP_FMA);
    /* Oclgrind simulates the device in host memory (nothing lazy to touch), and a fill would hide reads of data no
     * kernel wrote from its uninitialised-value check. Oclgrind 21.10's record of what is initialised is kept per
     * buffer identity (the high address bits), and its host-write hook remakes a buffer's record at the size of
     * each write: a clEnqueueFillBuffer (stored one pattern at a time) left a 4-byte record, and every later kernel
     * read past it was reported. The record is also not dropped when a buffer is released, while Oclgrind hands
     * the freed identity to the next buffer created: that buffer inherits the old record, so reads past the old
     * size are reported although a kernel wrote them, and reads of nothing written inside it are missed
     * (tests/oclgrind_check.sh has the reproduction). Holding released buffers until shutdown gives every buffer
     * a fresh identity. */
    int oclgrind = strstr(plat, "Oclgrind") != NULL;
    p->touch_buffers = !oclgrind;
    p->hold_released = oclgrind;
    /* CPU drivers with host memory as device memory use a CL_MEM_USE_HOST_PTR pointer as the buffer (measured: pocl
     * 3.1 and rusticl 22.3 read a mapped file's pages in place, no copy); on GPUs that pointer would be copied, and
     * Oclgrind is left to check varcl's own buffers */
    cl_bool unified = CL_FALSE;
    clGetDeviceInfo(device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    p->host_weights = unified && (type & CL_DEVICE_TYPE_CPU) && !oclgrind;
    /* CLBlast on GPUs; linear_simt on other SIMD-lane drivers, and on Oclgrind (a simulated GPU), which should check
     * varcl's kernels and takes minutes to simulate CLBlast's */
    if (p->family == VP_GPU && (!(type & CL_DEVICE_TYPE_GPU) || oclgrind)) p->product = VP_PRODUCT_SIMT;
    /* llvmpipe: 8 work-items (one 256-bit vector of lanes) per work-group ran linear_simt's 512 x 128 -> 512 at
     * 5-7 GFLOP/s, 32-64 at 1.3-1.5, 1 at 0.7 */
    p->simt_local = p->family == VP_GPU && !(type & CL_DEVICE_TYPE_GPU) ? 8 : 0;
    /* llvmpipe: the small linear_simt8 for plain products (cl/linear.cl: rusticl pays per launch in proportion to
     * the kernel's code; 64 x 128 -> 512 2.0 against 3.7-4.0 ms); GPUs keep linear_simt (they run CLBlast anyway) */
    p->simt_cols = p->family == VP_GPU && !(type & CL_DEVICE_TYPE_GPU) ? 8 : 4;
    /* and the decoder's im2col convolutions as one kernel that reads the columns in place (cl/linear.cl
     * conv3x3_simt8): on rusticl, the demo model's decoder spent a third of its time in im2col3x3_simt */
    p->conv_direct = p->simt_cols == 8;
    /* there the shallow convolutions' launches are not what counts (pocl: im2col's two calls beat Winograd's 18 or
     * 38, conv.c): the demo model's 32-channel convolutions at 128 and 256 px by F(4x4) took rusticl's decoder from
     * 2.2 s (conv3x3_simt8) to 1.7 s; F(2x2) everywhere: 3.3 s */
    p->wino_min_cin = p->conv_direct ? 0 : 64;
    /* llvmpipe, the demo model (one image, VARCL_PROFILE): attention per query 23.8 s with the driver's
     * work-groups, 18.4 s with groups of 8 or of 32 (measured back to back on a busy machine) */
    if (p->family == VP_GPU && !(type & CL_DEVICE_TYPE_GPU)) p->attn_local = 8;
    /* llvmpipe (Mesa 22.3): the sampler's bit-by-bit searches (a loop around a work-group reduction) gave wrong ids
     * in work-groups of 1, 2 and 4 items, narrower than its 8 vector lanes; 8 and more were right
     * (test_sample_device); pocl and Oclgrind were right at every size */
    if (!(real_type & CL_DEVICE_TYPE_GPU) && !pocl && !oclgrind) p->sample_local_min = 8;
    /* llvmpipe loads every component lane by lane (README "Speed"): two queries per work-item share each key's
     * loads (cl/attention.cl attention2) */
    p->attn_pairs = p->family == VP_GPU && !(type & CL_DEVICE_TYPE_GPU);
    /* and the Winograd transforms a channel per work-item, every index constant (cl/winograd.cl *_lane): a
     * work-item's 36 float4s of wino4_input lived in per-lane memory, 76-85 ms per call on the demo decoder's 256 px
     * maps */
    if (p->family == VP_GPU && !(type & CL_DEVICE_TYPE_GPU)) p->wino_cpw = 0;
    /* and better still: the scores and the weighted values as two products with linear_simt8's 8 x 8 tiles, the
     * softmax between them over a scores buffer (cl/attention.cl attn_scores; README "Speed") */
    p->attn_split = p->attn_pairs;
    /* its three launches cost more than attention2's one where there is little to compute: on llvmpipe a launch of
     * a small kernel costs about 0.7-0.9 ms, attention2 about 0.09 us per query x key, the split about a third of
     * that; from 32768 queries x keys on (VAR's 256 px scales: the last two) */
    p->attn_split_min = 32768;
    /* rusticl 22.x creates a compute state at every launch and finds the compiled kernel again in Mesa's shader
     * cache; without it every launch compiles (measured, Mesa 22.3.6: 1.1 s per launch of an 8 x 8 product kernel
     * against 9 ms) */
    char drv[64] = "";
    clGetDeviceInfo(device, CL_DRIVER_VERSION, sizeof drv, drv, NULL);
    drv[sizeof drv - 1] = 0;
    if (strstr(plat, "rusticl") && atoi(drv) > 0 && atoi(drv) <= 22 && mesa_cache_off())
        snprintf(p->caution, sizeof p->caution,
                 "note: Mesa's shader cache is off or not writable (MESA_SHADER_CACHE_DISABLE, MESA_SHADER_CACHE_DIR, "
                 "~/.cache): rusticl %.16s then compiles every kernel launch again, ~1 s each", drv);
    /* Shapes for GPUs only, not for llvmpipe's lanes (measured slower there), unless VARCL_POLICY=gpu forces the
     * family (so that the tests run them on the CPU drivers):
     * - sampling on the device: the host sampler cost 95-130 ms per image on the H200 (README), most of it reading
     *   every scale's logits back; on the device only ids cross. CPU devices sample on the host, whose threads
     *   select and sort what the kernels scan bit by bit (the demo image: pocl +1.0 s, rusticl +1.1 s of 15 s);
     * - LayerNorm with a work-group per row: an early scale's 2-8 rows would otherwise be 2-8 busy lanes, each
     *   walking C = 1024-1920 values alone (llvmpipe, the demo: 2.1-2.7 ms per call against 1.8-2.3 a row per
     *   work-item);
     * - attention with a work-group per tile of 64 queries (attention_tiled: each key read once per tile from
     *   global memory, not once per query as the per-query kernel does). */
    const int gpu_shapes = p->family == VP_GPU && ((type & CL_DEVICE_TYPE_GPU) || (env && !strcmp(env, "gpu")));
    p->sample_device = gpu_shapes;
    p->ln_local = gpu_shapes ? 256 : 0;
    if (max_wg && p->ln_local > max_wg) p->ln_local = max_wg;
    p->attn_tile = gpu_shapes ? 64 : 0;
    if (max_wg && p->attn_tile > max_wg) p->attn_tile = max_wg;
    /* vbench's probes sized for the hardware, whatever the family: 4096^3 takes a CPU a minute */
    p->bench_gemm_n = (real_type & CL_DEVICE_TYPE_GPU) ? 4096 : 1024;
    p->bench_copy_mb = (real_type & CL_DEVICE_TYPE_GPU) ? 256 : 64;

    const char *lin = getenv("VARCL_LINEAR");
    if (lin && *lin && strcmp(lin, "auto")) {
        if (!strcmp(lin, "packed")) p->product = VP_PRODUCT_PACKED;
        else if (!strcmp(lin, "clblast")) p->product = VP_PRODUCT_CLBLAST;
        else if (!strcmp(lin, "simt")) p->product = VP_PRODUCT_SIMT;
        else return varcl_fail(VARCL_E_INPUT, "VARCL_LINEAR=%s: expected auto, packed, clblast or simt", varcl_shown(lin));
    }
    p->packed = p->product == VP_PRODUCT_PACKED;
    /* simt_rows stays 0 (every product through CLBlast) until `vbench --tune` measures where linear_simt wins
     * (policy_tune.c); VARCL_SIMT_ROWS forces it */
    const char *rows = getenv("VARCL_SIMT_ROWS");
    if (rows && *rows) {
        /* digits only (strtol would also take a sign and leading blanks) */
        const size_t digits = strspn(rows, "0123456789");
        const long v = rows[digits] == 0 && digits <= 7 ? strtol(rows, NULL, 10) : -1;
        if (v < 0 || v > (1 << 20))
            return varcl_fail(VARCL_E_INPUT, "VARCL_SIMT_ROWS=%s: expected a whole number from 0 to 1048576", varcl_shown(rows));
        p->simt_rows = (int)v;
    }
    const char *few = getenv("VARCL_FEW_ROWS");
    if (few && *few && strcmp(few, "auto")) {
        if (!strcmp(few, "splitk")) p->few_splitk = 1;
        else if (!strcmp(few, "simt")) p->few_splitk = 0;
        else return varcl_fail(VARCL_E_INPUT, "VARCL_FEW_ROWS=%s: expected auto, splitk or simt", varcl_shown(few));
    }
    const char *smp = getenv("VARCL_SAMPLER");
    if (smp && *smp && strcmp(smp, "auto")) {
        if (!strcmp(smp, "host")) p->sample_device = 0;
        else if (!strcmp(smp, "device")) p->sample_device = 1;
        else return varcl_fail(VARCL_E_INPUT, "VARCL_SAMPLER=%s: expected auto, host or device", varcl_shown(smp));
    }
    /* VARCL_ATTENTION forces one attention kernel on any device (to compare them on one, e.g. bench/gpu_check.sh) */
    const char *att = getenv("VARCL_ATTENTION");
    if (att && *att && strcmp(att, "auto")) {
        const char *const names[5] = {"blocked", "tiled", "split", "pairs", "query"};
        int k = 0;
        while (k < 5 && strcmp(att, names[k])) k++;
        if (k == 5)
            return varcl_fail(VARCL_E_INPUT, "VARCL_ATTENTION=%s: expected auto, blocked, tiled, split, pairs or query",
                              varcl_shown(att));
        p->attn_blocked = k == 0;
        p->attn_tile = k == 1 ? (max_wg && max_wg < 64 ? max_wg : 64) : 0;
        p->attn_split = k == 2;
        p->attn_pairs = k == 2 || k == 3; /* the split falls back to attention2 below attn_split_min */
    }
    /* VARCL_WINOGRAD forces the transforms' work shape (the lane kernels are unmeasured on GPUs: bench/gpu_check.sh
     * compares them there) */
    const char *wg = getenv("VARCL_WINOGRAD");
    if (wg && *wg && strcmp(wg, "auto")) {
        if (!strcmp(wg, "lane")) p->wino_cpw = 0;
        else if (!strcmp(wg, "float4")) p->wino_cpw = p->family == VP_CPU ? 16 : 1;
        else return varcl_fail(VARCL_E_INPUT, "VARCL_WINOGRAD=%s: expected auto, float4 or lane", varcl_shown(wg));
    }
    return 0;
}

static int is_pocl(cl_platform_id platform)
{
    char plat[256] = "";
    clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof plat, plat, NULL);
    plat[sizeof plat - 1] = 0;
    return strstr(plat, "Portable Computing Language") != NULL;
}

int vp_default_rank(cl_platform_id platform, cl_device_id device)
{
    cl_device_type type = 0;
    clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    if (type & CL_DEVICE_TYPE_GPU) return 3;
    return is_pocl(platform) ? 2 : 1;
}

void vp_describe(const vp_policy *p, char *buf, size_t n)
{
    static const char *const products[] = {"linear_packed on packed weights", "CLBlast on weights [K][N]",
                                           "linear_simt on weights [K][N]"};
    static const char *const simt_names[2] = {"", ", 8 columns per work-item"};
    char ll[24] = "driver's", al[24] = "driver's";
    if (p->linear_local) snprintf(ll, sizeof ll, "%zu", p->linear_local);
    size_t attn_wg = p->attn_blocked ? p->attn_blk_local : p->attn_local;
    if (attn_wg) snprintf(al, sizeof al, "%zu", attn_wg);
    char sl[48], el[24] = "driver's", lnl[48] = "a row per work-item";
    if (p->ln_local) snprintf(lnl, sizeof lnl, "a row per work-group of %zu", p->ln_local);
    snprintf(sl, sizeof sl, "%zu", p->simt_local);
    if (p->product == VP_PRODUCT_CLBLAST && p->simt_rows)
        snprintf(sl, sizeof sl, "driver's; %s up to %d rows", p->few_splitk ? "linear_splitk" : "linear_simt",
                 p->simt_rows);
    if (p->elem_local) snprintf(el, sizeof el, "%zu", p->elem_local);
    char wl[32] = "a channel/item";
    if (p->wino_cpw) snprintf(wl, sizeof wl, "%d float4/item", p->wino_cpw);
    char asl[64], atl[64]; /* attn_split: its products' groups, and qk_norm_store's; attn_tile: the tile's */
    snprintf(atl, sizeof atl, "up to %zu, qk_norm_store %s", p->attn_tile, al);
    snprintf(asl, sizeof asl, "%s, qk_norm_store %s", p->simt_local ? sl : "driver's", al);
    snprintf(buf, n,
             "%s (%s): products %s (local %s%s), im2col by %s, attention %s (local %s), LayerNorm %s, GroupNorm %s, "
             "Winograd %s, element-wise local %s, CLBlast sets %s, sampling on the %s",
             p->name, p->reason, products[p->product],
             p->packed ? ll : (p->simt_local || (p->product == VP_PRODUCT_CLBLAST && p->simt_rows)) ? sl : "driver's",
             simt_names[p->product == VP_PRODUCT_SIMT && p->simt_cols == 8],
             p->conv_direct && p->product == VP_PRODUCT_SIMT ? "the product, in place" : p->im2col_simt ? "channel" : "tap",
             p->attn_blocked  ? "blocked"
             : p->attn_tile  ? "by tiles of queries, keys staged in local memory"
             : p->attn_split ? "as products around a softmax"
             : p->attn_pairs ? "two queries per work-item"
                             : "per query",
             p->attn_tile ? atl : p->attn_split ? asl : al, lnl,
             p->gn_rows ? "by rows" : "by float4 channels", wl, el,
             p->clblast_sets == VP_SETS_CPU ? "built-in CPU" : "CLBlast database",
             p->sample_device ? "device" : "host");
}
