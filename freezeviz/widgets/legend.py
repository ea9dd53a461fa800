"""The inspector's legend: one compact row under the panes naming the colours on screen.

Colours come from :mod:`freezeviz.render.styles` (the one palette of drawings, chips and the
report), written inline so the row reads the same wherever the notebook shows it.
"""

from __future__ import annotations

import ipywidgets as W

from freezeviz.data.fates import FATE_LABELS, Fate
from freezeviz.render import styles as S
from freezeviz.render.fragments import esc
from freezeviz.widgets.parts import html

_ROW = ("display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center;font-size:12px;"
        "color:var(--jp-ui-font-color1, #374151)")  # readable in JupyterLab's dark theme too


def _swatch(fill: str, border: str, text: str, dashed: bool = False, kind: str = "") -> str:
    line = "dashed" if dashed else "solid"
    box = (f"display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:-1px;"
           f"background:{fill};border:2px {line} {border};border-radius:3px")
    return (f'<span class="fv-legend-item" data-kind="{esc(kind)}" data-fill="{fill}" '
            f'data-border="{border}"><span style="{box}"></span>{esc(text)}</span>')


COLOUR_BY = (("by change", "change"), ("by fate", "fate"))


def legend_items(report, by: str = "change") -> list[tuple[str, str, str, str, bool]]:
    """(kind, fill, border, words, dashed) for each colour the panes and table can show for
    ``report``: the fates its attributes have, the two diff marks (coloured ``by`` "change"
    only), the search mark."""
    present = {a.fate for a in report.attributes} if report is not None else set()
    items = [(f"fate:{f.value}", *S.FATE_COLORS[f], FATE_LABELS[f], False)
             for f in Fate if f in present]
    items += [(f"diff:{k}", fill, border, S.DIFF_LABELS[k], k == "removed")
              for k, (fill, border) in S.DIFF_COLORS.items() if by == "change"]
    items.append(("search", "#ffffff", S.SEARCH_COLOR, "search match", False))
    return items


def legend_html(report, by: str = "change") -> str:
    parts = [_swatch(fill, border, words, dashed, kind)
             for kind, fill, border, words, dashed in legend_items(report, by)]
    return f'<div class="fv-legend-row" style="{_ROW}"><b>Colours:</b>{"".join(parts)}</div>'


class Legend(W.HBox):
    """The legend row: a "colour by change | by fate" switch, then the colours on screen.
    :meth:`show` fits it to a report; ``on_colour_by`` runs with "change" or "fate" when the
    switch moves (the panes redraw with or without the diff marks)."""

    def __init__(self):
        self.colour_by = W.ToggleButtons(
            options=COLOUR_BY, value="change", style={"button_width": "auto"},
            tooltips=["added and removed nodes marked", "attribute fates only, no diff marks"],
            layout=W.Layout(width="auto"))
        self.row = html()
        super().__init__([self.colour_by, self.row],
                         layout=W.Layout(align_items="center", flex_flow="row wrap"))
        self.report = None
        self.on_colour_by = lambda by: None
        self.colour_by.observe(self._on_switch, "value")

    @property
    def value(self) -> str:
        """The row's HTML (the colours named, without the switch)."""
        return self.row.value

    def show(self, report) -> None:
        self.report = report
        self.row.value = legend_html(report, self.colour_by.value)

    def _on_switch(self, change) -> None:
        self.show(self.report)
        self.on_colour_by(change["new"])
