"""Plain, immutable, picklable data describing a TorchScript graph at one stage.

Nothing here imports torch: render, widgets, report and CLI work from these objects alone.
The engine (``freezeviz.engine.torchscript.extract``) builds them from ``torch._C.Graph`` objects.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# ipykernel compiles each notebook cell as /tmp/ipykernel_<pid>/<hash>.py; plain IPython
# names it <ipython-input-<count>-<hash>>
_IPYKERNEL_CELL_RE = re.compile(r"(?:^|[/\\])ipykernel_\d+[/\\]\d+\.py$")
_IPYTHON_INPUT_RE = re.compile(r"^<ipython-input-(\d+)-[0-9a-f]+>$")


def notebook_cell(file: str, count: int | None = None) -> str | None:
    """``"cell In[3]"`` / ``"notebook cell"`` when ``file`` is a notebook cell, else None."""
    m = _IPYTHON_INPUT_RE.match(file)
    if m:
        return f"cell In[{m.group(1)}]"
    if _IPYKERNEL_CELL_RE.search(file):
        return f"cell In[{count}]" if count is not None else "notebook cell"
    return None


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where in the user's (or torch's) Python source a node came from."""

    file: str
    line: int
    col: int = 0
    # The line of code, from the source TorchScript keeps with the module (so it is the code
    # the module was built from, whatever the file holds now); None where the module keeps
    # no source text (traced modules).
    code: str | None = field(default=None, compare=False)
    # Execution count of the notebook cell that ``file`` stands for, when IPython knew it.
    cell: int | None = field(default=None, compare=False)

    @property
    def short(self) -> str:
        """``file.py:LINE`` with the directory stripped; ``cell In[3], line 14`` for a cell."""
        cell = notebook_cell(self.file, self.cell)
        if cell is not None:
            return f"{cell}, line {self.line}"
        return f"{self.file.rsplit('/', 1)[-1]}:{self.line}"

    def __str__(self) -> str:
        if notebook_cell(self.file) is not None:
            return self.short  # the cell's temporary file name means nothing to a reader
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class ValueInfo:
    """One SSA value: its debug name (without ``%``), type text and, for tensors, shape/dtype."""

    name: str
    type: str
    shape: tuple[int | None, ...] | None = None
    dtype: str | None = None


