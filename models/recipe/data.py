"""shapes10: the demo model's procedural, class-conditional image set (numpy only, no download).

Ten classes that a person tells apart at a glance. Each image is 256x256 RGB (uint8, [H, W, 3]); what varies
within a class is position, size, rotation, the colours of figure and background (from two palettes) and
stripe/cell/dot spacing, so the model has to learn the shape, not a picture.

    image(cls, index, pose="any") -> uint8 [256, 256, 3]: deterministic in (cls, index, pose); independent of
                              numpy's global state (each image has its own Generator, keyed by (SET_SEED, cls, index)).
    batch(classes, indices, pose="any") -> uint8 [n, 256, 256, 3]

Poses (POSES): "any" is the whole set (the VQ-VAE's and the classifier's training images, and the committed VAR's);
"demo" is an easier part of it for the VAR (train.py --var-pose demo): large upright figures near the centre, in 4
figure colours on 2 backgrounds (see mask and _colours).

Splits: indices [0, 1e6) are the training set, [1e6, ...) are held out (the classifier's test images).
"""
import numpy as np

SIZE = 256
SET_SEED = 20261130
HELD_OUT = 1_000_000
CLASSES = ("disk", "square", "triangle", "ring", "cross", "star", "stripes", "checkerboard", "dots", "house")


def _rng(cls, index):
    return np.random.Generator(np.random.PCG64([SET_SEED, int(cls), int(index)]))


# Figure colours (saturated) and background colours (RGB in [0, 1]). A palette, not a continuum: colour still
# varies from image to image (8 x 4 combinations, minus the low-contrast ones), but the first scales' tokens have
# few values to choose from, which a VAR of 1.3M parameters trained for an hour can learn.
FIGURE = ((0.90, 0.15, 0.10), (1.00, 0.55, 0.00), (0.95, 0.85, 0.10), (0.20, 0.75, 0.20),
          (0.10, 0.75, 0.85), (0.15, 0.30, 0.90), (0.55, 0.20, 0.80), (0.90, 0.20, 0.60))
BACKGROUND = ((0.08, 0.08, 0.10), (0.22, 0.26, 0.32), (0.96, 0.96, 0.94), (0.95, 0.90, 0.75))
LIGHT_FIGURES = (2, 4)  # yellow and cyan: only on the two dark backgrounds


# The demo pose's colours: 4 figure colours (red, green, blue, magenta) on 2 backgrounds (near-black, cream).
DEMO_FIGURE, DEMO_BACKGROUND = (0, 3, 5, 7), (0, 3)


def _colours(r, pose="any"):
    """(figure, background): RGB float arrays [3] from the palettes, never a low-contrast pair."""
    if pose == "demo":
        f, b = DEMO_FIGURE[int(r.integers(len(DEMO_FIGURE)))], DEMO_BACKGROUND[int(r.integers(len(DEMO_BACKGROUND)))]
        return np.array(FIGURE[f]), np.array(BACKGROUND[b])
    f = int(r.integers(len(FIGURE)))
    b = int(r.integers(2)) if f in LIGHT_FIGURES else int(r.integers(len(BACKGROUND)))
    return np.array(FIGURE[f]), np.array(BACKGROUND[b])


def _grid():
    c = (np.arange(SIZE, dtype=np.float32) + 0.5)
    return np.meshgrid(c, c, indexing="xy")  # x, y: [256, 256] pixel centres


_X, _Y = _grid()


def _rot(x, y, cx, cy, a):
    """Coordinates relative to (cx, cy), rotated by -a: shapes are drawn in their own frame."""
    dx, dy = x - cx, y - cy
    ca, sa = np.cos(a), np.sin(a)
    return ca * dx + sa * dy, -sa * dx + ca * dy


