"""Control flow that is not the model: ``prim::If`` blocks that only check things.

Library code guards its fast paths and its arguments with ``if`` chains (nn.TransformerEncoder's
``why_not_sparsity_fast_path`` strings, ``_canonical_mask``'s dtype checks, ``raise`` and
``warnings.warn`` branches). They leave the data path alone, yet drawn in full they bury the
model. An ``If`` is a *check* when its outputs hold no tensor and nothing inside it writes
module state or mutates a value defined outside it; a check is drawn as one labelled box
("fast-path check: <condition>", "raises: <message start>") that can be opened like a module.
Everything here is read from the snapshot: kinds, value types, blocks and constants.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from freezeviz.data.snapshot import GraphSnapshot, NodeInfo
from freezeviz.render import styles as S

# ops that change a container or tensor they are given (beyond the trailing-underscore ones)
_MUTATORS = {"aten::append", "aten::_set_item", "aten::insert", "aten::extend", "aten::pop",
             "aten::clear", "aten::setdefault", "aten::update", "aten::remove",
             "aten::copy_", "prim::SetAttr"}
_REPORTERS = {"prim::RaiseException", "aten::warn"}  # what a check may do besides compute
_OPS = {"aten::__is__": "is", "aten::__isnot__": "is not", "aten::eq": "==", "aten::ne": "!=",
        "aten::gt": ">", "aten::lt": "<", "aten::ge": ">=", "aten::le": "<=",
        "aten::__contains__": "in", "aten::__and__": "and", "aten::__or__": "or"}
_SUFFIX = re.compile(r"\.\d+$")
LABEL_MAX = 60


def _inner(node: NodeInfo) -> Iterator[NodeInfo]:
    for block in node.blocks:
        for sub in block.nodes:
            yield sub
            yield from _inner(sub)


def _mutates(node: NodeInfo, outside: set[str]) -> bool:
    """Writes module state, or changes its first operand (``x.add_``, ``list.append``)
    where that is a value from ``outside``."""
    op = node.kind.split("::", 1)[-1]
    inplace = op.endswith("_") and not op.startswith("__")
    return bool(node.writes) or ((inplace or node.kind in _MUTATORS)
                                 and any(v in outside for v in node.inputs[:1]))


def is_check(node: NodeInfo) -> bool:
    """True for an ``If`` that yields no tensor and changes nothing outside itself."""
    if node.kind != "prim::If" or any("Tensor" in o.type for o in node.outputs):
        return False
    inner = list(_inner(node))
    made = {o.name for n in inner for o in n.outputs} | {
        v.name for n in [node, *inner] for b in n.blocks for v in b.inputs}
    outside = {v for n in inner for v in n.inputs if v not in made}
    return not any(n.kind not in _REPORTERS and _mutates(n, outside) for n in inner)


def find_checks(snap: GraphSnapshot, fold: dict[str, str]) -> dict[str, str]:
    """Node id -> label of every outermost check of ``snap`` (checks inside checks are
    part of the outer one)."""
    out: dict[str, str] = {}

    def walk(nodes) -> None:
        for node in nodes:
            if is_check(node):
                out[node.id] = check_label(snap, node, fold)
                continue
            for block in node.blocks:
                walk(block.nodes)

    walk(snap.nodes)
    return out


def check_label(snap: GraphSnapshot, node: NodeInfo, fold: dict[str, str]) -> str:
    """"raises: <message start>", "warns: ...", "fast-path check: <condition>" or
    "check: <condition>"."""
    inner = list(_inner(node))
    for kind, word in (("prim::RaiseException", "raises"), ("aten::warn", "warns")):
        hit = next((n for n in inner if n.kind == kind), None)
        if hit is not None and not node.outputs:
            text = _message(snap, hit.inputs[0], fold, 3) if hit.inputs else ""
            return S.clean(f"{word}: {text or 'an exception'}", LABEL_MAX)
    cond = condition(snap, node.inputs[0], fold) if node.inputs else "?"
    word = "fast-path check" if any(o.type == "str" for o in node.outputs) else "check"
    return S.clean(f"{word}: {cond}", LABEL_MAX)


def flow_label(snap: GraphSnapshot, node: NodeInfo, fold: dict[str, str]) -> str:
    """``"if <condition>"`` or ``"loop"``: a block of control flow drawn closed."""
    if node.kind == "prim::If" and node.inputs:
        return S.clean("if " + condition(snap, node.inputs[0], fold), LABEL_MAX)
    return "loop" if node.kind == "prim::Loop" else S.clean(node.kind, LABEL_MAX)


def _name(value: str) -> str:
    return _SUFFIX.sub("", value)


def condition(snap: GraphSnapshot, value: str, fold: dict[str, str], depth: int = 3) -> str:
    """The Python-like expression a condition value was computed by (a few levels deep)."""
    if value in fold:
        return fold[value]
    node = snap.producer(value)
    if node is not None and node.kind == "prim::Constant" and node.constant is not None:
        return S.clean(node.constant.preview, 24)
    if depth == 0 or node is None or (not value.isdigit() and node.kind not in _OPS
                                      and node.kind != "aten::__not__"):
        return _name(value) if not value.isdigit() or node is None else _kind(node.kind) + "(…)"
    if node.kind == "prim::If" and len(node.outputs) == 1 and len(node.blocks) == 2:
        return _short_circuit(snap, node, value, fold, depth)
    args = [condition(snap, v, fold, depth - 1) for v in node.inputs]
    if node.kind == "prim::ListConstruct":
        return S.clean(f"[{', '.join(args)}]", 30)
    if node.kind == "aten::__not__" and args:
        return f"not {args[0]}"
    if node.kind == "aten::__contains__" and len(args) == 2:
        return f"{args[1]} in {args[0]}"
    if node.kind in _OPS and len(args) == 2:
        return f"{args[0]} {_OPS[node.kind]} {args[1]}"
    return f"{_kind(node.kind)}({', '.join(args)})"


def _kind(kind: str) -> str:
    return kind.split("::", 1)[-1]


def _short_circuit(snap, node: NodeInfo, value: str, fold: dict[str, str], depth: int) -> str:
    """``a and b`` / ``a or b``: TorchScript writes both as an If yielding a bool."""
    i = [o.name for o in node.outputs].index(value)
    then, other = (b.outputs[i] if len(b.outputs) > i else "" for b in node.blocks)
    first = condition(snap, node.inputs[0], fold, depth - 1)
    if fold.get(other) == "False":
        return f"{first} and {condition(snap, then, fold, depth - 1)}"
    if fold.get(then) == "True":
        return f"{first} or {condition(snap, other, fold, depth - 1)}"
    return f"({first} ? …)"


def _message(snap: GraphSnapshot, value: str, fold: dict[str, str], depth: int) -> str:
    """The literal start of an exception or warning message (format strings followed)."""
    node = snap.producer(value)
    if node is None or depth == 0:
        return ""
    if node.kind == "prim::Constant" and node.constant is not None:
        return node.constant.preview.strip("'\"")
    parts = [_message(snap, v, fold, depth - 1) for v in node.inputs[:2]]
    return "".join(p for p in parts if p)


def find_feeders(snap: GraphSnapshot, checks: dict[str, str],
                 hidden: set[str]) -> dict[str, str]:
    """Node id -> check id for the nodes that compute only what checks read (the
    ``dtype``, ``is not None`` and ``len`` a condition is made of): they are drawn inside
    the first check that reads them."""
    owner: dict[str, str] = {}  # node id -> the check it is drawn in
    for cid in checks:
        check = snap.node(cid)
        owner.update((n.id, cid) for n in [check, *_inner(check)])
    feeds: dict[str, str] = {}
    flat = list(snap.iter_nodes())
    pos = {n.id: i for i, n in enumerate(flat)}
    for node in reversed(flat):
        if node.id in owner or node.id in hidden or node.blocks or not node.outputs:
            continue
        if _mutates(node, set(node.inputs)):
            continue
        users = [u for o in node.outputs for u in snap.users(o.name)]
        if users and all(u.id in owner for u in users):
            first = min(users, key=lambda u: pos[u.id])
            feeds[node.id] = owner[node.id] = owner[first.id]
    return feeds

