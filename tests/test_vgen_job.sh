#!/usr/bin/env bash
# test_vgen_job: vgen --per-class jobs (host/job.h) on the built-in demo model, compared byte for byte:
#  - 2 shards (one from --shard I/N, one from GNU parallel's PARALLEL_SEQ through --shard env/N) + --pack give the
#    same PNG files and the same .npz bytes as one run with --npz;
#  - a run killed with SIGKILL after its first pass, then rerun with the same command, gives the same files as the
#    uninterrupted run (and the rerun makes only what was missing); one stopped by SIGINT leaves no temporaries;
#  - rerunning into the folder with other settings (seed, cfg, depth, N) is refused: exit 2, one line naming the
#    setting, nothing written;
#  - the manifest records the job (classes, N, sampling settings, seed, depth plan, the model's CRC-32 and size, for
#    a model file the CRC-32 of the file itself);
#  - bad job requests are refused before any work with exit 2 and one line.
# Env: VGEN (the binary), VARCL_TEST_DATA (tests/data). python3 (stdlib only) reads the manifest.
set -u

VGEN=${VGEN:?set VGEN to the vgen binary}
DATA=${VARCL_TEST_DATA:-$(cd "$(dirname "$0")" && pwd)/data}
unset VARCL_DEVICE SLURM_ARRAY_TASK_ID JOB_COMPLETION_INDEX PARALLEL_SEQ
work=$(mktemp -d "${TMPDIR:-/tmp}/varcl-test-job-XXXXXX") || exit 1
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1

failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=$((failed + 1))
}
# The job: 5 images of each of classes 5 and 7 at depth 2, in passes of 2 (5 passes): quick on pocl.
JOB=(--per-class 5 --class 5,7 --depth 2 --batch 2 -q)
pngs() { (cd "$1" 2>/dev/null && ls -1 -- *.png 2>/dev/null); }

# 1. one run, packed on the way
"$VGEN" "${JOB[@]}" --out-dir one --npz one.npz || fail "the plain job failed"
[ "$(pngs one | wc -l)" = 10 ] || fail "the job wrote $(pngs one | wc -l) PNG files, expected 10"
[ "$(pngs one | head -1)" = class0005_00000.png ] && [ "$(pngs one | tail -1)" = class0007_00004.png ] ||
    fail "unexpected names: $(pngs one | tr '\n' ' ')"

# 2. two shards into one folder, then the pack step
"$VGEN" "${JOB[@]}" --out-dir sharded --shard 0/2 || fail "shard 0/2 failed"
n0=$(pngs sharded | wc -l)
[ "$n0" = 5 ] || fail "shard 0/2 wrote $n0 files, expected 5 (a contiguous half)"
PARALLEL_SEQ=2 "$VGEN" "${JOB[@]}" --out-dir sharded --shard env/2 || fail "shard env/2 (PARALLEL_SEQ=2) failed"
"$VGEN" -q --pack sharded --npz sharded.npz || fail "--pack of the sharded folder failed"
diff -r one sharded >/dev/null || fail "the 2 shards' files differ from one run's"
cmp -s one.npz sharded.npz || fail "the .npz of 2 shards + pack differs from one run's"

