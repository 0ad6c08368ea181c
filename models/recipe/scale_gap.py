"""Over-fitting per scale: the teacher-forced cross-entropy of a VAR checkpoint on images it trained on against
images it never saw, for each of the ten scales.

    /usr/bin/python3 models/recipe/scale_gap.py [--run DIR] [--var STAGE] [--first-held 400] [--held-per-class 20]

Training images: --train of the run's tokens.npz (a fixed random pick). Held-out images: data.image(c, i) for i in
--first-held .. + --held-per-class - 1 of every class, encoded by the run's VQ-VAE (the tokens stage's images are
i < its per_class, so --first-held must be at least that). Prints one line per set: the loss with the recipe's
weighting (train.scale_weights("side")) and the mean cross-entropy in nats of each scale, 1x1 .. 16x16. A held-out
loss well over the training loss on the coarse scales (2x2..6x6, where the class's layout is drawn) is how the
demo's VAR was found to memorise 160 images per class (README, "Why 320 images per class").
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cli  # noqa: E402
import data  # noqa: E402
import train  # noqa: E402
import vqvae as vq  # noqa: E402
from var import VAR  # noqa: E402


def per_scale(net, vae, labels, tok):
    """-> (weighted loss, [10] mean cross-entropy per scale) of the teacher-forced VAR on tok int64 [B, 680]."""
    with torch.no_grad():
        logits = net(labels, vae.quantize.idx_to_var_input(train.split_tokens(tok)))
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok.reshape(-1),
                                               reduction="none").view(tok.shape[0], -1)
    out, at = [], 0
    for pn in vq.PATCH_NUMS:
        out.append(ce[:, at:at + pn * pn].mean().item())
        at += pn * pn
    return (ce * train.scale_weights("side")).sum(1).mean().item(), out


def main():
    p = cli.parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(HERE, "run"))
    p.add_argument("--var", default="var", help="the checkpoint's stage (var, supernet-progressive, ...)")
    p.add_argument("--first-held", type=cli.at_least(0), default=400)
    p.add_argument("--held-per-class", type=cli.at_least(1), default=20)
    p.add_argument("--train", type=cli.at_least(1), default=200, help="training images to average over")
    a = p.parse_args()
    if a.first_held + a.held_per_class > data.HELD_OUT:  # from there on the indices are the classifier's test images
        p.error("--first-held %d --held-per-class %d: the images must be below %d (the training split)" % (
            a.first_held, a.held_per_class, data.HELD_OUT))
    z = np.load(os.path.join(a.run, "tokens.npz"))
    per_class = int(np.bincount(z["labels"]).max())
    if a.first_held < per_class:
        p.error("--first-held %d: images below %d of each class are in the run's tokens (training images)" % (
            a.first_held, per_class))
    sd, cfg = train.var_checkpoint(os.path.join(a.run, a.var + ".pt"))  # the EMA where the run kept one
    vae, _ = train.load_vae(train.RunFolder(a.run))
    vae.eval()
    vae.quantize.patch_nums = vq.PATCH_NUMS
    net = VAR(**cfg)
    net.load_state_dict(sd)
    net.eval()
    n_cls = len(data.CLASSES)
    held_tok, held_lab = [], []
    with torch.no_grad():
        for i in range(a.first_held, a.first_held + a.held_per_class):
            idx = vae.img_to_idx(vq.to_tensor(data.batch(list(range(n_cls)), [i] * n_cls)))
            held_tok.append(torch.cat([t.reshape(n_cls, -1) for t in idx], 1).long())
            held_lab += list(range(n_cls))
    labels, tokens = torch.from_numpy(z["labels"]), torch.from_numpy(z["tokens"].astype(np.int64))
    pick = torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))[:a.train]
    print("scale:            " + " ".join("%5d" % pn for pn in vq.PATCH_NUMS))
    for name, lab, tok in (("training images", labels[pick], tokens[pick]),
                           ("held-out images", torch.tensor(held_lab), torch.cat(held_tok))):
        w, s = per_scale(net, vae, lab, tok)
        print("%-17s %s   (weighted %.4f, %d images)" % (name + ":", " ".join("%5.2f" % v for v in s), w, len(lab)))


if __name__ == "__main__":
    cli.run(main)
