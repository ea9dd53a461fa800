"""Which module attributes a frozen constant was made from.

Inductor keeps no such record: ``constant_fold`` replaces a computation on constants by a new
``get_attr _frozen_paramN`` that keeps the folded node's name. So before each fold the engine
notes, for every node computed from constants only, the constants it reads and the ops on the
way; after the fold each new constant inherits the attribute paths of what it was made from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from freezeviz.engine.inductor.extract import node_kind


@dataclass(frozen=True)
class Made:
    """How a folded constant came to be."""

    stage: str  # the stage (a constant_fold) that made it
    ops: tuple[str, ...]  # the ops it folded, in program order ("aten::mul", ...)
    sources: tuple[str, ...]  # the constants (get_attr targets) it was computed from


@dataclass
class Lineage:
    """Constant target -> attribute paths, kept up to date through the passes."""

    origin: dict[str, frozenset[str]] = field(default_factory=dict)
    made: dict[str, Made] = field(default_factory=dict)
    # the constant each attribute (its first path) became when parameters were frozen
    direct: dict[str, str] = field(default_factory=dict)

    def paths(self, target: str) -> frozenset[str]:
        return self.origin.get(target, frozenset())

    def frozen(self, gm: torch.fx.GraphModule, path_of_node: dict[str, str],
               groups: dict[str, tuple[str, ...]]) -> None:
        """After ``replace_params_with_constants``: each new constant stands for the attribute
        (and every path tied to it) of the placeholder it replaced, whose name it kept."""
        for node in gm.graph.find_nodes(op="get_attr"):
            path = path_of_node.get(node.name)
            if path is not None:
                self.origin[str(node.target)] = frozenset(groups.get(path, (path,)))
                self.direct[path] = str(node.target)

    def chain(self, target: str) -> list[tuple[str, Made]]:
        """How ``target`` was made, step by step: ``(constant, Made)`` from ``target`` back
        through every made constant it was computed from (each once)."""
        out, todo, seen = [], [target], set()
        while todo:
            t = todo.pop(0)
            made = self.made.get(t)
            if made is None or t in seen:
                continue
            seen.add(t)
            out.append((t, made))
            todo += made.sources
        return out

    def unnamed(self, target: str) -> list[str]:
        """The constants ``target`` was computed from that no attribute stands for and no
        fold made: tensors a pass put in the graph (binary folding's ``other_tensor``)."""
        return sorted({s for _, m in self.chain(target) for s in m.sources
                       if not self.paths(s) and s not in self.made})

    def sharing(self, extra: str) -> frozenset[str]:
        """The attribute paths of every constant a fold computed with ``extra``."""
        return frozenset().union(*(self.paths(t) for t, m in self.made.items()
                                   if extra in m.sources))

    def folded(self, gm: torch.fx.GraphModule, before: dict, stage: str) -> None:
        """After a ``constant_fold``: the constants it made inherit their sources' paths."""
        for node in gm.graph.find_nodes(op="get_attr"):
            target = str(node.target)
            if target in before["targets"] or node.name not in before["sources"]:
                continue
            sources, ops = before["sources"][node.name]
            self.origin[target] = frozenset().union(*(self.paths(s) for s in sources))
            self.made[target] = Made(stage, ops, tuple(sorted(sources)))


def before_fold(gm: torch.fx.GraphModule) -> dict:
    """What a fold needs to be traced: the constants now present, and for every node computed
    from constants only, the constants it reads and the ops on the way."""
    sources: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
    targets = set()
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            sources[node.name] = (frozenset([str(node.target)]), ())
            targets.add(str(node.target))
        elif node.op == "call_function":
            ins = node.all_input_nodes
            if all(i.name in sources for i in ins):
                reads = frozenset().union(*(sources[i.name][0] for i in ins))
                # the ops in program order, each once: the steps the fold ran
                ops = tuple(dict.fromkeys([*(o for i in ins for o in sources[i.name][1]),
                                           node_kind(node)]))
                sources[node.name] = (reads, ops)
    return {"sources": sources, "targets": targets}
