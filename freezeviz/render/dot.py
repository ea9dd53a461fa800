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
    return f"{dims} {clean(dtype, 20)}" if dtype else dims


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


def _wrap(name: str, args: list[str], width: int = 46) -> str:
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
        # scopes whose module runs more than once (a shared ReLU): a cluster would span them all
        seen: Counter = Counter((self.scope[n.id], n.kind, n.source) for n in snap.nodes
                                if n.source is not None and n.id not in self.hidden
                                and not n.kind.startswith("prim::"))
        self.reused = {s for (s, _, _), k in seen.items() if k > 1 and s}
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
                and node.inputs and all(i in self.fold for i in node.inputs):  # not [] (appended to)
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
        if not node.kind.startswith("prim::") and any(
                o.type.startswith("Tensor") or o.dtype for o in node.outputs):
            ops[short_kind(node.kind)] += 1  # the summary of a collapsed box: tensor ops
        return n, ops

    def box_of(self, node_id: str, depth: int | None) -> str | None:
        """The collapsed box (a scope path) that a top-level node is drawn in, if any."""
        scope = self.scope[node_id]
        if depth is None or not scope:
            return None
        parts = scope.split(".")
        return ".".join(parts[: depth + 1]) if len(parts) > depth else None

    def boxes(self, depth: int | None) -> dict[tuple[str, int], list[str]]:
        """Collapsed boxes at ``depth``: (scope path, run) -> top-level node ids.

        A module that runs several times (a shared ReLU) gets one box per run, so that the
        drawing stays acyclic; constants join the run of their first consumer."""
        out: dict[tuple[str, int], list[str]] = {}
        runs: Counter = Counter()
        current, consts = None, []
        for node in self.snap.nodes:
            path = self.box_of(node.id, depth)
            if node.id in self.hidden or (node.kind == "prim::Constant" and path is not None):
                consts += [node] if node.id not in self.hidden else []
                continue
            if path is None:
                current = None
            elif current is None or current[0] != path:
                runs[path] += 1
                current = (path, runs[path])
            if current is not None:
                out.setdefault(current, []).append(node.id)
        where = {i: box for box, ids in out.items() for i in ids}
        for node in consts:
            path = self.box_of(node.id, depth)
            users = [where.get(self.top[u.id]) for o in node.outputs
                     for u in self.snap.users(o.name)]
            box = next((b for b in users if b is not None and b[0] == path), (path, 1))
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


