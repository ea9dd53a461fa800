"""The self-contained HTML report of one freeze: ``render_html`` and ``write_report``.

One file that works offline: every script, style and drawing is inside it and a
Content-Security-Policy forbids loading anything. Text from the model (names, types, string
constants, code) is escaped with :func:`html.escape`; drawings live in ``<template>``
elements (inert until the report's own script clones them), the data the script needs is a
JSON block with ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes, and the script
itself is allowed by its hash only, so nothing from the model can ever run.

Drawings come from :mod:`.drawings`, each with its node map; pairs other than the default
ones get diff colours in the browser from the node maps (node keys are stable across stages,
see :func:`freezeviz.data.diff.node_key`). The page's script is the drawing core shared with
the notebook widget (``web/graph.js``) followed by ``web/report.js``; shared HTML pieces
come from :mod:`.fragments`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from freezeviz.data.fates import Fate
from freezeviz.data.report import duration_text
from freezeviz.render import styles as S
from freezeviz.render.drawings import Drawings as _Drawings
from freezeviz.render.drawings import stage_description
from freezeviz.render import words as W
from freezeviz.render.fragments import (
    alias_table,
    chip,
    diff_html,
    page_head,
    esc,
    inline_svg,
    numerics_table,
    placeholder_svg,
    source_html,
)
from freezeviz.web import asset

__all__ = ["render_html", "write_report"]

_HERE = Path(__file__).resolve().parent
TEXT_LIMIT = 80_000  # characters of one text block (alias dump, log, code)
DOT = " \u00b7 "

# --- escaping ----------------------------------------------------------------------------------

def _json_for_script(data: object) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&``."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


LAZY_MIN = 40_000  # characters of HTML from which a block is stored gzip'd, unpacked on use


def _lazy(body: str) -> str:
    """``body`` as is when small; else gzip'd and base64'd in a ``data-z`` attribute that
    report.js unpacks when the page starts (or when its ``<details>`` first opens): big
    attribute tables and text diffs cost a tenth of their size in the file."""
    if len(body) < LAZY_MIN:
        return body
    packed = base64.b64encode(gzip.compress(body.encode("utf-8"), mtime=0)).decode("ascii")
    return f'<div class="fv-lazy" data-z="{packed}"><p class="fv-note">Unpacking\u2026</p></div>'


def _truncate(text: str, limit: int = TEXT_LIMIT) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


# --- drawings ----------------------------------------------------------------------------------

# --- page pieces -------------------------------------------------------------------------------

def _generated_css() -> str:
    """Diff and highlight colours for marks made in the browser, taken from styles.py."""
    def rule(cls: str, style: dict[str, str], dashed: bool = False) -> str:
        shape = f".fv-view g.node.{cls} :is(polygon, path, ellipse)"
        parts = []
        if "fillcolor" in style:
            parts.append(f"fill: {style['fillcolor']}")
        if "color" in style:
            parts.append(f"stroke: {style['color']}")
        if "penwidth" in style:
            parts.append(f"stroke-width: {style['penwidth']}px")
        if dashed:
            parts.append("stroke-dasharray: 5 3")
        out = f"{shape} {{ {'; '.join(parts)}; }}"
        if "fontcolor" in style:
            out += f"\n.fv-view g.node.{cls} text {{ fill: {style['fontcolor']}; }}"
        return out

    hl = S.HIGHLIGHT
    lines = [rule("fvx-added", S.ADDED), rule("fvx-removed", S.REMOVED, dashed=True),
             (f".fv-view g.node.fvx-hl :is(polygon, path, ellipse) {{ stroke: {hl['color']}; "
              f"stroke-width: {hl['penwidth']}px; }}"),
             (".fv-view g.node.fvx-sel :is(polygon, path, ellipse) { stroke: #0ea5e9; "
              "stroke-width: 3.5px; }"),
             (".fv-view g.node.fvx-hover :is(polygon, path, ellipse) { stroke: #c026d3; "
              "stroke-width: 3px; }"),
             ".fv-foot.fv-linkmsg { border-top: 0; color: #86198f; }",
             _legend_by_fate_css()]
    for fate in Fate:
        fill, border = S.FATE_COLORS[fate]
        lines.append(f".fv-chip.{S.fate_class(fate)} {{ background: {fill}; border-color: {border}; }}")
    return "\n".join(lines)


def _legend_by_fate_css() -> str:
    """Coloured by fate, the panes show no diff marks: the legend without the diff rows is
    shown instead of the whole one (hiding rows would leave their space)."""
    return (".fv-legend-fate { display: none; } .fv-by-fate .fv-legend-fate { display: block; }"
            " .fv-by-fate .fv-legend-change { display: none; }")


def _section(ident: str, title: str, body: str, sub: str = "", cls: str = "") -> str:
    sub = f'<span class="fv-sub">{sub}</span>' if sub else ""
    cls = f' class="{cls}"' if cls else ""
    return f'<section id="{ident}"{cls}><h2>{esc(title)}{sub}</h2>\n{body}\n</section>'


def _pre(text: str, ident: str | None = None, light: bool = False, copy: bool = False) -> str:
    text, cut = _truncate(text)
    ident_attr = f' id="{ident}"' if ident else ""
    cls = "fv-pre fv-light" if light else "fv-pre"
    btn = (f'<button type="button" class="fv-btn fv-copy" data-target="{ident}">Copy</button>'
           if copy and ident else "")
    note = f'<div class="fv-trunc">Cut at {TEXT_LIMIT:,} characters.</div>' if cut else ""
    return f"{btn}<pre class=\"{cls}\"{ident_attr}>{esc(text)}</pre>{note}"


def _graphs_section(d: _Drawings, report) -> str:
    options = []
    methods = list(dict.fromkeys(s.method for s in report.stages))
    last = {s.method: i for i, s in enumerate(report.stages)}
    for m in methods:
        group = []
        for i, st in enumerate(report.stages):
            if st.method != m:
                continue
            mark = "\u25cf " if st.changed else "\u00a0\u00a0\u00a0"
            final = " (final)" if i == last[m] else ""
            group.append(f'<option value="{i}">{mark}{esc(st.name)} \u2014 '
                         f'{st.graph.count():,} nodes{final}</option>')
        options.append(f'<optgroup label="{esc(m)}()">{"".join(group)}</optgroup>'
                       if len(methods) > 1 else "".join(group))
    opts = "".join(options)

    def pane(side: str, title: str) -> str:
        return f"""<div class="fv-pane" data-side="{side}">
