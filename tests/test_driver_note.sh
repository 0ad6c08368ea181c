#!/usr/bin/env bash
# On rusticl 22.x, vgen warns in one line when Mesa's shader cache is off (every launch then compiles again, ~1 s
# each; host/policy.c); without the setting, and on another driver with it, nothing is said.
# $VGEN is vgen; skipped (exit 77) where there is no rusticl device (ctest sets RUSTICL_ENABLE=llvmpipe).
set -u
export RUSTICL_ENABLE=${RUSTICL_ENABLE:-llvmpipe}
bash "$(dirname "$0")/on_device.sh" rusticl true || exit $?
export VARCL_DEVICE=rusticl
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
note="Mesa's shader cache is off"
driver=$("$VGEN" --list-devices 2> /dev/null | awk '$3 == "rusticl" {print $(NF - 2); exit}')
err=$(MESA_SHADER_CACHE_DISABLE=true "$VGEN" --info 2>&1 > /dev/null)
case "$driver" in
2[3-9]* | [3-9]*) case "$err" in *"$note"*) bad "rusticl $driver (23 or later) warned: $err" ;; *) ok ;; esac ;;
*) case "$err" in *"$note"*) ok ;; *) bad "no note with MESA_SHADER_CACHE_DISABLE=true on rusticl '$driver': $err" ;; esac ;;
esac
err=$(MESA_SHADER_CACHE_DISABLE=false "$VGEN" --info 2>&1 > /dev/null)
case "$err" in *"$note"*) bad "a note with the cache on: $err" ;; *) ok ;; esac
err=$(VARCL_DEVICE=Portable MESA_SHADER_CACHE_DISABLE=true "$VGEN" --info 2>&1 > /dev/null)
case "$err" in *"$note"*) bad "a note on pocl: $err" ;; *) ok ;; esac
echo "test_driver_note: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
