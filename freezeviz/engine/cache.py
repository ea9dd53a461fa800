"""Content keys and bounded caches: a cached answer is reused only for the same content.

A key is a digest of everything an answer depends on: the bytes of every tensor, every plain
value together with its type (``2`` and ``2.0`` differ), the containers and objects that hold
them (lists, dicts, tuples, plain objects, submodules, which tensors share storage), and the
identity of classes and functions, which the key holds alive so that no other object can take
their address while the key exists. State that cannot be read reliably (an object of a C type
freezeviz does not know) has no key, and the answer is computed again.

A key is not a version counter or an address: in-place writes through ``.data``, a new object
at a recycled address and a file rewritten within the same second all change it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import marshal
import os
import threading
import types
import weakref
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes made at run time (Python ones, some C ones)
_ATOMS = (type(None), bool, int, float, complex, str, bytes)
_TORCH_ATOMS = (torch.dtype, torch.device, torch.layout, torch.memory_format, torch.qscheme)
_IDENTITY = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
             types.WrapperDescriptorType, types.MethodWrapperType, types.ModuleType,
             torch.jit.ScriptFunction)
MAX_OBJECTS = 200_000  # a walk longer than this gives up: recomputing is cheaper
PARALLEL_BYTES = 16 * 2**20  # hash tensors on several threads above this many bytes


class Uncacheable(Exception):
    """The state holds something whose content cannot be read reliably."""


@dataclass(frozen=True)
class Key:
    """A content digest; equal keys mean equal content. ``keep`` holds the objects whose
    identity the digest names (classes, functions) so their addresses stay theirs."""

    digest: bytes
    keep: tuple = field(default=(), compare=False, repr=False)


try:
    from xxhash import xxh3_128 as _xxh3_128
except ImportError:  # optional speed-up; SHA-1 gives the same guarantees, ten times slower
    _xxh3_128 = None


def _new_hash():
    try:
        return hashlib.sha1(usedforsecurity=False)  # not for security; fastest with SHA-NI
    except (TypeError, ValueError):
        return hashlib.sha256()


def content_key(*objects) -> Key | None:
    """The key of ``objects``' content, or None when some part cannot be read reliably."""
    walker = _Walker()
    try:
        for obj in objects:
            walker.walk(obj)
        return walker.key()
    except Exception:  # Uncacheable, or something that could not be read: no key, no reuse
        return None


def file_key(path: str) -> Key:
    """The key of a file's bytes."""
    h = _new_hash()
    with open(path, "rb") as f:
        for chunk in iter(functools.partial(f.read, 4 * 2**20), b""):
            h.update(chunk)
    return Key(b"file:" + h.digest())


