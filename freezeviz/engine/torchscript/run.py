"""Run the real ``torch.jit.freeze`` one stage at a time and record what each stage did.

The frozen module this returns is the one torch builds: ``torch._C._freeze_module`` and the
frozen-graph passes torch runs, in torch's order. Stages are observations of that run; the
per-pass stages are checked against torch's fused pass on every run.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import math
import os
import time
import warnings
from collections.abc import Sequence

import torch
from torch.jit._script import RecursiveScriptModule

from freezeviz.data.diff import normalize_graph_text
from freezeviz.data.report import AliasInfo, AliasWriter, FreezeReport, MethodInfo
from freezeviz.data.snapshot import SourceLoc, Stage
from freezeviz.engine.cache import BoundedCache, Key, content_key, file_key
from freezeviz.engine.torchscript import passes as P
from freezeviz.engine.torchscript.analysis import attribute_paths, find_writers, fork_subgraphs, inventory, method_names
from freezeviz.engine.torchscript.attributes import (
    class_constants,
    decide_fates,
    preserved_submodule_methods,
    trace_constants,
)
from freezeviz.engine.torchscript.extract import snapshot_graph
from freezeviz.engine.torchscript.jitlog import capture_jit_log, parse_freeze_log
from freezeviz.errors import FreezeError, did_you_mean, explain_torch_freeze_error

# --- inputs --------------------------------------------------------------------------------

@contextlib.contextmanager
def quiet_torchscript_warnings(collected: list[str]):
    """Silence TorchScript's deprecation notices for one call; keep every other warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        msg = str(w.message)
        if _is_torchscript_deprecation(w.category, msg):
            continue
        if msg not in seen:
            seen.add(msg)
            collected.append(f"{w.category.__name__}: {msg}")


def _is_torchscript_deprecation(category, msg: str) -> bool:
    about_torchscript = "torch.jit" in msg or "TorchScript" in msg or "torch.compile" in msg
    if issubclass(category, DeprecationWarning):
        return about_torchscript
    # torch 2.14 announces the same deprecation as a FutureWarning, which users see by default
    return issubclass(category, FutureWarning) and about_torchscript and "deprecat" in msg


def _script_error_hint(msg: str) -> str:
    if "could not get source code" in msg:
        return ("torch.jit.script needs the source of the module's class, and Python cannot find "
                "it (a class defined with exec() or typed into a bare interpreter). Define the "
                "class in a .py file or a notebook cell, or pass example_inputs=... so freezeviz "
                "can trace the module instead.")
    if "annotation" in msg.lower() or "Tried to access nonexistent attribute" in msg or \
            "empty" in msg.lower():
        return ("TorchScript could not infer the type of an attribute. Empty lists and dicts need "
                "a class-level annotation (e.g. `hist: List[int]`), and `from __future__ import "
                "annotations` hides those annotations from TorchScript. Or pass "
                "example_inputs=... to trace the module.")
    return ("Fix the construct torch points at below, or pass example_inputs=... so freezeviz "
            "traces the module instead of scripting it.")


@contextlib.contextmanager
def _eval_mode(module):
    """Put every module of the tree in eval mode for the block, then restore each flag."""
    mods = list(module.named_modules())
    flags = [(m, m.training) for _, m in mods]
    try:
        for m, flag in flags:
            if flag:
                m.training = False
        yield
    finally:
        for m, flag in flags:
            if m.training != flag:
                m.training = flag


def load_module(source, example_inputs=None, warns: list[str] | None = None):
    """Return ``(script_module, display_name)`` for a ScriptModule, nn.Module or .pt path."""
    warns = warns if warns is not None else []
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FreezeError(f"No such file: {path!r}. Pass a saved TorchScript file "
                              "(torch.jit.save), an nn.Module or a ScriptModule.")
        try:
            mod = torch.jit.load(path, map_location="cpu")
        except Exception as exc:
            raise FreezeError(
                f"torch.jit.load could not load {path!r}. freezeviz opens TorchScript files "
                "written by torch.jit.save(torch.jit.script(model), path). If this is not a "
                "TorchScript file (a state_dict or pickled nn.Module from torch.save), load it "
                "into its model class first and pass the module; if it is, torch's reason is "
                "below.", torch_message=str(exc)) from exc
        return mod, os.path.basename(path)
    if isinstance(source, torch.jit.ScriptModule):
        return source, _type_name(source)
    if isinstance(source, torch.nn.Module):
        try:
            return torch.jit.script(source), type(source).__name__
        except Exception as exc:
            if example_inputs is None:
                raise FreezeError(
                    f"torch.jit.script could not compile {type(source).__name__}. "
                    + _script_error_hint(str(exc)), torch_message=str(exc)) from exc
            warns.append(f"torch.jit.script failed ({_first_line(exc)}); traced the module with "
                         "the example inputs instead. A traced module records one path through "
                         "the code: branches on data are baked in.")
            try:
                with _eval_mode(source), torch.no_grad():
                    traced = torch.jit.trace(source, _as_tuple(example_inputs))
            except Exception as exc2:
                raise FreezeError(
                    f"{type(source).__name__} could neither be scripted nor traced.",
                    torch_message=f"script: {exc}\ntrace: {exc2}") from exc2
            return traced, type(source).__name__
    raise FreezeError(f"freezeviz.freeze expects an nn.Module, a ScriptModule or a path to a "
                      f"TorchScript file, not {type(source).__name__}.")


