#!/usr/bin/python3
"""The demo model's training recipe (models/recipe): data set, quantiser, training steps, resume, and the export
against the engine. Needs Debian's python3-torch (and numpy); without torch it exits 77 (ctest: skipped).

    VGEN=build/vgen /usr/bin/python3 tests/test_recipe.py
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models", "recipe"))
try:
    import numpy as np
    import torch
except ImportError as e:  # skipped, with the reason
    print("test_recipe: skipped: %s (Debian: apt-get install python3-torch python3-numpy)" % e)
    sys.exit(77)

import classifier as clf  # noqa: E402
import data  # noqa: E402
import fd_ref  # noqa: E402
import sample  # noqa: E402
import schedule  # noqa: E402
import shapes10  # noqa: E402
import st_io  # noqa: E402
import vqvae as vq  # noqa: E402
from var import VAR, config_from_state  # noqa: E402

torch.set_num_threads(1)
DEMO = os.path.join(ROOT, "models", "demo")
# crc32 of image 17 of every shapes10 kind, as the set drew them when the committed VQ-VAE learned from it
SHAPES10_CRC32 = [3438090691, 1571417458, 20881657, 2023270758, 3070269555, 1506338991, 2353315548, 3566639475,
                  479024109, 55332444]


def cpu_has(flag):
    """Whether /proc/cpuinfo lists `flag` (False where it cannot be read): torch's convolutions take other
    instruction paths, with other roundings, on other CPUs."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and flag in line.split() for line in f)
    except OSError:
        return False


