"""What a click selects, as a plain dict, and which SVG ids show it.

Every SVG id is looked up in the drawing's node map (:mod:`freezeviz.render.nodemap`), the
record the renderer made of what it drew; nothing here guesses ids or reads tooltips.
"""

from __future__ import annotations

import re
from typing import Any

from freezeviz.widgets.pane import Drawn

NODE_KINDS = ("node", "join", "block")  # elements that stand for one graph node


def node_selection(report, drawn: Drawn, svg_id: str, other: Drawn) -> dict[str, Any]:
    """The element ``svg_id`` of ``drawn``; ``other`` is the other pane's drawing."""
    ref = drawn.node_map.get(svg_id)
    snap = report.stage(drawn.stage, drawn.method).graph
    info: dict[str, Any] = {"pane": drawn.side, "stage": drawn.stage, "method": drawn.method,
                            "svg_id": svg_id, "in_other_pane": svg_id in other.node_map}
    if ref is None:
        info.update(type="unknown")
    elif ref.kind in NODE_KINDS and ref.node is not None:
        info.update(_node_dict(report, snap.node(ref.node)))
    elif ref.kind == "input":
        v = snap.value(ref.key)
        info.update(type="input", name=ref.key, value_type=v.type if v else "")
    elif ref.kind == "collapsed":
        kinds: dict[str, int] = {}
        for n in _members(report, drawn, ref.members):
            kinds[n.kind] = kinds.get(n.kind, 0) + 1
        info.update(type="collapsed", scope=ref.box, nodes=len(ref.members),
                    kinds=dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
                    attributes=list(ref.attributes))
    elif ref.kind == "output":
        info.update(type="output", outputs=list(snap.outputs))
    else:
        info.update(type="unknown")
    return info


def _members(report, drawn: Drawn, members) -> list:
    """The snapshot's nodes drawn inside a collapsed box (``members`` are node keys, as the
    drawing named them: in an after pane, a node matched in the before pane keeps its key)."""
    from freezeviz.data.diff import match_nodes, node_keys

    snap = report.stage(drawn.stage, drawn.method).graph
    keys = dict(node_keys(snap))
    if drawn.against is not None and drawn.side == "after":
        other = report.stage(drawn.against, drawn.method).graph
        before = node_keys(other)
        keys.update({b: before[a] for a, b in match_nodes(other, snap).items()})
    wanted = set(members)
    return [n for n in snap.iter_nodes() if keys.get(n.id) in wanted]


def _node_dict(report, node) -> dict[str, Any]:
    fates = report.fates
    attrs = list(dict.fromkeys(p for p in [node.attribute, *node.writes, *(
        node.constant.attributes if node.constant else ())] if p))
    primary = attrs[0] if attrs else None
    try:
        a = report.attribute(primary) if primary is not None else None
    except KeyError:
        a = None
    # the line as kept with the module, not whatever the file holds today
    code = (node.source.code or "") if node.source is not None else ""
    return {
        "type": "node", "node": node.id, "kind": node.kind, "scope": node.scope,
        "inputs": list(node.inputs),
        "outputs": [{"name": o.name, "type": o.type, "shape": o.shape, "dtype": o.dtype}
                    for o in node.outputs],
        "source": str(node.source) if node.source else None, "code": code,
        "attribute": primary, "attributes": attrs,
        "fate": fates[primary].value if primary in fates else None,
        "fate_label": fates[primary].label if primary in fates else None,
        "why": a.why if a is not None else None,
        "constant": node.constant.preview if node.constant else None,
        "writes": list(node.writes),
    }


def attribute_selection(report, path: str) -> dict[str, Any]:
    """An attribute as a dict (KeyError, with near names, when there is none)."""
    a = report.attribute(path)
    return {
        "type": "attribute", "attribute": a.path, "kind": a.kind, "value_type": a.type,
        "fate": a.fate.value, "fate_label": a.fate.label, "why": a.why,
        "evidence": [str(e) for e in a.evidence], "constant": a.constant,
        "folded_by": a.folded_by, "warning": a.warning,
        "preserved": a.path in report.preserved_attrs,
    }


def attribute_ids(drawn: Drawn, path: str) -> list[str]:
    """The SVG ids of ``drawn`` where attribute ``path`` (or one inside it) is read, written
    or became a constant: nodes, and the collapsed boxes holding such nodes."""
    prefix = path + "."
    return [sid for sid, ref in drawn.node_map.items()
            if ref.kind in (*NODE_KINDS, "collapsed")
            and any(p == path or p.startswith(prefix) for p in ref.attributes)]


