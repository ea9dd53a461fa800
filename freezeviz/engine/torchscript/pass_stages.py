"""The frozen-graph passes as stages: torch's passes run one at a time, in torch's order, each
checked against torch's own fused pass (and optimize_for_inference against torch's own)."""

from __future__ import annotations

import time

import torch

from freezeviz.data.diff import normalize_graph_text
from freezeviz.engine.torchscript import passes as P
from freezeviz.data.snapshot import DeferredText
from freezeviz.engine.torchscript.recorder import code_of, deferred_code, graph_code


def run_frozen_passes(frozen, methods, preserved_methods, optimize_numerics, rec, tracer,
                      warns, refreeze) -> tuple[str, object]:
    """Observe torch's frozen-graph passes one at a time on the frozen module, and check they
    end on the graph torch's fused pass gives (run first, on a copy, as torch.jit.freeze runs
    it). Returns (what the check found, the frozen module): on a mismatch, ``refreeze()``'s
    module, frozen by torch.jit.freeze itself, whose graph the last stage then shows.

    The fused pass's copy and its folded weights are freed before the passes run one by one,
    so memory stays at what torch.jit.freeze needs."""
    checks = []
    frozen_c = frozen._c
    for m in methods:
        real = frozen_c._get_method(m).graph
        if m != "forward" and m not in preserved_methods:
            continue
        if m != "forward":
            # torch runs the fused pass on each preserved method's graph; there is no Python
            # binding that removes dropout from a bare graph one step at a time.
            t0 = time.perf_counter()
            torch._C._jit_pass_optimize_frozen_graph(real, optimize_numerics)
            rec.add("optimize_frozen_graph", m, real, time.perf_counter() - t0,
                    code=code_of(frozen_c, m), constants=tracer.constants_in(real))
            continue
        # the graph after remove_dropout, kept (it shares the module's tensors): each stage's
        # code is printed when first read, from a copy of it taken through the same passes
        base = _run_dropout(frozen_c, m, real, rec, tracer)
        fused = base.copy()
        torch._C._jit_pass_optimize_frozen_graph(fused, optimize_numerics)
        expected = normalize_graph_text(str(fused))
        del fused
        _run_passes_one_by_one(frozen_c, m, real, base, optimize_numerics, rec, tracer)
        if normalize_graph_text(str(real)) == expected:
            checks.append(f"{m}: running the passes one by one ended on exactly the graph of "
                          "torch's fused _jit_pass_optimize_frozen_graph")
            continue
        warns.append(f"{m}: the passes run one by one did not end on the graph of torch's "
                     "fused pass; the last stage shows torch's fused result.")
        checks.append(f"MISMATCH in {m}")
        frozen = refreeze()
        frozen_c = frozen._c
        g = frozen_c._get_method(m).graph
        rec.add("optimize_frozen_graph", m, g, 0.0, code=code_of(frozen_c, m),
                constants=tracer.constants_in(g))
    return ("; ".join(checks) if checks else "no frozen-graph passes ran"), frozen


def _run_passes_one_by_one(frozen_c, method, graph, base, optimize_numerics, rec, tracer):
    """concat_frozen_linear, then the numerics loop until torch's passes report no change,
    as in C++ (frozen_graph_optimizations.cpp)."""
    applied: list[str] = []
    _run_pass(P.CONCAT_LINEAR, None, frozen_c, method, graph, rec, tracer, (base, applied))
    if not optimize_numerics:
        return
    for round_ in range(1, P.MAX_NUMERICS_ROUNDS + 1):
        any_changed = False
        for step in P.NUMERICS_LOOP:
            _run_pass(step, round_, frozen_c, method, graph, rec, tracer, (base, applied))
            any_changed |= rec.last_result
        if not any_changed:
            break


def _run_dropout(frozen_c, method, real, rec, tracer):
    """remove_dropout on the frozen module (it only takes a module); returns a copy of
    ``real`` as the pass left it."""
    return _run_pass(P.REMOVE_DROPOUT, None, frozen_c, method, real, rec, tracer)


def _run_pass(step: P.FrozenPass, iteration, frozen_c, method, graph, rec, tracer,
              replay: tuple | None = None):
    """Run one pass on ``graph`` (or, for passes that take a module, on the frozen module).
    ``replay``: (the graph the passes started from, the passes run on it so far), from which
    this stage's code is printed when first read; without it, the code of a copy of ``graph``,
    which is returned (it is never changed)."""
    fn = getattr(torch._C, step.torch_name)
    t0 = time.perf_counter()
    result = fn(frozen_c) if step.takes_module else fn(graph)
    seconds = time.perf_counter() - t0
    name = step.name if not iteration or iteration == 1 else f"{step.name}#{iteration}"
    kept = None
    if replay is None:
        kept = graph.copy()
        code = deferred_code(kept, method, copy=False)
    else:
        base, applied = replay
        applied.append(step.torch_name)
        code = _replayed_code(base, tuple(applied), method)
    rec.add(name, method, graph, seconds, code=code,
            constants=lambda: tracer.constants_in(graph), pass_name=step.torch_name,
            iteration=iteration)
    # torch's own answer ("did I change the graph?") drives the loop, exactly as in C++
    rec.last_result = bool(result)
    return kept


def _replayed_code(base, passes: tuple[str, ...], method: str) -> DeferredText:
    """The code of ``base`` after ``passes``, printed when first read: the passes run again on
    a copy, so the folded tensors of a stage live only while its code is printed."""
    def make() -> str:
        graph = base.copy()
        try:
            for torch_name in passes:
                getattr(torch._C, torch_name)(graph)
        except RuntimeError:  # they ran on this graph once; as graph_code, no code over an error
            return ""
        return graph_code(graph, method)
    return DeferredText(make)


def run_optimize_for_inference(script, frozen, frozen_c, methods, preserved, preserved_methods,
                                optimize_numerics, rec, tracer, warns):
    """Observe optimize_for_inference's passes one at a time; returns the frozen module and the
    constants the passes rewrote: ``{(method, stage name): {old constant: new constant}}``."""
    rewrites: dict[tuple[str, str], dict[str, str]] = {}
    for m in methods:
        graph = frozen_c._get_method(m).graph
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
            rec.add(step.name, m, graph, seconds,
                    constants=lambda g=graph, d=made: {**tracer.constants_in(g), **d},
                    pass_name=step.torch_name)
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
            rec.add("optimize_for_inference", m, g, 0.0, code=code_of(reference._c, m),
                    constants=tracer.constants_in(g))
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


