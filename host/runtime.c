/* runtime: OpenCL devices, context, program build + binary cache, kernel table, launches (see runtime.h). */
#include "runtime.h"
#include "team.h"

#include "cachefile.h"
#include "policy_tune.h"
#include "config.h"
#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

struct varcl_kernel_source {
    const char *name;
    const char *text;
};
extern const struct varcl_kernel_source varcl_kernel_sources[];

const char *vr_error_name(int err)
{
    switch (err) {
#define E(x) \
    case x: return #x;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
        E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE) E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE)
        E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES)
        E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE)
        E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
        E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT)
        E(CL_INVALID_OPERATION) E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_GLOBAL_WORK_SIZE)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL driver installed?)";
    case -1024: return "CLBlastNotImplemented";
    case -1022: return "CLBlastInvalidMatrixA";
    case -1021: return "CLBlastInvalidMatrixB";
    case -1020: return "CLBlastInvalidMatrixC";
    case -1017: return "CLBlastInvalidDimension";
    case -1016: return "CLBlastInvalidLeadDimA";
    case -1015: return "CLBlastInvalidLeadDimB";
    case -1014: return "CLBlastInvalidLeadDimC";
    case -1011: return "CLBlastInsufficientMemoryA";
    case -1010: return "CLBlastInsufficientMemoryB";
    case -1009: return "CLBlastInsufficientMemoryC";
    case -2050: return "CLBlastInsufficientMemoryTemp";
    case -2049: return "CLBlastInvalidBatchCount";
    case -2048: return "CLBlastInvalidOverrideKernel";
    case -2047: return "CLBlastMissingOverrideParameter";
    case -2046: return "CLBlastInvalidLocalMemUsage";
    case -2045: return "CLBlastNoHalfPrecision";
    case -2044: return "CLBlastNoDoublePrecision";
    case -2041: return "CLBlastDatabaseError";
    case -2040: return "CLBlastUnknownError";
    case -2039: return "CLBlastUnexpectedError";
    default: return "unknown OpenCL/CLBlast error";
    }
}

int vr_check(cl_int err, const char *call)
{
    if (err == CL_SUCCESS) return VARCL_OK;
    return varcl_fail(VARCL_E_RUNTIME, "%s failed: %s (%d)", call, vr_error_name(err), err);
}

static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t n)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
    buf[n - 1] = 0;
}

int vr_list_devices(vr_device **out, int *n)
{
    *out = NULL;
    *n = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 || np == 0) return VARCL_OK; /* no ICD: zero devices */
    if (err != CL_SUCCESS) return vr_check(err, "clGetPlatformIDs");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    clGetPlatformIDs(np, plats, NULL);
    int cap = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id *ids = calloc(nd, sizeof *ids);
        vr_device *grown = realloc(*out, (size_t)(cap + (int)nd) * sizeof **out);
        if (!ids || !grown) {
            free(ids);
            free(grown ? grown : *out);
            free(plats);
            *out = NULL;
            *n = 0;
            return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        }
        *out = grown;
        cap += (int)nd;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL);
        for (cl_uint i = 0; i < nd; i++) {
            vr_device *d = &(*out)[*n];
            memset(d, 0, sizeof *d);
            d->index = *n;
            d->platform = plats[p];
            d->device = ids[i];
            clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof d->platform_name, d->platform_name, NULL);
            clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof d->platform_version, d->platform_version, NULL);
            clGetPlatformInfo(plats[p], CL_PLATFORM_VENDOR, sizeof d->platform_vendor, d->platform_vendor, NULL);
            d->platform_name[sizeof d->platform_name - 1] = 0;
            d->platform_vendor[sizeof d->platform_vendor - 1] = 0;
            d->platform_version[sizeof d->platform_version - 1] = 0;
            dev_str(ids[i], CL_DEVICE_NAME, d->name, sizeof d->name);
            dev_str(ids[i], CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
            dev_str(ids[i], CL_DRIVER_VERSION, d->driver, sizeof d->driver);
            clGetDeviceInfo(ids[i], CL_DEVICE_TYPE, sizeof d->type, &d->type, NULL);
            clGetDeviceInfo(ids[i], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof d->compute_units, &d->compute_units, NULL);
            clGetDeviceInfo(ids[i], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof d->global_mem, &d->global_mem, NULL);
            clGetDeviceInfo(ids[i], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof d->max_alloc, &d->max_alloc, NULL);
            clGetDeviceInfo(ids[i], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof d->max_work_group, &d->max_work_group, NULL);
            (*n)++;
        }
        free(ids);
    }
    free(plats);
    return VARCL_OK;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

