"""Run each stage's graph on the example inputs and compare its outputs with the module's.

Every run works on copies (of the module state, of the inputs, of the stage graph's tensor
constants), so no write can reach the user's objects or the frozen module.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import torch

from freezeviz.data.diff import normalize_graph_text
from freezeviz.data.report import NumericsRow
from freezeviz.data.snapshot import Stage
from freezeviz.engine.torchscript.load import as_tuple
from freezeviz.engine.outputs import compare, flat_tensors
from freezeviz.errors import FreezeError


@dataclasses.dataclass(frozen=True)
class KeywordInputs:
    """Example inputs given by forward's argument names (``example_kwarg_inputs``)."""

    kwargs: dict


def _positional(script, inputs) -> tuple:
    """The inputs as forward's positional arguments, defaults filled in: a stage graph is a
    bare function, which takes no keywords and has no defaults."""
    if not isinstance(inputs, KeywordInputs):
        return as_tuple(inputs) + _defaults_after(script, len(as_tuple(inputs)))
    args = script._c._get_method("forward").schema.arguments[1:]  # skip self
    names = [a.name for a in args]
    unknown = [k for k in inputs.kwargs if k not in names]
    if unknown:
        raise FreezeError(
            f"example_kwarg_inputs names {', '.join(map(repr, unknown))}, which forward does "
            f"not take (it takes {', '.join(names) or 'no arguments'}). Use forward's argument "
            "names as the keys.")
    out = []
    for arg in args:
        if arg.name in inputs.kwargs:
            out.append(inputs.kwargs[arg.name])
        elif arg.has_default_value():
            out.append(arg.default_value)
        else:
            raise FreezeError(
                f"example_kwarg_inputs lack forward's argument {arg.name!r}, which has no "
                "default. Add it to the dict.")
    return tuple(out)


def compute_numerics(script, stages: list[Stage], graphs: dict[int, tuple], inputs
                     ) -> tuple[list[NumericsRow], list[str]]:
    """Run each stage's graph on the example inputs; compare with the original module.
    ``graphs``: stage index -> (a private copy of its graph, the module it runs on). Returns
    the table and the warnings it gives.

    No run can change the user's module, the user's inputs or the frozen module in the
    report, and no run leaks into the next: each gets its own copy of the inputs, and of every
    piece of state or tensor constant that torch's alias analysis cannot show is only read
    (a write freezeviz did not see, inside a fork body or into a list element, lands on a
    copy). What is shared is watched: if it changes all the same, the report says so."""
    inputs = _positional(script, inputs)
    runs = _Runs(script, inputs, _inlined_graph(stages, graphs))
    with torch.no_grad():
        _copy_inputs(inputs)  # fails early, with a message, on inputs that cannot be copied
        try:
            reference = runs.reference()
        except Exception as exc:
            raise FreezeError(
                "example_inputs do not run through the module (before freezing), so freezeviz "
                "cannot compare stage outputs. Pass a tuple of inputs that `module(*inputs)` "
                "accepts.", torch_message=str(exc)) from exc
        rows, failed = [], {}
        last = None  # (graph, owner, result) of the last forward stage
        for i, stage in enumerate(stages):
            if stage.method != "forward" or i not in graphs:
                continue
            graph, owner = graphs[i]
            if stage.name == "scripted" and owner is script:
                out = reference  # the module's own forward: the reference run ran it
            elif last is not None and owner is last[1] and not runs.written and \
                    _same_program(graph, last[0], stage.changed):
                out = last[2]  # the same program on the same tensors as the stage before
            else:
                out = runs.stage(stage, graph, owner)
            last = (graph, owner, out)
            if isinstance(out, _Failed):
                failed.setdefault(out.reason, []).append(stage.name)
            else:
                rows.append(NumericsRow(stage.name, stage.method, *compare(out, reference)))
    notes = [f"numerics: stage{'s' if len(names) > 1 else ''} {', '.join(names)} could not run "
             f"on the example inputs ({reason})." for reason, names in failed.items()]
    return rows, notes + runs.notes() + _numerics_notes(rows, reference)


def _inlined_graph(stages: list[Stage], graphs: dict[int, tuple]):
    return next((graphs[i][0] for i, s in enumerate(stages)
                 if s.name == "inlined" and s.method == "forward" and i in graphs), None)


class _Runs:
    """Runs stage graphs on copies of what they may write, and watches what they share."""

    def __init__(self, script, inputs: tuple, inlined):
        self.script, self.inputs = script, inputs
        # the module's state is shared with the runs of its own graphs when the alias analysis
        # of the whole forward (inlined) shows it is only read
        self.share_state = inlined is not None and _state_only_read(inlined)
        self.state = _state_tensors(script._c) if self.share_state else []
        self.state_versions = [t._version for t in self.state]
        self.written: list[str] = []

    def reference(self):
        """The module's own outputs: its forward, the ``scripted`` stage."""
        out = self.module(self.script)(*_copy_inputs(self.inputs))
        self._watch("scripted", [], [])
        return out

    def _watch(self, name: str, shared: list, versions: list) -> None:
        if [t._version for t in shared] != versions or \
                [t._version for t in self.state] != self.state_versions:
            self.written.append(name)
            self.state_versions = [t._version for t in self.state]

    def module(self, module):
        """``module`` itself where its state is shared, else a deep copy."""
        return module if self.share_state and module is self.script else _copy_state(module)

    def stage(self, stage, graph, owner):
        """One stage's graph run; ``graph`` is already a private copy. Tensor constants that
        torch's alias analysis finds no writer of are shared, not copied (a frozen BERT-base
        holds 440 MB of them)."""
        try:
            shared = _clone_constants(graph)
            versions = [t._version for t in shared]
            fn = torch._C._create_function_from_graph(f"freezeviz_{stage.name}", graph)
            args = _copy_inputs(self.inputs)
            if _takes_self(graph):
                args = (self.module(owner)._c, *args)
            out = fn(*args)
        except Exception as exc:
            return _Failed(_error_line(exc))
        self._watch(stage.name, shared, versions)
        return out

    def notes(self) -> list[str]:
        if not self.written:
            return []
        return [f"numerics: running stage{'s' if len(self.written) > 1 else ''} "
                f"{', '.join(self.written)} wrote into a tensor it shares with your module or "
                "the frozen module, though torch's alias analysis finds no writer of it: "
                "freezing may have inlined state that the model changes."]


