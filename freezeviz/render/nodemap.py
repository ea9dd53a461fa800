"""The node map: what each SVG element of a drawing stands for.

Every front end (the widget, the inspector, the HTML report) reads this map instead of
re-deriving SVG ids or parsing tooltips. It is built while the DOT text is planned
(:mod:`freezeviz.render.dot`), so it always describes exactly what was drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# What an SVG element can stand for.
KINDS = ("node", "join", "input", "output", "collapsed", "scope", "block", "note")


@dataclass(frozen=True)
class NodeRef:
    """One drawn element.

    ``svg_id``: its SVG ``id``; ``key``: the node key (:func:`freezeviz.data.diff.node_key`)
    for "node", "join" (the end marker of an If/Loop) and "block" (an If/Loop cluster); the
    value name for "input"; ``"box:<path>#<run>"`` for "collapsed"; ``"scope:<path>"`` for
    "scope"; ``"output"`` / ``"more"`` for the output and the "not drawn" note.
    ``scope``: the module scope it is drawn in. ``attributes``: the attribute paths it reads,
    writes or stands for (for a collapsed box: those of every node inside). ``box``: the
    collapsed box's module path (None for anything else). ``members``: the node keys a
    collapsed box stands for. ``node``: the node id in the drawn snapshot, where there is one.
    ``expand``: for a closed box, what to add to ``draw(..., expanded=...)`` to open it (a
    module path, or ``"if:<key>"`` for a check); for an opened module cluster or check, what
    to remove from that set to close it again; None for anything else.
    """

    svg_id: str
    key: str
    kind: str
    scope: str = ""
    attributes: tuple[str, ...] = ()
    box: str | None = None
    members: tuple[str, ...] = ()
    node: str | None = None
    expand: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; empty fields are left out to keep embedded maps small."""
        out: dict[str, Any] = {"key": self.key, "kind": self.kind}
        if self.scope:
            out["scope"] = self.scope
        if self.attributes:
            out["attributes"] = list(self.attributes)
        if self.box is not None:
            out["box"] = self.box
        if self.members:
            out["members"] = list(self.members)
        if self.node is not None:
            out["node"] = self.node
        if self.expand is not None:
            out["expand"] = self.expand
        return out


def node_map_dict(node_map: dict[str, NodeRef]) -> dict[str, dict[str, Any]]:
    """``svg id -> NodeRef.to_dict()``: the form front ends receive."""
    return {sid: ref.to_dict() for sid, ref in node_map.items()}


def node_map_json(node_map: dict[str, NodeRef]) -> str:
    """The node map as compact JSON (``<`` escaped so it can sit inside a ``<script>``)."""
    text = json.dumps(node_map_dict(node_map), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
