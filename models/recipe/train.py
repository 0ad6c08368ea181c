#!/usr/bin/python3
"""The demo model's training recipe: the VQ-VAE on shapes10 (shapes10.py), the VAR and the classifier on the
class set arrangements10 (data.py); both procedural.

    /usr/bin/python3 models/recipe/train.py all [--run DIR]          # every stage in order, resuming each
    /usr/bin/python3 models/recipe/train.py vqvae|vqvae-ms|tokens|var|classifier|export [--run DIR]
    torchrun --nproc_per_node N models/recipe/train.py var ...        # data-parallel (gloo on CPUs, nccl on GPUs)
    /usr/bin/python3 models/recipe/train.py var --procs N ...         # the same on one machine, without torchrun

Stages (each resumable: a checkpoint every --ckpt-minutes, and at the end; a killed run restarts where its
last checkpoint was; a finished stage is skipped):
  vqvae     encoder, decoder, codebook and phi on random 128 px crops (8x8 latents, scales 1..8): the
            convolutions are trained where they are cheap (a crop costs a quarter of an image)
  vqvae-ms  encoder frozen; codebook, phi, post_quant_conv and decoder on whole images with the standard ten
            scales (VAR_SPEC 4), the decoder on 8x8-latent crops of f_hat
  tokens    the training images as ten token maps each (int16 [n, 680]), the VAR's teacher-forcing targets
  var       VAR (depth 16, width 64 or --var-width) by teacher forcing over all ten scales with the
            block-causal mask, class dropout 0.1 for guidance; the loss weighs scale s by pn_s / sum(pn)
            (--weighting side, scale_weights) rather than upstream's mean over tokens, which starves the coarse
            scales
  classifier  the small CNN of classifier.py on real images; accuracy on held-out images
  export    16-bit safetensors with upstream key names (through models/convert.py) into models/demo/, and the
            classifier's feature statistics over real images (fd_ref.py: fd_ref.safetensors, F32)
  supernet-progressive, supernet-fixed
            VARiant's supernet fine-tuning of `var` (schedule.py): the progressive subnet:full schedule, and the
            fixed-ratio baseline at the same steps and batch; `export --var-from supernet-progressive` ships it

Everything is keyed by --seed; torch's CPU kernels are deterministic for a fixed thread count. Loss curves are
written as PNG next to the checkpoints. Times per stage go to DIR/times.json.
"""
import argparse
import errno
import hashlib
import json
import math
import os
import shutil
import sys
import time
import zipfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve everything on shared CPUs


