"""Run the real ``torch.jit.freeze`` one stage at a time and record what each stage did.

The frozen module this returns is the one torch builds: ``torch._C._freeze_module`` and the
frozen-graph passes torch runs, in torch's order. Stages are observations of that run; the
per-pass stages are checked against torch's fused pass on every run.
"""

from __future__ import annotations

import dataclasses
import os
import time

import torch
from torch.jit._script import RecursiveScriptModule

from freezeviz.data.report import MethodInfo
from freezeviz.engine.torchscript.analysis import inventory, method_names, preserved_submodule_methods
from freezeviz.engine.torchscript.constants import trace_constants
from freezeviz.engine.torchscript.fates import decide_fates
from freezeviz.engine.torchscript.jitlog import capture_jit_log, parse_freeze_log
from freezeviz.engine.torchscript.load import check_not_frozen, eval_mode, validate_preserved
from freezeviz.engine.torchscript.numerics import compute_numerics
from freezeviz.engine.torchscript.pass_stages import run_frozen_passes, run_optimize_for_inference
from freezeviz.engine.torchscript.recorder import Recorder, analyse_writes, code_of, deferred_code
from freezeviz.engine.torchscript.stories import class_constants
from freezeviz.errors import FreezeError, explain_torch_freeze_error


@dataclasses.dataclass(frozen=True)
class Request:
    """One freeze, as asked: the ScriptModule and torch.jit.freeze's arguments."""

    script: object  # torch.jit.ScriptModule
    name: str  # what the report calls the module
    preserved: list[str]
    optimize_numerics: bool
    optimize_for_inference: bool
    example_inputs: object = None
    obtained: str = "given"  # how the ScriptModule was obtained: scripted, traced, loaded, given
    source_path: str | None = None


def freeze_script(req: Request, warns: list[str]) -> dict:
    """Freeze ``req.script`` in eval mode (restoring every training flag afterwards). Returns
    every field of the report but its warnings, which ``warns`` collects (numerics included):
    the report is built once they are all known."""
    script, name = req.script, req.name
    check_not_frozen(script, name)
    validate_preserved(script._c, req.preserved)
    in_training = [n or "the root module" for n, m in script.named_modules() if m.training]
    if in_training:
        warns.append(f"{name} is in training mode ({', '.join(in_training[:4])}"
                     f"{', ...' if len(in_training) > 4 else ''}); freezeviz froze it as in eval "
                     "mode, as torch.jit.freeze requires. Your module is unchanged.")
    with eval_mode(script):
        return run_freeze(req, warns)


def _methods_to_keep(cmod, name: str, preserved: list[str]) -> tuple[list[str], list[str]]:
    """(the methods the freeze keeps, in torch's order; the preserved ones among them)."""
    methods_all = method_names(cmod)
    preserved_methods = [p for p in preserved if p in methods_all]
    methods = (["forward"] if cmod._has_method("forward") else []) + \
        [m for m in preserved_methods if m != "forward"]
    if not methods:
        raise FreezeError(
            f"{name} has no forward method and preserved_attrs names no method, so freezing "
            f"would keep nothing. Name the methods to keep in preserved_attrs "
            f"(this module has: {', '.join(methods_all) or 'no methods'}).")
    return methods, preserved_methods


def _scripted_and_inlined(cmod, methods: list[str], rec: Recorder):
    """Stages 'scripted' and 'inlined' of each method; returns the inlined graphs, the writers
    found in them and the attribute paths of their values."""
    inlined_graphs, evidence_all, value_paths = {}, [], []
    for m in methods:
        t0 = time.perf_counter()
        graph = cmod._get_method(m).graph
        rec.add("scripted", m, graph, time.perf_counter() - t0, code=code_of(cmod, m))
        t0 = time.perf_counter()
        gi = graph.copy()
        torch._C._jit_pass_inline(gi)
        writes, evidence = analyse_writes(gi, m, rec, value_paths)
        evidence_all += evidence
        inlined_graphs[m] = gi
        # gi is only read from here on: its code can be printed from it when first read
        rec.add("inlined", m, gi, time.perf_counter() - t0,
                code=deferred_code(gi, m, copy=False), writes=writes)
    return inlined_graphs, evidence_all, value_paths


