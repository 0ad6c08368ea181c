"""The reference statistics of the Frechet distance that `vbench --quality` reports: the demo classifier's
penultimate features (classifier.py: the global average pool, [64]) over a fixed set of real images of the class set (data.py),
as mean mu [64] and covariance sigma [64, 64] (unbiased: divided by n - 1, as numpy.cov), stored in F32.

The set: images 0 .. per_class - 1 of every class of the training split (data.image(cls, i), i < data.HELD_OUT),
100 per class by default.
The features come from the classifier's weights as exported (16-bit), so that the
engine, which runs the exported file, and this reference measure with the same network.

    stats(weights, per_class)       -> dict of arrays and metadata
    write(path, weights, per_class) -> writes fd_ref.safetensors (F32 tensors "mu", "sigma"; metadata below)
    frechet(mu1, s1, mu2, s2)       -> FD = |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr((s1^1/2 s2 s1^1/2)^1/2),
                                       numpy.linalg.eigh only (scipy may be absent); the engine's host/frechet.c
                                       computes the same through LAPACK

Metadata (strings, safetensors' __metadata__): format "varcl-fd-ref/1", features "64", images (total), per_class,
split "train", first_index "0", set (data.SET_NAME), set_seed, classes (comma-separated), and two figures measured here with the
same classifier: accuracy_ref (its accuracy on the reference images) and fd_held_out (FD between the reference and as
many held-out real images: the floor an ideal generator reaches with this many images).
"""
import numpy as np

import classifier as clf
import data
import st_io

FORMAT = "varcl-fd-ref/1"
PER_CLASS = 100
CHUNK = 50  # images per numpy_forward call: bounds host memory (the first conv's patches are ~6 MB per image)


def features(weights, classes, indices):
    """Classifier (logits [n, 10], features [n, 64]) of the class set's images (classes[i], indices[i])."""
    logits, feats = [], []
    for s in range(0, len(classes), CHUNK):
        x = clf.downsample(data.batch(classes[s:s + CHUNK], indices[s:s + CHUNK]))
        lo, fe = clf.numpy_forward(weights, x)
        logits.append(lo)
        feats.append(fe)
    return np.concatenate(logits).astype(np.float32), np.concatenate(feats).astype(np.float64)


def moments(feats):
    """Mean [d] and unbiased covariance [d, d] of features [n, d] (n >= 2), in float64."""
    feats = np.asarray(feats, np.float64)
    if feats.shape[0] < 2:
        raise ValueError("covariance needs at least 2 images, got %d" % feats.shape[0])
    return feats.mean(axis=0), np.cov(feats, rowvar=False, ddof=1)


def _sqrt_psd(s):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clamped at 0: rounding)."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet(mu1, s1, mu2, s2):
    """Frechet distance between the Gaussians (mu1, s1) and (mu2, s2); >= 0 (clamped: rounding)."""
    mu1, mu2, s1, s2 = (np.asarray(a, np.float64) for a in (mu1, mu2, s1, s2))
    r = _sqrt_psd(s1)
    m = r @ s2 @ r
    w = np.linalg.eigvalsh((m + m.T) / 2)
    fd = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(w, 0, None)).sum())
    return max(fd, 0.0)


def stats(weights, per_class=PER_CLASS):
    """The reference statistics and their metadata from classifier weights (name -> float32 array)."""
    if per_class < 1:
        raise ValueError("per_class must be >= 1")
    n_cls = len(data.CLASSES)
    cls = [c for c in range(n_cls) for _ in range(per_class)]
    idx = [i for _ in range(n_cls) for i in range(per_class)]
    logits, feats = features(weights, cls, idx)
    mu, sigma = moments(feats)
    held = [data.HELD_OUT + i for i in idx]
    _, feats_h = features(weights, cls, held)
    mu_h, sigma_h = moments(feats_h)
    meta = {"format": FORMAT, "features": str(feats.shape[1]), "images": str(len(cls)), "per_class": str(per_class),
            "split": "train", "first_index": "0", "set": data.SET_NAME, "set_seed": str(data.SET_SEED),
            "classes": ",".join(data.CLASSES),
            "accuracy_ref": "%.4f" % float((logits.argmax(1) == np.array(cls)).mean()),
            "fd_held_out": "%.6f" % frechet(mu_h, sigma_h, mu, sigma)}
    return {"mu": mu.astype(np.float32), "sigma": sigma.astype(np.float32), "meta": meta}


def write(path, weights, per_class=PER_CLASS):
    """Computes stats() and writes them as F32 safetensors to path (through a temporary file). -> the stats."""
    s = stats(weights, per_class)
    st_io.write(path, {"mu": s["mu"], "sigma": s["sigma"]}, s["meta"])
    return s


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
