#!/usr/bin/env bash
# vbench: a short sweep of the tiny upstream model writes JSON in the documented schema, Markdown and a
# self-contained HTML report; --device all over pocl's two CPU drivers records a failing device and runs the other;
# --compare renders two files; --tune writes the GEMM tuning file that later runs use and report (a corrupted one is
# refused); bad arguments are refused with exit status 2.
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

# a short sweep, decode on
"$vbench" "${tiny[@]}" --depth 2 --warmup 0 --reps 2 --json "$tmp/a.json" --md "$tmp/a.md" --html "$tmp/a.html" \
    > "$tmp/a.stdout" 2> "$tmp/a.stderr"
check '[ $? -eq 0 ]' "sweep exits 0: $(tail -3 "$tmp/a.stderr")"
check '[ -s "$tmp/a.json" ] && [ -s "$tmp/a.md" ] && [ -s "$tmp/a.html" ]' "JSON, Markdown and HTML written"
check 'cmp -s "$tmp/a.md" "$tmp/a.stdout"' "the Markdown also goes to stdout"
check 'grep -q "vbench: depth 2" "$tmp/a.stderr"' "progress on stderr"
check 'grep -q "^- Policy: cpu (pocl\|^- Policy: gpu" "$tmp/a.md"' "the Markdown names the device policy"

# the schema
python3 - "$tmp/a.json" <<'PY' > "$tmp/schema.out" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
errors = []
def need(obj, keys, where):
    for k in keys:
        if k not in obj: errors.append(f"{where}: missing {k}")
need(d, ["varcl_version", "host", "results"], "top")
need(d["host"], ["name", "os", "cpu"], "host")
assert len(d["results"]) == 1, "one device"
r = d["results"][0]
need(r, ["device", "peak", "model", "runs", "policy"], "result")
need(r["policy"], ["family", "reason", "description"], "policy")
assert r["policy"]["family"] in ("cpu", "gpu"), r["policy"]
need(r["device"], ["platform", "name", "vendor", "driver", "compute_units", "global_mem_bytes"], "device")
need(r["peak"], ["sgemm_gflops", "bandwidth_gbs", "launch_us"], "peak")
need(r["model"], ["depth", "width", "heads", "params"], "model")
need(r, ["load"], "result")
need(r["load"], ["s", "file_bytes", "gbs", "weights", "weights_bytes", "vae_bytes", "weight_cache"], "load")
# what the weight cache did, in words (vgen --info's line): a CPU device reads or writes it, a GPU says it is off
assert isinstance(r["load"].get("weight_cache"), str) and r["load"]["weight_cache"], r["load"]
# the fixtures are F16: kept 16-bit on every device (--weights keep)
assert r["load"]["weights"] == "f16" and r["load"]["file_bytes"] > 0 and r["load"]["s"] > 0, r["load"]
assert r["load"]["weights_bytes"] > 0 and r["load"]["vae_bytes"] > 0, r["load"]
assert r["peak"]["sgemm_gflops"] > 0 and r["peak"]["bandwidth_gbs"] > 0 and r["peak"]["launch_us"] > 0, "peaks measured"
assert r["model"]["depth"] == 4 and r["model"]["width"] == 128, "model read from the file"
runs = r["runs"]
assert [x["depth"] for x in runs] == [4, 2], f"baseline first, then depth 2: {[x['depth'] for x in runs]}"
for x in runs:
    need(x, ["depth", "layers", "full_scales", "batch", "ms_per_image", "images_per_s", "scale_ms", "split_ms",
             "kv_bytes", "peak_bytes", "gflop_per_image", "speedup_vs_full", "kv_saving_vs_full",
             "launches_per_image", "syncs_per_image"], "run")
    need(x["ms_per_image"], ["median", "min", "max"], "ms_per_image")
    need(x["split_ms"], ["transformer", "sample", "vq", "decode"], "split_ms")
    need(x["peak_bytes"], ["total", "weights", "kv", "activations", "scratch", "vae"], "peak_bytes")
    assert len(x["scale_ms"]) == 10, "10 scale times"
    assert x["ms_per_image"]["min"] <= x["ms_per_image"]["median"] <= x["ms_per_image"]["max"], "min <= median <= max"
    assert x["split_ms"]["decode"] > 0, "decode timed"
    assert x["full_scales"] == 6 and x["batch"] == 1