def blobs(mask):
    """Connected regions of a bool mask (4-neighbourhood): a list of (pixel count, centre y, centre x)."""
    seen = np.zeros(mask.shape, bool)
    out = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        stack, pts = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pts.append((y, x))
            for yy, xx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= yy < mask.shape[0] and 0 <= xx < mask.shape[1] and mask[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    stack.append((yy, xx))
        p = np.array(pts)
        out.append((len(p), p[:, 0].mean(), p[:, 1].mean()))
    return out


class Data(unittest.TestCase):
    def test_deterministic_and_varied(self):
        a, b = data.image(3, 17), data.image(3, 17)
        self.assertEqual(a.shape, (256, 256, 3))
        self.assertEqual(a.dtype, np.uint8)
        self.assertTrue(np.array_equal(a, b))
        self.assertFalse(np.array_equal(a, data.image(3, 18)))  # position, size, colours vary
        self.assertFalse(np.array_equal(a, data.image(4, 17)))
        self.assertEqual(len(np.unique(a.reshape(-1, 3), axis=0)), 2)  # flat figure colour on a flat background

    def test_arrangements(self):
        """Each class draws its arrangement: the number of disks, their layout (row, column, diagonal, triangle,
        square), one disk larger than any pair's; bands cross the image (first 8 images of each class)."""
        count = {"one": 1, "pair-h": 2, "pair-v": 2, "pair-d": 2, "row3": 3, "column3": 3, "triangle3": 3,
                 "square4": 4, "band-h": 1, "band-v": 1}
        for c, name in enumerate(data.CLASSES):
            for i in range(8):
                m = data.mask(c, np.random.Generator(np.random.PCG64([data.SET_SEED, c, i])))
                b = blobs(m[::2, ::2])
                self.assertEqual(len(b), count[name], "%s image %d: %d regions" % (name, i, len(b)))
                ys, xs = np.array([p[1] for p in b]) * 2, np.array([p[2] for p in b]) * 2
                spread_y, spread_x = np.ptp(ys), np.ptp(xs)
                if name in ("pair-h", "row3"):
                    self.assertTrue(spread_x > 80 and spread_y < 0.35 * spread_x, (name, i))
                if name in ("pair-v", "column3"):
                    self.assertTrue(spread_y > 80 and spread_x < 0.35 * spread_y, (name, i))
                if name in ("pair-d", "square4", "triangle3"):
                    self.assertTrue(spread_x > 60 and spread_y > 60, (name, i))
                if name == "band-h":
                    self.assertTrue(m[:, 0].any() and m[:, -1].any() and not m[0].all(), (name, i))
                if name == "band-v":
                    self.assertTrue(m[0].any() and m[-1].any() and not m[:, 0].all(), (name, i))
                if name == "one":
                    self.assertGreater(b[0][0] * 4, np.pi * 70 ** 2 * 0.95)

    def test_bad_class(self):
        with self.assertRaises(ValueError):
            data.image(10, 0)
        with self.assertRaises(ValueError):
            shapes10.image(-1, 0)

    def test_shapes10_unchanged(self):
        """The committed VQ-VAE learned shapes10: its images must stay the ones it learned from."""
        import zlib
        crcs = [zlib.crc32(shapes10.image(k, 17).tobytes()) for k in range(len(shapes10.KINDS))]
        self.assertEqual(crcs, SHAPES10_CRC32)


class Quantiser(unittest.TestCase):
    def test_round_trip(self):
        """The token maps of a forward pass rebuild its f_hat, and the VAR input is f_hat's area downsamples."""
        torch.manual_seed(0)
        q = vq.MultiScaleQuantizer(64, 32).eval()
        f = torch.randn(2, 32, 16, 16)
        f_hat, _, idx = q(f)
        self.assertEqual([i.shape[1] for i in idx], list(vq.PATCH_NUMS))
        rebuilt = q.idx_to_fhat(idx)
        self.assertLess((rebuilt - f_hat).abs().max().item(), 1e-4)
        x_in = q.idx_to_var_input(idx)
        self.assertEqual(tuple(x_in.shape), (2, 679, 32))
        # the last input rows are the area downsample (13x13) of f_hat after nine scales
        partial = q.idx_to_fhat(idx[:9] + [torch.zeros_like(idx[9])]) - q._up(
            q.embedding(torch.zeros_like(idx[9])).permute(0, 3, 1, 2), 16, 9)
        want = torch.nn.functional.interpolate(partial, size=(16, 16), mode="area").reshape(2, 32, -1).transpose(1, 2)
        self.assertLess((x_in[:, -256:] - want).abs().max().item(), 1e-4)
        # quantising more scales of the same f gets closer to it
        err = (f_hat - f).pow(2).mean().item()
        self.assertLess(err, f.pow(2).mean().item())

    def test_partial_tokens_kept_only_when_they_fit(self):
        """A tokens stage resumes from its partial file only where it holds a prefix of the same images encoded by
        the same VQ-VAE: more images per class extend it, fewer keep its first part, other images or another VQ-VAE
        start over (--per-class 2 then 1 reused all 20 images; a retrained VQ-VAE kept the old tokens)."""
        import train
        mine = [(c, i) for i in range(2) for c in range(3)]  # 3 classes, 2 per class, one process
        tok = np.arange(6 * 4, dtype=np.int16).reshape(6, 4)
        with tempfile.TemporaryDirectory() as tmp:
            part = os.path.join(tmp, "tokens.rank0.npz")
            np.savez(part, labels=np.array([0, 1, 2, 0], np.int64), tokens=tok[:4], vae=np.array("a"))
            lab, got = train.resumable_tokens(part, mine, "a")
            self.assertEqual(([int(x) for x in lab], len(got)), ([0, 1, 2, 0], 4))  # extended by the run
            lab, got = train.resumable_tokens(part, mine[:3], "a")
            self.assertEqual(([int(x) for x in lab], len(got)), ([0, 1, 2], 3))  # fewer per class: its prefix
            self.assertEqual(train.resumable_tokens(part, mine, "b"), ([], []))  # another VQ-VAE
            self.assertEqual(train.resumable_tokens(part, mine[1:], "a"), ([], []))  # other images
            np.savez(part, labels=np.array([0, 1], np.int64), tokens=tok[:2])  # from before the VQ-VAE was recorded
            self.assertEqual(len(train.resumable_tokens(part, mine, "a")[0]), 2)
            self.assertEqual(train.resumable_tokens(os.path.join(tmp, "none.npz"), mine, "a"), ([], []))
            with open(part, "r+b") as f:  # a file cut by a kill while saving: start over, not fail every resume
                f.truncate(40)
            self.assertEqual(train.resumable_tokens(part, mine, "a"), ([], []))
            train.save_partial_tokens(part, [0, 1], tok[:2], "a")  # whole, through a temporary
            self.assertEqual((len(train.resumable_tokens(part, mine, "a")[0]), sorted(os.listdir(tmp))),
                             (2, ["tokens.rank0.npz"]))

    def test_committed_tokens_are_the_committed_vqvaes(self):
        """models/recipe/run/tokens.npz is what the tokens stage makes from the committed VQ-VAE, so a run from
        scratch trains its VAR on the same targets: its labels are the stage's order (320 images per class, two
        processes, rank 0's part first), and a few images encoded again in one batch, as the stage encodes them,
        give the committed ids exactly (other CPUs and torch builds round otherwise: a near tie may flip there)."""
        import train
        run = os.path.join(ROOT, "models", "recipe", "run")
        z = np.load(os.path.join(run, "tokens.npz"))
        n_cls = len(data.CLASSES)
        todo = [(c, i) for i in range(320) for c in range(n_cls)]
        order = todo[0::2] + todo[1::2]
        self.assertEqual(z["labels"].tolist(), [c for c, _ in order])
        model, stage = train.load_vae(train.RunFolder(run))
        self.assertEqual(stage, "vqvae-ms")
        model.quantize.patch_nums = vq.PATCH_NUMS
        model.eval()
        rows = [0, 1, 1599, 1600, 3199]
        if cpu_has("avx512f") and torch.__version__.startswith("1.13"):
            # as the committed run (AVX-512, Debian 12's torch): near ties, other ids when encoded one per call
            rows += [712, 1639]
        x = vq.to_tensor(data.batch([order[r][0] for r in rows], [order[r][1] for r in rows]))
        got = train.encode_tokens(model, x)
        self.assertEqual(got.dtype, np.int16)
        self.assertEqual(got.shape, (len(rows), 680))
        differ = [r for r, a, b in zip(rows, got, z["tokens"][rows]) if (a != b).any()]
        self.assertEqual(differ, [], "the tokens of these rows differ from the committed ones")

    def test_phi_table(self):
        """VAR_SPEC 4: the scale -> phi index table for K = 4, ten scales."""
        q = vq.MultiScaleQuantizer(8, 32)
        self.assertEqual([q.quant_resi.index(si, 10) for si in range(10)], [0, 0, 1, 1, 1, 2, 2, 3, 3, 3])


class Training(unittest.TestCase):
    def test_var_steps_lower_the_loss(self):
        torch.manual_seed(0)
        m = VAR(depth=2, width=64, vocab=32, classes=3)
        opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
        lab = torch.tensor([0, 1, 2, 1])
        tok = torch.randint(0, 32, (4, 680))
        x_in = torch.randn(4, 679, 32)
        losses = []
        for _ in range(6):
            logits = m(lab, x_in)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 32), tok.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        self.assertLess(losses[-1], losses[0] - 0.05, losses)

    @unittest.skipUnless(sys.platform.startswith("linux"), "glibc's tunables: Linux only")
    def test_huge_pages_for_malloc(self):
        """train.py starts itself again with glibc.malloc.hugetlb=1 added to GLIBC_TUNABLES, once, before torch is
        imported, with its arguments and the tunables given; a hugetlb setting of the user's is kept as it is; a
        program read from standard input, or one that runs train.py's code from another file, is not
        restarted."""
        with open(os.path.join(ROOT, "models", "recipe", "train.py")) as f:
            src = f.read()
        call = src.index('if __name__ == "__main__":\n    exec_with_huge_pages(__file__)')
        self.assertLess(call, src.index("import torch"))
        code = ("import os, sys\nsys.path.insert(0, %r)\nimport train\ntrain.exec_with_huge_pages(%%s)\n"
                "print(os.environ.get('GLIBC_TUNABLES'), sys.argv[1:])\n" % os.path.join(ROOT, "models", "recipe"))
        plain = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "prog.py")
            with open(script, "w") as f:
                f.write(code % "__file__")
            for given, want in ((None, "glibc.malloc.hugetlb=1"),
                                ("glibc.malloc.arena_max=2", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"),
                                ("glibc.malloc.hugetlb=0", "glibc.malloc.hugetlb=0")):
                env = dict(plain, **({"GLIBC_TUNABLES": given} if given is not None else {}))
                r = subprocess.run([sys.executable, script, "a b", "--x"], env=env, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), want + " ['a b', '--x']")
            with open(script, "w") as f:
                f.write(code % repr(os.path.join(ROOT, "models", "recipe", "train.py")))
            for args, stdin in (([script], None), (["-"], code % "sys.argv[0]")):
                r = subprocess.run([sys.executable] + args, input=stdin, env=plain, capture_output=True, text=True)
                self.assertEqual((r.returncode, r.stdout.strip()), (0, "None []"), r.stderr)

    def test_scale_weights(self):
        import train
        tok = train.scale_weights("tokens")
        self.assertEqual(tuple(tok.shape), (680,))
        self.assertTrue(torch.allclose(tok, torch.full((680,), 1 / 680.0)))  # upstream's mean over tokens
        side = train.scale_weights("side")
        self.assertAlmostEqual(float(side.sum()), 1.0, places=5)
        at = 0
        for pn in vq.PATCH_NUMS:  # scale s: pn_s / sum(pn), spread evenly over its pn_s^2 tokens
            part = side[at:at + pn * pn]
            self.assertTrue(torch.allclose(part, part[0].expand_as(part)))
            self.assertAlmostEqual(float(part.sum()), pn / sum(vq.PATCH_NUMS), places=5)
            at += pn * pn
        # the weighted loss is the weighted mean of per-token cross entropies
        ce = torch.rand(3, 680)
        self.assertAlmostEqual(float((ce * side).sum(1).mean()),
                               float(sum((ce[:, i] * side[i]).sum() for i in range(680)) / 3), places=4)

    def test_subnet_of_every_layer_is_the_full_network(self):
        torch.manual_seed(1)
        m = VAR(depth=4, width=64, vocab=16, classes=3).eval()
        lab, x_in = torch.tensor([0, 2]), torch.randn(2, 679, 32)
        with torch.no_grad():
            full = m(lab, x_in)
            self.assertLess((m(lab, x_in, [0, 1, 2, 3]) - full).abs().max().item(), 1e-5)
            sub = m(lab, x_in, m.subnet_layers(2))
        self.assertEqual(m.subnet_layers(2), [0, 3])
        self.assertLess((sub[:, :91] - full[:, :91]).abs().max().item(), 1e-5)  # early scales: every layer
        self.assertGreater((sub[:, 91:] - full[:, 91:]).abs().max().item(), 1e-3)

    def test_vqvae_steps_lower_the_loss(self):
        torch.manual_seed(0)
        m = vq.VQVAE(ch=32, ch_mult=(1, 1, 2, 2, 2), num_res_blocks=1, vocab=64)
        m.quantize.patch_nums = (1, 2, 4)
        opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
        x = vq.to_tensor(np.stack([data.image(c, 0)[64:128, 64:128] for c in range(4)]))
        losses = []
        for _ in range(8):
            rec, vql, _ = m(x)
            loss = (rec - x).abs().mean() + vql
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        self.assertLess(min(losses[-3:]), losses[0] * 0.9, losses)

    def test_classifier_numpy_equals_torch(self):
        torch.manual_seed(2)
        m = clf.build().eval()
        x = clf.downsample(np.stack([data.image(c, 5) for c in (0, 7)]))
        with torch.no_grad():
            want = m(torch.from_numpy(x)).numpy()
        got, feats = clf.numpy_forward({k: v.numpy() for k, v in m.state_dict().items()}, x)
        self.assertEqual(feats.shape, (2, 64))
        self.assertLess(np.abs(got - want).max(), 1e-4)

    def test_resume_after_a_kill(self):
        """A stage stopped part-way resumes from its checkpoint, not from step 0."""
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "classifier", "--run", tmp,
                   "--threads", "1", "--batch", "4"]
            subprocess.run(cmd + ["--steps", "2"], check=True, capture_output=True)
            ck = torch.load(os.path.join(tmp, "classifier.pt"))
            self.assertEqual(ck["step"], 2)
            self.assertNotIn("opt", ck)  # a finished stage keeps its weights only
            r = subprocess.run(cmd + ["--steps", "3"], check=True, capture_output=True, text=True)
            self.assertIn("resumed at step 2 of 3", r.stdout + r.stderr)
            self.assertEqual(torch.load(os.path.join(tmp, "classifier.pt"))["step"], 3)
            self.assertTrue(os.path.exists(os.path.join(tmp, "classifier_loss.png")))
            # a run of the finished stage takes no step and changes no file (it rewrote the checkpoint, its plot
            # and times.json: the committed run was dirtied by a no-op)
            def files():
                out = {}
                for name in sorted(os.listdir(tmp)):
                    with open(os.path.join(tmp, name), "rb") as f:
                        out[name] = f.read()
                return out
            before = files()
            subprocess.run(cmd + ["--steps", "3"], check=True, capture_output=True)
            after = files()
            self.assertEqual([n for n in after if after[n] != before.get(n)], [])
            self.assertEqual(sorted(after), sorted(before))


