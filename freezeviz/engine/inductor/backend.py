"""The Inductor backend: ``torch.compile`` with ``torch._inductor.config.freezing = True``,
observed one freezing pass at a time (``freezeviz.freeze(model, example_inputs=(x,),
backend="inductor")``)."""

from __future__ import annotations

import copy
import dataclasses
import os
import time
import warnings

import torch

from freezeviz.data.report import FreezeReport, MethodInfo
from freezeviz.engine.backend import FreezeRequest
from freezeviz.engine.inductor import hooks as H
from freezeviz.engine.inductor.fates import decide_fates
from freezeviz.engine.inductor.numerics import compute_numerics
from freezeviz.engine.inductor.run import compile_model
from freezeviz.errors import FreezeError


def _exported(module):
    """``(info, warnings function)`` for a torch.export ExportedProgram, else None."""
    if not isinstance(module, torch.export.ExportedProgram):
        return None
    try:
        from freezeviz.engine.inductor import export as E
    except ImportError as exc:
        raise FreezeError("This freezeviz cannot freeze an ExportedProgram yet: pass "
                          "ep.module() and example_inputs instead.") from exc
    return E.exported_input(module), E.export_warnings


class InductorBackend:
    """Freezes an nn.Module with Inductor's freezing; stops before code generation unless
    ``codegen`` (then the compiled code's outputs are compared too)."""

    name = "inductor"

    def __init__(self, codegen: bool = False):
        self.codegen = codegen

    def check(self, module) -> None:
        if isinstance(module, (str, os.PathLike)):
            raise FreezeError("backend='inductor' freezes an nn.Module with torch.compile; a "
                              "saved TorchScript file cannot be compiled. Pass the nn.Module, "
                              "or use backend='torchscript' for the file.")
        if isinstance(module, torch.jit.ScriptModule):
            raise FreezeError("backend='inductor' compiles the Python nn.Module; torch.compile "
                              "cannot compile a ScriptModule. Pass the original nn.Module.")
        if not isinstance(module, (torch.nn.Module, torch.export.ExportedProgram)):
            raise FreezeError(f"backend='inductor' freezes an nn.Module (or an "
                              f"ExportedProgram); got {type(module).__name__}.")

    def freeze(self, request: FreezeRequest) -> FreezeReport:
        t0 = time.perf_counter()
        self.check(request.module)
        module, args, kwargs, export_info = _inputs_of(request)
        warns = _request_warnings(request, module)
        _check_runs(module, args, kwargs)
        codegen = self.codegen
        comp = compile_model(module, args, kwargs, codegen)
        rec = comp.rec
        if codegen:
            rec.add("codegen", rec.graphs[max(rec.graphs)][0], comp.codegen_seconds,
                    description="Inductor's code generation (compile_fx_inner) of the frozen "
                                "graph; its numerics row runs the generated code.")
            rec.graphs.pop(len(rec.stages) - 1)  # its row runs the generated code instead
        attributes = _reassigned(decide_fates(comp.model, comp), comp.reassigned(), warns)
        rows, notes = compute_numerics(comp, [s.name for s in rec.stages])
        warns += notes
        report = FreezeReport(
            module_name=type(module).__name__, preserved_attrs=(), optimize_numerics=True,
            optimize_for_inference=False, stages=tuple(rec.stages),
            attributes=tuple(attributes), methods=(MethodInfo("forward", True, True),),
            alias=(), warnings=(), log=tuple(_log(rec)), passes_check=_passes_check(comp),
            numerics=tuple(rows), seconds=time.perf_counter() - t0, obtained="compiled",
            backend="inductor")
        if export_info is not None:
            warns += list(export_info[1](report, export_info[0]))
        return _with_warnings(report, warns)


def _reassigned(attributes: list, paths: list[str], warns: list[str]) -> list:
    """Say where forward assigns a new tensor to an attribute: torch.compile traced the
    value it saw as a constant and guards on the tensor object, so each call recompiles."""
    out = []
    for a in attributes:
        if a.path in paths:
            note = (f"forward assigns a new tensor to self.{a.path}: torch.compile froze the "
                    "value it saw as a constant and guards on the tensor object, so every call "
                    "compiles (and freezes) again. Write it in place (self.x += 1, or copy_) "
                    "to keep it as state.")
            a = dataclasses.replace(a, warning=note)
            warns.append(note)
        out.append(a)
    return out