def exec_with_huge_pages(script):
    """Starts `script` (this file, when it is the program run) again with glibc's malloc asking for transparent
    huge pages (GLIBC_TUNABLES glibc.malloc.hugetlb=1, glibc 2.35+; tunables are read only at start-up), unless
    GLIBC_TUNABLES already sets it. torch frees and allocates its large tensors at every layer; glibc maps each
    block over 32 MiB afresh, and with 4 KiB pages the faults dominate: a 32-channel 256 x 256 map of 16 images is
    134 MB. Measured here: the tokens stage (--procs 2, 3200 images) 3.8 min, the committed file byte for byte
    (its run took 34 min, in two sessions of 18 and 17 min); short runs of the other stages (--procs 2; without
    -> with) vqvae 20 steps 27.1 -> 20.7 s, vqvae-ms 20 steps 42.9 -> 26.2 s, classifier 100 steps 17.5 -> 11.8 s,
    var 40 steps 68.2 -> 47.0 s, each with the same weights bit for bit (a whole var stage showed no clear gain
    on this shared machine). The --procs processes inherit the environment. A no-op elsewhere: other C
    libraries ignore the variable, and a kernel with THP off gives 4 KiB pages as before."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if not sys.platform.startswith("linux") or not sys.executable or "glibc.malloc.hugetlb" in tunables:
        return
    if not os.path.isfile(sys.argv[0]) or os.path.realpath(sys.argv[0]) != os.path.realpath(script):
        return  # run from standard input (it could not be read twice) or by another program (runpy, IPython)
    env = dict(os.environ, GLIBC_TUNABLES=(tunables + ":" if tunables else "") + "glibc.malloc.hugetlb=1")
    try:
        os.execve(sys.executable, getattr(sys, "orig_argv", [sys.executable] + sys.argv), env)
    except (OSError, ValueError):  # ValueError: a variable name execve refuses
        pass  # go on as started


if __name__ == "__main__":
    exec_with_huge_pages(__file__)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cli  # noqa: E402
import classifier as clf  # noqa: E402
import schedule  # noqa: E402
import data  # noqa: E402
import shapes10  # noqa: E402
import fd_ref  # noqa: E402
import st_io  # noqa: E402
import vqvae as vq  # noqa: E402
from var import HEAD_DIM, VAR, config_from_state  # noqa: E402

STAGES = ("vqvae", "vqvae-ms", "tokens", "var", "classifier", "export")
SUPERNET = ("supernet-progressive", "supernet-fixed")  # VARiant fine-tuning of `var` (issue 17); not in `all`

# The demo model's sizes and the budget of each stage (steps x batch), chosen for <= 3 h on 2 CPU cores.
# ch=64: GroupNorm has 32 groups, so at ch=32 the decoder's last norm is an instance norm per channel, which
# removes every channel's mean over the image and with it the colour of flat regions (the first run's grey
# reconstructions). Two channels per group keep it.
VAE_CFG = dict(ch=64, ch_mult=(1, 1, 1, 1, 1), num_res_blocks=1, zch=32, vocab=512)
VAR_CFG = dict(depth=16, width=64, vocab=512, cvae=32, classes=len(data.CLASSES))
CROP_PATCH_NUMS = (1, 2, 3, 4, 5, 6, 8)
# The VQ-VAE learns shapes10 (figures and textures anywhere, any rotation: a broader set than the classes, as
# upstream's VQ-VAE learned OpenImages); the VAR, the classifier and the Frechet reference the class set (data.py).
DEFAULTS = {
    "vqvae": dict(steps=1500, batch=4, lr=1e-3),
    "vqvae-ms": dict(steps=300, batch=4, lr=5e-4),
    # 320 images per class, not 160: with 160 the VAR's held-out loss on the 2x2..6x6 scales, where the layout
    # and so the class is drawn, was 0.26-0.33 nats over its training loss (memorised at ~27 epochs); the
    # fine scales had no gap. 90.6% of the 500 images classified as asked, against 89.6% with 160.
    "tokens": dict(per_class=320),
    "var": dict(steps=3600, batch=12, lr=1.5e-3, weighting="side"),
    "classifier": dict(steps=1000, batch=32, lr=2e-3),
    "supernet-progressive": dict(steps=300, batch=12, lr=3e-4, weighting="side"),
    "supernet-fixed": dict(steps=300, batch=12, lr=3e-4, weighting="side"),
}


# ------------------------------------------------------------------------------------------------- plumbing
def blas_threads(n):
    """Gives OpenBLAS's own thread pool n threads. torch.set_num_threads does not reach it (Debian's torch calls
    the system BLAS, and libopenblas0-pthread starts one thread per core): with --procs 2 on two cores each process
    kept a second BLAS thread busy waiting (sched_yield), four threads on two cores. Measured here (--procs 2
    --batch 12): the var stage's step from 1.7-1.8 to 1.1-1.2 s at width 64, from 3.9 to 2.9-3.1 s at width 128.
    A no-op where the BLAS is not OpenBLAS."""
    import ctypes
    for name in ("libblas.so.3", "libopenblas.so.0"):
        try:
            fn = getattr(ctypes.CDLL(name), "openblas_set_num_threads", None)
        except OSError:
            continue
        if fn is not None:
            fn(int(n))
            return


class RunFolder:
    """The files of a run folder (DIR/NAME): what reading a run's checkpoints needs of a Ctx, for the scripts that
    read a run without training (show.py, prefix_eval.py, scale_gap.py) and for checks before any process
    starts."""

    def __init__(self, run):
        self.run = run

    def path(self, name):
        return os.path.join(self.run, name)


class Ctx(RunFolder):
    """Rank, world size and the run folder; rank 0 alone writes files."""

    def __init__(self, args):
        super().__init__(args.run)
        self.args = args
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            # --procs passes a file to meet at (RDZV_ENV); torchrun sets MASTER_ADDR/MASTER_PORT (env://)
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo",
                                    init_method=os.environ.get(RDZV_ENV, "env://"), rank=self.rank,
                                    world_size=self.world)
        threads = args.threads or max(1, (os.cpu_count() or 1) // self.world)
        torch.set_num_threads(threads)
        blas_threads(threads)
        os.makedirs(self.run, exist_ok=True)

    @property
    def main(self):
        return self.rank == 0

    def wrap(self, model):
        if self.world > 1:
            return torch.nn.parallel.DistributedDataParallel(model)
        return model

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def log(self, *a):
        if self.main:
            print(*a, flush=True)


def sync_params(ctx, module):
    """Makes every process hold rank 0's values (after a change outside the optimiser, e.g. a code restart)."""
    if ctx.world > 1:
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, 0)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def stage_done(ctx, stage):
    return os.path.exists(ctx.path(stage + ".done"))


def slim_checkpoint(path):
    """Drops the optimiser state from a finished stage's checkpoint (two thirds of its bytes): later stages read
    only the weights, and the slim file is small enough to commit."""
    if os.path.exists(path):
        ck = torch.load(path)
        if ck.pop("opt", None) is not None:
            atomic_save(ck, path)


def mark_done(ctx, stage, seconds):
    if not ctx.main:
        return
    slim_checkpoint(ctx.path(stage + ".pt"))
    times = {}
    if os.path.exists(ctx.path("times.json")):
        with open(ctx.path("times.json")) as f:
            times = json.load(f)
    # wall time of the stage, earlier (resumed) runs included; a run of a finished stage that took no step keeps
    # the time recorded (train.py var on the committed run rewrote it with its start-up seconds)
    if getattr(ctx, "steps_taken", True) or stage not in times:
        times[stage] = round(seconds, 1)
        with open(ctx.path("times.json"), "w") as f:
            json.dump(times, f, indent=1)
    open(ctx.path(stage + ".done"), "w").close()


def plot(ctx, name, history, title):
    """history: list of (step, {series: value}) -> DIR/name.png (matplotlib, no display)."""
    if not ctx.main or not history:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = sorted({k for _, d in history for k in d})
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for k in keys:
        pts = [(s, d[k]) for s, d in history if k in d]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k, lw=1)
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(ctx.path(name + ".png"))
    plt.close(fig)


def cosine_lr(step, steps, lr, warmup):
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))


def ema_decay(step, cap):
    """The weight of the running average at `step` (0-based): (1 + step) / (10 + step), at most `cap`. Early on the
    average follows the weights closely (it starts from a network far from trained); later it spans about
    1 / (1 - decay) steps (400 at step 3600, 1000 once the cap of 0.999 is reached)."""
    return min(cap, (1.0 + step) / (10.0 + step))


