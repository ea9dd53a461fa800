"""``FreezeInspector``: the Jupyter app behind :func:`freezeviz.inspect`.

Two graph panes (before / after, any two stages, diff-coloured, linked by hover), an
attribute table whose "keep" boxes re-freeze the module, a details panel for the clicked
node or attribute, and tabs for stages, alias analysis, frozen code, numerics, the
``torch.jit.freeze`` call and warnings. Everything is also reachable from Python::

    insp = freezeviz.inspect(model)
    insp.preserved_attrs = ["version"]     # re-freezes; returns when both views are redrawn
    insp.expanded = ["layer3"]             # opens a module box in both panes (its ⊕ does too)
    insp.report, insp.before_stage, insp.after_stage, insp.selected, insp.error

The parts live beside this module: :mod:`~freezeviz.widgets.pane` (graph panes),
:mod:`~freezeviz.widgets.table` (attribute table and details), :mod:`~freezeviz.widgets.tabs`,
:mod:`~freezeviz.widgets.state` (reports cached per module content and preserved set;
drawings and tabs per report), so going back to a set seen before redraws nothing.
"""

from __future__ import annotations

import contextlib

import ipywidgets as W

from freezeviz.errors import FreezeError
from freezeviz.widgets.header import Header
from freezeviz.widgets.html import static_picture
from freezeviz.widgets.legend import Legend
from freezeviz.widgets.pane import PANE_HEIGHT, GraphPanes
from freezeviz.widgets.selection import attribute_selection, marked_ids, node_selection
from freezeviz.widgets.state import CACHE_SIZE, FreezeState
from freezeviz.widgets.table import AttributePanel
from freezeviz.widgets.tabs import InspectorTabs

__all__ = ["FreezeInspector"]


