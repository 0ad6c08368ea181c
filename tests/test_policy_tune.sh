#!/usr/bin/env bash
# vbench --tune's work-group sizes (host/policy_tune.h): timed on the device and stored per device in a private
# VARCL_CACHE_DIR; later runs of the same policy family apply them (the policy's description shows the sizes, its
# reason says so); a file for the other family, a file cut short and VARCL_POLICY_TUNING=off are not applied; a
# well-framed but malformed file is refused with one line naming it.
set -u
data=${VARCL_TEST_DATA:?}
vbench=$(cd "$(dirname "${VBENCH:?}")" && pwd)/$(basename "$VBENCH")
vgen=$(cd "$(dirname "${VGEN:?}")" && pwd)/$(basename "$VGEN")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
tiny=(--model "$data/upstream-tiny/var.safetensors" --vae "$data/upstream-tiny/vae.safetensors")
cache=$tmp/cache
export VARCL_CACHE_DIR=$cache
# the gpu family on any device: linear_simt and the tiled attention (attn_local: its qk_norm_store), so that all
# three sizes are timed
VARCL_POLICY=gpu "$vbench" "${tiny[@]}" --tune --tune-reps 1 > "$tmp/t.md" 2> "$tmp/t.err"
check '[ $? -eq 0 ]' "--tune exits 0: $(tail -3 "$tmp/t.err")"
file=$(ls "$cache"/policy-*.ini 2> /dev/null | head -1)
check '[ -n "$file" ] && [ "$(ls "$cache"/policy-*.ini | wc -l)" -eq 1 ]' "--tune writes one policy-<hash>.ini"
check 'grep -q "^family = gpu$" "$file" && grep -q "^elem_local = [0-9]*$" "$file" &&
       grep -q "^simt_local = [0-9]*$" "$file" && grep -q "^attn_local = [0-9]*$" "$file" &&
       grep -q "^# linear_simt, .*median ms per launch by local size: driver: [0-9.]* 8: " "$file"' \
    "the file holds the family, the three sizes and the timings: $(cat "$file")"
check 'grep -q "^| element-wise | " "$tmp/t.md" && grep -q "^| linear_simt | " "$tmp/t.md" &&
       grep -q "^| attention | " "$tmp/t.md" && grep -qF "Stored in $file" "$tmp/t.md"' \
    "--tune prints the table and where it went: $(cat "$tmp/t.md")"

# The policy as a short run reports it (vbench JSON): "description" and "reason"
policy() {
    "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 --json "$tmp/p.json" > /dev/null 2> "$tmp/p.err" ||
        { echo "vbench failed: $(cat "$tmp/p.err")"; return; }
    python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["results"][0]["policy"]; print(p["reason"] + " | " + p["description"])' "$tmp/p.json"
}
# The file's frame (host/cachefile.h): reframe FILE puts a matching frame around an edited body
reframe() { python3 "$(dirname "$0")/reframe.py" "$1" policy-tuning; }
check 'head -1 "$file" | grep -q "^# varcl-cache 1 policy-tuning [0-9]* [0-9a-f]\{8\}$"' "the file starts with its frame"
cp "$file" "$tmp/good.ini"
# sizes no family default has, so that the description shows whether the file was applied
sed -e 's/^elem_local = .*/elem_local = 32/' -e 's/^simt_local = .*/simt_local = 16/' \
    -e 's/^attn_local = .*/attn_local = 4/' "$tmp/good.ini" > "$file"
reframe "$file"
out=$(VARCL_POLICY=gpu policy)
check 'case "$out" in *"work-groups measured"*"linear_simt on weights [K][N] (local 16"*"attention by tiles of queries, keys staged in local memory (local up to 64, qk_norm_store 4)"*"element-wise local 32"*) true;; *) false;; esac' \
    "the gpu family applies the file's sizes: $out"
out=$(VARCL_POLICY=cpu policy)
check 'case "$out" in *"work-groups measured"*) false;; *"cpu (pocl"*|*"| cpu ("*) true;; *) false;; esac' \
    "the cpu family ignores a file measured for gpu: $out"
out=$(VARCL_POLICY=gpu VARCL_POLICY_TUNING=off policy)
check 'case "$out" in *"work-groups measured"*) false;; *"element-wise local 64"*) true;; *) false;; esac' \
    "VARCL_POLICY_TUNING=off ignores the file: $out"
head -c 200 "$tmp/good.ini" > "$file"
out=$(VARCL_POLICY=gpu policy)
check 'case "$out" in *"work-groups measured"*|*"vbench failed"*) false;; *) true;; esac' "a file cut short is not used: $out"

