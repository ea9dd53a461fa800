"""The backend interface: a freezer that turns a module and freeze's arguments into a FreezeReport.

``torchscript`` (``torch.jit.freeze``, stage by stage) is the one backend today; another freezer
(torch.compile's Inductor freezing, say) plugs in with :func:`register` under its own name.
Backends are looked up by name when first used, so naming one imports nothing else.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from freezeviz.data.report import FreezeReport
from freezeviz.errors import FreezeError

# ``FreezeRequest.inputs_key`` when the example inputs cannot be read reliably: nothing
# computed from them may be reused
UNREADABLE = object()


@dataclass(frozen=True)
class FreezeRequest:
    """One freeze, as the user asked for it."""

    module: object  # an nn.Module, a ScriptModule or the path of a saved file
    preserved_attrs: tuple[str, ...]
    optimize_numerics: bool
    optimize_for_inference: bool
    example_inputs: object = None
    # Content keys (freezeviz.engine.cache) the caller computed, for a backend's own caches:
    # the module's state (None when it cannot be read reliably) and the example inputs (None
    # when there are none, UNREADABLE when they cannot be read reliably)
    state_key: object = None
    inputs_key: object = None  # covers example_kwarg_inputs too
    # keyword inputs (argument name -> value), for torch.jit.trace's example_kwarg_inputs
    example_kwarg_inputs: dict | None = None


@runtime_checkable
class Backend(Protocol):
    """A freezer freezeviz can observe."""

    name: str

    def check(self, module) -> None:
        """Raise FreezeError for a ``module`` this backend cannot freeze, before any work."""

    def freeze(self, request: FreezeRequest) -> FreezeReport:
        """Freeze ``request.module`` and return the complete, immutable report. Never changes
        the user's module."""


# name -> the backend, or "module:attribute" where it lives until first used
_REGISTRY: dict[str, Backend | str] = {
    "torchscript": "freezeviz.engine.torchscript.backend:BACKEND",
    "inductor": "freezeviz.engine.inductor.backend:BACKEND",
}


def register(backend: Backend | str, name: str | None = None) -> None:
    """Make ``backend`` (or the "module:attribute" it lives at) available as ``name``
    (default: its own ``name``)."""
    if name is None:
        if isinstance(backend, str):
            raise ValueError("register a backend given by its location under a name")
        name = backend.name
    _REGISTRY[name] = backend


def unregister(name: str) -> None:
    """Forget the backend registered as ``name``."""
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    """The names of the registered backends."""
    return sorted(_REGISTRY)


def checked(backend) -> Backend:
    """``backend`` when it is a backend object (a name is looked up with :func:`get`)."""
    if not all(callable(getattr(backend, m, None)) for m in ("check", "freeze")) or \
            not isinstance(getattr(backend, "name", None), str):
        raise FreezeError(f"backend must be the name of a freeze backend "
                          f"({', '.join(repr(n) for n in names())}) or a backend object with "
                          f"name, check() and freeze(); got {type(backend).__name__}.")
    return backend


def get(name: str) -> Backend:
    """The backend registered as ``name``."""
    found = _REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise FreezeError(f"There is no freeze backend named {name!r}. Known backends: "
                          f"{', '.join(repr(n) for n in names())}.")
    if isinstance(found, str):
        found = _REGISTRY[name] = pkgutil.resolve_name(found)
    return found
