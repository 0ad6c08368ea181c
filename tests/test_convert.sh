#!/usr/bin/env bash
# test_convert: models/convert.py (.pth -> .safetensors without torch) and models/mkmodel (random-weight checkpoints).
# - Round trips of the torch-made fixtures in tests/data/pth (README.md there says how they were made): for every
#   --dtype mode each tensor must be bit-identical to what torch computed (expected.json: name, dtype, shape, SHA-256);
#   the zip and legacy formats, nested user checkpoints, views, shared storages, bf16/f16/i64 included.
# - vgen generates the same greedy tokens from the converted VAR as from the same weights written directly.
# - Hostile pickles and malformed files are refused: exit 2, one line on stderr, nothing run, no file left.
# - mkmodel writes loadable models of the requested shape.
# Env: VGEN (the vgen binary), VARCL_TEST_DATA (tests/data); MKMODEL (default: models/mkmodel beside vgen).
# Needs Debian's /usr/bin/python3 with python3-numpy (not torch).
set -u

VGEN=${VGEN:?set VGEN to the vgen binary}
case $VGEN in
/*) ;;
*/*) VGEN=$PWD/$VGEN ;;
esac
MKMODEL=${MKMODEL:-$(dirname "$VGEN")/models/mkmodel}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$(cd "${VARCL_TEST_DATA:-$HERE/data}" && pwd) || exit 1
PTH=$DATA/pth
CONVERT=$HERE/../models/convert.py
PY=/usr/bin/python3
TINY_VAR=$DATA/upstream-tiny/var.safetensors
TINY_VAE=$DATA/upstream-tiny/vae.safetensors
unset VARCL_DEVICE

passed=0
failed=0
fail() { echo "FAIL $1: $2" >&2; }
result() { # result NAME OK(0/1) WHY
    if [ "$2" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fail "$1" "$3"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit $?
}

if ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "FAIL: $PY cannot import numpy; convert.py needs Debian's python3-numpy (apt-get install python3-numpy)" >&2
    failed=1
    finish
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/varcl-test-convert-XXXXXX") || exit 1
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1

# Helper (stdlib + numpy): checks a safetensors file against expected.json, derives the direct VAR file, writes the
# malformed inputs, lists dtypes.
cat > helper.py <<'EOF'
import hashlib, json, os, struct, sys, zipfile
import numpy as np

NP = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1",
      "BOOL": "u1", "F64": "<f8"}

def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    if n % 8:
        sys.exit("header length %d is not a multiple of 8" % n)
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    rows, end = [], 0
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        if a != end:
            sys.exit("%s: data_offsets %s do not follow the previous tensor (%d)" % (k, v["data_offsets"], end))
        end = b
        rows.append((k, v["dtype"], v["shape"], data[a:b]))
    if end != len(data):
        sys.exit("data block is %d bytes, tensors cover %d" % (len(data), end))
    return rows

def check(path, expected, entry, mode):
    want = json.load(open(expected))[entry][mode]
    got = read(path)
    if [r[0] for r in got] != [w[0] for w in want]:
        sys.exit("names/order differ: %s vs %s" % ([r[0] for r in got][:5], [w[0] for w in want][:5]))
    for (k, dt, shape, blob), (_, wdt, wshape, wsha) in zip(got, want):
        if dt != wdt or shape != wshape:
            sys.exit("%s: %s %s, expected %s %s" % (k, dt, shape, wdt, wshape))
        if hashlib.sha256(blob).hexdigest() != wsha:
            sys.exit("%s: bytes differ from what torch saved" % k)

def derive(upstream, expected, out):
    """var_small = for each of its tensors, the first numel values of the same-named upstream-tiny tensor, as
    float32 (int64 kept); written with this file's own safetensors writer, not convert.py's."""
    up = {k: (dt, np.frombuffer(b, NP[dt])) for k, dt, _, b in read(upstream)}
    header, blobs, off = {}, [], 0
    for name, dt, shape, _ in json.load(open(expected))["var_small.pth"]["keep"]:
        n = int(np.prod(shape))
        a = up[name][1][:n].astype("<i8" if dt == "I64" else "<f4")
        blobs.append(a.tobytes())
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(blobs[-1])]}
        off += len(blobs[-1])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

