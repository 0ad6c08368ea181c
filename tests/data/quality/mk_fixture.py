#!/usr/bin/python3
"""Writes the quality fixture of test_quality.c and test_vbench.sh (numpy only; run from anywhere):

    /usr/bin/python3 tests/data/quality/mk_fixture.py

  classifier.safetensors  a classifier of models/recipe/classifier.py's shapes with random weights (He-normal,
                          seed 17), stored BF16 like the recipe's export
  fd_ref.safetensors      its reference statistics in the export's format (models/recipe/fd_ref.py), over 2 real
                          images per class
  img0..2.png             three held-out shapes10 images (classes 0, 5, 9)
  expected.safetensors    F32: logits [3, 10] and features [3, 64] of those images by classifier.numpy_forward
                          on the BF16-rounded weights; feats_a [40, 64], feats_b [30, 64] (random, correlated) and
                          fd [1], their Frechet distance by fd_ref.frechet (numpy.linalg.eigh)
"""
import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "models", "recipe"))
import classifier as clf  # noqa: E402
import data  # noqa: E402
import fd_ref  # noqa: E402
import st_io  # noqa: E402


def png(path, rgb):
    """8-bit RGB [H, W, 3] as PNG (zlib from the standard library)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    r = np.random.default_rng(17)
    w = {}
    ch = clf.CHANNELS
    for i in range(4):
        w["conv%d.weight" % i] = (r.standard_normal((ch[i + 1], ch[i], 3, 3)) * np.sqrt(2.0 / (9 * ch[i])))
        w["conv%d.bias" % i] = r.standard_normal(ch[i + 1]) * 0.05
    w["fc.weight"] = r.standard_normal((10, ch[-1])) * np.sqrt(1.0 / ch[-1])
    w["fc.bias"] = r.standard_normal(10) * 0.05
    w = {k: v.astype(np.float32) for k, v in w.items()}
    path = os.path.join(HERE, "classifier.safetensors")
    st_io.write(path, w, {"what": "random-weight test classifier (tests/data/quality/mk_fixture.py, seed 17)"},
                dtype="BF16")
    w = st_io.read(path)  # the BF16-rounded values, as the engine reads them
    fd_ref.write(os.path.join(HERE, "fd_ref.safetensors"), w, per_class=2, pose="any")
    imgs = np.stack([data.image(c, data.HELD_OUT + 7) for c in (0, 5, 9)])
    for i, im in enumerate(imgs):
        png(os.path.join(HERE, "img%d.png" % i), im)
    logits, feats = clf.numpy_forward(w, clf.downsample(imgs))
    base = r.standard_normal((64, 64)).astype(np.float32) * 0.3
    fa = (r.standard_normal((40, 64)) @ base + 0.5).astype(np.float32)
    fb = (r.standard_normal((30, 64)) @ (base + 0.1 * r.standard_normal((64, 64))) + 0.3).astype(np.float32)
    ma, sa = fd_ref.moments(fa)
    mb, sb = fd_ref.moments(fb)
    fd = fd_ref.frechet(ma, sa, mb, sb)
    st_io.write(os.path.join(HERE, "expected.safetensors"),
                {"logits": logits, "features": feats, "feats_a": fa, "feats_b": fb, "fd": np.array([fd])})
    print("fixture written: fd %.6f, logits[0] %s" % (fd, np.round(logits[0], 3)))


if __name__ == "__main__":
    main()