<div class="fv-bar"><span class="fv-side">{title}</span>
<button type="button" class="fv-prev" title="previous stage that changed the graph">\u25c0</button>
<select aria-label="{title} stage">{opts}</select>
<button type="button" class="fv-next" title="next stage that changed the graph">\u25b6</button>
<input type="search" class="fv-search" placeholder="search: op, self.attr"
 aria-label="search the {title} drawing"
 title="marks nodes whose label, key, scope or attribute contains this; Enter jumps to the next">
<span class="fv-searchcount"></span>
<span class="fv-zoom"><button type="button" class="fv-zout" title="zoom out">\u2212</button>
<button type="button" class="fv-zin" title="zoom in">+</button>
<button type="button" class="fv-fit" title="fit the whole graph">Fit</button>
<button type="button" class="fv-one" title="actual size">1:1</button></span></div>
<div class="fv-view"><div class="fv-canvas"></div><span class="fv-zoomlabel"></span></div>
<div class="fv-foot"></div>
</div>"""

    from freezeviz.render import legend

    try:
        legend_svg = (f'<div class="fv-legend-change">{inline_svg(legend().svg)}</div>'
                      f'<div class="fv-legend-fate">{inline_svg(legend(diff=False).svg)}</div>')
    except Exception as exc:  # noqa: BLE001
        legend_svg = placeholder_svg(f"no legend: {exc}")
    errors = "".join(f"<li>{esc(e)}</li>" for e in dict.fromkeys(d.errors))
    errors = f'<ul class="fv-attr-warn">{errors}</ul>' if errors else ""
    body = f"""<p class="fv-note">Pick a stage in each pane. \u25cf marks the stages that changed the
