"""Snapshot -> DOT text: what is drawn, how it is labelled, how it is grouped.

Owns the translation of a :class:`~freezeviz.data.snapshot.GraphSnapshot` into Graphviz DOT:
folding scalar arguments and module plumbing into labels (:class:`Plan`), module-scope
clusters and closed submodule boxes (at any block depth; which modules are open is a
:class:`~freezeviz.render.boxes.Collapse`), If/Loop block clusters, checks drawn closed
(:mod:`.checks`), node ids, classes and tooltips (:func:`to_dot`), and the node map saying
what each SVG id stands for and how to open or close it (:mod:`.nodemap`). Looks and text
escaping come from :mod:`.styles`.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from typing import NamedTuple

from freezeviz.data.snapshot import GraphSnapshot, NodeInfo
from freezeviz.render import styles as S
from freezeviz.render.boxes import CHECK_PREFIX, COLLAPSE, EXPAND, Collapse, box_label, \
    fate_counts, policy
from freezeviz.render.checks import find_checks, find_feeders, flow_label
from freezeviz.render.nodemap import NodeRef
from freezeviz.render.styles import svg_id

FANOUT_FOLD = 8  # a tensor constant with more consumers is folded into their labels


def is_module_type(type_text: str) -> bool:
    return type_text.startswith("__torch__.") and not type_text[10:].startswith("torch.classes.")


def attribute_paths(node: NodeInfo) -> tuple[str, ...]:
    """The attribute paths ``node`` reads, writes or was folded from."""
    if not (node.attribute or node.writes or node.constant):  # most nodes: none
        return ()
    paths = [node.attribute, *node.writes, *(node.constant.attributes if node.constant else ())]
    return tuple(dict.fromkeys(p for p in paths if p))


class Inside(NamedTuple):
    """A top-level node and the nodes of its blocks, drawn inside a closed box."""

    ids: tuple[str, ...]  # the nodes drawn (hidden ones left out), in program order
    id_set: frozenset[str]
    paths: tuple[str, ...]  # the attribute paths they touch
    uses: tuple[str, ...]  # values they use that come from outside them, in order of use
    made: tuple[str, ...]  # values they make (block inputs included)


def _walk_inside(node: NodeInfo, hidden, ids: list, paths: dict, uses: dict, made: dict) -> None:
    """Collect :class:`Inside`'s fields for ``node``, in the order _Builder.absorb visits
    it (``paths``, ``uses`` and ``made``: dicts as ordered sets). A value made inside is made
    before it is used (SSA), so a use of it never draws an edge into the box."""
    if node.id in hidden:
        return
    ids.append(node.id)
    paths.update(dict.fromkeys(attribute_paths(node)))
    uses.update(dict.fromkeys(node.inputs))
    for block in node.blocks:
        made.update(dict.fromkeys(v.name for v in block.inputs))
        for sub in block.nodes:
            _walk_inside(sub, hidden, ids, paths, uses, made)
        uses.update(dict.fromkeys(block.outputs))
    made.update(dict.fromkeys(o.name for o in node.outputs))


class DotDrawing(NamedTuple):
    source: str
    nodes: int
    edges: int
    node_map: dict[str, NodeRef]


def _parent(scope: str) -> str:
    return scope.rsplit(".", 1)[0] if "." in scope else ""


def _common_scope(scopes: list[str]) -> str:
    """The deepest scope holding all of ``scopes`` ("" if one is the root or none is given)."""
    if not scopes or not all(scopes):
        return ""
    return ".".join(os.path.commonprefix([s.split(".") for s in scopes]))


class Plan:
    """Everything about a snapshot's drawing that does not depend on the collapse depth."""

    def __init__(self, snap: GraphSnapshot):
        self.snap = snap
        self.fold: dict[str, str] = {}  # value -> text shown inside its consumers' labels
        self.hidden: set[str] = set()  # node ids folded away
        self.scope: dict[str, str] = {}  # node id -> effective scope
        self.top: dict[str, str] = {}  # node id -> its top-level ancestor
        for i, v in enumerate(snap.inputs):
            if is_module_type(v.type):
                self.fold[v.name] = "self" if i == 0 else S.clean(v.name, 24)
        for node in snap.iter_nodes():
            self._classify(node)
        self._scopes(snap.nodes, None, None)
        for node in snap.nodes:  # frozen constants have no scope: they join their consumers'
            if node.kind == "prim::Constant" and not node.scope and node.id not in self.hidden:
                users = [self.top[u.id] for o in node.outputs for u in snap.users(o.name)]
                self.scope[node.id] = _common_scope([self.scope[u] for u in users])
        self._find_checks()
        counted = {n.id: self._count(n) for n in snap.nodes}  # (DOT nodes, tensor ops) expanded
        self.items, self.ops = ({i: c[k] for i, c in counted.items()} for k in (0, 1))
        # modules that run more than once (a shared ReLU): one cluster would span all runs
        runs = Counter((self.scope[n.id], n.kind, n.source) for n in snap.nodes
                       if n.source is not None and not n.kind.startswith("prim::"))
        self.reused = {s for (s, _, _), k in runs.items() if k > 1 and s}
        self.depth = max((len(s.split(".")) for s in self.scope.values() if s), default=0)
        self._inside: dict[str, Inside] = {}

    def inside(self, node: NodeInfo) -> Inside:
        """What drawing ``node`` inside a closed box adds to it (the same in every drawing of
        this plan): worked out on first use, since every drawing with that box closed needs
        it."""
        found = self._inside.get(node.id)
        if found is None:
            ids, paths, uses, made = [], {}, {}, {}
            _walk_inside(node, self.hidden, ids, paths, uses, made)
            found = self._inside[node.id] = Inside(
                tuple(ids), frozenset(ids), tuple(paths),
                tuple(v for v in uses if v not in made), tuple(made))
        return found

    def _find_checks(self) -> None:
        """Checks (:mod:`.checks`) and the nodes computing only what they read."""
        self.checks = find_checks(self.snap, self.fold)  # node id -> label of a closed check
        # the root's own if/loop blocks: closed in an overview, where modules are boxes too
        self.flows = {n.id: flow_label(self.snap, n, self.fold) for n in self.snap.nodes
                      if n.blocks and n.id not in self.checks and not self.scope[n.id]}
        boxed = {**self.checks, **self.flows}
        self.feeds = {f: c for f, c in find_feeders(self.snap, boxed, self.hidden).items()
                      if self.scope[self.top[f]] == self.scope[self.top[c]]}  # same box
        self.feeders: dict[str, list[str]] = {}
        for node in self.snap.iter_nodes():
            if node.id in self.feeds:
                self.feeders.setdefault(self.feeds[node.id], []).append(node.id)

    def _classify(self, node: NodeInfo) -> None:
        kind, out = node.kind, (node.outputs[0].name if len(node.outputs) == 1 else None)
        const, text = node.constant, None
        if kind == "prim::Constant" and out is not None:
            if const is None or const.kind not in ("tensor", "object"):
                text = S.clean(const.preview if const else "None", 28)
            elif len({u.id for u in self.snap.users(out)}) > FANOUT_FOLD:
                text = S.const_name(node)
        elif kind in ("prim::ListConstruct", "prim::TupleConstruct") and out is not None \
                and node.inputs and all(i in self.fold for i in node.inputs):  # not [] (appended)
            inner = ", ".join(self.fold[i] for i in node.inputs)
            text = S.clean(f"[{inner}]" if kind.endswith("ListConstruct") else f"({inner})", 40)
        elif kind == "prim::GetAttr" and out is not None and (
                is_module_type(node.outputs[0].type) or node.outputs[0].type == "NoneType"):
            path = node.attribute if node.attribute is not None else node.attr("name", out)
            text = S.clean("self." + path if path else "self", 40)
        if text is not None:
            self.fold[out] = text
            self.hidden.add(node.id)

    def _scopes(self, nodes, parent: str | None, top: str | None) -> None:
        for node in nodes:
            scope = node.scope or parent or ""
            if not scope and node.blocks:  # torch leaves If/Loop nodes without a scope
                producers = [self.snap.producer(v) for v in node.inputs if v not in self.fold]
                scope = _common_scope([self.scope.get(p.id, "") for p in producers if p])
            self.scope[node.id], self.top[node.id] = scope, top or node.id
            for block in node.blocks:
                self._scopes(block.nodes, scope, top or node.id)

    def _count(self, node: NodeInfo) -> tuple[int, Counter]:
        if node.id in self.hidden:
            return 0, Counter()
        if node.id in self.checks:  # drawn as one box unless opened
            return 1, Counter()
        if node.id in self.feeds:  # drawn inside that box
            return 0, Counter()
        n, ops = 1 + (1 if node.blocks and node.outputs else 0), Counter()
        for sub in (s for b in node.blocks for s in b.nodes):
            k, o = self._count(sub)
            n, ops = n + k, ops + o
        if not node.kind.startswith("prim::") and any(
                o.type.startswith("Tensor") or o.dtype for o in node.outputs):
            ops[S.short_kind(node.kind)] += 1
        return n, ops

    def boxes(self, depth: int | None | Collapse) -> dict[tuple[str, int], list[str]]:
        """Collapsed boxes at ``depth`` (or a :class:`Collapse`): (scope path, run) -> top-level
        node ids.

        A module that runs several times (a shared ReLU) gets one box per run, so the drawing
        stays acyclic; constants join the run of a consumer. Single-node boxes are dropped."""
        out: dict[tuple[str, int], list[str]] = {}
        runs: Counter = Counter()
        current, consts = None, []
        box_at, memo = policy(depth).box, {}  # many nodes share a scope
        for node in self.snap.nodes:
            scope = self.scope[node.id]
            path = memo[scope] if scope in memo else memo.setdefault(scope, box_at(scope))
            if node.id in self.hidden or node.kind == "prim::Constant":
                consts += [node] if path is not None and node.id not in self.hidden else []
                continue
            if path is not None and (current is None or current[0] != path):
                runs[path] += 1
            current = None if path is None else (path, runs[path])
            if current is not None:
                out.setdefault(current, []).append(node.id)
        where = {i: box for box, ids in out.items() for i in ids}
        for node in consts:
            path = box_at(self.scope[node.id])
            users = [where.get(self.top[u.id]) for o in node.outputs
                     for u in self.snap.users(o.name)]
            box = next((b for b in users if b is not None and b[0] == path), (path, 1))
            out.setdefault(box, []).append(node.id)
        return {b: ids for b, ids in out.items() if sum(self.items[i] for i in ids) > 1}

    def count(self, depth: int | None | Collapse) -> int:
        """DOT nodes drawn at this collapse depth (inputs and the output included)."""
        boxes = self.boxes(depth)
        boxed = {i for ids in boxes.values() for i in ids}
        inputs = sum(1 for v in self.snap.inputs if v.name not in self.fold)
        flows = policy(depth).depth is not None  # closed in an overview
        return sum(1 if flows and i in self.flows else k for i, k in self.items.items()
                   if i not in boxed) + len(boxes) + inputs + 1


