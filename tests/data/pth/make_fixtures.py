#!/usr/bin/python3
"""make_fixtures.py: writes the .pth fixtures of tests/test_convert.sh with real torch (run once; see README.md).

    cd tests/data/pth && /usr/bin/python3 make_fixtures.py

Needs torch (Debian: python3-torch 1.13.1) and numpy. The test itself never needs torch: expected.json holds,
for every fixture and every --dtype mode, each tensor's name, dtype, shape and the SHA-256 of its contiguous
little-endian bytes as torch computes them (bf16 as its 16-bit patterns).
"""
import collections
import hashlib
import json
import os
import pickle
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = os.path.join(HERE, "..", "upstream-tiny")
OD = collections.OrderedDict


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = OD()
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F16": "<f2", "F32": "<f4", "I64": "<i8"}[v["dtype"]]
        out[k] = np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"])
    return out


def small_shape(name, shape):
    """var_small's shape for an upstream-tiny tensor: width 128 -> 64, 2 heads -> 1 (vocabulary, classes,
    latent channels and the 680 tokens stay)."""
    if "scale_mul_1H11" in name:
        table = {2: 1}
    elif ".ffn." in name:
        table = {128: 64, 512: 256}
    else:
        table = {128: 64, 256: 128, 384: 192, 768: 384}
    return [table.get(d, d) for d in shape]


def var_small():
    """depth 1, width 64, 1 head, 16 classes, vocabulary 512: upstream-tiny's blocks.0 and shared tensors, each the
    first numel(new shape) values of the upstream tensor (flattened), as float32; lvl_1L copied (int64)."""
    up = read_safetensors(os.path.join(UPSTREAM, "var.safetensors"))
    sd = OD()
    for k, a in up.items():
        if k.startswith(("blocks.1.", "blocks.2.", "blocks.3.")):
            continue
        shape = small_shape(k, a.shape)
        n = int(np.prod(shape))
        flat = a.reshape(-1)[:n]
        if a.dtype == np.int64:
            sd[k] = torch.from_numpy(flat.copy()).reshape(shape)
        else:
            sd[k] = torch.from_numpy(flat.astype(np.float32)).reshape(shape)
    sd._metadata = OD([("", {"version": 1})])  # as nn.Module.state_dict() sets it
    return sd


def mixed():
    """Every storage layout and dtype the converter must handle."""
    g = torch.Generator().manual_seed(1234)
    # f32 values that hit rounding ties and limits when converted to f16 and bf16
    special = torch.tensor([
        1.0, -2.5, 0.0, -0.0, float("inf"), float("-inf"),
        1.0 + 2.0 ** -11,            # f16 tie, rounds to even (1.0)
        1.0 + 3 * 2.0 ** -11,        # f16 tie, rounds up
        1.0 + 2.0 ** -8,             # bf16 tie, rounds to even (1.0)
        1.0 + 3 * 2.0 ** -8,         # bf16 tie, rounds up
        65504.0, 65520.0,            # f16 max; rounds to inf
        3.0e38, 2.0 ** -24, 2.0 ** -25, 1.0e-40,  # near f32 max; f16 subnormal min; f16 underflow tie; f32 subnormal
    ], dtype=torch.float32).reshape(4, 4)
    base = torch.randn(4, 6, generator=g)
    col_base = torch.randn(8, 3, generator=g)
    shared = torch.randn(10, generator=g)
    half = torch.randn(3, 5, generator=g).half()
    half[0, :4] = torch.tensor([65504.0, -0.0, 2.0 ** -24, float("inf")]).half()
    bf = torch.randn(2, 6, generator=g).bfloat16()
    sd = OD()
    sd["f32.special"] = special
    sd["f32.transposed"] = base.t()                    # stride (1, 6): not contiguous
    sd["f32.slice"] = col_base[2:5]                     # storage offset 6
    sd["f32.column"] = col_base[:, 1]                   # offset 1, stride 3
    sd["shared.all"] = shared                           # three tensors, one storage
    sd["shared.middle"] = shared[3:7]
    sd["shared.matrix"] = shared.view(2, 5)
    sd["f16"] = half
    sd["f16.transposed"] = half.t()
    sd["bf16"] = bf
    sd["bf16.slice"] = bf[1, 2:]
    sd["i64"] = torch.tensor([0, -1, 2 ** 40, -(2 ** 62), 7], dtype=torch.int64)
    sd["i32"] = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 3)
    sd["expanded"] = torch.arange(3.0).expand(4, 3)    # stride (0, 1)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    return sd


