#!/usr/bin/env bash
# test_vgen_errors: every bad input to vgen (DESIGN.md "Errors" and "Command-line contracts") must give the
# documented exit status (2 for bad usage or input), exactly one line on stderr that starts with "vgen:" and names
# the file, tensor or flag involved, nothing on stdout, no crash, and no output or temporary file left behind.
# A positive run of the tiny upstream model at the end must write its image and the upstream greedy tokens.
# Env: VGEN (the binary), VARCL_TEST_DATA (tests/data); malformed checkpoints are written with python3 (stdlib).
set -u

VGEN=${VGEN:?set VGEN to the vgen binary}
case $VGEN in
/*) ;;
*/*) VGEN=$PWD/$VGEN ;; # each case runs in its own directory
esac
DATA=${VARCL_TEST_DATA:-$(cd "$(dirname "$0")" && pwd)/data}
TINY_VAR=$DATA/upstream-tiny/var.safetensors
TINY_VAE=$DATA/upstream-tiny/vae.safetensors
unset VARCL_DEVICE

work=$(mktemp -d "${TMPDIR:-/tmp}/varcl-test-vgen-XXXXXX") || exit 1
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
files=$work/files
mkdir -p "$files/adir"

passed=0
failed=0
# fail CASE WHY: reports one problem; the caller counts the case once as failed.
fail() {
    echo "FAIL $1: $2" >&2
}

# Malformed copies of the tiny model, rebuilt from its header and data block.
python3 - "$TINY_VAR" "$files" <<'EOF' || { echo "FAIL: python3 could not write the malformed files" >&2; exit 1; }
import json, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]

def write(name, hdr=None, blob=None, hlen=None, body=None):
    if body is None:
        text = json.dumps(hdr if hdr is not None else header).encode()
        body = text
    else:
        text = body
    ln = len(text) if hlen is None else hlen
    with open(os.path.join(out, name), 'wb') as f:
        f.write(struct.pack('<Q', ln) + text + (data if blob is None else blob))

def edited(fn):
    h = json.loads(json.dumps(header))
    fn(h)
    return h