class FreezeInspector(W.VBox):
    """Interactive view of one module's ``torch.jit.freeze``; see the module docstring.

    ``preserved_attrs``, ``optimize_numerics``, ``example_inputs``,
    ``example_kwarg_inputs`` and ``backend`` are those of :func:`freezeviz.freeze` (with
    ``backend="inductor"`` the table has no keep boxes to tick: Inductor takes no
    preserved_attrs). ``height`` is the CSS height of each graph pane.
    """

    cache_size = CACHE_SIZE  # reports kept per inspector (each holds a frozen module)

    def __init__(self, module, preserved_attrs=None, optimize_numerics: bool = True, *,
                 example_inputs=None, example_kwarg_inputs=None, backend: str = "torchscript",
                 method: str = "forward", height: str = PANE_HEIGHT):
        super().__init__()
        self.add_class("fv-inspector")
        self.state = FreezeState(module, optimize_numerics, example_inputs=example_inputs,
                                 example_kwarg_inputs=example_kwarg_inputs, backend=backend,
                                 cache_size=self.cache_size)
        self._report = None
        self._error: str | None = None
        self._selected: dict | None = None
        self._method = method
        self._updating = False
        self._revision = 0  # counts the reports shown; each part says which one it shows
        self._build(height)
        if isinstance(preserved_attrs, str):
            preserved_attrs = [preserved_attrs]
        wanted = list(dict.fromkeys(preserved_attrs or []))
        try:
            report = self.state.freeze(wanted)
        except FreezeError as exc:
            if not wanted:
                raise
            report = self.state.freeze([])  # the module freezes; the names were the problem
            self._error = _error_text(wanted, exc)
        self._show(report)

    # --- public API ------------------------------------------------------------------------
    @property
    def report(self):
        """The :class:`~freezeviz.data.report.FreezeReport` shown now (the last good one)."""
        return self._report

    @property
    def preserved_attrs(self) -> list[str]:
        """The preserved_attrs of the shown report. Setting it re-freezes (cached) and
        returns when the report and both views are updated; a failure sets :attr:`error`
        and keeps the previous report."""
        return list(self._report.preserved_attrs)

    @preserved_attrs.setter
    def preserved_attrs(self, names) -> None:
        if isinstance(names, str):
            names = [names]
        self._apply_preserved(list(names or []))

    @property
    def before_stage(self) -> str:
        """Stage shown in the left pane (settable)."""
        return self.before_picker.value

    @before_stage.setter
    def before_stage(self, name: str) -> None:
        self.before_picker.value = self._report.stage(name, self._method).name  # KeyError

    @property
    def after_stage(self) -> str:
        """Stage shown in the right pane (settable)."""
        return self.after_picker.value

    @after_stage.setter
    def after_stage(self, name: str) -> None:
        self.after_picker.value = self._report.stage(name, self._method).name

    @property
    def method(self) -> str:
        """The method whose graph the panes show (settable; "forward" by default)."""
        return self._method

    @method.setter
    def method(self, name: str) -> None:
        methods = _methods_with_stages(self._report)
        if name not in methods:
            raise KeyError(f"No stages for method {name!r}. Methods: {', '.join(methods)}")
        self.method_picker.value = name

    @property
    def expanded(self) -> list[str]:
        """The modules (and checks, ``"if:<key>"``) drawn open in both panes (settable: the
        ``expand`` tokens of the node map; returns when both panes are redrawn)."""
        return sorted(self.panes.expanded)

    @expanded.setter
    def expanded(self, tokens) -> None:
        if isinstance(tokens, str):
            tokens = [tokens]
        self.panes.expand(tokens or ())

    @property
    def selected(self) -> dict | None:
        """The clicked node or attribute as a dict (``selected["type"]`` is "node",
        "attribute", "input", "output" or "collapsed"), or None."""
        return self._selected

    @property
    def error(self) -> str | None:
        """The message of the last failed re-freeze, or None after a good one."""
        return self._error

    @property
    def busy(self) -> bool:
        return self.left.busy

    def select_attribute(self, path: str) -> dict:
        """Select an attribute as if its row were clicked; returns :attr:`selected`."""
        self._select(attribute_selection(self._report, path))
        return self._selected

    def select_node(self, side: str, svg_id: str) -> dict | None:
        """Select the node drawn with ``svg_id`` in pane ``side`` ("before" or "after")."""
        other = "after" if side == "before" else "before"
        self._select(node_selection(self._report, self.panes.drawing(side), svg_id,
                                    self.panes.drawing(other)))
        return self._selected

    def static_html(self) -> str:
        """The two drawings side by side as self-contained HTML (what a saved notebook shows)."""
        return static_picture(self._report, [("before", self.before_stage, self.left.svg),
                                             ("after", self.after_stage, self.right.svg)])

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:  # closed widget: the picture is all there is
            data = {"text/plain": repr(self)}
        data["text/html"] = self.static_html()
        return data

    def _ipython_display_(self) -> None:
        """Two outputs: the live widget, then its picture. JupyterLab draws a widget view
        whose model it cannot restore (a notebook saved without its widget state, the
        default) as "model not found" and never falls back to another type in the same
        output, so the picture travels in an output of its own. While the widget is live
        the picture's own style hides it; when the view cannot be restored the same style
        hides the error (where the notebook is trusted; untrusted, the picture still shows
        below it)."""
        from IPython import get_ipython
        from IPython.display import display

        widget = W.VBox._repr_mimebundle_(self)
        if getattr(get_ipython(), "kernel", None) is None:  # a terminal: no front end to keep
            display(widget or {"text/plain": repr(self)}, raw=True)
            return
        if widget is None:  # closed widget: the picture is all there is
            display(self._picture_bundle(live=False), raw=True)
            return
        self.add_class(f"fv-live-{self.model_id}")
        display(widget, raw=True)
        display(self._picture_bundle(live=True), raw=True)

    def _picture_bundle(self, live: bool) -> dict[str, str]:
        html = self.static_html()
        if live:
            tag = self.model_id
            html = (f"<style>:root:has(.fv-live-{tag}) .fv-picture-{tag}{{display:none}}"
                    f".jp-OutputArea-child:has(+ .jp-OutputArea-child .fv-picture-{tag})"
                    f" > .jp-OutputArea-output[data-mime-type="
                    f"'application/vnd.jupyter.widget-view+json']:not(:has(*))"
                    f"{{display:none}}</style><div class=\"fv-picture-{tag}\">{html}</div>")
        return {"text/plain": f"(static picture of {self!r})", "text/html": html}

    def __repr__(self) -> str:
        r = self._report
        if r is None:
            return "<FreezeInspector>"
        return (f"<FreezeInspector {r.module_name}: preserved_attrs={list(r.preserved_attrs)!r}, "
                f"{self.before_stage} → {self.after_stage}>")

    # --- building --------------------------------------------------------------------------
    def _build(self, height: str) -> None:
        self.header = Header()
        self.title, self.status = self.header.title, self.header.status
        self.method_picker, self.error_box = self.header.method_picker, self.header.error_box
        self.panes = GraphPanes(height, self.cache_size)
        self.left, self.right = self.panes.left, self.panes.right
        self.before_picker, self.after_picker = self.panes.before_picker, self.panes.after_picker
        self.lower = AttributePanel(self.cache_size)
        self.table, self.details = self.lower.table, self.lower.details
        self.tabs = InspectorTabs(self.cache_size)
        self.legend = Legend()  # the colours the panes and table use, under the panes
        self.children = [self.header, self.panes, self.legend, self.lower, self.tabs]

        self.panes.on_redraw = self._mark_selection
        self.panes.on_expand = self._next_revision
        self.legend.on_colour_by = self.panes.set_colour_by
        self.tabs.on_compare = self.panes.pick
        self.lower.on_show_pass = self.panes.show_pass
        self.method_picker.observe(self._on_method_pick, "value")
        self.table.observe(self._on_table_preserved, "preserved")
        self.table.observe(self._on_table_click, "clicked")
        self.left.observe(lambda c: self._on_pane_click("before", c), "clicked")
        self.right.observe(lambda c: self._on_pane_click("after", c), "clicked")

    @contextlib.contextmanager
    def _quiet(self):
        """Trait changes made here come from Python, not from the user: observers ignore them."""
        prev, self._updating = self._updating, True
        try:
            yield
        finally:
            self._updating = prev

    # --- freezing --------------------------------------------------------------------------
    def _apply_preserved(self, names: list[str]) -> None:
        names = list(dict.fromkeys(str(n) for n in names))
        key, report = self.state.lookup(names)
        if report is not None:  # nothing to wait for: no busy marks to send and take back
            self._error = None
            self._show(report)
            return
        self._set_busy(True)
        try:
            try:
                report = self.state.freeze(names, key)
            except Exception as exc:  # FreezeError, or torch failing in a way we did not map
                if not isinstance(exc, FreezeError):
                    exc = FreezeError(f"{type(exc).__name__}: {exc}")
                self._error = _error_text(names, exc)
                self._render_header()
                with self._quiet():
                    self.table.preserved = list(self._report.preserved_attrs)  # the box goes back
                return
            self._error = None
            self._show(report)
        finally:
            self._set_busy(False)

    def _on_table_preserved(self, change) -> None:
        """A "keep" box was ticked in the table (clicks made while a freeze ran come
        together, as one set)."""
        if self._updating or self._report is None:
            return
        if sorted(change["new"]) != sorted(self._report.preserved_attrs):
            self._apply_preserved(list(change["new"]))

    def _set_busy(self, busy: bool) -> None:
        self.panes.set_busy(busy)
        self.table.busy = busy
        self.header.set_busy(busy)

    # --- showing ---------------------------------------------------------------------------
    def _show(self, report, reset: bool = False) -> None:
        self._report = report
        methods = _methods_with_stages(report)
        if self._method not in methods:
            self._method = "forward" if "forward" in methods else methods[0]
        with self._quiet():
            self.header.set_methods(methods, self._method)
        # the table, header, legend and tabs are filled while the panes are laid out
        self.panes.show(report, self._method, reset=reset,
                        meanwhile=lambda: self._show_parts(report))
        self._next_revision()

    def _next_revision(self) -> None:
        self._revision += 1  # last: each part's earlier updates reach the browser first
        for part in (self.left, self.right, self.table):
            part.revision = self._revision

    def _show_parts(self, report) -> None:
        """Everything of ``report`` but the panes."""
        with self._quiet():
            self.lower.show(report)
        self._keep_attribute_selection()
        self.legend.show(report)
        self._render_header()

    def _render_header(self) -> None:
        self.header.show(self._report, self._error)
        self.tabs.show(self._report, self._method, _methods_with_stages(self._report),
                       self._error)

    def _on_method_pick(self, change) -> None:
        if self._updating or not change["new"]:
            return
        self._method = change["new"]
        self._selected = None
        self._show(self._report, reset=True)

    # --- selection -------------------------------------------------------------------------
    def _select(self, selection: dict | None) -> None:
        self._selected = selection
        with self._quiet():
            self.lower.describe(self._report, selection)
        self._mark_selection()

    def _mark_selection(self) -> None:
        self.panes.mark(*marked_ids(self._selected, self.panes.drawing("before"),
                                    self.panes.drawing("after")))

    def _keep_attribute_selection(self) -> None:
        """After a new report: keep an attribute selection, drop a node selection."""
        sel = self._selected
        try:
            if sel and sel.get("type") == "attribute":
                sel = attribute_selection(self._report, sel["attribute"])
            else:
                sel = None
        except KeyError:
            sel = None
        self._selected = sel
        with self._quiet():
            self.lower.describe(self._report, sel)

    def _on_pane_click(self, side: str, change) -> None:
        if not change["new"]:
            return
        try:
            self.select_node(side, change["new"])
        finally:
            change["owner"].clicked = ""  # so that clicking it again works

    def _on_table_click(self, change) -> None:
        if not change["new"]:
            return
        try:
            self.select_attribute(change["new"])
        finally:
            self.table.clicked = ""


def _methods_with_stages(report) -> list[str]:
    return list(dict.fromkeys(s.method for s in report.stages))


def _error_text(names: list[str], exc: BaseException) -> str:
    return f"Could not freeze with preserved_attrs={names!r}: {exc}"