def _record_how(report: FreezeReport, module, script) -> FreezeReport:
    """Note on the report how the frozen ScriptModule was obtained from what was passed in."""
    if isinstance(module, (str, os.PathLike)):
        report.obtained, report.source_path = "loaded", os.path.abspath(os.fspath(module))
    elif script is module:
        report.obtained = "given"
    else:
        report.obtained = "traced" if isinstance(script, torch.jit.TopLevelTracedModule) \
            else "scripted"
    return report


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _as_tuple(inputs):
    return inputs if isinstance(inputs, tuple) else (inputs,)


def _type_name(mod) -> str:
    try:
        return mod.original_name
    except Exception:
        return type(mod).__name__


def validate_preserved(cmod, preserved: list[str]) -> None:
    """Check names before torch does, so that mistakes get a useful message.

    A method of a submodule (``"sub.helper"``) is left to torch: it freezes one that reads no
    state the root module lacks, and refuses the others (explain_torch_freeze_error says why).
    """
    from freezeviz.engine.torchscript.analysis import inventory

    slots = {s.path for s in inventory(cmod)}
    methods = set(method_names(cmod))
    for name in preserved:
        if not isinstance(name, str):
            raise FreezeError(f"preserved_attrs must be a list of strings; got {name!r}.")
        if name in slots or name in methods or name in preserved_submodule_methods(cmod, [name]):
            continue
        raise FreezeError(f"preserved_attrs names {name!r}, which this module does not have."
                          f"{did_you_mean(name, sorted(slots | methods))}")


# --- the run -------------------------------------------------------------------------------

def _code_of(cmod, method: str) -> str:
    try:
        return cmod._get_method(method).code
    except Exception:
        return ""


def _graph_code(graph, method: str) -> str:
    try:
        return torch._C._create_function_from_graph(method, graph).code
    except Exception:
        return ""


class _Recorder:
    """Collects stages; snapshots a graph after each step and times the step."""

    def __init__(self, keep_graphs: bool = False):
        self.stages: list[Stage] = []
        self.alias: list[AliasInfo] = []
        self.last_result = False
        # with example inputs: a copy of each forward stage's graph and the module it runs on
        self.keep_graphs = keep_graphs
        self.graphs: dict[int, tuple] = {}
        self.owner = None
        self._norm_cache: dict[str, str] = {}
        self.module_paths: frozenset[str] = frozenset()

    def _normalized(self, text: str) -> str:
        """normalize_graph_text, remembered: each stage's text is compared twice."""
        cache = self._norm_cache
        if text not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[text] = normalize_graph_text(text)
        return cache[text]

    def add(self, name, method, graph, code, seconds, *, prev_text=None, constants=None,
            pass_name=None, iteration=None, writes=None, description=None):
        text = str(graph)
        previous = next((s for s in reversed(self.stages) if s.method == method), None)
        norm = self._normalized
        if previous is not None and previous.name not in ("scripted",) and (
                previous.graph.text == text or norm(previous.graph.text) == norm(text)):
            # the step left the graph as it was (graph.copy() may have renumbered unnamed
            # values, nothing else): same snapshot, same code
            snap, changed = previous.graph, False
            code = previous.code_text
        else:
            if callable(constants):
                constants = constants()
            snap = snapshot_graph(graph, method, constant_attributes=constants, writes=writes,
                                  module_paths=self.module_paths)
            if code is _LAZY:
                code = _lazy_code(graph, method)
            changed = prev_text is None or norm(text) != norm(prev_text)
        base = name.split("#", 1)[0]
        if description is None:
            description = P.STAGE_DESCRIPTIONS.get(base, base)
            if iteration and iteration > 1:
                description += f" (round {iteration} of the numerics loop)"
        stage = Stage(name, description, snap, code, changed,
                      seconds, method, pass_name, iteration)
        self.stages.append(stage)
        if self.keep_graphs and method == "forward":
            self.graphs[len(self.stages) - 1] = (graph.copy(), self.owner)
        return stage


