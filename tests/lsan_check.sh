#!/usr/bin/env bash
# lsan_check.sh PROGRAM: the sanitizer build's leak report shows varcl's own leaks and only those (tests/lsan.supp
# suppresses the OpenCL libraries' by module). PROGRAM (lsan_check.c) opens every device, rusticl's included where it is
# installed (RUSTICL_ENABLE=llvmpipe; its program parser alone keeps 27 KB), and loses one block from vr_list_devices.
set -u
prog=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$prog" > "$out" 2>&1
rc=$?
fail=0
bad() { echo "FAIL: $*"; fail=1; }
[ $rc -ne 0 ] || bad "LeakSanitizer did not fail the program (exit 0): is this the VARCL_SANITIZE=ON build?"
grep -q "ERROR: LeakSanitizer: detected memory leaks" "$out" || bad "no LeakSanitizer report"
grep -q "in vr_list_devices" "$out" || bad "the leak in vr_list_devices is not reported"
# exactly the one leak: a second leak report means a library's leak got past the suppressions
n=$(grep -c "^Direct leak of\|^Indirect leak of" "$out")
[ "$n" -eq 1 ] || bad "$n leaks reported, want 1 (vr_list_devices')"
if grep -q "libRusticlOpenCL\|libpocl\|libLLVM\|libOpenCL\|libclblast" "$out"; then
    bad "a leak inside an OpenCL library was reported"
fi
[ $fail -eq 0 ] || { cat "$out"; exit 1; }
echo "ok: LeakSanitizer reported varcl's lost block and nothing of the OpenCL libraries ($(head -1 "$out"))"