full, d2 = runs
assert full["layers"] == [0, 1, 2, 3] and d2["layers"] == [0, 3], "layer lists"
assert full["speedup_vs_full"] == 1 and full["kv_saving_vs_full"] == 0, "baseline ratios"
# KV of the depth-2 plan: layers 0 and 3 store 680 tokens, layers 1 and 2 store 91 (pages of 16, 2 rows, C=128, f32)
page = 2 * 16 * 128 * 4
want = 2 * (2 * 43 + 2 * 6) * page
assert d2["kv_bytes"] == want, f"kv_bytes {d2['kv_bytes']} != {want}"
assert abs(d2["kv_saving_vs_full"] - (1 - want / full["kv_bytes"])) < 1e-3, "kv saving"
assert d2["gflop_per_image"] < full["gflop_per_image"], "fewer FLOPs at depth 2"
# launches: at least the 4 products of each layer at each of the 10 scales; fewer layers, fewer launches
assert full["launches_per_image"] >= 4 * 4 * 10 and d2["launches_per_image"] < full["launches_per_image"], \
    (full["launches_per_image"], d2["launches_per_image"])
# host waits: at least the logits read at each scale, far fewer than launches
assert 10 <= full["syncs_per_image"] < full["launches_per_image"] / 4, (full["syncs_per_image"], full["launches_per_image"])
assert errors == [], errors
print("schema ok")
PY
check 'grep -q "schema ok" "$tmp/schema.out"' "JSON schema: $(cat "$tmp/schema.out")"
check 'grep -q "| 2 " "$tmp/a.md" && grep -qi "depth" "$tmp/a.md"' "Markdown table has the depth rows"
check 'grep -q "^- Load: .* GB/s of .* MiB of checkpoint; weights f.*; weight cache: ." "$tmp/a.md"' \
    "Markdown has the load line with the weight cache"
check 'grep -q "; weight cache: .*</dd>" "$tmp/a.html"' "HTML has the load line with the weight cache"
check '[ "$(grep -o "<svg" "$tmp/a.html" | wc -l)" -ge 3 ]' "HTML has at least 3 inline SVG charts"
check '! grep -qi "<script" "$tmp/a.html"' "HTML needs no scripts"
check '[ "$(grep -o "https\?://[^\"]*" "$tmp/a.html" | grep -v "^http://www.w3.org/2000/svg$" | wc -l)" -eq 0 ]' \
    "HTML loads nothing from the network"

# sampling on the device: the host does not wait between transformer, sampling and VQ step, so the split gives them
# as one figure (sample and vq null), and the run waits for the device fewer times than with the host sampler
# (this run also switches the weight cache off: the JSON must say so, and the default run must not)
VARCL_SAMPLER=device "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 --json "$tmp/dev.json" \
    --weight-cache off > /dev/null 2> "$tmp/dev.stderr"
check '[ $? -eq 0 ]' "vbench with the device sampler exits 0: $(tail -3 "$tmp/dev.stderr")"
VARCL_SAMPLER=host "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 --json "$tmp/hst.json" \
    > /dev/null 2> "$tmp/hst.stderr"
check '[ $? -eq 0 ]' "vbench with the host sampler exits 0: $(tail -3 "$tmp/hst.stderr")"
python3 - "$tmp/dev.json" "$tmp/hst.json" <<'PY' > "$tmp/dev.out" 2>&1
import json, sys
dev = json.load(open(sys.argv[1]))["results"][0]
host = json.load(open(sys.argv[2]))["results"][0]
assert "sampling on the device" in dev["policy"]["description"], dev["policy"]["description"]
for x in dev["runs"]:
    s = x["split_ms"]
    assert s["sample"] is None and s["vq"] is None and "merged" in s and s["transformer"] > 0, s
hs = {x["depth"]: x["syncs_per_image"] for x in host["runs"]}
for x in dev["runs"]:
    assert x["syncs_per_image"] < hs[x["depth"]], (x["depth"], x["syncs_per_image"], hs[x["depth"]])
assert dev["load"]["weight_cache"] == "off (--weight-cache off)", dev["load"]
assert "--weight-cache off" not in host["load"]["weight_cache"], host["load"]
print("device split ok")
PY
check 'grep -q "device split ok" "$tmp/dev.out"' \
    "device sampler's split and waits, and --weight-cache off in the JSON: $(cat "$tmp/dev.out")"
