/* mem: tagged device allocations and their accounting (see mem.h). */
#include "mem.h"

#include "error.h"
#include "runtime.h"
#include "team.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct vm_entry {
    cl_mem buf;
    size_t bytes;
    vm_tag tag;
    vm_entry *next;
};

static const char *const tag_names[VM_NTAGS] = {"weights", "kv", "activations", "scratch", "vae"};

const char *vm_tag_name(vm_tag tag) { return (unsigned)tag < VM_NTAGS ? tag_names[tag] : "?"; }

/* The pages of [lo, hi) of a mapped buffer, split between a team at huge-page boundaries from `huge_lo` on (so that
 * no two threads fault on the same huge page): part id of n is backed in one call. */
typedef struct {
    uintptr_t lo, hi, huge_lo, huge;
    uintptr_t start, end; /* the whole range, pages or not (zero) */
    int zero;
} span;

static uintptr_t span_cut(const span *sp, int i, int n)
{
    if (i == 0) return sp->lo;
    if (i == n || sp->huge_lo >= sp->hi) return sp->hi;
    uintptr_t whole = (sp->hi - sp->huge_lo) / sp->huge;
    return sp->huge_lo + whole * (uintptr_t)i / (uintptr_t)n * sp->huge;
}

static void populate(void *arg, int id, int n)
{
    const span *sp = arg;
    uintptr_t a = span_cut(sp, id, n), b = span_cut(sp, id + 1, n);
    if (b > a) madvise((void *)a, b - a, MADV_POPULATE_WRITE);
    if (sp->zero) memset((void *)(id == 0 ? sp->start : a), 0, (id == n - 1 ? sp->end : b) - (id == 0 ? sp->start : a));
}

/* Prepares host memory for one pass of writes (see mem.h). In a VM the first touch of each page costs the
 * hypervisor's fault as well as the kernel's (measured 10 us per 4 KiB page: 0.4 GB/s for fresh memory); with
 * transparent huge pages in "madvise" mode, asking for them made that 6-8x cheaper. Then the pages are backed in
 * one call per thread instead of a fault each: the kernel zeroes each new page, and on this 2-core VM two threads
 * backed 1.5 GB at 1.0-1.2 GB/s against 0.6-0.8 on one (pages freed by another process more than a few seconds
 * before; ones freed just before are still backed and cost a tenth of that). Advice only: a no-op where the mapping
 * is not ordinary memory (a GPU driver's staging area) or the kernel lacks the advice. */
