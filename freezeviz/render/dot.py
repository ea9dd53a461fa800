"""Snapshot -> DOT text: what is drawn, how it is labelled, how it is grouped.

Owns the translation of a :class:`~freezeviz.snapshot.GraphSnapshot` into Graphviz DOT:
folding of scalar arguments and module plumbing into labels, module-scope clusters and
collapsed submodule boxes, If/Loop block clusters, node classes/ids/tooltips, and the
escaping that keeps any text from the model inert. Looks come from :mod:`.styles`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from ..snapshot import GraphSnapshot, NodeInfo
from . import styles as S

FANOUT_FOLD = 8  # a tensor constant with more consumers is folded into their labels
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")
_WHILE_MAX = "9223372036854775807"


def clean(text: object, limit: int | None = 60) -> str:
    """Model text made safe for one label line: no control characters, no line breaks."""
    text = _BAD.sub("\ufffd", str(text)).replace("\t", " ")
    text = text.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def quote(text: str) -> str:
    """A DOT double-quoted string; ``\\n`` in ``text`` becomes a line break, nothing else
    is special (``&`` is written as ``&amp;`` because Graphviz passes entities through)."""
    text = _BAD.sub("\ufffd", text).replace("\t", " ").replace("\r", "")
    text = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def svg_id(key: str) -> str:
    """The SVG ``id`` for a node key: readable, ``[A-Za-z0-9_]`` only, unique per key."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", key)[:48].strip("_")
    return f"fv_{slug}_{hashlib.sha1(key.encode('utf-8', 'replace')).hexdigest()[:8]}"