"$vbench" --compare "$tmp/a.json" "$tmp/dev.json" --md "$tmp/dc.md" > /dev/null 2> "$tmp/dc.stderr"
check '[ $? -eq 0 ] && [ -s "$tmp/dc.md" ]' "--compare reads a merged split: $(cat "$tmp/dc.stderr")"

# --device all over pocl's two CPU drivers, the first one failing on purpose (needs two devices: skipped where the
# platform shows only one, e.g. a lone GPU)
ndev=$(POCL_DEVICES="pthread basic" "$vgen" --list-devices | grep -c '^[0-9]')
if [ "$ndev" -ge 2 ]; then
POCL_DEVICES="pthread basic" VBENCH_FAIL_DEVICE=0 "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 \
    --device all --json "$tmp/b.json" > "$tmp/b.stdout" 2> "$tmp/b.stderr"
check '[ $? -eq 0 ]' "--device all exits 0 when one device still ran: $(tail -3 "$tmp/b.stderr")"
python3 - "$tmp/b.json" "$ndev" <<'PY' > "$tmp/all.out" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
# every device listed (pocl's two; Mesa's rusticl too where RUSTICL_ENABLE shows it)
assert len(r) == int(sys.argv[2]), f"{len(r)} results for {sys.argv[2]} devices"
assert "error" in r[0] and "on purpose" in r[0]["error"] and not r[0]["runs"], "device 0 recorded with its error"
assert all("error" not in x and len(x["runs"]) == 2 for x in r[1:]), "the other devices still ran"
assert r[0]["device"]["name"] != r[1]["device"]["name"], "two different devices"
assert all(x["split_ms"]["decode"] == 0 for x in r[1]["runs"]), "--decode off"
print("all ok")
PY
check 'grep -q "all ok" "$tmp/all.out"' "--device all: $(cat "$tmp/all.out")"
check 'grep -q "failed on purpose" "$tmp/b.stdout"' "the Markdown shows the failed device"
else
    echo "skip: --device all needs two devices, $ndev found"
    cp "$tmp/a.json" "$tmp/b.json"
fi

# --compare
"$vbench" --compare "$tmp/a.json" "$tmp/b.json" --md "$tmp/c.md" --html "$tmp/c.html" > /dev/null 2> "$tmp/c.stderr"
check '[ $? -eq 0 ] && [ -s "$tmp/c.md" ] && [ -s "$tmp/c.html" ]' "--compare writes Markdown and HTML: $(cat "$tmp/c.stderr")"
check '[ "$(grep -o "<svg" "$tmp/c.html" | wc -l)" -gt "$(grep -o "<svg" "$tmp/a.html" | wc -l)" ]' \
    "--compare adds the side-by-side chart"

# --tune: writes the device's GEMM tuning file into a private VARCL_CACHE_DIR, later runs use and report it, a file
# cut short or damaged is not used, a well-framed but malformed one is refused with one line naming it, a new --tune
# replaces it; VARCL_CACHE_DIR=off prints only.
# Two candidates, few shapes and reps: the CPU sets are the ones the sweeps above compiled into pocl's cache.
# VARCL_LINEAR=clblast: products with weights through CLBlast too (CPUs keep weights packed, and then only the
# decoder's attention products are CLBlast's), so that both classes are tuned.
cache="$tmp/cache"
# candidates of the policy family of the device the tests run on (VARCL_DEVICE: pocl's cpu family takes the CPU
# sets; GPUs and rusticl the gpu family, whose local memory the CPU sets exceed)
if "$vgen" "${tiny[@]}" --info 2>&1 | grep -q ', policy gpu'; then set1=gpu-64x64 set2=gpu-128x128-k32
else set1=cpu-linear set2=cpu-conv; fi
quick=(--tune-sets $set1,$set2 --tune-shapes 2 --tune-reps 1)
VARCL_LINEAR=clblast VARCL_CACHE_DIR="$cache" "$vbench" "${tiny[@]}" --tune "${quick[@]}" > "$tmp/t.md" 2> "$tmp/t.err"
check '[ $? -eq 0 ]' "--tune exits 0: $(tail -3 "$tmp/t.err")"
tuned=$(ls "$cache"/gemm-*.ini 2> /dev/null | head -1)
check '[ -n "$tuned" ] && [ "$(ls "$cache"/gemm-*.ini | wc -l)" -eq 1 ]' "--tune writes one gemm-<hash>.ini"
check 'grep -q "^| linear | $set1 | [0-9.]* | [0-9.]* | ok |" "$tmp/t.md" && grep -q "^| conv | $set2 |" "$tmp/t.md"' \
    "--tune prints the Markdown table: $(grep "^|" "$tmp/t.md" | head -3)"
