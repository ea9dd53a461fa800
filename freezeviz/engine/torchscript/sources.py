"""Where a node came from, and its line of code, as TorchScript keeps them with the module.

A scripted node's source range holds the text it was compiled from (a saved module carries
that text in its archive), so the code quoted here is the code the module was built from,
even when the file on disk has changed or is gone. Traced modules keep only file and line.

A ``prim::SetAttr`` has no source range of its own: its line is found by looking for the
assignment in the source text around its nearest located neighbours.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys

from freezeviz.data.snapshot import SourceLoc, notebook_cell

# '  File "/path/model.py", line 12' opens a scripted node's highlighted source range
_HEADER_RE = re.compile(r'  File "(.*)", line (\d+)')
# the marker line under the highlighted code: spaces, tildes, maybe " <--- HERE"
_TILDES_RE = re.compile(r"\s*~+(?: <--- HERE)?")
# a traced node's range is the Python stack: "/path/model.py(12): forward"
_TRACED_RE = re.compile(r"(.+)\((\d+)\): \S")
# torch's printed comment, "# /path/model.py:12:8", the fallback when neither form is there
_COMMENT_RE = re.compile(r"# (.+):(\d+):(\d+)$")


@functools.lru_cache(maxsize=8192)
def parse_range(text: str) -> tuple[str, int, int, tuple[tuple[int, str], ...]] | None:
    """``(file, line, col, ((line, code), ...))`` from a node's highlighted source range.

    The numbered lines are the source text torch printed around the range: the range itself
    plus up to three lines of context each side, all from the module's own copy of the source.
    """
    # A loaded module shows the original range first, then "Serialized" code: keep the first.
    text = text.split("\nSerialized ", 1)[0]
    lines = text.split("\n")
    head = _HEADER_RE.fullmatch(lines[0])
    if head is None:
        return None
    body = lines[1:-1] if text.endswith("\n") else lines[1:]
    first_marker = next((i for i, s in enumerate(body) if _TILDES_RE.fullmatch(s)), None)
    if not first_marker:  # None, or a marker with no code line above it
        return None
    line = int(head.group(2))
    marker = body[first_marker]
    col = len(marker) - len(marker.lstrip(" "))
    # The code line just above the first marker is the range's first line; marker lines aside,
    # the printed lines are consecutive lines of the source.
    code = [s for s in body if not _TILDES_RE.fullmatch(s)]
    start = first_marker - 1
    numbered = tuple((line + i - start, s) for i, s in enumerate(code))
    return head.group(1), line, col, numbered


def _range_text(node) -> str:
    try:
        return node.sourceRange()
    except Exception:
        return ""


def node_source(node) -> SourceLoc | None:
    """A node's location with its line of code (``code=None`` where the module keeps none)."""
    text = _range_text(node)
    if not text:
        return None
    loc = _range_source(text)
    if loc is None:
        m = _COMMENT_RE.search(str(node).split("\n", 1)[0])
        loc = SourceLoc(m.group(1), int(m.group(2)), int(m.group(3))) if m else None
    if loc is not None and _is_cell(loc.file):
        loc = dataclasses.replace(loc, cell=cell_number(loc.file))
    return loc


@functools.lru_cache(maxsize=1024)
def _is_cell(file: str) -> bool:
    return notebook_cell(file) is not None


@functools.lru_cache(maxsize=8192)
def _range_source(text: str) -> SourceLoc | None:
    # nodes of every stage share their ranges: one SourceLoc object per range
    parsed = parse_range(text)
    if parsed is not None:
        file, line, col, numbered = parsed
        code = dict(numbered).get(line)
        return SourceLoc(file, line, col, code.strip() if code is not None else None)
    traced = _TRACED_RE.match(text)
    return SourceLoc(traced.group(1), int(traced.group(2)), 0) if traced else None


# --- notebook cells ------------------------------------------------------------------------

def _ipython_shell():
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:
        return None


def cell_number(file: str) -> int | None:
    """The execution count of the notebook cell ``file`` stands for, when IPython knows it.

    ipykernel compiles each cell as ``/tmp/ipykernel_<pid>/<hash>.py`` and its compiler keeps
    the execution count of each such name."""
    if not _is_cell(file):
        return None
    shell = _ipython_shell()
    try:
        number = shell.compile._filename_map.get(file) if shell is not None else None
    except Exception:
        return None
    return number if isinstance(number, int) else None