int vr_choose_device(const char *spec, vr_device *out)
{
    vr_device *devs;
    int n, st = vr_list_devices(&devs, &n);
    if (st) return st;
    if (n == 0)
        return varcl_fail(VARCL_E_RUNTIME, "no OpenCL device found (is an OpenCL driver such as pocl-opencl-icd "
                                           "installed? pocl also needs a writable POCL_CACHE_DIR)");
    /* messages say where the spec came from: the caller's (--device) or the environment's */
    const char *src = "device";
    if (!spec || !*spec) spec = getenv("VARCL_DEVICE"), src = "VARCL_DEVICE";
    int pick = -1;
    if (spec && *spec && strspn(spec, " \t\n\r\f\v") == strlen(spec)) {
        free(devs);
        return varcl_fail(VARCL_E_INPUT, "%s '%s': blank (give an index or part of a name; vgen --list-devices "
                                         "lists them)", src, spec);
    }
    if (spec && *spec) {
        int idx, others = 0; /* devices matching that differ from the first match */
        /* a number is an index ("1"; digits only, as every number varcl reads), anything else part of a name */
        if (strspn(spec, "-+0123456789") == strlen(spec) && strcspn(spec, "0123456789") < strlen(spec)) {
            if (strspn(spec, "0123456789") != strlen(spec) || vcfg_parse_int(spec, 0, n - 1, &idx)) {
                free(devs);
                char range[40];
                snprintf(range, sizeof range, n > 1 ? "0 to %d" : "0, the only device", n - 1);
                return varcl_fail(VARCL_E_INPUT, "%s '%s': %s, expected %s (vgen --list-devices lists them)", src,
                                  spec, strspn(spec, "0123456789") != strlen(spec) ? "an index is digits only"
                                                                                   : "no device of that index",
                                  range);
            }
            pick = idx;
        } else {
            int other = -1, more = 0; /* more: a third kind matches too ("among others") */
#define SAME_KIND(a, b) (!strcmp(devs[a].name, devs[b].name) && !strcmp(devs[a].platform_name, devs[b].platform_name))
            for (int i = 0; i < n; i++)
                if (contains_ci(devs[i].name, spec) || contains_ci(devs[i].platform_name, spec) ||
                    contains_ci(devs[i].vendor, spec) || contains_ci(devs[i].platform_vendor, spec)) {
                    if (pick < 0) pick = i;
                    else if (!SAME_KIND(i, pick)) {
                        if (other >= 0 && !SAME_KIND(i, other)) more = 1;
                        if (other < 0) other = i;
                        others++;
                    }
                }
#undef SAME_KIND
            /* devices of different names or implementations that both match: which one runs is the user's to say,
             * not the enumeration order's (identical ones, e.g. two GPUs of a model, take the first) */
            if (others) {
                char a[300], b[300];
                snprintf(a, sizeof a, "%d (%.120s, %.120s)", pick, devs[pick].name, devs[pick].platform_name);
                snprintf(b, sizeof b, "%d (%.120s, %.120s)", other, devs[other].name, devs[other].platform_name);
                free(devs);
                return varcl_fail(VARCL_E_INPUT, "%s '%s' matches different devices, %s and %s%s: give its index "
                                  "or more of its name (vgen --list-devices lists them)",
                                  src, spec, a, b, more ? " among others" : "");
            }
        }
        if (pick < 0) {
            free(devs);
            return varcl_fail(VARCL_E_INPUT, "%s '%s': no device's name, platform or vendor has it: %d device(s) "
                                             "found (vgen --list-devices lists them)", src, spec, n);
        }
    } else { /* the policy's rank (GPUs, then pocl, then other CPU implementations), then compute units */
        pick = 0;
        int best = vp_default_rank(devs[0].platform, devs[0].device);
        for (int i = 1; i < n; i++) {
            int r = vp_default_rank(devs[i].platform, devs[i].device);
            if (r > best || (r == best && devs[i].compute_units > devs[pick].compute_units)) pick = i, best = r;
        }
    }
    *out = devs[pick];
    free(devs);
    return VARCL_OK;
}

