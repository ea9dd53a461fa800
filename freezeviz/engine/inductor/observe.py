"""The wrappers that record each freezing pass as a stage, installed with ``hooks.patched``.

Each wrapper calls torch's own function unchanged and records the graph it leaves behind;
nothing here changes what torch computes.
"""

from __future__ import annotations

import time
from collections import Counter

import torch

from freezeviz.engine.inductor import hooks as H
from freezeviz.engine.inductor.extract import node_kind
from freezeviz.engine.inductor.lineage import before_fold
from freezeviz.engine.inductor.recorder import Recorder

_STATE_INPUTS = ("ParamAOTInput", "BufferAOTInput")
# what a freezing pattern pass did, told by the ops it made
_DOES = {
    "mkldnn::_convolution_pointwise": "packs conv weights (mkldnn)",
    "mkldnn::_convolution_transpose_pointwise": "packs transposed-conv weights (mkldnn)",
    "mkldnn::_linear_pointwise": "packs linear weights (mkldnn)",
    "mkl::_mkl_linear": "packs linear weights (mkl)",
    "mkldnn::_mkl_linear": "packs linear weights (mkl)",
    "aten::cat": "concatenates weights of layers that share an input",
    "aten::addmm": "rewrites matmul + add as addmm",
}


def install(rec: Recorder, patches: H.Patches) -> None:
    """Wrap every hooked function for one compilation, recording on ``rec``."""
    cf, fz = H.module(H._CF), H.module(H._FZ)
    fp, bf = H.module(H._FP), H.module(H._BF)
    patches.wrap(cf, "fw_compiler_freezing", lambda f: _fw_compiler(rec, f))
    patches.wrap(cf, "_recursive_joint_graph_passes",
                 lambda f: _after(rec, "joint_graph_passes", f, returns=True))
    patches.wrap(fz, "convert_conv_weights_to_channels_last",
                 lambda f: _after(rec, "channels_last", f))
    patches.wrap(fz, "view_to_reshape", lambda f: _after(rec, "view_to_reshape", f))
    patches.wrap(fz, "replace_params_with_constants", lambda f: _replace_params(rec, f))
    patches.wrap(fz, "freezing_passes", lambda f: _freezing_passes(rec, f))
    patches.wrap(fz, "constant_fold", lambda f: _constant_fold(rec, f))
    patches.wrap(fp.binary_folding_pass, "apply", lambda f: _binary_folding(rec, f))
    for i, p in enumerate(fp.pass_patterns):
        patches.wrap(p, "apply", lambda f, i=i: _pattern_pass(rec, f, i))
    patches.wrap(bf, "recover_original_precision_folded_computation_ops",
                 lambda f: _recover(rec, f))
    # freezing_passes imports it when it first runs: import it now to wrap it the first time
    mk = _optional_module("torch._inductor.fx_passes.mkldnn_fusion")
    if mk is not None and hasattr(mk, "_eliminate_duplicate_packed_nodes"):
        patches.wrap(mk, "_eliminate_duplicate_packed_nodes",
                     lambda f: _after(rec, "dedupe_packed_weights", f))


def _optional_module(name: str):
    if not torch._C._has_mkldnn:
        return None
    try:
        return H.module(name)
    except ImportError:
        return None


def _fw_compiler(rec: Recorder, original):
    def wrapper(aot_gm, aot_inputs, *args, **kwargs):
        _read_tracing_context(rec)
        read_placeholders(rec, aot_gm)
        rec.add("aot", aot_gm, time.perf_counter() - rec.clock)
        rec.active = True
        rec.clock = time.perf_counter()
        return original(aot_gm, aot_inputs, *args, **kwargs)
    return wrapper


def read_placeholders(rec: Recorder, gm) -> None:
    """Each placeholder's position, and the attribute path of those that stand for a
    parameter or buffer (AOTAutograd's input descriptor names Dynamo's flat name)."""
    for i, node in enumerate(gm.graph.find_nodes(op="placeholder")):
        rec.placeholder_index[node.name] = i
        desc = node.meta.get("desc")
        if type(desc).__name__ in _STATE_INPUTS:
            path = rec.flat_to_path.get(getattr(desc, "target", None))
            if path is not None:
                rec.placeholder_path[node.name] = path