def _with_warnings(report: FreezeReport, warns: list[str]) -> FreezeReport:
    return dataclasses.replace(report, warnings=tuple(dict.fromkeys(warns)))


def _inputs_of(request: FreezeRequest):
    """(the nn.Module, positional inputs, keyword inputs, export info or None)."""
    module, exported = request.module, _exported(request.module)
    inputs, kwargs = request.example_inputs, request.example_kwarg_inputs or {}
    if exported is not None:
        info = exported[0]
        module = info.module
        if inputs is None and not kwargs:
            inputs = info.example_inputs
            kwargs = getattr(info, "example_kwarg_inputs", None) or {}
    if inputs is None and not kwargs:
        raise FreezeError(
            "backend='inductor' needs example_inputs: torch.compile traces forward on real "
            "inputs, and freezeviz runs every stage on them. Pass example_inputs=(x,) with "
            "inputs model(*example_inputs) accepts.")
    if request.preserved_attrs:
        raise FreezeError(
            "Inductor freezing has no preserved_attrs: it keeps exactly the parameters and "
            "buffers forward writes or returns. Leave preserved_attrs empty with "
            "backend='inductor'.")
    if request.optimize_for_inference:
        raise FreezeError("optimize_for_inference is a TorchScript pass; Inductor freezing "
                          "already packs weights for inference. Leave it off with "
                          "backend='inductor'.")
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (
        () if inputs is None else (inputs,))
    return module, args, dict(kwargs), exported


def _check_runs(module, args: tuple, kwargs: dict) -> None:
    """Run the model once, eagerly, on copies: inputs it does not take fail here with a
    plain message, not deep inside Dynamo's tracing."""
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            copy.deepcopy(module)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except Exception as exc:
        raise FreezeError(
            "example_inputs do not run through the module (before freezing), so torch.compile "
            "cannot trace it. Pass a tuple of inputs that model(*example_inputs) accepts.",
            torch_message=f"{type(exc).__name__}: {exc}") from exc


def _request_warnings(request: FreezeRequest, module) -> list[str]:
    warns = []
    gone = H.missing()
    if gone:
        warns.append(
            f"This torch ({torch.__version__}) lacks {', '.join(gone[:3])}"
            f"{' ...' if len(gone) > 3 else ''}, which freezeviz wraps to observe each "
            f"freezing pass (tested on torch {H.TESTED_TORCH}); only the public stages are "
            "shown: the Dynamo graph before freezing and the frozen graph.")
    elif not torch.__version__.startswith(H.TESTED_TORCH):
        warns.append(f"freezeviz's per-pass stages were tested on torch {H.TESTED_TORCH}; "
                     f"this is torch {torch.__version__}.")
    if not request.optimize_numerics:
        warns.append("optimize_numerics=False has no effect with backend='inductor': Inductor "
                     "always folds what its freezing passes can.")
    training = [n or "the root module" for n, m in module.named_modules() if m.training]
    if training:
        norm = torch.nn.modules.batchnorm._BatchNorm
        bn = any(isinstance(m, norm) and m.training for m in module.modules())
        what = ("BatchNorm's running statistics are written and stay graph inputs" if bn
                else "what it froze is the training-mode behaviour (dropout included)")
        warns.append(f"{type(module).__name__} is in training mode ({', '.join(training[:3])}"
                     f"{', ...' if len(training) > 3 else ''}): Inductor froze it as it is, so "
                     f"{what}. Call model.eval() first to freeze for inference. Your module is "
                     "unchanged.")
    return warns


def _passes_check(comp) -> str:
    if comp.per_pass:
        return (f"stages observed inside torch.compile's own freezing (torch "
                f"{torch.__version__}); the frozen graph is the one code generation receives")
    return "public stages only (this torch lacks functions the per-pass stages wrap)"


def _log(rec) -> list[str]:
    lines = []
    order = {s.name: i for i, s in enumerate(rec.stages)}
    for target, made in sorted(rec.lineage.made.items(), key=lambda kv: order[kv[1].stage]):
        paths = ", ".join(sorted(rec.lineage.paths(target))) or "no module attribute"
        lines.append(f"{made.stage}: {target} = {' -> '.join(made.ops) or 'copy'} of "
                     f"{', '.join(made.sources)} (from {paths})")
    return lines


BACKEND = InductorBackend()
