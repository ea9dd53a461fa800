"""Which node is which across two stages, and what changed between them.

Owns the node identity used everywhere a stage is compared with another: :func:`node_key`
(also the SVG ``id`` of a drawn node, so two panes can be linked), :func:`match_nodes`,
and the textual views of a change, :func:`diff_text` (like LLVM's ``-print-changed``) and
:func:`diff_summary`. Works on :mod:`freezeviz.data.snapshot` objects only; never imports torch.
"""

from __future__ import annotations

import re
import weakref
from collections import Counter

from freezeviz.data.linediff import unified_diff
from freezeviz.data.snapshot import GraphSnapshot, NodeInfo

_MANGLE_RE = re.compile(r"___torch_mangle_\d+\.")
_NUMERIC_NAME_RE = re.compile(r"^\d+(\.\d+)?$")
_KEY_CACHE: dict[int, tuple[weakref.ref, dict[str, str]]] = {}
_CACHE_MAX = 64


def _base_key(node: NodeInfo) -> str:
    """The part of a node's identity that survives the freezer's rewrites."""
    const = node.constant
    if const is not None:
        name = node.outputs[0].name if node.outputs else ""
        if const.kind in ("tensor", "object") and name and not _NUMERIC_NAME_RE.match(name):
            # the freezer names constants after their attribute, and passes extend the name
            # when they rewrite the value (weight -> weight_fused_bn): a new constant
            return "const:" + name
        if const.attributes:
            return "const:" + "|".join(const.attributes)
        return f"const:{const.kind}={const.preview}@{node.scope}"
    if node.attribute is not None and node.kind in ("prim::GetAttr", "prim::SetAttr"):
        return f"{node.kind}:{node.attribute}"
    src = ""
    if node.source is not None:
        src = f"{node.source.short}:{node.source.col}"
    return f"{node.kind}@{node.scope}#{src}"


def node_keys(snapshot: GraphSnapshot) -> dict[str, str]:
    """``node id -> key`` for every node of ``snapshot`` (cached per snapshot object)."""
    hit = _KEY_CACHE.get(id(snapshot))
    if hit is not None and hit[0]() is snapshot:
        return hit[1]
    seen: Counter[str] = Counter()
    keys: dict[str, str] = {}
    for node in snapshot.iter_nodes():
        base = _base_key(node)
        keys[node.id] = f"{base}#{seen[base]}"
        seen[base] += 1
    if len(_KEY_CACHE) >= _CACHE_MAX:
        for stale in [k for k, (ref, _) in _KEY_CACHE.items() if ref() is None] or \
                list(_KEY_CACHE)[: _CACHE_MAX // 2]:
            _KEY_CACHE.pop(stale, None)
    _KEY_CACHE[id(snapshot)] = (weakref.ref(snapshot), keys)
    return keys


def node_key(snapshot: GraphSnapshot, node: NodeInfo | str) -> str:
    """A key for ``node`` that the same node keeps in other stages of the same method.

    Built from what the freezer's passes do not change: the op kind, the module scope, the
    source location and the position among nodes sharing those; the attribute path for
    ``GetAttr``/``SetAttr``; the attribute (or constant name) for frozen tensor constants.
    """
    node_id = node if isinstance(node, str) else node.id
    return node_keys(snapshot)[node_id]


def match_nodes(a: GraphSnapshot, b: GraphSnapshot) -> dict[str, str]:
    """Node id in ``a`` -> node id in ``b`` for every node present in both.

    Nodes match when their keys are equal; nodes left over are then paired when they have
    the same kind and their first output keeps its debug name (passes rewrite in place).
    """
    ka, kb = node_keys(a), node_keys(b)
    b_by_key = {key: nid for nid, key in kb.items()}
    matched: dict[str, str] = {}
    for nid, key in ka.items():
        other = b_by_key.get(key)
        if other is not None:
            matched[nid] = other
    taken = set(matched.values())

    def by_name(snap: GraphSnapshot, skip) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for node in snap.iter_nodes():
            if node.id not in skip and node.outputs and node.kind != "prim::Constant":
                name = node.outputs[0].name
                if not _NUMERIC_NAME_RE.match(name):  # "37" is reused freely; "y.1" is not
                    out.setdefault((node.kind, name), node.id)
        return out

    rest_b = by_name(b, taken)
    for pair, nid in by_name(a, matched).items():
        other = rest_b.get(pair)
        if other is not None:
            matched[nid] = other
    return matched


_SOURCE_COMMENT_RE = re.compile(r"# (?:[^\n#]*/)?([^/\n#]+\.py:\d+:\d+)$", re.M)


def normalize_text(text: str) -> str:
    """Graph text with ``___torch_mangle_N.`` removed (it differs between compilations) and
    source comments shortened to ``file.py:LINE:COL`` (no machine-specific folders)."""
    return _SOURCE_COMMENT_RE.sub(r"# \1", _MANGLE_RE.sub("", text))


_NUMBERED_RE = re.compile(r"%(\d+)(?!\d)")


def normalize_graph_text(text: str) -> str:
    """Graph text without class-name mangling and with unnamed values renumbered ``%v0``,
    ``%v1``... in order of appearance (``graph.copy()`` renumbers them), so that equal graphs
    print equal. Subgraphs (``with prim::fork_0 = graph(...)``) are numbered on their own."""
    parts = re.split(r"(?m)^(?=with )", _MANGLE_RE.sub("", text))
    out = []
    for part in parts:
        numbers: dict[str, str] = {}

        def renumber(m: re.Match, numbers=numbers) -> str:
            return "%" + numbers.setdefault(m.group(1), f"v{len(numbers)}")

        out.append(_NUMBERED_RE.sub(renumber, part))
    return "".join(out)


def diff_text(a_snapshot: GraphSnapshot, b_snapshot: GraphSnapshot,
              a_name: str = "before", b_name: str = "after", context: int = 3) -> str:
    """A unified diff of the two graphs' printouts; ``""`` when they are the same.

    Unnamed values are renumbered in order of appearance on both sides, so a renumbering
    alone (``graph.copy()`` does one) never shows as a change."""
    a_lines = normalize_graph_text(normalize_text(a_snapshot.text)).splitlines(keepends=True)
    b_lines = normalize_graph_text(normalize_text(b_snapshot.text)).splitlines(keepends=True)
    for lines in (a_lines, b_lines):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    return unified_diff(a_lines, b_lines, a_name, b_name, context)


def diff_summary(a: GraphSnapshot, b: GraphSnapshot) -> dict:
    """Counts of what changed from ``a`` to ``b``.

    ``{"removed": {kind: n}, "added": {kind: n}, "removed_total", "added_total",
    "matched", "nodes_before", "nodes_after", "changed"}``; kinds sorted by count.
    """
    matched = match_nodes(a, b)
    kept_b = set(matched.values())
    removed = Counter(n.kind for n in a.iter_nodes() if n.id not in matched)
    added = Counter(n.kind for n in b.iter_nodes() if n.id not in kept_b)
    return {
        "removed": dict(removed.most_common()),
        "added": dict(added.most_common()),
        "removed_total": sum(removed.values()),
        "added_total": sum(added.values()),
        "matched": len(matched),
        "nodes_before": len(node_keys(a)),
        "nodes_after": len(node_keys(b)),
        "changed": bool(removed or added) or normalize_text(a.text) != normalize_text(b.text),
    }