def _state_only_read(graph) -> bool:
    """Whether torch's alias analysis shows ``graph`` (a whole forward, inlined) only reads
    module state: no SetAttr, no fork and no call left (their bodies are other graphs), every
    tensor it reads without writers, and no state it reads but tensors, numbers, strings and
    modules or objects (whose own reads are GetAttrs of this graph)."""
    if _has_subgraphs(graph) or any(graph.findAllNodes(kind) for kind in (
            "prim::SetAttr", "prim::fork", "prim::forkClosure", "prim::CallMethod",
            "prim::CallFunction")):
        return False
    adb = graph.alias_db(isFrozen=True)
    for node in graph.findAllNodes("prim::GetAttr"):
        out = node.output()
        ty = out.type()
        if isinstance(ty, torch._C.TensorType):
            if adb.has_writers(out):
                return False
        elif not isinstance(ty, _READ_ONLY_TYPES):
            return False
    return True


_READ_ONLY_TYPES = (torch._C.IntType, torch._C.FloatType, torch._C.BoolType,
                    torch._C.StringType, torch._C.NoneType, torch._C.DeviceObjType,
                    torch._C.ClassType, torch._C.InterfaceType)


def _state_tensors(cmod) -> list[torch.Tensor]:
    """Every tensor a ScriptModule tree holds as an attribute (parameters and buffers too),
    from torch's recursive list, read once."""
    return [v for _, v in torch._C._jit_debug_module_iterators(cmod)["named_attributes_r"]
            if isinstance(v, torch.Tensor)]


@dataclasses.dataclass(frozen=True)
class _Failed:
    reason: str


def _same_program(a, b, changed: bool) -> bool:
    """Whether graphs ``a`` and ``b`` compute the same thing from the same tensors: equal
    once the nodes whose results nothing uses are dropped (a fold pass that removed only an
    unused constant changed the graph, not what it computes), holding the very same tensor
    constants. ``changed``: whether their texts differ (as the stages recorded)."""
    if changed:
        a, b = a.copy(), b.copy()
        for g in (a, b):
            torch._C._jit_pass_dce(g)
        if normalize_graph_text(str(a)) != normalize_graph_text(str(b)):
            return False
    return _same_tensor_constants(a, b)


def _same_tensor_constants(a, b) -> bool:
    """Whether two graphs hold the very same tensor constants, unchanged, in the same order
    (and nothing this cannot tell: MKLDNN tensors, constant containers, subgraphs)."""
    def tensors(graph):
        if _has_subgraphs(graph) or graph.findAllNodes("prim::ConstantMKLDNNTensor"):
            return None
        out = []
        for node in graph.findAllNodes("prim::Constant"):  # in program order, as printed
            if not node.hasAttribute("value"):
                continue
            kind = node.kindOf("value")
            if kind == "ival" and flat_tensors(node.output().toIValue()):
                return None
            if kind == "t":
                t = node.t("value")
                if t.is_mkldnn:
                    return None
                out.append((t.data_ptr(), t._version, t.dtype, tuple(t.shape), t.stride(),
                            t.storage_offset()))
        return out
    ta = tensors(a)
    return ta is not None and ta == tensors(b)


def _error_line(exc: BaseException) -> str:
    """The line that says what went wrong: TorchScript puts a traceback before it."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("The following operation failed"):
        named = [ln for ln in lines if ln.split(":", 1)[0].endswith(("Error", "Exception"))]
        if named:
            return named[-1]
    return lines[0] if lines else type(exc).__name__


def _clone_constants(graph) -> list:
    """Give ``graph`` (a copy) its own copy of every tensor constant that may be written:
    graph.copy() shares them with the frozen module, whose inlined ones are the user's own
    tensors. A tensor torch's alias analysis finds no writer of is shared (returned); a
    constant container of tensors is always copied (torch's freezer may have folded a list
    the model writes)."""
    shared = []
    adb = graph.alias_db()
    for node in graph.findAllNodes("prim::Constant"):
        if not node.hasAttribute("value"):
            continue
        kind = node.kindOf("value")
        if kind == "t":
            if adb.has_writers(node.output()):
                node.t_("value", node.t("value").clone())
            else:
                shared.append(node.t("value"))
        elif kind == "ival":
            value = node.output().toIValue()
            if flat_tensors(value):
                node.ival_("value", copy.deepcopy(value))
    for node in _all_nodes(graph) if _has_subgraphs(graph) else ():
        if node.hasAttribute("Subgraph") and node.kindOf("Subgraph") == "g":
            sub = node.g("Subgraph").copy()
            shared += _clone_constants(sub)
            node.g_("Subgraph", sub)
    return shared


def _has_subgraphs(graph) -> bool:
    """Whether a node of ``graph`` holds a subgraph (a fork's body, a fusion group): torch
    prints each such subgraph after the graph, as ``with prim::fork_0 = graph(...)``."""
    return "\nwith " in str(graph)


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
    bad = [t for t in flat_tensors(reference)
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