check 'grep -qF "Stored in $tuned" "$tmp/t.md"' "--tune says where the file went"
check 'grep -q "^device = " "$tuned" && grep -q "^driver = " "$tuned" && grep -q "^date = " "$tuned" &&
       [ "$(grep -c "^params = GEMMK=0 KREG=1 KWG=" "$tuned")" -eq 2 ] &&
       grep -q "^#   $set2  *[0-9.]*  ok" "$tuned"' "the file is readable: device, date, sets, measurements"
check '[ -z "$(ls "$cache" | grep "tmp")" ]' "no temporary file left"
VARCL_CACHE_DIR="$cache" "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 --json "$tmp/t.json" \
    > "$tmp/t2.md" 2> "$tmp/t2.err"
check '[ $? -eq 0 ]' "a sweep with the tuned file exits 0: $(tail -3 "$tmp/t2.err")"
check 'grep -qF "GEMM parameters: tuned file $tuned (linear: " "$tmp/t2.md"' \
    "the report names the tuned file: $(grep "GEMM" "$tmp/t2.md")"
python3 - "$tmp/t.json" "$tuned" "$tmp/a.json" "$set1" "$set2" <<'PY' > "$tmp/gemm.out" 2>&1
import json, sys
g = json.load(open(sys.argv[1]))["results"][0]["gemm"]
assert g["params"] == "tuned file" and g["file"] == sys.argv[2], g
assert g["linear"] in sys.argv[4:6] and g["conv"] in sys.argv[4:6], g
assert g["weights"] in ("packed", "[K][N]"), g
a = json.load(open(sys.argv[3]))["results"][0]["gemm"]
assert a["params"] in ("built-in CPU sets", "tuned file", "CLBlast defaults"), a
print("gemm ok")
PY
check 'grep -q "gemm ok" "$tmp/gemm.out"' "JSON gemm object: $(cat "$tmp/gemm.out")"
VARCL_CACHE_DIR="$cache" "$vgen" "${tiny[@]}" -q -o "$tmp/t.png" 2> "$tmp/t3.err"
check '[ $? -eq 0 ] && [ -s "$tmp/t.png" ]' "vgen runs with the tuned file: $(cat "$tmp/t3.err")"
# The file's frame (host/cachefile.h): first line "# varcl-cache 1 gemm-tuning LENGTH CRC32"; reframe FILE puts a
# matching frame around an edited body, as a file written by a later varcl with the same contents would have.
reframe() { python3 "$(dirname "$0")/reframe.py" "$1" gemm-tuning; }
check 'head -1 "$tuned" | grep -q "^# varcl-cache 1 gemm-tuning [0-9]* [0-9a-f]\{8\}$"' "the file starts with its frame"
# cut short (a full disk) or damaged: not used (CLBlast's defaults are correct), vgen runs; --tune rewrites it
cp "$tuned" "$tmp/good.ini"
head -c 300 "$tmp/good.ini" > "$tuned"
VARCL_CACHE_DIR="$cache" "$vgen" "${tiny[@]}" -q -o "$tmp/t.png" 2> "$tmp/c0.err"
check '[ $? -eq 0 ] && [ ! -s "$tmp/c0.err" ]' "a tuning file cut short is not used: $(cat "$tmp/c0.err")"
sed 's/^\(params = GEMMK=0 KREG=1 KWG=\)[0-9]*/\17/' "$tmp/good.ini" > "$tuned"
VARCL_CACHE_DIR="$cache" "$vgen" "${tiny[@]}" -q -o "$tmp/t.png" 2> "$tmp/c0.err"
check '[ $? -eq 0 ] && [ ! -s "$tmp/c0.err" ]' "a tuning file whose checksum fails is not used: $(cat "$tmp/c0.err")"
# well framed but wrong: a set that breaks CLBlast's constraints, then garbage
sed 's/^\(params = GEMMK=0 KREG=1 KWG=\)[0-9]*/\17/' "$tmp/good.ini" > "$tuned"
reframe "$tuned"
VARCL_CACHE_DIR="$cache" "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 > /dev/null 2> "$tmp/c1.err"
rc=$?
check '[ $rc -ne 0 ] && [ "$(wc -l < "$tmp/c1.err")" -eq 1 ] && grep -qF "$tuned" "$tmp/c1.err" &&
       grep -q "constraints" "$tmp/c1.err" && grep -q "vbench --tune" "$tmp/c1.err"' \
    "a set breaking the constraints: one line naming the file and the fix (exit $rc): $(cat "$tmp/c1.err")"