graph; stages that left it unchanged show the same drawing. Coloured by change, green nodes are new
in the right pane and purple dashed ones are gone from the left pane; coloured by fate, constants and
attributes show only their attribute's fate.</p>
<nav class="fv-crumbs" aria-label="opened modules" hidden></nav>
<div class="fv-panes">{pane("before", "Before")}{pane("after", "After")}</div>
<noscript><p class="fv-attr-warn">The graph panes need JavaScript (the report's own script;
nothing is loaded from the network).</p></noscript>
<div class="fv-graphopts"><span class="fv-colourby" role="radiogroup" aria-label="colour the nodes by">
Colour by <label title="green: added by the step, purple dashed: removed by it; fates elsewhere">
<input type="radio" name="fv-colour" id="fv-colour-change" value="change" checked> change</label>
<label title="each attribute's fate only; no diff marks">
<input type="radio" name="fv-colour" id="fv-colour-fate" value="fate"> fate</label></span>
<span class="fv-diffcount"></span><span class="fv-graphmsg fv-small"></span></div>
<div class="fv-graphopts"><span class="fv-hint">Drag to pan \u00b7 wheel or double-click to
zoom \u00b7 \u2295 (or double-click) opens a module or check, \u2296 closes it \u00b7
search marks matching nodes (Enter jumps) \u00b7 click a node to find it in the other pane \u00b7 click an
attribute in the table below to highlight it \u00b7 hover a node for details</span></div>
{errors}
<details class="fv-legend"><summary>Legend</summary><div class="fv-legend-body">{legend_svg}</div></details>"""
    return _section("graphs", "Graphs", body,
                    sub=f"{len(report.stages)} stages, {len(d.graphs)} distinct graphs")


def _stages_section(report, d: _Drawings) -> str:
    rows = []
    for i, st in enumerate(report.stages):
        ms = f"{st.seconds * 1000:,.1f}" if st.seconds else "\u2013"
        changed = '<span class="fv-yes">yes</span>' if st.changed else "no"
        cls = "" if st.changed else ' class="fv-unchanged"'
        first = not any(s.method == st.method for s in report.stages[:i])
        if st.changed and not first:
            button = (f'<button type="button" class="fv-btn fv-row-btn fv-compare" data-stage="{i}" '
                      'title="show this stage (right) against the stage before it (left)">'
                      "compare</button>")
        else:
            button = (f'<button type="button" class="fv-btn fv-row-btn fv-show" data-stage="{i}" '
                      'title="show this stage in the right pane">show</button>')
        rows.append(
            f"<tr{cls}><td class=\"fv-num\">{i}</td><td class=\"mono\">{esc(st.method)}</td>"
            f"<td class=\"mono\">{esc(st.name)}</td><td>{esc(stage_description(report, st))}</td>"
            f"<td>{changed}</td><td class=\"fv-num\">{ms}</td>"
            f"<td class=\"fv-num\">{st.graph.count():,}</td><td>{button}</td></tr>")
    table = ("<div class=\"fv-scroll\"><table class=\"fv-table\"><thead><tr><th>#</th><th>method</th>"
             "<th>stage</th><th>what it does</th><th>changed</th><th>ms</th><th>nodes</th><th></th>"
             f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    check = f'<p class="fv-note">Check: {esc(report.passes_check)}</p>' if report.passes_check else ""
    changed = report.changed_stages()
    return _section("stages", "Stages", table + check,
                    sub=f"{len(changed)} of {len(report.stages)} changed the graph")


def _attributes_section(report) -> str:
    counts: dict[Fate, int] = {}
    for a in report.attributes:
        counts[a.fate] = counts.get(a.fate, 0) + 1
    toggles = "".join(chip(f, button=True, count=counts[f]) for f in Fate if f in counts)
    rows = []
    for a in report.attributes:
        ev = []
        for e in a.evidence:
            code = e.code
            line = f'<span class="fv-line">{esc(code)}</span>' if code else ""
            ev.append(f"<li>in <code>{esc(e.method)}()</code>: <code>{esc(e.kind)}</code> "
                      f"{esc(e.description)} {source_html(e.source)}{line}</li>")
        evidence = f'<ul class="fv-evidence">{"".join(ev)}</ul>' if ev else ""
        extra = []
        if a.constant:
            extra.append(f"constant <code>{esc(a.constant)}</code>")
        if a.folded_by:
            extra.append(f"folded by <code>{esc(a.folded_by)}</code>")
        extra_html = f'<div class="fv-small">{DOT.join(extra)}</div>' if extra else ""
        warn = f'<div class="fv-attr-warn">\u26a0 {esc(a.warning)}</div>' if a.warning else ""
        rows.append(
            f'<tr class="fv-attr-row" data-path="{esc(a.path)}" data-fate="{esc(a.fate.value)}" '
            f'title="click to highlight in the graphs">'
            f'<td class="fv-path">self.{esc(a.path)}</td><td>{esc(a.kind)}</td>'
            f'<td class="fv-type">{esc(a.type)}</td><td>{chip(a.fate)}{extra_html}</td>'
            f'<td class="fv-why">{esc(a.why)}{evidence}{warn}</td></tr>')
    if not rows:
        return _section("attributes", "Attributes",
                        '<p class="fv-empty-note">This module has no attributes.</p>')
    bar = (f'<div class="fv-fatebar"><input type="search" id="fv-attr-filter" '
           f'placeholder="filter attributes\u2026" aria-label="filter attributes">{toggles}'
           f'<span class="fv-small fv-attr-shown"></span></div>')
    table = ('<div class="fv-scroll"><table class="fv-table"><thead><tr><th>attribute</th><th>kind</th>'
             '<th>type</th><th>fate</th><th>why</th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table></div>')
    methods = ""
    if W.shows_methods(report):
        items = []
        for m in report.methods:
            state = ("kept" if m.kept else "removed") + (", preserved" if m.preserved else "")
            items.append(f"<code>{esc(m.name)}()</code> <span class=\"fv-small\">{state}</span>")
        methods = '<p class="fv-note">Methods: ' + " \u00b7 ".join(items) + "</p>"
    log = ""
    if report.log:
        log = (f'<details class="fv-block"><summary>{esc(W.phrase(report, "log", n=f"{len(report.log):,}"))}'
               '</summary>'
               f'{_pre(chr(10).join(report.log), light=True)}</details>')
    return _section("attributes", "Attributes", bar + _lazy(table) + methods + log,
                    sub=f"{len(report.attributes)} attributes and submodules")


def _alias_section(report) -> str:
    if not W.has_alias_analysis(report):
        return ""
    if not report.alias:
        return _section("alias", "Alias analysis",
                        '<p class="fv-empty-note">No alias analysis was recorded.</p>')
    parts = [('<p class="fv-note">The freezer keeps an attribute as module state when alias '
              "analysis finds a write to it (or to a value that may alias it). These are the "
              "writers it found in each analysed graph.</p>")]
    for info in report.alias:
        table = alias_table(info.writers)
        if len(table) >= LAZY_MIN:  # thousands of writers: unpacked when asked for
            table = (f'<details class="fv-block"><summary>the {len(info.writers):,} writers'
                     f"</summary>{_lazy(table)}</details>")
        dump = (f'<details class="fv-block"><summary>torch\'s AliasDb dump</summary>'
                f'{_lazy(_pre(info.dot, light=True))}</details>') if info.dot else ""
        parts.append(f'<h3 class="mono">{esc(info.graph)}</h3>{table}{dump}')
    writers = sum(len(i.writers) for i in report.alias)
    return _section("alias", "Alias analysis", "".join(parts),
                    sub=f"{writers} writer{'s' if writers != 1 else ''} in {len(report.alias)} graph"
                        f"{'s' if len(report.alias) != 1 else ''}")


def _numerics_section(report) -> str:
    if not report.numerics:
        return ""
    table = numerics_table(report.numerics)
    note = ('<p class="fv-note">Each stage\'s graph run on the example inputs, compared with the '
            "module before freezing.</p>")
    return _section("numerics", "Numerics", note + table)


def _code_section(report) -> str:
    parts = []
    methods = list(dict.fromkeys(s.method for s in report.stages))
    for m in methods:
        final = report.final_stage(m)
        first = report.stages_of(m)[0]
        parts.append(f'<h3 class="mono">{esc(m)}() after {esc(final.name)}</h3>'
                     f"{_lazy(_pre(final.code or '(no code)'))}")
        if first is not final and first.code:
            parts.append(f'<details class="fv-block"><summary>{esc(W.phrase(report, "before", m=m))}'
                         f"</summary>{_lazy(_pre(first.code))}</details>")
    return _section("code", "Code", "".join(parts), sub=W.phrase(report, "code_sub"))


def _changes_section(report) -> str:
    parts = []
    for i, st in enumerate(report.stages):
        prev = next((s for s in reversed(report.stages[:i]) if s.method == st.method), None)
        if prev is None or not st.changed or prev.graph is st.graph:
            continue
        try:
            text = report.diff(prev, st, st.method)
        except Exception as exc:  # noqa: BLE001
            text = f"(no diff: {exc})"
        body, plus, minus = diff_html(text)
        parts.append(f'<details class="fv-block"><summary><span class="mono">{esc(st.label)}</span> '
                     f'vs {esc(prev.label)}: <span class="fv-small">+{plus} \u2212{minus} lines'
                     f"</span></summary>{_lazy(body)}</details>")
    if not parts:
        return ""
    return _section("changes", "Graph text diffs", "".join(parts),
                    sub="torch's printout of each changed stage against the stage before it")


def _header(report, d: _Drawings) -> str:
    from freezeviz import __version__

    opts = W.option_chips(report)
    if report.seconds:
        opts.append(f"froze in <b>{duration_text(report.seconds)}</b>")
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__version__", None):
        opts.append(f"torch <b>{esc(torch.__version__)}</b>")
    opts.append(f"freezeviz <b>{esc(__version__)}</b>")
    nav = [("graphs", "Graphs", len(report.stages)), ("stages", "Stages", None),
           ("attributes", "Attributes", len(report.attributes))]
    if W.has_alias_analysis(report):
        nav.append(("alias", "Alias analysis", None))
    if report.numerics:
        nav.append(("numerics", "Numerics", None))
    nav.append(("code", "Code", None))
    if report.changed_stages():
        nav.append(("changes", "Text diffs", None))
    if report.warnings:
        nav.insert(0, ("warnings", "Warnings", len(report.warnings)))
    nav.append(("repro", "Repro", None))
    links = "".join(f'<a href="#{k}">{t}'
                    f'{f"<span class=fv-count>{n}</span>" if n is not None else ""}</a>'
                    for k, t, n in nav)
    return f"""<header class="fv-top"><div class="fv-brand">freezeviz \u00b7 {esc(W.brand(report))}</div>