def _analyse_writes(graph, label: str, rec: _Recorder | None, value_paths: list | None = None):
    writes, evidence, adb, paths = find_writers(graph, label, with_paths=True)
    if value_paths is not None:
        value_paths.append(paths)
    if rec is not None:
        rec.alias.append(AliasInfo(label, tuple(
            AliasWriter(e.via, e.attribute, e.kind, SourceLoc(*e.source) if e.source else None)
            for e in evidence), adb.to_graphviz_str()))
        for sub, roots, sub_label in fork_subgraphs(graph, label, paths):
            _, sub_evidence, sub_adb = find_writers(sub, sub_label, roots)
            if value_paths is not None:
                value_paths.append(attribute_paths(sub, roots))
            rec.alias.append(AliasInfo(sub_label, tuple(
                AliasWriter(e.via, e.attribute, e.kind, SourceLoc(*e.source) if e.source else None)
                for e in sub_evidence), sub_adb.to_graphviz_str()))
            evidence = evidence + sub_evidence
    return writes, evidence


def run_freeze(script, name: str, preserved: list[str], optimize_numerics: bool,
               optimize_for_inference: bool, warns: list[str], keep_graphs: bool = False
               ) -> FreezeReport:
    t_start = time.perf_counter()
    cmod = script._c
    methods_all = method_names(cmod)
    preserved_methods = [p for p in preserved if p in methods_all]
    methods = (["forward"] if cmod._has_method("forward") else []) + \
        [m for m in preserved_methods if m != "forward"]
    if not methods:
        raise FreezeError(
            f"{name} has no forward method and preserved_attrs names no method, so freezing "
            f"would keep nothing. Name the methods to keep in preserved_attrs "
            f"(this module has: {', '.join(methods_all) or 'no methods'}).")
    rec = _Recorder(keep_graphs)
    rec.owner = script
    rec.module_paths = frozenset(s.path for s in inventory(cmod) if s.kind == "module")
    evidence_all = []
    value_paths: list[dict[str, str]] = []

    # 1. scripted and inlined, per method
    inlined_graphs = {}
    for m in methods:
        t0 = time.perf_counter()
        graph = cmod._get_method(m).graph
        rec.add("scripted", m, graph, _code_of(cmod, m), time.perf_counter() - t0)
        t0 = time.perf_counter()
        gi = graph.copy()
        torch._C._jit_pass_inline(gi)
        writes, evidence = _analyse_writes(gi, m, rec, value_paths)
        evidence_all += evidence
        inlined_graphs[m] = gi
        rec.add("inlined", m, gi, functools.partial(_graph_code, gi, m), time.perf_counter() - t0,
                prev_text=str(graph), writes=writes)

    # 2. the freezer itself, with its log
    t0 = time.perf_counter()
    try:
        with capture_jit_log(">>freeze_module") as log_lines:
            frozen_c = torch._C._freeze_module(cmod, preserved)
    except RuntimeError as exc:
        raise explain_torch_freeze_error(
            exc, preserved, preserved_submodule_methods(cmod, preserved)) from exc
    frozen = RecursiveScriptModule(frozen_c)
    RecursiveScriptModule._finalize_scriptmodule(frozen)
    t_freeze = time.perf_counter() - t0
    rec.owner = frozen
    decisions = _full_paths(parse_freeze_log(log_lines), value_paths, cmod)
    tracer = trace_constants(cmod, frozen_c, decisions, methods)

    def frozen_graph(m):
        return frozen_c._get_method(m).graph

    for m in methods:
        g = frozen_graph(m)
        writes, _ = _analyse_writes(g, m, None)
        rec.add("frozen", m, g, _LAZY, t_freeze if m == methods[0] else 0.0,
                prev_text=str(inlined_graphs[m]), constants=tracer.constants_in(g), writes=writes)

    # 3. frozen-graph passes: forward one by one, checked against torch's fused pass
    passes_check = _run_frozen_passes(frozen, frozen_c, methods, preserved_methods,
                                      optimize_numerics, rec, tracer, warns)
    # 4. optimize_for_inference, if asked
    rewrites: dict = {}
    if optimize_for_inference:
        frozen, rewrites = _run_optimize_for_inference(
            script, frozen, frozen_c, methods, preserved, preserved_methods, optimize_numerics,
            rec, tracer, warns)
        frozen_c = frozen._c

    attributes, fate_warnings = decide_fates(
        cmod, frozen_c, preserved, decisions, evidence_all, rec.stages, inlined_graphs, tracer,
        rewrites)
    warns.extend(fate_warnings)
    kept = set(method_names(frozen_c))
    method_infos = [MethodInfo(m, m == "forward" or m in preserved, m in kept) for m in methods_all]
    report = FreezeReport(
        module_name=name, preserved_attrs=tuple(preserved), optimize_numerics=optimize_numerics,
        optimize_for_inference=optimize_for_inference, stages=rec.stages, attributes=attributes,
        methods=method_infos, alias=rec.alias, warnings=warns,
        log=tuple(str(line) for line in decisions.lines), passes_check=passes_check,
        seconds=time.perf_counter() - t_start, frozen_module=frozen,
        constants=class_constants(cmod))
    report._graphs = rec.graphs
    return report


