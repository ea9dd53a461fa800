"""The self-contained HTML report of one freeze: ``render_html`` and ``write_report``.

One file that works offline: every script, style and drawing is inside it and a
Content-Security-Policy forbids loading anything. Text from the model (names, types, string
constants, code) is escaped with :func:`html.escape`; drawings live in ``<template>``
elements (inert until the report's own script clones them), the data the script needs is a
JSON block with ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes, and the script
itself is allowed by its hash only, so nothing from the model can ever run.

Drawings: each distinct graph is laid out once (stages that left the graph unchanged share
their predecessor's snapshot object, so they share its SVG); the default before/after pair of
each method is drawn a second time with diff colours. Other pairs get diff colours in the
browser, by node id (ids are stable across stages, see :func:`freezeviz.data.diff.node_key`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from freezeviz.data.fates import Fate
from freezeviz.render import styles as S
from freezeviz.web import asset

__all__ = ["render_html", "write_report"]

_HERE = Path(__file__).resolve().parent
TEXT_LIMIT = 80_000  # characters of one text block (alias dump, log, code)
DIFF_LINE_LIMIT = 1_500  # lines of one stage's text diff
DOT = " \u00b7 "
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_DANGER = re.compile(r"<(?=/?\s*(script|style|template|iframe|object|embed|foreignobject|link|meta"
                     r"|base|img|image|use|animate|set|handler|listener)\b)", re.IGNORECASE)


# --- escaping ----------------------------------------------------------------------------------

def esc(text: object) -> str:
    """Text for HTML (element content or a quoted attribute): escaped, no control characters."""
    return html.escape(_BAD.sub("\ufffd", "" if text is None else str(text)), quote=True)


def _json_for_script(data: object) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&``."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def inline_svg(svg: str) -> str:
    """Graphviz SVG made fit to sit inside HTML: no XML prologue or comments, and no tag
    that could run or load anything (graphviz escapes text, so none should be there)."""
    start = svg.find("<svg")
    if start < 0:
        return _placeholder("not an SVG drawing")
    svg = _BAD.sub("\ufffd", svg[start:])
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = _DANGER.sub("&lt;", svg)
    svg = re.sub(r"\s(?:xlink:)?href\s*=\s*\"[^\"]*\"", "", svg)
    svg = re.sub(r"\son[a-z]+\s*=\s*\"[^\"]*\"", "", svg, flags=re.IGNORECASE)
    return svg.strip()


def _placeholder(text: str) -> str:
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="520" height="40" class="fv-empty">'
            f'<text x="8" y="24" font-family="sans-serif" font-size="13">{esc(text)}</text></svg>')


def _truncate(text: str, limit: int = TEXT_LIMIT) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


# --- drawings ----------------------------------------------------------------------------------

def _same_drawing(prev, st) -> bool:
    """A stage that did not change the graph draws like the one before it. Usually the
    snapshot is the very same object; when a pass only renumbered values it is a new one."""
    if prev.graph is st.graph:
        return True
    if st.changed or prev.graph.count() != st.graph.count():
        return False
    return [n.kind for n in prev.graph.iter_nodes()] == [n.kind for n in st.graph.iter_nodes()]


def stage_description(report, st) -> str:
    """The stage's description; a later round of a pass loop borrows the first round's."""
    if st.description and st.description != st.name:
        return st.description
    if st.pass_name:
        first = next((s for s in report.stages if s.pass_name == st.pass_name
                      and s.description and s.description != s.name), None)
        if first is not None:
            return (f"{first.description.rstrip('.')} (round {st.iteration or 2} of the folding "
                    "loop).")
    return st.description or st.name


class _Drawings:
    """Every SVG the report embeds, laid out in parallel."""

    def __init__(self, report, timeout: float | None):
        self.report = report
        self.timeout = timeout
        self.graphs: list[dict] = []  # one per distinct graph object
        self.graph_of: dict[int, int] = {}  # stage index -> graph index
        self.diffs: dict[str, dict[str, str]] = {}  # "ga:gb" -> {"before": tpl, "after": tpl}
        self.views: list[tuple[str, object]] = []  # (template id, GraphView or Exception)
        self.svgs: dict[str, str] = {}
        self.messages: dict[str, str | None] = {}
        self.defaults: dict[str, int] = {}
        self.errors: list[str] = []
        by_id: dict[int, int] = {}
        last: dict[str, int] = {}  # method -> index of its latest stage
        for i, st in enumerate(report.stages):
            gi = by_id.get(id(st.graph))
            prev = last.get(st.method)
            if gi is None and prev is not None and _same_drawing(report.stages[prev], st):
                gi = by_id[id(st.graph)] = self.graph_of[prev]
            if gi is None:
                gi = by_id[id(st.graph)] = len(self.graphs)
                self.graphs.append({"stage": st, "index": i, "labels": []})
            self.graphs[gi]["labels"].append(st.label)
            self.graph_of[i] = gi
            last[st.method] = i

    def plan(self) -> None:
        rep, stages = self.report, self.report.stages
        for gi, g in enumerate(self.graphs):
            self._add(f"fv-g{gi}", lambda st=g["stage"]: rep.draw(
                st, method=st.method, title=None, timeout=self.timeout))
        methods = list(dict.fromkeys(s.method for s in stages))
        for m in methods:
            idx = [i for i, s in enumerate(stages) if s.method == m]
            before = next((i for i in idx if stages[i].name == "inlined"), idx[0])
            after = idx[-1]
            if m == methods[0]:
                self.defaults = {"before": before, "after": after}
            ga, gb = self.graph_of[before], self.graph_of[after]
            if ga == gb:
                continue
            sa, sb = stages[before], stages[after]
            ta, tb = f"fv-d{ga}-{gb}-b", f"fv-d{ga}-{gb}-a"
            self._add(ta, lambda sa=sa, sb=sb, m=m: rep.draw(
                sa, method=m, diff_against=sb, title=None, timeout=self.timeout))
            self._add(tb, lambda sa=sa, sb=sb, m=m: rep.draw(
                sb, method=m, diff_against=sa, title=None, timeout=self.timeout))
            self.diffs[f"{ga}:{gb}"] = {"before": ta, "after": tb}

    def _add(self, tpl: str, make: Callable[[], object]) -> None:
        try:
            view = make()
        except Exception as exc:  # noqa: BLE001 (a drawing never takes the report down)
            view = exc
        self.views.append((tpl, view))

    def layout(self, workers: int | None = None) -> None:
        def run(item):
            tpl, view = item
            if isinstance(view, Exception):
                return tpl, None, f"could not draw this graph: {view}"
            try:
                return tpl, view.svg, view.message
            except Exception as exc:  # noqa: BLE001
                return tpl, None, f"could not draw this graph: {exc}"

        workers = workers or max(1, min(4, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, self.views))
        for tpl, svg, message in results:
            if svg is None:
                self.errors.append(message or "could not draw a graph")
                svg = _placeholder(message or "could not draw this graph")
            self.svgs[tpl] = inline_svg(svg)
            self.messages[tpl] = message

    def data(self) -> dict:
        stages = []
        for i, st in enumerate(self.report.stages):
            stages.append({
                "label": st.label, "name": st.name, "method": st.method,
                "description": stage_description(self.report, st), "changed": bool(st.changed),
                "ms": round(st.seconds * 1000, 1) if st.seconds else None,
                "nodes": st.graph.count(), "graph": self.graph_of[i],
            })
        graphs = [{"tpl": f"fv-g{gi}", "stages": g["labels"],
                   "message": self.messages.get(f"fv-g{gi}")} for gi, g in enumerate(self.graphs)]
        return {"module": self.report.module_name, "stages": stages, "graphs": graphs,
                "diffs": self.diffs, "defaults": self.defaults}


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
              "stroke-width: 3.5px; }")]
    for fate in Fate:
        fill, border = S.FATE_COLORS[fate]
        lines.append(f".fv-chip.{S.fate_class(fate)} {{ background: {fill}; border-color: {border}; }}")
    return "\n".join(lines)


def _chip(fate: Fate, *, button: bool = False, count: int | None = None) -> str:
    label = esc(fate.label) + (f" <b>{count}</b>" if count is not None else "")
    cls = f"fv-chip {S.fate_class(fate)}"
    if button:
        return (f'<button type="button" class="{cls} fv-fate-toggle" data-fate="{esc(fate.value)}" '
                f'aria-pressed="true" title="show or hide: {esc(fate.value)}">{label}</button>')
    return f'<span class="{cls}" title="{esc(fate.value)}">{label}</span>'


def _src(loc) -> str:
    if loc is None:
        return ""
    return f'<span class="fv-src" title="{esc(str(loc))}">{esc(loc.short)}</span>'


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
<span class="fv-zoom"><button type="button" class="fv-zout" title="zoom out">\u2212</button>
<button type="button" class="fv-zin" title="zoom in">+</button>
<button type="button" class="fv-fit" title="fit the whole graph">Fit</button>
<button type="button" class="fv-one" title="actual size">1:1</button></span></div>
<div class="fv-view"><div class="fv-canvas"></div><span class="fv-zoomlabel"></span></div>
<div class="fv-foot"></div>
</div>"""

    from freezeviz.render import legend

    try:
        legend_svg = inline_svg(legend().svg)
    except Exception as exc:  # noqa: BLE001
        legend_svg = _placeholder(f"no legend: {exc}")
    errors = "".join(f"<li>{esc(e)}</li>" for e in dict.fromkeys(d.errors))
    errors = f'<ul class="fv-attr-warn">{errors}</ul>' if errors else ""
    body = f"""<p class="fv-note">Pick a stage in each pane. \u25cf marks the stages that changed the
graph; stages that left it unchanged show the same drawing. Green nodes are new in the right pane,
red dashed ones are gone from the left pane.</p>
<div class="fv-panes">{pane("before", "Before")}{pane("after", "After")}</div>
<noscript><p class="fv-attr-warn">The graph panes need JavaScript (the report's own script;
nothing is loaded from the network).</p></noscript>
<div class="fv-graphopts"><label><input type="checkbox" id="fv-diff" checked> colour differences</label>
<span class="fv-diffcount"></span><span class="fv-graphmsg fv-small"></span></div>
<div class="fv-graphopts"><span class="fv-hint">Drag to pan \u00b7 wheel to scroll \u00b7
Ctrl+wheel or double-click to zoom \u00b7 click a node to find it in the other pane \u00b7 click an
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
    changed = [s for s in report.stages if s.changed]
    return _section("stages", "Stages", table + check,
                    sub=f"{len(changed)} of {len(report.stages)} changed the graph")


def _attributes_section(report) -> str:
    counts: dict[Fate, int] = {}
    for a in report.attributes:
        counts[a.fate] = counts.get(a.fate, 0) + 1
    toggles = "".join(_chip(f, button=True, count=counts[f]) for f in Fate if f in counts)
    rows = []
    for a in report.attributes:
        ev = []
        for e in a.evidence:
            code = e.code
            line = f'<span class="fv-line">{esc(code)}</span>' if code else ""
            ev.append(f"<li>in <code>{esc(e.method)}()</code>: <code>{esc(e.kind)}</code> "
                      f"{esc(e.description)} {_src(e.source)}{line}</li>")
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
            f'<td class="fv-type">{esc(a.type)}</td><td>{_chip(a.fate)}{extra_html}</td>'
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
    if report.methods:
        items = []
        for m in report.methods:
            state = ("kept" if m.kept else "removed") + (", preserved" if m.preserved else "")
            items.append(f"<code>{esc(m.name)}()</code> <span class=\"fv-small\">{state}</span>")
        methods = '<p class="fv-note">Methods: ' + " \u00b7 ".join(items) + "</p>"
    log = ""
    if report.log:
        log = ('<details class="fv-block"><summary>The freezer\'s own log (JIT_LOG of '
               f'freeze_module, {len(report.log):,} lines)</summary>'
               f'{_pre(chr(10).join(report.log), light=True)}</details>')
    return _section("attributes", "Attributes", bar + table + methods + log,
                    sub=f"{len(report.attributes)} attributes and submodules")


def _alias_section(report) -> str:
    if not report.alias:
        return _section("alias", "Alias analysis",
                        '<p class="fv-empty-note">No alias analysis was recorded.</p>')
    parts = [('<p class="fv-note">The freezer keeps an attribute as module state when alias '
              "analysis finds a write to it (or to a value that may alias it). These are the "
              "writers it found in each analysed graph.</p>")]
    for info in report.alias:
        if info.writers:
            rows = "".join(
                f"<tr><td class=\"mono\">%{esc(w.value)}</td><td class=\"fv-path\">self.{esc(w.attribute)}</td>"
                f"<td class=\"mono\">{esc(w.writer)}</td><td>{_src(w.source)}</td></tr>"
                for w in info.writers)
            table = ("<table class=\"fv-table\"><thead><tr><th>value read from state</th>"
                     "<th>attribute</th><th>writer</th><th>where</th></tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
        else:
            table = '<p class="fv-empty-note">No writes to module state.</p>'
        dump = (f'<details class="fv-block"><summary>torch\'s AliasDb dump</summary>'
                f'{_pre(info.dot, light=True)}</details>') if info.dot else ""
        parts.append(f'<h3 class="mono">{esc(info.graph)}</h3>{table}{dump}')
    writers = sum(len(i.writers) for i in report.alias)
    return _section("alias", "Alias analysis", "".join(parts),
                    sub=f"{writers} writer{'s' if writers != 1 else ''} in {len(report.alias)} graph"
                        f"{'s' if len(report.alias) != 1 else ''}")


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return "0" if x == 0 else f"{x:.3g}"


def _numerics_section(report) -> str:
    if not report.numerics:
        return ""
    rows = []
    for n in report.numerics:
        bad = n.max_rel > 1e-4 or n.max_abs > 1e-4
        style = ' style="background:#fff7ed"' if bad else ""
        rows.append(f"<tr{style}><td class=\"mono\">{esc(n.method)}</td><td class=\"mono\">"
                    f"{esc(n.stage)}</td><td class=\"fv-num\">{_fmt(n.max_abs)}</td>"
                    f"<td class=\"fv-num\">{_fmt(n.max_rel)}</td></tr>")
    table = ("<table class=\"fv-table\" style=\"max-width:720px\"><thead><tr><th>method</th>"
             "<th>stage</th><th>max abs diff</th><th>max rel diff</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
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
                     f"{_pre(final.code or '(no code)')}")
        if first is not final and first.code:
            parts.append(f'<details class="fv-block"><summary>{esc(m)}() as scripted, before '
                         f"freezing</summary>{_pre(first.code)}</details>")
    return _section("code", "Code", "".join(parts), sub="what the frozen module runs")


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
        lines = text.splitlines()
        plus = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
        minus = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
        cut = len(lines) > DIFF_LINE_LIMIT
        out = []
        for line in lines[:DIFF_LINE_LIMIT]:
            cls = ("fv-hunk" if line.startswith("@@") else "fv-add" if line.startswith("+")
                   else "fv-del" if line.startswith("-") else "")
            out.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
        note = (f'<div class="fv-trunc">Showing the first {DIFF_LINE_LIMIT:,} of {len(lines):,} '
                "lines.</div>" if cut else "")
        parts.append(f'<details class="fv-block"><summary><span class="mono">{esc(st.label)}</span> '
                     f'vs {esc(prev.label)}: <span class="fv-small">+{plus} \u2212{minus} lines'
                     f'</span></summary><pre class="fv-pre fv-diff">{chr(10).join(out)}</pre>'
                     f"{note}</details>")
    if not parts:
        return ""
    return _section("changes", "Graph text diffs", "".join(parts),
                    sub="torch's printout of each changed stage against the stage before it")


def _header(report, d: _Drawings) -> str:
    from freezeviz import __version__

    opts = [f"preserved_attrs=<b>{esc(list(report.preserved_attrs))}</b>",
            f"optimize_numerics=<b>{report.optimize_numerics}</b>"]
    if report.optimize_for_inference:
        opts.append("optimize_for_inference=<b>True</b>")
    if report.seconds:
        opts.append(f"froze in <b>{report.seconds:.2f} s</b>")
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__version__", None):
        opts.append(f"torch <b>{esc(torch.__version__)}</b>")
    opts.append(f"freezeviz <b>{esc(__version__)}</b>")
    nav = [("graphs", "Graphs", len(report.stages)), ("stages", "Stages", None),
           ("attributes", "Attributes", len(report.attributes)), ("alias", "Alias analysis", None)]
    if report.numerics:
        nav.append(("numerics", "Numerics", None))
    nav.append(("code", "Code", None))
    if any(s.changed for s in report.stages[1:]):
        nav.append(("changes", "Text diffs", None))
    if report.warnings:
        nav.insert(0, ("warnings", "Warnings", len(report.warnings)))
    nav.append(("repro", "Repro", None))
    links = "".join(f'<a href="#{k}">{t}'
                    f'{f"<span class=fv-count>{n}</span>" if n is not None else ""}</a>'
                    for k, t, n in nav)
    return f"""<header class="fv-top"><div class="fv-brand">freezeviz \u00b7 what torch.jit.freeze did</div>
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
                timeout: float | None = 10.0, workers: int | None = None) -> str:
    """The whole report as one HTML document (a string).

    ``progress`` is called with a short line before slow steps (drawing). ``timeout`` is the
    layout time limit of one drawing (see :func:`freezeviz.render.draw`)."""
    t0 = time.perf_counter()
    d = _Drawings(report, timeout)
    if progress:
        n = len(report.stages)
        progress(f"drawing {n} stage{'s' if n != 1 else ''} ({len(d.graphs)} distinct "
                 f"graph{'s' if len(d.graphs) != 1 else ''}) ...")
    d.plan()
    d.layout(workers)
    script = _asset("report.js")
    if re.search(r"</script", script, re.IGNORECASE):  # our own file; never true
        raise ValueError("report.js must not contain '</script'")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    css = _asset("report.css").replace("/*FV-GENERATED-CSS*/", _generated_css())
    templates = "\n".join(f'<template id="{tpl}">{svg}</template>' for tpl, svg in d.svgs.items())
    body = "\n".join(part for part in (
        _warnings_section(report), _graphs_section(d, report) if report.stages else "",
        _stages_section(report, d),
        _attributes_section(report), _alias_section(report), _numerics_section(report),
        _code_section(report), _changes_section(report), _repro_section(report)) if part)
    seconds = time.perf_counter() - t0
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="freezeviz">
<title>freezeviz: {esc(report.module_name)}</title>
<style>
{css}
</style>
</head>
<body>
{_header(report, d)}
<main>
{body}
</main>
<footer>Made by freezeviz from torch.jit.freeze run stage by stage; drawings laid out by Graphviz in
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
                 timeout: float | None = 10.0) -> str:
    """Write :func:`render_html` of ``report`` to ``path`` (folders made as needed); returns
    the path."""
    path = os.fspath(path)
    text = render_html(report, progress=progress, timeout=timeout)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path
