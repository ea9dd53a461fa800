"""Front-end widgets of the inspector (anywidget; the browser code is graphview.js/.css).

``GraphView`` shows one SVG drawing with pan, zoom, fit, search, hover and click.
``AttributeTable`` shows the attributes and root methods with a "preserve" checkbox each.
``StageList`` shows the stages of a method, each with "compare" and its text diff.

The classes load the same ES module and stylesheet (no build step); the module picks the
view to draw from the ``_fv_kind`` trait. The module is graph.js (the drawing core the HTML
report inlines too), graphtable.js (the attribute table), graphstages.js (the stages) and
graphview.js (the graph panes and the module's ``render``).

Each view's element says what it shows, for tests and benchmarks that wait on the browser:
``data-fv-busy`` is "1" while a freeze runs (and, in the table, while a click waits to be
sent), ``data-fv-shown`` is the ``revision`` it last received. The inspector sets the same
revision on both panes and the table after everything else of an update, so equal values
mean the browser shows that update whole.
"""

from __future__ import annotations

import anywidget
import traitlets as t

from freezeviz.web import asset

MAX_PATCH = 32  # rows that may differ from the sent ones before all are sent again

# anywidget loads one module; the shared core goes in front (it declares FVGraph, no exports)
ESM = "\n".join(asset(name) for name in ("graph.js", "graphtable.js", "graphstages.js",
                                          "graphview.js"))
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
        revision   which update of the inspector this shows (the element's data-fv-shown)
        expanded   the ``expand`` tokens (node map) of the modules and checks drawn open;
                   the front end sets it when a box's ⊕ / ⊖ or a breadcrumb is clicked
        anchor     the token opened or closed last: a drawing that answers it replaces the
                   old one keeping that box's control where it was on screen ("" : fit)
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
    revision = t.Int(0).tag(sync=True)
    expanded = t.List(t.Unicode()).tag(sync=True)
    anchor = t.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"<GraphView {self.label!r} {len(self.svg):,} chars of SVG>"


class AttributeTable(anywidget.AnyWidget):
    """The attributes (and root methods) of a module with their fates and a preserve box.

    Synced traits
        rows         one dict per attribute: path, kind, type, fate, fate_label, why,
                     warning, survives, mutated
        row_patch    path -> row, for rows that changed since ``rows`` was last sent whole
                     (:meth:`show_rows` sends only those: a new preserved set changes a
                     few fates, and only those rows travel and are redrawn)
        methods      one dict per root method: name, preserved, kept, locked (forward)
        preserved    the preserved_attrs the boxes show; ticking a box sets it at once
                     (boxes ticked while a freeze runs are sent together when it ends)
        fate_colors  fate -> [fill, border, label]
        busy         a freeze runs (clicks meanwhile wait for it)
        keep_off     when set, why no box can change anything (a freezer without
                     preserved_attrs): every box is disabled with this as its tooltip
        clicked      the attribute path whose row was clicked last ("" for none)
        selected     the attribute path drawn as selected (set by Python)
        revision     which update of the inspector this shows (the element's data-fv-shown)
    """

    _esm = ESM
    _css = CSS
    _fv_kind = t.Unicode("table").tag(sync=True)

    rows = t.List(t.Dict()).tag(sync=True)
    row_patch = t.Dict().tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    preserved = t.List(t.Unicode()).tag(sync=True)
    fate_colors = t.Dict().tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    clicked = t.Unicode("").tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    keep_off = t.Unicode("").tag(sync=True)
    height = t.Unicode("300px").tag(sync=True)
    revision = t.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._sent_rows = self.rows  # what the browser's copy of ``rows`` holds
        self._patching = False

    def show_rows(self, rows) -> None:
        """Set :attr:`rows`, sending only the rows that differ from those the browser holds
        (as ``row_patch``) when the attributes are the same and few rows changed."""
        rows, sent = list(rows), self._sent_rows
        patch = {r["path"]: r for r, s in zip(rows, sent) if r != s}
        if [r["path"] for r in rows] != [s["path"] for s in sent] or len(patch) > max(
                MAX_PATCH, len(rows) // 4):
            with self.hold_sync():
                self.row_patch = {}
                self.rows = rows
            return
        self._patching = True
        try:
            with self.hold_sync():
                self.row_patch = patch
                self.rows = rows
                _unsend(self, "rows")
        finally:
            self._patching = False

    @t.observe("rows")
    def _on_rows(self, change) -> None:
        # set whole (not by show_rows): sent whole, and a patch against older rows is void
        if not getattr(self, "_patching", False):
            self._sent_rows = change["new"]
            self.row_patch = {}

    def __repr__(self) -> str:
        return f"<AttributeTable {len(self.rows)} attributes, preserved={self.preserved!r}>"


class StageList(anywidget.AnyWidget):
    """The stages of one method, a row each, in one widget (rows are data, not widgets: a
    new report sends a few rows instead of creating a dozen widgets).

    Synced traits
        rows     one dict per stage shown: stage, prev (the stage before it, "" for the
                 first), summary (HTML), compare_tip, toggle ("diff", or "graph" for the
                 first stage), toggle_tip, disabled (a pass that changed nothing: no diff)
        note     HTML under the rows (how many passes are hidden)
        opened   the stages whose text is open below their row; the front end sets it
        texts    stage -> the HTML of its text, for the opened stages (set by Python)
        compare  [prev, stage] of the last "compare" clicked (the front end sets it;
                 Python resets it to [] once handled)
    """

    _esm = ESM
    _css = CSS
    _fv_kind = t.Unicode("stages").tag(sync=True)

    rows = t.List(t.Dict()).tag(sync=True)
    note = t.Unicode("").tag(sync=True)
    opened = t.List(t.Unicode()).tag(sync=True)
    texts = t.Dict().tag(sync=True)
    compare = t.List(t.Unicode()).tag(sync=True)

    def __repr__(self) -> str:
        return f"<StageList {[r['stage'] for r in self.rows]}>"


def _unsend(widget, name: str) -> None:
    """Inside ``hold_sync``: leave trait ``name`` out of the update sent when it ends (its
    new value reaches the browser another way). An ipywidgets without this queue sends it."""
    queued = getattr(widget, "_states_to_send", None)
    if isinstance(queued, set):
        queued.discard(name)