def _run_freezer(cmod, preserved: list[str]):
    """torch's freezer itself, with its log: (frozen module, log lines, seconds)."""
    t0 = time.perf_counter()
    try:
        with capture_jit_log(">>freeze_module") as log_lines:
            frozen_c = torch._C._freeze_module(cmod, preserved)
    except RuntimeError as exc:
        raise explain_torch_freeze_error(
            exc, preserved, preserved_submodule_methods(cmod, preserved)) from exc
    frozen = RecursiveScriptModule(frozen_c)
    RecursiveScriptModule._finalize_scriptmodule(frozen)
    return frozen, log_lines, time.perf_counter() - t0


def run_freeze(req: Request, warns: list[str]) -> dict:
    t_start = time.perf_counter()
    script, preserved = req.script, req.preserved
    cmod = script._c
    methods, preserved_methods = _methods_to_keep(cmod, req.name, preserved)
    rec = Recorder(keep_graphs=req.example_inputs is not None)
    rec.owner = script
    rec.module_paths = frozenset(s.path for s in inventory(cmod) if s.kind == "module")

    inlined_graphs, evidence_all, value_paths = _scripted_and_inlined(cmod, methods, rec)
    frozen, log_lines, t_freeze = _run_freezer(cmod, preserved)
    frozen_c = frozen._c
    rec.owner = frozen
    decisions = _full_paths(parse_freeze_log(log_lines), value_paths, cmod)
    tracer = trace_constants(cmod, frozen_c, decisions, inlined_graphs)
    for m in methods:
        g = frozen_c._get_method(m).graph
        writes, _ = analyse_writes(g, m, None)
        rec.add("frozen", m, g, t_freeze if m == methods[0] else 0.0,
                code=deferred_code(g, m), constants=tracer.constants_in(g), writes=writes)

    passes_check, frozen = run_frozen_passes(
        frozen, methods, preserved_methods, req.optimize_numerics, rec, tracer, warns,
        lambda: torch.jit.freeze(script, preserved, req.optimize_numerics))
    frozen_c = frozen._c
    rewrites: dict = {}
    if req.optimize_for_inference:
        frozen, rewrites = run_optimize_for_inference(
            script, frozen, frozen_c, methods, preserved, preserved_methods,
            req.optimize_numerics, rec, tracer, warns)
        frozen_c = frozen._c

    attributes, fate_warnings = decide_fates(
        cmod, frozen_c, preserved, decisions, evidence_all, rec.stages, inlined_graphs, tracer,
        rewrites)
    warns.extend(fate_warnings)
    numerics: list = []
    if req.example_inputs is not None:
        numerics, notes = compute_numerics(script, rec.stages, rec.graphs, req.example_inputs)
        warns.extend(notes)
    rec.graphs.clear()
    kept = set(method_names(frozen_c))
    return dict(
        module_name=req.name, preserved_attrs=tuple(preserved),
        optimize_numerics=req.optimize_numerics,
        optimize_for_inference=req.optimize_for_inference, stages=tuple(rec.stages),
        attributes=tuple(attributes),
        methods=tuple(MethodInfo(m, m == "forward" or m in preserved, m in kept)
                      for m in method_names(cmod)),
        alias=tuple(rec.alias),
        log=tuple(str(line) for line in decisions.lines), passes_check=passes_check,
        numerics=tuple(numerics), seconds=time.perf_counter() - t_start, frozen_module=frozen,
        constants=tuple(class_constants(cmod)), obtained=req.obtained,
        source_path=req.source_path)


def _full_paths(decisions, value_paths: list[dict[str, str]], cmod):
    """The log names a folded attribute relative to the module whose graph it is freezing
    (inside a fork body that is the forked submodule); resolve each to its path from the root."""
    slots = {s.path for s in inventory(cmod)}
    folded = []
    for value, path, fn in decisions.folded:
        candidates = {vp[value] for vp in value_paths if value in vp
                      and (vp[value] == path or vp[value].endswith("." + path))}
        if len(candidates) == 1:
            path = candidates.pop()
        elif path not in slots and candidates:
            path = sorted(candidates)[0]
        folded.append((value, path, fn))
    return dataclasses.replace(decisions, folded=tuple(folded))


def obtained(source, script) -> tuple[str, str | None]:
    """How the frozen ScriptModule was obtained from what was passed in, and from which file."""
    if isinstance(source, (str, os.PathLike)):
        return "loaded", os.path.abspath(os.fspath(source))
    if script is source:
        return "given", None
    return ("traced" if isinstance(script, torch.jit.TopLevelTracedModule) else "scripted"), None