class _Builder:
    """Collects DOT statements per container: ("s", scope), ("c", if/loop id), ("b", id, i)."""

    def __init__(self, plan: Plan, keys, changed, change, fates, highlight,
                 collapse: Collapse = Collapse()):
        self.plan, self.keys, self.changed, self.change = plan, keys, changed, change
        self.policy, self.expanded = collapse, collapse.expanded
        self.drawn: dict[str, tuple[str, str]] = {}  # node id -> DOT names of its top, bottom
        self.runs: Counter = Counter()  # boxes drawn inside blocks, per module
        self.fates = {str(k): S.fate_of(v) for k, v in (fates or {}).items()}
        self.highlight = highlight
        self.owner: dict[str, str] = {}  # value -> the DOT node standing for it
        self.parent: dict[tuple, tuple] = {}
        self.content: dict[tuple, list[str]] = {("s", ""): []}
        self.edges: dict[tuple[str, str], str | None] = {}  # None: invisible, orders blocks
        self.refs: dict[str, NodeRef] = {}  # svg id -> what it stands for

    def container(self, scope: str) -> tuple:
        while scope in self.plan.reused:
            scope = _parent(scope)
        key = ("s", scope)
        if key not in self.content:
            self.content[key] = []
            self.parent[key] = self.container(_parent(scope))
        return key

    def item(self, where, name, cat, label, ident, tip, mods=(), extra=None, cls=()) -> None:
        attrs, classes = S.node_style(cat, mods, extra)
        if cat != "join":
            attrs["label"] = label
        attrs.update(id=ident, tooltip=tip, **{"class": " ".join([*classes, *cls])})
        self.content[where].append(f"{S.quote(name)} [{S.attrs_text(attrs)}]")

    def connect(self, value: str, dst: str) -> None:
        src = None if value in self.plan.fold else self.owner.get(value)
        if src is not None and src != dst and self.edges.get((src, dst)) is None:
            v, prod = self.plan.snap.value(value), self.plan.snap.producer(value)
            lab = S.shape_text(v.shape) if v is not None and v.shape is not None and not (
                prod is not None and prod.kind == "prim::Constant") else ""
            self.edges[(src, dst)] = lab if len(lab) <= 24 else ""

    def hit(self, node: NodeInfo) -> bool:
        if not self.highlight:
            return False
        key = self.keys[node.id]
        return bool(self.highlight & ({node.id, key, svg_id(key), *attribute_paths(node)}))

    def ref(self, ident: str, key: str, kind: str, node: NodeInfo | None = None,
            **more) -> None:
        if node is not None:
            more = dict(scope=self.plan.scope[node.id], attributes=attribute_paths(node),
                        node=node.id, **more)
        self.refs[ident] = NodeRef(ident, key, kind, **more)

    def place(self, node: NodeInfo, where: tuple) -> None:
        if node.id in self.plan.hidden:
            return
        name, key = "#" + node.id, self.keys[node.id]  # "#": apart from "in0", "out", ...
        if (node.id in self.plan.checks or node.id in self.plan.flows) and self.closed(node.id):
            self.check_box(node, where)
            return
        if node.id in self.plan.feeds and self.closed(self.plan.feeds[node.id]):
            return  # drawn inside its check's box
        mods = (["writer"] if node.writes else []) + (
            [self.change] if node.id in self.changed else []) + (
            ["highlight"] if self.hit(node) else [])
        tip, extra, cls = S.tooltip(node, self.plan.scope[node.id], key), None, ()
        paths = [node.attribute] if node.attribute else (
            node.constant.attributes if node.constant else ())
        fate = next((self.fates[p] for p in paths if self.fates.get(p)), None)
        if fate is not None and not node.writes:
            extra, cls = S.fate_style(fate), (S.fate_class(fate),)
        if not node.blocks:
            cat = ("const" if node.kind == "prim::Constant"
                   else "attr" if node.attribute is not None
                   else "list" if node.kind in ("prim::ListConstruct", "prim::TupleConstruct")
                   else "op")
            self.item(where, name, cat, S.node_label(node, self.plan.fold), svg_id(key), tip,
                      mods, extra, cls)
            self.drawn[node.id] = (name, name)
            self.ref(svg_id(key), key, "node", node)
            for v in node.inputs:
                self.connect(v, name)
            self.owner.update((o.name, name) for o in node.outputs)
            return
        ctrl = ("c", node.id)
        self.parent[ctrl], self.content[ctrl] = where, []
        self.item(ctrl, name, "control", S.node_label(node, self.plan.fold), svg_id(key), tip, mods)
        self.ref(svg_id(key), key, "node", node)
        for v in node.inputs:
            self.connect(v, name)
        self.owner.update((v.name, name) for b in node.blocks for v in b.inputs)
        join = f"{name}#end" if node.outputs else None
        if join:
            self.item(ctrl, join, "join", "", svg_id(key + "/end"), tip, mods)
            self.ref(svg_id(key + "/end"), key, "join", node)
        for i, block in enumerate(node.blocks):
            self.parent[("b", node.id, i)], self.content[("b", node.id, i)] = ctrl, []
            self.fill(block.nodes, ("b", node.id, i), f"{key}/{i}")
            shown = [self.drawn[s.id] for s in block.nodes if s.id in self.drawn]
            if shown:  # keep the header above and the join below the block
                self.edges.setdefault((name, shown[0][0]), None)
                if join:
                    self.edges.setdefault((shown[-1][1], join), None)
            for v in block.outputs if join else ():
                self.connect(v, join)
        self.owner.update((o.name, join or name) for o in node.outputs)
        self.drawn[node.id] = (name, join or name)

    def fill(self, nodes, where: tuple, tag: str) -> None:
        """Place a block's nodes; runs of nodes of a closed module become one box each."""
        groups: list[tuple[str | None, list[NodeInfo]]] = []
        for sub in nodes:
            path = self.policy.box(self.plan.scope[sub.id])
            if groups and groups[-1][0] == path:
                groups[-1][1].append(sub)
            else:
                groups.append((path, [sub]))
        for path, subs in groups:
            if path is None or sum(s.id not in self.plan.hidden for s in subs) < 2:
                for sub in subs:
                    self.place(sub, where)
                continue
            self.runs[path] += 1
            digest = hashlib.sha1(f"{path}/{tag}/{self.runs[path]}".encode("utf-8", "replace"))
            info = [0, 0, False, Counter(), "box_" + digest.hexdigest()[:12], [], {}]
            for sub in subs:
                self.absorb(sub, info[4], info)
                info[3].update(self.plan._count(sub)[1])
            self.module_box(path, f"box:{path}#{tag}#{self.runs[path]}", info, where)

    def module_box(self, path: str, key: str, info: list, where: tuple) -> None:
        """A closed module (its nodes absorbed in ``info``) drawn as one box in ``where``."""
        count, n_changed, is_hit, ops, name, members, paths = info
        label = box_label(path, count, ops, fate_counts(self.fates, path), n_changed,
                          self.change)
        tip = f"module {S.clean(path, 300)}, collapsed: {count} nodes\n" + "\n".join(
            f"{S.clean(k, 60)} ×{n}" for k, n in ops.most_common(40))
        mods = ([self.change] if n_changed else []) + (["highlight"] if is_hit else [])
        self.item(where, name, "collapsed", label, svg_id(key), tip, mods)
        self.ref(svg_id(key), key, "collapsed", scope=_parent(path), attributes=tuple(paths),
                 box=path, members=tuple(members), expand=path)

    def closed(self, node_id: str) -> bool:
        """Is this check (or, in an overview, this block of the root's) drawn closed?"""
        return CHECK_PREFIX + self.keys[node_id] not in self.expanded and (
            node_id in self.plan.checks or self.policy.depth is not None)

    def check_box(self, node: NodeInfo, where: tuple) -> None:
        """A check (:mod:`.checks`) drawn closed: one box with its label and condition."""
        name, key = "#" + node.id, self.keys[node.id]
        info = [0, 0, False, None, name, [], {}]
        for fid in self.plan.feeders.get(node.id, ()):
            self.absorb(self.plan.snap.node(fid), name, info)
        self.absorb(node, name, info)
        mods = ([self.change] if info[1] else []) + (["highlight"] if info[2] else [])
        check = self.plan.checks.get(node.id)
        label = f"{EXPAND} {check or self.plan.flows[node.id]}"
        what = "control flow that leaves the data path alone" if check else "control flow"
        if not check:
            ops = self.plan.ops.get(node.id, Counter())
            label += f"\n{info[0]} nodes" + (": " + ", ".join(
                S.clean(k, 24) + (f"×{n}" if n > 1 else "") for k, n in ops.most_common(3))
                if ops else "")
        label += f"\n● {info[1]} {self.change} by this step" if info[1] else ""
        tip = (f"{label}\n{what}, closed: {info[0]} nodes (double-click or {EXPAND} opens "
               "it)\n" + S.tooltip(node, self.plan.scope[node.id], key))
        self.item(where, name, "check" if check else "collapsed", label, svg_id("check:" + key),
                  tip, mods)
        self.refs[svg_id("check:" + key)] = NodeRef(
            svg_id("check:" + key), "check:" + key, "collapsed", self.plan.scope[node.id],
            tuple(info[6]), None, tuple(info[5]), node.id, CHECK_PREFIX + key)

    def absorb_top(self, node: NodeInfo, box: str, info: list) -> None:
        """:meth:`absorb` for a top-level node, from the plan's :meth:`Plan.inside`."""
        if self.highlight:
            self.absorb(node, box, info)  # whether a node is hit is this drawing's own
            return
        inside = self.plan.inside(node)
        self.drawn.update(dict.fromkeys(inside.ids, (box, box)))
        info[0] += len(inside.ids)
        info[1] += len(inside.id_set & self.changed)
        keys = self.keys
        info[5].extend([keys[i] for i in inside.ids])
        info[6].update(dict.fromkeys(inside.paths))
        for v in inside.uses:
            self.connect(v, box)
        self.owner.update(dict.fromkeys(inside.made, box))

    def absorb(self, node: NodeInfo, box: str, info: list) -> None:
        """Draw ``node`` (and its blocks) as part of the collapsed box named ``box``."""
        if node.id in self.plan.hidden:
            return
        self.drawn[node.id] = (box, box)
        info[0] += 1
        info[1] += node.id in self.changed
        info[2] |= self.hit(node)
        info[5].append(self.keys[node.id])
        for path in attribute_paths(node):
            info[6][path] = None
        for v in node.inputs:
            self.connect(v, box)
        owner = self.owner
        for block in node.blocks:
            for v in block.inputs:
                owner[v.name] = box
            for sub in block.nodes:
                self.absorb(sub, box, info)
            for v in block.outputs:
                self.connect(v, box)
        for o in node.outputs:
            owner[o.name] = box


