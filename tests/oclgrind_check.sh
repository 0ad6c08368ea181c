#!/usr/bin/env bash
# Runs a test program under Oclgrind's checks (API errors, out-of-bounds accesses through its default memory
# checks, data races) and fails when the program fails or Oclgrind reports anything:
# `tests/oclgrind_check.sh /usr/bin/oclgrind ./test_kernels`. Oclgrind replaces the OpenCL library, so the program
# sees one device, the simulator.
set -u
oclgrind=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Not --uninitialized: Oclgrind 21.10's uninitialised-value plugin reported attention_f32 reading uninitialised
# values only when the P = 16 case runs after the P = 4 case in one process (each alone, or in the other order: no
# report; the same kernel, the same writes), and cannot follow LLVM 15's freeze instruction without -O0.
"$oclgrind" --build-options -O0 --check-api --data-races --max-errors 50 --log "$log" "$@"
status=$?
if [ -s "$log" ]; then
    echo "Oclgrind reported (first 80 lines):"
    head -80 "$log"
    echo "FAIL: Oclgrind reports above"
    exit 1
fi
exit $status
