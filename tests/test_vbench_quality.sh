#!/usr/bin/env bash
# vbench --quality: on the tiny upstream model with the random-weight classifier and reference statistics of
# tests/data/quality (given as --classifier/--fd-ref), the JSON carries per depth "quality": {"accuracy" in [0, 1],
# "fd" >= 0, "images"} and "quality_setup"; the same seed gives the same figures, another seed other ones; the
# Markdown and HTML reports show the quality table and the trade-off charts. The built-in model: measured when its
# classifier is built in (models/demo), else refused. Bad combinations are refused with exit status 2, one line.
set -u
data=${VARCL_TEST_DATA:?}
vbench=$(cd "$(dirname "${VBENCH:?}")" && pwd)/$(basename "$VBENCH")
mkmodel=$(cd "$(dirname "${MKMODEL:?}")" && pwd)/$(basename "$MKMODEL")
py=${VARCL_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
tiny=(--model "$data/upstream-tiny/var.safetensors" --vae "$data/upstream-tiny/vae.safetensors")
cls=(--classifier "$data/quality/classifier.safetensors" --fd-ref "$data/quality/fd_ref.safetensors")
sweep=(--depth 2 --warmup 0 --reps 1)

# two runs with seed 5, one with seed 6, one image per class (test_quality.c checks that vbench's groups of
# requests measure what one request would)
for r in a b; do
    "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 "${cls[@]}" --seed 5 --json "$tmp/$r.json" --md "$tmp/$r.md" \
        --html "$tmp/$r.html" > /dev/null 2> "$tmp/$r.err"
    check '[ $? -eq 0 ]' "quality sweep $r exits 0: $(tail -3 "$tmp/$r.err")"
done
"$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 "${cls[@]}" --seed 6 --json "$tmp/c.json" > /dev/null 2> "$tmp/c.err"
check '[ $? -eq 0 ]' "quality sweep with seed 6 exits 0: $(tail -3 "$tmp/c.err")"
check 'grep -q "vbench: quality at depth 2: 1 images per class, 10 classes, seed 5" "$tmp/a.err"' "progress on stderr"

"$py" - "$tmp/a.json" "$tmp/b.json" "$tmp/c.json" <<'PY' > "$tmp/schema.out" 2>&1
import json, sys
a, b, c = (json.load(open(p))["results"][0] for p in sys.argv[1:])
s = a["quality_setup"]
assert s["classes"] == 10 and s["features"] == 64 and s["per_class"] == 1 and s["seed"] == 5, s
assert s["classifier"].endswith("classifier.safetensors") and s["fd_ref"].endswith("fd_ref.safetensors"), s
assert [r["depth"] for r in a["runs"]] == [4, 2], [r["depth"] for r in a["runs"]]
for r in a["runs"]:
    q = r["quality"]
    assert set(q) == {"accuracy", "fd", "images", "per_class"}, q
    assert 0 <= q["accuracy"] <= 1 and q["fd"] >= 0 and q["images"] == 10 and q["per_class"] == 1, q
    # accuracy is a count of the 10 images
    assert abs(q["accuracy"] * 10 - round(q["accuracy"] * 10)) < 1e-9, q
assert [r["quality"] for r in a["runs"]] == [r["quality"] for r in b["runs"]], "same seed, same quality"
assert [r["quality"]["fd"] for r in a["runs"]] != [r["quality"]["fd"] for r in c["runs"]], "another seed differs"
print("quality ok")
PY
check 'grep -q "quality ok" "$tmp/schema.out"' "JSON quality: $(cat "$tmp/schema.out")"
check 'grep -q "^- Quality: 1 images per class of 10 classes, seed 5" "$tmp/a.md" &&
       grep -q "^| depth | layers | images | accuracy | FD |" "$tmp/a.md" && grep -q "^| 2 | 2 | 10 | " "$tmp/a.md"' \
    "Markdown quality table"
check '[ "$(grep -o "<svg" "$tmp/a.html" | wc -l)" -eq 7 ] && grep -q "Accuracy vs KV cache" "$tmp/a.html"' \
    "HTML: the 3 charts and the 4 trade-off charts"
# --compare renders the quality of a saved file
"$vbench" --compare "$tmp/a.json" > "$tmp/cmp.md" 2> "$tmp/cmp.err"
check '[ $? -eq 0 ] && grep -q "^| 2 | 2 | 10 | " "$tmp/cmp.md"' "--compare shows the quality: $(cat "$tmp/cmp.err")"

# the built-in demo model: its own classifier when built in, else a clear refusal
if [ -s "${VARCL_DEMO_DIR:-/nonexistent}/classifier.safetensors" ] && [ -s "$VARCL_DEMO_DIR/var.safetensors" ]; then
    "$vbench" --depth 8 --warmup 0 --reps 1 --quality 1 --json "$tmp/d.json" > /dev/null 2> "$tmp/d.err"
    check '[ $? -eq 0 ] && grep -q "\"quality_setup\":{\"classifier\":\"built-in\"" "$tmp/d.json" &&
           [ "$(grep -o "\"quality\":{" "$tmp/d.json" | wc -l)" -eq 2 ]' \
        "built-in model measures its quality: $(tail -3 "$tmp/d.err")"
else
    "$vbench" --depth 8 --quality 1 > /dev/null 2> "$tmp/d.err"
    rc=$?
    check '[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/d.err")" -eq 1 ] && grep -q "has no classifier" "$tmp/d.err"' \
        "built-in model without a classifier refused: exit $rc: $(cat "$tmp/d.err")"
fi

# bad combinations: exit status 2, one line, before any generation
expect2() {
    local what=$1; shift
    "$@" > "$tmp/e.out" 2> "$tmp/e.err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e.err")" -eq 1 ] && grep -q "^vbench: " "$tmp/e.err"; then ok
    else bad "$what: exit $rc, stderr: $(cat "$tmp/e.err")"; fi
}
expect2 "--quality with --model, no classifier" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1
expect2 "--classifier without --fd-ref" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 \
    --classifier "$data/quality/classifier.safetensors"
