#!/usr/bin/python3
"""convert.py: a PyTorch checkpoint (.pth) to a .safetensors file that vgen reads, without torch.

    /usr/bin/python3 models/convert.py IN.pth OUT.safetensors [--dtype keep|f32|f16|bf16] [--key PATH] [-q]

Needs only the Python standard library and numpy (Debian: python3-numpy).

What it reads:
  - torch.save's zip format (torch >= 1.6): PREFIX/data.pkl plus one PREFIX/data/<key> file per storage;
  - torch.save's legacy format (_use_new_zipfile_serialization=False): magic, protocol, sys_info, the pickled
    object, the storage key list, then each storage as an int64 element count and its raw bytes.
The pickle is read by a restricted unpickler: the only globals it resolves are the few that rebuild tensors and
state dicts (RESOLVED below), each mapped to a function of this file. Any other global (os.system, builtins.eval,
a model class, numpy) stops the conversion before anything is called, so a hostile file cannot run code.

Which tensors: the object itself when it is a dict of tensors (the released var_d*.pth / vae_*.pth), otherwise a
dict of tensors nested inside it: user checkpoints of VAR's train.py hold {"trainer": {"var_wo_ddp": ...,
"vae_local": ..., "var_opt": ...}, "args": ...}; others use "state_dict", "model", "module". --key picks one
by its path (e.g. --key trainer.vae_local). Wrapper prefixes shared by every key ("module.", "_orig_mod.",
"_fsdp_wrapped_module.", "_checkpoint_wrapped_module.") are removed, in any order and nesting.

Tensors are written contiguous, in the checkpoint's key order, with the same names; views (transposed, sliced,
expanded, sharing a storage) are materialised. --dtype keep (default) keeps each dtype; f32, f16 or bf16
convert floating-point tensors (round to nearest even; float64 goes through float32 as torch does) and keep
integer and bool ones (lvl_1L stays I64; vgen ignores tensors it does not use). A finite value that would
become inf in f16 or bf16 stops the conversion (exit 2), naming the tensor.

Exit status: 0 done; 2 bad usage or input (not a checkpoint, refused global, damaged file, no tensor dict), with
one line on stderr; 1 a write failure. The output is written to a temporary name and renamed (an existing device or
FIFO, e.g. /dev/null, is written in place); an output that is the input is refused.
"""
import errno
import json
import os
import pickle
import struct
import sys
import zipfile

try:
    import numpy as np
except ImportError:  # pragma: no cover - reported as a usage error
    np = None

# Names that say a format other than safetensors: host/outfile.c vo_other_format's list, which vgen, vbench and
# mkmodel refuse outputs by (--var x.txt, -o x.jpg); an output named so got safetensors bytes.
OTHER_FORMATS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "ppm", "pgm", "avif", "heic", "json",
                 "npz", "npy", "safetensors", "pth", "pt", "ckpt", "bin", "onnx", "gguf", "h5", "ini", "csv", "txt",
                 "md", "html", "htm", "svg", "zip")

PROG = "convert.py"


class BadInput(Exception):
    """The input is not a checkpoint this converter accepts; the message says why."""


class WriteError(Exception):
    """The output could not be written."""


# ---------------------------------------------------------------------------------------------------------------
# dtypes: torch storage class name -> (safetensors dtype, numpy dtype of the raw elements)
# BFloat16 has no numpy type: its elements are handled as uint16 bit patterns.
STORAGE_DTYPES = {
    "FloatStorage": ("F32", "f4"),
    "DoubleStorage": ("F64", "f8"),
    "HalfStorage": ("F16", "f2"),
    "BFloat16Storage": ("BF16", "u2"),
    "LongStorage": ("I64", "i8"),
    "IntStorage": ("I32", "i4"),
    "ShortStorage": ("I16", "i2"),
    "CharStorage": ("I8", "i1"),
    "ByteStorage": ("U8", "u1"),
    "BoolStorage": ("BOOL", "u1"),
}
# torch dtype objects (torch >= 2 pickles some of these, e.g. in _rebuild_tensor_v3)
TORCH_DTYPES = {
    "float32": "F32", "float": "F32", "float64": "F64", "double": "F64", "float16": "F16", "half": "F16",
    "bfloat16": "BF16", "int64": "I64", "long": "I64", "int32": "I32", "int": "I32", "int16": "I16",
    "short": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}
