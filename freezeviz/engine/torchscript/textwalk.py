"""Snapshots walked along torch's printout of the graph, reading from torch only what changed.

``str(graph)`` prints every node on a line of its own, in program order (a node, then the
nodes of its blocks), each block between a ``blockN(...):`` line and a ``-> (...)`` line.
The walk follows those lines. A node whose line an earlier snapshot of the same graph read
(``known``) is not asked anything again; any other node is fetched from
``graph.findAllNodes(kind)``, which walks in C++ in the same order, as the k-th node of its
kind, and checked against its line. Walking the graph node by node from Python is what this
avoids: a few microseconds for each of tens of thousands of nodes, at every stage.
"""

from __future__ import annotations

import re
from collections import Counter

from freezeviz.data.snapshot import BlockInfo, NodeInfo
from freezeviz.engine.torchscript.extract import _NOT_REUSED, _block_inputs, _block_outputs, \
    _Misaligned, _SnapshotWalker, repeated_lines

_NODE, _BLOCK, _END = 0, 1, 2
_KIND_RE = re.compile(r"[\w.]+::[\w.]+")
# a node holding a subgraph prints as its kind and the subgraph's number: prim::fork_0
_SUBGRAPH_RE = re.compile(r"_\d+$")


def text_rows(text: str) -> list[tuple[int, str]] | None:
    """The node, block and block-end lines of ``str(graph)`` (indentation stripped), or None
    for a printout with lines of another form (a name holding a line break)."""
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.endswith("):")), len(lines))
    rows = []
    for ln in lines[start + 1:]:
        s = ln.lstrip(" ")
        if s.startswith(("%", "= ")):
            rows.append((_NODE, s))
        elif s.startswith("block") and s.endswith(":"):
            rows.append((_BLOCK, s))
        elif s.startswith("-> ("):
            rows.append((_END, s))
        elif s.startswith("return ("):
            return rows
        else:
            return None
    return None


def mostly_known(rows: list[tuple[int, str]], known) -> bool:
    """Whether enough node lines (a quarter) are ``known`` that fetching the others by kind
    costs less than walking every node (each findAllNodes walks the whole graph)."""
    if not known:
        return False
    lines = [s for r, s in rows if r == _NODE]
    return 4 * sum(1 for s in lines if s in known) >= len(lines)


def _kind_of(line: str) -> str:
    if line.startswith("= "):
        at = 2
    else:
        at = line.find(" = ")
        if at < 0:
            raise _Misaligned
        at += 3
    m = _KIND_RE.match(line, at)
    if m is None:
        raise _Misaligned
    kind = m.group(0)
    # (a kind of torch's own ending so would not pair up with its nodes: read node by node)
    return _SUBGRAPH_RE.sub("", kind) if "_" in kind else kind


def _pairs(line: str, kind: str, outs: tuple) -> bool:
    """Whether ``line`` is the printed line of a node of ``kind`` with outputs ``outs``."""
    if outs:
        return line.startswith(f"%{outs[0].name} : ") and f" = {kind}" in line
    return line.startswith(f"= {kind}")


class TextWalker(_SnapshotWalker):
    """One walk along a graph's printed lines (see the module's docstring)."""

    def __init__(self, graph, rows: list[tuple[int, str]], constant_attributes, writes,
                 fix_scope, known, seen):
        super().__init__(constant_attributes, writes, fix_scope,
                         [s for r, s in rows if r == _NODE], known, seen)
        self.graph, self.rows, self.pos = graph, rows, 0
        self.by_kind: dict[str, list] = {}  # kind -> graph.findAllNodes(kind), when needed
        self.occurrences: Counter = Counter()  # kind -> its nodes walked so far

    def walk_all(self) -> tuple[NodeInfo, ...]:
        nodes = self.walk_rows("")
        if self.pos != len(self.rows) or any(self.occurrences[k] != len(v)
                                             for k, v in self.by_kind.items()):
            raise _Misaligned
        return nodes

    def walk_rows(self, parent_scope: str) -> tuple[NodeInfo, ...]:
        out = []
        rows = self.rows
        while self.pos < len(rows) and rows[self.pos][0] == _NODE:
            out.append(self.row_node(parent_scope))
        return tuple(out)

    def torch_node(self, kind: str, k: int):
        nodes = self.by_kind.get(kind)
        if nodes is None:
            nodes = self.by_kind[kind] = self.graph.findAllNodes(kind)
        if k >= len(nodes):
            raise _Misaligned
        return nodes[k]

    def row_node(self, parent_scope: str) -> NodeInfo:
        line = self.rows[self.pos][1]
        self.pos += 1
        index = self.counter
        self.counter += 1
        reusable = line not in self.repeated
        hit = self.known.get(line) if reusable else None
        kind = hit[0] if hit is not None else _kind_of(line)
        k = self.occurrences[kind]
        self.occurrences[kind] = k + 1
        node = None
        if hit is None:
            node = self.torch_node(kind, k)
            hit = self._read(node, kind)
            if not _pairs(line, kind, hit[6]):
                raise _Misaligned
            reusable = reusable and kind not in _NOT_REUSED
        if reusable and self.seen is not None:
            self.seen[line] = hit

        def blocks(scope: str) -> tuple[BlockInfo, ...]:
            out, torch_blocks = [], None
            while self.pos < len(self.rows) and self.rows[self.pos][0] == _BLOCK:
                header = self.rows[self.pos][1]
                self.pos += 1
                inner = self.walk_rows(scope)
                if self.pos == len(self.rows) or self.rows[self.pos][0] != _END:
                    raise _Misaligned
                end = self.rows[self.pos][1]
                self.pos += 1
                inputs, outputs = self.known.get(header), self.known.get(end)
                if inputs is None or outputs is None:
                    if torch_blocks is None:
                        torch_blocks = list((node or self.torch_node(kind, k)).blocks())
                    if len(out) >= len(torch_blocks):
                        raise _Misaligned
                    inputs = _block_inputs(torch_blocks[len(out)])
                    outputs = _block_outputs(torch_blocks[len(out)])
                if self.seen is not None:  # the line shows the values: the same line, the same
                    self.seen[header], self.seen[end] = inputs, outputs
                out.append(BlockInfo(inputs, inner, outputs))
            return tuple(out)

        return self.build(hit, index, parent_scope, blocks)


def learn(rows: list[tuple[int, str]], record: list, seen: dict) -> None:
    """Fill ``seen`` from a walk of torch's nodes: ``record`` holds what it read, in the order
    of the printout's ``rows``. Nothing is learnt if the two do not pair up."""
    if len(rows) != len(record):
        return
    repeated = repeated_lines([s for r, s in rows if r == _NODE])
    learnt = {}
    for (row, line), what in zip(rows, record):
        if row != _NODE:  # a block's inputs or outputs
            learnt[line] = what
            continue
        kind = what[0]
        if not _pairs(line, kind, what[6]):
            return
        if kind not in _NOT_REUSED and line not in repeated:
            learnt[line] = what
    seen.update(learnt)
