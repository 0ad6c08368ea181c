/* mem: tagged device allocations and their accounting (see mem.h). */
#include "mem.h"

#include "error.h"
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

struct vm_entry {
    cl_mem buf;
    size_t bytes;
    vm_tag tag;
    vm_entry *next;
};

static const char *const tag_names[VM_NTAGS] = {"weights", "kv", "activations", "scratch", "vae"};

const char *vm_tag_name(vm_tag tag) { return (unsigned)tag < VM_NTAGS ? tag_names[tag] : "?"; }

static cl_mem alloc_impl(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what, void **mapped)
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
    cl_mem buf = clCreateBuffer(p->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        free(e);
        varcl_fail(VARCL_E_RUNTIME, "clCreateBuffer(%zu bytes for %s) failed: %s", bytes, what, vr_error_name(err));
        return NULL;
    }
    if (mapped || host) {
        /* initial contents through a mapping, not CL_MEM_COPY_HOST_PTR: on pocl 3.1 that took 2.4x as long (1 MiB
         * buffers: 21 against 8.7 ms each on a busy 2-core VM) */
        void *w = clEnqueueMapBuffer(p->queue, buf, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, bytes, 0, NULL, NULL,
                                     &err);
        if (err == CL_SUCCESS && w && host) {
            memcpy(w, host, bytes);
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
    return alloc_impl(p, tag, bytes, NULL, what, NULL);
}

cl_mem vm_alloc_copy(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what)
{
    return alloc_impl(p, tag, bytes, host, what, NULL);
}

cl_mem vm_alloc_mapped(vm_pool *p, vm_tag tag, size_t bytes, const char *what, void **host)
{
    *host = NULL;
    return alloc_impl(p, tag, bytes, NULL, what, host);
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