def _full_paths(decisions, value_paths: list[dict[str, str]], cmod):
    """The log names a folded attribute relative to the module whose graph it is freezing
    (inside a fork body that is the forked submodule); resolve each to its path from the root."""
    import dataclasses

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


def _run_frozen_passes(frozen, frozen_c, methods, preserved_methods, optimize_numerics, rec,
                       tracer, warns) -> str:
    """Observe torch's frozen-graph passes one at a time, then run torch's fused pass on the
    real module, exactly as torch.jit.freeze does, and check both end on the same graph.

    The one-by-one run works on a copy of the graph (after remove_dropout, which only takes a
    module and is idempotent), so the folded weights of the copy are freed before the real
    module gets its own: memory stays at what torch.jit.freeze needs."""
    checks = []
    for m in methods:
        real = frozen_c._get_method(m).graph
        if m != "forward" and m not in preserved_methods:
            continue
        if m != "forward":
            # torch runs the fused pass on each preserved method's graph; there is no Python
            # binding that removes dropout from a bare graph one step at a time.
            t0 = time.perf_counter()
            prev = str(real)
            torch._C._jit_pass_optimize_frozen_graph(real, optimize_numerics)
            rec.add("optimize_frozen_graph", m, real, _code_of(frozen_c, m),
                    time.perf_counter() - t0, prev_text=prev, constants=tracer.constants_in(real))
            continue
        prev = str(real)
        prev = _run_pass(P.REMOVE_DROPOUT, None, frozen_c, m, real, prev, rec, tracer)
        work = real.copy()
        first_on_copy = len(rec.stages)
        prev = _run_pass(P.CONCAT_LINEAR, None, frozen_c, m, work, prev, rec, tracer)
        if optimize_numerics:
            for round_ in range(1, P.MAX_NUMERICS_ROUNDS + 1):
                any_changed = False
                for step in P.NUMERICS_LOOP:
                    prev = _run_pass(step, round_, frozen_c, m, work, prev, rec, tracer)
                    any_changed |= rec.last_result
                if not any_changed:
                    break
        observed = normalize_graph_text(str(work))
        # print the code of stages taken from the copy now: a pending copy would keep their
        # folded weights alive next to the ones the real module is about to get
        for stage in rec.stages[first_on_copy:]:
            _ = stage.code
        del work
        t0 = time.perf_counter()
        torch._C._jit_pass_optimize_frozen_graph(real, optimize_numerics)
        fused_seconds = time.perf_counter() - t0
        if normalize_graph_text(str(real)) == observed:
            checks.append(f"{m}: running the passes one by one ended on exactly the graph of "
                          "torch's fused _jit_pass_optimize_frozen_graph")
        else:
            warns.append(f"{m}: the passes run one by one did not end on the graph of torch's "
                         "fused pass; the last stage shows torch's fused result.")
            checks.append(f"MISMATCH in {m}")
            rec.add("optimize_frozen_graph", m, real, _code_of(frozen_c, m), fused_seconds,
                    prev_text=prev, constants=tracer.constants_in(real))
    return "; ".join(checks) if checks else "no frozen-graph passes ran"


_LAZY = object()  # rec.add: print this stage's code later, from a copy of the graph


def _lazy_code(graph, method: str):
    """Code text printed on first use, from a copy of ``graph`` as it is now (later passes
    change ``graph`` itself)."""
    return functools.partial(_graph_code, graph.copy(), method)


