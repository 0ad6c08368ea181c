#!/usr/bin/env bash
# test_bad_inputs: the fourteen kinds of bad input of issue 11, with the kit's inputs (tests/data/bad-inputs, made
# by its generators from upstream-tiny) and further inputs of the same kinds (tests/bad_inputs_more.py). Each case
# must work (exit 0 and the right tokens) or be refused: exit 2 for input, 1 for a run-time failure, exactly one
# stderr line naming what is wrong, nothing on stdout, and no output or temporary file left behind.
# Env: VGEN (the binary), VARCL_TEST_DATA (tests/data). python3 with numpy writes the inputs.
set -u

VGEN=${VGEN:?set VGEN to the vgen binary}
case $VGEN in
/*) ;;
*/*) VGEN=$PWD/$VGEN ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${VARCL_TEST_DATA:-$HERE/data}
KIT=$DATA/bad-inputs
CONVERT=$HERE/../models/convert.py
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
FULL=$DATA/upstream-tiny/full.tokens.json
unset VARCL_DEVICE

work=$(mktemp -d "${TMPDIR:-/tmp}/varcl-test-bad-inputs-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    echo "FAIL $1" >&2
    failed=$((failed + 1))
}

for g in "$KIT"/gen/case*.py; do
    VARCL_TEST_DATA=$DATA $PY "$g" "$work/$(basename "$g" .py)" > /dev/null || { echo "FAIL: $g" >&2; exit 1; }
done
VARCL_TEST_DATA=$DATA $PY "$HERE/bad_inputs_more.py" "$work/more" || { echo "FAIL: bad_inputs_more.py" >&2; exit 1; }

# refused NAME STATUS NEEDLES DIR -- COMMAND...: runs COMMAND in DIR; wants exit STATUS, one stderr line starting
# with "vgen:" or "convert.py:" that holds every '|'-separated needle, empty stdout, and DIR as it was.
refused() {
    local name=$1 want=$2 needles=$3 dir=$4
    shift 5
    local before after st n list=()
    before=$(cd "$dir" && find . | sort)
    (cd "$dir" && exec "$@") > "$work/out" 2> "$work/err"
    st=$?
    after=$(cd "$dir" && find . | sort)
    local why=""
    [ "$st" = "$want" ] || why="exit $st, want $want; "
    [ "$(wc -l < "$work/err")" = 1 ] || why="$why$(wc -l < "$work/err") stderr lines; "
    head -1 "$work/err" | grep -qE '^(vgen|convert\.py): ' || why="${why}stderr does not start with the tool; "
    [ -s "$work/out" ] && why="${why}stdout not empty; "
    [ "$before" = "$after" ] || why="${why}files left: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' '); "
    IFS='|' read -ra list <<< "$needles"
    for n in "${list[@]}"; do grep -qF -- "$n" "$work/err" || why="${why}no '$n'; "; done
    if [ -z "$why" ]; then ok; else bad "$name: $why stderr: $(head -c 600 "$work/err")"; fi
}

# works NAME DIR -- COMMAND...: exit 0; stdout in $work/out
works() {
    local name=$1 dir=$2
    shift 3
    (cd "$dir" && exec "$@") > "$work/out" 2> "$work/err"
    local st=$?
    if [ $st = 0 ]; then ok; else bad "$name: exit $st: $(head -c 600 "$work/err")"; fi
    return $st
}