void vm_host_prepare(void *p, size_t bytes, int threads, int zero)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + bytes, huge = (uintptr_t)2 << 20;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (lo + huge - 1) / huge * huge, b = hi / huge * huge;
    if (b > a) madvise((void *)a, b - a, MADV_HUGEPAGE);
    span sp = {(lo + page - 1) / page * page, hi / page * page, a, huge, lo, hi, zero};
    if (sp.hi <= sp.lo) { /* less than a page */
        if (zero) memset(p, 0, bytes);
        return;
    }
    size_t n = threads < 1 ? 1 : (size_t)threads, by_size = bytes / (4 * huge);
    if (n > by_size) n = by_size ? by_size : 1;
    ht_run((int)n, populate, &sp);
}
/* in_place: `host` becomes the buffer's storage (CL_MEM_USE_HOST_PTR, read-only), else its initial contents */
static cl_mem alloc_impl(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what, void **mapped,
                         int in_place)
{
    if (bytes == 0) bytes = 4; /* zero-sized buffers are invalid in OpenCL; keep the call sites simple */
    if (p->frozen) {
        varcl_fail(VARCL_E_RUNTIME, "internal: %s (%zu bytes) allocated inside %s, whose buffers are sized before it",
                   what, bytes, p->frozen);
        return NULL;
    }
    if (p->max_alloc && bytes > p->max_alloc) {
        varcl_fail(VARCL_E_RUNTIME,
                   "%s needs one buffer of %zu bytes, more than the device's largest allocation (%zu bytes)", what,
                   bytes, p->max_alloc);
        return NULL;
    }
    if (p->global_mem && p->stats.live_total + bytes > p->global_mem) {
        varcl_fail(VARCL_E_RUNTIME, "%s needs %zu more bytes; varcl already holds %zu of the device's %zu bytes", what,
                   bytes, p->stats.live_total, p->global_mem);
        return NULL;
    }
    vm_entry *e = malloc(sizeof *e);
    if (!e) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        return NULL;
    }
    cl_int err;
    cl_mem buf = in_place ? clCreateBuffer(p->ctx, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, bytes, (void *)host, &err)
                          : clCreateBuffer(p->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        free(e);
        varcl_fail(VARCL_E_RUNTIME, "clCreateBuffer(%zu bytes for %s) failed: %s", bytes, what, vr_error_name(err));
        return NULL;
    }
    if (in_place) {
        /* nothing to write or touch: the caller's memory holds the contents */
    } else if (mapped || host || (!p->no_touch && p->host_threads)) {
        /* initial contents through a mapping, not CL_MEM_COPY_HOST_PTR: on pocl 3.1 that took 2.4x as long (1 MiB
         * buffers: 21 against 8.7 ms each on a busy 2-core VM). Host memory to touch is zeroed there on the host
         * threads in huge pages (vm_host_prepare): pocl's fill ran on one thread in 4 KiB faults, 7.7% of a d16
         * image's samples. */
        void *w = clEnqueueMapBuffer(p->queue, buf, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, bytes, 0, NULL, NULL,
                                     &err);
        if (err == CL_SUCCESS && w && !mapped) {
            if (host) memcpy(w, host, bytes);
            else vm_host_prepare(w, bytes, p->host_threads, 1);
            err = clEnqueueUnmapMemObject(p->queue, buf, w, 0, NULL, NULL);
        }
        if (err != CL_SUCCESS || !w) {
            clReleaseMemObject(buf);
            free(e);
            varcl_fail(VARCL_E_RUNTIME, "mapping %zu bytes for %s failed: %s", bytes, what, vr_error_name(err));
            return NULL;
        }
        if (mapped) *mapped = w;
    } else if (!p->no_touch) {
        const float zero = 0;
        err = clEnqueueFillBuffer(p->queue, buf, &zero, sizeof zero, 0, bytes & ~(size_t)3, 0, NULL, NULL);
        if (err == CL_SUCCESS) err = clFinish(p->queue);
        if (err != CL_SUCCESS) {
            clReleaseMemObject(buf);
            free(e);
            varcl_fail(VARCL_E_RUNTIME, "allocating %zu bytes for %s failed: %s", bytes, what, vr_error_name(err));
            return NULL;
        }
    }
    *e = (vm_entry){buf, bytes, tag, p->entries};
    p->entries = e;
    p->stats.live[tag] += bytes;
    p->stats.live_total += bytes;
    if (p->stats.live[tag] > p->stats.peak[tag]) p->stats.peak[tag] = p->stats.live[tag];
    if (p->stats.live_total > p->stats.peak_total) p->stats.peak_total = p->stats.live_total;
    return buf;
}

cl_mem vm_alloc(vm_pool *p, vm_tag tag, size_t bytes, const char *what)
{
    return alloc_impl(p, tag, bytes, NULL, what, NULL, 0);
}

cl_mem vm_alloc_copy(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what)
{
    return alloc_impl(p, tag, bytes, host, what, NULL, 0);
}

cl_mem vm_alloc_mapped(vm_pool *p, vm_tag tag, size_t bytes, const char *what, void **host)
{
    *host = NULL;
    return alloc_impl(p, tag, bytes, NULL, what, host, 0);
}

cl_mem vm_alloc_in_place(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what)
{
    return alloc_impl(p, tag, bytes, host, what, NULL, 1);
}

int vm_unmap(vm_pool *p, cl_mem buf, void *host)
{
    return vr_check(clEnqueueUnmapMemObject(p->queue, buf, host, 0, NULL, NULL), "clEnqueueUnmapMemObject");
}

void vm_free(vm_pool *p, cl_mem buf)
{
    if (!buf) return;
    for (vm_entry **pe = &p->entries; *pe; pe = &(*pe)->next) {
        vm_entry *e = *pe;
        if (e->buf != buf) continue;
        p->stats.live[e->tag] -= e->bytes;
        p->stats.live_total -= e->bytes;
        *pe = e->next;
        if (p->hold_released) { /* released at vm_free_all: no later buffer gets this one's identity */
            e->next = p->held;
            p->held = e;
            return;
        }
        free(e);
        break;
    }
    clReleaseMemObject(buf);
}

void vm_free_all(vm_pool *p)
{
    while (p->entries) vm_free(p, p->entries->buf);
    while (p->held) {
        vm_entry *e = p->held;
        p->held = e->next;
        clReleaseMemObject(e->buf);
        free(e);
    }
}

void vm_reset_peak(vm_pool *p)
{
    for (int t = 0; t < VM_NTAGS; t++) p->stats.peak[t] = p->stats.live[t];
    p->stats.peak_total = p->stats.live_total;
}
