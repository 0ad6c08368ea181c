#!/usr/bin/env bash
# Runs a test program under Oclgrind's checks (API errors, out-of-bounds accesses through its default memory
# checks, reads of uninitialised values, data races) and fails when the program fails or Oclgrind reports anything:
# `tests/oclgrind_check.sh /usr/bin/oclgrind ./test_kernels`. Oclgrind replaces the OpenCL library, so the program
# sees one device, the simulator.
#
# The uninitialised-value check (Oclgrind 21.10) holds only under two conditions that varcl keeps on Oclgrind
# (host/policy.c: hold_released, touch_buffers): no buffer is released before the program ends, since a new
# buffer inherits a released one's record of initialised bytes, size included; and host writes cover whole
# buffers, since a host write remakes the record at the written size. tests/oclgrind_repro.c shows both. -O0:
# Oclgrind's check does not follow LLVM 15's freeze instruction, which the optimiser emits.
set -u
oclgrind=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$oclgrind" --build-options -O0 --check-api --uninitialized --data-races --max-errors 50 --log "$log" "$@"
status=$?
if [ -s "$log" ]; then
    echo "Oclgrind reported (first 80 lines):"
    head -80 "$log"
    echo "FAIL: Oclgrind reports above"
    exit 1
fi
exit $status
