/* LeakSanitizer's suppressions (tests/lsan.supp) hide the OpenCL implementations' own leaks and nothing of varcl's:
 * this program enumerates every platform and device (Mesa's rusticl keeps 72 bytes from it, pocl and LLVM keep
 * theirs) and then loses, on purpose, the device list that varcl's vr_list_devices allocated. lsan_check.sh runs it
 * in the sanitizer build (VARCL_SANITIZE=ON) and expects LeakSanitizer to fail it naming vr_list_devices, and no
 * leak from an OpenCL library to be reported. */
#include "runtime.h"

#include <stdio.h>

/* not inlined, so that the list's only pointer dies with this frame */
__attribute__((noinline)) static int enumerate(void)
{
    vr_device *devs = NULL;
    int n = 0;
    if (vr_list_devices(&devs, &n)) {
        fprintf(stderr, "lsan_check: vr_list_devices failed\n");
        return -1;
    }
    printf("lsan_check: %d device(s) listed; their list (%zu bytes) is lost on purpose\n", n, (size_t)n * sizeof *devs);
    return n;
}

int main(void) { return enumerate() < 0 ? 2 : 0; }
