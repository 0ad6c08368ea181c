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
import errno
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import classifier as clf  # noqa: E402
import cli  # noqa: E402
import sample  # noqa: E402
import st_io  # noqa: E402
import train  # noqa: E402
from var import VAR  # noqa: E402
from vqvae import PATCH_NUMS  # noqa: E402


def accuracy(var, vae, w, labels, real, k, cfg):
    """labels int64 [B]; real int64 [B, 680]: the fraction of decoded images classified as their label."""
    _, u8 = sample.generate(var, vae, labels.tolist(), cfg, prefix=real, k=k, gen=torch.Generator().manual_seed(0))
    logits, _ = clf.numpy_forward(w, clf.downsample(u8))
    return float((logits.argmax(1) == labels.numpy()).mean())


def main():
    p = cli.parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classifier", required=True)
    p.add_argument("--run", default=os.path.join(HERE, "run"))
    p.add_argument("--var", default="var", help="checkpoint name in the run folder (var, supernet-...)")
    p.add_argument("--per-class", type=cli.at_least(1), default=4)
    p.add_argument("--ks", default="0,4,6,8,10")
    p.add_argument("--cfg", type=cli.at_least(0, float), default=1.5, help="guidance, a finite number >= 0 (as vgen)")
    p.add_argument("--threads", type=cli.at_least(1), default=2)
    a = p.parse_args()
    try:  # before anything is loaded
        ks = [int(x) for x in a.ks.split(",")]
    except ValueError:
        p.error("--ks %s: expected whole numbers separated by commas" % a.ks)
    n_scales = len(PATCH_NUMS)
    if any(k < 0 or k > n_scales for k in ks):
        p.error("--ks %s: the model has %d scales, so each k is from 0 to %d" % (a.ks, n_scales, n_scales))
    # the cheap checks of every input before the expensive loads: the classifier (a VAR or VQ-VAE file given as
    # --classifier ended in KeyError 'conv0.weight' once everything else had been loaded)
    w = clf.check(st_io.read(a.classifier), a.classifier)
    for name in (a.var + ".pt", "tokens.npz"):
        if not os.path.isfile(os.path.join(a.run, name)):
            raise FileNotFoundError(errno.ENOENT, "no such checkpoint or tokens file in the run folder",
                                    os.path.join(a.run, name))
    torch.set_num_threads(a.threads)
    sd, cfg = train.var_checkpoint(os.path.join(a.run, a.var + ".pt"))  # the EMA where the run kept one
    var = VAR(**cfg)
    var.load_state_dict(sd)
    var.eval()
    vae, _ = train.load_vae(train.RunFolder(a.run))
    vae.eval()
    z = np.load(os.path.join(a.run, "tokens.npz"))
    lab_all, tok_all = z["labels"], z["tokens"].astype(np.int64)
    pick = np.concatenate([np.where(lab_all == c)[0][:a.per_class] for c in range(var.classes)])
    labels, real = torch.from_numpy(lab_all[pick]), torch.from_numpy(tok_all[pick])
    for k in ks:
        print("first %2d scales real: accuracy %.3f (%d images)" % (k, accuracy(var, vae, w, labels, real, k, a.cfg),
                                                                   len(labels)), flush=True)


if __name__ == "__main__":
    cli.run(main)
