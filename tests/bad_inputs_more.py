#!/usr/bin/python3
"""bad_inputs_more: further inputs of the kinds in tests/data/bad-inputs (issue 11), for tests/test_bad_inputs.sh.

    /usr/bin/python3 tests/bad_inputs_more.py OUTDIR [--tiny DIR]

Edited copies of upstream-tiny (found as the kit's generators find it), python3 + numpy only:
  var_gap0.safetensors      blocks renumbered 1..4 (no blocks.0)
  var_stray.safetensors     blocks 0..3 plus a copy of block 0 as blocks.6 (4 and 5 missing)
  vae_up_gap.safetensors    decoder.up.1.* renamed decoder.up.5.* (level 1 missing)
  vae_block_gap.safetensors decoder.up.2.block.1.* left out
  vae_phi_gap.safetensors   qresi_ls.0, 1, 3 (2 left out)
  vae_phi_shared.safetensors      PhiShared: quant_resi.qresi = qresi_ls.0
  vae_phi_ls1_same.safetensors    PhiPartiallyShared K = 4, every phi = qresi_ls.0 (same tokens as the shared one)
  vae_phi_nonshared.safetensors   PhiNonShared, K = 10 (quant_resi.0..9): phi k is the original phi that scale s
                                  uses, where s is the scale upstream's rule maps to k (numpy, as upstream), so the
                                  greedy tokens equal upstream-tiny's full.tokens.json
  var_dtypes.safetensors    extra unused tensors of dtypes BOOL, U8, I8, I16, I32, I64, U16, U32, U64, F64,
                            F8_E4M3, F8_E5M2
  var_i32_bias.safetensors  head.bias stored as I32 (a used tensor with an unusable dtype)
  var_inf_fc1.safetensors   blocks.1.ffn.fc1.weight[3, 5] = +inf (F32)
  var_f16_inf.safetensors   class_emb.weight (F16) with one 0x7c00 (inf) element
  var_logits_inf.safetensors  head.weight = 3e38 everywhere (finite weights, logits overflow at run time)
  var_fc2_70000.safetensors   blocks.1.ffn.fc2.weight[0, 5] = 70000 (F32: over f16's 65504, within bf16's range)
  vae_overflow.safetensors    decoder.conv_in.weight = 1e30, decoder.conv_out.weight = 3e38 (F32, finite: the
                              decoder's output overflows to NaN at run time)
  nested_prefix.pth         module._orig_mod.module.{w, b}
  overflow.pth              big.weight F32 = [1, 70000] (over f16's 65504), small = [1, 2]
  overflow64.pth            big.weight F64 = [1, 1e300] (over every dtype but F64 itself), small F64 = [1, 2]
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "data", "bad-inputs", "gen"))
import pthlib  # noqa: E402
import stlib  # noqa: E402


def renamed(rows, fn):
    return [[fn(r[0]), r[1], r[2], r[3]] for r in rows]


def phi_index(si, sn, k):
    """upstream models/quant.py: argmin |ticks - si/(SN-1)| with numpy's linspace."""
    ticks = np.linspace(1 / 3 / k, 1 - 1 / 3 / k, k) if k == 4 else np.linspace(1 / 2 / k, 1 - 1 / 2 / k, k)
    return int(np.argmin(np.abs(ticks - si / (sn - 1))).item())


