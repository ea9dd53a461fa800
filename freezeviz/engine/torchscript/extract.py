"""Turn a ``torch._C.Graph`` into a plain :class:`~freezeviz.data.snapshot.GraphSnapshot`.

This is the only place that walks torch's IR objects. Weight tensors are never copied:
a snapshot keeps their shape, dtype and a short preview.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter
from collections.abc import Mapping

import torch

from freezeviz.data.snapshot import BlockInfo, ConstantInfo, GraphSnapshot, NodeInfo, SourceLoc, ValueInfo
from freezeviz.engine.torchscript.sources import node_source

_HIER_SKIP = ("SELF", "UNKNOWN_INSTANCE")
_HIER_RE = re.compile(r"([^.()]+)\([^()]*\)")
_PREVIEW_VALUES = 4


def _dtype_text(dtype) -> str:
    return str(dtype).replace("torch.", "")


_DTYPE_NAMES = {"float": "float32", "double": "float64", "long": "int64", "int": "int32",
                "half": "float16", "bool": "bool"}


def _value_type(value) -> tuple[str, tuple | None, str | None]:
    """A value's (type text, shape, dtype): ValueInfo's fields but its name."""
    return _type_parts(value.type())


def _type_parts(ty) -> tuple[str, tuple | None, str | None]:
    shape = dtype = None
    if isinstance(ty, torch._C.TensorType):
        sizes = ty.sizes() if ty.dim() is not None else None
        shape = tuple(sizes) if sizes is not None else None
        st = ty.scalarType()
        dtype = str(st).lower() if st is not None else None
        if dtype is not None:
            dtype = _DTYPE_NAMES.get(dtype, dtype)
    return ty.annotation_str if hasattr(ty, "annotation_str") else str(ty), shape, dtype


def _value_info(value) -> ValueInfo:
    return ValueInfo(value.debugName(), *_value_type(value))


def tensor_preview(t: torch.Tensor) -> str:
    shape = "x".join(str(s) for s in t.shape) or "scalar"
    try:
        if t.is_mkldnn:
            return f"mkldnn tensor {shape} {_dtype_text(t.dtype)}"
        flat = t.detach().reshape(-1)
        head = flat[:_PREVIEW_VALUES].tolist()
    except Exception:  # quantized, sparse, meta ... shape and dtype are enough
        return f"tensor {shape} {_dtype_text(t.dtype)}"
    vals = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in head)
    more = ", ..." if t.numel() > _PREVIEW_VALUES else ""
    return f"tensor {shape} {_dtype_text(t.dtype)} [{vals}{more}]"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _constant_info(node, attributes: tuple[str, ...]) -> ConstantInfo:
    if not node.hasAttribute("value"):
        return ConstantInfo("none", "None", attributes=attributes)
    k = node.kindOf("value")
    if k == "t":
        t = node.t("value")
        return ConstantInfo("tensor", tensor_preview(t), tuple(t.shape), _dtype_text(t.dtype),
                            attributes)
    if k == "i":
        ty = node.output().type()
        if isinstance(ty, torch._C.BoolType):
            return ConstantInfo("bool", str(bool(node.i("value"))), attributes=attributes)
        return ConstantInfo("int", str(node.i("value")), attributes=attributes)
    if k == "f":
        return ConstantInfo("float", repr(node.f("value")), attributes=attributes)
    if k == "s":
        return ConstantInfo("str", _short(repr(node.s("value"))), attributes=attributes)
    if k in ("is", "fs", "ss"):
        return ConstantInfo("list", _short(str(getattr(node, k)("value"))), attributes=attributes)
    if k == "ival":
        try:
            v = node.ival("value")
        except Exception:
            return ConstantInfo("other", str(node.output().type()), attributes=attributes)
        if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, bool)) for x in v):
            return ConstantInfo("list", _short(str(list(v))), attributes=attributes)
        if isinstance(v, torch.Tensor):
            return ConstantInfo("tensor", tensor_preview(v), tuple(v.shape), _dtype_text(v.dtype),
                                attributes)
        if isinstance(v, torch.ScriptObject) or type(v).__module__.startswith("torch"):
            return ConstantInfo("object", _short(str(node.output().type())), attributes=attributes)
        return ConstantInfo("other", _short(repr(v)), attributes=attributes)
    return ConstantInfo("other", _short(str(node.output().type())), attributes=attributes)


def _node_attrs(node, kind: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name in node.attributeNames():
        if kind == "prim::Constant" and name == "value":
            continue
        k = node.kindOf(name)
        if k in ("i", "f", "s", "is", "fs", "ss"):
            out.append((name, _short(str(getattr(node, k)(name)))))
        elif k in ("g", "gs"):
            out.append((name, "<subgraph>"))
        else:
            out.append((name, f"<{k}>"))
    return tuple(out)


@functools.lru_cache(maxsize=8192)
def parse_hierarchy(text: str) -> str:
    """``layer1(Sequential).0(Bottleneck).SELF(Bottleneck)`` -> ``layer1.0``."""
    return ".".join(n for n in _HIER_RE.findall(text) if n not in _HIER_SKIP)


def _scope_fixer(module_paths: frozenset[str]):
    """torch leaves the container out of the hierarchy of modules reached by looping over a
    ModuleList (``0.self_attn`` for ``layers.0.self_attn``): restore it where only one module
    path fits."""
    memo: dict[str, str] = {}

    def fix(scope: str) -> str:
        if not scope or scope in module_paths:
            return scope
        if scope not in memo:
            fits = [p for p in module_paths if p.endswith("." + scope)]
            memo[scope] = fits[0] if len(fits) == 1 else scope
        return memo[scope]

    return fix


def source_of(node, kind: str | None = None) -> SourceLoc | None:
    """The node's location and line of code, read from the source the module keeps."""
    if (kind or node.kind()) == "prim::GetAttr":
        return None
    return node_source(node)


