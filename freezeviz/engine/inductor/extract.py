"""Turn a ``torch.fx`` graph into a plain :class:`~freezeviz.data.snapshot.GraphSnapshot`.

The snapshot speaks the renderer's vocabulary, so the same drawing code serves both freezers:
module state read at run time (a Dynamo ``get_attr``, an AOT placeholder standing for a
parameter or buffer) is a ``prim::GetAttr`` node with its attribute path; a frozen constant
(``get_attr _frozen_paramN``) is a ``prim::Constant`` holding the attribute paths it was made
from; scalar and list arguments become small constant nodes, which the drawing folds into
their consumer's label. Each node keeps FX's own ``op`` and ``target`` in ``attrs``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping

import torch

from freezeviz.data.snapshot import ConstantInfo, GraphSnapshot, NodeInfo, SourceLoc, ValueInfo

# one frame of a Dynamo stack trace: File "x.py", line 12, in forward\n    code
_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+), in [^\n]*\n[ \t]*([^\n]*)')
_INDEX_RE = re.compile(r"\[['\"]?([^\]'\"]+)['\"]?\]")


def dtype_text(dtype) -> str:
    return str(dtype).replace("torch.", "")


def node_kind(node: torch.fx.Node) -> str:
    """``aten::convolution`` for an ATen op, ``torch.conv2d`` / ``operator.add`` for Python
    functions (the Dynamo graph), ``Tensor.t`` for a method call."""
    target = node.target
    if node.op == "call_method":
        return f"Tensor.{target}"
    if node.op == "call_module":
        return f"module:{target}"
    if isinstance(target, torch._ops.OpOverload):
        ns, name = target.namespace, target._schema.name.split("::")[-1]
        return f"{ns}::{name}"
    if isinstance(target, torch._ops.OpOverloadPacket):
        return str(target).replace(".", "::", 1)
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or str(target)
    if target in vars(operator).values() or module == "_operator":
        module = "operator"
    elif module.startswith("torch"):
        module = "torch"
    return f"{module}.{name}" if module else name


def scope_of(node: torch.fx.Node) -> str:
    """The module path that produced ``node`` ("layer1.0.conv1"), from Dynamo's module stack."""
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    if not isinstance(path, str):
        return ""
    path = _INDEX_RE.sub(lambda m: "." + m.group(1), path)
    parts = [p for p in path.split(".") if p]
    # the root module is L['self'] (or L['<name of forward's first argument>'])
    return ".".join(parts[2:] if parts[:1] == ["L"] else parts[1:])


def source_of(node: torch.fx.Node) -> SourceLoc | None:
    """The innermost user frame of the node's stack trace (torch's own frames skipped)."""
    trace = node.meta.get("stack_trace") or ""
    frames = _FRAME_RE.findall(trace)
    user = [f for f in frames if "/torch/" not in f[0]] or frames
    if not user:
        return None
    file, line, code = user[-1]
    return SourceLoc(file, int(line), code=code.strip() or None)


def value_info(node: torch.fx.Node) -> ValueInfo:
    val = node.meta.get("val", node.meta.get("example_value"))
    if isinstance(val, torch.Tensor):
        shape = tuple(int(d) if isinstance(d, int) else None for d in val.shape)
        return ValueInfo(node.name, "Tensor", shape, dtype_text(val.dtype))
    if isinstance(val, (list, tuple)):
        return ValueInfo(node.name, f"({len(val)} values)")
    return ValueInfo(node.name, type(val).__name__ if val is not None else "Tensor")


_PREVIEW_VALUES = 4


def tensor_preview(t: torch.Tensor) -> str:
    """``tensor 8x3x3x3 float32 [0.12, -0.3, ...]``: the first values in index order, read
    without copying the tensor (a channels-last weight would be copied whole by reshape)."""
    shape = "x".join(str(d) for d in t.shape) or "scalar"
    try:
        if t.is_mkldnn:
            return f"mkldnn tensor {shape} {dtype_text(t.dtype)}"
        head = t.detach()
        while head.dim() > 1 and head.shape[0] and head[0].numel() >= _PREVIEW_VALUES:
            head = head[0]  # the first values in index order start the first sub-tensor
        values = head.reshape(-1)[:_PREVIEW_VALUES].tolist()
    except Exception:  # quantized, sparse, meta ...: shape and dtype are enough
        return f"tensor {shape} {dtype_text(t.dtype)}"
    text = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
    more = ", ..." if t.numel() > _PREVIEW_VALUES else ""
    return f"tensor {shape} {dtype_text(t.dtype)} [{text}{more}]"