/* ---- program sources and binary cache ---- */

typedef struct {
    char *text;
    size_t len, cap;
} strbuf;

static int sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *t = realloc(b->text, cap);
        if (!t) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        b->text = t;
        b->cap = cap;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = 0;
    return 0;
}


/* All kernel sources as one program text: from $VARCL_KERNEL_DIR when set, else the embedded copies. */
static int load_sources(strbuf *src)
{
    /* VFMA(a, b, c) = a * b + c: fused where the device has a hardware FMA, as a multiply and an add where fma()
     * would be emulated (policy.h split_fma: llvmpipe reports no CL_FP_FMA, and its fma() cost 4x the time of the
     * product kernels) */
    static const char prelude[] = "#ifdef VARCL_SPLIT_FMA\n#define VFMA(a, b, c) ((a) * (b) + (c))\n#else\n"
                                  "#define VFMA(a, b, c) fma(a, b, c)\n#endif\n";
    if (sb_add(src, prelude, sizeof prelude - 1)) return VARCL_E_RUNTIME;
    const char *dir = getenv("VARCL_KERNEL_DIR");
    if (!dir || !*dir) {
        for (int i = 0; varcl_kernel_sources[i].name; i++) {
            if (sb_add(src, varcl_kernel_sources[i].text, strlen(varcl_kernel_sources[i].text)) ||
                sb_add(src, "\n", 1))
                return VARCL_E_RUNTIME;
        }
        return 0;
    }
    /* A folder of kernel sources for development: the same files as the embedded ones (cl/ of the source tree),
     * each of which must be there, a regular file, so that a wrong folder is named as such rather than as a kernel
     * missing from the program later. They are read in the embedded order (one program text either way). */
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return varcl_fail(VARCL_E_INPUT, "VARCL_KERNEL_DIR=%s: %s", varcl_shown(dir),
                          errno && stat(dir, &sb) != 0 ? strerror(errno) : "not a folder");
    int st = 0;
    for (int i = 0; !st && varcl_kernel_sources[i].name; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, varcl_kernel_sources[i].name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            st = varcl_fail(VARCL_E_INPUT, "VARCL_KERNEL_DIR=%s: %s %s (the folder must hold every file of cl/)",
                            varcl_shown(dir), varcl_kernel_sources[i].name,
                            stat(path, &sb) != 0 ? "is missing" : "is not a regular file");
            break;
        }
        FILE *f = fopen(path, "rb");
        if (!f) {
            st = varcl_fail(VARCL_E_INPUT, "%s: %s", path, strerror(errno));
            break;
        }
        char buf[65536];
        size_t k;
        while (!st && (k = fread(buf, 1, sizeof buf, f)) > 0) st = sb_add(src, buf, k);
        if (!st && ferror(f)) st = varcl_fail(VARCL_E_INPUT, "%s: cannot read: %s", path, strerror(errno));
        fclose(f);
        if (!st) st = sb_add(src, "\n", 1);
    }
    return st;
}


