/* mem: every device allocation, tagged by purpose, with live and peak bytes per tag and in total.
 * These are exact figures of what varcl asked the device for (no portable used-memory query exists). */
#ifndef VARCL_MEM_H
#define VARCL_MEM_H

#include <CL/cl.h>
#include <stddef.h>

typedef enum { VM_WEIGHTS, VM_KV, VM_ACT, VM_SCRATCH, VM_VAE, VM_NTAGS } vm_tag;

typedef struct {
    size_t live[VM_NTAGS], peak[VM_NTAGS];
    size_t live_total, peak_total;
} vm_stats;

typedef struct vm_entry vm_entry;

typedef struct {
    cl_context ctx;
    cl_command_queue queue;
    size_t global_mem, max_alloc; /* device limits, bytes */
    vm_stats stats;
    vm_entry *entries; /* live allocations (linked list) */
    int no_touch;      /* vm_alloc leaves buffers unfilled (policy.h touch_buffers = 0: Oclgrind) */
    int host_threads;  /* > 0: buffers are host memory (policy.h host_weights); new ones are zeroed through a mapping
                          on this many host threads (vm_host_prepare) instead of a fill */
    int hold_released; /* vm_free keeps the OpenCL buffer until vm_free_all (policy.h hold_released: Oclgrind) */
    vm_entry *held;    /* buffers vm_free took out of the accounting but has not released (hold_released) */
    const char *frozen; /* non-NULL: where allocating is a bug (a scale loop: its buffers are sized up front);
                           vm_alloc then fails naming it and the buffer */
} vm_pool;

const char *vm_tag_name(vm_tag tag);

/* Backs `bytes` of mapped host memory at p for writing, on up to `threads` host threads (in huge pages where the
 * kernel allows): one call per thread instead of a page fault per page; zero: also clears it. wload (weights
 * written in place) and vm_alloc on host-memory devices. */
void vm_host_prepare(void *p, size_t bytes, int threads, int zero);

/* Allocates `bytes` (> 0) on the device under `tag`. Refuses, with a message naming `what`, a buffer larger than
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE or one that would take varcl's total past CL_DEVICE_GLOBAL_MEM_SIZE.
 * The buffer is touched (filled with zeros) so lazy allocation fails here, not later, unless the pool says
 * no_touch (its contents are then undefined). NULL on failure. */
cl_mem vm_alloc(vm_pool *p, vm_tag tag, size_t bytes, const char *what);
/* Same, initialised from host memory (no fill). */
cl_mem vm_alloc_copy(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what);
/* Same, for contents the caller writes in place: no fill; *host is the buffer mapped for writing
 * (CL_MAP_WRITE_INVALIDATE_REGION: the device's own memory on CPUs, a staging area elsewhere). Pass it to
 * vm_unmap when written. NULL on failure (nothing left allocated). */
cl_mem vm_alloc_mapped(vm_pool *p, vm_tag tag, size_t bytes, const char *what, void **host);
/* Same, over `bytes` of host memory the kernels read in place (CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR; host
 * page-aligned): for devices whose buffers are host memory (policy host_weights), where the implementation uses
 * the pointer as the buffer instead of copying it (pocl and rusticl do). The memory must stay mapped until the
 * buffer is released and the queue has finished with it. Counted under `tag` like any buffer. */
cl_mem vm_alloc_in_place(vm_pool *p, vm_tag tag, size_t bytes, const void *host, const char *what);
/* Queues the upload of what was written through vm_alloc_mapped's pointer and returns without waiting, so that the
 * transfer overlaps the caller's next work (the queue is in order: later commands see the data). */
int vm_unmap(vm_pool *p, cl_mem buf, void *host);
/* Releases a buffer from vm_alloc (NULL is ignored). With hold_released the OpenCL buffer itself stays allocated,
 * unused, until vm_free_all; the accounting drops it at once either way. */
void vm_free(vm_pool *p, cl_mem buf);
/* Releases every buffer still live, and every held one (at shutdown). */
void vm_free_all(vm_pool *p);
/* Peak figures restart from the live figures (e.g. before a benchmark run). */
void vm_reset_peak(vm_pool *p);

#endif
