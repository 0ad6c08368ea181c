"""The multi-scale VQ-VAE of VAR (VAR_SPEC.md sections 4-5), written from the spec for training at demo scale.

Module and parameter names follow upstream's state dict (encoder.*, decoder.*, quant_conv, post_quant_conv,
quantize.embedding, quantize.quant_resi.qresi_ls.K, quantize.ema_vocab_hit_SV), so an exported state dict loads
in upstream's VQVAE and in varcl. Sizes are constructor arguments; the demo uses ch=32, ch_mult=(1,1,2,2,4)
(downsampling 16: 256 px <-> 16x16 tokens), a 512-entry codebook of 32-d codes and the standard ten scales.

Shapes: images x [B, 3, 256, 256] in [-1, 1]; features f, f_hat [B, Cvae, 16, 16]; token maps per scale
[B, pn, pn] (int64); teacher-forcing input for VAR [B, L - 1, Cvae] (L = 680).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PATCH_NUMS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)


def normalize(c):
    return nn.GroupNorm(32, c, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """GN -> SiLU -> conv3x3, twice, plus a 1x1 shortcut when the channel count changes (VAR_SPEC 5.1)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = normalize(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2, self.conv2 = normalize(cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.nin_shortcut(x) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with one fused 1x1 qkv convolution (order q, k, v)."""

    def __init__(self, c):
        super().__init__()
        self.norm = normalize(c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)  # each [b, c, hw]
        a = torch.softmax(torch.bmm(q.transpose(1, 2), k) * c ** -0.5, dim=2)  # [b, hw(i), hw(j)]
        out = torch.bmm(v, a.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Upsample2x(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Downsample2x(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Encoder(nn.Module):
    def __init__(self, ch, ch_mult, num_res_blocks, zch, in_ch=3):
        super().__init__()
        levels = len(ch_mult)
        self.conv_in = nn.Conv2d(in_ch, ch, 3, 1, 1)
        self.down = nn.ModuleList()
        cin = ch
        for i, m in enumerate(ch_mult):
            lvl = nn.Module()
            lvl.block, lvl.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                lvl.block.append(ResnetBlock(cin, ch * m))
                cin = ch * m
                if i == levels - 1:
                    lvl.attn.append(AttnBlock(cin))
            if i != levels - 1:
                lvl.downsample = Downsample2x(cin)
            self.down.append(lvl)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = ResnetBlock(cin, cin), AttnBlock(cin), ResnetBlock(cin, cin)
        self.norm_out = normalize(cin)
        self.conv_out = nn.Conv2d(cin, zch, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for i, lvl in enumerate(self.down):
            for j, blk in enumerate(lvl.block):
                h = blk(h)
                if len(lvl.attn):
                    h = lvl.attn[j](h)
            if hasattr(lvl, "downsample"):
                h = lvl.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """VAR_SPEC 5.2: levels run from the last (coarsest) to 0; num_res_blocks + 1 blocks per level."""

    def __init__(self, ch, ch_mult, num_res_blocks, zch, out_ch=3):
        super().__init__()
        levels = len(ch_mult)
        cin = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(zch, cin, 3, 1, 1)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = ResnetBlock(cin, cin), AttnBlock(cin), ResnetBlock(cin, cin)
        ups = [None] * levels
        for i in reversed(range(levels)):
            lvl = nn.Module()
            lvl.block, lvl.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                lvl.block.append(ResnetBlock(cin, ch * ch_mult[i]))
                cin = ch * ch_mult[i]
                if i == levels - 1:
                    lvl.attn.append(AttnBlock(cin))
            if i != 0:
                lvl.upsample = Upsample2x(cin)
            ups[i] = lvl
        self.up = nn.ModuleList(ups)
        self.norm_out = normalize(cin)
        self.conv_out = nn.Conv2d(cin, out_ch, 3, 1, 1)

    def forward(self, z):
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for i in reversed(range(len(self.up))):
            lvl = self.up[i]
            for j, blk in enumerate(lvl.block):
                h = blk(h)
                if len(lvl.attn):
                    h = lvl.attn[j](h)
            if hasattr(lvl, "upsample"):
                h = lvl.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Phi(nn.Conv2d):
    """phi(h) = (1 - r) h + r conv3x3(h), r = 0.5 (VAR_SPEC 4)."""

    def __init__(self, c, resi=0.5):
        super().__init__(c, c, 3, 1, 1)
        self.resi = abs(resi)

    def forward(self, h):
        return h * (1 - self.resi) + super().forward(h) * self.resi


class PhiPartiallyShared(nn.Module):
    """K = 4 phi convolutions; scale si uses the one whose tick is nearest si / (SN - 1) (VAR_SPEC 4 table)."""

    def __init__(self, c, k=4, resi=0.5):
        super().__init__()
        self.qresi_ls = nn.ModuleList([Phi(c, resi) for _ in range(k)])
        self.ticks = np.linspace(1 / 3 / k, 1 - 1 / 3 / k, k)  # float64, as the index table assumes

    def index(self, si, sn):
        return int(np.argmin(np.abs(self.ticks - si / (sn - 1))))

    def forward(self, h, si, sn):
        return self.qresi_ls[self.index(si, sn)](h)


class MultiScaleQuantizer(nn.Module):
    """Residual quantisation over the ten scales (VAR_SPEC 4): at each scale the remaining residual is
    area-downsampled, quantised to the nearest code, bicubic-upsampled back, passed through phi and taken away."""

    def __init__(self, vocab, c, patch_nums=PATCH_NUMS, beta=0.25):
        super().__init__()
        self.vocab, self.c, self.patch_nums, self.beta = vocab, c, patch_nums, beta
        self.embedding = nn.Embedding(vocab, c)
        nn.init.uniform_(self.embedding.weight, -1.0 / vocab, 1.0 / vocab)
        self.quant_resi = PhiPartiallyShared(c)
        # per-scale code usage, kept for upstream's state-dict compatibility and for dead-code restarts
        self.register_buffer("ema_vocab_hit_SV", torch.full((len(patch_nums), vocab), 0.0))

    def _nearest(self, rest_nc):
        w = self.embedding.weight
        d = (rest_nc * rest_nc).sum(1, keepdim=True) + (w * w).sum(1) - 2 * rest_nc @ w.t()
        return d.argmin(1)

    def _up(self, h, side, si):
        sn = len(self.patch_nums)
        if si != sn - 1:
            h = F.interpolate(h, size=(side, side), mode="bicubic")
        return self.quant_resi(h, si, sn)

    def forward(self, f):
        """f [B, C, H, W] -> f_hat (straight-through), vq loss, per-scale token maps."""
        b, c, hh, ww = f.shape
        sn = len(self.patch_nums)
        f_nograd = f.detach()
        rest = f_nograd.clone()
        f_hat = torch.zeros_like(rest)
        loss = f.new_zeros(())
        idx_all = []
        for si, pn in enumerate(self.patch_nums):
            r = F.interpolate(rest, size=(pn, pn), mode="area") if si != sn - 1 else rest
            idx = self._nearest(r.permute(0, 2, 3, 1).reshape(-1, c))
            if self.training:
                hit = torch.bincount(idx, minlength=self.vocab).float()
                if torch.distributed.is_available() and torch.distributed.is_initialized():
                    torch.distributed.all_reduce(hit)
                self.ema_vocab_hit_SV[si].mul_(0.97).add_(hit, alpha=0.03)
            idx = idx.view(b, pn, pn)
            idx_all.append(idx)
            h = self._up(self.embedding(idx).permute(0, 3, 1, 2), hh, si)
            f_hat = f_hat + h
            rest = rest - h.detach()
            # commitment (encoder towards f_hat) and codebook/phi (f_hat towards the encoder's output)
            loss = loss + F.mse_loss(f_hat.detach(), f) * self.beta + F.mse_loss(f_hat, f_nograd)
        f_hat = (f_hat.detach() - f_nograd) + f  # straight-through to the encoder
        return f_hat, loss / sn, idx_all

    @torch.no_grad()
    def f_to_idx(self, f):
        """f [B, C, 16, 16] -> list of ten [B, pn, pn] token maps (the teacher-forcing targets)."""
        was = self.training
        self.eval()
        _, _, idx = self.forward(f)
        self.train(was)
        return idx

    @torch.no_grad()
    def idx_to_var_input(self, idx_all):
        """Ten token maps -> VAR's teacher-forcing input [B, L - 1, C]: after each scale but the last, f_hat is
        accumulated and area-downsampled to the next scale's size (the same steps as inference, VAR_SPEC 4)."""
        b = idx_all[0].shape[0]
        side = self.patch_nums[-1]
        sn = len(self.patch_nums)
        f_hat = torch.zeros(b, self.c, side, side)
        out = []
        for si in range(sn - 1):
            f_hat = f_hat + self._up(self.embedding(idx_all[si]).permute(0, 3, 1, 2), side, si)
            pn = self.patch_nums[si + 1]
            out.append(F.interpolate(f_hat, size=(pn, pn), mode="area").reshape(b, self.c, -1).transpose(1, 2))
        return torch.cat(out, 1)

    @torch.no_grad()
    def idx_to_fhat(self, idx_all):
        side = self.patch_nums[-1]
        f_hat = torch.zeros(idx_all[0].shape[0], self.c, side, side)
        for si, idx in enumerate(idx_all):
            f_hat = f_hat + self._up(self.embedding(idx).permute(0, 3, 1, 2), side, si)
        return f_hat


class VQVAE(nn.Module):
    def __init__(self, ch=32, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, zch=32, vocab=512):
        super().__init__()
        self.config = dict(ch=ch, ch_mult=tuple(ch_mult), num_res_blocks=num_res_blocks, zch=zch, vocab=vocab)
        self.encoder = Encoder(ch, ch_mult, num_res_blocks, zch)
        self.decoder = Decoder(ch, ch_mult, num_res_blocks, zch)
        self.quantize = MultiScaleQuantizer(vocab, zch)
        self.quant_conv = nn.Conv2d(zch, zch, 3, 1, 1)
        self.post_quant_conv = nn.Conv2d(zch, zch, 3, 1, 1)

    def encode(self, x):
        return self.quant_conv(self.encoder(x))

    def decode(self, f_hat):
        return self.decoder(self.post_quant_conv(f_hat))

    def forward(self, x):
        f_hat, vq_loss, idx = self.quantize(self.encode(x))
        return self.decode(f_hat), vq_loss, idx

    @torch.no_grad()
    def img_to_idx(self, x):
        return self.quantize.f_to_idx(self.encode(x))


def params(m):
    return sum(p.numel() for p in m.parameters())


def to_tensor(u8):
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(u8).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def dead_code_restart(q, f, threshold=0.03):
    """Re-seeds codes that no scale has used lately with random encoder outputs (a training aid of the recipe,
    not part of the model): small codebooks otherwise lose most codes early. Returns how many were re-seeded."""
    hits = q.ema_vocab_hit_SV.sum(0)
    dead = (hits < threshold).nonzero().flatten()
    if len(dead) == 0:
        return 0
    pool = f.detach().permute(0, 2, 3, 1).reshape(-1, q.c)
    pick = torch.randint(0, pool.shape[0], (len(dead),))
    with torch.no_grad():
        q.embedding.weight[dead] = pool[pick] * (0.5 + torch.rand(len(dead), 1)) * 0.3
        q.ema_vocab_hit_SV[:, dead] = 1.0
    return len(dead)


def _selftest():
    m = VQVAE()
    x = torch.randn(2, 3, 256, 256)
    y, l, idx = m(x)
    assert y.shape == x.shape and [i.shape[1] for i in idx] == list(PATCH_NUMS)
    vi = m.quantize.idx_to_var_input(idx)
    assert vi.shape == (2, 679, 32)
    print("params", params(m), "decoder", params(m.decoder), "encoder", params(m.encoder))


if __name__ == "__main__":  # imported by the scripts; run, a self-test of the shapes (--help: this module's description)
    import sys
    if sys.argv[1:]:
        import cli
        cli.module_main(__doc__)
    _selftest()