# 3. kill -9 after the first pass, then the same command again
"$VGEN" "${JOB[@]}" --out-dir killed &
pid=$!
for _ in $(seq 1 6000); do # up to 5 minutes: the first pass loads the model and compiles
    [ "$(pngs killed | wc -l)" -ge 1 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
had=$(pngs killed | wc -l)
if [ "$had" -lt 1 ] || [ "$had" -ge 10 ]; then
    fail "the kill came at $had of 10 images: the interruption was not tested"
fi
out=$("$VGEN" --per-class 5 --class 5,7 --depth 2 --batch 2 --out-dir killed 2>&1 >/dev/null) ||
    fail "the rerun after kill -9 failed"
echo "$out" | grep -q "$had already in killed, $((10 - had)) to make" ||
    fail "the rerun did not resume from the $had images on disk: $out"
diff -r one killed >/dev/null || fail "after kill -9 and a rerun, the files differ from an uninterrupted run"
"$VGEN" -q --pack killed --npz killed.npz && cmp -s one.npz killed.npz || fail "the resumed job's .npz differs"
# an .npz patches each array's CRC at its offset: a stream in append mode or a pipe is refused, not corrupted
echo head > append.npz
(exec 7>>append.npz && "$VGEN" -q --pack killed --npz /dev/fd/7) 2> npz.err
st=$?
[ "$st" = 2 ] && grep -q "from the start of a file it can seek in" npz.err && [ "$(cat append.npz)" = head ] ||
    fail "--npz onto a stream in append mode: exit $st: $(cat npz.err)"
"$VGEN" -q --pack killed --npz /dev/stdout 2> npz.err | cat > /dev/null
st=${PIPESTATUS[0]}
[ "$st" = 2 ] && grep -q "from the start of a file it can seek in" npz.err || fail "--npz onto a pipe: exit $st: $(cat npz.err)"
# through a link, the name written is the link's target: one to a job's image is refused like the image's own name
ln -s killed/class0005_00000.png img-link.npz
cp killed/class0005_00000.png img.before
"$VGEN" -q --pack killed --npz img-link.npz 2> npz.err
st=$?
[ "$st" = 2 ] && grep -q "is one of the job's own files" npz.err && cmp -s img.before killed/class0005_00000.png ||
    fail "--npz through a link to a job's image: exit $st: $(cat npz.err)"
rm -rf early && mkdir early && ln -sf early/class0007_00001.png img-link.npz
"$VGEN" "${JOB[@]}" --out-dir early --npz img-link.npz 2> npz.err
st=$?
[ "$st" = 2 ] && grep -q "is one of the job's own files" npz.err && [ -z "$(ls early)" ] ||
    fail "--per-class --npz through a dangling link to an image the job makes: exit $st: $(cat npz.err)"
# a descriptor that does not truncate (1<>f) onto a longer file: the archive ends where it ends, loadable
head -c 3000000 /dev/zero > long.npz
"$VGEN" -q --pack killed --npz /dev/stdout 1<> long.npz 2> npz.err && cmp -s long.npz killed.npz ||
    fail "--npz /dev/stdout 1<> a longer file: not the archive alone ($(stat -c %s long.npz) bytes): $(cat npz.err)"
# where standard error goes too, messages would land inside the archive: refused before any work
"$VGEN" --pack killed --npz /dev/stdout > both.npz 2>&1
st=$?
[ "$st" = 2 ] && grep -q "standard error goes to the same file" both.npz && [ "$(wc -l < both.npz)" = 1 ] ||
    fail "--npz /dev/stdout > f 2>&1: exit $st: $(head -c 300 both.npz)"
# an input under a name the job writes or cleans up in its folder: refused before any work, the input intact
for name in class0005_00000.png .class0005_00000.png.1.0.tmp vgen-job.json; do
    rm -rf inj && mkdir inj && printf '[sample]\nseed = 1\n' > "inj/$name"
    "$VGEN" "${JOB[@]}" --out-dir inj --config "inj/$name" 2> inj.err
    st=$?
    [ "$st" = 2 ] && grep -q "under a name the job writes" inj.err && [ "$(cat "inj/$name")" = "$(printf '[sample]\nseed = 1')" ] &&
        [ "$(ls inj | wc -l)" = "$([ "${name:0:1}" = . ] && echo 0 || echo 1)" ] ||
        fail "--config inj/$name with --out-dir inj: exit $st, $(ls -A inj | tr '\n' ' '): $(cat inj.err)"
done
mkfifo fifo.npz
timeout 60 "$VGEN" -q --pack killed --npz fifo.npz 2> npz.err
st=$?
[ "$st" = 2 ] && grep -q "fifo.npz: an .npz is written from the start of a file it can seek in" npz.err ||
    fail "--npz onto a named pipe: exit $st: $(cat npz.err)"
# ... and refused before a job generates anything, not after its last image
for target in pipe append; do
    rm -rf early && echo head > append.npz
    if [ $target = pipe ]; then
        "$VGEN" -q "${JOB[@]}" --out-dir early --npz /dev/stdout 2> npz.err | cat > /dev/null
        st=${PIPESTATUS[0]}
    else
        (exec 7>>append.npz && "$VGEN" -q "${JOB[@]}" --out-dir early --npz /dev/fd/7) 2> npz.err
        st=$?
    fi
    [ "$st" = 2 ] && [ "$(wc -l < npz.err)" = 1 ] && grep -q "from the start of a file it can seek in" npz.err &&
        [ -z "$(ls early 2> /dev/null)" ] && [ "$(cat append.npz)" = head ] ||
        fail "--per-class --npz onto a $target: exit $st, before any image ($(ls early 2> /dev/null | wc -l) files): $(cat npz.err)"
done

# 3a. Ctrl-C (SIGINT) after the first pass: vgen ends by the signal and leaves none of its hidden temporaries
#     (host/outfile.h: tracked and removed by its handler); the rerun completes the job
# (a shell starts background commands with SIGINT ignored, which vgen rightly keeps: python restores the default)
SIGDFL=(python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])')
"${SIGDFL[@]}" "$VGEN" "${JOB[@]}" --out-dir interrupted &
pid=$!
for _ in $(seq 1 6000); do
    [ "$(pngs interrupted | wc -l)" -ge 1 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
st=$?
[ "$st" = 130 ] || [ "$st" = 0 ] || fail "vgen interrupted by SIGINT exited $st, expected 130 (ended by the signal)"
left=$(cd interrupted && ls -A | grep -c '^\..*\.tmp$')
[ "$left" = 0 ] || fail "SIGINT left $left temporaries in the job folder"
"$VGEN" "${JOB[@]}" --out-dir interrupted && diff -r one interrupted >/dev/null ||
    fail "the rerun after SIGINT differs from an uninterrupted run"
# Whether a temporary exists at the moment of a signal is timing, so the handler itself is checked in /proc: vgen
# must catch INT, TERM and HUP (SigCgt bits 1, 2, 15) before an OpenCL driver loads LLVM (which adds handlers of its own,
# which chain to vgen's). The window: the job's CRC-32 of two sparse 1 GiB model files, read before the device opens.
truncate -s 1G sparse_var.safetensors && truncate -s 1G sparse_vae.safetensors
"${SIGDFL[@]}" "$VGEN" --model sparse_var.safetensors --vae sparse_vae.safetensors --per-class 1 --out-dir sparse -q 2>/dev/null &
pid=$!
caught=""
for _ in $(seq 1 2000); do
    # only readings taken while no LLVM is mapped (an OpenCL driver loads it), and after the exec (vgen's own name in
    # the maps); the last of them counts: the first can come before main() has run at all (SigCgt 0, read once
    # under load)
    if grep -q vgen "/proc/$pid/maps" 2>/dev/null && ! grep -qi llvm "/proc/$pid/maps" 2>/dev/null; then
        now=$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status" 2>/dev/null) &&
            grep -q vgen "/proc/$pid/maps" 2>/dev/null && ! grep -qi llvm "/proc/$pid/maps" 2>/dev/null &&
            [ -n "$now" ] && caught=$now
        (( (0x${caught:-0} & 0x4003) == 0x4003 )) && break
    elif [ -n "$caught" ]; then
        break # the window is over: LLVM is mapped
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
(( (0x${caught:-0} & 0x4003) == 0x4003 )) || fail "vgen does not catch SIGINT, SIGTERM and SIGHUP (SigCgt ${caught:-unread})"
rm -f sparse_var.safetensors sparse_vae.safetensors

# 3b. images damaged after the run (cut short, emptied) are made again on a rerun, byte-identical; whole ones kept
cp -r one damaged
head -c 100 one/class0005_00001.png >damaged/class0005_00001.png
: >damaged/class0007_00000.png
out=$("$VGEN" --per-class 5 --class 5,7 --depth 2 --batch 2 --out-dir damaged 2>&1 >/dev/null) ||
    fail "the rerun over damaged images failed: $out"
echo "$out" | grep -q "2 images in damaged are not whole PNGs" && echo "$out" | grep -q "8 already in damaged, 2 to make" ||
    fail "the rerun did not redo exactly the 2 damaged images: $out"
diff -r one damaged >/dev/null || fail "the damaged images, made again, differ from the first run's"

# 3b2. a FIFO put in place of a job image (or of a cache file varcl writes) is replaced, never opened: opening a FIFO
#      nobody reads would block the run forever (outfile.h vo_open_own)
cp -r one fifo
rm fifo/class0007_00002.png && mkfifo fifo/class0007_00002.png
timeout 120 "$VGEN" "${JOB[@]}" --out-dir fifo || fail "the rerun over a FIFO in place of an image failed or hung"
diff -r one fifo >/dev/null || fail "the image made in place of the FIFO differs"
mkdir fifocache
VARCL_CACHE_DIR=$PWD/fifocache "$VGEN" -q --depth 2 -o c1.png || fail "the run filling a fresh cache failed"
bin=$(ls fifocache/*.bin 2>/dev/null | head -1)
if [ -n "$bin" ]; then
    rm "$bin" && mkfifo "$bin"
    VARCL_CACHE_DIR=$PWD/fifocache timeout 120 "$VGEN" -q --depth 2 -o c2.png || fail "a FIFO in the cache hung or failed vgen"
    [ -f "$bin" ] || fail "the FIFO in the cache was not replaced by the program binary"
else
    fail "no program binary in a fresh VARCL_CACHE_DIR"
fi

# 3c. a job longer than one request (vgen asks for 8 passes at a time): 20 images in passes of 1 are 3 requests;
#     7 images deleted here and there (across request boundaries) are made again, byte-identical, the rest kept
CHUNKED=(--per-class 10 --class 5,7 --depth 2 --batch 1 -q)
"$VGEN" "${CHUNKED[@]}" --out-dir chunked || fail "the 20-image job in passes of 1 failed"
[ "$(pngs chunked | wc -l)" = 20 ] || fail "the 20-image job wrote $(pngs chunked | wc -l) files"
cp -r chunked holes
(cd holes && rm class0005_00000.png class0005_00007.png class0005_00008.png class0007_00000.png class0007_00005.png \
    class0007_00006.png class0007_00009.png)
out=$("$VGEN" --per-class 10 --class 5,7 --depth 2 --batch 1 --out-dir holes 2>&1 >/dev/null) ||
    fail "the rerun over a job with holes failed: $out"
echo "$out" | grep -q "13 already in holes, 7 to make" || fail "the rerun did not find the 13 images kept: $out"
diff -r chunked holes >/dev/null || fail "the 7 images made again differ from the first run's"
# the first 10 of them equal the 10-image job's in passes of 1 (one request): the split changes nothing
"$VGEN" --per-class 5 --class 5,7 --depth 2 --batch 1 -q --out-dir small || fail "the 10-image job in passes of 1 failed"
for k in 0 1 2 3 4; do
    cmp -s small/class0005_0000$k.png chunked/class0005_0000$k.png || fail "class 5 image $k differs between jobs"
done

# 4. another job into the same folder: refused before anything is written
before=$(cd one && ls -l --time-style=+%s.%N)
refuse() { # refuse WHAT ARGS...: exit 2, one line naming WHAT, no change in the folder
    local what=$1 st
    shift
    "$VGEN" "$@" --out-dir one 2>err.txt >/dev/null
    st=$?
    [ "$st" = 2 ] || fail "$* into a folder of another job: exit $st, expected 2"
    [ "$(wc -l <err.txt)" = 1 ] && grep -q "^vgen: .*$what" err.txt ||
        fail "$*: expected one line naming $what, got: $(cat err.txt)"
}
refuse sampling.seed --per-class 5 --class 5,7 --depth 2 --seed 1
refuse sampling.cfg --per-class 5 --class 5,7 --depth 2 --cfg 2
refuse sampling.top_k --per-class 5 --class 5,7 --depth 2 --top-k 1
refuse plan.depth --per-class 5 --class 5,7 --depth 3
refuse per_class --per-class 6 --class 5,7 --depth 2
refuse classes --per-class 5 --class 5,8 --depth 2
refuse numerics.kv_dtype --per-class 5 --class 5,7 --depth 2 --kv-dtype f16
[ "$before" = "$(cd one && ls -l --time-style=+%s.%N)" ] || fail "a refused rerun changed the folder"
# the same job with another batch size is the same job (nothing to make, exit 0)
out=$("$VGEN" --per-class 5 --class 5,7 --depth 2 --batch 3 --out-dir one 2>&1 >/dev/null) ||
    fail "rerunning the finished job with --batch 3 failed: $out"
echo "$out" | grep -q "10 already in one, 0 to make" || fail "rerunning a finished job did work: $out"

# 5. the manifest
python3 - one/vgen-job.json <<'EOF' || fail "manifest contents"
import json, re, sys
m = json.load(open(sys.argv[1]))
want = {"classes": [5, 7], "per_class": 5, "images": 10, "image_size": 256,
        "names": "class{class:04}_{index:05}.png"}
for k, v in want.items():
    assert m[k] == v, (k, m[k], v)
assert m["sampling"] == {"seed": 0, "cfg": 1.5, "top_k": 900, "top_p": 0.96}, m["sampling"]
p = m["plan"]
assert p["depth"] == 2 and p["full_scales"] == 6 and len(p["late_layers"]) == 2, p
assert p["late_layers"] == [0, p["model_depth"] - 1], p
assert m["numerics"] == {"weights": "keep", "kv_dtype": "f32"}, m["numerics"]
for f in ("var", "vae"):
    assert re.fullmatch(r"[0-9a-f]{8}", m["model"][f]["crc32"]) and m["model"][f]["bytes"] > 0, m["model"]
assert m["model"]["name"].startswith("built-in demo model"), m["model"]
EOF
# a model file: its manifest holds the file's own CRC-32 and size (zlib.crc32, as `crc32 FILE` prints)
TV=$DATA/upstream-tiny/var.safetensors
TA=$DATA/upstream-tiny/vae.safetensors
"$VGEN" -q --model "$TV" --vae "$TA" --per-class 1 --class 0 --out-dir tiny || fail "a job of the tiny model failed"
python3 - tiny/vgen-job.json "$TV" "$TA" <<'EOF' || fail "manifest of a model file"
import json, os, sys, zlib
m = json.load(open(sys.argv[1]))
for key, path in (("var", sys.argv[2]), ("vae", sys.argv[3])):
    data = open(path, "rb").read()
    assert m["model"][key] == {"crc32": "%08x" % zlib.crc32(data), "bytes": len(data)}, (key, m["model"][key])
assert m["model"]["name"] == "var.safetensors", m["model"]["name"]
EOF

# 6. bad job requests: exit 2, one line, before any work (no folder, no file made)
bad() { # bad WHAT ARGS...
    local what=$1 st
    shift
    timeout 120 "$VGEN" "$@" 2>err.txt >/dev/null # a hang fails (124), not blocks the suite
    st=$?
    [ "$st" = 2 ] || fail "$*: exit $st, expected 2"
    [ "$(wc -l <err.txt)" = 1 ] && grep -q "^vgen: .*$what" err.txt || fail "$*: expected one line naming $what, got: $(cat err.txt)"
}
bad "I must be in 0..1" --per-class 2 --out-dir b1 --shard 2/2
bad "expected I/N" --per-class 2 --out-dir b1 --shard 1
bad "expected I/N" --per-class 2 --out-dir b1 --shard " 0/2" # digits only, as every number
bad "N must be a whole number" --per-class 2 --out-dir b1 --shard 0/+2
PARALLEL_SEQ=+1 bad "PARALLEL_SEQ=+1 is not a non-negative number" --per-class 2 --out-dir b1 --shard env/2
bad "none of SLURM_ARRAY_TASK_ID" --per-class 2 --out-dir b1 --shard env/2
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4 bad "not 2" --per-class 2 --out-dir b1 --shard env/2
JOB_COMPLETION_INDEX=0 PARALLEL_SEQ=1 bad "more than one job runner" --per-class 2 --out-dir b1 --shard env/2
PARALLEL_SEQ=1 bad "use --shard env/N" --per-class 2 --out-dir b1 --shard env
bad "pack once every shard is done" --per-class 2 --out-dir b1 --shard 0/2 --npz b.npz
bad "goes with --per-class" --shard 0/2 -o x.png
bad "writes into --out-dir" --per-class 2 -o x.png
bad "listed twice" --per-class 2 --class 5,5 --out-dir b1
bad "out of range" --per-class 2 --class 100000 --out-dir b1
bad "nodir/x.npz: cannot write: folder nodir does not exist" --per-class 2 --out-dir b1 --npz nodir/x.npz
bad "needs --npz" --pack one
bad "--out-dir: empty path" --per-class 2 --out-dir ""
# --npz naming one of the job's own files would destroy the job: refused, the file unchanged
sum_m=$(cksum <one/vgen-job.json) sum_i=$(cksum <one/class0005_00001.png)
bad "--npz one/vgen-job.json is one of the job's own files" --pack one --npz one/vgen-job.json
bad "is one of the job's own files" --pack one --npz one/./class0005_00001.png
bad "is one of the job's own files" --per-class 5 --class 5,7 --depth 2 --batch 2 --out-dir one --npz one/vgen-job.json
[ "$(cksum <one/vgen-job.json)" = "$sum_m" ] && [ "$(cksum <one/class0005_00001.png)" = "$sum_i" ] ||
    fail "a refused --npz changed the job's files"
# --pack takes no generation setting (the manifest holds the job's): one would be silently ignored
bad "takes no generation flags (--cfg)" --pack one --npz x.npz --cfg 3
bad "takes no generation flags (--model)" --pack one --npz x.npz --model a --vae b
# an edited manifest: numbers past int, a names pattern with other text, read exactly or refused naming the field
for edit in 'per_class=4294967297|per_class 4294967297 is out of range' 'image_size=4294967552|image_size 4294967552' \
    'per_class=-1|per_class -1 is out of range' 'names="class{class:04}_{index:05}.jpg"|"names" is not a vgen name' \
    'images=5|"images" is not' 'per_class=1|"images" is not' 'classes=[5,5]|class 5 is listed twice in "classes"'; do
    rm -rf edited && cp -r one edited
    python3 - edited/vgen-job.json "${edit%%|*}" <<'EOF2'
import json, sys
path, kv = sys.argv[1], sys.argv[2]
k, v = kv.split('=', 1)
m = json.load(open(path))
m[k] = json.loads(v)
json.dump(m, open(path, 'w'))
EOF2
    bad "${edit#*|}" --pack edited --npz edited.npz
    [ ! -e edited.npz ] || fail "a refused pack of an edited manifest wrote edited.npz"
done
rm -rf edited
# an image damaged in place (a flipped byte inside its data): the pack names it and the way out
rm -rf flipped && cp -r one flipped
python3 -c 'import sys; p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[len(d) // 2] ^= 0xff; open(p, "wb").write(d)' \
    flipped/class0005_00001.png
bad "class0005_00001.png: .*remove it and run the job again" --pack flipped --npz flipped.npz
[ ! -e flipped.npz ] || fail "a refused pack of a damaged image wrote flipped.npz"
rm -rf flipped
# a pack of a job of 400 million images per class, none made under its names: refused at once (one pass over the folder; bad's timeout fails
# a name-by-name probe, which took days), naming the first missing image
rm -rf huge && cp -r one huge
python3 - huge/vgen-job.json <<'EOF2'
import json, sys
m = json.load(open(sys.argv[1]))
m["per_class"] = 400000000
m["images"] = 2 * 400000000
m["names"] = "class{class:04}_{index:09}.png"
json.dump(m, open(sys.argv[1], 'w'))
EOF2
bad "800000000 of its 800000000 images are missing (the first: class0005_000000000.png)" --pack huge --npz huge.npz
rm -rf huge
# the estimate of a job that runs for years reads in days, not 0s (it wrapped): 400 million images of the tiny model,
# stopped (SIGTERM) once the first progress line is out; the stop leaves no hidden temporary
"$VGEN" --model "$TV" --vae "$TA" --per-class 400000000 --class 0 --batch 1 --out-dir longjob 2> longjob.err &
pid=$!
for _ in $(seq 600); do grep -q "ETA" longjob.err && break; sleep 0.1; done
kill -TERM "$pid" 2> /dev/null
wait "$pid"
grep -Eq "^vgen: [0-9]+/400000000 images, [0-9.]+ images/s, ETA [0-9]+d$" longjob.err ||
    fail "the progress line of a job of years: $(grep ETA longjob.err || cat longjob.err)"
[ -z "$(find longjob -name '.*')" ] || fail "a stopped job left hidden files: $(find longjob -name '.*')"
rm -rf longjob longjob.err
# a folder where a job image belongs is refused before any work, naming it
rm -rf dirimg && cp -r one dirimg && rm dirimg/class0007_00003.png dirimg/class0005_00001.png && mkdir dirimg/class0007_00003.png
bad "dirimg/class0007_00003.png: a folder where the job's image belongs" "${JOB[@]}" --out-dir dirimg
[ ! -e dirimg/class0005_00001.png ] || fail "a refused job with a folder at an image's name made images first"
rm -rf dirimg
bad "--pack: empty path" --pack "" --npz x.npz
mkdir -p mdir/vgen-job.json
bad "vgen-job.json: not a job manifest (it is a folder, not a file)" --per-class 2 --out-dir mdir
bad "vgen-job.json: cannot read the job manifest: it is a folder, not a file" --pack mdir --npz m.npz
rm -rf mdir && mkdir mdir && mkfifo mdir/vgen-job.json # a FIFO would block the read: refused, under timeout
bad "vgen-job.json: not a job manifest (not a regular file)" --per-class 2 --out-dir mdir
rm -rf mdir
mkdir partial && cp one/vgen-job.json one/class0005_0000[0-3].png partial/
bad "6 of its 10 images are missing (the first: class0005_00004.png)" --pack partial --npz partial.npz
[ ! -e partial.npz ] || fail "a refused pack left partial.npz"
# an image there but with bytes after its end: named as such, not only "missing"
printf xx >> partial/class0005_00002.png
bad "7 of its 10 images are missing, 1 of them there but not whole PNGs" --pack partial --npz partial.npz
# --pack given a file (the manifest), or nothing: the folder is what is wrong (it read "vgen-job.json/vgen-job.json")
bad "--pack one/vgen-job.json: not a folder" --pack one/vgen-job.json --npz p.npz
bad "--pack nojob: No such file or directory" --pack nojob --npz p.npz
# a shard with no image of its own (more shards than images): said so, not "images 1..0"
"$VGEN" --per-class 1 --class 1,2 --out-dir emptyshard --shard 5/8 2> err.txt > /dev/null ||
    fail "an empty shard failed: $(cat err.txt)"
grep -q "this process: no images (more shards than images)" err.txt || fail "an empty shard: $(cat err.txt)"
rm -rf emptyshard
[ ! -e b1 ] || fail "a refused job left its folder b1 behind" # made, then removed when the request was refused
[ ! -e b1 ] && [ ! -e x.png ] && [ ! -e b.npz ] || fail "a refused request left a file behind"

if [ "$failed" -ne 0 ]; then
    echo "$failed check(s) failed" >&2
    exit 1
fi
echo "test_vgen_job: all checks passed"
