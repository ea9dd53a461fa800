"""``freezeviz.freeze``: pick the backend, reuse a report whose inputs have not changed."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Sequence

from freezeviz.data.report import FreezeReport
from freezeviz.engine import backend as backends
from freezeviz.engine.backend import UNREADABLE, FreezeRequest
from freezeviz.engine.cache import BoundedCache, Key, content_key, file_key
from freezeviz.errors import FreezeError

CACHE_SIZE = 8  # reports kept, over all modules and files (each holds a frozen module)
# Reports keyed by content (freezeviz.engine.cache): a key that could be wrong does not exist;
# state that cannot be read reliably is frozen again every time.
_cache = BoundedCache(CACHE_SIZE)


def module_fingerprint(module) -> Key | None:
    """The content key of a module's whole state (every tensor's bytes, every attribute of
    every submodule with its type, training flags), or None when part of it cannot be read
    reliably, and nothing computed from it may be reused."""
    return content_key(module)


@contextlib.contextmanager
def _collector_paused():
    """A freeze makes a few hundred thousand small objects that live on in the report (the
    snapshots): the cyclic collector would scan the growing heap again and again and find
    nothing to free (measured: 10-25% of a freeze, for 2 MB less peak memory). Paused for
    the call, and left as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _inputs_key(inputs):
    """``example_inputs`` by value; None when there are none; UNREADABLE when some part of
    them cannot be read reliably."""
    if inputs is None:
        return None
    key = content_key(inputs)
    return UNREADABLE if key is None else key


def _all_inputs_key(example_inputs, example_kwarg_inputs):
    """The key of both kinds of example inputs: keyword inputs are keyed by value (names
    included) and kept apart from positional ones."""
    if example_kwarg_inputs is None:
        return _inputs_key(example_inputs)
    key = _inputs_key(example_kwarg_inputs)
    return key if key is UNREADABLE else ("kwargs", key)


def _check_kwarg_inputs(example_inputs, example_kwarg_inputs) -> None:
    if example_kwarg_inputs is None:
        return
    if not isinstance(example_kwarg_inputs, dict) or \
            not all(isinstance(k, str) for k in example_kwarg_inputs):
        raise FreezeError(
            "example_kwarg_inputs must be a dict from forward's argument names to inputs, e.g. "
            "{'input_ids': ids, 'attention_mask': mask}; got "
            f"{type(example_kwarg_inputs).__name__}. Pass a tuple as example_inputs instead "
            "for positional arguments.")
    if example_inputs is not None:
        raise FreezeError(
            "Pass either example_inputs or example_kwarg_inputs, not both: torch.jit.trace "
            "takes one of them. Put every input in example_kwarg_inputs by argument name.")


def freeze(module, preserved_attrs: Sequence[str] | None = None, optimize_numerics: bool = True,
           *, example_inputs=None, example_kwarg_inputs: dict | None = None,
           optimize_for_inference: bool = False,
           backend: str | backends.Backend = "torchscript") -> FreezeReport:
    """Freeze ``module`` exactly as ``torch.jit.freeze`` does, recording every stage.

    Same arguments as ``torch.jit.freeze``. ``module`` may be a ScriptModule (scripted or
    traced), a plain ``nn.Module`` (scripted for you; traced with ``example_inputs`` when it
    does not script; or with ``example_kwarg_inputs``, a dict of forward's keyword arguments,
    as torch.jit.trace takes them), or the path of a saved TorchScript file. The module is
    never changed.
    ``backend`` names the freezer (:func:`freezeviz.engine.backend.names`), or is a backend
    object: ``InductorBackend(codegen=True)`` (``freezeviz.engine.inductor.backend``) also
    runs Inductor's code generation and compares the compiled code's outputs.

    >>> report = freeze(torch.jit.script(MyModule().eval()))   # doctest: +SKIP
    >>> print(report.explain("weight"))                         # doctest: +SKIP
    """
    return freeze_read(UNREAD, module, preserved_attrs, optimize_numerics,
                       example_inputs=example_inputs, example_kwarg_inputs=example_kwarg_inputs,
                       optimize_for_inference=optimize_for_inference, backend=backend)


UNREAD = object()  # freeze_read: the module was not read (freeze reads it)


def freeze_read(state, module, preserved_attrs=None, optimize_numerics=True, *,
                example_inputs=None, example_kwarg_inputs=None, optimize_for_inference=False,
                backend="torchscript") -> FreezeReport:
    """:func:`freeze` of a module whose :func:`module_fingerprint` the caller read just
    before, with nothing run since (the inspector reads it to look up its own reports): the
    module's tensors are read once, not twice."""
    impl = backends.get(backend) if isinstance(backend, str) else backends.checked(backend)
    with _collector_paused():
        return _freeze(impl, module, preserved_attrs, optimize_numerics, example_inputs,
                       optimize_for_inference, example_kwarg_inputs, state)


def _freeze(impl, module, preserved_attrs, optimize_numerics, example_inputs,
            optimize_for_inference, example_kwarg_inputs=None, state=UNREAD) -> FreezeReport:
    if isinstance(preserved_attrs, str):
        preserved_attrs = [preserved_attrs]
    preserved = tuple(dict.fromkeys(preserved_attrs or []))
    _check_kwarg_inputs(example_inputs, example_kwarg_inputs)
    inputs_key = _all_inputs_key(example_inputs, example_kwarg_inputs)
    # the backend object itself: two registered under one name, or one backend's options
    # (codegen), never share a report
    options = (impl, preserved, bool(optimize_numerics), bool(optimize_for_inference),
               inputs_key)
    impl.check(module)
    owner = None
    if isinstance(module, (str, os.PathLike)):
        state = None
        # a file is known by its bytes: a rewrite within the same second is a new file
        path = os.path.abspath(os.fspath(module))
        content = file_key(path) if os.path.isfile(path) else None
        key = None if content is None else (path, content, options)
    else:
        owner = module
        state = module_fingerprint(module) if state is UNREAD else state
        key = None if state is None else (state, options)
    if inputs_key is UNREADABLE:
        key = None
    report = _cache.get(owner, key) if key is not None else None
    if report is None:
        report = impl.freeze(FreezeRequest(module, preserved, optimize_numerics,
                                           optimize_for_inference, example_inputs, state,
                                           inputs_key, example_kwarg_inputs))
        if key is not None:
            _cache.put(owner, key, report)
    return report
