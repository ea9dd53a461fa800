"""The visual language of freezeviz drawings: one source of truth for colours and shapes.

Owns every colour, shape and font used by :mod:`freezeviz.render.dot`, the colour of each
attribute :class:`~freezeviz.fates.Fate`, the CSS classes put on SVG elements, and the
entries of the legend. Change the look here and only here.
"""

from __future__ import annotations

from ..fates import FATE_LABELS, Fate

FONT = "Helvetica,Arial,sans-serif"

GRAPH_ATTRS = {
    "rankdir": "TB", "fontname": FONT, "fontsize": "11", "nodesep": "0.22", "ranksep": "0.32",
    "newrank": "true", "labelloc": "t", "labeljust": "l", "bgcolor": "white",
    "mclimit": "0.5", "nslimit": "2", "nslimit1": "2", "searchsize": "20",
}
NODE_ATTRS = {"fontname": FONT, "fontsize": "10", "height": "0.3", "margin": "0.08,0.03"}
EDGE_ATTRS = {"fontname": FONT, "fontsize": "8", "color": "#6b7280", "fontcolor": "#4b5563",
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
    "collapsed": {"shape": "box3d", "style": "filled", "fillcolor": "#f3f4f6",
                  "color": "#6b7280"},
    "note": {"shape": "note", "style": "filled", "fillcolor": "#fffbeb", "color": "#d97706"},
}

# Modifiers layered on top of the category (later ones win).
WRITER = {"fillcolor": "#fee2e2", "color": "#dc2626", "penwidth": "2", "peripheries": "2",
          "fontcolor": "#7f1d1d"}
ADDED = {"fillcolor": "#dcfce7", "color": "#16a34a", "penwidth": "1.8"}
REMOVED = {"fillcolor": "#ffe4e6", "color": "#e11d48", "penwidth": "1.8",
           "fontcolor": "#9f1239"}
REMOVED_STYLE_EXTRA = "dashed"
HIGHLIGHT = {"color": "#c026d3", "penwidth": "3.2"}
EDGE_WRITE = {"color": "#dc2626", "style": "dashed", "fontcolor": "#b91c1c",
              "constraint": "false"}

# Fate -> (fill, border). The plain-word labels live in freezeviz.fates.
FATE_COLORS: dict[Fate, tuple[str, str]] = {
    Fate.INLINED: ("#dbeafe", "#3b82f6"),
    Fate.FOLDED: ("#e0e7ff", "#6366f1"),
    Fate.PRESERVED_REQUESTED: ("#ffedd5", "#ea580c"),
    Fate.PRESERVED_MUTATED: ("#fecaca", "#b91c1c"),
    Fate.REMOVED_UNUSED: ("#f3f4f6", "#9ca3af"),
    Fate.KEPT_SUBMODULE: ("#fef9c3", "#ca8a04"),
}

# CSS classes put on SVG <g> elements (graphviz's ``class=`` attribute).
CLASS_OF = {"op": "fv-op", "list": "fv-op fv-list", "const": "fv-const", "attr": "fv-attr",
            "input": "fv-input", "output": "fv-output", "control": "fv-control",
            "join": "fv-control fv-join", "collapsed": "fv-collapsed", "note": "fv-note"}
CLS_WRITER, CLS_ADDED, CLS_REMOVED, CLS_HIGHLIGHT = ("fv-writer", "fv-added", "fv-removed",
                                                      "fv-highlight")


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


# The legend: (category, modifiers, sample label, explanation), top to bottom.
LEGEND_ENTRIES: list[tuple[str, tuple[str, ...], str, str]] = [
    ("input", (), "x", "graph input"),
    ("op", (), "conv2d(·, ·, ·, [2, 2], [1, 1], [1, 1], 1)",
     "op; scalar and list arguments folded into the label"),
    ("const", (), "self.conv.weight\n8×3×3×3 float32", "tensor constant made by freezing"),
    ("attr", (), "GetAttr self.buf", "module state still read at run time"),
    ("op", ("writer",), "add_(·, 1, 1)\n⚠ writes self.buf", "writes module state"),
    ("control", (), "if", "prim::If / prim::Loop; blocks drawn as boxes"),
    ("collapsed", (), "layer1.0\n42 nodes: conv2d×3, relu×3", "collapsed submodule"),
    ("op", ("added",), "conv2d", "added by this step"),
    ("op", ("removed",), "batch_norm", "removed by this step"),
    ("op", ("highlight",), "relu", "highlighted (search result)"),
    ("output", (), "return", "graph output"),
]
LEGEND_FATES: list[tuple[Fate, str]] = [(f, FATE_LABELS[f]) for f in Fate]
MODIFIERS = {"writer": (WRITER, CLS_WRITER), "added": (ADDED, CLS_ADDED),
             "removed": (REMOVED, CLS_REMOVED), "highlight": (HIGHLIGHT, CLS_HIGHLIGHT)}
