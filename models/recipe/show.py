#!/usr/bin/python3
"""Pictures of a training run, for looking at what a stage learnt (matplotlib writes the PNGs).

    /usr/bin/python3 models/recipe/show.py reconstructions [--run DIR]   # DIR/vqvae_reconstructions.png
    /usr/bin/python3 models/recipe/show.py data [--out F.png]            # four training images per class
    /usr/bin/python3 models/recipe/show.py shapes10 [--out F.png]        # four of each kind of the VQ-VAE's set

reconstructions: one held-out image per class of the class set (data.py; top row) above its reconstruction through the VQ-VAE's ten scales
(bottom row): tokens -> f-hat -> decoder, the path vgen's images take. Each cell is 128 px (the image halved).
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import shapes10  # noqa: E402
import train  # noqa: E402
import vqvae as vq  # noqa: E402


def save(path, u8):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.imsave(path, u8)


def reconstructions(run):
    """-> uint8 [2 * 128, 10 * 128, 3]: held-out images over their ten-scale reconstructions."""
    model, _ = train.load_vae(argparse.Namespace(path=lambda name: os.path.join(run, name)))  # the latest stage
    model.quantize.patch_nums = vq.PATCH_NUMS
    model.eval()
    real = data.batch(range(len(data.CLASSES)), [data.HELD_OUT] * len(data.CLASSES))
    with torch.no_grad():
        idx = model.img_to_idx(vq.to_tensor(real))
        rec = model.decode(model.quantize.idx_to_fhat(idx))
    rec = ((rec.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    rows = [np.concatenate(list(a[:, ::2, ::2]), axis=1) for a in (real, rec)]
    return np.concatenate(rows, axis=0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("reconstructions", "data", "shapes10"))
    p.add_argument("--run", default=os.path.join(HERE, "run"))
    p.add_argument("--out")
    a = p.parse_args()
    if a.what == "reconstructions":
        save(a.out or os.path.join(a.run, "vqvae_reconstructions.png"), reconstructions(a.run))
    elif a.what == "data":
        save(a.out or "arrangements10.png", data.grid(4)[::2, ::2])
    else:
        rows = [np.concatenate([shapes10.image(k, j) for j in range(4)], axis=1) for k in range(len(shapes10.KINDS))]
        save(a.out or "shapes10.png", np.concatenate(rows, axis=0)[::2, ::2])


if __name__ == "__main__":
    main()