class FrechetReference(unittest.TestCase):
    def test_frechet_closed_forms(self):
        """Diagonal covariances: FD = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2; commuting ones likewise; >= 0."""
        r = np.random.default_rng(3)
        a, b = r.uniform(0.1, 2, 16), r.uniform(0.1, 2, 16)
        m1, m2 = r.standard_normal(16), r.standard_normal(16)
        want = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
        self.assertAlmostEqual(fd_ref.frechet(m1, np.diag(a), m2, np.diag(b)), want, places=9)
        q, _ = np.linalg.qr(r.standard_normal((16, 16)))  # the same rotation of both: the distance is unchanged
        self.assertAlmostEqual(fd_ref.frechet(q @ m1, q @ np.diag(a) @ q.T, q @ m2, q @ np.diag(b) @ q.T), want,
                               places=8)
        s = np.cov(r.standard_normal((5, 16)), rowvar=False)  # rank 4: a singular covariance
        self.assertLess(fd_ref.frechet(m1, s, m1, s), 1e-9)
        self.assertGreaterEqual(fd_ref.frechet(m1, s, m2, np.eye(16)), 0)

    def test_moments(self):
        x = np.random.default_rng(4).standard_normal((30, 8))
        mu, s = fd_ref.moments(x)
        self.assertTrue(np.allclose(mu, x.mean(0)) and np.allclose(s, np.cov(x.T)))
        with self.assertRaises(ValueError):
            fd_ref.moments(x[:1])

    def test_reference_file(self):
        """fd_ref.write: F32 mu [64] and sigma [64, 64] of the documented image set, with its metadata."""
        torch.manual_seed(5)
        w = {k: v.numpy() for k, v in clf.build().state_dict().items()}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "fd_ref.safetensors")
            got = fd_ref.write(path, w, per_class=2)
            back = st_io.read(path)
            meta = st_io.metadata(path)
            with open(path, "rb") as f:
                import json
                import struct
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
        self.assertEqual(header["mu"]["dtype"], "F32")
        self.assertEqual(header["sigma"]["dtype"], "F32")
        self.assertEqual(back["mu"].shape, (64,))
        self.assertEqual(back["sigma"].shape, (64, 64))
        self.assertTrue(np.array_equal(back["sigma"], back["sigma"].T))
        self.assertEqual(meta["format"], fd_ref.FORMAT)
        self.assertEqual((meta["images"], meta["per_class"], meta["split"], meta["set"]), ("20", "2", "train", "arrangements10"))
        self.assertTrue(0 <= float(meta["accuracy_ref"]) <= 1 and float(meta["fd_held_out"]) >= 0)
        # the statistics are those of the documented set: images 0, 1 of every class of the training split
        _, feats = clf.numpy_forward(w, clf.downsample(data.batch([c for c in range(10) for _ in range(2)],
                                                                  [0, 1] * 10)))
        self.assertTrue(np.allclose(back["mu"], feats.mean(0), atol=1e-6))
        self.assertTrue(np.allclose(back["sigma"], np.cov(feats.T.astype(np.float64)), atol=1e-6))
        self.assertTrue(np.array_equal(got["mu"], back["mu"]))

    def test_st_io_bf16(self):
        x = np.array([1.0, -2.5, 3.14159, 1e-3, 65504.0], np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.safetensors")
            st_io.write(path, {"x": x}, dtype="BF16")
            back = st_io.read(path)["x"]
        want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()  # torch's rounding
        self.assertTrue(np.array_equal(back, want), (back, want))


class Schedule(unittest.TestCase):
    def test_progressive_phases(self):
        total = 300
        r = [schedule.progressive_ratio(s, total) for s in range(total)]
        self.assertAlmostEqual(r[0], 0.2)
        self.assertAlmostEqual(r[49], 0.2)                      # phase 1: 5/30 of the steps at 2:8
        self.assertAlmostEqual(r[125], 0.2 + 0.8 * 75 / 150)    # phase 2: linear from 0.2 to 1.0
        self.assertAlmostEqual(r[200], 1.0)                     # phase 3: subnets only
        self.assertEqual(r[-1], 1.0)
        self.assertTrue(all(b >= a for a, b in zip(r, r[1:])), "never decreases")
        with self.assertRaises(ValueError):
            schedule.progressive_ratio(0, 0)

    def test_fixed_and_pick(self):
        self.assertEqual(schedule.fixed_ratio(123, 300), 0.5)
        self.assertEqual(schedule.subnet_depths(16), [8, 4, 2])
        self.assertEqual(schedule.subnet_depths(30), [16, 8, 4, 2])
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        a = [schedule.pick(s, 1000, g1, schedule.fixed_ratio, [8, 4, 2]) for s in range(1000)]
        b = [schedule.pick(s, 1000, g2, schedule.fixed_ratio, [8, 4, 2]) for s in range(1000)]
        self.assertEqual(a, b)                                  # deterministic for a seed
        share = sum(d is not None for d in a) / len(a)
        self.assertTrue(0.45 < share < 0.55, share)
        self.assertEqual(set(d for d in a if d is not None), {8, 4, 2})
        g = torch.Generator().manual_seed(1)
        p = [schedule.pick(s, 300, g, schedule.progressive_ratio, [2]) for s in range(300)]
        self.assertLess(sum(d is not None for d in p[:50]), 25)  # mostly full early
        self.assertTrue(all(d == 2 for d in p[200:]))           # subnet only late


class Stages(unittest.TestCase):
    def test_missing_inputs_refused(self):
        """A stage whose inputs are not in the run folder: one line naming them, exit 2, nothing written (tokens
        would otherwise come from an untrained VQ-VAE); the same before --procs starts any process."""
        train_py = os.path.join(ROOT, "models", "recipe", "train.py")
        with tempfile.TemporaryDirectory() as tmp:
            for stage, extra, want in (("tokens", [], "vqvae-ms.pt or vqvae.pt"), ("var", ["--procs", "2"], "tokens.npz"),
                                       ("vqvae-ms", [], "vqvae.pt"), ("export", ["--var-from", "supernet-fixed"],
                                                                         "supernet-fixed.pt, classifier.pt")):
                r = subprocess.run([sys.executable, train_py, stage, "--run", tmp, "--out", os.path.join(tmp, "o")] +
                                   extra, capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, (stage, r.stderr))
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(want, r.stderr)
                self.assertEqual(os.listdir(tmp), [], stage)

    def test_flag_given_twice_refused(self):
        """Every recipe script refuses a flag given twice (argparse alone keeps the last value silently), naming
        both values, exit 2 before any work; the same value through --flag=value counts too; options after
        evaluate.py's -- are vgen's and not looked at."""
        recipe = os.path.join(ROOT, "models", "recipe")
        with tempfile.TemporaryDirectory() as tmp:
            for script, argv, want in (
                    ("train.py", ["var", "--run", tmp, "--steps", "100", "--steps", "10"], "'100', then '10'"),
                    ("train.py", ["var", "--run", tmp, "--seed=1", "--seed", "2"], "--seed is given twice"),
                    ("evaluate.py", ["--vgen", "x", "--seeds", "1", "--seeds=2"], "'1', then '2'"),
                    ("show.py", ["data", "--run", tmp, "--run", tmp + "2"], "--run is given twice"),
                    ("variant_table.py", ["--run", tmp, "--quality", "2", "--quality", "3"], "'2', then '3'"),
                    ("prefix_eval.py", ["--run", tmp, "--run", tmp], "--run is given twice")):
                r = subprocess.run([sys.executable, os.path.join(recipe, script)] + argv, capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, 2, (script, argv, r.stderr))
                self.assertIn(want, r.stderr.strip().splitlines()[-1], (script, r.stderr))
                self.assertEqual(os.listdir(tmp), [], script)
            calls = os.path.join(tmp, "calls")
            fake = os.path.join(tmp, "vgen")
            with open(fake, "w") as f:  # evaluate.py's vgen options are passed on whole: no refusal, a failing vgen
                f.write("#!/bin/sh\necho \"$@\" >> %s\nexit 3\n" % calls)
            os.chmod(fake, 0o755)
            r = subprocess.run([sys.executable, os.path.join(recipe, "evaluate.py"), "--vgen", fake, "--seeds", "1",
                                "--", "--cfg", "2", "--cfg", "3"], capture_output=True, text=True)
            self.assertNotIn("given twice", r.stderr)
            with open(calls) as f:
                self.assertIn("--cfg 2 --cfg 3", f.read())

    def test_failures_are_one_line(self):
        """The recipe scripts end a failure with one line and an exit status (cli.run), never a traceback: a missing
        input or folder 2, a failing program they run 1, standard output on a full disk 1; numbers out of range are
        usage errors (exit 2) before any work, and a run folder without a VQ-VAE is refused, not drawn from a random
        one."""
        recipe = os.path.join(ROOT, "models", "recipe")
        with tempfile.TemporaryDirectory() as tmp:
            fake = os.path.join(tmp, "vgen")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\nexit 3\n")
            os.chmod(fake, 0o755)
            missing = os.path.join(tmp, "missing")
            for script, argv, code, want in (
                    ("show.py", ["reconstructions", "--run", tmp, "--out", os.path.join(tmp, "r.png")], 2,
                     "no VQ-VAE checkpoint"),
                    ("show.py", ["data", "--out", os.path.join(missing, "x.png")], 2, "No such file or directory"),
                    ("evaluate.py", ["--vgen", missing, "--seeds", "1"], 2, missing),
                    ("evaluate.py", ["--vgen", fake, "--seeds", "1"], 1, "failed (exit 3)"),
                    ("evaluate.py", ["--vgen", fake, "--seeds", "0"], 2, "--seeds: expected a whole number >= 1"),
                    ("prefix_eval.py", ["--classifier", missing], 2, missing),
                    ("scale_gap.py", ["--run", missing], 2, "No such file or directory"),
                    ("train.py", ["vqvae", "--run", tmp, "--steps", "-5"], 2, "--steps: expected a whole number >= 1"),
                    ("train.py", ["var", "--run", tmp, "--lr", "nan"], 2, "--lr: expected a finite number > 0"),
                    ("variant_table.py", ["--vbench", missing, "--run", tmp], 2, missing),
                    ("show.py", ["shapes10", "--out", tmp], 2, "a .png file to write"),
                    ("prefix_eval.py", ["--classifier", missing, "--ks", "99"], 2, "each k is from 0 to 10"),
                    ("prefix_eval.py", ["--classifier", os.path.join(recipe, "run", "classifier.pt")], 2,
                     "not a safetensors file")):
                r = subprocess.run([sys.executable, os.path.join(recipe, script)] + argv, capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, code, (script, argv, r.stderr))
                self.assertNotIn("Traceback", r.stderr, (script, argv))
                self.assertIn(want, r.stderr.strip().splitlines()[-1], (script, argv, r.stderr))
                if code == 2:  # a usage error is one line (argparse printed its usage block first)
                    self.assertEqual(len(r.stderr.strip().splitlines()), 1, (script, argv, r.stderr))
                self.assertFalse([f for f in os.listdir(tmp) if f != "vgen"], (script, argv))
            with open("/dev/full", "w") as full:
                r = subprocess.run([sys.executable, os.path.join(recipe, "evaluate.py"), "--help"], stdout=full,
                                   stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_var_width(self):
        """--var-width: the var stage builds that width, a resumed run keeps its checkpoint's width whatever the
        default, and a width that differs from the checkpoint's or is not a multiple of 64 is one line, exit 2."""
        import train
        train_py = os.path.join(ROOT, "models", "recipe", "train.py")
        m = VAR(depth=3, width=128, vocab=32, cvae=8, classes=5)
        self.assertEqual(config_from_state(m.state_dict()), dict(depth=3, width=128, vocab=32, cvae=8, classes=5))
        with tempfile.TemporaryDirectory() as run:
            torch.save({"model": vq.VQVAE(**train.VAE_CFG).state_dict()}, os.path.join(run, "vqvae.pt"))
            g = np.random.default_rng(0)
            np.savez(os.path.join(run, "tokens.npz"), labels=np.array([0, 1]),
                     tokens=g.integers(0, 512, (2, 680)).astype(np.int16))

            def var(*extra):
                return subprocess.run([sys.executable, train_py, "var", "--run", run, "--threads", "1", "--batch",
                                       "1"] + list(extra), capture_output=True, text=True)
            for bad in ("96", "0"):
                r = var("--steps", "1", "--var-width", bad)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("multiple of 64", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(run, "var.pt")))
            self.assertEqual(var("--steps", "1", "--var-width", "128").returncode, 0)
            ck = torch.load(os.path.join(run, "var.pt"))
            self.assertEqual(config_from_state(ck["model"])["width"], 128)
            r = var("--steps", "2", "--var-width", "64")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("holds a VAR of width 128", r.stderr.strip().splitlines()[-1])
            self.assertEqual(torch.load(os.path.join(run, "var.pt"))["step"], 1)  # untouched
            self.assertEqual(var("--steps", "2").returncode, 0)  # resumed at its own width
            ck = torch.load(os.path.join(run, "var.pt"))
            self.assertEqual((ck["step"], config_from_state(ck["model"])["width"]), (2, 128))

    def test_ema(self):
        """--ema: the stage keeps the running average of ema_decay (checked step by step against the formula), hands
        it on (trained_weights), resumes it, and refuses another setting on a started run (one line, exit 2)."""
        import argparse
        import train
        self.assertEqual([train.ema_decay(s, 0.999) for s in (0, 8, 3600, 10 ** 6)],
                         [0.1, 0.5, 3601 / 3610, 0.999])
        with tempfile.TemporaryDirectory() as run:
            ctx = argparse.Namespace(args=argparse.Namespace(seed=0, ckpt_minutes=60.0), rank=0, main=True,
                                     path=lambda name: os.path.join(run, name), log=lambda *a: None)

            def train_steps(steps, ema):
                torch.manual_seed(1)
                m = torch.nn.Linear(3, 2)
                loop = train.Loop(ctx, "var", m, m.parameters(), 0.1, steps, ema=ema)
                seen = []
                for _ in loop:
                    loss = m(torch.randn(4, 3, generator=loop.gen)).square().mean()
                    loop.opt.zero_grad()
                    loss.backward()
                    loop.opt.step()
                    seen.append({k: v.detach().clone() for k, v in m.state_dict().items()})
                return m, seen

            torch.manual_seed(1)
            want = dict(torch.nn.Linear(3, 2).state_dict())
            m, seen = train_steps(3, 0.5)
            for step, w in enumerate(seen):
                d = train.ema_decay(step, 0.5)
                want = {k: d * want[k] + (1 - d) * w[k] for k in w}
            ck = torch.load(os.path.join(run, "var.pt"))
            self.assertEqual(ck["ema_cap"], 0.5)
            for k in want:
                self.assertTrue(torch.allclose(ck["ema"][k], want[k], atol=1e-6), k)
                self.assertTrue(torch.equal(ck["model"][k], seen[-1][k]))  # the last weights are kept too
                self.assertFalse(torch.equal(ck["ema"][k], ck["model"][k]))
            self.assertIs(train.trained_weights(ck), ck["ema"])
            self.assertIs(train.trained_weights({"model": ck["model"]}), ck["model"])
            _, more = train_steps(4, None)  # resumed without --ema: the run's own setting goes on
            ck = torch.load(os.path.join(run, "var.pt"))
            d = train.ema_decay(3, 0.5)
            for k in want:
                self.assertTrue(torch.allclose(ck["ema"][k], d * want[k] + (1 - d) * more[-1][k], atol=1e-6), k)
            with self.assertRaises(ValueError):
                train_steps(5, 0.9)
            self.assertEqual(train.ema_conflict(run, "var", 0.5), None)
            self.assertEqual(train.ema_conflict(run, "var", None), None)
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "var", "--run", run,
                                "--ema", "0"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("was trained with --ema 0.5", r.stderr.strip().splitlines()[-1])
            for bad in ("1", "-0.5"):
                r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "var", "--run",
                                    run, "--ema", bad], capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--ema must be in [0, 1)", r.stderr)
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "classifier",
                                "--run", run, "--ema", "0.9"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("applies to the var and supernet stages", r.stderr)
            self.assertEqual(torch.load(os.path.join(run, "var.pt"))["step"], 4)  # untouched

    def test_every_stage_on_a_few_steps(self):
        """train.py all: each stage runs, writes its checkpoint and plot, and export writes loadable files."""
        with tempfile.TemporaryDirectory() as tmp:
            run, out = os.path.join(tmp, "run"), os.path.join(tmp, "demo")
            subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "all", "--run", run,
                            "--out", out, "--threads", "1", "--steps", "2", "--batch", "2", "--per-class", "1",
                            "--fd-per-class", "2"],
                           check=True, capture_output=True)
            for stage in ("vqvae", "vqvae-ms", "var", "classifier"):
                self.assertTrue(os.path.exists(os.path.join(run, stage + ".pt")), stage)
                self.assertTrue(os.path.exists(os.path.join(run, stage + "_loss.png")), stage)
            z = np.load(os.path.join(run, "tokens.npz"))
            self.assertEqual(z["tokens"].shape, (10, 680))
            self.assertEqual(tuple(str(c) for c in z["classes"]), data.CLASSES)  # export checks it
            self.assertTrue((z["tokens"] >= 0).all() and (z["tokens"] < 512).all())
            for stage in ("supernet-progressive", "supernet-fixed"):
                subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), stage, "--run",
                                run, "--threads", "1", "--steps", "3", "--batch", "2"], check=True, capture_output=True)
                ck = torch.load(os.path.join(run, stage + ".pt"))
                self.assertEqual(ck["step"], 3, stage)
            # data-parallel on this machine (--procs: two gloo processes, as torchrun would start): var continues
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "var", "--run",
                                run, "--threads", "1", "--steps", "4", "--batch", "2", "--procs", "2"],
                               check=True, capture_output=True, text=True)
            self.assertIn("2 data-parallel processes (gloo)", r.stdout)
            self.assertEqual(torch.load(os.path.join(run, "var.pt"))["step"], 4)
            # --batch is the whole step's: one the processes cannot share is refused before any starts
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "var", "--run",
                                run, "--steps", "5", "--batch", "3", "--procs", "2"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("multiple of the 2 processes", r.stderr)
            sv = st_io.read(os.path.join(out, "var.safetensors"))
            self.assertEqual(len(sv), 220)  # upstream's depth-16 state dict
            ref = st_io.read(os.path.join(out, "fd_ref.safetensors"))  # vbench --quality's reference
            self.assertEqual((ref["mu"].shape, ref["sigma"].shape), ((64,), (64, 64)))
            self.assertEqual(st_io.metadata(os.path.join(out, "fd_ref.safetensors"))["per_class"], "2")
            vgen = os.environ.get("VGEN")
            if vgen:  # the engine reads the export
                r = subprocess.run([vgen, "--model", os.path.join(out, "var.safetensors"), "--vae",
                                    os.path.join(out, "vae.safetensors"), "--info"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("depth 16, width 64", r.stdout)
                # show.py depths: the engine's class grid per depth, one 64 px row each
                png = os.path.join(tmp, "depths.png")
                subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "show.py"), "depths", "--vgen",
                                vgen, "--depths", "16,2", "--out", png, "--", "--model",
                                os.path.join(out, "var.safetensors"), "--vae", os.path.join(out, "vae.safetensors")],
                               check=True, capture_output=True)
                import matplotlib.image as mpimg
                self.assertEqual(mpimg.imread(png).shape[:2], (2 * 64, len(data.CLASSES) * 64))
                r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "show.py"), "depths",
                                    "--vgen", vgen, "--depths", "16,x"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--depths", r.stderr)
            # an export that fails part-way (here convert.py refuses the classifier, the third of the five files)
            # leaves the previous export as it was, and no staging folder
            for n in os.listdir(out):  # a previous export's files, different from what this one would write
                with open(os.path.join(out, n), "wb") as f:
                    f.write(b"previous export's " + n.encode())
            before = folder_bytes(out)
            shutil.copy(os.path.join(run, "classifier.pt"), os.path.join(tmp, "classifier.pt"))
            ck = torch.load(os.path.join(run, "classifier.pt"))
            ck["model"]["bad\x00name"] = torch.zeros(1)
            torch.save(ck, os.path.join(run, "classifier.pt"))
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "export", "--run",
                                run, "--out", out], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertEqual(folder_bytes(out), before)
            shutil.copy(os.path.join(tmp, "classifier.pt"), os.path.join(run, "classifier.pt"))
            # SIGTERM (a batch system's time limit) mid-export: the staging folder is removed, as on Ctrl-C, and the
            # previous export stays (Python's default ended the process at once, leaving the folder)
            p = subprocess.Popen([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "export",
                                  "--run", run, "--out", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
            for _ in range(600):
                if any(n.startswith(".export.") for n in os.listdir(out)) or p.poll() is not None:
                    break
                time.sleep(0.05)
            p.send_signal(signal.SIGTERM)
            err = p.communicate()[1]
            if p.returncode != 0:  # else it had finished before the signal: nothing to check
                self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
                self.assertIn("stopped by signal 15", err)
                self.assertEqual(folder_bytes(out), before)
            # a folder in one file's place is refused before any is written
            os.remove(os.path.join(out, "demo.json"))
            os.mkdir(os.path.join(out, "demo.json"))
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "export", "--run",
                                run, "--out", out], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0, r.stderr)
            self.assertIn("is a folder where the export writes a file", r.stderr)
            self.assertEqual(folder_bytes(out)["var.safetensors"], before["var.safetensors"])
            # tokens of another class set (no class names recorded: written before arrangements10) are not exported
            np.savez(os.path.join(run, "tokens.npz"), labels=z["labels"], tokens=z["tokens"])
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "export", "--run",
                                run, "--out", out], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("run the tokens and var stages again", r.stderr)


