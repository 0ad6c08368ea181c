#!/usr/bin/env bash
# vbench: a short sweep of the tiny upstream model writes JSON in the documented schema, Markdown and a
# self-contained HTML report; --device all over pocl's two CPU drivers records a failing device and runs the other;
# --compare renders two files; bad arguments are refused with exit status 2.
set -u
data=${VARCL_TEST_DATA:?}
vbench=$(cd "$(dirname "${VBENCH:?}")" && pwd)/$(basename "$VBENCH")
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
need(r, ["device", "peak", "model", "runs"], "result")
need(r["device"], ["platform", "name", "vendor", "driver", "compute_units", "global_mem_bytes"], "device")
need(r["peak"], ["sgemm_gflops", "bandwidth_gbs"], "peak")
need(r["model"], ["depth", "width", "heads", "params"], "model")
assert r["peak"]["sgemm_gflops"] > 0 and r["peak"]["bandwidth_gbs"] > 0, "peaks measured"
assert r["model"]["depth"] == 4 and r["model"]["width"] == 128, "model read from the file"
runs = r["runs"]
assert [x["depth"] for x in runs] == [4, 2], f"baseline first, then depth 2: {[x['depth'] for x in runs]}"
for x in runs:
    need(x, ["depth", "layers", "full_scales", "batch", "ms_per_image", "images_per_s", "scale_ms", "split_ms",
             "kv_bytes", "peak_bytes", "gflop_per_image", "speedup_vs_full", "kv_saving_vs_full"], "run")
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
assert errors == [], errors
print("schema ok")
PY
check 'grep -q "schema ok" "$tmp/schema.out"' "JSON schema: $(cat "$tmp/schema.out")"
check 'grep -q "| 2 " "$tmp/a.md" && grep -qi "depth" "$tmp/a.md"' "Markdown table has the depth rows"
check '[ "$(grep -o "<svg" "$tmp/a.html" | wc -l)" -ge 3 ]' "HTML has at least 3 inline SVG charts"
check '! grep -qi "<script" "$tmp/a.html"' "HTML needs no scripts"
check '[ "$(grep -o "https\?://[^\"]*" "$tmp/a.html" | grep -v "^http://www.w3.org/2000/svg$" | wc -l)" -eq 0 ]' \
    "HTML loads nothing from the network"

# --device all over pocl's two CPU drivers, the first one failing on purpose
POCL_DEVICES="pthread basic" VBENCH_FAIL_DEVICE=0 "$vbench" "${tiny[@]}" --depth 2 --decode off --warmup 0 --reps 1 \
    --device all --json "$tmp/b.json" > "$tmp/b.stdout" 2> "$tmp/b.stderr"
check '[ $? -eq 0 ]' "--device all exits 0 when one device still ran: $(tail -3 "$tmp/b.stderr")"
python3 - "$tmp/b.json" <<'PY' > "$tmp/all.out" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
assert len(r) == 2, f"{len(r)} results"
assert "error" in r[0] and "on purpose" in r[0]["error"] and not r[0]["runs"], "device 0 recorded with its error"
assert "error" not in r[1] and len(r[1]["runs"]) == 2, "device 1 still ran"
assert r[0]["device"]["name"] != r[1]["device"]["name"], "two different devices"
assert all(x["split_ms"]["decode"] == 0 for x in r[1]["runs"]), "--decode off"
print("all ok")
PY
check 'grep -q "all ok" "$tmp/all.out"' "--device all: $(cat "$tmp/all.out")"
check 'grep -q "failed on purpose" "$tmp/b.stdout"' "the Markdown shows the failed device"

# --compare
"$vbench" --compare "$tmp/a.json" "$tmp/b.json" --md "$tmp/c.md" --html "$tmp/c.html" > /dev/null 2> "$tmp/c.stderr"
check '[ $? -eq 0 ] && [ -s "$tmp/c.md" ] && [ -s "$tmp/c.html" ]' "--compare writes Markdown and HTML: $(cat "$tmp/c.stderr")"
check '[ "$(grep -o "<svg" "$tmp/c.html" | wc -l)" -gt "$(grep -o "<svg" "$tmp/a.html" | wc -l)" ]' \
    "--compare adds the side-by-side chart"

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
echo '{"results": [' > "$tmp/broken.json"
expect2 "--compare unreadable JSON" "$vbench" --compare "$tmp/broken.json"
expect2 "--compare missing file" "$vbench" --compare "$tmp/none.json"
expect2 "unknown option" "$vbench" --depth 2 --frobnicate 1
expect2 "--decode maybe" "$vbench" --depth 2 --decode maybe

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
