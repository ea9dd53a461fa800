"""The inspector's tabs: stages (with text diffs), alias analysis, frozen code, numerics, the
``torch.jit.freeze`` call, warnings. A tab is built when it is opened, once per report."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

from freezeviz.widgets import tab_html as T
from freezeviz.widgets.html import diff_html, esc
from freezeviz.widgets.parts import box, html
from freezeviz.widgets.state import PerReport

TITLES = {"stages": "Stages", "alias": "Alias analysis", "code": "Frozen code",
          "numerics": "Numerics", "repro": "Repro", "warnings": "Warnings"}


def _close(widgets) -> None:
    """Close widgets and everything in them."""
    for w in widgets:
        _close(getattr(w, "children", ()))
        w.close()


def _row_parts() -> dict[str, W.Widget]:
    """The layouts and styles every stage row shares (each would be a widget of its own,
    created, sent and drawn per row)."""
    def style(widget_class):  # each control's own style class (not all are exported)
        return widget_class.class_traits()["style"].klass()

    return {"text": W.Layout(flex="1 1 auto"), "compare": W.Layout(width="80px"),
            "toggle": W.Layout(width="64px"), "box": W.Layout(), "html": style(W.HTML),
            "button": style(W.Button), "toggle_style": style(W.ToggleButton)}


class StageRow(W.VBox):
    """One stage: ``compare`` shows it against the previous one in the panes; ``toggle``
    opens ``diff`` (its text diff, or torch's printout for the first stage)."""

    def __init__(self, index: int, stage, prev, tabs: InspectorTabs):
        self.stage, self.prev, self._tabs = stage.name, prev.name if prev else None, tabs
        shared = tabs.row_parts  # one layout and style per look, not per row: fewer widgets
        self.text = W.HTML(T.stage_summary(index, stage, prev), layout=shared["text"],
                           style=shared["html"])
        self.text.add_class("fv-tab")
        self.compare = W.Button(description="compare", tooltip=(
            f"left: {prev.name}, right: {stage.name}" if prev else f"right: {stage.name}"),
            layout=shared["compare"], style=shared["button"])
        self.compare.on_click(lambda _b: tabs.on_compare(self.prev, self.stage))
        self.diff = W.HTML(layout=W.Layout(display="none"), style=shared["html"])
        self.diff.add_class("fv-tab")
        self.toggle = W.ToggleButton(
            description="diff" if prev else "graph",
            tooltip="text diff against the previous stage" if prev
            else "torch's printout of the graph", layout=shared["toggle"],
            style=shared["toggle_style"], disabled=prev is not None and not stage.changed)
        self.toggle.observe(self._on_toggle, "value")
        row = W.HBox([self.compare, self.toggle, self.text], layout=shared["box"])
        row.add_class("fv-stage-row")
        super().__init__([row, self.diff], layout=shared["box"])

    def _on_toggle(self, change) -> None:
        if change["new"]:
            self.diff.value = self._tabs.stage_text(self.prev, self.stage)
        self.diff.layout.display = "" if change["new"] else "none"


class InspectorTabs(W.Tab):
    """Tabs named by :data:`TITLES`' keys. ``show`` puts a report in; ``open_tab(name)`` selects
    a tab; ``on_compare(before, after)`` runs when a stage's "compare" is clicked."""

    def __init__(self, cache_size: int = 8):
        self.show_unchanged = W.Checkbox(False, description="show passes that changed nothing",
                                         indent=False, layout=W.Layout(width="auto"),
                                         style={"description_width": "initial"})
        self.stages_box = box()
        self.alias_html, self.code_html = html(), html()
        self.numerics_html, self.warnings_html = html(), html()
        self.repro_text = W.Textarea(layout=W.Layout(width="100%", height="120px"))
        self.repro_text.add_class("fv-repro")
        note = html('<span class="fv-muted">The same freeze in plain torch; copy it into '
                    'your code.</span>')
        for w in (note, self.alias_html, self.code_html, self.numerics_html, self.warnings_html):
            w.add_class("fv-tab")
        pages = {"stages": box([self.show_unchanged, self.stages_box]),
                 "alias": self.alias_html, "code": self.code_html,
                 "numerics": self.numerics_html, "repro": box([note, self.repro_text]),
                 "warnings": self.warnings_html}
        super().__init__(children=[pages[n] for n in TITLES])
        self.titles = tuple(TITLES.values())
        self.on_compare: Callable[[str | None, str], None] = lambda before, after: None
        self._report, self._method, self._error = None, "forward", None
        self._methods: list[str] = []
        self._built: set[str] = set()
        self._text = PerReport(32 * max(1, cache_size))
        # per report and filter: a box of stage rows, kept in the page (hidden) while cached,
        # so that going back to a report shows its box again instead of drawing new rows
        self._rows = PerReport(2 * max(1, cache_size), on_drop=lambda kept: _close([kept[0]]))
        self._shown_box: W.VBox | None = None
        self.row_parts = _row_parts()
        self.observe(lambda _c: self._build(), "selected_index")
        self.show_unchanged.observe(lambda _c: self._build(rebuild="stages"), "value")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(TITLES)

    @property
    def current(self) -> str | None:
        """The name of the open tab."""
        index = self.selected_index
        return None if index is None else self.names[index]

    def open_tab(self, name: str) -> None:
        if name not in TITLES:
            raise KeyError(f"No tab {name!r}. Tabs: {', '.join(TITLES)}")
        self.selected_index = self.names.index(name)

    def show(self, report, method: str, methods: list[str], error: str | None) -> None:
        """Show ``report``'s ``method`` (and ``error``, the last failed re-freeze)."""
        if (report, method, error) != (self._report, self._method, self._error):
            self._built.clear()
        self._report, self._method, self._methods, self._error = report, method, methods, error
        self.repro_text.value = report.repro()
        n_warn = len(report.warnings) + (1 if error else 0)
        titles = dict(TITLES, numerics="Numerics" if report.numerics else "Numerics (–)",
                      warnings=f"Warnings ({n_warn})" if n_warn else "Warnings")
        self.titles = tuple(titles.values())
        self._build()

    def stage_rows(self) -> list[StageRow]:
        """The rows the stages tab shows now."""
        self._build(name="stages")
        box = self._shown_box
        return [r for r in box.children if isinstance(r, StageRow)] if box is not None else []

    def stage_text(self, prev: str | None, stage: str) -> str:
        """The text diff from ``prev`` to ``stage`` (torch's printout when ``prev`` is None)."""
        r, method = self._report, self._method
        if prev is None:
            return self._text.get(r, (method, "graph", stage), lambda: (
                f'<pre class="fv-diff">{esc(r.stage(stage, method).graph.text)}</pre>'))
        return self._text.get(r, (method, "diff", prev, stage),
                              lambda: diff_html(r.diff(prev, stage, method)))

    # --- building --------------------------------------------------------------------------
    def _build(self, name: str | None = None, rebuild: str | None = None) -> None:
        """Fill tab ``name`` (the open one by default) unless it shows the report already."""
        self._built.discard(rebuild)
        name = name or rebuild or self.current
        if name is None or self._report is None or name in self._built:
            return
        self._built.add(name)
        r = self._report
        if name == "stages":
            self._fill_stages()
        elif name == "alias":
            self.alias_html.value = self._text.get(r, "alias", lambda: T.alias_html(r))
        elif name == "code":
            self.code_html.value = self._text.get(
                r, ("code", *self._methods), lambda: T.code_html(r, self._methods))
        elif name == "numerics":
            self.numerics_html.value = T.numerics_html(r)
        elif name == "warnings":
            self.warnings_html.value = T.warnings_html(r, self._error)

    def _fill_stages(self) -> None:
        r, method, show_all = self._report, self._method, self.show_unchanged.value
        box, hidden = self._rows.get(r, (method, show_all), self._stage_box)
        self.show_unchanged.description = (f"show passes that changed nothing ({hidden} hidden)"
                                           if hidden else "show passes that changed nothing")
        self._shown_box = box
        boxes = [b for b in self.stages_box.children if b.comm is not None]  # closed: dropped
        if box not in boxes:
            boxes.append(box)
        for b in boxes:
            b.layout.display = "" if b is box else "none"
        self.stages_box.children = boxes

    def _stage_box(self) -> tuple[W.VBox, int]:
        rows, hidden = self._stage_rows()
        return W.VBox(rows, layout=W.Layout()), hidden  # a layout of its own: shown or hidden

    def _stage_rows(self) -> tuple[list[W.Widget], int]:
        stages = self._report.stages_of(self._method)
        rows: list[W.Widget] = []
        for i, s in enumerate(stages):
            if i == 0 or s.changed or self.show_unchanged.value:
                rows.append(StageRow(i, s, stages[i - 1] if i else None, self))
        hidden = len(stages) - len(rows)
        if hidden:
            note = html(T.hidden_note(hidden))
            note.add_class("fv-tab")
            rows.append(note)
        return rows, hidden
