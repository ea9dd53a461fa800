"""HTML of the inspector's text tabs: alias analysis, frozen code, numerics, warnings, and
one stage's summary line."""

from __future__ import annotations

from freezeviz.render.fragments import alias_table, numerics_table
from freezeviz.widgets.html import esc, inline_svg

ALIAS_DOT_MAX_CHARS = 400_000

NUMERICS_HINT = ('<p class="fv-muted">Pass <code>example_inputs=...</code> to '
                 '<code>freezeviz.inspect</code> to run the module after every stage and compare '
                 'its outputs with the unfrozen module.</p>')


def alias_html(report) -> str:
    """Per method: which values read from module state are written, by what, and torch's
    alias graph."""
    if not report.alias:
        return '<p class="fv-muted">No alias analysis recorded for this module.</p>'
    parts = [('<p class="fv-muted">The freezer runs torch\'s alias analysis on each method '
              '(as if frozen) to find module state that is written; written state is kept, '
              'everything else may become a constant.</p>')]
    for info in report.alias:
        parts.append(f"<h4 style='margin:8px 0 2px'>{esc(info.graph)}</h4>")
        parts.append(alias_table(info.writers, cls="fv-grid"))
        parts.append(alias_svg(info.dot))
    return "".join(parts)


def alias_svg(dot: str) -> str:
    """torch's alias-db graph drawn (when ``dot`` can), and its text."""
    if not dot:
        return ""
    source = (f"<details><summary class='fv-muted'>torch's alias-db text</summary><pre>"
              f"{esc(dot[:200_000])}</pre></details>")
    if len(dot) > ALIAS_DOT_MAX_CHARS:
        return "<p class='fv-muted'>The alias graph is too large to draw here.</p>" + source
    try:
        from freezeviz.render import run_dot

        svg = run_dot(dot, timeout=10.0).decode("utf-8", "replace")
    except Exception as exc:  # dot missing, timed out, or torch's text not valid DOT
        return f"<p class='fv-muted'>Could not draw the alias graph: {esc(exc)}</p>" + source
    return f"<div class='fv-alias-svg'>{inline_svg(svg)}</div>" + source


def code_html(report, methods: list[str]) -> str:
    """The code of each method after its last stage."""
    parts = []
    for method in methods:
        st = report.final_stage(method)
        code = st.code or "(no code recorded)"
        parts.append(f"<h4 style='margin:6px 0 2px'>{esc(method)}() after "
                     f"{esc(st.name)}</h4><pre class='fv-code'>{esc(code)}</pre>")
    return "".join(parts)


def numerics_html(report) -> str:
    """How far the outputs after each stage are from the unfrozen module's."""
    if not report.numerics:
        return NUMERICS_HINT
    return ("<p class='fv-muted'>Largest difference of the outputs from the unfrozen module's, "
            f"after each stage.</p>{numerics_table(report.numerics, cls='fv-grid')}")


def warnings_html(report, error: str | None) -> str:
    """The last failed re-freeze (if any) first, then the report's warnings."""
    items = []
    if error:
        items.append("<div class='fv-warn-item' style='border-color:#dc2626'>"
                     f"<pre style='white-space:pre-wrap;margin:0'>{esc(error)}</pre></div>")
    items += [f"<div class='fv-warn-item'>{esc(w)}</div>" for w in report.warnings]
    return "".join(items) or '<p class="fv-muted">No warnings.</p>'


def stage_summary(index: int, stage, prev) -> str:
    """One line for a stage: name, whether it changed the graph, node count, time."""
    count = stage.graph.count()
    delta = ""
    if prev is not None:
        d = count - prev.graph.count()
        delta = f" ({'+' if d >= 0 else '−'}{abs(d):,})" if d else ""
    if stage.changed:
        mark = '<span class="fv-changed">● changed</span>'
    elif prev is None:  # a method's first stage is where it starts, not a change
        mark = '<span class="fv-unchanged">○ starting point</span>'
    else:
        mark = '<span class="fv-unchanged">○ no change</span>'

    return (f'<span class="fv-stage-name">{index}. {esc(stage.name)}</span> {mark} · '
            f'{count:,} nodes{delta} · {stage.seconds * 1000:.1f} ms'
            f'<div class="fv-muted">{esc(stage.description)}</div>')


def hidden_note(hidden: int) -> str:
    return (f'<span class="fv-muted">{hidden} pass{"es" if hidden != 1 else ""} changed '
            f'nothing and {"is" if hidden == 1 else "are"} hidden.</span>')