def malformed(pth, out):
    def w(name, data):
        open(os.path.join(out, name), "wb").write(data)
    w("random.pth", bytes((i * 2654435761 >> 7) & 255 for i in range(4096)))
    w("text.pth", b"This is a README, not a checkpoint.\n" * 20)
    w("empty.pth", b"")
    w("pickle_list.pth", b"\x80\x02]q\x00(K\x01K\x02e.")  # a pickled [1, 2]: a pickle, not a checkpoint
    with zipfile.ZipFile(os.path.join(out, "nodatapkl.pth"), "w") as z:
        z.writestr("archive/readme.txt", "no data.pkl here")
        z.writestr("archive/data/0", b"\0" * 64)
    whole = open(os.path.join(pth, "var_small_nested.pth"), "rb").read()
    w("truncated.pth", whole[: len(whole) // 2])
    src = zipfile.ZipFile(os.path.join(pth, "mixed.pth"))
    for name, edit in (("short_storage.pth", lambda n, b: b[: len(b) // 2] if n.endswith("/data/0") else b),
                       ("missing_storage.pth", lambda n, b: None if n.endswith("/data/1") else b)):
        with zipfile.ZipFile(os.path.join(out, name), "w") as z:
            for info in src.infolist():
                b = edit(info.filename, src.read(info))
                if b is not None:
                    z.writestr(info.filename, b)

def rounding(f32, f16, bf16):
    """mkmodel's F16 and BF16 files hold its F32 values rounded to nearest even (numpy's f16 cast; bf16 by rule)."""
    a = {k: b for k, _, _, b in read(f32)}
    for path, dt in ((f16, "F16"), (bf16, "BF16")):
        for k, d, _, b in read(path):
            x = np.frombuffer(a[k], "<f4")
            if dt == "F16":
                want = x.astype("<f2").tobytes()
            else:
                u = x.view("<u4").astype(np.uint64)
                want = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()
            if d != dt or b != want:
                sys.exit("%s: %s is not %s rounded to nearest even" % (path, k, dt))

def dtypes(path):
    print(" ".join(sorted(set(r[1] for r in read(path)))))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"check": check, "derive": derive, "malformed": malformed, "dtypes": dtypes, "rounding": rounding}[cmd](*args)
EOF

# --- 1. round trips: every fixture, every --dtype mode, against torch's bytes ------------------------------------
# run_convert OUT ARGS...: converts, expecting success and a quiet stderr
convert_ok() {
    local name=$1
    shift
    if ! "$PY" "$CONVERT" -q "$@" 2>err.txt; then
        result "$name" 1 "convert.py failed: $(head -c 300 err.txt)"
        return 1
    fi
    if [ -s err.txt ]; then
        result "$name" 1 "convert.py wrote to stderr: $(head -c 300 err.txt)"
        return 1
    fi
    return 0
}
for entry in var_small.pth var_small_nested.pth "var_small_nested.pth --key trainer.vae_local" mixed.pth \
    mixed_legacy.pth wrapped.pth; do
    file=${entry%% *}
    extra=()
    [ "$entry" != "$file" ] && read -r -a extra <<<"${entry#* }"
    stem=${file%.pth}${extra[1]:+.${extra[1]##*.}}
    for mode in keep f32 f16 bf16; do
        name="round trip $entry --dtype $mode"
        out=$stem.$mode.safetensors
        if [ "$mode" = f16 ] && [ "$stem" = mixed -o "$stem" = mixed_legacy ]; then
            # f32.special holds 65520, 3e38 and inf: the finite two cannot be f16, so the conversion stops (the f16
            # rounding of the other values is checked on var_small; inf stays inf in bf16 below)
            if "$PY" "$CONVERT" -q "$PTH/$file" "$out" --dtype f16 2> err.txt; then
                result "$name refused" 1 "converted values that overflow f16"
            else
                rc=$?
                grep -q "^convert.py: f32.special: 2 values .* exceed the f16 range (max 65504)" err.txt &&
                    [ $rc = 2 ] && [ "$(wc -l < err.txt)" = 1 ] && [ ! -e "$out" ]
                result "$name refused" $? "exit $rc: $(head -c 300 err.txt)"
            fi
            continue
        fi
        convert_ok "$name" "$PTH/$file" "$out" --dtype "$mode" "${extra[@]}" || continue
        why=$("$PY" helper.py check "$out" "$PTH/expected.json" "$entry" "$mode" 2>&1)
        result "$name" $? "$why"
    done
done

# the same weights through different paths must give byte-identical files
same() { # same NAME A B
    if cmp -s "$2" "$3"; then result "$1" 0 ""; else result "$1" 1 "$2 and $3 differ"; fi
}
same "nested f16 (keep) = plain f32 converted to f16" var_small_nested.keep.safetensors var_small.f16.safetensors
same "nested f16 to f32 = plain f32 (keep)" var_small_nested.f32.safetensors var_small.keep.safetensors
for mode in keep f32 bf16; do
    same "legacy format = zip format ($mode)" mixed_legacy.$mode.safetensors mixed.$mode.safetensors
done

# --- 2. generation: converted = written directly -------------------------------------------------------------
why=$("$PY" helper.py derive "$TINY_VAR" "$PTH/expected.json" direct.safetensors 2>&1 &&
    "$PY" helper.py check direct.safetensors "$PTH/expected.json" var_small.pth keep 2>&1)
result "direct VAR file derived from upstream-tiny holds torch's values" $? "$why"

gen() { # gen MODEL TOKENS: greedy generation of classes 1 and 5
    "$VGEN" --model "$1" --vae "$TINY_VAE" --class 1,5 --top-k 1 --top-p 0 --cfg 1.5 --seed 0 -q \
        --tokens-out "$2" -o "${2%.json}.png" 2>gen_err.txt
}
if gen direct.safetensors direct.tokens.json; then
    result "vgen on the directly written VAR" 0 ""
    for f in var_small.keep var_small_nested.keep; do
        name="vgen tokens from converted $f = direct"
        if gen $f.safetensors $f.tokens.json; then
            if cmp -s direct.tokens.json $f.tokens.json; then result "$name" 0 ""; else
                result "$name" 1 "tokens differ"; fi
        else
            result "$name" 1 "vgen failed: $(head -c 300 gen_err.txt)"
        fi
    done
else
    result "vgen on the directly written VAR" 1 "$(head -c 300 gen_err.txt)"
fi
for f in var_small.f16 var_small.bf16; do
    gen $f.safetensors $f.tokens.json
    rc=$?
    [ $rc = 0 ] && [ -s $f.tokens.png ] || rc=1
    result "vgen generates from the --dtype ${f#*.} conversion" $rc "$(head -c 300 gen_err.txt)"
done

# --- 3. refusals: hostile and malformed input ----------------------------------------------------------------
mkdir -p bad
"$PY" helper.py malformed "$PTH" bad || { result "writing the malformed inputs" 1 "helper failed"; finish; }
# refused NAME ARGS...: exit 2, one stderr line starting "convert.py:", no stdout, nothing created in an empty dir
refused() {
    local name=$1
    shift
    local dir=$work/case.$((passed + failed))
    mkdir -p "$dir"
    (cd "$dir" && "$PY" "$CONVERT" "$@" >"$work/out.txt" 2>"$work/err.txt")
    local rc=$? lines
    lines=$(wc -l <"$work/err.txt")
    local left
    left=$(ls -A "$dir")
    if [ $rc != 2 ]; then
        result "$name" 1 "exit status $rc, expected 2: $(head -c 300 "$work/err.txt")"
    elif [ "$lines" != 1 ] || ! head -n 1 "$work/err.txt" | grep -q '^convert\.py: '; then
        result "$name" 1 "stderr is not one 'convert.py:' line: $(head -c 400 "$work/err.txt")"
    elif [ -s "$work/out.txt" ]; then
        result "$name" 1 "wrote to stdout: $(head -c 200 "$work/out.txt")"
    elif [ -n "$left" ]; then
        result "$name" 1 "left files behind: $left"
    else
        result "$name" 0 ""
    fi
}
for f in evil_system.pth evil_legacy.pth evil_eval.pth evil_plain.pkl; do
    refused "hostile $f" "$PTH/$f" out.safetensors
done
markers=$(find "$work" "$PTH" -name 'pwned_by_convert*')
result "no hostile payload ran (no pwned_by_convert* marker)" "$([ -z "$markers" ] && echo 0 || echo 1)" "$markers"
for f in random text empty pickle_list nodatapkl truncated short_storage missing_storage; do
    refused "malformed $f.pth" "$work/bad/$f.pth" out.safetensors
done
refused "missing input file" "$work/bad/nope.pth" out.safetensors
refused "input is a directory" "$work/bad" out.safetensors
refused "output folder missing" "$PTH/mixed.pth" "$work/no/such/dir/out.safetensors"
refused "--dtype given twice" "$PTH/mixed.pth" out.safetensors --dtype f16 --dtype=f32
refused "empty output path" "$PTH/mixed.pth" ""
refused "output name over 255 bytes" "$PTH/mixed.pth" "$(printf 'a%.0s' {1..300}).safetensors"
# a name of 250 bytes is legal: the temporary's name is cut short, as the C tools' (host/outfile.c)
long250=$work/$(printf 'b%.0s' {1..238}).safetensors
if "$PY" "$CONVERT" -q "$PTH/mixed.pth" "$long250" 2>"$work/err.txt" && [ -f "$long250" ]; then
    result "output name of 250 bytes" 0 ""
else
    result "output name of 250 bytes" 1 "$(head -c 300 "$work/err.txt")"
fi
rm -f "$long250"
# a tensor named __metadata__, which the format reserves (made with torch where it is installed)
if "$PY" -c 'import torch, sys; torch.save({"__metadata__": torch.zeros(1), "w": torch.ones(2)}, sys.argv[1])' \
    "$work/bad/meta.pth" 2>/dev/null; then
    refused "a tensor named __metadata__" "$work/bad/meta.pth" out.safetensors
else
    echo "skipped: a tensor named __metadata__ (no torch for $PY)"
fi
if "$PY" -c 'import torch, sys; torch.save({"a\x00b": torch.zeros(1)}, sys.argv[1])' "$work/bad/nul.pth" 2>/dev/null; then
    refused "a tensor name holding a NUL byte" "$work/bad/nul.pth" out.safetensors
fi
# a view of 2^63 elements or more (numpy's OverflowError gave a traceback, exit 1) and a name holding a lone UTF-16
# surrogate (written with exit 0 into a header that vgen refused): refused, naming the input
if "$PY" - "$DATA/bad-inputs/gen" "$work/bad" <<'PYEOF'
import struct, sys, zipfile
import numpy as np
sys.path.insert(0, sys.argv[1])
import pthlib
p = pthlib._Pickle()
p.ordered_dict(); p.mark()
p.string("w"); p.glob("torch._utils", "_rebuild_tensor_v2"); p.mark(); p.mark(); p.string("storage")
p.glob("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(1); p.tuple(); p.persid(); p.int(0)
p.mark(); p.int(2 ** 70); p.tuple(); p.mark(); p.int(0); p.tuple(); p.false(); p.ordered_dict(); p.tuple()
p.reduce(); p.setitems(); p.stop()
with zipfile.ZipFile(sys.argv[2] + "/huge.pth", "w") as z:
    z.writestr("a/data.pkl", bytes(p.b)); z.writestr("a/byteorder", "little")
    z.writestr("a/data/0", np.ones(1, np.float32).tobytes()); z.writestr("a/version", "3\n")
def string_surrogatepass(self, s):  # as a pickle from elsewhere can hold it (BINUNICODE, decoded surrogatepass)
    e = s.encode("utf-8", "surrogatepass")
    self.b += b"X" + struct.pack("<I", len(e)) + e
pthlib._Pickle.string = string_surrogatepass
pthlib.write_pth(sys.argv[2] + "/surrogate.pth", [("a\ud800b", "F32", np.ones(3, np.float32))])
PYEOF
then
    refused "a view of 2^70 elements" "$work/bad/huge.pth" out.safetensors
    grep -q "huge.pth: .*2^63" "$work/err.txt" || result "the 2^70 view's message names the file" 1 "$(cat "$work/err.txt")"
    refused "a name holding a lone surrogate" "$work/bad/surrogate.pth" out.safetensors
    grep -qF "surrogate.pth: tensor 'a\\ud800b'" "$work/err.txt" ||
        result "the surrogate's message names file and tensor" 1 "$(cat "$work/err.txt")"
else
    result "writing the overflowing and surrogate checkpoints" 1 "pthlib failed"
fi
# 64 dimensions (PyTorch's limit; numpy's is 32): a transposed view converts, elements in order; 2^61 floats (2^63
# bytes, under 2^63 elements) refused: both ended in a traceback
if "$PY" - "$DATA/bad-inputs/gen" "$work/bad" <<'PYEOF'
import sys, zipfile
import numpy as np
sys.path.insert(0, sys.argv[1])
import pthlib
def view(path, n, size, stride):
    p = pthlib._Pickle()
    p.ordered_dict(); p.mark()
    p.string("w"); p.glob("torch._utils", "_rebuild_tensor_v2"); p.mark(); p.mark(); p.string("storage")
    p.glob("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(n); p.tuple(); p.persid(); p.int(0)
    p.mark(); [p.int(s) for s in size]; p.tuple(); p.mark(); [p.int(s) for s in stride]; p.tuple()
    p.false(); p.ordered_dict(); p.tuple(); p.reduce(); p.setitems(); p.stop()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a/data.pkl", bytes(p.b)); z.writestr("a/byteorder", "little")
        z.writestr("a/data/0", np.arange(n, dtype=np.float32).tobytes()); z.writestr("a/version", "3\n")
view(sys.argv[2] + "/d64.pth", 6, [1] * 60 + [3, 1, 2, 1], [1] * 60 + [1, 1, 3, 1])
view(sys.argv[2] + "/bytes63.pth", 1, [2 ** 61], [0])
PYEOF
then
    "$PY" "$CONVERT" -q "$work/bad/d64.pth" "$work/d64.safetensors" 2>"$work/err.txt"
    rc=$?
    got=$("$PY" -c 'import array, json, struct, sys
r = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", r[:8])[0]; h = json.loads(r[8:8 + n])
print(len(h["w"]["shape"]), list(array.array("f", r[8 + n:])))' "$work/d64.safetensors" 2>&1)
    result "a 64-dimensional transposed view" "$([ $rc = 0 ] && [ "$got" = "64 [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]" ] && echo 0 || echo 1)" \
        "exit $rc: $got $(head -c 300 "$work/err.txt")"
    refused "2^61 floats (2^63 bytes)" "$work/bad/bytes63.pth" out.safetensors
    grep -q "2^63 bytes or more" "$work/err.txt" || result "2^63 bytes named" 1 "$(cat "$work/err.txt")"
    rm -f "$work/d64.safetensors"
else
    result "writing the 64-dimension and 2^63-byte checkpoints" 1 "pthlib failed"
fi
# SIGTERM (a batch system's time limit) and SIGHUP mid-conversion remove the temporary, as Ctrl-C does (Python's
# default for both ended the process at once, leaving a partial hidden file of up to the checkpoint's size)
if "$PY" - "$DATA/bad-inputs/gen" "$work/bad/big.pth" <<'PYEOF'
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import pthlib
pthlib.write_pth(sys.argv[2], [("w%d" % i, "F32", np.ones(1 << 24, np.float32)) for i in range(6)])
PYEOF
then
    for sig in TERM HUP; do
        "$PY" "$CONVERT" -q "$work/bad/big.pth" "$work/sig.safetensors" --dtype bf16 2>"$work/err.txt" &
        pid=$!
        for _ in $(seq 200); do # until the temporary is being written (its name carries the pid)
            ls -A "$work" | grep -q '^\.sig\.safetensors\..*\.tmp$' && break
            sleep 0.05
        done
        kill -$sig $pid
        wait $pid
        rc=$?
        left=$(ls -A "$work" | grep '^\.sig\.safetensors\.' || true)
        result "SIG$sig mid-conversion: exit 128+signal, no temporary left" \
            "$([ -z "$left" ] && [ ! -e "$work/sig.safetensors" ] && { [ $rc = 143 ] || [ $rc = 129 ]; } && echo 0 || echo 1)" \
            "exit $rc, left: $left $(head -c 300 "$work/err.txt")"
        rm -f "$work"/.sig.safetensors.* "$work/sig.safetensors"
    done
    rm -f "$work/bad/big.pth"
fi
# standard output closed when started (>&-): with -q nothing needs it; without, the summary cannot go out (exit 1)
"$PY" "$CONVERT" -q "$PTH/mixed.pth" "$work/closed.safetensors" >&- 2>"$work/err.txt"
result "-q with standard output closed" "$([ $? = 0 ] && [ ! -s "$work/err.txt" ] && [ -s "$work/closed.safetensors" ] && echo 0 || echo 1)" \
    "$(head -c 300 "$work/err.txt")"
"$PY" "$CONVERT" "$PTH/mixed.pth" "$work/closed.safetensors" >&- 2>"$work/err.txt"
result "standard output closed, a summary to print" \
    "$([ $? = 1 ] && [ "$(wc -l < "$work/err.txt")" = 1 ] && grep -q "standard output" "$work/err.txt" && echo 0 || echo 1)" \
    "$(head -c 300 "$work/err.txt")"
rm -f "$work/closed.safetensors"
refused "output named for another format (.pth)" "$PTH/mixed.pth" out.pth
refused "output '-' (not a file name)" "$PTH/mixed.pth" -
refused "no arguments"
refused "unknown --dtype" "$PTH/mixed.pth" out.safetensors --dtype f8
refused "unknown option" "$PTH/mixed.pth" out.safetensors --fast
refused "--key that is not there" "$PTH/var_small_nested.pth" out.safetensors --key trainer.ema
refused "--key that is not a tensor dict" "$PTH/var_small_nested.pth" out.safetensors --key args

# --- 4. mkmodel ----------------------------------------------------------------------------------------------
if [ ! -x "$MKMODEL" ]; then
    result "mkmodel" 1 "$MKMODEL not found (set MKMODEL)"
    finish
fi
mk() { "$MKMODEL" -q "$@" 2>mk_err.txt; }
if mk --preset tiny --dtype bf16 --seed 3 --var tiny.safetensors --vae tinyvae.safetensors; then
    result "mkmodel --preset tiny --dtype bf16" 0 ""
    dts="$("$PY" helper.py dtypes tiny.safetensors) / $("$PY" helper.py dtypes tinyvae.safetensors)"
    result "mkmodel bf16 files hold BF16 tensors" "$([ "$dts" = "BF16 / BF16" ] && echo 0 || echo 1)" "dtypes: $dts"
    info=$("$VGEN" --model tiny.safetensors --vae tinyvae.safetensors --info 2>&1)
    echo "$info" | grep -q 'depth 4, width 128, heads 2, vocabulary 512, classes 16'
    result "vgen --info on mkmodel tiny" $? "$info"
    "$VGEN" --model tiny.safetensors --vae tinyvae.safetensors --class 1,5 --seed 0 -q -o tiny.png 2>gen_err.txt &&
        [ -s tiny.png ]
    result "vgen generates from mkmodel tiny bf16" $? "$(head -c 300 gen_err.txt)"
    mk --preset tiny --dtype bf16 --seed 3 --var tiny2.safetensors
    same "mkmodel is deterministic for a seed" tiny.safetensors tiny2.safetensors
    mk --preset tiny --dtype f32 --seed 3 --var tiny32.safetensors && mk --preset tiny --dtype f16 --seed 3 \
        --var tiny16.safetensors
    why=$("$PY" helper.py rounding tiny32.safetensors tiny16.safetensors tiny.safetensors 2>&1)
    result "mkmodel f16/bf16 = its f32 weights rounded to nearest even" $? "$why"
else
    result "mkmodel --preset tiny --dtype bf16" 1 "$(head -c 300 mk_err.txt)"
fi
if mk --preset tiny --depth 3 --width 192 --classes 10 --shared-aln --vae-ch 64 --dtype f16 \
    --var over.safetensors --vae overvae.safetensors; then
    info=$("$VGEN" --model over.safetensors --vae overvae.safetensors --info 2>&1)
    echo "$info" | grep -q 'depth 3, width 192, heads 3, vocabulary 512, classes 10' &&
        echo "$info" | grep -q 'shared AdaLN: yes' && echo "$info" | grep -q 'VQ-VAE: ch 64'
    result "mkmodel overrides reach vgen --info" $? "$info"
else
    result "mkmodel overrides" 1 "$(head -c 300 mk_err.txt)"
fi
if mk --preset d36 --depth 1 --width 128 --vocab 512 --classes 4 --vae-ch 32 --dtype bf16 \
    --var d36s.safetensors --vae d36svae.safetensors; then
    info=$("$VGEN" --model d36s.safetensors --vae d36svae.safetensors --info 2>&1)
    echo "$info" | grep -q '512 px' && echo "$info" | grep -q 'tokens: 2240' &&
        echo "$info" | grep -q 'shared AdaLN: yes'
    result "mkmodel d36 preset: 512 px, 2240 tokens, shared AdaLN" $? "$info"
else
    result "mkmodel d36 preset" 1 "$(head -c 300 mk_err.txt)"
fi
# bad usage: exit 2, one line, no file
mk_refused() {
    local name=$1
    shift
    "$MKMODEL" "$@" >out.txt 2>err.txt
    local rc=$?
    if [ $rc != 2 ] || [ "$(wc -l <err.txt)" != 1 ] || [ -e refused.safetensors ]; then
        result "$name" 1 "exit $rc: $(head -c 300 err.txt)"
    else
        result "$name" 0 ""
    fi
}
mk_refused "mkmodel without arguments"
mk_refused "mkmodel unknown preset" --preset d17 --var refused.safetensors
mk_refused "mkmodel width not 64 per head" --preset tiny --width 100 --var refused.safetensors
mk_refused "mkmodel unknown dtype" --preset tiny --dtype f8 --var refused.safetensors
mk_refused "mkmodel unwritable output" --preset tiny --var "$work/no/such/dir/x.safetensors"
mk_refused "mkmodel unknown option last" --preset tiny --var refused.safetensors --bogus
grep -q "unknown option '--bogus'" err.txt || result "mkmodel unknown option last: named as unknown" 1 "$(cat err.txt)"
mk_refused "mkmodel flag without its value" --preset tiny --var
grep -q "^mkmodel: --var needs a value" err.txt || result "mkmodel --var without a value: said so" 1 "$(cat err.txt)"
mk_refused "mkmodel --var and --vae one file" --preset tiny --var refused.safetensors --vae ./refused.safetensors
mk_refused "mkmodel --depth past the loader's 128" --preset tiny --depth 129 --var refused.safetensors
grep -q "from 1 to 128, got '129'" err.txt || result "mkmodel --depth 129: range named" 1 "$(cat err.txt)"
mk_refused "mkmodel --seed given twice" --preset tiny --seed 1 --var refused.safetensors --seed=2
grep -q "^mkmodel: --seed is given twice ('1', then '2')" err.txt || result "mkmodel --seed twice: said so" 1 "$(cat err.txt)"
mk_refused "mkmodel --seed ' -5' (digits only, not 2^64 - 5)" --preset tiny --seed " -5" --var refused.safetensors
mk_refused "mkmodel --vae-ch-mult ' 1,2'" --preset tiny --vae-ch-mult " 1,2" --var refused.safetensors
# an output named for another format (it got safetensors bytes); a shape beyond the machine's memory, refused before
# the work (it ran out of memory part-way, exit 1)
mk_refused "mkmodel --var x.txt" --preset tiny --var refused.txt
[ ! -e refused.txt ] && grep -q "^mkmodel: --var refused.txt: the file will hold safetensors, not txt" err.txt ||
    result "mkmodel --var x.txt: said so, wrote nothing" 1 "$(cat err.txt)"
mk_refused "mkmodel --vae x.pth" --preset tiny --vae refused.pth
mk_refused "mkmodel a VAR beyond this machine's memory" --preset d36 --width 65536 --heads 1024 --var refused.safetensors
grep -q "GiB of host memory (made in f32), more than this machine's" err.txt ||
    result "mkmodel huge VAR: the memory named" 1 "$(cat err.txt)"
mk_refused "mkmodel a VQ-VAE beyond this machine's memory" --preset d30 --vae-ch 4096 --vae refused.safetensors
# one list of names that say another format, for mkmodel and convert.py alike (host/outfile.c's, which convert.py
# copies: mkmodel took x.ckpt, convert.py x.txt)
exts=$(sed -n '/static const char \*const formats\[\]/,/};/p' "$HERE/../host/outfile.c" | grep -o '"[a-z0-9]*"' |
    tr -d '"' | grep -vx safetensors)
[ "$(echo "$exts" | wc -l)" -ge 20 ]
result "the format list read from host/outfile.c" $? "$exts"
for e in $exts; do
    "$MKMODEL" --preset tiny --var "refused.$e" -q 2>err.txt
    [ $? = 2 ] && [ ! -e "refused.$e" ] || result "mkmodel --var x.$e refused" 1 "$(cat err.txt)"
    "$PY" "$CONVERT" -q "$PTH/var_small.pth" "refused.$e" 2>err.txt
    [ $? = 2 ] && [ ! -e "refused.$e" ] || result "convert.py to x.$e refused" 1 "$(cat err.txt)"
done
rm -f refused.*
# both files or neither: a failed VQ-VAE write (/dev/full) leaves no VAR file (it was kept, exit 1)
"$MKMODEL" --preset tiny --var pair.safetensors --vae /dev/full >out.txt 2>err.txt
rc=$?
[ $rc = 1 ] && [ ! -e pair.safetensors ] && ! grep -q "wrote" err.txt && [ -z "$(ls -A | grep '^\.pair')" ]
result "mkmodel --var A --vae /dev/full: neither written" $? "exit $rc: $(head -c 300 err.txt); $(ls -a | grep pair)"
# the parameters it reports are vgen's (the zero K-bias buffers are not parameters)
if "$MKMODEL" --preset tiny --var count.safetensors 2>err.txt; then
    mine=$(grep -o '[0-9]* parameters' err.txt)
    theirs=$("$VGEN" --model count.safetensors --vae tinyvae.safetensors --info 2>&1 | grep -o '[0-9]* parameters')
    [ -n "$mine" ] && [ "$mine" = "$theirs" ]
    result "mkmodel counts parameters as vgen does" $? "mkmodel '$mine', vgen '$theirs'"
else
    result "mkmodel --preset tiny" 1 "$(cat err.txt)"
fi
rm -f count.safetensors
# an override of the file not written would change nothing: refused, naming it
mk_refused "mkmodel --width without --var" --preset tiny --vae refused.safetensors --width 64
grep -q "^mkmodel: --width shapes the VAR, and no --var file is written" err.txt ||
    result "mkmodel --width without --var: said so" 1 "$(cat err.txt)"
mk_refused "mkmodel --vae-ch without --vae" --preset tiny --var refused.safetensors --vae-ch 64
grep -q "^mkmodel: --vae-ch shapes the VQ-VAE" err.txt || result "mkmodel --vae-ch without --vae: said so" 1 "$(cat err.txt)"
# --help to a full disk: exit 1, one line; a model written to standard output is the model alone (the summary
# line goes to stderr), the same bytes as the file
"$MKMODEL" --help >/dev/full 2>err.txt
rc=$?
[ $rc = 1 ] && [ "$(wc -l <err.txt)" = 1 ] && grep -q "^mkmodel: cannot write to standard output" err.txt
result "mkmodel --help > /dev/full" $? "exit $rc: $(head -c 300 err.txt)"
"$MKMODEL" --preset tiny --var to-file.safetensors 2>/dev/null && "$MKMODEL" --preset tiny --var /dev/stdout \
    >to-stdout.safetensors 2>err.txt && cmp -s to-file.safetensors to-stdout.safetensors && grep -q "^mkmodel: wrote" err.txt
result "mkmodel --var /dev/stdout: the model alone on stdout" $? "$(head -c 300 err.txt)"
"$PY" "$CONVERT" "$PTH/var_small.pth" /dev/stdout >conv-stdout.safetensors 2>err.txt &&
    "$PY" "$CONVERT" -q "$PTH/var_small.pth" conv-file.safetensors && cmp -s conv-file.safetensors conv-stdout.safetensors
result "convert.py onto /dev/stdout without -q: the file alone on stdout" $? "$(head -c 300 err.txt)"
rm -f to-file.safetensors to-stdout.safetensors conv-stdout.safetensors conv-file.safetensors

# --- 4. outputs that are inputs, and outputs that are not regular files (host/outfile.h) ---------------------------
cp "$PTH/var_small.pth" same.pth
"$PY" "$CONVERT" -q same.pth ./same.pth >out.txt 2>err.txt
rc=$?
[ $rc = 2 ] && [ "$(wc -l <err.txt)" = 1 ] && grep -q "the same file as the input" err.txt && cmp -s same.pth "$PTH/var_small.pth"
result "convert.py output is its input: refused, the input kept" $? "exit $rc: $(head -c 300 err.txt)"
# a symbolic link is followed (the file it leads to is written, the link stays); a loop is refused; a standard
# stream by name is written through the descriptor (what >> appended to is kept; the name is not replaced)
mkdir -p linked
ln -sf linked/l.safetensors link.safetensors
"$PY" "$CONVERT" -q "$PTH/var_small.pth" link.safetensors 2>err.txt
rc=$?
[ $rc = 0 ] && [ -L link.safetensors ] && [ -s linked/l.safetensors ] && ! ls -A linked | grep -q '^\.'
result "convert.py through a link: its file written, the link kept" $? "exit $rc: $(head -c 300 err.txt)"
ln -sf loop.safetensors loop.safetensors
"$PY" "$CONVERT" -q "$PTH/var_small.pth" loop.safetensors 2>err.txt
rc=$?
[ $rc = 2 ] && [ -L loop.safetensors ] && grep -q "too many levels of symbolic links" err.txt
result "convert.py onto a loop of links: refused" $? "exit $rc: $(head -c 300 err.txt)"
echo head >stream.out
(exec 7>>stream.out && "$PY" "$CONVERT" -q "$PTH/var_small.pth" /dev/fd/7) 2>err.txt
rc=$?
[ $rc = 0 ] && [ "$(head -n 1 stream.out)" = head ] && [ "$(stat -c %s stream.out)" = $((5 + $(stat -c %s linked/l.safetensors))) ]
result "convert.py onto /dev/fd/7 (>> a file): appended through the descriptor" $? "exit $rc: $(head -c 300 err.txt)"
# a FIFO gets the file and stays a FIFO (a temporary renamed over it would leave the reader waiting: timeout)
mkfifo pipe.safetensors
timeout 60 cat pipe.safetensors >from-pipe.safetensors &
reader=$!
"$PY" "$CONVERT" -q "$PTH/var_small.pth" pipe.safetensors 2>err.txt
rc=$?
wait $reader
"$PY" "$CONVERT" -q "$PTH/var_small.pth" direct.safetensors 2>>err.txt
[ $rc = 0 ] && [ -p pipe.safetensors ] && cmp -s from-pipe.safetensors direct.safetensors
result "convert.py into a FIFO: written in place" $? "exit $rc, FIFO kept: $([ -p pipe.safetensors ] && echo yes || echo no): $(head -c 300 err.txt)"
if mknod full c 1 7 2>/dev/null; then # /dev/full's numbers: exit 1 with the system's reason, the node kept
    "$PY" "$CONVERT" -q "$PTH/var_small.pth" full 2>err.txt
    rc=$?
    [ $rc = 1 ] && [ -c full ] && [ "$(wc -l <err.txt)" = 1 ] && grep -q "No space left on device" err.txt
    result "convert.py onto a full device" $? "exit $rc, still a device: $([ -c full ] && echo yes || echo no): $(head -c 300 err.txt)"
    "$MKMODEL" -q --preset tiny --var full >out.txt 2>err.txt
    rc=$?
    [ $rc = 1 ] && [ -c full ] && [ "$(wc -l <err.txt)" = 1 ] && grep -q "No space left on device" err.txt
    result "mkmodel onto a full device" $? "exit $rc, still a device: $([ -c full ] && echo yes || echo no): $(head -c 300 err.txt)"
    rm -f full
else
    echo "skipped: the full-device cases (mknod not permitted here)"
fi
# standard output on a full disk (the summary line, --help): one line and exit 1, not a traceback
for args in "--help" "$PTH/var_small.pth stdout-full.safetensors"; do
    # shellcheck disable=SC2086 # two words on purpose
    "$PY" "$CONVERT" $args >/dev/full 2>err.txt
    rc=$?
    [ $rc = 1 ] && [ "$(wc -l <err.txt)" = 1 ] && grep -q "^convert.py: cannot write to standard output" err.txt
    result "convert.py ${args%% *} > /dev/full" $? "exit $rc: $(head -c 300 err.txt)"
done
rm -f stdout-full.safetensors
# a path with a newline: the message stays one line, the newline escaped
"$PY" "$CONVERT" "$(printf 'no\nsuch.pth')" out.safetensors 2>err.txt
rc=$?
[ $rc = 2 ] && [ "$(wc -l <err.txt)" = 1 ] && grep -qF 'no\nsuch.pth' err.txt
result "a newline in a path: one escaped line" $? "exit $rc: $(head -c 300 err.txt)"

finish