def to_dot(plan: Plan, depth: int | None | Collapse = None, *, keys: dict[str, str],
           changed: frozenset[str] = frozenset(), change: str = "added", fates=None,
           highlight: frozenset[str] = frozenset(), title: str | None = None,
           limit: int | None = None) -> DotDrawing:
    """DOT text for ``plan`` collapsed at ``depth``, its node and edge counts, its node map.

    ``keys``: each node's identity (its SVG id); ``changed``: node ids drawn as ``change``
    ("added" or "removed"); ``limit``: the most DOT nodes to draw, the rest summarised."""
    snap, b = plan.snap, _Builder(plan, keys, changed, change, fates, highlight, policy(depth))
    box_of = {i: box for box, ids in plan.boxes(depth).items() for i in ids}
    for i, v in enumerate(snap.inputs):
        if v.name not in plan.fold:
            b.owner[v.name] = f"in{i}"
            b.item(("s", ""), f"in{i}", "input", S.clean(v.name, 40) + "\n" + S.clean(v.type, 30),
                   svg_id("input:" + v.name), S.clean(f"{v.name} : {v.type}", 300))
            b.ref(svg_id("input:" + v.name), v.name, "input")
    drawn, boxes, left = len(b.owner) + 1, {}, 0
    for node in snap.nodes:
        box = box_of.get(node.id)
        cost = 0 if node.id in plan.hidden or box in boxes else 1 if box else plan.items[node.id]
        if left or (limit is not None and drawn + cost > limit - 1):
            left += plan.items[node.id]
            continue
        drawn += cost
        if box is None:  # sources stay out of clusters: dot routes edges around a cluster,
            # and one whose top row holds constants pushes the next aside (a staircase)
            source = node.kind in ("prim::Constant", "prim::GetAttr") and all(v in plan.fold for v in node.inputs)
            b.place(node, ("s", "") if source else b.container(plan.scope[node.id]))
            continue
        digest = hashlib.sha1(f"{box[0]}/{box[1]}".encode("utf-8", "replace")).hexdigest()
        info = boxes.setdefault(box, [0, 0, False, Counter(), "box_" + digest[:12], [], {}])
        b.absorb_top(node, info[4], info)
        if plan.ops[node.id]:
            info[3].update(plan.ops[node.id])
    for (path, run), info in boxes.items():
        key = f"box:{path}" + (f"#{run}" if run > 1 else "")
        b.module_box(path, key, info, b.container(_parent(path)))
    outs = [plan.fold.get(v, "·") for v in snap.outputs]
    label = "return" if set(outs) <= {"·"} else S.wrap_args("return", outs)
    b.item(("s", ""), "out", "output", label, "fv_output", "graph output")
    b.ref("fv_output", "output", "output")
    for v in snap.outputs:
        b.connect(v, "out")
    if left:
        b.item(("s", ""), "more", "note", f"… {left:,} more nodes not drawn", "fv_more",
               f"{left} nodes not drawn; pass node_budget=None to draw them all")
        b.ref("fv_more", "more", "note")
    edges = sum(1 for lab in b.edges.values() if lab is not None)
    shown = sum(len(statements) for statements in b.content.values())  # every DOT node
    return DotDrawing(_assemble(b, title), shown, edges, b.refs)