ST_NUMPY = {"F32": "f4", "F64": "f8", "F16": "f2", "BF16": "u2", "I64": "i8", "I32": "i4", "I16": "i2",
            "I8": "i1", "U8": "u1", "BOOL": "u1"}
FLOAT_DTYPES = ("F32", "F64", "F16", "BF16")


class StorageType:
    """Stands for a torch storage class (torch.FloatStorage, ...) or a torch dtype in the pickle."""
    __slots__ = ("name", "st_dtype")

    def __init__(self, name, st_dtype):
        self.name, self.st_dtype = name, st_dtype

    def __reduce__(self):
        raise TypeError("not picklable")


class Storage:
    """One storage of the checkpoint: where its bytes are, its element dtype and element count."""
    __slots__ = ("key", "st_dtype", "numel", "base_elems")

    def __init__(self, key, st_dtype, numel, base_elems=0):
        self.key, self.st_dtype, self.numel, self.base_elems = key, st_dtype, numel, base_elems


class Tensor:
    """A tensor as the pickle describes it: a window (offset, size, stride in elements) into a storage."""
    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __setstate__(self, state):  # BUILD on a tensor (subclass state): data only, ignored
        pass

    @property
    def numel(self):
        n = 1
        for s in self.size:
            n *= s
        return n


def _int(v, what):
    if type(v) is not int:
        raise BadInput("%s is %r, not an integer" % (what, type(v).__name__))
    return v


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    if not isinstance(storage, Storage):
        raise BadInput("a tensor refers to something that is not a storage")
    offset = _int(storage_offset, "a storage offset")
    if not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride):
        raise BadInput("a tensor has malformed size/stride")
    size = tuple(_int(s, "a tensor size") for s in size)
    stride = tuple(_int(s, "a tensor stride") for s in stride)
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise BadInput("a tensor has a negative size, stride or offset")
    numel = 1
    for n in size:
        numel *= n
    if numel * np.dtype(ST_NUMPY[storage.st_dtype]).itemsize >= 1 << 63 or offset >= 1 << 63 or \
            any(n >= 1 << 63 for n in stride):
        # numpy's strides and the safetensors readers' shapes are 64-bit (a stride-0 view of 2^70 elements took
        # numpy's OverflowError and a traceback)
        raise BadInput("a tensor of size %s: %d elements, 2^63 bytes or more" % (list(size), numel))
    t = Tensor(storage, offset, size, stride)
    if t.numel:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel:
            raise BadInput("a tensor reaches element %d of a %d-element storage" % (last, storage.numel))
    return t


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if isinstance(dtype, StorageType) and isinstance(storage, Storage) and dtype.st_dtype != storage.st_dtype:
        raise BadInput("a tensor's dtype differs from its storage's (not supported)")
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, Tensor):
        raise BadInput("a parameter holds something that is not a tensor")
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_tensor_v3, _rebuild_parameter) \
            or new_type not in (TensorType, ParameterType) or not isinstance(args, tuple):
        raise BadInput("a tensor subclass is rebuilt in a way this converter does not accept")
    return func(*args)


class _Marker:
    """torch.Tensor / torch.nn.Parameter named as a type inside _rebuild_from_type_v2; never called."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __call__(self, *a, **k):
        raise BadInput("the pickle calls %s directly" % self.name)


TensorType = _Marker("torch.Tensor")
ParameterType = _Marker("torch.nn.parameter.Parameter")


def _device(*args):  # torch.device('cpu') -> 'cpu': inert
    return ":".join(str(a) for a in args)


def _size(*args):  # torch.Size((1, 2)) -> (1, 2)
    return tuple(args[0]) if args else ()


def _ordered_dict(*args):
    import collections
    return collections.OrderedDict(*args)


def _set(*args):
    return set(*args)


def _frozenset(*args):
    return frozenset(*args)


# Every global the pickle may name, and what it resolves to. Nothing else is ever looked up.
RESOLVED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("builtins", "set"): _set, ("__builtin__", "set"): _set,
    ("builtins", "frozenset"): _frozenset, ("__builtin__", "frozenset"): _frozenset,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): TensorType,
    ("torch._tensor", "Tensor"): TensorType,
    ("torch.nn.parameter", "Parameter"): ParameterType,
    ("torch", "device"): _device,
    ("torch", "Size"): _size,
}
for _name, (_st, _np) in STORAGE_DTYPES.items():
    RESOLVED[("torch", _name)] = StorageType(_name, _st)
for _name, _st in TORCH_DTYPES.items():
    RESOLVED[("torch", _name)] = StorageType(_name, _st)
RESOLVED[("torch", "UntypedStorage")] = StorageType("UntypedStorage", "U8")


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only RESOLVED globals; storages come from `storage_for(pid)` through persistent_load."""

    def __init__(self, f, storage_for=None):
        super().__init__(f)
        self._storage_for = storage_for

    def find_class(self, module, name):
        fn = RESOLVED.get((module, name))
        if fn is None:
            raise BadInput("refusing global %s.%s in the pickle (nothing in the file was run): only the types that "
                           "rebuild tensors and state dicts are allowed; for a checkpoint that also pickles other "
                           "Python objects, save its state dict alone with torch" % (module, name))
        return fn

    def persistent_load(self, pid):
        if self._storage_for is None:
            raise BadInput("unexpected persistent id in the pickle")
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise BadInput("unsupported persistent id %r in the pickle (only storages are read)"
                           % (pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__,))
        return self._storage_for(pid)