def attrs_text(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={quote(str(v))}" for k, v in attrs.items())


def is_module_type(type_text: str) -> bool:
    return type_text.startswith("__torch__.") and not type_text.startswith("__torch__.torch.classes.")


def shape_text(shape, dtype=None) -> str:
    dims = "×".join("?" if d is None else str(d) for d in shape) if shape else "scalar"
    return f"{dims} {dtype}" if dtype else dims


def _common_scope(scopes: list[str]) -> str:
    parts = [s.split(".") for s in scopes if s]
    if not parts or len(parts) < len(scopes):
        return ""
    out = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        out.append(level[0])
    return ".".join(out)


def _wrap(name: str, args: list[str], width: int = 40) -> str:
    lines, line = [], name + "("
    for i, arg in enumerate(args):
        piece = arg + (", " if i < len(args) - 1 else ")")
        if len(line) + len(piece) > width and line.strip() not in ("", name + "("):
            lines.append(line.rstrip())
            line = "  "
        line += piece
    return "\n".join(lines + [line])


class Plan:
    """Everything about a snapshot's drawing that does not depend on the collapse depth."""

    def __init__(self, snap: GraphSnapshot):
        self.snap = snap
        self.fold: dict[str, str] = {}  # value -> text shown inside consumer labels
        self.hidden: set[str] = set()  # node ids folded away
        self.scope: dict[str, str] = {}  # node id -> effective scope
        self.top: dict[str, str] = {}  # node id -> its top-level ancestor
        for i, v in enumerate(snap.inputs):
            if is_module_type(v.type):
                self.fold[v.name] = "self" if i == 0 else clean(v.name, 24)
        for node in snap.iter_nodes():
            self._classify(node)
        self._scopes(snap.nodes, None, None)
        for node in snap.nodes:  # tensor constants live with their consumers
            if node.id not in self.hidden and node.kind == "prim::Constant" and not node.scope:
                users = [self.top[u.id] for o in node.outputs for u in snap.users(o.name)]
                self.scope[node.id] = _common_scope([self.scope[u] for u in users])
        self.items: dict[str, int] = {}  # top-level node id -> drawn DOT nodes when expanded
        self.ops: dict[str, Counter] = {}
        for node in snap.nodes:
            self.items[node.id], self.ops[node.id] = self._count(node)
        self.depth = max((len(self.scope[n.id].split(".")) for n in snap.nodes
                          if self.scope[n.id]), default=0)

    def _classify(self, node: NodeInfo) -> None:
        kind, out = node.kind, (node.outputs[0].name if len(node.outputs) == 1 else None)
        const, text = node.constant, None
        if kind == "prim::Constant" and out is not None:
            if const is None or const.kind not in ("tensor", "object"):
                text = clean(const.preview if const else "None", 28)
            elif len({u.id for u in self.snap.users(out)}) > FANOUT_FOLD:
                text = const_name(node)
        elif kind in ("prim::ListConstruct", "prim::TupleConstruct") and out is not None \
                and not node.blocks and all(i in self.fold for i in node.inputs):
            inner = ", ".join(self.fold[i] for i in node.inputs)
            text = clean(f"[{inner}]" if kind.endswith("ListConstruct") else f"({inner})", 40)
        elif kind == "prim::GetAttr" and out is not None and (
                is_module_type(node.outputs[0].type) or node.outputs[0].type == "NoneType"):
            path = node.attribute if node.attribute is not None else node.attr("name", out)
            text = clean("self." + path if path else "self", 40)
        if text is not None:
            self.fold[out] = text
            self.hidden.add(node.id)

    def _scopes(self, nodes, parent: str | None, top: str | None) -> None:
        for node in nodes:
            scope = node.scope
            if not scope and parent is not None:
                scope = parent
            elif not scope and node.blocks:  # torch leaves If/Loop nodes without a scope
                producers = [self.snap.producer(v) for v in node.inputs if v not in self.fold]
                scope = _common_scope([self.scope.get(p.id, "") for p in producers if p])
            self.scope[node.id], self.top[node.id] = scope, top or node.id
            for block in node.blocks:
                self._scopes(block.nodes, scope, top or node.id)

    def _count(self, node: NodeInfo) -> tuple[int, Counter]:
        if node.id in self.hidden:
            return 0, Counter()
        n, ops = 1, Counter()
        if node.blocks:
            n += 1 if node.outputs else 0
            for block in node.blocks:
                for sub in block.nodes:
                    k, o = self._count(sub)
                    n, ops = n + k, ops + o
        if node.kind not in ("prim::Constant", "prim::GetAttr", "prim::ListConstruct"):
            ops[short_kind(node.kind)] += 1
        return n, ops

    def box_of(self, node_id: str, depth: int | None) -> str | None:
        """The collapsed box (a scope path) that a top-level node is drawn in, if any."""
        scope = self.scope[node_id]
        if depth is None or not scope:
            return None
        parts = scope.split(".")
        return ".".join(parts[: depth + 1]) if len(parts) > depth else None

    def boxes(self, depth: int | None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for node in self.snap.nodes:
            box = self.box_of(node.id, depth)
            if box is not None and node.id not in self.hidden:
                out.setdefault(box, []).append(node.id)
        # a box standing for a single drawn node is just that node
        return {b: ids for b, ids in out.items() if sum(self.items[i] for i in ids) > 1}

    def count(self, depth: int | None) -> int:
        """DOT nodes drawn at this collapse depth (inputs and the output included)."""
        boxes = self.boxes(depth)
        boxed = {i for ids in boxes.values() for i in ids}
        expanded = sum(k for i, k in self.items.items() if i not in boxed)
        return expanded + len(boxes) + len(self.snap.inputs) - len(
            [v for v in self.snap.inputs if v.name in self.fold]) + 1


def short_kind(kind: str) -> str:
    return kind[6:] if kind.startswith("aten::") else kind


def const_name(node: NodeInfo) -> str:
    attrs = node.constant.attributes if node.constant else ()
    if attrs:
        more = f" +{len(attrs) - 1}" if len(attrs) > 1 else ""
        return clean("self." + attrs[0], 44) + more
    name = node.outputs[0].name if node.outputs else "constant"
    return "constant" if _NUMERIC.match(name) else clean(name, 44)


def node_label(plan: Plan, node: NodeInfo) -> str:
    kind, fold = node.kind, plan.fold
    args = [fold.get(v, "·") for v in node.inputs]
    if kind == "prim::Constant":
        c = node.constant
        attrs = c.attributes if c else ()
        lines = ["self." + clean(a, 44) for a in attrs[:3]] or [const_name(node)]
        if len(attrs) > 3:
            lines.append(f"+{len(attrs) - 3} more")
        if c is not None and c.kind == "tensor":
            lines.append(shape_text(c.shape, c.dtype))
        elif node.outputs:
            lines.append(clean(node.outputs[0].type.rsplit(".", 1)[-1], 40))
        return "\n".join(lines)
    if kind in ("prim::GetAttr", "prim::SetAttr") and node.attribute is not None:
        label = f"{kind[6:]} self.{clean(node.attribute, 50)}"
    elif kind == "prim::CallMethod" and args:
        label = _wrap(f"{args[0]}.{clean(node.attr('name', 'method'), 30)}", args[1:])
    elif kind == "prim::ListConstruct":
        label = clean("[" + ", ".join(args) + "]", 40)
    elif kind == "prim::If":
        label = "if " + args[0] if args and args[0] != "·" else "if"
    elif kind == "prim::Loop":
        trip = args[0] if args else "·"
        label = "while" if trip == _WHILE_MAX else "loop" if trip == "·" else f"loop ×{trip}"
    elif any(a != "·" for a in args):
        label = _wrap(clean(short_kind(kind), 40), args)
    else:
        label = clean(short_kind(kind), 40)
    if node.writes:
        label += "\n⚠ writes " + ", ".join("self." + clean(w, 40) for w in node.writes[:3])
    return label


def tooltip(plan: Plan, node: NodeInfo, key: str) -> str:
    lines = [f"{node.kind}  ({node.id})"]
    for o in node.outputs:
        extra = f" {shape_text(o.shape, o.dtype)}" if o.shape is not None else (
            f" {o.dtype}" if o.dtype else "")
        lines.append(f"%{clean(o.name, 60)} : {clean(o.type, 200)}{extra}")
    if plan.scope.get(node.id):
        lines.append("scope: " + clean(plan.scope[node.id], 200))
    if node.source is not None:
        lines.append(f"source: {clean(node.source.file, 300)}:{node.source.line}")
    if node.constant is not None:
        lines.append("value: " + clean(node.constant.preview, 200))
        lines += ["from self." + clean(a, 200) for a in node.constant.attributes[:20]]
    if node.attribute:
        lines.append("attribute: self." + clean(node.attribute, 200))
    lines += ["writes self." + clean(w, 200) for w in node.writes[:20]]
    lines.append("key: " + clean(key, 300))
    return "\n".join(lines)