def snapshot_graph(
    graph,
    method: str = "forward",
    *,
    constant_attributes: Mapping[str, tuple[str, ...]] | None = None,
    writes: Mapping[int, tuple[str, ...]] | None = None,
    module_paths: frozenset[str] | None = None,
    text: str | None = None,
    known: Mapping[str, tuple] | None = None,
    seen: dict[str, tuple | None] | None = None,
) -> GraphSnapshot:
    """Copy everything a viewer needs out of ``graph``.

    ``constant_attributes`` maps a constant's debug name to the attribute paths it stands for;
    ``writes`` maps the program-order index of a node to the attribute paths it writes;
    ``text``: ``str(graph)``, when the caller has it.

    ``seen`` collects, by each node's printed line, what the snapshot read from that node;
    ``known`` is such a collection from an earlier snapshot of the same graph. A node whose
    line (its outputs with their types, kind, attributes, inputs and source location) is
    one of ``known``'s is not read from torch again: a pass that changes a node changes its
    line. Constants (whose tensor values the line does not show) and SetAttrs (whose source
    is found from their neighbours) are always read.
    """
    text = str(graph) if text is None else text
    fix = _scope_fixer(module_paths) if module_paths else None
    rows = None
    if known is not None or seen is not None:
        from freezeviz.engine.torchscript import textwalk

        rows = textwalk.text_rows(text)
        if rows is not None and textwalk.mostly_known(rows, known):  # walk along the printout
            walker = textwalk.TextWalker(graph, rows, constant_attributes or {}, writes or {},
                                         fix, known, seen)
            try:
                return _snapshot(graph, method, text, walker, walker.walk_all)
            except _Misaligned:  # a printout whose lines did not pair up with its nodes
                if seen is not None:
                    seen.clear()
    # little to reuse: walking torch's nodes is the faster way to read them all
    walker = _SnapshotWalker(constant_attributes or {}, writes or {}, fix)
    walker.record = [] if rows is not None and seen is not None else None
    snap = _snapshot(graph, method, text, walker, lambda: walker.walk(graph.nodes()))
    if walker.record is not None:
        textwalk.learn(rows, walker.record, seen)
    return snap


