#!/usr/bin/env bash
# Prepares a GPU check (bench/gpu_check.sh) for a machine that has NVIDIA's driver but no package registry and no
# compiler set-up of ours (the lent GPU machine of this project: a CUDA image). Run here, in the repository root, on
# Debian 12 x86-64 after the README's set-up:
#   bench/gpu_prepare.sh            # .devdeps/: the runtime libraries as .deb files; build-gpu/: a Release build
# What travels to the GPU machine is limited to 64 MiB with the tracked files (about 53 MiB now, the training
# recipe's checkpoints most of it): so the libraries are the reference BLAS/LAPACK rather than OpenBLAS (vbench's
# Frechet distance is all they serve), and build-gpu holds only the stripped programs the check runs (the build
# itself is in build-gpu-tree); about 8 MiB together. The check's command line then carries both folders:
#   bash bench/gpu_check.sh        (carry: .devdeps, build-gpu; results under $OUT)
# Nothing is installed here beyond what `apt-get download` fetches into .devdeps.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -m)" != x86_64 ]; then
    echo "gpu_prepare: this machine is $(uname -m); the GPU machine runs x86-64 builds" >&2
    exit 2
fi
# what the binaries load beyond libc, libstdc++ and zlib (ldd on vgen and vbench), and clinfo for a first look
pkgs="ocl-icd-libopencl1 libclblast1 libjansson4 libpng16-16 liblapacke libtmglib3 liblapack3 libblas3 libgfortran5
      libquadmath0 clinfo"
rm -rf .devdeps
mkdir -p .devdeps
(cd .devdeps && apt-get download $pkgs)
cmake -S . -B build-gpu-tree -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-gpu-tree -j"$(nproc)" >/dev/null
rm -rf build-gpu
for f in vgen bench/vbench models/mkmodel tests/test_kernels tests/test_upstream tests/test_e2e tests/test_load tests/test_sample_device; do
    mkdir -p "build-gpu/$(dirname "$f")"
    strip -o "build-gpu/$f" "build-gpu-tree/$f"
done
du -sh .devdeps build-gpu
echo "gpu_prepare: ready; on the GPU machine run: bash bench/gpu_check.sh   (carry .devdeps and build-gpu)"