printf 'format = 1\nthis is not a tuning file\n' > "$tuned"
reframe "$tuned"
VARCL_CACHE_DIR="$cache" "$vgen" "${tiny[@]}" -q -o "$tmp/t.png" 2> "$tmp/c2.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/c2.err")" -eq 1 ] && grep -qF "$tuned: line 3" "$tmp/c2.err" &&
       grep -q "delete the file" "$tmp/c2.err"' "a malformed file: vgen exits 2 with one line (exit $rc): $(cat "$tmp/c2.err")"
VARCL_CACHE_DIR="$cache" VARCL_GEMM_TUNING=off "$vgen" "${tiny[@]}" -q -o "$tmp/t.png" 2> "$tmp/c3.err"
check '[ $? -eq 0 ]' "VARCL_GEMM_TUNING=off ignores the file: $(cat "$tmp/c3.err")"
VARCL_LINEAR=clblast VARCL_CACHE_DIR="$cache" "$vbench" "${tiny[@]}" --tune --tune-sets $set2 --tune-shapes 1 \
    --tune-reps 1 > /dev/null 2> "$tmp/t4.err"
check '[ $? -eq 0 ] && grep -q "^\[conv\]" "$tuned" && grep -q "^set = $set2" "$tuned"' \
    "--tune replaces a corrupted file: $(tail -2 "$tmp/t4.err")"
# the cache off: printed, not stored
VARCL_LINEAR=clblast VARCL_CACHE_DIR=off "$vbench" "${tiny[@]}" --tune --tune-sets $set2 --tune-shapes 1 \
    --tune-reps 1 > "$tmp/t5.md" 2> "$tmp/t5.err"
check '[ $? -eq 0 ] && grep -q "^| conv | $set2" "$tmp/t5.md" && grep -q "Not stored" "$tmp/t5.md" &&
       grep -q "printed, not stored" "$tmp/t5.err"' "VARCL_CACHE_DIR=off: --tune prints, stores nothing"
# packed weights: nothing runs through CLBlast, so nothing is tuned and the file stays as it was
cp "$tuned" "$tmp/before.ini"
VARCL_LINEAR=packed VARCL_CACHE_DIR="$cache" "$vbench" "${tiny[@]}" --tune > "$tmp/t6.md" 2> "$tmp/t6.err"
check '[ $? -eq 0 ] && grep -q "Nothing to tune" "$tmp/t6.md" && cmp -s "$tuned" "$tmp/before.ini"' \
    "VARCL_LINEAR=packed: --tune says there is nothing to tune and writes nothing: $(cat "$tmp/t6.md" "$tmp/t6.err")"