def to_dot(plan: Plan, depth: int | None = None, *, keys: dict[str, str],
           changed: frozenset[str] = frozenset(), change: str = "added", fates=None,
           highlight: frozenset[str] = frozenset(), title: str | None = None,
           limit: int | None = None) -> tuple[str, int, int]:
    """DOT text for ``plan`` collapsed at ``depth``; ``(source, node count, edge count)``.

    ``keys`` gives each node's identity (its SVG id), ``changed`` the node ids drawn as
    ``change`` ("added" or "removed"), ``limit`` the most DOT nodes to draw (the rest is
    summarised in a note)."""
    snap, fold = plan.snap, plan.fold
    boxes = plan.boxes(depth)
    box_of = {i: b for b, ids in boxes.items() for i in ids}
    owner: dict[str, str] = {}  # value -> DOT node standing for it
    parent: dict[tuple, tuple] = {}
    content: dict[tuple, list[str]] = {("s", ""): []}
    edges: dict[tuple[str, str], str | None] = {}  # None: invisible, orders blocks
    fates = {str(k): S.fate_of(v) for k, v in (fates or {}).items()}

    def container(scope: str) -> tuple:
        while scope in plan.reused:
            scope = scope.rsplit(".", 1)[0] if "." in scope else ""
        key = ("s", scope)
        if key not in content:
            content[key] = []
            parent[key] = container(scope.rsplit(".", 1)[0] if "." in scope else "")
        return key

    def item(where: tuple, name: str, cat: str, label: str, ident: str, tip: str,
             mods=(), extra=None, cls=()) -> None:
        attrs = dict(S.NODE_STYLES[cat])
        classes = [S.CLASS_OF[cat], *cls]
        for m in mods:
            style, c = S.MODIFIERS[m]
            attrs.update(style)
            classes.append(c)
            if m == "removed":
                attrs["style"] += "," + S.REMOVED_STYLE_EXTRA
        attrs.update(extra or {})
        if cat != "join":
            attrs["label"] = label
        attrs.update(id=ident, tooltip=tip, **{"class": " ".join(classes)})
        content[where].append(f"{quote(name)} [{attrs_text(attrs)}]")

    def connect(value: str, dst: str) -> None:
        src = owner.get(value) if value not in fold else None
        if src is not None and src != dst and edges.get((src, dst)) is None:
            v, prod = snap.value(value), snap.producer(value)
            lab = shape_text(v.shape) if v is not None and v.shape is not None and not (
                prod is not None and prod.kind == "prim::Constant") else ""
            edges[(src, dst)] = lab if len(lab) <= 24 else ""

    def hit(node: NodeInfo) -> bool:
        paths = {node.attribute, *node.writes, *(node.constant.attributes if node.constant else ())}
        return bool(highlight & ({node.id, keys[node.id], svg_id(keys[node.id])} | paths))

    def mods_of(node: NodeInfo) -> list[str]:
        mods = ["writer"] if node.writes else []
        mods += [change] if node.id in changed else []
        return mods + (["highlight"] if highlight and hit(node) else [])

    def place(node: NodeInfo, where: tuple) -> None:
        if node.id in plan.hidden:
            return
        name, key = node.id, keys[node.id]
        tip, mods, extra, cls = tooltip(plan, node, key), mods_of(node), {}, []
        paths = [node.attribute] if node.attribute else list(
            node.constant.attributes if node.constant else ())
        fate = next((fates[p] for p in paths if fates.get(p)), None)
        if fate is not None and not node.writes:
            extra, cls = S.fate_style(fate), [S.fate_class(fate)]
        if node.blocks:
            ctrl = ("c", node.id)
            parent[ctrl], content[ctrl] = where, []
            item(ctrl, name, "control", node_label(plan, node), svg_id(key), tip, mods)
            for v in node.inputs:
                connect(v, name)
            for b in node.blocks:
                for v in b.inputs:
                    owner[v.name] = name
            join = f"{name}_end" if node.outputs else None
            if join:
                item(ctrl, join, "join", "", svg_id(key + "/end"), tip, mods)
            for bi, block in enumerate(node.blocks):
                bkey = ("b", node.id, bi)
                parent[bkey], content[bkey] = ctrl, []
                shown = [sub.id for sub in block.nodes if sub.id not in plan.hidden]
                for sub in block.nodes:
                    place(sub, bkey)
                if shown:
                    edges.setdefault((name, shown[0]), None)
                    if join:
                        edges.setdefault((shown[-1] + ("_end" if plan.snap.node(shown[-1]).blocks
                                          and plan.snap.node(shown[-1]).outputs else ""), join), None)
                for v in block.outputs if join else ():
                    connect(v, join)
            for o in node.outputs:
                owner[o.name] = join or name
            return
        cat = ("const" if node.kind == "prim::Constant" else "attr" if node.attribute is not None
               else "list" if node.kind in ("prim::ListConstruct", "prim::TupleConstruct")
               else "op")
        item(where, name, cat, node_label(plan, node), svg_id(key), tip, mods, extra, cls)
        for v in node.inputs:
            connect(v, name)
        for o in node.outputs:
            owner[o.name] = name

    for i, v in enumerate(snap.inputs):
        if v.name not in fold:
            owner[v.name] = f"in{i}"
            item(("s", ""), f"in{i}", "input", clean(v.name, 40) + "\n" + clean(v.type, 30),
                 svg_id("input:" + v.name), clean(f"{v.name} : {v.type}", 300))
    drawn, box_made, left = len(owner) + 1, {}, 0
    for node in snap.nodes:
        if node.id in plan.hidden:
            continue
        box = box_of.get(node.id)
        cost = 0 if box in box_made else 1 if box else plan.items[node.id]
        if left or (limit is not None and drawn + cost > limit - 1):
            left += plan.items[node.id]
            continue
        drawn += cost
        if box is None:  # sources outside clusters: dot routes edges around clusters, and a
            # cluster whose top row holds constants pushes the next one sideways (a staircase)
            source = node.kind == "prim::Constant" or (
                node.kind == "prim::GetAttr" and all(v in fold for v in node.inputs))
            place(node, ("s", "") if source else container(plan.scope[node.id]))
            continue
        name = "box_" + hashlib.sha1(f"{box[0]}/{box[1]}".encode("utf-8", "replace")).hexdigest()[:12]
        box_made.setdefault(box, [name, 0, Counter(), False, False])
        entry = box_made[box]

        def absorb(n: NodeInfo) -> None:
            if n.id in plan.hidden:
                return
            entry[1] += 1
            entry[3] |= n.id in changed
            entry[4] |= bool(highlight) and hit(n)
            for v in n.inputs:
                connect(v, name)
            for b in n.blocks:
                for sub in b.nodes:
                    absorb(sub)
                for v in b.outputs:
                    connect(v, name)
            for o in n.outputs:
                owner[o.name] = name
            for b in n.blocks:
                for v in b.inputs:
                    owner[v.name] = name

        absorb(node)
        entry[2].update(plan.ops[node.id])
    for (path, run), (name, count, ops, is_changed, is_hit) in box_made.items():
        summary = ", ".join(clean(k, 24) + (f"×{n}" if n > 1 else "")
                            for k, n in ops.most_common(3)) + (", …" if len(ops) > 3 else "")
        label = f"{clean(path, 50)}\n{count} nodes" + (f": {summary}" if summary else "")
        tip = f"submodule {clean(path, 300)} collapsed: {count} nodes\n" + "\n".join(
            f"{clean(k, 60)} ×{n}" for k, n in ops.most_common(40))
        mods = ([change] if is_changed else []) + (["highlight"] if is_hit else [])
        where = container(path.rsplit(".", 1)[0] if "." in path else "")
        item(where, name, "collapsed", label, svg_id(f"box:{path}" + (f"#{run}" if run > 1 else "")),
             tip, mods)
    outs = [fold.get(v, "·") for v in snap.outputs]
    out_label = "return" if all(o == "·" for o in outs) else _wrap("return", outs)
    item(("s", ""), "out", "output", out_label, "fv_output", "graph output")
    for v in snap.outputs:
        connect(v, "out")
    if left:
        item(("s", ""), "more", "note", f"… {left:,} more nodes not drawn", "fv_more",
             f"{left} nodes are not drawn; pass node_budget=None to draw them all")
    return (_assemble(content, parent, edges, title, plan, keys), drawn + bool(left),
            sum(1 for lab in edges.values() if lab is not None))


