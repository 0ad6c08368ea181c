"""shapes10: the VQ-VAE's training images, procedural (numpy only, no download).

Ten kinds of figure (disk, square, triangle, ring, cross, star, stripes, checkerboard, dots, house), each anywhere
in the image at any rotation and half size 55-100 px, in 8 figure colours on 4 backgrounds: a broader set than the
demo's class set (data.py), as upstream's VQ-VAE learned OpenImages and its VAR ImageNet. The committed VQ-VAE
(models/recipe/run/vqvae*.pt) learned these images: tests pin them by checksum.

    image(kind, index) -> uint8 [256, 256, 3]: deterministic in (kind, index); independent of numpy's global state
                          (each image has its own Generator, keyed by (SET_SEED, kind, index)).
    batch(kinds, indices) -> uint8 [n, 256, 256, 3]

The palettes (FIGURE, BACKGROUND, colours) are shared with data.py.
"""
import numpy as np

SIZE = 256
SET_SEED = 20261130
KINDS = ("disk", "square", "triangle", "ring", "cross", "star", "stripes", "checkerboard", "dots", "house")


def _rng(kind, index):
    return np.random.Generator(np.random.PCG64([SET_SEED, int(kind), int(index)]))


# Figure colours (saturated) and background colours (RGB in [0, 1]). A palette, not a continuum: colour still
# varies from image to image (8 x 4 combinations, minus the low-contrast ones), but the first scales' tokens have
# few values to choose from, which a VAR of 1.3M parameters trained for an hour can learn.
FIGURE = ((0.90, 0.15, 0.10), (1.00, 0.55, 0.00), (0.95, 0.85, 0.10), (0.20, 0.75, 0.20),
          (0.10, 0.75, 0.85), (0.15, 0.30, 0.90), (0.55, 0.20, 0.80), (0.90, 0.20, 0.60))
BACKGROUND = ((0.08, 0.08, 0.10), (0.22, 0.26, 0.32), (0.96, 0.96, 0.94), (0.95, 0.90, 0.75))
LIGHT_FIGURES = (2, 4)  # yellow and cyan: only on the two dark backgrounds


def colours(r):
    """(figure, background): RGB float arrays [3] from the palettes, never a low-contrast pair."""
    f = int(r.integers(len(FIGURE)))
    b = int(r.integers(2)) if f in LIGHT_FIGURES else int(r.integers(len(BACKGROUND)))
    return np.array(FIGURE[f]), np.array(BACKGROUND[b])


def _grid():
    c = (np.arange(SIZE, dtype=np.float32) + 0.5)
    return np.meshgrid(c, c, indexing="xy")  # x, y: [256, 256] pixel centres


X, Y = _grid()  # pixel centres, shared with data.py


def frame(x, y, cx, cy, a):
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


def mask(kind, r):
    """The figure's mask (bool [256, 256]) for figure `kind` (an index into KINDS), its geometry drawn from r."""
    name = KINDS[kind]
    if name in ("stripes", "checkerboard", "dots"):
        a = r.uniform(0, np.pi) if name == "stripes" else r.uniform(-0.3, 0.3)
        u, v = frame(X, Y, r.uniform(0, SIZE), r.uniform(0, SIZE), a)
        if name == "stripes":
            period = r.uniform(40, 72)
            return (v % period) < period * r.uniform(0.4, 0.6)
        if name == "checkerboard":
            cell = r.uniform(36, 64)
            return (np.floor(u / cell) + np.floor(v / cell)) % 2 == 0
        gap = r.uniform(48, 72)
        du, dv = (u % gap) - gap / 2, (v % gap) - gap / 2
        return np.hypot(du, dv) < gap * r.uniform(0.25, 0.33)
    s = r.uniform(55, 100)  # half size of the figure
    m = SIZE / 2 - s * 0.8
    cx, cy = r.uniform(SIZE / 2 - m, SIZE / 2 + m), r.uniform(SIZE / 2 - m, SIZE / 2 + m)
    a = r.uniform(0, 2 * np.pi)
    u, v = frame(X, Y, cx, cy, a)
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
        u, v = frame(X, Y, cx, cy, r.uniform(-0.15, 0.15))
        body = (np.abs(u) <= s * 0.7) & (v >= -s * 0.1) & (v <= s * 0.9)
        roof = _polygon(u, v, [(-s * 0.95, -s * 0.1), (s * 0.95, -s * 0.1), (0.0, -s * 0.95)][::-1])
        return body | roof
    raise ValueError("kind %d" % kind)


def paint(m, fg, bg):
    """uint8 [256, 256, 3]: flat colour fg (RGB in [0, 1]) where the mask m is set, bg elsewhere; no gradient, no
    pixel noise (both sets' images)."""
    return (np.clip(np.where(m[..., None], fg, bg), 0, 1) * 255 + 0.5).astype(np.uint8)


def image(kind, index):
    """uint8 [256, 256, 3]: image `index` of figure `kind` (KINDS)."""
    if not 0 <= kind < len(KINDS):
        raise ValueError("kind %d is not in 0..%d" % (kind, len(KINDS) - 1))
    r = _rng(kind, index)
    fg, bg = colours(r)
    m = mask(kind, r)
    return paint(m, fg, bg)


def batch(kinds, indices):
    """uint8 [n, 256, 256, 3] for parallel lists of kinds and indices."""
    return np.stack([image(c, i) for c, i in zip(kinds, indices)])


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