def _read_tracing_context(rec: Recorder) -> None:
    """The real parameters (in the AOT graph's input order) and which of them the graph
    writes or an output aliases: the facts replace_params_with_constants decides by."""
    from torch._functorch.aot_autograd import MutationType
    from torch._guards import TracingContext

    ctx = TracingContext.try_get()
    if ctx is None or ctx.params_flat_unwrap_subclasses is None or ctx.fw_metadata is None:
        return
    rec.params = list(ctx.params_flat_unwrap_subclasses)  # freezing drops its own references
    meta = ctx.fw_metadata
    kept = (MutationType.MUTATED_IN_GRAPH, MutationType.MUTATED_OUT_GRAPH)
    rec.mutated = {i for i, m in enumerate(meta.input_info) if m.mutation_type in kept}
    rec.aliased = {o.base_idx for o in meta.output_info if o.base_idx is not None}


def _record(rec: Recorder, name: str, gm, t0: float, **options) -> None:
    rec.add(name, gm, time.perf_counter() - t0, **options)
    rec.clock = time.perf_counter()


def _after(rec: Recorder, name: str, original, returns: bool = False):
    def wrapper(gm, *args, **kwargs):
        if not rec.active:
            return original(gm, *args, **kwargs)
        t0 = time.perf_counter()
        result = original(gm, *args, **kwargs)
        _record(rec, name, result if returns else gm, t0)
        return result
    return wrapper


def _replace_params(rec: Recorder, original):
    def wrapper(gm, *args, **kwargs):
        if not rec.active:
            return original(gm, *args, **kwargs)
        t0 = time.perf_counter()
        preserved = original(gm, *args, **kwargs)
        rec.preserved = list(preserved)
        rec.lineage.frozen(gm, rec.placeholder_path, rec.groups)
        _record(rec, "frozen", gm, t0)
        return preserved
    return wrapper


def _freezing_passes(rec: Recorder, original):
    def wrapper(gm, *args, **kwargs):
        if not rec.active:
            return original(gm, *args, **kwargs)
        _record(rec, "cse", gm, rec.clock)  # fx_graph_cse ran just before, on this graph
        rec.in_freezing_passes, rec.round, rec.after_rounds = True, 0, False
        try:
            return original(gm, *args, **kwargs)
        finally:
            rec.in_freezing_passes = False
    return wrapper


def _fold_name(rec: Recorder) -> tuple[str, int | None]:
    if not rec.in_freezing_passes:
        return "constant_fold_final", None
    if rec.after_rounds:
        return "constant_fold_after_folding", None
    return f"constant_fold#{rec.round + 1}", rec.round + 1


def _constant_fold(rec: Recorder, original):
    def wrapper(gm, *args, **kwargs):
        if not rec.active:
            return original(gm, *args, **kwargs)
        before = before_fold(gm)
        t0 = time.perf_counter()
        original(gm, *args, **kwargs)
        seconds = time.perf_counter() - t0
        name, iteration = _fold_name(rec)
        rec.lineage.folded(gm, before, name)
        rec.add(name, gm, seconds, iteration=iteration, pass_name="constant_fold")
        rec.clock = time.perf_counter()
    return wrapper


def _binary_folding(rec: Recorder, original):
    def wrapper(graph, *args, **kwargs):
        if not rec.active:
            return original(graph, *args, **kwargs)
        rec.round += 1
        t0 = time.perf_counter()
        result = original(graph, *args, **kwargs)
        _record(rec, f"binary_folding#{rec.round}", graph.owning_module, t0,
                iteration=rec.round, pass_name="binary_folding")
        return result
    return wrapper


def _recover(rec: Recorder, original):
    def wrapper(gm, *args, **kwargs):
        rec.after_rounds = True
        if not rec.active:
            return original(gm, *args, **kwargs)
        t0 = time.perf_counter()
        result = original(gm, *args, **kwargs)
        _record(rec, "recover_precision", gm, t0)
        return result
    return wrapper


def _pattern_pass(rec: Recorder, original, index: int):
    def wrapper(graph, *args, **kwargs):
        if not rec.active:
            return original(graph, *args, **kwargs)
        before = {n.name for n in graph.nodes}
        t0 = time.perf_counter()
        result = original(graph, *args, **kwargs)
        made = Counter(node_kind(n) for n in graph.nodes
                       if n.name not in before and n.op == "call_function")
        what = ", ".join(f"{k} x{c}" if c > 1 else k for k, c in made.most_common(4))
        does = "; ".join(dict.fromkeys(_DOES[k] for k in made if k in _DOES))
        text = (f"Freezing pattern pass {index} (pass_patterns[{index}])"
                + (f" {does}" if does else "") + ": "
                + (f"{result} match(es); made {what}." if made else "no match, or none rewritten."))
        _record(rec, f"pattern_pass_{index}", graph.owning_module, t0, pass_name="pattern_pass",
                description=text)
        return result
    return wrapper
