"""The visual language of freezeviz drawings: one source of truth for colours and shapes.

Owns every colour, shape and font used by :mod:`freezeviz.render.dot`, the colour of each
attribute :class:`~freezeviz.data.fates.Fate`, the CSS classes put on SVG elements, the entries
of the legend, and how text is written into DOT (:func:`clean`, :func:`quote`: nothing from
the model is ever interpreted as markup). Change the look here and only here.
"""

from __future__ import annotations

import hashlib
import re

from freezeviz.data.fates import FATE_LABELS, Fate
from freezeviz.data.snapshot import NodeInfo

FONT = "Helvetica,Arial,sans-serif"

GRAPH_ATTRS = {
    "rankdir": "TB", "fontname": FONT, "fontsize": "11", "nodesep": "0.22", "ranksep": "0.32",
    "newrank": "true", "labelloc": "t", "labeljust": "l", "bgcolor": "white",
    "mclimit": "0.5", "nslimit": "2", "nslimit1": "2", "searchsize": "20",
}
NODE_ATTRS = {"fontname": FONT, "fontsize": "10", "height": "0.3", "margin": "0.08,0.03"}
EDGE_ATTRS = {"fontname": FONT, "fontsize": "9", "color": "#6b7280", "fontcolor": "#4b5563",
              "arrowsize": "0.6", "penwidth": "0.9"}

SCOPE_CLUSTER = {"style": "rounded,dashed", "color": "#c4c8cf", "fontcolor": "#6b7280",
                 "fontsize": "9", "penwidth": "0.8"}
BLOCK_CLUSTER = {"style": "rounded,filled", "color": "#a78bfa", "fillcolor": "#faf7ff",
                 "fontcolor": "#6d28d9", "fontsize": "9", "penwidth": "1"}
CONTROL_CLUSTER = {"style": "rounded", "color": "#7c3aed", "fontcolor": "#6d28d9",
                   "fontsize": "9", "penwidth": "1.2"}

# Node categories -> DOT attributes. Every drawn node has exactly one category.
NODE_STYLES: dict[str, dict[str, str]] = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff",
           "color": "#4b5563"},
    "list": {"shape": "box", "style": "rounded,filled", "fillcolor": "#f9fafb",
             "color": "#9ca3af", "fontsize": "9"},
    "const": {"shape": "cylinder", "style": "filled", "fillcolor": "#dbeafe",
              "color": "#3b82f6", "fontsize": "9"},
    "attr": {"shape": "box", "style": "filled,bold", "fillcolor": "#ffedd5",
             "color": "#ea580c", "penwidth": "2"},
    "input": {"shape": "invhouse", "style": "filled", "fillcolor": "#e5e7eb",
              "color": "#374151"},
    "output": {"shape": "house", "style": "filled", "fillcolor": "#e5e7eb",
               "color": "#374151"},
    "control": {"shape": "hexagon", "style": "filled", "fillcolor": "#ede9fe",
                "color": "#7c3aed", "fontcolor": "#4c1d95"},
    "join": {"shape": "circle", "style": "filled", "fillcolor": "#ede9fe",
             "color": "#7c3aed", "label": "", "width": "0.12", "height": "0.12",
             "fixedsize": "true"},
    # a wider margin: the browser draws the bold ⊕ line a little wider than dot measured it
    "collapsed": {"shape": "box3d", "style": "filled", "fillcolor": "#f3f4f6",
                  "color": "#6b7280", "margin": "0.18,0.07"},
    "check": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#f5f3ff",
              "color": "#7c3aed", "fontcolor": "#4c1d95"},
    "note": {"shape": "note", "style": "filled", "fillcolor": "#fffbeb", "color": "#d97706"},
}

# The colour language, in two palettes that share no hue: fates (blue, sky, orange,
# vermillion, brown, grey, yellow; after Okabe and Ito) and changes (green = added, purple dashed =
# removed), plus one search colour (magenta). Border colours stay apart under deuteranopia
# (tests/web/test_colours.py); fills are tints of them.
SEARCH_COLOR = "#c026d3"
DIFF_COLORS: dict[str, tuple[str, str]] = {
    "added": ("#ccf0e4", "#009e73"),
    "removed": ("#e6d3ef", "#7b3294"),
}
DIFF_LABELS = {"added": "added by this step", "removed": "removed by this step (dashed)"}