# bad arguments: exit status 2, one line
expect2() {
    local what=$1; shift
    "$@" > "$tmp/e.out" 2> "$tmp/e.err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "^vbench: " "$tmp/e.err"; then ok
    else bad "$what: exit $rc, stderr: $(cat "$tmp/e.err")"; fi
}
expect2 "--depth 0" "$vbench" "${tiny[@]}" --depth 0
expect2 "--depth beyond the model" "$vbench" "${tiny[@]}" --depth 9 --reps 1 --warmup 0
expect2 "no --depth" "$vbench" "${tiny[@]}"
expect2 "--depth listing a value twice" "$vbench" "${tiny[@]}" --depth 2,2
expect2 "--batch listing a value twice" "$vbench" "${tiny[@]}" --depth 2 --batch 1,4,1
expect2 "--depth given twice" "$vbench" "${tiny[@]}" --depth 2 --reps 1 --depth 4
grep -q "given twice ('2', then '4')" "$tmp/e.err" || bad "--depth given twice: both values not named: $(cat "$tmp/e.err")"
expect2 "--decode given twice, once as --flag=value" "$vbench" "${tiny[@]}" --depth 2 --decode on --decode=off
expect2 "--device empty" "$vbench" "${tiny[@]}" --depth 2 --device ""
echo '{"results": [' > "$tmp/broken.json"
# flags that would change nothing are refused, not taken silently
expect2 "--compare with --json" "$vbench" --compare "$tmp/a.json" --json "$tmp/z.json"
[ ! -e "$tmp/z.json" ] && ok || bad "--compare with --json wrote $tmp/z.json"
for f in "--reps 3" "--batch 2" "--decode off" "--device 0" "--weights f16"; do
    # shellcheck disable=SC2086 # the flag and its value
    expect2 "--compare with $f" "$vbench" --compare "$tmp/a.json" $f --md "$tmp/z.md"
done
expect2 "--compare with --model/--vae" "$vbench" --compare "$tmp/a.json" "${tiny[@]}" --md "$tmp/z.md"
[ ! -e "$tmp/z.md" ] && ok || bad "a refused --compare wrote $tmp/z.md"
for f in "--batch 2" "--reps 3" "--decode off" "--full-scales 2"; do
    # shellcheck disable=SC2086
    expect2 "--tune with $f" "$vbench" "${tiny[@]}" --tune $f
done
# hand-edited times that no run makes: refused, naming the field (speed-ups were taken from them)
for v in -5 0 '"fast"' 1e308; do
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["results"][0]["runs"][0]["ms_per_image"]["median"] = json.loads(sys.argv[2]); json.dump(d, open(sys.argv[3], "w"))' \
        "$tmp/a.json" "$v" "$tmp/edited.json"
    expect2 "--compare with a median of $v" "$vbench" --compare "$tmp/edited.json" --md "$tmp/z.md"
    grep -q "ms_per_image.median" "$tmp/e.err" || bad "median $v: the field is not named: $(cat "$tmp/e.err")"
done
expect2 "--compare unreadable JSON" "$vbench" --compare "$tmp/broken.json"
expect2 "--compare missing file" "$vbench" --compare "$tmp/none.json"
expect2 "unknown option" "$vbench" --depth 2 --frobnicate 1
expect2 "--batch past vgen's 1024" "$vbench" --depth 2 --batch 1025
expect2 "--json named .png" "$vbench" --depth 2 --json "$tmp/r.png"
expect2 "--md named .json" "$vbench" --depth 2 --md "$tmp/r.json"
expect2 "--html named .md" "$vbench" --depth 2 --html "$tmp/r.md"
"$vbench" --depth 2 --frobnicate 2> "$tmp/e.err"
grep -q "unknown option '--frobnicate'" "$tmp/e.err" || bad "a last unknown flag is named unknown: $(cat "$tmp/e.err")"
expect2 "--decode maybe" "$vbench" --depth 2 --decode maybe
expect2 "--weight-cache on" "$vbench" --depth 2 --weight-cache on
expect2 "--tune with --depth" "$vbench" --tune --depth 2
expect2 "--tune-sets without --tune" "$vbench" --depth 2 --tune-sets cpu-conv
expect2 "--tune-reps without --tune" "$vbench" --depth 2 --tune-reps 2
expect2 "--tune-sets unknown" "$vbench" --tune --tune-sets cpu-conv,nonsense
# each candidate named once, no empty names (they were taken: default,default timed twice, ',,' skipped)
for sets in default,default default, ,default default,,cpu-conv none,default ""; do
    expect2 "--tune-sets '$sets'" "$vbench" --tune --tune-sets "$sets"