/* 1 when the folder that holds `path` exists (the path itself may not) */
static int parent_exists(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    size_t k = strlen(dir);
    while (k > 1 && dir[k - 1] == '/') dir[--k] = 0; /* "/a/b/" names b */
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    if (slash == dir) slash[1] = 0; /* the root */
    else *slash = 0;
    struct stat sb;
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int vr_cache_dir(char *buf, size_t n)
{
    const char *env = getenv("VARCL_CACHE_DIR");
    int len = 0;
    buf[0] = 0;
    if (env && strcmp(env, "off") == 0) return 0;
    if (env && *env) {
        len = snprintf(buf, n, "%s", env);
    } else if (getenv("XDG_CACHE_HOME") && getenv("XDG_CACHE_HOME")[0] == '/' && parent_exists(getenv("XDG_CACHE_HOME"))) {
        /* a relative XDG_CACHE_HOME is invalid by the XDG base directory rules and ignored: the cache would
         * otherwise land in whatever folder the tool was started from; the folder itself may be made (the rules
         * say so), not a tree of missing parents (XDG_CACHE_HOME=/nonexistent/.cache made /nonexistent as root) */
        len = snprintf(buf, n, "%s/varcl", getenv("XDG_CACHE_HOME"));
    } else if (getenv("HOME") && *getenv("HOME")) {
        /* only below a home that exists: HOME=/nonexistent is how system users and services say they have none,
         * and making it (as root) would put a folder at the root of the file system */
        struct stat sb;
        if (stat(getenv("HOME"), &sb) == 0 && S_ISDIR(sb.st_mode))
            len = snprintf(buf, n, "%s/.cache/varcl", getenv("HOME"));
    }
    if (len > VR_CACHE_DIR_MAX || (size_t)len >= n) {
        buf[0] = 0;
        return -1;
    }
    return 0;
}

/* VARCL_CACHE_DIR as the user gave it: a value that cannot be the folder meant is refused rather than made (a blank
 * made a folder named ' ', OFF one named OFF) or silently not used (a file, a path too long for the cache's names) */
static int check_cache_env(void)
{
    const char *cd = getenv("VARCL_CACHE_DIR");
    if (!cd || !*cd || !strcmp(cd, "off")) return VARCL_OK;
    struct stat sb;
    if (strspn(cd, " \t\n\r\f\v") == strlen(cd))
        return varcl_fail(VARCL_E_INPUT, "VARCL_CACHE_DIR='%s': blank (a folder, or off for no cache)", cd);
    /* a blank at either end is a typo far more often than part of a folder's name ('off ' filled a cache in a
     * folder named "off ") */
    if (strchr(" \t\n\r\f\v", cd[0]) || strchr(" \t\n\r\f\v", cd[strlen(cd) - 1]))
        return varcl_fail(VARCL_E_INPUT, "VARCL_CACHE_DIR=%s: starts or ends with a blank", varcl_shown(cd));
    if (!strcasecmp(cd, "off"))
        return varcl_fail(VARCL_E_INPUT, "VARCL_CACHE_DIR=%s: off, in lower case, turns the caches off", varcl_shown(cd));
    for (const char *c = cd; *c; c++)
        if ((unsigned char)*c < 32 || *c == 127)
            return varcl_fail(VARCL_E_INPUT, "VARCL_CACHE_DIR: the path holds a control character (byte %d)", *c);
    if (strlen(cd) > VR_CACHE_DIR_MAX)
        return varcl_fail(VARCL_E_INPUT, "VARCL_CACHE_DIR=%.40s...: over %d bytes, too long for the cache's file "
                                         "names", cd, VR_CACHE_DIR_MAX);
    if (stat(cd, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return varcl_fail(VARCL_E_INPUT, "VARCL_CACHE_DIR=%s: not a folder", varcl_shown(cd));
    return VARCL_OK;
}

void vr_mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(tmp, 0755);
        *p = '/';
    }
    mkdir(tmp, 0755);
}

static int build(vr_runtime *rt, cl_program prog, const char *opts)
{
    cl_int err = clBuildProgram(prog, 1, &rt->dev.device, opts, NULL, NULL);
    if (err == CL_SUCCESS) return 0;
    size_t n = 0;
    clGetProgramBuildInfo(prog, rt->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(prog, rt->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = 0;
    }
    varcl_fail(VARCL_E_RUNTIME, "clBuildProgram failed: %s (%d); build log: %.900s", vr_error_name(err), err,
               log ? log : "(none)");
    free(log);
    return VARCL_E_RUNTIME;
}

static int build_program(vr_runtime *rt)
{
    strbuf src = {0};
    int st = load_sources(&src);
    if (st) {
        free(src.text);
        return st;
    }
    char opts[128];
    /* -w: a driver's compiler may print its warnings on stderr itself (pocl's clang: "706 warnings generated." on a
     * cold cache, of float16 returns changing the AVX ABI), a line the user did not ask for; errors still come back
     * in the build log */
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -w%s", rt->policy.split_fma ? " -DVARCL_SPLIT_FMA" : "");
    uint64_t h = VCF_FNV_SEED;
    h = vcf_fnv1a(h, src.text, src.len);
    h = vcf_fnv1a(h, opts, strlen(opts));
    h = vcf_fnv1a(h, rt->dev.name, strlen(rt->dev.name));
    h = vcf_fnv1a(h, rt->dev.driver, strlen(rt->dev.driver));
    h = vcf_fnv1a(h, rt->dev.platform_version, strlen(rt->dev.platform_version));
    char dir[3000], path[4096];
    vr_cache_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%016llx.bin", dir, (unsigned long long)h);

    cl_int err;
    if (dir[0]) {
        size_t len = 0;
        void *cached = NULL;
        char why[160];
        /* only a binary whose frame matches reaches the driver: a truncated one can crash it (cachefile.h); a
         * damaged one is rebuilt from source below and rewritten */
        if (vcf_read(path, "program-binary", &cached, &len, why, sizeof why) == VCF_OK && len > 0) {
            unsigned char *bin = cached;
            const unsigned char *bins[1] = {bin};
            cl_int bst;
            cl_program p = clCreateProgramWithBinary(rt->ctx, 1, &rt->dev.device, &len, bins, &bst, &err);
            free(bin);
            /* A refused or stale binary falls back to the source build below. */
            if (err == CL_SUCCESS && bst == CL_SUCCESS &&
                clBuildProgram(p, 1, &rt->dev.device, opts, NULL, NULL) == CL_SUCCESS) {
                rt->program = p;
                free(src.text);
                return 0;
            }
            if (err == CL_SUCCESS) clReleaseProgram(p);
        } else {
            free(cached);
        }
    }
    const char *text = src.text;
    cl_program p = clCreateProgramWithSource(rt->ctx, 1, &text, &src.len, &err);
    free(src.text);
    if (err != CL_SUCCESS) return vr_check(err, "clCreateProgramWithSource");
    if (build(rt, p, opts)) {
        clReleaseProgram(p);
        return VARCL_E_RUNTIME;
    }
    rt->program = p;
    if (dir[0]) { /* best effort: a cache that cannot be written only costs start-up time */
        size_t len = 0;
        if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) == CL_SUCCESS && len > 0) {
            unsigned char *bin = malloc(len);
            unsigned char *bins[1] = {bin};
            if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
                vcf_write(path, "program-binary", bin, len))
                varcl_clear_error(); /* not an error of the request */
            free(bin);
        }
    }
    return 0;
}