def folder_bytes(folder):
    """{name: contents} of every file in FOLDER (staging folders included: an export leaves none)."""
    got = {}
    for n in sorted(os.listdir(folder)):
        p = os.path.join(folder, n)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                got[n] = f.read()
        else:
            got[n] = None
    return got


def load_demo(demo):
    """Exported files into the recipe's PyTorch modules (strict: every upstream key, no other)."""
    sv, sa = st_io.read(os.path.join(demo, "var.safetensors")), st_io.read(os.path.join(demo, "vae.safetensors"))
    var = VAR(**config_from_state(sv))
    var.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sv.items()}, strict=True)
    ch = sa["decoder.conv_out.weight"].shape[1]
    levels = 1 + max(int(k.split(".")[2]) for k in sa if k.startswith("decoder.up."))
    mult = tuple(sa["decoder.up.%d.block.0.conv1.weight" % i].shape[0] // ch for i in range(levels))
    blocks = 1 + max(int(k.split(".")[4]) for k in sa if k.startswith("decoder.up.0.block."))
    vae = vq.VQVAE(ch=ch, ch_mult=mult, num_res_blocks=blocks - 1, zch=sa["quant_conv.weight"].shape[0],
                   vocab=sa["quantize.embedding.weight"].shape[0])
    vae.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sa.items()}, strict=True)
    return var, vae


