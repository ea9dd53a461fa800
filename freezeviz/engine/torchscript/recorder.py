"""Collects the stages of one freeze: a snapshot of the graph after each step, its code text and
the time the step took."""

from __future__ import annotations

import torch

from freezeviz.data.diff import normalize_graph_text
from freezeviz.data.report import AliasInfo, AliasWriter
from freezeviz.data.snapshot import DeferredText, SourceLoc, Stage
from freezeviz.engine.torchscript import passes as P
from freezeviz.engine.torchscript.analysis import attribute_paths, find_writers, fork_subgraphs
from freezeviz.engine.torchscript.extract import snapshot_graph


def code_of(cmod, method: str) -> str:
    """A method's TorchScript code, as torch prints it."""
    try:
        return cmod._get_method(method).code
    except Exception:
        return ""


def graph_code(graph, method: str) -> str:
    """The TorchScript code of ``graph`` as it is now ("" for a graph torch cannot print)."""
    try:
        return torch._C._create_function_from_graph(method, graph).code
    except Exception:
        return ""


def deferred_code(graph, method: str, *, copy: bool = True) -> DeferredText:
    """The code of ``graph`` as it is now, printed when first read: torch's printer takes time
    that grows faster than the graph, and most stages' code is never read. A copy is kept
    unless ``graph`` is never changed again (the copy shares the graph's tensors)."""
    kept = graph.copy() if copy else graph
    return DeferredText(lambda: graph_code(kept, method))


class Recorder:
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
        # per method, what the last snapshot read from each node, by its printed line: the
        # next stage reads from torch only the nodes whose line changed
        self._seen: dict[str, dict] = {}

    def _normalized(self, text: str) -> str:
        """normalize_graph_text, remembered: each stage's text is compared twice."""
        cache = self._norm_cache
        if text not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[text] = normalize_graph_text(text)
        return cache[text]

    def _differs(self, a: str, b: str) -> bool:
        """Whether two graph texts differ by more than the numbering of unnamed values.
        Renumbering keeps every line, so texts of different line counts differ without
        normalizing megabytes of text."""
        if a == b:
            return False
        if a.count("\n") != b.count("\n"):
            return True
        return self._normalized(a) != self._normalized(b)

    def add(self, name, method, graph, seconds, *, code=None, constants=None,
            pass_name=None, iteration=None, writes=None, description=None) -> Stage:
        """Record ``graph`` as stage ``name``. ``code``: its code text or a DeferredText,
        printed from ``graph`` now when None (later passes change ``graph`` itself);
        ``constants``: the attributes each constant stands for, or a function that finds them
        (called only when needed)."""
        text = str(graph)
        previous = next((s for s in reversed(self.stages) if s.method == method), None)
        if previous is not None and previous.name not in ("scripted",) and \
                not self._differs(previous.graph.text, text):
            # the step left the graph as it was (graph.copy() may have renumbered unnamed
            # values, nothing else): same snapshot, same code (printed once, if ever)
            snap, changed, code = previous.graph, False, previous.code_source()
        else:
            if callable(constants):
                constants = constants()
            seen: dict = {}
            snap = snapshot_graph(graph, method, constant_attributes=constants, writes=writes,
                                  module_paths=self.module_paths, text=text,
                                  known=self._seen.get(method), seen=seen)
            self._seen[method] = seen
            if code is None:
                code = graph_code(graph, method)
            # one definition everywhere: the graph differs from the previous stage of this
            # method; a method's first stage (`scripted`) is the starting point, not a change
            changed = previous is not None and self._differs(previous.graph.text, text)
        stage = Stage(name, description or _description(name, iteration), snap, code, changed,
                      seconds, method, pass_name, iteration)
        self.stages.append(stage)
        if self.keep_graphs and method == "forward":
            self.graphs[len(self.stages) - 1] = (graph.copy(), self.owner)
        return stage


def _description(name: str, iteration: int | None) -> str:
    base = name.split("#", 1)[0]
    description = P.STAGE_DESCRIPTIONS.get(base, base)
    if iteration and iteration > 1:
        description += f" (round {iteration} of the numerics loop)"
    return description


def analyse_writes(graph, label: str, rec: Recorder | None, value_paths: list | None = None):
    """Writers of module state in ``graph`` (and its fork bodies), recorded with the alias
    analysis on ``rec``; ``value_paths`` collects each analysed graph's attribute paths."""
    writes, evidence, adb, paths = find_writers(graph, label, with_paths=True)
    if value_paths is not None:
        value_paths.append(paths)
    if rec is not None:
        rec.alias.append(AliasInfo(label, _writers(evidence), _alias_dump(graph)))
        for sub, roots, sub_label in fork_subgraphs(graph, label, paths):
            _, sub_evidence, _ = find_writers(sub, sub_label, roots)
            if value_paths is not None:
                value_paths.append(attribute_paths(sub, roots))
            rec.alias.append(AliasInfo(sub_label, _writers(sub_evidence), _alias_dump(sub)))
            evidence = evidence + sub_evidence
    return writes, evidence


def _alias_dump(graph) -> DeferredText:
    """torch's AliasDb dump of ``graph``, printed when first read (the report's appendix; a
    megabyte for a transformer). ``graph`` is not changed after its analysis, and the analysis
    of an unchanged graph prints the same text."""
    return DeferredText(lambda: graph.alias_db(isFrozen=True).to_graphviz_str())


def _writers(evidence) -> tuple[AliasWriter, ...]:
    return tuple(AliasWriter(e.via, e.attribute, e.kind, SourceLoc(*e.source) if e.source else None)
                 for e in evidence)
