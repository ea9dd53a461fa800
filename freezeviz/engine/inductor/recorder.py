"""Collects the stages of one Inductor freeze: a snapshot of the FX graph after each step, a
runnable copy of it for the numerics, and the lineage of every frozen constant."""

from __future__ import annotations

import torch

from freezeviz.data.snapshot import Stage
from freezeviz.engine.inductor.extract import GraphReader, node_kind
from freezeviz.engine.inductor.lineage import Lineage

STAGE_DESCRIPTIONS = {
    "dynamo": "The graph Dynamo traced from forward: module state read with get_attr.",
    "aot": "AOTAutograd's inference graph in ATen ops: parameters and buffers are inputs; "
           "in-place updates of state are copy_ nodes.",
    "joint_graph_passes": "Inductor's joint-graph passes: no-op removal, folding of uniform "
                          "constants, pattern rewrites.",
    "channels_last": "Conv weights converted to channels-last (decide_layout_opt chose it), so "
                     "the conversions can be folded with the weights.",
    "view_to_reshape": "view ops rewritten as reshape, so a layout change cannot break them.",
    "frozen": "replace_params_with_constants: every parameter and buffer the graph does not "
              "write and no output aliases became a constant (get_attr _frozen_paramN).",
    "cse": "Common subexpressions merged (fx_graph_cse).",
    "constant_fold": "constant_fold: every computation on constants only ran once, its result "
                     "became a new constant; unused constants dropped.",
    "binary_folding": "Binary folding: add/sub/mul/div by a constant after a conv (or linear) "
                      "rewritten into the conv's weight and bias, to be folded next.",
    "recover_precision": "Ops marked for mixed-dtype folding put back to their original dtype.",
    "constant_fold_after_folding": "constant_fold after the binary-folding rounds.",
    "pattern_pass": "A freezing pattern pass (fx_passes/freezing_patterns.py pass_patterns).",
    "dedupe_packed_weights": "Duplicate packed (mkldnn) weight nodes merged.",
    "constant_fold_final": "The last constant_fold of freezing: the frozen graph handed to "
                           "code generation.",
    "frozen_graph": "The frozen graph as Inductor's code generation receives it.",
}


def describe(name: str, iteration: int | None) -> str:
    base = name.split("#", 1)[0]
    text = STAGE_DESCRIPTIONS.get(base, base)
    return text + (f" (round {iteration})" if iteration else "")


def runnable_copy(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A GraphModule with a copy of ``gm``'s graph and the constants it reads now (by
    reference: passes make new tensors, they do not change old ones), for the numerics."""
    graph = torch.fx.Graph()
    out = graph.graph_copy(gm.graph, {})
    graph.output(out)
    return torch.fx.GraphModule(gm, graph)


def _draws_random(gm: torch.fx.GraphModule) -> bool:
    seeded = torch.Tag.nondeterministic_seeded
    return any(isinstance(n.target, torch._ops.OpOverload) and seeded in n.target.tags
               for n in gm.graph.nodes if n.op == "call_function")


class Recorder:
    """Stages of one compilation, the graphs to run them, and what the engine learnt."""

    def __init__(self, module_paths: dict[str, tuple[str, ...]]):
        self.stages: list[Stage] = []
        self.graphs: dict[int, tuple[torch.fx.GraphModule, tuple[str, ...]]] = {}
        self.targets: list[frozenset[str]] = []  # constants present at each stage
        self.groups = module_paths  # first path of a tensor -> every path of it (tied weights)
        self.lineage = Lineage()
        self.flat_to_path: dict[str, str] = {}  # Dynamo's flat names -> attribute paths
        self.placeholder_path: dict[str, str] = {}  # AOT placeholder name -> attribute path
        self.placeholder_index: dict[str, int] = {}  # AOT placeholder name -> flat position
        self.params: list = []  # the real parameters and buffers of the AOT graph, in order
        self.mutated: set[int] = set()
        self.aliased: set[int] = set()
        self.preserved: list[int] | None = None
        self.dynamo_gm = None
        self.round = 0
        self.in_freezing_passes = self.after_rounds = False
        self.active = False  # inside fw_compiler_freezing, before code generation
        self.clock = 0.0  # when the last recorded step ended
        self.pattern_notes: dict[str, str] = {}
        self.warnings: list[str] = []
        self.previews: dict = {}  # (constant, id of its tensor) -> ConstantInfo, across stages
        self.random = False  # a graph draws random numbers (dropout in training mode)

    # --- readers ------------------------------------------------------------------------
    def dynamo_reader(self) -> GraphReader:
        def state(node):
            return self.flat_to_path.get(str(node.target)) if node.op == "get_attr" else None
        return GraphReader(state, lambda node, t: (), self._dynamo_writes)

    def aot_reader(self) -> GraphReader:
        def state(node):
            return self.placeholder_path.get(node.name) if node.op == "placeholder" else None

        def constant(node, tensor):
            return sorted(self.lineage.paths(str(node.target)))
        return GraphReader(state, constant, self._aot_writes)

    def _dynamo_writes(self, node) -> tuple[str, ...]:
        first = node.args[0] if node.args else None
        if not isinstance(first, torch.fx.Node) or first.op != "get_attr":
            return ()
        name = getattr(node.target, "__name__", str(node.target))
        inplace = (name.startswith("i") and node_kind(node).startswith("operator.")) or (
            name.endswith("_") and not name.endswith("__"))
        path = self.flat_to_path.get(str(first.target))
        return (path,) if inplace and path else ()

    def _aot_writes(self, node) -> tuple[str, ...]:
        first = node.args[0] if node.args else None
        target = node.target
        if not isinstance(first, torch.fx.Node) or first.op != "placeholder" or \
                not isinstance(target, torch._ops.OpOverload) or not target._schema.is_mutable:
            return ()
        path = self.placeholder_path.get(first.name)
        return (path,) if path else ()

    # --- stages -------------------------------------------------------------------------
    def add(self, name: str, gm: torch.fx.GraphModule, seconds: float, *, dynamo: bool = False,
            iteration: int | None = None, pass_name: str | None = None,
            description: str | None = None) -> Stage:
        text = str(gm.graph)
        previous = self.stages[-1] if self.stages else None
        if previous is not None and previous.graph.text == text:
            snap, changed, code = previous.graph, False, previous.code
        else:
            reader = self.dynamo_reader() if dynamo else self.aot_reader()
            reader.previews = self.previews
            snap, changed, code = reader.snapshot(gm), previous is not None, gm.code
        stage = Stage(name, description or describe(name, iteration), snap, code, changed,
                      seconds, "forward", pass_name, iteration)
        self.stages.append(stage)
        self.targets.append(frozenset(str(n.target) for n in gm.graph.find_nodes(op="get_attr")))
        if not dynamo:
            self.random = self.random or _draws_random(gm)
            index = len(self.stages) - 1
            if not changed and index - 1 in self.graphs:
                # the same graph: the numerics reuse the previous stage's run
                self.graphs[index] = self.graphs[index - 1]
            else:
                names = tuple(n.name for n in gm.graph.find_nodes(op="placeholder"))
                self.graphs[index] = (runnable_copy(gm), names)
        return stage