def nested(sd16, vae_local):
    """A user-trained checkpoint as VAR's train.py saves it (trainer.state_dict() and args.state_dict())."""
    opt_state = {0: {"step": torch.tensor(10.0), "exp_avg": torch.zeros(64), "exp_avg_sq": torch.ones(64)}}
    var_opt = {"optimizer": {"state": opt_state,
                             "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.05,
                                               "amsgrad": False, "maximize": False, "foreach": None,
                                               "capturable": False, "differentiable": False, "fused": None,
                                               "params": [0]}]},
               "scaler": {"scale": 32768.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                          "_growth_tracker": 5}}
    args = OD([("data_path", "/data/imagenet"), ("depth", 1), ("fp16", 1), ("tblr", 1e-4), ("saln", False),
               ("anorm", True), ("pn", "1_2_3_4_5_6_8_10_13_16"), ("patch_nums", (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)),
               ("resos", (16, 32, 48, 64, 80, 96, 128, 160, 208, 256)), ("cmd", "train.py --depth=1"),
               ("commit_id", None), ("acc_mean", None)])
    return {"epoch": 3, "iter": 0,
            "trainer": {"config": {"patch_nums": (1, 2, 3, 4, 5, 6, 8, 10, 13, 16), "label_smooth": 0.1,
                                   "prog_it": 0, "last_prog_si": -1, "first_prog": True},
                        "var_wo_ddp": sd16, "vae_local": vae_local, "var_opt": var_opt},
            "args": args, "g_it": 30, "acc_str": "[0.50 0.40]", "milestones": {1, 2}}


class RunsSystem:
    """Pickles as os.system('touch ...'): what a hostile checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


class RunsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch pwned_by_convert_eval')",))


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


ST_NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
           torch.int32: "I32", torch.bool: "BOOL"}
MODES = {"keep": None, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def expectation(sd, strip=""):
    out = {}
    for mode, dt in MODES.items():
        rows = []
        for k, t in sd.items():
            t = t.detach()
            if dt is not None and t.is_floating_point():
                t = t.to(dt)
            name = k[len(strip):] if strip and k.startswith(strip) else k
            rows.append([name, ST_NAME[t.dtype], list(t.shape), hashlib.sha256(tensor_bytes(t)).hexdigest()])
        out[mode] = rows
    return out


def main():
    os.chdir(HERE)
    expected = {"torch": torch.__version__, "numpy": np.__version__}

    # (a) plain state dict, f32, as the released var_d*.pth
    sd = var_small()
    torch.save(sd, "var_small.pth")
    expected["var_small.pth"] = expectation(sd)

    # (b) the same weights as f16, nested as a user-trained checkpoint (with a VAE part and optimizer state)
    sd16 = OD((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
    vae = read_safetensors(os.path.join(UPSTREAM, "vae.safetensors"))
    vae_local = OD((k, torch.from_numpy(vae[k].copy())) for k in
                   ("post_quant_conv.weight", "post_quant_conv.bias", "quantize.embedding.weight"))
    torch.save(nested(sd16, vae_local), "var_small_nested.pth")
    expected["var_small_nested.pth"] = expectation(sd16)
    expected["var_small_nested.pth --key trainer.vae_local"] = expectation(vae_local)

    # (c) dtypes and storage layouts, in the zip and the legacy format; a DDP-style wrapped dict
    mx = mixed()
    torch.save(mx, "mixed.pth")
    torch.save(mx, "mixed_legacy.pth", _use_new_zipfile_serialization=False)
    expected["mixed.pth"] = expectation(mx)
    expected["mixed_legacy.pth"] = expected["mixed.pth"]
    wrapped = OD([("module.weight", torch.arange(6.0).reshape(2, 3)), ("module.bias", torch.tensor([0.5, -0.5]))])
    torch.save({"model": wrapped, "epoch": 1, "optimizer": None}, "wrapped.pth")
    expected["wrapped.pth"] = expectation(wrapped, strip="module.")

    # (d) hostile: each would create a marker file in the current directory if it were unpickled by pickle.load
    torch.save({"weight": torch.zeros(2), "payload": RunsSystem("pwned_by_convert_system")}, "evil_system.pth")
    torch.save({"weight": torch.zeros(2), "payload": RunsSystem("pwned_by_convert_legacy")}, "evil_legacy.pth",
               _use_new_zipfile_serialization=False)
    torch.save({"weight": torch.zeros(2), "payload": RunsEval()}, "evil_eval.pth")
    with open("evil_plain.pkl", "wb") as f:
        pickle.dump(RunsSystem("pwned_by_convert_plain"), f, protocol=4)

    with open("expected.json", "w") as f:  # one tensor per line
        f.write("{\n")
        for i, (k, v) in enumerate(expected.items()):
            f.write(" %s: " % json.dumps(k))
            if isinstance(v, dict):
                f.write("{\n")
                for j, (mode, rows) in enumerate(v.items()):
                    f.write("  %s: [\n   " % json.dumps(mode))
                    f.write(",\n   ".join(json.dumps(r) for r in rows))
                    f.write("]%s\n" % ("," if j + 1 < len(v) else ""))
                f.write(" }")
            else:
                f.write(json.dumps(v))
            f.write(",\n" if i + 1 < len(expected) else "\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
