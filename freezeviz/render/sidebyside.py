"""Two freezers side by side as HTML: one table row per attribute, each freezer's fate chip,
what the attribute became and why, with the rows where the freezers differ highlighted.

Plain HTML with inline styles only (no script, no stylesheet, no picture), so the table shows
the same in a trusted notebook, an untrusted one, nbconvert's export and a browser; a row that
differs is marked by a sign and a word as well as by its colour. Text from the model goes
through :func:`~freezeviz.render.fragments.esc`.
"""

from __future__ import annotations

from freezeviz.data.sidebyside import ABSENT
from freezeviz.render.fragments import chip, esc, page_head

__all__ = ["comparison_html", "comparison_page"]

# translucent tints read on light and dark notebook themes alike
DIFFER_STYLE = "background:rgba(213,94,0,0.13);box-shadow:inset 4px 0 0 #d55e00"
ONE_SIDED_STYLE = "opacity:0.72"
CELL = "padding:4px 8px;border-bottom:1px solid rgba(127,127,127,0.25);vertical-align:top"
MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"
SMALL = "font-size:12px;opacity:0.85;max-width:52ch;margin-top:2px"
# chips carry light fills: dark text keeps their labels readable on a dark theme
CHIP_TEXT = "color:#111827"


def _side_cell(side, label: str) -> str:
    if side is None:
        return (f'<td style="{CELL}"><span title="not in the {esc(label)} report" '
                f'aria-label="not in the {esc(label)} report">{ABSENT}</span></td>')
    became = (f'<div class="fv-became" style="{MONO}">{esc(side.became)}</div>'
              if side.became else "")
    warn = (f'<div class="fv-warning" style="{SMALL}">\u26a0 {esc(side.warning)}</div>'
            if side.warning else "")
    return (f'<td style="{CELL}"><span style="{CHIP_TEXT}">{chip(side.fate)}</span>{became}'
            f'<div class="fv-why" style="{SMALL}">{esc(side.why)}</div>{warn}</td>')


def _row(r, labels: tuple[str, str]) -> str:
    if r.differs:
        cls, style, mark = "fv-differs", DIFFER_STYLE, '<b title="the freezers differ">\u2260</b>'
    else:
        cls, style, mark = "fv-same", "" if r.seen_by_both else ONE_SIDED_STYLE, ""
    return (f'<tr class="{cls}" data-path="{esc(r.path)}" style="{style}">'
            f'<td style="{CELL};text-align:center">{mark}</td>'
            f'<td style="{CELL};{MONO}">self.{esc(r.path)}</td>'
            f'<td style="{CELL}">{esc(r.kind)}</td>'
            f"{_side_cell(r.left, labels[0])}{_side_cell(r.right, labels[1])}</tr>")


def _warnings(cmp) -> str:
    if not cmp.warnings:
        return ""
    items = "".join(f'<li style="white-space:pre-wrap">{esc(w)}</li>' for w in cmp.warnings)
    return f'<details class="fv-warnings"><summary>Warnings ({len(cmp.warnings)})</summary><ul>{items}</ul></details>'


def comparison_html(cmp) -> str:
    """The comparison as one ``<div>``: a summary line, the table, the freezers' warnings."""
    labels = cmp.labels
    head = "".join(f'<th style="{CELL};text-align:left">{esc(h)}</th>'
                   for h in ("", "attribute", "kind", *labels))
    rows = "".join(_row(r, labels) for r in cmp.rows)
    n = len(cmp.differences())
    note = (f"{n} of {len(cmp.rows)} attributes differ (marked \u2260). {ABSENT}: the freezer "
            "does not see that attribute.")
    return (f'<div class="fv-sidebyside"><p><b>{esc(cmp.module_name)}</b>: {esc(labels[0])} '
            f"vs {esc(labels[1])}. {esc(note)}</p>"
            f'<table class="fv-table fv-sbs" style="border-collapse:collapse">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            f"{_warnings(cmp)}</div>")


PAGE_CSS = """body { margin: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  Helvetica, Arial, sans-serif; color: #111827; background: #fff; }
.fv-chip { display: inline-block; border: 1px solid; border-radius: 999px; padding: 0 8px;
  font-size: 12px; white-space: nowrap; }
"""


def comparison_page(cmp) -> str:
    """A whole page around :func:`comparison_html`; it loads and runs nothing."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    title = f"freezeviz: {cmp.module_name}, {cmp.labels[0]} vs {cmp.labels[1]}"
    return (page_head(title, csp, PAGE_CSS) + f"<main>{comparison_html(cmp)}</main>\n"
            "</body>\n</html>\n")
