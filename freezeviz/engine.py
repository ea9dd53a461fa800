"""Run the real ``torch.jit.freeze`` one stage at a time and record what each stage did.

The frozen module this returns is the one torch builds: ``torch._C._freeze_module`` and the
frozen-graph passes torch runs, in torch's order. Stages are observations of that run; the
per-pass stages are checked against torch's fused pass on every run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings
import weakref
from collections.abc import Sequence

import torch
from torch.jit._script import RecursiveScriptModule

from . import passes as P
from .analysis import attribute_paths, find_writers, fork_subgraphs, inventory, method_names
from .attributes import decide_fates, trace_constants
from .diff import normalize_graph_text
from .errors import FreezeError, did_you_mean, explain_torch_freeze_error
from .extract import snapshot_graph
from .jitlog import capture_jit_log, parse_freeze_log
from .report import AliasInfo, AliasWriter, FreezeReport, MethodInfo
from .snapshot import SourceLoc, Stage

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
        if issubclass(w.category, DeprecationWarning) and (
                "torch.jit" in msg or "TorchScript" in msg or "torch.compile" in msg):
            continue
        if msg not in seen:
            seen.add(msg)
            collected.append(f"{w.category.__name__}: {msg}")


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
    """Check names before torch does, so that mistakes get a useful message."""
    from .analysis import inventory

    slots = {s.path for s in inventory(cmod)}
    methods = set(method_names(cmod))
    for name in preserved:
        if not isinstance(name, str):
            raise FreezeError(f"preserved_attrs must be a list of strings; got {name!r}.")
        if name in slots or name in methods:
            continue
        if "." in name:
            owner, _, leaf = name.rpartition(".")
            sub = None
            with contextlib.suppress(Exception):
                from .analysis import get_path

                sub = get_path(cmod, owner)
            if isinstance(sub, torch._C.ScriptModule) and sub._has_method(leaf):
                raise FreezeError(
                    f"preserved_attrs names the method {name!r} of a submodule. torch.jit.freeze "
                    "can preserve only methods of the root module (it looks the name up on the "
                    "root and fails with a confusing 'does not have a field' error). Preserve the "
                    f"submodule instead ({owner!r}), which keeps all its methods, or add a root "
                    f"method that calls self.{name}() and preserve that.")
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
        raise explain_torch_freeze_error(exc, preserved) from exc
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
    if optimize_for_inference:
        frozen = _run_optimize_for_inference(script, frozen, frozen_c, methods, preserved,
                                             preserved_methods, optimize_numerics, rec, tracer,
                                             warns)
        frozen_c = frozen._c

    attributes, fate_warnings = decide_fates(
        cmod, frozen_c, preserved, decisions, evidence_all, rec.stages, inlined_graphs, tracer)
    warns.extend(fate_warnings)
    kept = set(method_names(frozen_c))
    method_infos = [MethodInfo(m, m == "forward" or m in preserved, m in kept) for m in methods_all]
    report = FreezeReport(
        module_name=name, preserved_attrs=tuple(preserved), optimize_numerics=optimize_numerics,
        optimize_for_inference=optimize_for_inference, stages=rec.stages, attributes=attributes,
        methods=method_infos, alias=rec.alias, warnings=warns,
        log=tuple(str(line) for line in decisions.lines), passes_check=passes_check,
        seconds=time.perf_counter() - t_start, frozen_module=frozen)
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
                                optimize_numerics, rec, tracer, warns) -> str:
    for m in methods:
        prev = str(frozen_c._get_method(m).graph)
        for step in P.OPTIMIZE_FOR_INFERENCE:
            prev = _run_pass(step, None, frozen_c, m, frozen_c._get_method(m).graph, prev, rec,
                             tracer)
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
        return reference
    return frozen


# --- numerics ------------------------------------------------------------------------------

def _flat_tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat_tensors(o)]
    return []


def _compare(out, ref) -> tuple[float, float]:
    a, b = _flat_tensors(out), _flat_tensors(ref)
    max_abs = max_rel = 0.0
    for x, y in zip(a, b):
        if x.is_mkldnn:
            x = x.to_dense()
        if x.shape != y.shape or not (x.is_floating_point() or x.is_complex()):
            d = 0.0 if torch.equal(x.to(y.dtype), y) else float("inf")
            max_abs, max_rel = max(max_abs, d), max(max_rel, d)
            continue
        d = (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
        scale = y.double().abs().max().item() if y.numel() else 0.0
        max_abs = max(max_abs, d)
        max_rel = max(max_rel, d / scale if scale > 0 else (0.0 if d == 0 else float("inf")))
    return max_abs, max_rel


def compute_numerics(script, report: FreezeReport, graphs: dict[int, object], inputs):
    """Run each stage's graph on the example inputs; compare with the original module.

    Every run uses its own copy of any module state, so neither the user's module nor the
    frozen module changes."""
    from .report import NumericsRow

    inputs = _as_tuple(inputs) + _defaults_after(script, len(_as_tuple(inputs)))
    mutated = any(a.fate.value == "preserved_mutated" for a in report.attributes)
    with torch.no_grad():
        original = _copy_state(script) if mutated else script
        try:
            reference = original(*inputs)
        except Exception as exc:
            raise FreezeError(
                "example_inputs do not run through the module (before freezing), so freezeviz "
                "cannot compare stage outputs. Pass a tuple of inputs that `module(*inputs)` "
                "accepts.", torch_message=str(exc)) from exc
        rows = []
        for i, stage in enumerate(report.stages):
            if stage.method != "forward" or i not in graphs:
                continue
            graph, owner = graphs[i]
            owner = _copy_state(owner) if mutated else owner
            fn = torch._C._create_function_from_graph(f"freezeviz_{stage.name}", graph)
            try:
                args = (owner._c, *inputs) if _takes_self(graph) else inputs
                out = fn(*args)
            except Exception as exc:
                report.warnings.append(f"numerics: stage {stage.name} could not run on the example "
                                       f"inputs ({_first_line(exc)}).")
                continue
            rows.append(NumericsRow(stage.name, stage.method, *_compare(out, reference)))
    report.numerics = rows


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
    import copy

    return copy.deepcopy(module)


# --- the public entry point ----------------------------------------------------------------

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_PER_MODULE = 8  # argument sets kept per module (the inspector toggles between them)
_path_cache: dict = {}
_script_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_PER_MODULE = 8  # argument sets kept per module (the inspector toggles between them)


def module_fingerprint(module) -> tuple:
    """Cheap identity of a module's current state: any change means freeze again."""
    items = []
    for mname, sub in module.named_modules():
        items.append((mname, sub.training))
    for k, t in module.state_dict(keep_vars=True).items():
        items.append((k, t._version, t.data_ptr(), tuple(t.shape), t.dtype))
    if isinstance(module, torch.jit.ScriptModule):
        def walk(c, prefix):
            for n, v in torch._C._jit_debug_module_iterators(c)["named_attributes"]:
                if isinstance(v, torch._C.ScriptModule):
                    walk(v, prefix + n + ".")
                elif isinstance(v, (int, float, str, bool, type(None))):
                    items.append((prefix + n, v))
                elif not isinstance(v, torch.Tensor):
                    items.append((prefix + n, repr(v)[:200]))
        walk(module._c, "")
    else:
        for mname, sub in module.named_modules():
            for k, v in vars(sub).items():
                if k.startswith("_") or k == "training":
                    continue
                items.append((mname + "." + k, v if isinstance(v, (int, float, str, bool)) else id(v)))
    return tuple(items)