# Modifiers layered on top of the category (later ones win).
WRITER = {"fillcolor": "#fee2e2", "color": "#dc2626", "penwidth": "2", "peripheries": "2",
          "fontcolor": "#7f1d1d"}
ADDED = {"fillcolor": DIFF_COLORS["added"][0], "color": DIFF_COLORS["added"][1],
         "penwidth": "1.8"}
REMOVED = {"fillcolor": DIFF_COLORS["removed"][0], "color": DIFF_COLORS["removed"][1],
           "penwidth": "1.8", "fontcolor": "#4a1a5c"}
REMOVED_STYLE_EXTRA = "dashed"
HIGHLIGHT = {"color": SEARCH_COLOR, "penwidth": "3.2"}

# Fate -> (fill, border). The plain-word labels live in freezeviz.data.fates.
FATE_COLORS: dict[Fate, tuple[str, str]] = {
    Fate.INLINED: ("#cfe3f2", "#0072b2"),
    Fate.FOLDED: ("#ddeffa", "#56b4e9"),
    Fate.PRESERVED_REQUESTED: ("#fbe8bf", "#e69f00"),
    Fate.PRESERVED_MUTATED: ("#f8d3bd", "#d55e00"),
    Fate.PRESERVED_ALIASED: ("#ecdcc8", "#8b5a2b"),
    Fate.REMOVED_UNUSED: ("#f3f4f6", "#9ca3af"),
    Fate.KEPT_SUBMODULE: ("#fbf7c6", "#f0e442"),
}


def css_variables() -> str:
    """The palette as CSS custom properties (``--fv-fate-inlined-fill`` ...), for the
    stylesheets of both front ends."""
    props = [f"--fv-search: {SEARCH_COLOR};"]
    for name, (fill, border) in [*((f.value, c) for f, c in FATE_COLORS.items()),
                                 *DIFF_COLORS.items()]:
        props += [f"--fv-{name}-fill: {fill};", f"--fv-{name}-border: {border};"]
    return "\n".join(props)


# CSS classes put on SVG <g> elements (graphviz's ``class=`` attribute).
CLASS_OF = {"op": "fv-op", "list": "fv-op fv-list", "const": "fv-const", "attr": "fv-attr",
            "input": "fv-input", "output": "fv-output", "control": "fv-control",
            "join": "fv-control fv-join", "collapsed": "fv-collapsed",
            "check": "fv-collapsed fv-check", "note": "fv-note"}
CLS_WRITER, CLS_ADDED, CLS_REMOVED, CLS_HIGHLIGHT = ("fv-writer", "fv-added", "fv-removed",
                                                      "fv-highlight")


def cluster_style(kind: str, label: str, tip: str, ident: str) -> dict[str, str]:
    """Every attribute of a cluster ("scope", "control", "block"): nested clusters inherit
    whatever a cluster leaves unset, so none is left unset."""
    base = {"scope": SCOPE_CLUSTER, "control": CONTROL_CLUSTER, "block": BLOCK_CLUSTER}[kind]
    return dict(base, label=label, tooltip=tip, id=ident, **{"class": f"fv-{kind}"})


def fate_of(value) -> Fate | None:
    """A :class:`Fate` from a Fate or its string value; None for anything else."""
    if isinstance(value, Fate):
        return value
    try:
        return Fate(str(value))
    except ValueError:
        return None


def fate_style(fate: Fate) -> dict[str, str]:
    fill, border = FATE_COLORS[fate]
    style = {"fillcolor": fill, "color": border}
    if fate is Fate.REMOVED_UNUSED:
        style["fontcolor"] = "#6b7280"
    return style


def fate_class(fate: Fate) -> str:
    return f"fv-fate-{fate.value}"