# same_tokens NAME GOT WANT: the "tokens" of two tokens files are equal
same_tokens() {
    if $PY - "$2" "$3" <<'PY'; then ok; else bad "$1: tokens differ from $3"; fi
import json, sys
a, b = (json.load(open(p))["tokens"] for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
}

G=(--class 1,5 --cfg 1.5 --top-k 1 --top-p 0 --seed 0 -q)
M=$work/more

# ---- 1: values the header reader does not use have no size limit ----
d=$work/case01_st_long_metadata
works "01 long metadata --info" "$d" -- "$VGEN" --model var_long_meta.safetensors --vae vae.safetensors --info &&
    { grep -q "depth 4, width 128, heads 2, vocabulary 512, classes 16" "$work/out" && ok || bad "01: --info line"; }

# ---- 2: 200,000 header entries load (O(n log n)); the 100 MB header bound is in test_safetensors ----
d=$work/case02_st_many_entries
for f in var_pad_20k var_pad_200k; do
    works "02 $f --info" "$d" -- "$VGEN" --model $f.safetensors --vae vae.safetensors --info &&
        { grep -q "depth 4" "$work/out" && ok || bad "02 $f: depth 4"; }
done

# ---- 3: numbered families contiguous from 0 ----
d=$work/case05_var_block_gap
refused "03 VAR blocks 0,1,3" 2 "var_gap.safetensors|blocks.2" "$d" -- "$VGEN" --model var_gap.safetensors \
    --vae vae.safetensors --class 1 -o out.png --tokens-out t.json
refused "03 VAR blocks 1..4" 2 "var_gap0.safetensors|blocks.0" "$M" -- "$VGEN" --model var_gap0.safetensors \
    --vae vae.safetensors -o out.png
refused "03 VAR blocks 0..3 and 6" 2 "blocks.4|blocks.6" "$M" -- "$VGEN" --model var_stray.safetensors \
    --vae vae.safetensors -o out.png
refused "03 VQ-VAE up level gap" 2 "vae_up_gap.safetensors|decoder.up.1" "$M" -- "$VGEN" --model var.safetensors \
    --vae vae_up_gap.safetensors -o out.png
refused "03 VQ-VAE block gap" 2 "decoder.up.2.block.1" "$M" -- "$VGEN" --model var.safetensors \
    --vae vae_block_gap.safetensors -o out.png
refused "03 phi gap" 2 "qresi_ls.2" "$M" -- "$VGEN" --model var.safetensors --vae vae_phi_gap.safetensors -o out.png

# ---- 4: guidance factors in double, rounded once (the probe's winner depends only on them) ----
d=$work/case06_cfg_rounding
works "04 probe cfg 1.5" "$d" -- "$VGEN" --model var_cfg_probe.safetensors --vae vae.safetensors --class 1 --cfg 1.5 \
    --top-k 1 --top-p 0 --seed 0 -q -o p.png --tokens-out got.json &&
    same_tokens "04 probe cfg 1.5" "$d/got.json" "$KIT/expected/case06_cfg1.5.tokens.json"
# other cfg values: the expected winners computed with numpy as upstream computes them (t in double, a = fp32(1 + t),
# u = fp32(t), logits = fp32(a * bias) - fp32(u * bias) in fp32, argmax, lowest id on a tie)
for cfg in 1.0 2.0 4.0 0.7 3.3; do
    works "04 probe cfg $cfg" "$d" -- "$VGEN" --model var_cfg_probe.safetensors --vae vae.safetensors --class 1 \
        --cfg $cfg --top-k 1 --top-p 0 --seed 0 -q -o p.png --tokens-out got.json || continue
    if $PY - "$d/got.json" "$cfg" <<'PY'; then ok; else bad "04 probe cfg $cfg: tokens differ from numpy's"; fi
import json, sys
import numpy as np
got, cfg = json.load(open(sys.argv[1]))["tokens"][0], float(sys.argv[2])
b = np.full(512, -30, np.float32)
b[100], b[200] = np.array([0x40600BF3, 0x40600BF4], np.uint32).view(np.float32)
for si in range(10):
    t = cfg * (si / 9)
    a, u = np.float32(1 + t), np.float32(t)
    logits = (a * b).astype(np.float32) - (u * b).astype(np.float32)
    want = int(np.argmax(logits))
    if any(x != want for x in got[si]):
        sys.exit("scale %d: %s, want %d" % (si, got[si][:3], want))
PY
done
rm -f "$d/p.png" "$d/got.json"

# ---- 5: every phi arrangement, upstream's scale-to-phi rule ----
d=$work/case07_vae_phi_count
works "05 6 phis" "$d" -- "$VGEN" --model var.safetensors --vae vae_phi6.safetensors "${G[@]}" -o phi6.png \
    --tokens-out got.json && same_tokens "05 6 phis" "$d/got.json" "$KIT/expected/case07_phi6.tokens.json"
works "05 non-shared, 10 phis" "$M" -- "$VGEN" --model var.safetensors --vae vae_phi_nonshared.safetensors "${G[@]}" \
    -o ns.png --tokens-out ns.json && same_tokens "05 non-shared" "$M/ns.json" "$FULL"
works "05 shared" "$M" -- "$VGEN" --model var.safetensors --vae vae_phi_shared.safetensors "${G[@]}" -o sh.png \
    --tokens-out sh.json &&
    works "05 4 phis, all the same" "$M" -- "$VGEN" --model var.safetensors --vae vae_phi_ls1_same.safetensors \
        "${G[@]}" -o s4.png --tokens-out s4.json && same_tokens "05 shared = 4 equal phis" "$M/sh.json" "$M/s4.json"

# ---- 6: convert.py strips nested wrapper prefixes ----
d=$work/case08_convert_nested_prefix
keys_are() { # FILE WANT: the header's tensor names, sorted and joined by spaces
    $PY - "$1" "$2" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
h.pop("__metadata__", None)
sys.exit(0 if " ".join(sorted(h)) == sys.argv[2] else "keys: %s" % " ".join(sorted(h)))
PY
}
works "06 convert small" "$d" -- $PY "$CONVERT" small_compiled_ddp.pth s.safetensors -q &&
    { keys_are "$d/s.safetensors" "b w" && ok || bad "06 small: keys"; }
works "06 convert nested" "$M" -- $PY "$CONVERT" nested_prefix.pth n.safetensors -q &&
    { keys_are "$M/n.safetensors" "b w" && ok || bad "06 module._orig_mod.module.: keys"; }
works "06 convert VAR" "$d" -- $PY "$CONVERT" var_compiled_ddp.pth v.safetensors -q &&
    works "06 VAR tokens" "$d" -- "$VGEN" --model v.safetensors --vae vae.safetensors "${G[@]}" -o v.png \
        --tokens-out v.json && same_tokens "06 VAR tokens" "$d/v.json" "$FULL"

# ---- 7: unused tensors of any dtype load; a used one with an unusable dtype is named ----
d=$work/case09_unused_dtypes
works "07 BOOL --info" "$d" -- "$VGEN" --model var_bool.safetensors --vae vae.safetensors --info
for x in keep f32 bf16; do
    works "07 convert --dtype $x" "$d" -- $PY "$CONVERT" var_bool.pth v_$x.safetensors --dtype $x -q &&
        works "07 converted $x --info" "$d" -- "$VGEN" --model v_$x.safetensors --vae vae.safetensors --info
done
works "07 every dtype --info" "$M" -- "$VGEN" --model var_dtypes.safetensors --vae vae.safetensors --info
refused "07 I32 head.bias" 2 "var_i32_bias.safetensors|'head.bias'|I32" "$M" -- "$VGEN" \
    --model var_i32_bias.safetensors --vae vae.safetensors -o out.png

# ---- 8: non-finite weights refused at load; non-finite logits fail the request; f16 overflow refused ----
d=$work/case10_nonfinite_weights
refused "08 NaN head.bias" 2 "var_nan_head_bias.safetensors|'head.bias'|non-finite" "$d" -- "$VGEN" \
    --model var_nan_head_bias.safetensors --vae vae.safetensors --class 1 -q -o x.png --tokens-out t.json
refused "08 inf in fc1" 2 "'blocks.1.ffn.fc1.weight'|non-finite" "$M" -- "$VGEN" --model var_inf_fc1.safetensors \
    --vae vae.safetensors -q -o x.png
refused "08 F16 inf" 2 "'class_emb.weight'|non-finite" "$M" -- "$VGEN" --model var_f16_inf.safetensors \
    --vae vae.safetensors -q -o x.png
refused "08 logits overflow at run time" 1 "scale 0|not finite" "$M" -- "$VGEN" --model var_logits_inf.safetensors \
    --vae vae.safetensors "${G[@]}" -o x.png --tokens-out t.json
# a 16-bit store asked for (--weights f16) that cannot hold a value: refused at load naming the tensor (it made
# infinite logits, or a black image from the VQ-VAE); bf16 holds it
refused "08 --weights f16 overflow" 2 "var_fc2_70000.safetensors|'blocks.1.ffn.fc2.weight'|f16|65504" "$M" -- "$VGEN" \
    --model var_fc2_70000.safetensors --vae vae.safetensors --weights f16 -q -o x.png
works "08 --weights bf16 holds it" "$M" -- "$VGEN" --model var_fc2_70000.safetensors --vae vae.safetensors \
    --weights bf16 -q -o bf16.png
rm -f "$M/bf16.png"
# finite VQ-VAE weights whose decoder output overflows: exit 1, no image (it was written black)
refused "08 decoder output overflow" 1 "VQ-VAE decoder|non-finite" "$M" -- "$VGEN" --model var.safetensors \
    --vae vae_overflow.safetensors -q -o x.png
refused "08 convert --dtype f16 overflow" 2 "big.weight|f16|65504" "$M" -- $PY "$CONVERT" overflow.pth o.safetensors \
    --dtype f16
works "08 convert --dtype bf16 holds it" "$M" -- $PY "$CONVERT" overflow.pth o.safetensors --dtype bf16 -q
# an F64 value beyond f32's range: finite in the source, refused for every narrower dtype (it was written as inf)
for dt in f16 bf16 f32; do
    refused "08 convert F64 1e300 --dtype $dt" 2 "big.weight|$dt range|--dtype keep" "$M" -- $PY "$CONVERT" \
        overflow64.pth o64.safetensors --dtype $dt
done

# ---- 9-11: the settings file ----
d=$work/case11_ini_hash_in_path
works "09 '#' in an unquoted path" "$d" -- "$VGEN" --config unquoted.ini --info &&
    { grep -q "depth 4" "$work/out" && ok || bad "09: depth 4"; }
works "09 decoy" "$d" -- "$VGEN" --config decoy/unquoted.ini "${G[@]}" -o d.png --tokens-out t.json &&
    same_tokens "09 decoy: not the decoy's tokens" "$d/t.json" "$FULL"
printf '[model]\nvar = var.safetensors  # the best one\nvae = vae.safetensors\n' > "$M/comment.ini"
refused "09 ' #' after a value" 2 "comment.ini:2|var.safetensors  # the best one" "$M" -- "$VGEN" --config comment.ini \
    --info
d=$work/case12_ini_bom
works "10 BOM" "$d" -- "$VGEN" --config bom.ini --info && { grep -q "depth 4" "$work/out" && ok || bad "10: depth 4"; }
printf '\xef\xbb\xbf[model]\r\nvar = var.safetensors\r\nvae = vae.safetensors\r\n' > "$M/bom-crlf.ini"
works "10 BOM + CRLF" "$M" -- "$VGEN" --config bom-crlf.ini --info
d=$work/case13_ini_long_classes
refused "11 1001 classes, the last out of range" 2 "out of range|the model has classes 0.." "$d" -- "$VGEN" --config long_one_line.ini \
    -o x.png
{ printf '[sample]\nclasses = '; seq -s, 0 999 | tr -d '\n'; printf ',-1\n'; } > "$M/neg.ini"
refused "11 1001 classes, the last negative" 2 "neg.ini:2|classes|,-1" "$M" -- "$VGEN" --config neg.ini -o x.png

# ---- 12: outputs known to fail are refused before generation ----
d=$work/case14_grid_class_list
refused "12 grid of 21841" 2 "big.png|2048x699136|--out-dir" "$d" -- "$VGEN" --class "$(cat "$d/grid_21841.txt")" \
    --batch 8 -o big.png
{ printf '[sample]\nclasses = '; seq -s, 1 100000 | sed 's/[0-9]*/1/g'; } > "$d/many.ini" # 200 KB on one line
refused "12 grid of 100000" 2 "big.png|2048x3200000|--out-dir" "$d" -- "$VGEN" --config many.ini -o big.png

# ---- 13: the program-binary cache: a damaged file is never handed to the driver, it is rebuilt ----
cache=$work/cache
mkdir -p "$cache"
works "13 fill the cache" "$M" -- env VARCL_CACHE_DIR="$cache" "$VGEN" --model var.safetensors --vae vae.safetensors \
    "${G[@]}" -o c.png --tokens-out c.json
bin=$(ls "$cache"/*.bin 2> /dev/null | head -1)
if [ -z "$bin" ]; then bad "13: no program binary written"; else
    good=$work/good.bin
    cp "$bin" "$good"
    head -1 "$good" | grep -q '^# varcl-cache 1 program-binary [0-9]* [0-9a-f]\{8\}$' && ok || bad "13: frame line"
    for how in 100 1000 100000 flip unframed empty; do
        case $how in
        flip) cp "$good" "$bin"; printf '\x55' | dd of="$bin" bs=1 seek=5000 conv=notrunc 2> /dev/null ;;
        unframed) tail -n +2 "$good" > "$bin" ;; # a binary as varcl wrote it before the frame
        empty) : > "$bin" ;;
        *) head -c $how "$good" > "$bin" ;;
        esac
        rm -f "$M/c.png" "$M/c.json"
        works "13 cache $how" "$M" -- env VARCL_CACHE_DIR="$cache" "$VGEN" --model var.safetensors \
            --vae vae.safetensors "${G[@]}" -o c.png --tokens-out c.json && same_tokens "13 cache $how" "$M/c.json" "$FULL"
        cmp -s "$bin" "$good" && ok || bad "13 cache $how: not rewritten"
    done
fi

# ---- 14: exit status: input/usage 2, run-time and I/O 1 ----
refused "14 --info to a full disk" 1 "standard output" "$M" -- sh -c "exec \"$VGEN\" --info > /dev/full"
refused "14 --list-devices to a full disk" 1 "standard output" "$M" -- sh -c "exec \"$VGEN\" --list-devices > /dev/full"
# a file size limit makes write() fail with EFBIG, as a full disk makes it fail with ENOSPC; the same run first
# without it, so that the driver's own kernel cache (pocl writes one file per kernel and work-group size) is filled
# and the limit falls on vgen's PNG alone
works "14 the same run without a limit" "$M" -- "$VGEN" -q -o out.png
rm -f "$M/out.png"
refused "14 PNG write fails" 1 "out.png" "$M" -- bash -c "trap '' XFSZ; ulimit -f 8; exec \"$VGEN\" -q -o out.png"
refused "14 convert.py write fails" 1 "v2.safetensors|write failed" "$work/case08_convert_nested_prefix" -- bash -c \
    "trap '' XFSZ; ulimit -f 8; exec $PY \"$CONVERT\" var_compiled_ddp.pth v2.safetensors -q"
refused "14 -o into a missing folder" 2 "no-such-dir" "$M" -- "$VGEN" -q -o no-such-dir/x.png
refused "14 --tokens-out into a missing folder" 2 "no-such-dir" "$M" -- "$VGEN" -q --tokens-out no-such-dir/t.json
refused "14 bad flag value" 2 "--batch|1025" "$M" -- "$VGEN" --batch 1025

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