class Evaluate(unittest.TestCase):
    def test_seed_range(self):
        """evaluate.py runs vgen once per seed of --first-seed .. + --seeds - 1, with the vgen options after --,
        and counts a class right when the classifier says so (a stand-in vgen that records its arguments and
        draws a real image of each class, which the shipped classifier gets right)."""
        with tempfile.TemporaryDirectory() as tmp:
            log, fake = os.path.join(tmp, "args.txt"), os.path.join(tmp, "vgen")
            with open(fake, "w") as f:
                f.write("#!%s\nimport sys, os\nsys.path.insert(0, %r)\nimport data\nimport matplotlib\n"
                        "matplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                        "a = sys.argv[1:]\nopen(%r, 'a').write(' '.join(a) + '\\n')\n"
                        "out = a[a.index('--out-dir') + 1]\n"
                        "for c in map(int, a[a.index('--class') + 1].split(',')):\n"
                        "    plt.imsave(os.path.join(out, '%%02d.png' %% c), data.batch([c], [5])[0])\n"
                        % (sys.executable, os.path.join(ROOT, "models", "recipe"), log))
            os.chmod(fake, 0o755)
            r = subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "evaluate.py"), "--vgen", fake,
                                "--seeds", "2", "--first-seed", "1000", "--", "--cfg", "3"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(log) as f:
                calls = [line.split() for line in f]
        self.assertEqual([c[c.index("--seed") + 1] for c in calls], ["1000", "1001"])
        self.assertTrue(all(c[-2:] == ["--cfg", "3"] for c in calls))
        self.assertIn("images: 20 (seeds 1000..1001), accuracy: 1.0000", r.stdout)