# ---------------------------------------------------------------------------------------------------------------
# Readers: each returns (root object, read_bytes(storage, first_elem, n_elems) -> bytes, byteorder)

def _storage_type(pid_type):
    if not isinstance(pid_type, StorageType):
        raise BadInput("a storage has an unknown type")
    return pid_type.st_dtype


class ZipCheckpoint:
    def __init__(self, path, fh):
        try:
            self.zf = zipfile.ZipFile(fh)
            names = self.zf.namelist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as e:
            raise BadInput("damaged or truncated zip archive (%s)" % e)
        self.fh = fh
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            if "data.pkl" in names:
                pkl = ["data.pkl"]
            else:
                raise BadInput("a zip file without data.pkl: not a PyTorch checkpoint")
        self.prefix = pkl[0][: -len("data.pkl")]
        if any(n.startswith(self.prefix + "code/") for n in names) or self.prefix + "constants.pkl" in names:
            raise BadInput("a TorchScript archive (torch.jit.save), not a torch.save checkpoint")
        self.byteorder = "little"
        if self.prefix + "byteorder" in names:
            bo = self.zf.read(self.prefix + "byteorder").decode("ascii", "replace").strip()
            if bo not in ("little", "big"):
                raise BadInput("unknown byte order %r" % bo)
            self.byteorder = bo
        self.names = set(names)
        self.storages = {}

    def storage_for(self, pid):
        if len(pid) < 5:
            raise BadInput("malformed storage reference in the pickle")
        _, stype, key, _location, numel = pid[:5]
        st_dtype = _storage_type(stype)
        if not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise BadInput("malformed storage reference in the pickle")
        name = self.prefix + "data/" + key
        if name not in self.names:
            raise BadInput("storage %s is missing from the archive" % key)
        info = self.zf.getinfo(name)
        esize = np.dtype(ST_NUMPY[st_dtype]).itemsize
        if numel * esize > info.file_size:
            raise BadInput("storage %s holds %d bytes, %d expected (file truncated?)"
                           % (key, info.file_size, numel * esize))
        s = Storage(key, st_dtype, numel)
        return s

    def load(self):
        try:
            with self.zf.open(self.prefix + "data.pkl") as f:
                return RestrictedUnpickler(f, self.storage_for).load()
        except zipfile.BadZipFile as e:
            raise BadInput("damaged zip archive (%s)" % e)

    def _data_start(self, info):
        """File offset of a stored (uncompressed) member's bytes, from its local header."""
        hdr = os.pread(self.fh.fileno(), 30, info.header_offset)
        if len(hdr) != 30 or hdr[:4] != b"PK\x03\x04":
            raise BadInput("damaged zip archive (bad local header for %s)" % info.filename)
        nlen, xlen = struct.unpack("<HH", hdr[26:30])
        return info.header_offset + 30 + nlen + xlen

    def read(self, storage, first, count):
        esize = np.dtype(ST_NUMPY[storage.st_dtype]).itemsize
        info = self.zf.getinfo(self.prefix + "data/" + storage.key)
        start, n = (storage.base_elems + first) * esize, count * esize
        if info.compress_type == zipfile.ZIP_STORED:
            data = os.pread(self.fh.fileno(), n, self._data_start(info) + start)
        else:
            with self.zf.open(info) as f:
                f.seek(start)
                data = f.read(n)
        if len(data) != n:
            raise BadInput("storage %s ends early (file truncated?)" % storage.key)
        return data


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class LegacyCheckpoint:
    def __init__(self, path, fh):
        self.fh = fh
        self.byteorder = "little"
        self.roots = {}  # key -> (st_dtype, numel)

    def _load(self, with_storages=False):
        return RestrictedUnpickler(self.fh, self.storage_for if with_storages else None).load()

    def storage_for(self, pid):
        if len(pid) != 6:
            raise BadInput("malformed storage reference in the pickle")
        _, stype, key, _location, numel, view = pid
        st_dtype = _storage_type(stype)
        if not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise BadInput("malformed storage reference in the pickle")
        if key in self.roots and self.roots[key][0] != st_dtype:
            raise BadInput("storage %s is used with two dtypes" % key)
        self.roots.setdefault(key, (st_dtype, numel))
        if view is None:
            return Storage(key, st_dtype, numel)
        if not isinstance(view, tuple) or len(view) != 3:
            raise BadInput("malformed storage view in the pickle")
        _view_key, offset, size = view
        if type(offset) is not int or type(size) is not int or offset < 0 or size < 0 or offset + size > numel:
            raise BadInput("storage view outside its storage")
        return Storage(key, st_dtype, size, offset)

    def load(self):
        try:
            magic = self._load()
        except BadInput:
            raise
        except Exception:
            raise BadInput("not a PyTorch checkpoint (neither a zip archive nor torch's legacy format)")
        if magic != LEGACY_MAGIC:
            raise BadInput("not a PyTorch checkpoint (neither a zip archive nor torch's legacy format)")
        protocol = self._load()
        if protocol != 1001:
            raise BadInput("unsupported legacy checkpoint protocol %r" % (protocol,))
        sys_info = self._load()
        if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
            self.byteorder = "big"
        root = self._load(with_storages=True)
        keys = self._load()
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadInput("malformed storage key list")
        # Each storage: int64 element count, then the elements. Record where each one's bytes start.
        self.offsets = {}
        pos = self.fh.tell()
        size = os.fstat(self.fh.fileno()).st_size
        fmt = "<q" if self.byteorder == "little" else ">q"
        for k in keys:
            raw = os.pread(self.fh.fileno(), 8, pos)
            if len(raw) != 8:
                raise BadInput("storage %s is missing (file truncated?)" % k)
            (numel,) = struct.unpack(fmt, raw)
            if k not in self.roots:
                raise BadInput("storage %s is listed but never used" % k)
            st_dtype, want = self.roots[k]
            esize = np.dtype(ST_NUMPY[st_dtype]).itemsize
            if numel != want or numel < 0 or pos + 8 + numel * esize > size:
                raise BadInput("storage %s is damaged or truncated" % k)
            self.offsets[k] = pos + 8
            pos += 8 + numel * esize
        missing = [k for k in self.roots if k not in self.offsets]
        if missing:
            raise BadInput("storage %s is missing from the file" % missing[0])
        return root

    def read(self, storage, first, count):
        esize = np.dtype(ST_NUMPY[storage.st_dtype]).itemsize
        n = count * esize
        data = os.pread(self.fh.fileno(), n, self.offsets[storage.key] + (storage.base_elems + first) * esize)
        if len(data) != n:
            raise BadInput("storage %s ends early (file truncated?)" % storage.key)
        return data


