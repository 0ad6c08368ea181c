"""Reads a safetensors file into numpy arrays (F32, F16, BF16 widened to float32; integer dtypes kept).
Standard library + numpy: for the recipe's tools and tests (the engine has its own reader in C)."""
import json
import struct

import numpy as np

_INT = {"I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1", "F64": "<f8"}


def read(path):
    """-> dict name -> numpy array (float32 for F32/F16/BF16), in the file's order."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = blob[base + a:base + b]
        dt = e["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, "<f4").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(raw, "<f2").astype(np.float32)
        elif dt == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, _INT[dt]).copy()
        out[name] = arr.reshape(e["shape"])
    return out