int vr_open(vr_runtime *rt, const char *spec, int profiling)
{
    memset(rt, 0, sizeof *rt);
    /* a value that is neither on nor off is refused: "off" or "no" must not turn on profiling's serialised queue */
    const char *pe = getenv("VARCL_PROFILE");
    if (pe && *pe && strcmp(pe, "0") && strcmp(pe, "1"))
        return varcl_fail(VARCL_E_INPUT, "VARCL_PROFILE=%s: expected 1 (profile) or 0", varcl_shown(pe));
    const char *gt = getenv("VARCL_GEMM_TUNING");
    if (gt && *gt && strcmp(gt, "off") && strcmp(gt, "auto"))
        return varcl_fail(VARCL_E_INPUT, "VARCL_GEMM_TUNING=%s: expected off (CLBlast's defaults) or auto", varcl_shown(gt));
    int st = check_cache_env();
    if (st || (st = vr_choose_device(spec, &rt->dev))) return st;
    /* the policy from queries, then the work-group sizes `vbench --tune` measured on this device (policy_tune.h) */
    if ((st = vp_choose(&rt->policy, rt->dev.platform, rt->dev.device)) || (st = vp_wg_apply(rt))) {
        memset(rt, 0, sizeof *rt);
        return st;
    }
    rt->prof_on = pe && !strcmp(pe, "1");
    rt->profiling = profiling || rt->prof_on;
    /* A device timer resolution of 0 marks profiling timestamps that are placeholders: Mesa 22.3's rusticl reports
     * 0, 1, 2, 3 ns for queued, submit, start and end of every command. VARCL_PROFILE then times on the host. */
    size_t timer_res = 0;
    clGetDeviceInfo(rt->dev.device, CL_DEVICE_PROFILING_TIMER_RESOLUTION, sizeof timer_res, &timer_res, NULL);
    rt->prof_host = timer_res == 0;
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->dev.platform, 0};
    rt->ctx = clCreateContext(props, 1, &rt->dev.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) return vr_check(err, "clCreateContext");
    rt->queue =
        clCreateCommandQueue(rt->ctx, rt->dev.device, rt->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        vr_close(rt);
        return vr_check(err, "clCreateCommandQueue");
    }
    rt->mem.ctx = rt->ctx;
    rt->mem.queue = rt->queue;
    rt->mem.global_mem = rt->dev.global_mem;
    rt->mem.max_alloc = rt->dev.max_alloc;
    rt->mem.no_touch = !rt->policy.touch_buffers;
    rt->mem.hold_released = rt->policy.hold_released;
    rt->mem.host_threads = rt->policy.host_weights ? ht_threads() : 0;
    if (rt->mem.host_threads < 0) rt->mem.host_threads = 1; /* a bad VARCL_HOST_THREADS is reported by the loader */
    if ((st = build_program(rt))) {
        vr_close(rt);
        return st;
    }
    cl_uint nk = 0;
    err = clCreateKernelsInProgram(rt->program, 0, NULL, &nk);
    if (err == CL_SUCCESS && nk > 0) {
        cl_kernel *ks = calloc(nk, sizeof *ks);
        rt->kernels = calloc(nk, sizeof *rt->kernels);
        if (!ks || !rt->kernels) {
            free(ks);
            vr_close(rt);
            return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        }
        err = clCreateKernelsInProgram(rt->program, nk, ks, NULL);
        for (cl_uint i = 0; err == CL_SUCCESS && i < nk; i++) {
            rt->kernels[i].kernel = ks[i];
            clGetKernelInfo(ks[i], CL_KERNEL_FUNCTION_NAME, sizeof rt->kernels[i].name, rt->kernels[i].name, NULL);
            rt->n_kernels++;
        }
        free(ks);
    }
    if (err != CL_SUCCESS) {
        vr_close(rt);
        return vr_check(err, "clCreateKernelsInProgram");
    }
    return 0;
}

