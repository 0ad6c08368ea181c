/* LeakSanitizer's suppressions (tests/lsan.supp) hide the OpenCL implementations' own leaks and nothing of varcl's:
 * this program opens and closes every device (context, queue, program: Mesa's rusticl, pocl, LLVM and CLBlast keep
 * memory of their own from that) and then loses, on purpose, the device list that varcl's vr_list_devices
 * allocated. lsan_check.sh runs it
 * in the sanitizer build (VARCL_SANITIZE=ON) and expects LeakSanitizer to fail it naming vr_list_devices, and no
 * leak from an OpenCL library to be reported. */
#include "error.h"
#include "runtime.h"

#include <stdio.h>

/* Lists the devices, opens each, and drops the list (noinline: the pointer lives only in this frame and the ones
 * it calls). */
__attribute__((noinline)) static int enumerate(void)
{
    vr_device *devs = NULL;
    int n = 0;
    if (vr_list_devices(&devs, &n)) {
        fprintf(stderr, "lsan_check: vr_list_devices failed\n");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char spec[16];
        vr_runtime rt;
        snprintf(spec, sizeof spec, "%d", i);
        if (vr_open(&rt, spec, 0)) {
            fprintf(stderr, "lsan_check: device %d: %s\n", i, varcl_last_error());
            return -1;
        }
        vr_close(&rt);
    }
    printf("lsan_check: %d device(s) listed; their list (%zu bytes) is lost on purpose\n", n, (size_t)n * sizeof *devs);
    return n;
}

/* LeakSanitizer scans the stack below the live frames too, where the returned frames' slots still hold the pointer:
 * overwrite that region. (A thread of its own would not do: pocl's and LLVM's signal stacks break ASan's thread
 * exit.) */
__attribute__((noinline)) static void scrub_stack(void)
{
    volatile unsigned char pad[256 * 1024];
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = 0;
}

int main(void)
{
    int n = enumerate();
    scrub_stack();
    return n < 0 ? 2 : 0;
}