def _inputs_key(inputs):
    if inputs is None:
        return None
    return tuple((id(t), getattr(t, "_version", None)) for t in _flat_tensors(_as_tuple(inputs)))


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
    options = (tuple(preserved), bool(optimize_numerics), bool(optimize_for_inference),
               _inputs_key(example_inputs))
    warns: list[str] = []
    with quiet_torchscript_warnings(warns):
        if isinstance(module, (str, os.PathLike)):
            path = os.path.abspath(os.fspath(module))
            stat = os.stat(path) if os.path.exists(path) else None
            key = (path, stat.st_mtime_ns if stat else None, stat.st_size if stat else None, options)
            if key in _path_cache:
                return _path_cache[key]
            script, name = load_module(module, example_inputs, warns)
            report = _freeze_script(script, name, preserved, optimize_numerics,
                                    optimize_for_inference, example_inputs, warns)
            _path_cache[key] = report
            return report
        if not isinstance(module, torch.nn.Module):
            load_module(module)  # raises the right error
        _check_not_frozen(module, _type_name(module))
        fp = module_fingerprint(module)
        per_module = _cache.setdefault(module, {})
        if (fp, options) in per_module:
            return per_module[(fp, options)]
        if isinstance(module, torch.jit.ScriptModule):
            script, name = module, _type_name(module)
        else:
            cached = _script_cache.get(module)
            if cached and cached[0] == fp:
                _, script, name, script_warns = cached
            else:
                script_warns: list[str] = []
                script, name = load_module(module, example_inputs, script_warns)
                _script_cache[module] = (fp, script, name, script_warns)
            warns.extend(script_warns)
        report = _freeze_script(script, name, preserved, optimize_numerics, optimize_for_inference,
                                example_inputs, warns)
        for key in [k for k in per_module if k[0] != fp]:
            del per_module[key]  # reports of an older state of the module
        while len(per_module) >= _CACHE_PER_MODULE:
            del per_module[next(iter(per_module))]
        per_module[(fp, options)] = report
        return report


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