def _snapshot(graph, method: str, text: str, walker, walk) -> GraphSnapshot:
    inputs = list(graph.inputs())
    if inputs and isinstance(inputs[0].type(), torch._C.ClassType):
        walker.paths[inputs[0].debugName()] = ""
    return GraphSnapshot(
        method=method,
        inputs=tuple(_value_info(v) for v in inputs),
        outputs=tuple(v.debugName() for v in graph.outputs()),
        nodes=walk(),
        text=text,
    )


class _Misaligned(Exception):
    """The printed lines of a graph did not pair up with its nodes."""


_NOT_REUSED = ("prim::Constant", "prim::SetAttr")


def repeated_lines(lines: list[str]) -> set[str]:
    """Lines printed more than once (nodes without outputs): a line that does not single out
    its node is never reused."""
    return {ln for ln, n in Counter(lines).items() if n > 1}
_NAMED = ("prim::GetAttr", "prim::SetAttr")  # nodes whose "name" attribute names a slot


class _SnapshotWalker:
    """One walk over a graph's nodes, in program order, blocks included."""

    def __init__(self, constant_attributes: Mapping, writes: Mapping, fix_scope,
                 lines: list[str] | None = None, known: Mapping | None = None,
                 seen: dict | None = None):
        self.constant_attributes = constant_attributes
        self.writes = writes
        self.fix_scope = fix_scope
        self.counter = 0
        # value name -> attribute path, for GetAttr chains that start at the graph's self input
        self.paths: dict[str, str] = {}
        self.lines, self.known, self.seen = lines, known or {}, seen
        # a line printed twice (a node without outputs, repeated) does not say which node it
        # is: such nodes are read from torch
        self.repeated = repeated_lines(lines or [])
        self.types: dict[int, tuple] = {}
        # what was read, in the order of the printout's lines (nodes, block inputs, block
        # outputs), when asked for: the lines are paired with it afterwards
        self.record: list | None = None

    def walk(self, nodes, parent_scope: str = "") -> tuple[NodeInfo, ...]:
        return tuple(self.node_info(node, parent_scope) for node in nodes)

    def _read(self, node, kind: str) -> tuple:
        # inputsAt/outputsAt: node.inputs() is several times slower through pybind
        outs = []
        for i in range(node.outputsSize()):
            value = node.outputsAt(i)
            outs.append(ValueInfo(value.debugName(), *self.value_type(value.type())))
        return (kind, _node_attrs(node, kind), self.module_scope(node), source_of(node, kind),
                _constant_info(node, ()) if kind == "prim::Constant" else None,
                tuple(node.inputsAt(i).debugName() for i in range(node.inputsSize())),
                tuple(outs), node.s("name") if kind in _NAMED else None)

    def value_type(self, ty) -> tuple:
        """_value_type of a type object, read once per type: torch hands out one Python object
        per type it holds, which ``types`` keeps alive, so its id is not reused meanwhile."""
        found = self.types.get(id(ty))
        if found is None:
            found = self.types[id(ty)] = (ty, _type_parts(ty))
        return found[1]

    def node_info(self, node, parent_scope: str) -> NodeInfo:
        index = self.counter
        self.counter += 1
        hit = self._read(node, node.kind())
        record = self.record
        if record is not None:
            record.append(hit)

        def blocks(scope: str) -> tuple[BlockInfo, ...]:
            out = []
            for b in node.blocks():
                inputs = _block_inputs(b)
                if record is not None:
                    record.append(inputs)
                nodes = self.walk(block_nodes(b), scope)
                out.append(BlockInfo(inputs, nodes, _block_outputs(b)))
                if record is not None:
                    record.append(out[-1].outputs)
            return tuple(out)

        return self.build(hit, index, parent_scope, blocks)

    def build(self, hit: tuple, index: int, parent_scope: str, blocks) -> NodeInfo:
        """The NodeInfo of node ``index``, from what was read of it (:meth:`_read`);
        ``blocks(scope)`` gives its blocks."""
        kind, attrs, module_scope, source, constant, ins, outs, name = hit
        attribute = self.attribute(kind, name, ins, outs)
        if constant is not None:
            found = self.constant_attributes.get(outs[0].name, ())
            constant = dataclasses.replace(constant, attributes=found) if found else constant
        scope = self.scope(kind, module_scope, attribute) or parent_scope
        return NodeInfo(id=f"n{index}", kind=kind, inputs=ins, outputs=outs,
                        attrs=attrs, blocks=blocks(scope) if may_have_blocks(kind) else (),
                        scope=scope, source=source, constant=constant, attribute=attribute,
                        writes=self.writes.get(index, ()))

    def attribute(self, kind: str, name: str | None, ins, outs) -> str | None:
        """The attribute path a GetAttr/SetAttr touches, when its chain starts at self."""
        if name is None:
            return None
        owner = self.paths.get(ins[0]) if ins else None
        if owner is None:
            return None
        attribute = f"{owner}.{name}" if owner else name
        if kind == "prim::GetAttr":
            self.paths[outs[0].name] = attribute
        return attribute

    def module_scope(self, node) -> str:
        try:
            scope = parse_hierarchy(node.getModuleHierarchy())
            if self.fix_scope is not None:
                scope = self.fix_scope(scope)
        except Exception:
            scope = ""
        return scope

    def scope(self, kind: str, scope: str, attribute: str | None) -> str:
        if not scope and attribute and kind == "prim::GetAttr" and "." in attribute:
            scope = attribute.rsplit(".", 1)[0]
        # torch records no module hierarchy inside If/Loop blocks: the caller inherits the
        # enclosing one
        return scope


