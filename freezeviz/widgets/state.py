"""What the inspector knows: the module it freezes, and what it has computed from it.

Two explicit, bounded caches:

- :class:`FreezeState` keeps the last reports it made, keyed by the content of the module
  (or file) and the example inputs (:mod:`freezeviz.engine.cache`) plus the preserved set,
  so going back to a set seen before freezes nothing, and a module changed in place is
  frozen again.
- :class:`PerReport` keeps what was derived from one report (drawings, tab HTML, table
  rows, widgets). It holds each report weakly: what a report no longer cached and no longer
  shown produced goes with it, and a new report at a recycled address never sees it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CACHE_SIZE = 8  # reports kept per inspector (each holds a frozen module)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """Two threads to lay both panes out at once (``dot`` runs in a subprocess)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="freezeviz-draw")
        return _pool


class PerReport:
    """At most ``size`` values, each computed from one report, least recently used out first.

    Reports are held weakly. ``on_drop`` is called with each value that leaves the cache
    (evicted, or its report gone), e.g. to close widgets; a report that dies is noticed at
    the next access, never inside the garbage collector."""

    def __init__(self, size: int, on_drop: Callable[[Any], None] | None = None):
        self.size = size
        self._on_drop = on_drop
        self._entries: OrderedDict[tuple[int, Hashable], tuple[Any, Any]] = OrderedDict()
        self._dead: list[int] = []

    def get(self, report, key: Hashable, make: Callable[[], Any] | None = None):
        """The value for (report, key); made with ``make`` (and kept) when missing."""
        self._purge()
        k = (id(report), key)
        hit = self._entries.get(k)
        if hit is not None and hit[0]() is report:
            self._entries.move_to_end(k)
            return hit[1]
        if hit is not None:  # a dead report's address, reused
            self._drop(k)
        if make is None:
            return None
        value = make()
        self.put(report, key, value)
        return value

    def put(self, report, key: Hashable, value) -> None:
        self._purge()
        k = (id(report), key)
        if k in self._entries:
            self._drop(k)
        self._entries[k] = (_ref(report, self._dead), value)
        while len(self._entries) > max(1, self.size):
            self._drop(next(iter(self._entries)))

    def __contains__(self, item: tuple) -> bool:
        report, key = item
        hit = self._entries.get((id(report), key))
        return hit is not None and hit[0]() is report

    def __len__(self) -> int:
        self._purge()
        return len(self._entries)

    def _drop(self, k) -> None:
        _, value = self._entries.pop(k)
        if self._on_drop is not None:
            self._on_drop(value)

    def _purge(self) -> None:
        while self._dead:
            rid = self._dead.pop()
            for k in [k for k, (ref, _) in self._entries.items()
                      if k[0] == rid and ref() is None]:
                self._drop(k)


def _ref(report, dead: list[int]):
    """A weak reference that records the report's death; the report itself when it cannot
    be referred to weakly (then the size bound alone limits what is kept)."""
    rid = id(report)
    try:
        return weakref.ref(report, lambda _r: dead.append(rid))
    except TypeError:
        return _Strong(report)


class _Strong:
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __call__(self):
        return self.obj


def ref():
    return ref()


class _Unset:
    """No key was passed."""


class FreezeState:
    """The module (or TorchScript file) under inspection and the reports made from it."""

    def __init__(self, module, optimize_numerics: bool = True, *, example_inputs=None,
                 example_kwarg_inputs=None, backend: str = "torchscript",
                 cache_size: int = CACHE_SIZE):
        self.module = module
        self.optimize_numerics = optimize_numerics
        self.example_inputs = example_inputs
        self.example_kwarg_inputs = example_kwarg_inputs
        self.backend = backend
        self.cache_size = cache_size
        self._reports: OrderedDict[tuple, Any] = OrderedDict()

    def content_key(self):
        """What the module (or file) and the example inputs hold now, by content: a report
        made from other content is never reused. None when part of it cannot be read
        reliably; then nothing is reused."""
        from freezeviz.engine.cache import content_key, file_key

        module = self.module
        try:
            if isinstance(module, (str, os.PathLike)):
                state = (os.path.abspath(os.fspath(module)), file_key(os.fspath(module)))
            else:
                state = content_key(module)
        except OSError:
            return None
        given = (self.example_inputs, self.example_kwarg_inputs)
        inputs = tuple(None if v is None else content_key(v) for v in given)
        if state is None or any(v is not None and k is None for v, k in zip(given, inputs)):
            return None
        return state, inputs

    def lookup(self, names: list[str]) -> tuple[Hashable | None, Any]:
        """(key, cached report or None) for ``preserved_attrs=names`` of the module as it is
        now; pass the key on to :meth:`freeze` so that the module is read once."""
        state = self.content_key()
        key = None if state is None else (state, tuple(sorted(names)))
        report = self._reports.get(key) if key is not None else None
        if report is not None:
            self._reports.move_to_end(key)
        return key, report

    def freeze(self, names: list[str], key: Hashable | None | type[_Unset] = _Unset):
        """The report for ``preserved_attrs=names`` of the module as it is now (cached).
        ``key``: what :meth:`lookup` returned for these names just before (it missed)."""
        if key is _Unset:
            key, report = self.lookup(names)
            if report is not None:
                return report
        from freezeviz.engine import api

        # the module as lookup() just read it (a file is read by the engine itself)
        state = key[0][0] if key is not None and not isinstance(
            self.module, (str, os.PathLike)) else api.UNREAD
        report = api.freeze_read(state, self.module, names, self.optimize_numerics,
                                 example_inputs=self.example_inputs,
                                 example_kwarg_inputs=self.example_kwarg_inputs,
                                 backend=self.backend)
        if key is not None:
            self._reports[key] = report
            while len(self._reports) > max(1, self.cache_size):
                self._reports.popitem(last=False)
        return report

    def __len__(self) -> int:
        return len(self._reports)
