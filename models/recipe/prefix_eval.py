#!/usr/bin/python3
"""Where does the demo VAR lose the class? Class accuracy when the first k scales are real.

    /usr/bin/python3 models/recipe/prefix_eval.py --classifier models/demo/classifier.safetensors [--run DIR]
        [--var var] [--per-class 4] [--ks 0,4,6,8,10] [--cfg 1.5]

For `per-class` training images of every class (their tokens from DIR/tokens.npz), scales 0..k-1 are the images'
real tokens and scales k..9 are sampled by the VAR checkpoint DIR/VAR.pt (CFG with upstream's linear ramp, no
top-k/top-p, torch's generator seeded 0); the f-hat is decoded by DIR's VQ-VAE and judged by the classifier
(classifier.py's numpy network). k = 10 is the VQ-VAE's own reconstruction: the ceiling any VAR on this VQ-VAE
can reach; k = 0 is plain generation. Prints accuracy per k.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import classifier as clf  # noqa: E402
import st_io  # noqa: E402
import train  # noqa: E402
import vqvae as vq  # noqa: E402
from var import VAR  # noqa: E402


@torch.no_grad()
def accuracy(var, vae, w, labels, real, k, cfg):
    """labels int64 [B]; real int64 [B, 680]: the fraction of decoded images classified as their label."""
    q, b, pns = vae.quantize, len(labels), vq.PATCH_NUMS
    side, last = pns[-1], len(pns) - 1
    lab = torch.cat([labels, torch.full_like(labels, var.classes)])  # conditional rows, then null-class rows
    f_hat = torch.zeros(b, q.c, side, side)
    x_in = torch.zeros(2 * b, 0, q.c)
    gen = torch.Generator().manual_seed(0)
    at = 0
    for si, pn in enumerate(pns):
        if si < k:
            idx = real[:, at:at + pn * pn]
        else:
            logits = var(lab, x_in)[:, at:at + pn * pn]  # [2B, pn^2, V]
            t = cfg * si / last
            mixed = (1 + t) * logits[:b] - t * logits[b:]
            probs = F.softmax(mixed.reshape(-1, mixed.shape[-1]), -1)
            idx = torch.multinomial(probs, 1, generator=gen).view(b, -1)
        f_hat = f_hat + q._up(q.embedding(idx.reshape(b, pn, pn)).permute(0, 3, 1, 2), side, si)
        at += pn * pn
        if si < last:
            ni = F.interpolate(f_hat, size=(pns[si + 1],) * 2, mode="area").reshape(b, q.c, -1).transpose(1, 2)
            x_in = torch.cat((x_in, torch.cat((ni, ni), 0)), 1)
    img = vae.decode(f_hat).clamp(-1, 1).add(1).mul(0.5)
    u8 = (img * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    logits, _ = clf.numpy_forward(w, clf.downsample(u8))
    return float((logits.argmax(1) == labels.numpy()).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classifier", required=True)
    p.add_argument("--run", default=os.path.join(HERE, "run"))
    p.add_argument("--var", default="var", help="checkpoint name in the run folder (var, supernet-...)")
    p.add_argument("--per-class", type=int, default=4)
    p.add_argument("--ks", default="0,4,6,8,10")
    p.add_argument("--cfg", type=float, default=1.5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    var = VAR(**train.VAR_CFG)
    var.load_state_dict(torch.load(os.path.join(a.run, a.var + ".pt"))["model"])
    var.eval()
    vae, _ = train.load_vae(argparse.Namespace(path=lambda name: os.path.join(a.run, name)))
    vae.eval()
    z = np.load(os.path.join(a.run, "tokens.npz"))
    lab_all, tok_all = z["labels"], z["tokens"].astype(np.int64)
    pick = np.concatenate([np.where(lab_all == c)[0][:a.per_class] for c in range(var.classes)])
    labels, real = torch.from_numpy(lab_all[pick]), torch.from_numpy(tok_all[pick])
    w = st_io.read(a.classifier)
    for k in (int(x) for x in a.ks.split(",")):
        print("first %2d scales real: accuracy %.3f (%d images)" % (k, accuracy(var, vae, w, labels, real, k, a.cfg),
                                                                   len(labels)), flush=True)


if __name__ == "__main__":
    main()