class _Walker:
    def __init__(self):
        self.parts: list[tuple] = []
        self.seen: dict[int, int] = {}  # id -> order of first visit (objects held below)
        self.hold: list = []  # everything visited stays alive: no id is reused mid-walk
        self.keep: dict[int, object] = {}  # objects named by identity
        self.buffers: list = []  # each tensor's bytes (a flat uint8 view), hashed at the end
        self.storages: dict[tuple, int] = {}

    def put(self, *parts) -> None:
        self.parts.append(parts)  # printed and hashed once, at the end

    def identity(self, obj) -> None:
        self.keep[id(obj)] = obj
        self.put("id", id(obj), getattr(obj, "__qualname__", type(obj).__name__))

    def key(self) -> Key:
        h = _new_hash()
        try:  # marshal writes atoms with their types (2, 2.0 and True differ), 5x faster than repr
            h.update(marshal.dumps(self.parts))
        except ValueError:  # something marshal cannot write: its repr then
            h.update(repr(self.parts).encode())
        for digest in _hash_buffers(self.buffers):
            h.update(digest)
        return Key(h.digest(), tuple(self.keep.values()))

    # --- the walk ---------------------------------------------------------------------------
    def walk(self, obj) -> None:
        t = type(obj)
        if t in _ATOMS:
            self.put(t.__name__, obj)
            return
        if isinstance(obj, _TORCH_ATOMS):
            self.put(t.__name__, str(obj))
            return
        if (t is OrderedDict or t is set) and not obj:
            # nn.Module's hook dicts and its non-persistent-buffer set, a dozen per module:
            # empty, never scripted, and never aliased by model state, so no identity to track
            self.parts.append(("empty", t.__name__))
            return
        if id(obj) in self.seen:
            self.put("ref", self.seen[id(obj)])
            return
        if len(self.seen) >= MAX_OBJECTS:
            raise Uncacheable("too many objects")
        self.seen[id(obj)] = len(self.seen)
        self.hold.append(obj)
        self._dispatch(obj, t)

    def _dispatch(self, obj, t) -> None:
        if isinstance(obj, torch.Tensor):
            self.tensor(obj)
        elif isinstance(obj, _IDENTITY):
            self.identity(obj)
        elif isinstance(obj, torch.jit.ScriptModule):
            self.put("ScriptModule")
            self.identity(t)
            self.walk(obj._c)
        elif isinstance(obj, torch._C.ScriptModule):
            self.script_module(obj)
        elif isinstance(obj, torch._C.ScriptObject):
            self.script_object(obj)
        elif isinstance(obj, _ATOMS):  # subclasses: IntEnum, str subclasses
            base = next(b for b in _ATOMS if isinstance(obj, b))
            self.identity(t)
            self.put(base.__repr__(obj))
            self.attributes(obj)
        elif isinstance(obj, (list, tuple)):
            self.sequence(obj, t)
        elif isinstance(obj, dict):
            self.mapping(obj, t)
        elif isinstance(obj, (set, frozenset)):
            self.unordered(obj, t)
        else:
            self.other(obj, t)

    def other(self, obj, t) -> None:
        if isinstance(obj, types.MethodType):
            self.put("method")
            self.walk(obj.__func__)
            self.walk(obj.__self__)
        elif isinstance(obj, functools.partial):
            self.put("partial")
            self.walk(obj.func)
            self.walk(obj.args)
            self.walk(obj.keywords)
        elif t.__module__ == "numpy":
            self.numpy(obj)
        elif _python_layout(t):
            self.put("object")
            self.identity(t)
            self.attributes(obj)
        else:
            raise Uncacheable(f"cannot read the state of a {t.__qualname__}")

    def attributes(self, obj) -> None:
        """A Python object's whole state: its __dict__ and its slots."""
        d = getattr(obj, "__dict__", None)
        if d is not None:
            # torch.jit.script adds an empty __overloads__ to a module: its own bookkeeping
            self.walk({k: v for k, v in d.items() if k != "__overloads__" or v})
        for cls in type(obj).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name in ("__dict__", "__weakref__"):
                    continue
                if name.startswith("__") and not name.endswith("__"):  # stored mangled
                    name = f"_{cls.__name__.lstrip('_')}{name}"
                self.put("slot", name)
                self.walk(getattr(obj, name, _MISSING))

    def sequence(self, obj, t) -> None:
        if t not in (list, tuple):
            self.identity(t)
            self.attributes(obj)
        self.put(t.__name__, len(obj))
        for item in obj:
            self.walk(item)

    def mapping(self, obj, t) -> None:
        if t is not dict:
            self.identity(t)
            if isinstance(obj, defaultdict):
                self.walk(obj.default_factory)
        self.put("dict", len(obj))
        parts, walk = self.parts, self.walk
        for k, v in obj.items():  # in order: an order change is a change
            for x in (k, v):
                t = type(x)
                if t in _ATOMS:  # most of a module's state: inline what walk() does for them
                    parts.append((t.__name__, x))
                else:
                    walk(x)

    def unordered(self, obj, t) -> None:
        if not all(type(x) in _ATOMS for x in obj):
            raise Uncacheable("a set of objects")
        self.put(t.__name__, sorted((type(x).__name__, repr(x)) for x in obj))

    def numpy(self, obj) -> None:
        import numpy as np

        if isinstance(obj, np.ndarray) and obj.dtype != object:
            h = _new_hash()
            h.update(np.ascontiguousarray(obj).data)
            self.put("ndarray", obj.dtype.str, obj.shape, h.digest())
        elif isinstance(obj, np.generic):
            self.put("numpy", obj.dtype.str, obj.tobytes())
        else:
            raise Uncacheable("a numpy object")

    # --- torch ------------------------------------------------------------------------------
    def tensor(self, t: torch.Tensor) -> None:
        try:
            self._tensor(t)
        except Uncacheable:
            raise
        except Exception as exc:  # tensor subclasses and layouts without plain bytes
            raise Uncacheable(f"tensor: {exc}") from exc

    def _tensor(self, t: torch.Tensor) -> None:
        self.identity(type(t))
        self.put("tensor", str(t.dtype), tuple(t.shape), str(t.layout), t.device.type,
                 t.requires_grad)
        if t.__dict__:
            self.walk(dict(t.__dict__))
        t = t.detach()
        if t.is_sparse:
            self.walk(t._indices())
            self.walk(t._values())
            return
        if t.is_mkldnn:
            t = t.to_dense()
        if t.device.type == "meta":
            raise Uncacheable("a tensor without data")
        if t.is_quantized:
            self.quantization(t)
            t = t.int_repr()
        storage = t.untyped_storage()
        alias = self.storages.setdefault((storage.data_ptr(), storage.nbytes()), len(self.storages))
        self.put("layout", t.stride(), t.storage_offset(), alias)
        if t.device.type != "cpu":
            t = t.cpu()
        flat = t.resolve_conj().resolve_neg().contiguous().reshape(-1).view(torch.uint8)
        self.put("bytes", len(self.buffers))
        self.buffers.append(flat)

    def quantization(self, t: torch.Tensor) -> None:
        scheme = t.qscheme()
        self.put("qscheme", str(scheme))
        if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            self.put(float(t.q_scale()), int(t.q_zero_point()))
        else:
            self.put(int(t.q_per_channel_axis()))
            self.walk(t.q_per_channel_scales())
            self.walk(t.q_per_channel_zero_points())

    def script_module(self, c) -> None:
        """A ScriptModule tree: each module's type and methods, and every attribute of every
        submodule by its path. torch's recursive list is read once, at the top: the list of
        each submodule is recursive too, and asking every one would read each subtree once
        per module above it."""
        self.put("script", c._type().qualified_name(), tuple(c._method_names()))
        for path, value in torch._C._jit_debug_module_iterators(c)["named_attributes_r"]:
            self.put("attr", path)
            if isinstance(value, torch._C.ScriptModule):  # its attributes follow, by path
                self.put("script", value._type().qualified_name(), tuple(value._method_names()))
            else:
                self.walk(value)

    def script_object(self, obj) -> None:
        """An instance of a C++ class registered with TorchScript (packed quantized weights):
        its content is what it pickles to."""
        if not obj._has_method("__getstate__"):
            raise Uncacheable("a TorchScript object that cannot be pickled")
        self.put("scriptobject", str(obj._type().qualified_name()))
        self.walk(obj.__getstate__())


