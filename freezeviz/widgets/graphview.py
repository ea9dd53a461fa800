"""Front-end widgets of the inspector (anywidget; the browser code is graphview.js/.css).

``GraphView`` shows one SVG drawing with pan, zoom, fit, search, hover and click.
``AttributeTable`` shows the attributes and root methods with a "preserve" checkbox each.

Both classes load the same ES module and stylesheet (no build step); the module picks the
view to draw from the ``_fv_kind`` trait. The module is graph.js (the drawing core the HTML
report inlines too) followed by graphview.js.
"""

from __future__ import annotations

import anywidget
import traitlets as t

from freezeviz.web import asset

# anywidget loads one module; the shared core goes in front (it declares FVGraph, no exports)
ESM = asset("graph.js") + "\n" + asset("graphview.js")
CSS = asset("graph.css") + "\n" + asset("graphview.css")


class GraphView(anywidget.AnyWidget):
    """An SVG drawing (from :func:`freezeviz.render.draw`) with pan, zoom, search and picking.

    Synced traits
        svg        the drawing
        node_map   what each SVG id stands for: ``GraphView.node_map`` of
                   :mod:`freezeviz.render` in JSON form (``node_map_dict``); search reads it
        label      short text shown in the pane's toolbar ("before", "after")
        message    a note under the toolbar (e.g. why the drawing was collapsed)
        height     CSS height of the drawing area
        hovered    SVG id of the node under the pointer ("" for none); link it to the
                   other pane's ``hovered`` to highlight the counterpart there
        linked     SVG ids marked as hovered because they are linked to the node hovered in
                   the other pane by an attribute path (a GetAttr and the constant it
                   became); set by Python
        link_text  the line saying how (shown instead of "not in this stage")
        clicked    SVG id of the last clicked node (the front end sets it; Python may reset it)
        selected   SVG ids drawn as selected (set by Python)
        query      the search text (typed in the pane, or set from Python)
        matches    how many nodes match ``query`` (set by the front end)
        busy       greys the drawing and shows a spinner
    """

    _esm = ESM
    _css = CSS
    _fv_kind = t.Unicode("graph").tag(sync=True)

    svg = t.Unicode("").tag(sync=True)
    node_map = t.Dict().tag(sync=True)
    label = t.Unicode("").tag(sync=True)
    message = t.Unicode("").tag(sync=True)
    height = t.Unicode("450px").tag(sync=True)
    hovered = t.Unicode("").tag(sync=True)
    linked = t.List(t.Unicode()).tag(sync=True)
    link_text = t.Unicode("").tag(sync=True)
    clicked = t.Unicode("").tag(sync=True)
    selected = t.List(t.Unicode()).tag(sync=True)
    query = t.Unicode("").tag(sync=True)
    matches = t.Int(0).tag(sync=True)
    busy = t.Bool(False).tag(sync=True)

    def __repr__(self) -> str:
        return f"<GraphView {self.label!r} {len(self.svg):,} chars of SVG>"


class AttributeTable(anywidget.AnyWidget):
    """The attributes (and root methods) of a module with their fates and a preserve box.

    Synced traits
        rows         one dict per attribute: path, kind, type, fate, fate_label, why,
                     warning, survives, mutated
        methods      one dict per root method: name, preserved, kept, locked (forward)
        preserved    the preserved_attrs the boxes show; ticking a box sets it (the front
                     end waits ``debounce_ms`` for more clicks before sending)
        fate_colors  fate -> [fill, border, label]
        busy         disables the boxes while a freeze runs
        clicked      the attribute path whose row was clicked last ("" for none)
        selected     the attribute path drawn as selected (set by Python)
    """

    _esm = ESM
    _css = CSS
    _fv_kind = t.Unicode("table").tag(sync=True)

    rows = t.List(t.Dict()).tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    preserved = t.List(t.Unicode()).tag(sync=True)
    fate_colors = t.Dict().tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    clicked = t.Unicode("").tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    debounce_ms = t.Int(350).tag(sync=True)
    height = t.Unicode("300px").tag(sync=True)

    def __repr__(self) -> str:
        return f"<AttributeTable {len(self.rows)} attributes, preserved={self.preserved!r}>"
