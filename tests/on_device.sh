#!/usr/bin/env bash
# Runs a test program on the OpenCL implementation named in $1 (a substring of the platform or device name, as
# vgen --device takes), or skips it with exit status 77 (ctest's SKIP_RETURN_CODE) when this machine has no such
# device: `tests/on_device.sh rusticl ./test_kernels`. The caller's environment selects the driver's device
# (RUSTICL_ENABLE=llvmpipe for Mesa's CPU device); VARCL_DEVICE is set to $1 so that the program opens it.
set -u
want=$1
shift
if ! "${VGEN:?}" --list-devices 2>/dev/null | tail -n +2 | grep -qi -- "$want"; then
    echo "SKIP: no OpenCL device matching '$want' here (Mesa's rusticl: apt-get install mesa-opencl-icd; its CPU" \
         "device needs RUSTICL_ENABLE=llvmpipe)"
    exit 77
fi
export VARCL_DEVICE=$want
exec "$@"