# --- assignments (prim::SetAttr) ------------------------------------------------------------

def _assignment_re(name: str) -> re.Pattern:
    """``<obj>.name = ...``, ``<obj>.name += ...``, ``<obj>.name, <obj>.other = ...``."""
    return re.compile(rf"\.{re.escape(name)}\b(?:\s*,\s*[\w.\[\]]+)*\s*"
                      r"(?:\*\*|//|>>|<<|[-+*/%&|^@])?=(?!=)")


def _matches(pattern: re.Pattern, text: str) -> bool:
    return bool(pattern.search(text.split("#", 1)[0]))


class AssignmentLocator:
    """Finds the line of each ``prim::SetAttr`` of one graph, given its nodes in program order.

    The statement lies between the nearest located nodes before and after the SetAttr (constant
    nodes are pooled and hoisted, so their ranges say nothing about position); their source
    ranges show the lines around them, and the assignment is the line that assigns the
    attribute's name. Where that cannot be told apart, the answer is ``None``, not a guess.
    """

    def __init__(self, nodes: list):
        self._nodes = nodes
        self._setattrs = [(i, n.s("name")) for i, n in enumerate(nodes)
                          if n.kind() == "prim::SetAttr"]
        self._memo: dict[int, tuple | None] = {}

    def _located(self, i: int) -> tuple | None:
        """``(loc, numbered lines, module hierarchy)`` of node ``i`` when its range places it."""
        if i not in self._memo:
            node = self._nodes[i]
            parsed = None
            if node.kind() not in ("prim::Constant", "prim::GetAttr", "prim::SetAttr"):
                text = _range_text(node)
                parsed = parse_range(text) if text else None
            self._memo[i] = None if parsed is None else (
                _range_source(_range_text(node)), parsed[3], node.getModuleHierarchy())
        return self._memo[i]

    def _nearest(self, idx: int, step: int) -> tuple[int, tuple | None]:
        i = idx + step
        while 0 <= i < len(self._nodes):
            found = self._located(i)
            if found is not None:
                return i, found
            i += step
        return i, None

    def locate(self, idx: int) -> SourceLoc | None:
        node = self._nodes[idx]
        name = node.s("name")
        pattern = _assignment_re(name)
        # the value it stores, when computed on the assignment's own line (``self.n = self.n + 1``)
        producer = node.inputsAt(1).node()
        value = node_source(producer) if producer.kind() != "prim::Constant" else None
        if value is not None and value.code is not None and _matches(pattern, value.code):
            return self._at(value.file, value.line, value.code)
        lo, before = self._nearest(idx, -1)
        hi, after = self._nearest(idx, 1)
        same = [i for i, n in self._setattrs if lo < i < hi and n == name]
        return self._pick(pattern, before, after, same.index(idx), len(same))

    def _pick(self, pattern, before, after, ordinal: int, total: int) -> SourceLoc | None:
        """The ``ordinal``-th of ``total`` same-name assignments between ``before`` and ``after``
        (each ``(loc, numbered lines, module hierarchy)``), or None when the text shown around
        them does not account for exactly ``total`` assignments."""
        tail = [(before[0].file, n, s) for n, s in before[1] if n >= before[0].line] \
            if before is not None else []
        head = [(after[0].file, n, s) for n, s in after[1] if n <= after[0].line] \
            if after is not None else []
        if before is not None and after is not None and before[0].file == after[0].file \
                and before[2] == after[2] and before[0].line <= after[0].line:
            # Most likely one function: the statement lies between the two.
            lo, hi = before[0].line, after[0].line
            lines = {n: (f, n, s) for f, n, s in tail + head if lo <= n <= hi}
            hits = [lines[n] for n in sorted(lines) if _matches(pattern, lines[n][2])]
            if len(hits) == total:
                return self._at(*hits[ordinal])
            if hits or len(lines) != hi - lo + 1:
                return None
            # Every line between them is shown and none assigns it: the two are in different
            # calls of one function (inlined twice), and the statement is in one of them.
        # Different functions: the statement ends the first or starts the second.
        hits = [h for h in tail if _matches(pattern, h[2])] + \
            [h for h in head if _matches(pattern, h[2])]
        return self._at(*hits[ordinal]) if len(hits) == total else None

    @staticmethod
    def _at(file: str, line: int, code: str) -> SourceLoc:
        col = len(code) - len(code.lstrip())
        return SourceLoc(file, line, col, code.strip(), cell_number(file))