def _cluster(b: _Builder, child: tuple) -> dict[str, str]:
    """The attributes of a drawn cluster (and its node map entry)."""
    if child[0] == "s":
        ident, opened = svg_id("scope:" + child[1]), child[1] in b.expanded
        b.ref(ident, "scope:" + child[1], "scope", scope=child[1],
              expand=child[1] if opened else None)
        label = (f"{COLLAPSE} " if opened else "") + S.clean(child[1], 60)
        return S.cluster_style("scope", label, "module " + S.clean(child[1], 300), ident)
    node = b.plan.snap.node(child[1])
    key = b.keys[child[1]]
    if child[0] == "c":
        ident, check = svg_id(f"{node.kind}:{key}"), b.plan.checks.get(node.id) or (
            b.plan.flows.get(node.id) if b.policy.depth is not None else None)
        b.ref(ident, key, "block", node, expand=CHECK_PREFIX + key if check else None)
        label = f"{COLLAPSE} {check}" if check else ""
        return S.cluster_style("control", label, node.kind, ident)
    label = "body" if node.kind == "prim::Loop" else ("then", "else")[min(child[2], 1)]
    ident = svg_id(f"block{child[2]}:{key}")
    b.ref(ident, key, "block", node)
    return S.cluster_style("block", label, label + " block", ident)


