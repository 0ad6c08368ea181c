"""arrangements10: the demo model's procedural, class-conditional image set (numpy only, no download).

Ten classes of disk arrangement that a person tells apart at a glance: one large disk; two disks side by side,
stacked, or on a diagonal; three in a row or a column; three in a triangle; four in a square; a horizontal or a
vertical band. Each image is 256x256 RGB (uint8 [H, W, 3]), flat colours from shapes10's palettes (8 figure
colours on 4 backgrounds, never a low-contrast pair). What varies within a class: the disks' radius (+-15% on
top of each class's range), their spacing, a small rotation (+-0.15 rad), the centre (+-20 px; +-8 px for the
rows and columns of three, which span most of the image) and the colours.

Why arrangements and not shapes: with the demo's budget (a 1.3M-parameter VAR trained for about an hour on two
cores) the VAR learns low-frequency layout, what the 2x2..8x8 scales hold, and not edges: on shapes10 it drew
blobs for every class (31-38% classified as asked); on these classes it drew the arrangements (README, issue 16).

    image(cls, index) -> uint8 [256, 256, 3]: deterministic in (cls, index); independent of numpy's global state
                         (each image has its own Generator, keyed by (SET_SEED, cls, index)).
    batch(classes, indices) -> uint8 [n, 256, 256, 3]
    grid(n_per_class, first_index) -> uint8 [10 * 256, n * 256, 3]

Splits: indices [0, 1e6) are the training set, [1e6, ...) are held out (the classifier's test images).
"""
import numpy as np

import shapes10

SIZE = shapes10.SIZE
SET_SEED = shapes10.SET_SEED
HELD_OUT = 1_000_000
SET_NAME = "arrangements10"
CLASSES = ("one", "pair-h", "pair-v", "pair-d", "row3", "column3", "triangle3", "square4", "band-h", "band-v")

# Disk centres of each arrangement in units of the spacing (x right, y down), before rotation.
UNITS = {"pair-h": ((-1, 0), (1, 0)), "pair-v": ((0, -1), (0, 1)), "pair-d": ((-0.72, 0.72), (0.72, -0.72)),
         "row3": ((-1.6, 0), (0, 0), (1.6, 0)), "column3": ((0, -1.6), (0, 0), (0, 1.6)),
         "triangle3": ((0, -1.3), (-1.3, 0.95), (1.3, 0.95)),
         "square4": ((-1.2, -1.2), (1.2, -1.2), (-1.2, 1.2), (1.2, 1.2))}


def _disks(centres, radius):
    x, y = shapes10.X, shapes10.Y
    m = np.zeros(x.shape, bool)
    for cx, cy in centres:
        m |= np.hypot(x - cx, y - cy) <= radius
    return m


def mask(cls, r):
    """The figure's mask (bool [256, 256]) for class `cls`, its geometry drawn from r (in this order: centre,
    rotation, scale, then the class's own sizes)."""
    name = CLASSES[cls]
    off = 8 if name in ("row3", "column3") else 20
    cx, cy = SIZE / 2 + r.uniform(-off, off), SIZE / 2 + r.uniform(-off, off)
    a = r.uniform(-0.15, 0.15)
    k = r.uniform(0.85, 1.15)
    if name in ("band-h", "band-v"):
        half = r.uniform(28, 44)  # half width, narrower than a pair's disks: a band is not two disks touching
        u, v = shapes10.frame(shapes10.X, shapes10.Y, cx, cy, a)
        return np.abs(v if name == "band-h" else u) <= half
    if name == "one":
        return _disks([(cx, cy)], r.uniform(70, 95))
    radius = (r.uniform(40, 50) if name.startswith("pair") else r.uniform(30, 36)) * k
    step = radius * r.uniform(1.3, 1.5)  # centre to centre of neighbours: 2.6-3.0 radii (a gap of 0.6-1.0 radius)
    ca, sa = np.cos(a), np.sin(a)
    return _disks([(cx + step * (ca * x - sa * y), cy + step * (sa * x + ca * y)) for x, y in UNITS[name]], radius)


def image(cls, index):
    """uint8 [256, 256, 3]: image `index` of class `cls` (see the module docstring)."""
    if not 0 <= cls < len(CLASSES):
        raise ValueError("class %d is not in 0..%d" % (cls, len(CLASSES) - 1))
    r = np.random.Generator(np.random.PCG64([SET_SEED, int(cls), int(index)]))
    fg, bg = shapes10.colours(r)
    return shapes10.paint(mask(cls, r), fg, bg)


def batch(classes, indices):
    """uint8 [n, 256, 256, 3] for parallel lists of classes and indices."""
    return np.stack([image(c, i) for c, i in zip(classes, indices)])


def grid(n_per_class=4, first_index=0):
    """uint8 [10 * 256, n * 256, 3]: one row per class (for looking at the set)."""
    rows = [np.concatenate([image(c, first_index + j) for j in range(n_per_class)], axis=1)
            for c in range(len(CLASSES))]
    return np.concatenate(rows, axis=0)


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