def marked_ids(selection: dict | None, before: Drawn, after: Drawn) -> tuple[list, list]:
    """The SVG ids to draw as selected in the before and the after pane."""
    if not selection:
        return [], []
    if selection.get("type") == "attribute":
        return (attribute_ids(before, selection["attribute"]),
                attribute_ids(after, selection["attribute"]))
    if selection.get("svg_id"):
        return [selection["svg_id"]], [selection["svg_id"]]
    return [], []


# --- the central act of freezing: a GetAttr and the constant it became -------------------
# The same rules and words as ``FVGraph.attributeLinks`` (web/graph.js), which the HTML
# report uses; the inspector works them out here from the panes' node maps.
_COMPARED = ("node", "join", "input")
_LINK_KINDS = ("node", "join", "collapsed")  # graph.js NODE_KINDS


def _link_role(ref) -> str | None:
    """A node's part in freezing: "read" (GetAttr), "const" (a constant standing for
    attributes), "box" (a collapsed box), else None."""
    if ref is None or ref.kind not in _LINK_KINDS or not ref.attributes:
        return None
    if ref.kind == "collapsed":
        return "box"
    if ref.key.startswith("prim::GetAttr:"):
        return "read"
    return "const" if ref.key.startswith("const:") else None


def _key_name(key: str, prefix: str) -> str:
    return key[len(prefix):key.rfind("#")]


def _link_name(ref) -> str:
    role = _link_role(ref)
    if role == "read":
        return "GetAttr self." + _key_name(ref.key, "prim::GetAttr:")
    if role == "box":
        return f"the collapsed self.{ref.box}"
    name = _key_name(ref.key, "const:")
    return ("the constant %" + name if re.fullmatch(r"[\w.]+", name, re.ASCII)
            else "a constant for self." + ", self.".join(ref.attributes))


def _name_list(refs) -> str:
    names = list(dict.fromkeys(_link_name(r) for r in refs))  # a GetAttr read twice: once
    shown = names[:3] + ([f"{len(names) - 3} more"] if len(names) > 3 else [])
    return ", ".join(shown)


def _present_keys(node_map: dict) -> set[str]:
    keys: set[str] = set()
    for ref in node_map.values():
        if ref.kind == "input":
            keys.add("in:" + ref.key)
        elif ref.kind in _COMPARED:
            keys.add("n:" + ref.key)
        keys.update("n:" + k for k in ref.members)
    return keys


def attribute_links(node_map: dict, svg_id: str, other: dict,
                    later: bool) -> tuple[list[str], str] | None:
    """For a GetAttr or constant (``svg_id`` in ``node_map``) with no node of the same key in
    ``other``: other's GetAttrs, constants and collapsed boxes sharing an attribute path with
    it, and a line saying how they are linked (``later``: other shows a later stage). None
    when it has a twin by key, or is neither a GetAttr nor a constant."""
    ref = node_map.get(svg_id)
    if _link_role(ref) not in ("read", "const") or "n:" + ref.key in _present_keys(other):
        return None
    ids = [oid for oid, o in other.items()
           if _link_role(o) and any(a in ref.attributes for a in o.attributes)]
    by_role = {r: [other[i] for i in ids if _link_role(other[i]) == r]
               for r in ("const", "read", "box")}
    parts = []
    if by_role["const"]:
        parts.append(("became " if later else "made from ") + _name_list(by_role["const"]))
    if by_role["read"]:
        parts.append(f"read by {_name_list(by_role['read'])} before freezing")
    if by_role["box"]:
        parts.append("inside " + _name_list(by_role["box"]))
    text = _link_name(ref) + (" " + "; ".join(parts) if parts else (
        " is not in this stage, nor anything reading self." + ", self.".join(ref.attributes)))
    return ids, text


def hover_links(report, drawn: Drawn, svg_id: str, other: Drawn) -> tuple[list[str], str]:
    """What the other pane marks for the node ``svg_id`` hovered in ``drawn``: nothing when
    it has the same id (the browser marks that twin itself), else the attribute links."""
    if not svg_id or svg_id in other.node_map:
        return [], ""
    names = [s.name for s in report.stages_of(drawn.method)]
    later = (other.stage in names and drawn.stage in names
             and names.index(other.stage) > names.index(drawn.stage))
    return attribute_links(drawn.node_map, svg_id, other.node_map, later) or ([], "")
