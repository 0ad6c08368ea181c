/* runtime: device choice, context, in-order queue, program build with an on-disk binary cache, the kernel
 * table, kernel launches, and OpenCL error names. Model code never touches raw OpenCL setup. */
#ifndef VARCL_RUNTIME_H
#define VARCL_RUNTIME_H

#include <CL/cl.h>

#include "mem.h"
#include "policy.h"

typedef struct {
    int index; /* position in the enumeration over all platforms */
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[256], platform_version[256], name[256], vendor[256], driver[256];
    char platform_vendor[256]; /* "The pocl project", "Mesa/X.org", "NVIDIA Corporation": --device matches it too */
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem, max_alloc;
    size_t max_work_group;
} vr_device;

typedef struct {
    char name[64];
    cl_kernel kernel;
} vr_kernel_entry;

/* VARCL_PROFILE=1: device time per kernel name (and host-timed GEMMs per shape class), a developer's tool */
typedef struct {
    char name[48];
    long calls;
    double ms;
} vr_prof_entry;
#define VR_PROF_MAX 64

typedef struct {
    vr_device dev;
    vp_policy policy; /* kernel variants, layouts and work shapes for this device (policy.h) */
    cl_context ctx;
    cl_command_queue queue;
    cl_program program;
    vr_kernel_entry *kernels;
    int n_kernels;
    vm_pool mem;
    int profiling;
    int prof_on;                       /* VARCL_PROFILE set: launches wait for their events (serialises the queue) */
    int prof_host;                     /* device timestamps are placeholders: VARCL_PROFILE times on the host */
    vr_prof_entry prof[VR_PROF_MAX];   /* per name: calls and milliseconds */
    int n_prof;
    /* Counted since vr_open (the GPU issue's per-step overhead: each command costs a driver a fixed time, each wait
     * empties the device's queue): launches are the commands enqueued, kernels by vr_launch, copies and fills
     * between buffers (vr_copy, vr_fill), plus one per CLBlast call (which enqueues one or more); syncs are host
     * waits for the device: blocking reads and writes (vr_read, vr_write) and vr_finish. */
    unsigned long long launches, syncs;
} vr_runtime;

/* All devices of all platforms. *out is malloc'd. No platform at all is not an error (n = 0). */
int vr_list_devices(vr_device **out, int *n);

/* Picks a device: spec = index or case-insensitive substring of the platform's name or vendor, the device's name or vendor; NULL or "" falls back
 * to $VARCL_DEVICE, then to the device the policy ranks first (vp_default_rank: GPUs, pocl, other CPU drivers), ties
 * broken by compute units. Input errors: an unknown spec, an index outside 0..n-1 or with a sign, a substring that
 * devices of different names or platforms match (identical devices take the first). */
int vr_choose_device(const char *spec, vr_device *out);

/* Opens a context and in-order queue on the chosen device and builds the kernels (embedded sources, or
 * the .cl files in $VARCL_KERNEL_DIR), using the binary cache in $VARCL_CACHE_DIR (default: ~/.cache/varcl; "off" disables). */
int vr_open(vr_runtime *rt, const char *spec, int profiling);
void vr_close(vr_runtime *rt);

/* A work-group size for kernels k[0..n) that keep a local array of `cap` items: the largest power of two <= want,
 * cap and every kernel's CL_KERNEL_WORK_GROUP_SIZE; 0 when want is 0 (the caller's "no work-group" choice). */
size_t vr_local_pow2(const vr_runtime *rt, const cl_kernel *k, int n, size_t want, size_t cap);

/* The kernel named `name`; NULL with an error recorded when the program has none. */
cl_kernel vr_kernel(vr_runtime *rt, const char *name);

/* Sets arguments from (size, pointer) pairs and enqueues `k` over `global` (rounded up to `local` when given).
 * Kernels guard their own bounds. */
int vr_launch(vr_runtime *rt, cl_kernel k, const char *name, cl_uint dims, const size_t *global, const size_t *local,
              int nargs, ...);
#define VR_ARG(x) sizeof(x), (const void *)&(x)

/* The local size of 1-D element-wise launches (policy.h elem_local), or NULL for the driver's choice. Only for
 * kernels that return past their element count: vr_launch rounds the global size up to it. */
static inline const size_t *vr_elem_local(const vr_runtime *rt)
{
    return rt->policy.elem_local ? &rt->policy.elem_local : NULL;
}

/* Adds ms under name (VARCL_PROFILE); vr_close prints the table to stderr, largest first. */
void vr_prof_add(vr_runtime *rt, const char *name, double ms);
/* Wall-clock ms (CLOCK_MONOTONIC). */
double vr_now_ms(void);

/* varcl's cache directory (program binaries, GEMM tuning files): $VARCL_CACHE_DIR, else $XDG_CACHE_HOME/varcl
 * (absolute, its parent existing), else $HOME/.cache/varcl (HOME an existing folder); "" when disabled (VARCL_CACHE_DIR=off) or unknown, and "" with -1 returned when the path
 * is over VR_CACHE_DIR_MAX bytes (or over n - 1): every cache file's name is built in a buffer of fixed size, and a
 * path cut short there would put the files in another folder. 0 otherwise. */
#define VR_CACHE_DIR_MAX 800
int vr_cache_dir(char *buf, size_t n);
/* mkdir -p, errors ignored (the caller's open or rename reports them). */
void vr_mkdirs(const char *path);

/* Blocking host <-> device transfers (bytes at byte offset) and a wait for the queue; each counts one sync. */
int vr_write(vr_runtime *rt, cl_mem buf, size_t offset, size_t bytes, const void *src);
int vr_read(vr_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *dst);
int vr_finish(vr_runtime *rt);
/* Device-side commands, not waited for, each counted as one launch: `bytes` from src at src_off to dst at dst_off
 * (byte offsets), and `bytes` (a multiple of 4) of zeros at byte offset `off`. `what` names the buffer in the error
 * message. Run-time errors. */
int vr_copy(vr_runtime *rt, cl_mem src, size_t src_off, cl_mem dst, size_t dst_off, size_t bytes, const char *what);
int vr_fill_zero(vr_runtime *rt, cl_mem buf, size_t off, size_t bytes, const char *what);

/* "CL_OUT_OF_RESOURCES" etc.; CLBlast's own codes too. */
const char *vr_error_name(int err);
/* If err != CL_SUCCESS: records "<call> failed: <name>" as a run-time error and returns it. */
int vr_check(cl_int err, const char *call);

#endif
