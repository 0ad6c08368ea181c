"""Sampling with the recipe's PyTorch models, the reference the engine is checked against (VAR_SPEC 3-4).

    generate(var, vae, labels, cfg=1.5, late_layers=None) -> (tokens [B, 680] int64, images uint8 [B, 256, 256, 3])

Greedy (top-k = 1: argmax, the lowest id on an exact tie), so it needs no random numbers and gives the same ids as
`vgen --top-k 1` up to float rounding. No KV cache: each scale reruns the prefix (cheap at demo size). The CFG
factors are computed in double and rounded once to f32, as upstream.
"""
import numpy as np
import torch
import torch.nn.functional as F

from vqvae import PATCH_NUMS


@torch.no_grad()
def generate(var, vae, labels, cfg=1.5, late_layers=None, full_scales=6, prefix=None, k=0, gen=None):
    """prefix int64 [B, 680], k: scales 0..k-1 are taken from prefix instead of sampled (prefix_eval.py).
    gen: a torch.Generator to draw each token from the softmax of the CFG logits; None: greedy."""
    var.eval()
    vae.eval()
    q = vae.quantize
    b = len(labels)
    lab = torch.tensor(list(labels) + [var.classes] * b)  # B conditional rows, then B null-class rows
    sn, side = len(PATCH_NUMS), PATCH_NUMS[-1]
    f_hat = torch.zeros(b, q.c, side, side)
    x_in = torch.zeros(2 * b, 0, q.c)
    toks, at = [], 0
    for si, pn in enumerate(PATCH_NUMS):
        if si < k:
            idx = prefix[:, at:at + pn * pn]
        else:
            logits = var(lab, x_in, late_layers, full_scales)[:, at:at + pn * pn]  # [2B, pn^2, V]
            t = cfg * si / (sn - 1)
            a, u = np.float32(1.0 + t), np.float32(t)
            mixed = float(a) * logits[:b] - float(u) * logits[b:]
            if gen is None:
                idx = mixed.argmax(-1)  # [B, pn^2]
            else:
                probs = F.softmax(mixed.reshape(-1, mixed.shape[-1]), -1)
                idx = torch.multinomial(probs, 1, generator=gen).view(b, -1)
        toks.append(idx)
        h = q.embedding(idx.reshape(b, pn, pn)).permute(0, 3, 1, 2)
        f_hat = f_hat + q._up(h, side, si)
        at += pn * pn
        if si < sn - 1:
            nxt = PATCH_NUMS[si + 1]
            ni = F.interpolate(f_hat, size=(nxt, nxt), mode="area").reshape(b, q.c, -1).transpose(1, 2)
            x_in = torch.cat((x_in, torch.cat((ni, ni), 0)), 1)
    img = vae.decode(f_hat).clamp(-1, 1).add(1).mul(0.5)
    u8 = (img * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # truncation, as upstream's demo
    return torch.cat(toks, 1), u8


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