class ScaleGap(unittest.TestCase):
    def test_rows_and_refusal(self):
        """scale_gap.py on the committed run: a training row and a held-out row of ten finite per-scale losses;
        held-out images that are training images (--first-held below the run's per_class) refused, exit 2."""
        script = os.path.join(ROOT, "models", "recipe", "scale_gap.py")
        r = subprocess.run([sys.executable, script, "--held-per-class", "1", "--train", "4"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {line.split(":")[0]: line.split(":")[1].split("(")[0].split() for line in r.stdout.splitlines()}
        for name in ("training images", "held-out images"):
            vals = [float(v) for v in rows[name]]
            self.assertEqual(len(vals), 10, r.stdout)
            self.assertTrue(all(0 < v < 10 for v in vals), r.stdout)
        self.assertIn("(weighted", r.stdout)
        r = subprocess.run([sys.executable, script, "--first-held", "0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("are in the run's tokens", r.stderr)


class Export(unittest.TestCase):
    def test_engine_matches_the_recipe(self):
        """Greedy tokens of the exported model: the engine (vgen --top-k 1) equals the recipe's PyTorch sampler.
        The shipped files when the tree has them, else an export of the committed training run."""
        vgen = os.environ.get("VGEN")
        if not vgen:
            self.skipTest("VGEN is not set")
        with tempfile.TemporaryDirectory() as tmp:
            demo = DEMO
            if not os.path.exists(os.path.join(DEMO, "var.safetensors")):
                import shutil
                demo, run = os.path.join(tmp, "demo"), os.path.join(tmp, "run")
                os.makedirs(run)
                for f in ("vqvae-ms.pt", "var.pt", "classifier.pt"):  # a copy: the tree is not written to
                    shutil.copy(os.path.join(ROOT, "models", "recipe", "run", f), run)
                subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "train.py"), "export",
                                "--run", run, "--out", demo, "--fd-per-class", "2"], check=True, capture_output=True)
            self.check_parity(vgen, demo)

    def check_parity(self, vgen, demo):
        var, vae = load_demo(demo)
        labels = [0, 4, 9]
        want, _ = sample.generate(var, vae, labels, cfg=1.5)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "t.json")
            subprocess.run([vgen, "--model", os.path.join(demo, "var.safetensors"),
                            "--vae", os.path.join(demo, "vae.safetensors"),
                            "--class", ",".join(map(str, labels)), "--top-k", "1", "--cfg", "1.5", "-q",
                            "--tokens-out", out, "-o", os.path.join(tmp, "x.png")], check=True)
            import json
            with open(out) as f:
                got = json.load(f)["tokens"]
        got = np.array([sum(scales, []) for scales in got])
        same = (got == want.numpy()).mean()
        self.assertGreaterEqual(same, 0.99, "only %.4f of the tokens agree" % same)  # float ties may flip a few
        self.assertTrue(np.array_equal(got[:, :91], want.numpy()[:, :91]), "early scales differ")


