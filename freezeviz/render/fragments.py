"""HTML fragments every front end shows the same way: fate chips, the alias-analysis writers
table, numerics rows, coloured text diffs and the placeholder drawing.

Used by the HTML report (:mod:`.html`), the compare page and the notebook inspector. Every
piece of text from the model goes through :func:`esc`; nothing here loads or runs anything.
"""

from __future__ import annotations

import html
import math
import re

from freezeviz.data.fates import Fate
from freezeviz.render import styles as S

_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_DANGER = re.compile(r"<(?=/?\s*(script|style|template|iframe|object|embed|foreignobject|link|meta"
                     r"|base|img|image|use|animate|set|handler|listener)\b)", re.IGNORECASE)
DIFF_LINE_LIMIT = 1_500  # lines of one stage's text diff


def esc(text: object) -> str:
    """Text for HTML (element content or a quoted attribute): escaped, no control characters."""
    return html.escape(_BAD.sub("\ufffd", "" if text is None else str(text)), quote=True)


def placeholder_svg(text: str) -> str:
    """A one-line SVG standing in for a drawing that could not be made (the text says why)."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="40" class="fv-empty">'
            f'<text x="8" y="24" font-family="{S.FONT}" font-size="12">{esc(S.clean(text, 300))}'
            "</text></svg>")


def chip(fate: Fate | str | None, *, button: bool = False, count: int | None = None) -> str:
    """A fate's coloured label (a filter toggle with ``button``), with an optional count."""
    fate = S.fate_of(fate)
    if fate is None:
        return ""
    label = esc(fate.label) + (f" <b>{count:,}</b>" if count is not None else "")
    cls = f"fv-chip {S.fate_class(fate)}"
    if button:  # toggles are coloured by the stylesheet, so switching one off can grey it
        return (f'<button type="button" class="{cls} fv-fate-toggle" data-fate="{esc(fate.value)}" '
                f'aria-pressed="true" title="show or hide: {esc(fate.value)}">{label}</button>')
    fill, border = S.FATE_COLORS[fate]
    return (f'<span class="{cls}" data-fate="{esc(fate.value)}" title="{esc(fate.value)}" '
            f'style="background:{fill};border-color:{border}">{label}</span>')


def source_html(loc) -> str:
    """A source location, short, with the full one on hover."""
    if loc is None:
        return ""
    return f'<span class="fv-src" title="{esc(str(loc))}">{esc(loc.short)}</span>'


def alias_table(writers, cls: str = "fv-table") -> str:
    """The writers alias analysis found in one graph, or a line saying there are none."""
    if not writers:
        return '<p class="fv-empty-note">No writes to module state.</p>'
    rows = "".join(
        f"<tr><td>{_read_value(w)}</td><td class=\"fv-path\">self.{esc(w.attribute)}"
        f"</td><td class=\"mono\">{esc(w.writer)}</td><td>{source_html(w.source)}</td></tr>"
        for w in writers)
    return (f"<table class=\"{cls}\"><thead><tr><th>value read from state</th>"
            "<th>attribute</th><th>writer</th><th>where</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _read_value(w) -> str:
    """The value a writer writes through; a SetAttr reads none: it assigns the attribute."""
    if w.value:
        return f'<span class="mono">%{esc(w.value)}</span>'
    return '<span class="fv-empty-note">none: a new value is assigned to the attribute</span>'


def number(x: float) -> str:
    """A difference for people: 3 significant digits, and nan / inf / -inf spelled out."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "0" if x == 0 else f"{x:.3g}"


def numerics_table(numerics, cls: str = "fv-table") -> str:
    """One row per stage run on the example inputs; rows off by more than 1e-4 are tinted."""
    rows = []
    for n in numerics:
        bad = not (n.max_rel <= 1e-4 and n.max_abs <= 1e-4)  # NaN is bad too
        style = ' style="background:#fff7ed"' if bad else ""
        rows.append(f"<tr{style}><td class=\"mono\">{esc(n.method)}</td><td class=\"mono\">"
                    f"{esc(n.stage)}</td><td class=\"fv-num\">{number(n.max_abs)}</td>"
                    f"<td class=\"fv-num\">{number(n.max_rel)}</td></tr>")
    return (f"<table class=\"{cls}\" style=\"max-width:720px\"><thead><tr><th>method</th>"
            "<th>stage</th><th>max abs diff</th><th>max rel diff</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def diff_html(text: str, limit: int = DIFF_LINE_LIMIT) -> tuple[str, int, int]:
    """A unified diff as a coloured ``<pre>`` cut at ``limit`` lines: (html, added, removed)."""
    lines = text.splitlines()
    plus = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    minus = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    out = []
    for line in lines[:limit]:
        cls = ("fv-hunk" if line.startswith("@@") else "fv-add" if line.startswith("+")
               else "fv-del" if line.startswith("-") else "")
        out.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
    note = (f'<div class="fv-trunc">Showing the first {limit:,} of {len(lines):,} lines.</div>'
            if len(lines) > limit else "")
    return f'<pre class="fv-pre fv-diff">{chr(10).join(out)}</pre>{note}', plus, minus


def inline_svg(svg: str) -> str:
    """Graphviz SVG made fit to sit inside HTML: no XML prologue or comments, and no tag
    that could run or load anything (graphviz escapes text, so none should be there)."""
    start = svg.find("<svg")
    if start < 0:
        return placeholder_svg("not an SVG drawing")
    svg = _BAD.sub("\ufffd", svg[start:])
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = _DANGER.sub("&lt;", svg)
    svg = re.sub(r"\s(?:xlink:)?href\s*=\s*\"[^\"]*\"", "", svg)
    svg = re.sub(r"\son[a-z]+\s*=\s*\"[^\"]*\"", "", svg, flags=re.IGNORECASE)
    return svg.strip()


def page_head(title: str, csp: str, css: str) -> str:
    """The start of an offline freezeviz page, up to ``<body>``: its Content-Security-Policy,
    no referrer, the generator mark the CLI looks for before overwriting a file, and its CSS."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="freezeviz">
<title>{esc(title)}</title>
<style>
{css}
</style>
</head>
<body>
"""
