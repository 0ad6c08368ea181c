#!/usr/bin/env python3
"""test_vgen_npz: the .npz of a vgen --per-class job, read with numpy as the guided-diffusion evaluator reads it.

np.load must give arr_0 uint8 [n, H, W, 3] in class-major order (image k of the i-th listed class at i * N + k) and
arr_1 int64 [n] labels; each arr_0[g] must be exactly the pixels of that image's PNG, decoded here with the standard
library (zlib and the PNG filters), independently of vgen's libpng. Exit 77 (skipped) when numpy is missing.
Env: VGEN (the binary)."""
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

try:
    import numpy as np
except ImportError:
    print("test_vgen_npz: numpy is not installed: skipped")
    sys.exit(77)


def read_png(path):
    """8-bit RGB, non-interlaced PNG (what vgen writes) -> numpy uint8 [H, W, 3]."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", path
    at, idat, hdr = 8, b"", None
    while at < len(raw):
        n, kind = struct.unpack(">I4s", raw[at:at + 8])
        body = raw[at + 8:at + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    w, h, depth, colour, _, _, interlace = hdr
    assert depth == 8 and colour == 2 and interlace == 0, (path, hdr)
    data, stride, bpp = zlib.decompress(idat), w * 3, 3
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = data[y * (stride + 1)]
        line = np.frombuffer(data, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:  # sub, average, paeth depend on the pixel to the left: byte by byte
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) >> 1
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[x] = (line[x] + p) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, 3).astype(np.uint8)


def main():
    vgen = os.environ.get("VGEN")
    if not vgen:
        print("set VGEN to the vgen binary", file=sys.stderr)
        return 1
    classes, per_class = [7, 2, 5], 2  # not sorted: the order is the list's
    with tempfile.TemporaryDirectory() as tmp:
        out, npz = os.path.join(tmp, "job"), os.path.join(tmp, "samples.npz")
        subprocess.run([vgen, "-q", "--per-class", str(per_class), "--class", ",".join(map(str, classes)),
                        "--depth", "2", "--batch", "4", "--out-dir", out, "--npz", npz], check=True)
        z = np.load(npz)
        assert sorted(z.files) == ["arr_0", "arr_1"], z.files
        a, labels = z["arr_0"], z["arr_1"]
        n = len(classes) * per_class
        assert a.dtype == np.uint8 and a.ndim == 4 and a.shape[0] == n and a.shape[3] == 3, (a.dtype, a.shape)
        assert a.shape[1] == a.shape[2], a.shape
        assert labels.dtype == np.int64 and labels.tolist() == [c for c in classes for _ in range(per_class)], labels
        for g in range(n):
            c, k = classes[g // per_class], g % per_class
            png = read_png(os.path.join(out, "class%04d_%05d.png" % (c, k)))
            assert np.array_equal(a[g], png), "arr_0[%d] is not class%04d_%05d.png" % (g, c, k)
        assert len({a[g].tobytes() for g in range(n)}) == n, "two images are the same"
        # the archive itself: stored entries whose CRC-32 checks (zipfile verifies it on read)
        with zipfile.ZipFile(npz) as zf:
            assert zf.testzip() is None
            assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    print("test_vgen_npz: arr_0 %s uint8 and arr_1 labels match the PNG files in class-major order" % (a.shape,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
