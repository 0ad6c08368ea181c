"""Reads a safetensors file into numpy arrays (F32, F16, BF16 widened to float32; integer dtypes kept), and writes
float32 arrays as F32 safetensors. Standard library + numpy: for the recipe's tools and tests (the engine has its
own reader in C)."""
import json
import os
import struct

import numpy as np

_INT = {"I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1", "F64": "<f8"}


def read(path):
    """-> dict name -> numpy array (float32 for F32/F16/BF16), in the file's order."""
    with open(path, "rb") as f:
        blob = f.read()
    try:  # a .pt (zip) or any other file: one clear error, not the JSON decoder's
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
        if not isinstance(header, dict):
            raise ValueError
    except (struct.error, ValueError, UnicodeDecodeError):
        raise ValueError("%s: not a safetensors file" % path) from None
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        out[name] = _tensor(path, name, e, blob, base)
    return out


_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F64": 8}


def _tensor(path, name, e, blob, base):
    """One tensor of the header: entry e checked (a known dtype, a shape of whole numbers, offsets inside the file
    that hold exactly that many elements) before it is read, so that a damaged or foreign file is one ValueError
    naming path and tensor, not a KeyError or numpy's reshape error."""
    try:
        dt, shape, (a, b) = e["dtype"], e["shape"], e["data_offsets"]
        ok = (dt in _SIZE and isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape) and
              type(a) is int and type(b) is int and 0 <= a <= b <= len(blob) - base and
              b - a == _SIZE[dt] * int(np.prod(shape, dtype=object)))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError("%s: tensor %s: not a valid safetensors entry (dtype, shape and data_offsets)" % (path, name))
    raw = blob[base + a:base + b]
    if dt == "F32":
        arr = np.frombuffer(raw, "<f4").astype(np.float32)
    elif dt == "F16":
        arr = np.frombuffer(raw, "<f2").astype(np.float32)
    elif dt == "BF16":
        arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        arr = np.frombuffer(raw, _INT[dt]).copy()
    return arr.reshape(shape)


def metadata(path):
    """-> the file's __metadata__ (dict of strings; {} when it has none)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {})


def bf16_bits(a):
    """float32 array -> uint16 bfloat16 bits, rounded to nearest even (as torch; finite values)."""
    u = np.ascontiguousarray(a, dtype="<f4").view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def write(path, tensors, meta=None, dtype="F32"):
    """Writes name -> array (stored as little-endian F32, or BF16 rounded to nearest even; in the dict's order)
    and optional string metadata to path, through a temporary file renamed into place (no half-written file)."""
    if dtype not in ("F32", "BF16"):
        raise ValueError("dtype must be F32 or BF16")
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    for name, a in tensors.items():
        b = (bf16_bits(a) if dtype == "BF16" else np.ascontiguousarray(a, dtype="<f4")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(a)), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the data starts 8-byte aligned
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
