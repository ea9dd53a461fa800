"""Which private torch functions the per-pass observation wraps, and the wrapping itself.

Inductor's freezing has no public per-pass API, so the engine wraps the functions torch's
``fw_compiler_freezing`` calls (torch 2.13 names). Every wrapper is installed for one
compilation and removed in ``finally``, so an error or a KeyboardInterrupt leaves torch as it
was. A torch whose functions moved loses only the per-pass stages (:func:`missing`).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator

TESTED_TORCH = "2.13"  # the torch release whose private names these are

_CF = "torch._inductor.compile_fx"
_FZ = "torch._inductor.freezing"
_FP = "torch._inductor.fx_passes.freezing_patterns"
_BF = "torch._inductor.fx_passes.binary_folding"

# (module, attribute) of every function or object the per-pass stages wrap or read
HOOKS: tuple[tuple[str, str], ...] = (
    (_CF, "fw_compiler_freezing"),
    (_CF, "_recursive_joint_graph_passes"),
    (_FZ, "convert_conv_weights_to_channels_last"),
    (_FZ, "view_to_reshape"),
    (_FZ, "replace_params_with_constants"),
    (_FZ, "freezing_passes"),
    (_FZ, "constant_fold"),
    (_FP, "binary_folding_pass"),
    (_FP, "pass_patterns"),
    (_BF, "recover_original_precision_folded_computation_ops"),
    ("torch._guards", "TracingContext"),
)
# what even the two public stages (before freezing, frozen) need
CORE: tuple[tuple[str, str], ...] = (
    (_CF, "compile_fx"),
    (_CF, "compile_fx_inner"),
    ("torch._functorch._aot_autograd.utils", "make_boxed_func"),
)


def lookup(module: str, name: str):
    """``module.name``, or None when torch has no such thing."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def missing(hooks=None) -> list[str]:
    """The hooked names this torch lacks (``module.name``)."""
    return [f"{m}.{n}" for m, n in (HOOKS if hooks is None else hooks) if lookup(m, n) is None]


class Patches:
    """Wrappers installed on torch's modules and objects, every one undone by :meth:`undo`."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner, name: str, make: Callable[[Callable], Callable]) -> None:
        """Replace ``owner.name`` by ``make(original)``."""
        had_own = name in vars(owner)
        original = getattr(owner, name)
        setattr(owner, name, make(original))

        def restore() -> None:
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)  # an instance's method: drop the instance attribute
        self._undo.append(restore)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


@contextlib.contextmanager
def patched(install: Callable[[Patches], None]) -> Iterator[None]:
    """Install wrappers with ``install(patches)`` for the block; remove them all afterwards,
    whatever happens (KeyboardInterrupt included)."""
    patches = Patches()
    try:
        install(patches)
        yield
    finally:
        patches.undo()


def module(name: str):
    return importlib.import_module(name)