RECIPE = os.path.join(ROOT, "models", "recipe")


def run_all(cmds, cwd=None):
    """Runs the recipe scripts of cmds (script, argv) side by side (each pays torch's import: seconds) -> the
    CompletedProcess of each, in order."""
    procs = [subprocess.Popen([sys.executable, os.path.join(RECIPE, script)] + argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=cwd) for script, argv in cmds]
    out = []
    for (script, argv), pr in zip(cmds, procs):
        try:  # a refusal takes seconds; one that is not refused may start training: stop it, and fail
            o, e = pr.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            pr.kill()
            o, e = pr.communicate()
        out.append(subprocess.CompletedProcess([script] + argv, pr.returncode, o, e))
    return out


def stand_in(path, log, info="", code=0):
    """A stand-in for vgen or vbench at path: it appends its arguments to log, prints `info` for --info and exits
    with `code` (a file named by --json/-o is not written: nothing should get that far)."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" >> %s\ncase \"$1\" in --info) echo '%s'; exit 0;; esac\nexit %d\n" % (
            log, info, code))
    os.chmod(path, 0o755)


def calls(log):
    """The stand-in's calls (lines of arguments) other than --info."""
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [line for line in f.read().splitlines() if not line.startswith("--info")]


class Inputs(unittest.TestCase):
    """Bad arguments and inputs of the recipe's tools: one line naming the flag or file on stderr, exit 2, found
    before any expensive step (the stand-in vgen or vbench is not run) and before anything is created."""

    def refused(self, r, want, code=2):
        self.assertEqual(r.returncode, code, (r.args, r.stderr))
        self.assertNotIn("Traceback", r.stderr, r.args)
        self.assertIn(want, r.stderr.strip().splitlines()[-1], (r.args, r.stderr))

    def test_show_depths_checked_before_vgen(self):
        """show.py depths: a depth out of vgen's range or deeper than the model (vgen --info tells), a listed twice,
        a negative seed, a --out in a missing folder: exit 2 before vgen draws anything (it drew depth 16, then
        failed at 0, exit 1 with two lines); a vgen usage error (exit 2) stays exit 2."""
        with tempfile.TemporaryDirectory() as tmp:
            log, vgen = os.path.join(tmp, "log"), os.path.join(tmp, "vgen")
            stand_in(vgen, log, "vgen: built-in demo model on X: depth 16, width 64, heads 1")
            base = ["depths", "--vgen", vgen]
            png = ["--out", os.path.join(tmp, "d.png")]
            cases = ((png + ["--depths", "16,0"], "--depths 16,0: each must be from 1 to 128, not 0"),
                     (png + ["--depths", "8,17"], "the model has 16 layers"),
                     (png + ["--depths", "8,x"], "--depths 8,x: expected whole numbers"),
                     (png + ["--depths", "4,4"], "4 is listed twice"),
                     (png + ["--seed", "-1"], "--seed: expected a whole number from 0 to 18446744073709551615"),
                     (["--out", os.path.join(tmp, "no", "d.png")], "no folder"))
            for r, (argv, want) in zip(run_all([("show.py", base + argv) for argv, _ in cases]), cases):
                self.refused(r, want)
            self.assertEqual(calls(log), [])
            self.assertEqual(sorted(os.listdir(tmp)), ["log", "vgen"])
            stand_in(vgen, log, "vgen: built-in demo model on X: depth 16, width 64, heads 1", code=2)
            r, = run_all([("show.py", base + png + ["--depths", "2", "--", "--cfg", "nan"])])
            self.refused(r, "vgen failed at depth 2 (exit 2)")  # vgen's own line is above it
            self.assertEqual(len(calls(log)), 1)
            self.assertEqual(sorted(os.listdir(tmp)), ["log", "vgen"])

    @unittest.skipUnless(os.path.exists(os.path.join(DEMO, "fd_ref.safetensors")), "no models/demo export")
    def test_variant_table_checked_before_vbench(self):
        """variant_table.py: bad --depths (also deeper than the checkpoint), --stages, --quality, --reps and an --out
        under a file: exit 2 before any conversion or vbench run, and --out's folders are not made; a vbench usage
        error (exit 2) stays 2 and leaves --out unmade too."""
        with tempfile.TemporaryDirectory() as tmp:
            log, vbench = os.path.join(tmp, "log"), os.path.join(tmp, "vbench")
            stand_in(vbench, log)
            out = os.path.join(tmp, "a", "b")
            base = ["--vbench", vbench, "--run", os.path.join(RECIPE, "run")]
            var = ["--stages", "var"]
            with open(os.path.join(tmp, "file"), "w"):
                pass
            o, demo = ["--out", out], ["--demo", DEMO]
            cases = ((var + o + demo + ["--depths", "16,0"], "--depths 16,0: each must be from 1 to 128, not 0"),
                     (var + o + demo + ["--depths", "17,8"], "var.pt has 16 layers"),
                     (o + demo + ["--stages", "var,vqvae"], "--stages var,vqvae: a list of"),
                     (var + o + demo + ["--quality", "100001"], "--quality: expected a whole number from 1 to 100000"),
                     (var + o + demo + ["--reps", "0"], "--reps: expected a whole number from 1 to 1000"),
                     (var + o + ["--demo", tmp], "vae.safetensors: --demo has no such file"),
                     (var + demo + ["--out", os.path.join(tmp, "file", "x")], "is a file, not a folder"))
            rs = run_all([("variant_table.py", base + argv) for argv, _ in cases])
            for r, (argv, want) in zip(rs, cases):
                self.refused(r, want)
            self.assertEqual(calls(log), [])
            self.assertFalse(os.path.exists(os.path.join(tmp, "a")))
            stand_in(vbench, log, code=2)
            r, = run_all([("variant_table.py", base + var + o + demo + ["--depths", "2", "--quality", "1"])])
            self.refused(r, "failed (exit 2)")
            self.assertEqual(len(calls(log)), 1)
            self.assertFalse(os.path.exists(os.path.join(tmp, "a")))

    def test_numbers_out_of_range(self):
        """NaN, infinities, negatives and zero counts where they mean nothing: exit 2 at the command line (prefix_eval.py
        sampled from NaN probabilities with --cfg nan, and --cfg -1 ran)."""
        with tempfile.TemporaryDirectory() as tmp:
            log, vgen = os.path.join(tmp, "log"), os.path.join(tmp, "vgen")
            stand_in(vgen, log)
            clf_file = os.path.join(DEMO, "classifier.safetensors")
            cases = (("prefix_eval.py", ["--classifier", clf_file, "--cfg", "nan"], "--cfg: expected a finite number >= 0"),
                     ("prefix_eval.py", ["--classifier", clf_file, "--cfg", "-1"], "--cfg: expected a finite number >= 0"),
                     ("prefix_eval.py", ["--classifier", clf_file, "--cfg", "inf"], "--cfg: expected a finite number"),
                     ("prefix_eval.py", ["--classifier", clf_file, "--per-class", "0"], "--per-class: expected"),
                     ("evaluate.py", ["--vgen", vgen, "--first-seed", "18446744073709551615", "--seeds", "2"],
                      "the last seed is over vgen's"),
                     ("evaluate.py", ["--vgen", vgen, "--seeds", "+3"], "--seeds: expected a whole number"),
                     ("scale_gap.py", ["--train", "0"], "--train: expected a whole number >= 1"),
                     ("scale_gap.py", ["--held-per-class", "-2"], "--held-per-class: expected a whole number >= 1"),
                     ("train.py", ["var", "--run", tmp, "--seed", "-1"], "--seed: expected a whole number from 0"),
                     ("train.py", ["tokens", "--run", tmp, "--per-class", "1000001"], "--per-class: expected"),
                     ("train.py", ["var", "--run", tmp, "--ckpt-minutes", "inf"], "--ckpt-minutes: expected a finite"),
                     ("train.py", ["all", "--run", tmp, "--out", os.path.join(vgen, "x")], "is a file, not a folder"),
                     ("train.py", ["export", "--run", tmp, "--out", ""], "--out: empty path"),
                     ("train.py", ["export", "--run", tmp, "--out", os.path.join(tmp, "dangling")],
                      "--out %s: a symbolic link to a missing folder" % os.path.join(tmp, "dangling")))
            os.symlink(os.path.join(tmp, "nowhere"), os.path.join(tmp, "dangling"))  # made "File exists", exit 1
            for r, (script, argv, want) in zip(run_all([c[:2] for c in cases]), cases):
                self.refused(r, want)
            self.assertEqual(calls(log), [])
            # no call made the log, no run folder was made
            self.assertEqual(sorted(os.listdir(tmp)), ["dangling", "vgen"])

    def test_classifier_of_another_kind(self):
        """--classifier naming a VAR or VQ-VAE file, a classifier of other shapes, a checkpoint that is not
        safetensors, or a damaged safetensors file: one line naming the file and what it lacks, exit 2, before vgen
        runs or anything is loaded (it was a KeyError traceback after the work)."""
        with tempfile.TemporaryDirectory() as tmp:
            log, vgen = os.path.join(tmp, "log"), os.path.join(tmp, "vgen")
            stand_in(vgen, log)
            small = os.path.join(tmp, "small.safetensors")  # the network for 3 classes
            st_io.write(small, {k: np.zeros(v, np.float32) for k, v in clf.shapes(3).items()})
            bad = os.path.join(tmp, "bad.safetensors")  # a tensor's data past the end of the file
            with open(small, "rb") as f:
                blob = bytearray(f.read())
            with open(bad, "wb") as f:
                f.write(blob[:-8])
            var_pt = os.path.join(RECIPE, "run", "var.pt")
            cases = (("evaluate.py", os.path.join(DEMO, "var.safetensors"), "not a classifier of classifier.py (no tensor conv0.weight"),
                     ("prefix_eval.py", os.path.join(DEMO, "vae.safetensors"), "not a classifier of classifier.py"),
                     ("evaluate.py", small, "fc.weight has shape [3, 64], expected [10, 64]"),
                     ("prefix_eval.py", var_pt, "not a safetensors file"),
                     ("evaluate.py", bad, "not a valid safetensors entry"))
            rs = run_all([(script, ["--classifier", f] + (["--vgen", vgen] if script == "evaluate.py" else
                                                          ["--run", tmp]))
                          for script, f, _ in cases])
            for r, (script, f, want) in zip(rs, cases):
                self.refused(r, want)
                self.assertIn(f, r.stderr)
            self.assertEqual(calls(log), [])
            with self.assertRaises(ValueError):  # the reader itself
                st_io.read(bad)
            # prefix_eval.py: a checkpoint of another stage as --var (a VQ-VAE's): named, not a KeyError
            r, = run_all([("prefix_eval.py", ["--classifier", os.path.join(DEMO, "classifier.safetensors"), "--var",
                                              "vqvae", "--per-class", "1", "--ks", "0"])])
            self.refused(r, "vqvae.pt: not a VAR checkpoint")

    def test_child_usage_error_passed_on(self):
        """A vgen that refuses its arguments (exit 2, bad input) makes evaluate.py exit 2 too; any other failure of
        it is 1."""
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "log")
            for code in (2, 3, 1):
                stand_in(os.path.join(tmp, "vgen%d" % code), log, code=code)
            rs = run_all([("evaluate.py", ["--vgen", os.path.join(tmp, "vgen%d" % c), "--seeds", "1", "--", "--x"])
                          for c in (2, 3, 1)])
            for r, (code, want) in zip(rs, ((2, 2), (3, 1), (1, 1))):
                self.refused(r, "failed (exit %d)" % code, want)

    def test_help_of_every_script(self):
        """--help (and -h) prints each script's or module's usage or description, exit 0 (fd_ref.py, sample.py and
        data.py printed nothing); a module given anything else says it is not a command, exit 2."""
        scripts = sorted(f for f in os.listdir(RECIPE) if f.endswith(".py"))
        rs = run_all([(f, ["--help"]) for f in scripts] + [(f, ["-h"]) for f in ("data.py", "fd_ref.py", "sample.py")] +
                     [(f, ["x"]) for f in ("data.py", "fd_ref.py", "sample.py")])
        for r in rs[:-3]:
            self.assertEqual(r.returncode, 0, (r.args, r.stderr))
            self.assertGreater(len(r.stdout.strip().splitlines()), 1, r.args)
            self.assertEqual(r.stderr, "", r.args)
        for r in rs[-3:]:
            self.refused(r, "not a command")


if __name__ == "__main__":
    unittest.main(verbosity=2)