# well framed but wrong: one line naming the file and the fix, exit 2
for edit in 's/^simt_local = .*/simt_local = 7/' 's/^attn_local = .*/attn_local = 4096/' 's/^family = .*/family = fpga/' \
            's/^format = .*/format = 9/' '$a frobnicate = 1' '$a family = gpu' '$a format = 1' '/^device = /p' \
            's/^attn_local = \(.*\)/attn_local = \1\x00 junk/'; do
    sed -e "$edit" "$tmp/good.ini" > "$file"
    reframe "$file"
    VARCL_POLICY=gpu "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
    rc=$?
    check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -qF "$file: line" "$tmp/e.err" &&
           grep -q "vbench --tune" "$tmp/e.err" && [ ! -e "$tmp/x.png" ]' \
        "malformed file ($edit): exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"
done
# a frame around an empty body: refused like a body without its lines
: > "$file"
reframe "$file"
VARCL_POLICY=gpu "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -qF "$file: empty" "$tmp/e.err"' \
    "a framed empty body: exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"
# the fix the refusal names works: --tune over a malformed file rewrites it
VARCL_POLICY=gpu "$vbench" "${tiny[@]}" --tune --tune-reps 1 > /dev/null 2> "$tmp/r.err"
check '[ $? -eq 0 ] && grep -q "^family = gpu$" "$file" && grep -q "^elem_local = [0-9]*$" "$file"' \
    "--tune replaces a malformed file: $(tail -2 "$tmp/r.err")"
# not a regular file (a FIFO would block a reader): not used, the run goes on
rm -f "$file" && mkfifo "$file"
VARCL_POLICY=gpu timeout 120 "$vgen" "${tiny[@]}" -q -o "$tmp/f.png" 2> "$tmp/f.err"
check '[ $? -eq 0 ] && [ -s "$tmp/f.png" ]' "a FIFO at the file's path is not read: $(cat "$tmp/f.err")"
rm -f "$file"
VARCL_POLICY_TUNING=maybe "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "VARCL_POLICY_TUNING=maybe" "$tmp/e.err"' \
    "VARCL_POLICY_TUNING=maybe: exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"

# Where CLBlast runs the products (VARCL_LINEAR=clblast here; GPUs by default): --tune also times linear_simt
# against CLBlast on few rows and stores the threshold (simt_rows); later runs take products up to it to linear_simt
rm -f "$cache"/policy-*.ini
VARCL_LINEAR=clblast "$vbench" "${tiny[@]}" --tune --tune-reps 1 > "$tmp/c.md" 2> "$tmp/c.err"
check '[ $? -eq 0 ]' "--tune with CLBlast products exits 0: $(tail -3 "$tmp/c.err")"
file=$(ls "$cache"/policy-*.ini 2> /dev/null | head -1)
check '[ -n "$file" ] && grep -q "^simt_rows = [0-9]*$" "$file" &&
       grep -q "^# few-row products, .* median ms by rows: 2: [0-9.]* / [0-9.]* 8: " "$file" &&
       grep -q "^| few-row products | .* 512 rows: [0-9.]* / [0-9.]* | " "$tmp/c.md"' \
    "the file and the table hold the few-row threshold and its timings: $(cat "$file" "$tmp/c.md")"
cp "$file" "$tmp/rows.ini"
sed -e 's/^simt_rows = .*/simt_rows = 48/' "$tmp/rows.ini" > "$file"
reframe "$file"
out=$(VARCL_LINEAR=clblast policy)
check 'case "$out" in *"CLBlast on weights [K][N] (local driver'"'"'s; linear_splitk up to 48 rows)"*) true;; *) false;; esac' \
    "the file's simt_rows is applied: $out"
out=$(VARCL_LINEAR=clblast VARCL_SIMT_ROWS=6 policy)
check 'case "$out" in *"linear_splitk up to 6 rows"*) true;; *) false;; esac' "VARCL_SIMT_ROWS wins over the file: $out"
# the threshold was timed with linear_splitk (the file says so): with VARCL_FEW_ROWS=simt it does not apply
check 'grep -q "^few_rows_kernel = splitk$" "$file"' "the file names the few-row kernel it timed: $(cat "$file")"
out=$(VARCL_LINEAR=clblast VARCL_FEW_ROWS=simt policy)
check 'case "$out" in *"up to 48 rows"*) false;; *"products CLBlast"*) true;; *) false;; esac' \
    "a threshold timed with linear_splitk is not applied to linear_simt: $out"
sed -e 's/^few_rows_kernel = .*/few_rows_kernel = fast/' "$file" > "$tmp/k.ini" && cp "$tmp/k.ini" "$file"
reframe "$file"
VARCL_LINEAR=clblast "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "few_rows_kernel" "$tmp/e.err"' \
    "few_rows_kernel = fast: exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"
# a threshold without the kernel it was timed with (a file from before that line) is refused, naming the remedy
grep -v "^few_rows_kernel" "$tmp/rows.ini" > "$file"
reframe "$file"
VARCL_LINEAR=clblast "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "few_rows_kernel.*vbench --tune" "$tmp/e.err" &&
       [ ! -e "$tmp/x.png" ]' "simt_rows without few_rows_kernel: exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"
