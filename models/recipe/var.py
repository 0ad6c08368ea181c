"""VAR's class-conditional transformer (VAR_SPEC.md section 2), written from the spec for training at demo scale.

Parameter names follow upstream's state dict (pos_start, pos_1LC, lvl_1L, attn_bias_for_masking, word_embed,
class_emb, lvl_embed, blocks.i.{attn.{scale_mul_1H11, q_bias, zero_k_bias, v_bias, mat_qkv, proj}, ffn.{fc1, fc2},
ada_lin.1}, head_nm.ada_lin.1, head), so an exported state dict loads in upstream's VAR and in varcl.
heads = width / 64 (head_dim 64, as upstream). Training: teacher forcing over all scales with the block-causal
mask (a token sees every token of its own and earlier scales), class dropout for classifier-free guidance.

Shapes: labels [B] int64; teacher-forcing input x_in [B, L - 1, Cvae]; logits [B, L, V] (L = 680).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vqvae import PATCH_NUMS

HEAD_DIM = 64


def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c, self.heads = c, c // HEAD_DIM
        self.mat_qkv = nn.Linear(c, 3 * c, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(c))
        self.v_bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("zero_k_bias", torch.zeros(c))
        self.scale_mul_1H11 = nn.Parameter(torch.full((1, self.heads, 1, 1), math.log(4.0)))
        self.proj = nn.Linear(c, c)

    def forward(self, x, bias):
        b, l, c = x.shape
        qkv = F.linear(x, self.mat_qkv.weight, torch.cat((self.q_bias, self.zero_k_bias, self.v_bias)))
        q, k, v = qkv.view(b, l, 3, self.heads, HEAD_DIM).permute(2, 0, 3, 1, 4).unbind(0)  # [b, H, l, 64]
        s = self.scale_mul_1H11.clamp(max=math.log(100.0)).exp()
        q = F.normalize(q, dim=-1) * s
        k = F.normalize(k, dim=-1)
        # softmax scale 1 (VAR_SPEC 2.4). One 2-D product per (row, head): torch 1.13's batched product on CPUs
        # measured 3x slower than the same products one by one.
        q, k, v = q.reshape(-1, l, HEAD_DIM), k.reshape(-1, l, HEAD_DIM), v.reshape(-1, l, HEAD_DIM)
        o = torch.stack([torch.softmax(torch.mm(q[i], k[i].t()) + bias, dim=-1) @ v[i] for i in range(q.shape[0])])
        return self.proj(o.view(b, self.heads, l, HEAD_DIM).transpose(1, 2).reshape(b, l, c))


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    """Pre-norm AdaLN block: six vectors gamma1, gamma2, scale1, scale2, shift1, shift2 from the class."""

    def __init__(self, c):
        super().__init__()
        self.attn, self.ffn = SelfAttention(c), FFN(c)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(c, 6 * c))

    def forward(self, x, cond, bias):
        g1, g2, s1, s2, b1, b2 = self.ada_lin(cond).view(-1, 1, 6, x.shape[-1]).unbind(2)
        x = x + self.attn(layer_norm(x) * (1 + s1) + b1, bias) * g1
        return x + self.ffn(layer_norm(x) * (1 + s2) + b2) * g2


class AdaLNBeforeHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(c, 2 * c))

    def forward(self, x, cond):
        scale, shift = self.ada_lin(cond).view(-1, 1, 2, x.shape[-1]).unbind(2)
        return layer_norm(x) * (1 + scale) + shift


class VAR(nn.Module):
    def __init__(self, depth=16, width=64, vocab=512, cvae=32, classes=10, patch_nums=PATCH_NUMS, cond_drop=0.1):
        super().__init__()
        self.config = dict(depth=depth, width=width, vocab=vocab, cvae=cvae, classes=classes)
        self.classes, self.cond_drop, self.patch_nums = classes, cond_drop, patch_nums
        lens = [pn * pn for pn in patch_nums]
        self.L = sum(lens)
        c = width
        self.pos_start = nn.Parameter(torch.empty(1, 1, c))
        self.pos_1LC = nn.Parameter(torch.empty(1, self.L, c))
        lvl = torch.cat([torch.full((n,), i) for i, n in enumerate(lens)]).view(1, self.L)
        self.register_buffer("lvl_1L", lvl)
        same_or_later = lvl.view(1, self.L, 1) >= lvl.view(1, 1, self.L)  # query scale >= key scale
        self.register_buffer("attn_bias_for_masking",
                             torch.where(same_or_later, 0.0, -math.inf).view(1, 1, self.L, self.L))
        self.word_embed = nn.Linear(cvae, c)
        self.class_emb = nn.Embedding(classes + 1, c)  # row `classes` is the null class of CFG
        self.lvl_embed = nn.Embedding(len(patch_nums), c)
        self.blocks = nn.ModuleList([Block(c) for _ in range(depth)])
        self.head_nm = AdaLNBeforeHead(c)
        self.head = nn.Linear(c, vocab)
        self._init(depth, c)

    def _init(self, depth, c):
        std = math.sqrt(1 / c / 3)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.trunc_normal_(m.weight, std=std)
        for p in (self.pos_start, self.pos_1LC):
            nn.init.trunc_normal_(p, std=std)
        self.head.weight.data.mul_(0.02)
        self.head_nm.ada_lin[1].weight.data.mul_(0.5)
        for b in self.blocks:
            b.attn.proj.weight.data.div_(math.sqrt(2 * depth))
            b.ffn.fc2.weight.data.div_(math.sqrt(2 * depth))
            w, bb = b.ada_lin[1].weight.data, b.ada_lin[1].bias.data
            w[2 * c:].mul_(0.5)       # scales and shifts start small
            w[:2 * c].mul_(1e-3)      # gammas start near their bias
            bb[:2 * c].fill_(1.0)

    def forward(self, labels, x_in, late_layers=None, full_scales=6):
        """labels [B], x_in [B, l - 1, Cvae] (the first l - 1 of the L - 1 teacher-forcing rows) -> logits
        [B, l, V]; class dropout while training. late_layers: VARiant's subnet (VAR_SPEC 9): tokens of scales >=
        full_scales pass only through these blocks (None: every block), as the engine's plan runs them."""
        b, l = labels.shape[0], 1 + x_in.shape[1]
        if self.training and self.cond_drop > 0:
            labels = torch.where(torch.rand(b) < self.cond_drop, torch.full_like(labels, self.classes), labels)
        cond = self.class_emb(labels)  # [B, C]
        x = torch.cat((cond.unsqueeze(1) + self.pos_start, self.word_embed(x_in)), 1)
        x = x + self.lvl_embed(self.lvl_1L[:, :l].expand(b, -1)) + self.pos_1LC[:, :l]
        mask = self.attn_bias_for_masking[0, 0, :l, :l]
        if late_layers is None:
            for blk in self.blocks:
                x = blk(x, cond, mask)
            return self.head(self.head_nm(x, cond))
        # early tokens run every block; late tokens only the subnet. A late token attends to the early tokens'
        # K/V of the same block, so a block outside the subnet simply sees no late tokens (no K/V stored).
        split = min(l, sum(pn * pn for pn in self.patch_nums[:full_scales]))
        keep = set(late_layers)
        for i, blk in enumerate(self.blocks):
            if i in keep:
                x = blk(x, cond, mask)
            else:
                x = torch.cat((blk(x[:, :split], cond, mask[:split, :split]), x[:, split:]), 1)
        return self.head(self.head_nm(x, cond))

    def subnet_layers(self, d):
        """Equidistant subnet of d layers (VAR_SPEC 9): floor(i (D - 1) / (d - 1))."""
        depth = len(self.blocks)
        if d >= depth:
            return list(range(depth))
        if d == 1:
            return [0]
        return [i * (depth - 1) // (d - 1) for i in range(d)]


def config_from_state(sd):
    """VAR(**config) for a state dict of this module (or upstream's): depth, width, vocab, cvae and classes read
    from its tensors' shapes (class_emb has one row more than classes: the null class)."""
    return dict(depth=sum(1 for k in sd if k.startswith("blocks.") and k.endswith(".attn.mat_qkv.weight")),
                width=int(sd["pos_start"].shape[-1]), vocab=int(sd["head.weight"].shape[0]),
                cvae=int(sd["word_embed.weight"].shape[1]), classes=int(sd["class_emb.weight"].shape[0]) - 1)


def params(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