# Asking a node for its blocks is slow through pybind; most kinds never have any.
_NO_BLOCKS = frozenset({
    "prim::Constant", "prim::GetAttr", "prim::SetAttr", "prim::ListConstruct",
    "prim::TupleConstruct", "prim::ListUnpack", "prim::TupleUnpack", "prim::TupleIndex",
    "prim::DictConstruct", "prim::RaiseException", "prim::unchecked_cast", "prim::Uninitialized",
    "prim::CallMethod", "prim::CallFunction", "prim::NumToTensor", "prim::device", "prim::dtype",
    "prim::min", "prim::max", "prim::isinstance", "prim::ConstantMKLDNNTensor",
    "prim::mkldnn_convolution", "prim::BroadcastMKLDNNTensors", "prim::fork", "prim::Print",
})


def _block_inputs(block) -> tuple[ValueInfo, ...]:
    param = block.paramNode()  # its outputs are the block's inputs; faster than inputs()
    return tuple(_value_info(param.outputsAt(i)) for i in range(param.outputsSize()))


def _block_outputs(block) -> tuple[str, ...]:
    ret = block.returnNode()
    return tuple(ret.inputsAt(i).debugName() for i in range(ret.inputsSize()))


def block_nodes(block) -> list:
    """A block's nodes in program order. Read back from its return node: ``block.nodes()``
    costs more through pybind than the few nodes of a typical If branch. A block's nodes form
    a ring with its prim::Param (input) and prim::Return nodes, the only Param of the ring."""
    out: list = []
    node = block.returnNode().prev()
    while node.kind() != "prim::Param":
        out.append(node)
        node = node.prev()
    out.reverse()
    return out


def may_have_blocks(kind: str) -> bool:
    return not (kind.startswith("aten::") or kind in _NO_BLOCKS)


def iter_torch_nodes(graph) -> list:
    """All nodes of a torch graph (blocks included) in the order :func:`snapshot_graph`
    numbers them."""
    out: list = []

    def walk(nodes) -> None:
        for node in nodes:
            out.append(node)
            if may_have_blocks(node.kind()):
                for b in node.blocks():
                    walk(block_nodes(b))

    walk(graph.nodes())
    return out