for v in -3 abc 2000000 +32 " "; do
    sed -e "s/^simt_rows = .*/simt_rows = $v/" "$tmp/rows.ini" > "$file"
    reframe "$file"
    VARCL_LINEAR=clblast "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
    rc=$?
    check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -qF "$file: line" "$tmp/e.err" &&
           grep -q "simt_rows" "$tmp/e.err"' "simt_rows = $v: exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"
done
# refused NAME VALUE: vgen with NAME=VALUE in its environment exits 2 with one line naming it, and writes no image
refused() {
    local name=$1 v=$2 rc
    env "$name=$v" "$vgen" "${tiny[@]}" -q -o "$tmp/x.png" 2> "$tmp/e.err"
    rc=$?
    # the value as given; quoted where a blank at either end would not be seen
    check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] &&
           { grep -qF "$name=$v:" "$tmp/e.err" || grep -qF "$name='"'"'$v'"'"':" "$tmp/e.err"; } &&
           [ ! -e "$tmp/x.png" ]' "$name='$v': exit 2 with one line (exit $rc): $(cat "$tmp/e.err")"
}
for v in -1 +5 " 5" 12x 1048577; do refused VARCL_SIMT_ROWS "$v"; done
refused VARCL_POLICY " "
grep -qF "VARCL_POLICY=' ': expected" "$tmp/e.err" || bad "VARCL_POLICY=' ': the blank is shown quoted: $(cat "$tmp/e.err")"
refused VARCL_LINEAR "packed "
grep -qF "VARCL_LINEAR='packed ': expected" "$tmp/e.err" || bad "VARCL_LINEAR='packed ': quoted: $(cat "$tmp/e.err")"
# VARCL_ATTENTION forces one attention kernel, named in the policy line; anything else is refused
rm -f "$file" # the malformed file of the loop above
for v in tiled:"by tiles of queries" split:"as products around a softmax" pairs:"two queries per work-item" \
    query:"per query" blocked:"attention blocked"; do
    out=$(VARCL_ATTENTION=${v%%:*} policy)
    check 'case "$out" in *"${v#*:}"*) true;; *) false;; esac' "VARCL_ATTENTION=${v%%:*}: $out"
done
for v in bogus Tiled " tiled"; do refused VARCL_ATTENTION "$v"; done
# VARCL_WINOGRAD forces the transforms' work shape, named in the policy line; anything else is refused
for v in lane:"Winograd a channel/item" float4:"Winograd 16 float4/item"; do
    out=$(VARCL_POLICY=cpu VARCL_WINOGRAD=${v%%:*} policy)
    check 'case "$out" in *"${v#*:}"*) true;; *) false;; esac' "VARCL_WINOGRAD=${v%%:*}: $out"
done
out=$(VARCL_POLICY=gpu VARCL_WINOGRAD=float4 policy)
check 'case "$out" in *"Winograd 1 float4/item"*) true;; *) false;; esac' "VARCL_POLICY=gpu VARCL_WINOGRAD=float4: $out"
for v in bogus Lane " lane"; do refused VARCL_WINOGRAD "$v"; done
# VARCL_POLICY=gpu-device: every choice a GPU device gets (the gpu family's SIMD-lane CPU choices are not taken)
out=$(VARCL_POLICY=gpu-device policy)
check 'case "$out" in "VARCL_POLICY=gpu-device | gpu "*"products CLBlast on weights [K][N]"*"im2col by channel"*"attention by tiles of queries"*"LayerNorm a row per work-group of"*"Winograd 1 float4/item"*"CLBlast sets CLBlast database, sampling on the device") true;; *) false;; esac' \
    "VARCL_POLICY=gpu-device gives a GPU's choices: $out"
out=$(VARCL_POLICY=gpu policy)
check 'case "$out" in *"CLBlast on weights"*) false;; *"products linear_simt on weights [K][N]"*) true;; *) false;; esac' \
    "VARCL_POLICY=gpu on a CPU device keeps the SIMD-lane CPU drivers' products: $out"
for v in gpu_device GPU "gpu-device "; do refused VARCL_POLICY "$v"; done
# VARCL_FEW_ROWS picks the few-row kernel of CLBlast devices, named in the policy line with VARCL_SIMT_ROWS
for v in splitk simt; do
    out=$(VARCL_POLICY=gpu-device VARCL_SIMT_ROWS=16 VARCL_FEW_ROWS=$v policy)
    check 'case "$out" in *"linear_$v up to 16 rows"*) true;; *) false;; esac' "VARCL_FEW_ROWS=$v: $out"
done
for v in bogus Simt " simt"; do refused VARCL_FEW_ROWS "$v"; done
# VARCL_PROFILE is 1 or 0 ("off" must not turn profiling on); VARCL_GEMM_TUNING is off or auto
for v in off no yes 2; do refused VARCL_PROFILE "$v"; done
for v in maybe 0 OFF; do refused VARCL_GEMM_TUNING "$v"; done

echo "test_policy_tune: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