def open_checkpoint(path, fh):
    head = fh.read(8)
    fh.seek(0)
    if head[:4] == b"PK\x03\x04":
        return ZipCheckpoint(path, fh)
    if head[:2] == b"\x80\x02" and head[2:3] == b"\x8a":  # pickle protocol 2, LONG1: the legacy magic number
        return LegacyCheckpoint(path, fh)
    if len(head) >= 2 and head[:1] == b"\x80" and 2 <= head[1] <= 5:
        # some other pickle: read it (restricted) only to say what it is
        ck = LegacyCheckpoint(path, fh)
        ck.load()
    if len(fh.read(262)) >= 262:
        fh.seek(257)
        if fh.read(5) == b"ustar":
            raise BadInput("a tar-format checkpoint (torch < 0.4): load and re-save it with torch first")
    raise BadInput("not a PyTorch checkpoint (neither a zip archive nor torch's legacy format)")


# ---------------------------------------------------------------------------------------------------------------
# Finding the state dict

PREFERRED = ("var_wo_ddp", "state_dict", "model", "module", "model_state_dict", "net", "var", "ema")


def _is_tensor_dict(d):
    return isinstance(d, dict) and d and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in d.items())


def _candidates(obj, path, out, depth):
    if depth > 8:
        return
    if _is_tensor_dict(obj):
        out.append((path, obj))
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list, tuple)):
                _candidates(v, path + [str(k)], out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            if isinstance(v, (dict, list, tuple)):
                _candidates(v, path + [str(i)], out, depth + 1)


def _follow(obj, key):
    """Follows a dotted path; a dict key that itself contains dots is matched whole first."""
    rest = key
    walked = []
    while rest:
        if isinstance(obj, dict):
            keys = sorted((k for k in obj if isinstance(k, (str, int))), key=lambda k: -len(str(k)))
            for k in keys:
                ks = str(k)
                if rest == ks or rest.startswith(ks + "."):
                    obj, rest = obj[k], rest[len(ks) + 1:]
                    walked.append(ks)
                    break
            else:
                raise BadInput("--key %s: no entry %r under %s" % (key, rest.split(".")[0], ".".join(walked) or
                                                                    "the top level"))
        elif isinstance(obj, (list, tuple)):
            first, _, rest = rest.partition(".")
            if not first.isdigit() or int(first) >= len(obj):
                raise BadInput("--key %s: no item %s" % (key, first))
            obj = obj[int(first)]
            walked.append(first)
        else:
            raise BadInput("--key %s: %s is not a dict" % (key, ".".join(walked)))
    return obj


def find_state_dict(root, key):
    if key is not None:
        d = _follow(root, key)
        if not _is_tensor_dict(d):
            raise BadInput("--key %s is not a dict of tensors" % key)
        return d, key
    found = []
    _candidates(root, [], found, 0)
    if not found:
        raise BadInput("no dict of tensors in the checkpoint (nothing to convert)")
    if len(found) == 1:
        return found[0][1], ".".join(found[0][0])
    for name in PREFERRED:
        hits = [f for f in found if f[0] and f[0][-1] == name]
        if len(hits) == 1:
            return hits[0][1], ".".join(hits[0][0])
    listing = ", ".join("%s (%d tensors)" % (".".join(p) or "<top>", len(d)) for p, d in found[:6])
    raise BadInput("several dicts of tensors: %s; choose one with --key" % listing)


# Prefixes that wrappers put before every key: DistributedDataParallel / DataParallel ("module."), torch.compile
# ("_orig_mod."), FSDP ("_fsdp_wrapped_module."), activation checkpointing ("_checkpoint_wrapped_module.").
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")


def strip_prefix(sd):
    """Removes wrapper prefixes shared by every key, in any order and nesting (_orig_mod.module.x -> x)."""
    while True:
        for prefix in WRAPPER_PREFIXES:
            if sd and all(k.startswith(prefix) and len(k) > len(prefix) for k in sd):
                sd = {k[len(prefix):]: v for k, v in sd.items()}
                break
        else:
            return sd


# ---------------------------------------------------------------------------------------------------------------
# Conversion and writing

def materialise(ck, t):
    """The tensor's elements, contiguous, as a numpy array of its storage's element type (native order)."""
    st = t.storage
    npd = np.dtype(ST_NUMPY[st.st_dtype]).newbyteorder("<" if ck.byteorder == "little" else ">")
    n = t.numel
    if n == 0:
        return np.zeros(t.size, dtype=npd.newbyteorder("="))
    span = 1 + sum((s - 1) * d for s, d in zip(t.size, t.stride))
    # dimensions of size 1 dropped: they change neither the elements nor their order, and numpy (1.24) holds at most
    # 32 dimensions where PyTorch allows 64 (the header keeps the tensor's own shape)
    dims = [(s, d) for s, d in zip(t.size, t.stride) if s != 1]
    if len(dims) > 32:
        raise BadInput("a tensor of size %s: more than 32 dimensions above 1, more than numpy handles" % list(t.size))
    flat = np.frombuffer(ck.read(st, t.offset, span), dtype=npd)
    expect = 1
    contiguous = True
    for s, d in reversed(dims):
        if d != expect:
            contiguous = False
            break
        expect *= s
    if contiguous:
        arr = flat[:n].reshape([s for s, _ in dims])
    else:
        arr = np.lib.stride_tricks.as_strided(flat, shape=[s for s, _ in dims],
                                              strides=tuple(d * npd.itemsize for _, d in dims))
    return np.ascontiguousarray(arr).astype(npd.newbyteorder("="), copy=False)


def f32_to_bf16_bits(a):
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even; NaN -> 0x7FC0 as torch does."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    out = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        out[nan] = 0x7FC0
    return out


def to_f32(arr, st_dtype):
    if st_dtype == "BF16":
        return (arr.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return arr.astype(np.float32)


def convert(arr, st_dtype, want):
    """(array, dtype) of the tensor as written for --dtype want."""
    if want == "keep" or st_dtype not in FLOAT_DTYPES:
        return arr, st_dtype
    if want == "f32":
        return to_f32(arr, st_dtype), "F32"
    if want == "f16":
        if st_dtype == "F16":
            return arr, "F16"
        if st_dtype == "F64":
            arr = arr.astype(np.float32)  # torch rounds double -> float -> half as well
        f = to_f32(arr, st_dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            h = f.astype(np.float16)
        return h, "F16"
    if want == "bf16":
        if st_dtype == "BF16":
            return arr, "BF16"
        return f32_to_bf16_bits(to_f32(arr, st_dtype)), "BF16"
    raise AssertionError(want)


def out_dtype(st_dtype, want):
    if want == "keep" or st_dtype not in FLOAT_DTYPES:
        return st_dtype
    return {"f32": "F32", "f16": "F16", "bf16": "BF16"}[want]


def in_place(path):
    """An existing output that is neither a regular file nor a folder (/dev/null, a FIFO) is written where it is:
    renaming a temporary over it would replace the device with a file."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def stream_fd(path):
    """The descriptor a standard stream's name stands for (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N),
    else None: such an output is written through the process's own descriptor, as host/outfile.c does (renaming a
    temporary over /dev/stdout replaced the system's link as root)."""
    named = {"/dev/stdout": 1, "/dev/stderr": 2, "/dev/stdin": 0}
    if path in named:
        return named[path]
    for prefix in ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "/proc/%d/fd/" % os.getpid()):
        rest = path[len(prefix):]
        if path.startswith(prefix) and rest.isdigit() and len(rest) <= 6:
            return int(rest)
    return None


def follow_links(path):
    """The path a chain of symbolic links at `path` leads to (a stream's name ends it), or path where it is no link:
    the output is written there and the links stay. BadInput past 40 links (a loop)."""
    for _ in range(41):  # /proc's links read "pipe:[N]" or "/x (deleted)": not followed
        if stream_fd(path) is not None or path.startswith("/proc/") or not os.path.islink(path):
            return path
        target = os.readlink(path)
        path = target if os.path.isabs(target) else os.path.join(os.path.dirname(path), target)
    raise BadInput("%s: cannot write: too many levels of symbolic links" % path)


def check_names(sd):
    """The tensor names a safetensors header can hold and varcl's reader takes (before anything is written)."""
    if "__metadata__" in sd:  # the format reserves the name: the tensor would be lost and the file invalid
        raise BadInput("a tensor is named __metadata__, which the safetensors format reserves for its metadata")
    for name in sd:
        if "\0" in name:  # JSON can carry it, but varcl's reader (jansson) refuses a header holding one
            raise BadInput("tensor %r: a NUL byte in its name, which varcl's safetensors reader refuses" % name)
        try:  # a pickle can carry a lone surrogate (e.g. '\ud800'); json.dumps writes it, readers refuse it
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput("tensor %s: its name is not valid Unicode (a lone UTF-16 surrogate), which safetensors "
                           "readers refuse" % ascii(name))


def write_safetensors(out, ck, sd, want):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, t in sd.items():
        dt = out_dtype(t.storage.st_dtype, want)
        n = t.numel * np.dtype(ST_NUMPY[dt]).itemsize
        header[name] = {"dtype": dt, "shape": list(t.size), "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(header, separators=(",", ":")).encode("ascii")
    text += b" " * (-len(text) % 8)
    # the temporary beside the output, hidden and with the name cut at 64 bytes (as host/outfile.c): a name of the
    # folder's full length stays writable
    head, base = os.path.split(out)
    fd = stream_fd(out)
    tmp = out if in_place(out) or fd is not None else os.path.join(head, ".%s.%d.tmp" % (base[:64], os.getpid()))
    try:
        # a stream: its own descriptor, where it stands (>> keeps what was there)
        f = open(tmp, "wb") if fd is None else os.fdopen(os.dup(fd), "wb")
    except OSError as e:
        raise WriteError("%s: cannot write: %s" % (out, e.strerror))
    try:
        with f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for name, t in sd.items():
                src = materialise(ck, t)
                arr, dt = convert(src, t.storage.st_dtype, want)
                if dt in ("F32", "F16", "BF16") and dt != t.storage.st_dtype:
                    # a finite weight that becomes inf would make every logit NaN: refuse, naming the way out.
                    # Finite in the source's own dtype (an F64 1e300 is finite, and inf once in f32)
                    wide = src if t.storage.st_dtype in ("F64", "F32", "F16") else to_f32(src, t.storage.st_dtype)
                    finite = np.isfinite(wide)
                    lost = int(np.count_nonzero(np.isinf(to_f32(arr, "BF16") if dt == "BF16" else arr) & finite))
                    if lost:
                        big = float(np.max(np.abs(wide[finite].astype(np.float64))))
                        # the dtypes that hold it (the largest finite bf16 is 3.3895e38, f32 3.4028e38)
                        fits = [d for d, top in (("bf16", 3.3895e38), ("f32", 3.4028e38))
                                if big <= top and d != dt.lower()]
                        fits += ["keep"] if t.storage.st_dtype == "F64" else []
                        raise BadInput("%s: %d values (largest magnitude %.6g) exceed the %s range (max %s): use "
                                       "--dtype %s" % (name, lost, big, dt.lower(),
                                                       {"F16": "65504", "BF16": "3.39e38", "F32": "3.4e38"}[dt],
                                                       " or ".join([", ".join(fits[:-1]), fits[-1]]
                                                                   if len(fits) > 1 else fits)))
                arr = np.ascontiguousarray(arr, dtype=np.dtype(ST_NUMPY[dt]).newbyteorder("<"))
                f.write(arr.data if arr.size else b"")
        if tmp != out:
            os.rename(tmp, out)
    except BaseException:
        try:
            if tmp != out:
                os.unlink(tmp)
        except OSError:
            pass
        raise
    return off


def usage():
    return ("usage: %s IN.pth OUT.safetensors [--dtype keep|f32|f16|bf16] [--key PATH] [-q]" % PROG)


def parse_args(argv):
    opts = {"dtype": "keep", "key": None, "quiet": False}
    pos = []
    given = {}  # a flag given twice is refused, as by vgen, not the last value taken silently

    def once(k, v):
        if k in given:
            raise BadInput("--%s is given twice ('%s', then '%s'): give it once" % (k, given[k], v))
        given[k] = opts[k] = v
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(usage())
            print(__doc__.split("\n\n", 2)[2].rstrip())
            sys.exit(0)
        if a in ("--dtype", "--key"):
            if i + 1 >= len(argv):
                raise BadInput("%s needs a value" % a)
            once(a[2:], argv[i + 1])
            i += 2
            continue
        if a.startswith("--dtype=") or a.startswith("--key="):
            once(*a[2:].split("=", 1))
        elif a == "-q":
            opts["quiet"] = True
        elif a.startswith("-") and a != "-":
            raise BadInput("unknown option %s (%s)" % (a, usage()))
        else:
            pos.append(a)
        i += 1
    if len(pos) != 2:
        raise BadInput(usage())
    if opts["dtype"] not in ("keep", "f32", "f16", "bf16"):
        raise BadInput("--dtype %s: use keep, f32, f16 or bf16" % opts["dtype"])
    return pos[0], pos[1], opts


def run(argv):
    src, given, opts = parse_args(argv)
    if not given:
        raise BadInput("the output path is empty")
    if given == "-":  # a file named '-' is rarely what is meant; the stream has a name of its own
        raise BadInput("output '-': a file named '-' is not written; for standard output give /dev/stdout")
    out = follow_links(given)
    if np is None:
        raise BadInput("numpy is missing for %s (Debian: apt-get install python3-numpy)" % sys.executable)
    if os.path.isdir(out):
        raise BadInput("%s: cannot write: is a directory" % out)
    if os.path.exists(src) and os.path.exists(out) and os.path.samefile(src, out):
        raise BadInput("%s: the same file as the input %s: writing it would destroy the input" % (out, src))
    ext = os.path.splitext(os.path.basename(given))[1][1:].lower()
    if ext in OTHER_FORMATS and ext != "safetensors":  # as vgen and mkmodel: the name says the format
        raise BadInput("%s: the file will hold safetensors, not %s; name it .safetensors" % (given, ext))
    out_dir = os.path.dirname(os.path.abspath(out))
    if not in_place(out) and stream_fd(out) is None and (not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK)):
        raise BadInput("%s: cannot write there (no such folder or no permission)" % out)
    try:
        name_max = os.pathconf(out_dir, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if not in_place(out) and stream_fd(out) is None and len(os.fsencode(os.path.basename(out))) > name_max:
        raise BadInput("%s...: cannot write: the file name is over the %d bytes of %s" % (out[:80], name_max, out_dir))
    if os.path.exists(src) and not os.path.isfile(src):  # before open(): opening a FIFO would wait for a writer
        raise BadInput("%s: not a regular file" % src)
    try:
        fh = open(src, "rb")
    except OSError as e:
        raise BadInput("%s: cannot open: %s" % (src, e.strerror))
    with fh:
        if not os.path.isfile(src):
            raise BadInput("%s: not a regular file" % src)
        try:
            ck = open_checkpoint(src, fh)
            root = ck.load()
            sd, where = find_state_dict(root, opts["key"])
            sd = strip_prefix(sd)
            check_names(sd)
        except BadInput as e:
            raise BadInput("%s: %s" % (src, e))
        except RecursionError:
            raise BadInput("%s: the pickle nests too deeply" % src)
        except MemoryError:
            raise BadInput("%s: the pickle needs more memory than there is (damaged or hostile file?)" % src)
        except Exception as e:  # any other unpickling failure: a damaged or foreign file
            raise BadInput("%s: not a readable PyTorch checkpoint (%s: %s)" % (src, type(e).__name__, e))
        try:
            nbytes = write_safetensors(out, ck, sd, opts["dtype"])
        except (BadInput, WriteError):
            raise
        except OSError as e:
            raise WriteError("%s: write failed: %s" % (out, e.strerror or e))
        except MemoryError:
            raise WriteError("%s: out of memory while converting" % out)
    if not opts["quiet"]:  # on stderr where the file itself went to standard output
        summary = sys.stderr if stream_fd(out) == 1 else sys.stdout
        if summary is None:  # started with the stream closed (>&-): Python gives None, and print() drops the line
            raise OSError(errno.EBADF, "it is closed")
        print("%s: %d tensors, %.1f MB%s -> %s" % (src, len(sd), nbytes / 1e6,
                                                  (" (from %s)" % where) if where else "", given), file=summary)


def one_line(text):
    """text with its control characters escaped (a path holding a newline stays on one line), as host/error.c."""
    return "".join(c if c >= " " and c != "\x7f" else c.encode("unicode_escape").decode("ascii") for c in text)


class Stopped(KeyboardInterrupt):
    """SIGTERM (a batch system's time limit) or SIGHUP, raised where the program is, so that the temporary output is
    removed as on Ctrl-C (Python's default for both ends the process at once, leaving it)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, _frame):
    raise Stopped(signum)


def main(argv):
    import signal
    import warnings
    warnings.simplefilter("ignore")  # problems are reported as one line each, by this file
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(sig, _stop)
    try:
        try:
            run(argv)
        except SystemExit as e:  # --help
            if e.code:
                raise
        if sys.stdout is not None:  # None: closed when started (>&-), and nothing was written to it
            sys.stdout.flush()  # here, not at exit: a full disk (> /dev/full) is then one line and exit 1
    except BadInput as e:
        print("%s: %s" % (PROG, one_line(str(e))), file=sys.stderr)
        return 2
    except WriteError as e:
        print("%s: %s" % (PROG, one_line(str(e))), file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        if isinstance(e, Stopped):
            print("%s: stopped by signal %d; nothing written" % (PROG, e.signum), file=sys.stderr)
            return 128 + e.signum
        print("%s: interrupted" % PROG, file=sys.stderr)
        return 130
    except OSError as e:  # standard output (the summary line, --help)
        # what is still buffered would fail again when Python flushes at exit
        if sys.stdout is not None:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("%s: cannot write to standard output: %s" % (PROG, e.strerror or e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