def ema_refusal(path, asked, ck):
    """The refusal (a line) when --ema `asked` differs from what checkpoint `ck` (read from `path`) was started
    with, else None; asked None (not given) never conflicts."""
    kept = ck.get("ema_cap", 0.0)
    if asked is None or float(asked) == kept:
        return None
    return ("--ema %g: %s was trained with --ema %g (resuming keeps a run's setting; start another --run to change "
            "it)" % (asked, path, kept))


def ema_conflict(run, stage, ema):
    """ema_refusal for the checkpoint of `stage` in `run`; None where there is none yet."""
    path = os.path.join(run, stage + ".pt")
    return ema_refusal(path, ema, torch.load(path)) if ema is not None and os.path.exists(path) else None


def trained_weights(ck):
    """The weights a finished stage hands on (to later stages, export and the evaluation tools): the exponential
    moving average of its weights where the stage kept one (--ema), else its last weights."""
    return ck["ema"] if ck.get("ema") is not None else ck["model"]


def var_checkpoint(path):
    """(weights, VAR config) of a VAR stage's checkpoint (var, supernet-...; trained_weights). A file of another kind
    (a VQ-VAE's or the classifier's checkpoint, not a checkpoint at all) is a ValueError naming it, not a KeyError
    part-way; a missing one FileNotFoundError."""
    try:
        ck = torch.load(path)
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - pickle, zip and torch each raise their own kind
        raise ValueError("%s: not a checkpoint of train.py (%s)" % (path, str(e).split("\n")[0] or type(e).__name__))
    sd = trained_weights(ck) if isinstance(ck, dict) and "model" in ck else None
    try:
        cfg = config_from_state(sd)
    except (KeyError, TypeError, AttributeError, IndexError):
        cfg = None
    if not cfg or cfg["depth"] < 1:
        raise ValueError("%s: not a VAR checkpoint (a var or supernet stage's of train.py)" % path)
    return sd, cfg


