"""A small offline HTML page for ``freezeviz diff``: the fate changes between two versions of a
model, and for each changed attribute an excerpt of both final graphs around it.

The excerpt of a graph for an attribute is every node of the method's final stage that reads
it (``prim::GetAttr``), writes it, or is the constant it became, plus those nodes' direct
producers and users; values that come from outside the excerpt are drawn as inputs. Drawn
from snapshots alone, with the report's styles and escaping (:mod:`.html`); no script.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace

from freezeviz.data.fates import Fate
from freezeviz.data.snapshot import GraphSnapshot, ValueInfo
from freezeviz.render.fragments import chip, esc, inline_svg, page_head
from freezeviz.render.html import _asset, _generated_css, _section
from freezeviz.render.view import draw

__all__ = ["excerpt", "render_compare_page"]

_RETURN_RE = re.compile(r'(?m)^"out" \[[^\n]*\]\n')
MAX_DRAWN = 24  # changed attributes drawn; the table lists them all
PAGE_CSS = """
.fv-cmp-panes { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
@media (max-width: 1000px) { .fv-cmp-panes { grid-template-columns: 1fr; } }
.fv-cmp-pane { border: 1px solid var(--line); border-radius: 8px; min-width: 0; background: #fff; }
.fv-cmp-pane h3 { margin: 0; padding: 6px 10px; font-size: 13px; border-bottom: 1px solid var(--line);
  background: #fafafa; border-radius: 8px 8px 0 0; }
.fv-cmp-view { overflow: auto; max-height: 70vh; padding: 6px; }
.fv-cmp-view svg { max-width: 100%; height: auto; }
.fv-cmp-none { color: var(--muted); font-style: italic; padding: 10px; }
"""


def _touches(node, path: str, constant: str | None) -> bool:
    inside = (path, path + ".")
    if node.attribute is not None and (node.attribute == path or node.attribute.startswith(inside[1])):
        return True
    if any(w == path or w.startswith(inside[1]) for w in node.writes):
        return True
    if node.constant is not None:
        if any(a == path or a.startswith(inside[1]) for a in node.constant.attributes):
            return True
        return constant is not None and any(o.name == constant for o in node.outputs)
    return False


def excerpt(snapshot: GraphSnapshot, path: str, constant: str | None = None) -> GraphSnapshot | None:
    """The part of ``snapshot`` around attribute ``path`` (see the module's docstring), or
    None when no node touches it. ``constant``: the debug name of the constant it became."""
    hits = [n for n in snapshot.iter_nodes() if _touches(n, path, constant)]
    if not hits:
        return None
    chosen = {n.id for n in hits}
    for node in hits:
        for value in node.inputs:
            producer = snapshot.producer(value)
            if producer is not None:
                chosen.add(producer.id)
        for out in node.outputs:
            chosen.update(u.id for u in snapshot.users(out.name))
    nodes = [replace(n, blocks=()) for n in snapshot.iter_nodes() if n.id in chosen]
    produced = {o.name for n in nodes for o in n.outputs}
    inputs: dict[str, ValueInfo] = {}
    for node in nodes:
        for value in node.inputs:
            if value not in produced and value not in inputs:
                inputs[value] = snapshot.value(value) or ValueInfo(value, "?")
    outputs = tuple(v for v in snapshot.outputs if v in produced)
    return GraphSnapshot(snapshot.method, tuple(inputs.values()), outputs, tuple(nodes), text="")


def _pane(report, side: str, change, timeout: float | None) -> str:
    info = next((a for a in report.attributes if a.path == change.path), None)
    drawn = []
    for method in dict.fromkeys(s.method for s in report.stages):
        final = report.final_stage(method)
        part = excerpt(final.graph, change.path, info.constant if info else None)
        if part is None:
            continue
        # a static excerpt: no box can be opened here, so no module overview either
        view = draw(part, fates=report.fates, highlight=[change.path], node_budget=120,
                    overview=None, timeout=timeout, title=f"{method}(), final graph: around self.{change.path}")
        if not part.outputs:  # the excerpt returns nothing: a lone "return" box would mislead
            view.source = _RETURN_RE.sub("", view.source)
        drawn.append(f'<div class="fv-cmp-view">{inline_svg(view.svg)}</div>')
    if info is None:
        body = f'<p class="fv-cmp-none">This version has no attribute self.{esc(change.path)}.</p>'
    elif not drawn:
        body = (f'<p class="fv-cmp-none">No node of the final graphs reads or writes '
                f'self.{esc(change.path)}: {esc(info.fate.label)}. {esc(info.why)}</p>')
    else:
        body = "".join(drawn)
    fate = chip(info.fate) if info is not None else "absent"
    return f'<div class="fv-cmp-pane"><h3>{esc(side)}: {fate}</h3>{body}</div>'


def _table(changes) -> str:
    def fate(value) -> str:
        return chip(Fate(value)) if value else "<i>absent</i>"

    rows = "".join(f'<tr><td class="fv-path"><a href="#c{i}">self.{esc(c.path)}</a></td>'
                   f"<td>{fate(c.old)}</td><td>{fate(c.new)}</td><td class=\"fv-why\">{esc(c.why)}</td></tr>"
                   for i, c in enumerate(changes))
    return ('<div class="fv-scroll"><table class="fv-table"><thead><tr><th>attribute</th>'
            f"<th>was</th><th>now</th><th>why (now)</th></tr></thead><tbody>{rows}</tbody></table></div>")


def render_compare_page(old, new, changes, *, old_name: str, new_name: str,
                        progress: Callable[[str], None] | None = None,
                        timeout: float | None = 10.0) -> str:
    """The page (a string) for two FreezeReports and their :class:`~freezeviz.data.baseline.FateChanges`."""
    t0 = time.perf_counter()
    drawn = list(changes)[:MAX_DRAWN]
    if progress and drawn:
        progress(f"drawing the graphs around {len(drawn)} changed attribute"
                 f"{'s' if len(drawn) != 1 else ''} ...")
    parts = [_section("changes", "Fate changes", _table(changes),
                      sub=f"{len(changes)} of {len(changes.pairs)} attributes")]
    for i, c in enumerate(drawn):
        panes = (_pane(old, f"was ({old_name})", c, timeout) + _pane(new, f"now ({new_name})", c, timeout))
        parts.append(_section(f"c{i}", f"self.{c.path}: {c.old_text} \u2192 {c.new_text}",
                              f'<div class="fv-cmp-panes">{panes}</div>'))
    if len(changes) > len(drawn):
        parts.append(f'<p class="fv-note">Drew the first {len(drawn)} of {len(changes)} changes.</p>')
    notes = "".join(f"<li>{esc(n)}</li>" for n in changes.notes)
    if notes:
        parts.insert(0, _section("notes", "Settings differ", f"<ul>{notes}</ul>", cls="fv-warnings"))
    css = _asset("report.css").replace("/*FV-GENERATED-CSS*/", _generated_css()) + PAGE_CSS
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
           "form-action 'none'")
    title = f"{old_name} \u2192 {new_name}"
    return page_head(f"freezeviz diff: {title}", csp, css) + f"""\
<header class="fv-top"><div class="fv-brand">freezeviz diff</div><h1>{esc(title)}</h1>
<p class="fv-summary">What torch.jit.freeze does differently to the attributes of the two
versions, with the part of each final graph that reads or writes them: the nodes that touch
the attribute and their direct neighbours.</p></header>
<main>
{chr(10).join(parts)}
</main>
<footer>Made by freezeviz in {time.perf_counter() - t0:.1f} s. This file loads nothing from the
network.</footer>
</body>
</html>
"""