def node_style(cat: str, mods=(), extra: dict | None = None) -> tuple[dict[str, str], list[str]]:
    """DOT attributes and CSS classes of a node of category ``cat``; ``extra`` (a fate's
    colours) goes under the modifiers ("writer", "added", "removed", "highlight")."""
    attrs, classes = dict(NODE_STYLES[cat]), [CLASS_OF[cat]]
    attrs.update(extra or {})
    for m in mods:
        style, cls = MODIFIERS[m]
        attrs.update(style)
        classes.append(cls)
        if m == "removed":
            attrs["style"] += "," + REMOVED_STYLE_EXTRA
    return attrs, classes


# --- text --------------------------------------------------------------------------------
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def clean(text: object, limit: int | None = 60) -> str:
    """Model text made safe for one label line: no control characters, no line breaks."""
    text = _BAD.sub("\ufffd", str(text)).replace("\t", " ")
    text = text.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def quote(text: str) -> str:
    """A DOT double-quoted string; ``\\n`` in ``text`` becomes a line break, nothing else is
    special (``&`` is written as ``&amp;`` because Graphviz passes entities through)."""
    text = _BAD.sub("\ufffd", text).replace("\t", " ").replace("\r", "")
    text = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def attrs_text(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={quote(str(v))}" for k, v in attrs.items())


def svg_id(key: str) -> str:
    """The SVG ``id`` for a node key: readable, ``[A-Za-z0-9_]`` only, unique per key."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", key)[:48].strip("_")
    return f"fv_{slug}_{hashlib.sha1(key.encode('utf-8', 'replace')).hexdigest()[:8]}"


# --- labels ------------------------------------------------------------------------------
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")
_WHILE_MAX = "9223372036854775807"


def wrap_args(name: str, args: list[str], width: int = 46) -> str:
    """``name(a, b, ...)`` on lines of balanced length, none much over ``width``."""
    pieces = [a + (", " if i < len(args) - 1 else ")") for i, a in enumerate(args)] or [")"]
    full = len(name) + 1 + sum(map(len, pieces))
    target = -(-full // -(-full // width)) + 2  # the length of ceil(full / width) equal lines
    lines, line = [], name + "("
    for piece in pieces:
        if len(line) + len(piece) > target and line not in ("  ", name + "("):
            lines.append(line.rstrip())
            line = "  "
        line += piece
    return "\n".join(lines + [line])


def short_kind(kind: str) -> str:
    return kind.removeprefix("aten::")


def shape_text(shape, dtype=None) -> str:
    dims = "×".join("?" if d is None else str(d) for d in shape) if shape else "scalar"
    return f"{dims} {clean(dtype, 20)}" if dtype else dims


def const_name(node: NodeInfo) -> str:
    attrs = node.constant.attributes if node.constant else ()
    if attrs:
        return clean("self." + attrs[0], 44) + (f" +{len(attrs) - 1}" if len(attrs) > 1 else "")
    name = node.outputs[0].name if node.outputs else "constant"
    return "constant" if _NUMERIC.match(name) else clean(name, 44)


def node_label(node: NodeInfo, fold: dict[str, str]) -> str:
    """An op's label: its kind, then arguments with folded ones (``fold``) written out."""
    kind, c = node.kind, node.constant
    args = [fold.get(v, "·") for v in node.inputs]
    if kind == "prim::Constant":
        attrs = c.attributes if c else ()
        lines = ["self." + clean(a, 44) for a in attrs[:3]] or [const_name(node)]
        lines += [f"+{len(attrs) - 3} more"] if len(attrs) > 3 else []
        if c is not None and c.kind == "tensor":
            return "\n".join(lines + [shape_text(c.shape, c.dtype)])
        return "\n".join(lines + [clean(node.outputs[0].type.rsplit(".", 1)[-1], 40)])
    if kind in ("prim::GetAttr", "prim::SetAttr") and node.attribute is not None:
        label = f"{kind[6:]} self.{clean(node.attribute, 50)}"
    elif kind == "prim::CallMethod" and args:
        label = wrap_args(f"{args[0]}.{clean(node.attr('name', 'method'), 30)}", args[1:])
    elif kind in ("prim::ListConstruct", "prim::TupleConstruct"):
        label = clean(("[{}]" if kind.endswith("ListConstruct") else "({})").format(
            ", ".join(args)), 40)
    elif kind == "prim::If":
        label = "if " + args[0] if args and args[0] != "·" else "if"
    elif kind == "prim::Loop":
        trip = args[0] if args else "·"
        label = "while" if trip == _WHILE_MAX else "loop" if trip == "·" else f"loop ×{trip}"
    elif any(a != "·" for a in args):
        label = wrap_args(clean(short_kind(kind), 40), args)
    else:
        label = clean(short_kind(kind), 40)
    if node.writes:
        label += "\n⚠ writes " + ", ".join("self." + clean(w, 40) for w in node.writes[:3])
    return label


def tooltip(node: NodeInfo, scope: str, key: str) -> str:
    """Everything about a node, in plain text: types, shapes, scope, source, key."""
    lines = [f"{clean(node.kind, 80)}  ({clean(node.id, 20)})"]
    for o in node.outputs:
        shape = f" {shape_text(o.shape, o.dtype)}" if o.shape is not None else (
            f" {clean(o.dtype, 20)}" if o.dtype else "")
        lines.append(f"%{clean(o.name, 60)} : {clean(o.type, 200)}{shape}")
    lines += ["scope: " + clean(scope, 200)] if scope else []
    if node.source is not None:
        lines.append(f"source: {clean(str(node.source), 300)}")
    if node.constant is not None:
        lines.append("value: " + clean(node.constant.preview, 200))
        lines += ["from self." + clean(a, 200) for a in node.constant.attributes[:20]]
    lines += ["attribute: self." + clean(node.attribute, 200)] if node.attribute else []
    lines += ["writes self." + clean(w, 200) for w in node.writes[:20]]
    return "\n".join(lines + ["key: " + clean(key, 300)])


# The legend: (category, modifiers, sample label, explanation), top to bottom.
LEGEND_ENTRIES: list[tuple[str, tuple[str, ...], str, str]] = [
    ("input", (), "x", "graph input"),
    ("op", (), "conv2d(·, ·, ·, [2, 2], [1, 1], [1, 1], 1)",
     "op; scalar and list arguments folded into the label"),
    ("const", (), "self.conv.weight\n8×3×3×3 float32", "tensor constant made by freezing"),
    ("attr", (), "GetAttr self.buf", "module state still read at run time"),
    ("op", ("writer",), "add_(·, 1, 1)\n⚠ writes self.buf", "writes module state"),
    ("control", (), "if", "prim::If / prim::Loop, then its blocks"),
    ("scope", (), "layer1.0", "module scope (a cluster)"),
    ("block", (), "then", "block of an If or Loop"),
    ("collapsed", (), "⊕ layer1.0\n42 nodes: conv2d×3, relu×3\n4 inlined",
     "collapsed submodule and its attributes' fates (⊕ or double-click opens it)"),
    ("check", (), "⊕ raises: expected 4D input",
     "a check that leaves the data path alone (if / raise / warn / fast path), closed"),
    ("op", ("added",), "conv2d", DIFF_LABELS["added"]),
    ("op", ("removed",), "batch_norm", DIFF_LABELS["removed"]),
    ("op", ("highlight",), "relu", "search match or highlighted attribute"),
    ("output", (), "return", "graph output"),
]
LEGEND_FATES: list[tuple[Fate, str]] = [(f, FATE_LABELS[f]) for f in Fate]
LEGEND_CLUSTERS = {"scope": SCOPE_CLUSTER, "block": BLOCK_CLUSTER}
MODIFIERS = {"writer": (WRITER, CLS_WRITER), "added": (ADDED, CLS_ADDED),
             "removed": (REMOVED, CLS_REMOVED), "highlight": (HIGHLIGHT, CLS_HIGHLIGHT)}
