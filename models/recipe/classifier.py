"""The demo set's image classifier: how varcl measures the quality of generated images (class accuracy, and the
Frechet distance of its penultimate features).

A small CNN on 64x64 inputs (the 256 px image area-averaged 4x4): four 3x3 conv + ReLU + 2x2 max-pool stages
(3 -> 16 -> 32 -> 64 -> 64 channels, 64 -> 4 px), global average pool (features [B, 64]), linear -> 10 logits.
Inputs are [B, 3, 64, 64] floats in [0, 1] (channels first). Names: conv{0..3}.{weight,bias}, fc.{weight,bias}.

`numpy_forward` is the same network in numpy alone, for tests and tools without torch.
"""
import numpy as np

CHANNELS = (3, 16, 32, 64, 64)
SIDE = 64


def downsample(u8):
    """uint8 [B, 256, 256, 3] -> float32 [B, 3, 64, 64] in [0, 1] (4x4 box mean)."""
    u8 = np.asarray(u8)
    b, h, w, _ = u8.shape
    f = u8.reshape(b, SIDE, h // SIDE, SIDE, w // SIDE, 3).astype(np.float32).mean(axis=(2, 4)) / 255.0
    return np.ascontiguousarray(f.transpose(0, 3, 1, 2))


def build():
    import torch.nn as nn

    class Classifier(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            for i in range(4):
                setattr(self, "conv%d" % i, nn.Conv2d(CHANNELS[i], CHANNELS[i + 1], 3, 1, 1))
            self.fc = nn.Linear(CHANNELS[-1], classes)

        def features(self, x):
            import torch.nn.functional as F
            for i in range(4):
                x = F.max_pool2d(F.relu(getattr(self, "conv%d" % i)(x)), 2)
            return x.mean((2, 3))

        def forward(self, x):
            return self.fc(self.features(x))

    return Classifier()


def _conv3x3(x, w, b):
    """x [B, Cin, H, W], w [Cout, Cin, 3, 3] -> [B, Cout, H, W] (zero padding 1)."""
    bsz, cin, h, wd = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([p[:, :, dy:dy + h, dx:dx + wd] for dy in range(3) for dx in range(3)], axis=2)  # B,Cin,9,H,W
    out = np.einsum("bckhw,ock->bohw", cols, w.reshape(w.shape[0], cin, 9), optimize=True)
    return out + b[None, :, None, None]


def shapes(classes=10):
    """name -> shape of every tensor the network has (classes outputs)."""
    out = {}
    for i in range(4):
        out["conv%d.weight" % i] = (CHANNELS[i + 1], CHANNELS[i], 3, 3)
        out["conv%d.bias" % i] = (CHANNELS[i + 1],)
    out["fc.weight"], out["fc.bias"] = (classes, CHANNELS[-1]), (classes,)
    return out


def check(weights, path, classes=10):
    """Raises ValueError (one line naming path and what it lacks) unless weights (st_io.read of path) are this
    network's with `classes` outputs: a VAR or VQ-VAE file given as --classifier ended in KeyError 'conv0.weight'
    after the work. -> weights."""
    for name, shape in shapes(classes).items():
        if name not in weights:
            raise ValueError("%s: not a classifier of classifier.py (no tensor %s; expected conv0..3 and fc, as "
                             "models/demo/classifier.safetensors)" % (path, name))
        if tuple(weights[name].shape) != shape:
            raise ValueError("%s: %s has shape %s, expected %s (classifier.py's network for %d classes)" % (
                path, name, list(weights[name].shape), list(shape), classes))
        if not np.issubdtype(weights[name].dtype, np.floating) or not np.isfinite(weights[name]).all():
            raise ValueError("%s: %s is not all finite floating-point numbers" % (path, name))
    return weights


def numpy_forward(weights, x):
    """weights: name -> float32 array; x float32 [B, 3, 64, 64] -> (logits [B, 10], features [B, 64])."""
    for i in range(4):
        x = np.maximum(_conv3x3(x, weights["conv%d.weight" % i], weights["conv%d.bias" % i]), 0)
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    feats = x.mean(axis=(2, 3))
    return feats @ weights["fc.weight"].T + weights["fc.bias"], feats


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