class Loop:
    """A resumable training loop: model + AdamW + step + RNG state + loss history in DIR/STAGE.pt; with ema > 0,
    also an exponential moving average of the weights ("ema", ema_decay) updated after every step."""

    def __init__(self, ctx, stage, model, params, lr, steps, extra=None, ema=None):
        self.ctx, self.stage, self.model, self.lr, self.steps = ctx, stage, model, lr, steps
        self.opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
        self.step, self.history, self.seconds = 0, [], 0.0
        self.ema_cap = float(ema or 0.0)  # ema None: not asked for (a resumed run keeps its own setting)
        self.ema = None
        self.extra = extra or {}
        self.file = ctx.path(stage + ".pt")
        self.gen = torch.Generator().manual_seed(ctx.args.seed * 1000 + (STAGES + SUPERNET).index(stage) * 10 +
                                                 ctx.rank)
        if os.path.exists(self.file):
            ck = torch.load(self.file)
            model.load_state_dict(ck["model"])
            if "opt" in ck:  # finished stages keep weights only (slim_checkpoint)
                self.opt.load_state_dict(ck["opt"])
            self.step, self.history, self.seconds = ck["step"], ck["history"], ck["seconds"]
            self.gen.set_state(ck["gen"])
            torch.set_rng_state(ck["torch_rng"])
            self.extra.update(ck.get("extra", {}))
            refusal = ema_refusal(self.file, ema, ck)
            if refusal:
                raise ValueError(refusal)
            self.ema_cap, self.ema = ck.get("ema_cap", 0.0), ck.get("ema")
            ctx.log("%s: resumed at step %d of %d" % (stage, self.step, steps))
        if self.ema_cap > 0 and self.ema is None:
            self.ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.t0 = time.time()
        self.last_ckpt = time.time()
        # a run that takes no step (the stage finished already) and adds nothing to `extra` changes no file
        self.first_step, self.first_extra = self.step, dict(self.extra)

    def save(self):
        if not self.ctx.main or (self.step == self.first_step and self.extra == self.first_extra):
            return
        atomic_save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                     "history": self.history, "seconds": self.seconds + time.time() - self.t0,
                     "gen": self.gen.get_state(), "torch_rng": torch.get_rng_state(), "extra": self.extra,
                     "ema": self.ema, "ema_cap": self.ema_cap},
                    self.file)
        plot(self.ctx, self.stage + "_loss", self.history, self.stage)

    def __iter__(self):
        from tqdm import tqdm
        bar = tqdm(total=self.steps, initial=self.step, desc=self.stage, disable=not self.ctx.main,
                   mininterval=5, dynamic_ncols=True)
        while self.step < self.steps:
            for g in self.opt.param_groups:
                g["lr"] = cosine_lr(self.step, self.steps, self.lr, max(1, self.steps // 20))
            yield self.step
            self.update_ema()
            self.step += 1
            bar.update(1)
            if time.time() - self.last_ckpt > self.ctx.args.ckpt_minutes * 60:
                self.save()
                self.last_ckpt = time.time()
        bar.close()
        self.ctx.steps_taken = self.step > self.first_step
        self.save()

    @torch.no_grad()
    def update_ema(self):
        """ema <- d * ema + (1 - d) * weights, d = ema_decay(step); integer buffers are copied. Every process holds
        the same weights after the step (DDP), so every process keeps the same average."""
        if self.ema is None:
            return
        d = ema_decay(self.step, self.ema_cap)
        for k, v in self.model.state_dict().items():
            if v.is_floating_point():
                self.ema[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                self.ema[k].copy_(v)

    def record(self, **losses):
        self.history.append((self.step, {k: float(v) for k, v in losses.items()}))

    def elapsed(self):
        return self.seconds + time.time() - self.t0


def train_indices(gen, n):
    """n (class, index) pairs of the training split drawn from gen (the VQ-VAE's: (shapes10 kind, index))."""
    assert len(shapes10.KINDS) == len(data.CLASSES)
    cls = torch.randint(0, len(data.CLASSES), (n,), generator=gen).tolist()
    idx = torch.randint(0, data.HELD_OUT, (n,), generator=gen).tolist()
    return cls, idx


def crops(u8, gen, side):
    """Random side x side crops aligned to 16 px (one latent cell) from uint8 [B, 256, 256, 3]."""
    out = []
    cells = (data.SIZE - side) // 16 + 1
    for im in u8:
        y, x = (torch.randint(0, cells, (2,), generator=gen) * 16).tolist()
        out.append(im[y:y + side, x:x + side])
    return np.stack(out)


def var_config(ctx, stage, width=None):
    """The VAR's shape for `stage`: its checkpoint's (DIR/STAGE.pt) where one exists, so a run keeps the width it
    started with, else VAR_CFG with `width` (--var-width) in place of its width. A --var-width that differs from
    the checkpoint's is refused (ValueError): resuming cannot change the shape."""
    path = ctx.path(stage + ".pt")
    if os.path.exists(path):
        cfg = config_from_state(torch.load(path)["model"])
        if width is not None and width != cfg["width"]:
            raise ValueError("--var-width %d: %s holds a VAR of width %d (resuming keeps a run's width; start "
                             "another --run for another width)" % (width, path, cfg["width"]))
        return cfg
    if width is not None and (width <= 0 or width % HEAD_DIM):
        raise ValueError("--var-width %d: the width must be a positive multiple of %d (head_dim)" % (width, HEAD_DIM))
    return dict(VAR_CFG, width=width) if width is not None else dict(VAR_CFG)


def load_vae(ctx):
    """The run's latest VQ-VAE and its stage (vqvae-ms, else vqvae). Every caller needs a trained one: with neither
    checkpoint in the run folder, FileNotFoundError (show.py reconstructions drew a random VQ-VAE's images)."""
    m = vq.VQVAE(**VAE_CFG)
    for stage in ("vqvae-ms", "vqvae"):
        if os.path.exists(ctx.path(stage + ".pt")):
            m.load_state_dict(torch.load(ctx.path(stage + ".pt"))["model"])
            return m, stage
    raise FileNotFoundError(errno.ENOENT, "no VQ-VAE checkpoint there (vqvae.pt or vqvae-ms.pt): run train.py vqvae "
                            "first", ctx.path("vqvae.pt"))


# ------------------------------------------------------------------------------------------------- stages
def stage_vqvae(ctx, a):
    model = vq.VQVAE(**VAE_CFG)
    model.quantize.patch_nums = CROP_PATCH_NUMS
    net = ctx.wrap(model)
    loop = Loop(ctx, "vqvae", model, model.parameters(), a.lr, a.steps)
    for step in loop:
        cls, idx = train_indices(loop.gen, a.batch)
        x = vq.to_tensor(crops(shapes10.batch(cls, idx), loop.gen, 128))
        rec, vq_loss, _ = net(x)
        l1 = (rec - x).abs().mean()
        l2 = F.mse_loss(rec, x)
        loss = l1 + l2 + vq_loss
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        loop.opt.step()
        if step % 25 == 0:
            restarted = vq.dead_code_restart(model.quantize, model.encode(x).detach()) if step < a.steps * 0.8 else 0
            sync_params(ctx, model.quantize)
            loop.record(l1=l1, l2=l2, vq=vq_loss, restarted=max(restarted, 0.5))
    return loop.elapsed()


def stage_vqvae_ms(ctx, a):
    model, _ = load_vae(ctx)
    model.quantize.patch_nums = vq.PATCH_NUMS
    for p in list(model.encoder.parameters()) + list(model.quant_conv.parameters()):
        p.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    loop = Loop(ctx, "vqvae-ms", model, trained, a.lr, a.steps)
    for step in loop:
        cls, idx = train_indices(loop.gen, a.batch)
        x = vq.to_tensor(shapes10.batch(cls, idx))
        with torch.no_grad():
            f = model.encode(x)  # [B, 32, 16, 16]
        f_hat, vq_loss, _ = model.quantize(f)
        # the decoder on an 8x8-latent crop of f_hat, against the matching 128 px crop of the image
        y0, x0 = (torch.randint(0, 9, (2,), generator=loop.gen)).tolist()
        rec = model.decode(f_hat[:, :, y0:y0 + 8, x0:x0 + 8])
        tgt = x[:, :, y0 * 16:(y0 + 8) * 16, x0 * 16:(x0 + 8) * 16]
        l1 = (rec - tgt).abs().mean()
        loss = l1 + F.mse_loss(rec, tgt) + vq_loss
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        if ctx.world > 1:
            for p in trained:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= ctx.world
        loop.opt.step()
        if step % 10 == 0:
            fit = F.mse_loss(f_hat.detach(), f) / f.pow(2).mean()
            loop.record(l1=l1, vq=vq_loss, fhat_rel_err=fit)
        if step % 25 == 0 and step < a.steps * 0.6:
            vq.dead_code_restart(model.quantize, f)
            sync_params(ctx, model.quantize)
    return loop.elapsed()


def encode_tokens(model, x):
    """Token ids int16 [B, 680] (the ten scales concatenated, each row-major) of images x [B, 3, 256, 256], as the
    tokens stage encodes them: in batches of 16. Not one image per call, although that is 3x faster here with
    the system allocator: then torch takes another convolution path for some layers, and 9 of 3200 images get
    other ids (near ties of the nearest code), so the committed tokens would no longer be reproduced."""
    idx = model.img_to_idx(x)
    return torch.cat([t.reshape(x.shape[0], -1) for t in idx], 1).numpy().astype(np.int16)


def resumable_tokens(part, mine, vae_id):
    """The labels and tokens of a process's partial file `part` that a run may keep: a prefix of its images `mine`
    ((class, index) in order) encoded by the same VQ-VAE (vae_id, its checkpoint's sha256). The images are ordered
    index-major, so a run with more images per class extends the same prefix, and one with fewer keeps its first
    part. A file of other images (another --per-class ordering, another number of processes) or of another VQ-VAE
    (retrained since) is not kept: ([], []), and the stage starts over. A file from before the VQ-VAE was recorded
    is kept where its labels match."""
    if not os.path.exists(part):
        return [], []
    try:
        with np.load(part) as z:
            lab, tok = list(z["labels"])[:len(mine)], list(z["tokens"])[:len(mine)]
            kept_vae = str(z["vae"]) if "vae" in z.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        print("tokens: %s cannot be read: encoding again" % part, file=sys.stderr)
        return [], []
    if kept_vae is not None and kept_vae != vae_id:
        print("tokens: %s was encoded by another VQ-VAE: encoding again" % part, file=sys.stderr)
        return [], []
    if [int(x) for x in lab] != [c for c, _ in mine[:len(lab)]]:
        print("tokens: %s holds other images: encoding again" % part, file=sys.stderr)
        return [], []
    return lab, tok


def save_partial_tokens(part, labels, tokens, vae_id):
    """The partial file, whole or not at all (a temporary renamed over it: a kill while saving left a cut zip that
    stopped every later resume)."""
    tmp = part + ".tmp.npz"
    np.savez(tmp, labels=np.array(labels, dtype=np.int64), tokens=np.array(tokens, dtype=np.int16),
             vae=np.array(vae_id))
    os.replace(tmp, part)


def stage_tokens(ctx, a):
    """DIR/tokens.npz: labels int64 [n], tokens int16 [n, 680] (scales concatenated, each row-major)."""
    model, vae_stage = load_vae(ctx)
    with open(ctx.path(vae_stage + ".pt"), "rb") as f:
        vae_id = hashlib.sha256(f.read()).hexdigest()
    model.quantize.patch_nums = vq.PATCH_NUMS
    model.eval()
    n_cls = len(data.CLASSES)
    todo = [(c, i) for i in range(a.per_class) for c in range(n_cls)]
    mine = todo[ctx.rank::ctx.world]
    part = ctx.path("tokens.rank%d.npz" % ctx.rank)
    done_lab, done_tok = resumable_tokens(part, mine, vae_id)
    t0, last = time.time(), time.time()
    from tqdm import tqdm
    for j in tqdm(range(len(done_lab), len(mine), 16), desc="tokens", disable=not ctx.main, mininterval=5):
        chunk = mine[j:j + 16]
        x = vq.to_tensor(data.batch([c for c, _ in chunk], [i for _, i in chunk]))
        tok = encode_tokens(model, x)
        done_lab += [c for c, _ in chunk]
        done_tok += list(tok)
        if time.time() - last > ctx.args.ckpt_minutes * 60:
            save_partial_tokens(part, done_lab, done_tok, vae_id)
            last = time.time()
    save_partial_tokens(part, done_lab, done_tok, vae_id)
    ctx.barrier()
    if ctx.main:
        labs, toks = [], []
        for r in range(ctx.world):
            z = np.load(ctx.path("tokens.rank%d.npz" % r))
            labs.append(z["labels"])
            toks.append(z["tokens"])
        np.savez(ctx.path("tokens.npz"), labels=np.concatenate(labs), tokens=np.concatenate(toks),
                 classes=np.array(data.CLASSES))
        usage = len(np.unique(np.concatenate(toks)))
        ctx.log("tokens: %d images, %d of %d codes used" % (sum(map(len, labs)), usage, VAE_CFG["vocab"]))
    return time.time() - t0


def tokens_classes(ctx):
    """The class names recorded in DIR/tokens.npz (None for files from before the class set was recorded)."""
    z = np.load(ctx.path("tokens.npz"))
    return tuple(str(c) for c in z["classes"]) if "classes" in z.files else None


def split_tokens(tok):
    """int [B, 680] -> list of ten [B, pn, pn] int64 maps."""
    out, at = [], 0
    for pn in vq.PATCH_NUMS:
        out.append(tok[:, at:at + pn * pn].reshape(-1, pn, pn).long())
        at += pn * pn
    return out


def scale_weights(weighting):
    """Per-token loss weights [680] (sum 1). "tokens": every token alike, as upstream (scale s gets pn_s^2 / 680
    of the loss: the last two scales 63%, the first six, where the class's layout is drawn, 13%). "side": scale s
    gets pn_s / sum(pn) (first six 31%, last two 43%): at demo scale, with ~30 epochs of 160 images per class, the
    uniform weighting learned colours and textures but drew every figure as a blob (class accuracy 22% at step
    1918); the coarse scales need a larger share of the gradient."""
    pns = torch.tensor(vq.PATCH_NUMS, dtype=torch.float64)
    per_scale = pns ** 2 if weighting == "tokens" else pns
    per_scale = per_scale / per_scale.sum()
    return torch.cat([torch.full((pn * pn,), float(w) / (pn * pn)) for pn, w in zip(vq.PATCH_NUMS, per_scale)])


def var_loss(net, vae, labels, tok, layers_late=None, weights=None):
    """Cross entropy of the teacher-forced VAR over all 680 tokens, weighted per token (scale_weights; None: the
    mean over tokens, as upstream)."""
    x_in = vae.quantize.idx_to_var_input(split_tokens(tok))
    logits = net(labels, x_in) if layers_late is None else net(labels, x_in, layers_late)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok.reshape(-1).long(), reduction="none")
    if weights is None:
        return ce.mean()
    return (ce.view(tok.shape[0], -1) * weights).sum(1).mean()


def stage_var(ctx, a):
    vae, _ = load_vae(ctx)
    vae.eval()
    z = np.load(ctx.path("tokens.npz"))
    labels_all, tok_all = torch.from_numpy(z["labels"]), torch.from_numpy(z["tokens"].astype(np.int64))
    model = VAR(**var_config(ctx, "var", getattr(a, "var_width", None)))
    net = ctx.wrap(model)
    loop = Loop(ctx, "var", model, model.parameters(), a.lr, a.steps, ema=getattr(a, "ema", None))
    weights = scale_weights(a.weighting)
    n = len(labels_all)
    for step in loop:
        pick = torch.randint(0, n, (a.batch,), generator=loop.gen)
        loss = var_loss(net, vae, labels_all[pick], tok_all[pick], weights=weights)
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        loop.opt.step()
        if step % 10 == 0:
            loop.record(**{"ce" if a.weighting == "tokens" else "ce_" + a.weighting: loss})
    return loop.elapsed()


def stage_supernet(ctx, a, stage, ratio_fn):
    """VARiant's supernet fine-tuning from the trained `var` checkpoint: each step trains the full network or an
    equidistant subnet (the first six scales through every layer, the last four through the subnet), as the
    schedule picks. Both schedules run the same steps and batch; the history records the depth of each step."""
    vae, _ = load_vae(ctx)
    vae.eval()
    z = np.load(ctx.path("tokens.npz"))
    labels_all, tok_all = torch.from_numpy(z["labels"]), torch.from_numpy(z["tokens"].astype(np.int64))
    # a new run starts from `var`; a resumed one is rebuilt in its own shape (Loop then loads its state)
    sd = trained_weights(torch.load(ctx.path((stage if os.path.exists(ctx.path(stage + ".pt")) else "var") + ".pt")))
    model = VAR(**config_from_state(sd))
    model.load_state_dict(sd)
    net = ctx.wrap(model)
    loop = Loop(ctx, stage, model, model.parameters(), a.lr, a.steps, ema=getattr(a, "ema", None))
    weights = scale_weights(a.weighting)
    depths = schedule.subnet_depths(len(model.blocks))
    pick_gen = torch.Generator().manual_seed(ctx.args.seed * 7919 + 1)  # same on every rank: same network per step
    for _ in range(loop.step):
        schedule.pick(0, 1, pick_gen, ratio_fn, depths)  # replay the draws of the steps already done
    for step in loop:
        d = schedule.pick(step, a.steps, pick_gen, ratio_fn, depths)
        pick = torch.randint(0, len(labels_all), (a.batch,), generator=loop.gen)
        late = None if d is None else model.subnet_layers(d)
        loss = var_loss(net, vae, labels_all[pick], tok_all[pick], late, weights)
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        loop.opt.step()
        if step % 10 == 0:
            loop.record(**{"ce_full" if d is None else "ce_d%d" % d: loss})
    return loop.elapsed()


def stage_classifier(ctx, a):
    model = clf.build()
    net = ctx.wrap(model)
    loop = Loop(ctx, "classifier", model, model.parameters(), a.lr, a.steps)
    for step in loop:
        cls, idx = train_indices(loop.gen, a.batch)
        x = torch.from_numpy(clf.downsample(data.batch(cls, idx)))
        # colour channels permuted per image: the class is the shape, and generated images' colours may drift
        perm = torch.stack([torch.randperm(3, generator=loop.gen) for _ in range(len(cls))])
        x = torch.gather(x, 1, perm[:, :, None, None].expand_as(x))
        loss = F.cross_entropy(net(x), torch.tensor(cls))
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        loop.opt.step()
        if step % 10 == 0:
            loop.record(ce=loss)
    if ctx.main:
        model.eval()
        n = 50
        cls = [c for c in range(len(data.CLASSES)) for _ in range(n)]
        idx = [data.HELD_OUT + j for _ in range(len(data.CLASSES)) for j in range(n)]
        with torch.no_grad():
            pred = model(torch.from_numpy(clf.downsample(data.batch(cls, idx)))).argmax(1).numpy()
        acc = float((pred == np.array(cls)).mean())
        loop.extra["held_out_accuracy"] = acc
        loop.save()
        ctx.log("classifier: held-out accuracy %.4f on %d real images" % (acc, len(cls)))
    return loop.elapsed()


def stage_export(ctx, a):
    """models/demo/{var,vae,classifier}.safetensors (bf16) via models/convert.py, and fd_ref.safetensors (F32):
    the classifier's feature statistics over real images, vbench --quality's reference (fd_ref.py)."""
    import subprocess
    import tempfile
    out = a.out
    trained_on = tokens_classes(ctx)
    if trained_on != data.CLASSES:
        raise SystemExit("export: %s holds tokens of classes %s, not %s's %s: run the tokens and var stages again" % (
            ctx.path("tokens.npz"), trained_on, data.SET_NAME, ",".join(data.CLASSES)))
    for name in EXPORT_FILES:  # a folder in a file's place would fail its rename after the others had landed
        if os.path.isdir(os.path.join(out, name)):
            raise SystemExit("export: %s is a folder where the export writes a file: move it away"
                             % os.path.join(out, name))
    os.makedirs(out, exist_ok=True)
    vae, _ = load_vae(ctx)
    sd_var = trained_weights(torch.load(ctx.path(a.var_from + ".pt")))
    ck_clf = torch.load(ctx.path("classifier.pt"))
    convert = os.path.join(HERE, "..", "convert.py")
    # The five files are made in a folder beside them and renamed in only once all of them are written: an export
    # that fails part-way (a full disk, a checkpoint convert.py refuses) leaves the previous export as it was, not a
    # VAR of one run with the VQ-VAE or reference statistics of another.
    stage_dir = tempfile.mkdtemp(prefix=".export.", dir=out)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, sd in (("var", sd_var), ("vae", vae.state_dict()), ("classifier", ck_clf["model"])):
                pth = os.path.join(tmp, name + ".pth")
                torch.save({k: v.contiguous() for k, v in sd.items()}, pth)
                subprocess.run([sys.executable, convert, pth, os.path.join(stage_dir, name + ".safetensors"),
                                "--dtype", "bf16", "-q"], check=True)
        export_rest(stage_dir, a, sd_var)
        for name in EXPORT_FILES:
            os.replace(os.path.join(stage_dir, name), os.path.join(out, name))
    finally:
        shutil.rmtree(stage_dir, ignore_errors=True)
    ctx.log("export: wrote %s" % out)
    return 0.0


def export_rest(out, a, sd_var):
    """fd_ref.safetensors and demo.json into the export's staging folder OUT, beside the converted classifier."""
    w_clf = st_io.read(os.path.join(out, "classifier.safetensors"))
    # the Frechet distance's reference statistics, from the classifier as exported (fd_ref.py)
    ref = fd_ref.write(os.path.join(out, "fd_ref.safetensors"), w_clf, a.fd_per_class)
    n = 50  # the exported (16-bit) classifier on held-out real images
    cls = [c for c in range(len(data.CLASSES)) for _ in range(n)]
    logits, _ = fd_ref.features(w_clf, cls, [data.HELD_OUT + j for _ in range(len(data.CLASSES)) for j in range(n)])
    meta = {"set": data.SET_NAME, "classes": list(data.CLASSES), "set_seed": data.SET_SEED, "vqvae_set": "shapes10",
            "vae": VAE_CFG, "var": config_from_state(sd_var),
            "classifier_held_out_accuracy": round(float((logits.argmax(1) == np.array(cls)).mean()), 4),
            "var_from": a.var_from, "fd_ref": ref["meta"]}
    with open(os.path.join(out, "demo.json"), "w") as f:
        json.dump(meta, f, indent=1)


EXPORT_FILES = ("var.safetensors", "vae.safetensors", "classifier.safetensors", "fd_ref.safetensors", "demo.json")

RUNNERS = {"vqvae": stage_vqvae, "vqvae-ms": stage_vqvae_ms, "tokens": stage_tokens, "var": stage_var,
           "classifier": stage_classifier, "export": stage_export,
           "supernet-progressive": lambda ctx, a: stage_supernet(ctx, a, "supernet-progressive",
                                                                 schedule.progressive_ratio),
           "supernet-fixed": lambda ctx, a: stage_supernet(ctx, a, "supernet-fixed", schedule.fixed_ratio)}


def missing_inputs(run, stage, var_from="var"):
    """The files `stage` reads from the run folder that are not there (alternatives joined by "or"); [] if none.
    Without this check a stage would start on what is missing: tokens from an untrained VQ-VAE, a traceback."""
    vae = [("vqvae-ms.pt", "vqvae.pt")]
    supernet = vae + [("tokens.npz",), ("var.pt",)]
    need = {"vqvae-ms": [("vqvae.pt",)], "tokens": vae, "var": vae + [("tokens.npz",)],
            "supernet-progressive": supernet, "supernet-fixed": supernet,
            "export": vae + [(var_from + ".pt",), ("classifier.pt",)]}.get(stage, [])
    return [" or ".join(alts) for alts in need if not any(os.path.exists(os.path.join(run, f)) for f in alts)]


def refuse_missing(run, stage, var_from):
    """One line on stderr and exit status 2 when `stage` lacks an input (missing_inputs)."""
    gone = missing_inputs(run, stage, var_from)
    if gone:
        print("train.py %s: %s has no %s: run the stages before it first (train.py all runs them in order)" %
              (stage, run, ", ".join(gone)), file=sys.stderr)
        sys.exit(2)


RDZV_ENV = "VAR_RECIPE_RDZV"  # --procs: the init_method of the process group (a file:// URL)


def _rank_main(rank, world, rdzv, argv):
    """One process of --procs: the rank environment torchrun would give it, then the ordinary main."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    os.environ[RDZV_ENV] = rdzv
    main(argv)


def spawn(procs, argv):
    """--procs N: N data-parallel processes on this machine through torch.multiprocessing (what torchrun
    --standalone --nproc_per_node N does; Debian 12's torchrun (torch 1.13) stops in its argument handling under
    Python 3.11: Std.from_str("0") returns None). A process that fails stops the others and raises here.
    The processes meet through a file in a fresh temporary folder, not a TCP port: a port picked free here could be
    taken by another run before the processes bind it."""
    import tempfile
    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory(prefix="var-recipe-") as tmp:
        mp.spawn(_rank_main, args=(procs, "file://" + os.path.join(tmp, "rdzv"), argv), nprocs=procs, join=True)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    p = cli.parser(description=__doc__.split("\n\n")[0])
    p.add_argument("stage", choices=STAGES + SUPERNET + ("all",))
    p.add_argument("--run", default=os.path.join(HERE, "run"), help="checkpoints, plots, tokens (default %(default)s)")
    p.add_argument("--out", default=os.path.join(HERE, "..", "demo"), help="export folder")
    # the stages seed torch with seed * 7919 + 1 and seed * 1000 + ...: 2^32 - 1 keeps them within its 64 bits
    p.add_argument("--seed", type=cli.at_least(0, high=2 ** 32 - 1), default=0)
    p.add_argument("--threads", type=cli.at_least(0), default=0, help="torch threads per process (0: cores / processes)")
    p.add_argument("--ckpt-minutes", type=cli.above(0), default=5.0)
    p.add_argument("--steps", type=cli.at_least(1), help="override the stage's step count")
    p.add_argument("--batch", type=cli.at_least(1), help="override the stage's batch (all processes together; each process "
                   "trains on batch / processes)")
    p.add_argument("--lr", type=cli.above(0))
    p.add_argument("--weighting", choices=("side", "tokens"),
                   help="var and supernet stages: the loss's share per scale (see scale_weights; default side)")
    p.add_argument("--per-class", type=cli.at_least(1, high=data.HELD_OUT), help="tokens: images per class (at most "
                   "%d: the later indices are held out)" % data.HELD_OUT)
    p.add_argument("--var-from", default="var", help="export: which VAR checkpoint (var, or a supernet stage)")
    p.add_argument("--fd-per-class", type=cli.at_least(1, high=data.HELD_OUT), default=fd_ref.PER_CLASS,
                   help="export: real images per class of the Frechet distance's reference (default %(default)s)")
    p.add_argument("--var-width", type=cli.at_least(0),
                   help="var stage: the VAR's width, a multiple of 64 (heads = width / 64; default %d; a run that "
                        "has a var checkpoint keeps its width)" % VAR_CFG["width"])
    p.add_argument("--ema", type=float,
                   help="var and supernet stages: keep an exponential moving average of the weights, decay at most "
                        "EMA (e.g. 0.999; ema_decay), and hand it on instead of the last weights (default 0: off)")
    p.add_argument("--procs", type=cli.at_least(0), default=0,
                   help="start N data-parallel processes here (as torchrun --nproc_per_node N; they share --batch)")
    args = p.parse_args(argv)
    # the folders it writes, before any stage runs (train.py all --out FILE failed at export, hours in)
    cli.output_folder(p, "--run", args.run)
    if args.stage in ("export", "all"):
        cli.output_folder(p, "--out", args.out)
    if args.var_width is not None:
        try:  # before any process starts: a width that cannot be built, or differs from the run's checkpoint
            var_config(RunFolder(args.run), "var", args.var_width)
        except ValueError as e:
            p.error(str(e))
    if args.ema is not None and not 0.0 <= args.ema < 1.0:
        p.error("--ema must be in [0, 1)")
    if args.ema is not None and args.stage not in ("var", "all") + SUPERNET:
        p.error("--ema applies to the var and supernet stages, not %s" % args.stage)
    for stage in (STAGES if args.stage == "all" else (args.stage,)):
        refusal = ema_conflict(args.run, stage, args.ema) if stage in ("var",) + SUPERNET else None
        if refusal:
            p.error(refusal)
    if args.stage != "all":
        refuse_missing(args.run, args.stage, args.var_from)
    world = args.procs if args.procs > 1 else int(os.environ.get("WORLD_SIZE", "1"))
    for stage in (STAGES if args.stage == "all" else (args.stage,)):
        batch = args.batch or DEFAULTS.get(stage, {}).get("batch")
        if batch is not None and (batch < 1 or batch % world):
            p.error("%s: the batch (%d) must be a positive multiple of the %d processes" % (stage, batch, world))
    if args.procs > 1 and "WORLD_SIZE" not in os.environ:
        return spawn(args.procs, argv)
    torch.manual_seed(args.seed)
    ctx = Ctx(args)
    if ctx.world > 1:
        ctx.log("train.py: %d data-parallel processes (%s), %d threads each" % (
            ctx.world, dist.get_backend(), torch.get_num_threads()))
    for stage in (STAGES if args.stage == "all" else (args.stage,)):
        if stage != "export" and stage_done(ctx, stage) and args.stage == "all":
            ctx.log("%s: done already" % stage)
            continue
        refuse_missing(args.run, stage, args.var_from)  # in `all`, the stages before it have written its inputs
        a = argparse.Namespace(**{**DEFAULTS.get(stage, {}), **{k: v for k, v in vars(args).items() if v is not None}})
        if getattr(a, "batch", None):
            a.batch //= ctx.world  # per process: the gradients are averaged, so the step sees the whole batch
        # rank 0 alone writes the run folder (mark_done), and alone removes from it: two processes racing to
        # remove the same marker failed the second one
        if ctx.main and stage not in ("export",) and os.path.exists(ctx.path(stage + ".done")):
            os.remove(ctx.path(stage + ".done"))
        ctx.steps_taken = True  # a stage's Loop says otherwise when it had no step left to take
        mark_done(ctx, stage, RUNNERS[stage](ctx, a))
    if ctx.world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    cli.run(main)