def _assemble(b: _Builder, title: str | None) -> str:
    kids: dict[tuple, list[tuple]] = {}
    for child, par in b.parent.items():
        kids.setdefault(par, []).append(child)
    total: dict[tuple, int] = {}

    def count(key) -> int:
        total[key] = len(b.content[key]) + sum(count(k) for k in kids.get(key, ()))
        return total[key]

    count(("s", ""))
    graph = dict(S.GRAPH_ATTRS, **({"label": S.clean(title, 120)} if title else {}))
    lines = ["digraph freezeviz {", f"graph [{S.attrs_text(graph)}]",
             f"node [{S.attrs_text(S.NODE_ATTRS)}]", f"edge [{S.attrs_text(S.EDGE_ATTRS)}]"]

    def emit(key) -> None:
        lines.extend(b.content[key])
        for child in kids.get(key, ()):
            if total[child] == 0 or (child[0] == "s" and total[child] < 2
                                     and child[1] not in b.expanded):  # ⊖ closes it again
                emit(child)  # a cluster around one node says nothing
                continue
            attrs = _cluster(b, child)
            lines.append(f"subgraph cluster_{len(lines)} {{ graph [{S.attrs_text(attrs)}]")
            emit(child)
            lines.append("}")

    emit(("s", ""))
    for (src, dst), label in b.edges.items():
        extra = " [style=invis]" if label is None else f" [label={S.quote(label)}]" if label else ""
        lines.append(f"{S.quote(src)} -> {S.quote(dst)}{extra}")
    return "\n".join(lines + ["}"]) + "\n"