def _assemble(content, parent, edges, title, plan, keys) -> str:
    kids: dict[tuple, list[tuple]] = {}
    for child, par in parent.items():
        kids.setdefault(par, []).append(child)
    total: dict[tuple, int] = {}

    def count(key) -> int:
        total[key] = len(content[key]) + sum(count(k) for k in kids.get(key, ()))
        return total[key]

    count(("s", ""))
    lines = ["digraph freezeviz {"]
    graph = dict(S.GRAPH_ATTRS)
    if title:
        graph["label"] = clean(title, 120)
    lines += [f"graph [{attrs_text(graph)}]", f"node [{attrs_text(S.NODE_ATTRS)}]",
              f"edge [{attrs_text(S.EDGE_ATTRS)}]"]
    serial = [0]

    def emit(key) -> None:
        lines.extend(content[key])
        for child in kids.get(key, ()):
            if total[child] == 0:
                continue
            if child[0] == "s" and total[child] < 2:
                emit(child)
                continue
            serial[0] += 1
            # every cluster sets all its attributes: nested subgraphs inherit unset ones
            if child[0] == "s":
                attrs = dict(S.SCOPE_CLUSTER, label=clean(child[1], 60),
                             tooltip="module " + clean(child[1], 300))
                attrs.update(id=svg_id("scope:" + child[1]), **{"class": "fv-scope"})
            elif child[0] == "c":
                kind = plan.snap.node(child[1]).kind
                attrs = dict(S.CONTROL_CLUSTER, label="", tooltip=kind,
                             id=svg_id(f"{kind}:{keys[child[1]]}"), **{"class": "fv-control"})
            else:
                loop = plan.snap.node(child[1]).kind == "prim::Loop"
                label = "body" if loop else ("then", "else")[min(child[2], 1)]
                attrs = dict(S.BLOCK_CLUSTER, label=label, tooltip=label + " block",
                             id=svg_id(f"block{child[2]}:{keys[child[1]]}"),
                             **{"class": "fv-block"})
            lines.append(f"subgraph cluster_{serial[0]} {{ graph [{attrs_text(attrs)}]")
            emit(child)
            lines.append("}")

    emit(("s", ""))
    for (src, dst), label in edges.items():
        extra = " [style=invis]" if label is None else f" [label={quote(label)}]" if label else ""
        lines.append(f"{quote(src)} -> {quote(dst)}{extra}")
    lines.append("}")
    return "\n".join(lines) + "\n"