def _polygon(u, v, pts):
    """Inside test of a convex polygon (counter-clockwise points in the (u, v) frame)."""
    inside = np.ones(u.shape, bool)
    n = len(pts)
    for i in range(n):
        (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % n]
        inside &= (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0
    return inside


def _star_mask(u, v, r_out, r_in):
    ang = np.arctan2(v, u) + np.pi / 2
    rad = np.hypot(u, v)
    sector = (ang % (2 * np.pi / 5)) / (2 * np.pi / 5)  # 0..1 within one point's sector
    # boundary radius: linear between tip (r_out at 0) and notch (r_in at 0.5), symmetric
    t = np.abs(sector - 0.5) * 2  # 1 at tips, 0 at notches
    # exact star edge: straight line from tip to notch in polar form, close enough for 16 px tokens
    edge = r_in + (r_out - r_in) * t ** 1.6
    return rad <= edge


# The figures' poses. "any": half size 55-100 px, anywhere the figure fits, any rotation (the set the VQ-VAE and the
# classifier learn from: everything a generated image might show). "demo": an easier set for the VAR (train.py
# --var-pose demo): large (half size 85-100), upright, within 16 px of the centre, so that the class already shows
# on the coarse scales (4x4-6x6 tokens), in fewer colours (DEMO_FIGURE x DEMO_BACKGROUND); textures as in "any".
# Both draw from the same generator, so "any" images are the same as before "demo" existed.
POSES = ("any", "demo")
UPRIGHT = {"triangle": np.pi}  # angle that stands the figure on its base; every other figure is upright at 0


def mask(cls, r, pose="any"):
    """The figure's mask (bool [256, 256]) for class `cls` in `pose` (POSES), with its geometry drawn from r."""
    name = CLASSES[cls]
    if pose not in POSES:
        raise ValueError("pose %r is not one of %s" % (pose, ", ".join(POSES)))
    if name in ("stripes", "checkerboard", "dots"):
        a = r.uniform(0, np.pi) if name == "stripes" else r.uniform(-0.3, 0.3)
        u, v = _rot(_X, _Y, r.uniform(0, SIZE), r.uniform(0, SIZE), a)
        if name == "stripes":
            period = r.uniform(40, 72)
            return (v % period) < period * r.uniform(0.4, 0.6)
        if name == "checkerboard":
            cell = r.uniform(36, 64)
            return (np.floor(u / cell) + np.floor(v / cell)) % 2 == 0
        gap = r.uniform(48, 72)
        du, dv = (u % gap) - gap / 2, (v % gap) - gap / 2
        return np.hypot(du, dv) < gap * r.uniform(0.25, 0.33)
    if pose == "demo":
        s = r.uniform(85, 100)
        cx, cy = SIZE / 2 + r.uniform(-16, 16), SIZE / 2 + r.uniform(-16, 16)
        a = UPRIGHT.get(name, 0.0)
    else:
        s = r.uniform(55, 100)  # half size of the figure
        m = SIZE / 2 - s * 0.8
        cx, cy = r.uniform(SIZE / 2 - m, SIZE / 2 + m), r.uniform(SIZE / 2 - m, SIZE / 2 + m)
        a = r.uniform(0, 2 * np.pi)
    u, v = _rot(_X, _Y, cx, cy, a)
    if name == "disk":
        return np.hypot(u, v) <= s
    if name == "ring":
        rad = np.hypot(u, v)
        return (rad <= s) & (rad >= s * r.uniform(0.5, 0.65))
    if name == "square":
        return (np.abs(u) <= s * 0.85) & (np.abs(v) <= s * 0.85)
    if name == "triangle":
        pts = [(s * np.cos(t), s * np.sin(t)) for t in (np.pi / 2 + k * 2 * np.pi / 3 for k in range(3))]
        return _polygon(u, v, pts)
    if name == "cross":
        w = s * r.uniform(0.3, 0.4)
        return ((np.abs(u) <= s) & (np.abs(v) <= w)) | ((np.abs(v) <= s) & (np.abs(u) <= w))
    if name == "star":
        return _star_mask(u, v, s * 1.1, s * 0.45)
    if name == "house":  # upright: a body and a roof, only a slight tilt
        u, v = _rot(_X, _Y, cx, cy, r.uniform(-0.15, 0.15))
        body = (np.abs(u) <= s * 0.7) & (v >= -s * 0.1) & (v <= s * 0.9)
        roof = _polygon(u, v, [(-s * 0.95, -s * 0.1), (s * 0.95, -s * 0.1), (0.0, -s * 0.95)][::-1])
        return body | roof
    raise ValueError("class %d" % cls)


def image(cls, index, pose="any"):
    """uint8 [256, 256, 3]: image `index` of class `cls` in `pose` (see the module docstring and POSES)."""
    if not 0 <= cls < len(CLASSES):
        raise ValueError("class %d is not in 0..%d" % (cls, len(CLASSES) - 1))
    r = _rng(cls, index)
    fg, bg = _colours(r, pose)
    m = mask(cls, r, pose)
    img = np.where(m[..., None], fg, bg)  # flat colours: no gradient, no pixel noise
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def batch(classes, indices, pose="any"):
    """uint8 [n, 256, 256, 3] for parallel lists of classes and indices."""
    return np.stack([image(c, i, pose) for c, i in zip(classes, indices)])


def grid(n_per_class=4, first_index=0, pose="any"):
    """uint8 [10 * 256, n * 256, 3]: one row per class (for looking at the set)."""
    rows = [np.concatenate([image(c, first_index + j, pose) for j in range(n_per_class)], axis=1)
            for c in range(len(CLASSES))]
    return np.concatenate(rows, axis=0)