def _literal(value) -> ConstantInfo:
    if isinstance(value, bool):
        return ConstantInfo("bool", str(value))
    if isinstance(value, int):
        return ConstantInfo("int", str(value))
    if isinstance(value, float):
        return ConstantInfo("float", repr(value))
    if isinstance(value, str):
        return ConstantInfo("str", repr(value)[:80])
    if value is None:
        return ConstantInfo("none", "None")
    if isinstance(value, (list, tuple)):
        return ConstantInfo("list", str([_literal(v).preview for v in value])[:80]
                            .replace("'", ""))
    if isinstance(value, torch.Tensor):
        return ConstantInfo("tensor", tensor_preview(value), tuple(value.shape),
                            dtype_text(value.dtype))
    return ConstantInfo("other", str(value)[:80])


class GraphReader:
    """Reads FX graphs of one compilation into snapshots.

    ``state_path(node)`` names the attribute a node reads as module state (a Dynamo get_attr,
    a parameter placeholder), or None; ``constant_paths(node, tensor)`` the attribute paths a
    frozen constant was made from; ``writes(node)`` the attribute paths a node writes."""

    def __init__(self, state_path: Callable, constant_paths: Callable, writes: Callable):
        self.state_path, self.constant_paths, self.writes = state_path, constant_paths, writes
        self.previews: dict = {}

    def snapshot(self, gm: torch.fx.GraphModule, method: str = "forward") -> GraphSnapshot:
        inputs, nodes, outputs = [], [], ()
        self._count = 0
        for node in gm.graph.nodes:
            if node.op == "output":
                outputs = tuple(a.name for a in _flat_nodes(node.args))
                continue
            path = self.state_path(node)
            if node.op == "placeholder" and path is None:
                inputs.append(value_info(node))
                continue
            nodes.extend(self._node(gm, node, path))
        return GraphSnapshot(method, tuple(inputs), outputs, tuple(nodes), str(gm.graph))

    def _next_id(self) -> str:
        self._count += 1
        return f"n{self._count - 1}"

    def _node(self, gm, node: torch.fx.Node, path: str | None) -> list[NodeInfo]:
        fx = (("op", node.op), ("target", str(node.target)))
        scope, source = scope_of(node), source_of(node)
        if path is not None:
            return [NodeInfo(self._next_id(), "prim::GetAttr", (), (value_info(node),), fx,
                             scope=scope, source=source, attribute=path)]
        if node.op == "get_attr":
            tensor = _attr(gm, str(node.target))
            key = (str(node.target), id(tensor))
            info = self.previews.get(key)
            if info is None:  # the preview of a weight reads its values: once per tensor
                info = self.previews[key] = _literal(tensor) if isinstance(
                    tensor, torch.Tensor) else ConstantInfo("object", type(tensor).__name__)
            info = ConstantInfo(info.kind, info.preview, info.shape, info.dtype,
                                tuple(self.constant_paths(node, tensor)))
            return [NodeInfo(self._next_id(), "prim::Constant", (), (value_info(node),), fx,
                             scope=scope, constant=info)]
        literals, names = [], []
        for arg in node.args:
            if isinstance(arg, torch.fx.Node) or (
                    isinstance(arg, (list, tuple)) and any(isinstance(a, torch.fx.Node) for a in arg)):
                names.extend(a.name for a in _flat_nodes((arg,)))
                continue
            lit = NodeInfo(self._next_id(), "prim::Constant", (),
                           (ValueInfo(f"{node.name}.arg{len(names)}", type(arg).__name__),),
                           constant=_literal(arg), scope=scope)
            literals.append(lit)
            names.append(lit.outputs[0].name)
        names.extend(a.name for a in _flat_nodes(tuple(node.kwargs.values())))
        kwargs = tuple((f"kwarg.{k}", str(v)[:80]) for k, v in node.kwargs.items()
                       if not _flat_nodes((v,)))
        op = NodeInfo(self._next_id(), node_kind(node), tuple(names), (value_info(node),),
                      fx + kwargs, scope=scope, source=source, writes=tuple(self.writes(node)))
        return [*literals, op]


def _flat_nodes(args) -> list[torch.fx.Node]:
    out: list[torch.fx.Node] = []
    for a in args:
        if isinstance(a, torch.fx.Node):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(_flat_nodes(a))
        elif isinstance(a, Mapping):
            out.extend(_flat_nodes(tuple(a.values())))
    return out


def _attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj
