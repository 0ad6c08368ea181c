#!/usr/bin/env bash
# The GPU check of the GPU issue, one command on a fresh GPU machine (repository root; prepared by
# bench/gpu_prepare.sh, whose .devdeps and build-gpu folders must be there):
#   bash bench/gpu_check.sh
# 1. unpacks the carried runtime libraries into a prefix (never into /), and makes an ICD file for NVIDIA's
#    libnvidia-opencl.so.1 when the image has none;
# 2. makes random-weight models of the d16 and d30 shapes (models/mkmodel) on the host's cores, while
# 3. the kernel, upstream-parity, end-to-end and load tests run on the GPU (VARCL_DEVICE), the upstream fixtures
#    through CLBlast and through linear_simt (their 16-bit weights kept on both paths);
# 4. vbench: d16 at batch 1, 8 and 64 with every product through CLBlast; vbench --tune's few-row threshold
#    (linear_splitk against CLBlast); d16 again at batch 1 and 8 with it, and with the per-query attention instead
#    of attention_tiled (VARCL_ATTENTION=query; JSON on the machine), d30 at batch 1 and 8 with the depth sweep,
#    d30 at batch 64 full and at depth 2, d30 in bf16 at batch 1 full and at depth 2 (16-bit weights on the GPU's
#    products; JSON on the machine, the table in vbench.log and the comparison), d16 with the lane Winograd
#    transforms (VARCL_WINOGRAD=lane; JSON on the machine);
#    then vbench --compare of them all.
# Results go to $OUT (default ./gpu-out): summary.md, tests.log, vbench.log, env.txt and the runs' JSON: 8 files,
# what the device tool brings back at most. Exit status: 0 when every test passed and every vbench run finished.
# Environment: GPU_CHECK_DEVICE (default nvidia: a device as vgen --device takes it), GPU_CHECK_BUILD (default
# build-gpu; relative paths here and in OUT are the caller's), GPU_CHECK_QUICK=1 (the tiny model, batch 1 and 2, tiny kernel tests: how the repository's
# tests run this script on a CPU device), GPU_CHECK_TUNE=1 (vbench --tune first: several minutes),
# GPU_CHECK_BUDGET (seconds, default 480: the device tool's commands stop at 600): every step runs under a time
# limit of its own, cut to what is left of the budget, so that a hanging step costs its slot, not the results.
set -uo pipefail
here=$PWD
abs() { case $1 in /*) echo "$1" ;; *) echo "$here/$1" ;; esac; }
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(abs "${OUT:-$root/gpu-out}")
build=$(abs "${GPU_CHECK_BUILD:-$root/build-gpu}")
dev=${GPU_CHECK_DEVICE:-nvidia}
quick=${GPU_CHECK_QUICK:-0}
cd "$root"
if ! mkdir -p "$out" 2>/dev/null || ! : >"$out/summary.md" 2>/dev/null; then
    echo "gpu_check: cannot write results to $out (OUT)" >&2
    exit 2
fi
# this run's files only: a result left from an earlier run is never reported as this one's
rm -f "$out/tests.log" "$out/vbench.log" "$out/env.txt" "$out"/*.json
work=$(mktemp -d "${TMPDIR:-/tmp}/varcl-gpu.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
budget=${GPU_CHECK_BUDGET:-480}
say() { echo "gpu_check: $*" | tee -a "$out/summary.md" >&2; }
# limit N: N seconds, or what is left of the budget (10 s kept for the summary) when that is less; 0: none left
limit() {
    local left=$((budget - ($(date +%s) - t0) - 10))
    [ "$left" -lt "$1" ] && echo $((left > 0 ? left : 0)) || echo "$1"
}
# outcome NAME STATUS SECONDS: one summary line (124: the step's time limit)
outcome() {
    case $2 in
    0) say "$1 passed ($3 s)" ;;
    124) say "$1 TIMED OUT ($3 s)"; fail=1 ;;
    *) say "$1 FAILED (status $2, $3 s)"; fail=1 ;;
    esac
}
fail=0

# ---- 1. libraries and the OpenCL driver
if [ -d .devdeps ] && ls .devdeps/*.deb >/dev/null 2>&1; then
    prefix=$work/vdeps
    for f in .devdeps/*.deb; do
        if ! dpkg -x "$f" "$prefix" 2>>"$out/env.txt"; then
            say "cannot unpack $f (dpkg -x; env.txt): rerun bench/gpu_prepare.sh"
            exit 2
        fi
    done
    lib=$prefix/usr/lib/x86_64-linux-gnu
    # libblas.so.3 and liblapack.so.3 sit in blas/ and lapack/ behind Debian's alternatives, which dpkg -x does not
    # set up
    export LD_LIBRARY_PATH=$lib:$lib/blas:$lib/lapack:$prefix/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export PATH=$prefix/usr/bin:$PATH
fi
if [ ! -e /etc/OpenCL/vendors/nvidia.icd ] && [ -z "${OCL_ICD_VENDORS:-}" ]; then
    nv=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}')
    for d in /usr/lib/x86_64-linux-gnu /usr/local/nvidia/lib64 /usr/lib64 /usr/local/cuda/compat; do
        [ -z "$nv" ] && [ -e "$d/libnvidia-opencl.so.1" ] && nv=$d/libnvidia-opencl.so.1
    done
    if [ -n "$nv" ]; then
        mkdir -p "$work/icd"
        [ -d /etc/OpenCL/vendors ] && cp /etc/OpenCL/vendors/*.icd "$work/icd/" 2>/dev/null
        echo "$nv" >"$work/icd/nvidia.icd"
        export OCL_ICD_VENDORS=$work/icd
        say "ICD file made for $nv"
    fi
fi
# fresh caches on the GPU machine (kernels built by this driver, no tuning file); a caller's own are kept
export VARCL_CACHE_DIR=${VARCL_CACHE_DIR:-$work/varcl-cache} POCL_CACHE_DIR=${POCL_CACHE_DIR:-$work/pocl-cache}
{
    date -u
    uname -a
    nvidia-smi 2>&1 | head -20
    command -v clinfo >/dev/null && clinfo -l 2>&1
    "$build/vgen" --list-devices 2>&1
} >>"$out/env.txt"
if [ ! -x "$build/vgen" ]; then
    say "no build in $build: run bench/gpu_prepare.sh on the preparing machine and carry build-gpu"
    exit 2
fi
# the device as every later step will pick it (vgen's own matching), and its kernels built once for them all
export VARCL_DEVICE=$dev
if ! "$build/vgen" --info >"$work/info.txt" 2>&1; then
    say "device '$dev': $(tail -n 1 "$work/info.txt") (env.txt lists what the loader found)"
    exit 1
fi
say "device: $(grep -m1 ' on ' "$work/info.txt" | sed 's/^vgen: .* on \(.*\): depth.*/\1/')"

# ---- 2. the models, made on the host's cores while the tests use the GPU (mkmodel: about a minute per 2B parameters)
mk=$build/models/mkmodel
mklog=$work/mkmodel.log
if [ "$quick" = 1 ]; then
    ("$mk" --preset tiny --var "$work/a.st" --vae "$work/v.st" -q &&
        "$mk" --preset tiny --dtype bf16 --var "$work/ab.st" --vae "$work/vb.st" -q) 2>>"$mklog" &
else
    "$mk" --preset d16 --var "$work/d16.st" --vae "$work/vae.st" -q 2>>"$mklog" &
    "$mk" --preset d30 --var "$work/d30.st" -q 2>>"$mklog" &
    "$mk" --preset d30 --dtype bf16 --var "$work/d30b.st" -q 2>>"$mklog" &
fi

# ---- 3. tests (each from the repository root, where the fixtures are)
run_test() { # name, env assignments..., program (tests.log)
    local name=$1 s=$(date +%s) t
    shift
    t=$(limit 120)
    if [ "$t" -lt 5 ]; then say "test $name skipped (budget spent)"; fail=1; return; fi
    echo "=== $name" >>"$out/tests.log"
    timeout "$t" env "$@" >>"$out/tests.log" 2>&1
    outcome "test $name" $? $(($(date +%s) - s))
}
: >"$out/tests.log"
if [ "$quick" = 1 ]; then
    run_test kernels-tiny VARCL_TEST_TINY=1 "$build/tests/test_kernels"
    run_test sampler-tiny VARCL_TEST_TINY=1 "$build/tests/test_sample_device"
else
    run_test kernels "$build/tests/test_kernels"
    # the device sampler against the host's ids and masks: its exactness rests on the driver honouring
    # FP_CONTRACT OFF and keeping normal floats (cl/sample_math.cl), which the CPU drivers cannot show
    run_test sampler "$build/tests/test_sample_device"
    run_test upstream "$build/tests/test_upstream"
    run_test upstream-simt VARCL_LINEAR=simt "$build/tests/test_upstream"
    run_test upstream-splitk VARCL_SIMT_ROWS=64 "$build/tests/test_upstream"
    run_test e2e "$build/tests/test_e2e"
    run_test load "$build/tests/test_load"
fi
for j in $(jobs -p); do wait "$j" || { say "mkmodel FAILED: $(tail -n 1 "$mklog")"; fail=1; }; done

# ---- 4. vbench (the full network is every run's baseline)
bench() { # name, seconds, env assignments..., vbench arguments (vbench.log; the JSON in $out, or in $work when
    # JSON_DIR=work is set for the call: the device tool brings back 8 files)
    local name=$1 s=$(date +%s) t dir=$out
    [ "${JSON_DIR:-}" = work ] && dir=$work
    t=$(limit "$2")
    shift 2
    if [ "$t" -lt 5 ]; then say "vbench $name skipped (budget spent)"; fail=1; return; fi
    echo "=== $name" >>"$out/vbench.log"
    timeout "$t" env "$@" --json "$dir/$name.json" >>"$out/vbench.log" 2>&1
    local st=$?
    outcome "vbench $name" $st $(($(date +%s) - s))
    [ $st = 0 ] && [ -s "$dir/$name.json" ] && done_runs="$done_runs $dir/$name.json"
}
# few_rows MODEL VAE [env...]: vbench --tune's few-row threshold (linear_splitk against CLBlast at 2..512 rows, stored
# in the policy file of the varcl cache, which every later run reads), without the GEMM tuning (--tune-sets none:
# seconds, not minutes)
few_rows() {
    local s=$(date +%s) m=$1 v=$2
    shift 2
    echo "=== few-row threshold (vbench --tune)" >>"$out/vbench.log"
    timeout "$(limit 60)" env "$@" "$vb" --tune --tune-sets none --tune-reps 3 --model "$m" --vae "$v" \
        >>"$out/vbench.log" 2>&1
    local st=$?
    outcome "vbench --tune (few-row threshold)" $st $(($(date +%s) - s))
}
done_runs=""
: >"$out/vbench.log"
vb=$build/bench/vbench
if [ "$quick" = 1 ]; then
    bench tiny 120 "$vb" --model "$work/a.st" --vae "$work/v.st" --depth 2 --batch 1,2 --warmup 0 --reps 1
    bench tiny-bf16-simt 120 VARCL_LINEAR=simt "$vb" --model "$work/ab.st" --vae "$work/vb.st" --depth 2 --batch 1 \
        --warmup 0 --reps 1
    # a private cache: the measured policy file must not reach the caller's other runs on this device
    few_rows "$work/a.st" "$work/v.st" VARCL_LINEAR=clblast VARCL_CACHE_DIR="$work/cache"
    bench tiny-few-rows 120 VARCL_LINEAR=clblast VARCL_CACHE_DIR="$work/cache" "$vb" --model "$work/a.st" \
        --vae "$work/v.st" --depth 2 --batch 1 --warmup 0 --reps 1
else
    if [ "${GPU_CHECK_TUNE:-0}" = 1 ]; then
        timeout "$(limit 240)" "$vb" --tune --model "$work/d16.st" --vae "$work/vae.st" >>"$out/vbench.log" 2>&1 ||
            say "vbench --tune FAILED or timed out (vbench.log)"
    fi
    # the H200 took 0.36 s per d16 image and 0.96 s per d30 image at batch 1 in round 1; linear_simt is not
    # shaped for GPUs (its bf16 run is the smallest: batch 1 at depth 2, beside the full network). d16 first with
    # every product through CLBlast (no policy file), then the few-row threshold measured, and the runs after it
    # with products of few rows through linear_splitk where it won (their JSON's policy says up to how many rows)
    bench d16 150 VARCL_POLICY_TUNING=off "$vb" --model "$work/d16.st" --vae "$work/vae.st" --depth 8,2 \
        --batch 1,8,64 --warmup 1 --reps 3
    few_rows "$work/d16.st" "$work/vae.st"
    bench d16-few-rows 60 "$vb" --model "$work/d16.st" --vae "$work/vae.st" --depth 8,2 --batch 1,8 --warmup 1 \
        --reps 3
    # the few-row kernels side by side at one threshold: linear_simt (a work-item per 4 columns over all of K) and
    # linear_splitk (K split over a work-group), products of up to 64 rows
    JSON_DIR=work bench d16-rows64-simt 45 VARCL_SIMT_ROWS=64 VARCL_FEW_ROWS=simt "$vb" --model "$work/d16.st" \
        --vae "$work/vae.st" --depth 8 --batch 1 --warmup 1 --reps 3
    JSON_DIR=work bench d16-rows64-splitk 45 VARCL_SIMT_ROWS=64 VARCL_FEW_ROWS=splitk "$vb" --model "$work/d16.st" \
        --vae "$work/vae.st" --depth 8 --batch 1 --warmup 1 --reps 3
    # the per-query attention (the GPU default before attention_tiled) on the same runs, for the comparison
    JSON_DIR=work bench d16-attn-query 60 VARCL_ATTENTION=query "$vb" --model "$work/d16.st" --vae "$work/vae.st" \
        --depth 8,2 --batch 1,8 --warmup 1 --reps 3
    bench d30 120 "$vb" --model "$work/d30.st" --vae "$work/vae.st" --depth 16,8,2 --batch 1,8 --warmup 1 --reps 3
    bench d30-b64 60 "$vb" --model "$work/d30.st" --vae "$work/vae.st" --depth 2 --batch 64 --warmup 0 --reps 1
    # d30 with bf16 weights (kept 16-bit: linear_splitk reads them natively, CLBlast's products widen them first),
    # the same random values rounded: the batch-1 target's bandwidth floor halves
    JSON_DIR=work bench d30-bf16 60 "$vb" --model "$work/d30b.st" --vae "$work/vae.st" --depth 16,2 --batch 1 \
        --warmup 1 --reps 3
    # last (the first cut when time runs short): the Winograd transforms a channel per work-item (the lane
    # kernels, chosen on llvmpipe) against the GPU default of a float4 per work-item; JSON on the machine
    JSON_DIR=work bench d16-wino-lane 45 VARCL_WINOGRAD=lane "$vb" --model "$work/d16.st" --vae "$work/vae.st" \
        --depth 2 --batch 1,8 --warmup 1 --reps 3
fi
jsons=()
for r in $done_runs; do jsons+=("$r"); done
if [ ${#jsons[@]} -gt 0 ]; then
    if "$vb" --compare "${jsons[@]}" --md "$work/compare.md" >>"$out/vbench.log" 2>&1; then
        cat "$work/compare.md" >>"$out/summary.md"
    else
        say "vbench --compare FAILED (vbench.log)"
        fail=1
    fi
fi
say "$([ $fail = 0 ] && echo "all passed" || echo "FAILURES above") in $(($(date +%s) - t0)) s"
exit $fail