double vr_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

void vr_prof_add(vr_runtime *rt, const char *name, double ms)
{
    int i = 0;
    while (i < rt->n_prof && strcmp(rt->prof[i].name, name) != 0) i++;
    if (i == rt->n_prof) {
        if (rt->n_prof == VR_PROF_MAX) return;
        snprintf(rt->prof[i].name, sizeof rt->prof[i].name, "%s", name);
        rt->n_prof++;
    }
    rt->prof[i].calls++;
    rt->prof[i].ms += ms;
}

static int prof_cmp(const void *a, const void *b)
{
    double x = ((const vr_prof_entry *)a)->ms, y = ((const vr_prof_entry *)b)->ms;
    return (x < y) - (x > y);
}

static void prof_print(vr_runtime *rt)
{
    double total = 0;
    for (int i = 0; i < rt->n_prof; i++) total += rt->prof[i].ms;
    qsort(rt->prof, (size_t)rt->n_prof, sizeof *rt->prof, prof_cmp);
    fprintf(stderr, "varcl profile (%s): %.1f ms in %d entries\n%-40s %8s %11s %9s %6s\n", rt->dev.name, total,
            rt->n_prof, "kernel", "calls", "total ms", "mean us", "share");
    for (int i = 0; i < rt->n_prof; i++)
        fprintf(stderr, "%-40s %8ld %11.1f %9.1f %5.1f%%\n", rt->prof[i].name, rt->prof[i].calls, rt->prof[i].ms,
                rt->prof[i].ms * 1e3 / (double)rt->prof[i].calls, total > 0 ? 100.0 * rt->prof[i].ms / total : 0.0);
}

void vr_close(vr_runtime *rt)
{
    if (rt->queue) clFinish(rt->queue);
    if (rt->prof_on && rt->n_prof) prof_print(rt);
    vm_free_all(&rt->mem);
    for (int i = 0; i < rt->n_kernels; i++) clReleaseKernel(rt->kernels[i].kernel);
    free(rt->kernels);
    if (rt->program) clReleaseProgram(rt->program);
    if (rt->queue) clReleaseCommandQueue(rt->queue);
    if (rt->ctx) clReleaseContext(rt->ctx);
    memset(rt, 0, sizeof *rt);
}

size_t vr_local_pow2(const vr_runtime *rt, const cl_kernel *k, int n, size_t want, size_t cap)
{
    if (!want) return 0;
    if (want > cap) want = cap;
    for (int i = 0; i < n; i++) {
        size_t kmax = 0;
        clGetKernelWorkGroupInfo(k[i], rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL);
        if (kmax && want > kmax) want = kmax;
    }
    size_t l = 1;
    while (l * 2 <= want) l *= 2;
    return l;
}