@dataclass(frozen=True, slots=True)
class ConstantInfo:
    """The value of a ``prim::Constant``. Tensors are never copied: shape, dtype, preview."""

    kind: str  # "tensor", "int", "float", "bool", "str", "none", "list", "object", "other"
    preview: str  # short text, e.g. "2", "[1, 1]", "tensor(4, 3, 3, 3) float32 [0.12, -0.3, ...]"
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    # Attribute paths (``conv.weight``) this constant stands for, traced from the freezer's
    # own "Folding GetAttr" decisions. Several when constant pooling merged equal values.
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A nested block of a ``prim::If`` or ``prim::Loop``."""

    inputs: tuple[ValueInfo, ...]
    nodes: tuple[NodeInfo, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One IR node."""

    id: str  # unique within its snapshot: "n0", "n1", ... in program order (blocks included)
    kind: str  # "aten::conv2d", "prim::GetAttr", ...
    inputs: tuple[str, ...]  # value names
    outputs: tuple[ValueInfo, ...]
    attrs: tuple[tuple[str, str], ...] = ()  # scalar node attributes, e.g. (("name", "weight"),)
    blocks: tuple[BlockInfo, ...] = ()
    scope: str = ""  # module path that produced the node ("layer1.0.conv1"), "" for the root
    source: SourceLoc | None = None
    constant: ConstantInfo | None = None
    # For prim::GetAttr / prim::SetAttr: the attribute path from the root ("sub.buf"),
    # or "" for a module reached through the chain (the root itself has no path).
    attribute: str | None = None
    # Attribute paths whose state this node writes, per the alias analysis (in-place writers
    # on values read from module state) or because it is a SetAttr.
    writes: tuple[str, ...] = ()

    def attr(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return default


@dataclass(frozen=True)
class GraphSnapshot:
    """A whole graph (one method) at one stage."""

    method: str
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[str, ...]
    nodes: tuple[NodeInfo, ...]
    text: str  # torch's own printout of the graph
    _index: dict = field(default=None, repr=False, compare=False, hash=False)  # type: ignore[assignment]

    def iter_nodes(self) -> Iterator[NodeInfo]:
        """Every node, blocks included, in program order."""
        return iter(self.index["flat"])

    def _build_index(self) -> dict:
        flat: list[NodeInfo] = []

        def walk(nodes: tuple[NodeInfo, ...]) -> None:
            for node in nodes:
                flat.append(node)
                for block in node.blocks:
                    walk(block.nodes)

        walk(self.nodes)
        producers: dict[str, NodeInfo] = {}
        values: dict[str, ValueInfo] = {v.name: v for v in self.inputs}
        by_id: dict[str, NodeInfo] = {}
        users: dict[str, list[NodeInfo]] = {}
        for node in flat:
            by_id[node.id] = node
            for out in node.outputs:
                producers[out.name] = node
                values[out.name] = out
            for block in node.blocks:
                for v in block.inputs:
                    values[v.name] = v
            for name in node.inputs:
                users.setdefault(name, []).append(node)
        index = {"producers": producers, "values": values, "by_id": by_id, "users": users,
                 "flat": flat}
        object.__setattr__(self, "_index", index)
        return index

    @property
    def index(self) -> dict:
        return self._index if self._index is not None else self._build_index()

    def producer(self, value: str) -> NodeInfo | None:
        return self.index["producers"].get(value)

    def value(self, name: str) -> ValueInfo | None:
        return self.index["values"].get(name)

    def node(self, node_id: str) -> NodeInfo:
        return self.index["by_id"][node_id]

    def users(self, value: str) -> list[NodeInfo]:
        return self.index["users"].get(value, [])

    def count(self, kind: str | None = None) -> int:
        return sum(1 for n in self.iter_nodes() if kind is None or n.kind == kind)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_index"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)


class DeferredText:
    """Text made by ``make()`` the first time it is read, then kept (``make`` is let go).

    torch prints a big graph's code in time that grows faster than the graph (its printer's
    naming of temporaries), and most code is never read: the engine hands a Stage one of these
    instead of the text. Equal reads give equal text; a pickle or a copy holds the text alone."""

    __slots__ = ("_make", "_text", "_lock")

    def __init__(self, make: Callable[[], str]):
        self._make: Callable[[], str] | None = make
        self._text = ""
        self._lock = threading.Lock()

    @property
    def text(self) -> str:
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._text = self._make()
                    self._make = None
        return self._text

    def __reduce__(self):
        return str, (self.text,)


class TextField:
    """A dataclass field whose value may be a DeferredText, read as its text (``Stage.code``,
    ``AliasInfo.dot``)."""

    def __set_name__(self, owner, name: str) -> None:
        self._slot = "_" + name
        self._name = name

    def __get__(self, obj, owner=None) -> str:
        if obj is None:
            raise AttributeError(self._name)  # the field has no default
        state = obj.__dict__
        value = state[self._slot] if self._slot in state else state.get(self._name, "")
        return value.text if isinstance(value, DeferredText) else value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self._slot] = value


@dataclass(frozen=True)
class Stage:
    """The graph of one method after one step of the freeze."""

    name: str  # "scripted", "inlined", "frozen", "remove_dropout", "fold_conv_bn", ...
    description: str
    graph: GraphSnapshot
    # the TorchScript code text torch prints for this stage's graph (printed when first read)
    code: str = TextField()  # type: ignore[assignment]
    changed: bool
    seconds: float
    method: str = "forward"
    # For optimization passes: the pass's Python name and the loop iteration it ran in.
    pass_name: str | None = None
    iteration: int | None = None

    @property
    def label(self) -> str:
        return self.name if self.method == "forward" else f"{self.method}: {self.name}"

    def _key(self) -> tuple:
        return (self.name, self.description, self.graph, self.changed, self.seconds,
                self.method, self.pass_name, self.iteration)

    # The code is compared last, and only when all else is equal: finding a stage in a list
    # must not print the code of every stage before it.
    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or (self._key() == other._key() and self.code == other.code)

    def __hash__(self) -> int:
        return hash(self._key())

    def code_source(self) -> str | DeferredText:
        """The code as held: text, or a DeferredText not read yet (stages that show the same
        graph share one, so that it is printed once)."""
        state = self.__dict__
        return state["_code"] if "_code" in state else state.get("code", "")
