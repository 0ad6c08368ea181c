#!/usr/bin/env bash
# test_vgen_rss: a vgen --per-class job keeps host memory bounded by the batch, not by the number of images: the
# peak RSS of a 48-image job is within 32 MB of an 8-image job's at the same batch (4). Holding the 48 images as
# the plain request does (f32 and 8-bit: 983 KB each at 256 px) would add about 39 MB. Memory, not time, is
# measured (getrusage of the child, through python3's standard library).
# Env: VGEN (the binary).
set -u

VGEN=${VGEN:?set VGEN to the vgen binary}
unset VARCL_DEVICE
work=$(mktemp -d "${TMPDIR:-/tmp}/varcl-test-rss-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# peak_kb DIR PER_CLASS: the peak resident set of one job, in KiB
peak_kb() {
    python3 - "$VGEN" "$1" "$2" <<'EOF'
import resource, subprocess, sys
vgen, out, n = sys.argv[1:]
subprocess.run([vgen, "-q", "--per-class", n, "--class", "0,1", "--depth", "1", "--batch", "4", "--out-dir", out],
               check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
}

small=$(peak_kb "$work/small" 4) || { echo "FAIL: the 8-image job failed" >&2; exit 1; }
large=$(peak_kb "$work/large" 24) || { echo "FAIL: the 48-image job failed" >&2; exit 1; }
n=$(ls "$work/large" | grep -c '\.png$')
[ "$n" = 48 ] || { echo "FAIL: the large job wrote $n images, expected 48" >&2; exit 1; }
delta=$((large - small))
echo "peak RSS: 8 images $small KiB, 48 images $large KiB, difference $delta KiB"
if [ "$delta" -gt $((32 * 1024)) ]; then
    echo "FAIL: peak RSS grew by $delta KiB from 8 to 48 images (bound: 32 MiB): images are held in memory" >&2
    exit 1
fi
echo "test_vgen_rss: passed"