def main():
    out, tiny = stlib.usage_outdir(sys.argv, __doc__)
    t = stlib.find_tiny(tiny)
    var, _ = stlib.read_st(os.path.join(t, "var.safetensors"))
    vae, _ = stlib.read_st(os.path.join(t, "vae.safetensors"))
    w = lambda name, rows: stlib.write(os.path.join(out, name), stlib.st_bytes(rows))  # noqa: E731

    def bump(n):
        if n.startswith("blocks."):
            i, rest = n[7:].split(".", 1)
            return "blocks.%d.%s" % (int(i) + 1, rest)
        return n
    w("var_gap0.safetensors", renamed(var, bump))
    w("var_stray.safetensors", var + [["blocks.6." + r[0][9:], r[1], r[2], r[3]] for r in var
                                      if r[0].startswith("blocks.0.")])
    w("vae_up_gap.safetensors", renamed(vae, lambda n: n.replace("decoder.up.1.", "decoder.up.5.", 1)))
    w("vae_block_gap.safetensors", [r for r in vae if not r[0].startswith("decoder.up.2.block.1.")])
    w("vae_phi_gap.safetensors", [r for r in vae if not r[0].startswith("quantize.quant_resi.qresi_ls.2.")])

    phis = {}
    for r in vae:
        if r[0].startswith("quantize.quant_resi.qresi_ls."):
            k, what = r[0][len("quantize.quant_resi.qresi_ls."):].split(".")
            phis[(int(k), what)] = r
    rest = [r for r in vae if not r[0].startswith("quantize.quant_resi.")]

    def phi_rows(prefix, src):
        return [[prefix + "." + what, phis[(src, what)][1], phis[(src, what)][2], phis[(src, what)][3]]
                for what in ("weight", "bias")]
    w("vae_phi_shared.safetensors", rest + phi_rows("quantize.quant_resi.qresi", 0))
    w("vae_phi_ls1_same.safetensors",
      rest + sum((phi_rows("quantize.quant_resi.qresi_ls.%d" % k, 0) for k in range(4)), []))
    sn = 10
    owner = {}
    for si in range(sn):
        owner.setdefault(phi_index(si, sn, 10), si)
    assert sorted(owner) == list(range(10)), owner  # a one-to-one map for K = SN = 10
    w("vae_phi_nonshared.safetensors",
      rest + sum((phi_rows("quantize.quant_resi.%d" % k, phi_index(owner[k], sn, 4)) for k in range(10)), []))

    extra = [["extra.bool", "BOOL", [3], np.array([1, 0, 1], np.uint8)],
             ["extra.u8", "U8", [2], np.array([7, 8], np.uint8)],
             ["extra.i8", "I8", [2], np.array([-7, 8], np.int8)],
             ["extra.i16", "I16", [2], np.array([-7, 8], np.int16)],
             ["extra.i32", "I32", [2], np.array([-7, 8], np.int32)],
             ["extra.i64", "I64", [2], np.array([-7, 8], np.int64)],
             ["extra.f64", "F64", [2], np.array([0.5, np.nan], np.float64)]]
    rows = stlib.st_bytes(var + extra)
    stlib.write(os.path.join(out, "var_dtypes.safetensors"), rows)
    # dtypes stlib has no numpy type for: written by hand into a copy of the header
    import json
    import struct
    raw = open(os.path.join(out, "var_dtypes.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    for name, dt, nbytes in (("extra.u16", "U16", 4), ("extra.u32", "U32", 8), ("extra.u64", "U64", 16),
                             ("extra.f8a", "F8_E4M3", 2), ("extra.f8b", "F8_E5M2", 2)):
        header[name] = {"dtype": dt, "shape": [2], "data_offsets": [len(data), len(data) + nbytes]}
        data += bytes(range(nbytes))
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    stlib.write(os.path.join(out, "var_dtypes.safetensors"), struct.pack("<Q", len(text)) + text + data)

    def edited(name, fn):
        rows = [[r[0], r[1], r[2], r[3].copy()] for r in var]
        for r in rows:
            fn(r)
        w(name, rows)

    def i32_bias(r):
        if r[0] == "head.bias":
            r[1], r[3] = "I32", np.zeros(r[2], np.int32)
    edited("var_i32_bias.safetensors", i32_bias)

    def inf_fc1(r):
        if r[0] == "blocks.1.ffn.fc1.weight":
            r[1], r[3] = "F32", stlib.f16_to_f32(r[3], r[1]).copy()
            r[3][3, 5] = np.inf
    edited("var_inf_fc1.safetensors", inf_fc1)

    def f16_inf(r):
        if r[0] == "class_emb.weight":
            assert r[1] == "F16"
            r[3] = r[3].copy()
            r[3].reshape(-1).view(np.uint16)[17] = 0x7C00
    edited("var_f16_inf.safetensors", f16_inf)

    def huge_head(r):
        if r[0] == "head.weight":
            r[1], r[3] = "F32", np.full(r[2], 3e38, np.float32)
    edited("var_logits_inf.safetensors", huge_head)

    def fc2_70000(r):
        if r[0] == "blocks.1.ffn.fc2.weight":
            r[1], r[3] = "F32", stlib.f16_to_f32(r[3], r[1]).copy()
            r[3][0, 5] = 70000.0
    edited("var_fc2_70000.safetensors", fc2_70000)
    rows = [[r[0], r[1], r[2], r[3]] for r in vae]
    for r in rows:
        if r[0] in ("decoder.conv_in.weight", "decoder.conv_out.weight"):
            r[1], r[3] = "F32", np.full(r[2], 1e30 if "conv_in" in r[0] else 3e38, np.float32)
    w("vae_overflow.safetensors", rows)

    pthlib.write_pth(os.path.join(out, "nested_prefix.pth"),
                     [("module._orig_mod.module.w", "F32", np.arange(6, dtype=np.float32).reshape(2, 3)),
                      ("module._orig_mod.module.b", "F32", np.array([1, 2, 3], np.float32))])
    pthlib.write_pth(os.path.join(out, "overflow.pth"),
                     [("big.weight", "F32", np.array([1, 70000], np.float32)),
                      ("small", "F32", np.array([1, 2], np.float32))])
    pthlib.write_pth(os.path.join(out, "overflow64.pth"),
                     [("big.weight", "F64", np.array([1, 1e300], np.float64)),
                      ("small", "F64", np.array([1, 2], np.float64))])
    for f in ("var.safetensors", "vae.safetensors"):
        link = os.path.join(out, f)
        if not os.path.lexists(link):
            os.symlink(os.path.join(t, f), link)


if __name__ == "__main__":
    main()