done
# the tuners time f32 products: --weights was taken and ignored
expect2 "--tune with --weights" "$vbench" --tune --weights bf16
expect2 "--tune-reps 0" "$vbench" --tune --tune-reps 0
# names read from a document are shown, not obeyed: an ESC or a direction override in a hand-edited device name
# reached the terminal live through the Markdown on standard output
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["results"][0]["device"]["name"] = "dev\x1b[31mred\u202e"
json.dump(d, open(sys.argv[2], "w"))' "$tmp/a.json" "$tmp/esc.json"
"$vbench" --compare "$tmp/esc.json" > "$tmp/esc.md" 2> "$tmp/e.err"
check '! grep -q $'"'"'\x1b'"'"' "$tmp/esc.md" && grep -qF "x1b" "$tmp/esc.md" && ! grep -q $'"'"'\xe2\x80\xae'"'"' "$tmp/esc.md"' \
    "control characters in a --compare name escaped: $(grep -a dev "$tmp/esc.md" | head -2)"
# the outputs are written together: one that fails (/dev/full, or standard output) leaves none of the others (the
# Markdown file was kept when the HTML failed)
rm -f "$tmp/both.md"
"$vbench" --compare "$tmp/a.json" --md "$tmp/both.md" --html /dev/full > /dev/null 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 1 ] && [ ! -e "$tmp/both.md" ]' "--md with --html /dev/full: exit $rc, the .md left: $(ls "$tmp"/both.md 2>&1)"
"$vbench" --compare "$tmp/a.json" --md "$tmp/both.md" > /dev/full 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 1 ] && [ ! -e "$tmp/both.md" ]' "--md with standard output full: exit $rc, the .md left"
# write failures are run-time failures: exit status 1, one line (stdout on a full disk, a report into a folder
# that is there but full is the same path)
"$vbench" --compare "$tmp/a.json" > /dev/full 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 1 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "^vbench: cannot write to standard output" "$tmp/e.err"' \
    "--compare to a full disk: exit $rc: $(cat "$tmp/e.err")"
(trap '' XFSZ; ulimit -f 1; exec "$vbench" --compare "$tmp/a.json" "$tmp/b.json" --html "$tmp/big.html") > /dev/null \
    2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 1 ] && grep -q "big.html: cannot write" "$tmp/e.err" && [ ! -e "$tmp/big.html" ]' \
    "--html write fails: exit $rc: $(cat "$tmp/e.err")"
expect2 "--md into a missing folder" "$vbench" --compare "$tmp/a.json" --md "$tmp/no-such-dir/r.md"
"$vbench" --help > /dev/full 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 1 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "cannot write to standard output" "$tmp/e.err"' \
    "--help to a full device: exit $rc: $(cat "$tmp/e.err")"
sum0=$(cksum < "$data/upstream-tiny/var.safetensors")
# outputs checked before the benchmark runs (no progress line: nothing was measured): a missing folder, a folder,
# one file for two outputs, an output that is an input
for case in "--json $tmp/no-such-dir/r.json|does not exist" "--html $tmp|is a directory" \
    "--json $tmp/r.out --md $tmp/./r.out|r.out and --md $tmp/./r.out name the same file" \
    "--json $data/upstream-tiny/var.safetensors|and --model $data/upstream-tiny/var.safetensors name the same file"; do
    read -r -a args <<<"${case%|*}"
    "$vbench" "${tiny[@]}" --depth 2 --warmup 0 --reps 1 "${args[@]}" > "$tmp/e.out" 2> "$tmp/e.err"
    rc=$?
    check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "${case#*|}" "$tmp/e.err"' \
        "${case%|*} refused before the run: exit $rc: $(cat "$tmp/e.err")"
done
# vbench's own messages keep what they quote to one line (a newline in a path or a value is written as \n)
"$vbench" "${tiny[@]}" --depth 2 --warmup 0 --reps 1 --json "$tmp/r
.out" --md "$tmp/./r
.out" > "$tmp/e.out" 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -qF "r\n.out name the same file" "$tmp/e.err"' \
    "a newline in an output path: one line: exit $rc: $(cat "$tmp/e.err")"
"$vbench" "${tiny[@]}" --depth "$(printf '2\n8')" > "$tmp/e.out" 2> "$tmp/e.err"
rc=$?
check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -qF "2\n8" "$tmp/e.err"' \
    "a newline in a list value: one line: exit $rc: $(cat "$tmp/e.err")"
check '[ ! -e "$tmp/r.out" ] && [ "$(cksum < "$data/upstream-tiny/var.safetensors")" = "$sum0" ]' \
    "refused outputs leave nothing and the input named as an output unchanged"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