def _run_pass(step: P.FrozenPass, iteration, frozen_c, method, graph, prev_text, rec, tracer):
    """Run one pass on ``graph`` (or, for passes that take a module, on the frozen module)."""
    fn = getattr(torch._C, step.torch_name)
    t0 = time.perf_counter()
    result = fn(frozen_c) if step.takes_module else fn(graph)
    seconds = time.perf_counter() - t0
    name = step.name if not iteration or iteration == 1 else f"{step.name}#{iteration}"
    stage = rec.add(name, method, graph, _LAZY, seconds,
                    prev_text=prev_text, constants=lambda: tracer.constants_in(graph),
                    pass_name=step.torch_name, iteration=iteration)
    # torch's own answer ("did I change the graph?") drives the loop, exactly as in C++
    rec.last_result = bool(result)
    return stage.graph.text


def _run_optimize_for_inference(script, frozen, frozen_c, methods, preserved, preserved_methods,
                                optimize_numerics, rec, tracer, warns):
    """Observe optimize_for_inference's passes one at a time; returns the frozen module and the
    constants the passes rewrote: ``{(method, stage name): {old constant: new constant}}``."""
    rewrites: dict[tuple[str, str], dict[str, str]] = {}
    for m in methods:
        graph = frozen_c._get_method(m).graph
        prev = str(graph)
        made: dict[str, tuple[str, ...]] = {}  # constants these passes made from traced ones
        for step in P.OPTIMIZE_FOR_INFERENCE:
            traced = {**tracer.constants_in(graph), **made}
            names, values = _tensor_constants(graph, traced)
            t0 = time.perf_counter()
            getattr(torch._C, step.torch_name)(graph)
            seconds = time.perf_counter() - t0
            new = _rewritten_constants(graph, names, values)
            rewrites[(m, step.name)] = {old: name for name, old in new.items()}
            made.update({name: traced[old] for name, old in new.items()})
            stage = rec.add(step.name, m, graph, _LAZY, seconds, prev_text=prev,
                            constants=lambda g=graph, d=made: {**tracer.constants_in(g), **d},
                            pass_name=step.torch_name)
            prev = stage.graph.text
    # torch's own optimize_for_inference on a separate frozen copy, as ground truth
    others = [m for m in preserved_methods if m != "forward"]
    reference = torch.jit.freeze(script, preserved, optimize_numerics)
    torch._C._jit_pass_optimize_for_inference(reference._c, others)
    bad = [m for m in methods
           if normalize_graph_text(str(frozen_c._get_method(m).graph))
           != normalize_graph_text(str(reference._c._get_method(m).graph))]
    if bad:
        warns.append("optimize_for_inference run pass by pass did not end on torch's own result "
                     f"for {', '.join(bad)}; freezeviz shows torch's result as the last stage.")
        for m in bad:
            g = reference._c._get_method(m).graph
            rec.add("optimize_for_inference", m, g, _code_of(reference._c, m), 0.0,
                    prev_text=rec.stages[-1].graph.text, constants=tracer.constants_in(g))
        return reference, {}
    return frozen, rewrites


_CONSTANT_KINDS = ("prim::Constant", "prim::ConstantMKLDNNTensor")


def _tensor_constants(graph, traced: dict) -> tuple[set[str], dict]:
    """Every constant's name, and the tensor of each one traced to an attribute (a reference,
    not a copy: the pass may destroy the node, never the tensor)."""
    names, values = set(), {}
    for kind in _CONSTANT_KINDS:
        for n in graph.findAllNodes(kind):
            name = n.output().debugName()
            names.add(name)
            if name in traced and n.hasAttribute("value") and n.kindOf("value") == "t":
                values[name] = n.t("value")
    return names, values


def _rewritten_constants(graph, names: set[str], values: dict) -> dict[str, str]:
    """New tensor constants a pass made from traced ones: ``{new name: old name}``.

    convert_to_mkldnn names its MKLDNN copy after the constant (``<name>_mkldnn``);
    transpose_frozen_linear inserts an unnamed constant equal to the weight's transpose."""
    out = {}
    for kind in _CONSTANT_KINDS:
        for n in graph.findAllNodes(kind):
            name = n.output().debugName()
            if name in names or not (n.hasAttribute("value") and n.kindOf("value") == "t"):
                continue
            if name.endswith("_mkldnn") and name[:-len("_mkldnn")] in values:
                out[name] = name[:-len("_mkldnn")]
                continue
            t = n.t("value")
            if t.is_mkldnn or t.dim() != 2:
                continue
            for old, v in values.items():
                if not v.is_mkldnn and v.dim() == 2 and v.shape == t.shape[::-1] and \
                        v.dtype == t.dtype and torch.equal(v.t(), t):
                    out[name] = old
                    break
    return out


