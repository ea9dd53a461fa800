"""The inspector's legend: one compact row under the panes naming the colours on screen.

Colours come from :mod:`freezeviz.render.styles` (the one palette of drawings, chips and the
report), written inline so the row reads the same wherever the notebook shows it.
"""

from __future__ import annotations

import ipywidgets as W

from freezeviz.data.fates import FATE_LABELS, Fate
from freezeviz.render import styles as S
from freezeviz.render.fragments import esc

_ROW = "display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center;font-size:12px;color:#374151"


def _swatch(fill: str, border: str, text: str, dashed: bool = False, kind: str = "") -> str:
    line = "dashed" if dashed else "solid"
    box = (f"display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:-1px;"
           f"background:{fill};border:2px {line} {border};border-radius:3px")
    return (f'<span class="fv-legend-item" data-kind="{esc(kind)}" data-fill="{fill}" '
            f'data-border="{border}"><span style="{box}"></span>{esc(text)}</span>')


def legend_items(report) -> list[tuple[str, str, str, str, bool]]:
    """(kind, fill, border, words, dashed) for each colour the panes and table can show for
    ``report``: the fates its attributes have, the two diff marks, the search mark."""
    present = {a.fate for a in report.attributes} if report is not None else set()
    items = [(f"fate:{f.value}", *S.FATE_COLORS[f], FATE_LABELS[f], False)
             for f in Fate if f in present]
    items += [(f"diff:{k}", fill, border, S.DIFF_LABELS[k], k == "removed")
              for k, (fill, border) in S.DIFF_COLORS.items()]
    items.append(("search", "#ffffff", S.SEARCH_COLOR, "search match", False))
    return items


def legend_html(report) -> str:
    parts = [_swatch(fill, border, words, dashed, kind)
             for kind, fill, border, words, dashed in legend_items(report)]
    return f'<div class="fv-legend-row" style="{_ROW}"><b>Colours:</b>{"".join(parts)}</div>'


class Legend(W.HTML):
    """The legend row; :meth:`show` fits it to a report."""

    def show(self, report) -> None:
        self.value = legend_html(report)