cl_kernel vr_kernel(vr_runtime *rt, const char *name)
{
    for (int i = 0; i < rt->n_kernels; i++)
        if (strcmp(rt->kernels[i].name, name) == 0) return rt->kernels[i].kernel;
    varcl_fail(VARCL_E_RUNTIME, "kernel '%s' is missing from the program", name);
    return NULL;
}

int vr_launch(vr_runtime *rt, cl_kernel k, const char *name, cl_uint dims, const size_t *global, const size_t *local,
              int nargs, ...)
{
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++) {
        size_t size = va_arg(ap, size_t);
        const void *ptr = va_arg(ap, const void *);
        cl_int err = clSetKernelArg(k, (cl_uint)i, size, ptr);
        if (err != CL_SUCCESS) {
            va_end(ap);
            return varcl_fail(VARCL_E_RUNTIME, "clSetKernelArg(%s, %d) failed: %s", name, i, vr_error_name(err));
        }
    }
    va_end(ap);
    size_t g[3];
    for (cl_uint d = 0; d < dims; d++) {
        g[d] = global[d] ? global[d] : 1;
        if (local && local[d]) g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
    }
    cl_event ev = NULL;
    double h0 = rt->prof_on ? vr_now_ms() : 0;
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, g, local, 0, NULL, rt->prof_on ? &ev : NULL);
    if (err != CL_SUCCESS)
        return varcl_fail(VARCL_E_RUNTIME, "clEnqueueNDRangeKernel(%s) failed: %s", name, vr_error_name(err));
    rt->launches++;
    if (ev) {
        cl_ulong t0 = 0, t1 = 0;
        if (clWaitForEvents(1, &ev) == CL_SUCCESS) {
            /* host time from enqueue to completion where the device's timestamps cannot be trusted: the queue is
             * otherwise empty here (profiling waits for every launch), so it is the kernel's time plus one
             * launch's overhead */
            double host = vr_now_ms() - h0;
            if (rt->prof_host ||
                clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) != CL_SUCCESS ||
                clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) != CL_SUCCESS || t1 < t0)
                vr_prof_add(rt, name, host);
            else
                vr_prof_add(rt, name, (double)(t1 - t0) * 1e-6);
        }
        clReleaseEvent(ev);
    }
    return 0;
}

int vr_write(vr_runtime *rt, cl_mem buf, size_t offset, size_t bytes, const void *src)
{
    if (!bytes) return 0;
    rt->syncs++;
    return vr_check(clEnqueueWriteBuffer(rt->queue, buf, CL_TRUE, offset, bytes, src, 0, NULL, NULL),
                    "clEnqueueWriteBuffer");
}

int vr_read(vr_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *dst)
{
    if (!bytes) return 0;
    rt->syncs++;
    return vr_check(clEnqueueReadBuffer(rt->queue, buf, CL_TRUE, offset, bytes, dst, 0, NULL, NULL),
                    "clEnqueueReadBuffer");
}

int vr_copy(vr_runtime *rt, cl_mem src, size_t src_off, cl_mem dst, size_t dst_off, size_t bytes, const char *what)
{
    if (!bytes) return 0;
    cl_int err = clEnqueueCopyBuffer(rt->queue, src, dst, src_off, dst_off, bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return varcl_fail(VARCL_E_RUNTIME, "clEnqueueCopyBuffer(%s) failed: %s", what, vr_error_name(err));
    rt->launches++;
    return 0;
}

int vr_fill_zero(vr_runtime *rt, cl_mem buf, size_t off, size_t bytes, const char *what)
{
    if (!bytes) return 0;
    const float zero = 0;
    cl_int err = clEnqueueFillBuffer(rt->queue, buf, &zero, sizeof zero, off, bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return varcl_fail(VARCL_E_RUNTIME, "clEnqueueFillBuffer(%s) failed: %s", what, vr_error_name(err));
    rt->launches++;
    return 0;
}

int vr_finish(vr_runtime *rt)
{
    rt->syncs++;
    return vr_check(clFinish(rt->queue), "clFinish");
}
