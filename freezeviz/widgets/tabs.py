"""The inspector's tabs: stages (with text diffs), alias analysis, frozen code, numerics, the
``torch.jit.freeze`` call, warnings. A tab is built when it is opened, once per report."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

from freezeviz.widgets import tab_html as T
from freezeviz.widgets.graphview import StageList
from freezeviz.widgets.html import diff_html, esc
from freezeviz.widgets.parts import box, html
from freezeviz.widgets.state import PerReport

TITLES = {"stages": "Stages", "alias": "Alias analysis", "code": "Frozen code",
          "numerics": "Numerics", "repro": "Repro", "warnings": "Warnings"}


def stage_row(index: int, stage, prev) -> dict:
    """One row of the stages tab (a :class:`StageList` row): ``compare`` shows the stage
    against the previous one in the panes; ``toggle`` opens its text diff, or torch's
    printout for the first stage."""
    return {"stage": stage.name, "prev": prev.name if prev else "",
            "summary": T.stage_summary(index, stage, prev),
            "compare_tip": f"left: {prev.name}, right: {stage.name}" if prev
            else f"right: {stage.name}",
            "toggle": "diff" if prev else "graph",
            "toggle_tip": "text diff against the previous stage" if prev
            else "torch's printout of the graph",
            "disabled": prev is not None and not stage.changed}


class InspectorTabs(W.Tab):
    """Tabs named by :data:`TITLES`' keys. ``show`` puts a report in; ``open_tab(name)`` selects
    a tab; ``on_compare(before, after)`` runs when a stage's "compare" is clicked."""

    def __init__(self, cache_size: int = 8):
        self.show_unchanged = W.Checkbox(False, description="show passes that changed nothing",
                                         indent=False, layout=W.Layout(width="auto"),
                                         style={"description_width": "initial"})
        self.stages = StageList()
        self.alias_html, self.code_html = html(), html()
        self.numerics_html, self.warnings_html = html(), html()
        self.repro_text = W.Textarea(layout=W.Layout(width="100%", height="120px"))
        self.repro_text.add_class("fv-repro")
        note = html('<span class="fv-muted">The same freeze in plain torch; copy it into '
                    'your code.</span>')
        for w in (note, self.alias_html, self.code_html, self.numerics_html, self.warnings_html):
            w.add_class("fv-tab")
        pages = {"stages": box([self.show_unchanged, self.stages]),
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
        # per report, method and filter: the rows, how many are hidden, the stages opened
        self._rows = PerReport(2 * max(1, cache_size))
        self._opened: list[str] = []  # the list the shown rows' opened stages are kept in
        self.observe(lambda _c: self._build(), "selected_index")
        self.show_unchanged.observe(lambda _c: self._build(rebuild="stages"), "value")
        self.stages.observe(self._on_opened, "opened")
        self.stages.observe(self._on_compare, "compare")

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

    def stage_rows(self) -> list[dict]:
        """The rows the stages tab shows now (see :class:`StageList`)."""
        self._build(name="stages")
        return list(self.stages.rows)

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
        rows, hidden, opened = self._rows.get(r, (method, show_all), self._stage_rows)
        self.show_unchanged.description = (f"show passes that changed nothing ({hidden} hidden)"
                                           if hidden else "show passes that changed nothing")
        self._opened = opened
        with self.stages.hold_sync():
            self.stages.rows = rows
            self.stages.note = T.hidden_note(hidden) if hidden else ""
            self.stages.opened = list(opened)
            self.stages.texts = self._texts(opened)

    def _stage_rows(self) -> tuple[list[dict], int, list[str]]:
        stages = self._report.stages_of(self._method)
        rows = [stage_row(i, s, stages[i - 1] if i else None) for i, s in enumerate(stages)
                if i == 0 or s.changed or self.show_unchanged.value]
        return rows, len(stages) - len(rows), []

    def _texts(self, opened: list[str]) -> dict[str, str]:
        prev = {row["stage"]: row["prev"] or None for row in self.stages.rows}
        return {s: self.stage_text(prev[s], s) for s in opened if s in prev}

    def _on_opened(self, change) -> None:
        opened = [s for s in change["new"] if any(r["stage"] == s for r in self.stages.rows)]
        self._opened[:] = opened  # kept with the rows: a report seen again reopens them
        self.stages.texts = self._texts(opened)

    def _on_compare(self, change) -> None:
        if len(change["new"]) != 2:
            return
        prev, stage = change["new"]
        self.stages.compare = []
        self.on_compare(prev or None, stage)