# valid header, data block cut in half
write('truncated.safetensors', blob=data[:len(data) // 2])
# header length far past the end of the file
write('hlen.safetensors', hlen=len(raw) * 4)
# invalid JSON: the colon after the first key removed; an unterminated string; garbage
text = json.dumps(header)
write('badjson.safetensors', body=text.replace('"pos_start": ', '"pos_start" ', 1).encode())
write('openstring.safetensors', body=b'{"pos_start')
write('garbage.safetensors', body=b'\x00\x01not json at all\xff')
# unknown dtype on head.weight
write('dtype.safetensors', edited(lambda h: h['head.weight'].update(dtype='F64')))
# head.bias overlapping the end of head.weight
def overlap(h):
    a, b = h['head.bias']['data_offsets']
    h['head.bias']['data_offsets'] = [a - 100, b - 100]
write('overlap.safetensors', edited(overlap))
# head.bias past the end of the data block
def out_of_range(h):
    a, b = h['head.bias']['data_offsets']
    h['head.bias']['data_offsets'] = [a + 1000000, b + 1000000]
write('range.safetensors', edited(out_of_range))
# head.weight left out (its bytes kept under another name: a data block with bytes of no tensor is refused first)
write('nohead.safetensors', edited(lambda h: h.__setitem__('extra.kept_bytes', h.pop('head.weight'))))
# head.weight [512, 128] stored as [256, 256] (same bytes): found while reading the hyperparameters
write('shape.safetensors', edited(lambda h: h['head.weight'].update(shape=[256, 256])))
# blocks.2.ffn.fc1.weight [512, 128] as [256, 256]: found only while loading the weights onto the device
write('shape2.safetensors', edited(lambda h: h['blocks.2.ffn.fc1.weight'].update(shape=[256, 256])))
# class_emb.weight with one row (the CFG row, no class): its first row's bytes only (the rest kept under another name)
def no_class(h):
    a, b = h['class_emb.weight']['data_offsets']
    width = h['class_emb.weight']['shape'][1]
    size = (b - a) // h['class_emb.weight']['shape'][0]
    h['class_emb.weight'].update(shape=[1, width], data_offsets=[a, a + size])
    h['extra.rest_of_class_emb'] = {'dtype': h['class_emb.weight']['dtype'], 'shape': [(b - a - size) // 2],
                                    'data_offsets': [a + size, b]}
write('noclass.safetensors', edited(no_class))

with open(os.path.join(out, 'unknown-key.ini'), 'w') as f:
    f.write('[sample]\nseed = 1\ntop_kk = 5\n')
with open(os.path.join(out, 'bad-value.ini'), 'w') as f:
    f.write('[sample]\ncfg = 1.5x\n')
with open(os.path.join(out, 'bad-wcache.ini'), 'w') as f:
    f.write('[runtime]\nweight_cache = maybe\n')
with open(os.path.join(out, 'wcache-off.ini'), 'w') as f:
    f.write('[runtime]\nweight_cache = off\n')
EOF

# t NAME STATUS NEEDLES -- ARGS...
# Runs vgen in a fresh case directory (its cwd) with -o CASE/out.png first unless ARGS give -o or --out-dir; "@D@" in ARGS
# and NEEDLES stands for the case directory. NEEDLES: '|'-separated strings that must all appear on stderr.
# ENVV (optional, "NAME=value") is put into vgen's environment.
t() {
    local name=$1 want=$2 needles=$3
    shift 4
    local before dir args=() a
    before=$(find "$work" | sort)
    dir=$(mktemp -d "$work/case-XXXXXX")
    for a in "$@"; do args+=("${a//@D@/$dir}"); done
    needles=${needles//@D@/$dir}
    local st
    local out=(-o "$dir/out.png")
    for a in "${args[@]}"; do
        case $a in -o | -o=* | --out-dir | --out-dir=*) out=() ;; esac
    done
    (cd "$dir" && exec env ${ENVV:-} "$VGEN" "${out[@]}" "${args[@]}") >"$work/stdout" 2>"$work/stderr"
    st=$?
    local ok=1 lines first
    lines=$(wc -l <"$work/stderr")
    first=$(head -n 1 "$work/stderr")
    if [ "$st" -ge 128 ]; then
        fail "$name" "crashed (exit status $st)"; ok=0
    elif [ "$st" != "$want" ]; then
        fail "$name" "exit status $st, want $want"; ok=0
    fi
    if [ "$lines" != 1 ] || [ -n "$(tail -c 1 "$work/stderr")" ] || grep -q $'\r' "$work/stderr"; then
        fail "$name" "stderr must be exactly one line, got $lines"; ok=0
    fi
    case $first in
    vgen:*) ;;
    *) fail "$name" "stderr must start with 'vgen:'"; ok=0 ;;
    esac
    local list=() n
    IFS='|' read -ra list <<<"$needles"
    for n in "${list[@]}"; do
        if ! grep -qF -- "$n" "$work/stderr"; then
            fail "$name" "stderr does not name '$n'"; ok=0
        fi
    done
    if [ -s "$work/stdout" ]; then
        fail "$name" "stdout must be empty"; ok=0
    fi
    rm -f "$work/stdout"
    local after
    after=$(find "$work" -path "$work/stderr" -prune -o -print | sort)
    if [ "$after" != "$(printf '%s\n%s\n' "$before" "$dir" | sort)" ]; then
        fail "$name" "files left behind: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')"
        ok=0
    fi
    if [ "$ok" = 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        sed 's/^/    stderr: /' "$work/stderr" >&2
    fi
    rm -f "$work/stderr"
    rm -rf "$dir"
}

TINY=(--model "$TINY_VAR" --vae "$TINY_VAE" -q)

# ---- bad files ----
t "missing model file" 2 "$files/nope.safetensors" -- --model "$files/nope.safetensors" --vae "$TINY_VAE" -q
t "missing VAE file" 2 "$files/nope-vae.safetensors" -- --model "$TINY_VAR" --vae "$files/nope-vae.safetensors" -q
t "model is a directory" 2 "$files/adir" -- --model "$files/adir" --vae "$TINY_VAE" -q
t "truncated file" 2 "truncated.safetensors|out of range" -- --model "$files/truncated.safetensors" --vae "$TINY_VAE" -q
t "header length past the end" 2 "hlen.safetensors|header length" -- --model "$files/hlen.safetensors" --vae "$TINY_VAE" -q
t "invalid header JSON (missing colon)" 2 "badjson.safetensors|JSON" -- --model "$files/badjson.safetensors" --vae "$TINY_VAE" -q
t "invalid header JSON (open string)" 2 "openstring.safetensors|JSON" -- --model "$files/openstring.safetensors" --vae "$TINY_VAE" -q
t "invalid header JSON (garbage)" 2 "garbage.safetensors|JSON" -- --model "$files/garbage.safetensors" --vae "$TINY_VAE" -q
t "unknown dtype" 2 "dtype.safetensors|'head.weight'|F64" -- --model "$files/dtype.safetensors" --vae "$TINY_VAE" -q
t "overlapping offsets" 2 "overlap.safetensors|'head.weight'|'head.bias'" -- --model "$files/overlap.safetensors" --vae "$TINY_VAE" -q
t "offsets out of range" 2 "range.safetensors|'head.bias'" -- --model "$files/range.safetensors" --vae "$TINY_VAE" -q
t "missing tensor" 2 "nohead.safetensors|'head.weight'" -- --model "$files/nohead.safetensors" --vae "$TINY_VAE" -q
t "wrong shape" 2 "shape.safetensors|'head.weight'" -- --model "$files/shape.safetensors" --vae "$TINY_VAE" -q
t "wrong shape found at load" 2 "shape2.safetensors|'blocks.2.ffn.fc1.weight'" -- --model "$files/shape2.safetensors" --vae "$TINY_VAE" -q
t "no class in class_emb" 2 "noclass.safetensors|class_emb.weight [1, 128]|no class" -- \
    --model "$files/noclass.safetensors" --vae "$TINY_VAE" -q
t "VAE given as the model" 2 "$TINY_VAE|--vae" -- --model "$TINY_VAE" --vae "$TINY_VAE" -q
t "model given as the VAE" 2 "$TINY_VAR|--model" -- --model "$TINY_VAR" --vae "$TINY_VAR" -q
t "--model without --vae" 2 "--vae" -- --model "$TINY_VAR" -q
t "--vae without --model" 2 "--model" -- --vae "$TINY_VAE" -q

# ---- request values the model decides ----
t "class past the tiny model's 16" 2 "class 16|0..15" -- "${TINY[@]}" --class 1,16
t "class 1000 on the demo model (no -q)" 2 "class 1000|out of range|classes 0.." -- --class 1000
t "--depth 0" 2 "--depth|'0'" -- "${TINY[@]}" --depth 0
t "--depth 99 on a 4-layer model" 2 "depth 99|4" -- "${TINY[@]}" --depth 99
t "--layers 3,1 (unsorted)" 2 "--layers: expected a comma-separated list of distinct ascending" -- "${TINY[@]}" --layers 3,1
t "--layers 0,0" 2 "--layers: expected a comma-separated list of distinct ascending" -- "${TINY[@]}" --layers 0,0
t "--layers 9" 2 "layer 9 (--layers)" -- "${TINY[@]}" --layers 9
printf '[variant]\nlayers = 0,9\n' > "$files/layers9.ini"
t "the settings file's layer 9 on a 4-layer model" 2 "layer 9 ([variant] layers in $files/layers9.ini) out of range 0..3" -- \
    "${TINY[@]}" --config "$files/layers9.ini"
printf '[variant]\nfull_scales = 11\ndepth = 2\n' > "$files/full11.ini"
t "the settings file's full_scales 11 on a 10-scale model" 2 "full scales 11 ([variant] full_scales in $files/full11.ini)" -- \
    "${TINY[@]}" --config "$files/full11.ini"
printf '[variant]\nlayers = 0,1\ndepth = 2\n' > "$files/both.ini"
t "the settings file's depth and layers" 2 "not both ([variant] depth in $files/both.ini, [variant] layers in" -- \
    "${TINY[@]}" --config "$files/both.ini"
printf '[sample]\nclasses = 16\n' > "$files/class16.ini"
t "the settings file's class 16 on a 16-class model" 2 "class 16 ([sample] classes in $files/class16.ini)" -- \
    "${TINY[@]}" --config "$files/class16.ini"
printf '[variant]\ndepth = 99\n' > "$files/depth99.ini"
t "the settings file's depth 99 on a 4-layer model" 2 "depth 99 ([variant] depth in $files/depth99.ini)" -- \
    "${TINY[@]}" --config "$files/depth99.ini"
t "--depth with --layers" 2 "--depth|--layers" -- "${TINY[@]}" --depth 2 --layers 0,3
t "--full-scales 11" 2 "full scales 11 (--full-scales) out of range 0..10" -- "${TINY[@]}" --full-scales 11
t "--page-tokens past the model's tokens" 2 "page tokens 1048576|tokens per image" -- "${TINY[@]}" --page-tokens 1048576

# ---- flag values ----
t "negative --cfg" 2 "--cfg|-1" -- "${TINY[@]}" --cfg -1
t "--cfg nan" 2 "--cfg|nan" -- "${TINY[@]}" --cfg nan
t "--cfg past a float (it became inf: exit 1 after the load)" 2 "--cfg|1e39|a float" -- "${TINY[@]}" --cfg 1e39
t "--top-k -1" 2 "--top-k|-1" -- "${TINY[@]}" --top-k -1
t "--top-p 1.5" 2 "--top-p|1.5" -- "${TINY[@]}" --top-p 1.5
t "--top-p -0.1" 2 "--top-p|-0.1" -- "${TINY[@]}" --top-p -0.1
t "--class 1,,2" 2 "--class" -- "${TINY[@]}" --class 1,,2
t "--batch 0" 2 "--batch" -- "${TINY[@]}" --batch 0
t "--seed -1" 2 "--seed" -- "${TINY[@]}" --seed -1
t "unknown --device" 2 "nosuchdevice" -- "${TINY[@]}" --device nosuchdevice
ENVV=VARCL_DEVICE=nosuchdevice t "unknown VARCL_DEVICE (named as the source)" 2 "VARCL_DEVICE 'nosuchdevice'" -- "${TINY[@]}"
t "--device -0" 2 "device '-0': an index is digits only|expected 0" -- "${TINY[@]}" --device -0
t "--device past the last index" 2 "device '99': no device of that index" -- "${TINY[@]}" --device 99
t "--device ' ' (blank)" 2 "device ' ': blank" -- "${TINY[@]}" --device " "
t "--stats=1" 2 "--stats takes no value" -- "${TINY[@]}" --stats=1
# (t adds -o where none is given, which --info would name first)
"$VGEN" "${TINY[@]}" --info --stats > /dev/null 2> "$work/stderr"
if [ $? = 2 ] && grep -q "^vgen: --info prints and stops: it takes no --stats$" "$work/stderr"; then
    passed=$((passed + 1))
else
    fail "--info --stats" "$(head -c 300 "$work/stderr")"
    failed=$((failed + 1))
fi
rm -f "$work/stderr"
t "--per-class with --stats" 2 "--per-class takes no --stats" -- "${TINY[@]}" --per-class 1 --class 0 --out-dir @D@/j --stats
t "--depth and --layers as flags" 2 "either --depth or --layers" -- "${TINY[@]}" --layers 0,1 --depth 2
printf '[runtime]\ndevice = nosuchdevice\n' > "$files/device.ini"
t "the settings file's device, unknown" 2 "device 'nosuchdevice'|[runtime] device in $files/device.ini" -- \
    "${TINY[@]}" --config "$files/device.ini"
# a name two different devices match (pocl's pthread and basic drivers) is refused, naming both; two identical
# devices (pthread twice) take the first
export POCL_DEVICES="pthread basic"
t "--device matching two different devices" 2 "device 'portable' matches different devices|pthread|basic" -- \
    "${TINY[@]}" --device portable
export POCL_DEVICES="pthread pthread"
if "$VGEN" "${TINY[@]}" --device portable --info >/dev/null 2>"$work/twins.err"; then passed=$((passed + 1))
else failed=$((failed + 1)); fail "--device matching two identical devices" "refused: $(cat "$work/twins.err")"; fi
rm -f "$work/twins.err"
# two kinds, one of them twice: the two are named, and no "among others" (that is for a third kind)
export POCL_DEVICES="pthread basic basic"
"$VGEN" "${TINY[@]}" --device portable --info >/dev/null 2>"$work/twins.err"
if [ $? = 2 ] && grep -q "matches different devices" "$work/twins.err" && ! grep -q "among others" "$work/twins.err"
then passed=$((passed + 1))
else failed=$((failed + 1)); fail "--device matching two kinds, one twice" "$(cat "$work/twins.err")"; fi
rm -f "$work/twins.err"
unset POCL_DEVICES
# an output named for another format than the one written
t "-o x.jpg" 2 "-o x.jpg|PNG image|name it .png" -- "${TINY[@]}" -o x.jpg
t "-o x.JSON" 2 "-o x.JSON|name it .png" -- "${TINY[@]}" -o x.JSON
t "--tokens-out t.png" 2 "--tokens-out t.png|JSON|name it .json" -- "${TINY[@]}" --tokens-out t.png
ENVV=VARCL_LINEAR=fast t "unknown VARCL_LINEAR" 2 "VARCL_LINEAR=fast" -- "${TINY[@]}"
ENVV=VARCL_HOST_THREADS=0 t "VARCL_HOST_THREADS 0" 2 "VARCL_HOST_THREADS=0" -- "${TINY[@]}"
t "--weights f8" 2 "--weights|f8" -- "${TINY[@]}" --weights f8
t "--weight-cache on" 2 "--weight-cache|on|auto|off" -- "${TINY[@]}" --weight-cache on
t "--weight-cache without a value" 2 "--weight-cache" -- "${TINY[@]}" --weight-cache
t "unknown option" 2 "--frobnicate" -- "${TINY[@]}" --frobnicate
# --list-devices and --info print and stop: a flag asking for images with them is refused, not ignored
t "--list-devices with -o" 2 "--list-devices|-o" -- --list-devices -o x.png
t "--info with --per-class" 2 "--info|--out-dir" -- "${TINY[@]}" --info --per-class 1 --out-dir @D@/d
# --info reads the model and runtime flags; one that only shapes images (sampling, subnet, grid) is refused (run
# here without t's -o, which is refused first)
for flag in "--cfg 3" "--depth 2" "--grid-columns 2"; do
    # shellcheck disable=SC2086
    "$VGEN" "${TINY[@]}" --info $flag >"$work/stdout" 2>"$work/stderr"
    st=$?
    if [ "$st" = 2 ] && [ "$(wc -l <"$work/stderr")" = 1 ] && [ ! -s "$work/stdout" ] &&
        grep -qF -- "--info prints and stops: it takes no ${flag% *}" "$work/stderr"; then
        passed=$((passed + 1))
    else
        fail "--info $flag" "exit $st: $(cat "$work/stderr")"
        failed=$((failed + 1))
    fi
done
if "$VGEN" "${TINY[@]}" --info --weights f32 >"$work/stdout" 2>"$work/stderr" && grep -q "weights: f32" "$work/stdout"; then
    passed=$((passed + 1))
else
    fail "--info --weights f32" "a runtime flag is taken: $(cat "$work/stderr")"
    failed=$((failed + 1))
fi
rm -f "$work/stdout" "$work/stderr"
# a flag given twice is refused, not the last value taken (both values named)
t "--class given twice" 2 "--class|given twice|'3'|'4'" -- "${TINY[@]}" --class 3 --class 4
t "-o given twice, once as --x=y" 2 "-o|given twice" -- "${TINY[@]}" -o a.png -o b.png
t "--seed given twice, the second as --seed=N" 2 "--seed|given twice" -- "${TINY[@]}" --seed 1 --seed=1
# every number is digits only: white space around a value is refused alike for one number and for a list
t "--seed ' 5'" 2 "--seed|' 5'" -- "${TINY[@]}" --seed " 5"
t "--class ' 3'" 2 "--class|' 3'" -- "${TINY[@]}" --class " 3"
t "--class '3,4 '" 2 "--class|'3,4 '" -- "${TINY[@]}" --class "3,4 "
t "--device ' 0' (not an index: a name)" 2 "device ' 0': no device's name" -- "${TINY[@]}" --device " 0"
ENVV="VARCL_KERNEL_DIR=$files/adir" t "VARCL_KERNEL_DIR an empty folder" 2 "VARCL_KERNEL_DIR=$files/adir|attention.cl is missing" -- "${TINY[@]}"
ENVV="VARCL_HOST_THREADS=+2" t "VARCL_HOST_THREADS +2" 2 "VARCL_HOST_THREADS=+2" -- "${TINY[@]}"
t "unknown option with a value" 2 "--frobnicate" -- "${TINY[@]}" --frobnicate=3
t "flag missing its value" 2 "--seed" -- "${TINY[@]}" --seed

# ---- outputs ----
t "-o with a newline in the path: one line" 2 'no\nsuch' -- "${TINY[@]}" -o "$(printf 'no\nsuch/x.png')"
# the tools' own messages (not only the library's) keep a quoted path to one line
t "-o and --out-dir, a newline in both paths: one line" 2 'a\nb.png|d\ne' -- "${TINY[@]}" -o "$(printf 'a\nb.png')" \
    --out-dir "$(printf 'd\ne')"
t "--pack with a newline and no --npz: one line" 2 '--pack p\nq needs --npz' -- --pack "$(printf 'p\nq')"
t "an unknown option with an escape character: one line" 2 "'--x\\x1b[31m'" -- "${TINY[@]}" "$(printf -- '--x\033[31m')"
t "-o in a missing directory" 2 "/nonexistent-dir/x.png" -- "${TINY[@]}" -o /nonexistent-dir/x.png
t "-o is an existing directory" 2 "$files/adir" -- "${TINY[@]}" -o "$files/adir"
long=$(printf 'a%.0s' {1..300})
t "-o with a 304-byte file name, refused before the run" 2 "the file name is 304 bytes" -- "${TINY[@]}" -o "$long.png"
t "--tokens-out with a long name: -o not left behind" 2 "the file name is" -- "${TINY[@]}" -o y.png --tokens-out "$long.json"
t "--tokens-out in a missing directory" 2 "@D@/missing/t.json" -- "${TINY[@]}" --tokens-out @D@/missing/t.json
# a value forgotten, the next flag taken as it: vgen wrote a file named -q
t "-o -q" 2 "-o needs a value, and -q is an option|./-q" -- "${TINY[@]}" -o -q
t "--model --vae" 2 "--model needs a value, and --vae is an option" -- --model --vae "$TINY_VAE"
t "--out-dir in a missing folder" 2 "@D@/missing/d|does not exist" -- "${TINY[@]}" --out-dir @D@/missing/d
# a missing --out-dir is made (one level, as --per-class makes its folder; it was refused), and a refused run leaves
# none behind (t checks that nothing is left)
t "--out-dir made, the run refused" 2 "class 99" -- "${TINY[@]}" --out-dir @D@/new --class 99
t "--out-dir fails at the end (--tokens-out /dev/full): no folder made" 1 "/dev/full" -- "${TINY[@]}" --out-dir @D@/new \
    --tokens-out /dev/full
t "--out-dir with a name over the folder's limit" 2 "over the folder's limit" -- "${TINY[@]}" --out-dir "@D@/$long"
rm -rf "$work/made"
if "$VGEN" "${TINY[@]}" --out-dir "$work/made" --class 1,2 -q 2>"$work/made.err" && [ -s "$work/made/00000_class1.png" ] &&
    [ -s "$work/made/00001_class2.png" ]; then
    passed=$((passed + 1))
else
    fail "--out-dir missing: made" "$(cat "$work/made.err")"
    failed=$((failed + 1))
fi
rm -rf "$work/made" "$work/made.err"
# --stats onto a full disk: the run fails with none of its outputs (the images were kept, exit 1)
"$VGEN" "${TINY[@]}" --stats --out-dir "$work/stfull" -q > /dev/full 2> "$work/st.err"
rc=$?
if [ $rc = 1 ] && [ ! -e "$work/stfull" ] && [ "$(wc -l < "$work/st.err")" = 1 ]; then
    passed=$((passed + 1))
else
    fail "--stats > /dev/full" "exit $rc, $(ls "$work/stfull" 2>&1), $(cat "$work/st.err")"
    failed=$((failed + 1))
fi
rm -rf "$work/stfull" "$work/st.err"

# ---- settings file ----
# settings the file gives are named by file and line (they named the command line's --layers), or both places
printf '[variant]\nlayers = 1,1\n' > "$files/layers.ini"
t "the settings file's layers listed twice" 2 "layers.ini:2|layers|distinct ascending" -- --config "$files/layers.ini"
printf '[model]\nvar = %s\n' "$DATA/upstream-tiny/var.safetensors" > "$files/var-only.ini"
t "the settings file's var without vae" 2 "--model needs --vae|vae = in [model] ($files/var-only.ini)" -- \
    --config "$files/var-only.ini"
t "--config with an unknown key" 2 "unknown-key.ini|top_kk" -- "${TINY[@]}" --config "$files/unknown-key.ini"
t "--config with a bad value" 2 "bad-value.ini|cfg|1.5x" -- "${TINY[@]}" --config "$files/bad-value.ini"
t "--config with a bad weight_cache" 2 "bad-wcache.ini|weight_cache|maybe" -- \
    "${TINY[@]}" --config "$files/bad-wcache.ini"
t "--config missing" 2 "$files/none.ini" -- "${TINY[@]}" --config "$files/none.ini"

# ---- positive control: greedy run of the tiny model reproduces the upstream tokens ----
ok_dir=$(mktemp -d "$work/ok-XXXXXX")
(cd "$ok_dir" && "$VGEN" "${TINY[@]}" --class 1,5 --top-k 1 -o "$ok_dir/ok.png" --tokens-out "$ok_dir/t.json") \
    >"$work/stdout" 2>"$work/stderr"
st=$?
ok=1
if [ "$st" != 0 ]; then
    fail "positive control" "exit status $st, want 0"; ok=0
    sed 's/^/    stderr: /' "$work/stderr" >&2
fi
if [ -s "$work/stderr" ]; then
    fail "positive control" "-q run wrote to stderr"; ok=0
fi
left=$(cd "$ok_dir" && ls -A | sort | tr '\n' ' ')
if [ "$left" != "ok.png t.json " ]; then
    fail "positive control" "want exactly ok.png and t.json, found: $left"; ok=0
fi
if [ -f "$ok_dir/ok.png" ] && ! python3 - "$ok_dir/ok.png" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read(24)
ok = b[:8] == b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', b[16:24]) == (512, 256)
sys.exit(0 if ok else 1)
EOF
then
    fail "positive control" "ok.png is not a 512x256 PNG (two 256 px images side by side)"; ok=0
fi
if [ -f "$ok_dir/t.json" ] && ! python3 -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' \
    "$ok_dir/t.json" "$DATA/upstream-tiny/full.tokens.json"; then
    fail "positive control" "tokens differ from upstream-tiny/full.tokens.json"; ok=0
fi
if [ "$ok" = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
rm -f "$work/stdout" "$work/stderr"

# ---- VARCL_PROFILE=1: the same run also prints a per-kernel table, largest share first, and the same tokens ----
(cd "$ok_dir" && VARCL_PROFILE=1 "$VGEN" "${TINY[@]}" --class 1,5 --top-k 1 -o "$ok_dir/p.png" --tokens-out "$ok_dir/p.json") \
    >"$work/stdout" 2>"$work/stderr"
st=$?
if [ "$st" = 0 ] && grep -q "^varcl profile (" "$work/stderr" && grep -q "^attention" "$work/stderr" &&
    grep -qE "^(sgemm |linear_packed)" "$work/stderr" && cmp -s "$ok_dir/p.json" "$ok_dir/t.json"; then
    passed=$((passed + 1))
else
    want="a table naming attention and the products (sgemm or linear_packed), and unchanged tokens"
    fail "VARCL_PROFILE=1" "exit $st, want 0 with $want"
    sed 's/^/    stderr: /' "$work/stderr" >&2
    failed=$((failed + 1))
fi
rm -f "$work/stdout" "$work/stderr"

# ---- --weight-cache off (flag or settings file) reaches the library: --info says the cache was off for that reason;
# otherwise the line names no such choice (written, read in place, or why it was not used) ----
# wc_case NAME WANT_OFF ARGS...: vgen --info ARGS on the tiny model; its "weight cache:" line must be the off line
# (WANT_OFF 1) or another one (0)
wc_case() {
    local name=$1 want_off=$2 line
    shift 2
    line=$(cd "$ok_dir" && "$VGEN" "${TINY[@]}" --info "$@" 2>"$work/stderr" | grep "^weight cache: ")
    if { [ "$want_off" = 1 ] && [ "$line" = "weight cache: off (--weight-cache off)" ]; } ||
        { [ "$want_off" = 0 ] && [ -n "$line" ] && [ "${line#*--weight-cache off}" = "$line" ]; }; then
        passed=$((passed + 1))
    else
        fail "vgen --info $name" "got '$line' (stderr: $(head -c 300 "$work/stderr"))"
        failed=$((failed + 1))
    fi
}
wc_case "--weight-cache off" 1 --weight-cache off
wc_case "--weight-cache=OFF" 1 --weight-cache=OFF
wc_case "[runtime] weight_cache = off" 1 --config "$files/wcache-off.ini"
wc_case "the settings file's off, then --weight-cache auto" 0 --config "$files/wcache-off.ini" --weight-cache auto
wc_case "(default)" 0
rm -f "$work/stderr"

# An output that is an input of the run, or another output: refused before any work, the input untouched.
cp "$TINY_VAR" "$files/var-copy.safetensors"
t "-o names the --model file" 2 "-o|is the --model file" -- --model "$files/var-copy.safetensors" --vae "$TINY_VAE" \
    -o "$files/var-copy.safetensors"
t "--tokens-out names the --config file" 2 "--tokens-out|is the --config file" -- --config "$files/wcache-off.ini" \
    --model "$TINY_VAR" --vae "$TINY_VAE" --tokens-out "$files/wcache-off.ini"
t "-o and --tokens-out name one file" 2 "-o and --tokens-out name the same file" -- --model "$TINY_VAR" \
    --vae "$TINY_VAE" -o "@D@/a.out" --tokens-out "@D@/./a.out"
# --out-dir's image names too: an input there (a --vae copied into the folder under image 0's name) or the
# --tokens-out file
mkdir -p "$files/outdir"
cp "$TINY_VAE" "$files/outdir/00000_class1.png"
t "--out-dir's image 0 is the --vae file" 2 "image 0|00000_class1.png|is the --vae file" -- --model "$TINY_VAR" \
    --vae "$files/outdir/00000_class1.png" --class 1 --out-dir "$files/outdir"
t "--out-dir's image 1 is the --tokens-out file" 2 "image 1|00001_class2.png|is the --tokens-out file" -- \
    --model "$TINY_VAR" --vae "$TINY_VAE" --class 1,2 --out-dir "@D@" --tokens-out "@D@/00001_class2.png"
if cmp -s "$TINY_VAR" "$files/var-copy.safetensors" && grep -q weight_cache "$files/wcache-off.ini" &&
    cmp -s "$TINY_VAE" "$files/outdir/00000_class1.png"; then
    passed=$((passed + 1))
else
    fail "inputs named as outputs" "an input file was changed"
    failed=$((failed + 1))
fi

t "--tokens-out ''" 2 "--tokens-out: empty path" -- --model "$TINY_VAR" --vae "$TINY_VAE" --tokens-out ""
t "--kv-pool-mb too small" 2 "KV pool|--kv-pool-mb" -- --model "$TINY_VAR" --vae "$TINY_VAE" --class 1 --kv-pool-mb 1
t "--kv-pool-mb over the device" 2 "fixed KV pool|smaller --kv-pool-mb" -- --model "$TINY_VAR" --vae "$TINY_VAE" \
    --class 1 --kv-pool-mb 16777216
t "-o with --out-dir" 2 "-o @D@/x.png and --out-dir @D@/d|not both" -- --class 1,2 --out-dir "@D@/d" -o "@D@/x.png"
t "--grid-columns with --out-dir" 2 "--grid-columns|--out-dir writes one PNG per image" -- --model "$TINY_VAR" \
    --vae "$TINY_VAE" --class 1,2 --out-dir "@D@/d" --grid-columns 2
t "--grid-columns with --per-class" 2 "--grid-columns|--per-class writes one PNG per image" -- --model "$TINY_VAR" \
    --vae "$TINY_VAE" --per-class 1 --out-dir "@D@/d" --grid-columns 2
"$VGEN" --help >/dev/full 2>"$work/stderr"
st=$?
if [ "$st" = 1 ] && [ "$(wc -l <"$work/stderr")" = 1 ] && grep -q "cannot write to standard output" "$work/stderr"; then
    passed=$((passed + 1))
else
    fail "--help to a full device" "exit $st ($(head -c 200 "$work/stderr"))"
    failed=$((failed + 1))
fi

# A FIFO given as an input is refused, not waited on (timeout: a plain open would block until a writer came)
mkfifo "$work/in.fifo"
for args in "--model $work/in.fifo --vae $TINY_VAE" "--config $work/in.fifo"; do
    read -r -a a <<<"$args"
    timeout 60 "$VGEN" -q "${a[@]}" -o "$work/x.png" 2>"$work/stderr"
    st=$?
    if [ "$st" = 2 ] && [ "$(wc -l <"$work/stderr")" = 1 ] && grep -q "in.fifo.*not a regular file" "$work/stderr" &&
        [ ! -e "$work/x.png" ]; then
        passed=$((passed + 1))
    else
        fail "${a[0]} FIFO" "exit $st ($(head -c 200 "$work/stderr"))"
        failed=$((failed + 1))
    fi
done
rm -f "$work/in.fifo"

# An existing output that is not a regular file is written in place, never replaced by a file (outfile.h): a FIFO
# gets the PNG; a full device (/dev/full's numbers, where mknod is allowed) exit status 1 and the system's reason.
mkfifo "$work/fifo"
timeout 60 cat "$work/fifo" >"$work/from-fifo.png" & # a FIFO replaced by a file would leave cat waiting
reader=$!
"$VGEN" -q --model "$TINY_VAR" --vae "$TINY_VAE" --class 1 -o "$work/fifo" 2>"$work/stderr"
st=$?
wait "$reader"
if [ "$st" = 0 ] && [ -p "$work/fifo" ] && [ "$(head -c 4 "$work/from-fifo.png" | tail -c 3)" = PNG ]; then
    passed=$((passed + 1))
else
    fail "-o FIFO" "exit $st, FIFO kept: $([ -p "$work/fifo" ] && echo yes || echo no) ($(head -c 200 "$work/stderr"))"
    failed=$((failed + 1))
fi
rm -f "$work/fifo" "$work/from-fifo.png"
if mknod "$work/full" c 1 7 2>/dev/null; then
    for flag in -o --tokens-out; do
        other=(-o "$work/x.png")
        [ "$flag" = -o ] && other=()
        "$VGEN" -q --model "$TINY_VAR" --vae "$TINY_VAE" --class 1 "${other[@]}" $flag "$work/full" 2>"$work/stderr"
        st=$?
        # the other output is not left behind either: outputs are renamed only once all of them are whole
        if [ "$st" = 1 ] && [ -c "$work/full" ] && [ "$(wc -l <"$work/stderr")" = 1 ] && [ ! -e "$work/x.png" ] &&
            grep -q "full: cannot write.*No space left on device" "$work/stderr"; then
            passed=$((passed + 1))
        else
            fail "$flag on a full device" "exit $st, still a device: $([ -c "$work/full" ] && echo yes || echo no) ($(head -c 200 "$work/stderr"))"
            failed=$((failed + 1))
        fi
    done
    rm -f "$work/full" "$work/x.png"
else
    echo "skipped: the full-device cases (mknod not permitted here)"
fi
rm -f "$work/stderr"

# a flag replaces the settings file's subnet, whether the file gave it as depth and the flag as layers or the other
# way round: the tokens are those of the flag alone
printf '[variant]\ndepth = 2\n' > "$work/depth.ini"
printf '[variant]\nlayers = 1,2\n' > "$work/layers.ini"
"$VGEN" "${TINY[@]}" --class 1 --layers 0,1 -o "$work/a.png" --tokens-out "$work/a.json" &&
    "$VGEN" "${TINY[@]}" --class 1 --config "$work/depth.ini" --layers 0,1 -o "$work/b.png" --tokens-out "$work/b.json" &&
    "$VGEN" "${TINY[@]}" --class 1 --depth 2 -o "$work/c.png" --tokens-out "$work/c.json" &&
    "$VGEN" "${TINY[@]}" --class 1 --config "$work/layers.ini" --depth 2 -o "$work/d.png" --tokens-out "$work/d.json" \
    2> "$work/stderr"
if [ $? = 0 ] && cmp -s "$work/a.json" "$work/b.json" && cmp -s "$work/c.json" "$work/d.json" &&
    ! cmp -s "$work/a.json" "$work/c.json"; then
    passed=$((passed + 1))
else
    fail "a flag replaces the settings file's depth or layers" "$(head -c 300 "$work/stderr")"
    failed=$((failed + 1))
fi
rm -f "$work"/[abcd].png "$work"/[abcd].json "$work/depth.ini" "$work/layers.ini" "$work/stderr"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