# --- numerics ------------------------------------------------------------------------------

def _flat_tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat_tensors(o)]
    return []


def _worst(a: float, b: float) -> float:
    """The larger of two differences, NaN winning (``max`` would drop a NaN)."""
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _compare(out, ref) -> tuple[float, float]:
    """Largest absolute and relative difference of ``out`` from ``ref``.

    Where both are NaN, or both the same infinity, they agree; elsewhere a NaN makes the
    difference NaN and an infinity makes it infinite: a non-finite change never shows as 0."""
    a, b = _flat_tensors(out), _flat_tensors(ref)
    if len(a) != len(b):
        return math.inf, math.inf
    max_abs = max_rel = 0.0
    for x, y in zip(a, b):
        d_abs, d_rel = _compare_tensor(x, y)
        max_abs, max_rel = _worst(max_abs, d_abs), _worst(max_rel, d_rel)
    return max_abs, max_rel


def _compare_tensor(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    if x.is_mkldnn:
        x = x.to_dense()
    if x.shape != y.shape or not (x.is_floating_point() or x.is_complex()):
        d = 0.0 if x.shape == y.shape and torch.equal(x.to(y.dtype), y) else math.inf
        return d, d
    if not x.numel():
        return 0.0, 0.0
    wide = torch.complex128 if x.is_complex() or y.is_complex() else torch.float64
    x, y = x.detach().to(wide), y.detach().to(wide)
    agree = (x == y) | (x.isnan() & y.isnan())  # == holds for equal infinities
    diff = torch.where(agree, torch.zeros((), dtype=torch.float64), (x - y).abs())
    d = math.nan if bool(diff.isnan().any()) else diff.max().item()
    finite = y[y.isfinite()].abs()
    scale = finite.max().item() if finite.numel() else 0.0
    return d, (d / scale if scale > 0 else (0.0 if d == 0 else d if math.isnan(d) else math.inf))


def compute_numerics(script, report: FreezeReport, graphs: dict[int, object], inputs):
    """Run each stage's graph on the example inputs; compare with the original module.

    Every run starts from its own deep copy of the module state, of the stage graph's tensor
    constants and of the inputs: a write freezeviz did not see (inside a fork body, into a
    list element, into an input) then lands on a copy, never on the user's module, the user's
    inputs or the frozen module in the report, and never leaks into the next run."""
    from freezeviz.data.report import NumericsRow

    inputs = _as_tuple(inputs) + _defaults_after(script, len(_as_tuple(inputs)))
    with torch.no_grad():
        _copy_inputs(inputs)  # fails early, with a message, on inputs that cannot be copied
        try:
            reference = _copy_state(script)(*_copy_inputs(inputs))
        except Exception as exc:
            raise FreezeError(
                "example_inputs do not run through the module (before freezing), so freezeviz "
                "cannot compare stage outputs. Pass a tuple of inputs that `module(*inputs)` "
                "accepts.", torch_message=str(exc)) from exc
        rows, failed = [], {}
        for i, stage in enumerate(report.stages):
            if stage.method != "forward" or i not in graphs:
                continue
            out = _run_stage(stage, *graphs[i], inputs)
            if isinstance(out, _Failed):
                failed.setdefault(out.reason, []).append(stage.name)
            else:
                rows.append(NumericsRow(stage.name, stage.method, *_compare(out, reference)))
    report.numerics = rows
    for reason, names in failed.items():
        report.warnings.append(f"numerics: stage{'s' if len(names) > 1 else ''} "
                               f"{', '.join(names)} could not run on the example inputs "
                               f"({reason}).")
    report.warnings.extend(_numerics_notes(rows, reference))


@dataclasses.dataclass(frozen=True)
class _Failed:
    reason: str


def _run_stage(stage, graph, owner, inputs):
    """One stage's graph run on copies; ``graph`` is already a private copy."""
    try:
        _clone_constants(graph)
        fn = torch._C._create_function_from_graph(f"freezeviz_{stage.name}", graph)
        args = _copy_inputs(inputs)
        if _takes_self(graph):
            args = (_copy_state(owner)._c, *args)
        return fn(*args)
    except Exception as exc:
        return _Failed(_error_line(exc))


def _error_line(exc: BaseException) -> str:
    """The line that says what went wrong: TorchScript puts a traceback before it."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("The following operation failed"):
        named = [ln for ln in lines if ln.split(":", 1)[0].endswith(("Error", "Exception"))]
        if named:
            return named[-1]
    return lines[0] if lines else type(exc).__name__


def _clone_constants(graph) -> None:
    """Give ``graph`` (a copy) its own tensor constants: graph.copy() shares them with the
    frozen module, and torch's freezer may have folded a list the model writes, whose tensors
    are the user's own."""
    for node in graph.findAllNodes("prim::Constant"):
        if not node.hasAttribute("value"):
            continue
        kind = node.kindOf("value")
        if kind == "t":
            node.t_("value", node.t("value").clone())
        elif kind == "ival":
            value = node.output().toIValue()
            if _flat_tensors(value):
                node.ival_("value", copy.deepcopy(value))
    for node in _all_nodes(graph):
        if node.hasAttribute("Subgraph") and node.kindOf("Subgraph") == "g":
            sub = node.g("Subgraph").copy()
            _clone_constants(sub)
            node.g_("Subgraph", sub)


def _all_nodes(graph_or_block):
    for node in graph_or_block.nodes():
        yield node
        for block in node.blocks():
            yield from _all_nodes(block)


def _copy_inputs(inputs: tuple) -> tuple:
    try:
        return copy.deepcopy(inputs)
    except Exception as exc:
        raise FreezeError(
            "example_inputs cannot be copied, and freezeviz runs the model only on copies so "
            "that your inputs stay as they are. Pass tensors, or tuples, lists and dicts of "
            "them.", torch_message=str(exc)) from exc


def _numerics_notes(rows, reference) -> list[str]:
    """Say where outputs stopped being finite numbers, since a table of differences alone
    cannot show NaN meeting NaN."""
    notes = []
    bad = [t for t in _flat_tensors(reference)
           if (t.is_floating_point() or t.is_complex()) and not bool(t.isfinite().all())]
    if bad:
        nans = sum(int(t.isnan().sum()) for t in bad)
        infs = sum(int(t.isinf().sum()) for t in bad)
        notes.append(f"numerics: the module's own outputs on the example inputs hold {nans} NaN "
                     f"and {infs} infinite values; where a stage has the same NaN or the same "
                     "infinity at the same place, it counts as equal there.")
    first = next((r for r in rows if not math.isfinite(r.max_abs)), None)
    if first is not None:
        what = "NaN" if math.isnan(first.max_abs) else "an infinite"
        notes.append(f"numerics: stage {first.stage} is the first whose outputs differ from the "
                     f"module's by {what} amount: a NaN or an infinity appeared, vanished or "
                     "moved there, or an output changed shape.")
    return notes


def _defaults_after(script, given: int) -> tuple:
    """Default values of forward's arguments past the ones given: a function made from a bare
    graph has no defaults, unlike the method."""
    try:
        args = script._c._get_method("forward").schema.arguments[1:]  # skip self
    except Exception:
        return ()
    out = []
    for arg in args[given:]:
        if not arg.has_default_value():
            break
        out.append(arg.default_value)
    return tuple(out)


def _takes_self(graph) -> bool:
    first = next(iter(graph.inputs()), None)
    return first is not None and isinstance(first.type(), torch._C.ClassType)


def _copy_state(module):
    return copy.deepcopy(module)


# --- the public entry point ----------------------------------------------------------------

CACHE_SIZE = 8  # reports kept, over all modules and files (each holds a frozen module)
# Reports and scripted modules, keyed by content (freezeviz.engine.cache): a key that could be
# wrong does not exist; state that cannot be read reliably is frozen again every time.
_cache = BoundedCache(CACHE_SIZE)
_script_cache = BoundedCache(CACHE_SIZE)


def module_fingerprint(module) -> Key | None:
    """The content key of a module's whole state (every tensor's bytes, every attribute of
    every submodule with its type, training flags), or None when part of it cannot be read
    reliably, and nothing computed from it may be reused."""
    return content_key(module)


def _inputs_key(inputs):
    """``example_inputs`` by value; None when there are none; _UNREADABLE when some part of
    them cannot be read reliably."""
    if inputs is None:
        return None
    key = content_key(inputs)
    return _UNREADABLE if key is None else key


_UNREADABLE = object()


def freeze(module, preserved_attrs: Sequence[str] | None = None, optimize_numerics: bool = True,
           *, example_inputs=None, optimize_for_inference: bool = False) -> FreezeReport:
    """Freeze ``module`` exactly as ``torch.jit.freeze`` does, recording every stage.

    Same arguments as ``torch.jit.freeze``. ``module`` may be a ScriptModule (scripted or
    traced), a plain ``nn.Module`` (scripted for you; traced with ``example_inputs`` when it
    does not script), or the path of a saved TorchScript file. The module is never changed.

    >>> report = freeze(torch.jit.script(MyModule().eval()))   # doctest: +SKIP
    >>> print(report.explain("weight"))                         # doctest: +SKIP
    """
    if isinstance(preserved_attrs, str):
        preserved_attrs = [preserved_attrs]
    preserved = list(dict.fromkeys(preserved_attrs or []))
    inputs_key = _inputs_key(example_inputs)
    options = (tuple(preserved), bool(optimize_numerics), bool(optimize_for_inference),
               inputs_key)
    args = (preserved, optimize_numerics, optimize_for_inference, example_inputs)
    warns: list[str] = []
    with quiet_torchscript_warnings(warns):
        if isinstance(module, (str, os.PathLike)):
            return _freeze_file(module, options, args, warns)
        if not isinstance(module, torch.nn.Module):
            load_module(module)  # raises the right error
        _check_not_frozen(module, _type_name(module))
        state = module_fingerprint(module)
        key = None if state is None or inputs_key is _UNREADABLE else (state, options)
        report = _cache.get(module, key) if key is not None else None
        if report is not None:
            return report
        script, name = _script_of(module, state, example_inputs, inputs_key, warns)
        report = _record_how(_freeze_script(script, name, *args, warns), module, script)
        if key is not None:
            _cache.put(module, key, report)
        return report


def _freeze_file(path, options, args, warns) -> FreezeReport:
    """A file is known by its bytes: a rewrite within the same second is a new file."""
    path = os.path.abspath(os.fspath(path))
    content = file_key(path) if os.path.isfile(path) else None
    key = None if content is None or options[-1] is _UNREADABLE else (path, content, options)
    report = _cache.get(None, key) if key is not None else None
    if report is not None:
        return report
    script, name = load_module(path, args[-1], warns)
    report = _record_how(_freeze_script(script, name, *args, warns), path, script)
    if key is not None:
        _cache.put(None, key, report)
    return report


def _script_of(module, state, example_inputs, inputs_key, warns):
    """The ScriptModule to freeze: the module itself, or torch.jit.script of it (reused while
    its state is the same; a traced one only for the same example inputs)."""
    if isinstance(module, torch.jit.ScriptModule):
        return module, _type_name(module)
    cached = _script_cache.get(module, state) if state is not None else None
    if cached is not None and (cached[3] is None or cached[3] == inputs_key):
        script, name, script_warns, _ = cached
    else:
        script_warns: list[str] = []
        script, name = load_module(module, example_inputs, script_warns)
        traced = not isinstance(script, RecursiveScriptModule)  # traced: inputs matter
        if state is not None and not (traced and inputs_key is _UNREADABLE):
            _let_go_of_original(script)
            _script_cache.put(module, state, (script, name, script_warns,
                                              inputs_key if traced else None))
    warns.extend(script_warns)
    return script, name


def _let_go_of_original(script) -> None:
    """torch.jit.script wraps each compiled method with functools.wraps(original bound
    method), so the ScriptModule holds the user's module alive. The cached one is freezeviz's
    own and must not: drop that back reference, or the module (and its cache entries) would
    live as long as the cache."""
    for sub in script.modules():
        for value in list(vars(sub).values()):
            if isinstance(value, torch._C.ScriptMethod):
                vars(value).pop("__wrapped__", None)


def _check_not_frozen(script, name) -> None:
    if isinstance(script, torch.jit.ScriptModule) and not hasattr(script, "training"):
        raise FreezeError(f"{name} is already frozen (it has no `training` attribute). Pass the "
                          "module from before torch.jit.freeze; a frozen module cannot be frozen "
                          "again.")


def _freeze_script(script, name, preserved, optimize_numerics, optimize_for_inference,
                   example_inputs, warns) -> FreezeReport:
    _check_not_frozen(script, name)
    validate_preserved(script._c, preserved)
    in_training = [n or "(root)" for n, m in script.named_modules() if m.training]
    if in_training:
        warns.append(f"{name} is in training mode ({', '.join(in_training[:4])}"
                     f"{', ...' if len(in_training) > 4 else ''}); freezeviz froze it as in eval "
                     "mode, as torch.jit.freeze requires. Your module is unchanged.")
    with _eval_mode(script):
        report = run_freeze(script, name, preserved, optimize_numerics, optimize_for_inference,
                            warns, keep_graphs=example_inputs is not None)
        if example_inputs is not None:
            compute_numerics(script, report, report._graphs, example_inputs)
    report._graphs = {}
    return report
