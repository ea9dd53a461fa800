"""The TorchScript backend: ``torch.jit.freeze``, observed one stage at a time."""

from __future__ import annotations

import os

import torch
from torch.jit._script import RecursiveScriptModule

from freezeviz.data.report import FreezeReport
from freezeviz.engine.backend import UNREADABLE, FreezeRequest
from freezeviz.engine.cache import BoundedCache
from freezeviz.engine.torchscript.load import (
    check_not_frozen,
    let_go_of_original,
    load_module,
    quiet_torchscript_warnings,
    type_name,
)
from freezeviz.engine.torchscript.numerics import KeywordInputs
from freezeviz.engine.torchscript.run import Request, freeze_script, obtained

SCRIPT_CACHE_SIZE = 8  # scripted modules kept, keyed by the content of the nn.Module
# torch.jit.script of an nn.Module, reused while the module's state is the same
_script_cache = BoundedCache(SCRIPT_CACHE_SIZE)


class TorchScriptBackend:
    """Freezes with ``torch.jit.freeze``: an nn.Module is scripted (traced with the example
    inputs when it does not script), a path is ``torch.jit.load``-ed on the CPU."""

    name = "torchscript"

    def check(self, module) -> None:
        if isinstance(module, (str, os.PathLike)):
            return
        if not isinstance(module, torch.nn.Module):
            load_module(module)  # raises the right error
        check_not_frozen(module, type_name(module))

    def freeze(self, request: FreezeRequest) -> FreezeReport:
        warns: list[str] = []
        # the report is built after the block, once the warnings torch gave are collected
        with quiet_torchscript_warnings(warns):
            if isinstance(request.module, (str, os.PathLike)):
                script, name = load_module(os.path.abspath(os.fspath(request.module)),
                                           request.example_inputs, warns)
            else:
                script, name = _script_of(request, warns)
            how, path = obtained(request.module, script)
            fields = freeze_script(Request(
                script, name, list(request.preserved_attrs), request.optimize_numerics,
                request.optimize_for_inference, _numerics_inputs(request), how, path), warns)
        kwargs = request.example_kwarg_inputs
        trace_kwargs = tuple(kwargs) if how == "traced" and kwargs is not None else ()
        return FreezeReport(**fields, warnings=tuple(warns), trace_kwargs=trace_kwargs)


def _numerics_inputs(request: FreezeRequest):
    """What the stages run on: the positional inputs, or the keyword ones by name."""
    if request.example_kwarg_inputs is None:
        return request.example_inputs
    return KeywordInputs(request.example_kwarg_inputs)


def _script_of(request: FreezeRequest, warns: list[str]):
    """The ScriptModule to freeze: the module itself, or torch.jit.script of it (reused while
    its state is the same; a traced one only for the same example inputs)."""
    module, state, inputs_key = request.module, request.state_key, request.inputs_key
    if isinstance(module, torch.jit.ScriptModule):
        return module, type_name(module)
    cached = _script_cache.get(module, state) if state is not None else None
    if cached is not None and (cached[3] is None or cached[3] == inputs_key):
        script, name, script_warns, _ = cached
    else:
        script_warns: list[str] = []
        script, name = load_module(module, request.example_inputs, script_warns,
                                   request.example_kwarg_inputs)
        traced = not isinstance(script, RecursiveScriptModule)  # traced: inputs matter
        if state is not None and not (traced and inputs_key is UNREADABLE):
            let_go_of_original(script)
            _script_cache.put(module, state, (script, name, script_warns,
                                              inputs_key if traced else None))
    warns.extend(script_warns)
    return script, name


BACKEND = TorchScriptBackend()