<h1>{esc(report.module_name)}</h1>
<p class="fv-summary">{esc(report.summary())}</p>
<div class="fv-opts">{"".join(f'<span class="fv-opt">{o}</span>' for o in opts)}</div>
<nav class="fv-nav">{links}</nav></header>"""


def _warnings_section(report) -> str:
    if not report.warnings:
        return ""
    items = "".join(f"<li>{esc(w)}</li>" for w in report.warnings)
    return _section("warnings", "Warnings", f"<ul>{items}</ul>", cls="fv-warnings")


def _repro_section(report) -> str:
    body = ('<p class="fv-note">The same freeze with torch alone:</p>'
            + _pre(report.repro(), ident="fv-repro", copy=True))
    return _section("repro", "Repro", body)


# --- the page ------------------------------------------------------------------------------------

def _asset(name: str) -> str:
    return asset(name)


def render_html(report, *, progress: Callable[[str], None] | None = None,
                timeout: float | None = 10.0, workers: int | None = None,
                detail: int | None = None) -> str:
    """The whole report as one HTML document (a string).

    ``progress`` is called with a short line before slow steps (drawing). ``timeout`` is the
    layout time limit of one drawing (see :func:`freezeviz.render.draw`). ``detail``: how
    many opened-module views the report holds, for opening boxes without a kernel (default
    :data:`~freezeviz.render.drawings.EXPANSIONS`; 0 for none)."""
    t0 = time.perf_counter()
    d = _Drawings(report, timeout)
    d.detail = d.detail if detail is None else detail
    if progress:
        n = len(report.stages)
        progress(f"drawing {n} stage{'s' if n != 1 else ''} ({len(d.graphs)} distinct "
                 f"graph{'s' if len(d.graphs) != 1 else ''}) ...")
    d.plan()
    d.layout(workers)
    # one script: the drawing core shared with the widget, then the report's own code
    script = "\n".join(['(function () {\n"use strict";', _asset("graph.js"), _asset("report_open.js"),
                        _asset("report.js"),
                        "})();"])
    if re.search(r"</script", script, re.IGNORECASE):  # our own file; never true
        raise ValueError("report.js must not contain '</script'")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    css = _asset("graph.css") + _asset("report.css").replace("/*FV-GENERATED-CSS*/",
                                                             _generated_css())
    templates = "\n".join(f'<template id="{tpl}">{svg}</template>' for tpl, svg in d.svgs.items())
    body = "\n".join(part for part in (
        _warnings_section(report), _graphs_section(d, report) if report.stages else "",
        _stages_section(report, d),
        _attributes_section(report), _alias_section(report), _numerics_section(report),
        _code_section(report), _changes_section(report), _repro_section(report)) if part)
    seconds = time.perf_counter() - t0
    return page_head(f"freezeviz: {report.module_name}", csp, css) + f"""\
{_header(report, d)}
<main>
{body}
</main>
<footer>{esc(W.phrase(report, "footer"))}; drawings laid out by Graphviz in
{seconds:.1f} s. This file loads nothing from the network.</footer>
<div id="fv-templates" hidden>
{templates}
</div>
<script type="application/json" id="fv-data">{_json_for_script(d.data())}</script>
<script>{script}</script>
</body>
</html>
"""


def write_report(report, path, *, progress: Callable[[str], None] | None = None,
                 timeout: float | None = 10.0, detail: int | None = None) -> str:
    """Write :func:`render_html` of ``report`` to ``path`` (folders made as needed); returns
    the path."""
    path = os.fspath(path)
    text = render_html(report, progress=progress, timeout=timeout, detail=detail)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path
