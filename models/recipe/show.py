#!/usr/bin/python3
"""Pictures of a training run, for looking at what a stage learnt (matplotlib writes the PNGs).

    /usr/bin/python3 models/recipe/show.py reconstructions [--run DIR]   # DIR/vqvae_reconstructions.png
    /usr/bin/python3 models/recipe/show.py data [--out F.png]            # four training images per class
    /usr/bin/python3 models/recipe/show.py shapes10 [--out F.png]        # four of each kind of the VQ-VAE's set
    /usr/bin/python3 models/recipe/show.py depths --vgen build/vgen [--depths 16,8,4,2] [--seed 0] [--out F.png]
        [-- vgen options]                                                # one row per depth, one column per class

depths: the engine's images (`vgen --depth D --class 0,...,9 --grid-columns 10 --seed S` for each D, the built-in
demo model unless vgen options say otherwise) stacked, each 256 px image shrunk to 64 px by 4x4 box averages.

reconstructions: one held-out image per class of the class set (data.py; top row) above its reconstruction through the VQ-VAE's ten scales
(bottom row): tokens -> f-hat -> decoder, the path vgen's images take. Each cell is 128 px (the image halved).
"""
import errno
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cli  # noqa: E402
import data  # noqa: E402
import shapes10  # noqa: E402
import train  # noqa: E402
import vqvae as vq  # noqa: E402


def save(path, u8):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # through a temporary file: a failed write leaves no half-written PNG (the name is not .png: say the format)
    cli.replace_file(path, lambda tmp: plt.imsave(tmp, u8, format="png"))


def model_depth(vgen, extra):
    """The depth of the model that `vgen ... extra` would run (vgen --info with extra's --model, --vae and --config,
    a fraction of a second), or None where vgen cannot tell (then the run itself says why)."""
    import re
    import subprocess
    keep, i = [], 0
    while i < len(extra):
        flag = extra[i].split("=", 1)[0]
        n = 1 if "=" in extra[i] else 2
        if flag in ("--model", "--vae", "--config"):
            keep += extra[i:i + n]
            i += n
        else:
            i += 1
    try:
        r = subprocess.run([vgen, "--info"] + keep, capture_output=True, text=True)
    except OSError:
        return None
    m = re.search(r": depth (\d+),", r.stdout) if r.returncode == 0 else None
    return int(m.group(1)) if m else None


def reconstructions(run):
    """-> uint8 [2 * 128, 10 * 128, 3]: held-out images over their ten-scale reconstructions."""
    model, _ = train.load_vae(train.RunFolder(run))  # the latest stage
    model.quantize.patch_nums = vq.PATCH_NUMS
    model.eval()
    real = data.batch(range(len(data.CLASSES)), [data.HELD_OUT] * len(data.CLASSES))
    with torch.no_grad():
        idx = model.img_to_idx(vq.to_tensor(real))
        rec = model.decode(model.quantize.idx_to_fhat(idx))
    rec = ((rec.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    rows = [np.concatenate(list(a[:, ::2, ::2]), axis=1) for a in (real, rec)]
    return np.concatenate(rows, axis=0)


def depths(vgen, depth_list, seed, extra):
    """-> uint8 [len(depth_list) * 64, classes * 64, 3]: vgen's class grid at each depth, 4x smaller."""
    import subprocess
    import tempfile
    import matplotlib.image as mpimg
    n = len(data.CLASSES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in depth_list:
            out = os.path.join(tmp, "d%d.png" % d)
            r = subprocess.run([vgen, "-q", "--depth", str(d), "--class", ",".join(map(str, range(n))),
                                "--grid-columns", str(n), "--seed", str(seed), "-o", out] + extra)
            if r.returncode:  # vgen has said why (a bad vgen option, a missing file): stop there
                print("show.py depths: vgen failed at depth %d (exit %d)" % (d, r.returncode), file=sys.stderr)
                sys.exit(2 if r.returncode == 2 else 1)  # its usage error stays one (exit 2), as the recipe's own
            g = mpimg.imread(out)[..., :3].astype(np.float64)  # [256, n * 256, 3] in 0..1
            h, w = g.shape[0] // 4, g.shape[1] // 4
            rows.append(g[:h * 4, :w * 4].reshape(h, 4, w, 4, 3).mean(axis=(1, 3)))
    return np.round(np.concatenate(rows, axis=0) * 255).astype(np.uint8)


def main():
    p = cli.parser(description=__doc__.split("\n\n")[0], epilog="depths: vgen options after --")
    p.add_argument("what", choices=("reconstructions", "data", "shapes10", "depths"))
    p.add_argument("--run", default=os.path.join(HERE, "run"))
    p.add_argument("--out")
    p.add_argument("--vgen", help="depths: the vgen to run")
    p.add_argument("--depths", default="16,8,4,2", help="depths: the rows (default %(default)s)")
    p.add_argument("--seed", type=cli.at_least(0, high=cli.SEED_MAX), default=0,
                   help="depths: vgen's seed (default %(default)s)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # what follows "--" is vgen's (depths)
    a = p.parse_args(argv[:cut])
    a.rest = argv[cut + 1:]
    if a.what != "depths" and a.rest:
        p.error("vgen options are for depths only")
    if a.out is not None and (not a.out.lower().endswith(".png") or os.path.isdir(a.out)):
        p.error("--out %s: a .png file to write (the figure is a PNG)" % a.out)
    # every argument is checked here, before any work (show.py depths ran vgen at depth 16 before it found the 0 of
    # --depths 16,0) and before anything is written
    if a.what == "reconstructions" and not any(os.path.exists(os.path.join(a.run, f)) for f in ("vqvae-ms.pt",
                                                                                             "vqvae.pt")):
        train.load_vae(train.RunFolder(a.run))  # raises its FileNotFoundError: no VQ-VAE checkpoint there
    out = a.out or {"depths": "depths.png", "data": "arrangements10.png", "shapes10": "shapes10.png",
                    "reconstructions": os.path.join(a.run, "vqvae_reconstructions.png")}[a.what]
    cli.output_file(p, "--out", out)
    if a.what == "depths":
        if not a.vgen:
            p.error("depths needs --vgen (the engine draws the images)")
        ds = cli.whole_list(p, "--depths", a.depths, 1, 128)  # vgen's --depth range
        if not shutil.which(a.vgen):  # a path, or a name on PATH as subprocess finds it
            raise FileNotFoundError(errno.ENOENT, "not an executable vgen", a.vgen)
        deepest = model_depth(a.vgen, a.rest)
        if deepest is not None and max(ds) > deepest:
            p.error("--depths %s: the model has %d layers, so each depth is from 1 to %d" % (a.depths, deepest,
                                                                                           deepest))
        save(out, depths(a.vgen, ds, a.seed, a.rest))
    elif a.what == "reconstructions":
        save(out, reconstructions(a.run))
    elif a.what == "data":
        save(out, data.grid(4)[::2, ::2])
    else:
        rows = [np.concatenate([shapes10.image(k, j) for j in range(4)], axis=1) for k in range(len(shapes10.KINDS))]
        save(out, np.concatenate(rows, axis=0)[::2, ::2])


if __name__ == "__main__":
    cli.run(main)