expect2 "--classifier without --quality" "$vbench" "${tiny[@]}" "${sweep[@]}" "${cls[@]}"
expect2 "--seed without --quality" "$vbench" "${tiny[@]}" "${sweep[@]}" --seed 3
expect2 "--quality 0" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 0
expect2 "--quality with --compare" "$vbench" --compare "$tmp/a.json" --quality 1
expect2 "a reference that is not one" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 \
    --classifier "$data/quality/classifier.safetensors" --fd-ref "$data/quality/classifier.safetensors"
expect2 "a classifier that is not one" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 \
    --classifier "$data/quality/fd_ref.safetensors" --fd-ref "$data/quality/fd_ref.safetensors"
expect2 "a missing classifier file" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 \
    --classifier "$tmp/none.safetensors" --fd-ref "$data/quality/fd_ref.safetensors"
# reference statistics of the right shapes that are not feature statistics: a sigma that is not a covariance gave an
# FD of 0 (a perfect score, exit 0), a huge mu an FD the report refused after the whole run
if "$py" - "$data/quality/fd_ref.safetensors" "$tmp" <<'PY'
import array, json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head, data = json.loads(raw[8:8 + n]), raw[8 + n:]
def arr(name):  # the standard library only: the python3 first on PATH may lack numpy
    a, b = head[name]["data_offsets"]
    return list(array.array("f", data[a:b]))
mu, sigma = arr("mu"), arr("sigma")
d = len(mu)
def write(name, mu, sigma):
    b1, b2 = array.array("f", mu).tobytes(), array.array("f", sigma).tobytes()
    h = {"mu": {"dtype": "F32", "shape": [d], "data_offsets": [0, len(b1)]},
         "sigma": {"dtype": "F32", "shape": [d, d], "data_offsets": [len(b1), len(b1) + len(b2)]}}
    t = json.dumps(h).encode()
    t += b" " * (-len(t) % 8)
    open("%s/%s.safetensors" % (sys.argv[2], name), "wb").write(struct.pack("<Q", len(t)) + t + b1 + b2)
eye = [1.0 if i % (d + 1) == 0 else 0.0 for i in range(d * d)]
write("negvar", mu, [-x for x in eye])
asym = list(sigma)
asym[1] += 1.0 + abs(asym[1])
write("asym", mu, asym)
indef = list(eye)
indef[1] = indef[d] = 2.0
write("indef", mu, indef)
write("bigmu", [3e38] * d, sigma)
PY
then
    for r in negvar asym indef bigmu; do
        expect2 "--fd-ref $r" "$vbench" "${tiny[@]}" "${sweep[@]}" --quality 1 --json "$tmp/$r.json" \
            --classifier "$data/quality/classifier.safetensors" --fd-ref "$tmp/$r.safetensors"
        check '[ ! -e "$tmp/$r.json" ] && grep -q "$r.safetensors" "$tmp/e.err"' "--fd-ref $r: no report, file named"
    done
else
    bad "damaged reference statistics could not be written"
fi
# a model with fewer classes than the classifier knows
"$mkmodel" --preset tiny --classes 4 --var "$tmp/v4.safetensors" --vae "$tmp/a4.safetensors" -q
expect2 "classifier of more classes than the model" "$vbench" --model "$tmp/v4.safetensors" \
    --vae "$tmp/a4.safetensors" "${sweep[@]}" --quality 1 "${cls[@]}"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