_MISSING = object()


@functools.lru_cache(maxsize=1024)
def _python_layout(t: type) -> bool:
    """Does every instance of ``t`` keep its whole state in its __dict__ and slots? True for
    classes written in Python; false for C types, whose fields Python cannot see. Checked by
    building a Python class with the same slots and comparing instance sizes."""
    if t.__itemsize__ or not t.__flags__ & _HEAPTYPE:
        return False
    slots = {"__dict__"} if t.__dictoffset__ else set()
    if t.__weakrefoffset__:
        slots.add("__weakref__")
    for cls in t.__mro__:
        own = cls.__dict__.get("__slots__", ())
        slots.update((own,) if isinstance(own, str) else own)
    try:
        probe = type("probe", (object,), {"__slots__": tuple(sorted(slots))})
    except TypeError:
        return False
    return probe.__basicsize__ == t.__basicsize__


def _bytes_of(flat: torch.Tensor) -> memoryview:
    n = flat.numel()
    if n == 0:
        return memoryview(b"")
    return memoryview((ctypes.c_char * n).from_address(flat.data_ptr())).cast("B")


def _digest(flat: torch.Tensor) -> bytes:
    # xxh3-128 reads about 20 GB/s (ResNet-50's 98 MB in 5 ms, against 55 ms for SHA-1): a
    # 128-bit hash, so two different weights meeting by chance is out of the question; like
    # SHA-1 it is not meant to stand against contents crafted to collide. Both let go of the GIL.
    h = _xxh3_128() if _xxh3_128 is not None else _new_hash()
    h.update(_bytes_of(flat))
    return h.digest()


def _hash_buffers(buffers: list) -> list[bytes]:
    total = sum(b.numel() for b in buffers)
    workers = min(4, os.cpu_count() or 1)
    # xxh3 reads memory about as fast as it can be streamed: threads only add their overhead
    if _xxh3_128 is not None or total < PARALLEL_BYTES or workers < 2:
        return [_digest(b) for b in buffers]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_digest, buffers))


# --- a bounded cache -----------------------------------------------------------------------

class BoundedCache:
    """At most ``size`` entries, least recently used out first. An entry may belong to an
    owner object (the module it was computed for): it goes when the owner does, and the
    owner is held weakly, so the cache keeps no module alive."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._owners: dict[int, weakref.ref] = {}
        self._dead: list[tuple] = []  # owners gone while the cache was busy
        self._lock = threading.Lock()

    def get(self, owner, key):
        with self._locked():
            k = (self._owner_id(owner), key)
            if k not in self._entries:
                return None
            self._entries.move_to_end(k)
            return self._entries[k]

    def put(self, owner, key, value) -> None:
        with self._locked():
            oid = self._owner_id(owner)
            if owner is not None and oid not in self._owners:
                try:
                    self._owners[oid] = weakref.ref(owner, functools.partial(self._gone, oid))
                except TypeError:
                    return  # its lifetime cannot be followed: keep nothing for it
            self._entries[(oid, key)] = value
            self._entries.move_to_end((oid, key))
            while len(self._entries) > self.size:
                (old, _), _ = self._entries.popitem(last=False)
                if old is not None and all(k[0] != old for k in self._entries):
                    self._owners.pop(old, None)

    def __len__(self) -> int:
        with self._locked():
            return len(self._entries)

    def clear(self) -> None:
        with self._locked():
            self._entries.clear()
            self._owners.clear()

    @contextlib.contextmanager
    def _locked(self):
        with self._lock:
            self._purge()
            try:
                yield
            finally:
                self._purge()

    def _owner_id(self, owner):
        if owner is None:
            return None
        ref = self._owners.get(id(owner))
        if ref is not None and ref() is not owner:  # a new object at a dead one's address
            self._forget(id(owner))
        return id(owner)

    def _gone(self, oid: int, ref) -> None:
        """The owner died: drop its entries now, or, when the cache is in use (this may run
        inside any allocation, even one of the cache's own), as soon as it is free."""
        self._dead.append((oid, ref))
        if self._lock.acquire(blocking=False):
            try:
                self._purge()
            finally:
                self._lock.release()

    def _purge(self) -> None:
        while self._dead:
            oid, ref = self._dead.pop()
            if self._owners.get(oid) is ref:
                self._forget(oid)

    def _forget(self, oid: int) -> None:
        self._owners.pop(oid, None)
        for k in [k for k in self._entries if k[0] == oid]:
            del self._entries[k]
